//! A receipt (or other slip) waiting for, or done by, a store printer.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "print_jobs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: i64,
    pub store_id: i64,
    /// `bill_receipt` or `recharge_receipt`.
    pub kind: String,
    /// The bill id, or the recharge's journal entry id.
    pub subject_id: i64,
    /// `queued`, `printed`, `held` or `failed`.
    pub status: String,
    pub created_at: DateTimeUtc,
    pub printed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
