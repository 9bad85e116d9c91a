//! Members rate a visit: 1–5 stars and a comment for each technician who worked on a settled bill of theirs, once
//! each, within 30 days. Staff see each technician's figures and the latest comments per store (the staff
//! performance report).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait,
};
use serde_json::json;

use entity::{bill_lines, bills, staff, visit_ratings};

use crate::booking::calendar::Calendar;
use crate::commission::StaffShare;
use crate::domain::{BillStatus, LineKind, Permission};
use crate::error::is_unique_violation;
use crate::foundation::audit::{self, Actor, Event};
use crate::foundation::principal::StaffPrincipal;
use crate::members::auth::MemberPrincipal;
use crate::{AppContext, Conflict, Error, Result};

/// How long after a visit it can be rated (the `not_rateable` message says so too).
pub const RATING_WINDOW_DAYS: i64 = 30;

#[derive(Clone, Debug)]
pub struct Rating {
    pub stars: i32,
    pub comment: Option<String>,
    pub rated_at: DateTime<Utc>,
}

/// A technician who worked on a bill, and the member's rating of them if given.
#[derive(Clone, Debug)]
pub struct Technician {
    pub staff_id: i64,
    pub name: String,
    pub title: String,
    pub photo_url: Option<String>,
    pub rating: Option<Rating>,
}

/// What the member can rate on a visit.
#[derive(Clone, Debug)]
pub struct Visit {
    pub bill_id: i64,
    /// False when the visit is not settled or older than the rating window.
    pub open: bool,
    pub technicians: Vec<Technician>,
}

pub struct RatingInput {
    pub staff_id: i64,
    pub stars: i32,
    pub comment: Option<String>,
}

/// The technicians on a bill of mine and what I gave each.
pub async fn of_my_bill(ctx: &AppContext, me: &MemberPrincipal, bill_id: i64) -> Result<Visit> {
    let bill = my_bill(ctx, me, bill_id).await?;
    visit(ctx, &bill).await
}

/// Rates technicians of a settled bill of mine; each at most once.
pub async fn rate(ctx: &AppContext, me: &MemberPrincipal, bill_id: i64, inputs: Vec<RatingInput>) -> Result<Visit> {
    let bill = my_bill(ctx, me, bill_id).await?;
    let current = visit(ctx, &bill).await?;
    if !current.open {
        return Err(Error::Conflict(Conflict::NotRateable));
    }
    if inputs.is_empty() || inputs.len() > current.technicians.len() {
        return Err(Error::invalid("ratings", "rate one or more of the visit's technicians, each once"));
    }
    let mut checked: Vec<RatingInput> = Vec::with_capacity(inputs.len());
    for input in inputs {
        let Some(technician) = current.technicians.iter().find(|t| t.staff_id == input.staff_id) else {
            return Err(Error::invalid("staff_id", "this staff member did not work on this visit"));
        };
        if checked.iter().any(|c| c.staff_id == input.staff_id) {
            return Err(Error::invalid("staff_id", "each technician is rated once"));
        }
        if technician.rating.is_some() {
            return Err(Error::Conflict(Conflict::AlreadyRated));
        }
        if !(1..=5).contains(&input.stars) {
            return Err(Error::invalid("stars", "must be 1 to 5"));
        }
        let comment = input.comment.as_deref().map(str::trim).filter(|c| !c.is_empty()).map(str::to_owned);
        if comment.as_ref().is_some_and(|c| c.chars().count() > 300) {
            return Err(Error::invalid("comment", "must be at most 300 characters"));
        }
        checked.push(RatingInput { comment, ..input });
    }
    let txn = ctx.db.begin().await?;
    for RatingInput { staff_id, stars, comment } in checked {
        let inserted = visit_ratings::ActiveModel {
            merchant_id: Set(me.merchant_id),
            store_id: Set(bill.store_id),
            member_id: Set(me.member_id),
            bill_id: Set(bill.id),
            staff_id: Set(staff_id),
            stars: Set(stars),
            comment: Set(comment),
            created_at: Set(ctx.now()),
            ..Default::default()
        }
        .insert(&txn)
        .await;
        match inserted {
            Ok(_) => {}
            // Two taps at once: the other one rated first.
            Err(error) if is_unique_violation(&error) => return Err(Error::Conflict(Conflict::AlreadyRated)),
            Err(error) => return Err(error.into()),
        }
        audit::record(
            &txn,
            Event {
                merchant_id: Some(me.merchant_id),
                actor: Actor::Member(me.member_id),
                action: "visit.rated",
                target: Some(("bill", bill.id)),
                detail: json!({ "staff_id": staff_id, "stars": stars }),
                ip: None,
            },
        )
        .await?;
    }
    txn.commit().await?;
    visit(ctx, &bill).await
}

async fn my_bill(ctx: &AppContext, me: &MemberPrincipal, bill_id: i64) -> Result<bills::Model> {
    bills::Entity::find_by_id(bill_id)
        .filter(bills::Column::MerchantId.eq(me.merchant_id))
        .filter(bills::Column::MemberId.eq(me.member_id))
        .one(&ctx.db)
        .await?
        .ok_or(Error::NotFound("bill"))
}

async fn visit(ctx: &AppContext, bill: &bills::Model) -> Result<Visit> {
    let settled_within = bill.settled_at.is_some_and(|at| ctx.now() - at <= Duration::days(RATING_WINDOW_DAYS));
    // A visit refunded in full is no longer one to rate.
    let open = bill.status == BillStatus::Settled.as_str() && bill.refunded_fen < bill.total_fen && settled_within;
    // The people on the bill's service lines, in the order they first appear.
    let mut staff_ids: Vec<i64> = Vec::new();
    for line in bill_lines::Entity::find()
        .filter(bill_lines::Column::BillId.eq(bill.id))
        .filter(bill_lines::Column::Kind.eq(LineKind::Service.as_str()))
        .order_by_asc(bill_lines::Column::Id)
        .all(&ctx.db)
        .await?
    {
        let shares: Vec<StaffShare> = crate::domain::stored_json("a line's staff shares", &line.staff)?;
        for share in shares {
            if !staff_ids.contains(&share.staff_id) {
                staff_ids.push(share.staff_id);
            }
        }
    }
    let people: HashMap<i64, staff::Model> = staff::Entity::find()
        .filter(staff::Column::Id.is_in(staff_ids.clone()))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|s| (s.id, s))
        .collect();
    let mut given: HashMap<i64, Rating> = visit_ratings::Entity::find()
        .filter(visit_ratings::Column::BillId.eq(bill.id))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|r| (r.staff_id, Rating { stars: r.stars, comment: r.comment, rated_at: r.created_at }))
        .collect();
    let technicians = staff_ids
        .into_iter()
        .filter_map(|id| people.get(&id).map(|person| (id, person)))
        .map(|(id, person)| Technician {
            staff_id: id,
            name: person.display_name.clone(),
            title: person.title.clone(),
            photo_url: person.photo_url.clone(),
            rating: given.remove(&id),
        })
        .collect();
    Ok(Visit { bill_id: bill.id, open, technicians })
}

/// One technician's ratings at a store over a period.
#[derive(Clone, Debug)]
pub struct StaffRatings {
    pub staff_id: i64,
    pub name: String,
    pub count: u32,
    /// The mean in hundredths of a star (4.67 → 467), rounded half up.
    pub average_centi: u32,
    /// How many of each star value, 1 to 5.
    pub histogram: [u32; 5],
}

#[derive(Clone, Debug)]
pub struct RatingComment {
    pub staff_id: i64,
    pub bill_id: i64,
    pub stars: i32,
    pub comment: String,
    pub rated_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct StoreRatings {
    pub staff: Vec<StaffRatings>,
    /// The latest comments, newest first (at most 50).
    pub comments: Vec<RatingComment>,
}

/// Ratings given at a store from local day `from` to `to` (included), per technician: the staff performance view, for those who read
/// everyone's commission.
pub async fn of_store(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    store_id: i64,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<StoreRatings> {
    principal.require(Permission::CommissionRead)?;
    let store = crate::foundation::stores::in_scope(&ctx.db, principal, store_id).await?;
    let (from, to) = Calendar::new(&store.timezone).period(from, to)?;
    let in_period = || {
        visit_ratings::Entity::find()
            .filter(visit_ratings::Column::MerchantId.eq(principal.merchant_id))
            .filter(visit_ratings::Column::StoreId.eq(store_id))
            .filter(visit_ratings::Column::CreatedAt.gte(from))
            .filter(visit_ratings::Column::CreatedAt.lt(to))
    };
    // Counted by the database: a busy store's year of ratings is never loaded to be counted.
    let counts: Vec<(i64, i32, i64)> = in_period()
        .select_only()
        .column(visit_ratings::Column::StaffId)
        .column(visit_ratings::Column::Stars)
        .column_as(visit_ratings::Column::Id.count(), "n")
        .group_by(visit_ratings::Column::StaffId)
        .group_by(visit_ratings::Column::Stars)
        .into_tuple()
        .all(&ctx.db)
        .await?;
    let mut per_staff: BTreeMap<i64, [u32; 5]> = BTreeMap::new();
    for (staff_id, stars, n) in counts {
        let histogram = per_staff.entry(staff_id).or_default();
        if let Some(slot) = usize::try_from(stars - 1).ok().and_then(|i| histogram.get_mut(i)) {
            *slot += u32::try_from(n).unwrap_or(u32::MAX);
        }
    }
    let names: HashMap<i64, String> = staff::Entity::find()
        .filter(staff::Column::Id.is_in(per_staff.keys().copied()))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|s| (s.id, s.display_name))
        .collect();
    let mut staff: Vec<StaffRatings> = per_staff
        .into_iter()
        .map(|(staff_id, histogram)| StaffRatings {
            staff_id,
            name: names.get(&staff_id).cloned().unwrap_or_default(),
            count: histogram.iter().sum(),
            average_centi: average_centi(&histogram),
            histogram,
        })
        .collect();
    staff.sort_by(|a, b| b.average_centi.cmp(&a.average_centi).then(b.count.cmp(&a.count)));
    let comments = in_period()
        .filter(visit_ratings::Column::Comment.is_not_null())
        .order_by_desc(visit_ratings::Column::Id)
        .limit(50)
        .all(&ctx.db)
        .await?
        .into_iter()
        .filter_map(|r| {
            r.comment.map(|comment| RatingComment {
                staff_id: r.staff_id,
                bill_id: r.bill_id,
                stars: r.stars,
                comment,
                rated_at: r.created_at,
            })
        })
        .collect();
    Ok(StoreRatings { staff, comments })
}

/// The mean of a histogram of 1–5 stars in hundredths of a star, rounded half up (0 for no ratings).
fn average_centi(histogram: &[u32; 5]) -> u32 {
    let count: u64 = histogram.iter().map(|&n| u64::from(n)).sum();
    let stars: u64 = histogram.iter().zip(1u64..).map(|(&n, star)| u64::from(n) * star).sum();
    u32::try_from((stars * 200 + count) / (2 * count.max(1))).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::average_centi;

    #[test]
    fn the_average_rounds_half_up_in_hundredths() {
        // 5, 5, 4 → 4.666… → 467; 4, 5 → 4.5 → 450; a single 1 → 100; 1, 2 → 1.5 → 150; none → 0.
        assert_eq!(average_centi(&[0, 0, 0, 1, 2]), 467);
        assert_eq!(average_centi(&[0, 0, 0, 1, 1]), 450);
        assert_eq!(average_centi(&[1, 0, 0, 0, 0]), 100);
        assert_eq!(average_centi(&[1, 1, 0, 0, 0]), 150);
        assert_eq!(average_centi(&[0; 5]), 0);
    }
}
