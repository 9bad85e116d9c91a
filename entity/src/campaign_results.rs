//! A campaign's results so far for one group within one home store: the sums its report is computed from.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "campaign_results")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub campaign_id: i64,
    pub in_control: bool,
    pub store_id: Option<i64>,
    pub members: i64,
    /// Members with at least one settled visit.
    pub visitors: i64,
    pub bills: i64,
    pub revenue_fen: i64,
    /// The sum of each member's revenue squared (fen²).
    pub revenue_sq: f64,
    pub recharge_fen: i64,
    pub recharge_sq: f64,
    pub bonus_fen: i64,
    /// Members sent a message, those with revenue within the attribution days after their first, and that revenue.
    pub recipients: i64,
    pub attributed_visitors: i64,
    pub attributed_fen: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
