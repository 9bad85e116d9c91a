//! How a bill was paid: one row per tender (stored value, cash, bank card, ...).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "bill_tenders")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub bill_id: i64,
    pub kind: String,
    pub amount_fen: i64,
    /// Cash handed over; `amount_fen` of it was kept and `change_fen` given back.
    pub tendered_fen: i64,
    pub change_fen: i64,
    /// Stored value only: how the amount split between principal and bonus.
    pub principal_fen: i64,
    pub bonus_fen: i64,
    pub refunded_fen: i64,
    pub refunded_principal_fen: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
