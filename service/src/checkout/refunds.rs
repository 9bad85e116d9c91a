//! Refunds of settled bills, by line and in part, and reversal (反结账) of everything left.
//!
//! Every effect of the refunded part goes back in proportion, in one transaction with one balanced journal entry:
//! the money (to the bill's tenders in proportion to what each has left to refund, stored value split back into
//! principal and bonus as it was taken), revenue, count-card sessions and their recognised value, stock, points
//! earned (taken back as far as the member still holds them) and points spent (given back as a new lot),
//! commission, and the member's cumulative spend. Proportions use [`crate::money::share_of`] on the units refunded
//! so far, so refunding a line in several steps gives back exactly what refunding it at once would, and refunding
//! everything returns every balance to where it was before the bill.

use std::collections::BTreeMap;

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, TransactionTrait,
};
use serde_json::json;

use entity::{bill_lines, bill_refund_lines, bill_refunds, bill_tenders, bills, members};

use crate::cards::count_cards::{self, Use};
use crate::cards::stored_value;
use crate::checkout::bills::{Bill, tender_account};
use crate::domain::{Fen, IdempotencyKey, Permission, Points, TenderKind, fingerprint};
use crate::error::is_unique_violation;
use crate::foundation::audit::{self, Actor, Event};
use crate::foundation::principal::StaffPrincipal;
use crate::ledger::posting::Posting;
use crate::ledger::{Account, Cause};
use crate::loyalty::levels;
use crate::loyalty::points::{self, NewLot};
use crate::money::{share_of, spread};
use crate::store::print_queue::{self, JobKind};
use crate::store::products::StockMoves;
use crate::{AppContext, Conflict, Error, Result};

pub struct RefundLineInput {
    pub line_id: i64,
    pub quantity: i32,
}

pub struct RefundInput {
    pub lines: Vec<RefundLineInput>,
    pub reason: String,
    pub idempotency_key: String,
}

#[derive(Clone, Debug)]
pub struct RefundTender {
    pub kind: TenderKind,
    pub amount: Fen,
    pub principal: Fen,
    pub bonus: Fen,
}

#[derive(Clone, Debug)]
pub struct Refund {
    pub id: i64,
    pub bill_id: i64,
    /// `refund` or `reversal`.
    pub kind: String,
    pub amount: Fen,
    pub reason: String,
    pub tenders: Vec<RefundTender>,
    pub lines: Vec<(i64, i32, Fen)>,
    pub entry_id: Option<i64>,
    pub replayed: bool,
    /// The bill afterwards.
    pub bill: Bill,
}

/// Refunds some units of some lines of a settled bill.
pub async fn refund(ctx: &AppContext, principal: &StaffPrincipal, bill_id: i64, input: RefundInput) -> Result<Refund> {
    if input.lines.is_empty() || input.lines.len() > 50 {
        return Err(Error::invalid("lines", "a refund names 1–50 lines"));
    }
    let mut picks: BTreeMap<i64, i32> = BTreeMap::new();
    for line in &input.lines {
        if !(1..=99).contains(&line.quantity) {
            return Err(Error::invalid("lines", "quantity must be 1–99"));
        }
        if picks.insert(line.line_id, line.quantity).is_some() {
            return Err(Error::invalid("lines", "each line at most once"));
        }
    }
    run(ctx, principal, bill_id, Some(picks), &input.reason, &input.idempotency_key).await
}

/// Reverses a settled bill (反结账): refunds everything not refunded yet and marks the bill reversed.
pub async fn reverse(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    bill_id: i64,
    why: &str,
    key: &str,
) -> Result<Refund> {
    run(ctx, principal, bill_id, None, why, key).await
}

async fn replay(ctx: &AppContext, principal: &StaffPrincipal, key: &str, fingerprint: &str) -> Result<Option<Refund>> {
    let Some(row) = bill_refunds::Entity::find()
        .filter(bill_refunds::Column::MerchantId.eq(principal.merchant_id))
        .filter(bill_refunds::Column::IdempotencyKey.eq(key))
        .one(&ctx.db)
        .await?
    else {
        return Ok(None);
    };
    if row.fingerprint != fingerprint {
        return Err(Error::Conflict(Conflict::IdempotencyKeyReused));
    }
    Ok(Some(load(ctx, principal, row, true).await?))
}

async fn load(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    row: bill_refunds::Model,
    replayed: bool,
) -> Result<Refund> {
    let lines = bill_refund_lines::Entity::find()
        .filter(bill_refund_lines::Column::RefundId.eq(row.id))
        .order_by_asc(bill_refund_lines::Column::Id)
        .all(&ctx.db)
        .await?;
    let tenders: Vec<serde_json::Value> = crate::domain::stored_json("a refund's tenders", &row.tenders)?;
    let tenders = tenders
        .iter()
        .map(|t| {
            Ok(RefundTender {
                kind: TenderKind::stored(t["kind"].as_str().unwrap_or_default())?,
                amount: Fen::new(t["amount_fen"].as_i64().unwrap_or_default()),
                principal: Fen::new(t["principal_fen"].as_i64().unwrap_or_default()),
                bonus: Fen::new(t["bonus_fen"].as_i64().unwrap_or_default()),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let bill = crate::checkout::bills::load(&ctx.db, principal.merchant_id, row.bill_id, false).await?;
    Ok(Refund {
        id: row.id,
        bill_id: row.bill_id,
        kind: row.kind,
        amount: Fen::new(row.amount_fen),
        reason: row.reason,
        tenders,
        lines: lines.into_iter().map(|l| (l.bill_line_id, l.quantity, Fen::new(l.amount_fen))).collect(),
        entry_id: row.entry_id,
        replayed,
        bill,
    })
}

/// What a refund or reversal is asked to do: which units of which lines (`None`: everything left), why, under which
/// key.
struct Asked<'a> {
    bill_id: i64,
    picks: Option<BTreeMap<i64, i32>>,
    why: &'a str,
    key: &'a str,
}

async fn run(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    bill_id: i64,
    picks: Option<BTreeMap<i64, i32>>,
    why: &str,
    key: &str,
) -> Result<Refund> {
    run_asked(ctx, principal, Asked { bill_id, picks, why, key }).await
}

async fn run_asked(ctx: &AppContext, principal: &StaffPrincipal, asked: Asked<'_>) -> Result<Refund> {
    principal.require(Permission::Refund)?;
    let Asked { bill_id, picks, .. } = asked;
    let key = IdempotencyKey::parse(asked.key).map_err(|m| Error::invalid("idempotency_key", m))?;
    let why = audit::reason(asked.why)?;
    let merchant_id = principal.merchant_id;
    let kind = if picks.is_none() { "reversal" } else { "refund" };
    let fingerprint = fingerprint(&json!([kind, bill_id, picks, why]));
    if let Some(done) = replay(ctx, principal, key.as_str(), &fingerprint).await? {
        return Ok(done);
    }
    let bill = bills::Entity::find_by_id(bill_id)
        .filter(bills::Column::MerchantId.eq(merchant_id))
        .one(&ctx.db)
        .await?
        .filter(|bill| principal.can_access_store(bill.store_id))
        .ok_or(Error::NotFound("bill"))?;
    let settings = crate::foundation::merchants::loyalty_settings(&ctx.db, merchant_id).await?;
    let now = ctx.now();
    let txn = ctx.db.begin().await?;

    // The bill's row lock: refunds of one bill queue, and each sees what the one before it refunded.
    let locked = bills::Entity::update_many()
        .col_expr(bills::Column::RefundedFen, Expr::col(bills::Column::RefundedFen))
        .filter(bills::Column::Id.eq(bill_id))
        .filter(bills::Column::Status.eq("settled"))
        .exec(&txn)
        .await?;
    if locked.rows_affected != 1 {
        return Err(Error::Conflict(Conflict::BillState));
    }
    let lines = bill_lines::Entity::find()
        .filter(bill_lines::Column::BillId.eq(bill_id))
        .order_by_asc(bill_lines::Column::Id)
        .all(&txn)
        .await?;
    let tenders = bill_tenders::Entity::find()
        .filter(bill_tenders::Column::BillId.eq(bill_id))
        .order_by_asc(bill_tenders::Column::Id)
        .all(&txn)
        .await?;
    let picks = units_to_refund(picks, &lines)?;
    let inserted = bill_refunds::Entity::insert(bill_refunds::ActiveModel {
        merchant_id: Set(merchant_id),
        bill_id: Set(bill_id),
        kind: Set(kind.to_owned()),
        idempotency_key: Set(key.as_str().to_owned()),
        fingerprint: Set(fingerprint.clone()),
        amount_fen: Set(0),
        reason: Set(why.clone()),
        tenders: Set("[]".to_owned()),
        entry_id: Set(None),
        created_by: Set(principal.staff_id),
        created_at: Set(now),
        ..Default::default()
    })
    .exec(&txn)
    .await;
    let refund_id = match inserted {
        Ok(result) => result.last_insert_id,
        Err(err) if is_unique_violation(&err) => {
            drop(txn);
            return replay(ctx, principal, key.as_str(), &fingerprint).await?.ok_or(Error::Database(err));
        }
        Err(err) => return Err(err.into()),
    };

    let memo = format!("{} #{bill_id}: {why}", if kind == "reversal" { "反结账" } else { "退款" });
    let mut posting = Posting::new(&txn, now, merchant_id, bill.store_id, kind, Cause::Staff(principal.staff_id))
        .for_member(bill.member_id)
        .for_bill(bill_id)
        .memo(memo);
    let standing = match bill.member_id {
        Some(member_id) => Some(levels::standing(&txn, merchant_id, member_id).await?),
        None => None,
    };
    let back = return_lines(&mut posting, &bill, &lines, &picks, refund_id, principal.staff_id).await?;
    let amounts = money_back_per_tender(&tenders, &lines, &back)?;
    let refund = ProviderRefund { refund_id, why: &why };
    let tender_record = return_money(&mut posting, &tenders, amounts, refund).await?;
    return_points(&mut posting, &back, settings.points_validity_days).await?;
    // Before the store's rows, as a settlement takes a gift template's row before them (the same order, no
    // deadlock). A bill given back whole (reversed, or every unit of every line refunded) gives its coupons back too.
    let whole = kind == "reversal"
        || bill_lines::Entity::find()
            .filter(bill_lines::Column::BillId.eq(bill_id))
            .all(&txn)
            .await?
            .iter()
            .all(|line| line.refunded_quantity >= line.quantity);
    let coupon_back = if whole { crate::coupons::redeem::give_back(&txn, bill_id).await? } else { 0 };
    // And the gifts its purchase gave (满赠) go back, unless used already.
    let gifts = if whole {
        crate::coupons::issue::withdraw_gifts_of(&txn, merchant_id, bill_id).await?
    } else {
        crate::coupons::issue::GiftsBack::default()
    };
    // The store's shared rows last: its stock, then (inside `post`) its ledger accounts.
    back.stock.apply(&txn).await?;
    let entry_id = posting.post().await?;
    let money_back = back.money;
    bill_refunds::Entity::update_many()
        .col_expr(bill_refunds::Column::AmountFen, Expr::value(money_back))
        .col_expr(bill_refunds::Column::EntryId, Expr::value(entry_id))
        .col_expr(bill_refunds::Column::Tenders, Expr::value(serde_json::Value::Array(tender_record).to_string()))
        .filter(bill_refunds::Column::Id.eq(refund_id))
        .exec(&txn)
        .await?;
    let mut update = bills::Entity::update_many()
        .col_expr(bills::Column::RefundedFen, Expr::col(bills::Column::RefundedFen).add(money_back))
        .filter(bills::Column::Id.eq(bill_id));
    if kind == "reversal" {
        update = update
            .col_expr(bills::Column::Status, Expr::value("reversed"))
            .col_expr(bills::Column::ClosedAt, Expr::value(Some(now)))
            .col_expr(bills::Column::ClosedBy, Expr::value(Some(principal.staff_id)));
    }
    update.exec(&txn).await?;
    if let Some(before) = standing {
        let cause = json!({ "bill_id": bill_id, "refund_id": refund_id, "kind": kind });
        levels::follow_return(&txn, merchant_id, before, Actor::Staff(principal.staff_id), cause).await?;
    }
    // The slip states the member as this refund left them, however late it prints.
    let stated = match bill.member_id {
        Some(member_id) => {
            let cards: Vec<i64> = lines.iter().filter_map(|l| l.count_card_id).collect();
            Some(crate::cards::statement(&txn, merchant_id, member_id, &cards, now).await?)
        }
        None => None,
    };
    let slip = print_queue::Job {
        merchant_id,
        store_id: bill.store_id,
        kind: JobKind::Refund,
        subject_id: refund_id,
        stated: stated.as_ref(),
    };
    print_queue::queue_into(&txn, slip).await?;
    audit::record(
        &txn,
        Event {
            merchant_id: Some(merchant_id),
            actor: Actor::Staff(principal.staff_id),
            action: if kind == "reversal" { "bill.reversed" } else { "bill.refunded" },
            target: Some(("bill", bill_id)),
            detail: json!({
                "refund_id": refund_id, "amount_fen": money_back, "reason": why, "entry_id": entry_id,
                "coupons_given_back": coupon_back,
                "gifts_withdrawn": gifts.withdrawn, "gifts_kept": gifts.kept,
            }),
            ip: None,
        },
    )
    .await?;
    txn.commit().await?;
    print_queue::announce(ctx, bill.store_id).await;
    crate::payments::refunds::submit_for_bill_refund(ctx, refund_id).await;
    let row = bill_refunds::Entity::find_by_id(refund_id).one(&ctx.db).await?.ok_or(Error::NotFound("refund"))?;
    load(ctx, principal, row, false).await
}

/// The units to refund per line: those picked, each no more than the line has left; or, for a reversal, all that
/// is left of every line.
fn units_to_refund(picks: Option<BTreeMap<i64, i32>>, lines: &[bill_lines::Model]) -> Result<BTreeMap<i64, i32>> {
    let Some(picks) = picks else {
        return Ok(lines
            .iter()
            .filter(|l| l.refunded_quantity < l.quantity)
            .map(|l| (l.id, l.quantity - l.refunded_quantity))
            .collect());
    };
    for (line_id, quantity) in &picks {
        let line = lines
            .iter()
            .find(|l| l.id == *line_id)
            .ok_or_else(|| Error::invalid("lines", format!("no line {line_id} on this bill")))?;
        if *quantity > line.quantity - line.refunded_quantity {
            return Err(Error::Conflict(Conflict::NothingToRefund));
        }
    }
    Ok(picks)
}

/// What the refunded units give back, over all lines.
struct Back {
    /// To any tender.
    money: i64,
    /// To tenders other than stored value (a recharge's money).
    recharges: i64,
    /// Off the member's cumulative spend.
    spend: i64,
    points_earned: i64,
    points_used: i64,
    stock: StockMoves,
}

/// Gives back what each refunded line delivered (revenue, count-card sessions, a count card sold, a recharge,
/// stock), reverses its commission, and records the line's refund. Returns the totals.
async fn return_lines(
    posting: &mut Posting<'_, DatabaseTransaction>,
    bill: &bills::Model,
    lines: &[bill_lines::Model],
    picks: &BTreeMap<i64, i32>,
    refund_id: i64,
    staff_id: i64,
) -> Result<Back> {
    let (txn, now) = (posting.conn, posting.now);
    let stock = StockMoves::new(posting.merchant_id(), posting.store_id(), "refund", bill.id, staff_id);
    let mut back = Back { money: 0, recharges: 0, spend: 0, points_earned: 0, points_used: 0, stock };
    // Points the bill spent, per line in proportion to each line's offset.
    let points_used_by_line = spread(bill.points_used, &lines.iter().map(|l| l.points_offset_fen).collect::<Vec<_>>());
    let mut refund_lines = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        let Some(units) = picks.get(&line.id).copied().filter(|q| *q > 0) else { continue };
        let (before, after, of) =
            (i64::from(line.refunded_quantity), i64::from(line.refunded_quantity + units), i64::from(line.quantity));
        let part = |whole: i64| share_of(whole, after, of) - share_of(whole, before, of);
        let net_back = part(line.net_fen);
        return_line(posting, &mut back, line, i64::from(units), part).await?;
        back.money += net_back;
        if line.kind != "recharge" {
            back.spend += net_back;
        }
        back.points_earned += part(line.points_earned);
        back.points_used += part(points_used_by_line[index]) + part(line.points_redeemed);
        crate::commission::reverse(txn, line.id, refund_id, before, after, of, now).await?;
        bill_lines::Entity::update_many()
            .col_expr(bill_lines::Column::RefundedQuantity, Expr::value(line.refunded_quantity + units))
            .col_expr(bill_lines::Column::RefundedFen, Expr::col(bill_lines::Column::RefundedFen).add(net_back))
            .filter(bill_lines::Column::Id.eq(line.id))
            .exec(txn)
            .await?;
        refund_lines.push(bill_refund_lines::ActiveModel {
            refund_id: Set(refund_id),
            bill_line_id: Set(line.id),
            quantity: Set(units),
            amount_fen: Set(net_back),
            ..Default::default()
        });
    }
    if refund_lines.is_empty() {
        return Err(Error::Conflict(Conflict::NothingToRefund));
    }
    bill_refund_lines::Entity::insert_many(refund_lines).exec(txn).await?;
    Ok(back)
}

/// Gives back what `quantity` units of one line delivered; `part` is the refunded units' share of any of the
/// line's amounts.
async fn return_line(
    posting: &mut Posting<'_, DatabaseTransaction>,
    back: &mut Back,
    line: &bill_lines::Model,
    quantity: i64,
    part: impl Fn(i64) -> i64,
) -> Result<()> {
    let store_id = posting.store_id();
    let net_back = part(line.net_fen);
    // What the sale recorded on the line: the card it sold, the bonus its recharge gave. Money goes back by it, so
    // a detail that cannot be read stops the refund instead of giving back no card or no bonus.
    let recorded = |key: &'static str| -> Result<i64> {
        let detail: serde_json::Value = crate::domain::stored_json("a line's detail", &line.detail)?;
        detail[key].as_i64().ok_or_else(|| Error::Internal(anyhow::anyhow!("line {} records no {key}", line.id)))
    };
    match line.kind.as_str() {
        "service" if line.count_card_id.is_some() => {
            let card_id = line.count_card_id.unwrap_or_default();
            let taken = Use { card_id, service_item_id: line.item_id, quantity, category: &line.category };
            count_cards::return_into(posting, taken, Fen::new(part(line.recognised_fen))).await?;
        }
        "service" => {
            posting.draft.debit(Account::revenue(store_id, &line.category), net_back);
        }
        "product" => {
            posting.draft.debit(Account::revenue(store_id, &line.category), net_back);
            back.stock.add(line.item_id, quantity);
        }
        "gift" => back.stock.add(line.item_id, quantity),
        "card_sale" => {
            let card_id = recorded("count_card_id")?;
            count_cards::unsell_into(posting, card_id).await?;
        }
        "recharge" => {
            let bonus = recorded("bonus_fen")?;
            posting.member_id().map_err(|_| Error::Conflict(Conflict::BillState))?;
            stored_value::reverse_recharge_into(posting, Fen::new(net_back), Fen::new(part(bonus))).await?;
            back.recharges += net_back;
        }
        _ => return Err(Error::Conflict(Conflict::BillState)),
    }
    Ok(())
}

/// How the money back is shared over the bill's tenders. Stored value never paid for a recharge, so a recharge's
/// money goes back to the other tenders, and the rest is spread over all tenders in proportion to what each has
/// left, except that the other tenders always keep enough to refund the recharges still on the bill.
fn money_back_per_tender(
    tenders: &[bill_tenders::Model],
    lines: &[bill_lines::Model],
    back: &Back,
) -> Result<Vec<i64>> {
    let left: Vec<i64> = tenders.iter().map(|t| t.amount_fen - t.refunded_fen).collect();
    let is_stored: Vec<bool> = tenders.iter().map(|t| t.kind == "stored_value").collect();
    let not_stored_left: Vec<i64> = left.iter().zip(&is_stored).map(|(l, s)| if *s { 0 } else { *l }).collect();
    let recharges_kept: i64 =
        lines.iter().filter(|l| l.kind == "recharge").map(|l| l.net_fen - l.refunded_fen).sum::<i64>() - back.recharges;
    let other_back = back.money - back.recharges;
    let stored_left: i64 = left.iter().zip(&is_stored).filter(|(_, s)| **s).map(|(l, _)| *l).sum();
    let not_stored_total: i64 = not_stored_left.iter().sum();
    let proportional = spread(other_back, &[stored_left, not_stored_total]);
    let to_not_stored =
        std::cmp::max(std::cmp::min(proportional[1], not_stored_total - back.recharges - recharges_kept), 0);
    let to_stored = other_back - to_not_stored;
    if to_stored > stored_left || to_not_stored + back.recharges > not_stored_total {
        return Err(Error::Conflict(Conflict::NothingToRefund));
    }
    let mut amounts = spread(back.recharges + to_not_stored, &not_stored_left);
    let stored_weights: Vec<i64> = left.iter().zip(&is_stored).map(|(l, s)| if *s { *l } else { 0 }).collect();
    for (slot, part) in amounts.iter_mut().zip(spread(to_stored, &stored_weights)) {
        *slot += part;
    }
    Ok(amounts)
}

/// The refund a wallet tender's money goes back under.
#[derive(Clone, Copy)]
struct ProviderRefund<'a> {
    refund_id: i64,
    why: &'a str,
}

/// Puts `amounts` back on the tenders: wallet refunds queued to go through their provider once this commits,
/// stored value back on the card split as it was taken, the rest out of the store's accounts. Returns what each
/// tender got back, for the refund's record.
async fn return_money(
    posting: &mut Posting<'_, DatabaseTransaction>,
    tenders: &[bill_tenders::Model],
    amounts: Vec<i64>,
    refund: ProviderRefund<'_>,
) -> Result<Vec<serde_json::Value>> {
    let (txn, merchant_id, store_id) = (posting.conn, posting.merchant_id(), posting.store_id());
    let bill_id = posting.bill_id().unwrap_or_default();
    let mut record = Vec::new();
    for (tender, amount) in tenders.iter().zip(amounts) {
        if amount == 0 {
            continue;
        }
        let refunded_after = tender.refunded_fen + amount;
        let principal_back = share_of(tender.principal_fen, refunded_after, tender.amount_fen)
            - share_of(tender.principal_fen, tender.refunded_fen, tender.amount_fen);
        let kind = TenderKind::parse(&tender.kind).ok_or(Error::Conflict(Conflict::BillState))?;
        if let Some(provider) = crate::payments::Provider::of_tender(kind) {
            // The money goes back through the provider, under its own refund number, once this commits.
            let (refund_id, why) = (refund.refund_id, refund.why);
            crate::payments::refunds::queue_into(txn, merchant_id, bill_id, provider, amount, refund_id, why).await?;
        }
        let (principal_part, bonus_part) = match tender_account(kind, store_id) {
            Some(account) => {
                posting.draft.credit(account, amount);
                (0, 0)
            }
            None if posting.draft.member_id.is_some() => {
                let bonus_back = amount - principal_back;
                stored_value::credit_back_into(posting, Fen::new(principal_back), Fen::new(bonus_back)).await?;
                (principal_back, bonus_back)
            }
            None => return Err(Error::Conflict(Conflict::BillState)),
        };
        bill_tenders::Entity::update_many()
            .col_expr(bill_tenders::Column::RefundedFen, Expr::value(refunded_after))
            .col_expr(
                bill_tenders::Column::RefundedPrincipalFen,
                Expr::col(bill_tenders::Column::RefundedPrincipalFen).add(principal_part),
            )
            .filter(bill_tenders::Column::Id.eq(tender.id))
            .exec(txn)
            .await?;
        record.push(json!({
            "kind": tender.kind, "amount_fen": amount, "principal_fen": principal_part, "bonus_fen": bonus_part,
        }));
    }
    Ok(record)
}

/// Points: earned ones taken back (as far as the member still has them), spent ones given back as a new lot; and
/// the member's cumulative spend lowered.
async fn return_points(posting: &mut Posting<'_, DatabaseTransaction>, back: &Back, validity_days: i32) -> Result<()> {
    let Some(member_id) = posting.draft.member_id else { return Ok(()) };
    points::claw_back_into(posting, Points::new(back.points_earned)).await?;
    let lot = NewLot { points: Points::new(back.points_used), source: "refund", validity_days };
    points::grant_into(posting, lot).await?;
    members::Entity::update_many()
        .col_expr(members::Column::TotalSpendFen, Expr::col(members::Column::TotalSpendFen).sub(back.spend))
        .filter(members::Column::Id.eq(member_id))
        .exec(posting.conn)
        .await?;
    Ok(())
}
