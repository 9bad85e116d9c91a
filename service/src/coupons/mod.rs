//! Coupons (优惠券): templates that say what is offered, to whom and how many, and members' coupons made from them.
//!
//! Rules kept everywhere: a member's coupon copies the template's terms at issue (later edits change nothing
//! issued); stock is taken by a guarded decrement and the per-member limit is a unique key, so no claim counts
//! first and inserts after; every grant names its source, so a retried grant issues one coupon; expiry is read from
//! the coupon's validity when it is read or used, never only by a batch job.

pub mod codes;
pub mod grants;
pub mod issue;
pub(crate) mod redeem;
pub mod report;
pub mod templates;
pub mod terms;

use chrono::{DateTime, Utc};

use entity::{coupon_templates, member_coupons};

pub use redeem::UsedCoupon;
pub use terms::{FreeItemKind, Scope, Terms};

use crate::domain::{CouponKind, CouponSource, CouponStatus, Fen, Points, TemplateStatus};
use crate::{Error, Result};

/// How a template's coupons are valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validity {
    /// From one instant to another.
    Fixed { from: DateTime<Utc>, until: DateTime<Utc> },
    /// From issue to the end of the n-th day (the issue day is the first) in the merchant's zone.
    Days(i32),
}

impl Validity {
    /// As stored and shown: `valid_from` and `valid_until` for fixed dates, or `valid_days`.
    pub fn columns(self) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>, Option<i32>) {
        match self {
            Validity::Fixed { from, until } => (Some(from), Some(until), None),
            Validity::Days(days) => (None, None, Some(days)),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Template {
    pub id: i64,
    pub terms: Terms,
    pub validity: Validity,
    pub claim_from: Option<DateTime<Utc>>,
    pub claim_until: Option<DateTime<Utc>>,
    pub total_stock: Option<i64>,
    pub remaining: Option<i64>,
    pub per_member_limit: i32,
    pub claimable: bool,
    /// Issued to each new member, once.
    pub on_join: bool,
    /// Issued this many days before each member's birthday, once a year.
    pub birthday_days_before: Option<i32>,
    /// Members exchange this many points for one in the coupon center.
    pub points_price: Option<Points>,
    /// Given with a settled bill paying at least this (满赠).
    pub purchase_min: Option<Fen>,
    /// The most its coupons may take off bills, and what is left of it.
    pub budget: Option<Fen>,
    pub budget_left: Option<Fen>,
    pub status: TemplateStatus,
    pub created_at: DateTime<Utc>,
}

/// Where a member's coupon stands as a member or cashier reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CouponState {
    Usable,
    /// Held by a parked bill.
    Reserved,
    Used,
    /// Past its validity (and never used).
    Expired,
    /// Not valid yet.
    Pending,
    /// Taken back with the purchase that gave it.
    Withdrawn,
}

#[derive(Clone, Debug)]
pub struct MemberCoupon {
    pub id: i64,
    pub template_id: i64,
    pub member_id: i64,
    pub terms: Terms,
    pub valid_from: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
    pub state: CouponState,
    pub source: CouponSource,
    pub bill_id: Option<i64>,
    pub used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// The terms stored on a template row or a member's coupon row (the same columns on both tables).
macro_rules! terms_of {
    ($row:ident) => {
        Terms {
            kind: CouponKind::stored(&$row.kind)?,
            value: Fen::new($row.value_fen),
            rate_bp: $row.rate_bp,
            cap: $row.cap_fen.map(Fen::new),
            threshold: Fen::new($row.threshold_fen),
            free_item: FreeItemKind::stored($row.free_item_kind.as_deref()).zip($row.free_item_id),
            scope: scope_of(&$row.scope)?,
            stacks_with_level: $row.stacks_with_level,
            stacks_with_points: $row.stacks_with_points,
            stacks_with_coupons: $row.stacks_with_coupons,
            name: $row.name,
        }
    };
}

/// The most one of the template's coupons can take off a bill (see [`Terms::most_off`]).
pub(crate) fn most_off(row: &coupon_templates::Model) -> Result<Option<Fen>> {
    Ok(match CouponKind::stored(&row.kind)? {
        CouponKind::Amount | CouponKind::SpendOff => Some(Fen::new(row.value_fen)),
        CouponKind::Percent => row.cap_fen.map(Fen::new),
        CouponKind::FreeItem => None,
    })
}

pub(crate) fn scope_of(stored: &str) -> Result<Scope> {
    crate::domain::stored_json("a coupon's scope", stored)
}

pub(crate) fn to_template(row: coupon_templates::Model) -> Result<Template> {
    let validity = match (row.valid_days, row.valid_from, row.valid_until) {
        (Some(days), _, _) => Validity::Days(days),
        (None, Some(from), Some(until)) => Validity::Fixed { from, until },
        _ => return Err(Error::Internal(anyhow::anyhow!("coupon template {} has no validity", row.id))),
    };
    Ok(Template {
        id: row.id,
        terms: terms_of!(row),
        validity,
        claim_from: row.claim_from,
        claim_until: row.claim_until,
        total_stock: row.total_stock,
        remaining: row.remaining,
        per_member_limit: row.per_member_limit,
        claimable: row.claimable,
        on_join: row.auto_grant.as_deref() == Some(templates::ON_JOIN),
        birthday_days_before: (row.auto_grant.as_deref() == Some(templates::ON_BIRTHDAY))
            .then_some(row.birthday_days_before),
        points_price: row.points_price.map(Points::new),
        purchase_min: row
            .purchase_min_fen
            .filter(|_| row.auto_grant.as_deref() == Some(templates::ON_PURCHASE))
            .map(Fen::new),
        budget: row.budget_fen.map(Fen::new),
        budget_left: row.budget_left_fen.map(Fen::new),
        status: TemplateStatus::stored(&row.status)?,
        created_at: row.created_at,
    })
}

pub(crate) fn to_coupon(row: member_coupons::Model, now: DateTime<Utc>) -> Result<MemberCoupon> {
    let status = CouponStatus::stored(&row.status)?;
    let state = match status {
        CouponStatus::Used => CouponState::Used,
        CouponStatus::Reserved => CouponState::Reserved,
        CouponStatus::Withdrawn => CouponState::Withdrawn,
        CouponStatus::Usable if row.valid_until < now => CouponState::Expired,
        CouponStatus::Usable if row.valid_from > now => CouponState::Pending,
        CouponStatus::Usable => CouponState::Usable,
    };
    Ok(MemberCoupon {
        id: row.id,
        template_id: row.template_id,
        member_id: row.member_id,
        terms: terms_of!(row),
        valid_from: row.valid_from,
        valid_until: row.valid_until,
        state,
        source: CouponSource::stored(&row.source)?,
        bill_id: row.bill_id,
        used_at: row.used_at,
        created_at: row.created_at,
    })
}
