//! A member's personal-data rights (PIPL): everything held about them as one document, and anonymisation.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait, TransactionTrait,
};
use serde_json::{Value, json};

use entity::{
    bill_lines, bill_refunds, bills, booking_holds, bookings, marketing_consents, member_allergies, member_code_uses,
    member_coupons, member_identities, member_inbox, member_notes, member_sessions, member_subscriptions, member_tags,
    members, notification_outbox, payment_refunds, payments, points_lots, visit_ratings,
};

use super::{live, row, view};
use crate::domain::{BookingStatus, Gender, Permission};
use crate::foundation::audit::{self, Actor, Event};
use crate::foundation::principal::StaffPrincipal;
pub use crate::loyalty::levels::Level;
use crate::{AppContext, Result};

/// Everything we hold about a member, decrypted, as one JSON document (their right of access).
pub async fn export(ctx: &AppContext, merchant_id: i64, member_id: i64) -> Result<Value> {
    let row = row(&ctx.db, merchant_id, member_id).await?;
    let member = view(ctx, row, true, true).await?;
    let mut notes: Vec<Value> = super::notes::notes_of(ctx, member_id)
        .await?
        .into_iter()
        .map(|n| json!({ "body": n.body, "created_at": n.created_at }))
        .collect();
    notes.reverse();
    let identities: Vec<Value> = member_identities::Entity::find()
        .filter(member_identities::Column::MemberId.eq(member_id))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|i| json!({ "provider": i.provider, "subject": i.subject, "linked_at": i.created_at }))
        .collect();
    Ok(json!({
        "exported_at": ctx.now(),
        "member": {
            "id": member.id,
            "nickname": member.nickname,
            "name": member.name,
            "phone": member.phone,
            "gender": member.gender,
            "birthday": member.birthday,
            "level": member.level.map(|l| l.name),
            "tags": member.tags,
            "total_spend_fen": member.total_spend_fen,
            "preferences": member.preferences,
            "created_at": member.created_at,
        },
        "allergies": member.allergies.iter().map(|a| json!({
            "substance": a.substance, "severity": a.severity, "note": a.note, "recorded_at": a.created_at,
        })).collect::<Vec<_>>(),
        "notes": notes,
        "linked_accounts": identities,
        "bills": bills_of(ctx, merchant_id, member_id).await?,
        "bookings": bookings_of(ctx, merchant_id, member_id).await?,
        "stored_value": stored_value_of(ctx, merchant_id, member_id).await?,
        "points_lots": points_lots_of(ctx, merchant_id, member_id).await?,
        "count_cards": count_cards_of(ctx, merchant_id, member_id).await?,
        "payments": payments_of(ctx, merchant_id, member_id).await?,
        "consents": consents_of(ctx, merchant_id, member_id).await?,
        "coupons": coupons_of(ctx, merchant_id, member_id).await?,
        "inbox": inbox_of(ctx, merchant_id, member_id).await?,
        "marketing_messages": marketing_sends_of(ctx, merchant_id, member_id).await?,
    }))
}

/// Every marketing message planned for them, and what became of it.
async fn marketing_sends_of(ctx: &AppContext, merchant_id: i64, member_id: i64) -> Result<Vec<Value>> {
    Ok(entity::marketing_sends::Entity::find()
        .filter(entity::marketing_sends::Column::MerchantId.eq(merchant_id))
        .filter(entity::marketing_sends::Column::MemberId.eq(member_id))
        .order_by_asc(entity::marketing_sends::Column::Id)
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|s| {
            json!({
                "campaign_id": s.campaign_id, "channel": s.channel, "status": s.status, "reason": s.reason,
                "sent_at": s.sent_at, "delivered_at": s.delivered_at,
            })
        })
        .collect())
}

/// The store's messages to them in the app.
async fn inbox_of(ctx: &AppContext, merchant_id: i64, member_id: i64) -> Result<Vec<Value>> {
    Ok(member_inbox::Entity::find()
        .filter(member_inbox::Column::MerchantId.eq(merchant_id))
        .filter(member_inbox::Column::MemberId.eq(member_id))
        .order_by_asc(member_inbox::Column::Id)
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|m| json!({ "title": m.title, "body": m.body, "sent_at": m.created_at, "read_at": m.read_at }))
        .collect())
}

/// Every coupon they were given, with its terms as issued and what became of it.
async fn coupons_of(ctx: &AppContext, merchant_id: i64, member_id: i64) -> Result<Vec<Value>> {
    Ok(member_coupons::Entity::find()
        .filter(member_coupons::Column::MerchantId.eq(merchant_id))
        .filter(member_coupons::Column::MemberId.eq(member_id))
        .order_by_asc(member_coupons::Column::Id)
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|c| {
            json!({
                "name": c.name, "kind": c.kind, "value_fen": c.value_fen, "rate_bp": c.rate_bp,
                "threshold_fen": c.threshold_fen, "valid_from": c.valid_from, "valid_until": c.valid_until,
                "status": c.status, "source": c.source, "bill_id": c.bill_id, "used_at": c.used_at,
                "issued_at": c.created_at,
            })
        })
        .collect())
}

/// Their bills, each with its lines and what was refunded.
async fn bills_of(ctx: &AppContext, merchant_id: i64, member_id: i64) -> Result<Vec<Value>> {
    let bills = bills::Entity::find()
        .filter(bills::Column::MerchantId.eq(merchant_id))
        .filter(bills::Column::MemberId.eq(member_id))
        .order_by_asc(bills::Column::Id)
        .all(&ctx.db)
        .await?;
    let ids: Vec<i64> = bills.iter().map(|b| b.id).collect();
    let lines = bill_lines::Entity::find()
        .filter(bill_lines::Column::BillId.is_in(ids.clone()))
        .order_by_asc(bill_lines::Column::Id)
        .all(&ctx.db)
        .await?;
    let refunds = bill_refunds::Entity::find()
        .filter(bill_refunds::Column::BillId.is_in(ids))
        .order_by_asc(bill_refunds::Column::Id)
        .all(&ctx.db)
        .await?;
    Ok(bills
        .into_iter()
        .map(|bill| {
            let lines: Vec<Value> = lines
                .iter()
                .filter(|line| line.bill_id == bill.id)
                .map(|line| {
                    json!({
                        "kind": line.kind, "name": line.name, "category": line.category, "quantity": line.quantity,
                        "unit_price_fen": line.unit_price_fen, "amount_fen": line.amount_fen,
                        "discount_fen": line.discount_fen, "points_offset_fen": line.points_offset_fen,
                        "net_fen": line.net_fen, "points_earned": line.points_earned,
                        "refunded_quantity": line.refunded_quantity, "refunded_fen": line.refunded_fen,
                        // A session of this count card paid the line.
                        "count_card_id": line.count_card_id,
                    })
                })
                .collect();
            // Refunds and reversals of the bill, with why.
            let refunds: Vec<Value> = refunds
                .iter()
                .filter(|refund| refund.bill_id == bill.id)
                .map(|refund| {
                    json!({
                        "kind": refund.kind, "amount_fen": refund.amount_fen, "reason": refund.reason,
                        "created_at": refund.created_at,
                    })
                })
                .collect();
            json!({
                "id": bill.id, "store_id": bill.store_id, "status": bill.status, "total_fen": bill.total_fen,
                "discount_fen": bill.discount_fen, "points_used": bill.points_used, "points_earned": bill.points_earned,
                "refunded_fen": bill.refunded_fen, "note": bill.note, "created_at": bill.created_at,
                "settled_at": bill.settled_at, "member_confirmed_at": bill.member_confirmed_at, "lines": lines,
                "refunds": refunds,
            })
        })
        .collect())
}

async fn bookings_of(ctx: &AppContext, merchant_id: i64, member_id: i64) -> Result<Vec<Value>> {
    let rows = bookings::Entity::find()
        .filter(bookings::Column::MerchantId.eq(merchant_id))
        .filter(bookings::Column::MemberId.eq(member_id))
        .order_by_asc(bookings::Column::Id)
        .all(&ctx.db)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for booking in rows {
        let services: Vec<String> =
            crate::booking::bookings::items_of(&ctx.db, booking.id).await?.into_iter().map(|i| i.name).collect();
        out.push(json!({
            "id": booking.id, "store_id": booking.store_id, "staff_id": booking.staff_id, "services": services,
            "starts_at": booking.starts_at, "ends_at": booking.ends_at, "status": booking.status,
            "note": booking.note, "late_cancel": booking.late_cancel, "cancel_reason": booking.cancel_reason,
            "created_at": booking.created_at,
        }));
    }
    Ok(out)
}

/// The card's balances and every movement of it.
async fn stored_value_of(ctx: &AppContext, merchant_id: i64, member_id: i64) -> Result<Value> {
    use crate::cards::stored_value;
    let card = stored_value::card_in(&ctx.db, merchant_id, member_id).await?;
    let entries: Vec<Value> = stored_value::statement_lines(&ctx.db, merchant_id, member_id, None)
        .await?
        .into_iter()
        .map(|line| {
            json!({
                "kind": line.kind, "memo": line.memo, "bill_id": line.bill_id,
                "principal_fen": line.principal_delta, "bonus_fen": line.bonus_delta, "at": line.created_at,
            })
        })
        .collect();
    Ok(json!({
        "status": card.status.as_str(), "principal_fen": card.principal, "bonus_fen": card.bonus,
        "expires_at": card.expires_at, "entries": entries,
    }))
}

/// Every lot of points, spent and expired ones too.
async fn points_lots_of(ctx: &AppContext, merchant_id: i64, member_id: i64) -> Result<Vec<Value>> {
    Ok(points_lots::Entity::find()
        .filter(points_lots::Column::MerchantId.eq(merchant_id))
        .filter(points_lots::Column::MemberId.eq(member_id))
        .order_by_asc(points_lots::Column::Id)
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|lot| {
            json!({
                "points": lot.points, "remaining": lot.remaining, "source": lot.source, "bill_id": lot.bill_id,
                "expires_at": lot.expires_at, "created_at": lot.created_at,
            })
        })
        .collect())
}

async fn count_cards_of(ctx: &AppContext, merchant_id: i64, member_id: i64) -> Result<Vec<Value>> {
    Ok(crate::cards::count_cards::own(ctx, merchant_id, member_id)
        .await?
        .into_iter()
        .map(|card| {
            json!({
                "id": card.id, "name": card.name, "sessions_total": card.sessions_total,
                "sessions_left": card.sessions_left, "price_fen": card.price_fen, "status": card.status,
                "expires_at": card.expires_at, "created_at": card.created_at,
            })
        })
        .collect())
}

/// Their WeChat Pay and Alipay payments, with refunds.
async fn payments_of(ctx: &AppContext, merchant_id: i64, member_id: i64) -> Result<Vec<Value>> {
    let rows = payments::Entity::find()
        .filter(payments::Column::MerchantId.eq(merchant_id))
        .filter(payments::Column::MemberId.eq(member_id))
        .order_by_asc(payments::Column::Id)
        .all(&ctx.db)
        .await?;
    let ids: Vec<i64> = rows.iter().map(|p| p.id).collect();
    let refunds =
        payment_refunds::Entity::find().filter(payment_refunds::Column::PaymentId.is_in(ids)).all(&ctx.db).await?;
    Ok(rows
        .into_iter()
        .map(|payment| {
            let refunds: Vec<Value> = refunds
                .iter()
                .filter(|r| r.payment_id == payment.id)
                .map(|r| json!({ "amount_fen": r.amount_fen, "status": r.status, "at": r.created_at }))
                .collect();
            json!({
                "provider": payment.provider, "purpose": payment.purpose, "bill_id": payment.bill_id,
                "amount_fen": payment.amount_fen, "status": payment.status, "out_trade_no": payment.out_trade_no,
                "provider_trade_no": payment.provider_trade_no, "paid_at": payment.paid_at,
                "created_at": payment.created_at, "refunds": refunds,
            })
        })
        .collect())
}

/// What they agreed to: each message subscription they accepted (and whether it was used), and each member code
/// they showed at the desk (to be identified, or to consent to a debit).
async fn consents_of(ctx: &AppContext, merchant_id: i64, member_id: i64) -> Result<Value> {
    let subscriptions: Vec<Value> = member_subscriptions::Entity::find()
        .filter(member_subscriptions::Column::MerchantId.eq(merchant_id))
        .filter(member_subscriptions::Column::MemberId.eq(member_id))
        .order_by_asc(member_subscriptions::Column::Id)
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|s| json!({ "template_id": s.template_id, "accepted_at": s.accepted_at, "used_at": s.consumed_at }))
        .collect();
    let codes: Vec<Value> = member_code_uses::Entity::find()
        .filter(member_code_uses::Column::MemberId.eq(member_id))
        .order_by_asc(member_code_uses::Column::Id)
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|u| json!({ "use": u.purpose, "bill_id": u.bill_id, "at": u.used_at }))
        .collect();
    let marketing: Vec<Value> = super::consents::history(&ctx.db, merchant_id, member_id)
        .await?
        .into_iter()
        .map(|c| {
            json!({
                "purpose": c.purpose.as_str(), "granted": c.granted, "channel": c.channel, "wording": c.wording,
                "recorded_by_staff": c.recorded_by, "at": c.given_at,
            })
        })
        .collect();
    let ratings: Vec<Value> = visit_ratings::Entity::find()
        .filter(visit_ratings::Column::MerchantId.eq(merchant_id))
        .filter(visit_ratings::Column::MemberId.eq(member_id))
        .order_by_asc(visit_ratings::Column::Id)
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|r| json!({ "bill_id": r.bill_id, "staff_id": r.staff_id, "stars": r.stars, "comment": r.comment, "at": r.created_at }))
        .collect();
    Ok(json!({
        "message_subscriptions": subscriptions,
        "member_codes_shown": codes,
        "marketing_messages": marketing,
        "visit_ratings": ratings,
    }))
}

/// Staff export on the member's behalf (a request made at the desk).
pub async fn export_by_staff(ctx: &AppContext, principal: &StaffPrincipal, member_id: i64) -> Result<Value> {
    principal.require(Permission::MemberPrivacy)?;
    in_scope(ctx, principal, member_id).await?;
    let document = export(ctx, principal.merchant_id, member_id).await?;
    audit::record(
        &ctx.db,
        Event {
            merchant_id: Some(principal.merchant_id),
            actor: Actor::Staff(principal.staff_id),
            action: "member.exported",
            target: Some(("member", member_id)),
            detail: json!({}),
            ip: None,
        },
    )
    .await?;
    Ok(document)
}

/// Erases a member's personal data on their request. Personal fields, notes, allergy notes and linked WeChat/
/// Alipay accounts go; the member row stays as an anonymous shell so money records keep their counterparty.
pub async fn anonymise(ctx: &AppContext, merchant_id: i64, member_id: i64, actor: Actor) -> Result<()> {
    let txn = ctx.db.begin().await?;
    let current = row(&txn, merchant_id, member_id).await?;
    live(&current)?;
    let now = ctx.now();
    let mut active: members::ActiveModel = current.into();
    active.nickname = Set("已注销会员".to_owned());
    active.name_sealed = Set(None);
    active.name_index = Set(None);
    active.phone_sealed = Set(None);
    active.phone_index = Set(None);
    active.gender = Set(Gender::Unknown.as_str().to_owned());
    active.birthday = Set(None);
    active.birthday_sealed = Set(None);
    active.birth_month = Set(None);
    active.birth_day = Set(None);
    active.preferences = Set("{}".to_owned());
    active.preferences_sealed = Set(None);
    active.anonymised_at = Set(Some(now));
    active.updated_at = Set(now);
    active.update(&txn).await?;
    member_tags::Entity::delete_many().filter(member_tags::Column::MemberId.eq(member_id)).exec(&txn).await?;
    member_notes::Entity::delete_many().filter(member_notes::Column::MemberId.eq(member_id)).exec(&txn).await?;
    member_inbox::Entity::delete_many().filter(member_inbox::Column::MemberId.eq(member_id)).exec(&txn).await?;
    member_allergies::Entity::delete_many().filter(member_allergies::Column::MemberId.eq(member_id)).exec(&txn).await?;
    marketing_consents::Entity::delete_many()
        .filter(marketing_consents::Column::MemberId.eq(member_id))
        .exec(&txn)
        .await?;
    // The stars stay in the technicians' figures; the words were the member's.
    visit_ratings::Entity::update_many()
        .col_expr(visit_ratings::Column::Comment, Expr::value(Option::<String>::None))
        .filter(visit_ratings::Column::MemberId.eq(member_id))
        .exec(&txn)
        .await?;
    member_sessions::Entity::update_many()
        .col_expr(member_sessions::Column::RevokedAt, Expr::value(now))
        .filter(member_sessions::Column::MemberId.eq(member_id))
        .filter(member_sessions::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?;
    member_identities::Entity::delete_many()
        .filter(member_identities::Column::MemberId.eq(member_id))
        .exec(&txn)
        .await?;
    let cancelled = cancel_future_bookings(&txn, merchant_id, member_id, now).await?;
    forget_messages(&txn, merchant_id, member_id).await?;
    // Whoever paid in a wallet is the member's openid there.
    payments::Entity::update_many()
        .col_expr(payments::Column::Payer, Expr::value(Option::<String>::None))
        .filter(payments::Column::MerchantId.eq(merchant_id))
        .filter(payments::Column::MemberId.eq(member_id))
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        Event {
            merchant_id: Some(merchant_id),
            actor,
            action: "member.anonymised",
            target: Some(("member", member_id)),
            detail: json!({ "bookings_cancelled": cancelled }),
            ip: None,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// The member's bookings still ahead are cancelled (not as a late cancellation), their time freed for others.
async fn cancel_future_bookings(
    txn: &DatabaseTransaction,
    merchant_id: i64,
    member_id: i64,
    now: DateTime<Utc>,
) -> Result<Vec<i64>> {
    let live: Vec<&str> = BookingStatus::ALL.iter().filter(|s| s.is_live()).map(|s| s.as_str()).collect();
    let ids: Vec<i64> = bookings::Entity::find()
        .select_only()
        .column(bookings::Column::Id)
        .filter(bookings::Column::MerchantId.eq(merchant_id))
        .filter(bookings::Column::MemberId.eq(member_id))
        .filter(bookings::Column::Status.is_in(live))
        .filter(bookings::Column::StartsAt.gt(now))
        .into_tuple()
        .all(txn)
        .await?;
    if ids.is_empty() {
        return Ok(ids);
    }
    bookings::Entity::update_many()
        .col_expr(bookings::Column::Status, Expr::value("cancelled"))
        .col_expr(bookings::Column::LateCancel, Expr::value(false))
        .col_expr(bookings::Column::CancelReason, Expr::value(Some("member anonymised")))
        .col_expr(bookings::Column::FinishedAt, Expr::value(Some(now)))
        .col_expr(bookings::Column::UpdatedAt, Expr::value(now))
        .filter(bookings::Column::Id.is_in(ids.clone()))
        .exec(txn)
        .await?;
    booking_holds::Entity::delete_many().filter(booking_holds::Column::BookingId.is_in(ids.clone())).exec(txn).await?;
    Ok(ids)
}

/// Messages to the member, and to staff about the member's bookings, keep no openid or text about them: what was
/// not sent is withdrawn, and every payload is emptied (the history of what was sent when stays).
async fn forget_messages(txn: &DatabaseTransaction, merchant_id: i64, member_id: i64) -> Result<()> {
    let recipient = format!("member:{member_id}");
    notification_outbox::Entity::update_many()
        .col_expr(notification_outbox::Column::Status, Expr::value("skipped"))
        .col_expr(notification_outbox::Column::ErrorCode, Expr::value(Some("member_anonymised")))
        .col_expr(notification_outbox::Column::Error, Expr::value(Some("the member asked to be forgotten")))
        .filter(notification_outbox::Column::MerchantId.eq(merchant_id))
        .filter(notification_outbox::Column::Recipient.eq(recipient.as_str()))
        .filter(notification_outbox::Column::Status.eq("pending"))
        .exec(txn)
        .await?;
    notification_outbox::Entity::update_many()
        .col_expr(notification_outbox::Column::Payload, Expr::value("{}"))
        .filter(notification_outbox::Column::MerchantId.eq(merchant_id))
        .filter(notification_outbox::Column::Recipient.eq(recipient.as_str()))
        .exec(txn)
        .await?;
    // Messages to staff about the member's bookings (a reminder naming them) keep no text about them either; one not
    // sent yet is not sent (emptied, it would say nothing).
    let theirs = || {
        bookings::Entity::find()
            .select_only()
            .column(bookings::Column::Id)
            .filter(bookings::Column::MerchantId.eq(merchant_id))
            .filter(bookings::Column::MemberId.eq(member_id))
            .into_query()
    };
    notification_outbox::Entity::update_many()
        .col_expr(notification_outbox::Column::Status, Expr::value("skipped"))
        .col_expr(notification_outbox::Column::ErrorCode, Expr::value(Some("member_anonymised")))
        .col_expr(notification_outbox::Column::Error, Expr::value(Some("the member asked to be forgotten")))
        .filter(notification_outbox::Column::MerchantId.eq(merchant_id))
        .filter(notification_outbox::Column::BookingId.in_subquery(theirs()))
        .filter(notification_outbox::Column::Status.eq("pending"))
        .exec(txn)
        .await?;
    notification_outbox::Entity::update_many()
        .col_expr(notification_outbox::Column::Payload, Expr::value("{}"))
        .filter(notification_outbox::Column::MerchantId.eq(merchant_id))
        .filter(notification_outbox::Column::BookingId.in_subquery(theirs()))
        .exec(txn)
        .await?;
    Ok(())
}

pub async fn anonymise_by_staff(ctx: &AppContext, principal: &StaffPrincipal, member_id: i64) -> Result<()> {
    principal.require(Permission::MemberPrivacy)?;
    in_scope(ctx, principal, member_id).await?;
    anonymise(ctx, principal.merchant_id, member_id, Actor::Staff(principal.staff_id)).await
}

/// A member's whole record is for staff of their home store, or merchant-wide staff: a store-scoped manager does
/// not export or erase the members of another store (a member with no home store is the merchant's).
async fn in_scope(ctx: &AppContext, principal: &StaffPrincipal, member_id: i64) -> Result<()> {
    let member = row(&ctx.db, principal.merchant_id, member_id).await?;
    match &principal.stores {
        crate::foundation::principal::StoreScope::All => Ok(()),
        crate::foundation::principal::StoreScope::Only(stores) => match member.home_store_id {
            Some(store) if stores.contains(&store) => Ok(()),
            _ => Err(crate::Error::NotFound("member")),
        },
    }
}
