//! An automation: a campaign that runs by itself each day for the members its trigger picks that day.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "marketing_automations")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: i64,
    pub name: String,
    /// `welcome`, `birthday`, `win_back`, `rebook`, `count_card_expiring`, `stored_value_expiring`,
    /// `low_balance`, `coupon_expiring` or `recurring`.
    pub trigger: String,
    /// The trigger's days: after joining, before the birthday, lapsed, ahead of an expiry, or every so many.
    pub days: i32,
    /// The rebook trigger's percent of the member's own interval, or the low-balance trigger's balance in fen.
    pub threshold: Option<i64>,
    pub segment_id: Option<i64>,
    pub coupon_template_id: Option<i64>,
    pub message_title: Option<String>,
    pub message_body: Option<String>,
    pub sms_template_id: Option<i64>,
    /// The control group's share in basis points.
    pub control_bp: i32,
    /// Days before this automation may reach the same member again.
    pub cooldown_days: i32,
    /// `active`, `paused` or `ended`.
    pub status: String,
    /// The local date of its latest run.
    pub last_occasion: Option<String>,
    pub created_by: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
