//! Checkout (结账), first cut: a bill of service lines settled at once with any mix of stored value, cash and bank
//! card, under an idempotency key. One transaction writes the bill, its lines and tenders and one balanced
//! journal entry, so a crash leaves all of it or none. Pricing rules (levels, coupons, points), count cards,
//! products, parking, voids and refunds build on this shape.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, TransactionTrait};
use serde_json::json;

use entity::{bill_lines, bill_tenders, bills, members, service_items};

use crate::auth::StaffPrincipal;
use crate::domain::{IdempotencyKey, Permission, fingerprint};
use crate::error::is_unique_violation;
use crate::ledger::{self, Account, AccountKind, Cause, Draft};
use crate::stored_value::{self, MAX_AMOUNT_FEN};
use crate::{AppContext, Conflict, Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TenderKind {
    StoredValue,
    Cash,
    BankCard,
}

impl TenderKind {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "stored_value" => Some(TenderKind::StoredValue),
            "cash" => Some(TenderKind::Cash),
            "bank_card" => Some(TenderKind::BankCard),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TenderKind::StoredValue => "stored_value",
            TenderKind::Cash => "cash",
            TenderKind::BankCard => "bank_card",
        }
    }
}

pub struct LineInput {
    pub service_item_id: i64,
    pub quantity: i32,
}

pub struct TenderInput {
    pub kind: String,
    pub amount_fen: i64,
    /// Cash only: what the customer handed over, when more than `amount_fen`.
    pub tendered_fen: Option<i64>,
}

pub struct BillInput {
    pub store_id: i64,
    pub member_id: Option<i64>,
    pub lines: Vec<LineInput>,
    pub tenders: Vec<TenderInput>,
    pub idempotency_key: String,
}

#[derive(Clone, Debug)]
pub struct Line {
    pub kind: String,
    pub item_id: i64,
    pub name: String,
    pub category: String,
    pub quantity: i32,
    pub unit_price: i64,
    pub amount: i64,
}

#[derive(Clone, Debug)]
pub struct Tender {
    pub kind: String,
    pub amount: i64,
    pub tendered: i64,
    pub change: i64,
}

#[derive(Clone, Debug)]
pub struct Bill {
    pub id: i64,
    pub store_id: i64,
    pub member_id: Option<i64>,
    pub status: String,
    pub subtotal: i64,
    pub total: i64,
    pub change: i64,
    pub lines: Vec<Line>,
    pub tenders: Vec<Tender>,
    pub entry_id: Option<i64>,
    pub created_by: i64,
    pub created_at: DateTime<Utc>,
    pub settled_at: Option<DateTime<Utc>>,
    /// True when the idempotency key had been seen and this is the first settlement's bill.
    pub replayed: bool,
}

/// A tender after validation.
struct CheckedTender {
    kind: TenderKind,
    amount: i64,
    tendered: i64,
}

fn check_tenders(inputs: &[TenderInput], member: Option<i64>) -> Result<Vec<CheckedTender>> {
    if inputs.len() > 5 {
        return Err(Error::invalid("tenders", "at most 5 tenders"));
    }
    let mut seen = Vec::new();
    let mut out = Vec::with_capacity(inputs.len());
    for tender in inputs {
        let kind = TenderKind::parse(&tender.kind)
            .ok_or_else(|| Error::invalid("tenders", "kind must be stored_value, cash or bank_card"))?;
        if seen.contains(&kind) {
            return Err(Error::invalid("tenders", "each kind at most once"));
        }
        seen.push(kind);
        if tender.amount_fen <= 0 || tender.amount_fen > MAX_AMOUNT_FEN {
            return Err(Error::invalid("tenders", "amount_fen must be more than 0 and at most ￥1,000,000"));
        }
        let tendered = match (kind, tender.tendered_fen) {
            (TenderKind::Cash, Some(given)) if given < tender.amount_fen || given > MAX_AMOUNT_FEN => {
                return Err(Error::invalid("tenders", "cash tendered_fen must cover amount_fen"));
            }
            (TenderKind::Cash, Some(given)) => given,
            (_, Some(_)) => return Err(Error::invalid("tenders", "only cash has tendered_fen")),
            (_, None) => tender.amount_fen,
        };
        if kind == TenderKind::StoredValue && member.is_none() {
            return Err(Error::invalid("tenders", "stored value needs the bill's member"));
        }
        out.push(CheckedTender { kind, amount: tender.amount_fen, tendered });
    }
    Ok(out)
}

/// Prices the lines from the service menu as it is now.
async fn price_lines(conn: &impl ConnectionTrait, merchant_id: i64, inputs: &[LineInput]) -> Result<Vec<Line>> {
    if inputs.is_empty() || inputs.len() > 50 {
        return Err(Error::invalid("lines", "a bill has 1–50 lines"));
    }
    let ids: Vec<i64> = inputs.iter().map(|line| line.service_item_id).collect();
    let items: BTreeMap<i64, service_items::Model> = service_items::Entity::find()
        .filter(service_items::Column::MerchantId.eq(merchant_id))
        .filter(service_items::Column::Id.is_in(ids))
        .all(conn)
        .await?
        .into_iter()
        .map(|item| (item.id, item))
        .collect();
    inputs
        .iter()
        .map(|input| {
            let item = items
                .get(&input.service_item_id)
                .filter(|item| item.active)
                .ok_or_else(|| Error::invalid("lines", format!("no service item {}", input.service_item_id)))?;
            if !(1..=99).contains(&input.quantity) {
                return Err(Error::invalid("lines", "quantity must be 1–99"));
            }
            Ok(Line {
                kind: "service".to_owned(),
                item_id: item.id,
                name: item.name.clone(),
                category: item.category.clone(),
                quantity: input.quantity,
                unit_price: item.price_fen,
                amount: item.price_fen * i64::from(input.quantity),
            })
        })
        .collect()
}

/// Settles a bill in one transaction. The same idempotency key with the same bill returns the first settlement;
/// with another bill it is refused.
pub async fn settle(ctx: &AppContext, principal: &StaffPrincipal, input: BillInput) -> Result<Bill> {
    principal.require(Permission::Checkout)?;
    let key = IdempotencyKey::parse(&input.idempotency_key).map_err(|m| Error::invalid("idempotency_key", m))?;
    let merchant_id = principal.merchant_id;
    let tenders = check_tenders(&input.tenders, input.member_id)?;
    let lines = price_lines(&ctx.db, merchant_id, &input.lines).await?;
    let total: i64 = lines.iter().map(|line| line.amount).sum();
    if total > MAX_AMOUNT_FEN {
        return Err(Error::invalid("lines", "a bill may not exceed ￥1,000,000"));
    }
    let paid: i64 = tenders.iter().map(|t| t.amount).sum();
    if paid != total {
        return Err(Error::invalid("tenders", format!("tenders add up to {paid} fen but the bill is {total} fen")));
    }
    let fingerprint = fingerprint(&json!([
        "bill",
        input.store_id,
        input.member_id,
        input.lines.iter().map(|l| (l.service_item_id, l.quantity)).collect::<Vec<_>>(),
        tenders.iter().map(|t| (t.kind.as_str(), t.amount, t.tendered)).collect::<Vec<_>>(),
    ]));
    if let Some(bill) = replay(ctx, merchant_id, &key, &fingerprint).await? {
        return Ok(bill);
    }
    crate::stores::require_open(&ctx.db, principal, input.store_id).await?;

    let now = Utc::now();
    let change: i64 = tenders.iter().map(|t| t.tendered - t.amount).sum();
    let txn = ctx.db.begin().await?;
    if let Some(member_id) = input.member_id {
        crate::members::live_row(&txn, merchant_id, member_id).await.map_err(|e| match e {
            Error::NotFound(_) => Error::invalid("member_id", "no such member"),
            other => other,
        })?;
    }
    let inserted = bills::Entity::insert(bills::ActiveModel {
        merchant_id: Set(merchant_id),
        store_id: Set(input.store_id),
        member_id: Set(input.member_id),
        status: Set("settled".to_owned()),
        subtotal_fen: Set(total),
        total_fen: Set(total),
        change_fen: Set(change),
        idempotency_key: Set(key.as_str().to_owned()),
        fingerprint: Set(fingerprint.clone()),
        entry_id: Set(None),
        created_by: Set(principal.staff_id),
        created_at: Set(now),
        settled_at: Set(Some(now)),
        ..Default::default()
    })
    .exec(&txn)
    .await;
    let bill_id = match inserted {
        Ok(result) => result.last_insert_id,
        Err(err) if is_unique_violation(&err) => {
            drop(txn);
            return replay(ctx, merchant_id, &key, &fingerprint).await?.ok_or(Error::Database(err));
        }
        Err(err) => return Err(err.into()),
    };
    bill_lines::Entity::insert_many(lines.iter().map(|line| bill_lines::ActiveModel {
        bill_id: Set(bill_id),
        kind: Set(line.kind.clone()),
        item_id: Set(line.item_id),
        name: Set(line.name.clone()),
        category: Set(line.category.clone()),
        quantity: Set(line.quantity),
        unit_price_fen: Set(line.unit_price),
        amount_fen: Set(line.amount),
        ..Default::default()
    }))
    .exec(&txn)
    .await?;
    if !tenders.is_empty() {
        bill_tenders::Entity::insert_many(tenders.iter().map(|tender| bill_tenders::ActiveModel {
            bill_id: Set(bill_id),
            kind: Set(tender.kind.as_str().to_owned()),
            amount_fen: Set(tender.amount),
            tendered_fen: Set(tender.tendered),
            change_fen: Set(tender.tendered - tender.amount),
            ..Default::default()
        }))
        .exec(&txn)
        .await?;
    }

    let mut draft = Draft::new(merchant_id, "sale", Cause::Staff(principal.staff_id));
    draft.store_id = Some(input.store_id);
    draft.member_id = input.member_id;
    draft.bill_id = Some(bill_id);
    draft.memo = format!("结账 #{bill_id}");
    for tender in &tenders {
        match tender.kind {
            TenderKind::Cash => draft.debit(Account::store(input.store_id, AccountKind::Cash), tender.amount),
            TenderKind::BankCard => draft.debit(Account::store(input.store_id, AccountKind::BankCard), tender.amount),
            TenderKind::StoredValue => {
                let member_id = input.member_id.ok_or(Error::invalid("tenders", "stored value needs a member"))?;
                stored_value::debit_into(&txn, merchant_id, member_id, tender.amount, &mut draft).await?;
                &mut draft
            }
        };
    }
    let mut revenue: BTreeMap<&str, i64> = BTreeMap::new();
    for line in &lines {
        *revenue.entry(line.category.as_str()).or_default() += line.amount;
    }
    for (category, amount) in revenue {
        draft.credit(Account::revenue(input.store_id, category), amount);
    }
    let entry_id = ledger::post(&txn, &draft).await?;
    bills::Entity::update_many()
        .col_expr(bills::Column::EntryId, Expr::value(entry_id))
        .filter(bills::Column::Id.eq(bill_id))
        .exec(&txn)
        .await?;
    if let Some(member_id) = input.member_id {
        members::Entity::update_many()
            .col_expr(members::Column::TotalSpendFen, Expr::col(members::Column::TotalSpendFen).add(total))
            .filter(members::Column::Id.eq(member_id))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    load(&ctx.db, merchant_id, bill_id, false).await
}

async fn replay(ctx: &AppContext, merchant_id: i64, key: &IdempotencyKey, fingerprint: &str) -> Result<Option<Bill>> {
    let Some(row) = bills::Entity::find()
        .filter(bills::Column::MerchantId.eq(merchant_id))
        .filter(bills::Column::IdempotencyKey.eq(key.as_str()))
        .one(&ctx.db)
        .await?
    else {
        return Ok(None);
    };
    if row.fingerprint != fingerprint {
        return Err(Error::Conflict(Conflict::IdempotencyKeyReused));
    }
    Ok(Some(load(&ctx.db, merchant_id, row.id, true).await?))
}

async fn load(conn: &impl ConnectionTrait, merchant_id: i64, bill_id: i64, replayed: bool) -> Result<Bill> {
    let row = bills::Entity::find_by_id(bill_id)
        .filter(bills::Column::MerchantId.eq(merchant_id))
        .one(conn)
        .await?
        .ok_or(Error::NotFound("bill"))?;
    let lines = bill_lines::Entity::find()
        .filter(bill_lines::Column::BillId.eq(bill_id))
        .order_by_asc(bill_lines::Column::Id)
        .all(conn)
        .await?;
    let tenders = bill_tenders::Entity::find()
        .filter(bill_tenders::Column::BillId.eq(bill_id))
        .order_by_asc(bill_tenders::Column::Id)
        .all(conn)
        .await?;
    Ok(Bill {
        id: row.id,
        store_id: row.store_id,
        member_id: row.member_id,
        status: row.status,
        subtotal: row.subtotal_fen,
        total: row.total_fen,
        change: row.change_fen,
        lines: lines
            .into_iter()
            .map(|l| Line {
                kind: l.kind,
                item_id: l.item_id,
                name: l.name,
                category: l.category,
                quantity: l.quantity,
                unit_price: l.unit_price_fen,
                amount: l.amount_fen,
            })
            .collect(),
        tenders: tenders
            .into_iter()
            .map(|t| Tender { kind: t.kind, amount: t.amount_fen, tendered: t.tendered_fen, change: t.change_fen })
            .collect(),
        entry_id: row.entry_id,
        created_by: row.created_by,
        created_at: row.created_at,
        settled_at: row.settled_at,
        replayed,
    })
}

/// A bill of a store in the principal's scope.
pub async fn get(ctx: &AppContext, principal: &StaffPrincipal, bill_id: i64) -> Result<Bill> {
    principal.require(Permission::Checkout)?;
    let bill = load(&ctx.db, principal.merchant_id, bill_id, false).await?;
    if !principal.can_access_store(bill.store_id) {
        return Err(Error::NotFound("bill"));
    }
    Ok(bill)
}
