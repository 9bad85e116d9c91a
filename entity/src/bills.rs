//! A bill (账单) at a store: its lines, tenders and the journal entry that settled it.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "bills")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: i64,
    pub store_id: i64,
    pub member_id: Option<i64>,
    /// `parked` (挂单), `settled`, `voided` (never settled) or `reversed` (反结账). Partial refunds keep `settled`.
    pub status: String,
    pub subtotal_fen: i64,
    pub total_fen: i64,
    pub change_fen: i64,
    pub idempotency_key: String,
    pub fingerprint: String,
    pub entry_id: Option<i64>,
    pub created_by: i64,
    pub created_at: DateTimeUtc,
    pub settled_at: Option<DateTimeUtc>,
    /// Level discount over all lines.
    pub discount_fen: i64,
    pub points_used: i64,
    pub points_offset_fen: i64,
    pub points_earned: i64,
    pub refunded_fen: i64,
    /// The member's level when the bill was priced.
    pub level_id: Option<i64>,
    pub note: String,
    /// JSON of the request a parked bill will settle with (lines, points, tenders).
    pub request: String,
    /// When the member consented to the bill's stored-value or count-card debit: confirmed in the mini-program, or
    /// (set at settlement) by a fresh member code.
    pub member_confirmed_at: Option<DateTimeUtc>,
    /// The digest of the bill the member confirmed in the mini-program (its draft and total as they saw it).
    pub member_confirmed_digest: Option<String>,
    /// Stored value and count-card value the settlement took from the member (what the consent threshold counts).
    pub member_debit_fen: i64,
    /// When it was voided or reversed, and by whom.
    pub closed_at: Option<DateTimeUtc>,
    pub closed_by: Option<i64>,
    /// What the bill's coupons took off (each coupon's share is in `bill_coupons`).
    pub coupon_fen: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
