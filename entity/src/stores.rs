use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "stores")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: i64,
    pub name: String,
    pub address: String,
    pub phone: String,
    /// IANA zone name; business days and reminders are computed in it.
    pub timezone: String,
    pub active: bool,
    /// Start times are offered on this grid, in minutes from local midnight.
    pub booking_granularity_min: i32,
    /// Cancelling closer than this to the start is a late cancellation.
    pub booking_cutoff_min: i32,
    pub booking_horizon_days: i32,
    /// `least_busy`, `rotation` or `usual`.
    pub booking_anyone_policy: String,
    /// Minutes before a booking that the member and the staff member are reminded (0: never).
    pub member_reminder_min: i32,
    pub staff_reminder_min: i32,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
