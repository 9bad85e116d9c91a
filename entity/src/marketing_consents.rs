//! A member's grant or withdrawal of consent to marketing messages; the latest row per member is the answer in
//! force, the rest is the record of when and how it was asked.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "marketing_consents")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: i64,
    pub member_id: i64,
    pub granted: bool,
    /// `wechat`, `alipay`, `sandbox` (the mini-program the member answered in) or `desk`.
    pub channel: String,
    /// The sentence shown when the member answered.
    pub wording: String,
    pub given_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
