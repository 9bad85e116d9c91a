//! A member's coupon: the template's terms as they were at issue, and where it stands.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "member_coupons")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: i64,
    pub template_id: i64,
    pub member_id: i64,
    pub name: String,
    pub kind: String,
    pub value_fen: i64,
    pub rate_bp: i32,
    pub cap_fen: Option<i64>,
    pub threshold_fen: i64,
    pub free_item_kind: Option<String>,
    pub free_item_id: Option<i64>,
    pub scope: String,
    pub stacks_with_level: bool,
    pub stacks_with_points: bool,
    /// Combines with other coupons on one bill (each of them must say so).
    pub stacks_with_coupons: bool,
    pub valid_from: DateTimeUtc,
    pub valid_until: DateTimeUtc,
    /// `usable`, `reserved` (on a parked bill) or `used`; expiry is read from `valid_until`.
    pub status: String,
    /// `claim`, `grant`, `code`, `join`, `birthday`, `points` or `purchase`.
    pub source: String,
    /// What issued it, unique per template and member (a grant's key, a job's period).
    pub source_key: Option<String>,
    /// The member's n-th claim of the template (claims only).
    pub claim_no: Option<i32>,
    pub bill_id: Option<i64>,
    pub used_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
