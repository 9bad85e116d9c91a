//! A member's grant or withdrawal of consent to marketing messages; the latest row per member is the answer in
//! force, the rest is the record of when and how it was asked.
use sea_orm::entity::prelude::*;

// Deserialize: the look-up of a member reads these rows as JSON the database builds (`service::members::read`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Deserialize)]
#[sea_orm(table_name = "marketing_consents")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: i64,
    pub member_id: i64,
    pub granted: bool,
    /// `wechat`, `alipay`, `sandbox` (the mini-program the member answered in), `desk` (staff, at the member's
    /// request) or `sms_reply` (the member replied to an SMS to opt out).
    pub channel: String,
    /// The sentence shown when the member answered.
    pub wording: String,
    /// `marketing` (any marketing message), `sms` (marketing by SMS) or `personalised` (marketing chosen by the
    /// member's characteristics, PIPL art. 24).
    pub purpose: String,
    /// The staff member who recorded the answer at the member's request.
    pub recorded_by: Option<i64>,
    pub given_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
