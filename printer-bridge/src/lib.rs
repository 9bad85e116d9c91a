//! The store bridge: a small daemon on a store PC that connects out to the api over a WebSocket, prints the jobs it
//! is sent on the store's LAN printers (raw TCP, port 9100) and forwards what the counter's scanner reads.
//!
//! - **Nothing lost.** A job is written to the spool (`<spool>/pending/<id>.job`, synced to disk) before its receipt
//!   is acknowledged, so a bridge killed after that prints it when it starts again, without the api.
//! - **Nothing twice.** After the printer took every byte, a marker `<spool>/printed/<id>` is written (then the job
//!   is acknowledged as printed). A job sent again (after a reconnect, or by an api that never heard the
//!   acknowledgement) finds its marker and is acknowledged, not printed. Reprints are new jobs.
//! - **In order per printer.** Each printer has one worker taking its jobs in the order they arrived (the api sends
//!   them oldest first; the spool is replayed by id).
//! - **Held, not dropped.** Before printing, the worker asks the printer (`DLE EOT 4`, `DLE EOT 2`); out of paper or
//!   with its cover open, the job waits and the api is told why. An unreachable printer is reported offline and
//!   retried.
//! - The connection reconnects with backoff (1 s doubling to 30 s) and sends a heartbeat every 15 s.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Context;
use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use bridge_wire::{FromBridge, PrinterState, PrinterStatus, ToBridge};

/// The configuration file.
#[derive(Clone, Debug, Deserialize)]
pub struct Config {
    /// The api's base URL: `https://api.example.com` (`http://…` only on a trusted network).
    pub api_url: String,
    /// The device token from the staff console (`hyd_…`).
    pub token: String,
    /// Where jobs wait between arriving and printing.
    #[serde(default = "default_spool")]
    pub spool_dir: PathBuf,
    /// Where scans come from: `stdin`, or a path read line by line (a scanner in serial / virtual COM mode).
    #[serde(default)]
    pub scanner: Option<String>,
    /// Log file (rotated daily); standard error when absent.
    #[serde(default)]
    pub log_file: Option<PathBuf>,
    /// Seconds a scan read while the api is out of reach may wait to be forwarded. An older one is dropped: a
    /// wallet's payment code is refreshed within a minute, and a code scanned then must not be charged later.
    #[serde(default = "default_scan_max_age_secs")]
    pub scan_max_age_secs: u64,
}

fn default_spool() -> PathBuf {
    PathBuf::from("spool")
}

fn default_scan_max_age_secs() -> u64 {
    20
}

/// Scans waiting to be forwarded while the api is out of reach; more are dropped (newest first) and logged.
const SCAN_QUEUE: usize = 8;

/// A scan and when it was read.
type Scan = (tokio::time::Instant, String);

impl Config {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let config: Config = toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        if !config.token.starts_with("hyd_") {
            anyhow::bail!("token must be the device token from the staff console (hyd_…)");
        }
        Ok(config)
    }

    fn connect_url(&self) -> String {
        let base = self.api_url.trim_end_matches('/');
        let base = base.replacen("https://", "wss://", 1).replacen("http://", "ws://", 1);
        format!("{base}/bridge/v1/connect")
    }
}

/// A spooled job: everything needed to print it, even with the api out of reach.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Spooled {
    id: i64,
    printer_id: i64,
    address: String,
    data: String,
}

struct Spool {
    pending: PathBuf,
    printed: PathBuf,
}

impl Spool {
    fn open(dir: &Path) -> anyhow::Result<Self> {
        let spool = Self { pending: dir.join("pending"), printed: dir.join("printed") };
        std::fs::create_dir_all(&spool.pending)?;
        std::fs::create_dir_all(&spool.printed)?;
        Ok(spool)
    }

    fn is_printed(&self, id: i64) -> bool {
        self.printed.join(id.to_string()).exists()
    }

    fn is_pending(&self, id: i64) -> bool {
        self.pending.join(format!("{id}.job")).exists()
    }

    /// Writes the job and syncs it (and its directory) before the receipt is acknowledged.
    fn keep(&self, job: &Spooled) -> anyhow::Result<()> {
        let tmp = self.pending.join(format!("{}.tmp", job.id));
        let path = self.pending.join(format!("{}.job", job.id));
        {
            let mut file = std::fs::File::create(&tmp)?;
            std::io::Write::write_all(&mut file, &serde_json::to_vec(job)?)?;
            file.sync_all()?;
        }
        std::fs::rename(&tmp, &path)?;
        sync_dir(&self.pending);
        Ok(())
    }

    fn load(&self, id: i64) -> anyhow::Result<Spooled> {
        Ok(serde_json::from_slice(&std::fs::read(self.pending.join(format!("{id}.job")))?)?)
    }

    /// The printer took it: mark it printed (synced), then drop the pending copy.
    fn done(&self, id: i64) -> anyhow::Result<()> {
        let marker = self.printed.join(id.to_string());
        std::fs::File::create(&marker)?.sync_all()?;
        sync_dir(&self.printed);
        std::fs::remove_file(self.pending.join(format!("{id}.job"))).ok();
        Ok(())
    }

    /// Jobs received but not printed, by id.
    fn waiting(&self) -> Vec<Spooled> {
        let mut ids: Vec<i64> = std::fs::read_dir(&self.pending)
            .map(|entries| {
                entries
                    .filter_map(|e| e.ok())
                    .filter_map(|e| e.file_name().to_str().and_then(|n| n.strip_suffix(".job")?.parse().ok()))
                    .collect()
            })
            .unwrap_or_default();
        ids.sort_unstable();
        ids.into_iter().filter(|id| !self.is_printed(*id)).filter_map(|id| self.load(id).ok()).collect()
    }
}

fn sync_dir(dir: &Path) {
    // Directory sync makes the rename durable on Linux; elsewhere opening a directory may fail, which is harmless.
    if let Ok(handle) = std::fs::File::open(dir) {
        handle.sync_all().ok();
    }
}

/// What the bridge shares between its connection and its printer workers.
struct Shared {
    spool: Spool,
    /// Messages for the api; dropped while disconnected (the api resends what it has not heard about).
    outbox: Mutex<Option<mpsc::UnboundedSender<FromBridge>>>,
    /// Jobs in a worker's queue, so a job sent again is not queued twice.
    queued: Mutex<HashSet<i64>>,
    workers: Mutex<HashMap<i64, mpsc::UnboundedSender<i64>>>,
    states: Mutex<BTreeMap<i64, PrinterState>>,
    /// Printer id → address, from the api.
    printers: Mutex<HashMap<i64, String>>,
    /// Addresses of printers that did not answer a status query: not asked again (each query waits 0.5 s).
    mute: Mutex<HashSet<String>>,
    /// Shutting down: workers start no new ticket.
    stopping: AtomicBool,
    /// Tickets being written to a printer right now, which a shutdown lets finish.
    printing: AtomicUsize,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    fn new(spool: Spool) -> Self {
        Self {
            spool,
            outbox: Mutex::new(None),
            queued: Mutex::new(HashSet::new()),
            workers: Mutex::new(HashMap::new()),
            states: Mutex::new(BTreeMap::new()),
            printers: Mutex::new(HashMap::new()),
            mute: Mutex::new(HashSet::new()),
            stopping: AtomicBool::new(false),
            printing: AtomicUsize::new(0),
        }
    }

    fn tell(&self, message: FromBridge) {
        if let Some(outbox) = lock(&self.outbox).as_ref() {
            let _ = outbox.send(message);
        }
    }

    /// Hands a spooled job to its printer's worker (starting the worker when needed).
    fn enqueue(self: &Arc<Self>, job: &Spooled) {
        if !lock(&self.queued).insert(job.id) {
            return;
        }
        let mut workers = lock(&self.workers);
        let sender = workers.entry(job.printer_id).or_insert_with(|| {
            let (sender, receiver) = mpsc::unbounded_channel();
            tokio::spawn(worker(self.clone(), job.printer_id, receiver));
            sender
        });
        let _ = sender.send(job.id);
    }
}

/// TLS for `wss://` needs a crypto provider chosen once per process.
fn install_crypto() {
    // Already installed (by an earlier call, or a host process) is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Runs the bridge until the process ends: replays the spool, keeps the connection up, prints, forwards scans.
pub async fn run(config: Config) -> anyhow::Result<()> {
    run_until(config, std::future::pending()).await
}

/// Runs the bridge until `shutdown` resolves. Then it drops the connection, starts no new ticket and lets a ticket
/// being written finish (up to 25 s), so no half ticket comes out; jobs not printed stay in the spool and print
/// after the next start.
pub async fn run_until(config: Config, shutdown: impl std::future::Future<Output = ()>) -> anyhow::Result<()> {
    install_crypto();
    let shared = Arc::new(Shared::new(Spool::open(&config.spool_dir)?));
    for job in shared.spool.waiting() {
        tracing::info!(job = job.id, "printing a job spooled before the restart");
        shared.enqueue(&job);
    }
    let (scans_tx, mut scans_rx) = mpsc::channel::<Scan>(SCAN_QUEUE);
    if let Some(source) = config.scanner.clone() {
        tokio::spawn(read_scanner(source, scans_tx));
    }
    tokio::pin!(shutdown);
    let mut backoff = Duration::from_secs(1);
    loop {
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            ended = session(&config, &shared, &mut scans_rx) => match ended {
                Ok(()) => backoff = Duration::from_secs(1),
                Err(error) => tracing::warn!(%error, "connection to the api lost"),
            },
        }
        *lock(&shared.outbox) = None;
        tokio::select! {
            biased;
            () = &mut shutdown => break,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(30));
    }
    *lock(&shared.outbox) = None;
    shared.stopping.store(true, Ordering::SeqCst);
    // Longer than one ticket can take (3 s to connect, 0.5 s to ask, 20 s to write): a ticket cut off here would
    // come out half, then whole again after the restart.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(25);
    while shared.printing.load(Ordering::SeqCst) > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tracing::info!("bridge stopped");
    Ok(())
}

/// One connection, until it drops.
async fn session(config: &Config, shared: &Arc<Shared>, scans: &mut mpsc::Receiver<Scan>) -> anyhow::Result<()> {
    let max_age = Duration::from_secs(config.scan_max_age_secs);
    let mut request = config.connect_url().into_client_request()?;
    request.headers_mut().insert("authorization", format!("Bearer {}", config.token).parse()?);
    let (socket, _) = tokio_tungstenite::connect_async(request).await.context("connecting")?;
    tracing::info!("connected to the api");
    let (mut write, mut read) = socket.split();
    let (outbox, mut outgoing) = mpsc::unbounded_channel::<FromBridge>();
    *lock(&shared.outbox) = Some(outbox);
    shared.tell(FromBridge::Hello {
        version: bridge_wire::VERSION,
        bridge: format!("printer-bridge {}", env!("CARGO_PKG_VERSION")),
    });
    let mut heartbeat = tokio::time::interval(Duration::from_secs(15));
    loop {
        tokio::select! {
            message = read.next() => {
                let Some(message) = message else { return Ok(()) };
                match message? {
                    Message::Text(text) => match serde_json::from_str::<ToBridge>(text.as_str()) {
                        Ok(message) => on_message(shared, message),
                        Err(error) => tracing::info!(%error, "a message from the api we do not understand"),
                    },
                    Message::Close(frame) => {
                        tracing::warn!(?frame, "the api closed the connection");
                        return Ok(());
                    }
                    _ => {}
                }
            }
            Some(message) = outgoing.recv() => {
                write.send(Message::text(serde_json::to_string(&message)?)).await?;
            }
            Some((read_at, code)) = scans.recv() => {
                if read_at.elapsed() > max_age {
                    tracing::warn!(waited = ?read_at.elapsed(), "a scan read while offline is too old to forward: dropped");
                    continue;
                }
                write.send(Message::text(serde_json::to_string(&FromBridge::Scan { code })?)).await?;
            }
            _ = heartbeat.tick() => {
                let printers = lock(&shared.states).iter().map(|(id, state)| PrinterStatus { id: *id, state: *state }).collect();
                write.send(Message::text(serde_json::to_string(&FromBridge::Heartbeat { printers })?)).await?;
            }
        }
    }
}

fn on_message(shared: &Arc<Shared>, message: ToBridge) {
    match message {
        ToBridge::Printers { printers } => {
            let mut known = lock(&shared.printers);
            known.clear();
            let mut states = lock(&shared.states);
            for printer in printers {
                states.entry(printer.id).or_insert(PrinterState::Unknown);
                known.insert(printer.id, printer.address);
            }
        }
        ToBridge::Job { id, printer_id, data, .. } => {
            if shared.spool.is_printed(id) {
                // Printed before (the acknowledgement was lost): say so again, print nothing.
                shared.tell(FromBridge::Printed { id });
                return;
            }
            if shared.spool.is_pending(id) {
                shared.tell(FromBridge::Received { id });
                if let Ok(job) = shared.spool.load(id) {
                    shared.enqueue(&job);
                }
                return;
            }
            let Some(address) = lock(&shared.printers).get(&printer_id).cloned() else {
                tracing::warn!(job = id, printer_id, "a job for a printer we were not told about");
                return;
            };
            let job = Spooled { id, printer_id, address, data };
            match shared.spool.keep(&job) {
                Ok(()) => {
                    shared.tell(FromBridge::Received { id });
                    shared.enqueue(&job);
                }
                Err(error) => tracing::error!(job = id, %error, "could not spool a job; the api will send it again"),
            }
        }
        ToBridge::Forget { id } => {
            std::fs::remove_file(shared.spool.pending.join(format!("{id}.job"))).ok();
        }
    }
}

/// One printer's jobs, one at a time, in the order they came.
async fn worker(shared: Arc<Shared>, printer_id: i64, mut jobs: mpsc::UnboundedReceiver<i64>) {
    while let Some(id) = jobs.recv().await {
        let Ok(job) = shared.spool.load(id) else {
            lock(&shared.queued).remove(&id);
            continue;
        };
        let bytes = match base64::engine::general_purpose::STANDARD.decode(&job.data) {
            Ok(bytes) => bytes,
            Err(error) => {
                tracing::error!(job = id, %error, "job data is not base64; dropped");
                lock(&shared.queued).remove(&id);
                continue;
            }
        };
        let mut wait = Duration::from_secs(1);
        loop {
            if shared.spool.is_printed(id) {
                break;
            }
            // Checked and counted together, so a shutdown either sees this ticket printing or stops it here.
            shared.printing.fetch_add(1, Ordering::SeqCst);
            if shared.stopping.load(Ordering::SeqCst) {
                shared.printing.fetch_sub(1, Ordering::SeqCst);
                return;
            }
            let state = print(&shared, &job.address, &bytes).await;
            shared.printing.fetch_sub(1, Ordering::SeqCst);
            lock(&shared.states).insert(printer_id, state);
            if state == PrinterState::Ok {
                if let Err(error) = shared.spool.done(id) {
                    tracing::error!(job = id, %error, "printed, but the spool could not record it");
                }
                shared.tell(FromBridge::Printed { id });
                break;
            }
            tracing::warn!(job = id, printer_id, state = state.as_str(), "printer holds the job");
            shared.tell(FromBridge::Held { id, state });
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(10));
        }
        lock(&shared.queued).remove(&id);
    }
}

/// Asks the printer how it is (unless it never answers), then writes the job. `Ok` once every byte was written.
async fn print(shared: &Shared, address: &str, bytes: &[u8]) -> PrinterState {
    let connect = tokio::time::timeout(Duration::from_secs(3), TcpStream::connect(address)).await;
    let Ok(Ok(mut stream)) = connect else { return PrinterState::Offline };
    if !lock(&shared.mute).contains(address) {
        match status(&mut stream).await {
            Some(PrinterState::Ok) => {}
            None => {
                tracing::info!(address, "printer does not answer status queries; printing without asking");
                lock(&shared.mute).insert(address.to_owned());
            }
            Some(state) => return state,
        }
    }
    let written = tokio::time::timeout(Duration::from_secs(20), async {
        stream.write_all(bytes).await?;
        stream.flush().await?;
        stream.shutdown().await
    })
    .await;
    match written {
        Ok(Ok(())) => PrinterState::Ok,
        _ => PrinterState::Offline,
    }
}

/// `DLE EOT 4` (paper) and `DLE EOT 2` (cover). `None` when the printer does not answer status queries.
async fn status(stream: &mut TcpStream) -> Option<PrinterState> {
    let paper = ask(stream, 4).await?;
    if paper & 0x60 == 0x60 {
        return Some(PrinterState::PaperOut);
    }
    let offline = ask(stream, 2).await?;
    if offline & 0x04 != 0 {
        return Some(PrinterState::CoverOpen);
    }
    Some(PrinterState::Ok)
}

async fn ask(stream: &mut TcpStream, n: u8) -> Option<u8> {
    stream.write_all(&[0x10, 0x04, n]).await.ok()?;
    let mut byte = [0_u8; 1];
    tokio::time::timeout(Duration::from_millis(500), stream.read_exact(&mut byte)).await.ok()?.ok()?;
    Some(byte[0])
}

/// Lines from the scanner: standard input; `evdev:/dev/input/eventN`, a keyboard-wedge scanner read as Linux input
/// events; or a device or file read line by line (serial / virtual COM mode).
async fn read_scanner(source: String, scans: mpsc::Sender<Scan>) {
    use tokio::io::AsyncBufReadExt;
    if let Some(device) = source.strip_prefix("evdev:") {
        read_key_events(device, scans).await;
        return;
    }
    let reader: Box<dyn tokio::io::AsyncRead + Unpin + Send> = if source == "stdin" {
        Box::new(tokio::io::stdin())
    } else {
        match tokio::fs::File::open(&source).await {
            Ok(file) => Box::new(file),
            Err(error) => {
                tracing::error!(%error, source, "cannot open the scanner");
                return;
            }
        }
    };
    let mut lines = tokio::io::BufReader::new(reader).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let code = line.trim();
        if !code.is_empty() && !forward(&scans, code.to_owned()) {
            return;
        }
    }
}

/// Queues a scan for the connection; `false` once the bridge is gone. A full queue (the api out of reach for a
/// while) drops the scan rather than pile up codes to charge later.
fn forward(scans: &mpsc::Sender<Scan>, code: String) -> bool {
    match scans.try_send((tokio::time::Instant::now(), code)) {
        Ok(()) => true,
        Err(mpsc::error::TrySendError::Full(_)) => {
            tracing::warn!("scans are waiting for the api: this one is dropped");
            true
        }
        Err(mpsc::error::TrySendError::Closed(_)) => false,
    }
}

/// A keyboard-wedge scanner on Linux: `struct input_event` records (24 bytes on 64-bit: a timeval, type, code,
/// value) from `/dev/input/eventN`, key presses turned back into the characters typed, one scan per Enter.
async fn read_key_events(device: &str, scans: mpsc::Sender<Scan>) {
    let mut file = match tokio::fs::File::open(device).await {
        Ok(file) => file,
        Err(error) => {
            tracing::error!(%error, device, "cannot open the scanner's input device");
            return;
        }
    };
    let mut keys = KeyDecoder::default();
    let mut record = [0_u8; 24];
    while file.read_exact(&mut record).await.is_ok() {
        let kind = u16::from_ne_bytes([record[16], record[17]]);
        let code = u16::from_ne_bytes([record[18], record[19]]);
        let value = i32::from_ne_bytes([record[20], record[21], record[22], record[23]]);
        if kind == 1
            && let Some(scan) = keys.key(code, value)
            && !forward(&scans, scan)
        {
            return;
        }
    }
}

/// Key presses (Linux key codes) back into text: digits, letters (with shift), a few symbols; Enter ends a scan.
#[derive(Default)]
pub struct KeyDecoder {
    shift: bool,
    line: String,
}

impl KeyDecoder {
    /// One `EV_KEY` event: `value` 1 pressed, 0 released, 2 repeated. Returns a scan when Enter is pressed.
    pub fn key(&mut self, code: u16, value: i32) -> Option<String> {
        if code == 42 || code == 54 {
            self.shift = value != 0;
            return None;
        }
        if value != 1 {
            return None;
        }
        if code == 28 || code == 96 {
            let scan = std::mem::take(&mut self.line);
            return (!scan.is_empty()).then_some(scan);
        }
        const DIGITS: &str = "1234567890";
        const TOP: &str = "qwertyuiop";
        const HOME: &str = "asdfghjkl";
        const BOTTOM: &str = "zxcvbnm";
        let c = match code {
            2..=11 => DIGITS.chars().nth(usize::from(code - 2)),
            16..=25 => TOP.chars().nth(usize::from(code - 16)),
            30..=38 => HOME.chars().nth(usize::from(code - 30)),
            44..=50 => BOTTOM.chars().nth(usize::from(code - 44)),
            71..=73 => "789".chars().nth(usize::from(code - 71)),
            75..=77 => "456".chars().nth(usize::from(code - 75)),
            79..=81 => "123".chars().nth(usize::from(code - 79)),
            82 => Some('0'),
            12 => Some(if self.shift { '_' } else { '-' }),
            52 => Some('.'),
            53 => Some('/'),
            _ => None,
        };
        if let Some(c) = c {
            self.line.push(if self.shift { c.to_ascii_uppercase() } else { c });
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(keys: &mut KeyDecoder, code: u16) -> Option<String> {
        let scan = keys.key(code, 1);
        assert_eq!(keys.key(code, 0), None);
        scan
    }

    #[test]
    fn scans_beyond_the_queue_are_dropped_not_kept_to_charge_later() {
        let (tx, mut rx) = mpsc::channel::<Scan>(SCAN_QUEUE);
        for k in 0..SCAN_QUEUE + 3 {
            assert!(forward(&tx, format!("code-{k}")), "the bridge is still there");
        }
        let mut kept = Vec::new();
        while let Ok((_, code)) = rx.try_recv() {
            kept.push(code);
        }
        // The first eight wait for the api; the newest are dropped.
        assert_eq!(kept, (0..SCAN_QUEUE).map(|k| format!("code-{k}")).collect::<Vec<_>>());
        drop(rx);
        assert!(!forward(&tx, "after the bridge stopped".to_owned()));
    }

    #[test]
    fn key_presses_become_scans_at_enter() {
        let mut keys = KeyDecoder::default();
        // "13" then Enter.
        assert_eq!(press(&mut keys, 2), None);
        assert_eq!(press(&mut keys, 4), None);
        assert_eq!(press(&mut keys, 28), Some("13".to_owned()));
        // Shift + a, b, then keypad 0 and keypad Enter.
        keys.key(42, 1);
        press(&mut keys, 30);
        keys.key(42, 0);
        press(&mut keys, 48);
        press(&mut keys, 82);
        assert_eq!(press(&mut keys, 96), Some("Ab0".to_owned()));
        // An empty Enter is no scan; repeats are ignored.
        assert_eq!(press(&mut keys, 28), None);
        keys.key(3, 1);
        keys.key(3, 2);
        assert_eq!(press(&mut keys, 28), Some("2".to_owned()));
    }

    #[tokio::test]
    async fn wss_urls_get_a_tls_handshake() {
        // A listener that hangs up: the client must get as far as starting TLS (a provider is installed), and
        // fail, not panic.
        install_crypto();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                drop(socket);
            }
        });
        let config = Config {
            api_url: format!("https://127.0.0.1:{port}"),
            token: "hyd_x".into(),
            spool_dir: PathBuf::new(),
            scanner: None,
            log_file: None,
            scan_max_age_secs: 20,
        };
        assert!(config.connect_url().starts_with("wss://"));
        let error = tokio_tungstenite::connect_async(config.connect_url()).await.err().unwrap();
        assert!(!error.to_string().is_empty());
    }

    #[tokio::test]
    async fn a_printer_that_never_answers_status_queries_is_not_asked_again() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let received = Arc::new(Mutex::new(Vec::new()));
        let sink = received.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let sink = sink.clone();
                tokio::spawn(async move {
                    let mut bytes = Vec::new();
                    let _ = socket.read_to_end(&mut bytes).await;
                    lock(&sink).extend_from_slice(&bytes);
                });
            }
        });
        let dir = std::env::temp_dir().join(format!("mute-test-{}", std::process::id()));
        let shared = Shared::new(Spool::open(&dir).unwrap());
        let first = std::time::Instant::now();
        assert_eq!(print(&shared, &address, b"one").await, PrinterState::Ok);
        assert!(first.elapsed() >= Duration::from_millis(500), "it asked and waited once");
        let second = std::time::Instant::now();
        assert_eq!(print(&shared, &address, b"two").await, PrinterState::Ok);
        assert!(second.elapsed() < Duration::from_millis(400), "and not again");
        tokio::time::sleep(Duration::from_millis(100)).await;
        let bytes = lock(&received).clone();
        assert!(bytes.windows(3).any(|w| w == b"one") && bytes.windows(3).any(|w| w == b"two"));
        assert_eq!(bytes.windows(3).filter(|w| *w == [0x10, 0x04, 0x04]).count(), 1);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn the_spool_keeps_jobs_until_printed_and_remembers_them() {
        let dir = std::env::temp_dir().join(format!("spool-test-{}", std::process::id()));
        let spool = Spool::open(&dir).unwrap();
        for id in [3, 1, 2] {
            spool.keep(&Spooled { id, printer_id: 1, address: "x:9100".into(), data: String::new() }).unwrap();
        }
        assert_eq!(spool.waiting().iter().map(|j| j.id).collect::<Vec<_>>(), [1, 2, 3], "by id");
        spool.done(2).unwrap();
        assert!(spool.is_printed(2) && !spool.is_pending(2));
        assert_eq!(spool.waiting().iter().map(|j| j.id).collect::<Vec<_>>(), [1, 3]);
        std::fs::remove_dir_all(&dir).ok();
    }
}
