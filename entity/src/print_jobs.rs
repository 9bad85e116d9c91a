//! A receipt (or other slip) waiting for, or done by, a store printer.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "print_jobs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: i64,
    pub store_id: i64,
    /// `bill_receipt`, `recharge_receipt`, `count_card_slip`, `refund_receipt`, `appointment_ticket`,
    /// `handover_summary` or `test_page`.
    pub kind: String,
    /// The bill id, the recharge's journal entry id, the refund's id, the booking id or the handover id.
    pub subject_id: i64,
    /// `queued`, `sent` (a bridge spooled it), `printed`, `held` or `failed`.
    pub status: String,
    pub created_at: DateTimeUtc,
    pub printed_at: Option<DateTimeUtc>,
    /// The printer it was routed to (when a bridge took it).
    pub printer_id: Option<i64>,
    /// 0 for the first print; a reprint is the next copy.
    pub copy: i32,
    /// `paper_out`, `cover_open` or `offline`: why the printer holds it.
    pub hold_reason: Option<String>,
    /// When a bridge spooled it.
    pub received_at: Option<DateTimeUtc>,
    /// Who asked for it (a reprint or a test page).
    pub requested_by: Option<i64>,
    /// JSON: what the slip states that later events change, as of when its subject was written (a reprint copies
    /// it). None on jobs that state nothing of the kind.
    pub stated: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
