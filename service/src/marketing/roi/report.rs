//! A campaign's report: everyone as assigned (intention to treat), each group's visits, recognised revenue and
//! recharges over the horizon fixed before it ran, the lift of the treatment group over the random control group
//! with its interval, what the campaign cost, and the net return.
//!
//! Money comes from the ledger, the books' own record: recognised revenue is what the member's sales credited to
//! revenue (services and products, count-card sessions at their deferred value, stored value spent) less what
//! refunds and reversals in the window took back; recharges are what recharges credited to the member's stored
//! value, less recharges refunded. Recharge cash is a liability, never revenue. A visit is a settled bill.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, JoinType, Query, SelectStatement};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use entity::{journal_entries, journal_lines, ledger_accounts, sms_accounts, stores};

use super::results::{self, GroupTotals, Measured, Results, fen_f64};
use super::stats::{self, Interval, Verdict};
use crate::domain::{Fen, Permission};
use crate::foundation::principal::StaffPrincipal;
use crate::ledger::AccountKind;
use crate::marketing::campaigns;
use crate::{AppContext, Result};

/// One group's figures over the horizon.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupFigures {
    pub members: u64,
    /// Members with at least one settled bill.
    pub visitors: u64,
    /// The visit rate with its Wilson interval; none for an empty group.
    pub visit_rate: Option<Interval>,
    pub bills: u64,
    /// Recognised revenue, in fen: the total and per member.
    pub revenue_fen: i64,
    pub revenue_per_member_fen: Option<Fen>,
    /// Revenue per bill.
    pub average_bill_fen: Option<Fen>,
    /// Stored value recharged (principal paid in), in fen: the total and per member.
    pub recharge_fen: i64,
    pub recharge_per_member_fen: Option<Fen>,
    /// Bonus stored value the recharges granted.
    pub bonus_fen: i64,
}

/// A sum of money with its 95% interval, in whole fen: the statistics work in real numbers, the report states
/// money as money.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FenInterval {
    pub estimate: Fen,
    pub low: Fen,
    pub high: Fen,
}

impl From<Interval> for FenInterval {
    fn from(i: Interval) -> Self {
        FenInterval { estimate: whole_fen(i.estimate), low: whole_fen(i.low), high: whole_fen(i.high) }
    }
}

/// What the campaign cost, in fen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cost {
    /// Discounts its coupons gave on settled bills (every redeemer, including those who would have come anyway).
    pub coupon_fen: i64,
    /// Bonus stored value granted beyond what the control group's rate would have granted the treatment group.
    pub bonus_fen: i64,
    /// SMS sent (or delivered), and what they cost at the merchant's price per message.
    pub sms: u64,
    pub sms_fen: i64,
    pub total_fen: i64,
}

/// What the report concludes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportVerdict {
    /// The campaign's net return is above zero for the whole interval.
    Positive,
    /// Below zero for the whole interval.
    Negative,
    /// The interval spans zero: the data cannot tell.
    Inconclusive,
    /// A group has fewer than two members, or the campaign has not run.
    NotEnoughData,
}

impl From<Verdict> for ReportVerdict {
    fn from(verdict: Verdict) -> Self {
        match verdict {
            Verdict::Positive => ReportVerdict::Positive,
            Verdict::Negative => ReportVerdict::Negative,
            Verdict::Inconclusive => ReportVerdict::Inconclusive,
        }
    }
}

impl ReportVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            ReportVerdict::Positive => "positive",
            ReportVerdict::Negative => "negative",
            ReportVerdict::Inconclusive => "inconclusive",
            ReportVerdict::NotEnoughData => "not_enough_data",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct CampaignReport {
    pub campaign_id: i64,
    pub horizon_days: i32,
    /// The window measured: from when the audience was fixed, for the horizon; none before the campaign ran.
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// The horizon has not ended: the figures may still move.
    pub provisional: bool,
    pub treatment: GroupFigures,
    pub control: GroupFigures,
    /// Treatment − control: the visit rate (Newcombe's interval), revenue and recharges per member (Welch's).
    pub visit_rate_lift: Option<Interval>,
    pub revenue_lift_fen: Option<FenInterval>,
    pub recharge_lift_fen: Option<FenInterval>,
    pub cost: Cost,
    /// Revenue lift per member × treatment members − cost, and that over the cost.
    pub net_fen: Option<FenInterval>,
    pub roi: Option<Interval>,
    pub verdict: ReportVerdict,
    /// The smallest difference in visit rate these group sizes detect (80% power, 5% two-sided), at the rate both
    /// groups show together; none while nobody (or everybody) came.
    pub detectable_visit_rate: Option<f64>,
    /// Cumulative revenue per member of each group at the end of each day of the window so far.
    pub daily: Vec<DailyPoint>,
    /// What others report instead: recipients who came within a few days of their message, with no control
    /// group (it counts money that would have come anyway). Shown beside, labelled as such.
    pub attribution: Attribution,
    /// The same comparison within each home store (a chain's stores; members without one together).
    pub stores: Vec<StoreFigures>,
}

/// One store's members (by home store): both groups and the lift.
#[derive(Clone, Debug, PartialEq)]
pub struct StoreFigures {
    pub store_id: Option<i64>,
    pub store_name: Option<String>,
    pub treatment: GroupFigures,
    pub control: GroupFigures,
    pub visit_rate_lift: Option<Interval>,
    pub revenue_lift_fen: Option<FenInterval>,
}

/// Attribution as vendors report it: members of the treatment group sent a message (SMS or in-app) who had a
/// settled visit with revenue within `days` days of their first message, and that revenue (within the window
/// measured).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attribution {
    pub days: i64,
    pub recipients: u64,
    pub visitors: u64,
    pub revenue_fen: i64,
}

/// The attribution window vendors most often use for a message (72 hours).
pub const ATTRIBUTION_DAYS: i64 = 3;

/// Revenue per member so far, by group, at the end of day `day` (1 is the first 24 hours after the run).
#[derive(Clone, Debug, PartialEq)]
pub struct DailyPoint {
    pub day: i64,
    pub treatment_fen: Fen,
    pub control_fen: Fen,
}

/// The campaign's report (staff who manage marketing, merchant-wide), from its kept results.
pub async fn campaign(ctx: &AppContext, principal: &StaffPrincipal, campaign_id: i64) -> Result<CampaignReport> {
    principal.require_merchant_wide(Permission::CouponManage)?;
    let row = campaigns::row(ctx, principal.merchant_id, campaign_id).await?;
    let Some(measured) = Measured::of(row.clone())? else {
        return Ok(empty(campaign_id, row.horizon_days));
    };
    let now = ctx.now();
    // What has happened so far of the horizon.
    let results = results::read(ctx, &measured, std::cmp::min(measured.until, now)).await?;
    of_results(ctx, &measured, &results, now).await
}

/// The campaign's report computed from nothing, from every bill and ledger line of its horizon: what its kept
/// results replace, for the tests and the bench to compare (no staff member asks for it: no permission checked).
pub async fn campaign_recomputed(ctx: &AppContext, merchant_id: i64, campaign_id: i64) -> Result<CampaignReport> {
    let row = campaigns::row(ctx, merchant_id, campaign_id).await?;
    let now = ctx.now();
    let (Some(measured), Some(results)) =
        (Measured::of(row.clone())?, results::recompute(ctx, row.clone(), now).await?)
    else {
        return Ok(empty(campaign_id, row.horizon_days));
    };
    of_results(ctx, &measured, &results, now).await
}

/// A campaign's verdict for the list of campaigns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedVerdict {
    pub campaign_id: i64,
    pub verdict: ReportVerdict,
    /// The horizon has not ended.
    pub provisional: bool,
}

/// Every measured campaign's verdict, as its report gives it: from its kept results and the minutes since, a few
/// rows a campaign however large.
pub async fn verdicts(ctx: &AppContext, principal: &StaffPrincipal) -> Result<Vec<ListedVerdict>> {
    principal.require_merchant_wide(Permission::CouponManage)?;
    let kept = entity::campaigns::Entity::find()
        .filter(entity::campaigns::Column::MerchantId.eq(principal.merchant_id))
        .filter(entity::campaigns::Column::AssignedAt.is_not_null())
        .all(&ctx.db)
        .await?;
    let now = ctx.now();
    let mut verdicts = Vec::new();
    for row in kept {
        let Some(measured) = Measured::of(row)? else { continue };
        let results = results::read(ctx, &measured, std::cmp::min(measured.until, now)).await?;
        let report = of_results(ctx, &measured, &results, now).await?;
        verdicts.push(ListedVerdict {
            campaign_id: report.campaign_id,
            verdict: report.verdict,
            provisional: report.provisional,
        });
    }
    Ok(verdicts)
}

async fn of_results(
    ctx: &AppContext,
    measured: &Measured,
    results: &Results,
    now: DateTime<Utc>,
) -> Result<CampaignReport> {
    let (from, until) = (measured.from, measured.until);
    let (treatment, control) = (results.group(false), results.group(true));
    let (t, c) = (figures(&treatment), figures(&control));
    let visit_rate_lift = stats::newcombe(t.visitors, t.members, c.visitors, c.members);
    let revenue_lift_fen = stats::welch(&treatment.revenue, &control.revenue).map(|(i, _)| i);
    let recharge_lift_fen = stats::welch(&treatment.recharge, &control.recharge).map(|(i, _)| i);
    let cost = cost(ctx, &measured.campaign, results, &t, &c).await?;
    let back = revenue_lift_fen.map(|lift| stats::net_return(lift, t.members, fen_f64(cost.total_fen)));
    let verdict = back.map_or(ReportVerdict::NotEnoughData, |back| stats::verdict(&back.net).into());
    // The rate both groups show together: the control group's alone is often zero in a small campaign.
    let base_rate = (t.members + c.members > 0)
        .then(|| stats::real(t.visitors + c.visitors) / stats::real(t.members + c.members))
        .filter(|rate| *rate > 0.0 && *rate < 1.0);
    let attributed = {
        let mut all = treatment.clone();
        all.merge(&control);
        all
    };
    Ok(CampaignReport {
        campaign_id: measured.campaign.id,
        horizon_days: measured.campaign.horizon_days,
        from: Some(from),
        until: Some(until),
        provisional: now < until,
        detectable_visit_rate: base_rate.and_then(|rate| stats::detectable_rate_difference(rate, t.members, c.members)),
        daily: daily(results, from, std::cmp::min(until, now), t.members, c.members),
        attribution: Attribution {
            days: ATTRIBUTION_DAYS,
            recipients: attributed.recipients,
            visitors: attributed.attributed_visitors,
            revenue_fen: attributed.attributed_fen,
        },
        stores: by_store(ctx, measured.campaign.merchant_id, results).await?,
        treatment: t,
        control: c,
        visit_rate_lift,
        revenue_lift_fen: revenue_lift_fen.map(Into::into),
        recharge_lift_fen: recharge_lift_fen.map(Into::into),
        cost,
        net_fen: back.map(|b| b.net.into()),
        roi: back.and_then(|b| b.roi),
        verdict,
    })
}

fn empty(campaign_id: i64, horizon_days: i32) -> CampaignReport {
    let none = figures(&GroupTotals::default());
    CampaignReport {
        campaign_id,
        horizon_days,
        from: None,
        until: None,
        provisional: true,
        treatment: none.clone(),
        control: none,
        visit_rate_lift: None,
        revenue_lift_fen: None,
        recharge_lift_fen: None,
        cost: Cost { coupon_fen: 0, bonus_fen: 0, sms: 0, sms_fen: 0, total_fen: 0 },
        net_fen: None,
        roi: None,
        verdict: ReportVerdict::NotEnoughData,
        detectable_visit_rate: None,
        daily: Vec::new(),
        attribution: Attribution { days: ATTRIBUTION_DAYS, recipients: 0, visitors: 0, revenue_fen: 0 },
        stores: Vec::new(),
    }
}

/// A real amount of fen rounded to whole fen.
#[expect(clippy::as_conversions, reason = "f64 to i64 saturates; the amounts are sums of fen, far inside i64")]
fn whole_fen(fen: f64) -> Fen {
    Fen::new(fen.round() as i64)
}

/// A group's figures from its totals.
fn figures(totals: &GroupTotals) -> GroupFigures {
    let members = totals.members;
    let per_member = |fen: i64| (members > 0).then(|| whole_fen(fen_f64(fen) / stats::real(members)));
    GroupFigures {
        members,
        visitors: totals.visitors,
        visit_rate: stats::wilson(totals.visitors, members),
        bills: u64::try_from(totals.bills).unwrap_or(0),
        revenue_fen: totals.revenue_fen,
        revenue_per_member_fen: per_member(totals.revenue_fen),
        average_bill_fen: (totals.bills > 0).then(|| whole_fen(fen_f64(totals.revenue_fen) / fen_f64(totals.bills))),
        recharge_fen: totals.recharge_fen,
        recharge_per_member_fen: per_member(totals.recharge_fen),
        bonus_fen: totals.bonus_fen,
    }
}

/// Cumulative revenue per member of each group at the end of each whole or begun day from `from` to `until`.
fn daily(results: &Results, from: DateTime<Utc>, until: DateTime<Utc>, treated: u64, control: u64) -> Vec<DailyPoint> {
    const DAY_MS: i64 = 86_400_000;
    let days = (std::cmp::max((until - from).num_milliseconds(), 0) + DAY_MS - 1) / DAY_MS;
    let per_member = |fen: i64, n: u64| if n == 0 { Fen::ZERO } else { whole_fen(fen_f64(fen) / stats::real(n)) };
    let (mut t, mut c) = (0, 0);
    (1..=days)
        .map(|day| {
            let day_of = |in_control| {
                i32::try_from(day).ok().and_then(|d| results.days.get(&(d, in_control))).copied().unwrap_or(0)
            };
            t += day_of(false);
            c += day_of(true);
            DailyPoint { day, treatment_fen: per_member(t, treated), control_fen: per_member(c, control) }
        })
        .collect()
}

/// The comparison within each home store, named.
async fn by_store(ctx: &AppContext, merchant_id: i64, results: &Results) -> Result<Vec<StoreFigures>> {
    let names: HashMap<i64, String> = stores::Entity::find()
        .filter(stores::Column::MerchantId.eq(merchant_id))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|s| (s.id, s.name))
        .collect();
    let mut by_store: BTreeMap<Option<i64>, (GroupTotals, GroupTotals)> = BTreeMap::new();
    for ((in_control, store), totals) in &results.groups {
        let (treatment, control) = by_store.entry(*store).or_default();
        if *in_control { control.merge(totals) } else { treatment.merge(totals) }
    }
    Ok(by_store
        .into_iter()
        .map(|(store_id, (treatment, control))| {
            let (t, c) = (figures(&treatment), figures(&control));
            StoreFigures {
                store_id,
                store_name: store_id.and_then(|id| names.get(&id).cloned()),
                visit_rate_lift: stats::newcombe(t.visitors, t.members, c.visitors, c.members),
                revenue_lift_fen: stats::welch(&treatment.revenue, &control.revenue).map(|(i, _)| i.into()),
                treatment: t,
                control: c,
            }
        })
        .collect())
}

/// The aliases the ledger queries use: journal lines, their entries, their accounts.
fn ledger_aliases() -> (Alias, Alias, Alias) {
    (Alias::new("l"), Alias::new("e"), Alias::new("a"))
}

/// The audience's journal lines in entries of `entry_kinds` posted in the window, on accounts of `account_kinds`,
/// with their entries and accounts joined: what the queries below select from and group.
fn audience_lines(
    merchant_id: i64,
    audience: SelectStatement,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    entry_kinds: &[&'static str],
    account_kinds: &[AccountKind],
) -> SelectStatement {
    let (lines, entries, accounts) = ledger_aliases();
    Query::select()
        .from_as(journal_lines::Entity, lines.clone())
        .join_as(
            JoinType::InnerJoin,
            journal_entries::Entity,
            entries.clone(),
            Expr::col((entries.clone(), journal_entries::Column::Id))
                .equals((lines.clone(), journal_lines::Column::EntryId)),
        )
        .join_as(
            JoinType::InnerJoin,
            ledger_accounts::Entity,
            accounts.clone(),
            Expr::col((accounts.clone(), ledger_accounts::Column::Id))
                .equals((lines, journal_lines::Column::AccountId)),
        )
        .and_where(Expr::col((entries.clone(), journal_entries::Column::MerchantId)).eq(merchant_id))
        .and_where(Expr::col((entries.clone(), journal_entries::Column::MemberId)).in_subquery(audience))
        .and_where(Expr::col((entries.clone(), journal_entries::Column::CreatedAt)).gte(from))
        .and_where(Expr::col((entries.clone(), journal_entries::Column::CreatedAt)).lt(until))
        .and_where(Expr::col((entries, journal_entries::Column::Kind)).is_in(entry_kinds.iter().copied()))
        .and_where(Expr::col((accounts, ledger_accounts::Column::Kind)).is_in(account_kinds.iter().map(|k| k.as_str())))
        .to_owned()
}

/// Each of the audience's entries in the window that moved revenue: its member, moment and the sum of its revenue
/// lines (negative: credits).
pub(super) fn revenue_entries_of(
    merchant_id: i64,
    audience: SelectStatement,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> SelectStatement {
    let (lines, entries, _) = ledger_aliases();
    let kinds = ["sale", "refund", "reversal"];
    audience_lines(merchant_id, audience, from, until, &kinds, &[AccountKind::Revenue])
        .expr_as(Expr::col((entries.clone(), journal_entries::Column::MemberId)), Alias::new("member_id"))
        .expr_as(Expr::col((entries.clone(), journal_entries::Column::CreatedAt)), Alias::new("at"))
        .expr_as(
            Expr::expr(Func::sum(Expr::col((lines, journal_lines::Column::Amount)))).cast_as(Alias::new("BIGINT")),
            Alias::new("amount"),
        )
        .add_group_by([
            Expr::col((entries.clone(), journal_entries::Column::Id)),
            Expr::col((entries.clone(), journal_entries::Column::MemberId)),
            Expr::col((entries, journal_entries::Column::CreatedAt)),
        ])
        .to_owned()
}

/// The sums of the audience's ledger lines on revenue and stored-value accounts, by member, account kind, entry kind
/// and side (debit or credit), for entries in the window.
pub(super) fn ledger_moves(
    merchant_id: i64,
    audience: SelectStatement,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> SelectStatement {
    let (lines, entries, accounts) = ledger_aliases();
    let amount = Expr::col((lines, journal_lines::Column::Amount));
    let side = Expr::case(amount.clone().lt(0), -1).finally(1);
    let kinds = ["sale", "refund", "reversal", "recharge"];
    let accounts_moved = [AccountKind::Revenue, AccountKind::SvPrincipal, AccountKind::SvBonus];
    audience_lines(merchant_id, audience, from, until, &kinds, &accounts_moved)
        .expr_as(Expr::col((entries.clone(), journal_entries::Column::MemberId)), Alias::new("member_id"))
        .expr_as(Expr::col((accounts.clone(), ledger_accounts::Column::Kind)), Alias::new("account"))
        .expr_as(Expr::col((entries.clone(), journal_entries::Column::Kind)), Alias::new("entry"))
        .expr_as(Expr::expr(Func::sum(amount)).cast_as(Alias::new("BIGINT")), Alias::new("amount"))
        .add_group_by([
            Expr::col((entries.clone(), journal_entries::Column::MemberId)),
            Expr::col((accounts, ledger_accounts::Column::Kind)),
            Expr::col((entries, journal_entries::Column::Kind)),
            side.into(),
        ])
        .to_owned()
}

/// What the campaign cost so far: its coupons' discounts on settled bills, the bonus its treatment group was
/// granted beyond the control group's rate, and its SMS at the merchant's price.
async fn cost(
    ctx: &AppContext,
    campaign: &entity::campaigns::Model,
    results: &Results,
    treatment: &GroupFigures,
    control: &GroupFigures,
) -> Result<Cost> {
    let price = sms_accounts::Entity::find()
        .filter(sms_accounts::Column::MerchantId.eq(campaign.merchant_id))
        .one(&ctx.db)
        .await?
        .map_or(0, |a| a.price_fen);
    let sms = u64::try_from(results.sms).unwrap_or(0);
    let sms_fen = price.saturating_mul(results.sms);
    // Bonus the treatment group got beyond what it would have at the control group's rate per member.
    let expected = match (control.members, treatment.members) {
        (0, _) | (_, 0) => 0.0,
        (c, t) => fen_f64(control.bonus_fen) / stats::real(c) * stats::real(t),
    };
    let bonus_fen = whole_fen((fen_f64(treatment.bonus_fen) - expected).max(0.0)).get();
    let coupon_fen = results.coupon_off_fen;
    Ok(Cost { coupon_fen, bonus_fen, sms, sms_fen, total_fen: coupon_fen + bonus_fen + sms_fen })
}
