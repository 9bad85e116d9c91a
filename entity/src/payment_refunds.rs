//! A refund of a payment through its provider, under its own idempotent number.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "payment_refunds")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: i64,
    pub payment_id: i64,
    pub out_refund_no: String,
    pub amount_fen: i64,
    pub reason: String,
    /// `processing`, `succeeded`, `closed` or `abnormal`.
    pub status: String,
    pub provider_refund_no: Option<String>,
    /// The bill refund this pays out, when it came from one.
    pub bill_refund_id: Option<i64>,
    pub created_at: DateTimeUtc,
    pub finished_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
