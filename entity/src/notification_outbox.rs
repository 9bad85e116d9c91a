//! A message to send (WeChat subscribe message or SMS), written where it is decided and sent after.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notification_outbox")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: i64,
    /// `wechat_subscribe` or `sms`.
    pub channel: String,
    /// `member_reminder` or `staff_reminder`.
    pub purpose: String,
    pub booking_id: Option<i64>,
    /// `member:<id>` or `staff:<id>`.
    pub recipient: String,
    pub dedupe_key: String,
    /// JSON: what the channel sends.
    pub payload: String,
    /// `pending`, `sending`, `sent`, `logged` (an SMS written to the log channel, reaching no phone), `failed` or
    /// `skipped`.
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    /// A sender holds the message until then; after, it counts as not sent.
    pub claimed_until: Option<DateTimeUtc>,
    pub error_code: Option<String>,
    pub error: Option<String>,
    pub created_at: DateTimeUtc,
    pub sent_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
