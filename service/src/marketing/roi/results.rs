//! A campaign's results kept as it goes, so its report reads a few rows however many members and bills it has.
//!
//! Each member of the audience carries their outcome so far (`campaign_members`: visits, recognised revenue,
//! recharges, bonus, their first message and the revenue attributed to it); each group within each home store
//! carries the sums and sums of squares the intervals need (`campaign_results`); each group carries its revenue by
//! day (`campaign_days`). `campaigns.results_until` says how far they are brought.
//!
//! The named job `campaigns.results` brings them forward a day of activity at a time, up to a few minutes ago: an
//! entry is stamped when it is written and committed a moment later, so the newest minutes may still be filling.
//! Each step moves the watermark by a guarded update first, so two runners never apply the same slice twice. The
//! report adds the slice since the watermark on read, without storing it ([`read`]).
//!
//! A slice counts what happened in it: bills settled (a visit, reversed or not) and bills of the horizon reversed
//! (a visit taken back), the ledger's entries (revenue, recharges, bonus), messages sent, coupon discounts. The same
//! step run over the whole horizon from nothing is the raw computation ([`recompute`]): the yardstick of the bench
//! and of the tests.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Duration, SubsecRound, Utc};
use sea_orm::sea_query::{
    Alias, Expr, ExprTrait, Func, JoinType, OnConflict, Query, SelectStatement, SimpleExpr, SubQueryStatement,
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QuerySelect,
    TransactionTrait,
};

use entity::{bill_coupons, bills, campaign_days, campaign_members, campaign_results, campaigns, journal_entries};
use entity::{marketing_sends, member_coupons, members};

use super::report::{ATTRIBUTION_DAYS, ledger_moves, revenue_entries_of};
use super::stats::Moments;
use crate::domain::{BillStatus, CampaignStatus, SendChannel};
use crate::{AppContext, Result};

/// How far behind now the kept results stop: an entry stamped before it has surely been committed.
pub const SETTLING: Duration = Duration::minutes(15);

/// The most one step applies: a day of activity, so a step's working set stays a day's members.
const STEP: Duration = Duration::days(1);

/// Members read or written per statement.
const PAGE: usize = 1_000;

/// One member's outcome so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct MemberOutcome {
    pub in_control: bool,
    pub store_id: Option<i64>,
    pub bills: i64,
    pub revenue: i64,
    pub recharge: i64,
    pub bonus: i64,
    pub first_sent_at: Option<DateTime<Utc>>,
    pub attributed: i64,
}

impl From<&campaign_members::Model> for MemberOutcome {
    fn from(row: &campaign_members::Model) -> Self {
        MemberOutcome {
            in_control: row.in_control,
            store_id: row.home_store_id,
            bills: row.bills,
            revenue: row.revenue_fen,
            recharge: row.recharge_fen,
            bonus: row.bonus_fen,
            first_sent_at: row.first_sent_at,
            attributed: row.attributed_fen,
        }
    }
}

/// A group's members' outcomes summed (within one home store, or all together), with the moments the intervals
/// need.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct GroupTotals {
    pub members: u64,
    pub visitors: u64,
    pub bills: i64,
    pub revenue_fen: i64,
    pub recharge_fen: i64,
    pub bonus_fen: i64,
    pub revenue: Moments,
    pub recharge: Moments,
    pub recipients: u64,
    pub attributed_visitors: u64,
    pub attributed_fen: i64,
}

impl GroupTotals {
    /// Counts one more member, with their outcome.
    pub fn add(&mut self, member: &MemberOutcome) {
        self.members += 1;
        self.revenue.n += 1;
        self.recharge.n += 1;
        self.change(&MemberOutcome::default(), member);
    }

    /// A member of the group whose outcome went from `old` to `new`.
    pub fn change(&mut self, old: &MemberOutcome, new: &MemberOutcome) {
        let flag = |yes: bool| i64::from(yes);
        let shift = |count: &mut u64, by: i64| *count = count.saturating_add_signed(by);
        shift(&mut self.visitors, flag(new.bills > 0) - flag(old.bills > 0));
        shift(&mut self.recipients, flag(new.first_sent_at.is_some()) - flag(old.first_sent_at.is_some()));
        shift(&mut self.attributed_visitors, flag(new.attributed > 0) - flag(old.attributed > 0));
        self.bills += new.bills - old.bills;
        self.revenue_fen += new.revenue - old.revenue;
        self.recharge_fen += new.recharge - old.recharge;
        self.bonus_fen += new.bonus - old.bonus;
        self.attributed_fen += new.attributed - old.attributed;
        for (moments, old, new) in
            [(&mut self.revenue, old.revenue, new.revenue), (&mut self.recharge, old.recharge, new.recharge)]
        {
            let (old, new) = (fen_f64(old), fen_f64(new));
            moments.sum += new - old;
            moments.sum_sq += new * new - old * old;
        }
    }

    /// Another store's totals of the same group added in.
    pub fn merge(&mut self, other: &GroupTotals) {
        self.members += other.members;
        self.visitors += other.visitors;
        self.bills += other.bills;
        self.revenue_fen += other.revenue_fen;
        self.recharge_fen += other.recharge_fen;
        self.bonus_fen += other.bonus_fen;
        self.revenue.merge(&other.revenue);
        self.recharge.merge(&other.recharge);
        self.recipients += other.recipients;
        self.attributed_visitors += other.attributed_visitors;
        self.attributed_fen += other.attributed_fen;
    }
}

/// Fen as a real number for the statistics (exact below 2⁵³ fen, ninety trillion yuan).
#[expect(clippy::as_conversions, reason = "i64 has no lossless conversion to f64; sums of fen stay far below 2^53")]
pub(super) fn fen_f64(fen: i64) -> f64 {
    fen as f64
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn signed(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A campaign's results up to a moment.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Results {
    /// Each group (in the control group or not) within each home store.
    pub groups: BTreeMap<(bool, Option<i64>), GroupTotals>,
    /// Each group's recognised revenue by day of the horizon (1 is the first 24 hours).
    pub days: BTreeMap<(i32, bool), i64>,
    pub sms: i64,
    pub coupon_off_fen: i64,
}

impl Results {
    /// One group's totals over every store.
    pub fn group(&self, in_control: bool) -> GroupTotals {
        let mut totals = GroupTotals::default();
        self.groups.iter().filter(|((control, _), _)| *control == in_control).for_each(|(_, t)| totals.merge(t));
        totals
    }
}

/// The campaign measured: its row, and the window its horizon spans.
pub(super) struct Measured {
    pub campaign: campaigns::Model,
    pub from: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

impl Measured {
    /// The campaign once it has run and its audience is fixed; none before.
    pub fn of(campaign: campaigns::Model) -> Result<Option<Measured>> {
        let ran = !matches!(
            CampaignStatus::stored(&campaign.status)?,
            CampaignStatus::Scheduled | CampaignStatus::Cancelled | CampaignStatus::Failed
        );
        let (Some(from), Some(_)) = (campaign.started_at.filter(|_| ran), campaign.assigned_at) else {
            return Ok(None);
        };
        let until = from + Duration::days(i64::from(campaign.horizon_days));
        Ok(Some(Measured { campaign, from, until }))
    }
}

/// Brings every campaign's kept results forward to a few minutes before `now` (the job), at most `budget` of work:
/// what is left waits for the next run. Returns the steps applied.
pub async fn bring_all_up_to_date(ctx: &AppContext, now: DateTime<Utc>, budget: std::time::Duration) -> Result<u64> {
    let started = std::time::Instant::now();
    let candidates = campaigns::Entity::find()
        .filter(campaigns::Column::AssignedAt.is_not_null())
        .filter(campaigns::Column::StartedAt.is_not_null())
        .all(&ctx.db)
        .await?;
    let mut steps = 0;
    for campaign in candidates {
        let Some(measured) = Measured::of(campaign)? else { continue };
        if measured.campaign.results_until.is_some_and(|at| at >= std::cmp::min(measured.until, now - SETTLING)) {
            continue;
        }
        steps += bring_up_to_date(ctx, &measured, now, Some(started + budget)).await?;
        if started.elapsed() >= budget {
            break;
        }
    }
    Ok(steps)
}

/// Brings one campaign's kept results forward to a few minutes before `now` (or its horizon's end), a step at a
/// time, stopping at `deadline`. Returns the steps applied.
pub(super) async fn bring_up_to_date(
    ctx: &AppContext,
    measured: &Measured,
    now: DateTime<Utc>,
    deadline: Option<std::time::Instant>,
) -> Result<u64> {
    // In whole microseconds, as PostgreSQL keeps a moment: a watermark stored shorter than its target would never
    // reach it.
    let target = std::cmp::min(measured.until, now - SETTLING).trunc_subsecs(6);
    let id = measured.campaign.id;
    let mut steps = 0;
    loop {
        let at = campaigns::Entity::find_by_id(id)
            .select_only()
            .column(campaigns::Column::ResultsUntil)
            .into_tuple::<Option<DateTime<Utc>>>()
            .one(&ctx.db)
            .await?
            .flatten();
        let Some(at) = at else {
            begin(ctx, measured).await?;
            continue;
        };
        if at >= target || deadline.is_some_and(|d| std::time::Instant::now() >= d) {
            return Ok(steps);
        }
        let to = std::cmp::min(at + STEP, target);
        if to <= at {
            return Ok(steps);
        }
        let txn = ctx.db.begin().await?;
        // The watermark moves first: a runner that finds it moved already leaves the slice to whoever moved it.
        let moved = campaigns::Entity::update_many()
            .col_expr(campaigns::Column::ResultsUntil, Expr::value(Some(to)))
            .filter(campaigns::Column::Id.eq(id))
            .filter(campaigns::Column::ResultsUntil.eq(at))
            .exec(&txn)
            .await?;
        if moved.rows_affected == 0 {
            txn.rollback().await?;
            continue;
        }
        let mut results = stored(&txn, id).await?;
        apply(&txn, measured, &mut results, at, to, &mut Basis::Kept { write: true }).await?;
        save(&txn, id, &results).await?;
        txn.commit().await?;
        steps += 1;
    }
}

/// Starts keeping a campaign's results: each member counted under their home store, nothing happened yet.
async fn begin(ctx: &AppContext, measured: &Measured) -> Result<()> {
    let id = measured.campaign.id;
    let txn = ctx.db.begin().await?;
    let claimed = campaigns::Entity::update_many()
        .col_expr(campaigns::Column::ResultsUntil, Expr::value(Some(measured.from)))
        .col_expr(campaigns::Column::SmsSent, Expr::value(0))
        .col_expr(campaigns::Column::CouponOffFen, Expr::value(0))
        .filter(campaigns::Column::Id.eq(id))
        .filter(campaigns::Column::ResultsUntil.is_null())
        .exec(&txn)
        .await?;
    if claimed.rows_affected == 0 {
        return Ok(txn.rollback().await?);
    }
    let home = Query::select()
        .column((members::Entity, members::Column::HomeStoreId))
        .from(members::Entity)
        .and_where(
            Expr::col((members::Entity, members::Column::Id))
                .equals((campaign_members::Entity, campaign_members::Column::MemberId)),
        )
        .to_owned();
    let home = SimpleExpr::SubQuery(None, Box::new(SubQueryStatement::SelectStatement(home)));
    txn.execute(
        &Query::update()
            .table(campaign_members::Entity)
            .value(campaign_members::Column::HomeStoreId, home)
            .and_where(Expr::col(campaign_members::Column::CampaignId).eq(id))
            .to_owned(),
    )
    .await?;
    let mut results = Results::default();
    for (in_control, store_id, n) in sizes(&txn, id).await? {
        let totals = results.groups.entry((in_control, store_id)).or_default();
        totals.members = count(n);
        totals.revenue.n = count(n);
        totals.recharge.n = count(n);
    }
    save(&txn, id, &results).await?;
    Ok(txn.commit().await?)
}

/// Each group's size within each home store.
async fn sizes(db: &impl ConnectionTrait, campaign_id: i64) -> Result<Vec<(bool, Option<i64>, i64)>> {
    Ok(campaign_members::Entity::find()
        .select_only()
        .column(campaign_members::Column::InControl)
        .column(campaign_members::Column::HomeStoreId)
        .column_as(campaign_members::Column::Id.count(), "n")
        .filter(campaign_members::Column::CampaignId.eq(campaign_id))
        .group_by(campaign_members::Column::InControl)
        .group_by(campaign_members::Column::HomeStoreId)
        .into_tuple()
        .all(db)
        .await?)
}

/// The results kept so far.
async fn stored(db: &impl ConnectionTrait, campaign_id: i64) -> Result<Results> {
    let mut results = Results::default();
    for row in
        campaign_results::Entity::find().filter(campaign_results::Column::CampaignId.eq(campaign_id)).all(db).await?
    {
        let moments = |sum: i64, sum_sq: f64| Moments { n: count(row.members), sum: fen_f64(sum), sum_sq };
        results.groups.insert(
            (row.in_control, row.store_id),
            GroupTotals {
                members: count(row.members),
                visitors: count(row.visitors),
                bills: row.bills,
                revenue_fen: row.revenue_fen,
                recharge_fen: row.recharge_fen,
                bonus_fen: row.bonus_fen,
                revenue: moments(row.revenue_fen, row.revenue_sq),
                recharge: moments(row.recharge_fen, row.recharge_sq),
                recipients: count(row.recipients),
                attributed_visitors: count(row.attributed_visitors),
                attributed_fen: row.attributed_fen,
            },
        );
    }
    for day in campaign_days::Entity::find().filter(campaign_days::Column::CampaignId.eq(campaign_id)).all(db).await? {
        results.days.insert((day.day, day.in_control), day.revenue_fen);
    }
    let sums: Option<(i64, i64)> = campaigns::Entity::find_by_id(campaign_id)
        .select_only()
        .column(campaigns::Column::SmsSent)
        .column(campaigns::Column::CouponOffFen)
        .into_tuple()
        .one(db)
        .await?;
    (results.sms, results.coupon_off_fen) = sums.unwrap_or_default();
    Ok(results)
}

/// Writes the groups' and days' sums and the campaign-wide ones (a few rows: written whole).
async fn save(db: &impl ConnectionTrait, campaign_id: i64, results: &Results) -> Result<()> {
    campaign_results::Entity::delete_many()
        .filter(campaign_results::Column::CampaignId.eq(campaign_id))
        .exec(db)
        .await?;
    let rows = results.groups.iter().map(|((in_control, store_id), t)| campaign_results::ActiveModel {
        campaign_id: Set(campaign_id),
        in_control: Set(*in_control),
        store_id: Set(*store_id),
        members: Set(signed(t.members)),
        visitors: Set(signed(t.visitors)),
        bills: Set(t.bills),
        revenue_fen: Set(t.revenue_fen),
        revenue_sq: Set(t.revenue.sum_sq),
        recharge_fen: Set(t.recharge_fen),
        recharge_sq: Set(t.recharge.sum_sq),
        bonus_fen: Set(t.bonus_fen),
        recipients: Set(signed(t.recipients)),
        attributed_visitors: Set(signed(t.attributed_visitors)),
        attributed_fen: Set(t.attributed_fen),
        ..Default::default()
    });
    campaign_results::Entity::insert_many(rows).exec_without_returning(db).await?;
    campaign_days::Entity::delete_many().filter(campaign_days::Column::CampaignId.eq(campaign_id)).exec(db).await?;
    let days = results.days.iter().map(|((day, in_control), fen)| campaign_days::ActiveModel {
        campaign_id: Set(campaign_id),
        day: Set(*day),
        in_control: Set(*in_control),
        revenue_fen: Set(*fen),
        ..Default::default()
    });
    campaign_days::Entity::insert_many(days).exec_without_returning(db).await?;
    campaigns::Entity::update_many()
        .col_expr(campaigns::Column::SmsSent, Expr::value(results.sms))
        .col_expr(campaigns::Column::CouponOffFen, Expr::value(results.coupon_off_fen))
        .filter(campaigns::Column::Id.eq(campaign_id))
        .exec(db)
        .await?;
    Ok(())
}

/// The results up to `at`: those kept, brought forward first, and the slice since added without keeping it.
pub(super) async fn read(ctx: &AppContext, measured: &Measured, at: DateTime<Utc>) -> Result<Results> {
    bring_up_to_date(ctx, measured, at, None).await?;
    let id = measured.campaign.id;
    let kept: Option<DateTime<Utc>> = campaigns::Entity::find_by_id(id)
        .select_only()
        .column(campaigns::Column::ResultsUntil)
        .into_tuple::<Option<DateTime<Utc>>>()
        .one(&ctx.db)
        .await?
        .flatten();
    let mut results = stored(&ctx.db, id).await?;
    let kept = kept.unwrap_or(measured.from);
    if kept < at {
        apply(&ctx.db, measured, &mut results, kept, at, &mut Basis::Kept { write: false }).await?;
    }
    Ok(results)
}

/// The results up to `at` computed from nothing, every member and every slice read again: what the kept results
/// replace, for comparing the two.
pub(super) async fn recompute(
    ctx: &AppContext,
    campaign: campaigns::Model,
    at: DateTime<Utc>,
) -> Result<Option<Results>> {
    let Some(measured) = Measured::of(campaign)? else { return Ok(None) };
    let id = measured.campaign.id;
    let everyone: Vec<(i64, bool, Option<i64>)> = campaign_members::Entity::find()
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
        .filter(campaign_members::Column::CampaignId.eq(id))
        .into_tuple()
        .all(&ctx.db)
        .await?;
    let mut results = Results::default();
    let mut outcomes = HashMap::with_capacity(everyone.len());
    for (member, in_control, store_id) in everyone {
        let outcome = MemberOutcome { in_control, store_id, ..MemberOutcome::default() };
        results.groups.entry((in_control, store_id)).or_default().add(&outcome);
        outcomes.insert(member, outcome);
    }
    let until = std::cmp::min(at, measured.until);
    let (mut from, mut basis) = (measured.from, Basis::Scratch(outcomes));
    // A day at a time, as the job goes: a day's entries in memory, not the horizon's.
    while from < until {
        let to = std::cmp::min(from + STEP, until);
        apply(&ctx.db, &measured, &mut results, from, to, &mut basis).await?;
        from = to;
    }
    Ok(Some(results))
}

/// Where a slice finds each member's outcome before it, and whether it writes them back.
pub(super) enum Basis {
    /// In `campaign_members`.
    Kept { write: bool },
    /// In memory, every member's (a computation from nothing).
    Scratch(HashMap<i64, MemberOutcome>),
}

/// What a slice of time changed, member by member.
#[derive(Default)]
struct Slice {
    visits: HashMap<i64, i64>,
    /// Revenue, recharges and bonus.
    money: HashMap<i64, (i64, i64, i64)>,
    /// Each entry that moved revenue: member, moment, fen.
    revenue: Vec<(i64, DateTime<Utc>, i64)>,
    first_sent: HashMap<i64, DateTime<Utc>>,
}

impl Slice {
    fn members(&self) -> Vec<i64> {
        let ids: HashSet<i64> = self
            .visits
            .keys()
            .chain(self.money.keys())
            .chain(self.first_sent.keys())
            .chain(self.revenue.iter().map(|(m, _, _)| m))
            .copied()
            .collect();
        let mut ids: Vec<i64> = ids.into_iter().collect();
        ids.sort_unstable();
        ids
    }
}

/// The campaign's assigned members.
fn audience_of(campaign_id: i64) -> SelectStatement {
    Query::select()
        .column(campaign_members::Column::MemberId)
        .from(campaign_members::Entity)
        .and_where(Expr::col(campaign_members::Column::CampaignId).eq(campaign_id))
        .to_owned()
}

/// Applies what happened in `[from, to)` to `results` (and, kept with `write`, to each member's row).
async fn apply(
    db: &impl ConnectionTrait,
    measured: &Measured,
    results: &mut Results,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    basis: &mut Basis,
) -> Result<()> {
    let campaign = &measured.campaign;
    let slice = read_slice(db, measured, from, to).await?;
    let (sms, coupon_off) = campaign_wide(db, measured, from, to).await?;
    results.sms += sms;
    results.coupon_off_fen += coupon_off;
    let mut revenue_by_member: HashMap<i64, Vec<(DateTime<Utc>, i64)>> = HashMap::new();
    for (member, at, fen) in &slice.revenue {
        revenue_by_member.entry(*member).or_default().push((*at, *fen));
    }
    for page in slice.members().chunks(PAGE) {
        let rows: Vec<campaign_members::Model> = match basis {
            Basis::Kept { .. } => {
                campaign_members::Entity::find()
                    .filter(campaign_members::Column::CampaignId.eq(campaign.id))
                    .filter(campaign_members::Column::MemberId.is_in(page.iter().copied()))
                    .all(db)
                    .await?
            }
            Basis::Scratch(_) => Vec::new(),
        };
        let mut kept: HashMap<i64, campaign_members::Model> = rows.into_iter().map(|r| (r.member_id, r)).collect();
        let mut written = Vec::new();
        for member in page {
            let old = match basis {
                Basis::Kept { .. } => match kept.get(member) {
                    Some(row) => MemberOutcome::from(row),
                    None => continue,
                },
                Basis::Scratch(outcomes) => match outcomes.get(member) {
                    Some(outcome) => *outcome,
                    None => continue,
                },
            };
            let mut new = old;
            new.bills += slice.visits.get(member).copied().unwrap_or(0);
            let (revenue, recharge, bonus) = slice.money.get(member).copied().unwrap_or_default();
            new.revenue += revenue;
            new.recharge += recharge;
            new.bonus += bonus;
            if new.first_sent_at.is_none() {
                new.first_sent_at = slice.first_sent.get(member).copied();
            }
            for (at, fen) in revenue_by_member.get(member).into_iter().flatten() {
                let day = i32::try_from((*at - measured.from).num_days() + 1).unwrap_or(i32::MAX);
                *results.days.entry((day, new.in_control)).or_default() += fen;
                if new.first_sent_at.is_some_and(|sent| *at >= sent && *at < sent + Duration::days(ATTRIBUTION_DAYS)) {
                    new.attributed += fen;
                }
            }
            results.groups.entry((new.in_control, new.store_id)).or_default().change(&old, &new);
            match basis {
                Basis::Kept { write: true } => {
                    if let Some(row) = kept.remove(member) {
                        let mut row = row.into_active_model();
                        row.bills = Set(new.bills);
                        row.revenue_fen = Set(new.revenue);
                        row.recharge_fen = Set(new.recharge);
                        row.bonus_fen = Set(new.bonus);
                        row.first_sent_at = Set(new.first_sent_at);
                        row.attributed_fen = Set(new.attributed);
                        row.id = sea_orm::ActiveValue::NotSet;
                        written.push(row);
                    }
                }
                Basis::Kept { write: false } => {}
                Basis::Scratch(outcomes) => {
                    outcomes.insert(*member, new);
                }
            }
        }
        if !written.is_empty() {
            use campaign_members::Column as C;
            campaign_members::Entity::insert_many(written)
                .on_conflict(
                    OnConflict::columns([C::CampaignId, C::MemberId])
                        .update_columns([C::Bills, C::RevenueFen, C::RechargeFen, C::BonusFen, C::FirstSentAt])
                        .update_column(C::AttributedFen)
                        .to_owned(),
                )
                .exec_without_returning(db)
                .await?;
        }
    }
    Ok(())
}

/// What each member did in `[from, to)`: visits, money, revenue entry by entry, first messages.
async fn read_slice(
    db: &impl ConnectionTrait,
    measured: &Measured,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Slice> {
    let (merchant_id, id) = (measured.campaign.merchant_id, measured.campaign.id);
    let mut slice = Slice::default();
    let member_counts = |rows: Vec<sea_orm::QueryResult>| -> Result<Vec<(i64, i64)>> {
        rows.into_iter().map(|row| Ok((row.try_get("", "member_id")?, row.try_get("", "n")?))).collect()
    };

    // A settled bill is a visit, reversed since or not; a bill of the horizon reversed takes its visit back.
    let settled = Query::select()
        .column(bills::Column::MemberId)
        .expr_as(Func::count(Expr::col(bills::Column::Id)), Alias::new("n"))
        .from(bills::Entity)
        .and_where(Expr::col(bills::Column::MerchantId).eq(merchant_id))
        .and_where(Expr::col(bills::Column::SettledAt).gte(from))
        .and_where(Expr::col(bills::Column::SettledAt).lt(to))
        .and_where(
            Expr::col(bills::Column::Status).is_in([BillStatus::Settled.as_str(), BillStatus::Reversed.as_str()]),
        )
        .and_where(Expr::col(bills::Column::MemberId).in_subquery(audience_of(id)))
        .group_by_col(bills::Column::MemberId)
        .to_owned();
    for (member, n) in member_counts(db.query_all(&settled).await?)? {
        *slice.visits.entry(member).or_default() += n;
    }
    for (member, n) in member_counts(db.query_all(&reversals(measured, from, to, false)).await?)? {
        *slice.visits.entry(member).or_default() -= n;
    }

    // Money: the member's ledger lines on revenue and stored value, by entry kind and side.
    for row in db.query_all(&ledger_moves(merchant_id, audience_of(id), from, to)).await? {
        let member: i64 = row.try_get("", "member_id")?;
        let (account, entry): (String, String) = (row.try_get("", "account")?, row.try_get("", "entry")?);
        let amount: i64 = row.try_get("", "amount")?;
        let money = slice.money.entry(member).or_default();
        // Credits are negative. Revenue: sales credit it, refunds and reversals debit it back.
        // Stored value: recharges (at the desk, by wallet or on a bill) credit it; refunds of a recharge debit
        // it. Spending (a debit in a sale) and giving spent value back (a credit in a refund) are not recharges.
        let taking_back = matches!(entry.as_str(), "refund" | "reversal");
        let recharging = matches!(entry.as_str(), "recharge" | "sale");
        let counts = (recharging && amount < 0) || (taking_back && amount > 0);
        match account.as_str() {
            "revenue" => money.0 -= amount,
            "sv_principal" if counts => money.1 -= amount,
            "sv_bonus" if counts => money.2 -= amount,
            _ => {}
        }
    }
    for row in db.query_all(&revenue_entries_of(merchant_id, audience_of(id), from, to)).await? {
        let (member, at, amount): (i64, DateTime<Utc>, i64) =
            (row.try_get("", "member_id")?, row.try_get("", "at")?, row.try_get("", "amount")?);
        slice.revenue.push((member, at, -amount));
    }

    // Messages handed over in the slice: each member's first.
    let sent: Vec<(i64, Option<DateTime<Utc>>)> = marketing_sends::Entity::find()
        .select_only()
        .column(marketing_sends::Column::MemberId)
        .column_as(marketing_sends::Column::SentAt.min(), "first")
        .filter(marketing_sends::Column::CampaignId.eq(id))
        .filter(marketing_sends::Column::SentAt.gte(from))
        .filter(marketing_sends::Column::SentAt.lt(to))
        .group_by(marketing_sends::Column::MemberId)
        .into_tuple()
        .all(db)
        .await?;
    slice.first_sent = sent.into_iter().filter_map(|(member, at)| Some((member, at?))).collect();
    Ok(slice)
}

/// The audience's bills settled in the horizon and reversed in `[from, to)`: by member (a count), or their coupon
/// discounts from the campaign (`coupons`).
fn reversals(measured: &Measured, from: DateTime<Utc>, to: DateTime<Utc>, coupons: bool) -> SelectStatement {
    let (e, b) = (Alias::new("e"), Alias::new("b"));
    let mut query = Query::select()
        .from_as(journal_entries::Entity, e.clone())
        .join_as(
            JoinType::InnerJoin,
            bills::Entity,
            b.clone(),
            Expr::col((b.clone(), bills::Column::Id)).equals((e.clone(), journal_entries::Column::BillId)),
        )
        .and_where(Expr::col((e.clone(), journal_entries::Column::MerchantId)).eq(measured.campaign.merchant_id))
        .and_where(Expr::col((e.clone(), journal_entries::Column::Kind)).eq("reversal"))
        .and_where(Expr::col((e.clone(), journal_entries::Column::CreatedAt)).gte(from))
        .and_where(Expr::col((e, journal_entries::Column::CreatedAt)).lt(to))
        .and_where(Expr::col((b.clone(), bills::Column::SettledAt)).gte(measured.from))
        .and_where(Expr::col((b.clone(), bills::Column::SettledAt)).lt(measured.until))
        .and_where(Expr::col((b.clone(), bills::Column::MemberId)).in_subquery(audience_of(measured.campaign.id)))
        .to_owned();
    if coupons {
        query
            .expr_as(
                Expr::expr(Func::sum(Expr::col((bill_coupons::Entity, bill_coupons::Column::OffFen))))
                    .cast_as("BIGINT"),
                Alias::new("off"),
            )
            .inner_join(
                bill_coupons::Entity,
                Expr::col((bill_coupons::Entity, bill_coupons::Column::BillId)).equals((b, bills::Column::Id)),
            );
        campaign_coupons(&mut query, measured.campaign.id);
    } else {
        query
            .expr_as(Expr::col((b.clone(), bills::Column::MemberId)), Alias::new("member_id"))
            .expr_as(Func::count(Expr::col((b.clone(), bills::Column::Id))), Alias::new("n"))
            .add_group_by([Expr::col((b, bills::Column::MemberId))]);
    }
    query
}

/// Narrows a query over `bill_coupons` to the coupons the campaign issued.
fn campaign_coupons(query: &mut SelectStatement, campaign_id: i64) {
    query
        .inner_join(
            member_coupons::Entity,
            Expr::col((member_coupons::Entity, member_coupons::Column::Id))
                .equals((bill_coupons::Entity, bill_coupons::Column::CouponId)),
        )
        .and_where(
            Expr::col((member_coupons::Entity, member_coupons::Column::SourceKey))
                .eq(format!("campaign:{campaign_id}")),
        );
}

/// SMS the campaign sent in `[from, to)`, and its coupons' discounts on bills settled then less those on bills of
/// the horizon reversed then.
async fn campaign_wide(
    db: &impl ConnectionTrait,
    measured: &Measured,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<(i64, i64)> {
    let campaign = &measured.campaign;
    let sms = marketing_sends::Entity::find()
        .filter(marketing_sends::Column::CampaignId.eq(campaign.id))
        .filter(marketing_sends::Column::Channel.eq(SendChannel::Sms.as_str()))
        .filter(marketing_sends::Column::SentAt.gte(from))
        .filter(marketing_sends::Column::SentAt.lt(to));
    let sms = i64::try_from(sea_orm::PaginatorTrait::count(sms, db).await?).unwrap_or(i64::MAX);
    let mut settled = Query::select()
        .expr_as(
            Expr::expr(Func::sum(Expr::col((bill_coupons::Entity, bill_coupons::Column::OffFen)))).cast_as("BIGINT"),
            Alias::new("off"),
        )
        .from(bill_coupons::Entity)
        .inner_join(
            bills::Entity,
            Expr::col((bills::Entity, bills::Column::Id)).equals((bill_coupons::Entity, bill_coupons::Column::BillId)),
        )
        .and_where(Expr::col((bills::Entity, bills::Column::MerchantId)).eq(campaign.merchant_id))
        .and_where(
            Expr::col((bills::Entity, bills::Column::Status))
                .is_in([BillStatus::Settled.as_str(), BillStatus::Reversed.as_str()]),
        )
        .and_where(Expr::col((bills::Entity, bills::Column::SettledAt)).gte(from))
        .and_where(Expr::col((bills::Entity, bills::Column::SettledAt)).lt(to))
        .to_owned();
    campaign_coupons(&mut settled, campaign.id);
    let off = |row: Option<sea_orm::QueryResult>| -> Result<i64> {
        Ok(match row {
            Some(row) => row.try_get::<Option<i64>>("", "off")?.unwrap_or(0),
            None => 0,
        })
    };
    let given = off(db.query_one(&settled).await?)?;
    let taken_back = off(db.query_one(&reversals(measured, from, to, true)).await?)?;
    Ok((sms, given - taken_back))
}
