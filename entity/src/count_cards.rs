//! A count card a member holds. Its remaining sessions and unrecognised value are ledger accounts (`card:<id>:sessions`, `card:<id>:deferred`).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "count_cards")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: i64,
    pub member_id: i64,
    pub card_product_id: i64,
    pub name: String,
    /// JSON array of service item ids, copied from the product at sale.
    pub service_item_ids: String,
    pub sessions_total: i32,
    pub price_fen: i64,
    /// `active` or `refunded`.
    pub status: String,
    pub store_id: i64,
    pub bill_id: Option<i64>,
    pub expires_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
