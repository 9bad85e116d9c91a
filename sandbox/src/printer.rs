//! A LAN receipt printer on port 9100 as a TCP listener that records what it is sent, answers the real-time status
//! queries (`DLE EOT n`) a real one answers, and a decoder that turns ESC/POS bytes back into readable lines.
//!
//! Facts from shared/docs/PROTOCOLS.md section D (python-escpos constants, the SPRT and Epson manuals): `ESC @`,
//! `ESC a n`, `ESC E n`, `GS ! n`, `GS V`, `ESC p`, `GS ( k` (QR, function 165), `GS v 0` (raster), `FS &` / `FS .`,
//! `DLE EOT n`; Chinese text as double-byte GBK.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// What the printer's sensors say.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sensors {
    pub paper_out: bool,
    pub cover_open: bool,
}

#[derive(Default)]
struct State {
    /// Every connection's bytes, in order of arrival.
    received: Vec<Vec<u8>>,
    sensors: Sensors,
    /// Pause after each read: a slow printer.
    delay: Duration,
}

/// A printer listening on 127.0.0.1 (a free port).
#[derive(Clone)]
pub struct FakePrinter {
    pub address: String,
    state: Arc<Mutex<State>>,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl FakePrinter {
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?.to_string();
        let state = Arc::new(Mutex::new(State::default()));
        let accepting = state.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serve(socket, accepting.clone()));
            }
        });
        Ok(Self { address, state })
    }

    pub fn set_sensors(&self, sensors: Sensors) {
        lock(&self.state).sensors = sensors;
    }

    pub fn set_delay(&self, delay: Duration) {
        lock(&self.state).delay = delay;
    }

    /// All bytes received, connections concatenated, status queries left out.
    pub fn bytes(&self) -> Vec<u8> {
        lock(&self.state).received.concat()
    }

    /// The tickets received: the bytes split after each cut.
    pub fn tickets(&self) -> Vec<Vec<u8>> {
        let bytes = self.bytes();
        let mut tickets = Vec::new();
        let mut start = 0;
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i..].starts_with(&[0x1D, 0x56]) {
                let end = match bytes.get(i + 2) {
                    Some(0x41 | 0x42) => i + 4,
                    _ => i + 3,
                };
                let end = end.min(bytes.len());
                tickets.push(bytes[start..end].to_vec());
                start = end;
                i = end;
            } else {
                i += 1;
            }
        }
        tickets
    }
}

async fn serve(mut socket: tokio::net::TcpStream, state: Arc<Mutex<State>>) {
    let index = {
        let mut state = lock(&state);
        state.received.push(Vec::new());
        state.received.len() - 1
    };
    let mut buffer = [0_u8; 4096];
    let mut pending: Vec<u8> = Vec::new();
    loop {
        let n = match socket.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        pending.extend_from_slice(&buffer[..n]);
        // Answer status queries (DLE EOT n) as they come; record everything else.
        let mut kept = Vec::with_capacity(pending.len());
        let mut answers = Vec::new();
        let mut i = 0;
        while i < pending.len() {
            if pending[i] == 0x10 && pending.get(i + 1) == Some(&0x04) {
                let Some(&n) = pending.get(i + 2) else { break };
                let sensors = lock(&state).sensors;
                answers.push(status_byte(n, sensors));
                i += 3;
            } else {
                kept.push(pending[i]);
                i += 1;
            }
        }
        pending.drain(..i);
        let delay = {
            let mut state = lock(&state);
            if let Some(received) = state.received.get_mut(index) {
                received.extend_from_slice(&kept);
            }
            state.delay
        };
        if !answers.is_empty() && socket.write_all(&answers).await.is_err() {
            return;
        }
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
    }
}

/// The answer to `DLE EOT n`: bits 1 and 4 always set; n = 2 (offline causes) bit 2 = cover open; n = 4 (paper)
/// bits 5 and 6 = paper end.
pub fn status_byte(n: u8, sensors: Sensors) -> u8 {
    let mut byte = 0x12;
    match n {
        2 if sensors.cover_open => byte |= 0x04,
        4 if sensors.paper_out => byte |= 0x60,
        _ => {}
    }
    byte
}

/// Decodes ESC/POS into lines a person can read and a snapshot can hold. Styled lines are prefixed with their
/// style (`[center bold x2] 人民广场店`); a QR code shows its data (`[qr] …`, or `[raster 29x29 modules]` for an
/// image), a cut `[cut]`, a drawer kick `[drawer]`.
pub fn decode(bytes: &[u8]) -> Vec<String> {
    let mut lines = Vec::new();
    let mut text: Vec<u8> = Vec::new();
    let (mut align, mut bold, mut double) = (0_u8, false, false);
    let mut line_style = None;
    let mut qr_data = Vec::new();
    let mut i = 0;
    let flush = |text: &mut Vec<u8>, style: &mut Option<(u8, bool, bool)>, lines: &mut Vec<String>| {
        let (decoded, _, _) = encoding_rs::GBK.decode(text);
        let (align, bold, double) = style.take().unwrap_or((0, false, false));
        let mut tags = Vec::new();
        match align {
            1 => tags.push("center"),
            2 => tags.push("right"),
            _ => {}
        }
        if bold {
            tags.push("bold");
        }
        if double {
            tags.push("x2");
        }
        let decoded = decoded.trim_end().to_owned();
        lines.push(if tags.is_empty() || decoded.is_empty() {
            decoded
        } else {
            format!("[{}] {decoded}", tags.join(" "))
        });
        text.clear();
    };
    while i < bytes.len() {
        let b = bytes[i];
        let at = |k: usize| bytes.get(i + k).copied().unwrap_or(0);
        match b {
            0x1B => {
                match at(1) {
                    0x40 => {
                        (align, bold, double) = (0, false, false);
                        i += 2;
                    }
                    0x61 => {
                        align = at(2) % 48;
                        i += 3;
                    }
                    0x45 => {
                        bold = at(2) & 1 == 1;
                        i += 3;
                    }
                    0x70 => {
                        lines.push("[drawer]".to_owned());
                        i += 5;
                    }
                    0x74 | 0x21 | 0x4D => i += 3,
                    _ => i += 2,
                }
                continue;
            }
            0x1C => {
                i += 2; // FS & / FS .
                continue;
            }
            0x1D => {
                match at(1) {
                    0x21 => {
                        double = at(2) != 0;
                        i += 3;
                    }
                    0x56 => {
                        if !text.is_empty() {
                            flush(&mut text, &mut line_style, &mut lines);
                        }
                        lines.push("[cut]".to_owned());
                        i += if matches!(at(2), 0x41 | 0x42) { 4 } else { 3 };
                    }
                    0x28 if at(2) == 0x6B => {
                        let length = usize::from(at(3)) + 256 * usize::from(at(4));
                        let function = at(6);
                        if function == 0x50 {
                            qr_data = bytes.get(i + 8..i + 5 + length).unwrap_or_default().to_vec();
                        } else if function == 0x51 {
                            lines.push(format!("[qr] {}", String::from_utf8_lossy(&qr_data)));
                        }
                        i += 5 + length;
                    }
                    0x76 if at(2) == 0x30 => {
                        let width = usize::from(at(4)) + 256 * usize::from(at(5));
                        let height = usize::from(at(6)) + 256 * usize::from(at(7));
                        lines.push(format!("[raster {}x{} dots]", width * 8, height));
                        i += 8 + width * height;
                    }
                    _ => i += 3,
                }
                continue;
            }
            0x10 if at(1) == 0x04 => {
                i += 3;
                continue;
            }
            b'\n' => {
                if line_style.is_none() {
                    line_style = Some((align, bold, double));
                }
                flush(&mut text, &mut line_style, &mut lines);
            }
            _ => {
                if text.is_empty() {
                    line_style = Some((align, bold, double));
                }
                text.push(b);
            }
        }
        i += 1;
    }
    if !text.is_empty() {
        flush(&mut text, &mut line_style, &mut lines);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_styles_gbk_qr_and_cut() {
        let mut bytes = vec![0x1B, 0x40, 0x1B, 0x61, 0x01, 0x1B, 0x45, 0x01, 0x1D, 0x21, 0x11];
        bytes.extend_from_slice(&[0xBB, 0xE1, 0xD4, 0xB1, b'\n']);
        bytes.extend_from_slice(&[0x1D, 0x21, 0x00, 0x1B, 0x45, 0x00, 0x1B, 0x61, 0x00]);
        bytes.extend_from_slice(&[0xA3, 0xA4, b'1', b'\n']);
        bytes.extend_from_slice(&[0x1D, 0x28, 0x6B, 0x05, 0x00, 0x31, 0x50, 0x30, b'a', b'b']);
        bytes.extend_from_slice(&[0x1D, 0x28, 0x6B, 0x03, 0x00, 0x31, 0x51, 0x30]);
        bytes.extend_from_slice(&[0x1B, 0x70, 0x00, 0x32, 0x32, 0x1D, 0x56, 0x42, 0x00]);
        assert_eq!(decode(&bytes), ["[center bold x2] 会员", "￥1", "[qr] ab", "[drawer]", "[cut]"]);
    }

    #[test]
    fn status_bytes_report_paper_and_cover() {
        assert_eq!(status_byte(4, Sensors::default()), 0x12);
        assert_eq!(status_byte(4, Sensors { paper_out: true, cover_open: false }), 0x72);
        assert_eq!(status_byte(2, Sensors { paper_out: false, cover_open: true }), 0x16);
    }
}
