//! A campaign's report: everyone as assigned (intention to treat), each group's visits, recognised revenue and
//! recharges over the horizon fixed before it ran, the lift of the treatment group over the random control group
//! with its interval, what the campaign cost, and the net return.
//!
//! Money comes from the ledger, the books' own record: recognised revenue is what the member's sales credited to
//! revenue (services and products, count-card sessions at their deferred value, stored value spent) less what
//! refunds and reversals in the window took back; recharges are what recharges credited to the member's stored
//! value, less recharges refunded. Recharge cash is a liability, never revenue. A visit is a settled bill.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, JoinType, Query, SelectStatement};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect};

use entity::{
    bill_coupons, bills, campaign_members, journal_entries, journal_lines, ledger_accounts, marketing_sends,
    member_coupons, members, sms_accounts, stores,
};

use super::stats::{self, Interval, Moments, Verdict};
use crate::domain::{BillStatus, CampaignStatus, Fen, Permission, SendChannel, SendStatus};
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

/// The campaign's report (staff who manage marketing, merchant-wide).
pub async fn campaign(ctx: &AppContext, principal: &StaffPrincipal, campaign_id: i64) -> Result<CampaignReport> {
    principal.require_merchant_wide(Permission::CouponManage)?;
    let row = campaigns::row(ctx, principal.merchant_id, campaign_id).await?;
    let horizon = Duration::days(i64::from(row.horizon_days));
    let ran = !matches!(
        CampaignStatus::stored(&row.status)?,
        CampaignStatus::Scheduled | CampaignStatus::Cancelled | CampaignStatus::Failed
    );
    let Some(from) = row.started_at.filter(|_| ran) else {
        return Ok(empty(campaign_id, row.horizon_days));
    };
    let until = from + horizon;
    let now = ctx.now();
    // What has happened so far of the horizon.
    let measured = std::cmp::min(until, now);
    let outcomes = Outcomes::read(ctx, row.merchant_id, row.id, from, measured).await?;
    let (treatment, control) = (outcomes.group(false), outcomes.group(true));
    let (t, c) = (treatment.figures(), control.figures());
    let visit_rate_lift = stats::newcombe(t.visitors, t.members, c.visitors, c.members);
    let revenue_lift_fen = stats::welch(&treatment.revenue, &control.revenue).map(|(i, _)| i);
    let recharge_lift_fen = stats::welch(&treatment.recharge, &control.recharge).map(|(i, _)| i);
    let cost = cost(ctx, &row, &t, &c, from, measured).await?;
    let back = revenue_lift_fen.map(|lift| stats::net_return(lift, t.members, fen_f64(cost.total_fen)));
    let verdict = back.map_or(ReportVerdict::NotEnoughData, |back| stats::verdict(&back.net).into());
    // The rate both groups show together: the control group's alone is often zero in a small campaign.
    let base_rate = (t.members + c.members > 0)
        .then(|| stats::real(t.visitors + c.visitors) / stats::real(t.members + c.members))
        .filter(|rate| *rate > 0.0 && *rate < 1.0);
    Ok(CampaignReport {
        campaign_id,
        horizon_days: row.horizon_days,
        from: Some(from),
        until: Some(until),
        provisional: now < until,
        detectable_visit_rate: base_rate.and_then(|rate| stats::detectable_rate_difference(rate, t.members, c.members)),
        daily: outcomes.daily(from, measured, t.members, c.members),
        attribution: attribution(ctx, row.id, &outcomes).await?,
        stores: by_store(ctx, row.merchant_id, &outcomes).await?,
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
    let none = GroupTotals::default().figures();
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

/// Fen as a real number for the statistics (exact below 2⁵³ fen, ninety trillion yuan).
#[expect(clippy::as_conversions, reason = "i64 has no lossless conversion to f64; sums of fen stay far below 2^53")]
fn fen_f64(fen: i64) -> f64 {
    fen as f64
}

/// A real amount of fen rounded to whole fen.
#[expect(clippy::as_conversions, reason = "f64 to i64 saturates; the amounts are sums of fen, far inside i64")]
fn whole_fen(fen: f64) -> Fen {
    Fen::new(fen.round() as i64)
}

/// One member's outcome over the window.
#[derive(Clone, Copy, Debug, Default)]
struct MemberOutcome {
    in_control: bool,
    /// The member's home store, for the report per store.
    store_id: Option<i64>,
    bills: i64,
    revenue: i64,
    recharge: i64,
    bonus: i64,
}

/// A group's members' outcomes summed, with the moments the intervals need.
#[derive(Clone, Debug, Default)]
struct GroupTotals {
    members: u64,
    visitors: u64,
    bills: i64,
    revenue_fen: i64,
    recharge_fen: i64,
    bonus_fen: i64,
    revenue: Moments,
    recharge: Moments,
}

impl GroupTotals {
    fn add(&mut self, member: &MemberOutcome) {
        self.members += 1;
        self.visitors += u64::from(member.bills > 0);
        self.bills += member.bills;
        self.revenue_fen += member.revenue;
        self.recharge_fen += member.recharge;
        self.bonus_fen += member.bonus;
        self.revenue.push(fen_f64(member.revenue));
        self.recharge.push(fen_f64(member.recharge));
    }

    fn figures(&self) -> GroupFigures {
        let per_member = |fen: i64| (self.members > 0).then(|| whole_fen(fen_f64(fen) / stats::real(self.members)));
        GroupFigures {
            members: self.members,
            visitors: self.visitors,
            visit_rate: stats::wilson(self.visitors, self.members),
            bills: u64::try_from(self.bills).unwrap_or(0),
            revenue_fen: self.revenue_fen,
            revenue_per_member_fen: per_member(self.revenue_fen),
            average_bill_fen: (self.bills > 0).then(|| whole_fen(fen_f64(self.revenue_fen) / fen_f64(self.bills))),
            recharge_fen: self.recharge_fen,
            recharge_per_member_fen: per_member(self.recharge_fen),
            bonus_fen: self.bonus_fen,
        }
    }
}

/// Every assigned member's outcome over a window, and each revenue entry's moment and amount.
struct Outcomes {
    members: HashMap<i64, MemberOutcome>,
    revenue_entries: Vec<(i64, DateTime<Utc>, i64)>,
}

impl Outcomes {
    async fn read(
        ctx: &AppContext,
        merchant_id: i64,
        campaign_id: i64,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Outcomes> {
        let assigned: Vec<(i64, bool, Option<i64>)> = campaign_members::Entity::find()
            .select_only()
            .column(campaign_members::Column::MemberId)
            .column(campaign_members::Column::InControl)
            .column_as(Expr::col((members::Entity, members::Column::HomeStoreId)), "home_store_id")
            .join(
                sea_orm::JoinType::InnerJoin,
                campaign_members::Entity::belongs_to(members::Entity)
                    .from(campaign_members::Column::MemberId)
                    .to(members::Column::Id)
                    .into(),
            )
            .filter(campaign_members::Column::CampaignId.eq(campaign_id))
            .into_tuple()
            .all(&ctx.db)
            .await?;
        let mut members: HashMap<i64, MemberOutcome> = assigned
            .into_iter()
            .map(|(id, in_control, store_id)| (id, MemberOutcome { in_control, store_id, ..MemberOutcome::default() }))
            .collect();
        let audience = audience_of(campaign_id);

        // Visits: settled bills in the window.
        let visits = Query::select()
            .column(bills::Column::MemberId)
            .expr_as(Func::count(Expr::col(bills::Column::Id)), Alias::new("n"))
            .from(bills::Entity)
            .and_where(Expr::col(bills::Column::MerchantId).eq(merchant_id))
            .and_where(Expr::col(bills::Column::Status).eq(BillStatus::Settled.as_str()))
            .and_where(Expr::col(bills::Column::SettledAt).gte(from))
            .and_where(Expr::col(bills::Column::SettledAt).lt(until))
            .and_where(Expr::col(bills::Column::MemberId).in_subquery(audience.clone()))
            .group_by_col(bills::Column::MemberId)
            .to_owned();
        for row in ctx.db.query_all(&visits).await? {
            let (member, n): (i64, i64) = (row.try_get("", "member_id")?, row.try_get("", "n")?);
            if let Some(outcome) = members.get_mut(&member) {
                outcome.bills = n;
            }
        }

        // Money: the member's ledger lines on revenue and stored value, by entry kind and side.
        for row in ctx.db.query_all(&ledger_moves(merchant_id, audience, from, until)).await? {
            let member: i64 = row.try_get("", "member_id")?;
            let (account, entry): (String, String) = (row.try_get("", "account")?, row.try_get("", "entry")?);
            let amount: i64 = row.try_get("", "amount")?;
            let Some(outcome) = members.get_mut(&member) else { continue };
            // Credits are negative. Revenue: sales credit it, refunds and reversals debit it back.
            // Stored value: recharges (at the desk, by wallet or on a bill) credit it; refunds of a recharge debit
            // it. Spending (a debit in a sale) and giving spent value back (a credit in a refund) are not recharges.
            let taking_back = matches!(entry.as_str(), "refund" | "reversal");
            let recharging = matches!(entry.as_str(), "recharge" | "sale");
            let counts = (recharging && amount < 0) || (taking_back && amount > 0);
            match account.as_str() {
                "revenue" => outcome.revenue -= amount,
                "sv_principal" if counts => outcome.recharge -= amount,
                "sv_bonus" if counts => outcome.bonus -= amount,
                _ => {}
            }
        }
        // Revenue entry by entry, for the day-by-day chart.
        let mut revenue_entries = Vec::new();
        for row in ctx.db.query_all(&revenue_entries_of(merchant_id, audience_of(campaign_id), from, until)).await? {
            let member: i64 = row.try_get("", "member_id")?;
            let at: DateTime<Utc> = row.try_get("", "at")?;
            let amount: i64 = row.try_get("", "amount")?;
            revenue_entries.push((member, at, -amount));
        }
        Ok(Outcomes { members, revenue_entries })
    }

    /// Cumulative revenue per member of each group at the end of each whole or begun day from `from` to `until`.
    fn daily(&self, from: DateTime<Utc>, until: DateTime<Utc>, treated: u64, control: u64) -> Vec<DailyPoint> {
        const DAY_MS: i64 = 86_400_000;
        let days = (std::cmp::max((until - from).num_milliseconds(), 0) + DAY_MS - 1) / DAY_MS;
        let mut by_day = vec![(0_i64, 0_i64); usize::try_from(days).unwrap_or(0)];
        for (member, at, amount) in &self.revenue_entries {
            let day = usize::try_from((*at - from).num_milliseconds() / DAY_MS).unwrap_or(0);
            let (Some(slot), Some(outcome)) = (by_day.get_mut(day), self.members.get(member)) else { continue };
            if outcome.in_control { slot.1 += amount } else { slot.0 += amount }
        }
        let per_member = |fen: i64, n: u64| if n == 0 { Fen::ZERO } else { whole_fen(fen_f64(fen) / stats::real(n)) };
        let (mut t, mut c) = (0, 0);
        (1..=days)
            .zip(by_day)
            .map(|(day, (t_day, c_day))| {
                t += t_day;
                c += c_day;
                DailyPoint { day, treatment_fen: per_member(t, treated), control_fen: per_member(c, control) }
            })
            .collect()
    }

    fn group(&self, control: bool) -> GroupTotals {
        let mut totals = GroupTotals::default();
        for member in self.members.values().filter(|m| m.in_control == control) {
            totals.add(member);
        }
        totals
    }

    /// Each home store's treatment and control groups (members without a home store under `None`), by store id.
    fn by_store(&self) -> Vec<(Option<i64>, GroupTotals, GroupTotals)> {
        let mut stores: std::collections::BTreeMap<Option<i64>, (GroupTotals, GroupTotals)> = Default::default();
        for member in self.members.values() {
            let (treatment, control) = stores.entry(member.store_id).or_default();
            if member.in_control { control.add(member) } else { treatment.add(member) }
        }
        stores.into_iter().map(|(store, (t, c))| (store, t, c)).collect()
    }
}

/// The comparison within each home store, named.
async fn by_store(ctx: &AppContext, merchant_id: i64, outcomes: &Outcomes) -> Result<Vec<StoreFigures>> {
    let names: HashMap<i64, String> = stores::Entity::find()
        .filter(stores::Column::MerchantId.eq(merchant_id))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|s| (s.id, s.name))
        .collect();
    Ok(outcomes
        .by_store()
        .into_iter()
        .map(|(store_id, treatment, control)| {
            let (t, c) = (treatment.figures(), control.figures());
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

/// Recipients of the campaign's messages and what they spent within a few days of their first one.
async fn attribution(ctx: &AppContext, campaign_id: i64, outcomes: &Outcomes) -> Result<Attribution> {
    let sent: Vec<(i64, Option<DateTime<Utc>>)> = marketing_sends::Entity::find()
        .select_only()
        .column(marketing_sends::Column::MemberId)
        .column(marketing_sends::Column::SentAt)
        .filter(marketing_sends::Column::CampaignId.eq(campaign_id))
        .filter(marketing_sends::Column::Status.is_in([SendStatus::Sent.as_str(), SendStatus::Delivered.as_str()]))
        .into_tuple()
        .all(&ctx.db)
        .await?;
    let mut first: HashMap<i64, DateTime<Utc>> = HashMap::new();
    for (member, at) in sent {
        let Some(at) = at else { continue };
        first.entry(member).and_modify(|t| *t = std::cmp::min(*t, at)).or_insert(at);
    }
    let mut within: HashMap<i64, i64> = HashMap::new();
    for (member, at, amount) in &outcomes.revenue_entries {
        let Some(sent_at) = first.get(member) else { continue };
        if *at >= *sent_at && *at < *sent_at + Duration::days(ATTRIBUTION_DAYS) {
            *within.entry(*member).or_default() += amount;
        }
    }
    Ok(Attribution {
        days: ATTRIBUTION_DAYS,
        recipients: u64::try_from(first.len()).unwrap_or(0),
        visitors: u64::try_from(within.values().filter(|fen| **fen > 0).count()).unwrap_or(0),
        revenue_fen: within.values().sum(),
    })
}

/// The campaign's assigned members.
fn audience_of(campaign_id: i64) -> SelectStatement {
    Query::select()
        .column(campaign_members::Column::MemberId)
        .from(campaign_members::Entity)
        .and_where(Expr::col(campaign_members::Column::CampaignId).eq(campaign_id))
        .to_owned()
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
fn revenue_entries_of(
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
fn ledger_moves(
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

/// What the campaign cost over the window: its coupons' discounts on settled bills, the bonus its treatment group
/// was granted beyond the control group's rate, and its SMS at the merchant's price.
async fn cost(
    ctx: &AppContext,
    campaign: &entity::campaigns::Model,
    treatment: &GroupFigures,
    control: &GroupFigures,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Cost> {
    let coupons = Query::select()
        .expr_as(
            Expr::expr(Func::sum(Expr::col((bill_coupons::Entity, bill_coupons::Column::OffFen)))).cast_as("BIGINT"),
            Alias::new("off"),
        )
        .from(bill_coupons::Entity)
        .inner_join(
            bills::Entity,
            Expr::col((bills::Entity, bills::Column::Id)).equals((bill_coupons::Entity, bill_coupons::Column::BillId)),
        )
        .inner_join(
            member_coupons::Entity,
            Expr::col((member_coupons::Entity, member_coupons::Column::Id))
                .equals((bill_coupons::Entity, bill_coupons::Column::CouponId)),
        )
        .and_where(Expr::col((member_coupons::Entity, member_coupons::Column::MerchantId)).eq(campaign.merchant_id))
        .and_where(
            Expr::col((member_coupons::Entity, member_coupons::Column::SourceKey))
                .eq(format!("campaign:{}", campaign.id)),
        )
        .and_where(Expr::col((bills::Entity, bills::Column::Status)).eq(BillStatus::Settled.as_str()))
        .and_where(Expr::col((bills::Entity, bills::Column::SettledAt)).gte(from))
        .and_where(Expr::col((bills::Entity, bills::Column::SettledAt)).lt(until))
        .to_owned();
    let coupon_fen: Option<i64> = match ctx.db.query_one(&coupons).await? {
        Some(row) => row.try_get("", "off")?,
        None => None,
    };
    let sms = marketing_sends::Entity::find()
        .filter(marketing_sends::Column::CampaignId.eq(campaign.id))
        .filter(marketing_sends::Column::Channel.eq(SendChannel::Sms.as_str()))
        .filter(marketing_sends::Column::Status.is_in([SendStatus::Sent.as_str(), SendStatus::Delivered.as_str()]))
        .count(&ctx.db)
        .await?;
    let price = sms_accounts::Entity::find()
        .filter(sms_accounts::Column::MerchantId.eq(campaign.merchant_id))
        .one(&ctx.db)
        .await?
        .map_or(0, |a| a.price_fen);
    let sms_fen = price.saturating_mul(i64::try_from(sms).unwrap_or(i64::MAX));
    // Bonus the treatment group got beyond what it would have at the control group's rate per member.
    let expected = match (control.members, treatment.members) {
        (0, _) | (_, 0) => 0.0,
        (c, t) => fen_f64(control.bonus_fen) / stats::real(c) * stats::real(t),
    };
    let bonus_fen = whole_fen((fen_f64(treatment.bonus_fen) - expected).max(0.0)).get();
    let coupon_fen = coupon_fen.unwrap_or(0);
    Ok(Cost { coupon_fen, bonus_fen, sms, sms_fen, total_fen: coupon_fen + bonus_fen + sms_fen })
}
