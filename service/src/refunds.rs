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
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, TransactionTrait};
use serde_json::json;

use entity::{bill_lines, bill_refund_lines, bill_refunds, bill_tenders, bills, members};

use crate::audit::{self, Actor, Event};
use crate::auth::StaffPrincipal;
use crate::bills::{Bill, TenderKind};
use crate::domain::{IdempotencyKey, Permission, fingerprint};
use crate::error::is_unique_violation;
use crate::ledger::{self, Account, Cause, Draft};
use crate::money::{share_of, spread};
use crate::products::StockMoves;
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
    pub kind: String,
    pub amount: i64,
    pub principal: i64,
    pub bonus: i64,
}

#[derive(Clone, Debug)]
pub struct Refund {
    pub id: i64,
    pub bill_id: i64,
    /// `refund` or `reversal`.
    pub kind: String,
    pub amount: i64,
    pub reason: String,
    pub tenders: Vec<RefundTender>,
    pub lines: Vec<(i64, i32, i64)>,
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
    let tenders: Vec<serde_json::Value> = serde_json::from_str(&row.tenders).unwrap_or_default();
    let bill = crate::bills::load(&ctx.db, principal.merchant_id, row.bill_id, false).await?;
    Ok(Refund {
        id: row.id,
        bill_id: row.bill_id,
        kind: row.kind,
        amount: row.amount_fen,
        reason: row.reason,
        tenders: tenders
            .iter()
            .map(|t| RefundTender {
                kind: t["kind"].as_str().unwrap_or_default().to_owned(),
                amount: t["amount_fen"].as_i64().unwrap_or_default(),
                principal: t["principal_fen"].as_i64().unwrap_or_default(),
                bonus: t["bonus_fen"].as_i64().unwrap_or_default(),
            })
            .collect(),
        lines: lines.into_iter().map(|l| (l.bill_line_id, l.quantity, l.amount_fen)).collect(),
        entry_id: row.entry_id,
        replayed,
        bill,
    })
}

async fn run(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    bill_id: i64,
    picks: Option<BTreeMap<i64, i32>>,
    why: &str,
    key: &str,
) -> Result<Refund> {
    principal.require(Permission::Refund)?;
    let key = IdempotencyKey::parse(key).map_err(|m| Error::invalid("idempotency_key", m))?;
    let why = audit::reason(why)?;
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
    let settings = crate::merchants::loyalty_settings(&ctx.db, merchant_id).await?;
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
    let picks: BTreeMap<i64, i32> = match picks {
        Some(picks) => {
            for (line_id, quantity) in &picks {
                let line = lines
                    .iter()
                    .find(|l| l.id == *line_id)
                    .ok_or_else(|| Error::invalid("lines", format!("no line {line_id} on this bill")))?;
                if *quantity > line.quantity - line.refunded_quantity {
                    return Err(Error::Conflict(Conflict::NothingToRefund));
                }
            }
            picks
        }
        None => lines
            .iter()
            .filter(|l| l.refunded_quantity < l.quantity)
            .map(|l| (l.id, l.quantity - l.refunded_quantity))
            .collect(),
    };
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

    let store_id = bill.store_id;
    let member_id = bill.member_id;
    let mut draft = Draft::new(
        merchant_id,
        if kind == "reversal" { "reversal" } else { "refund" },
        Cause::Staff(principal.staff_id),
    );
    draft.store_id = Some(store_id);
    draft.member_id = member_id;
    draft.bill_id = Some(bill_id);
    draft.memo = format!("{} #{bill_id}: {why}", if kind == "reversal" { "反结账" } else { "退款" });

    // Points the bill spent, per line in proportion to each line's offset.
    let points_used_by_line = spread(bill.points_used, &lines.iter().map(|l| l.points_offset_fen).collect::<Vec<_>>());
    let mut money_back = 0; // to any tender
    let mut recharge_back = 0; // to tenders other than stored value
    let mut spend_back = 0;
    let mut points_earned_back = 0;
    let mut points_used_back = 0;
    let mut refund_lines = Vec::new();
    let mut stock = StockMoves::new(merchant_id, store_id, "refund", bill_id, principal.staff_id);
    for (index, line) in lines.iter().enumerate() {
        let Some(units) = picks.get(&line.id).copied().filter(|q| *q > 0) else { continue };
        let quantity = i64::from(units);
        let of = i64::from(line.quantity);
        let before = i64::from(line.refunded_quantity);
        let after = before + quantity;
        let part = |whole: i64| share_of(whole, after, of) - share_of(whole, before, of);
        let net_back = part(line.net_fen);
        match line.kind.as_str() {
            "service" if line.count_card_id.is_some() => {
                let card_id = line.count_card_id.unwrap_or_default();
                let value = part(line.recognised_fen);
                crate::count_cards::return_into(
                    &txn,
                    merchant_id,
                    store_id,
                    card_id,
                    quantity,
                    value,
                    &line.category,
                    &mut draft,
                )
                .await?;
            }
            "service" => {
                draft.debit(Account::revenue(store_id, &line.category), net_back);
            }
            "product" => {
                draft.debit(Account::revenue(store_id, &line.category), net_back);
                stock.add(line.item_id, quantity);
            }
            "gift" => stock.add(line.item_id, quantity),
            "card_sale" => {
                let detail: serde_json::Value = serde_json::from_str(&line.detail).unwrap_or_default();
                let card_id = detail["count_card_id"].as_i64().unwrap_or_default();
                crate::count_cards::unsell_into(&txn, merchant_id, store_id, card_id, now, &mut draft).await?;
            }
            "recharge" => {
                let detail: serde_json::Value = serde_json::from_str(&line.detail).unwrap_or_default();
                let bonus = detail["bonus_fen"].as_i64().unwrap_or_default();
                let member = member_id.ok_or(Error::Conflict(Conflict::BillState))?;
                crate::stored_value::reverse_recharge_into(
                    &txn,
                    merchant_id,
                    store_id,
                    member,
                    net_back,
                    part(bonus),
                    &mut draft,
                )
                .await?;
                recharge_back += net_back;
            }
            _ => return Err(Error::Conflict(Conflict::BillState)),
        }
        money_back += net_back;
        if line.kind != "recharge" {
            spend_back += net_back;
        }
        points_earned_back += part(line.points_earned);
        points_used_back += part(points_used_by_line[index]) + part(line.points_redeemed);
        crate::commission::reverse(&txn, line.id, refund_id, before, after, of, now).await?;
        bill_lines::Entity::update_many()
            .col_expr(bill_lines::Column::RefundedQuantity, Expr::value(line.refunded_quantity + units))
            .col_expr(bill_lines::Column::RefundedFen, Expr::col(bill_lines::Column::RefundedFen).add(net_back))
            .filter(bill_lines::Column::Id.eq(line.id))
            .exec(&txn)
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
    bill_refund_lines::Entity::insert_many(refund_lines).exec(&txn).await?;

    // Money back to the tenders. Stored value never paid for a recharge, so a recharge's money goes back to the
    // other tenders, and the rest is spread over all tenders in proportion to what each has left, except that the
    // other tenders always keep enough to refund the recharges still on the bill.
    let left: Vec<i64> = tenders.iter().map(|t| t.amount_fen - t.refunded_fen).collect();
    let is_stored: Vec<bool> = tenders.iter().map(|t| t.kind == "stored_value").collect();
    let not_stored_left: Vec<i64> = left.iter().zip(&is_stored).map(|(l, s)| if *s { 0 } else { *l }).collect();
    let recharges_kept: i64 =
        lines.iter().filter(|l| l.kind == "recharge").map(|l| l.net_fen - l.refunded_fen).sum::<i64>() - recharge_back;
    let other_back = money_back - recharge_back;
    let stored_left: i64 = left.iter().zip(&is_stored).filter(|(_, s)| **s).map(|(l, _)| *l).sum();
    let not_stored_total: i64 = not_stored_left.iter().sum();
    let proportional = spread(other_back, &[stored_left, not_stored_total]);
    let to_not_stored =
        std::cmp::max(std::cmp::min(proportional[1], not_stored_total - recharge_back - recharges_kept), 0);
    let to_stored = other_back - to_not_stored;
    if to_stored > stored_left || to_not_stored + recharge_back > not_stored_total {
        return Err(Error::Conflict(Conflict::NothingToRefund));
    }
    let mut back = spread(recharge_back + to_not_stored, &not_stored_left);
    let stored_weights: Vec<i64> = left.iter().zip(&is_stored).map(|(l, s)| if *s { *l } else { 0 }).collect();
    for (slot, part) in back.iter_mut().zip(spread(to_stored, &stored_weights)) {
        *slot += part;
    }
    let mut tender_record = Vec::new();
    for (tender, amount) in tenders.iter().zip(back) {
        if amount == 0 {
            continue;
        }
        let refunded_after = tender.refunded_fen + amount;
        let principal_back = share_of(tender.principal_fen, refunded_after, tender.amount_fen)
            - share_of(tender.principal_fen, tender.refunded_fen, tender.amount_fen);
        let kind = TenderKind::parse(&tender.kind).ok_or(Error::Conflict(Conflict::BillState))?;
        if let Some(provider) = crate::payments::Provider::of_tender(kind) {
            // The money goes back through the provider, under its own refund number, once this commits.
            crate::payments::refunds::queue_into(&txn, merchant_id, bill_id, provider, amount, refund_id, &why).await?;
        }
        let (principal_part, bonus_part) = match (kind.account(store_id), member_id) {
            (Some(account), _) => {
                draft.credit(account, amount);
                (0, 0)
            }
            (None, Some(member)) => {
                let bonus_back = amount - principal_back;
                crate::stored_value::credit_back_into(
                    &txn,
                    merchant_id,
                    member,
                    principal_back,
                    bonus_back,
                    &mut draft,
                )
                .await?;
                (principal_back, bonus_back)
            }
            (None, None) => return Err(Error::Conflict(Conflict::BillState)),
        };
        bill_tenders::Entity::update_many()
            .col_expr(bill_tenders::Column::RefundedFen, Expr::value(refunded_after))
            .col_expr(
                bill_tenders::Column::RefundedPrincipalFen,
                Expr::col(bill_tenders::Column::RefundedPrincipalFen).add(principal_part),
            )
            .filter(bill_tenders::Column::Id.eq(tender.id))
            .exec(&txn)
            .await?;
        tender_record.push(json!({
            "kind": tender.kind, "amount_fen": amount, "principal_fen": principal_part, "bonus_fen": bonus_part,
        }));
    }

    // Points: earned ones taken back (as far as the member still has them), spent ones given back.
    if let Some(member) = member_id {
        crate::points::claw_back_into(&txn, store_id, member, bill_id, points_earned_back, &mut draft).await?;
        let lot = crate::points::NewLot {
            merchant_id,
            store_id,
            member_id: member,
            points: points_used_back,
            source: "refund",
            bill_id: Some(bill_id),
            validity_days: settings.points_validity_days,
        };
        crate::points::grant_into(&txn, lot, now, &mut draft).await?;
        members::Entity::update_many()
            .col_expr(members::Column::TotalSpendFen, Expr::col(members::Column::TotalSpendFen).sub(spend_back))
            .filter(members::Column::Id.eq(member))
            .exec(&txn)
            .await?;
    }
    // The store's shared rows last: its stock, then (inside `post`) its ledger accounts.
    stock.apply(&txn).await?;
    let entry_id = ledger::post(&txn, &draft).await?;
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
    audit::record(
        &txn,
        Event {
            merchant_id: Some(merchant_id),
            actor: Actor::Staff(principal.staff_id),
            action: if kind == "reversal" { "bill.reversed" } else { "bill.refunded" },
            target: Some(("bill", bill_id)),
            detail: json!({ "refund_id": refund_id, "amount_fen": money_back, "reason": why, "entry_id": entry_id }),
            ip: None,
        },
    )
    .await?;
    txn.commit().await?;
    crate::payments::refunds::submit_for_bill_refund(ctx, refund_id).await;
    let row = bill_refunds::Entity::find_by_id(refund_id).one(&ctx.db).await?.ok_or(Error::NotFound("refund"))?;
    load(ctx, principal, row, false).await
}
