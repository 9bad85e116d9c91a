//! An SMS template the provider approved: its code, its text in the provider's syntax (Aliyun `${name}`, Tencent
//! `{1}`), and which of our values fill its variables, in order.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sms_templates")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: i64,
    pub name: String,
    pub code: String,
    pub body: String,
    /// JSON array of value names (`name`, `store`, `coupon`, `days`).
    pub variables: String,
    pub archived: bool,
    pub created_by: i64,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
