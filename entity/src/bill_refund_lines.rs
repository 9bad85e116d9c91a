//! How much of one bill line a refund took back.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "bill_refund_lines")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub refund_id: i64,
    pub bill_line_id: i64,
    pub quantity: i32,
    pub amount_fen: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
