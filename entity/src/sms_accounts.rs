//! A merchant's SMS provider account and approved signature (【签名】).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sms_accounts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: i64,
    /// `aliyun` or `tencent`.
    pub provider: String,
    pub access_key_id: String,
    pub secret_sealed: String,
    /// Tencent's `SmsSdkAppId`.
    pub app_id: Option<String>,
    pub sign_name: String,
    /// Names the account in the provider's receipt and reply pushes (their URL carries it).
    pub callback_token: String,
    /// What one message costs.
    pub price_fen: i64,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
