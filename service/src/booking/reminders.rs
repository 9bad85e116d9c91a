//! Booking reminders, through an outbox.
//!
//! - **Deciding** ([`enqueue_due`]): when a live booking comes within its store's reminder time, one message per
//!   recipient is written to `notification_outbox` under a dedupe key (booking, recipient, start), so deciding twice
//!   (two schedulers, a rerun) writes one row. A member is reached by a WeChat subscribe message when they accepted
//!   one for the merchant's reminder template (the message consumes that acceptance in the same transaction), else
//!   by SMS when they have a phone number; the staff member by SMS. Field values are fitted to WeChat's field rules
//!   before anything is written ([`crate::integrations::subscribe_fields`]).
//! - **Sending** is the outbox's ([`crate::notifications::outbox`]).
//! - A cancelled, moved or checked-in booking withdraws its pending messages and gives back the subscriptions they
//!   had consumed ([`crate::notifications::outbox::withdraw`]).

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use entity::{
    bookings, member_identities, member_subscriptions, members, merchants, notification_outbox, staff, stores,
};

use crate::booking::calendar::Calendar;
use crate::domain::{Permission, PhoneNumber};
use crate::foundation::principal::StaffPrincipal;
use crate::foundation::vault::Field;
use crate::integrations::subscribe_fields;
use crate::members::auth::MemberPrincipal;
use crate::notifications::outbox::Outgoing;
use crate::{AppContext, Error, Result};

/// Open acceptances a member may hold per template (WeChat itself does not cap them; we keep it sane).
const MAX_OPEN_SUBSCRIPTIONS: u64 = 50;

/// The merchant's reminder template: its id, the page the message opens, and what fills each field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReminderTemplate {
    pub template_id: String,
    /// Mini-program page, `{booking_id}` replaced.
    pub page: Option<String>,
    /// Field key (`thing1`, `time2`…) → source: `services`, `starts_at`, `date`, `store`, `address`, `staff`,
    /// `member`, `note`.
    pub fields: BTreeMap<String, String>,
}

const SOURCES: [&str; 8] = ["services", "starts_at", "date", "store", "address", "staff", "member", "note"];

/// What fills the "points expiring soon" notice: the points expiring, the day they expire, the points the member
/// holds, the member, a line of text.
pub const POINTS_SOURCES: [&str; 5] = ["points", "expires_on", "available", "member", "note"];

pub fn template_of(merchant: &merchants::Model) -> Option<ReminderTemplate> {
    merchant.booking_reminder_template.as_deref().and_then(|t| serde_json::from_str(t).ok())
}

/// The template of the "points expiring soon" notice, if the merchant set one.
pub fn points_template_of(merchant: &merchants::Model) -> Option<ReminderTemplate> {
    merchant.points_expiry_template.as_deref().and_then(|t| serde_json::from_str(t).ok())
}

/// Sets (or with `None` removes) the merchant's reminder template.
pub async fn set_template(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    template: Option<ReminderTemplate>,
) -> Result<Option<ReminderTemplate>> {
    save_template(ctx, principal, template, TemplateUse::BookingReminder).await
}

/// Sets (or with `None` removes) the template of the "points expiring soon" notice.
pub async fn set_points_template(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    template: Option<ReminderTemplate>,
) -> Result<Option<ReminderTemplate>> {
    save_template(ctx, principal, template, TemplateUse::PointsExpiring).await
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum TemplateUse {
    BookingReminder,
    PointsExpiring,
}

async fn save_template(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    template: Option<ReminderTemplate>,
    use_: TemplateUse,
) -> Result<Option<ReminderTemplate>> {
    principal.require_merchant_wide(Permission::MerchantManage)?;
    let sources: &[&str] = if use_ == TemplateUse::BookingReminder { &SOURCES } else { &POINTS_SOURCES };
    if let Some(t) = &template {
        let id_ok = (1..=128).contains(&t.template_id.len())
            && t.template_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !id_ok {
            return Err(Error::invalid("template_id", "must be the template id from the mini-program console"));
        }
        if t.page.as_ref().is_some_and(|p| p.len() > 256 || p.starts_with('/')) {
            return Err(Error::invalid("page", "a page path without a leading /, at most 256 characters"));
        }
        if t.fields.is_empty() || t.fields.len() > 10 {
            return Err(Error::invalid("fields", "one to ten fields"));
        }
        for (key, source) in &t.fields {
            if subscribe_fields::FieldKind::of_key(key).is_none() {
                return Err(Error::invalid("fields", format!("{key} is not a subscribe-message field key")));
            }
            if !sources.contains(&source.as_str()) {
                return Err(Error::invalid("fields", format!("{source} is not one of {}", sources.join(", "))));
            }
        }
    }
    let merchant = crate::foundation::merchants::get(ctx, principal.merchant_id).await?;
    let mut active: merchants::ActiveModel = merchant.into();
    let stored = Set(template.as_ref().map(serde_json::to_string).transpose().map_err(anyhow::Error::from)?);
    let action = match use_ {
        TemplateUse::BookingReminder => {
            active.booking_reminder_template = stored;
            "merchant.reminder_template_set"
        }
        TemplateUse::PointsExpiring => {
            active.points_expiry_template = stored;
            "merchant.points_expiry_template_set"
        }
    };
    let txn = ctx.db.begin().await?;
    active.update(&txn).await?;
    crate::foundation::audit::record(
        &txn,
        crate::foundation::audit::Event {
            merchant_id: Some(principal.merchant_id),
            actor: crate::foundation::audit::Actor::Staff(principal.staff_id),
            action,
            target: Some(("merchant", principal.merchant_id)),
            detail: json!({ "template_id": template.as_ref().map(|t| t.template_id.clone()) }),
            ip: None,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(template)
}

/// The templates the mini-program asks the member to subscribe to (`wx.requestSubscribeMessage`).
pub async fn templates(ctx: &AppContext, merchant_id: i64) -> Result<Vec<(&'static str, String)>> {
    let merchant = crate::foundation::merchants::get(ctx, merchant_id).await?;
    let mut templates = Vec::new();
    if let Some(t) = template_of(&merchant) {
        templates.push(("booking_reminder", t.template_id));
    }
    if let Some(t) = points_template_of(&merchant) {
        templates.push(("points_expiring", t.template_id));
    }
    Ok(templates)
}

/// Records what the member answered in `wx.requestSubscribeMessage` (`accept`, `reject`, `ban`, `filter` per
/// template id): each `accept` of one of the merchant's templates is one message we may send. Returns the open
/// acceptances per template.
pub async fn record_answers(
    ctx: &AppContext,
    principal: &MemberPrincipal,
    answers: &BTreeMap<String, String>,
) -> Result<Vec<(String, u64)>> {
    let known: Vec<String> = templates(ctx, principal.merchant_id).await?.into_iter().map(|(_, id)| id).collect();
    for (template, answer) in answers {
        if !["accept", "reject", "ban", "filter"].contains(&answer.as_str()) {
            return Err(Error::invalid("answers", "each answer is accept, reject, ban or filter"));
        }
        if !known.contains(template) {
            return Err(Error::invalid("answers", format!("{template} is not a template of this merchant")));
        }
    }
    let now = ctx.now();
    let txn = ctx.db.begin().await?;
    for (template, answer) in answers {
        if answer != "accept"
            || open_subscriptions(&txn, principal.member_id, template).await? >= MAX_OPEN_SUBSCRIPTIONS
        {
            continue;
        }
        member_subscriptions::ActiveModel {
            merchant_id: Set(principal.merchant_id),
            member_id: Set(principal.member_id),
            template_id: Set(template.clone()),
            accepted_at: Set(now),
            consumed_at: Set(None),
            consumed_by: Set(None),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
    }
    let mut open = Vec::new();
    for template in &known {
        open.push((template.clone(), open_subscriptions(&txn, principal.member_id, template).await?));
    }
    txn.commit().await?;
    Ok(open)
}

async fn open_subscriptions(conn: &impl ConnectionTrait, member_id: i64, template: &str) -> Result<u64> {
    use sea_orm::PaginatorTrait;
    Ok(member_subscriptions::Entity::find()
        .filter(member_subscriptions::Column::MemberId.eq(member_id))
        .filter(member_subscriptions::Column::TemplateId.eq(template))
        .filter(member_subscriptions::Column::ConsumedAt.is_null())
        .count(conn)
        .await?)
}

/// A staff member's phone for SMS reminders (sealed), or none.
pub async fn set_staff_phone(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    staff_id: i64,
    phone: Option<&str>,
) -> Result<()> {
    principal.require(Permission::StaffManage)?;
    crate::foundation::staff::in_scope_of(&ctx.db, principal, staff_id).await?;
    let row = staff::Entity::find_by_id(staff_id).one(&ctx.db).await?.ok_or(Error::NotFound("staff member"))?;
    let sealed = phone
        .map(|p| PhoneNumber::parse(p).map_err(|m| Error::invalid("phone", m)))
        .transpose()?
        .map(|p| ctx.vault.seal(Field::StaffPhone, p.as_str()));
    let mut active: staff::ActiveModel = row.into();
    active.phone_sealed = Set(sealed);
    active.update(&ctx.db).await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------------
// Deciding

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Decided {
    pub queued: u64,
    pub skipped: u64,
    pub failed: u64,
}

/// What a message will say, resolved from the booking.
struct Facts {
    services: String,
    starts_at: String,
    date: String,
    store: String,
    address: String,
    staff: String,
    member: String,
    note: String,
}

impl Facts {
    fn source(&self, name: &str) -> &str {
        match name {
            "services" => &self.services,
            "starts_at" => &self.starts_at,
            "date" => &self.date,
            "store" => &self.store,
            "address" => &self.address,
            "staff" => &self.staff,
            "member" => &self.member,
            _ => &self.note,
        }
    }
}

/// Writes the reminders that are due at `now` and not yet written. Idempotent.
pub async fn enqueue_due(ctx: &AppContext, now: DateTime<Utc>) -> Result<Decided> {
    let mut decided = Decided::default();
    // The longest reminder time a store may set is a week.
    let due = bookings::Entity::find()
        .filter(bookings::Column::Status.is_in(crate::booking::bookings::LIVE))
        .filter(bookings::Column::StartsAt.gt(now))
        .filter(bookings::Column::StartsAt.lte(now + Duration::days(7)))
        .order_by_asc(bookings::Column::StartsAt)
        .all(&ctx.db)
        .await?;
    if due.is_empty() {
        return Ok(decided);
    }
    let ids: Vec<i64> = due.iter().map(|b| b.id).collect();
    let written: HashSet<String> = notification_outbox::Entity::find()
        .select_only()
        .column(notification_outbox::Column::DedupeKey)
        .filter(notification_outbox::Column::BookingId.is_in(ids))
        .into_tuple::<String>()
        .all(&ctx.db)
        .await?
        .into_iter()
        .collect();
    let mut stores_by_id: BTreeMap<i64, stores::Model> = BTreeMap::new();
    for booking in due {
        if !stores_by_id.contains_key(&booking.store_id) {
            let Some(store) = stores::Entity::find_by_id(booking.store_id).one(&ctx.db).await? else { continue };
            stores_by_id.insert(store.id, store);
        }
        let Some(store) = stores_by_id.get(&booking.store_id) else { continue };
        let start = booking.starts_at.timestamp();
        let member_lead = Duration::minutes(i64::from(store.member_reminder_min));
        let member_key = format!("booking:{}:member:{start}", booking.id);
        // A member who booked inside the reminder time has just seen the booking: no reminder.
        if store.member_reminder_min > 0
            && now >= booking.starts_at - member_lead
            && booking.created_at <= booking.starts_at - member_lead
            && !written.contains(&member_key)
        {
            tally(&mut decided, remind_member(ctx, store, &booking, &member_key, now).await?);
        }
        let staff_key = format!("booking:{}:staff:{}:{start}", booking.id, booking.staff_id);
        if store.staff_reminder_min > 0
            && now >= booking.starts_at - Duration::minutes(i64::from(store.staff_reminder_min))
            && !written.contains(&staff_key)
        {
            tally(&mut decided, remind_staff(ctx, store, &booking, &staff_key, now).await?);
        }
    }
    Ok(decided)
}

fn tally(decided: &mut Decided, status: Option<&'static str>) {
    match status {
        Some("pending") => decided.queued += 1,
        Some("skipped") => decided.skipped += 1,
        Some(_) => decided.failed += 1,
        None => {}
    }
}

async fn facts(ctx: &AppContext, store: &stores::Model, booking: &bookings::Model) -> Result<Facts> {
    let calendar = Calendar::new(&store.timezone);
    let local = booking.starts_at.with_timezone(&calendar.tz);
    let services: Vec<String> =
        crate::booking::bookings::items_of(&ctx.db, booking.id).await?.into_iter().map(|i| i.name).collect();
    let staff_name =
        staff::Entity::find_by_id(booking.staff_id).one(&ctx.db).await?.map(|s| s.display_name).unwrap_or_default();
    let member = members::Entity::find_by_id(booking.member_id).one(&ctx.db).await?.ok_or(Error::NotFound("member"))?;
    Ok(Facts {
        services: services.join("+"),
        starts_at: local.format("%Y年%-m月%-d日 %H:%M").to_string(),
        date: local.format("%Y年%-m月%-d日").to_string(),
        store: store.name.clone(),
        address: store.address.clone(),
        staff: staff_name,
        member: crate::members::label(ctx, &member, false)?,
        note: if booking.note.is_empty() { "请准时到店".to_owned() } else { booking.note.clone() },
    })
}

async fn remind_member(
    ctx: &AppContext,
    store: &stores::Model,
    booking: &bookings::Model,
    key: &str,
    now: DateTime<Utc>,
) -> Result<Option<&'static str>> {
    let merchant = crate::foundation::merchants::get(ctx, booking.merchant_id).await?;
    let facts = facts(ctx, store, booking).await?;
    let outgoing = |channel| Outgoing {
        merchant_id: booking.merchant_id,
        booking_id: Some(booking.id),
        key,
        channel,
        purpose: "member_reminder",
        recipient: format!("member:{}", booking.member_id),
        now,
    };
    let openid = member_identities::Entity::find()
        .filter(member_identities::Column::MemberId.eq(booking.member_id))
        .filter(member_identities::Column::Provider.eq("wechat"))
        .one(&ctx.db)
        .await?
        .map(|i| i.subject);
    if let (Some(template), Some(openid)) = (template_of(&merchant), openid) {
        let subscription = member_subscriptions::Entity::find()
            .filter(member_subscriptions::Column::MemberId.eq(booking.member_id))
            .filter(member_subscriptions::Column::TemplateId.eq(template.template_id.as_str()))
            .filter(member_subscriptions::Column::ConsumedAt.is_null())
            .order_by_asc(member_subscriptions::Column::Id)
            .one(&ctx.db)
            .await?;
        if let Some(subscription) = subscription {
            let data: Vec<(String, String)> =
                template.fields.iter().map(|(k, source)| (k.clone(), facts.source(source).to_owned())).collect();
            let page = template.page.as_ref().map(|p| p.replace("{booking_id}", &booking.id.to_string()));
            let wechat = outgoing("wechat_subscribe");
            return match subscribe_fields::fit_all(&data) {
                Ok(data) => {
                    let payload = json!({
                        "touser": openid, "template_id": template.template_id, "page": page, "data": data,
                    });
                    wechat.pending(ctx, payload, Some(subscription.id)).await
                }
                Err(error) => {
                    let payload = json!({ "template_id": template.template_id });
                    wechat.failed(ctx, payload, ("field_rule", error.to_string())).await
                }
            };
        }
    }
    let member = members::Entity::find_by_id(booking.member_id).one(&ctx.db).await?.ok_or(Error::NotFound("member"))?;
    if member.phone_sealed.is_some() && ctx.settings.notifications.sms_enabled {
        let text = format!(
            "【{}】您预约的{}将于{}开始，服务人员{}，地址：{}。如需改期请提前联系门店。",
            store.name, facts.services, facts.starts_at, facts.staff, facts.address
        );
        return outgoing("sms").pending(ctx, json!({ "text": text }), None).await;
    }
    let why = ("no_channel", "no subscription accepted and no phone number".to_owned());
    outgoing("wechat_subscribe").skipped(ctx, why).await
}

async fn remind_staff(
    ctx: &AppContext,
    store: &stores::Model,
    booking: &bookings::Model,
    key: &str,
    now: DateTime<Utc>,
) -> Result<Option<&'static str>> {
    let member = staff::Entity::find_by_id(booking.staff_id).one(&ctx.db).await?;
    let sms = Outgoing {
        merchant_id: booking.merchant_id,
        booking_id: Some(booking.id),
        key,
        channel: "sms",
        purpose: "staff_reminder",
        recipient: format!("staff:{}", booking.staff_id),
        now,
    };
    if !ctx.settings.notifications.sms_enabled {
        return sms.skipped(ctx, ("sms_disabled", "SMS is turned off (notifications.sms_enabled)".to_owned())).await;
    }
    if member.as_ref().and_then(|s| s.phone_sealed.as_ref()).is_none() {
        return sms.skipped(ctx, ("no_phone", "the staff member has no phone number for reminders".to_owned())).await;
    }
    let facts = facts(ctx, store, booking).await?;
    let text = format!("【{}】{} 预约：{}，{}。", store.name, facts.starts_at, facts.member, facts.services);
    sms.pending(ctx, json!({ "text": text }), None).await
}

// ---------------------------------------------------------------------------------------------------------------
// Sending
