//! `cargo run --release -p bench -- notifications`: WeChat Pay payment notifications, verified, decrypted and
//! applied, at 16 concurrent senders against PostgreSQL.
//!
//! 1. A fresh PostgreSQL database; the release api starts on it with the demo merchant, wired (as in the embedded
//!    default) to the sandbox's WeChat Pay.
//! 2. Members start N recharges through the mini-program API (each a real prepay at the sandbox).
//! 3. For each, the bench builds the notification WeChat Pay would send: the transaction encrypted with the demo
//!    merchant's APIv3 key (AES-256-GCM) and signed with the sandbox's WeChat Pay key, named by its public key id.
//!    Building them is the sender's work, done before the clock starts.
//! 4. C senders post them to `/callbacks/wechatpay`; each must be answered 204 and credit a card once. Prints
//!    notifications/s, p50 and p99, then one duplicate pass (every notification again: all 204, nothing applied
//!    twice) and `verify-ledger`.

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::Rng;
use sea_orm::{ConnectionTrait, Database};
use serde_json::json;

use api::sandbox_host::DEMO;

pub struct Options<'a> {
    pub server: &'a str,
    pub database: &'a str,
    pub payments: usize,
    pub concurrency: usize,
    pub api: &'a Path,
}

struct Signed {
    headers: Vec<(&'static str, String)>,
    body: String,
}

fn random_alnum(len: usize) -> String {
    rand::thread_rng().sample_iter(&rand::distributions::Alphanumeric).take(len).map(char::from).collect()
}

/// The notification WeChat Pay sends when `out_trade_no` is paid.
fn notification(
    signer: &rsa::RsaPrivateKey,
    cipher: &Aes256Gcm,
    out_trade_no: &str,
    total: i64,
) -> anyhow::Result<Signed> {
    let transaction = json!({
        "appid": DEMO.wechat_appid,
        "mchid": DEMO.mchid,
        "out_trade_no": out_trade_no,
        "transaction_id": format!("4200{}", random_alnum(24)),
        "trade_type": "JSAPI",
        "trade_state": "SUCCESS",
        "trade_state_desc": "支付成功",
        "bank_type": "OTHERS",
        "success_time": chrono::Utc::now().to_rfc3339(),
        "payer": { "openid": "o-bench" },
        "amount": { "total": total, "payer_total": total, "currency": "CNY", "payer_currency": "CNY" },
    })
    .to_string();
    let nonce = random_alnum(12);
    let ciphertext = cipher
        .encrypt(Nonce::from_slice(nonce.as_bytes()), Payload { msg: transaction.as_bytes(), aad: b"transaction" })
        .map_err(|_| anyhow::anyhow!("encrypting"))?;
    let body = json!({
        "id": format!("EV-{}", random_alnum(20)),
        "create_time": chrono::Utc::now().to_rfc3339(),
        "resource_type": "encrypt-resource",
        "event_type": "TRANSACTION.SUCCESS",
        "summary": "支付成功",
        "resource": {
            "original_type": "transaction",
            "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": STANDARD.encode(ciphertext),
            "associated_data": "transaction",
            "nonce": nonce,
        },
    })
    .to_string();
    let timestamp = chrono::Utc::now().timestamp().to_string();
    let header_nonce = random_alnum(32);
    let signature = service::integrations::signing::sign(signer, &format!("{timestamp}\n{header_nonce}\n{body}\n"));
    Ok(Signed {
        headers: vec![
            ("Wechatpay-Timestamp", timestamp),
            ("Wechatpay-Nonce", header_nonce),
            ("Wechatpay-Signature", signature),
            ("Wechatpay-Serial", sandbox::WECHATPAY_PUBLIC_KEY_ID.to_owned()),
            ("Wechatpay-Signature-Type", "WECHATPAY2-SHA256-RSA2048".to_owned()),
            ("Content-Type", "application/json".to_owned()),
        ],
        body,
    })
}

/// Posts every notification with `concurrency` senders; returns the latencies, failing on any non-204.
async fn send_all(
    client: &reqwest::Client,
    url: &str,
    notifications: Arc<Vec<Signed>>,
    concurrency: usize,
) -> anyhow::Result<(Duration, Vec<Duration>)> {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let senders = (0..concurrency).map(|_| {
        let (client, url, notifications, next) = (client.clone(), url.to_owned(), notifications.clone(), next.clone());
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(signed) = notifications.get(i) else { break };
                let mut request = client.post(&url).body(signed.body.clone());
                for (name, value) in &signed.headers {
                    request = request.header(*name, value);
                }
                let sent = Instant::now();
                let response = request.send().await?;
                latencies.push(sent.elapsed());
                if response.status() != reqwest::StatusCode::NO_CONTENT {
                    bail!("notification answered {}: {}", response.status(), response.text().await.unwrap_or_default());
                }
            }
            Ok(latencies)
        })
    });
    let mut all = Vec::new();
    for sender in futures_util::future::join_all(senders).await {
        all.extend(sender??);
    }
    let elapsed = started.elapsed();
    all.sort();
    Ok((elapsed, all))
}

#[expect(clippy::as_conversions, reason = "figures for printing")]
pub(crate) fn rate(count: usize, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

pub async fn bench_notifications(options: Options<'_>) -> anyhow::Result<()> {
    let admin = Database::connect(format!("{}/postgres", options.server.trim_end_matches('/'))).await?;
    admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", options.database)).await?;
    admin.execute_unprepared(&format!("CREATE DATABASE {}", options.database)).await?;
    admin.close().await?;
    let url = format!("{}/{}", options.server.trim_end_matches('/'), options.database);

    let port = crate::free_port()?;
    let mut child = tokio::process::Command::new(options.api)
        .arg("serve")
        .env("HUIYUAN__DATABASE__URL", &url)
        .env("HUIYUAN__DATABASE__MAX_CONNECTIONS", "16")
        .env("HUIYUAN__SERVER__PORT", port.to_string())
        .env("HUIYUAN__SANDBOX__LISTEN", "127.0.0.1:0")
        .env("HUIYUAN__SECURITY__ACTIVE_KEY", "bench1")
        .env("HUIYUAN__SECURITY__KEYS__BENCH1", crate::security().keys["bench1"].expose())
        .env("HUIYUAN__SECURITY__INDEX_KEY", crate::security().index_key.expose())
        .env("HUIYUAN__LOG__FILTER", "warn")
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting the api")?;
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder().pool_max_idle_per_host(64).build()?;
    crate::wait_ready(&client, &base).await?;
    let db = Database::connect(&url).await?;
    let merchant_id = crate::demo_merchant(&db).await?;
    let store_id =
        crate::scalar(&db, "SELECT MIN(id) AS n FROM stores WHERE merchant_id = $1", vec![merchant_id.into()]).await?;

    // Pending recharges, made the way members make them.
    let started = Instant::now();
    let members = 16;
    let mut tokens = Vec::new();
    for i in 0..members {
        let session: serde_json::Value = client
            .post(format!("{base}/api/mini/v1/sessions/sandbox"))
            .json(&json!({ "merchant_id": merchant_id, "user": format!("bench-payer-{i}") }))
            .send()
            .await?
            .json()
            .await?;
        tokens.push(session["token"].as_str().context("member sign-in")?.to_owned());
    }
    let amount = 10_000;
    let tokens = Arc::new(tokens);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let makers = (0..options.concurrency).map(|_| {
        let (client, base, tokens, next) = (client.clone(), base.clone(), tokens.clone(), next.clone());
        let total = options.payments;
        tokio::spawn(async move {
            let mut made = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let answer: serde_json::Value = client
                    .post(format!("{base}/api/mini/v1/me/payments/recharges"))
                    .bearer_auth(&tokens[i % tokens.len()])
                    .json(&json!({
                        "provider": "wechatpay", "store_id": store_id, "amount_fen": amount,
                        "idempotency_key": format!("bench-recharge-{i:08}"),
                    }))
                    .send()
                    .await?
                    .json()
                    .await?;
                let out_trade_no =
                    answer["payment"]["out_trade_no"].as_str().with_context(|| format!("recharge: {answer}"))?;
                made.push(out_trade_no.to_owned());
            }
            anyhow::Ok(made)
        })
    });
    let mut orders = Vec::new();
    for maker in futures_util::future::join_all(makers).await {
        orders.extend(maker??);
    }
    println!(
        "{} pending recharges made through the mini-program API in {:.1} s",
        orders.len(),
        started.elapsed().as_secs_f64()
    );

    let signer = service::integrations::signing::parse_private_key(sandbox::WECHATPAY_PLATFORM_PRIVATE_KEY)?;
    let cipher = Aes256Gcm::new_from_slice(DEMO.apiv3_key.as_bytes()).map_err(|_| anyhow::anyhow!("APIv3 key"))?;
    let notifications: Vec<Signed> =
        orders.iter().map(|no| notification(&signer, &cipher, no, amount)).collect::<anyhow::Result<_>>()?;
    let notifications = Arc::new(notifications);
    let callback = format!("{base}/callbacks/wechatpay");

    let (elapsed, latencies) = send_all(&client, &callback, notifications.clone(), options.concurrency).await?;
    let pick = |sorted: &[Duration], q: f64| crate::percentile_ms(sorted, q);
    println!(
        "WeChat Pay notifications applied (verify, decrypt, credit the card): {} at {} senders: {:.0} /s, p50 {:.1} ms, p99 {:.1} ms",
        latencies.len(),
        options.concurrency,
        rate(latencies.len(), elapsed),
        pick(&latencies, 0.50),
        pick(&latencies, 0.99),
    );
    let (elapsed, latencies) = send_all(&client, &callback, notifications, options.concurrency).await?;
    println!(
        "the same notifications again (duplicates, nothing applied): {:.0} /s, p50 {:.1} ms, p99 {:.1} ms",
        rate(latencies.len(), elapsed),
        pick(&latencies, 0.50),
        pick(&latencies, 0.99),
    );
    let applied = crate::scalar(&db, "SELECT COUNT(*) AS n FROM payments WHERE status = 'paid'", vec![]).await?;
    let entries =
        crate::scalar(&db, "SELECT COUNT(*) AS n FROM journal_entries WHERE idempotency_key LIKE 'payment:%'", vec![])
            .await?;
    println!("payments paid: {applied}, ledger entries for them: {entries} (expected {})", orders.len());
    if let Some(pid) = child.id()
        && let Ok((rss, peak)) = crate::memory_of(pid)
    {
        println!("api memory: {} MiB resident, {} MiB peak", rss / 1024, peak / 1024);
    }
    let found = service::ledger::verify(&db, Some(merchant_id)).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("verify-ledger after the run: {} discrepancies", found.len());
    child.kill().await.ok();
    db.close().await?;
    Ok(())
}
