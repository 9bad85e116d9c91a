//! A coupon on a bill: checked when the bill is priced, held while the bill is parked, used in the settlement's
//! transaction, and given back when the bill is voided, reversed or refunded in full. Each step is one guarded
//! update of the coupon's row (owner, status and validity in its `WHERE`), so a coupon pays for one bill however
//! many settle at once.
//!
//! Policy on giving back: the coupon returns with the validity it was issued with; one that expired meanwhile comes
//! back expired (a refund is not a new offer).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, Query, UpdateStatement};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use entity::{member_coupons, members};

use super::{Terms, to_coupon};
use crate::domain::CouponStatus;
use crate::{Conflict, Error, Result};

/// The coupon a bill names, checked against the bill's member, store and the time.
#[derive(Clone, Debug)]
pub(crate) struct BillCoupon {
    pub(crate) id: i64,
    pub(crate) terms: Terms,
}

/// The member's coupon for a bill at `store_id` now: theirs, not used, valid now and good at the store. One held
/// by another parked bill is caught when it is held or used.
pub(crate) async fn for_bill(
    conn: &impl ConnectionTrait,
    merchant_id: i64,
    member: Option<&members::Model>,
    coupon_id: i64,
    store_id: i64,
    now: DateTime<Utc>,
) -> Result<BillCoupon> {
    let member = member.ok_or_else(|| Error::invalid("coupon_id", "a coupon needs the bill's member"))?;
    let row = member_coupons::Entity::find_by_id(coupon_id)
        .filter(member_coupons::Column::MerchantId.eq(merchant_id))
        .filter(member_coupons::Column::MemberId.eq(member.id))
        .one(conn)
        .await?
        .ok_or_else(|| Error::invalid("coupon_id", "no such coupon of this member"))?;
    let coupon = to_coupon(row, now)?;
    match coupon.state {
        super::CouponState::Usable | super::CouponState::Reserved => {}
        _ => return Err(Error::Conflict(Conflict::CouponUnusable)),
    }
    if !coupon.terms.scope.covers_store(store_id) {
        return Err(Error::invalid("coupon_id", "this coupon is not valid at this store"));
    }
    Ok(BillCoupon { id: coupon.id, terms: coupon.terms })
}

/// The member's coupons a bill at `store_id` could use now, soonest to expire first (the preview's candidates).
pub(crate) async fn usable_for(
    conn: &impl ConnectionTrait,
    merchant_id: i64,
    member_id: i64,
    store_id: i64,
    now: DateTime<Utc>,
) -> Result<Vec<BillCoupon>> {
    let rows = member_coupons::Entity::find()
        .filter(member_coupons::Column::MerchantId.eq(merchant_id))
        .filter(member_coupons::Column::MemberId.eq(member_id))
        .filter(member_coupons::Column::Status.eq(CouponStatus::Usable.as_str()))
        .filter(valid_now(now))
        .order_by_asc(member_coupons::Column::ValidUntil)
        .limit(50)
        .all(conn)
        .await?;
    let mut usable = Vec::with_capacity(rows.len());
    for row in rows {
        let coupon = to_coupon(row, now)?;
        if coupon.terms.scope.covers_store(store_id) {
            usable.push(BillCoupon { id: coupon.id, terms: coupon.terms });
        }
    }
    Ok(usable)
}

fn valid_now(now: DateTime<Utc>) -> Condition {
    Condition::all().add(member_coupons::Column::ValidFrom.lte(now)).add(member_coupons::Column::ValidUntil.gte(now))
}

/// Holds the coupon for a parked bill: usable → reserved.
pub(crate) async fn reserve(
    conn: &impl ConnectionTrait,
    coupon_id: i64,
    bill_id: i64,
    now: DateTime<Utc>,
) -> Result<()> {
    let held = member_coupons::Entity::update_many()
        .col_expr(member_coupons::Column::Status, Expr::value(CouponStatus::Reserved.as_str()))
        .col_expr(member_coupons::Column::BillId, Expr::value(Some(bill_id)))
        .filter(member_coupons::Column::Id.eq(coupon_id))
        .filter(member_coupons::Column::Status.eq(CouponStatus::Usable.as_str()))
        .filter(valid_now(now))
        .exec(conn)
        .await?;
    if held.rows_affected == 1 { Ok(()) } else { Err(Error::Conflict(Conflict::CouponUnusable)) }
}

/// Lets go of whatever coupon the parked bill holds: reserved → usable. Returns how many were released.
pub(crate) async fn release(conn: &impl ConnectionTrait, bill_id: i64) -> Result<u64> {
    Ok(member_coupons::Entity::update_many()
        .col_expr(member_coupons::Column::Status, Expr::value(CouponStatus::Usable.as_str()))
        .col_expr(member_coupons::Column::BillId, Expr::value(Option::<i64>::None))
        .filter(member_coupons::Column::BillId.eq(bill_id))
        .filter(member_coupons::Column::Status.eq(CouponStatus::Reserved.as_str()))
        .exec(conn)
        .await?
        .rows_affected)
}

/// Uses the coupon in the settlement of `bill_id`: usable, or held for this very bill, and valid now → used. The
/// statement must touch exactly one row, or the coupon was not this bill's to use (the settlement's writes send it
/// with their others and check).
pub(crate) fn consume_statement(coupon_id: i64, bill_id: i64, now: DateTime<Utc>) -> UpdateStatement {
    let free_or_ours = Condition::any().add(member_coupons::Column::Status.eq(CouponStatus::Usable.as_str())).add(
        Condition::all()
            .add(member_coupons::Column::Status.eq(CouponStatus::Reserved.as_str()))
            .add(member_coupons::Column::BillId.eq(bill_id)),
    );
    Query::update()
        .table(member_coupons::Entity)
        .value(member_coupons::Column::Status, CouponStatus::Used.as_str())
        .value(member_coupons::Column::BillId, Some(bill_id))
        .value(member_coupons::Column::UsedAt, Some(now))
        .and_where(member_coupons::Column::Id.eq(coupon_id))
        .cond_where(free_or_ours)
        .cond_where(valid_now(now))
        .to_owned()
}

/// Gives back the coupon a reversed or fully refunded bill used: used → usable, no longer linked to the bill.
pub(crate) async fn give_back(conn: &impl ConnectionTrait, bill_id: i64) -> Result<u64> {
    Ok(member_coupons::Entity::update_many()
        .col_expr(member_coupons::Column::Status, Expr::value(CouponStatus::Usable.as_str()))
        .col_expr(member_coupons::Column::BillId, Expr::value(Option::<i64>::None))
        .col_expr(member_coupons::Column::UsedAt, Expr::value(Option::<DateTime<Utc>>::None))
        .filter(member_coupons::Column::BillId.eq(bill_id))
        .filter(member_coupons::Column::Status.eq(CouponStatus::Used.as_str()))
        .exec(conn)
        .await?
        .rows_affected)
}
