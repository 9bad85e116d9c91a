//! An exception to the weekly shifts on one local day: `leave` (the whole day without times) or `extra`.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "staff_shift_exceptions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: i64,
    pub store_id: i64,
    pub staff_id: i64,
    pub day: Date,
    pub kind: String,
    pub starts_min: Option<i32>,
    pub ends_min: Option<i32>,
    pub note: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
