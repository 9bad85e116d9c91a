//! Connecting to the database of either shape and applying migrations.

use std::time::Duration;

use anyhow::Context;
use migration::MigratorTrait;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection};

use crate::foundation::settings::DatabaseSettings;

pub async fn connect(settings: &DatabaseSettings) -> anyhow::Result<DatabaseConnection> {
    let url = settings.url.expose();
    let sqlite = url.starts_with("sqlite:");
    if sqlite {
        ensure_sqlite_dir(url)?;
    }
    let mut options = ConnectOptions::new(url.to_owned());
    options.sqlx_logging(false).acquire_timeout(Duration::from_secs(settings.acquire_timeout_secs));
    if sqlite {
        // SQLite has one writer at a time. A single connection makes writers queue in the pool instead of failing
        // with SQLITE_BUSY when a transaction upgrades from read to write; each statement takes microseconds.
        options.max_connections(1).min_connections(1);
    } else {
        options.max_connections(settings.max_connections).min_connections(1);
    }
    let db = Database::connect(options).await.context("connecting to the database")?;
    if sqlite {
        db.execute_unprepared("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")
            .await
            .context("setting SQLite pragmas")?;
    }
    Ok(db)
}

fn ensure_sqlite_dir(url: &str) -> anyhow::Result<()> {
    let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    if let Some(parent) = std::path::Path::new(path).parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    Ok(())
}

pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    migration::Migrator::up(db, None).await.context("applying migrations")
}

pub async fn ping(db: &DatabaseConnection) -> anyhow::Result<()> {
    db.ping().await.context("pinging the database")
}
