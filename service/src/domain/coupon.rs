//! The closed sets of coupons: what a coupon takes off, where a member's coupon stands, where it came from.

use serde::{Deserialize, Serialize};

use super::bill::names;

/// What a coupon takes off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CouponKind {
    /// 代金券: a fixed amount off the eligible lines.
    Amount,
    /// 折扣券: the eligible lines at a rate (8500 bp = 85折), optionally capped.
    Percent,
    /// 满减: a fixed amount off once the eligible lines reach a threshold.
    SpendOff,
    /// 兑换券 / 体验券: one unit of a service or product free.
    FreeItem,
}

names!(CouponKind {
    Amount => "amount",
    Percent => "percent",
    SpendOff => "spend_off",
    FreeItem => "free_item",
});

/// Where a member's coupon stands. Expiry is not a status: it is read from the coupon's validity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CouponStatus {
    Usable,
    /// Held by a parked bill until it settles or is voided.
    Reserved,
    Used,
    /// Taken back: a gift with a purchase (满赠) whose purchase was reversed or refunded before it was used.
    Withdrawn,
}

names!(CouponStatus {
    Usable => "usable",
    Reserved => "reserved",
    Used => "used",
    Withdrawn => "withdrawn",
});

/// How a member came by a coupon.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CouponSource {
    /// Claimed in the coupon center.
    Claim,
    /// Granted by staff.
    Grant,
    /// A redemption code (兑换码).
    Code,
    /// On joining.
    Join,
    /// Before the birthday.
    Birthday,
    /// Exchanged for points.
    Points,
    /// With a purchase above an amount (满赠).
    Purchase,
    /// By a campaign, to its treatment group.
    Campaign,
}

names!(CouponSource {
    Claim => "claim",
    Grant => "grant",
    Code => "code",
    Join => "join",
    Birthday => "birthday",
    Points => "points",
    Purchase => "purchase",
    Campaign => "campaign",
});

/// Whether a template is still issued.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TemplateStatus {
    Active,
    /// Not issued for now; coupons already issued stay usable.
    Paused,
    /// Never issued again; coupons already issued stay usable until they expire.
    Ended,
}

names!(TemplateStatus {
    Active => "active",
    Paused => "paused",
    Ended => "ended",
});
