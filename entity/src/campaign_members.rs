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
    /// The member's home store when the campaign's results began to be kept: the report per store counts them there.
    pub home_store_id: Option<i64>,
    /// Their outcome so far over the horizon (brought up to `campaigns.results_until`): settled visits, recognised
    /// revenue, stored value recharged and bonus granted, in fen.
    pub bills: i64,
    pub revenue_fen: i64,
    pub recharge_fen: i64,
    pub bonus_fen: i64,
    /// Their first message of the campaign sent, and the revenue within the attribution days after it.
    pub first_sent_at: Option<DateTimeUtc>,
    pub attributed_fen: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
