//! A member of a campaign's audience, fixed when it ran: their bucket and whether they are in the control group.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "campaign_members")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub campaign_id: i64,
    pub member_id: i64,
    /// 0–9999, from a hash of the merchant's salt, the campaign and the member.
    pub bucket: i32,
    pub in_control: bool,
    pub assigned_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
