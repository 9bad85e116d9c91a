//! Commission one staff member earned (or gave back, negative) on one bill line.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "commissions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: i64,
    pub store_id: i64,
    pub staff_id: i64,
    pub bill_id: i64,
    pub bill_line_id: i64,
    pub refund_id: Option<i64>,
    pub rule_id: Option<i64>,
    /// `consume` (services and products, 耗卡 included) or `card_sale` (开卡/充值).
    pub kind: String,
    pub basis_fen: i64,
    pub amount_fen: i64,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
