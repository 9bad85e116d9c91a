//! `cargo run --release -p bench -- bills`: settlement at the desk, at scale.
//!
//! 1. PostgreSQL: the demo merchant, N members (default 1,000,000) and M past bills (default 10,000,000) with their
//!    lines, tenders and balanced journal entries, generated server-side (`generate_series`); the store accounts'
//!    balances are then recomputed from the generated lines so `verify-ledger` stays clean.
//! 2. Starts the release `api`, funds a pool of 1,000 members' stored-value cards through the API, and drives
//!    `POST /api/staff/v1/bills` at C concurrent cashiers (default 16): a typical bill of two services and one
//!    product paid by stored value plus cash with change. First the cashiers spread over C/2 stores, two to a store
//!    (as pgbench spreads its clients over 10 branches), then all of them at one store (the worst case: every bill
//!    shares the store's ledger and stock rows). Prints bills/s, p50, p99 and the api's memory for each.
//! 3. Runs `pgbench` TPC-B with the same client count on the same database and prints the ratio.
//! 4. The ceiling: pgbench replays the bill's own SQL, per bill and in batches, without the api (`ceiling.rs`).
//! 5. The embedded default: a fresh SQLite file, the same bill at 4 concurrent cashiers.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rand::Rng;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::{Value, json};

use service::foundation::settings::{Secret, Settings};
use service::ledger::{Account, AccountKind};

use crate::{
    CASHIER_PASSWORD, first_member_id, free_port, memory_of, scalar, security, seeded_database, sign_in, spawn_api,
    wait_ready,
};

pub struct Options<'a> {
    pub server: &'a str,
    pub database: &'a str,
    pub members: u64,
    pub past_bills: u64,
    pub concurrency: usize,
    pub sqlite_concurrency: usize,
    pub duration: Duration,
    pub api: &'a PathBuf,
    /// Which parts to run: `chain`, `one-store`, `pgbench`, `ceiling`, `sqlite` (all by default).
    pub phases: &'a [String],
    /// Another api build to compare with `api` in the chain phase, and the turns each gets.
    pub against: Option<(&'a PathBuf, usize)>,
}

/// The bill every cashier rings up: two services and one retail product, stored value plus cash with change.
pub(crate) struct TypicalBill {
    store_id: i64,
    services: [i64; 2],
    product: i64,
    total: i64,
}

pub async fn bench_bills(options: Options<'_>) -> anyhow::Result<()> {
    let (ctx, url, merchant_id) =
        seeded_database(options.api, options.server, options.database, options.members).await?;
    let bill = typical_bill(&ctx.db, merchant_id).await?;
    ensure_past_bills(&ctx.db, merchant_id, &bill, options.members, options.past_bills).await?;
    ctx.db.execute_unprepared("ANALYZE").await?;
    let first = first_member_id(&ctx.db, merchant_id).await?;
    let pool: Vec<i64> = (0..1000).map(|k| first + (k * 997) % i64::try_from(options.members).unwrap_or(1)).collect();
    println!("database: {} members, {} past bills ({})", options.members, options.past_bills, options.database);

    promote(&ctx.db, merchant_id, &pool).await?;
    let runs = |phase: &str| options.phases.iter().any(|p| p == phase);
    // A chain's evening: the cashiers spread over its stores, two to a store (TPC-B's yardstick spreads its clients
    // over 10 branches the same way). Then the worst case: every cashier at one store, all sharing its rows.
    let stores = ensure_stores(&ctx.db, merchant_id, options.concurrency.div_ceil(2)).await?;
    let mut chain = None;
    if runs("chain") {
        println!("{} cashiers over {} stores:", options.concurrency, stores.len());
        chain = Some(match options.against {
            None => {
                vacuum_hot_rows(&ctx.db).await?;
                measure(&options, options.api, &url, &bill, &stores, &pool, options.concurrency, 32).await?.rate
            }
            Some((other, rounds)) => compare(&ctx.db, &options, other, rounds, &url, &bill, &stores, &pool).await?,
        });
    }
    if runs("one-store") {
        vacuum_hot_rows(&ctx.db).await?;
        println!("{} cashiers at one store:", options.concurrency);
        measure(&options, options.api, &url, &bill, &stores[..1], &pool, options.concurrency, 32).await?;
    }
    let mut tpcb = None;
    if runs("pgbench") {
        let tps = crate::run_pgbench(&url, &[], options.concurrency, options.duration).await?;
        println!("pgbench TPC-B ({} clients): {tps:.0} tps", options.concurrency);
        if let Some(chain) = chain {
            println!("ratio settlement {:.2} of pgbench TPC-B", chain / tps);
        }
        tpcb = Some(tps);
    }
    if runs("ceiling") {
        let ceiling = crate::ceiling::Ceiling {
            url: &url,
            merchant_id,
            product_id: bill.product,
            stores: &stores,
            pool: &pool,
            concurrency: options.concurrency,
            duration: options.duration,
        };
        crate::ceiling::measure(&ctx.db, &ceiling, tpcb).await?;
    }
    let found = service::ledger::verify(&ctx.db, Some(merchant_id)).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("verify-ledger after the run: {} discrepancies", found.len());
    if !runs("sqlite") {
        return Ok(());
    }

    // The embedded default, from scratch.
    let dir = std::env::temp_dir().join(format!("hy-bench-{:x}", rand::random::<u32>()));
    let sqlite_url = format!("sqlite://{}?mode=rwc", dir.join("huiyuan.db").display());
    let sqlite = context(&sqlite_url).await?;
    let seed = service::demo::seed(&sqlite, &|_| CASHIER_PASSWORD.to_owned()).await?.context("fresh SQLite seeded")?;
    let bill = typical_bill(&sqlite.db, seed.merchant_id).await?;
    let members: Vec<i64> = demo_members(&sqlite.db, seed.merchant_id).await?;
    promote(&sqlite.db, seed.merchant_id, &members).await?;
    sqlite.db.close_by_ref().await?;
    println!("embedded default (SQLite, {} demo members):", members.len());
    measure(&options, options.api, &sqlite_url, &bill, &[bill.store_id], &members, options.sqlite_concurrency, 1)
        .await?;
    std::fs::remove_dir_all(&dir).ok();
    Ok(())
}

/// Vacuums the rows every bill updates (balances, stock, cards, members' totals) before a measurement, as
/// autovacuum would in any deployment: this machine's PostgreSQL runs with autovacuum off, so without it every run
/// starts on the dead row versions of all the runs before it and measures slower each time.
pub(crate) async fn vacuum_hot_rows(db: &DatabaseConnection) -> anyhow::Result<()> {
    db.execute_unprepared("VACUUM (ANALYZE) ledger_accounts, product_stock, stored_value_cards, members").await?;
    Ok(())
}

pub(crate) async fn context(url: &str) -> anyhow::Result<service::AppContext> {
    let mut settings = Settings::default();
    settings.database.url = Secret::new(url.to_owned());
    settings.security = security();
    service::AppContext::build(settings).await.context("connecting to the bench database")
}

pub(crate) async fn typical_bill(db: &DatabaseConnection, merchant_id: i64) -> anyhow::Result<TypicalBill> {
    let store_id =
        scalar(db, "SELECT MIN(id) AS n FROM stores WHERE merchant_id = $1", vec![merchant_id.into()]).await?;
    let first =
        scalar(db, "SELECT MIN(id) AS n FROM service_items WHERE merchant_id = $1", vec![merchant_id.into()]).await?;
    // The demo menu: 洗剪吹 (￥68) and 头皮护理 (￥198).
    let services = [first, first + 3];
    let product =
        scalar(db, "SELECT MIN(id) AS n FROM products WHERE merchant_id = $1", vec![merchant_id.into()]).await?;
    let total = scalar(
        db,
        "SELECT CAST(SUM(price_fen) AS BIGINT) AS n FROM service_items WHERE id IN ($1, $2)",
        vec![services[0].into(), services[1].into()],
    )
    .await?
        + scalar(db, "SELECT price_fen AS n FROM products WHERE id = $1", vec![product.into()]).await?;
    Ok(TypicalBill { store_id, services, product, total })
}

async fn demo_members(db: &DatabaseConnection, merchant_id: i64) -> anyhow::Result<Vec<i64>> {
    let first = scalar(db, "SELECT MIN(id) AS n FROM members WHERE merchant_id = $1", vec![merchant_id.into()]).await?;
    let count =
        scalar(db, "SELECT COUNT(*) AS n FROM members WHERE merchant_id = $1", vec![merchant_id.into()]).await?;
    Ok((first..first + count).collect())
}

/// Generates past bills up to `target`, a million at a time, each with a line, a cash tender and a balanced
/// journal entry on the first store's cash and 美发 revenue accounts.
pub(crate) async fn ensure_past_bills(
    db: &DatabaseConnection,
    merchant_id: i64,
    bill: &TypicalBill,
    members: u64,
    target: u64,
) -> anyhow::Result<()> {
    let existing = u64::try_from(
        scalar(db, "SELECT COUNT(*) AS n FROM bills WHERE idempotency_key LIKE 'past-%'", vec![]).await?,
    )?;
    if existing >= target {
        return Ok(());
    }
    let started = Instant::now();
    let store = bill.store_id;
    let accounts = [Account::store(store, AccountKind::Cash), Account::revenue(store, "美发")];
    let ids = service::ledger::open_accounts(db, merchant_id, &accounts).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let (cash, revenue) = (ids[0], ids[1]);
    let staff = scalar(db, "SELECT id AS n FROM staff WHERE username = 'demo-cashier'", vec![]).await?;
    let first_member = first_member_id(db, merchant_id).await?;
    let item = bill.services[0];
    const CHUNK: u64 = 1_000_000;
    let mut from = existing;
    while from < target {
        let to = (from + CHUNK).min(target);
        let last_bill = scalar(db, "SELECT COALESCE(MAX(id), 0) AS n FROM bills", vec![]).await?;
        let last_entry = scalar(db, "SELECT COALESCE(MAX(id), 0) AS n FROM journal_entries", vec![]).await?;
        let statements = [
            format!(
                "INSERT INTO bills (merchant_id, store_id, member_id, status, subtotal_fen, total_fen, change_fen, \
                 idempotency_key, fingerprint, entry_id, created_by, created_at, settled_at) \
                 SELECT {merchant_id}, {store}, {first_member} + (g % {members}), 'settled', 6800, 6800, 0, \
                 'past-' || g, '', NULL, {staff}, now() - make_interval(secs => g), now() - make_interval(secs => g) \
                 FROM generate_series({from}, {}) g",
                to - 1
            ),
            format!(
                "INSERT INTO bill_lines (bill_id, kind, item_id, name, category, quantity, unit_price_fen, amount_fen) \
                 SELECT id, 'service', {item}, '洗剪吹', '美发', 1, 6800, 6800 FROM bills WHERE id > {last_bill}"
            ),
            format!(
                "INSERT INTO bill_tenders (bill_id, kind, amount_fen, tendered_fen, change_fen) \
                 SELECT id, 'cash', 6800, 6800, 0 FROM bills WHERE id > {last_bill}"
            ),
            format!(
                "INSERT INTO journal_entries (merchant_id, store_id, kind, memo, staff_id, job, member_id, bill_id, \
                 payment_id, idempotency_key, fingerprint, created_at) \
                 SELECT {merchant_id}, {store}, 'sale', 'imported', {staff}, NULL, member_id, id, NULL, NULL, NULL, \
                 created_at FROM bills WHERE id > {last_bill}"
            ),
            format!(
                "INSERT INTO journal_lines (entry_id, account_id, amount) \
                 SELECT id, {cash}, 6800 FROM journal_entries WHERE id > {last_entry} \
                 UNION ALL SELECT id, {revenue}, -6800 FROM journal_entries WHERE id > {last_entry}"
            ),
        ];
        for sql in statements {
            db.execute_unprepared(&sql).await.with_context(|| format!("generating past bills: {sql}"))?;
        }
        println!("  {to} / {target} past bills ({:.0} s)", started.elapsed().as_secs_f64());
        from = to;
    }
    db.execute_unprepared(&format!(
        "UPDATE ledger_accounts a SET balance = (SELECT COALESCE(SUM(l.amount), 0) FROM journal_lines l \
         WHERE l.account_id = a.id) * (CASE WHEN a.debit_normal THEN 1 ELSE -1 END) WHERE a.id IN ({cash}, {revenue})"
    ))
    .await?;
    println!("generated {} past bills in {:.1} s", target - existing, started.elapsed().as_secs_f64());
    Ok(())
}

/// The merchant's first `count` stores (creating the missing ones), the bench cashier working at all of them.
async fn ensure_stores(db: &DatabaseConnection, merchant_id: i64, count: usize) -> anyhow::Result<Vec<i64>> {
    let m = merchant_id.to_string();
    let have = scalar(db, "SELECT COUNT(*) AS n FROM stores WHERE merchant_id = $1", vec![merchant_id.into()]).await?;
    for k in have..i64::try_from(count)? {
        db.execute_unprepared(&format!(
            "INSERT INTO stores (merchant_id, name, address, phone, timezone, active, created_at) \
             VALUES ({m}, 'bench 分店 {k}', '', '', 'Asia/Shanghai', TRUE, NOW())"
        ))
        .await?;
        // As every change of a merchant's stores does, so a running api's copy of them is reloaded.
        db.execute_unprepared(&format!("UPDATE merchants SET config_version = config_version + 1 WHERE id = {m}"))
            .await?;
    }
    db.execute_unprepared(&format!(
        "INSERT INTO staff_stores (staff_id, store_id, merchant_id) \
         SELECT staff.id, stores.id, {m} FROM staff, stores \
         WHERE staff.merchant_id = {m} AND staff.username = 'demo-cashier' AND stores.merchant_id = {m} \
         ON CONFLICT DO NOTHING"
    ))
    .await?;
    let first = scalar(db, "SELECT MIN(id) AS n FROM stores WHERE merchant_id = $1", vec![merchant_id.into()]).await?;
    let ids = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            format!("SELECT id FROM stores WHERE merchant_id = {m} AND id >= {first} ORDER BY id LIMIT {count}"),
        ))
        .await?
        .iter()
        .map(|row| row.try_get::<i64>("", "id"))
        .collect::<Result<Vec<i64>, _>>()?;
    Ok(ids)
}

/// What one measurement found.
struct Measured {
    rate: f64,
    p50: f64,
    p99: f64,
    /// The api's CPU time per bill.
    cpu_ms: f64,
}

/// The chain phase for two api builds in turns, `rounds` each, on the same database: a run's rate drifts with the
/// rows the runs before it left (10–20% here, as much as most changes being measured), so only runs side by side
/// compare. Each run starts from a vacuumed, checkpointed database. Returns `--api`'s mean rate.
#[expect(clippy::as_conversions, reason = "statistics over counts, not money")]
#[allow(clippy::too_many_arguments)]
async fn compare(
    db: &DatabaseConnection,
    options: &Options<'_>,
    other: &PathBuf,
    rounds: usize,
    url: &str,
    bill: &TypicalBill,
    stores: &[i64],
    pool: &[i64],
) -> anyhow::Result<f64> {
    let builds = [options.api, other];
    let mut runs: [Vec<Measured>; 2] = [Vec::new(), Vec::new()];
    for round in 0..rounds.max(1) {
        for (k, api) in builds.iter().enumerate() {
            vacuum_hot_rows(db).await?;
            db.execute_unprepared("CHECKPOINT").await?;
            println!("round {} of {}, {}:", round + 1, rounds.max(1), api.display());
            runs[k].push(measure(options, api, url, bill, stores, pool, options.concurrency, 32).await?);
        }
    }
    let mean = |of: &[Measured], pick: fn(&Measured) -> f64| of.iter().map(pick).sum::<f64>() / of.len() as f64;
    for (api, of) in builds.iter().zip(&runs) {
        println!(
            "mean of {} runs, {}: {:>7.0} bills/s   p50 {:>6.2} ms   p99 {:>6.2} ms   api CPU {:.2} ms/bill",
            of.len(),
            api.display(),
            mean(of, |m| m.rate),
            mean(of, |m| m.p50),
            mean(of, |m| m.p99),
            mean(of, |m| m.cpu_ms),
        );
    }
    let (first, second) = (mean(&runs[0], |m| m.rate), mean(&runs[1], |m| m.rate));
    println!("{} against {}: {:+.1}% bills/s", other.display(), options.api.display(), (second / first - 1.0) * 100.0);
    Ok(first)
}

/// Starts `api` on `url`, funds the members' cards, and settles the typical bill at `concurrency` cashiers for
/// the duration, cashier k at store `stores[k % stores.len()]`.
#[expect(clippy::as_conversions, reason = "statistics over counts and durations, not money")]
#[allow(clippy::too_many_arguments)]
async fn measure(
    options: &Options<'_>,
    api: &PathBuf,
    url: &str,
    bill: &TypicalBill,
    stores: &[i64],
    members: &[i64],
    concurrency: usize,
    max_connections: u32,
) -> anyhow::Result<Measured> {
    let port = free_port()?;
    let mut child = spawn_api(api, url, port, max_connections)?;
    let pid = child.id().context("api pid")?;
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build()?;
    wait_ready(&client, &base).await?;
    let token = sign_in(&client, &base).await?;
    fund(&client, &base, &token, bill.store_id, members).await?;
    for store_id in stores {
        stock_up(&client, &base, &token, *store_id, bill).await?;
    }

    // Members of a level pay a discounted price: learn each pool member's total once, from the preview.
    let totals = member_totals(&client, &base, &token, bill, members).await?;
    let body = |store_id: i64, member_id: i64| {
        let total = totals.get(&member_id).copied().unwrap_or(bill.total);
        let sv = total * 3 / 4;
        let cash = total - sv;
        json!({
            "store_id": store_id,
            "member_id": member_id,
            "lines": lines(bill),
            "tenders": [
                { "kind": "stored_value", "amount_fen": sv },
                { "kind": "cash", "amount_fen": cash, "tendered_fen": cash.div_euclid(10_000) * 10_000 + 10_000 }
            ],
            "idempotency_key": format!("bench-{:016x}", rand::random::<u64>()),
        })
    };
    let settle = |phase: Duration| {
        let (client, base, token) = (&client, &base, &token);
        async move {
            let deadline = Instant::now() + phase;
            let started = Instant::now();
            let workers = (0..concurrency).map(|k| async move {
                let store_id = stores[k % stores.len()];
                let (mut latencies, mut errors) = (Vec::new(), 0usize);
                while Instant::now() < deadline {
                    let member_id = members[rand::thread_rng().gen_range(0..members.len())];
                    let sent = Instant::now();
                    let answer = client
                        .post(format!("{base}/api/staff/v1/bills"))
                        .bearer_auth(token)
                        .json(&body(store_id, member_id))
                        .send()
                        .await;
                    let created = |status| status == reqwest::StatusCode::CREATED;
                    crate::tally(answer, created, sent, &mut latencies, &mut errors).await;
                }
                (latencies, errors)
            });
            let outcomes = futures_util::future::join_all(workers).await;
            (started.elapsed().as_secs_f64(), outcomes)
        }
    };
    settle(Duration::from_secs(2)).await;
    let cpu_before = crate::cpu_of(pid)?;
    let (elapsed, outcomes) = settle(options.duration).await;
    let cpu = crate::cpu_of(pid)? - cpu_before;
    let errors: usize = outcomes.iter().map(|(_, e)| e).sum();
    let mut all: Vec<Duration> = outcomes.into_iter().flat_map(|(l, _)| l).collect();
    all.sort_unstable();
    let pick = |q: f64| crate::percentile_ms(&all, q);
    let rate = all.len() as f64 / elapsed;
    let cpu_ms = cpu.as_secs_f64() * 1000.0 / all.len().max(1) as f64;
    println!(
        "settlement ({concurrency} cashiers)   {rate:>7.0} bills/s   p50 {:>6.2} ms   p99 {:>6.2} ms   api CPU {cpu_ms:.2} ms/bill   ({} bills, {errors} errors)",
        pick(0.5),
        pick(0.99),
        all.len()
    );
    let (rss, hwm) = memory_of(pid)?;
    println!("api memory: {} MiB resident, {} MiB peak", rss / 1024, hwm / 1024);
    child.kill().await.ok();
    Ok(Measured { rate, p50: pick(0.5), p99: pick(0.99), cpu_ms })
}

/// Puts the pool's members at the top level already, so no settlement during the run moves one up a level and
/// changes the price it was rung up at.
pub(crate) async fn promote(db: &DatabaseConnection, merchant_id: i64, members: &[i64]) -> anyhow::Result<()> {
    let ids: Vec<String> = members.iter().map(i64::to_string).collect();
    let top = "(SELECT id FROM member_levels WHERE merchant_id = {m} ORDER BY rank DESC LIMIT 1)"
        .replace("{m}", &merchant_id.to_string());
    for chunk in ids.chunks(500) {
        let sql = format!(
            "UPDATE members SET total_spend_fen = 100000000000, total_recharge_fen = 100000000000, level_id = {top} \
             WHERE id IN ({})",
            chunk.join(",")
        );
        db.execute_unprepared(&sql).await?;
    }
    Ok(())
}

fn lines(bill: &TypicalBill) -> Value {
    json!([
        { "kind": "service", "item_id": bill.services[0] },
        { "kind": "service", "item_id": bill.services[1] },
        { "kind": "product", "item_id": bill.product },
    ])
}

/// The typical bill's total for each member, 16 previews at a time.
async fn member_totals(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    bill: &TypicalBill,
    members: &[i64],
) -> anyhow::Result<std::collections::HashMap<i64, i64>> {
    let mut totals = std::collections::HashMap::new();
    for chunk in members.chunks(16) {
        let previews = chunk.iter().map(|member_id| async move {
            let body = json!({ "store_id": bill.store_id, "member_id": member_id, "lines": lines(bill) });
            let answer =
                client.post(format!("{base}/api/staff/v1/bills/preview")).bearer_auth(token).json(&body).send().await?;
            if !answer.status().is_success() {
                bail!("previewing for member {member_id}: {}", answer.text().await.unwrap_or_default());
            }
            let quote: Value = answer.json().await?;
            anyhow::Ok((*member_id, quote["total_fen"].as_i64().context("a total")?))
        });
        for outcome in futures_util::future::join_all(previews).await {
            let (member_id, total) = outcome?;
            totals.insert(member_id, total);
        }
    }
    Ok(totals)
}

/// Receives enough of the product at the store for any run.
async fn stock_up(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    store_id: i64,
    bill: &TypicalBill,
) -> anyhow::Result<()> {
    let body = json!({ "product_id": bill.product, "quantity": 1_000_000, "memo": "bench" });
    let answer = client
        .post(format!("{base}/api/staff/v1/stores/{store_id}/stock/receipts"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await?;
    if !answer.status().is_success() {
        bail!("receiving stock: {}", answer.text().await.unwrap_or_default());
    }
    Ok(())
}

/// Gives every member in the pool ￥1,000,000 of stored value (the largest recharge) through the API, 16 at a time,
/// so even the dozen demo members of the embedded default last a whole run.
async fn fund(client: &reqwest::Client, base: &str, token: &str, store_id: i64, members: &[i64]) -> anyhow::Result<()> {
    let run = rand::random::<u32>();
    for chunk in members.chunks(16) {
        let recharges = chunk.iter().map(|member_id| async move {
            let body: Value = json!({
                "store_id": store_id,
                "amount_fen": 100_000_000,
                "tender": "bank_card",
                "idempotency_key": format!("fund-{run:08x}-{member_id}"),
            });
            let answer = client
                .post(format!("{base}/api/staff/v1/members/{member_id}/stored-value/recharges"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await?;
            if !answer.status().is_success() {
                bail!("funding member {member_id}: {}", answer.text().await.unwrap_or_default());
            }
            anyhow::Ok(())
        });
        for outcome in futures_util::future::join_all(recharges).await {
            outcome?;
        }
    }
    Ok(())
}
