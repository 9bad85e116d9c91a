use sea_orm::entity::prelude::*;

// Deserialize: the look-up of a member reads these rows as JSON the database builds (`service::members::read`).
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Deserialize)]
#[sea_orm(table_name = "member_allergies")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: i64,
    pub member_id: i64,
    /// The substance or condition (e.g. "PPD hair dye", "pregnancy"), sealed.
    pub substance_sealed: String,
    /// `mild`, `moderate` or `severe`.
    pub severity: String,
    pub note_sealed: Option<String>,
    /// The staff member's id, or the member's own when `reported_by` is `member`.
    pub created_by: i64,
    pub created_at: DateTimeUtc,
    /// `staff` (recorded at the desk) or `member` (told in the app).
    pub reported_by: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
