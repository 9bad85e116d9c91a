//! A payment through WeChat Pay or Alipay that we created: for a recharge or a bill, paid by the member in the
//! mini-program or with a payment code at the counter. It settles exactly once, from a verified notification or a
//! query answer, never from the client's word.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "payments")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: i64,
    pub store_id: i64,
    pub member_id: Option<i64>,
    /// `wechatpay` or `alipay`.
    pub provider: String,
    /// `mini` (the member pays in the mini-program) or `code` (the cashier scans a payment code).
    pub method: String,
    /// `recharge` or `bill`.
    pub purpose: String,
    pub bill_id: Option<i64>,
    pub plan_id: Option<i64>,
    /// A bill paid by code: its other tenders (JSON), settled together with this payment.
    pub other_tenders: String,
    /// Our order number at the provider, unique everywhere.
    pub out_trade_no: String,
    pub amount_fen: i64,
    pub description: String,
    /// `pending`, `paid`, `closed` or `failed`.
    pub status: String,
    /// The provider's transaction id (`transaction_id` / `trade_no`), once paid.
    pub provider_trade_no: Option<String>,
    /// The payer's openid at the provider.
    pub payer: Option<String>,
    pub failure: Option<String>,
    pub idempotency_key: Option<String>,
    /// The ledger entry that applied the payment.
    pub journal_entry_id: Option<i64>,
    /// Refunded through the provider so far (succeeded refunds only).
    pub refunded_fen: i64,
    pub created_by: Option<i64>,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub paid_at: Option<DateTimeUtc>,
    pub closed_at: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
