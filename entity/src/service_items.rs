use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "service_items")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: i64,
    pub category: String,
    pub name: String,
    pub duration_min: i32,
    pub price_fen: i64,
    /// JSON array of substances this service uses (e.g. `["PPD"]`), matched against allergy notes.
    pub substances: String,
    /// JSON object level id → price in fen for members of that level.
    pub level_prices: String,
    pub active: bool,
    pub buffer_min: i32,
    pub processing_offset_min: Option<i32>,
    pub processing_min: Option<i32>,
    pub resource_kind: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
