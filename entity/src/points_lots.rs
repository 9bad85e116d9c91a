//! A lot of points a member earned or was given, spent earliest-expiring first. The lots' remaining points always sum to the member's `points` ledger account.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "points_lots")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: i64,
    pub member_id: i64,
    pub points: i64,
    pub remaining: i64,
    pub expires_at: DateTimeUtc,
    /// `earn`, `adjust`, `recharge` or `refund` (points spent on a bill, given back).
    pub source: String,
    pub bill_id: Option<i64>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
