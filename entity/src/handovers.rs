//! A shift handover (交班): what one cashier took per payment method between two instants.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "handovers")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: i64,
    pub store_id: i64,
    pub staff_id: i64,
    pub from_at: DateTimeUtc,
    pub to_at: DateTimeUtc,
    /// JSON object: payment method (`cash`, `bank_card`, `wechat_pay`, `alipay`) → net fen taken.
    pub takings: String,
    /// JSON object: entry kind (`sale`, `recharge`, `refund`, …) → how many.
    pub entries: String,
    pub total_fen: i64,
    /// The cash the cashier counted in the drawer at the handover.
    pub cash_counted_fen: Option<i64>,
    /// The cash left in the drawer for the next shift (备用金).
    pub float_fen: Option<i64>,
    /// Counted minus expected (the float the shift started with plus its cash takings): over when positive.
    pub over_short_fen: Option<i64>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
