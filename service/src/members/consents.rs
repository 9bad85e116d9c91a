//! Consent to marketing messages (营销消息), per purpose ([`ConsentPurpose`]: marketing at all, by SMS, chosen by
//! the member's characteristics): asked in the member app, recorded by staff at the member's request, or withdrawn
//! by a reply to an SMS; kept as a history of answers with when, how, by whom and the wording shown, never
//! overwritten, so a send can be checked against the answer in force and show how that answer was given. A member
//! withdraws as easily as they agreed.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    TransactionTrait,
};
use serde_json::json;

use entity::{marketing_consents, member_identities};

use super::auth::MemberPrincipal;
use crate::domain::{ConsentPurpose, Permission};
use crate::foundation::audit::{self, Actor, Event};
use crate::foundation::principal::StaffPrincipal;
use crate::{AppContext, Result};

/// What the member app shows next to the switch; kept with every answer.
pub const MARKETING_WORDING: &str =
    "我愿意接收门店的优惠活动、新品和生日礼遇消息（短信、订阅消息），可随时在“我的”中关闭。";
pub const SMS_WORDING: &str = "我愿意通过短信接收门店的优惠活动消息，可随时关闭或回复T退订。";
pub const PERSONALISED_WORDING: &str =
    "我愿意门店根据我的消费和到店情况为我挑选优惠活动；关闭后不再按个人特征向我推送营销信息。";

/// The sentence shown for a purpose.
pub fn wording(purpose: ConsentPurpose) -> &'static str {
    match purpose {
        ConsentPurpose::Marketing => MARKETING_WORDING,
        ConsentPurpose::Sms => SMS_WORDING,
        ConsentPurpose::Personalised => PERSONALISED_WORDING,
    }
}

#[derive(Clone, Debug)]
pub struct Consent {
    pub purpose: ConsentPurpose,
    pub granted: bool,
    /// `wechat`, `alipay`, `sandbox` (the app the member answered in), `desk` (staff at the member's request) or
    /// `sms_reply`.
    pub channel: String,
    pub wording: String,
    /// The staff member who recorded it, when it was given at the desk.
    pub recorded_by: Option<i64>,
    pub given_at: DateTime<Utc>,
}

impl From<marketing_consents::Model> for Consent {
    fn from(row: marketing_consents::Model) -> Self {
        Self {
            // Written only from the enum: anything else reads as the broadest purpose, which asks the most.
            purpose: ConsentPurpose::parse(&row.purpose).unwrap_or_default(),
            granted: row.granted,
            channel: row.channel,
            wording: row.wording,
            recorded_by: row.recorded_by,
            given_at: row.given_at,
        }
    }
}

/// Each member's answers in force (their latest per purpose), for the members given; a purpose never asked is
/// absent.
pub(crate) async fn in_force(
    conn: &impl ConnectionTrait,
    merchant_id: i64,
    member_ids: &[i64],
) -> Result<HashMap<(i64, ConsentPurpose), Consent>> {
    let mut answers = HashMap::new();
    for chunk in member_ids.chunks(500) {
        let rows = marketing_consents::Entity::find()
            .filter(marketing_consents::Column::MerchantId.eq(merchant_id))
            .filter(marketing_consents::Column::MemberId.is_in(chunk.iter().copied()))
            .order_by_asc(marketing_consents::Column::Id)
            .all(conn)
            .await?;
        take_answers(&mut answers, rows);
    }
    Ok(answers)
}

/// Adds answers in ascending ids: a later answer replaces an earlier one.
fn take_answers(answers: &mut HashMap<(i64, ConsentPurpose), Consent>, rows: Vec<marketing_consents::Model>) {
    for row in rows {
        let member_id = row.member_id;
        let consent = Consent::from(row);
        answers.insert((member_id, consent.purpose), consent);
    }
}

/// Of the answers in force, each member's to marketing at all.
fn marketing_only(answers: HashMap<(i64, ConsentPurpose), Consent>) -> HashMap<i64, Consent> {
    answers
        .into_iter()
        .filter(|((_, purpose), _)| *purpose == ConsentPurpose::Marketing)
        .map(|((member, _), consent)| (member, consent))
        .collect()
}

/// Each member's answer in force to marketing at all (their latest), for the members given; members never asked
/// are absent.
pub(crate) async fn latest_of(
    conn: &impl ConnectionTrait,
    merchant_id: i64,
    member_ids: &[i64],
) -> Result<HashMap<i64, Consent>> {
    Ok(marketing_only(in_force(conn, merchant_id, member_ids).await?))
}

/// What [`latest_of`] answers, from answers already read (one merchant's, in ascending ids).
pub(crate) fn marketing_in_force(rows: Vec<marketing_consents::Model>) -> HashMap<i64, Consent> {
    let mut answers = HashMap::new();
    take_answers(&mut answers, rows);
    marketing_only(answers)
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

/// The member's answers in force, per purpose.
pub async fn mine_all(ctx: &AppContext, me: &MemberPrincipal) -> Result<HashMap<ConsentPurpose, Consent>> {
    Ok(in_force(&ctx.db, me.merchant_id, &[me.member_id]).await?.into_iter().map(|((_, p), c)| (p, c)).collect())
}

/// Who gives an answer, and how.
pub(crate) struct Giver {
    pub merchant_id: i64,
    pub member_id: i64,
    pub actor: Actor,
    /// `wechat`, `alipay`, `sandbox`, `desk` or `sms_reply`.
    pub channel: String,
    pub recorded_by: Option<i64>,
}

/// Records an answer, unless it is the answer in force already (same yes or no, same wording).
pub(crate) async fn record(
    conn: &sea_orm::DatabaseConnection,
    giver: Giver,
    purpose: ConsentPurpose,
    granted: bool,
    wording: &str,
    now: DateTime<Utc>,
) -> Result<Consent> {
    let txn = conn.begin().await?;
    let current = in_force(&txn, giver.merchant_id, &[giver.member_id]).await?.remove(&(giver.member_id, purpose));
    if let Some(current) = current.filter(|c| c.granted == granted && c.wording == wording) {
        return Ok(current);
    }
    let row = marketing_consents::ActiveModel {
        merchant_id: Set(giver.merchant_id),
        member_id: Set(giver.member_id),
        granted: Set(granted),
        channel: Set(giver.channel),
        wording: Set(wording.to_owned()),
        purpose: Set(purpose.as_str().to_owned()),
        recorded_by: Set(giver.recorded_by),
        given_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let action = match (purpose, granted) {
        (ConsentPurpose::Marketing, true) => "member.marketing_consented",
        (ConsentPurpose::Marketing, false) => "member.marketing_withdrawn",
        (_, true) => "member.consent_given",
        (_, false) => "member.consent_withdrawn",
    };
    audit::record(
        &txn,
        Event {
            merchant_id: Some(giver.merchant_id),
            actor: giver.actor,
            action,
            target: Some(("member", giver.member_id)),
            detail: json!({ "channel": row.channel, "purpose": purpose.as_str() }),
            ip: None,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(row.into())
}

/// The member answers in the app, for one purpose. The channel is the one they signed in through.
pub async fn answer(ctx: &AppContext, me: &MemberPrincipal, purpose: ConsentPurpose, granted: bool) -> Result<Consent> {
    let channel = member_identities::Entity::find_by_id(me.identity_id)
        .one(&ctx.db)
        .await?
        .map_or_else(|| "unknown".to_owned(), |identity| identity.provider);
    let giver = Giver {
        merchant_id: me.merchant_id,
        member_id: me.member_id,
        actor: Actor::Member(me.member_id),
        channel,
        recorded_by: None,
    };
    record(&ctx.db, giver, purpose, granted, wording(purpose), ctx.now()).await
}

/// The member answers the marketing question in the app.
pub async fn answer_marketing(ctx: &AppContext, me: &MemberPrincipal, granted: bool) -> Result<Consent> {
    answer(ctx, me, ConsentPurpose::Marketing, granted).await
}

/// Staff record an answer the member gave them (at the desk, on the phone): who recorded it is kept.
pub async fn record_for_member(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    member_id: i64,
    purpose: ConsentPurpose,
    granted: bool,
) -> Result<Consent> {
    principal.require(Permission::MemberWrite)?;
    super::live(&super::row(&ctx.db, principal.merchant_id, member_id).await?)?;
    let giver = Giver {
        merchant_id: principal.merchant_id,
        member_id,
        actor: Actor::Staff(principal.staff_id),
        channel: "desk".to_owned(),
        recorded_by: Some(principal.staff_id),
    };
    record(&ctx.db, giver, purpose, granted, wording(purpose), ctx.now()).await
}

/// A member's whole consent record, oldest first, for staff.
pub async fn record_of(ctx: &AppContext, principal: &StaffPrincipal, member_id: i64) -> Result<Vec<Consent>> {
    principal.require(Permission::MemberRead)?;
    super::row(&ctx.db, principal.merchant_id, member_id).await?;
    history(&ctx.db, principal.merchant_id, member_id).await
}
