//! Named, idempotent scheduled jobs and the scheduler that runs each tick once across all processes.
//!
//! - A [`Job`] has a name, a cron schedule (the `cron` crate: seconds first) evaluated in a time zone, and an
//!   idempotent body that reports what it did.
//! - [`Scheduler::tick`] finds, for each job, the latest scheduled time at or before now that has not run: after
//!   downtime a missed tick runs **once**, not once per missed period. It claims that tick by inserting its
//!   `job_runs` row (unique on job and tick): whichever process inserts it runs it, every other one finds it taken.
//!   With Redis configured, a lease on the tick is taken first, so processes do not even race for the row.
//! - A failed run is retried with backoff (`retrying`, with its next attempt time) up to [`MAX_ATTEMPTS`], then
//!   left `failed`. Every run is history: start, end, outcome, counts, error.
//! - A [`ZonedJob`] runs in each time zone the stores are in, as `name@Zone` (`bookings.close_day@Asia/Shanghai`),
//!   so "03:00" is 03:00 where the store is. The zones are re-read every minute: a store opened in a new zone gets
//!   its jobs without a restart.
//! - The api hosts a scheduler in the embedded default (`jobs.in_process`); at scale, `jobs` processes do.

use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use entity::job_runs;
use service::AppContext;

/// Runs of one tick: the first and up to this many retries in all.
pub const MAX_ATTEMPTS: i32 = 4;

/// What a job run did, as it reports it (shown in the run history).
pub type Counts = serde_json::Value;

type JobFuture = Pin<Box<dyn Future<Output = anyhow::Result<Counts>> + Send>>;
type JobBody = Arc<dyn Fn(AppContext, DateTime<Utc>) -> JobFuture + Send + Sync>;
type ZonedBody = Arc<dyn Fn(AppContext, DateTime<Utc>, chrono_tz::Tz) -> JobFuture + Send + Sync>;

/// A named job. Its body gets the context and the tick it runs for, and must be idempotent.
#[derive(Clone)]
pub struct Job {
    pub name: String,
    pub schedule: cron::Schedule,
    pub timezone: chrono_tz::Tz,
    body: JobBody,
}

impl Job {
    /// `schedule` is a cron expression with seconds: `"0 */5 * * * *"` is every five minutes.
    pub fn new<F, Fut>(
        name: impl Into<String>,
        schedule: &str,
        timezone: chrono_tz::Tz,
        body: F,
    ) -> anyhow::Result<Self>
    where
        F: Fn(AppContext, DateTime<Utc>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<Counts>> + Send + 'static,
    {
        let name = name.into();
        let schedule = cron::Schedule::from_str(schedule).map_err(|e| anyhow::anyhow!("job {name}: {e}"))?;
        Ok(Self { name, schedule, timezone, body: Arc::new(move |ctx, tick| Box::pin(body(ctx, tick))) })
    }

    /// The latest scheduled time in `(after, now]`, if any: the one tick to run after any downtime.
    pub fn due(&self, after: DateTime<Utc>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let start = after.with_timezone(&self.timezone);
        self.schedule.after(&start).take_while(|t| t.with_timezone(&Utc) <= now).last().map(|t| t.with_timezone(&Utc))
    }
}

/// A job that runs in every store time zone; its body also gets the zone.
#[derive(Clone)]
pub struct ZonedJob {
    pub name: &'static str,
    pub schedule: cron::Schedule,
    body: ZonedBody,
}

impl ZonedJob {
    pub fn new<F, Fut>(name: &'static str, schedule: &str, body: F) -> anyhow::Result<Self>
    where
        F: Fn(AppContext, DateTime<Utc>, chrono_tz::Tz) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<Counts>> + Send + 'static,
    {
        let schedule = cron::Schedule::from_str(schedule).map_err(|e| anyhow::anyhow!("job {name}: {e}"))?;
        Ok(Self { name, schedule, body: Arc::new(move |ctx, tick, zone| Box::pin(body(ctx, tick, zone))) })
    }

    /// The job in one zone, named `name@Zone`.
    pub fn in_zone(&self, zone: chrono_tz::Tz) -> Job {
        let body = self.body.clone();
        Job {
            name: format!("{}@{}", self.name, zone.name()),
            schedule: self.schedule.clone(),
            timezone: zone,
            body: Arc::new(move |ctx, tick| body(ctx, tick, zone)),
        }
    }
}

/// The scheduler with every job the product runs.
pub fn standard_scheduler(ctx: AppContext) -> anyhow::Result<Scheduler> {
    Ok(Scheduler::new(ctx, standard_jobs()?).with_zoned(zoned_jobs()?))
}

/// The jobs that run in each store time zone.
pub fn zoned_jobs() -> anyhow::Result<Vec<ZonedJob>> {
    Ok(vec![
        // After midnight, live bookings of the day that ended are no-shows (counted against the member).
        ZonedJob::new("bookings.close_day", "0 0 3 * * *", |ctx, tick, zone| async move {
            let today = tick.with_timezone(&zone).date_naive();
            let day = today.pred_opt().unwrap_or(today);
            let (stores, no_shows) = service::booking::arrivals::close_day_in_zone(&ctx, zone.name(), day).await?;
            Ok(serde_json::json!({ "day": day.to_string(), "stores": stores, "no_shows": no_shows }))
        })?,
        // After midnight, points past their expiry are written off, so the morning's points liability is true.
        ZonedJob::new("points.expire", "0 10 0 * * *", |ctx, tick, zone| async move {
            let expired = service::loyalty::points::expire_in_zone(&ctx, zone.name(), tick).await?;
            Ok(serde_json::json!({ "members": expired.members, "points": expired.points }))
        })?,
        // In the morning, members who asked to hear of points about to expire hear of it, once per expiry day.
        ZonedJob::new("points.notify_expiring", "0 0 10 * * *", |ctx, tick, zone| async move {
            let done = service::loyalty::expiry_notice::notify_in_zone(&ctx, zone.name(), tick).await?;
            Ok(serde_json::json!({ "queued": done.queued, "refused": done.refused }))
        })?,
        // In the morning, birthday coupons for the members whose birthday is near (once a year each).
        ZonedJob::new("coupons.birthday", "0 0 9 * * *", |ctx, tick, zone| async move {
            let run = service::coupons::issue::birthdays_in_zone(&ctx, zone.name(), tick).await?;
            Ok(serde_json::json!({ "members": run.members, "issued": run.issued }))
        })?,
        // In the morning, today's run of every active automation; `campaigns.run` carries them out.
        ZonedJob::new("marketing.automations", "0 0 9 * * *", |ctx, tick, zone| async move {
            let started = service::marketing::automations::start_in_zone(&ctx, zone.name(), tick).await?;
            Ok(serde_json::json!({ "runs": started.runs, "already": started.already }))
        })?,
        // Then value left on expired cards, by each merchant's breakage policy.
        ZonedJob::new("cards.recognise_breakage", "0 20 0 * * *", |ctx, tick, zone| async move {
            let done = service::cards::breakage::recognise_in_zone(&ctx, zone.name(), tick).await?;
            Ok(serde_json::json!({
                "stored_value_cards": done.stored_value_cards, "count_cards": done.count_cards, "fen": done.fen,
            }))
        })?,
    ])
}

/// The jobs the product runs.
pub fn standard_jobs() -> anyhow::Result<Vec<Job>> {
    let china = chrono_tz::Asia::Shanghai;
    Ok(vec![
        Job::new("payments.sweep_pending", "*/30 * * * * *", china, |ctx, _| async move {
            let counts = service::payments::sweep_pending(&ctx).await?;
            Ok(serde_json::json!({
                "checked": counts.checked, "paid": counts.paid, "closed": counts.closed,
                "errors": counts.errors, "refunds": counts.refunds,
            }))
        })?,
        // Bills are ready after 10:00 China time the next day.
        Job::new("payments.reconcile_daily", "0 30 10 * * *", china, |ctx, tick| async move {
            let today = tick.with_timezone(&chrono_tz::Asia::Shanghai).date_naive();
            let day = today.pred_opt().unwrap_or(today);
            let done = service::payments::reconcile::reconcile_day(&ctx, day).await?;
            let failed = done.iter().filter(|d| d.outcome.is_err()).count();
            let exceptions: usize = done.iter().filter_map(|d| d.outcome.as_ref().ok()).map(|c| c.exceptions).sum();
            if failed > 0 {
                anyhow::bail!("{failed} of {} reconciliations failed", done.len());
            }
            Ok(serde_json::json!({ "day": day.to_string(), "reconciled": done.len(), "exceptions": exceptions }))
        })?,
        // Reminders fall due to the minute; the outbox makes a crash neither lose nor repeat one.
        Job::new("reminders.send", "0 * * * * *", china, |ctx, tick| async move {
            let decided = service::booking::reminders::enqueue_due(&ctx, tick).await?;
            let delivered = service::notifications::outbox::deliver_due(&ctx, ctx.now(), 500).await?;
            Ok(serde_json::json!({
                "queued": decided.queued, "skipped": decided.skipped, "refused": decided.failed,
                "sent": delivered.sent, "logged": delivered.logged, "failed": delivered.failed, "retrying": delivered.retrying,
            }))
        })?,
        // Campaigns run at their minute; a run that died is taken over when its claim lapses.
        Job::new("campaigns.run", "30 * * * * *", china, |ctx, tick| async move {
            let runs = service::marketing::campaigns::run_due(&ctx, tick.max(ctx.now())).await?;
            Ok(serde_json::json!({
                "campaigns": runs.campaigns, "members": runs.members, "coupons": runs.coupons, "messages": runs.messages,
            }))
        })?,
        // Campaigns' results brought forward to a few minutes ago, so a report reads a few rows; a long catch-up
        // (a campaign of a million members) goes on at the next run rather than hold the other jobs.
        Job::new("campaigns.results", "10 */2 * * * *", china, |ctx, tick| async move {
            let budget = std::time::Duration::from_secs(20);
            let steps =
                service::marketing::roi::results::bring_all_up_to_date(&ctx, tick.max(ctx.now()), budget).await?;
            Ok(serde_json::json!({ "steps": steps }))
        })?,
        // Marketing messages: decided against consent, the weekly cap and the sending hours, then sent; answers lost
        // are looked up before any retry, so no member gets one twice.
        Job::new("marketing.dispatch", "45 * * * * *", china, |ctx, tick| async move {
            let done = service::marketing::sends::dispatch_due(&ctx, tick.max(ctx.now())).await?;
            Ok(serde_json::json!({
                "sent": done.sent, "skipped": done.skipped, "held": done.held, "failed": done.failed,
                "unknown": done.unknown, "resolved": done.resolved,
            }))
        })?,
        // Delivery receipts and opt-out replies from the SMS providers that keep them for pulling (Tencent).
        Job::new("marketing.sms_receipts", "15 */2 * * * *", china, |ctx, tick| async move {
            Ok(service::marketing::sends::pull_due(&ctx, tick.max(ctx.now())).await?)
        })?,
        // A member code is spent once; once it has expired, the record of its use can go.
        Job::new("members.forget_spent_codes", "0 17 * * * *", china, |ctx, _| async move {
            let forgotten = service::members::code::forget_expired_uses(&ctx).await?;
            Ok(serde_json::json!({ "forgotten": forgotten }))
        })?,
        // The yearly level review (复审) of merchants whose levels go down by the `annual` policy.
        Job::new("levels.review_yearly", "0 0 2 1 1 *", china, |ctx, _| async move {
            let (merchants, review) = service::loyalty::levels::review_all(&ctx).await?;
            Ok(serde_json::json!({
                "merchants": merchants, "members_reviewed": review.members_reviewed, "moved_down": review.moved_down,
            }))
        })?,
        Job::new("payments.refresh_certificates", "0 0 4 * * *", china, |ctx, _| async move {
            let added = service::payments::credentials::refresh_all_certificates(&ctx).await?;
            Ok(serde_json::json!({ "certificates_added": added }))
        })?,
    ])
}

/// One scheduling process.
pub struct Scheduler {
    ctx: AppContext,
    jobs: Vec<Job>,
    zoned: Vec<ZonedJob>,
    /// The stores' zones as last read, and when: re-read once a minute, not on every one-second pass.
    zones: std::sync::Mutex<Option<(std::time::Instant, Vec<chrono_tz::Tz>)>>,
    /// Who claims ticks: host and process, for the history.
    holder: String,
    /// Ticks before this are not caught up on a job's very first run.
    started: DateTime<Utc>,
}

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Pass {
    pub ran: Vec<String>,
    pub retried: Vec<String>,
}

impl Scheduler {
    pub fn new(ctx: AppContext, jobs: Vec<Job>) -> Self {
        let holder = format!("{}:{}", std::env::var("HOSTNAME").unwrap_or_else(|_| "local".into()), std::process::id());
        Self { ctx, jobs, zoned: Vec::new(), zones: std::sync::Mutex::new(None), holder, started: Utc::now() }
    }

    pub fn with_zoned(mut self, zoned: Vec<ZonedJob>) -> Self {
        self.zoned = zoned;
        self
    }

    pub fn with_holder(mut self, holder: impl Into<String>) -> Self {
        self.holder = holder.into();
        self
    }

    /// Every job as of now: the plain ones, and each zoned one in every zone the stores are in.
    pub async fn jobs(&self) -> anyhow::Result<Vec<Job>> {
        let mut jobs = self.jobs.clone();
        if !self.zoned.is_empty() {
            for zone in self.store_zones().await? {
                jobs.extend(self.zoned.iter().map(|z| z.in_zone(zone)));
            }
        }
        Ok(jobs)
    }

    async fn store_zones(&self) -> anyhow::Result<Vec<chrono_tz::Tz>> {
        let cached = self.zones.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some((read, zones)) = cached
            && read.elapsed() < Duration::from_secs(60)
        {
            return Ok(zones);
        }
        // Store zones are validated when written; an unknown one would have no local day to run in.
        let zones: Vec<chrono_tz::Tz> = service::booking::bookings::store_zones(&self.ctx.db)
            .await?
            .into_iter()
            .filter_map(|zone| zone.parse().ok())
            .collect();
        *self.zones.lock().unwrap_or_else(|p| p.into_inner()) = Some((std::time::Instant::now(), zones.clone()));
        Ok(zones)
    }

    /// Runs forever: a pass every second.
    pub async fn run(self) {
        self.run_until(std::future::pending()).await
    }

    /// A pass every second until `shutdown` resolves. A pass under way is never cut short: a job stopped halfway
    /// would leave its run `running` and its tick unfinished until a later process retried it.
    pub async fn run_until(self, shutdown: impl std::future::Future<Output = ()>) {
        let mut interval = tokio::time::interval(Duration::from_secs(1));
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                _ = interval.tick() => {}
            }
            if let Err(error) = self.tick(Utc::now()).await {
                tracing::warn!(%error, "scheduler pass failed");
            }
        }
        tracing::info!("scheduler stopped");
    }

    /// One pass at `now`: each job's due tick, claimed and run; retries that are due.
    pub async fn tick(&self, now: DateTime<Utc>) -> anyhow::Result<Pass> {
        let mut pass = Pass::default();
        let jobs = self.jobs().await?;
        for job in &jobs {
            let last = job_runs::Entity::find()
                .filter(job_runs::Column::Job.eq(&job.name))
                .order_by_desc(job_runs::Column::TickAt)
                .one(&self.ctx.db)
                .await?
                .map(|run| run.tick_at);
            let after = last.unwrap_or(self.started - chrono::Duration::seconds(1));
            let Some(due) = job.due(after, now) else { continue };
            if self.claim(job, due, now).await? {
                self.execute(job, due, 1, now).await?;
                pass.ran.push(job.name.clone());
            }
        }
        for run in job_runs::Entity::find()
            .filter(job_runs::Column::Status.eq("retrying"))
            .filter(job_runs::Column::NextAttemptAt.lte(now))
            .limit(20)
            .all(&self.ctx.db)
            .await?
        {
            let Some(job) = jobs.iter().find(|j| j.name == run.job) else { continue };
            // Guarded: one process takes the retry.
            let taken = job_runs::Entity::update_many()
                .col_expr(job_runs::Column::Status, Expr::value("running"))
                .col_expr(job_runs::Column::Attempt, Expr::value(run.attempt + 1))
                .col_expr(job_runs::Column::Holder, Expr::value(self.holder.clone()))
                .filter(job_runs::Column::Id.eq(run.id))
                .filter(job_runs::Column::Status.eq("retrying"))
                .exec(&self.ctx.db)
                .await?;
            if taken.rows_affected == 1 {
                self.execute(job, run.tick_at, run.attempt + 1, now).await?;
                pass.retried.push(job.name.clone());
            }
        }
        Ok(pass)
    }

    /// Claims a tick: a Redis lease first when Redis is configured, then the unique run row.
    async fn claim(&self, job: &Job, tick: DateTime<Utc>, now: DateTime<Utc>) -> anyhow::Result<bool> {
        if self.ctx.shared.backend() == "redis" {
            let key = format!("job:{}:{}", job.name, tick.timestamp());
            if !self.ctx.shared.acquire_lease(&key, &self.holder, Duration::from_secs(600)).await? {
                return Ok(false);
            }
        }
        let inserted = job_runs::ActiveModel {
            job: Set(job.name.clone()),
            tick_at: Set(tick),
            status: Set("running".to_owned()),
            attempt: Set(1),
            holder: Set(self.holder.clone()),
            started_at: Set(now),
            finished_at: Set(None),
            next_attempt_at: Set(None),
            counts: Set("{}".to_owned()),
            error: Set(None),
            ..Default::default()
        }
        .insert(&self.ctx.db)
        .await;
        match inserted {
            Ok(_) => Ok(true),
            Err(e) if matches!(e.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_))) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Runs the job for `tick` and records the outcome on its run row.
    /// `now` is the pass's time: a retry's backoff counts from it.
    async fn execute(&self, job: &Job, tick: DateTime<Utc>, attempt: i32, now: DateTime<Utc>) -> anyhow::Result<()> {
        let outcome = (job.body)(self.ctx.clone(), tick).await;
        let mut update = job_runs::Entity::update_many()
            .col_expr(job_runs::Column::FinishedAt, Expr::value(Utc::now()))
            .filter(job_runs::Column::Job.eq(&job.name))
            .filter(job_runs::Column::TickAt.eq(tick));
        update = match &outcome {
            Ok(counts) => update
                .col_expr(job_runs::Column::Status, Expr::value("succeeded"))
                .col_expr(job_runs::Column::Counts, Expr::value(counts.to_string()))
                .col_expr(job_runs::Column::Error, Expr::value(Option::<String>::None)),
            Err(error) => {
                tracing::warn!(job = %job.name, attempt, %error, "job run failed");
                let text: String = format!("{error:#}").chars().take(500).collect();
                if attempt < MAX_ATTEMPTS {
                    // 30 s, 2 min, 8 min.
                    let backoff = chrono::Duration::seconds(30 * 4_i64.pow(u32::try_from(attempt - 1).unwrap_or(0)));
                    update
                        .col_expr(job_runs::Column::Status, Expr::value("retrying"))
                        .col_expr(job_runs::Column::NextAttemptAt, Expr::value(now + backoff))
                        .col_expr(job_runs::Column::Error, Expr::value(text))
                } else {
                    update
                        .col_expr(job_runs::Column::Status, Expr::value("failed"))
                        .col_expr(job_runs::Column::Error, Expr::value(text))
                }
            }
        };
        update.exec(&self.ctx.db).await?;
        Ok(())
    }

    /// `jobs run <name>`: runs a job now, outside its schedule, recorded like any run (its tick is now).
    pub async fn run_now(&self, name: &str) -> anyhow::Result<job_runs::Model> {
        let jobs = self.jobs().await?;
        let job = jobs.iter().find(|j| j.name == name).ok_or_else(|| {
            let names: Vec<&str> = jobs.iter().map(|j| j.name.as_str()).collect();
            anyhow::anyhow!("no job named {name}; jobs: {}", names.join(", "))
        })?;
        let now = Utc::now();
        if !self.claim(job, now, now).await? {
            anyhow::bail!("job {name} is already running for this instant");
        }
        self.execute(job, now, 1, now).await?;
        job_runs::Entity::find()
            .filter(job_runs::Column::Job.eq(name))
            .filter(job_runs::Column::TickAt.eq(now))
            .one(&self.ctx.db)
            .await?
            .ok_or_else(|| anyhow::anyhow!("run of {name} not recorded"))
    }
}

/// A run as a merchant's staff see it: when it ran and how it ended. A job serves every merchant at once, so its
/// counts and its error text are about all of them and stay with operators (`jobs list`).
#[derive(Clone, Debug)]
pub struct RunSummary {
    pub job: String,
    pub tick_at: DateTime<Utc>,
    pub status: String,
    pub attempt: i32,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub next_attempt_at: Option<DateTime<Utc>>,
}

impl From<job_runs::Model> for RunSummary {
    fn from(run: job_runs::Model) -> Self {
        Self {
            job: run.job,
            tick_at: run.tick_at,
            status: run.status,
            attempt: run.attempt,
            started_at: run.started_at,
            finished_at: run.finished_at,
            next_attempt_at: run.next_attempt_at,
        }
    }
}

/// The run history for staff who read the audit log.
pub async fn runs_for_staff(
    ctx: &AppContext,
    principal: &service::foundation::principal::StaffPrincipal,
    limit: u64,
) -> service::Result<Vec<RunSummary>> {
    principal.require(service::domain::Permission::AuditRead)?;
    let runs = recent_runs(ctx, limit).await.map_err(service::Error::Internal)?;
    Ok(runs.into_iter().map(RunSummary::from).collect())
}

/// The latest runs, newest first (the history staff and operators see).
pub async fn recent_runs(ctx: &AppContext, limit: u64) -> anyhow::Result<Vec<job_runs::Model>> {
    Ok(job_runs::Entity::find().order_by_desc(job_runs::Column::Id).limit(limit.clamp(1, 500)).all(&ctx.db).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hourly() -> Job {
        Job::new("test.hourly", "0 0 * * * *", chrono_tz::Asia::Shanghai, |_, _| async { Ok(serde_json::json!({})) })
            .unwrap()
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn after_downtime_only_the_latest_missed_tick_is_due() {
        let job = hourly();
        let due = job.due(at("2026-11-24T01:00:00Z"), at("2026-11-24T05:30:00Z"));
        assert_eq!(due, Some(at("2026-11-24T05:00:00Z")));
        assert_eq!(job.due(at("2026-11-24T05:00:00Z"), at("2026-11-24T05:59:59Z")), None, "nothing new");
        assert_eq!(job.due(at("2026-11-24T05:00:00Z"), at("2026-11-24T06:00:00Z")), Some(at("2026-11-24T06:00:00Z")));
    }

    #[test]
    fn schedules_are_evaluated_in_the_job_time_zone() {
        // 10:30 in Shanghai is 02:30 UTC.
        let daily = Job::new("test.daily", "0 30 10 * * *", chrono_tz::Asia::Shanghai, |_, _| async {
            Ok(serde_json::json!({}))
        })
        .unwrap();
        assert_eq!(daily.due(at("2026-11-23T03:00:00Z"), at("2026-11-24T03:00:00Z")), Some(at("2026-11-24T02:30:00Z")));
        // And across a daylight-saving change (New York, 2026-11-01): 10:30 local is 14:30 UTC before, 15:30 after.
        let ny = Job::new("test.ny", "0 30 10 * * *", chrono_tz::America::New_York, |_, _| async {
            Ok(serde_json::json!({}))
        })
        .unwrap();
        assert_eq!(ny.due(at("2026-10-31T00:00:00Z"), at("2026-10-31T23:00:00Z")), Some(at("2026-10-31T14:30:00Z")));
        assert_eq!(ny.due(at("2026-11-01T00:00:00Z"), at("2026-11-01T23:00:00Z")), Some(at("2026-11-01T15:30:00Z")));
    }

    #[test]
    fn bad_schedules_are_refused_naming_the_job() {
        let error = Job::new("test.bad", "every day", chrono_tz::UTC, |_, _| async { Ok(serde_json::json!({})) })
            .err()
            .unwrap();
        assert!(error.to_string().contains("test.bad"));
    }
}
