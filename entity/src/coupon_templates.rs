//! What a coupon offers, to whom and how many: members' coupons are copies of its terms at issue.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "coupon_templates")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub merchant_id: i64,
    pub name: String,
    /// `amount`, `percent`, `spend_off` or `free_item`.
    pub kind: String,
    pub value_fen: i64,
    /// `percent`: the share the member pays, in basis points (8500 = 85折).
    pub rate_bp: i32,
    pub cap_fen: Option<i64>,
    pub threshold_fen: i64,
    /// `free_item`: `service` or `product`.
    pub free_item_kind: Option<String>,
    pub free_item_id: Option<i64>,
    /// JSON: store_ids, categories, service_ids, product_ids; empty lists mean any.
    pub scope: String,
    pub stacks_with_level: bool,
    pub stacks_with_points: bool,
    /// Combines with other coupons on one bill (each of them must say so).
    pub stacks_with_coupons: bool,
    pub valid_from: Option<DateTimeUtc>,
    pub valid_until: Option<DateTimeUtc>,
    /// Valid this many days from issue, to the end of the last day in the merchant's zone.
    pub valid_days: Option<i32>,
    pub claim_from: Option<DateTimeUtc>,
    pub claim_until: Option<DateTimeUtc>,
    pub total_stock: Option<i64>,
    /// Stock left; `None` is unlimited.
    pub remaining: Option<i64>,
    pub per_member_limit: i32,
    /// Shown in the members' coupon center.
    pub claimable: bool,
    /// `join`: issued to each new member, once; `birthday`: once a year before the birthday; `purchase`: with a
    /// bill paying at least `purchase_min_fen`.
    pub auto_grant: Option<String>,
    /// `birthday`: how many days before the birthday it is issued.
    pub birthday_days_before: i32,
    /// Points a member exchanges for one in the coupon center (积分兑换券); `None`: free to claim.
    pub points_price: Option<i64>,
    /// `purchase`: a settled bill paying at least this gives its member one (满赠).
    pub purchase_min_fen: Option<i64>,
    /// The most its coupons may take off bills, in fen; `None`: no budget.
    pub budget_fen: Option<i64>,
    /// Budget left: each coupon issued takes its largest possible discount from it.
    pub budget_left_fen: Option<i64>,
    /// `active`, `paused` or `ended`.
    pub status: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
