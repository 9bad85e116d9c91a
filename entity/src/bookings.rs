//! An appointment: a member, a staff member, a sequence of services from `starts_at`.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "bookings")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: i64,
    pub store_id: i64,
    pub member_id: i64,
    pub staff_id: i64,
    pub starts_at: DateTimeUtc,
    pub ends_at: DateTimeUtc,
    /// `booked`, `confirmed`, `arrived`, `completed`, `cancelled` or `no_show`.
    pub status: String,
    /// `mini` or `desk`.
    pub source: String,
    /// `chosen`, `least_busy`, `rotation` or `usual`.
    pub assigned_by: String,
    pub idempotency_key: Option<String>,
    pub fingerprint: Option<String>,
    pub note: String,
    pub late_cancel: bool,
    pub reschedules: i32,
    pub bill_id: Option<i64>,
    pub created_by_staff_id: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub confirmed_at: Option<DateTimeUtc>,
    pub arrived_at: Option<DateTimeUtc>,
    /// When it was completed, cancelled or marked a no-show.
    pub finished_at: Option<DateTimeUtc>,
    pub cancel_reason: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
