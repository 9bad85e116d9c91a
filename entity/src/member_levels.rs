use sea_orm::entity::prelude::*;

// Deserialize: the look-up of a member reads these rows as JSON the database builds (`service::members::read`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Deserialize)]
#[sea_orm(table_name = "member_levels")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: i64,
    pub name: String,
    /// Higher is better; the default level has rank 0.
    pub rank: i32,
    /// Cumulative spend or recharge (by the merchant's `level_basis`) that qualifies.
    pub threshold_fen: i64,
    /// What a member of this level pays, in basis points of the price (9000 = 10% off).
    pub discount_bp: i32,
    /// JSON object category → basis points, overriding `discount_bp` per item category.
    pub category_discounts: String,
    /// Points multiplier in percent (150 = 1.5×).
    pub points_multiplier_pct: i32,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
