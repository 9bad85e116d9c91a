//! The send log: per campaign or per member, what each marketing message became and why.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use entity::{campaigns, marketing_sends, members};

use crate::domain::{Permission, PhoneNumber, SendChannel, SendStatus};
use crate::foundation::principal::StaffPrincipal;
use crate::foundation::vault::Field;
use crate::{AppContext, Error, Result};

/// One row of the send log, as staff see it.
#[derive(Clone, Debug)]
pub struct SendView {
    pub id: i64,
    pub campaign_id: i64,
    pub campaign_name: String,
    pub member_id: i64,
    /// The member's number, masked (the log is for accounting, not for contacting).
    pub phone: Option<String>,
    pub channel: SendChannel,
    pub status: SendStatus,
    pub reason: Option<String>,
    pub detail: Option<String>,
    pub attempts: i32,
    pub planned_at: DateTime<Utc>,
    pub not_before: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// Which rows of the send log.
#[derive(Clone, Debug, Default)]
pub struct LogFilter {
    pub campaign_id: Option<i64>,
    pub member_id: Option<i64>,
    pub channel: Option<SendChannel>,
    pub status: Option<SendStatus>,
    /// Rows with a smaller id than this (the next page).
    pub before_id: Option<i64>,
    pub limit: u64,
}

/// The send log: per campaign or per member, newest first.
pub async fn log(ctx: &AppContext, principal: &StaffPrincipal, filter: LogFilter) -> Result<Vec<SendView>> {
    principal.require_merchant_wide(Permission::CouponManage)?;
    let merchant_id = principal.merchant_id;
    let mut query = marketing_sends::Entity::find().filter(marketing_sends::Column::MerchantId.eq(merchant_id));
    // What the log is of must be the merchant's: another merchant's campaign or member is not found, not empty.
    if let Some(id) = filter.campaign_id {
        campaigns::Entity::find_by_id(id)
            .filter(campaigns::Column::MerchantId.eq(merchant_id))
            .one(&ctx.db)
            .await?
            .ok_or(Error::NotFound("campaign"))?;
        query = query.filter(marketing_sends::Column::CampaignId.eq(id));
    }
    if let Some(id) = filter.member_id {
        crate::members::row(&ctx.db, merchant_id, id).await?;
        query = query.filter(marketing_sends::Column::MemberId.eq(id));
    }
    if let Some(channel) = filter.channel {
        query = query.filter(marketing_sends::Column::Channel.eq(channel.as_str()));
    }
    if let Some(status) = filter.status {
        query = query.filter(marketing_sends::Column::Status.eq(status.as_str()));
    }
    if let Some(id) = filter.before_id {
        query = query.filter(marketing_sends::Column::Id.lt(id));
    }
    let rows = query.order_by_desc(marketing_sends::Column::Id).limit(filter.limit.clamp(1, 200)).all(&ctx.db).await?;
    let member_ids: HashSet<i64> = rows.iter().map(|r| r.member_id).collect();
    let campaign_ids: HashSet<i64> = rows.iter().map(|r| r.campaign_id).collect();
    let phones: HashMap<i64, Option<String>> = members::Entity::find()
        .filter(members::Column::Id.is_in(member_ids))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|m| {
            let phone = ctx.vault.open_opt(Field::MemberPhone, m.phone_sealed.as_deref()).ok().flatten();
            (m.id, phone.and_then(|p| PhoneNumber::parse(&p).ok()).map(|p| p.masked()))
        })
        .collect();
    let names: HashMap<i64, String> = campaigns::Entity::find()
        .filter(campaigns::Column::Id.is_in(campaign_ids))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|c| (c.id, c.name))
        .collect();
    rows.into_iter()
        .map(|r| {
            Ok(SendView {
                id: r.id,
                campaign_name: names.get(&r.campaign_id).cloned().unwrap_or_default(),
                campaign_id: r.campaign_id,
                phone: phones.get(&r.member_id).cloned().flatten(),
                member_id: r.member_id,
                channel: SendChannel::stored(&r.channel)?,
                status: SendStatus::stored(&r.status)?,
                reason: r.reason,
                detail: r.detail,
                attempts: r.attempts,
                planned_at: r.planned_at,
                not_before: r.not_before,
                sent_at: r.sent_at,
                delivered_at: r.delivered_at,
            })
        })
        .collect()
}
