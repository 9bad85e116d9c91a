//! One line of a bill: what was sold, at what price, as it was at settlement.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "bill_lines")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub bill_id: i64,
    /// `service`, `product`, `card_sale` (a count card sold) or `recharge`.
    pub kind: String,
    pub item_id: i64,
    pub name: String,
    pub category: String,
    pub quantity: i32,
    pub unit_price_fen: i64,
    pub amount_fen: i64,
    /// JSON array of {staff_id, share_bp}: who did the work or made the sale.
    pub staff: String,
    /// Level discount on this line.
    pub discount_fen: i64,
    /// This line's share of the bill's points offset.
    pub points_offset_fen: i64,
    /// What tenders paid for this line: amount − discount − points offset (0 when a count card paid).
    pub net_fen: i64,
    /// The count card whose sessions paid for this line.
    pub count_card_id: Option<i64>,
    /// Revenue recognised from the count card's deferred value.
    pub recognised_fen: i64,
    pub points_earned: i64,
    pub refunded_quantity: i32,
    pub refunded_fen: i64,
    /// JSON: what a `card_sale` or `recharge` line created (card id, bonus).
    pub detail: String,
    /// Points a gift line spent (its price in points × quantity).
    pub points_redeemed: i64,
    /// This line's share of the bill's coupon.
    pub coupon_fen: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
