//! The outbox of messages to members and staff (`notification_outbox`): features write a message in the transaction
//! that decides it; [`deliver_due`] sends it over its channel (a WeChat subscribe message or SMS) and records the
//! outcome.
//!
//! - **Sending**: a sender claims a message for `notifications.claim_secs` with a guarded update, sends it, and marks
//!   it sent. A sender that dies mid-run leaves its claims to expire; the next run sends those messages, and nothing
//!   already marked sent goes again. The one window left is between the provider's answer and our commit,
//!   milliseconds wide; a message caught in it can go twice (and a one-time subscription makes WeChat refuse a
//!   second with 43101).
//! - **Refusals are final**: 43101 (no subscription left), 47003 (a field rule), a bad openid or template are
//!   recorded with their code and never retried, so there is no retry storm. Only "unavailable" is retried, with
//!   backoff, five times.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Condition, Expr, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};
use serde::Deserialize;
use serde_json::json;

use entity::{bookings, member_subscriptions, members, notification_outbox, staff};

use crate::domain::{Permission, PhoneNumber};
use crate::error::is_unique_violation;
use crate::foundation::principal::{StaffPrincipal, StoreScope};
use crate::foundation::vault::Field;
use crate::integrations::wechat::SubscribeMessage;
use crate::{AppContext, Error, Result};

/// Attempts at a message WeChat or the SMS provider could not take, before it is left failed.
pub const MAX_ATTEMPTS: i32 = 5;

/// Withdraws a booking's unsent messages (it was cancelled, moved or checked in) and gives back the subscriptions
/// they had consumed.
pub async fn withdraw(conn: &impl ConnectionTrait, booking_id: i64, reason: &str) -> Result<()> {
    let ids: Vec<i64> = notification_outbox::Entity::find()
        .select_only()
        .column(notification_outbox::Column::Id)
        .filter(notification_outbox::Column::BookingId.eq(booking_id))
        .filter(notification_outbox::Column::Status.eq("pending"))
        .into_tuple()
        .all(conn)
        .await?;
    if ids.is_empty() {
        return Ok(());
    }
    notification_outbox::Entity::update_many()
        .col_expr(notification_outbox::Column::Status, Expr::value("skipped"))
        .col_expr(notification_outbox::Column::ErrorCode, Expr::value(Some("withdrawn")))
        .col_expr(notification_outbox::Column::Error, Expr::value(Some(format!("booking {reason}"))))
        .filter(notification_outbox::Column::Id.is_in(ids.clone()))
        .filter(notification_outbox::Column::Status.eq("pending"))
        .exec(conn)
        .await?;
    member_subscriptions::Entity::update_many()
        .col_expr(member_subscriptions::Column::ConsumedAt, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(member_subscriptions::Column::ConsumedBy, Expr::value(Option::<i64>::None))
        .filter(member_subscriptions::Column::ConsumedBy.is_in(ids))
        .exec(conn)
        .await?;
    Ok(())
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Delivered {
    pub sent: u64,
    /// Taken by a channel that reaches no phone (the embedded default's SMS log).
    pub logged: u64,
    pub failed: u64,
    pub retrying: u64,
}

enum Outcome {
    Sent,
    /// Written where no recipient reads it (the SMS log channel).
    Logged,
    /// Refused for good: code and message.
    Refused(String, String),
    /// Could not be sent now.
    Unavailable(String),
}

fn due_condition(now: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(
            Condition::all()
                .add(notification_outbox::Column::Status.eq("pending"))
                .add(notification_outbox::Column::NextAttemptAt.lte(now)),
        )
        .add(
            Condition::all()
                .add(notification_outbox::Column::Status.eq("sending"))
                .add(notification_outbox::Column::ClaimedUntil.lt(now)),
        )
}

/// Sends up to `limit` due messages (pending, or claimed by a sender that did not finish). Returns what happened.
pub async fn deliver_due(ctx: &AppContext, now: DateTime<Utc>, limit: u64) -> Result<Delivered> {
    let mut delivered = Delivered::default();
    let due = notification_outbox::Entity::find()
        .filter(due_condition(now))
        .order_by_asc(notification_outbox::Column::Id)
        .limit(limit)
        .all(&ctx.db)
        .await?;
    let claim = Duration::seconds(ctx.settings.notifications.claim_secs);
    for message in due {
        // Guarded: exactly one sender takes a message.
        let taken = notification_outbox::Entity::update_many()
            .col_expr(notification_outbox::Column::Status, Expr::value("sending"))
            .col_expr(notification_outbox::Column::ClaimedUntil, Expr::value(Some(now + claim)))
            .col_expr(notification_outbox::Column::Attempts, Expr::value(message.attempts + 1))
            .filter(notification_outbox::Column::Id.eq(message.id))
            .filter(notification_outbox::Column::Attempts.eq(message.attempts))
            .filter(due_condition(now))
            .exec(&ctx.db)
            .await?;
        if taken.rows_affected != 1 {
            continue;
        }
        let outcome = send(ctx, &message).await;
        let update = notification_outbox::Entity::update_many()
            .filter(notification_outbox::Column::Id.eq(message.id))
            .filter(notification_outbox::Column::Status.eq("sending"));
        let update = match outcome {
            Outcome::Sent | Outcome::Logged => {
                let status = if matches!(outcome, Outcome::Logged) {
                    delivered.logged += 1;
                    "logged"
                } else {
                    delivered.sent += 1;
                    "sent"
                };
                update
                    .col_expr(notification_outbox::Column::Status, Expr::value(status))
                    .col_expr(notification_outbox::Column::SentAt, Expr::value(Some(ctx.now())))
                    .col_expr(notification_outbox::Column::ErrorCode, Expr::value(Option::<String>::None))
                    .col_expr(notification_outbox::Column::Error, Expr::value(Option::<String>::None))
            }
            Outcome::Refused(code, text) => {
                tracing::info!(message = message.id, %code, %text, "reminder refused");
                delivered.failed += 1;
                update
                    .col_expr(notification_outbox::Column::Status, Expr::value("failed"))
                    .col_expr(notification_outbox::Column::ErrorCode, Expr::value(Some(code)))
                    .col_expr(notification_outbox::Column::Error, Expr::value(Some(text)))
            }
            Outcome::Unavailable(text) => {
                let attempts = message.attempts + 1;
                let (status, code) = if attempts >= MAX_ATTEMPTS {
                    delivered.failed += 1;
                    ("failed", "unavailable")
                } else {
                    delivered.retrying += 1;
                    ("pending", "retrying")
                };
                // 1, 4, 16, 64 minutes.
                let backoff = Duration::minutes(4_i64.pow(u32::try_from(attempts - 1).unwrap_or(0)));
                update
                    .col_expr(notification_outbox::Column::Status, Expr::value(status))
                    .col_expr(notification_outbox::Column::NextAttemptAt, Expr::value(now + backoff))
                    .col_expr(notification_outbox::Column::ErrorCode, Expr::value(Some(code)))
                    .col_expr(notification_outbox::Column::Error, Expr::value(Some(text)))
            }
        };
        update.exec(&ctx.db).await?;
    }
    Ok(delivered)
}

#[derive(Deserialize)]
struct WechatPayload {
    touser: String,
    template_id: String,
    page: Option<String>,
    data: Vec<(String, String)>,
}

async fn send(ctx: &AppContext, message: &notification_outbox::Model) -> Outcome {
    let result = match message.channel.as_str() {
        "wechat_subscribe" => send_wechat(ctx, message).await,
        "sms" => send_sms(ctx, message).await,
        other => return Outcome::Refused("unknown_channel".into(), format!("no channel {other}")),
    };
    match result {
        Ok(outcome) => outcome,
        Err(Error::ProviderRejected { code, message, .. }) => Outcome::Refused(code, message),
        Err(error) => Outcome::Unavailable(format!("{error:#}")),
    }
}

async fn send_wechat(ctx: &AppContext, message: &notification_outbox::Model) -> Result<Outcome> {
    let payload: WechatPayload =
        serde_json::from_str(&message.payload).map_err(|e| Error::Internal(anyhow::anyhow!("outbox payload: {e}")))?;
    let merchant = crate::foundation::merchants::get(ctx, message.merchant_id).await?;
    let Some(appid) = merchant.wechat_appid.clone() else {
        return Ok(Outcome::Refused("no_wechat".into(), "the merchant has no mini-program configured".into()));
    };
    let request = SubscribeMessage {
        touser: payload.touser,
        template_id: payload.template_id,
        page: payload.page,
        data: payload.data,
        miniprogram_state: if ctx.settings.is_production() { "formal" } else { "developer" }.to_owned(),
        lang: "zh_CN".to_owned(),
    };
    let token = crate::members::auth::access_token(ctx, &merchant, &appid, false).await?;
    match ctx.wechat.send_subscribe_message(&token, &request).await {
        // Our cached token was invalidated or expired early: fetch a fresh one once.
        Err(Error::ProviderRejected { code, .. }) if code == "40001" || code == "42001" => {
            let token = crate::members::auth::access_token(ctx, &merchant, &appid, true).await?;
            ctx.wechat.send_subscribe_message(&token, &request).await?;
        }
        other => other?,
    }
    Ok(Outcome::Sent)
}

async fn send_sms(ctx: &AppContext, message: &notification_outbox::Model) -> Result<Outcome> {
    let text = serde_json::from_str::<serde_json::Value>(&message.payload)
        .ok()
        .and_then(|p| p["text"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let phone = match message.recipient.split_once(':') {
        Some(("member", id)) => {
            let row = members::Entity::find_by_id(id.parse::<i64>().unwrap_or(0)).one(&ctx.db).await?;
            ctx.vault.open_opt(Field::MemberPhone, row.and_then(|r| r.phone_sealed).as_deref())?
        }
        Some(("staff", id)) => {
            let row = staff::Entity::find_by_id(id.parse::<i64>().unwrap_or(0)).one(&ctx.db).await?;
            ctx.vault.open_opt(Field::StaffPhone, row.and_then(|r| r.phone_sealed).as_deref())?
        }
        _ => None,
    };
    let Some(phone) = phone.and_then(|p| PhoneNumber::parse(&p).ok()) else {
        return Ok(Outcome::Refused("no_phone".into(), "the recipient has no phone number".into()));
    };
    Ok(match ctx.sms.send(&phone, &text).await {
        Ok(()) if ctx.sms.delivers() => Outcome::Sent,
        Ok(()) => Outcome::Logged,
        Err(e) if e.permanent => Outcome::Refused(e.code, e.message),
        Err(e) => Outcome::Unavailable(format!("{}: {}", e.code, e.message)),
    })
}

/// The outbox as staff see it: one booking's messages, or the latest.
pub async fn list(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    booking_id: Option<i64>,
) -> Result<Vec<notification_outbox::Model>> {
    principal.require(Permission::BookingManage)?;
    let mut query =
        notification_outbox::Entity::find().filter(notification_outbox::Column::MerchantId.eq(principal.merchant_id));
    // Store-scoped staff read the messages about their stores' bookings; the rest (points notices, messages about
    // no booking) are for merchant-wide staff.
    if let StoreScope::Only(stores) = &principal.stores {
        let their_bookings = Query::select()
            .column(bookings::Column::Id)
            .from(bookings::Entity)
            .and_where(bookings::Column::StoreId.is_in(stores.clone()))
            .to_owned();
        query = query.filter(notification_outbox::Column::BookingId.in_subquery(their_bookings));
    }
    if let Some(id) = booking_id {
        query = query.filter(notification_outbox::Column::BookingId.eq(id));
    }
    Ok(query.order_by_desc(notification_outbox::Column::Id).limit(200).all(&ctx.db).await?)
}

/// One message about to be written: for whom, by which channel, under which dedupe key (about a booking, or not).
pub(crate) struct Outgoing<'a> {
    pub merchant_id: i64,
    pub booking_id: Option<i64>,
    pub key: &'a str,
    pub channel: &'static str,
    pub purpose: &'static str,
    pub recipient: String,
    pub now: DateTime<Utc>,
}

impl Outgoing<'_> {
    /// To be sent, consuming `subscription` (the member's one-time acceptance) if any.
    pub async fn pending(
        self,
        ctx: &AppContext,
        payload: serde_json::Value,
        subscription: Option<i64>,
    ) -> Result<Option<&'static str>> {
        self.write(ctx, payload, "pending", None, subscription).await
    }

    /// Refused before sending (a field WeChat would refuse): recorded, never retried.
    pub async fn failed(
        self,
        ctx: &AppContext,
        payload: serde_json::Value,
        why: (&str, String),
    ) -> Result<Option<&'static str>> {
        self.write(ctx, payload, "failed", Some(why), None).await
    }

    /// Nothing to send it by: recorded, so it is decided once.
    pub async fn skipped(self, ctx: &AppContext, why: (&str, String)) -> Result<Option<&'static str>> {
        self.write(ctx, json!({}), "skipped", Some(why), None).await
    }

    /// The outbox row, with the subscription it consumes if any, in one transaction. `None` when another process
    /// wrote it first.
    async fn write(
        self,
        ctx: &AppContext,
        payload: serde_json::Value,
        status: &'static str,
        error: Option<(&str, String)>,
        subscription: Option<i64>,
    ) -> Result<Option<&'static str>> {
        let now = self.now;
        let txn = ctx.db.begin().await?;
        let inserted = notification_outbox::ActiveModel {
            merchant_id: Set(self.merchant_id),
            channel: Set(self.channel.to_owned()),
            purpose: Set(self.purpose.to_owned()),
            booking_id: Set(self.booking_id),
            recipient: Set(self.recipient),
            dedupe_key: Set(self.key.to_owned()),
            payload: Set(payload.to_string()),
            status: Set(status.to_owned()),
            attempts: Set(0),
            next_attempt_at: Set(now),
            claimed_until: Set(None),
            error_code: Set(error.as_ref().map(|e| e.0.to_owned())),
            error: Set(error.map(|e| e.1)),
            created_at: Set(now),
            sent_at: Set(None),
            ..Default::default()
        }
        .insert(&txn)
        .await;
        let row = match inserted {
            Ok(row) => row,
            Err(err) if is_unique_violation(&err) => return Ok(None),
            Err(err) => return Err(err.into()),
        };
        if let Some(subscription) = subscription {
            let taken = member_subscriptions::Entity::update_many()
                .col_expr(member_subscriptions::Column::ConsumedAt, Expr::value(Some(now)))
                .col_expr(member_subscriptions::Column::ConsumedBy, Expr::value(Some(row.id)))
                .filter(member_subscriptions::Column::Id.eq(subscription))
                .filter(member_subscriptions::Column::ConsumedAt.is_null())
                .exec(&txn)
                .await?;
            if taken.rows_affected != 1 {
                // Someone used that acceptance meanwhile: decide again on the next run.
                txn.rollback().await?;
                return Ok(None);
            }
        }
        txn.commit().await?;
        Ok(Some(status))
    }
}
