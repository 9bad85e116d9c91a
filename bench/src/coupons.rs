//! `cargo run --release -p bench -- coupons`: coupons at scale, on PostgreSQL.
//!
//! 1. A campaign's drop: the demo owner creates a ￥5 template through the api and grants it to every member
//!    (default 1,000,000) in one request, which the api answers with one `INSERT … SELECT`. The yardstick is the
//!    same statement run straight on the database for a second template; prints both rates and their ratio.
//! 2. Claims: members signed in through the sandbox claim from the coupon center at C concurrent clients for D
//!    seconds, taking turns so none reaches the per-member limit; prints claims/s, p50, p99, and checks by SQL that
//!    every 201 is one row, that nobody holds more than the limit, and that the stock taken matches.
//! 3. Settlement with a coupon against without one: the same one-service bill for the same members, rounds taking
//!    turns (without, with, without, with…); prints bills/s and p99 for every round, the means, and how much slower
//!    a bill with a coupon settles.
//!
//! Then the api's memory and `verify-ledger`. The unused coupons of the bench's templates are deleted as each phase
//! ends (those the bills used stay: the bills name them) and the templates are ended, so the database serves the
//! next run as it served this one.

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde_json::{Value, json};

use crate::bills::{promote, vacuum_hot_rows};
use crate::{free_port, memory_of, percentile_ms, scalar, seeded_database, sign_in, sign_in_as, spawn_api, wait_ready};

pub struct Options<'a> {
    pub server: &'a str,
    pub database: &'a str,
    pub members: u64,
    pub concurrency: usize,
    pub duration: Duration,
    pub api: &'a PathBuf,
    /// Settlement rounds of each kind.
    pub rounds: usize,
    /// Members who take turns claiming.
    pub claimers: usize,
    /// Members whose drop coupon the settlement rounds spend, one a bill.
    pub pool: usize,
}

/// The staff account that manages coupons (the cashier may not).
const OWNER: &str = "demo-owner";
const DROP_TEMPLATE: &str = "全员 5 元";
/// The drop's twin, issued straight by SQL for the yardstick.
const CEILING_TEMPLATE: &str = "全员 5 元 (数据库直写)";
const CLAIM_TEMPLATE: &str = "领券中心";
/// What the drop's coupon takes off a bill.
const DROP_OFF_FEN: i64 = 500;
/// The claim template's per-member limit (the most the api allows).
const CLAIM_LIMIT: i64 = 100;
const CLAIM_STOCK: i64 = 100_000_000;

/// The drop's `INSERT … SELECT` as the api builds it (`grant_matching`: every live member of the merchant, the
/// template's terms copied, skipping who holds the key's coupon), with the terms read from the template's row
/// instead of bound one by one: a join to one row by its key, which costs nothing beside a million inserts.
const CEILING_INSERT: &str = "INSERT INTO member_coupons (merchant_id, template_id, member_id, name, kind, value_fen, \
     rate_bp, cap_fen, threshold_fen, free_item_kind, free_item_id, scope, stacks_with_level, stacks_with_points, \
     stacks_with_coupons, valid_from, valid_until, status, source, source_key, created_at) \
     SELECT t.merchant_id, t.id, m.id, t.name, t.kind, t.value_fen, t.rate_bp, t.cap_fen, t.threshold_fen, \
     t.free_item_kind, t.free_item_id, t.scope, t.stacks_with_level, t.stacks_with_points, t.stacks_with_coupons, now(), \
     now() + make_interval(days => t.valid_days), 'usable', 'grant', 'grant:bench-ceiling', now() \
     FROM members m JOIN coupon_templates t ON t.id = $2 \
     WHERE m.merchant_id = $1 AND m.anonymised_at IS NULL \
     ON CONFLICT (template_id, member_id, source_key) DO NOTHING";

pub async fn bench_coupons(options: Options<'_>) -> anyhow::Result<()> {
    let (ctx, url, merchant_id) =
        seeded_database(options.api, options.server, options.database, options.members).await?;
    let leftovers = sweep_leftovers(&ctx.db, merchant_id).await?;
    if leftovers > 0 {
        println!("deleted {leftovers} unused coupons an interrupted run left");
    }
    ctx.db.execute_unprepared("ANALYZE").await?;

    let port = free_port()?;
    let mut child = spawn_api(options.api, &url, port, 32)?;
    let pid = child.id().context("api pid")?;
    let base = format!("http://127.0.0.1:{port}");
    // The drop is one request that writes a row per member: minutes on a slow disk, not the usual seconds.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(options.concurrency)
        .timeout(Duration::from_secs(600))
        .build()?;
    wait_ready(&client, &base).await?;
    let api = Api { client: &client, base: &base };
    let owner = sign_in_as(&client, &base, OWNER).await?;
    let cashier = sign_in(&client, &base).await?;

    println!("1. a campaign's drop to every member:");
    let drop = campaign_drop(&ctx.db, &api, &owner, merchant_id).await?;
    println!("2. claims in the coupon center:");
    let claimed = claims(&ctx.db, &api, &owner, merchant_id, &options).await?;
    println!("3. settlement with a coupon against without one:");
    settlement(&ctx.db, &api, &cashier, merchant_id, drop.template, &options).await?;

    let (rss, hwm) = memory_of(pid)?;
    println!("api memory: {} MiB resident, {} MiB peak", rss / 1024, hwm / 1024);
    for template in [drop.template, drop.ceiling, claimed] {
        api.end_template(&owner, template).await?;
    }
    child.kill().await.ok();
    let found = service::ledger::verify(&ctx.db, Some(merchant_id)).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("verify-ledger after the run: {} discrepancies", found.len());
    Ok(())
}

/// The api under test and the client that speaks to it.
struct Api<'a> {
    client: &'a reqwest::Client,
    base: &'a str,
}

impl Api<'_> {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Creates a coupon template as `token`'s staff; returns its id.
    async fn create_template(&self, token: &str, body: &Value) -> anyhow::Result<i64> {
        let answer =
            self.client.post(self.url("/api/staff/v1/coupon-templates")).bearer_auth(token).json(body).send().await?;
        let status = answer.status();
        if status != StatusCode::CREATED {
            bail!("creating the template {}: {status} {}", body["name"], answer.text().await.unwrap_or_default());
        }
        let created: Value = answer.json().await?;
        created["id"].as_i64().context("the new template's id")
    }

    /// Ends a template, so the bench's templates of past runs do not pile up in the coupon center.
    async fn end_template(&self, token: &str, id: i64) -> anyhow::Result<()> {
        let answer = self
            .client
            .patch(self.url(&format!("/api/staff/v1/coupon-templates/{id}")))
            .bearer_auth(token)
            .json(&json!({ "status": "ended" }))
            .send()
            .await?;
        if !answer.status().is_success() {
            bail!("ending template {id}: {}", answer.text().await.unwrap_or_default());
        }
        Ok(())
    }
}

/// The templates of phase 1.
struct DropTemplates {
    /// Granted through the api; its coupons stay for phase 3 to spend.
    template: i64,
    /// Issued straight by SQL; its coupons are gone when phase 1 ends.
    ceiling: i64,
}

/// Phase 1: the drop through the api, then the same rows straight on the database.
#[expect(clippy::as_conversions, reason = "statistics over counts and durations, not money")]
async fn campaign_drop(
    db: &DatabaseConnection,
    api: &Api<'_>,
    owner: &str,
    merchant_id: i64,
) -> anyhow::Result<DropTemplates> {
    let members = scalar(
        db,
        "SELECT COUNT(*) AS n FROM members WHERE merchant_id = $1 AND anonymised_at IS NULL",
        vec![merchant_id.into()],
    )
    .await?;
    let terms = |name: &str| json!({ "name": name, "kind": "amount", "value_fen": DROP_OFF_FEN, "valid_days": 30 });
    let template = api.create_template(owner, &terms(DROP_TEMPLATE)).await?;
    let ceiling = api.create_template(owner, &terms(CEILING_TEMPLATE)).await?;

    // Both inserts start from a checkpoint, so neither pays for writing out the other's pages.
    db.execute_unprepared("CHECKPOINT").await?;
    let key = format!("bench-drop-{:016x}", rand::random::<u64>());
    let started = Instant::now();
    let answer = api
        .client
        .post(api.url(&format!("/api/staff/v1/coupon-templates/{template}/grants")))
        .bearer_auth(owner)
        .json(&json!({ "filter": {}, "idempotency_key": key }))
        .send()
        .await?;
    let status = answer.status();
    if !status.is_success() {
        bail!("granting to every member: {status} {}", answer.text().await.unwrap_or_default());
    }
    let granted: Value = answer.json().await?;
    let seconds = started.elapsed().as_secs_f64();
    let issued = granted["issued"].as_i64().context("the grant's issued")?;
    let already = granted["already"].as_i64().context("the grant's already")?;
    let drop_rate = issued as f64 / seconds;
    println!(
        "drop through the api (one request)   {drop_rate:>9.0} rows/s   issued {issued} for {members} members \
         ({already} held one already) in {seconds:.1} s"
    );

    db.execute_unprepared("CHECKPOINT").await?;
    let started = Instant::now();
    let inserted = db
        .execute_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            CEILING_INSERT,
            [merchant_id.into(), ceiling.into()],
        ))
        .await?
        .rows_affected();
    let seconds = started.elapsed().as_secs_f64();
    let ceiling_rate = inserted as f64 / seconds;
    println!("the same INSERT … SELECT on the db     {ceiling_rate:>9.0} rows/s   {inserted} rows in {seconds:.1} s");
    println!("ratio drop {:.2} of the database's own rate (target: at least 0.50)", drop_rate / ceiling_rate);

    remove_unused_coupons(db, &[ceiling]).await?;
    Ok(DropTemplates { template, ceiling })
}

/// Phase 2: claims from the coupon center, then a check of what they wrote. Returns the template.
async fn claims(
    db: &DatabaseConnection,
    api: &Api<'_>,
    owner: &str,
    merchant_id: i64,
    options: &Options<'_>,
) -> anyhow::Result<i64> {
    let template = api
        .create_template(
            owner,
            &json!({
                "name": CLAIM_TEMPLATE,
                "kind": "amount",
                "value_fen": 300,
                "valid_days": 30,
                "claimable": true,
                "per_member_limit": CLAIM_LIMIT,
                "total_stock": CLAIM_STOCK,
            }),
        )
        .await?;
    let tokens = member_tokens(api, merchant_id, options.claimers).await?;
    // Round robin over the members: a member's claims spread out in time, so one reaches the limit only after
    // claimers × limit claims in all, and two clients rarely claim for the same member at once.
    let turn = AtomicUsize::new(0);
    let url = api.url(&format!("/api/mini/v1/coupon-center/{template}/claims"));
    let (client, tokens, turn, url) = (api.client, &tokens, &turn, &url);
    let claim = move || async move {
        let token = &tokens[turn.fetch_add(1, Ordering::Relaxed) % tokens.len()];
        classify(client.post(url.as_str()).bearer_auth(token).send().await).await
    };
    let warm_up = drive(options.concurrency, Duration::from_secs(2), claim).await;
    let load = drive(options.concurrency, options.duration, claim).await;
    println!(
        "claims ({} clients, {} members)   {:>7.0} claims/s   p50 {:>6.2} ms   p99 {:>6.2} ms   ({} claims, {} at \
         the limit, {} errors)",
        options.concurrency,
        tokens.len(),
        load.rate(),
        load.p50(),
        load.p99(),
        load.latencies.len(),
        load.at_limit,
        load.errors
    );

    // Every 201 (the warm-up's too) must be exactly one row, and one stock taken for it.
    let answered = i64::try_from(warm_up.latencies.len() + load.latencies.len())?;
    let by_template = || vec![template.into()];
    let rows = scalar(db, "SELECT COUNT(*) AS n FROM member_coupons WHERE template_id = $1", by_template()).await?;
    let most = scalar(
        db,
        "SELECT COALESCE(MAX(held), 0) AS n FROM \
         (SELECT COUNT(*) AS held FROM member_coupons WHERE template_id = $1 GROUP BY member_id) AS per_member",
        by_template(),
    )
    .await?;
    let taken =
        scalar(db, "SELECT total_stock - remaining AS n FROM coupon_templates WHERE id = $1", by_template()).await?;
    let verdict = |ok: bool| if ok { "ok" } else { "MISMATCH" };
    println!(
        "check: {rows} coupons for {answered} answers 201 ({}), stock taken {taken} ({}), the most one member \
         holds {most} of {CLAIM_LIMIT} ({})",
        verdict(rows == answered),
        verdict(taken == answered),
        verdict(most <= CLAIM_LIMIT)
    );
    remove_unused_coupons(db, &[template]).await?;
    Ok(template)
}

/// Signs `count` members in through the sandbox (on unless the api runs in production), 16 at a time. The same
/// names each run, so the same members: the merchant does not grow by `count` every run.
async fn member_tokens(api: &Api<'_>, merchant_id: i64, count: usize) -> anyhow::Result<Vec<String>> {
    let users: Vec<String> = (0..count).map(|k| format!("bench-claimer-{k}")).collect();
    let mut tokens = Vec::with_capacity(count);
    for chunk in users.chunks(16) {
        let sign_ins = chunk.iter().map(|user| async move {
            let answer = api
                .client
                .post(api.url("/api/mini/v1/sessions/sandbox"))
                .json(&json!({ "merchant_id": merchant_id, "user": user }))
                .send()
                .await?;
            if !answer.status().is_success() {
                bail!("signing {user} in through the sandbox: {}", answer.text().await.unwrap_or_default());
            }
            let session: Value = answer.json().await?;
            session["token"].as_str().map(str::to_owned).context("a member token")
        });
        for outcome in futures_util::future::join_all(sign_ins).await {
            tokens.push(outcome?);
        }
    }
    Ok(tokens)
}

/// The bill of phase 3: one service at the demo store, paid in cash to the fen.
struct OneServiceBill {
    store_id: i64,
    service_id: i64,
    /// The total without a coupon and with the drop's coupon, as the preview quotes them.
    plain_fen: i64,
    with_coupon_fen: i64,
}

impl OneServiceBill {
    fn draft(&self, member_id: i64, coupon_id: Option<i64>) -> Value {
        json!({
            "store_id": self.store_id,
            "member_id": member_id,
            "lines": [{ "kind": "service", "item_id": self.service_id }],
            "coupon_ids": coupon_id.into_iter().collect::<Vec<_>>(),
        })
    }

    fn settlement(&self, member_id: i64, coupon_id: Option<i64>) -> Value {
        let total = if coupon_id.is_some() { self.with_coupon_fen } else { self.plain_fen };
        let mut body = self.draft(member_id, coupon_id);
        body["tenders"] = json!([{ "kind": "cash", "amount_fen": total, "tendered_fen": total }]);
        body["idempotency_key"] = json!(format!("bench-{:016x}", rand::random::<u64>()));
        body
    }
}

/// Phase 3: rounds of settlement without and with a coupon, taking turns.
async fn settlement(
    db: &DatabaseConnection,
    api: &Api<'_>,
    cashier: &str,
    merchant_id: i64,
    drop_template: i64,
    options: &Options<'_>,
) -> anyhow::Result<()> {
    let pairs = coupon_pool(db, drop_template, options.pool).await?;
    let &(first_member, first_coupon) = pairs.first().context("no member holds the drop's coupon")?;
    // At the top level already, no bill of the run moves a member up a level and changes the price it was rung up
    // at (as the bills bench does for its pool).
    let members: Vec<i64> = pairs.iter().map(|&(member_id, _)| member_id).collect();
    promote(db, merchant_id, &members).await?;
    let store_id =
        scalar(db, "SELECT MIN(id) AS n FROM stores WHERE merchant_id = $1", vec![merchant_id.into()]).await?;
    // The demo menu's first service: 洗剪吹 (￥68).
    let service_id =
        scalar(db, "SELECT MIN(id) AS n FROM service_items WHERE merchant_id = $1", vec![merchant_id.into()]).await?;
    let mut bill = OneServiceBill { store_id, service_id, plain_fen: 0, with_coupon_fen: 0 };
    bill.plain_fen = preview_total(api, cashier, &bill.draft(first_member, None)).await?;
    bill.with_coupon_fen = preview_total(api, cashier, &bill.draft(first_member, Some(first_coupon))).await?;
    println!(
        "the bill: one service, {} fen without the coupon, {} fen with it; {} members, one coupon each",
        bill.plain_fen,
        bill.with_coupon_fen,
        pairs.len()
    );
    if bill.plain_fen - bill.with_coupon_fen != DROP_OFF_FEN {
        println!(
            "note: the coupon takes {} fen off this bill, not {DROP_OFF_FEN}",
            bill.plain_fen - bill.with_coupon_fen
        );
    }

    let spent = AtomicUsize::new(0);
    let rounds = Rounds { api, cashier, bill: &bill, pairs: &pairs, spent: &spent, concurrency: options.concurrency };
    rounds.round(false, Duration::from_secs(2)).await;
    let mut loads: [Vec<Load>; 2] = [Vec::new(), Vec::new()];
    for round in 1..=options.rounds {
        for (kind, with_coupon) in [false, true].into_iter().enumerate() {
            // Each round starts from the same state: the rows bills update vacuumed (this machine's PostgreSQL
            // runs without autovacuum), the coupons the rounds before spent too, and a fresh checkpoint.
            vacuum_hot_rows(db).await?;
            db.execute_unprepared("VACUUM (ANALYZE) member_coupons").await?;
            db.execute_unprepared("CHECKPOINT").await?;
            let load = rounds.round(with_coupon, options.duration).await;
            println!(
                "round {round} of {}, {:<18} {:>7.0} bills/s   p50 {:>6.2} ms   p99 {:>6.2} ms   ({} bills, {} \
                 errors){}",
                options.rounds,
                if with_coupon { "with a coupon:" } else { "without a coupon:" },
                load.rate(),
                load.p50(),
                load.p99(),
                load.latencies.len(),
                load.errors,
                if load.pool_spent { "   the pool's coupons ran out: raise --pool" } else { "" }
            );
            loads[kind].push(load);
        }
    }
    compare(&loads);

    let with_coupon = i64::try_from(loads[1].iter().map(|load| load.latencies.len()).sum::<usize>())?;
    let used = scalar(
        db,
        "SELECT COUNT(*) AS n FROM member_coupons WHERE template_id = $1 AND status = 'used'",
        vec![drop_template.into()],
    )
    .await?;
    let verdict = if used == with_coupon { "ok" } else { "MISMATCH" };
    println!("check: {used} coupons used for {with_coupon} bills settled with one ({verdict})");
    remove_unused_coupons(db, &[drop_template]).await?;
    Ok(())
}

/// The means of the rounds of each kind, and how much slower a bill with a coupon settles.
#[expect(clippy::as_conversions, reason = "statistics over counts and durations, not money")]
fn compare(loads: &[Vec<Load>; 2]) {
    let mean = |of: &[Load], pick: fn(&Load) -> f64| of.iter().map(pick).sum::<f64>() / of.len().max(1) as f64;
    for (name, of) in ["without a coupon", "with a coupon"].into_iter().zip(loads) {
        println!(
            "mean of {} rounds {name:<17} {:>7.0} bills/s   p99 {:>6.2} ms",
            of.len(),
            mean(of, Load::rate),
            mean(of, Load::p99)
        );
    }
    let (without, with) = (mean(&loads[0], Load::rate), mean(&loads[1], Load::rate));
    println!("with a coupon: {:.1}% slower in bills/s (target: under 10%)", (1.0 - with / without) * 100.0);
}

/// Up to `size` (member, coupon) pairs of the drop's usable coupons, among the generated members.
async fn coupon_pool(db: &DatabaseConnection, drop_template: i64, size: usize) -> anyhow::Result<Vec<(i64, i64)>> {
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            "SELECT c.member_id, c.id AS coupon_id FROM member_coupons c JOIN members m ON m.id = c.member_id \
             WHERE c.template_id = $1 AND c.status = 'usable' AND m.source = 'bench' ORDER BY c.member_id LIMIT $2",
            [drop_template.into(), i64::try_from(size)?.into()],
        ))
        .await?;
    rows.iter().map(|row| Ok((row.try_get::<i64>("", "member_id")?, row.try_get::<i64>("", "coupon_id")?))).collect()
}

async fn preview_total(api: &Api<'_>, cashier: &str, draft: &Value) -> anyhow::Result<i64> {
    let answer =
        api.client.post(api.url("/api/staff/v1/bills/preview")).bearer_auth(cashier).json(draft).send().await?;
    if !answer.status().is_success() {
        bail!("previewing the bill: {}", answer.text().await.unwrap_or_default());
    }
    let quote: Value = answer.json().await?;
    quote["total_fen"].as_i64().context("the preview's total")
}

/// What the settlement rounds share.
struct Rounds<'a> {
    api: &'a Api<'a>,
    cashier: &'a str,
    bill: &'a OneServiceBill,
    /// (member, coupon), each coupon for one bill.
    pairs: &'a [(i64, i64)],
    /// How many pairs the rounds with a coupon have taken.
    spent: &'a AtomicUsize,
    concurrency: usize,
}

impl Rounds<'_> {
    /// Settles the bill at `concurrency` cashiers for the duration, with the next unused coupon each or without.
    async fn round(&self, with_coupon: bool, duration: Duration) -> Load {
        // Without a coupon, the round settles for the members the next round with one will, so both touch the same
        // rows.
        let turn = AtomicUsize::new(self.spent.load(Ordering::Relaxed));
        let url = self.api.url("/api/staff/v1/bills");
        let (client, cashier, bill, pairs, spent, turn, url) =
            (self.api.client, self.cashier, self.bill, self.pairs, self.spent, &turn, &url);
        let settle = move || async move {
            let (member_id, coupon_id) = if with_coupon {
                match pairs.get(spent.fetch_add(1, Ordering::Relaxed)) {
                    Some(&(member_id, coupon_id)) => (member_id, Some(coupon_id)),
                    None => return Sent::PoolSpent,
                }
            } else {
                let (member_id, _) = pairs[turn.fetch_add(1, Ordering::Relaxed) % pairs.len()];
                (member_id, None)
            };
            let body = bill.settlement(member_id, coupon_id);
            classify(client.post(url.as_str()).bearer_auth(cashier).json(&body).send().await).await
        };
        drive(self.concurrency, duration, settle).await
    }
}

/// Deletes the templates' unused coupons (a used one stays: its bill names it), then vacuums the table: this
/// machine's PostgreSQL runs without autovacuum, and a million dead rows would slow every later scan of it.
async fn remove_unused_coupons(db: &DatabaseConnection, templates: &[i64]) -> anyhow::Result<u64> {
    let ids: Vec<String> = templates.iter().map(i64::to_string).collect();
    let removed = db
        .execute_unprepared(&format!(
            "DELETE FROM member_coupons WHERE template_id IN ({}) AND status <> 'used'",
            ids.join(",")
        ))
        .await?
        .rows_affected();
    db.execute_unprepared("VACUUM (ANALYZE) member_coupons").await?;
    Ok(removed)
}

/// Deletes the unused coupons a run stopped half way left on the bench's templates (known by their names), which
/// would otherwise make every later run slower by a million rows or two.
async fn sweep_leftovers(db: &DatabaseConnection, merchant_id: i64) -> anyhow::Result<u64> {
    let removed = db
        .execute_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            "DELETE FROM member_coupons WHERE status <> 'used' AND template_id IN \
             (SELECT id FROM coupon_templates WHERE merchant_id = $1 AND name IN ($2, $3, $4))",
            [merchant_id.into(), DROP_TEMPLATE.into(), CEILING_TEMPLATE.into(), CLAIM_TEMPLATE.into()],
        ))
        .await?
        .rows_affected();
    if removed > 0 {
        db.execute_unprepared("VACUUM (ANALYZE) member_coupons").await?;
    }
    Ok(removed)
}

/// What one request came to.
enum Sent {
    /// 201, as hoped.
    Done,
    /// 409 `coupon_limit_reached`: the member holds as many as one may (counted apart from errors).
    AtLimit,
    /// Every coupon of the pool is spent: the worker stops.
    PoolSpent,
    Failed(String),
}

async fn classify(answer: reqwest::Result<reqwest::Response>) -> Sent {
    let answer = match answer {
        Ok(answer) => answer,
        Err(error) => return Sent::Failed(error.to_string()),
    };
    let status = answer.status();
    if status == StatusCode::CREATED {
        let _ = answer.bytes().await;
        return Sent::Done;
    }
    let text = answer.text().await.unwrap_or_default();
    let code = serde_json::from_str::<Value>(&text).ok().and_then(|body| body["code"].as_str().map(str::to_owned));
    if status == StatusCode::CONFLICT && code.as_deref() == Some("coupon_limit_reached") {
        Sent::AtLimit
    } else {
        Sent::Failed(format!("{status} {text}"))
    }
}

/// What the workers of one load found.
struct Load {
    seconds: f64,
    /// Of the requests answered 201, sorted.
    latencies: Vec<Duration>,
    at_limit: usize,
    errors: usize,
    pool_spent: bool,
}

impl Load {
    #[expect(clippy::as_conversions, reason = "statistics over counts and durations, not money")]
    fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.seconds
    }

    fn p50(&self) -> f64 {
        percentile_ms(&self.latencies, 0.50)
    }

    fn p99(&self) -> f64 {
        percentile_ms(&self.latencies, 0.99)
    }
}

/// `concurrency` workers each send one request after another until `duration` is up (or the pool is spent);
/// the first failure is printed, the rest counted.
async fn drive<F, Fut>(concurrency: usize, duration: Duration, send: F) -> Load
where
    F: Fn() -> Fut,
    Fut: Future<Output = Sent>,
{
    let started = Instant::now();
    let deadline = started + duration;
    let reported = AtomicBool::new(false);
    let workers = (0..concurrency).map(|_| {
        let (send, reported) = (&send, &reported);
        async move {
            let mut tally = Load { seconds: 0.0, latencies: Vec::new(), at_limit: 0, errors: 0, pool_spent: false };
            while Instant::now() < deadline {
                let sent = Instant::now();
                match send().await {
                    Sent::Done => tally.latencies.push(sent.elapsed()),
                    Sent::AtLimit => tally.at_limit += 1,
                    Sent::PoolSpent => {
                        tally.pool_spent = true;
                        break;
                    }
                    Sent::Failed(why) => {
                        if !reported.swap(true, Ordering::Relaxed) {
                            eprintln!("first error: {why}");
                        }
                        tally.errors += 1;
                    }
                }
            }
            tally
        }
    });
    let tallies = futures_util::future::join_all(workers).await;
    let mut load = Load {
        seconds: started.elapsed().as_secs_f64(),
        latencies: Vec::new(),
        at_limit: 0,
        errors: 0,
        pool_spent: false,
    };
    for tally in tallies {
        load.latencies.extend(tally.latencies);
        load.at_limit += tally.at_limit;
        load.errors += tally.errors;
        load.pool_spent |= tally.pool_spent;
    }
    load.latencies.sort_unstable();
    load
}
