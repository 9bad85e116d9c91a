use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "members")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: i64,
    pub home_store_id: Option<i64>,
    /// Display name the member chose (not personal data in the legal sense; may be empty).
    pub nickname: String,
    /// Real name, sealed by the vault.
    pub name_sealed: Option<String>,
    /// Blind index of the normalised real name, for exact look-up.
    pub name_index: Option<String>,
    /// Phone number (E.164-less mainland form), sealed by the vault.
    pub phone_sealed: Option<String>,
    /// Blind index of the phone number; unique per merchant.
    pub phone_index: Option<String>,
    /// `female`, `male` or `unknown`.
    pub gender: String,
    pub birthday: Option<Date>,
    /// Birthday month 1–12, kept apart so "birthdays this month" is an index scan.
    pub birth_month: Option<i32>,
    /// Birthday's day of the month 1–31, plain beside the month for "birthday within N days" (the year stays sealed).
    pub birth_day: Option<i32>,
    pub level_id: Option<i64>,
    pub total_spend_fen: i64,
    pub total_recharge_fen: i64,
    /// JSON object of free-form preferences (favourite stylist, drink, music...).
    pub preferences: String,
    /// The full birthday, sealed (`birthday` is plain only in rows written before sealing).
    pub birthday_sealed: Option<String>,
    /// Preferences (JSON), sealed (`preferences` is plain only in rows written before sealing).
    pub preferences_sealed: Option<String>,
    /// `desk`, `wechat`, `alipay` or `sandbox`: where the member record was created.
    pub source: String,
    pub anonymised_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
