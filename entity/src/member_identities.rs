use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "member_identities")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: i64,
    pub member_id: i64,
    /// `wechat`, `alipay` or `sandbox`.
    pub provider: String,
    /// WeChat openid, Alipay open_id/user_id, or the sandbox user name.
    pub subject: String,
    pub unionid: Option<String>,
    /// WeChat `session_key`, sealed; it never leaves the server.
    pub session_key_sealed: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
