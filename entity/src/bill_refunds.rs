//! A refund of some or all lines of a settled bill, or its whole reversal (反结账).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "bill_refunds")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: i64,
    pub bill_id: i64,
    /// `refund` or `reversal`.
    pub kind: String,
    pub idempotency_key: String,
    pub fingerprint: String,
    pub amount_fen: i64,
    pub reason: String,
    /// JSON array of {kind, amount_fen, principal_fen, bonus_fen}: where the money went back.
    pub tenders: String,
    pub entry_id: Option<i64>,
    pub created_by: i64,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
