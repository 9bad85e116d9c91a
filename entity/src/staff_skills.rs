//! A service a staff member may do, optionally at their own price or duration.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "staff_skills")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub staff_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub service_item_id: i64,
    pub merchant_id: i64,
    pub price_fen: Option<i64>,
    pub duration_min: Option<i32>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
