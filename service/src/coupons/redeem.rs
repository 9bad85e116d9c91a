//! Coupons on a bill: checked when the bill is priced, held while the bill is parked, used in the settlement's
//! transaction, and given back when the bill is voided, reversed or refunded in full. Each step is one guarded
//! update of a coupon's row (owner, status and validity in its `WHERE`), so a coupon pays for one bill however
//! many settle at once. What each coupon took off is kept in `bill_coupons`, the bill's own record.
//!
//! Policy on giving back: the coupon returns with the validity it was issued with; one that expired meanwhile comes
//! back expired (a refund is not a new offer).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, InsertStatement, OnConflict, Query, UpdateStatement};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};

use entity::{bill_coupons, member_coupons, members};

use super::{Terms, to_coupon};
use crate::checkout::pricing::Priced;
use crate::domain::{CouponStatus, Fen};
use crate::{Conflict, Error, Result};

/// The most coupons one bill may name (when each of them combines with others).
pub const MAX_COUPONS_PER_BILL: usize = 5;

/// A coupon a bill names, checked against the bill's member, store and the time.
#[derive(Clone, Debug)]
pub(crate) struct BillCoupon {
    pub(crate) id: i64,
    pub(crate) template_id: i64,
    pub(crate) terms: Terms,
}

/// The member's coupons a bill at `store_id` names, each checked now (see [`check_one`]): at most
/// [`MAX_COUPONS_PER_BILL`], none twice, one per template. Whether they combine is the price's question. They come
/// back in the order of their ids, so the same coupons price the same however the cashier picked them.
pub(crate) async fn for_bill(
    conn: &impl ConnectionTrait,
    merchant_id: i64,
    member: Option<&members::Model>,
    coupon_ids: &[i64],
    store_id: i64,
    now: DateTime<Utc>,
) -> Result<Vec<BillCoupon>> {
    if coupon_ids.len() > MAX_COUPONS_PER_BILL {
        return Err(Error::invalid("coupon_ids", format!("a bill may use at most {MAX_COUPONS_PER_BILL} coupons")));
    }
    let mut ids = coupon_ids.to_vec();
    ids.sort_unstable();
    if ids.windows(2).any(|pair| pair[0] == pair[1]) {
        return Err(Error::invalid("coupon_ids", "a coupon is named twice"));
    }
    let mut coupons: Vec<BillCoupon> = Vec::with_capacity(ids.len());
    for id in ids {
        let coupon = check_one(conn, merchant_id, member, id, store_id, now).await?;
        if coupons.iter().any(|c| c.template_id == coupon.template_id) {
            return Err(Error::invalid(
                "coupon_ids",
                "a bill uses one coupon of each kind: two were issued from one template",
            ));
        }
        coupons.push(coupon);
    }
    Ok(coupons)
}

/// The member's coupon for a bill at `store_id` now: theirs, not used, valid now and good at the store. One held
/// by another parked bill is caught when it is held or used.
async fn check_one(
    conn: &impl ConnectionTrait,
    merchant_id: i64,
    member: Option<&members::Model>,
    coupon_id: i64,
    store_id: i64,
    now: DateTime<Utc>,
) -> Result<BillCoupon> {
    let member = member.ok_or_else(|| Error::invalid("coupon_ids", "a coupon needs the bill's member"))?;
    let row = member_coupons::Entity::find_by_id(coupon_id)
        .filter(member_coupons::Column::MerchantId.eq(merchant_id))
        .filter(member_coupons::Column::MemberId.eq(member.id))
        .one(conn)
        .await?
        .ok_or_else(|| Error::invalid("coupon_ids", format!("no coupon {coupon_id} of this member")))?;
    let coupon = to_coupon(row, now)?;
    match coupon.state {
        super::CouponState::Usable | super::CouponState::Reserved => {}
        _ => return Err(Error::Conflict(Conflict::CouponUnusable)),
    }
    if !coupon.terms.scope.covers_store(store_id) {
        return Err(Error::invalid("coupon_ids", format!("coupon {coupon_id} is not valid at this store")));
    }
    Ok(BillCoupon { id: coupon.id, template_id: coupon.template_id, terms: coupon.terms })
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
            usable.push(BillCoupon { id: coupon.id, template_id: coupon.template_id, terms: coupon.terms });
        }
    }
    Ok(usable)
}

fn valid_now(now: DateTime<Utc>) -> Condition {
    Condition::all().add(member_coupons::Column::ValidFrom.lte(now)).add(member_coupons::Column::ValidUntil.gte(now))
}

/// The settlement's record of its coupons (`used`, in the order they applied), as one write of its deferred tail:
/// a parked bill's record, made of the same draft, is brought up to date where it stands. None when there are none.
pub(crate) fn record_statement(bill_id: i64, used: &[UsedCoupon]) -> Result<Option<InsertStatement>> {
    if used.is_empty() {
        return Ok(None);
    }
    let mut insert = Query::insert()
        .into_table(bill_coupons::Entity)
        .columns([
            bill_coupons::Column::BillId,
            bill_coupons::Column::CouponId,
            bill_coupons::Column::Position,
            bill_coupons::Column::OffFen,
        ])
        .on_conflict(
            OnConflict::columns([bill_coupons::Column::BillId, bill_coupons::Column::CouponId])
                .update_columns([bill_coupons::Column::Position, bill_coupons::Column::OffFen])
                .to_owned(),
        )
        .to_owned();
    for (position, coupon) in used.iter().enumerate() {
        let position = i32::try_from(position).unwrap_or(i32::MAX);
        let row = [bill_id.into(), coupon.coupon_id.into(), position.into(), coupon.off.get().into()];
        insert.values(row).map_err(anyhow::Error::from)?;
    }
    Ok(Some(insert))
}

/// `coupons` as `priced` applied them: each with what it took off, in the order it applied.
pub(crate) fn as_applied(coupons: &[BillCoupon], priced: &Priced) -> Vec<UsedCoupon> {
    priced
        .coupon_order
        .iter()
        .filter_map(|&index| {
            let coupon = coupons.get(index)?;
            let off = priced.coupons.get(index).copied()?;
            Some(UsedCoupon { coupon_id: coupon.id, name: coupon.terms.name.clone(), off })
        })
        .collect()
}

/// Writes the bill's record of its coupons (`used`, in the order they applied), replacing any it had (a parked bill
/// edited, or settled).
pub(crate) async fn record(conn: &impl ConnectionTrait, bill_id: i64, used: &[UsedCoupon]) -> Result<()> {
    bill_coupons::Entity::delete_many().filter(bill_coupons::Column::BillId.eq(bill_id)).exec(conn).await?;
    if used.is_empty() {
        return Ok(());
    }
    let rows = used.iter().enumerate().map(|(position, coupon)| bill_coupons::ActiveModel {
        bill_id: Set(bill_id),
        coupon_id: Set(coupon.coupon_id),
        position: Set(i32::try_from(position).unwrap_or(i32::MAX)),
        off_fen: Set(coupon.off.get()),
        ..Default::default()
    });
    bill_coupons::Entity::insert_many(rows).exec(conn).await?;
    Ok(())
}

/// A coupon a bill names, as the bill shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsedCoupon {
    pub coupon_id: i64,
    pub name: String,
    pub off: Fen,
}

/// The coupons each of `bill_ids` names, in the order they applied.
pub(crate) async fn of_bills(
    conn: &impl ConnectionTrait,
    bill_ids: &[i64],
) -> Result<std::collections::HashMap<i64, Vec<UsedCoupon>>> {
    let mut by_bill: std::collections::HashMap<i64, Vec<UsedCoupon>> = std::collections::HashMap::new();
    if bill_ids.is_empty() {
        return Ok(by_bill);
    }
    // A coupon row removed since (a member's data erased) leaves the bill's record with no name.
    let rows: Vec<(i64, i64, i64, Option<String>)> = bill_coupons::Entity::find()
        .select_only()
        .column(bill_coupons::Column::BillId)
        .column(bill_coupons::Column::CouponId)
        .column(bill_coupons::Column::OffFen)
        .column_as(Expr::col((member_coupons::Entity, member_coupons::Column::Name)), "name")
        .join(
            sea_orm::JoinType::LeftJoin,
            bill_coupons::Entity::belongs_to(member_coupons::Entity)
                .from(bill_coupons::Column::CouponId)
                .to(member_coupons::Column::Id)
                .into(),
        )
        .filter(bill_coupons::Column::BillId.is_in(bill_ids.iter().copied()))
        .order_by_asc(bill_coupons::Column::BillId)
        .order_by_asc(bill_coupons::Column::Position)
        .into_tuple()
        .all(conn)
        .await?;
    for (bill_id, coupon_id, off, name) in rows {
        let name = name.unwrap_or_default();
        by_bill.entry(bill_id).or_default().push(UsedCoupon { coupon_id, name, off: Fen::new(off) });
    }
    Ok(by_bill)
}

/// Holds one of a parked bill's coupons: usable → reserved.
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

/// Lets go of whatever coupons the parked bill holds: reserved → usable. Returns how many were released.
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
