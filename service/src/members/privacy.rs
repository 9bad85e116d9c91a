//! A member's personal-data rights (PIPL): everything held about them as one document, and anonymisation.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};
use serde_json::{Value, json};

use entity::{
    booking_holds, bookings, member_allergies, member_identities, member_notes, member_sessions, member_tags, members,
    notification_outbox,
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
    let notes: Vec<Value> = member_notes::Entity::find()
        .filter(member_notes::Column::MemberId.eq(member_id))
        .order_by_asc(member_notes::Column::Id)
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|n| json!({ "body": n.body, "created_at": n.created_at }))
        .collect();
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
    }))
}

/// Staff export on the member's behalf (a request made at the desk).
pub async fn export_by_staff(ctx: &AppContext, principal: &StaffPrincipal, member_id: i64) -> Result<Value> {
    principal.require(Permission::MemberPrivacy)?;
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
    active.birth_month = Set(None);
    active.preferences = Set("{}".to_owned());
    active.anonymised_at = Set(Some(now));
    active.updated_at = Set(now);
    active.update(&txn).await?;
    member_tags::Entity::delete_many().filter(member_tags::Column::MemberId.eq(member_id)).exec(&txn).await?;
    member_notes::Entity::delete_many().filter(member_notes::Column::MemberId.eq(member_id)).exec(&txn).await?;
    member_allergies::Entity::delete_many().filter(member_allergies::Column::MemberId.eq(member_id)).exec(&txn).await?;
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

/// Messages to the member keep no openid or text about them: what was not sent is withdrawn, and every payload
/// is emptied (the history of what was sent when stays).
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
    Ok(())
}

pub async fn anonymise_by_staff(ctx: &AppContext, principal: &StaffPrincipal, member_id: i64) -> Result<()> {
    principal.require(Permission::MemberPrivacy)?;
    anonymise(ctx, principal.merchant_id, member_id, Actor::Staff(principal.staff_id)).await
}
