//! A count-card product (次卡/疗程卡) on the menu: N sessions of one or several services for a price.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "card_products")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: i64,
    pub name: String,
    pub price_fen: i64,
    pub sessions: i32,
    /// Days a sold card stays valid; none for no expiry.
    pub validity_days: Option<i32>,
    /// JSON array of the service item ids a session may be used for.
    pub service_item_ids: String,
    pub active: bool,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
