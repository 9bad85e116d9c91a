use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "merchants")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    #[sea_orm(unique)]
    pub code: String,
    pub timezone: String,
    /// WeChat mini-program appid, unique across merchants: a sign-in names its appid.
    pub wechat_appid: Option<String>,
    /// The mini-program's AppSecret, sealed by the vault.
    pub wechat_secret_sealed: Option<String>,
    pub alipay_appid: Option<String>,
    /// The merchant's Alipay application private key (PEM), sealed by the vault.
    pub alipay_private_key_sealed: Option<String>,
    /// Alipay's public key (SPKI PEM) for verifying gateway responses.
    pub alipay_public_key: Option<String>,
    /// How a stored-value debit splits between principal and bonus: `proportional`, `principal_first` or
    /// `bonus_first`.
    pub sv_split_rule: String,
    /// Points earned per whole yuan actually paid.
    pub points_per_yuan: i32,
    /// Points that make ￥1 of offset at checkout; 0 turns redemption off.
    pub points_per_yuan_offset: i32,
    pub points_validity_days: i32,
    /// JSON array of item categories that earn no points.
    pub points_excluded_categories: String,
    /// What level thresholds count: `spend` or `recharge`.
    pub level_basis: String,
    /// `never` or `annual` (a member whose last 12 months fall below their level moves down).
    pub level_downgrade: String,
    /// Stored-value or count-card debits above this need the member's confirmation; none turns it off.
    pub confirm_threshold_fen: Option<i64>,
    /// `never` (value on an expired card stays owed) or `at_expiry` (recognised as breakage when it expires).
    pub breakage_policy: String,
    /// The subscribe-message template of the "points expiring soon" notice (JSON), if any.
    pub points_expiry_template: Option<String>,
    /// The secret salt of campaign control-group assignment, set the first time one is needed.
    pub assignment_salt: Option<String>,
    /// Marketing messages a member receives at most per 7 days, across channels.
    pub marketing_weekly_cap: i32,
    /// Marketing SMS arrive from this minute after midnight until `sms_until_min`, in the member's store's zone.
    pub sms_from_min: i32,
    pub sms_until_min: i32,
    /// The merchant-wide control group's share in basis points: members whose bucket falls under it are in the
    /// control group of every campaign and automation (0: none).
    pub holdout_bp: i32,
    pub created_at: DateTimeUtc,
    /// WeChat Pay merchant number (商户号).
    pub wechatpay_mchid: Option<String>,
    /// Serial of the merchant API certificate, named in every signed request.
    pub wechatpay_serial: Option<String>,
    /// The merchant API private key (`apiclient_key.pem`), sealed by the vault.
    pub wechatpay_private_key_sealed: Option<String>,
    /// The APIv3 key (32 characters), sealed by the vault.
    pub wechatpay_apiv3_key_sealed: Option<String>,
    /// The APIv2 key (payment codes through the v2 fallback), sealed by the vault.
    pub wechatpay_v2_key_sealed: Option<String>,
    /// The merchant API certificate (`apiclient_cert.pem`): the TLS client certificate v2 `reverse` needs.
    pub wechatpay_cert_pem: Option<String>,
    /// The Alipay account (2088…) notifications must name as the seller.
    pub alipay_seller_id: Option<String>,
    /// Which API charges payment codes: `v3` (`codepay`) or `v2` (`micropay`, the fallback).
    pub wechatpay_code_api: String,
    /// JSON: the subscribe-message template for booking reminders and how its fields are filled.
    pub booking_reminder_template: Option<String>,
    /// Bumped by every change of the merchant's stores, levels, service items or products, in the same
    /// transaction: the version of checkout's cached copy of them (`service::checkout::reference`).
    pub config_version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
