//! One line of a bill: what was sold, at what price, as it was at settlement.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "bill_lines")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub bill_id: i64,
    /// `service` for now.
    pub kind: String,
    pub item_id: i64,
    pub name: String,
    pub category: String,
    pub quantity: i32,
    pub unit_price_fen: i64,
    pub amount_fen: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
