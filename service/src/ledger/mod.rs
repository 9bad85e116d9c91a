//! The double-entry ledger: the one place where value moves.
//!
//! Every movement is a journal entry whose lines sum to zero per unit (fen, points, sessions). Lines are signed
//! debit-positive; an account's `balance` is kept in its natural direction (a member's principal of ￥100 is
//! `10000` although it was credited), in the same transaction as the lines, by a guarded `UPDATE ... SET balance =
//! balance + delta WHERE ... balance + delta >= 0` and never by reading a balance and writing it back. Accounts
//! that must not go negative (`floor_zero`) therefore cannot be overdrawn by any interleaving of requests: the
//! database re-checks the guard under the row lock. Member accounts are updated before store accounts, each group in
//! ascending id order, so two entries touching the same accounts never deadlock on PostgreSQL; callers post last in
//! their transaction so a store's busy cash and revenue rows are locked only until commit.
//!
//! [`verify`] recomputes every balance from the lines and reports any difference; `api verify-ledger` runs it.

pub mod deferred;
pub mod posting;
pub mod statement;
mod verify;

pub use verify::{Discrepancy, Extent, extent, verify};

use std::collections::BTreeMap;

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryTrait,
    Statement,
};

use entity::{journal_entries, journal_lines, ledger_accounts};

use crate::ledger::deferred::{Check, Deferred};
use crate::{Conflict, Error, Result};

/// What an account counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Unit {
    Fen,
    Point,
    Session,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Fen => "fen",
            Unit::Point => "point",
            Unit::Session => "session",
        }
    }
}

/// Every kind of account the ledger knows. Member accounts are the per-member sub-ledger of what the merchant owes
/// (prepaid liability); store accounts are where money sits or comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum AccountKind {
    /// A member's stored-value principal (money they paid in): a liability.
    SvPrincipal,
    /// A member's stored-value bonus (money the merchant gave on top): a liability.
    SvBonus,
    /// A store's cash drawer.
    Cash,
    /// A store's bank-card (POS terminal) takings.
    BankCard,
    /// A store's WeChat Pay takings (filled in by the payments issue).
    WechatPay,
    /// A store's Alipay takings (filled in by the payments issue).
    Alipay,
    /// A store's revenue for one item category; the category is the account's detail.
    Revenue,
    /// What bonus stored value has cost the store: booked when granted, reversed when voided.
    BonusExpense,
    /// Income from value members forfeited (card refund fees, expiry).
    Breakage,
    /// The sessions left on one count card (次卡): a liability in sessions.
    CardSessions,
    /// The part of a count card's price not yet recognised as revenue (deferred revenue, a prepaid liability);
    /// each session used moves its share to revenue.
    CardDeferred,
    /// A store's mirror of the sessions it issued and took back: debited when a card is sold, credited when a
    /// session is used or refunded, so the session unit balances.
    SessionsIssued,
    /// A member's points (积分): the merchant's points liability, member by member, in points.
    Points,
    /// A store's mirror of the points it granted and took back, so the point unit balances.
    PointsIssued,
}

impl AccountKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountKind::SvPrincipal => "sv_principal",
            AccountKind::SvBonus => "sv_bonus",
            AccountKind::Cash => "cash",
            AccountKind::BankCard => "bank_card",
            AccountKind::WechatPay => "wechat_pay",
            AccountKind::Alipay => "alipay",
            AccountKind::Revenue => "revenue",
            AccountKind::BonusExpense => "bonus_expense",
            AccountKind::Breakage => "breakage",
            AccountKind::CardSessions => "sessions",
            AccountKind::CardDeferred => "deferred",
            AccountKind::SessionsIssued => "sessions_issued",
            AccountKind::Points => "points",
            AccountKind::PointsIssued => "points_issued",
        }
    }

    pub fn unit(self) -> Unit {
        match self {
            AccountKind::CardSessions | AccountKind::SessionsIssued => Unit::Session,
            AccountKind::Points | AccountKind::PointsIssued => Unit::Point,
            _ => Unit::Fen,
        }
    }

    /// Assets and expenses grow with debits; liabilities and income with credits.
    fn debit_normal(self) -> bool {
        matches!(
            self,
            AccountKind::Cash
                | AccountKind::BankCard
                | AccountKind::WechatPay
                | AccountKind::Alipay
                | AccountKind::BonusExpense
                | AccountKind::SessionsIssued
                | AccountKind::PointsIssued
        )
    }

    /// What a member holds can never be overdrawn. Store accounts may dip below zero: a drawer that pays out a
    /// refund before its opening float was recorded is a fact to report, not a reason to refuse the refund.
    fn floor_zero(self) -> bool {
        matches!(
            self,
            AccountKind::SvPrincipal
                | AccountKind::SvBonus
                | AccountKind::CardSessions
                | AccountKind::CardDeferred
                | AccountKind::Points
        )
    }
}

/// Names one account; the account row is created on first use.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Account {
    Member {
        member_id: i64,
        kind: AccountKind,
    },
    /// One count card's accounts; the card belongs to `member_id` (kept on the row for statements).
    Card {
        card_id: i64,
        member_id: i64,
        kind: AccountKind,
    },
    Store {
        store_id: i64,
        kind: AccountKind,
        detail: Option<String>,
    },
}

impl Account {
    pub fn member(member_id: i64, kind: AccountKind) -> Self {
        Account::Member { member_id, kind }
    }

    pub fn store(store_id: i64, kind: AccountKind) -> Self {
        Account::Store { store_id, kind, detail: None }
    }

    pub fn card(card_id: i64, member_id: i64, kind: AccountKind) -> Self {
        Account::Card { card_id, member_id, kind }
    }

    pub fn revenue(store_id: i64, category: &str) -> Self {
        Account::Store { store_id, kind: AccountKind::Revenue, detail: Some(category.to_owned()) }
    }

    pub fn kind(&self) -> AccountKind {
        match self {
            Account::Member { kind, .. } | Account::Card { kind, .. } | Account::Store { kind, .. } => *kind,
        }
    }

    /// The account's stable key, unique per merchant.
    pub fn key(&self) -> String {
        match self {
            Account::Member { member_id, kind } => format!("member:{member_id}:{}", kind.as_str()),
            Account::Card { card_id, kind, .. } => format!("card:{card_id}:{}", kind.as_str()),
            Account::Store { store_id, kind, detail: None } => format!("store:{store_id}:{}", kind.as_str()),
            Account::Store { store_id, kind, detail: Some(detail) } => {
                format!("store:{store_id}:{}:{detail}", kind.as_str())
            }
        }
    }
}

/// Who caused an entry.
#[derive(Clone, Copy, Debug)]
pub enum Cause {
    Staff(i64),
    Job(&'static str),
}

/// An entry about to be posted. Build it with [`Draft::new`], add lines with [`Draft::debit`] and
/// [`Draft::credit`] (amounts positive), then [`post`] it inside the caller's transaction.
#[derive(Debug)]
pub struct Draft {
    pub merchant_id: i64,
    pub store_id: Option<i64>,
    pub kind: &'static str,
    pub memo: String,
    pub cause: Cause,
    pub member_id: Option<i64>,
    pub bill_id: Option<i64>,
    pub idempotency_key: Option<String>,
    pub fingerprint: Option<String>,
    lines: Vec<(Account, i64)>,
    /// Account rows this entry's transaction has read already: posting takes their ids from here instead of
    /// asking again.
    known: BTreeMap<String, ledger_accounts::Model>,
    /// Accounts to read along with the next [`balances_for`].
    expected: Vec<Account>,
}

impl Draft {
    pub fn new(merchant_id: i64, kind: &'static str, cause: Cause) -> Self {
        Self {
            merchant_id,
            store_id: None,
            kind,
            memo: String::new(),
            cause,
            member_id: None,
            bill_id: None,
            idempotency_key: None,
            fingerprint: None,
            lines: Vec::new(),
            known: BTreeMap::new(),
            expected: Vec::new(),
        }
    }

    /// Accounts the entry will post to, read with the next [`balances_for`] so that posting needs no query of its
    /// own for them (a settlement saves a round trip this way).
    pub fn expect(&mut self, accounts: impl IntoIterator<Item = Account>) {
        self.expected.extend(accounts);
    }

    pub fn debit(&mut self, account: Account, amount: impl Into<i64>) -> &mut Self {
        let amount = amount.into();
        self.lines.push((account, amount));
        self
    }

    pub fn credit(&mut self, account: Account, amount: impl Into<i64>) -> &mut Self {
        let amount = amount.into();
        self.lines.push((account, -amount));
        self
    }

    /// Lines merged per account, zero lines dropped, in a stable order.
    fn merged(&self) -> BTreeMap<Account, i64> {
        let mut merged: BTreeMap<Account, i64> = BTreeMap::new();
        for (account, amount) in &self.lines {
            *merged.entry(account.clone()).or_default() += amount;
        }
        merged.retain(|_, amount| *amount != 0);
        merged
    }

    /// Every unit's lines must sum to zero.
    fn check_balanced(&self) -> Result<()> {
        let mut per_unit: BTreeMap<Unit, i128> = BTreeMap::new();
        for (account, amount) in &self.lines {
            *per_unit.entry(account.kind().unit()).or_default() += i128::from(*amount);
        }
        match per_unit.into_iter().find(|(_, sum)| *sum != 0) {
            Some((unit, sum)) => Err(Error::Internal(anyhow::anyhow!(
                "unbalanced {} entry: {} {} left over",
                self.kind,
                sum,
                unit.as_str()
            ))),
            None => Ok(()),
        }
    }
}

/// Posts `draft` on `txn`: inserts the entry and its lines and moves every balance with a guarded update.
/// A `floor_zero` account that would go negative fails the whole entry with [`Conflict::InsufficientBalance`];
/// the caller's transaction must then be dropped (rolled back).
pub async fn post(txn: &impl ConnectionTrait, draft: &Draft) -> Result<i64> {
    let (entry, moves) = post_deferred(txn, draft).await?;
    moves.apply(txn).await?;
    Ok(entry)
}

/// The balance moves of a posted entry, still to be applied: apply them as the last thing before commit, so the
/// rows stay locked as briefly as possible (a store's cash and revenue rows are shared by all its cashiers).
/// Dropping them unapplied leaves the ledger unbalanced for `verify` (never commit without applying).
#[must_use = "apply the balance moves before committing"]
pub struct BalanceMoves {
    /// Member accounts first, then the store's, each group in ascending id: the one lock order of every
    /// transaction, so concurrent entries never deadlock.
    moves: Vec<Move>,
    at: chrono::DateTime<Utc>,
}

#[derive(Clone, Copy, Debug)]
struct Move {
    account_id: i64,
    /// A store account, shared by every cashier of the store.
    shared: bool,
    /// Change of the balance in its natural direction.
    delta: i64,
}

impl BalanceMoves {
    /// Adds the moves of another entry posted in the same transaction, so that one statement applies both, in the
    /// one lock order.
    pub fn merge(&mut self, other: BalanceMoves) {
        let mut merged: BTreeMap<(bool, i64), i64> = BTreeMap::new();
        for Move { account_id, shared, delta } in self.moves.drain(..).chain(other.moves) {
            *merged.entry((shared, account_id)).or_default() += delta;
        }
        self.moves =
            merged.into_iter().map(|((shared, account_id), delta)| Move { account_id, shared, delta }).collect();
    }

    /// Splits off the member's moves, to apply before the store's: what the member holds after an entry can then be
    /// read in its transaction (for a slip true to its moment) before the rows every cashier shares are locked.
    pub fn split_member(mut self) -> (BalanceMoves, BalanceMoves) {
        let store = self.moves.split_off(self.moves.partition_point(|m| !m.shared));
        let at = self.at;
        (self, BalanceMoves { moves: store, at })
    }

    /// Moves every balance with a guarded update: a `floor_zero` account that would go negative fails the whole
    /// entry with [`Conflict::InsufficientBalance`], and the caller's transaction must then be dropped. The
    /// database re-checks the guard under the row lock, so no interleaving of requests overdraws an account.
    ///
    /// On PostgreSQL one statement: a materialised CTE takes the row locks in the one lock order before the update
    /// touches any row. NO KEY UPDATE is the lock the update itself takes; plain FOR UPDATE would also wait for
    /// every transaction whose journal lines reference these accounts (the foreign key's KEY SHARE lock), and
    /// deadlock with them. The CTE must stay materialised: written as a plain locking sub-select, the bench saw about
    /// 8% of bills refused with balances to spare, most likely because PostgreSQL re-runs the sub-select when it
    /// re-checks a row a concurrent transaction changed, sees only that row, and the count no longer matches. So it
    /// stays a statement of its own, after a caller's [`Deferred`] writes. On SQLite (one writer, no row locks, no
    /// round trips) one update per account.
    pub async fn apply(self, txn: &impl ConnectionTrait) -> Result<()> {
        if self.moves.is_empty() {
            return Ok(());
        }
        let backend = txn.get_database_backend();
        if backend != sea_orm::DbBackend::Postgres {
            for Move { account_id, delta, .. } in self.moves {
                let updated = ledger_accounts::Entity::update_many()
                    .col_expr(ledger_accounts::Column::Balance, Expr::col(ledger_accounts::Column::Balance).add(delta))
                    .col_expr(ledger_accounts::Column::UpdatedAt, Expr::value(self.at))
                    .filter(ledger_accounts::Column::Id.eq(account_id))
                    .filter(
                        Condition::any()
                            .add(ledger_accounts::Column::FloorZero.eq(false))
                            .add(Expr::col(ledger_accounts::Column::Balance).add(delta).gte(0)),
                    )
                    .exec(txn)
                    .await?;
                if updated.rows_affected != 1 {
                    return Err(refused(txn, &[account_id]).await);
                }
            }
            return Ok(());
        }
        // Parameters, not literals: the statement's text then depends only on how many accounts move, so the
        // connection prepares it once and reuses the plan.
        let count = self.moves.len();
        let ids: Vec<String> = (0..count).map(|k| format!("${}", k + 2)).collect();
        let values: Vec<String> =
            (0..count).map(|k| format!("(${}::bigint, ${}::bigint)", k + 2, count + k + 2)).collect();
        let sql = format!(
            "WITH locked AS MATERIALIZED (SELECT id FROM ledger_accounts WHERE id IN ({ids}) \
             ORDER BY store_id IS NOT NULL, id FOR NO KEY UPDATE) \
             UPDATE ledger_accounts AS a SET balance = a.balance + v.delta, updated_at = $1 \
             FROM (VALUES {values}) AS v(id, delta) \
             WHERE a.id = v.id AND (SELECT COUNT(*) FROM locked) = {count} \
             AND (NOT a.floor_zero OR a.balance + v.delta >= 0)",
            ids = ids.join(", "),
            values = values.join(", "),
        );
        let mut params: Vec<sea_orm::Value> = Vec::with_capacity(2 * count + 1);
        params.push(self.at.into());
        params.extend(self.moves.iter().map(|m| sea_orm::Value::from(m.account_id)));
        params.extend(self.moves.iter().map(|m| sea_orm::Value::from(m.delta)));
        let done = txn.execute_raw(Statement::from_sql_and_values(backend, sql, params)).await?;
        if usize::try_from(done.rows_affected()).ok() != Some(self.moves.len()) {
            let ids: Vec<i64> = self.moves.iter().map(|m| m.account_id).collect();
            return Err(refused(txn, &ids).await);
        }
        Ok(())
    }
}

/// Why a guarded move changed fewer accounts than it named: a guard refused (a shortfall the caller reports), or an
/// account is missing, which is a bug (the ledger resolves every account it names, and accounts are never deleted).
async fn refused(txn: &impl ConnectionTrait, ids: &[i64]) -> Error {
    let found =
        ledger_accounts::Entity::find().filter(ledger_accounts::Column::Id.is_in(ids.iter().copied())).count(txn).await;
    match found {
        Ok(n) if usize::try_from(n).ok() == Some(ids.len()) => Error::Conflict(Conflict::InsufficientBalance),
        Ok(_) => Error::Internal(anyhow::anyhow!("an account named by a journal entry does not exist")),
        Err(err) => err.into(),
    }
}

/// Posts `draft` like [`post`] but leaves the balance moves to the caller, to apply last.
pub async fn post_deferred(txn: &impl ConnectionTrait, draft: &Draft) -> Result<(i64, BalanceMoves)> {
    let mut lines = Deferred::new();
    let posted = post_into(txn, draft, &mut lines).await?;
    lines.flush(txn).await?;
    Ok(posted)
}

/// Inserts `draft`'s entry now and adds its lines to `deferred`; the balance moves are left to the caller, to
/// apply after the deferred writes.
pub async fn post_into(
    txn: &impl ConnectionTrait,
    draft: &Draft,
    deferred: &mut Deferred,
) -> Result<(i64, BalanceMoves)> {
    draft.check_balanced()?;
    let lines = draft.merged();
    let accounts = resolve(txn, draft.merchant_id, lines.keys(), &draft.known).await?;
    let now = Utc::now();
    let entry = journal_entries::Entity::insert(journal_entries::ActiveModel {
        merchant_id: Set(draft.merchant_id),
        store_id: Set(draft.store_id),
        kind: Set(draft.kind.to_owned()),
        memo: Set(draft.memo.clone()),
        staff_id: Set(match draft.cause {
            Cause::Staff(id) => Some(id),
            Cause::Job(_) => None,
        }),
        job: Set(match draft.cause {
            Cause::Job(name) => Some(name.to_owned()),
            Cause::Staff(_) => None,
        }),
        member_id: Set(draft.member_id),
        bill_id: Set(draft.bill_id),
        payment_id: Set(None),
        idempotency_key: Set(draft.idempotency_key.clone()),
        fingerprint: Set(draft.fingerprint.clone()),
        created_at: Set(now),
        ..Default::default()
    })
    .exec(txn)
    .await?
    .last_insert_id;

    let journal =
        journal_lines::Entity::insert_many(lines.iter().map(|(account, amount)| journal_lines::ActiveModel {
            entry_id: Set(entry),
            account_id: Set(accounts[&account.key()].id),
            amount: Set(*amount),
            ..Default::default()
        }));
    deferred.push(journal.into_query(), Check::Any);

    let mut moves: Vec<Move> = lines
        .iter()
        .map(|(account, amount)| {
            let row = &accounts[&account.key()];
            let delta = if row.debit_normal { *amount } else { -*amount };
            Move { account_id: row.id, shared: row.store_id.is_some(), delta }
        })
        .collect();
    moves.sort_by_key(|m| (m.shared, m.account_id));
    Ok((entry, BalanceMoves { moves, at: now }))
}

/// The rows of `accounts`, from `known` or else read, created where missing (concurrent creators meet at the
/// unique key).
async fn resolve<'a>(
    conn: &impl ConnectionTrait,
    merchant_id: i64,
    accounts: impl Iterator<Item = &'a Account> + Clone,
    known: &BTreeMap<String, ledger_accounts::Model>,
) -> Result<BTreeMap<String, ledger_accounts::Model>> {
    let mut found = BTreeMap::new();
    let mut unknown = Vec::new();
    for key in accounts.clone().map(Account::key) {
        match known.get(&key) {
            Some(row) => {
                found.insert(key, row.clone());
            }
            None => unknown.push(key),
        }
    }
    if !unknown.is_empty() {
        found.extend(find_by_keys(conn, merchant_id, &unknown).await?);
    }
    let missing: Vec<&Account> = accounts.filter(|account| !found.contains_key(&account.key())).collect();
    if !missing.is_empty() {
        let now = Utc::now();
        ledger_accounts::Entity::insert_many(missing.iter().map(|account| {
            let kind = account.kind();
            let (store_id, member_id) = match account {
                Account::Member { member_id, .. } | Account::Card { member_id, .. } => (None, Some(*member_id)),
                Account::Store { store_id, .. } => (Some(*store_id), None),
            };
            ledger_accounts::ActiveModel {
                merchant_id: Set(merchant_id),
                key: Set(account.key()),
                kind: Set(kind.as_str().to_owned()),
                store_id: Set(store_id),
                member_id: Set(member_id),
                unit: Set(kind.unit().as_str().to_owned()),
                debit_normal: Set(kind.debit_normal()),
                floor_zero: Set(kind.floor_zero()),
                balance: Set(0),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
        }))
        .on_conflict_do_nothing_on([ledger_accounts::Column::MerchantId, ledger_accounts::Column::Key])
        .exec(conn)
        .await?;
        let missing_keys: Vec<String> = missing.iter().map(|account| account.key()).collect();
        found.extend(find_by_keys(conn, merchant_id, &missing_keys).await?);
    }
    Ok(found)
}

async fn find_by_keys(
    conn: &impl ConnectionTrait,
    merchant_id: i64,
    keys: &[String],
) -> Result<BTreeMap<String, ledger_accounts::Model>> {
    Ok(ledger_accounts::Entity::find()
        .filter(ledger_accounts::Column::MerchantId.eq(merchant_id))
        .filter(ledger_accounts::Column::Key.is_in(keys.iter().cloned()))
        .all(conn)
        .await?
        .into_iter()
        .map(|row| (row.key.clone(), row))
        .collect())
}

/// Ensures the accounts exist (so a card can point at them before any value moves) and returns their ids.
pub async fn open_accounts(conn: &impl ConnectionTrait, merchant_id: i64, accounts: &[Account]) -> Result<Vec<i64>> {
    let rows = resolve(conn, merchant_id, accounts.iter(), &BTreeMap::new()).await?;
    Ok(accounts.iter().map(|account| rows[&account.key()].id).collect())
}

/// Current balances of `accounts` (zero for accounts never used), in their natural direction.
pub async fn balances(conn: &impl ConnectionTrait, merchant_id: i64, accounts: &[Account]) -> Result<Vec<i64>> {
    let keys: Vec<String> = accounts.iter().map(Account::key).collect();
    let rows = find_by_keys(conn, merchant_id, &keys).await?;
    Ok(keys.iter().map(|key| rows.get(key).map_or(0, |row| row.balance)).collect())
}

/// [`balances`] inside `draft`'s transaction, read in one query with the accounts the draft expects; every row
/// read is kept for posting.
pub async fn balances_for(conn: &impl ConnectionTrait, draft: &mut Draft, accounts: &[Account]) -> Result<Vec<i64>> {
    let mut keys: Vec<String> = accounts.iter().map(Account::key).collect();
    let known = &draft.known;
    keys.extend(draft.expected.drain(..).map(|account| account.key()).filter(|key| !known.contains_key(key)));
    keys.sort_unstable();
    keys.dedup();
    let rows = find_by_keys(conn, draft.merchant_id, &keys).await?;
    let balances = accounts.iter().map(|account| rows.get(&account.key()).map_or(0, |row| row.balance)).collect();
    draft.known.extend(rows);
    Ok(balances)
}

/// The entry an idempotency key already made, if any; a different request under the same key is refused.
pub(crate) async fn replay(
    conn: &impl ConnectionTrait,
    merchant_id: i64,
    key: &str,
    fingerprint: &str,
) -> Result<Option<journal_entries::Model>> {
    let Some(entry) = journal_entries::Entity::find()
        .filter(journal_entries::Column::MerchantId.eq(merchant_id))
        .filter(journal_entries::Column::IdempotencyKey.eq(key))
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    if entry.fingerprint.as_deref() != Some(fingerprint) {
        return Err(Error::Conflict(Conflict::IdempotencyKeyReused));
    }
    Ok(Some(entry))
}

/// Runs `post` (which posts one entry carrying `key` and `fingerprint` and commits) unless the key was seen.
/// A concurrent twin that commits first turns our unique violation into a replay. Returns the entry id and
/// whether it was a replay.
pub(crate) async fn once<F, Fut>(
    db: &sea_orm::DatabaseConnection,
    merchant_id: i64,
    key: &str,
    fingerprint: &str,
    post: F,
) -> Result<(i64, bool)>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<i64>>,
{
    if let Some(entry) = replay(db, merchant_id, key, fingerprint).await? {
        return Ok((entry.id, true));
    }
    match post().await {
        Ok(entry_id) => Ok((entry_id, false)),
        Err(Error::Database(err)) if crate::error::is_unique_violation(&err) => {
            let entry = replay(db, merchant_id, key, fingerprint).await?.ok_or(Error::Database(err))?;
            Ok((entry.id, true))
        }
        Err(other) => Err(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_and_distinct() {
        assert_eq!(Account::member(7, AccountKind::SvBonus).key(), "member:7:sv_bonus");
        assert_eq!(Account::store(3, AccountKind::Cash).key(), "store:3:cash");
        assert_eq!(Account::revenue(3, "hair").key(), "store:3:revenue:hair");
    }

    #[test]
    fn unbalanced_drafts_are_refused() {
        let mut draft = Draft::new(1, "test", Cause::Job("test"));
        draft.debit(Account::store(1, AccountKind::Cash), 100).credit(Account::member(1, AccountKind::SvPrincipal), 99);
        assert!(draft.check_balanced().is_err());
        draft.credit(Account::member(1, AccountKind::SvBonus), 1);
        assert!(draft.check_balanced().is_ok());
    }

    #[test]
    fn lines_on_one_account_merge() {
        let mut draft = Draft::new(1, "test", Cause::Job("test"));
        let cash = Account::store(1, AccountKind::Cash);
        draft.debit(cash.clone(), 100).credit(cash.clone(), 100).debit(cash.clone(), 5);
        assert_eq!(draft.merged().into_iter().collect::<Vec<_>>(), vec![(cash, 5)]);
    }
}
