//! One marketing message to one member over one channel: planned when its campaign runs, decided when it is sent;
//! the outbox of the dispatcher and the send log staff read.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "marketing_sends")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: i64,
    pub campaign_id: i64,
    pub member_id: i64,
    /// `sms` or `in_app`.
    pub channel: String,
    /// `queued`, `sending`, `unknown` (the provider's answer was lost: checked before any retry), `sent`,
    /// `delivered`, `failed` or `skipped`.
    pub status: String,
    /// A stable code: why it was skipped, held or failed.
    pub reason: Option<String>,
    /// The provider's own words, when it refused.
    pub detail: Option<String>,
    /// Our key at the provider (Aliyun `OutId`, Tencent `SessionContext`).
    pub send_key: String,
    pub provider: Option<String>,
    /// Aliyun `BizId` / Tencent `SerialNo`.
    pub provider_id: Option<String>,
    /// Not sent before this time (quiet hours, a provider's throttling).
    pub not_before: DateTimeUtc,
    pub claim_token: Option<String>,
    pub claimed_until: Option<DateTimeUtc>,
    pub attempts: i32,
    pub planned_at: DateTimeUtc,
    /// When it was last handed to the provider.
    pub attempted_at: Option<DateTimeUtc>,
    pub sent_at: Option<DateTimeUtc>,
    pub delivered_at: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
