//! What a settlement writes, in one transaction, in this order: the tenders (money in), the lines and what each
//! delivers, points spent and earned, commission, the member's spend and level; and last the writes nothing reads
//! back, the member's balances with what the receipts state about them, and the store's balances, so the rows every
//! cashier of a store shares are locked only until commit.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryTrait};
use serde_json::json;

use entity::{bill_lines, bill_tenders, bills, members};

use super::read::{Bill, to_bill};
use super::resolve::{Resolved, ResolvedLine};
use super::tenders::{CheckedTender, tender_account};
use crate::cards::{count_cards, stored_value};
use crate::checkout::pricing::{Priced, PricedLine};
use crate::commission::CommissionLine;
use crate::domain::{Fen, LineKind, Points};
use crate::foundation::principal::StaffPrincipal;
use crate::ledger::deferred::{Check, Deferred};
use crate::ledger::posting::Posting;
use crate::ledger::{Account, BalanceMoves, Cause};
use crate::loyalty::points::{self, NewLot};
use crate::store::print_queue::{self, JobKind};
use crate::store::products::StockMoves;
use crate::{Conflict, Error, Result};

/// Who settles: the cashier, or the cashier who started a payment that completed later.
#[derive(Clone, Copy, Debug)]
pub(super) struct By {
    pub(super) merchant_id: i64,
    pub(super) staff_id: i64,
}

impl By {
    pub(super) fn staff(principal: &StaffPrincipal) -> Self {
        Self { merchant_id: principal.merchant_id, staff_id: principal.staff_id }
    }
}

/// A checked bill to write: who settles it, its row (already marked settled), what its draft resolved to, its price
/// and its tenders.
#[derive(Clone, Copy)]
pub(super) struct Settlement<'a> {
    pub(super) by: By,
    pub(super) bill_id: i64,
    pub(super) resolved: &'a Resolved,
    pub(super) priced: &'a Priced,
    pub(super) tenders: &'a [CheckedTender],
}

impl Settlement<'_> {
    fn lines(&self) -> impl Iterator<Item = (&ResolvedLine, &PricedLine)> {
        self.resolved.lines.iter().zip(&self.priced.lines)
    }
}

/// What a settlement wrote besides the bill row, so the answer needs no second read.
pub(super) struct Written {
    pub(super) entry_id: i64,
    pub(super) change: Fen,
    pub(super) lines: Vec<bill_lines::Model>,
    pub(super) tenders: Vec<bill_tenders::Model>,
    pub(super) coupons: Vec<crate::coupons::UsedCoupon>,
}

impl Written {
    /// The settled bill: `row` as claimed or inserted, with what was written since.
    pub(super) fn into_bill(self, mut row: bills::Model) -> Result<Bill> {
        row.entry_id = Some(self.entry_id);
        row.change_fen = self.change.get();
        let (mut lines, mut tenders) = (self.lines, self.tenders);
        lines.sort_by_key(|l| l.id);
        tenders.sort_by_key(|t| t.id);
        to_bill(row, lines, tenders, self.coupons, false)
    }
}

/// Writes everything `settlement` does on `txn`, at `now`.
pub(super) async fn write_settlement(
    txn: &DatabaseTransaction,
    settlement: Settlement<'_>,
    now: DateTime<Utc>,
) -> Result<Written> {
    let Settlement { by, bill_id, resolved, .. } = settlement;
    let mut posting = Posting::new(txn, now, by.merchant_id, resolved.store_id, "sale", Cause::Staff(by.staff_id))
        .for_member(resolved.member_id())
        .for_bill(bill_id)
        .memo(format!("结账 #{bill_id}"));
    // The writes nothing in this transaction reads back, sent last. Each coupon's guarded use is one of them: of two
    // settlements naming one, the second touches no row there and its transaction is dropped.
    let mut tail = Deferred::new();
    for coupon in &resolved.coupons {
        tail.push(
            crate::coupons::redeem::consume_statement(coupon.id, bill_id, now),
            Check::Exactly(1, Conflict::CouponUnusable),
        );
    }
    let coupons = crate::coupons::redeem::as_applied(&resolved.coupons, settlement.priced);
    if let Some(record) = crate::coupons::redeem::record_statement(bill_id, &coupons)? {
        tail.push(record, Check::Any);
    }
    expect_accounts(&mut posting, settlement);
    let tenders = take_tenders(&mut posting, settlement).await?;
    let delivered = deliver_lines(&mut posting, settlement).await?;
    let expiry = move_points(&mut posting, &mut tail, settlement).await?;
    record_commission(&posting, settlement, &delivered).await?;
    add_spend(txn, settlement).await?;
    if let Some(member_id) = resolved.member_id().filter(|_| resolved.reference.purchase_gifts) {
        let total = settlement.priced.total;
        crate::coupons::issue::gifts_with_purchase(
            txn,
            by.merchant_id,
            resolved.store_id,
            member_id,
            bill_id,
            total,
            now,
        )
        .await?;
    }
    let cards = touched_cards(&delivered.rows);
    let (entry_id, change) = finish(posting, tail, settlement, delivered.stock, expiry, &cards).await?;
    Ok(Written { entry_id, change, lines: delivered.rows, tenders, coupons })
}

/// The store's accounts this bill posts to are read with the member's balances (by the first stored-value debit):
/// one query, not two.
fn expect_accounts(posting: &mut Posting<'_, DatabaseTransaction>, settlement: Settlement<'_>) {
    let store_id = posting.store_id();
    let draft = &mut posting.draft;
    draft.expect(settlement.tenders.iter().filter_map(|tender| tender_account(tender.kind, store_id)));
    let revenue_lines = settlement.resolved.lines.iter().filter(|line| line.earns_revenue());
    draft.expect(revenue_lines.map(|line| Account::revenue(store_id, &line.category)));
    if let Some(member) = settlement.resolved.member_id().filter(|_| settlement.priced.points_earned > Points::ZERO) {
        draft.expect(points::earn_accounts(store_id, member));
    }
}

/// Money in: each tender's account is debited (stored value from the member's card, split by the merchant's
/// rule), and the tender rows written.
async fn take_tenders(
    posting: &mut Posting<'_, DatabaseTransaction>,
    settlement: Settlement<'_>,
) -> Result<Vec<bill_tenders::Model>> {
    let mut rows = Vec::with_capacity(settlement.tenders.len());
    for tender in settlement.tenders {
        let (principal_part, bonus_part) = match tender_account(tender.kind, posting.store_id()) {
            Some(account) => {
                posting.draft.debit(account, tender.amount);
                (Fen::ZERO, Fen::ZERO)
            }
            None if settlement.resolved.member.is_some() => {
                stored_value::debit_into(posting, tender.amount, settlement.resolved.split).await?
            }
            None => return Err(Error::invalid("tenders", "stored value needs the bill's member")),
        };
        rows.push(bill_tenders::ActiveModel {
            bill_id: Set(settlement.bill_id),
            kind: Set(tender.kind.as_str().to_owned()),
            amount_fen: Set(tender.amount.get()),
            tendered_fen: Set(tender.tendered.get()),
            change_fen: Set(tender.change().get()),
            principal_fen: Set(principal_part.get()),
            bonus_fen: Set(bonus_part.get()),
            refunded_fen: Set(0),
            refunded_principal_fen: Set(0),
            ..Default::default()
        });
    }
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    Ok(bill_tenders::Entity::insert_many(rows).exec_with_returning(posting.conn).await?)
}

/// What the lines delivered: their rows, what each earned the store for commission (its net, or a count-card
/// session's recognised value), and the stock they move.
struct Delivered {
    rows: Vec<bill_lines::Model>,
    bases: Vec<i64>,
    stock: StockMoves,
}

/// What each line delivers: sessions taken from a count card, a count card sold, a recharge, stock sold or given
/// for points; and the revenue of the rest, by category.
async fn deliver_lines(
    posting: &mut Posting<'_, DatabaseTransaction>,
    settlement: Settlement<'_>,
) -> Result<Delivered> {
    let (store_id, bill_id) = (posting.store_id(), settlement.bill_id);
    let mut stock = StockMoves::new(posting.merchant_id(), store_id, "sale", bill_id, settlement.by.staff_id);
    let mut rows = Vec::with_capacity(settlement.resolved.lines.len());
    let mut bases = Vec::with_capacity(settlement.resolved.lines.len());
    let mut revenue: BTreeMap<&str, Fen> = BTreeMap::new();
    for (line, priced) in settlement.lines() {
        let (recognised, detail) = deliver(posting, &mut stock, line, priced).await?;
        if line.earns_revenue() {
            *revenue.entry(line.category.as_str()).or_default() += priced.net;
        }
        bases.push(if line.count_card.is_some() { recognised } else { priced.net.get() });
        rows.push(line_row(bill_id, line, priced, recognised, detail)?);
    }
    for (category, amount) in revenue {
        posting.draft.credit(Account::revenue(store_id, category), amount.get());
    }
    let rows = bill_lines::Entity::insert_many(rows).exec_with_returning(posting.conn).await?;
    Ok(Delivered { rows, bases, stock })
}

/// What one line delivers: returns the count-card value it recognised and the line's `detail`.
async fn deliver(
    posting: &mut Posting<'_, DatabaseTransaction>,
    stock: &mut StockMoves,
    line: &ResolvedLine,
    priced: &PricedLine,
) -> Result<(i64, serde_json::Value)> {
    match line.kind {
        LineKind::Service => match &line.count_card {
            Some(card) => {
                let taken = count_cards::Use {
                    card_id: card.id,
                    service_item_id: line.item_id,
                    quantity: i64::from(line.quantity),
                    category: &line.category,
                };
                Ok(((count_cards::use_into(posting, taken).await?).get(), json!({})))
            }
            None => Ok((0, json!({}))),
        },
        LineKind::Product | LineKind::Gift => {
            stock.add(line.item_id, -i64::from(line.quantity));
            Ok((0, json!({})))
        }
        LineKind::CardSale => {
            let product = line.card_product.as_ref().ok_or(Error::invalid("lines", "no count-card product"))?;
            let card_id = count_cards::issue_into(posting, product).await?;
            Ok((0, json!({ "count_card_id": card_id })))
        }
        LineKind::Recharge => {
            let (bonus, days) = line.recharge.unwrap_or((Fen::ZERO, None));
            stored_value::recharge_into(posting, priced.net, bonus, days).await?;
            Ok((0, json!({ "bonus_fen": bonus })))
        }
    }
}

fn line_row(
    bill_id: i64,
    line: &ResolvedLine,
    priced: &PricedLine,
    recognised: i64,
    detail: serde_json::Value,
) -> Result<bill_lines::ActiveModel> {
    Ok(bill_lines::ActiveModel {
        bill_id: Set(bill_id),
        kind: Set(line.kind.as_str().to_owned()),
        item_id: Set(line.item_id),
        name: Set(line.name.clone()),
        category: Set(line.category.clone()),
        quantity: Set(line.quantity),
        unit_price_fen: Set(line.unit_price.get()),
        amount_fen: Set(priced.amount.get()),
        staff: Set(serde_json::to_string(&line.staff).map_err(anyhow::Error::from)?),
        discount_fen: Set(priced.discount.get()),
        coupon_fen: Set(priced.coupon.get()),
        points_offset_fen: Set(priced.points_offset.get()),
        net_fen: Set(priced.net.get()),
        count_card_id: Set(line.count_card.as_ref().map(|c| c.id)),
        recognised_fen: Set(recognised),
        points_earned: Set(priced.points_earned.get()),
        points_redeemed: Set(priced.points_redeemed.get()),
        refunded_quantity: Set(0),
        refunded_fen: Set(0),
        detail: Set(detail.to_string()),
        ..Default::default()
    })
}

/// Points spent on the offset and the gifts, and earned on what was paid (the new lot is a deferred write).
/// Returns the balance moves of lots written off as expired on the way, to merge into the settlement's own.
async fn move_points(
    posting: &mut Posting<'_, DatabaseTransaction>,
    tail: &mut Deferred,
    settlement: Settlement<'_>,
) -> Result<Option<BalanceMoves>> {
    if settlement.resolved.member.is_none() {
        return Ok(None);
    }
    let priced = settlement.priced;
    let expiry = points::spend_into(posting, Points::new((priced.points_used + priced.points_redeemed).get())).await?;
    let validity_days = settlement.resolved.settings.points_validity_days;
    let lot = NewLot { points: priced.points_earned, source: "earn", validity_days };
    points::grant_deferred(posting, tail, lot)?;
    Ok(expiry)
}

/// Commission on every line with staff.
async fn record_commission(
    posting: &Posting<'_, DatabaseTransaction>,
    settlement: Settlement<'_>,
    delivered: &Delivered,
) -> Result<()> {
    let lines: Vec<CommissionLine<'_>> = settlement
        .resolved
        .lines
        .iter()
        .zip(&delivered.rows)
        .zip(&delivered.bases)
        .map(|((line, row), basis)| CommissionLine {
            bill_line_id: row.id,
            line_kind: line.kind.as_str(),
            item_id: line.item_id,
            category: &line.category,
            quantity: i64::from(line.quantity),
            basis_fen: Fen::new(*basis),
            staff: &line.staff,
        })
        .collect();
    let (merchant_id, store_id) = (posting.merchant_id(), posting.store_id());
    crate::commission::record(posting.conn, merchant_id, store_id, settlement.bill_id, &lines, posting.now).await
}

/// The member's spend, and a higher level when it now qualifies.
async fn add_spend(txn: &DatabaseTransaction, settlement: Settlement<'_>) -> Result<()> {
    let Some(member) = &settlement.resolved.member else { return Ok(()) };
    let spend: Fen =
        settlement.lines().filter(|(line, _)| line.kind != LineKind::Recharge).map(|(_, priced)| priced.net).sum();
    // RETURNING gives the totals after this bill, read under the row lock the update takes.
    let updated = members::Entity::update_many()
        .col_expr(members::Column::TotalSpendFen, Expr::col(members::Column::TotalSpendFen).add(spend))
        .filter(members::Column::Id.eq(member.id))
        .exec_with_returning(txn)
        .await?;
    if let Some(member) = updated.first() {
        let resolved = settlement.resolved;
        let cause = serde_json::json!({ "bill_id": settlement.bill_id });
        crate::loyalty::levels::raise(txn, &resolved.reference.levels, &resolved.settings, member, cause).await?;
    }
    Ok(())
}

/// The count cards a bill used sessions of or sold, by the line that did.
fn touched_cards(rows: &[bill_lines::Model]) -> Vec<i64> {
    let sold = |row: &bill_lines::Model| {
        let detail: serde_json::Value = serde_json::from_str(&row.detail).ok()?;
        detail.get("count_card_id")?.as_i64()
    };
    let mut ids: Vec<i64> = rows.iter().filter_map(|row| row.count_card_id.or_else(|| sold(row))).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Last, the writes nothing reads back, in one statement on PostgreSQL (`deferred`): the points lot, the journal
/// lines and the bill's entry; the member's balances, and what the receipts state about the member read back from
/// them; the receipts and the stock (a row every cashier of the store shares); then the store's balances. The
/// store's rows are locked only until commit. Returns the entry and the change.
async fn finish(
    posting: Posting<'_, DatabaseTransaction>,
    mut tail: Deferred,
    settlement: Settlement<'_>,
    stock: StockMoves,
    expiry: Option<BalanceMoves>,
    cards: &[i64],
) -> Result<(i64, Fen)> {
    let (txn, merchant_id, store_id, bill_id, now) =
        (posting.conn, posting.merchant_id(), posting.store_id(), settlement.bill_id, posting.now);
    let (entry_id, mut balance_moves) = posting.post_into(&mut tail).await?;
    if let Some(expiry) = expiry {
        balance_moves.merge(expiry);
    }
    let change: Fen = settlement.tenders.iter().map(CheckedTender::change).sum();
    let link = bills::Entity::update_many()
        .col_expr(bills::Column::EntryId, Expr::value(entry_id))
        .col_expr(bills::Column::ChangeFen, Expr::value(change))
        .filter(bills::Column::Id.eq(bill_id))
        .into_query();
    tail.push(link, Check::Any);
    tail.flush(txn).await?;
    let (member_moves, store_moves) = balance_moves.split_member();
    member_moves.apply(txn).await?;
    // What the receipts state is what this bill left the member with, however late they print.
    let stated = match settlement.resolved.member_id() {
        Some(member_id) => Some(crate::cards::statement(txn, merchant_id, member_id, cards, now).await?),
        None => None,
    };
    let mut last = Deferred::new();
    let job = |kind| print_queue::Job { merchant_id, store_id, kind, subject_id: bill_id, stated: stated.as_ref() };
    print_queue::queue_deferred(&mut last, job(JobKind::Bill))?;
    if settlement.resolved.lines.iter().any(|line| line.count_card.is_some()) {
        print_queue::queue_deferred(&mut last, job(JobKind::CountCardSlip))?;
    }
    stock.defer(txn, &mut last).await?;
    last.flush(txn).await?;
    store_moves.apply(txn).await?;
    Ok((entry_id, change))
}
