//! Shift handover (交班): what a cashier took, per payment method, from the end of their last handover (or the start
//! of the store's day) until now, read from the ledger so that sales, desk recharges, card refunds and bill refunds
//! all count, each net of what went back out. Handing over records it and prints the summary.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::json;

use entity::{handovers, journal_entries, journal_lines, ledger_accounts, staff};

use crate::booking::calendar::Calendar;
use crate::domain::{Fen, Permission};
use crate::foundation::principal::StaffPrincipal;
use crate::store::print_queue::{self, JobKind};
use crate::{AppContext, Error, Result};

/// The store accounts money is taken into.
pub(crate) const TAKINGS: [&str; 4] = ["cash", "bank_card", "wechat_pay", "alipay"];

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Handover {
    /// 0 while not handed over (a preview).
    pub id: i64,
    pub store_id: i64,
    pub staff_id: i64,
    pub staff_name: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Payment method → net fen, every method listed.
    pub takings: BTreeMap<String, i64>,
    /// Entry kind → how many (`sale`, `recharge`, `refund`, …).
    pub entries: BTreeMap<String, u64>,
    pub total: i64,
    /// The float the shift started with: what the cashier's previous handover today left in the drawer.
    pub opening_float: Fen,
    /// What the drawer should hold: the opening float plus the shift's net cash.
    pub expected_cash: Fen,
    /// Recorded handovers: the cash counted, the float left for the next shift, and counted − expected.
    pub cash_counted: Option<Fen>,
    pub float: Option<Fen>,
    pub over_short: Option<Fen>,
}

/// What the cashier says at the handover.
#[derive(Clone, Copy, Debug)]
pub struct HandoverInput {
    /// The cash counted in the drawer.
    pub cash_counted: Fen,
    /// Left in the drawer for the next shift (备用金); the rest goes to the safe.
    pub float: Fen,
}

async fn staff_name(ctx: &AppContext, staff_id: i64) -> Result<String> {
    Ok(staff::Entity::find_by_id(staff_id).one(&ctx.db).await?.map(|s| s.display_name).unwrap_or_default())
}

/// Where the cashier's shift began: the end of their last handover at the store, else the start of its day.
/// Where the shift starts (the cashier's last handover today, or the start of the day) and the float it left.
async fn shift_start(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    store: &entity::stores::Model,
) -> Result<(DateTime<Utc>, Fen)> {
    let last = handovers::Entity::find()
        .filter(handovers::Column::StoreId.eq(store.id))
        .filter(handovers::Column::StaffId.eq(principal.staff_id))
        .order_by_desc(handovers::Column::ToAt)
        .one(&ctx.db)
        .await?;
    let calendar = Calendar::new(&store.timezone);
    let day_start = crate::booking::calendar::from_minutes(calendar.day(calendar.today(ctx.now())).start);
    Ok(match last {
        Some(last) if last.to_at > day_start => (last.to_at, Fen::new(last.float_fen.unwrap_or(0))),
        _ => (day_start, Fen::ZERO),
    })
}

/// A line of money taken into one of a store's tender accounts.
pub(crate) struct TenderLine {
    pub(crate) entry_id: i64,
    /// The tender account's kind: one of [`TAKINGS`].
    pub(crate) kind: String,
    /// Tender accounts are assets: money in is a debit (positive), a refund paid out negative.
    pub(crate) amount: i64,
}

/// The lines of `entry_ids` on the store's tender accounts: what those entries took, per method, read from the
/// ledger so that sales, desk recharges and refunds all count.
pub(crate) async fn tender_lines(
    conn: &impl ConnectionTrait,
    merchant_id: i64,
    store_id: i64,
    entry_ids: &[i64],
) -> Result<Vec<TenderLine>> {
    let accounts: HashMap<i64, String> = ledger_accounts::Entity::find()
        .filter(ledger_accounts::Column::MerchantId.eq(merchant_id))
        .filter(ledger_accounts::Column::StoreId.eq(store_id))
        .filter(ledger_accounts::Column::Kind.is_in(TAKINGS))
        .all(conn)
        .await?
        .into_iter()
        .map(|a| (a.id, a.kind))
        .collect();
    let account_ids: Vec<i64> = accounts.keys().copied().collect();
    let mut out = Vec::new();
    for chunk in entry_ids.chunks(500) {
        let lines = journal_lines::Entity::find()
            .filter(journal_lines::Column::EntryId.is_in(chunk.to_vec()))
            .filter(journal_lines::Column::AccountId.is_in(account_ids.clone()))
            .all(conn)
            .await?;
        out.extend(lines.into_iter().filter_map(|line| {
            let kind = accounts.get(&line.account_id)?.clone();
            Some(TenderLine { entry_id: line.entry_id, kind, amount: line.amount })
        }));
    }
    Ok(out)
}

/// What the cashier took at `store_id` in `[from, to)`.
async fn tally(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    store_id: i64,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<(BTreeMap<String, i64>, BTreeMap<String, u64>)> {
    let entries: Vec<(i64, String)> = journal_entries::Entity::find()
        .select_only()
        .column(journal_entries::Column::Id)
        .column(journal_entries::Column::Kind)
        .filter(journal_entries::Column::MerchantId.eq(principal.merchant_id))
        .filter(journal_entries::Column::StaffId.eq(principal.staff_id))
        .filter(journal_entries::Column::StoreId.eq(store_id))
        .filter(journal_entries::Column::CreatedAt.gte(from))
        .filter(journal_entries::Column::CreatedAt.lt(to))
        .into_tuple()
        .all(&ctx.db)
        .await?;
    let mut takings: BTreeMap<String, i64> = TAKINGS.iter().map(|k| ((*k).to_owned(), 0)).collect();
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for (_, kind) in &entries {
        *counts.entry(kind.clone()).or_default() += 1;
    }
    let ids: Vec<i64> = entries.iter().map(|(id, _)| *id).collect();
    for line in tender_lines(&ctx.db, principal.merchant_id, store_id, &ids).await? {
        *takings.entry(line.kind).or_default() += line.amount;
    }
    Ok((takings, counts))
}

/// The cashier's shift so far, not recorded.
pub async fn preview(ctx: &AppContext, principal: &StaffPrincipal, store_id: i64) -> Result<Handover> {
    principal.require(Permission::Checkout)?;
    let store = crate::foundation::stores::get(ctx, principal, store_id).await?;
    let (from, opening_float) = shift_start(ctx, principal, &store).await?;
    // Microseconds, as every backend stores them: the next shift starts exactly where this one ends.
    let to = chrono::SubsecRound::trunc_subsecs(ctx.now(), 6);
    let (takings, entries) = tally(ctx, principal, store_id, from, to).await?;
    Ok(Handover {
        id: 0,
        store_id,
        staff_id: principal.staff_id,
        staff_name: staff_name(ctx, principal.staff_id).await?,
        from,
        to,
        total: takings.values().sum(),
        opening_float,
        expected_cash: opening_float + Fen::new(takings.get("cash").copied().unwrap_or(0)),
        takings,
        entries,
        cash_counted: None,
        float: None,
        over_short: None,
    })
}

/// Hands over: records the shift so far (the next one starts where it ends) and prints its summary.
pub async fn hand_over(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    store_id: i64,
    input: HandoverInput,
) -> Result<Handover> {
    if input.cash_counted < Fen::ZERO || input.cash_counted > Fen::MAX_AMOUNT {
        return Err(Error::invalid("cash_counted_fen", "must be 0 to ￥1,000,000 (in fen)"));
    }
    if input.float < Fen::ZERO || input.float > input.cash_counted {
        return Err(Error::invalid("float_fen", "must be 0 up to the cash counted"));
    }
    let mut summary = preview(ctx, principal, store_id).await?;
    if summary.entries.is_empty() {
        return Err(Error::Conflict(crate::Conflict::NothingToHandOver));
    }
    summary.cash_counted = Some(input.cash_counted);
    summary.float = Some(input.float);
    summary.over_short = Some(input.cash_counted - summary.expected_cash);
    let txn = sea_orm::TransactionTrait::begin(&ctx.db).await?;
    let row = handovers::ActiveModel {
        merchant_id: Set(principal.merchant_id),
        store_id: Set(store_id),
        staff_id: Set(principal.staff_id),
        from_at: Set(summary.from),
        to_at: Set(summary.to),
        takings: Set(serde_json::to_string(&summary.takings).map_err(anyhow::Error::from)?),
        entries: Set(serde_json::to_string(&summary.entries).map_err(anyhow::Error::from)?),
        total_fen: Set(summary.total),
        cash_counted_fen: Set(summary.cash_counted.map(Fen::get)),
        float_fen: Set(summary.float.map(Fen::get)),
        over_short_fen: Set(summary.over_short.map(Fen::get)),
        created_at: Set(ctx.now()),
        ..Default::default()
    }
    .insert(&txn)
    .await
    // The same shift handed over at the same moment by a second click: the first one recorded it.
    .map_err(|e| {
        if crate::error::is_unique_violation(&e) {
            Error::Conflict(crate::Conflict::NothingToHandOver)
        } else {
            e.into()
        }
    })?;
    let slip = print_queue::Job {
        merchant_id: principal.merchant_id,
        store_id,
        kind: JobKind::Handover,
        subject_id: row.id,
        stated: None,
    };
    print_queue::queue_into(&txn, slip).await?;
    let detail = json!({
        "store_id": store_id, "total_fen": summary.total, "cash_counted_fen": input.cash_counted,
        "float_fen": input.float, "over_short_fen": summary.over_short,
    });
    crate::foundation::audit::by_staff(&txn, principal, "handover.recorded", ("handover", row.id), detail).await?;
    txn.commit().await?;
    crate::store::print_queue::announce(ctx, store_id).await;
    summary.id = row.id;
    Ok(summary)
}

fn from_row(row: handovers::Model, staff_name: String) -> Result<Handover> {
    let takings: BTreeMap<String, i64> = crate::domain::stored_json("a handover's takings", &row.takings)?;
    let cash = Fen::new(takings.get("cash").copied().unwrap_or(0));
    // Counted − over/short gives back what was expected, and expected − cash taken the opening float. Handovers
    // recorded before cash was counted hold neither.
    let expected_cash = match (row.cash_counted_fen, row.over_short_fen) {
        (Some(counted), Some(over_short)) => Fen::new(counted - over_short),
        _ => cash,
    };
    Ok(Handover {
        id: row.id,
        store_id: row.store_id,
        staff_id: row.staff_id,
        staff_name,
        from: row.from_at,
        to: row.to_at,
        takings,
        entries: crate::domain::stored_json("a handover's entries", &row.entries)?,
        total: row.total_fen,
        opening_float: expected_cash - cash,
        expected_cash,
        cash_counted: row.cash_counted_fen.map(Fen::new),
        float: row.float_fen.map(Fen::new),
        over_short: row.over_short_fen.map(Fen::new),
    })
}

/// A recorded handover, for printing.
pub(crate) async fn load(ctx: &AppContext, merchant_id: i64, id: i64) -> Result<Handover> {
    let row = handovers::Entity::find_by_id(id)
        .filter(handovers::Column::MerchantId.eq(merchant_id))
        .one(&ctx.db)
        .await?
        .ok_or(Error::NotFound("handover"))?;
    let name = staff_name(ctx, row.staff_id).await?;
    from_row(row, name)
}

/// The store's latest handovers: everyone's for managers, a cashier's own otherwise.
pub async fn list(ctx: &AppContext, principal: &StaffPrincipal, store_id: i64) -> Result<Vec<Handover>> {
    principal.require(Permission::Checkout)?;
    crate::foundation::stores::get(ctx, principal, store_id).await?;
    let mut query = handovers::Entity::find().filter(handovers::Column::StoreId.eq(store_id));
    if !principal.can(Permission::StoreManage) {
        query = query.filter(handovers::Column::StaffId.eq(principal.staff_id));
    }
    let rows = query.order_by_desc(handovers::Column::Id).limit(50).all(&ctx.db).await?;
    let mut names: HashMap<i64, String> = HashMap::new();
    let mut found = Vec::with_capacity(rows.len());
    for row in rows {
        let name = match names.get(&row.staff_id) {
            Some(name) => name.clone(),
            None => {
                let name = staff_name(ctx, row.staff_id).await?;
                names.insert(row.staff_id, name.clone());
                name
            }
        };
        found.push(from_row(row, name)?);
    }
    Ok(found)
}
