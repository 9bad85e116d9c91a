//! Automations: campaigns that run by themselves. Each day, in the merchant's zone, every active automation gets one
//! run: a campaign of its own (kind `automation`, unique per automation and local date) whose audience is the
//! members its trigger picks that day (joined lately, birthday near, lapsed, overdue by their own rhythm, a card or
//! coupon about to expire, a low balance), narrowed by its segment if it has one, less those it reached within its
//! cooldown. A recurring automation reaches its whole segment every so many days.
//!
//! A run is then an ordinary campaign: assigned, granted and messaged by `campaigns.run`, its messages decided by
//! the dispatcher at the moment of sending. Members are assigned within the automation, not the day's run, so a
//! member is in the same group (treatment or control) every time it reaches them, and its runs together are one
//! comparison. Trigger windows are states, not events (joined within three days and never reached, lapsed and not
//! reached since), so a day the job missed is caught up the next.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func, OnConflict, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, FromQueryResult,
    QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::json;

use entity::{
    campaign_members, campaigns, marketing_automations, marketing_sends, member_coupons, members, stored_value_cards,
};

use super::campaigns::{checked_content, checked_control};
use super::checked_text;
use super::segments::{Combine, Criterion, SegmentRule};
use crate::booking::calendar::Calendar;
use crate::domain::{AutomationStatus, AutomationTrigger, CampaignStatus, CouponStatus, Fen, Permission, SendStatus};
use crate::foundation::audit;
use crate::foundation::principal::StaffPrincipal;
use crate::{AppContext, Conflict, Error, Result};

/// "Once ever": the cooldown of a welcome.
const FOREVER: i32 = 36_500;

/// What staff ask for.
#[derive(Clone, Debug)]
pub struct AutomationInput {
    pub name: String,
    pub trigger: AutomationTrigger,
    /// The trigger's days; its default when not given.
    pub days: Option<u32>,
    /// The rebook trigger's percent of the member's own interval, or the low-balance trigger's balance in fen.
    pub threshold: Option<i64>,
    pub segment_id: Option<i64>,
    pub coupon_template_id: Option<i64>,
    pub message: Option<(String, String)>,
    pub sms_template_id: Option<i64>,
    pub control_bp: Option<i32>,
    /// Days before the automation may reach the same member again; the trigger's default when not given.
    pub cooldown_days: Option<u32>,
}

#[derive(Clone, Debug)]
pub struct Automation {
    pub id: i64,
    pub name: String,
    pub trigger: AutomationTrigger,
    pub days: u32,
    pub threshold: Option<i64>,
    pub segment_id: Option<i64>,
    pub coupon_template_id: Option<i64>,
    pub message: Option<(String, String)>,
    pub sms_template_id: Option<i64>,
    pub control_bp: i32,
    pub cooldown_days: u32,
    pub status: AutomationStatus,
    /// The local date of its latest run.
    pub last_occasion: Option<String>,
    /// Its runs so far, and their members, control group, coupons and messages added up.
    pub totals: Totals,
    pub created_at: DateTime<Utc>,
}

/// An automation's runs added up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, FromQueryResult)]
pub struct Totals {
    pub runs: i64,
    pub audience: i64,
    pub control: i64,
    pub coupons_issued: i64,
}

/// A trigger's defaults and bounds: (days default, days range, threshold default, cooldown default).
struct Shape {
    days: u32,
    days_range: (u32, u32),
    threshold: Option<(i64, i64, i64)>,
    cooldown: i32,
}

fn shape(trigger: AutomationTrigger) -> Shape {
    use AutomationTrigger as T;
    match trigger {
        T::Welcome => Shape { days: 3, days_range: (1, 30), threshold: None, cooldown: FOREVER },
        T::Birthday => Shape { days: 3, days_range: (0, 30), threshold: None, cooldown: 300 },
        T::WinBack => Shape { days: 60, days_range: (7, 730), threshold: None, cooldown: 180 },
        // The percent of the member's own interval: 150 is half as long again as they usually wait.
        T::Rebook => Shape { days: 0, days_range: (0, 0), threshold: Some((150, 101, 1_000)), cooldown: 30 },
        T::CountCardExpiring | T::StoredValueExpiring => {
            Shape { days: 14, days_range: (1, 90), threshold: None, cooldown: 30 }
        }
        // The balance in fen: at most ￥100 by default.
        T::LowBalance => Shape { days: 0, days_range: (0, 0), threshold: Some((10_000, 1, 100_000_000)), cooldown: 30 },
        T::CouponExpiring => Shape { days: 3, days_range: (1, 30), threshold: None, cooldown: 7 },
        T::Recurring => Shape { days: 7, days_range: (1, 365), threshold: None, cooldown: 0 },
    }
}

fn to_automation(row: marketing_automations::Model, totals: Totals) -> Result<Automation> {
    Ok(Automation {
        id: row.id,
        name: row.name,
        trigger: AutomationTrigger::stored(&row.trigger)?,
        days: u32::try_from(row.days).unwrap_or(0),
        threshold: row.threshold,
        segment_id: row.segment_id,
        coupon_template_id: row.coupon_template_id,
        message: row.message_title.zip(row.message_body),
        sms_template_id: row.sms_template_id,
        control_bp: row.control_bp,
        cooldown_days: u32::try_from(row.cooldown_days).unwrap_or(0),
        status: AutomationStatus::stored(&row.status)?,
        last_occasion: row.last_occasion,
        totals,
        created_at: row.created_at,
    })
}

/// Creates an automation, active from the next run of the daily job (staff who manage coupons, merchant-wide).
pub async fn create(ctx: &AppContext, principal: &StaffPrincipal, input: AutomationInput) -> Result<Automation> {
    principal.require_merchant_wide(Permission::CouponManage)?;
    let merchant_id = principal.merchant_id;
    // A run is named after its automation and its date (" · 2026-12-08"): 18 characters leave room for both.
    let name = checked_text("name", &input.name, 18)?;
    let shape = shape(input.trigger);
    let days = match (input.days, shape.days_range) {
        (None, (0, 0)) => 0,
        (Some(_), (0, 0)) => return Err(Error::invalid("days", "this trigger takes no days")),
        (None, _) => shape.days,
        (Some(days), (least, most)) if (least..=most).contains(&days) => days,
        (Some(_), (least, most)) => {
            return Err(Error::invalid("days", format!("this trigger takes {least}–{most} days")));
        }
    };
    let threshold = match (input.threshold, shape.threshold) {
        (None, None) => None,
        (Some(_), None) => return Err(Error::invalid("threshold", "this trigger takes no threshold")),
        (None, Some((default, _, _))) => Some(default),
        (Some(value), Some((_, least, most))) if (least..=most).contains(&value) => Some(value),
        (Some(_), Some((_, least, most))) => {
            return Err(Error::invalid("threshold", format!("this trigger's threshold is {least}–{most}")));
        }
    };
    let cooldown_days = match input.cooldown_days {
        None => shape.cooldown,
        Some(days) if days <= 3_650 => i32::try_from(days).unwrap_or(FOREVER),
        Some(_) => return Err(Error::invalid("cooldown_days", "a cooldown is 0–3650 days")),
    };
    if input.trigger == AutomationTrigger::Recurring && input.segment_id.is_none() {
        return Err(Error::invalid("segment_id", "a recurring automation reaches a segment: name one"));
    }
    if let Some(segment_id) = input.segment_id {
        super::segments::row(ctx, merchant_id, segment_id)
            .await
            .map_err(|_| Error::invalid("segment_id", "no such segment of this merchant"))?;
    }
    let message =
        checked_content(ctx, merchant_id, input.coupon_template_id, input.message.as_ref(), input.sms_template_id)
            .await?;
    let control_bp = checked_control(input.control_bp)?;
    let now = ctx.now();
    let (message_title, message_body) = message.unzip();
    let row = marketing_automations::ActiveModel {
        merchant_id: Set(merchant_id),
        name: Set(name),
        trigger: Set(input.trigger.as_str().to_owned()),
        days: Set(i32::try_from(days).unwrap_or(0)),
        threshold: Set(threshold),
        segment_id: Set(input.segment_id),
        coupon_template_id: Set(input.coupon_template_id),
        message_title: Set(message_title),
        message_body: Set(message_body),
        sms_template_id: Set(input.sms_template_id),
        control_bp: Set(control_bp),
        cooldown_days: Set(cooldown_days),
        status: Set(AutomationStatus::Active.as_str().to_owned()),
        created_by: Set(principal.staff_id),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&ctx.db)
    .await?;
    let detail =
        json!({ "trigger": row.trigger, "days": row.days, "threshold": row.threshold, "segment_id": row.segment_id });
    audit::by_staff(&ctx.db, principal, "automation.created", ("automation", row.id), detail).await?;
    to_automation(row, Totals::default())
}

async fn row(ctx: &AppContext, merchant_id: i64, id: i64) -> Result<marketing_automations::Model> {
    marketing_automations::Entity::find_by_id(id)
        .filter(marketing_automations::Column::MerchantId.eq(merchant_id))
        .one(&ctx.db)
        .await?
        .ok_or(Error::NotFound("automation"))
}

#[derive(FromQueryResult)]
struct TotalsRow {
    automation_id: i64,
    runs: i64,
    audience: i64,
    control: i64,
    coupons_issued: i64,
}

/// The runs of the automations added up.
async fn totals(conn: &impl ConnectionTrait, ids: &[i64]) -> Result<HashMap<i64, Totals>> {
    let sum = |column: campaigns::Column| Func::coalesce([Expr::from(Func::sum(Expr::col(column))), Expr::val(0)]);
    let rows = campaigns::Entity::find()
        .select_only()
        .column(campaigns::Column::AutomationId)
        .column_as(campaigns::Column::Id.count(), "runs")
        .column_as(Expr::expr(sum(campaigns::Column::Audience)).cast_as("BIGINT"), "audience")
        .column_as(Expr::expr(sum(campaigns::Column::Control)).cast_as("BIGINT"), "control")
        .column_as(Expr::expr(sum(campaigns::Column::CouponsIssued)).cast_as("BIGINT"), "coupons_issued")
        .filter(campaigns::Column::AutomationId.is_in(ids.iter().copied()))
        .group_by(campaigns::Column::AutomationId)
        .into_model::<TotalsRow>()
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let totals =
                Totals { runs: r.runs, audience: r.audience, control: r.control, coupons_issued: r.coupons_issued };
            (r.automation_id, totals)
        })
        .collect())
}

async fn with_totals(conn: &impl ConnectionTrait, rows: Vec<marketing_automations::Model>) -> Result<Vec<Automation>> {
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut totals = totals(conn, &ids).await?;
    rows.into_iter()
        .map(|row| {
            let of = totals.remove(&row.id).unwrap_or_default();
            to_automation(row, of)
        })
        .collect()
}

/// The merchant's automations, newest first.
pub async fn list(ctx: &AppContext, principal: &StaffPrincipal) -> Result<Vec<Automation>> {
    principal.require_merchant_wide(Permission::CouponManage)?;
    let rows = marketing_automations::Entity::find()
        .filter(marketing_automations::Column::MerchantId.eq(principal.merchant_id))
        .order_by_desc(marketing_automations::Column::Id)
        .limit(200)
        .all(&ctx.db)
        .await?;
    with_totals(&ctx.db, rows).await
}

async fn one(ctx: &AppContext, merchant_id: i64, id: i64) -> Result<Automation> {
    let mut list = with_totals(&ctx.db, vec![row(ctx, merchant_id, id).await?]).await?;
    list.pop().ok_or(Error::NotFound("automation"))
}

pub async fn get(ctx: &AppContext, principal: &StaffPrincipal, id: i64) -> Result<Automation> {
    principal.require_merchant_wide(Permission::CouponManage)?;
    one(ctx, principal.merchant_id, id).await
}

/// Moves an automation from one of `from` to `to` by one guarded update (409 `automation_state` otherwise).
async fn set_status(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    id: i64,
    from: &[AutomationStatus],
    to: AutomationStatus,
) -> Result<()> {
    principal.require_merchant_wide(Permission::CouponManage)?;
    row(ctx, principal.merchant_id, id).await?;
    let moved = marketing_automations::Entity::update_many()
        .col_expr(marketing_automations::Column::Status, Expr::value(to.as_str()))
        .col_expr(marketing_automations::Column::UpdatedAt, Expr::value(ctx.now()))
        .filter(marketing_automations::Column::Id.eq(id))
        .filter(marketing_automations::Column::Status.is_in(from.iter().map(|s| s.as_str())))
        .exec(&ctx.db)
        .await?;
    if moved.rows_affected != 1 {
        return Err(Error::Conflict(Conflict::AutomationState));
    }
    Ok(())
}

/// Pauses an active automation: no more runs until resumed; what its runs planned still goes.
pub async fn pause(ctx: &AppContext, principal: &StaffPrincipal, id: i64) -> Result<Automation> {
    set_status(ctx, principal, id, &[AutomationStatus::Active], AutomationStatus::Paused).await?;
    audit::by_staff(&ctx.db, principal, "automation.paused", ("automation", id), json!({})).await?;
    one(ctx, principal.merchant_id, id).await
}

/// Resumes a paused automation from the next daily run.
pub async fn resume(ctx: &AppContext, principal: &StaffPrincipal, id: i64) -> Result<Automation> {
    set_status(ctx, principal, id, &[AutomationStatus::Paused], AutomationStatus::Active).await?;
    audit::by_staff(&ctx.db, principal, "automation.resumed", ("automation", id), json!({})).await?;
    one(ctx, principal.merchant_id, id).await
}

/// Ends an automation for good: no more runs, and its runs' messages not sent yet are skipped (`campaign_stopped`).
pub async fn end(ctx: &AppContext, principal: &StaffPrincipal, id: i64) -> Result<Automation> {
    let live = [AutomationStatus::Active, AutomationStatus::Paused];
    set_status(ctx, principal, id, &live, AutomationStatus::Ended).await?;
    let now = ctx.now();
    // Its runs are stopped (the dispatcher skips what it holds of them); one made but not run is called off.
    campaigns::Entity::update_many()
        .col_expr(campaigns::Column::StoppedAt, Expr::value(Some(now)))
        .col_expr(campaigns::Column::UpdatedAt, Expr::value(now))
        .filter(campaigns::Column::AutomationId.eq(id))
        .exec(&ctx.db)
        .await?;
    campaigns::Entity::update_many()
        .col_expr(campaigns::Column::Status, Expr::value(CampaignStatus::Cancelled.as_str()))
        .filter(campaigns::Column::AutomationId.eq(id))
        .filter(campaigns::Column::Status.eq(CampaignStatus::Scheduled.as_str()))
        .exec(&ctx.db)
        .await?;
    let runs = Query::select()
        .column(campaigns::Column::Id)
        .from(campaigns::Entity)
        .and_where(Expr::col(campaigns::Column::AutomationId).eq(id))
        .to_owned();
    let stopped = marketing_sends::Entity::update_many()
        .col_expr(marketing_sends::Column::Status, Expr::value(SendStatus::Skipped.as_str()))
        .col_expr(marketing_sends::Column::Reason, Expr::value(Some("campaign_stopped")))
        .col_expr(marketing_sends::Column::UpdatedAt, Expr::value(now))
        .filter(marketing_sends::Column::CampaignId.in_subquery(runs))
        .filter(marketing_sends::Column::Status.is_in([SendStatus::Queued.as_str(), SendStatus::Paused.as_str()]))
        .exec(&ctx.db)
        .await?;
    let detail = json!({ "skipped": stopped.rows_affected });
    audit::by_staff(&ctx.db, principal, "automation.ended", ("automation", id), detail).await?;
    one(ctx, principal.merchant_id, id).await
}

/// Where the automation stands now (a run checks it as it starts).
pub(crate) async fn status_of(conn: &impl ConnectionTrait, id: i64) -> Result<AutomationStatus> {
    let row = marketing_automations::Entity::find_by_id(id).one(conn).await?.ok_or(Error::NotFound("automation"))?;
    AutomationStatus::stored(&row.status)
}

/// What a daily tick did in one zone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Started {
    /// Runs created for today.
    pub runs: u64,
    /// Active automations that already had today's run (another replica, or an earlier tick).
    pub already: u64,
}

/// Creates today's run of every active automation of the merchants in `timezone`: one campaign per automation and
/// local date, by an insert that does nothing if the run exists, so replicas and retries make it once. The runs are
/// then carried out by `campaigns.run` like any campaign.
pub async fn start_in_zone(ctx: &AppContext, timezone: &str, now: DateTime<Utc>) -> Result<Started> {
    let today = Calendar::new(timezone).today(now);
    let merchants = Query::select()
        .column(entity::merchants::Column::Id)
        .from(entity::merchants::Entity)
        .and_where(Expr::col(entity::merchants::Column::Timezone).eq(timezone))
        .to_owned();
    let automations = marketing_automations::Entity::find()
        .filter(marketing_automations::Column::Status.eq(AutomationStatus::Active.as_str()))
        .filter(marketing_automations::Column::MerchantId.in_subquery(merchants))
        .order_by_asc(marketing_automations::Column::Id)
        .all(&ctx.db)
        .await?;
    let mut started = Started::default();
    for automation in automations {
        if !due_on(&automation, today)? {
            continue;
        }
        let occasion = today.format("%Y-%m-%d").to_string();
        let run = campaigns::ActiveModel {
            merchant_id: Set(automation.merchant_id),
            name: Set(format!("{} · {occasion}", automation.name)),
            kind: Set("automation".to_owned()),
            segment_id: Set(automation.segment_id),
            coupon_template_id: Set(automation.coupon_template_id),
            message_title: Set(automation.message_title.clone()),
            message_body: Set(automation.message_body.clone()),
            sms_template_id: Set(automation.sms_template_id),
            control_bp: Set(automation.control_bp),
            status: Set(CampaignStatus::Scheduled.as_str().to_owned()),
            run_at: Set(now),
            created_by: Set(automation.created_by),
            created_at: Set(now),
            updated_at: Set(now),
            automation_id: Set(Some(automation.id)),
            occasion: Set(Some(occasion.clone())),
            ..Default::default()
        };
        let inserted = campaigns::Entity::insert(run)
            .on_conflict(
                OnConflict::columns([campaigns::Column::AutomationId, campaigns::Column::Occasion])
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(&ctx.db)
            .await?;
        if inserted == 0 {
            started.already += 1;
            continue;
        }
        marketing_automations::Entity::update_many()
            .col_expr(marketing_automations::Column::LastOccasion, Expr::value(Some(occasion)))
            .filter(marketing_automations::Column::Id.eq(automation.id))
            .exec(&ctx.db)
            .await?;
        started.runs += 1;
    }
    Ok(started)
}

/// Whether the automation runs on `today`: every day, or a recurring one every `days` days after its last run.
fn due_on(automation: &marketing_automations::Model, today: NaiveDate) -> Result<bool> {
    if AutomationTrigger::stored(&automation.trigger)? != AutomationTrigger::Recurring {
        return Ok(true);
    }
    let Some(last) = automation.last_occasion.as_deref() else { return Ok(true) };
    let last: NaiveDate = last
        .parse()
        .map_err(|e| Error::Internal(anyhow::anyhow!("automation {}: last run {last:?}: {e}", automation.id)))?;
    Ok(today == last || today >= last + Duration::days(i64::from(automation.days)))
}

/// The members one run of the automation reaches at `at`: those its trigger picks, in its segment if it has one,
/// less those any of its runs assigned within its cooldown. Ordered by id.
pub(crate) async fn audience(ctx: &AppContext, automation_id: i64, at: DateTime<Utc>) -> Result<Condition> {
    let automation = marketing_automations::Entity::find_by_id(automation_id)
        .one(&ctx.db)
        .await?
        .ok_or(Error::NotFound("automation"))?;
    let merchant_id = automation.merchant_id;
    let trigger = AutomationTrigger::stored(&automation.trigger)?;
    let backend = ctx.db.get_database_backend();
    let days = u32::try_from(automation.days).unwrap_or(0);
    let today = super::segments::merchant_today(ctx, merchant_id, at).await?;
    let rule = |criterion: Criterion| {
        SegmentRule { combine: Combine::All, criteria: vec![criterion], groups: Vec::new() }.condition(
            backend,
            merchant_id,
            at,
            today,
        )
    };
    let ahead = at + Duration::days(i64::from(days));
    let mut condition =
        Condition::all().add(members::Column::MerchantId.eq(merchant_id)).add(members::Column::AnonymisedAt.is_null());
    condition = match trigger {
        AutomationTrigger::Welcome => {
            condition.add(members::Column::CreatedAt.gte(at - Duration::days(i64::from(days))))
        }
        AutomationTrigger::Birthday => condition.add(rule(Criterion::Birthday { within_days: days })),
        AutomationTrigger::WinBack => {
            condition.add(rule(Criterion::LastVisit { min_days: Some(days), max_days: None }))
        }
        AutomationTrigger::Rebook => {
            let percent = u32::try_from(automation.threshold.unwrap_or(150)).unwrap_or(150);
            condition.add(rule(Criterion::Overdue { percent }))
        }
        AutomationTrigger::CountCardExpiring => {
            condition.add(rule(Criterion::CountCard { max_sessions: None, expires_within_days: Some(days) }))
        }
        AutomationTrigger::StoredValueExpiring => {
            let expiring = Query::select()
                .column(stored_value_cards::Column::MemberId)
                .from(stored_value_cards::Entity)
                .and_where(Expr::col(stored_value_cards::Column::MerchantId).eq(merchant_id))
                .and_where(Expr::col(stored_value_cards::Column::Status).eq("active"))
                .and_where(Expr::col(stored_value_cards::Column::ExpiresAt).gt(at))
                .and_where(Expr::col(stored_value_cards::Column::ExpiresAt).lte(ahead))
                .to_owned();
            condition
                .add(members::Column::Id.in_subquery(expiring))
                .add(rule(Criterion::StoredValue { min_fen: Some(Fen::new(1)), max_fen: None }))
        }
        AutomationTrigger::LowBalance => {
            let most = Fen::new(automation.threshold.unwrap_or(10_000));
            condition.add(rule(Criterion::StoredValue { min_fen: Some(Fen::new(1)), max_fen: Some(most) }))
        }
        AutomationTrigger::CouponExpiring => {
            let expiring = Query::select()
                .column(member_coupons::Column::MemberId)
                .from(member_coupons::Entity)
                .and_where(Expr::col(member_coupons::Column::MerchantId).eq(merchant_id))
                .and_where(Expr::col(member_coupons::Column::Status).eq(CouponStatus::Usable.as_str()))
                .and_where(Expr::col(member_coupons::Column::ValidUntil).gt(at))
                .and_where(Expr::col(member_coupons::Column::ValidUntil).lte(ahead))
                .to_owned();
            condition.add(members::Column::Id.in_subquery(expiring))
        }
        AutomationTrigger::Recurring => condition,
    };
    if let Some(segment_id) = automation.segment_id {
        condition = condition.add(super::segments::members_at(ctx, merchant_id, segment_id, at).await?);
    }
    if automation.cooldown_days > 0 {
        let reached = Query::select()
            .column((campaign_members::Entity, campaign_members::Column::MemberId))
            .from(campaign_members::Entity)
            .inner_join(
                campaigns::Entity,
                Expr::col((campaigns::Entity, campaigns::Column::Id))
                    .equals((campaign_members::Entity, campaign_members::Column::CampaignId)),
            )
            .and_where(Expr::col((campaigns::Entity, campaigns::Column::AutomationId)).eq(automation.id))
            .and_where(
                Expr::col((campaign_members::Entity, campaign_members::Column::AssignedAt))
                    .gte(at - Duration::days(i64::from(automation.cooldown_days))),
            )
            .to_owned();
        condition = condition.add(members::Column::Id.not_in_subquery(reached));
    }
    Ok(condition)
}

/// Whether an active or paused automation of the merchant uses the segment or the coupon template.
pub(crate) async fn in_use(
    conn: &impl ConnectionTrait,
    merchant_id: i64,
    segment_id: Option<i64>,
    template_id: Option<i64>,
) -> Result<bool> {
    let mut query =
        marketing_automations::Entity::find().filter(marketing_automations::Column::MerchantId.eq(merchant_id)).filter(
            marketing_automations::Column::Status
                .is_in([AutomationStatus::Active.as_str(), AutomationStatus::Paused.as_str()]),
        );
    if let Some(segment_id) = segment_id {
        query = query.filter(marketing_automations::Column::SegmentId.eq(segment_id));
    }
    if let Some(template_id) = template_id {
        query = query.filter(marketing_automations::Column::CouponTemplateId.eq(template_id));
    }
    Ok(sea_orm::PaginatorTrait::count(query, conn).await? > 0)
}
