//! `cargo run --release -p bench -- campaigns`: segments and campaigns at scale, on PostgreSQL.
//!
//! 1. **Segment count**: a rule over a year of bills (at least 5 visits and ￥300 spent) counted through the api's
//!    live preview, against the same `COUNT` statement run straight on the database.
//! 2. **Planning a campaign over every member**: the audience fixed and assigned (SHA-256 buckets, 10% control)
//!    and an in-app message planned per treatment member, by the service's own run; the yardstick is the same two
//!    set-based inserts run straight on the database (with the bucket computed in SQL).
//! 3. **Dispatch** of an SMS campaign to members who said yes, against the sandbox's fake Aliyun in this process
//!    (signatures checked, receipts pushed to the api): messages decided and sent per second, against the same
//!    number of signed `SendSms` calls made straight to the fake, one after another, as the dispatcher makes them.
//!
//! 4. **A campaign's report** over every member, run 100 days ago with a 90-day horizon (about 7,800,000 of the
//!    past bills in it): read through the api from the kept results, against the same report computed from every
//!    bill and ledger line of the horizon (what the kept results replace); and the time the job took to bring the
//!    results forward from nothing.
//!
//! The bench's campaigns are deleted with their rows at the end, so the database serves the next run as it served
//! this one.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use sea_orm::sea_query::{PostgresQueryBuilder, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QuerySelect, QueryTrait};
use serde_json::{Value, json};

use service::marketing::segments::SegmentRule;

use crate::bills::{ensure_past_bills, typical_bill};
use crate::{free_port, memory_of, scalar, seeded_database, sign_in_as, spawn_api, wait_ready};

pub struct Options<'a> {
    pub server: &'a str,
    pub database: &'a str,
    pub members: u64,
    pub bills: u64,
    pub api: &'a PathBuf,
    /// Members who said yes to marketing by SMS, whom the dispatch phase messages.
    pub sms: u64,
    /// Of `segments`, `planning`, `dispatch` and `report`.
    pub phases: Vec<String>,
}

const OWNER: &str = "demo-owner";
const SMS_TAG: &str = "bench-sms";
const SMS_TEMPLATE: (&str, &str) = ("SMS_476500002", "${name}您好，本周头皮护理八折，欢迎预约。回T退订");

pub async fn bench_campaigns(options: Options<'_>) -> anyhow::Result<()> {
    let (ctx, url, merchant_id) =
        seeded_database(options.api, options.server, options.database, options.members).await?;
    let bill = typical_bill(&ctx.db, merchant_id).await?;
    ensure_past_bills(&ctx.db, merchant_id, &bill, options.members, options.bills).await?;
    sweep(&ctx.db, merchant_id).await?;
    ctx.db.execute_unprepared("ANALYZE").await?;

    let port = free_port()?;
    let mut child = spawn_api(options.api, &url, port, 32)?;
    let pid = child.id().context("api pid")?;
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder().timeout(Duration::from_secs(600)).build()?;
    wait_ready(&client, &base).await?;
    let owner = sign_in_as(&client, &base, OWNER).await?;
    let api = Api { client: &client, base: &base, token: &owner };

    let runs = |phase: &str| options.phases.iter().any(|p| p == phase);
    if runs("segments") {
        println!("1. segment count over {} members and their bills:", options.members);
        segment_count(&ctx, &api, merchant_id).await?;
    }
    if runs("planning") {
        println!("2. planning a campaign over every member:");
        planning(&ctx, &api, merchant_id).await?;
    }
    if runs("dispatch") {
        println!("3. dispatching an SMS campaign through the fake Aliyun:");
        dispatch(&url, &api, merchant_id, port, options.sms).await?;
    }

    if runs("report") {
        println!("4. a campaign's report over every member and its horizon's bills:");
        report(&ctx, &api, merchant_id).await?;
    }

    let (rss, hwm) = memory_of(pid)?;
    println!("api memory: {} MiB resident, {} MiB peak", rss / 1024, hwm / 1024);
    child.kill().await.ok();
    sweep(&ctx.db, merchant_id).await?;
    Ok(())
}

struct Api<'a> {
    client: &'a reqwest::Client,
    base: &'a str,
    token: &'a str,
}

impl Api<'_> {
    async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        let answer = self
            .client
            .post(format!("{}/api/staff/v1{path}", self.base))
            .bearer_auth(self.token)
            .json(body)
            .send()
            .await?;
        let status = answer.status();
        let body: Value = answer.json().await?;
        anyhow::ensure!(status.is_success(), "POST {path}: {status} {body}");
        Ok(body)
    }
}

/// The heavy rule: a year's visits and spend, both aggregated over the bills.
fn loyal_rule() -> Value {
    json!({ "combine": "all", "criteria": [
        { "kind": "visits", "days": 365, "min": 5 },
        { "kind": "spend", "days": 365, "min_fen": 30_000 },
    ]})
}

fn best(times: &[Duration]) -> f64 {
    times.iter().map(Duration::as_secs_f64).fold(f64::INFINITY, f64::min) * 1000.0
}

async fn segment_count(ctx: &service::AppContext, api: &Api<'_>, merchant_id: i64) -> anyhow::Result<()> {
    let rule_json = loyal_rule();
    let (mut through_api, mut straight) = (Vec::new(), Vec::new());
    let mut counted = 0;
    for _ in 0..3 {
        let started = Instant::now();
        let preview = api.post("/segments/preview", &json!({ "rule": rule_json })).await?;
        through_api.push(started.elapsed());
        counted = preview["count"].as_i64().unwrap_or(-1);
    }
    let rule: SegmentRule = serde_json::from_value(rule_json)?;
    // The bench's rule names no birthday, the one criterion that reads the merchant's date.
    let now = Utc::now();
    let condition = rule.condition(DbBackend::Postgres, merchant_id, now, now.date_naive());
    let statement = entity::members::Entity::find()
        .select_only()
        .column_as(entity::members::Column::Id.count(), "n")
        .filter(condition)
        .build(DbBackend::Postgres);
    let mut database = 0;
    for _ in 0..3 {
        let started = Instant::now();
        let row = ctx.db.query_one_raw(statement.clone()).await?.context("a count")?;
        straight.push(started.elapsed());
        database = row.try_get::<i64>("", "n")?;
    }
    anyhow::ensure!(counted == database, "the api counted {counted}, the database {database}");
    let (a, d) = (best(&through_api), best(&straight));
    println!(
        "   {counted} members; api {a:.0} ms, database {d:.0} ms for the same query (best of 3; ratio {:.2})",
        d / a
    );
    Ok(())
}

async fn planning(ctx: &service::AppContext, api: &Api<'_>, merchant_id: i64) -> anyhow::Result<()> {
    // Everyone who came in the last year: every generated member.
    let rule = json!({ "combine": "all", "criteria": [{ "kind": "visits", "days": 365, "min": 1 }] });
    let segment = api.post("/segments", &json!({ "name": "bench 全部到店会员", "rule": rule })).await?;
    let run_at = Utc::now() + chrono::Duration::days(1);
    let campaign = api
        .post(
            "/campaigns",
            &json!({
                "name": "bench 全员通知", "segment_id": segment["id"], "control_bp": 1000,
                "message_title": "bench", "message_body": "bench 全员站内信", "run_at": run_at,
            }),
        )
        .await?;
    let id = campaign["id"].as_i64().context("campaign id")?;
    let started = Instant::now();
    let runs = service::marketing::campaigns::run_due(ctx, run_at + chrono::Duration::minutes(1))
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let took = started.elapsed();
    anyhow::ensure!(runs.campaigns == 1, "the campaign did not run: {runs:?}");
    let control = scalar(
        &ctx.db,
        "SELECT COUNT(*) AS n FROM campaign_members WHERE campaign_id = $1 AND in_control",
        vec![id.into()],
    )
    .await?;

    // The yardstick: the same rows written by two statements straight on the database.
    let rule: SegmentRule = serde_json::from_value(rule)?;
    let members = Query::select()
        .column(entity::members::Column::Id)
        .from(entity::members::Entity)
        .cond_where(rule.condition(DbBackend::Postgres, merchant_id, run_at, run_at.date_naive()))
        .to_string(PostgresQueryBuilder);
    let ghost = -id;
    let started = Instant::now();
    ctx.db
        .execute_unprepared(&format!(
            "INSERT INTO campaign_members (campaign_id, member_id, bucket, in_control, assigned_at) \
             SELECT {ghost}, m.id, b.bucket, b.bucket < 1000, now() FROM ({members}) m \
             CROSS JOIN LATERAL (SELECT ('x' || substr(encode(sha256(('salt:{ghost}:' || m.id)::bytea), 'hex'), 1, 15))::bit(60)::bigint % 10000 AS bucket) b"
        ))
        .await?;
    ctx.db
        .execute_unprepared(&format!(
            "INSERT INTO marketing_sends (merchant_id, campaign_id, member_id, channel, status, send_key, not_before, \
             attempts, planned_at, updated_at) \
             SELECT {merchant_id}, {ghost}, member_id, 'in_app', 'queued', 'g{id}-' || member_id, now(), 0, now(), now() \
             FROM campaign_members WHERE campaign_id = {ghost} AND NOT in_control"
        ))
        .await?;
    let ceiling = started.elapsed();
    println!(
        "   {} members assigned ({control} in the control group) and {} messages planned in {:.1} s; \
         the database alone {:.1} s (ratio {:.2})",
        runs.members,
        runs.members - u64::try_from(control)?,
        took.as_secs_f64(),
        ceiling.as_secs_f64(),
        ceiling.as_secs_f64() / took.as_secs_f64()
    );
    // Its 900,000 planned messages would be due in the dispatch phase: gone before it.
    sweep(&ctx.db, merchant_id).await
}

async fn dispatch(url: &str, api: &Api<'_>, merchant_id: i64, api_port: u16, sms: u64) -> anyhow::Result<()> {
    let fake = sandbox::FakeProviders::start()?;
    let mut settings = service::foundation::settings::Settings::default();
    settings.database.url = service::foundation::settings::Secret::new(url.to_owned());
    settings.security = crate::security();
    api::sandbox_host::point_at(&mut settings, &fake);
    // The pace is configuration (100/s by default, gentle on a shared account): lifted to measure the machinery.
    settings.marketing.sms_per_second = 100_000;
    let ctx = service::AppContext::build(settings).await?;
    ctx.set_bound_address("127.0.0.1", api_port);
    api::sandbox_host::connect_sms(&ctx, &fake, merchant_id).await?;
    fake.register_sms_account(
        sandbox::SmsProvider::Aliyun,
        api::sandbox_host::DEMO_SMS_KEY_ID,
        api::sandbox_host::DEMO_SMS_SECRET,
        None,
        &[api::sandbox_host::DEMO_SMS_SIGN],
        &[api::sandbox_host::DEMO_SMS_TEMPLATE, SMS_TEMPLATE],
    );
    let db = &ctx.db;
    // The first `sms` generated members said yes at the desk and carry the bench's tag.
    let first = crate::first_member_id(db, merchant_id).await?;
    let last = first + i64::try_from(sms)? - 1;
    db.execute_unprepared(&format!(
        "INSERT INTO marketing_consents (merchant_id, member_id, granted, channel, wording, purpose, given_at) \
         SELECT {merchant_id}, g, true, 'desk', 'bench', 'marketing', now() FROM generate_series({first}, {last}) g \
         WHERE NOT EXISTS (SELECT 1 FROM marketing_consents c WHERE c.member_id = g AND c.wording = 'bench')"
    ))
    .await?;
    db.execute_unprepared(&format!(
        "INSERT INTO member_tags (member_id, tag, merchant_id) SELECT g, '{SMS_TAG}', {merchant_id} \
         FROM generate_series({first}, {last}) g ON CONFLICT DO NOTHING"
    ))
    .await?;
    db.execute_unprepared(&format!(
        "UPDATE merchants SET sms_from_min = 0, sms_until_min = 1440, marketing_weekly_cap = 1000 WHERE id = {merchant_id}"
    ))
    .await?;
    let template = match scalar(db, "SELECT id AS n FROM sms_templates WHERE code = $1", vec![SMS_TEMPLATE.0.into()]).await
    {
        Ok(id) => id,
        Err(_) => api
            .post(
                "/sms/templates",
                &json!({ "name": "bench 护理八折", "code": SMS_TEMPLATE.0, "body": SMS_TEMPLATE.1, "variables": ["name"] }),
            )
            .await?["id"]
            .as_i64()
            .context("template id")?,
    };
    let rule = json!({ "combine": "all", "criteria": [{ "kind": "tags", "tags": [SMS_TAG] }] });
    let segment = api.post("/segments", &json!({ "name": "bench 短信会员", "rule": rule })).await?;
    let run_at = Utc::now() + chrono::Duration::days(1);
    let body = json!({
        "name": "bench 短信", "segment_id": segment["id"], "sms_template_id": template, "control_bp": 0, "run_at": run_at,
    });
    api.post("/campaigns", &body).await?;
    let now = run_at + chrono::Duration::minutes(1);
    service::marketing::campaigns::run_due(&ctx, now).await.map_err(|e| anyhow::anyhow!("{e}"))?;

    let started = Instant::now();
    let mut sent = 0;
    while sent < sms {
        let done = service::marketing::sends::dispatch_due(&ctx, now).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        anyhow::ensure!(done.sent + done.skipped + done.failed > 0, "the dispatcher stalled at {sent}: {done:?}");
        sent += done.sent;
    }
    let took = started.elapsed();
    let delivered = fake.sms_sent().len();

    // The yardstick: the same signed calls, straight to the fake, one after another.
    let account = entity::sms_accounts::Entity::find()
        .filter(entity::sms_accounts::Column::MerchantId.eq(merchant_id))
        .one(db)
        .await?
        .context("the SMS account")?;
    let secret = ctx.vault.open(service::foundation::vault::Field::SmsSecret, &account.secret_sealed)?;
    let account = service::integrations::sms::Account {
        provider: service::integrations::sms::Provider::Aliyun,
        access_key_id: &account.access_key_id,
        secret: &secret,
        app_id: None,
        sign_name: &account.sign_name,
    };
    let phone = service::domain::PhoneNumber::parse("13900000000").map_err(anyhow::Error::msg)?;
    let params = vec![("name".to_owned(), "王女士".to_owned())];
    let calls = sms.min(5_000);
    let started = Instant::now();
    for n in 0..calls {
        let key = format!("bench-ceiling-{n}");
        let message = service::integrations::sms::Message {
            phone: &phone,
            template_code: SMS_TEMPLATE.0,
            params: &params,
            key: &key,
        };
        ctx.sms_providers.send(&account, &message, Utc::now()).await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
    }
    let ceiling = f64::from(u32::try_from(calls)?) / started.elapsed().as_secs_f64();
    let rate = f64::from(u32::try_from(sent)?) / took.as_secs_f64();
    println!(
        "   {sent} SMS decided and sent in {:.1} s: {rate:.0}/s; signed SendSms straight to the fake {ceiling:.0}/s \
         (ratio {:.2}); the fake took {delivered}",
        took.as_secs_f64(),
        rate / ceiling
    );
    fake.wait_for_notifications(Duration::from_secs(60)).await;
    Ok(())
}

async fn report(ctx: &service::AppContext, api: &Api<'_>, merchant_id: i64) -> anyhow::Result<()> {
    let rule = json!({ "combine": "all", "criteria": [{ "kind": "visits", "days": 365, "min": 1 }] });
    let segment = api.post("/segments", &json!({ "name": "bench 效果全员", "rule": rule })).await?;
    let run_at = Utc::now() + chrono::Duration::days(1);
    let campaign = api
        .post(
            "/campaigns",
            &json!({
                "name": "bench 效果报告", "segment_id": segment["id"], "control_bp": 1000, "horizon_days": 90,
                "message_title": "bench", "message_body": "bench 效果报告站内信", "run_at": run_at,
            }),
        )
        .await?;
    let id = campaign["id"].as_i64().context("campaign id")?;
    let runs = service::marketing::campaigns::run_due(ctx, run_at + chrono::Duration::minutes(1))
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    anyhow::ensure!(runs.campaigns == 1, "the campaign did not run: {runs:?}");
    // It ran 100 days ago: its 90 days are among the past bills (one a second, going back from now).
    ctx.db
        .execute_unprepared(&format!(
            "UPDATE campaigns SET started_at = now() - interval '100 days', status = 'done' WHERE id = {id}"
        ))
        .await?;
    let in_horizon = scalar(
        &ctx.db,
        "SELECT COUNT(*) AS n FROM bills WHERE merchant_id = $1 AND settled_at >= now() - interval '100 days' \
         AND settled_at < now() - interval '10 days'",
        vec![merchant_id.into()],
    )
    .await?;
    ctx.db.execute_unprepared("ANALYZE").await?;

    let started = Instant::now();
    let raw = service::marketing::roi::report::campaign_recomputed(ctx, merchant_id, id)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let raw_took = started.elapsed();
    let started = Instant::now();
    let steps = service::marketing::roi::results::bring_all_up_to_date(ctx, Utc::now(), Duration::from_secs(3600))
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let kept_took = started.elapsed();
    let path = format!("{}/api/staff/v1/campaigns/{id}/report", api.base);
    let mut times = Vec::new();
    let mut read = Value::Null;
    for _ in 0..30 {
        let started = Instant::now();
        let answer = api.client.get(&path).bearer_auth(api.token).send().await?;
        anyhow::ensure!(answer.status().is_success(), "GET report: {}", answer.status());
        read = answer.json().await?;
        times.push(started.elapsed());
    }
    times.sort();
    anyhow::ensure!(
        read["treatment"]["bills"].as_u64() == Some(raw.treatment.bills)
            && read["control"]["revenue_fen"].as_i64() == Some(raw.control.revenue_fen),
        "the kept results differ from the recomputed: {read}"
    );
    println!(
        "   {} members ({} in the control group), {in_horizon} bills in the horizon; verdict {}",
        raw.treatment.members + raw.control.members,
        raw.control.members,
        raw.verdict.as_str()
    );
    println!(
        "   the report from the kept results: best {:.1} ms, median {:.1} ms, worst {:.1} ms of {} reads (target 500 ms); \
         computed from every bill and ledger line of the horizon: {:.1} s (ratio {:.0}x)",
        best(&times),
        crate::percentile_ms(&times, 0.5),
        crate::percentile_ms(&times, 1.0),
        times.len(),
        raw_took.as_secs_f64(),
        raw_took.as_secs_f64() * 1000.0 / crate::percentile_ms(&times, 0.5)
    );
    println!("   the job brought the results forward from nothing in {steps} steps, {:.1} s", kept_took.as_secs_f64());
    sweep(&ctx.db, merchant_id).await
}

/// Deletes the bench's campaigns and everything they wrote (an interrupted run's too).
async fn sweep(db: &sea_orm::DatabaseConnection, merchant_id: i64) -> anyhow::Result<()> {
    let ids = format!("SELECT id FROM campaigns WHERE merchant_id = {merchant_id} AND name LIKE 'bench %'");
    for sql in [
        format!(
            "DELETE FROM marketing_sends WHERE campaign_id IN ({ids}) OR campaign_id IN (SELECT -id FROM ({ids}) c)"
        ),
        format!("DELETE FROM member_inbox WHERE campaign_id IN ({ids})"),
        format!("DELETE FROM campaign_results WHERE campaign_id IN ({ids})"),
        format!("DELETE FROM campaign_days WHERE campaign_id IN ({ids})"),
        format!(
            "DELETE FROM campaign_members WHERE campaign_id IN ({ids}) OR campaign_id IN (SELECT -id FROM ({ids}) c)"
        ),
        format!("DELETE FROM campaigns WHERE id IN ({ids})"),
        format!("DELETE FROM segments WHERE merchant_id = {merchant_id} AND name LIKE 'bench %'"),
    ] {
        db.execute_unprepared(&sql).await.with_context(|| sql.clone())?;
    }
    Ok(())
}
