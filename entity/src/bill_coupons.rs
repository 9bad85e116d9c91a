//! A coupon a bill names and what it took off. Kept after a reversal gives the coupon back: the bill's history.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "bill_coupons")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub bill_id: i64,
    /// The member's coupon (`member_coupons.id`).
    pub coupon_id: i64,
    /// Where pricing applied it among the bill's coupons (0 first).
    pub position: i32,
    pub off_fen: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
