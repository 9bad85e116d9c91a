//! A receipt printer on a store's LAN, reached through the store's bridge.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "printers")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: i64,
    pub store_id: i64,
    pub name: String,
    /// `host:port` on the store's LAN.
    pub address: String,
    /// 58 or 80.
    pub paper_mm: i32,
    pub native_qr: bool,
    pub drawer: bool,
    /// JSON array of the job kinds routed here; empty: every kind no other printer takes.
    pub kinds: String,
    pub active: bool,
    /// `ok`, `paper_out`, `cover_open`, `offline` or `unknown`.
    pub state: String,
    pub state_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
