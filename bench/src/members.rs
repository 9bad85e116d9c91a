//! `cargo run --release -p bench -- members`: member look-up at the desk, at scale.
//!
//! 1. Fills a PostgreSQL database with the demo merchant and N members (default 1,000,000), sealed and blind-indexed
//!    exactly as the api writes them.
//! 2. Starts the release `api` binary against it and signs in as the demo cashier.
//! 3. Drives `POST /api/staff/v1/members/lookup` at C concurrent clients (default 16) for D seconds, first by phone
//!    number, then by member code, and prints requests/s, p50, p99, the api's CPU per look-up and its memory.
//!    With `--against`, a second build takes turns with the first, `--rounds` times each, and the means are
//!    printed side by side.
//! 4. Runs `pgbench -S` (select-only) with the same client count on the same database as the yardstick, and prints
//!    the ratio.
//! 5. The same look-up on the embedded default: a fresh SQLite database with as many members.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use rand::Rng;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::json;

use service::domain::{MemberCode, MemberCodeClaims};
use service::foundation::vault::Vault;

use crate::{
    CASHIER_PASSWORD, cpu_of, cpu_of_all, cpu_of_children, ensure_members, first_member_id, free_port, memory_of,
    phone, run_pgbench, security, seeded_database, sign_in, spawn_api, wait_ready,
};

pub struct Options<'a> {
    pub server: &'a str,
    pub database: &'a str,
    pub members: u64,
    pub concurrency: usize,
    pub duration: Duration,
    pub api: &'a PathBuf,
    pub phases: &'a [String],
    pub against: Option<(&'a PathBuf, usize)>,
}

pub async fn bench_members(options: Options<'_>) -> anyhow::Result<()> {
    let runs = |phase: &str| options.phases.iter().any(|p| p == phase);
    let mut rates = Vec::new();
    if runs("postgres") || runs("pgbench") {
        let (ctx, url, merchant_id) =
            seeded_database(options.api, options.server, options.database, options.members).await?;
        ctx.db.execute_unprepared("ANALYZE").await?;
        println!("database: {} members ({})", options.members, options.database);
        if runs("postgres") {
            let queries = Queries::of(&ctx.db, merchant_id, options.members).await?;
            rates = match options.against {
                None => measure(&options, options.api, &url, &queries, 32).await?,
                Some((other, rounds)) => compare(&options, other, rounds, &url, &queries).await?,
            };
        }
        if runs("pgbench") {
            let (database, client) = (cpu_of_all("postgres"), cpu_of_children()?);
            let pgbench = run_pgbench(&url, &["-S"], options.concurrency, options.duration).await?;
            let per = |used: Duration| used.as_secs_f64() * 1e6 / (pgbench * options.duration.as_secs_f64()).max(1.0);
            println!(
                "pgbench -S ({} clients): {pgbench:.0} tps   CPU per transaction: database {:.0} µs, pgbench {:.0} µs",
                options.concurrency,
                per(cpu_of_all("postgres").saturating_sub(database)),
                per(cpu_of_children()?.saturating_sub(client)),
            );
            for (api, name, rate) in &rates {
                println!("ratio {name:<24} {:.2} of pgbench -S ({})", rate / pgbench, api.display());
            }
        }
        ctx.db.close_by_ref().await?;
    }
    if runs("sqlite") {
        // The embedded default, from scratch, with as many members.
        let dir = std::env::temp_dir().join(format!("hy-bench-{:x}", rand::random::<u32>()));
        let url = format!("sqlite://{}?mode=rwc", dir.join("huiyuan.db").display());
        let ctx = crate::bills::context(&url).await?;
        let seed = service::demo::seed(&ctx, &|_| CASHIER_PASSWORD.to_owned()).await?.context("fresh SQLite seeded")?;
        ensure_members(&ctx.db, seed.merchant_id, options.members).await?;
        let queries = Queries::of(&ctx.db, seed.merchant_id, options.members).await?;
        ctx.db.close_by_ref().await?;
        println!("embedded default (SQLite, {} members):", options.members);
        measure(&options, options.api, &url, &queries, 1).await?;
        std::fs::remove_dir_all(&dir).ok();
    }
    Ok(())
}

/// What the clients type and scan: phone numbers and fresh member codes of generated members.
struct Queries {
    members: u64,
    first_id: i64,
    vault: Vault,
}

impl Queries {
    async fn of(db: &DatabaseConnection, merchant_id: i64, members: u64) -> anyhow::Result<Self> {
        let vault = Vault::from_settings(&security()).map_err(anyhow::Error::msg)?;
        Ok(Self { members, first_id: first_member_id(db, merchant_id).await?, vault })
    }

    fn make(&self, kind: Kind) -> String {
        let i = rand::thread_rng().gen_range(0..self.members);
        match kind {
            Kind::Phone => phone(i),
            Kind::Code => {
                // The member ids are dense from the first generated one.
                let member_id = self.first_id + i64::try_from(i).unwrap_or(0);
                let expires_at = chrono::Utc::now().timestamp() + 60;
                MemberCode::issue(self.vault.member_code_key(), MemberCodeClaims { member_id, expires_at })
                    .map(|c| c.as_str().to_owned())
                    .unwrap_or_default()
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Phone,
    Code,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Phone => "look-up by phone",
            Kind::Code => "look-up by member code",
        }
    }
}

struct Measured {
    rate: f64,
    p50_ms: f64,
    p99_ms: f64,
    cpu_us: f64,
}

/// Starts `api` on `url`, measures both kinds of look-up and prints them; returns each kind's rate.
async fn measure<'p>(
    options: &Options<'_>,
    api: &'p Path,
    url: &str,
    queries: &Queries,
    max_connections: u32,
) -> anyhow::Result<Vec<(&'p Path, &'static str, f64)>> {
    let measured = run(options, api, url, queries, max_connections).await?;
    Ok(measured.into_iter().map(|(kind, m)| (api, kind.name(), m.rate)).collect())
}

async fn run(
    options: &Options<'_>,
    api: &Path,
    url: &str,
    queries: &Queries,
    max_connections: u32,
) -> anyhow::Result<Vec<(Kind, Measured)>> {
    let port = free_port()?;
    let mut child = spawn_api(&api.to_path_buf(), url, port, max_connections)?;
    let pid = child.id().context("api pid")?;
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::builder().pool_max_idle_per_host(options.concurrency).build()?;
    wait_ready(&client, &base).await?;
    let token = sign_in(&client, &base).await?;
    let mut results = Vec::new();
    for kind in [Kind::Phone, Kind::Code] {
        // A short warm-up fills caches and connection pools before measuring.
        load(&client, &base, &token, queries, kind, options.concurrency, Duration::from_secs(2)).await?;
        // Where the machine's CPU goes per look-up: the api, the database's backends, and this client.
        let before = (cpu_of(pid)?, cpu_of_all("postgres"), cpu_of(std::process::id())?);
        let (measured, requests, errors) =
            load(&client, &base, &token, queries, kind, options.concurrency, options.duration).await?;
        let after = (cpu_of(pid)?, cpu_of_all("postgres"), cpu_of(std::process::id())?);
        #[expect(clippy::as_conversions, reason = "statistics over counts and durations, not money")]
        let per = |used: Duration| used.as_secs_f64() * 1e6 / requests.max(1) as f64;
        let measured = Measured { cpu_us: per(after.0.saturating_sub(before.0)), ..measured };
        println!(
            "{:<24} {:>9.0} req/s   p50 {:>6.2} ms   p99 {:>6.2} ms   ({requests} requests, {errors} errors)",
            kind.name(),
            measured.rate,
            measured.p50_ms,
            measured.p99_ms,
        );
        println!(
            "{:<24} CPU per look-up: api {:.0} µs, database {:.0} µs, bench client {:.0} µs",
            "",
            measured.cpu_us,
            per(after.1.saturating_sub(before.1)),
            per(after.2.saturating_sub(before.2)),
        );
        results.push((kind, measured));
    }
    let (rss, hwm) = memory_of(pid)?;
    println!("api memory: {} MiB resident, {} MiB peak", rss / 1024, hwm / 1024);
    child.kill().await.ok();
    Ok(results)
}

/// Both builds in turns, `rounds` each, on the same database: single runs drift with what the machine does
/// beside them, so only runs side by side compare. Returns each build's mean rate of each kind.
#[expect(clippy::as_conversions, reason = "statistics over counts, not money")]
async fn compare<'p>(
    options: &Options<'p>,
    other: &'p PathBuf,
    rounds: usize,
    url: &str,
    queries: &Queries,
) -> anyhow::Result<Vec<(&'p Path, &'static str, f64)>> {
    let builds = [options.api, other];
    let mut runs: [Vec<Vec<(Kind, Measured)>>; 2] = [Vec::new(), Vec::new()];
    for round in 0..rounds.max(1) {
        for (k, api) in builds.iter().enumerate() {
            println!("round {} of {}, {}:", round + 1, rounds.max(1), api.display());
            runs[k].push(run(options, api, url, queries, 32).await?);
        }
    }
    let mut rates = Vec::new();
    for (index, kind) in [Kind::Phone, Kind::Code].into_iter().enumerate() {
        let mean = |of: &[Vec<(Kind, Measured)>], pick: fn(&Measured) -> f64| {
            of.iter().map(|run| pick(&run[index].1)).sum::<f64>() / of.len() as f64
        };
        for (api, of) in builds.iter().zip(&runs) {
            println!(
                "{:<24} mean of {} runs, {}: {:>7.0} req/s   p50 {:>6.2} ms   p99 {:>6.2} ms   api CPU {:>5.0} µs/req",
                kind.name(),
                of.len(),
                api.display(),
                mean(of, |m| m.rate),
                mean(of, |m| m.p50_ms),
                mean(of, |m| m.p99_ms),
                mean(of, |m| m.cpu_us),
            );
        }
        let (first, second) = (mean(&runs[0], |m| m.rate), mean(&runs[1], |m| m.rate));
        println!(
            "{:<24} {} against {}: {:+.1}% req/s",
            kind.name(),
            other.display(),
            options.api.display(),
            (second / first - 1.0) * 100.0
        );
        rates.push((options.api.as_path(), kind.name(), first));
        rates.push((other.as_path(), kind.name(), second));
    }
    Ok(rates)
}

/// `concurrency` clients looking members up for `duration`: (rate, p50, p99), requests answered, errors.
#[expect(clippy::as_conversions, reason = "statistics over counts and durations, not money")]
async fn load(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    queries: &Queries,
    kind: Kind,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<(Measured, usize, usize)> {
    let url = format!("{base}/api/staff/v1/members/lookup");
    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let workers = (0..concurrency).map(|_| {
        let (client, url, token) = (client.clone(), url.clone(), token.to_owned());
        async move {
            let mut latencies = Vec::new();
            let mut errors = 0usize;
            while Instant::now() < deadline {
                let query = queries.make(kind);
                let sent = Instant::now();
                let response = client.post(&url).bearer_auth(&token).json(&json!({ "query": query })).send().await;
                crate::tally(response, |status| status.is_success(), sent, &mut latencies, &mut errors).await;
            }
            (latencies, errors)
        }
    });
    let outcomes = futures_util::future::join_all(workers).await;
    let elapsed = started.elapsed().as_secs_f64();
    let errors = outcomes.iter().map(|(_, e)| e).sum();
    let mut all: Vec<Duration> = outcomes.into_iter().flat_map(|(l, _)| l).collect();
    all.sort_unstable();
    let pick = |q: f64| crate::percentile_ms(&all, q);
    let measured = Measured { rate: all.len() as f64 / elapsed, p50_ms: pick(0.50), p99_ms: pick(0.99), cpu_us: 0.0 };
    Ok((measured, all.len(), errors))
}
