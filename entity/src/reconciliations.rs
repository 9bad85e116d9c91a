//! What reconciling one local day with one provider found for a merchant.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "reconciliations")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: i64,
    /// `wechatpay` or `alipay`.
    pub provider: String,
    /// The merchant's local day.
    pub day: Date,
    /// `matched`, `differences` or `failed`.
    pub status: String,
    pub provider_rows: i32,
    pub our_payments: i32,
    pub our_paid_fen: i64,
    pub their_paid_fen: i64,
    pub our_refunded_fen: i64,
    pub their_refunded_fen: i64,
    /// Differences written to the payment exceptions list.
    pub exceptions: i32,
    /// Why it could not run (the provider was unreachable, say).
    pub error: Option<String>,
    pub ran_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
