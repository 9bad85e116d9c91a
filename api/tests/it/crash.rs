//! Killing the `api` process (SIGKILL, no clean shutdown) while cashiers are settling bills, then starting it
//! again: every bill is whole (its lines, tenders, stock movements and journal entry) or absent, and the ledger
//! verifies. Runs the real binary on the embedded default, or on a fresh PostgreSQL database when
//! `TEST_DATABASE_URL` is set.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::{Value, json};

struct Server {
    child: Child,
    lines: mpsc::Receiver<String>,
}

fn start(dir: &std::path::Path, port: u16, database_url: &Option<String>) -> Server {
    let mut command = Command::new(env!("CARGO_BIN_EXE_api"));
    command.current_dir(dir).env_remove("RUST_LOG").env("HUIYUAN__LOG__FILTER", "error");
    // Any free port for the sandbox: tests run servers side by side.
    command.env("HUIYUAN__SANDBOX__LISTEN", "127.0.0.1:0");
    for (key, _) in std::env::vars().filter(|(k, _)| k.starts_with("HUIYUAN")) {
        command.env_remove(key);
    }
    if let Some(url) = database_url {
        command.env("HUIYUAN__DATABASE__URL", url);
    }
    let mut child =
        command.args(["--port", &port.to_string()]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (send, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if send.send(line).is_err() {
                break;
            }
        }
    });
    Server { child, lines }
}

async fn wait_ready(client: &reqwest::Client, base: &str) {
    let started = Instant::now();
    loop {
        if client.get(format!("{base}/healthz")).send().await.is_ok_and(|r| r.status() == StatusCode::OK) {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn call(
    client: &reqwest::Client,
    token: &str,
    method: reqwest::Method,
    url: String,
    body: Option<Value>,
) -> Value {
    let mut request = client.request(method, url).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let answer = request.send().await.unwrap();
    assert!(answer.status().is_success(), "{}", answer.status());
    answer.json().await.unwrap()
}

async fn count(db: &sea_orm::DatabaseConnection, sql: &str) -> i64 {
    let backend = db.get_database_backend();
    let row = db.query_one_raw(Statement::from_string(backend, sql.to_owned())).await.unwrap().unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_process_mid_settlement_leaves_whole_bills_or_none() {
    let dir = std::env::temp_dir().join(format!("hy-crash-{:016x}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    let postgres = std::env::var("TEST_DATABASE_URL").ok().filter(|u| !u.is_empty());
    let database_url = match &postgres {
        Some(server) => {
            let name = format!("hy_crash_{:016x}", rand::random::<u64>());
            let admin = Database::connect(format!("{}/postgres", server.trim_end_matches('/'))).await.unwrap();
            admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.unwrap();
            admin.close().await.ok();
            Some(format!("{}/{name}", server.trim_end_matches('/')))
        }
        None => None,
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();

    let mut server = start(&dir, port, &database_url);
    wait_ready(&client, &base).await;
    let password = std::iter::from_fn(|| server.lines.recv_timeout(Duration::from_secs(30)).ok())
        .find_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some("cashier") && words.next() == Some("demo-cashier"))
                .then(|| words.next().map(str::to_owned))
                .flatten()
        })
        .expect("the demo cashier's password is printed on first start");
    let signed_in = client
        .post(format!("{base}/api/staff/v1/sessions"))
        .json(&json!({ "username": "demo-cashier", "password": password }))
        .send()
        .await
        .unwrap();
    let token = signed_in.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
    let get = |path: &str| call(&client, &token, reqwest::Method::GET, format!("{base}/api/staff/v1{path}"), None);
    let stores = get("/stores").await;
    let store = stores[0]["id"].as_i64().unwrap();
    let services = get("/services").await;
    let (cut, other) = (services[0]["id"].as_i64().unwrap(), services[1]["id"].as_i64().unwrap());
    let products = get("/products").await;
    let product = products[0]["id"].as_i64().unwrap();
    let receive = json!({ "product_id": product, "quantity": 100_000, "memo": "crash test" });
    call(
        &client,
        &token,
        reqwest::Method::POST,
        format!("{base}/api/staff/v1/stores/{store}/stock/receipts"),
        Some(receive),
    )
    .await;
    let quote = call(
        &client,
        &token,
        reqwest::Method::POST,
        format!("{base}/api/staff/v1/bills/preview"),
        Some(json!({ "store_id": store, "lines": [{ "item_id": cut }, { "item_id": other }, { "kind": "product", "item_id": product }] })),
    )
    .await;
    let total = quote["total_fen"].as_i64().unwrap();

    // Eight cashiers settle as fast as they can; the process is killed under them.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let acknowledged_so_far = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let workers: Vec<_> = (0..8)
        .map(|worker| {
            let (client, base, token, stop) = (client.clone(), base.clone(), token.clone(), stop.clone());
            let acknowledged_so_far = acknowledged_so_far.clone();
            tokio::spawn(async move {
                let mut settled = 0;
                for n in 0.. {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    let body = json!({
                        "store_id": store,
                        "lines": [{ "item_id": cut }, { "item_id": other }, { "kind": "product", "item_id": product }],
                        "tenders": [{ "kind": "cash", "amount_fen": total - 100 }, { "kind": "bank_card", "amount_fen": 100 }],
                        "idempotency_key": format!("crash-{worker}-{n:06}"),
                    });
                    match client.post(format!("{base}/api/staff/v1/bills")).bearer_auth(&token).json(&body).send().await {
                        Ok(answer) if answer.status() == StatusCode::CREATED => {
                            settled += 1;
                            acknowledged_so_far.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                        _ => break,
                    }
                }
                settled
            })
        })
        .collect();
    // Killed in full flight: once the cashiers have had 40 bills acknowledged and while more are on their way.
    for _ in 0..600 {
        if acknowledged_so_far.load(std::sync::atomic::Ordering::Relaxed) >= 40 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Command::new("kill").args(["-KILL", &server.child.id().to_string()]).status().unwrap();
    server.child.wait().unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut acknowledged = 0;
    for worker in workers {
        acknowledged += worker.await.unwrap();
    }
    assert!(acknowledged > 0, "some bills settled before the kill");

    // Start again: recovery happens on open; then check every bill is whole.
    let mut server = start(&dir, port, &database_url);
    wait_ready(&client, &base).await;
    let url = database_url.clone().unwrap_or_else(|| format!("sqlite://{}", dir.join("data/huiyuan.db").display()));
    let db = Database::connect(url.as_str()).await.unwrap();
    let bills = count(&db, "SELECT COUNT(*) AS n FROM bills WHERE idempotency_key LIKE 'crash-%'").await;
    assert!(bills >= acknowledged, "every acknowledged bill survived: {bills} < {acknowledged}");
    let whole = |sql: &'static str| count(&db, sql);
    assert_eq!(
        whole("SELECT COUNT(*) AS n FROM bills b WHERE b.idempotency_key LIKE 'crash-%' AND b.entry_id IS NOT NULL")
            .await,
        bills
    );
    assert_eq!(
        whole("SELECT COUNT(*) AS n FROM bill_lines l JOIN bills b ON b.id = l.bill_id WHERE b.idempotency_key LIKE 'crash-%'").await,
        bills * 3
    );
    assert_eq!(
        whole("SELECT COUNT(*) AS n FROM bill_tenders t JOIN bills b ON b.id = t.bill_id WHERE b.idempotency_key LIKE 'crash-%'").await,
        bills * 2
    );
    assert_eq!(whole("SELECT COUNT(*) AS n FROM stock_movements WHERE reason = 'sale'").await, bills);
    assert_eq!(
        whole("SELECT COUNT(*) AS n FROM journal_entries e JOIN bills b ON b.id = e.bill_id WHERE b.idempotency_key LIKE 'crash-%'").await,
        bills
    );
    let found = service::ledger::verify(&db, None).await.unwrap();
    assert!(found.is_empty(), "{found:#?}");
    db.close().await.ok();

    Command::new("kill").args(["-TERM", &server.child.id().to_string()]).status().unwrap();
    server.child.wait().unwrap();
    if let (Some(server_url), Some(url)) = (&postgres, &database_url) {
        let name = url.rsplit('/').next().unwrap_or_default().to_owned();
        let admin = Database::connect(format!("{}/postgres", server_url.trim_end_matches('/'))).await.unwrap();
        admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await.ok();
        admin.close().await.ok();
    }
    std::fs::remove_dir_all(&dir).ok();
}
