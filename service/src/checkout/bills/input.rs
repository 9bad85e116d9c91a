//! What a cashier sends: a bill's draft (lines, member, points) and its tenders.

use serde::{Deserialize, Serialize};

use crate::domain::{Fen, LineKind, Points, TenderKind};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct StaffInput {
    pub staff_id: i64,
    /// Share of the line in basis points; when no staff member on a line gives one, they share equally.
    pub share_bp: Option<i64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LineInput {
    pub kind: LineKind,
    /// The service item, product, count-card product or recharge plan.
    pub item_id: Option<i64>,
    pub quantity: i32,
    #[serde(default)]
    pub staff: Vec<StaffInput>,
    /// Services only: pay with this count card's sessions.
    pub count_card_id: Option<i64>,
    /// Recharges without a plan: the amount.
    pub amount_fen: Option<Fen>,
}

/// What a bill is made of, before tenders: what preview prices and parking keeps.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BillDraft {
    pub store_id: i64,
    pub member_id: Option<i64>,
    pub lines: Vec<LineInput>,
    /// Points to use as an offset.
    #[serde(default)]
    pub points: Points,
    /// The member's coupons: one, or several that each combine with others.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub coupon_ids: Vec<i64>,
    #[serde(default)]
    pub note: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TenderInput {
    /// A cashier names `stored_value`, `cash` or `bank_card`; `wechat_pay` and `alipay` come only from a payment.
    pub kind: TenderKind,
    pub amount_fen: Fen,
    /// Cash only: what the customer handed over, when more than `amount_fen`.
    pub tendered_fen: Option<Fen>,
}

pub struct SettleInput {
    pub draft: BillDraft,
    pub tenders: Vec<TenderInput>,
    pub idempotency_key: String,
    /// A fresh member code scanned at the counter, confirming a large stored-value or count-card debit.
    pub member_code: Option<String>,
}

pub struct SettleParkedInput {
    pub tenders: Vec<TenderInput>,
    pub member_code: Option<String>,
}
