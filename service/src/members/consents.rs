//! Consent to marketing messages (营销消息): asked in the member app, kept as a history of answers with when,
//! through which channel and the wording shown, so a campaign sends only to members whose latest answer is yes
//! and can show how that yes was given. A member withdraws as easily as they agreed.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    TransactionTrait,
};
use serde_json::json;

use entity::{marketing_consents, member_identities};

use super::auth::MemberPrincipal;
use crate::foundation::audit::{self, Actor, Event};
use crate::{AppContext, Result};

/// What the member app shows next to the switch; kept with every answer.
pub const MARKETING_WORDING: &str =
    "我愿意接收门店的优惠活动、新品和生日礼遇消息（短信、订阅消息），可随时在“我的”中关闭。";

#[derive(Clone, Debug)]
pub struct Consent {
    pub granted: bool,
    /// `wechat`, `alipay`, `sandbox` or `desk`.
    pub channel: String,
    pub wording: String,
    pub given_at: DateTime<Utc>,
}

impl From<marketing_consents::Model> for Consent {
    fn from(row: marketing_consents::Model) -> Self {
        Self { granted: row.granted, channel: row.channel, wording: row.wording, given_at: row.given_at }
    }
}

/// Each member's answer in force (their latest), for the members given; members never asked are absent.
pub(crate) async fn latest_of(
    conn: &impl ConnectionTrait,
    merchant_id: i64,
    member_ids: &[i64],
) -> Result<HashMap<i64, Consent>> {
    let mut answers = HashMap::new();
    // Ascending ids: a later answer replaces an earlier one.
    for row in marketing_consents::Entity::find()
        .filter(marketing_consents::Column::MerchantId.eq(merchant_id))
        .filter(marketing_consents::Column::MemberId.is_in(member_ids.iter().copied()))
        .order_by_asc(marketing_consents::Column::Id)
        .all(conn)
        .await?
    {
        answers.insert(row.member_id, Consent::from(row));
    }
    Ok(answers)
}

/// The member's answer in force, if they ever answered.
pub async fn mine(ctx: &AppContext, me: &MemberPrincipal) -> Result<Option<Consent>> {
    Ok(latest_of(&ctx.db, me.merchant_id, &[me.member_id]).await?.remove(&me.member_id))
}

/// Every answer the member gave, oldest first (their data export).
pub(crate) async fn history(conn: &impl ConnectionTrait, merchant_id: i64, member_id: i64) -> Result<Vec<Consent>> {
    Ok(marketing_consents::Entity::find()
        .filter(marketing_consents::Column::MerchantId.eq(merchant_id))
        .filter(marketing_consents::Column::MemberId.eq(member_id))
        .order_by_asc(marketing_consents::Column::Id)
        .all(conn)
        .await?
        .into_iter()
        .map(Consent::from)
        .collect())
}

/// The member answers in the app. The channel is the one they signed in through. Answering the same as the
/// answer in force records nothing new.
pub async fn answer_marketing(ctx: &AppContext, me: &MemberPrincipal, granted: bool) -> Result<Consent> {
    if let Some(current) = mine(ctx, me).await?.filter(|c| c.granted == granted && c.wording == MARKETING_WORDING) {
        return Ok(current);
    }
    let channel = member_identities::Entity::find_by_id(me.identity_id)
        .one(&ctx.db)
        .await?
        .map_or_else(|| "unknown".to_owned(), |identity| identity.provider);
    let txn = ctx.db.begin().await?;
    let row = marketing_consents::ActiveModel {
        merchant_id: Set(me.merchant_id),
        member_id: Set(me.member_id),
        granted: Set(granted),
        channel: Set(channel),
        wording: Set(MARKETING_WORDING.to_owned()),
        given_at: Set(ctx.now()),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        Event {
            merchant_id: Some(me.merchant_id),
            actor: Actor::Member(me.member_id),
            action: if granted { "member.marketing_consented" } else { "member.marketing_withdrawn" },
            target: Some(("member", me.member_id)),
            detail: json!({ "channel": row.channel }),
            ip: None,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(row.into())
}
