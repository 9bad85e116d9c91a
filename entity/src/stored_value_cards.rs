//! A member's stored-value card (储值卡): its status and the two ledger accounts holding principal and bonus.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "stored_value_cards")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: i64,
    pub member_id: i64,
    /// `active`, `frozen` (挂失) or `closed` (退卡).
    pub status: String,
    pub expires_at: Option<DateTimeUtc>,
    pub principal_account_id: i64,
    pub bonus_account_id: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
