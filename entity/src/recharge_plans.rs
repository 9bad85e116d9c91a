//! A recharge plan (充X送Y): pay `pay_fen`, receive `bonus_fen` on top.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
#[sea_orm(table_name = "recharge_plans")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: i64,
    pub name: String,
    pub pay_fen: i64,
    pub bonus_fen: i64,
    /// When set, a recharge under this plan makes the card valid for this many days from now (never shorter).
    pub validity_days: Option<i32>,
    pub active: bool,
    /// Points granted with each recharge on this plan.
    pub bonus_points: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
