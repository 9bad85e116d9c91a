//! How staff earn commission (提成) on a kind of line, an item or a category: a percentage or a fixed amount, tiered by the staff member's sales this month.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "commission_rules")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: i64,
    /// `service`, `product`, `card_sale` or `recharge`.
    pub line_kind: String,
    pub item_id: Option<i64>,
    pub category: Option<String>,
    /// `percent` (tier values in basis points) or `fixed` (tier values in fen per unit).
    pub mode: String,
    /// JSON array of {from_fen, value}, ascending.
    pub tiers: String,
    pub active: bool,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
