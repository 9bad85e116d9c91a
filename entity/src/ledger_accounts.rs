//! One account of the double-entry ledger: a member's stored value, a store's cash drawer, a revenue category.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ledger_accounts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: i64,
    /// Stable name, unique per merchant: `member:12:sv_principal`, `store:3:revenue:hair`.
    pub key: String,
    pub kind: String,
    pub store_id: Option<i64>,
    pub member_id: Option<i64>,
    /// `fen`, `point` or `session`: entries balance per unit.
    pub unit: String,
    /// Assets and expenses grow with debits; liabilities and revenue with credits.
    pub debit_normal: bool,
    /// The balance may never go below zero (a member's stored value, points, sessions).
    pub floor_zero: bool,
    /// In the account's natural direction: a member's principal of ￥100 is `10000`.
    pub balance: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
