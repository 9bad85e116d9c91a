//! One balanced movement of value: its lines sum to zero per unit. Entries and lines are never updated.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "journal_entries")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: i64,
    pub store_id: Option<i64>,
    /// `recharge`, `sale`, `transfer`, `card_refund`, ...
    pub kind: String,
    pub memo: String,
    /// The staff member who caused it, or
    pub staff_id: Option<i64>,
    /// the job that did.
    pub job: Option<String>,
    /// The member whose accounts it touches, for their statement.
    pub member_id: Option<i64>,
    pub bill_id: Option<i64>,
    pub payment_id: Option<i64>,
    pub idempotency_key: Option<String>,
    /// Digest of the request that carried the idempotency key, so a reused key with another request is refused.
    pub fingerprint: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
