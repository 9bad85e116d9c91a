//! "Points expiring soon": once per member and expiry day, a WeChat subscribe message on the merchant's points
//! template to members who accepted it (each acceptance allows one message, consumed with it), written to the
//! outbox that `reminders.send` delivers. Members without an open acceptance get nothing: this is a notice they
//! asked for, not marketing.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::json;

use entity::{member_identities, member_subscriptions, members, points_lots};

use crate::foundation::stores::Keeping;
use crate::integrations::subscribe_fields;
use crate::notifications::outbox::Outgoing;
use crate::{AppContext, Result};

/// How far ahead a member hears of points about to expire.
pub const NOTICE_DAYS: i64 = 7;

/// What one run decided.
#[derive(Clone, Copy, Debug, Default)]
pub struct Notified {
    pub queued: u64,
    pub refused: u64,
}

/// The notice job in one time zone, at `now`: members kept at a store in `timezone` holding points that expire
/// within [`NOTICE_DAYS`]. Idempotent: the outbox's dedupe key (member and expiry day) writes each notice once.
pub async fn notify_in_zone(ctx: &AppContext, timezone: &str, now: DateTime<Utc>) -> Result<Notified> {
    let mut done = Notified::default();
    let keeping = Keeping::in_zone(&ctx.db, timezone).await?;
    if keeping.is_empty() {
        return Ok(done);
    }
    let zone: chrono_tz::Tz = timezone.parse().unwrap_or(chrono_tz::Asia::Shanghai);
    let lots = points_lots::Entity::find()
        .filter(points_lots::Column::Remaining.gt(0))
        .filter(points_lots::Column::ExpiresAt.gt(now))
        .filter(points_lots::Column::ExpiresAt.lte(now + Duration::days(NOTICE_DAYS)))
        .order_by_asc(points_lots::Column::ExpiresAt)
        .all(&ctx.db)
        .await?;
    // Per member: the points expiring in the window and the first day they do.
    let mut expiring: BTreeMap<i64, (i64, DateTime<Utc>)> = BTreeMap::new();
    for lot in &lots {
        let entry = expiring.entry(lot.member_id).or_insert((0, lot.expires_at));
        entry.0 += lot.remaining;
    }
    let mut merchants = BTreeMap::new();
    for (member_id, (points, first)) in expiring {
        let Some(member) = members::Entity::find_by_id(member_id).one(&ctx.db).await? else { continue };
        if member.anonymised_at.is_some() || keeping.store_of(&member).is_none() {
            continue;
        }
        let template = match merchants.entry(member.merchant_id) {
            std::collections::btree_map::Entry::Occupied(known) => known.into_mut(),
            std::collections::btree_map::Entry::Vacant(slot) => {
                let merchant = crate::foundation::merchants::get(ctx, member.merchant_id).await?;
                slot.insert(crate::booking::reminders::points_template_of(&merchant))
            }
        };
        let Some(template) = template.clone() else { continue };
        let openid = member_identities::Entity::find()
            .filter(member_identities::Column::MemberId.eq(member_id))
            .filter(member_identities::Column::Provider.eq("wechat"))
            .one(&ctx.db)
            .await?;
        let subscription = member_subscriptions::Entity::find()
            .filter(member_subscriptions::Column::MemberId.eq(member_id))
            .filter(member_subscriptions::Column::TemplateId.eq(template.template_id.as_str()))
            .filter(member_subscriptions::Column::ConsumedAt.is_null())
            .order_by_asc(member_subscriptions::Column::Id)
            .one(&ctx.db)
            .await?;
        let (Some(openid), Some(subscription)) = (openid, subscription) else { continue };
        let day = first.with_timezone(&zone).date_naive();
        let available = super::points::available(&ctx.db, member_id, now).await?;
        let facts = |source: &str| -> Result<String> {
            Ok(match source {
                "points" => points.to_string(),
                "expires_on" => day.format("%Y年%-m月%-d日").to_string(),
                "available" => available.get().to_string(),
                "member" => crate::members::label(ctx, &member, false)?,
                _ => format!("您有{points}积分将于{}过期，请尽快使用", day.format("%-m月%-d日")),
            })
        };
        let mut data = Vec::new();
        for (key, source) in &template.fields {
            data.push((key.clone(), facts(source)?));
        }
        let key = format!("points_expiring:{member_id}:{day}");
        let notice = Outgoing {
            merchant_id: member.merchant_id,
            booking_id: None,
            key: &key,
            channel: "wechat_subscribe",
            purpose: "points_expiring",
            recipient: format!("member:{member_id}"),
            now,
        };
        let written = match subscribe_fields::fit_all(&data) {
            Ok(data) => {
                let payload = json!({
                    "touser": openid.subject, "template_id": template.template_id, "page": template.page, "data": data,
                });
                notice.pending(ctx, payload, Some(subscription.id)).await?
            }
            Err(error) => {
                let payload = json!({ "template_id": template.template_id });
                notice.failed(ctx, payload, ("field_rule", error.to_string())).await?
            }
        };
        match written {
            Some("pending") => done.queued += 1,
            Some(_) => done.refused += 1,
            None => {}
        }
    }
    Ok(done)
}
