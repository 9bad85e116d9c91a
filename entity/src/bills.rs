//! A bill (账单) at a store: its lines, tenders and the journal entry that settled it.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "bills")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: i64,
    pub store_id: i64,
    pub member_id: Option<i64>,
    /// `settled` for now; parking, voiding and reversal add states.
    pub status: String,
    pub subtotal_fen: i64,
    pub total_fen: i64,
    pub change_fen: i64,
    pub idempotency_key: String,
    pub fingerprint: String,
    pub entry_id: Option<i64>,
    pub created_by: i64,
    pub created_at: DateTimeUtc,
    pub settled_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
