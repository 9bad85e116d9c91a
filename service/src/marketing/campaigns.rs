//! Campaigns: a saved segment reached once, at a chosen time, with a coupon, an in-app message and/or an SMS.
//!
//! When a campaign runs, its audience is fixed: the members the segment holds at that moment, each given a bucket
//! 0–9999 from a hash of the merchant's secret salt, the campaign and the member, recorded and never changed. Those
//! in a bucket below the campaign's control share form its **control group** and receive nothing: no message and no
//! coupon (its template may not be claimable, so the coupon center cannot hand it to them either). Assignment comes
//! before any consent filtering, so the groups stay comparable; the campaign's report compares them.
//!
//! The `campaigns.run` job claims each due campaign for a while (a run that died is taken over when its claim
//! lapses) and every step is idempotent: assignment inserts each member once, the coupon is keyed by the campaign,
//! messages are planned once per campaign, member and channel. The messages themselves are decided and sent by the
//! dispatcher ([`super::sends`]), against consent, the weekly cap and the sending hours as they stand then.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, FromQueryResult,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::json;

use entity::{campaign_members, campaigns, marketing_sends, members};

use super::assignment::assign;
use crate::coupons::grants::{Drop, grant_where};
use crate::domain::{CampaignStatus, CouponSource, Permission, SendChannel, SendStatus};
use crate::foundation::audit::{self, Actor, Event};
use crate::foundation::principal::StaffPrincipal;
use crate::marketing::checked_text;
use crate::{AppContext, Conflict, Error, Result};

/// The control share when a campaign names none: 10%.
pub const DEFAULT_CONTROL_BP: i32 = 1_000;
/// How long a run holds a campaign before another may take it over.
const CLAIM: i64 = 10;

/// What staff ask for.
#[derive(Clone, Debug)]
pub struct CampaignInput {
    pub name: String,
    pub segment_id: i64,
    pub coupon_template_id: Option<i64>,
    /// Title and body of the in-app message.
    pub message: Option<(String, String)>,
    /// The SMS template to send.
    pub sms_template_id: Option<i64>,
    pub control_bp: Option<i32>,
    /// Days after the run over which the groups are compared (7–90, default 30).
    pub horizon_days: Option<i32>,
    pub run_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct Campaign {
    pub id: i64,
    pub name: String,
    /// The segment reached; none for a run of an automation without one.
    pub segment_id: Option<i64>,
    /// The automation this is one day's run of.
    pub automation_id: Option<i64>,
    pub coupon_template_id: Option<i64>,
    pub message: Option<(String, String)>,
    pub sms_template_id: Option<i64>,
    pub control_bp: i32,
    pub horizon_days: i32,
    pub status: CampaignStatus,
    pub run_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Members the segment held when it ran; of them, the control group.
    pub audience: i64,
    pub control: i64,
    pub coupons_issued: i64,
    /// Messages sent (or delivered), all channels.
    pub messages: i64,
    /// Its messages by channel and where they stand.
    pub sends: Vec<SendCount>,
    /// Why it gave up, when it did.
    pub failure: Option<String>,
    /// When staff paused it (it does not run, or its messages wait, until resumed).
    pub paused_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// How many of a campaign's messages on one channel stand where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendCount {
    pub channel: SendChannel,
    pub status: SendStatus,
    pub count: i64,
}

#[derive(FromQueryResult)]
struct SendCountRow {
    campaign_id: i64,
    channel: String,
    status: String,
    count: i64,
}

/// The campaigns' messages counted by channel and status.
async fn send_counts(conn: &impl ConnectionTrait, ids: &[i64]) -> Result<HashMap<i64, Vec<SendCount>>> {
    let rows = marketing_sends::Entity::find()
        .select_only()
        .column(marketing_sends::Column::CampaignId)
        .column(marketing_sends::Column::Channel)
        .column(marketing_sends::Column::Status)
        .column_as(marketing_sends::Column::Id.count(), "count")
        .filter(marketing_sends::Column::CampaignId.is_in(ids.iter().copied()))
        .group_by(marketing_sends::Column::CampaignId)
        .group_by(marketing_sends::Column::Channel)
        .group_by(marketing_sends::Column::Status)
        .into_model::<SendCountRow>()
        .all(conn)
        .await?;
    let mut counts: HashMap<i64, Vec<SendCount>> = HashMap::new();
    for row in rows {
        let count = SendCount {
            channel: SendChannel::stored(&row.channel)?,
            status: SendStatus::stored(&row.status)?,
            count: row.count,
        };
        counts.entry(row.campaign_id).or_default().push(count);
    }
    for list in counts.values_mut() {
        list.sort_by_key(|c| (c.channel.as_str(), c.status.as_str()));
    }
    Ok(counts)
}

async fn with_counts(conn: &impl ConnectionTrait, rows: Vec<campaigns::Model>) -> Result<Vec<Campaign>> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut counts = send_counts(conn, &ids).await?;
    rows.into_iter()
        .map(|row| {
            let sends = counts.remove(&row.id).unwrap_or_default();
            to_campaign(row, sends)
        })
        .collect()
}

fn to_campaign(row: campaigns::Model, sends: Vec<SendCount>) -> Result<Campaign> {
    let messages =
        sends.iter().filter(|c| matches!(c.status, SendStatus::Sent | SendStatus::Delivered)).map(|c| c.count).sum();
    Ok(Campaign {
        id: row.id,
        name: row.name,
        segment_id: row.segment_id,
        automation_id: row.automation_id,
        coupon_template_id: row.coupon_template_id,
        message: row.message_title.zip(row.message_body),
        sms_template_id: row.sms_template_id,
        control_bp: row.control_bp,
        horizon_days: row.horizon_days,
        status: CampaignStatus::stored(&row.status)?,
        run_at: row.run_at,
        started_at: row.started_at,
        finished_at: row.finished_at,
        audience: row.audience,
        control: row.control,
        coupons_issued: row.coupons_issued,
        messages,
        sends,
        failure: row.failure,
        paused_at: row.paused_at,
        created_at: row.created_at,
    })
}

/// Schedules a one-off campaign (staff who manage coupons, merchant-wide).
pub async fn create(ctx: &AppContext, principal: &StaffPrincipal, input: CampaignInput) -> Result<Campaign> {
    principal.require_merchant_wide(Permission::CouponManage)?;
    let merchant_id = principal.merchant_id;
    let name = checked_text("name", &input.name, 30)?;
    let message =
        checked_content(ctx, merchant_id, input.coupon_template_id, input.message.as_ref(), input.sms_template_id)
            .await?;
    let control_bp = checked_control(input.control_bp)?;
    let horizon_days = checked_horizon(input.horizon_days)?;
    let now = ctx.now();
    if input.run_at < now - Duration::minutes(5) || input.run_at > now + Duration::days(366) {
        return Err(Error::invalid("run_at", "must be from now to a year ahead"));
    }
    super::segments::row(ctx, merchant_id, input.segment_id)
        .await
        .map_err(|_| Error::invalid("segment_id", "no such segment of this merchant"))?;
    let (message_title, message_body) = message.unzip();
    let row = campaigns::ActiveModel {
        merchant_id: Set(merchant_id),
        name: Set(name),
        kind: Set("one_off".to_owned()),
        segment_id: Set(Some(input.segment_id)),
        coupon_template_id: Set(input.coupon_template_id),
        message_title: Set(message_title),
        message_body: Set(message_body),
        sms_template_id: Set(input.sms_template_id),
        control_bp: Set(control_bp),
        horizon_days: Set(horizon_days),
        status: Set(CampaignStatus::Scheduled.as_str().to_owned()),
        run_at: Set(input.run_at),
        created_by: Set(principal.staff_id),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&ctx.db)
    .await?;
    let detail = json!({
        "segment_id": row.segment_id, "run_at": row.run_at, "control_bp": control_bp, "horizon_days": horizon_days,
    });
    audit::by_staff(&ctx.db, principal, "campaign.scheduled", ("campaign", row.id), detail).await?;
    to_campaign(row, Vec::new())
}

/// The measurement horizon asked for, or the default: 7–90 days.
pub(crate) fn checked_horizon(days: Option<i32>) -> Result<i32> {
    let days = days.unwrap_or(super::roi::DEFAULT_HORIZON_DAYS);
    if !(7..=90).contains(&days) {
        return Err(Error::invalid("horizon_days", "the measurement horizon is 7–90 days"));
    }
    Ok(days)
}

/// The control share asked for, or the default: 0–50%.
pub(crate) fn checked_control(control_bp: Option<i32>) -> Result<i32> {
    let control_bp = control_bp.unwrap_or(DEFAULT_CONTROL_BP);
    if !(0..=5_000).contains(&control_bp) {
        return Err(Error::invalid("control_bp", "the control group is 0–50% (0–5000 basis points)"));
    }
    Ok(control_bp)
}

/// Checks what a campaign (or an automation's runs) carries: at least one of a coupon, an in-app message and an
/// SMS; a coupon that reaches members only through the campaign; an SMS template of the merchant's, not archived,
/// naming a coupon only when one goes with it. Returns the message trimmed.
pub(super) async fn checked_content(
    ctx: &AppContext,
    merchant_id: i64,
    coupon_template_id: Option<i64>,
    message: Option<&(String, String)>,
    sms_template_id: Option<i64>,
) -> Result<Option<(String, String)>> {
    let message = match message {
        Some((title, body)) => {
            Some((checked_text("message_title", title, 30)?, checked_text("message_body", body, 500)?))
        }
        None => None,
    };
    if message.is_none() && coupon_template_id.is_none() && sms_template_id.is_none() {
        return Err(Error::invalid(
            "coupon_template_id",
            "a campaign carries a coupon, a message, an SMS, or some of them",
        ));
    }
    if let Some(template_id) = coupon_template_id {
        let template = crate::coupons::templates::row(&ctx.db, merchant_id, template_id)
            .await
            .map_err(|_| Error::invalid("coupon_template_id", "no such coupon template of this merchant"))?;
        // Handed out any other way, it would reach the control group too.
        if let Some(why) = reaches_control(&template) {
            return Err(Error::invalid(
                "coupon_template_id",
                format!("a campaign's coupon must reach members only through the campaign, and {why}"),
            ));
        }
    }
    if let Some(template_id) = sms_template_id {
        let template = super::sms::template_row(&ctx.db, merchant_id, template_id)
            .await
            .map_err(|_| Error::invalid("sms_template_id", "no such SMS template of this merchant"))?;
        if template.archived {
            return Err(Error::invalid("sms_template_id", "this SMS template is archived"));
        }
        let variables = super::sms::variables_of(&template)?;
        if coupon_template_id.is_none() && variables.iter().any(|v| v == "coupon" || v == "days") {
            return Err(Error::invalid("sms_template_id", "this SMS names a coupon, and the campaign carries none"));
        }
    }
    Ok(message)
}

pub(crate) async fn row(ctx: &AppContext, merchant_id: i64, id: i64) -> Result<campaigns::Model> {
    campaigns::Entity::find_by_id(id)
        .filter(campaigns::Column::MerchantId.eq(merchant_id))
        .one(&ctx.db)
        .await?
        .ok_or(Error::NotFound("campaign"))
}

/// The merchant's campaigns, newest first.
pub async fn list(ctx: &AppContext, principal: &StaffPrincipal) -> Result<Vec<Campaign>> {
    principal.require_merchant_wide(Permission::CouponManage)?;
    let rows = campaigns::Entity::find()
        .filter(campaigns::Column::MerchantId.eq(principal.merchant_id))
        .order_by_desc(campaigns::Column::Id)
        .limit(200)
        .all(&ctx.db)
        .await?;
    with_counts(&ctx.db, rows).await
}

async fn one(ctx: &AppContext, merchant_id: i64, id: i64) -> Result<Campaign> {
    let mut list = with_counts(&ctx.db, vec![row(ctx, merchant_id, id).await?]).await?;
    list.pop().ok_or(Error::NotFound("campaign"))
}

pub async fn get(ctx: &AppContext, principal: &StaffPrincipal, id: i64) -> Result<Campaign> {
    principal.require_merchant_wide(Permission::CouponManage)?;
    one(ctx, principal.merchant_id, id).await
}

/// Calls off a campaign that has not started (409 `campaign_state` once it runs).
pub async fn cancel(ctx: &AppContext, principal: &StaffPrincipal, id: i64) -> Result<Campaign> {
    principal.require_merchant_wide(Permission::CouponManage)?;
    row(ctx, principal.merchant_id, id).await?;
    let now = ctx.now();
    let cancelled = campaigns::Entity::update_many()
        .col_expr(campaigns::Column::Status, Expr::value(CampaignStatus::Cancelled.as_str()))
        .col_expr(campaigns::Column::PausedAt, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(campaigns::Column::UpdatedAt, Expr::value(now))
        .filter(campaigns::Column::Id.eq(id))
        .filter(campaigns::Column::Status.eq(CampaignStatus::Scheduled.as_str()))
        .exec(&ctx.db)
        .await?;
    if cancelled.rows_affected != 1 {
        return Err(Error::Conflict(Conflict::CampaignState));
    }
    audit::by_staff(&ctx.db, principal, "campaign.cancelled", ("campaign", id), json!({})).await?;
    one(ctx, principal.merchant_id, id).await
}

/// Ends a campaign that has run: its messages not sent yet are skipped (`campaign_stopped`); what went stays
/// counted, and so does its control group. A campaign not yet run is cancelled instead (409 `campaign_state`).
pub async fn stop(ctx: &AppContext, principal: &StaffPrincipal, id: i64) -> Result<Campaign> {
    principal.require_merchant_wide(Permission::CouponManage)?;
    let campaign = row(ctx, principal.merchant_id, id).await?;
    if CampaignStatus::stored(&campaign.status)? != CampaignStatus::Done {
        return Err(Error::Conflict(Conflict::CampaignState));
    }
    let now = ctx.now();
    // Marked first: the dispatcher skips what it holds of a stopped campaign, and a message it puts back later.
    campaigns::Entity::update_many()
        .col_expr(campaigns::Column::StoppedAt, Expr::value(Some(now)))
        .col_expr(campaigns::Column::PausedAt, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(campaigns::Column::UpdatedAt, Expr::value(now))
        .filter(campaigns::Column::Id.eq(id))
        .exec(&ctx.db)
        .await?;
    let stopped = marketing_sends::Entity::update_many()
        .col_expr(marketing_sends::Column::Status, Expr::value(SendStatus::Skipped.as_str()))
        .col_expr(marketing_sends::Column::Reason, Expr::value(Some("campaign_stopped")))
        .col_expr(marketing_sends::Column::UpdatedAt, Expr::value(now))
        .filter(marketing_sends::Column::CampaignId.eq(id))
        .filter(marketing_sends::Column::Status.is_in([SendStatus::Queued.as_str(), SendStatus::Paused.as_str()]))
        .exec(&ctx.db)
        .await?;
    let detail = json!({ "skipped": stopped.rows_affected });
    audit::by_staff(&ctx.db, principal, "campaign.stopped", ("campaign", id), detail).await?;
    one(ctx, principal.merchant_id, id).await
}

/// Moves a campaign's messages from one status to another (pausing and resuming), only while the campaign is
/// paused (or not) as `paused` says: a pause and a resume interleaved leave the messages as the campaign ends up.
async fn move_sends(ctx: &AppContext, id: i64, from: SendStatus, to: SendStatus, paused: bool) -> Result<u64> {
    let still = Query::select()
        .column(campaigns::Column::Id)
        .from(campaigns::Entity)
        .and_where(Expr::col(campaigns::Column::Id).eq(id))
        .and_where(if paused {
            Expr::col(campaigns::Column::PausedAt).is_not_null()
        } else {
            Expr::col(campaigns::Column::PausedAt).is_null()
        })
        .to_owned();
    let moved = marketing_sends::Entity::update_many()
        .col_expr(marketing_sends::Column::Status, Expr::value(to.as_str()))
        .col_expr(marketing_sends::Column::UpdatedAt, Expr::value(ctx.now()))
        .filter(marketing_sends::Column::CampaignId.in_subquery(still))
        .filter(marketing_sends::Column::Status.eq(from.as_str()))
        .exec(&ctx.db)
        .await?;
    Ok(moved.rows_affected)
}

/// Pauses a campaign: a scheduled one does not run when its time comes, one that has run sends nothing more (its
/// messages not yet sent wait as `paused`) until resumed. A campaign being run right now cannot be paused (409
/// `campaign_state`, as for one cancelled, failed or paused already): try again in a moment.
pub async fn pause(ctx: &AppContext, principal: &StaffPrincipal, id: i64) -> Result<Campaign> {
    principal.require_merchant_wide(Permission::CouponManage)?;
    row(ctx, principal.merchant_id, id).await?;
    let now = ctx.now();
    // Guarded: a run claims only a campaign not paused, so either the pause or the run wins, never both.
    let paused = campaigns::Entity::update_many()
        .col_expr(campaigns::Column::PausedAt, Expr::value(Some(now)))
        .col_expr(campaigns::Column::UpdatedAt, Expr::value(now))
        .filter(campaigns::Column::Id.eq(id))
        .filter(campaigns::Column::Status.is_in([CampaignStatus::Scheduled.as_str(), CampaignStatus::Done.as_str()]))
        .filter(campaigns::Column::PausedAt.is_null())
        .exec(&ctx.db)
        .await?;
    if paused.rows_affected != 1 {
        return Err(Error::Conflict(Conflict::CampaignState));
    }
    let held = move_sends(ctx, id, SendStatus::Queued, SendStatus::Paused, true).await?;
    audit::by_staff(&ctx.db, principal, "campaign.paused", ("campaign", id), json!({ "held": held })).await?;
    one(ctx, principal.merchant_id, id).await
}

/// Resumes a paused campaign: a scheduled one runs when its time comes (at once if it has passed), the messages
/// of one that has run are queued again and decided as they are sent (409 `campaign_state` if it is not paused).
pub async fn resume(ctx: &AppContext, principal: &StaffPrincipal, id: i64) -> Result<Campaign> {
    principal.require_merchant_wide(Permission::CouponManage)?;
    row(ctx, principal.merchant_id, id).await?;
    let now = ctx.now();
    let resumed = campaigns::Entity::update_many()
        .col_expr(campaigns::Column::PausedAt, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(campaigns::Column::UpdatedAt, Expr::value(now))
        .filter(campaigns::Column::Id.eq(id))
        .filter(campaigns::Column::Status.is_in([CampaignStatus::Scheduled.as_str(), CampaignStatus::Done.as_str()]))
        .filter(campaigns::Column::PausedAt.is_not_null())
        .exec(&ctx.db)
        .await?;
    if resumed.rows_affected != 1 {
        return Err(Error::Conflict(Conflict::CampaignState));
    }
    let queued = move_sends(ctx, id, SendStatus::Paused, SendStatus::Queued, false).await?;
    audit::by_staff(&ctx.db, principal, "campaign.resumed", ("campaign", id), json!({ "queued": queued })).await?;
    one(ctx, principal.merchant_id, id).await
}

/// What a `campaigns.run` tick did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Runs {
    pub campaigns: u64,
    pub members: u64,
    pub coupons: u64,
    pub messages: u64,
}

/// Runs every campaign due at `now` (scheduled and its time come, or running with its claim lapsed): each is
/// claimed by one guarded update, so one replica runs it.
pub async fn run_due(ctx: &AppContext, now: DateTime<Utc>) -> Result<Runs> {
    let candidates: Vec<i64> = campaigns::Entity::find()
        .select_only()
        .column(campaigns::Column::Id)
        .filter(due(now))
        .order_by_asc(campaigns::Column::Id)
        .limit(50)
        .into_tuple()
        .all(&ctx.db)
        .await?;
    let mut runs = Runs::default();
    for id in candidates {
        let token = hex::encode(rand::random::<[u8; 12]>());
        let claimed = campaigns::Entity::update_many()
            .col_expr(campaigns::Column::Status, Expr::value(CampaignStatus::Running.as_str()))
            .col_expr(campaigns::Column::ClaimToken, Expr::value(Some(token.clone())))
            .col_expr(campaigns::Column::ClaimedUntil, Expr::value(Some(now + Duration::minutes(CLAIM))))
            .col_expr(
                campaigns::Column::StartedAt,
                Func::coalesce([Expr::col(campaigns::Column::StartedAt), Expr::value(Some(now))]).into(),
            )
            .filter(campaigns::Column::Id.eq(id))
            .filter(due(now))
            .exec(&ctx.db)
            .await?;
        if claimed.rows_affected != 1 {
            continue; // another replica took it
        }
        let campaign = campaigns::Entity::find_by_id(id).one(&ctx.db).await?.ok_or(Error::NotFound("campaign"))?;
        let done = match run_one(ctx, &campaign, &token, now).await {
            Ok(done) => done,
            // The database or the process failed: the claim lapses and a later tick takes the campaign over.
            Err(error @ (Error::Database(_) | Error::Internal(_))) => {
                tracing::warn!(campaign_id = id, %error, "a campaign's run stopped; it is taken over when its claim lapses");
                continue;
            }
            // What it needs is gone (its segment deleted): it gives up, saying why, and the others go on.
            Err(error) => {
                give_up(ctx, &campaign, &error.to_string(), now).await?;
                continue;
            }
        };
        runs.campaigns += 1;
        runs.members += done.members;
        runs.coupons += done.coupons;
        runs.messages += done.messages;
    }
    Ok(runs)
}

async fn give_up(ctx: &AppContext, campaign: &campaigns::Model, why: &str, now: DateTime<Utc>) -> Result<()> {
    campaigns::Entity::update_many()
        .col_expr(campaigns::Column::Status, Expr::value(CampaignStatus::Failed.as_str()))
        .col_expr(campaigns::Column::Failure, Expr::value(Some(why.to_owned())))
        .col_expr(campaigns::Column::FinishedAt, Expr::value(Some(now)))
        .col_expr(campaigns::Column::ClaimedUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(campaigns::Column::UpdatedAt, Expr::value(now))
        .filter(campaigns::Column::Id.eq(campaign.id))
        .exec(&ctx.db)
        .await?;
    let event = Event {
        merchant_id: Some(campaign.merchant_id),
        actor: Actor::System,
        action: "campaign.failed",
        target: Some(("campaign", campaign.id)),
        detail: json!({ "reason": why }),
        ip: None,
    };
    audit::record(&ctx.db, event).await
}

/// Renews the run's claim on the campaign; false when another run has taken it over (this one must stop).
pub(super) async fn renew(ctx: &AppContext, campaign_id: i64, token: &str, now: DateTime<Utc>) -> Result<bool> {
    let renewed = campaigns::Entity::update_many()
        .col_expr(campaigns::Column::ClaimedUntil, Expr::value(Some(now + Duration::minutes(CLAIM))))
        .filter(campaigns::Column::Id.eq(campaign_id))
        .filter(campaigns::Column::Status.eq(CampaignStatus::Running.as_str()))
        .filter(campaigns::Column::ClaimToken.eq(token))
        .exec(&ctx.db)
        .await?;
    Ok(renewed.rows_affected == 1)
}

/// Whether a coupon template may go with a campaign: one handed out any other way (claimable in the coupon center,
/// on joining, on birthdays, with a purchase) would reach the control group too.
pub(crate) fn reaches_control(template: &entity::coupon_templates::Model) -> Option<&'static str> {
    if template.claimable {
        Some("it is claimable in the coupon center")
    } else if template.auto_grant.is_some() {
        Some("it is given on joining or on birthdays")
    } else if template.purchase_min_fen.is_some() {
        Some("it is given with purchases")
    } else {
        None
    }
}

/// Whether a scheduled or running campaign of the merchant, or an automation not ended, uses the segment or the
/// coupon template.
pub(crate) async fn in_use(
    conn: &impl ConnectionTrait,
    merchant_id: i64,
    segment_id: Option<i64>,
    template_id: Option<i64>,
) -> Result<bool> {
    let mut query = campaigns::Entity::find().filter(campaigns::Column::MerchantId.eq(merchant_id)).filter(
        campaigns::Column::Status.is_in([CampaignStatus::Scheduled.as_str(), CampaignStatus::Running.as_str()]),
    );
    if let Some(segment_id) = segment_id {
        query = query.filter(campaigns::Column::SegmentId.eq(segment_id));
    }
    if let Some(template_id) = template_id {
        query = query.filter(campaigns::Column::CouponTemplateId.eq(template_id));
    }
    Ok(query.count(conn).await? > 0 || super::automations::in_use(conn, merchant_id, segment_id, template_id).await?)
}

/// A campaign whose time has come, or whose run's claim lapsed.
fn due(now: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(
            Condition::all()
                .add(campaigns::Column::Status.eq(CampaignStatus::Scheduled.as_str()))
                .add(campaigns::Column::RunAt.lte(now))
                .add(campaigns::Column::PausedAt.is_null()),
        )
        .add(
            Condition::all()
                .add(campaigns::Column::Status.eq(CampaignStatus::Running.as_str()))
                .add(campaigns::Column::ClaimedUntil.lt(now)),
        )
}

/// Fixes the audience of one claimed campaign (unless a run before did), then grants and messages it.
async fn run_one(ctx: &AppContext, campaign: &campaigns::Model, token: &str, now: DateTime<Utc>) -> Result<Runs> {
    // A day's run of an automation paused or ended since the run was made does not go.
    if let Some(automation_id) = campaign.automation_id {
        let status = super::automations::status_of(&ctx.db, automation_id).await?;
        if status != crate::domain::AutomationStatus::Active {
            let why = format!("automation_{status}");
            campaigns::Entity::update_many()
                .col_expr(campaigns::Column::Status, Expr::value(CampaignStatus::Cancelled.as_str()))
                .col_expr(campaigns::Column::Failure, Expr::value(Some(why)))
                .col_expr(campaigns::Column::ClaimedUntil, Expr::value(Option::<DateTime<Utc>>::None))
                .col_expr(campaigns::Column::UpdatedAt, Expr::value(now))
                .filter(campaigns::Column::Id.eq(campaign.id))
                .filter(campaigns::Column::ClaimToken.eq(token))
                .exec(&ctx.db)
                .await?;
            return Ok(Runs::default());
        }
    }
    if campaign.assigned_at.is_none() {
        assign(ctx, campaign, token, now).await?;
    }
    finish(ctx, campaign, now).await
}

/// Grants and messages the treatment group of an assigned campaign, then records what it did.
async fn finish(ctx: &AppContext, campaign: &campaigns::Model, now: DateTime<Utc>) -> Result<Runs> {
    let merchant_id = campaign.merchant_id;
    let treatment = || {
        Query::select()
            .column(campaign_members::Column::MemberId)
            .from(campaign_members::Entity)
            .and_where(Expr::col(campaign_members::Column::CampaignId).eq(campaign.id))
            .and_where(Expr::col(campaign_members::Column::InControl).eq(false))
            .to_owned()
    };
    let mut coupons = 0;
    let template = match campaign.coupon_template_id {
        Some(id) => Some(crate::coupons::templates::row(&ctx.db, merchant_id, id).await?),
        None => None,
    };
    let changed_since = template.as_ref().and_then(reaches_control);
    if let Some(why) = changed_since {
        skip_coupon(ctx, campaign, why).await?;
    }
    if let Some(template_id) = campaign.coupon_template_id.filter(|_| changed_since.is_none()) {
        let drop = Drop {
            merchant_id,
            template_id,
            actor: Actor::System,
            source: CouponSource::Campaign,
            source_key: format!("campaign:{}", campaign.id),
        };
        match grant_where(ctx, drop, Condition::all().add(members::Column::Id.in_subquery(treatment()))).await {
            Ok(granted) => coupons = granted.issued,
            // Out of stock or budget, paused or ended since it was scheduled: the message still goes; the campaign
            // records that no coupon went with it.
            Err(Error::Conflict(conflict)) => skip_coupon(ctx, campaign, conflict.code()).await?,
            Err(error) => return Err(error),
        }
    }
    let mut channels = Vec::new();
    if campaign.message_title.is_some() && campaign.message_body.is_some() {
        channels.push(SendChannel::InApp);
    }
    if campaign.sms_template_id.is_some() {
        channels.push(SendChannel::Sms);
    }
    let messages = super::sends::plan(&ctx.db, campaign, &channels, now).await?;
    let of_campaign = || campaign_members::Entity::find().filter(campaign_members::Column::CampaignId.eq(campaign.id));
    let audience = of_campaign().count(&ctx.db).await?;
    let control = of_campaign().filter(campaign_members::Column::InControl.eq(true)).count(&ctx.db).await?;
    // Totals as they stand, counted from the rows: a run taken over counts what the first one wrote too.
    let issued = entity::member_coupons::Entity::find()
        .filter(entity::member_coupons::Column::SourceKey.eq(format!("campaign:{}", campaign.id)))
        .count(&ctx.db)
        .await?;
    let as_i64 = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    campaigns::Entity::update_many()
        .col_expr(campaigns::Column::Status, Expr::value(CampaignStatus::Done.as_str()))
        .col_expr(campaigns::Column::FinishedAt, Expr::value(Some(now)))
        .col_expr(campaigns::Column::ClaimedUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(campaigns::Column::Audience, Expr::value(as_i64(audience)))
        .col_expr(campaigns::Column::Control, Expr::value(as_i64(control)))
        .col_expr(campaigns::Column::CouponsIssued, Expr::value(as_i64(issued)))
        .col_expr(campaigns::Column::UpdatedAt, Expr::value(now))
        .filter(campaigns::Column::Id.eq(campaign.id))
        .exec(&ctx.db)
        .await?;
    Ok(Runs { campaigns: 1, members: audience, coupons, messages })
}

/// Records that the campaign's coupon did not go out, and why; its message still does.
async fn skip_coupon(ctx: &AppContext, campaign: &campaigns::Model, why: &str) -> Result<()> {
    let event = Event {
        merchant_id: Some(campaign.merchant_id),
        actor: Actor::System,
        action: "campaign.coupon_skipped",
        target: Some(("campaign", campaign.id)),
        detail: json!({ "reason": why }),
        ip: None,
    };
    audit::record(&ctx.db, event).await
}
