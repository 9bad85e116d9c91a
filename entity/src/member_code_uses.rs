//! A member code spent: scanned to identify the member, or given as consent to one bill's debit.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "member_code_uses")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: i64,
    pub member_id: i64,
    /// SHA-256 (hex) of the code.
    pub code_digest: String,
    /// `identify` or `consent`.
    pub purpose: String,
    /// The bill a consent was given for.
    pub bill_id: Option<i64>,
    pub staff_id: Option<i64>,
    pub used_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
