//! A campaign: a segment reached at a time with a coupon and/or an in-app message, and a control group; or one
//! day's run of an automation.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "campaigns")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: i64,
    pub name: String,
    /// `one_off`, or `automation` (one day's run of `automation_id`).
    pub kind: String,
    /// The segment reached; none for a run of an automation without one.
    pub segment_id: Option<i64>,
    pub coupon_template_id: Option<i64>,
    pub message_title: Option<String>,
    pub message_body: Option<String>,
    /// The SMS template the campaign sends, if any.
    pub sms_template_id: Option<i64>,
    /// The control group's share in basis points (1000 = 10%).
    pub control_bp: i32,
    /// `scheduled`, `running`, `done`, `cancelled` or `failed`.
    pub status: String,
    pub run_at: DateTimeUtc,
    /// The run holding the campaign, until `claimed_until` (renewed as it goes); one that died is taken over after.
    pub claim_token: Option<String>,
    pub claimed_until: Option<DateTimeUtc>,
    /// When the audience was fixed, complete.
    pub assigned_at: Option<DateTimeUtc>,
    /// Why the run gave up, if it did.
    pub failure: Option<String>,
    pub started_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
    /// Members the segment held when it ran, and of them the control group.
    pub audience: i64,
    pub control: i64,
    pub coupons_issued: i64,
    pub messages: i64,
    pub created_by: i64,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// The automation this is a run of.
    pub automation_id: Option<i64>,
    /// The local date (YYYY-MM-DD) of an automation's run: one per automation and date.
    pub occasion: Option<String>,
    /// When staff paused it: it does not run, or its messages are not sent, until resumed.
    pub paused_at: Option<DateTimeUtc>,
    /// When staff stopped it, or its automation ended: nothing more of it is sent.
    pub stopped_at: Option<DateTimeUtc>,
    /// Days after it runs over which its groups are compared (7–90, fixed before it runs).
    pub horizon_days: i32,
    /// How far the campaign's results are kept (`campaign_members`' outcomes, `campaign_results`, `campaign_days`);
    /// none before they begin.
    pub results_until: Option<DateTimeUtc>,
    /// SMS sent and coupon discounts on settled bills so far, campaign-wide.
    pub sms_sent: i64,
    pub coupon_off_fen: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
