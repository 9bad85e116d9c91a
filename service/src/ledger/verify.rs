//! Checking the ledger against itself: every kept balance recomputed from the journal, every entry balanced per
//! unit, points lots and stock movements against their totals.

use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryTrait, Statement, TransactionTrait,
};

use entity::{journal_entries, ledger_accounts};

use crate::Result;

/// Something [`verify`] found wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Discrepancy {
    /// The kept balance differs from the sum of the account's lines.
    Balance { account_id: i64, key: String, kept: i64, from_entries: i64 },
    /// An entry's lines do not sum to zero in some unit.
    Unbalanced { entry_id: i64, unit: String, sum: i64 },
    /// An account that may never go negative is negative.
    Negative { account_id: i64, key: String, balance: i64 },
    /// A member's points lots do not add up to their points account.
    PointsLots { member_id: i64, account: i64, lots: i64 },
    /// A store's stock on hand differs from the sum of its stock movements.
    Stock { store_id: i64, product_id: i64, on_hand: i64, from_movements: i64 },
    /// A journal line names an account that does not exist (on PostgreSQL no foreign key checks it; see the
    /// migration `journal_lines_unlocked`).
    MissingAccount { line_id: i64, entry_id: i64, account_id: i64 },
}

impl std::fmt::Display for Discrepancy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Discrepancy::Balance { account_id, key, kept, from_entries } => {
                write!(f, "account {account_id} ({key}): balance {kept}, entries say {from_entries}")
            }
            Discrepancy::Unbalanced { entry_id, unit, sum } => {
                write!(f, "entry {entry_id}: lines sum to {sum} {unit}, not zero")
            }
            Discrepancy::Negative { account_id, key, balance } => {
                write!(f, "account {account_id} ({key}): negative balance {balance}")
            }
            Discrepancy::PointsLots { member_id, account, lots } => {
                write!(f, "member {member_id}: points account {account}, lots hold {lots}")
            }
            Discrepancy::Stock { store_id, product_id, on_hand, from_movements } => {
                write!(f, "store {store_id} product {product_id}: {on_hand} on hand, movements say {from_movements}")
            }
            Discrepancy::MissingAccount { line_id, entry_id, account_id } => {
                write!(f, "line {line_id} of entry {entry_id}: no account {account_id}")
            }
        }
    }
}

/// What a ledger holds: what `verify` reads through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Extent {
    pub accounts: u64,
    pub entries: u64,
    pub lines: u64,
}

/// How many accounts, entries and lines the ledger of one merchant (or of all) holds.
pub async fn extent(db: &sea_orm::DatabaseConnection, merchant_id: Option<i64>) -> Result<Extent> {
    let accounts = ledger_accounts::Entity::find()
        .apply_if(merchant_id, |q, id| q.filter(ledger_accounts::Column::MerchantId.eq(id)))
        .count(db)
        .await?;
    let entries = journal_entries::Entity::find()
        .apply_if(merchant_id, |q, id| q.filter(journal_entries::Column::MerchantId.eq(id)))
        .count(db)
        .await?;
    let backend = db.get_database_backend();
    let filter = merchant_id.map(|id| format!(" WHERE e.merchant_id = {id}")).unwrap_or_default();
    let sql = format!(
        "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM journal_lines l JOIN journal_entries e ON e.id = l.entry_id{filter}"
    );
    let row = db.query_one_raw(Statement::from_string(backend, sql)).await?;
    let lines = row.map(|row| row.try_get::<i64>("", "n")).transpose()?.unwrap_or(0).unsigned_abs();
    Ok(Extent { accounts, entries, lines })
}

/// Recomputes every balance (of one merchant, or all) from the journal and lists every difference. Runs in one
/// repeatable-read transaction on PostgreSQL so concurrent postings cannot show up as false differences.
pub async fn verify(db: &sea_orm::DatabaseConnection, merchant_id: Option<i64>) -> Result<Vec<Discrepancy>> {
    let backend = db.get_database_backend();
    // SQLite transactions are serializable already (one writer, snapshot reads) and take no isolation setting.
    let txn = if backend == sea_orm::DbBackend::Postgres {
        db.begin_with_config(Some(sea_orm::IsolationLevel::RepeatableRead), Some(sea_orm::AccessMode::ReadOnly)).await?
    } else {
        db.begin().await?
    };
    let filter = merchant_id.map(|id| format!(" AND a.merchant_id = {id}")).unwrap_or_default();
    let mut found = Vec::new();

    let sums = format!(
        "SELECT a.id, a.key, a.balance, a.floor_zero, \
         CAST(COALESCE(SUM(l.amount), 0) * (CASE WHEN a.debit_normal THEN 1 ELSE -1 END) AS BIGINT) AS from_entries \
         FROM ledger_accounts a LEFT JOIN journal_lines l ON l.account_id = a.id WHERE 1 = 1{filter} \
         GROUP BY a.id, a.key, a.balance, a.floor_zero, a.debit_normal ORDER BY a.id"
    );
    for row in txn.query_all_raw(Statement::from_string(backend, sums)).await? {
        let account_id: i64 = row.try_get("", "id")?;
        let key: String = row.try_get("", "key")?;
        let kept: i64 = row.try_get("", "balance")?;
        let floor_zero: bool = row.try_get("", "floor_zero")?;
        let from_entries: i64 = row.try_get("", "from_entries")?;
        if kept != from_entries {
            found.push(Discrepancy::Balance { account_id, key: key.clone(), kept, from_entries });
        }
        if floor_zero && kept < 0 {
            found.push(Discrepancy::Negative { account_id, key, balance: kept });
        }
    }

    let unbalanced = format!(
        "SELECT l.entry_id, a.unit, CAST(SUM(l.amount) AS BIGINT) AS total FROM journal_lines l \
         JOIN ledger_accounts a ON a.id = l.account_id WHERE 1 = 1{filter} \
         GROUP BY l.entry_id, a.unit HAVING SUM(l.amount) <> 0 ORDER BY l.entry_id"
    );
    for row in txn.query_all_raw(Statement::from_string(backend, unbalanced)).await? {
        found.push(Discrepancy::Unbalanced {
            entry_id: row.try_get("", "entry_id")?,
            unit: row.try_get("", "unit")?,
            sum: row.try_get("", "total")?,
        });
    }

    let entry_filter = merchant_id.map(|id| format!(" AND e.merchant_id = {id}")).unwrap_or_default();
    let missing = format!(
        "SELECT l.id, l.entry_id, l.account_id FROM journal_lines l JOIN journal_entries e ON e.id = l.entry_id \
         LEFT JOIN ledger_accounts a ON a.id = l.account_id WHERE a.id IS NULL{entry_filter} ORDER BY l.id"
    );
    for row in txn.query_all_raw(Statement::from_string(backend, missing)).await? {
        found.push(Discrepancy::MissingAccount {
            line_id: row.try_get("", "id")?,
            entry_id: row.try_get("", "entry_id")?,
            account_id: row.try_get("", "account_id")?,
        });
    }

    let merchant_filter = merchant_id.map(|id| format!(" AND merchant_id = {id}")).unwrap_or_default();
    let lots = format!(
        "SELECT a.member_id, a.balance, CAST(COALESCE((SELECT SUM(p.remaining) FROM points_lots p \
         WHERE p.member_id = a.member_id), 0) AS BIGINT) AS lots FROM ledger_accounts a \
         WHERE a.kind = 'points'{filter} ORDER BY a.member_id"
    );
    for row in txn.query_all_raw(Statement::from_string(backend, lots)).await? {
        let account: i64 = row.try_get("", "balance")?;
        let lots: i64 = row.try_get("", "lots")?;
        if account != lots {
            found.push(Discrepancy::PointsLots { member_id: row.try_get("", "member_id")?, account, lots });
        }
    }
    let stock = format!(
        "SELECT s.store_id, s.product_id, s.on_hand, CAST(COALESCE((SELECT SUM(m.delta) FROM stock_movements m \
         WHERE m.store_id = s.store_id AND m.product_id = s.product_id), 0) AS BIGINT) AS moved \
         FROM product_stock s WHERE 1 = 1{merchant_filter} ORDER BY s.store_id, s.product_id"
    );
    for row in txn.query_all_raw(Statement::from_string(backend, stock)).await? {
        let on_hand: i64 = row.try_get("", "on_hand")?;
        let from_movements: i64 = row.try_get("", "moved")?;
        if on_hand != from_movements {
            found.push(Discrepancy::Stock {
                store_id: row.try_get("", "store_id")?,
                product_id: row.try_get("", "product_id")?,
                on_hand,
                from_movements,
            });
        }
    }
    txn.commit().await?;
    Ok(found)
}
