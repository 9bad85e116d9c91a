//! Every marketing message, accounted for: the outbox the dispatcher works through and the send log staff read,
//! one row per campaign, member and channel (`marketing_sends`).
//!
//! - **Planning** (when a campaign runs): a `queued` row per channel for each member of the treatment group. The
//!   control group gets no row at all.
//! - **Deciding, at the moment of sending**: the dispatcher claims due rows with a guarded update and decides each
//!   against what holds *now*: the member's answers in force (marketing at all, SMS, personalised marketing), the
//!   weekly cap across channels, and for SMS the sending hours in the member's store's zone (a message that falls
//!   outside them is held until they open, not dropped). A message that may not go is `skipped` with its reason.
//! - **Sending once**: an SMS is marked attempted before it is handed over. When the answer is lost (a timeout, a
//!   dispatcher that died mid-send), the row becomes `unknown` and is looked up at the provider by our key before
//!   anything else: found, it is sent; not found where the provider's listing is conclusive, it is queued again.
//!   Neither provider's send is idempotent, so this lookup is what stands between a lost answer and a second SMS.
//! - **After**: delivery receipts (pushed by Aliyun, pulled from Tencent) mark rows delivered or failed; a member's
//!   reply "T"/"TD" to the merchant's signature is recorded as their SMS opt-out.
//!
//! A dispatch tick runs once across replicas (the job's claim), so the per-provider pace is kept in the process.

use std::collections::{HashMap, HashSet};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder, QuerySelect};

use entity::{campaigns, marketing_sends, member_inbox, members, sms_templates, stores};

use super::sms::{Limits, OpenAccount};
use crate::domain::{CampaignStatus, ConsentPurpose, PhoneNumber, SendChannel, SendStatus};
use crate::foundation::vault::Field;
use crate::integrations::sms::{Found, Message, SendError, SmsProviders};
use crate::members::consents;
use crate::{AppContext, Error, Result};

mod log;
mod receipts;
mod rules;

pub use log::{LogFilter, SendView, log};
pub use receipts::{Pushed, apply_receipts, apply_replies, pull_due, pushed};
use rules::{Decision, Facts, decide};

/// Rows one claim takes: small enough that a batch ends well inside its claim.
const BATCH: u64 = 200;
/// How long a dispatch tick works before leaving the rest to the next (it runs every minute).
const TICK_BUDGET_SECS: i64 = 40;
/// How long after handing a send over a lookup that finds nothing is believed (the provider's listing lags).
const LOOKUP_GRACE_SECS: i64 = 60;
/// Attempts at a send the provider asked us to slow down for, before it is left failed.
const MAX_ATTEMPTS: i32 = 5;

/// The key the provider carries for one send, unique across the merchant's sends.
fn send_key_prefix(campaign_id: i64) -> String {
    format!("hy{campaign_id}-")
}

/// Plans the campaign's messages: one `queued` row per treatment member and channel it carries. Idempotent: a run
/// taken over plans nothing twice.
pub(crate) async fn plan(
    conn: &impl ConnectionTrait,
    campaign: &campaigns::Model,
    channels: &[SendChannel],
    now: DateTime<Utc>,
) -> Result<u64> {
    let mut planned = 0;
    let backend = conn.get_database_backend();
    // The key is built in the statement: `prefix || member_id || suffix` (PostgreSQL numbers its placeholders).
    let concat = match backend {
        sea_orm::DatabaseBackend::Postgres => r#"$1 || "member_id" || $2"#,
        _ => r#"? || "member_id" || ?"#,
    };
    for channel in channels {
        let key = Expr::cust_with_values(concat, [send_key_prefix(campaign.id), format!("-{}", channel.as_str())]);
        let select = Query::select()
            .expr(Expr::val(campaign.merchant_id))
            .expr(Expr::val(campaign.id))
            .column(entity::campaign_members::Column::MemberId)
            .expr(Expr::val(channel.as_str()))
            .expr(Expr::val(SendStatus::Queued.as_str()))
            .expr(key)
            .expr(Expr::val(now))
            .expr(Expr::val(0))
            .expr(Expr::val(now))
            .expr(Expr::val(now))
            .from(entity::campaign_members::Entity)
            .and_where(Expr::col(entity::campaign_members::Column::CampaignId).eq(campaign.id))
            .and_where(Expr::col(entity::campaign_members::Column::InControl).eq(false))
            .to_owned();
        let insert = Query::insert()
            .into_table(marketing_sends::Entity)
            .columns([
                marketing_sends::Column::MerchantId,
                marketing_sends::Column::CampaignId,
                marketing_sends::Column::MemberId,
                marketing_sends::Column::Channel,
                marketing_sends::Column::Status,
                marketing_sends::Column::SendKey,
                marketing_sends::Column::NotBefore,
                marketing_sends::Column::Attempts,
                marketing_sends::Column::PlannedAt,
                marketing_sends::Column::UpdatedAt,
            ])
            .select_from(select)
            .map_err(|e| Error::Internal(e.into()))?
            .on_conflict(
                OnConflict::columns([
                    marketing_sends::Column::CampaignId,
                    marketing_sends::Column::MemberId,
                    marketing_sends::Column::Channel,
                ])
                .do_nothing()
                .to_owned(),
            )
            .to_owned();
        planned += conn.execute_raw(backend.build(&insert)).await?.rows_affected();
    }
    Ok(planned)
}

/// What a dispatch tick did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Dispatched {
    pub sent: u64,
    pub skipped: u64,
    pub held: u64,
    pub failed: u64,
    /// Answers lost: looked up on a later tick.
    pub unknown: u64,
    /// Lost answers looked up this tick and settled (found, or queued again).
    pub resolved: u64,
}

/// Sends what is due, settles lost answers, and frees what a dead dispatcher held; until nothing is due or the
/// tick's budget is spent.
pub async fn dispatch_due(ctx: &AppContext, now: DateTime<Utc>) -> Result<Dispatched> {
    let mut done = Dispatched::default();
    // A dispatcher that died mid-send left rows `sending`: whether they went is unknown.
    marketing_sends::Entity::update_many()
        .col_expr(marketing_sends::Column::Status, Expr::value(SendStatus::Unknown.as_str()))
        .col_expr(marketing_sends::Column::ClaimToken, Expr::value(Option::<String>::None))
        .col_expr(marketing_sends::Column::UpdatedAt, Expr::value(now))
        .filter(marketing_sends::Column::Status.eq(SendStatus::Sending.as_str()))
        .filter(marketing_sends::Column::ClaimedUntil.lt(now))
        .filter(marketing_sends::Column::AttemptedAt.is_not_null())
        .exec(&ctx.db)
        .await?;
    // … and rows it claimed but never handed over go back to the queue.
    marketing_sends::Entity::update_many()
        .col_expr(marketing_sends::Column::Status, Expr::value(SendStatus::Queued.as_str()))
        .col_expr(marketing_sends::Column::ClaimToken, Expr::value(Option::<String>::None))
        .col_expr(marketing_sends::Column::UpdatedAt, Expr::value(now))
        .filter(marketing_sends::Column::Status.eq(SendStatus::Sending.as_str()))
        .filter(marketing_sends::Column::ClaimedUntil.lt(now))
        .filter(marketing_sends::Column::AttemptedAt.is_null())
        .exec(&ctx.db)
        .await?;
    done.resolved = resolve_unknown(ctx, now).await?;
    let started = ctx.now();
    let mut pace = Pace::new(ctx.settings.marketing.sms_per_second);
    loop {
        let token = hex::encode(rand::random::<[u8; 12]>());
        let claimed = claim(ctx, &token, now).await?;
        if claimed.is_empty() {
            break;
        }
        let batch = decide_batch(ctx, claimed, &token, now, &mut pace).await?;
        done.sent += batch.sent;
        done.skipped += batch.skipped;
        done.held += batch.held;
        done.failed += batch.failed;
        done.unknown += batch.unknown;
        if ctx.now() - started > Duration::seconds(TICK_BUDGET_SECS) {
            break;
        }
    }
    Ok(done)
}

/// Claims up to a batch of due rows for this dispatcher.
async fn claim(ctx: &AppContext, token: &str, now: DateTime<Utc>) -> Result<Vec<marketing_sends::Model>> {
    let due: Vec<i64> = marketing_sends::Entity::find()
        .select_only()
        .column(marketing_sends::Column::Id)
        .filter(marketing_sends::Column::Status.eq(SendStatus::Queued.as_str()))
        .filter(marketing_sends::Column::NotBefore.lte(now))
        .order_by_asc(marketing_sends::Column::Id)
        .limit(BATCH)
        .into_tuple()
        .all(&ctx.db)
        .await?;
    if due.is_empty() {
        return Ok(Vec::new());
    }
    let claim_secs = Ord::max(ctx.settings.notifications.claim_secs, 60);
    marketing_sends::Entity::update_many()
        .col_expr(marketing_sends::Column::Status, Expr::value(SendStatus::Sending.as_str()))
        .col_expr(marketing_sends::Column::ClaimToken, Expr::value(Some(token.to_owned())))
        .col_expr(marketing_sends::Column::ClaimedUntil, Expr::value(Some(now + Duration::seconds(claim_secs))))
        .filter(marketing_sends::Column::Id.is_in(due))
        .filter(marketing_sends::Column::Status.eq(SendStatus::Queued.as_str()))
        .exec(&ctx.db)
        .await?;
    Ok(marketing_sends::Entity::find()
        .filter(marketing_sends::Column::ClaimToken.eq(token))
        .filter(marketing_sends::Column::Status.eq(SendStatus::Sending.as_str()))
        .order_by_asc(marketing_sends::Column::Id)
        .all(&ctx.db)
        .await?)
}

/// Spaces SMS hand-overs to the configured pace.
struct Pace {
    gap: StdDuration,
    next: tokio::time::Instant,
}

impl Pace {
    fn new(per_second: u32) -> Self {
        Self { gap: StdDuration::from_secs(1) / Ord::max(per_second, 1), next: tokio::time::Instant::now() }
    }

    async fn wait(&mut self) {
        tokio::time::sleep_until(self.next).await;
        self.next = tokio::time::Instant::now() + self.gap;
    }
}

/// What one merchant's rows need to be decided: loaded once per batch.
struct MerchantFacts {
    limits: Limits,
    account: Option<OpenAccount>,
    zones: HashMap<i64, chrono_tz::Tz>,
    default_zone: chrono_tz::Tz,
}

async fn merchant_facts(ctx: &AppContext, merchant_id: i64) -> Result<MerchantFacts> {
    let limits = super::sms::limits(&ctx.db, merchant_id).await?;
    let account = match super::sms::account_row(&ctx.db, merchant_id).await? {
        Some(row) => Some(OpenAccount::open(ctx, row)?),
        None => None,
    };
    let stores = stores::Entity::find()
        .filter(stores::Column::MerchantId.eq(merchant_id))
        .order_by_asc(stores::Column::Id)
        .all(&ctx.db)
        .await?;
    let zone_of = |name: &str| name.parse::<chrono_tz::Tz>().unwrap_or(chrono_tz::Asia::Shanghai);
    let default_zone = stores.first().map_or(chrono_tz::Asia::Shanghai, |s| zone_of(&s.timezone));
    let zones = stores.iter().map(|s| (s.id, zone_of(&s.timezone))).collect();
    Ok(MerchantFacts { limits, account, zones, default_zone })
}

#[derive(FromQueryResult)]
struct WeekCount {
    member_id: i64,
    sent: i64,
}

/// Marketing messages each member got in the 7 days before `now`, across channels (a lost answer counts: it may
/// have arrived).
async fn sent_this_week(ctx: &AppContext, member_ids: &[i64], now: DateTime<Utc>) -> Result<HashMap<i64, i64>> {
    let counted = [SendStatus::Sent, SendStatus::Delivered, SendStatus::Unknown].map(SendStatus::as_str);
    let rows = marketing_sends::Entity::find()
        .select_only()
        .column(marketing_sends::Column::MemberId)
        .column_as(marketing_sends::Column::Id.count(), "sent")
        .filter(marketing_sends::Column::MemberId.is_in(member_ids.iter().copied()))
        .filter(marketing_sends::Column::Status.is_in(counted))
        .filter(marketing_sends::Column::AttemptedAt.gt(now - Duration::days(7)))
        .group_by(marketing_sends::Column::MemberId)
        .into_model::<WeekCount>()
        .all(&ctx.db)
        .await?;
    Ok(rows.into_iter().map(|r| (r.member_id, r.sent)).collect())
}

/// The campaign's SMS, ready to fill for a member.
struct CampaignSms {
    template: sms_templates::Model,
    variables: Vec<String>,
    coupon: Option<(String, i32)>,
}

async fn campaign_sms(ctx: &AppContext, campaign: &campaigns::Model) -> Result<Option<CampaignSms>> {
    let Some(template_id) = campaign.sms_template_id else { return Ok(None) };
    let template = super::sms::template_row(&ctx.db, campaign.merchant_id, template_id).await?;
    let variables = super::sms::variables_of(&template)?;
    let coupon = match campaign.coupon_template_id {
        Some(id) => {
            let row = crate::coupons::templates::row(&ctx.db, campaign.merchant_id, id).await?;
            Some((row.name, row.valid_days.unwrap_or(0)))
        }
        None => None,
    };
    Ok(Some(CampaignSms { template, variables, coupon }))
}

/// How the member is called in a message: their name's first character and 先生/女士, or 会员.
fn salutation(ctx: &AppContext, member: &members::Model) -> String {
    let name = ctx.vault.open_opt(Field::MemberName, member.name_sealed.as_deref()).ok().flatten();
    match (name.as_deref().and_then(|n| n.chars().next()), member.gender.as_str()) {
        (Some(first), "female") => format!("{first}女士"),
        (Some(first), "male") => format!("{first}先生"),
        _ => "会员".to_owned(),
    }
}

/// Decides and sends one claimed batch.
async fn decide_batch(
    ctx: &AppContext,
    claimed: Vec<marketing_sends::Model>,
    token: &str,
    now: DateTime<Utc>,
    pace: &mut Pace,
) -> Result<Dispatched> {
    let mut done = Dispatched::default();
    let member_ids: Vec<i64> = claimed.iter().map(|r| r.member_id).collect::<HashSet<_>>().into_iter().collect();
    let members: HashMap<i64, members::Model> = members::Entity::find()
        .filter(members::Column::Id.is_in(member_ids.iter().copied()))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|m| (m.id, m))
        .collect();
    let mut week = sent_this_week(ctx, &member_ids, now).await?;
    let mut merchants: HashMap<i64, MerchantFacts> = HashMap::new();
    let mut answers: HashMap<(i64, ConsentPurpose), bool> = HashMap::new();
    let campaign_ids: HashSet<i64> = claimed.iter().map(|r| r.campaign_id).collect();
    let campaigns_of: HashMap<i64, campaigns::Model> = campaigns::Entity::find()
        .filter(campaigns::Column::Id.is_in(campaign_ids))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect();
    let mut sms_of: HashMap<i64, Option<CampaignSms>> = HashMap::new();
    for row in &claimed {
        if let std::collections::hash_map::Entry::Vacant(slot) = merchants.entry(row.merchant_id) {
            slot.insert(merchant_facts(ctx, row.merchant_id).await?);
            let of_merchant: Vec<i64> =
                claimed.iter().filter(|r| r.merchant_id == row.merchant_id).map(|r| r.member_id).collect();
            for ((member, purpose), consent) in consents::in_force(&ctx.db, row.merchant_id, &of_merchant).await? {
                answers.insert((member, purpose), consent.granted);
            }
        }
        if row.channel == SendChannel::Sms.as_str() && !sms_of.contains_key(&row.campaign_id) {
            let campaign = campaigns_of.get(&row.campaign_id).ok_or(Error::NotFound("campaign"))?;
            sms_of.insert(row.campaign_id, campaign_sms(ctx, campaign).await?);
        }
    }
    for row in claimed {
        // Stopped or paused after this row was planned (or while this dispatcher held it).
        if let Some(campaign) = campaigns_of.get(&row.campaign_id) {
            if campaign.stopped_at.is_some() || campaign.status == CampaignStatus::Cancelled.as_str() {
                settle(ctx, row.id, token, SendStatus::Skipped, Some("campaign_stopped"), None, now).await?;
                done.skipped += 1;
                continue;
            }
            if campaign.paused_at.is_some() {
                hold_paused(ctx, &row, token, now).await?;
                done.held += 1;
                continue;
            }
        }
        let channel = SendChannel::stored(&row.channel)?;
        let merchant = merchants.get(&row.merchant_id).ok_or(Error::NotFound("merchant"))?;
        let member = members.get(&row.member_id);
        let phone = match member.and_then(|m| m.phone_sealed.as_deref()) {
            Some(sealed) => PhoneNumber::parse(&ctx.vault.open(Field::MemberPhone, sealed)?).ok(),
            None => None,
        };
        let answer = |purpose| answers.get(&(row.member_id, purpose)).copied();
        let facts = Facts {
            channel,
            gone: member.is_none_or(|m| m.anonymised_at.is_some()),
            marketing: answer(ConsentPurpose::Marketing),
            sms: answer(ConsentPurpose::Sms),
            personalised: answer(ConsentPurpose::Personalised),
            has_phone: phone.is_some(),
            has_account: merchant.account.is_some(),
            sent_this_week: week.get(&row.member_id).copied().unwrap_or(0),
            limits: merchant.limits,
            zone: member
                .and_then(|m| m.home_store_id)
                .and_then(|s| merchant.zones.get(&s).copied())
                .unwrap_or(merchant.default_zone),
            now,
        };
        match decide(&facts) {
            Decision::Skip(reason) => {
                settle(ctx, row.id, token, SendStatus::Skipped, Some(reason), None, now).await?;
                done.skipped += 1;
            }
            Decision::Hold(until) => {
                requeue(ctx, row.id, token, until, "quiet_hours", now).await?;
                done.held += 1;
            }
            Decision::Send => {
                let counted = match channel {
                    SendChannel::InApp => {
                        let campaign = campaigns_of.get(&row.campaign_id).ok_or(Error::NotFound("campaign"))?;
                        let sent = deliver_in_app(ctx, &row, campaign, token, now).await?;
                        done.sent += u64::from(sent);
                        sent
                    }
                    SendChannel::Sms => {
                        let (Some(account), Some(phone), Some(Some(sms)), Some(member)) =
                            (&merchant.account, &phone, sms_of.get(&row.campaign_id), member)
                        else {
                            settle(ctx, row.id, token, SendStatus::Skipped, Some("no_sms"), None, now).await?;
                            done.skipped += 1;
                            continue;
                        };
                        let values = values_for(ctx, member, sms, &account.row.sign_name);
                        pace.wait().await;
                        send_sms(ctx, &row, token, account, phone, sms, &values, &mut done).await?
                    }
                };
                if counted {
                    *week.entry(row.member_id).or_default() += 1;
                }
            }
        }
    }
    Ok(done)
}

/// The values a template may use, for one member.
fn values_for(ctx: &AppContext, member: &members::Model, sms: &CampaignSms, sign_name: &str) -> Vec<(String, String)> {
    let (coupon, days) = sms.coupon.clone().map_or((String::new(), String::new()), |(n, d)| (n, d.to_string()));
    let all = [("name", salutation(ctx, member)), ("store", sign_name.to_owned()), ("coupon", coupon), ("days", days)];
    sms.variables
        .iter()
        .filter_map(|name| all.iter().find(|(n, _)| n == name).map(|(n, v)| ((*n).to_owned(), v.clone())))
        .collect()
}

/// Puts the message in the member's inbox (once per campaign and member).
async fn deliver_in_app(
    ctx: &AppContext,
    row: &marketing_sends::Model,
    campaign: &campaigns::Model,
    token: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    let (Some(title), Some(body)) = (campaign.message_title.clone(), campaign.message_body.clone()) else {
        settle(ctx, row.id, token, SendStatus::Skipped, Some("no_message"), None, now).await?;
        return Ok(false);
    };
    member_inbox::Entity::insert(member_inbox::ActiveModel {
        merchant_id: sea_orm::ActiveValue::Set(row.merchant_id),
        member_id: sea_orm::ActiveValue::Set(row.member_id),
        campaign_id: sea_orm::ActiveValue::Set(Some(row.campaign_id)),
        title: sea_orm::ActiveValue::Set(title),
        body: sea_orm::ActiveValue::Set(body),
        created_at: sea_orm::ActiveValue::Set(now),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::columns([member_inbox::Column::CampaignId, member_inbox::Column::MemberId]).do_nothing().to_owned(),
    )
    .exec_without_returning(&ctx.db)
    .await?;
    marketing_sends::Entity::update_many()
        .col_expr(marketing_sends::Column::Status, Expr::value(SendStatus::Sent.as_str()))
        .col_expr(marketing_sends::Column::AttemptedAt, Expr::value(Some(now)))
        .col_expr(marketing_sends::Column::SentAt, Expr::value(Some(now)))
        .col_expr(marketing_sends::Column::ClaimToken, Expr::value(Option::<String>::None))
        .col_expr(marketing_sends::Column::UpdatedAt, Expr::value(now))
        .filter(marketing_sends::Column::Id.eq(row.id))
        .filter(marketing_sends::Column::ClaimToken.eq(token))
        .filter(marketing_sends::Column::Status.eq(SendStatus::Sending.as_str()))
        .exec(&ctx.db)
        .await?;
    Ok(true)
}

/// Hands one SMS to the provider. The row is marked attempted first, under this dispatcher's claim: if the claim
/// was lost, nothing is sent; if the process dies after, the row is `unknown`, never silently sent again.
#[allow(clippy::too_many_arguments)]
async fn send_sms(
    ctx: &AppContext,
    row: &marketing_sends::Model,
    token: &str,
    account: &OpenAccount,
    phone: &PhoneNumber,
    sms: &CampaignSms,
    values: &[(String, String)],
    done: &mut Dispatched,
) -> Result<bool> {
    let attempted_at = ctx.now();
    let marked = marketing_sends::Entity::update_many()
        .col_expr(marketing_sends::Column::AttemptedAt, Expr::value(Some(attempted_at)))
        .col_expr(marketing_sends::Column::Attempts, Expr::col(marketing_sends::Column::Attempts).add(1))
        .col_expr(marketing_sends::Column::Provider, Expr::value(Some(account.provider.as_str())))
        .col_expr(marketing_sends::Column::UpdatedAt, Expr::value(attempted_at))
        .filter(marketing_sends::Column::Id.eq(row.id))
        .filter(marketing_sends::Column::ClaimToken.eq(token))
        .filter(marketing_sends::Column::Status.eq(SendStatus::Sending.as_str()))
        .exec(&ctx.db)
        .await?;
    if marked.rows_affected != 1 {
        return Ok(false); // another dispatcher took it over
    }
    let message = Message { phone, template_code: &sms.template.code, params: values, key: &row.send_key };
    let now = ctx.now();
    match ctx.sms_providers.send(&account.account(), &message, attempted_at).await {
        Ok(provider_id) => {
            // Its receipt may have come first (the row is delivered already): then only the provider's id is kept.
            marketing_sends::Entity::update_many()
                .col_expr(marketing_sends::Column::ProviderId, Expr::value(Some(provider_id)))
                .col_expr(marketing_sends::Column::SentAt, Expr::value(Some(now)))
                .filter(marketing_sends::Column::Id.eq(row.id))
                .filter(marketing_sends::Column::ClaimToken.eq(token))
                .exec(&ctx.db)
                .await?;
            settle(ctx, row.id, token, SendStatus::Sent, None, None, now).await?;
            done.sent += 1;
            Ok(true)
        }
        Err(SendError::Refused { code, message }) => {
            settle(ctx, row.id, token, SendStatus::Failed, Some(&code), Some(&message), now).await?;
            done.failed += 1;
            Ok(false)
        }
        Err(SendError::NotSent { code, message }) if row.attempts + 1 >= MAX_ATTEMPTS => {
            settle(ctx, row.id, token, SendStatus::Failed, Some(&code), Some(&message), now).await?;
            done.failed += 1;
            Ok(false)
        }
        Err(SendError::NotSent { code, .. }) => {
            // Nothing went: the attempt is forgotten so the row is not looked up, and it waits a little.
            let backoff = Duration::seconds(30 * i64::from(row.attempts + 1));
            marketing_sends::Entity::update_many()
                .col_expr(marketing_sends::Column::AttemptedAt, Expr::value(Option::<DateTime<Utc>>::None))
                .filter(marketing_sends::Column::Id.eq(row.id))
                .exec(&ctx.db)
                .await?;
            let reason = if code == "connect" { "provider_unreachable" } else { "throttled" };
            requeue(ctx, row.id, token, now + backoff, reason, now).await?;
            done.held += 1;
            Ok(false)
        }
        Err(SendError::Unknown(why)) => {
            tracing::warn!(send_id = row.id, %why, "an SMS answer was lost; it is looked up before any retry");
            settle(ctx, row.id, token, SendStatus::Unknown, Some("answer_lost"), Some(&why), now).await?;
            done.unknown += 1;
            Ok(true)
        }
    }
}

/// Looks up every send whose answer was lost: found, it went; not found where that is conclusive, it is queued
/// again (nothing went, so sending it is not sending it twice).
async fn resolve_unknown(ctx: &AppContext, now: DateTime<Utc>) -> Result<u64> {
    let rows = marketing_sends::Entity::find()
        .filter(marketing_sends::Column::Status.eq(SendStatus::Unknown.as_str()))
        .order_by_asc(marketing_sends::Column::Id)
        .limit(BATCH)
        .all(&ctx.db)
        .await?;
    let mut resolved = 0;
    let mut accounts: HashMap<i64, Option<OpenAccount>> = HashMap::new();
    for row in rows {
        if let std::collections::hash_map::Entry::Vacant(slot) = accounts.entry(row.merchant_id) {
            slot.insert(match super::sms::account_row(&ctx.db, row.merchant_id).await? {
                Some(a) => Some(OpenAccount::open(ctx, a)?),
                None => None,
            });
        }
        let (Some(Some(account)), Some(attempted_at)) = (accounts.get(&row.merchant_id), row.attempted_at) else {
            continue;
        };
        let Some(member) = members::Entity::find_by_id(row.member_id).one(&ctx.db).await? else { continue };
        let Some(phone) = member.phone_sealed.as_deref() else { continue };
        let Ok(phone) = PhoneNumber::parse(&ctx.vault.open(Field::MemberPhone, phone)?) else { continue };
        let found = match ctx.sms_providers.lookup(&account.account(), &phone, &row.send_key, attempted_at, now).await {
            Ok(found) => found,
            Err(why) => {
                tracing::warn!(send_id = row.id, %why, "an SMS lookup failed; tried again next tick");
                continue;
            }
        };
        let conclusive_after = if SmsProviders::lists_on_acceptance(account.provider) {
            Duration::seconds(LOOKUP_GRACE_SECS)
        } else {
            Duration::seconds(ctx.settings.marketing.receipt_window_secs)
        };
        let guard = |update: sea_orm::UpdateMany<marketing_sends::Entity>| {
            update
                .col_expr(marketing_sends::Column::UpdatedAt, Expr::value(now))
                .filter(marketing_sends::Column::Id.eq(row.id))
                .filter(marketing_sends::Column::Status.eq(SendStatus::Unknown.as_str()))
        };
        match found {
            Found::Accepted { provider_id, delivered, code } => {
                let status = match delivered {
                    Some(true) => SendStatus::Delivered,
                    Some(false) => SendStatus::Failed,
                    None => SendStatus::Sent,
                };
                let mut update = guard(marketing_sends::Entity::update_many())
                    .col_expr(marketing_sends::Column::Status, Expr::value(status.as_str()))
                    .col_expr(marketing_sends::Column::SentAt, Expr::value(Some(attempted_at)))
                    .col_expr(marketing_sends::Column::Reason, Expr::value(code.filter(|_| delivered == Some(false))));
                if let Some(id) = provider_id {
                    update = update.col_expr(marketing_sends::Column::ProviderId, Expr::value(Some(id)));
                }
                if delivered == Some(true) {
                    update = update.col_expr(marketing_sends::Column::DeliveredAt, Expr::value(Some(now)));
                }
                update.exec(&ctx.db).await?;
                resolved += 1;
            }
            Found::NotFound if now - attempted_at >= conclusive_after => {
                guard(marketing_sends::Entity::update_many())
                    .col_expr(marketing_sends::Column::Status, Expr::value(SendStatus::Queued.as_str()))
                    .col_expr(marketing_sends::Column::Reason, Expr::value(Some("not_found_resent")))
                    .col_expr(marketing_sends::Column::AttemptedAt, Expr::value(Option::<DateTime<Utc>>::None))
                    .col_expr(marketing_sends::Column::NotBefore, Expr::value(now))
                    .exec(&ctx.db)
                    .await?;
                resolved += 1;
            }
            Found::NotFound => {}
        }
    }
    Ok(resolved)
}

/// Ends a claimed row's turn with a status.
async fn settle(
    ctx: &AppContext,
    id: i64,
    token: &str,
    status: SendStatus,
    reason: Option<&str>,
    detail: Option<&str>,
    now: DateTime<Utc>,
) -> Result<()> {
    finish(ctx, marketing_sends::Entity::update_many(), id, token, status, reason, detail, now).await
}

#[allow(clippy::too_many_arguments)]
async fn finish(
    ctx: &AppContext,
    update: sea_orm::UpdateMany<marketing_sends::Entity>,
    id: i64,
    token: &str,
    status: SendStatus,
    reason: Option<&str>,
    detail: Option<&str>,
    now: DateTime<Utc>,
) -> Result<()> {
    let detail = detail.map(|d| d.chars().take(200).collect::<String>());
    update
        .col_expr(marketing_sends::Column::Status, Expr::value(status.as_str()))
        .col_expr(marketing_sends::Column::Reason, Expr::value(reason.map(str::to_owned)))
        .col_expr(marketing_sends::Column::Detail, Expr::value(detail))
        .col_expr(marketing_sends::Column::ClaimToken, Expr::value(Option::<String>::None))
        .col_expr(marketing_sends::Column::UpdatedAt, Expr::value(now))
        .filter(marketing_sends::Column::Id.eq(id))
        .filter(marketing_sends::Column::ClaimToken.eq(token))
        // A receipt that came before the provider's answer has settled it already.
        .filter(marketing_sends::Column::Status.eq(SendStatus::Sending.as_str()))
        .exec(&ctx.db)
        .await?;
    Ok(())
}

/// Gives a claimed row back to the queue until `until`, saying why it waits.
/// Puts a claimed row of a paused campaign back as `paused`, if the campaign is still paused: resumed meanwhile, the
/// row keeps its claim until it lapses and is queued again like any row whose dispatcher stopped.
async fn hold_paused(ctx: &AppContext, row: &marketing_sends::Model, token: &str, now: DateTime<Utc>) -> Result<()> {
    let paused = sea_orm::sea_query::Query::select()
        .column(campaigns::Column::Id)
        .from(campaigns::Entity)
        .and_where(Expr::col(campaigns::Column::Id).eq(row.campaign_id))
        .and_where(Expr::col(campaigns::Column::PausedAt).is_not_null())
        .to_owned();
    let update = marketing_sends::Entity::update_many().filter(marketing_sends::Column::CampaignId.in_subquery(paused));
    finish(ctx, update, row.id, token, SendStatus::Paused, None, None, now).await
}

async fn requeue(
    ctx: &AppContext,
    id: i64,
    token: &str,
    until: DateTime<Utc>,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    let update =
        marketing_sends::Entity::update_many().col_expr(marketing_sends::Column::NotBefore, Expr::value(until));
    finish(ctx, update, id, token, SendStatus::Queued, Some(reason), None, now).await
}
