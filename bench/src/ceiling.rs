//! `bench bills --phases ceiling`: what the database alone allows, without the api.
//!
//! pgbench replays the typical bill's SQL (`bench/sql/`) with its own C client on the bench database, so the
//! figures leave out HTTP, JSON, authentication and pricing in the api and show the ceiling each shape of
//! settlement could reach even with a free api:
//!
//! - `bill-per-statement.sql`: the statements the api sends for one bill today, one round trip each (copied from
//!   the server log; keep it in step when the settlement's statements change);
//! - `bill-pipelined.sql`: the bill's statements one per table (as before its last writes went together) in two
//!   pipelines, as a driver with pipelining could send them (the ids a later statement needs come from `currval`);
//! - `bill-batched.sql`: eight cashiers' bills per transaction, each table written once by a multi-row statement,
//!   with every bill's own reads (session, member, merchant) still made one by one.
//!
//! The scripts write real bills with balanced journal entries and keep every balance they move, so
//! `verify-ledger` stays clean after them.

use std::time::Duration;

use anyhow::{Context, bail};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

use service::ledger::{Account, AccountKind};

use crate::scalar;

const PER_STATEMENT: &str = include_str!("../sql/bill-per-statement.sql");
const PIPELINED: &str = include_str!("../sql/bill-pipelined.sql");
const BATCHED: &str = include_str!("../sql/bill-batched.sql");
/// Bills per transaction in `bill-batched.sql` (its store-side amounts are written for this many).
const BATCH: usize = 8;
/// The demo menu's categories of the typical bill's two services and product, as the scripts' lines name them.
const CATEGORIES: [&str; 3] = ["美发", "护理", "洗护用品"];
/// A pool member must hold this much principal (￥10,000), so no replayed debit can be refused.
const FUNDED_FEN: i64 = 1_000_000;

/// What the scripts need to know of the bench database.
pub struct Ceiling<'a> {
    pub url: &'a str,
    pub merchant_id: i64,
    pub product_id: i64,
    pub stores: &'a [i64],
    pub pool: &'a [i64],
    pub concurrency: usize,
    pub duration: Duration,
}

/// Replays each script and prints bills/s, with the ratio to pgbench TPC-B when it was measured.
#[expect(clippy::as_conversions, reason = "a ratio of rates")]
pub async fn measure(db: &DatabaseConnection, ceiling: &Ceiling<'_>, tpcb: Option<f64>) -> anyhow::Result<()> {
    let pool = prepare(db, ceiling).await?;
    let dir = std::env::temp_dir().join(format!("hy-ceiling-{:x}", rand::random::<u32>()));
    std::fs::create_dir_all(&dir)?;
    let shapes = [
        ("one bill per transaction, statement by statement", "bill-per-statement.sql", PER_STATEMENT, 1),
        ("one bill per transaction, pipelined", "bill-pipelined.sql", PIPELINED, 1),
        ("8 bills per transaction, multi-row statements", "bill-batched.sql", BATCHED, BATCH),
    ];
    println!("the database alone (pgbench replaying the bill's SQL, {} cashiers):", ceiling.concurrency);
    for (name, file, script, bills_per_transaction) in shapes {
        let path = dir.join(file);
        std::fs::write(&path, script)?;
        crate::bills::vacuum_hot_rows(db).await?;
        // A batch carries several cashiers' bills, so fewer clients keep as many bills in flight.
        let clients = (ceiling.concurrency / bills_per_transaction).max(1);
        let path = path.to_string_lossy().into_owned();
        let (pool_size, stores) = (format!("pool={pool}"), format!("stores={}", ceiling.stores.len()));
        let args = ["-n", "-M", "prepared", "-f", &path, "-D", &pool_size, "-D", &stores];
        let tps = crate::run_pgbench(ceiling.url, &args, clients, ceiling.duration).await?;
        let bills = tps * bills_per_transaction as f64;
        match tpcb {
            Some(tpcb) => println!("  {name:<50} {bills:>7.0} bills/s   ratio {:.2}", bills / tpcb),
            None => println!("  {name:<50} {bills:>7.0} bills/s"),
        }
    }
    std::fs::remove_dir_all(&dir).ok();
    db.execute_unprepared("DROP TABLE IF EXISTS bench_pool, bench_store").await?;
    Ok(())
}

/// Fills `bench_pool` (the funded pool members and their accounts) and `bench_store` (each store's accounts and
/// what every bill names), from which the scripts draw their values. Returns the pool's size.
async fn prepare(db: &DatabaseConnection, ceiling: &Ceiling<'_>) -> anyhow::Result<usize> {
    let merchant_id = ceiling.merchant_id;
    let error = |e: service::Error| anyhow::anyhow!("{e}");
    db.execute_unprepared("DROP TABLE IF EXISTS bench_pool, bench_store").await?;

    // Two statements for the whole pool: the members' principal balances, then the accounts of the funded ones.
    let principals: Vec<Account> = ceiling.pool.iter().map(|m| Account::member(*m, AccountKind::SvPrincipal)).collect();
    let balances = service::ledger::balances(db, merchant_id, &principals).await.map_err(error)?;
    let funded: Vec<i64> =
        ceiling.pool.iter().zip(&balances).filter(|(_, b)| **b >= FUNDED_FEN).map(|(m, _)| *m).collect();
    let kinds = [AccountKind::SvPrincipal, AccountKind::SvBonus, AccountKind::Points];
    let accounts: Vec<Account> = funded.iter().flat_map(|m| kinds.map(|kind| Account::member(*m, kind))).collect();
    let ids = service::ledger::open_accounts(db, merchant_id, &accounts).await.map_err(error)?;
    let mut pool: Vec<String> = funded
        .iter()
        .zip(accounts.chunks(kinds.len()).zip(ids.chunks(kinds.len())))
        .enumerate()
        .map(|(k, (member_id, (accounts, ids)))| {
            format!(
                "({k}, {member_id}, {}, {}, '{}', '{}', '{}')",
                ids[0],
                ids[2],
                accounts[0].key(),
                accounts[1].key(),
                accounts[2].key()
            )
        })
        .collect();
    // Every batch needs BATCH distinct members, and the scripts draw batches of consecutive pool rows.
    if pool.len() < 8 * BATCH {
        bail!(
            "only {} pool members hold ￥10,000 of principal: run the chain phase first, which funds them",
            pool.len()
        );
    }
    let pool_size = pool.len() - pool.len() % BATCH;
    pool.truncate(pool_size);
    db.execute_unprepared(
        "CREATE TABLE bench_pool (k BIGINT PRIMARY KEY, member_id BIGINT, principal_id BIGINT, points_id BIGINT, \
         pkey TEXT, bkey TEXT, ptkey TEXT)",
    )
    .await?;
    db.execute_unprepared(&format!("INSERT INTO bench_pool VALUES {}", pool.join(", "))).await?;

    let staff_id = scalar(db, "SELECT id AS n FROM staff WHERE username = 'demo-cashier'", vec![]).await?;
    let level_id = scalar(
        db,
        "SELECT id AS n FROM member_levels WHERE merchant_id = $1 ORDER BY rank DESC LIMIT 1",
        vec![merchant_id.into()],
    )
    .await?;
    let token_hash = db
        .query_one_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            "SELECT token_hash FROM staff_sessions WHERE staff_id = $1 ORDER BY id DESC LIMIT 1",
            vec![staff_id.into()],
        ))
        .await?
        .context("no session of the bench cashier: run the chain phase first")?
        .try_get::<String>("", "token_hash")?;
    db.execute_unprepared(
        "CREATE TABLE bench_store (s BIGINT PRIMARY KEY, merchant_id BIGINT, store_id BIGINT, staff_id BIGINT, \
         level_id BIGINT, product_id BIGINT, token_hash TEXT, cash BIGINT, r1 BIGINT, r2 BIGINT, r3 BIGINT, \
         pi BIGINT, kc TEXT, k1 TEXT, k2 TEXT, k3 TEXT, kp TEXT)",
    )
    .await?;
    for (s, store_id) in ceiling.stores.iter().enumerate() {
        let accounts = [
            Account::store(*store_id, AccountKind::Cash),
            Account::revenue(*store_id, CATEGORIES[0]),
            Account::revenue(*store_id, CATEGORIES[1]),
            Account::revenue(*store_id, CATEGORIES[2]),
            Account::store(*store_id, AccountKind::PointsIssued),
        ];
        let ids = service::ledger::open_accounts(db, merchant_id, &accounts).await.map_err(error)?;
        let keys: Vec<String> = accounts.iter().map(|a| format!("'{}'", a.key())).collect();
        let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
        db.execute_unprepared(&format!(
            "INSERT INTO bench_store VALUES ({}, {merchant_id}, {store_id}, {staff_id}, {level_id}, {}, '{token_hash}', \
             {}, {})",
            s + 1,
            ceiling.product_id,
            ids.join(", "),
            keys.join(", ")
        ))
        .await?;
    }
    Ok(pool_size)
}
