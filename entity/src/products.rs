//! A retail product (商品) sold over the counter: shampoo, hair oil, a mask.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "products")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: i64,
    /// Unique per merchant.
    pub sku: String,
    pub barcode: Option<String>,
    pub name: String,
    pub category: String,
    pub price_fen: i64,
    pub active: bool,
    /// Redeemable for this many points a unit (积分兑换); `None`: not a gift.
    pub points_price: Option<i64>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
