//! Parked bills (挂单): kept priced to resume, edited, voided, held while a payment code is charged, and confirmed
//! by the member in the mini-program.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use serde_json::json;

use entity::bills;

use super::consent::{Given, check_consent, confirmation_digest, confirmed_in_app};
use super::input::{BillDraft, TenderInput};
use super::read::{Bill, load, load_shown, parked_row, replay};
use super::resolve::{Resolved, resolve};
use super::tenders::{CheckedTender, check_cover, check_tenders};
use crate::checkout::pricing::Priced;
use crate::coupons::redeem::as_applied;
use crate::domain::{Fen, IdempotencyKey, Permission, TenderKind, fingerprint};
use crate::error::is_unique_violation;
use crate::foundation::audit::{self, Actor, Event};
use crate::foundation::principal::StaffPrincipal;
use crate::{AppContext, Conflict, Error, Result};

pub(super) fn park_fingerprint(draft: &BillDraft) -> String {
    fingerprint(&json!(["park", draft]))
}

/// Parks a bill (挂单): checks and prices it now so mistakes surface at once, and keeps the draft to resume.
pub async fn park(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    draft: BillDraft,
    idempotency_key: &str,
) -> Result<Bill> {
    principal.require(Permission::Checkout)?;
    let key = IdempotencyKey::parse(idempotency_key).map_err(|m| Error::invalid("idempotency_key", m))?;
    let merchant_id = principal.merchant_id;
    let fingerprint = park_fingerprint(&draft);
    if let Some(bill) = replay(ctx, merchant_id, &key, &fingerprint).await? {
        return Ok(bill);
    }
    let resolved = resolve(ctx, &ctx.db, merchant_id, &draft, false).await?;
    resolved.require_open(principal)?;
    let priced = resolved.price(draft.points)?;
    let now = ctx.now();
    let txn = ctx.db.begin().await?;
    let inserted = bills::Entity::insert(bills::ActiveModel {
        merchant_id: Set(merchant_id),
        store_id: Set(draft.store_id),
        member_id: Set(draft.member_id),
        status: Set("parked".to_owned()),
        subtotal_fen: Set(priced.subtotal.get()),
        total_fen: Set(priced.total.get()),
        change_fen: Set(0),
        idempotency_key: Set(key.as_str().to_owned()),
        fingerprint: Set(fingerprint.clone()),
        entry_id: Set(None),
        created_by: Set(principal.staff_id),
        created_at: Set(now),
        settled_at: Set(None),
        discount_fen: Set(priced.discount.get()),
        points_used: Set(priced.points_used.get()),
        points_offset_fen: Set(priced.points_offset.get()),
        points_earned: Set(priced.points_earned.get()),
        refunded_fen: Set(0),
        level_id: Set(resolved.level.as_ref().map(|l| l.id)),
        note: Set(draft.note.trim().to_owned()),
        request: Set(serde_json::to_string(&draft).map_err(anyhow::Error::from)?),
        member_confirmed_at: Set(None),
        member_confirmed_digest: Set(None),
        member_debit_fen: Set(0),
        closed_at: Set(None),
        closed_by: Set(None),
        coupon_fen: Set(priced.coupon.get()),
        ..Default::default()
    })
    .exec(&txn)
    .await;
    match inserted {
        Ok(result) => {
            let id = result.last_insert_id;
            // The coupons are held for this bill until it settles or is voided.
            for coupon in &resolved.coupons {
                crate::coupons::redeem::reserve(&txn, coupon.id, id, now).await?;
            }
            crate::coupons::redeem::record(&txn, id, &as_applied(&resolved.coupons, &priced)).await?;
            let detail = json!({ "lines": draft.lines.len(), "total_fen": priced.total, "member_id": draft.member_id });
            audit::by_staff(&txn, principal, "bill.parked", ("bill", id), detail).await?;
            txn.commit().await?;
            load_shown(ctx, merchant_id, id).await
        }
        Err(err) if is_unique_violation(&err) => {
            drop(txn);
            replay(ctx, merchant_id, &key, &fingerprint).await?.ok_or(Error::Database(err))
        }
        Err(err) => Err(err.into()),
    }
}

/// Replaces a parked bill's draft (lines edited on resume). A member's in-app confirmation no longer holds.
pub async fn update_parked(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    bill_id: i64,
    draft: BillDraft,
) -> Result<Bill> {
    principal.require(Permission::Checkout)?;
    let row = parked_row(ctx, principal, bill_id).await?;
    if draft.store_id != row.store_id {
        return Err(Error::invalid("store_id", "a parked bill stays at its store"));
    }
    let resolved = resolve(ctx, &ctx.db, principal.merchant_id, &draft, false).await?;
    let priced = resolved.price(draft.points)?;
    let before: BillDraft = serde_json::from_str(&row.request).map_err(anyhow::Error::from)?;
    let txn = ctx.db.begin().await?;
    let updated = with_price(bills::Entity::update_many(), &resolved, &priced)
        .col_expr(bills::Column::MemberId, Expr::value(draft.member_id))
        .col_expr(bills::Column::Note, Expr::value(draft.note.trim().to_owned()))
        .col_expr(bills::Column::Request, Expr::value(serde_json::to_string(&draft).map_err(anyhow::Error::from)?))
        .col_expr(bills::Column::MemberConfirmedAt, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(bills::Column::MemberConfirmedDigest, Expr::value(Option::<String>::None))
        .filter(bills::Column::Id.eq(bill_id))
        .filter(bills::Column::Status.eq("parked"))
        .exec(&txn)
        .await?;
    if updated.rows_affected != 1 {
        return Err(Error::Conflict(Conflict::BillState));
    }
    // The coupons held follow the draft: the old ones go back, the ones named now are held (they may be the same).
    crate::coupons::redeem::release(&txn, bill_id).await?;
    for coupon in &resolved.coupons {
        crate::coupons::redeem::reserve(&txn, coupon.id, bill_id, ctx.now()).await?;
    }
    crate::coupons::redeem::record(&txn, bill_id, &as_applied(&resolved.coupons, &priced)).await?;
    // What the edit changed, so a bill raised after the customer agreed is on the record.
    let detail = json!({
        "total_fen": [row.total_fen, priced.total],
        "lines": [before.lines.len(), draft.lines.len()],
        "member_id": [before.member_id, draft.member_id],
        "member_confirmation_voided": row.member_confirmed_at.is_some(),
    });
    audit::by_staff(&txn, principal, "bill.edited", ("bill", bill_id), detail).await?;
    txn.commit().await?;
    load_shown(ctx, principal.merchant_id, bill_id).await
}

/// The share of a parked bill a payment code must pay: the total less the other `tenders`, after every check a
/// settlement makes (so the customer is charged only for a bill that will settle).
pub(crate) async fn external_share(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    bill_id: i64,
    tenders: &[TenderInput],
    kind: TenderKind,
    member_code: Option<&str>,
) -> Result<(bills::Model, i64)> {
    principal.require(Permission::Checkout)?;
    let row = parked_row(ctx, principal, bill_id).await?;
    if row.status != "parked" {
        return Err(Error::Conflict(Conflict::BillState));
    }
    let draft: BillDraft = serde_json::from_str(&row.request).map_err(anyhow::Error::from)?;
    let mut checked = check_tenders(tenders, draft.member_id)?;
    let resolved = resolve(ctx, &ctx.db, principal.merchant_id, &draft, false).await?;
    let priced = resolved.price(draft.points)?;
    let others: Fen = checked.iter().map(|t| t.amount).sum();
    let share = priced.total - others;
    if share <= Fen::ZERO {
        return Err(Error::invalid("tenders", "the other tenders already pay the whole bill"));
    }
    checked.push(CheckedTender::exact(kind, share));
    check_cover(&checked, &resolved, &priced)?;
    let in_app = confirmed_in_app(&row, priced.total);
    let consent = check_consent(ctx, principal.merchant_id, &resolved, &checked, member_code, in_app).await?;
    if let Given::Code(_) = consent.given {
        // The code is spent on this bill now, and the bill keeps when the member agreed, for the settlement that
        // follows the payment (and for the day's count of debits without consent).
        let txn = ctx.db.begin().await?;
        consent.spend(&txn, bill_id, Some(principal.staff_id)).await?;
        let marked = bills::Entity::update_many()
            .col_expr(bills::Column::MemberConfirmedAt, Expr::value(Some(ctx.now())))
            .filter(bills::Column::Id.eq(bill_id))
            .filter(bills::Column::Status.eq("parked"))
            .filter(bills::Column::Request.eq(row.request.as_str()))
            .exec(&txn)
            .await?;
        if marked.rows_affected != 1 {
            return Err(Error::Conflict(Conflict::BillChanged));
        }
        txn.commit().await?;
    }
    Ok((row, share.get()))
}

/// What a member pays in the mini-program for a bill the store parked for them: all of it. Paying in the app is
/// the member's confirmation of any stored-value or count-card debit on it.
pub(crate) async fn member_share(
    ctx: &AppContext,
    merchant_id: i64,
    member_id: i64,
    bill_id: i64,
    kind: TenderKind,
) -> Result<(bills::Model, i64)> {
    let row = bills::Entity::find_by_id(bill_id)
        .filter(bills::Column::MerchantId.eq(merchant_id))
        .filter(bills::Column::MemberId.eq(member_id))
        .one(&ctx.db)
        .await?
        .ok_or(Error::NotFound("bill"))?;
    if row.status != "parked" {
        return Err(Error::Conflict(Conflict::BillState));
    }
    let draft: BillDraft = serde_json::from_str(&row.request).map_err(anyhow::Error::from)?;
    let resolved = resolve(ctx, &ctx.db, merchant_id, &draft, false).await?;
    let priced = resolved.price(draft.points)?;
    if priced.total <= Fen::ZERO {
        return Err(Error::invalid("bill", "this bill has nothing to pay"));
    }
    let tenders = [CheckedTender::exact(kind, priced.total)];
    check_cover(&tenders, &resolved, &priced)?;
    Ok((row, priced.total.get()))
}

/// Holds a parked bill while its customer pays (`parked → paying`): no edit, void or other settlement meanwhile.
pub(crate) async fn hold_for_payment(conn: &impl ConnectionTrait, bill_id: i64) -> Result<()> {
    let held = bills::Entity::update_many()
        .col_expr(bills::Column::Status, Expr::value("paying"))
        .filter(bills::Column::Id.eq(bill_id))
        .filter(bills::Column::Status.eq("parked"))
        .exec(conn)
        .await?;
    if held.rows_affected != 1 {
        return Err(Error::Conflict(Conflict::BillState));
    }
    Ok(())
}

/// The payment did not happen: the bill is parked again for another try or another tender.
pub(crate) async fn release_payment_hold(conn: &impl ConnectionTrait, bill_id: i64) -> Result<()> {
    bills::Entity::update_many()
        .col_expr(bills::Column::Status, Expr::value("parked"))
        .filter(bills::Column::Id.eq(bill_id))
        .filter(bills::Column::Status.eq("paying"))
        .exec(conn)
        .await?;
    Ok(())
}

/// Voids a parked bill: nothing was settled, so nothing moves. Audited.
pub async fn void(ctx: &AppContext, principal: &StaffPrincipal, bill_id: i64, reason: &str) -> Result<Bill> {
    principal.require(Permission::Checkout)?;
    let reason = audit::reason(reason)?;
    let row = parked_row(ctx, principal, bill_id).await?;
    if row.status == "voided" {
        return load(&ctx.db, principal.merchant_id, bill_id, true).await;
    }
    let now = ctx.now();
    let txn = ctx.db.begin().await?;
    let updated = bills::Entity::update_many()
        .col_expr(bills::Column::Status, Expr::value("voided"))
        .col_expr(bills::Column::ClosedAt, Expr::value(Some(now)))
        .col_expr(bills::Column::ClosedBy, Expr::value(Some(principal.staff_id)))
        .filter(bills::Column::Id.eq(bill_id))
        .filter(bills::Column::Status.eq("parked"))
        .exec(&txn)
        .await?;
    if updated.rows_affected != 1 {
        return Err(Error::Conflict(Conflict::BillState));
    }
    let coupons_released = crate::coupons::redeem::release(&txn, bill_id).await?;
    audit::record(
        &txn,
        Event {
            merchant_id: Some(principal.merchant_id),
            actor: Actor::Staff(principal.staff_id),
            action: "bill.voided",
            target: Some(("bill", bill_id)),
            detail: json!({ "reason": reason, "total_fen": row.total_fen, "coupons_released": coupons_released }),
            ip: None,
        },
    )
    .await?;
    txn.commit().await?;
    load(&ctx.db, principal.merchant_id, bill_id, false).await
}

/// Parked bills waiting for this member's confirmation in the mini-program.
pub async fn pending_confirmations(ctx: &AppContext, merchant_id: i64, member_id: i64) -> Result<Vec<Bill>> {
    let rows = bills::Entity::find()
        .filter(bills::Column::MerchantId.eq(merchant_id))
        .filter(bills::Column::MemberId.eq(member_id))
        .filter(bills::Column::Status.eq("parked"))
        .filter(bills::Column::MemberConfirmedDigest.is_null())
        .order_by_desc(bills::Column::Id)
        .limit(20)
        .all(&ctx.db)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.push(load_shown(ctx, merchant_id, row.id).await?);
    }
    Ok(out)
}

/// The member confirms a parked bill of theirs in the mini-program: the bill as they were shown it, named by its
/// `confirmation_digest`. A bill changed since they opened it is `bill_changed`, and nothing is confirmed.
pub async fn confirm_by_member(
    ctx: &AppContext,
    merchant_id: i64,
    member_id: i64,
    bill_id: i64,
    digest: &str,
) -> Result<Bill> {
    let row = bills::Entity::find_by_id(bill_id)
        .filter(bills::Column::MerchantId.eq(merchant_id))
        .filter(bills::Column::MemberId.eq(member_id))
        .one(&ctx.db)
        .await?
        .ok_or(Error::NotFound("bill"))?;
    if row.status != "parked" {
        return Err(Error::Conflict(Conflict::BillState));
    }
    if confirmation_digest(row.id, &row.request, Fen::new(row.total_fen)) != digest {
        return Err(Error::Conflict(Conflict::BillChanged));
    }
    // Guarded by the draft and total just compared: an edit landing in between is not confirmed.
    let updated = bills::Entity::update_many()
        .col_expr(bills::Column::MemberConfirmedAt, Expr::value(Some(ctx.now())))
        .col_expr(bills::Column::MemberConfirmedDigest, Expr::value(Some(digest.to_owned())))
        .filter(bills::Column::Id.eq(bill_id))
        .filter(bills::Column::Status.eq("parked"))
        .filter(bills::Column::Request.eq(row.request.as_str()))
        .filter(bills::Column::TotalFen.eq(row.total_fen))
        .exec(&ctx.db)
        .await?;
    if updated.rows_affected != 1 {
        return Err(Error::Conflict(Conflict::BillChanged));
    }
    load_shown(ctx, merchant_id, bill_id).await
}

/// Sets a kept bill's price columns (every step of the price, and the level it was priced at).
pub(super) fn with_price(
    update: sea_orm::UpdateMany<bills::Entity>,
    resolved: &Resolved,
    priced: &Priced,
) -> sea_orm::UpdateMany<bills::Entity> {
    update
        .col_expr(bills::Column::SubtotalFen, Expr::value(priced.subtotal))
        .col_expr(bills::Column::TotalFen, Expr::value(priced.total))
        .col_expr(bills::Column::DiscountFen, Expr::value(priced.discount))
        .col_expr(bills::Column::PointsUsed, Expr::value(priced.points_used))
        .col_expr(bills::Column::PointsOffsetFen, Expr::value(priced.points_offset))
        .col_expr(bills::Column::PointsEarned, Expr::value(priced.points_earned))
        .col_expr(bills::Column::LevelId, Expr::value(resolved.level.as_ref().map(|l| l.id)))
        .col_expr(bills::Column::CouponFen, Expr::value(priced.coupon))
}
