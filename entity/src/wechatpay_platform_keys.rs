//! A key WeChat Pay signs one merchant's answers and notifications with, by the serial its messages name: the
//! WeChat Pay public key (`PUB_KEY_ID_…`) or a platform certificate.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "wechatpay_platform_keys")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: i64,
    pub serial: String,
    /// `public_key` or `certificate`.
    pub kind: String,
    /// SPKI PEM for a public key, the certificate PEM for a certificate.
    pub pem: String,
    pub expires_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
