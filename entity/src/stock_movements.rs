//! One change of a store's stock of a product: a sale, a refund, goods received or a count adjustment.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "stock_movements")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: i64,
    pub store_id: i64,
    pub product_id: i64,
    /// Signed: a sale is negative.
    pub delta: i64,
    /// `sale`, `refund`, `receive` or `adjust`.
    pub reason: String,
    pub memo: String,
    pub bill_id: Option<i64>,
    pub staff_id: Option<i64>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
