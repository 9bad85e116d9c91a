//! `cargo run --release -p bench -- <mode>`: load benchmarks of the release api, each beside a yardstick measured
//! in the same run. One module per mode: `members.rs` (look-up at the desk), `bills.rs`, `notifications.rs`,
//! `bookings.rs`, `coupons.rs`, `campaigns.rs`, `slots.rs`; what they share is here.

mod bills;
mod bookings;
mod campaigns;
mod ceiling;
mod coupons;
mod members;
mod notifications;
mod slots;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use base64::Engine;
use clap::{Parser, Subcommand};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement, Value};
use serde_json::json;

use service::foundation::settings::{Secret, SecuritySettings};
use service::foundation::vault::{Field, Vault};
use service::members::{NAME_INDEX, PHONE_INDEX};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    bench: Bench,
}

#[derive(Subcommand)]
enum Bench {
    /// Settlement of a typical bill at the desk, against pgbench TPC-B; then the embedded default (SQLite).
    Bills {
        #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432")]
        server: String,
        #[arg(long, default_value = "hy_bench")]
        database: String,
        /// Members to have (generated as by `members` when missing).
        #[arg(long, default_value_t = 1_000_000)]
        members: u64,
        /// Past bills to have in the database before measuring.
        #[arg(long, default_value_t = 10_000_000)]
        bills: u64,
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        /// Concurrent cashiers on the embedded default (SQLite).
        #[arg(long, default_value_t = 4)]
        sqlite_concurrency: usize,
        #[arg(long, default_value_t = 15)]
        seconds: u64,
        #[arg(long, default_value = "target/release/api")]
        api: PathBuf,
        /// The parts to run, of `chain`, `one-store`, `pgbench`, `ceiling` and `sqlite`.
        #[arg(long, value_delimiter = ',', default_value = "chain,one-store,pgbench,ceiling,sqlite")]
        phases: Vec<String>,
        /// A second api build to compare with `--api` in the chain phase: the two take turns on the same database,
        /// `--rounds` times each, and the means are printed side by side.
        #[arg(long)]
        against: Option<PathBuf>,
        /// Turns each build gets when comparing.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
    },
    /// Segments and campaigns on PostgreSQL: a segment's count against the database's own time, planning a
    /// campaign over every member against the same inserts straight on the database, and SMS dispatch against
    /// signed calls straight to the fake provider.
    Campaigns {
        #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432")]
        server: String,
        #[arg(long, default_value = "hy_bench")]
        database: String,
        #[arg(long, default_value_t = 1_000_000)]
        members: u64,
        /// Past bills to have before measuring (as `bills` makes them).
        #[arg(long, default_value_t = 10_000_000)]
        bills: u64,
        /// Members who said yes to SMS, whom the dispatch phase messages.
        #[arg(long, default_value_t = 20_000)]
        sms: u64,
        /// The parts to run, of `segments`, `planning`, `dispatch` and `report`.
        #[arg(long, value_delimiter = ',', default_value = "segments,planning,dispatch,report")]
        phases: Vec<String>,
        #[arg(long, default_value = "target/release/api")]
        api: PathBuf,
    },
    /// Coupons on PostgreSQL: a drop to every member against the database's own rate, claims per second, and
    /// settlement with a coupon against without one.
    Coupons {
        #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432")]
        server: String,
        #[arg(long, default_value = "hy_bench")]
        database: String,
        /// Members to have (generated as by `members` when missing); the drop issues one coupon to each.
        #[arg(long, default_value_t = 1_000_000)]
        members: u64,
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        /// Seconds of load for the claims and for each settlement round.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value = "target/release/api")]
        api: PathBuf,
        /// Settlement rounds of each kind, taking turns: without a coupon, with one, without, with…
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// Members signed in through the sandbox who take turns claiming (each may claim 100).
        #[arg(long, default_value_t = 500)]
        claimers: usize,
        /// Members whose drop coupon the settlement rounds spend, one a bill: enough for every round's bills.
        #[arg(long, default_value_t = 100_000)]
        pool: usize,
    },
    /// WeChat Pay notifications verified, decrypted and applied per second (a fresh database each run).
    Notifications {
        #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432")]
        server: String,
        #[arg(long, default_value = "hy_bench_notify")]
        database: String,
        #[arg(long, default_value_t = 5000)]
        payments: usize,
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        #[arg(long, default_value = "target/release/api")]
        api: PathBuf,
    },
    /// Slot search and booking through the API for a store of 30 staff over 7 days, on PostgreSQL.
    Bookings {
        #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432")]
        server: String,
        #[arg(long, default_value = "hy_bench_bookings")]
        database: String,
        /// Searches per kind of search.
        #[arg(long, default_value_t = 300)]
        searches: usize,
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        /// Seconds of booking load.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value = "target/release/api")]
        api: PathBuf,
    },
    /// Slot search for a store of 30 staff over 7 days (the pure engine; no database).
    Slots {
        #[arg(long, default_value_t = 1000)]
        searches: usize,
    },
    /// Member look-up by phone and by member code, against pgbench -S; then the embedded default (SQLite).
    Members {
        /// PostgreSQL server URL (the database itself is created).
        #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432")]
        server: String,
        #[arg(long, default_value = "hy_bench")]
        database: String,
        #[arg(long, default_value_t = 1_000_000)]
        members: u64,
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        /// Seconds of load per measured phase.
        #[arg(long, default_value_t = 15)]
        seconds: u64,
        /// The api binary (built with `cargo build --release -p api`).
        #[arg(long, default_value = "target/release/api")]
        api: PathBuf,
        /// The parts to run, of `postgres`, `pgbench` and `sqlite`.
        #[arg(long, value_delimiter = ',', default_value = "postgres,pgbench,sqlite")]
        phases: Vec<String>,
        /// A second api build to compare with `--api` on PostgreSQL: the two take turns on the same database,
        /// `--rounds` times each, and the means are printed side by side.
        #[arg(long)]
        against: Option<PathBuf>,
        /// Turns each build gets when comparing.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cli.bench {
        Bench::Members { server, database, members, concurrency, seconds, api, phases, against, rounds } => runtime
            .block_on(members::bench_members(members::Options {
                server: &server,
                database: &database,
                members,
                concurrency: concurrency.max(1),
                duration: Duration::from_secs(seconds),
                api: &api,
                phases: &phases,
                against: against.as_ref().map(|b| (b, rounds)),
            })),
        Bench::Bookings { server, database, searches, concurrency, seconds, api } => {
            runtime.block_on(bookings::bench_bookings(bookings::Options {
                server: &server,
                database: &database,
                searches: searches.max(1),
                concurrency,
                duration: Duration::from_secs(seconds),
                api: &api,
            }))
        }
        Bench::Slots { searches } => {
            slots::bench_slots(searches.max(1));
            Ok(())
        }
        Bench::Campaigns { server, database, members, bills, sms, api, phases } => {
            runtime.block_on(campaigns::bench_campaigns(campaigns::Options {
                server: &server,
                database: &database,
                members,
                bills,
                api: &api,
                sms: sms.max(1),
                phases,
            }))
        }
        Bench::Coupons { server, database, members, concurrency, seconds, api, rounds, claimers, pool } => runtime
            .block_on(coupons::bench_coupons(coupons::Options {
                server: &server,
                database: &database,
                members,
                concurrency: concurrency.max(1),
                duration: Duration::from_secs(seconds),
                api: &api,
                rounds: rounds.max(1),
                claimers: claimers.max(1),
                pool: pool.max(1),
            })),
        Bench::Notifications { server, database, payments, concurrency, api } => {
            runtime.block_on(notifications::bench_notifications(notifications::Options {
                server: &server,
                database: &database,
                payments,
                concurrency,
                api: &api,
            }))
        }
        Bench::Bills {
            server,
            database,
            members,
            bills: past,
            concurrency,
            sqlite_concurrency,
            seconds,
            api,
            phases,
            against,
            rounds,
        } => runtime.block_on(bills::bench_bills(bills::Options {
            server: &server,
            database: &database,
            members,
            past_bills: past,
            concurrency,
            sqlite_concurrency,
            duration: Duration::from_secs(seconds),
            api: &api,
            phases: &phases,
            against: against.as_ref().map(|b| (b, rounds)),
        })),
    }
}

pub(crate) const CASHIER_PASSWORD: &str = "bench-cashier-password";

/// Fixed keys: the generated data and the api under test must agree on them across runs.
pub(crate) fn security() -> SecuritySettings {
    let key = |byte: u8| Secret::new(base64::engine::general_purpose::STANDARD.encode([byte; 32]));
    SecuritySettings { keys: [("bench1".to_owned(), key(1))].into(), active_key: "bench1".into(), index_key: key(2) }
}

pub(crate) fn phone(i: u64) -> String {
    format!("139{i:08}")
}

/// Counts one answer of a load loop: its latency when `succeeded` says so, else an error, the first of which is
/// printed so that a failing run says why.
pub(crate) async fn tally(
    answer: reqwest::Result<reqwest::Response>,
    succeeded: fn(reqwest::StatusCode) -> bool,
    sent: Instant,
    latencies: &mut Vec<Duration>,
    errors: &mut usize,
) {
    match answer {
        Ok(r) if succeeded(r.status()) => {
            let _ = r.bytes().await;
            latencies.push(sent.elapsed());
        }
        Ok(r) => {
            if *errors == 0 {
                eprintln!("first error: {} {}", r.status(), r.text().await.unwrap_or_default());
            }
            *errors += 1;
        }
        Err(_) => *errors += 1,
    }
}

/// The `q` quantile of sorted latencies, in milliseconds.
#[expect(clippy::as_conversions, reason = "statistics over counts and durations, not money")]
pub(crate) fn percentile_ms(sorted: &[Duration], q: f64) -> f64 {
    let index = ((sorted.len() as f64 * q).ceil() as usize).saturating_sub(1).min(sorted.len().saturating_sub(1));
    sorted.get(index).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

pub(crate) async fn ensure_database(server: &str, database: &str) -> anyhow::Result<()> {
    let admin = Database::connect(format!("{}/postgres", server.trim_end_matches('/'))).await?;
    let exists = admin
        .query_one_raw(Statement::from_sql_and_values(
            admin.get_database_backend(),
            "SELECT 1 AS one FROM pg_database WHERE datname = $1",
            [database.into()],
        ))
        .await?
        .is_some();
    if !exists {
        admin.execute_unprepared(&format!("CREATE DATABASE {database}")).await?;
    }
    admin.close().await?;
    Ok(())
}

pub(crate) async fn scalar(db: &DatabaseConnection, sql: &str, values: Vec<Value>) -> anyhow::Result<i64> {
    let row = db
        .query_one_raw(Statement::from_sql_and_values(db.get_database_backend(), sql, values))
        .await?
        .context("no row")?;
    Ok(row.try_get::<i64>("", "n")?)
}

/// What a mode that drives the api starts from: its release build present, the bench database made, the demo
/// merchant seeded and `members` members of it. Returns the service context, the database's url and the merchant.
pub(crate) async fn seeded_database(
    api: &std::path::Path,
    server: &str,
    database: &str,
    members: u64,
) -> anyhow::Result<(service::AppContext, String, i64)> {
    if !api.exists() {
        bail!("{} not found: run `cargo build --release -p api` first", api.display());
    }
    let url = format!("{}/{database}", server.trim_end_matches('/'));
    ensure_database(server, database).await?;
    let ctx = bills::context(&url).await?;
    let merchant_id = match service::demo::seed(&ctx, &|_| CASHIER_PASSWORD.to_owned()).await? {
        Some(seed) => seed.merchant_id,
        None => demo_merchant(&ctx.db).await?,
    };
    ensure_members(&ctx.db, merchant_id, members).await?;
    Ok((ctx, url, merchant_id))
}

pub(crate) async fn demo_merchant(db: &DatabaseConnection) -> anyhow::Result<i64> {
    scalar(db, "SELECT id AS n FROM merchants WHERE code = 'demo'", vec![]).await
}

async fn count_members(db: &DatabaseConnection, merchant_id: i64) -> anyhow::Result<u64> {
    let demo_members = 12;
    let n = scalar(db, "SELECT COUNT(*) AS n FROM members WHERE merchant_id = $1", vec![merchant_id.into()]).await?;
    Ok(u64::try_from(n - demo_members).unwrap_or(0))
}

pub(crate) async fn ensure_members(db: &DatabaseConnection, merchant_id: i64, members: u64) -> anyhow::Result<()> {
    let existing = count_members(db, merchant_id).await?;
    if existing < members {
        let started = Instant::now();
        generate_members(db, merchant_id, existing, members).await?;
        println!("generated {} members in {:.1} s", members - existing, started.elapsed().as_secs_f64());
    }
    Ok(())
}

pub(crate) async fn first_member_id(db: &DatabaseConnection, merchant_id: i64) -> anyhow::Result<i64> {
    // Generated members follow the 12 demo ones.
    scalar(db, "SELECT MIN(id) AS n FROM members WHERE merchant_id = $1 AND source = 'bench'", vec![merchant_id.into()])
        .await
}

/// Inserts members `from..to` in multi-row INSERTs, four batches in flight.
async fn generate_members(db: &DatabaseConnection, merchant_id: i64, from: u64, to: u64) -> anyhow::Result<()> {
    let vault = std::sync::Arc::new(Vault::from_settings(&security()).map_err(anyhow::Error::msg)?);
    let level =
        scalar(db, "SELECT MIN(id) AS n FROM member_levels WHERE merchant_id = $1", vec![merchant_id.into()]).await?;
    const BATCH: u64 = 1000;
    let batches: Vec<(u64, u64)> =
        (from..to).step_by(usize::try_from(BATCH)?).map(|s| (s, (s + BATCH).min(to))).collect();
    let mut done = 0u64;
    for chunk in batches.chunks(4) {
        let inserts = chunk.iter().map(|&(start, end)| {
            let (db, vault) = (db.clone(), vault.clone());
            async move {
                let now = chrono::Utc::now();
                let mut sql = String::from(
                    "INSERT INTO members (merchant_id, nickname, name_sealed, name_index, phone_sealed, phone_index, gender, \
                     birthday_sealed, birth_month, birth_day, level_id, total_spend_fen, preferences, source, created_at, updated_at) VALUES ",
                );
                const COLUMNS: usize = 16;
                let mut values: Vec<Value> = Vec::with_capacity(usize::try_from(end - start)? * COLUMNS);
                for (row, i) in (start..end).enumerate() {
                    if row > 0 {
                        sql.push(',');
                    }
                    let places: Vec<String> = (1..=COLUMNS).map(|c| format!("${}", row * COLUMNS + c)).collect();
                    sql.push_str(&format!("({})", places.join(",")));
                    let name = format!("会员{i}");
                    let month = u32::try_from(i % 12)? + 1;
                    values.extend([
                        merchant_id.into(),
                        String::new().into(),
                        vault.seal(Field::MemberName, &name).into(),
                        vault.blind_index(NAME_INDEX, &name).into(),
                        vault.seal(Field::MemberPhone, &phone(i)).into(),
                        vault.blind_index(PHONE_INDEX, &phone(i)).into(),
                        "unknown".into(),
                        // Sealed as the api writes it: a plain birthday would be sealed at the api's start.
                        vault.seal(Field::MemberBirthday, &format!("1990-{month:02}-01")).into(),
                        i32::try_from(month)?.into(),
                        1_i32.into(),
                        level.into(),
                        i64::try_from(i % 500_000)?.into(),
                        "{}".into(),
                        "bench".into(),
                        now.into(),
                        now.into(),
                    ]);
                }
                db.execute_raw(Statement::from_sql_and_values(db.get_database_backend(), sql, values)).await?;
                anyhow::Ok(())
            }
        });
        for outcome in futures_util::future::join_all(inserts).await {
            outcome?;
        }
        done += chunk.iter().map(|(s, e)| e - s).sum::<u64>();
        if done % 100_000 < BATCH * 4 {
            println!("  {done} / {} members", to - from);
        }
    }
    Ok(())
}

/// Starts the release api against `url` with the bench keys, demo seeding off.
pub(crate) fn spawn_api(
    api: &PathBuf,
    url: &str,
    port: u16,
    max_connections: u32,
) -> anyhow::Result<tokio::process::Child> {
    tokio::process::Command::new(api)
        .arg("serve")
        .env("HUIYUAN__DATABASE__URL", url)
        .env("HUIYUAN__DATABASE__MAX_CONNECTIONS", max_connections.to_string())
        .env("HUIYUAN__SERVER__PORT", port.to_string())
        .env("HUIYUAN__DEMO__SEED", "false")
        .env("HUIYUAN__SANDBOX__LISTEN", "127.0.0.1:0")
        .env("HUIYUAN__SECURITY__ACTIVE_KEY", "bench1")
        .env("HUIYUAN__SECURITY__KEYS__BENCH1", security().keys["bench1"].expose())
        .env("HUIYUAN__SECURITY__INDEX_KEY", security().index_key.expose())
        .env("HUIYUAN__LOG__FILTER", "warn")
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("starting the api")
}

pub(crate) fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

pub(crate) async fn wait_ready(client: &reqwest::Client, base: &str) -> anyhow::Result<()> {
    for _ in 0..100 {
        if client.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status().is_success()) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("the api did not become ready")
}

pub(crate) async fn sign_in(client: &reqwest::Client, base: &str) -> anyhow::Result<String> {
    sign_in_as(client, base, "demo-cashier").await
}

/// Signs in as one of the demo staff: the bench seeds them all with `CASHIER_PASSWORD`.
pub(crate) async fn sign_in_as(client: &reqwest::Client, base: &str, username: &str) -> anyhow::Result<String> {
    let response: serde_json::Value = client
        .post(format!("{base}/api/staff/v1/sessions"))
        .json(&json!({ "username": username, "password": CASHIER_PASSWORD }))
        .send()
        .await?
        .json()
        .await?;
    response["token"]
        .as_str()
        .map(str::to_owned)
        .context("sign-in failed (was the bench database seeded by another run?)")
}

/// The CPU time a process has used so far, user and system.
pub(crate) fn cpu_of(pid: u32) -> anyhow::Result<Duration> {
    // utime and stime: the 14th and 15th fields.
    Ok(ticks(&std::fs::read_to_string(format!("/proc/{pid}/stat"))?, 11..13))
}

/// CPU time used so far by every process whose command is `name`, with their children that have ended: for
/// `postgres`, the live backends and, through the postmaster, those that have exited (pgbench's, a stopped api's).
pub(crate) fn cpu_of_all(name: &str) -> Duration {
    let mut total = Duration::ZERO;
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let named = std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|comm| comm.trim() == name);
        if let Some(stat) = named.then(|| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()).flatten() {
            // utime, stime, cutime and cstime.
            total += ticks(&stat, 11..15);
        }
    }
    total
}

/// The sum of `/proc/<pid>/stat` fields `range`, counted from the first after the command name (the 3rd), as CPU
/// time: clock ticks of 10 ms.
fn ticks(stat: &str, range: std::ops::Range<usize>) -> Duration {
    // The command name is in parentheses and may hold spaces: the fields counted are after it.
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or_default().split_whitespace().collect();
    let sum: u64 = range.filter_map(|index| fields.get(index).and_then(|v| v.parse::<u64>().ok())).sum();
    Duration::from_millis(sum * 10)
}

/// CPU time used by this process's children that have ended and been waited for (pgbench, once it is done).
pub(crate) fn cpu_of_children() -> anyhow::Result<Duration> {
    // cutime and cstime: the 16th and 17th fields.
    Ok(ticks(&std::fs::read_to_string("/proc/self/stat")?, 13..15))
}

/// Resident and peak resident memory of a process, in KiB.
pub(crate) fn memory_of(pid: u32) -> anyhow::Result<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Ok((field("VmRSS:"), field("VmHWM:")))
}

/// `pgbench -i -s 10` once per database.
pub(crate) async fn ensure_pgbench_tables(url: &str) -> anyhow::Result<()> {
    let initialised = tokio::process::Command::new("psql")
        .args([url, "-Atc", "SELECT to_regclass('pgbench_accounts') IS NOT NULL"])
        .output()
        .await
        .context("running psql")?;
    if String::from_utf8_lossy(&initialised.stdout).trim() != "t" {
        let init = tokio::process::Command::new("pgbench").args(["-i", "-s", "10", "-q", url]).output().await?;
        if !init.status.success() {
            bail!("pgbench -i failed: {}", String::from_utf8_lossy(&init.stderr));
        }
    }
    Ok(())
}

/// Runs pgbench (`-S` for select-only, nothing for TPC-B) and returns its tps.
pub(crate) async fn run_pgbench(url: &str, mode: &[&str], clients: usize, duration: Duration) -> anyhow::Result<f64> {
    ensure_pgbench_tables(url).await?;
    let (clients, seconds) = (clients.to_string(), duration.as_secs().to_string());
    let output = tokio::process::Command::new("pgbench")
        .args(mode)
        // Without -n: pgbench vacuums its tables first, as the settlement bench vacuums the rows bills update.
        .args(["-c", &clients, "-j", "2", "-T", &seconds, url])
        .output()
        .await
        .context("running pgbench")?;
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("no tps in pgbench output: {text}"))
}
