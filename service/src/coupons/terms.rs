//! A coupon's terms: what it takes off and on which lines, checked when a template is written. A member's coupon
//! carries a copy, so the template can change without changing what was issued.

use serde::{Deserialize, Serialize};

use crate::domain::{CouponKind, Fen, LineKind, MAX_AMOUNT_FEN};
use crate::{Error, Result};

/// Which lines a coupon applies to. Empty lists mean any; a line must pass every list that is not empty.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    #[serde(default)]
    pub store_ids: Vec<i64>,
    #[serde(default)]
    pub categories: Vec<String>,
    #[serde(default)]
    pub service_ids: Vec<i64>,
    #[serde(default)]
    pub product_ids: Vec<i64>,
}

impl Scope {
    /// Whether a bill at `store_id` may use the coupon at all.
    pub fn covers_store(&self, store_id: i64) -> bool {
        self.store_ids.is_empty() || self.store_ids.contains(&store_id)
    }

    /// Whether the coupon takes from a service or product line: when items are named, only those; when
    /// categories are named, only lines of them.
    pub fn covers_line(&self, kind: LineKind, item_id: i64, category: &str) -> bool {
        let items_named = !self.service_ids.is_empty() || !self.product_ids.is_empty();
        let item = match kind {
            LineKind::Service => !items_named || self.service_ids.contains(&item_id),
            LineKind::Product => !items_named || self.product_ids.contains(&item_id),
            _ => false,
        };
        item && (self.categories.is_empty() || self.categories.iter().any(|c| c == category))
    }
}

/// `free_item`: which service or product one unit of is free.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FreeItemKind {
    Service,
    Product,
}

impl FreeItemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FreeItemKind::Service => "service",
            FreeItemKind::Product => "product",
        }
    }

    pub(crate) fn stored(value: Option<&str>) -> Option<Self> {
        match value {
            Some("service") => Some(FreeItemKind::Service),
            Some("product") => Some(FreeItemKind::Product),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Terms {
    pub name: String,
    pub kind: CouponKind,
    /// `amount`, `spend_off`: the face value.
    pub value: Fen,
    /// `percent`: the share the member pays, in basis points.
    pub rate_bp: i32,
    /// `percent`: the most it takes off.
    pub cap: Option<Fen>,
    /// The eligible lines (after the level discount) must reach this.
    pub threshold: Fen,
    pub free_item: Option<(FreeItemKind, i64)>,
    pub scope: Scope,
    pub stacks_with_level: bool,
    pub stacks_with_points: bool,
    /// Combines with other coupons on one bill (each of them must say so); one per template whatever it says.
    pub stacks_with_coupons: bool,
}

impl Terms {
    /// Checks the terms' own arithmetic; that the items and stores named exist is checked by the caller.
    pub fn check(&self) -> Result<()> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 30 || name.chars().any(char::is_control) {
            return Err(Error::invalid("name", "must be 1–30 characters"));
        }
        let in_range = |fen: Fen| (1..=MAX_AMOUNT_FEN).contains(&fen.get());
        if !(0..=MAX_AMOUNT_FEN).contains(&self.threshold.get()) {
            return Err(Error::invalid("threshold_fen", "must be 0 to ￥1,000,000"));
        }
        match self.kind {
            CouponKind::Amount if !in_range(self.value) => {
                Err(Error::invalid("value_fen", "an amount coupon takes off ￥0.01 to ￥1,000,000"))
            }
            CouponKind::SpendOff if !in_range(self.value) || self.threshold <= self.value => Err(Error::invalid(
                "threshold_fen",
                "a spend-off coupon needs a face value and a threshold above it (满 threshold 减 value)",
            )),
            CouponKind::Percent if !(1..=9_999).contains(&self.rate_bp) => {
                Err(Error::invalid("rate_bp", "the share paid must be 1–9999 basis points (8500 = 85折)"))
            }
            CouponKind::Percent if self.cap.is_some_and(|cap| !in_range(cap)) => {
                Err(Error::invalid("cap_fen", "the cap must be ￥0.01 to ￥1,000,000"))
            }
            CouponKind::FreeItem if self.free_item.is_none() => {
                Err(Error::invalid("free_item_id", "a free-item coupon names the service or product it gives"))
            }
            _ => Ok(()),
        }
    }
}

impl Terms {
    /// Whether the coupon takes from a line: a free-item coupon from lines of its item, any other from lines in
    /// its scope.
    pub fn covers_line(&self, kind: LineKind, item_id: i64, category: &str) -> bool {
        match self.free_item {
            Some((FreeItemKind::Service, id)) => kind == LineKind::Service && item_id == id,
            Some((FreeItemKind::Product, id)) => kind == LineKind::Product && item_id == id,
            None => self.scope.covers_line(kind, item_id, category),
        }
    }

    /// The most one coupon can take off a bill, when that is known without the bill: a fixed value, or a
    /// percentage's cap. A budget is counted in it.
    pub fn most_off(&self) -> Option<Fen> {
        match self.kind {
            CouponKind::Amount | CouponKind::SpendOff => Some(self.value),
            CouponKind::Percent => self.cap,
            CouponKind::FreeItem => None,
        }
    }

    /// The rule pricing applies.
    pub fn rule(&self) -> crate::checkout::pricing::CouponRule {
        crate::checkout::pricing::CouponRule {
            kind: self.kind,
            value: self.value,
            rate_bp: i64::from(self.rate_bp),
            cap: self.cap,
            threshold: self.threshold,
            stacks_with_level: self.stacks_with_level,
            stacks_with_points: self.stacks_with_points,
            stacks_with_coupons: self.stacks_with_coupons,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_names_items_or_categories_and_a_line_must_pass_both() {
        let any = Scope::default();
        assert!(any.covers_line(LineKind::Service, 1, "美发") && any.covers_line(LineKind::Product, 9, "洗护"));
        assert!(!any.covers_line(LineKind::CardSale, 1, "次卡") && !any.covers_line(LineKind::Recharge, 0, "储值"));
        let washes = Scope { service_ids: vec![1], ..Scope::default() };
        assert!(washes.covers_line(LineKind::Service, 1, "美发"));
        assert!(!washes.covers_line(LineKind::Service, 2, "美发") && !washes.covers_line(LineKind::Product, 1, "洗护"));
        let care = Scope { categories: vec!["护理".into()], ..Scope::default() };
        assert!(care.covers_line(LineKind::Service, 5, "护理") && !care.covers_line(LineKind::Service, 5, "美发"));
    }
}
