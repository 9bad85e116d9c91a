//! Before a campaign runs: how large an effect it could detect at all, given its segment's size today, its control
//! share (and the merchant-wide control group), and how often the segment's members come within the horizon. A
//! 300-member salon learns here that a 10% control group can only tell a large effect, before spending anything.

use sea_orm::{Condition, EntityTrait, PaginatorTrait, QueryFilter};

use entity::members;

use super::stats;
use crate::domain::Permission;
use crate::foundation::principal::StaffPrincipal;
use crate::marketing::segments::{self, Combine, Criterion, SegmentRule};
use crate::{AppContext, Error, Result};

/// What a planned campaign could detect.
#[derive(Clone, Debug, PartialEq)]
pub struct Detectable {
    /// Members in the segment now, and how they would split.
    pub audience: u64,
    pub treated: u64,
    pub control: u64,
    /// The share of the segment's members who came in the last `horizon_days` days: the rate to expect without
    /// the campaign.
    pub base_visit_rate: Option<f64>,
    /// The smallest visit-rate difference these sizes detect (80% power, 5% two-sided).
    pub detectable_visit_rate: Option<f64>,
}

pub async fn detectable(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    segment_id: i64,
    control_bp: Option<i32>,
    horizon_days: Option<i32>,
) -> Result<Detectable> {
    principal.require_merchant_wide(Permission::CouponManage)?;
    let merchant_id = principal.merchant_id;
    let control_bp = crate::marketing::campaigns::checked_control(control_bp)?;
    let horizon_days = crate::marketing::campaigns::checked_horizon(horizon_days)?;
    segments::row(ctx, merchant_id, segment_id).await.map_err(|_| Error::invalid("segment_id", "no such segment"))?;
    let in_segment = segments::members_of(ctx, merchant_id, segment_id).await?;
    let now = ctx.now();
    let today = segments::merchant_today(ctx, merchant_id, now).await?;
    let came = SegmentRule {
        combine: Combine::All,
        criteria: vec![Criterion::Visits { days: horizon_days.unsigned_abs(), min: Some(1), max: None }],
        groups: Vec::new(),
    }
    .condition(ctx.db.get_database_backend(), merchant_id, now, today);
    let (audience, visitors) = tokio::try_join!(
        members::Entity::find().filter(in_segment.clone()).count(&ctx.db),
        members::Entity::find().filter(Condition::all().add(in_segment).add(came)).count(&ctx.db),
    )?;
    // The campaign's own control share and the merchant-wide group fall on independent buckets.
    let holdout_bp = crate::foundation::merchants::row(&ctx.db, merchant_id).await?.holdout_bp;
    let treated_share = (1.0 - f64::from(control_bp) / 10_000.0) * (1.0 - f64::from(holdout_bp) / 10_000.0);
    let treated = rounded(stats::real(audience) * treated_share).min(audience);
    let control = audience - treated;
    let base_visit_rate = (audience > 0).then(|| stats::real(visitors) / stats::real(audience));
    Ok(Detectable {
        audience,
        treated,
        control,
        base_visit_rate,
        detectable_visit_rate: base_visit_rate
            .filter(|rate| *rate > 0.0 && *rate < 1.0)
            .and_then(|rate| stats::detectable_rate_difference(rate, treated, control)),
    })
}

#[expect(clippy::as_conversions, reason = "a non-negative count computed in f64, far below 2^53")]
fn rounded(value: f64) -> u64 {
    value.round().max(0.0) as u64
}
