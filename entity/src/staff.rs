use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "staff")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: i64,
    /// Sign-in name, unique across the whole system.
    #[sea_orm(unique)]
    pub username: String,
    pub display_name: String,
    /// One of `owner`, `manager`, `marketing`, `cashier`, `technician`.
    pub role: String,
    /// PHC string (argon2id).
    pub password_hash: String,
    /// True when the staff member works at every store of the merchant, present and future.
    pub all_stores: bool,
    pub active: bool,
    /// Sealed phone number for SMS reminders.
    pub phone_sealed: Option<String>,
    /// How members see them when booking (e.g. 首席发型师); may be empty.
    pub title: String,
    /// A photo for members choosing a technician.
    pub photo_url: Option<String>,
    /// The owner's word on this member's reprints: None follows the role, Some gives or withdraws it.
    pub may_reprint: Option<bool>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
