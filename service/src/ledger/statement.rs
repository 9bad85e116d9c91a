//! Statements: the entries that moved a few of a member's accounts, newest first, with what each moved on each.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use entity::{journal_entries, journal_lines};

use super::{Account, find_by_keys};
use crate::Result;
use crate::domain::Page;

/// One entry as a statement shows it.
#[derive(Clone, Debug)]
pub struct Movement {
    pub entry_id: i64,
    pub kind: String,
    pub memo: String,
    pub bill_id: Option<i64>,
    /// Per account asked for, in that order: how much the entry raised (positive) or lowered its balance. The
    /// accounts are a member's, which are credit-normal: a credit raises them.
    pub deltas: Vec<i64>,
    pub created_at: DateTime<Utc>,
}

/// The ids of accounts that exist; an account never used is `None` (reading never opens one).
pub async fn account_ids(
    conn: &impl ConnectionTrait,
    merchant_id: i64,
    accounts: &[Account],
) -> Result<Vec<Option<i64>>> {
    let keys: Vec<String> = accounts.iter().map(Account::key).collect();
    let rows = find_by_keys(conn, merchant_id, &keys).await?;
    Ok(keys.iter().map(|key| rows.get(key).map(|row| row.id)).collect())
}

/// The entries that moved any of `account_ids` (a member's), newest first: one page (`before_id` an entry id), or
/// every one when `page` is `None`.
pub async fn movements(conn: &impl ConnectionTrait, account_ids: &[i64], page: Option<Page>) -> Result<Vec<Movement>> {
    if account_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut lines = journal_lines::Entity::find()
        .filter(journal_lines::Column::AccountId.is_in(account_ids.iter().copied()))
        .order_by_desc(journal_lines::Column::EntryId);
    if let Some(before) = page.and_then(|p| p.before_id) {
        lines = lines.filter(journal_lines::Column::EntryId.lt(before));
    }
    if let Some(page) = page {
        // An entry has at most one line per account in a statement, so that many lines per entry cover `limit`.
        let per_entry = u64::try_from(account_ids.len()).unwrap_or(u64::MAX);
        lines = lines.limit(page.limit.saturating_mul(per_entry));
    }
    let lines = lines.all(conn).await?;
    let mut entry_ids: Vec<i64> = lines.iter().map(|line| line.entry_id).collect();
    entry_ids.dedup();
    if let Some(page) = page {
        entry_ids.truncate(usize::try_from(page.limit).unwrap_or(usize::MAX));
    }
    let entries = journal_entries::Entity::find()
        .filter(journal_entries::Column::Id.is_in(entry_ids))
        .order_by_desc(journal_entries::Column::Id)
        .all(conn)
        .await?;
    let delta = |entry_id: i64, account_id: i64| -> i64 {
        -lines.iter().filter(|l| l.entry_id == entry_id && l.account_id == account_id).map(|l| l.amount).sum::<i64>()
    };
    Ok(entries
        .into_iter()
        .map(|entry| Movement {
            entry_id: entry.id,
            deltas: account_ids.iter().map(|&account| delta(entry.id, account)).collect(),
            kind: entry.kind,
            memo: entry.memo,
            bill_id: entry.bill_id,
            created_at: entry.created_at,
        })
        .collect())
}
