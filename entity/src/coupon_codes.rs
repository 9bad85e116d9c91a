//! A redemption code (兑换码): random, single use; redeeming it issues its template's coupon to the member.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "coupon_codes")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: i64,
    pub template_id: i64,
    /// Upper case, without separators.
    pub code: String,
    /// The idempotency key of the request that generated it.
    pub batch_key: String,
    pub batch_seq: i32,
    /// Who redeemed it; `None` while it is unused.
    pub member_id: Option<i64>,
    pub coupon_id: Option<i64>,
    pub redeemed_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
