//! PostgreSQL: journal lines stop taking a lock on the account they name.
//!
//! A foreign key from `journal_lines.account_id` takes a KEY SHARE lock on the account row for every line until
//! commit. A store's cash and revenue rows are named by every bill of the store while the same bills update their
//! balances, so each of those updates had to fold all the in-flight key-share lockers into a MultiXact, and every
//! look-up of the row walked them. Measured with `bench bills`: +10% bills/s over a chain's stores, +40% with all
//! cashiers at one store.
//!
//! What the key guaranteed holds by other means: the ledger inserts lines only for accounts it resolved (found or
//! created) in the same transaction, accounts are never deleted (the trigger below refuses it), and
//! `verify-ledger` reports any line whose account is missing. SQLite keeps the key: it takes no row locks.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261127_000011_journal_lines_unlocked"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = m.get_connection();
        // The key was created unnamed: find the name PostgreSQL gave it.
        db.execute_unprepared(
            "DO $$ DECLARE fk text; BEGIN \
             SELECT conname INTO fk FROM pg_constraint WHERE contype = 'f' \
             AND conrelid = 'journal_lines'::regclass AND confrelid = 'ledger_accounts'::regclass; \
             IF fk IS NOT NULL THEN EXECUTE format('ALTER TABLE journal_lines DROP CONSTRAINT %I', fk); END IF; \
             END $$",
        )
        .await?;
        db.execute_unprepared(
            "CREATE FUNCTION ledger_accounts_are_kept() RETURNS trigger LANGUAGE plpgsql AS $$ \
             BEGIN RAISE EXCEPTION 'ledger accounts are never deleted'; END $$",
        )
        .await?;
        db.execute_unprepared(
            "CREATE TRIGGER ledger_accounts_are_kept BEFORE DELETE ON ledger_accounts \
             FOR EACH ROW EXECUTE FUNCTION ledger_accounts_are_kept()",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        if m.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = m.get_connection();
        db.execute_unprepared("DROP TRIGGER IF EXISTS ledger_accounts_are_kept ON ledger_accounts").await?;
        db.execute_unprepared("DROP FUNCTION IF EXISTS ledger_accounts_are_kept()").await?;
        db.execute_unprepared(
            "ALTER TABLE journal_lines ADD CONSTRAINT journal_lines_account_id_fkey \
             FOREIGN KEY (account_id) REFERENCES ledger_accounts (id)",
        )
        .await?;
        Ok(())
    }
}
