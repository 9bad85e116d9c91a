//! A booking's day at the store: check-in opens its bill, then completion, or a no-show marked by staff or by the
//! nightly close of the store's day.

use chrono::NaiveDate;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect, TransactionTrait};
use serde_json::json;

use entity::{booking_holds, bookings, stores};

use super::bookings::{Booker, Booking, LIVE, find, get, items_of, transition, view};
use super::calendar::{self, Calendar};
use super::search::open_store;
use crate::domain::{LineKind, Permission, Points};
use crate::foundation::audit;
use crate::foundation::principal::StaffPrincipal;
use crate::store::print_queue::{self, JobKind};
use crate::{AppContext, Conflict, Error, Result};

/// The member is here: the booking becomes `arrived` and a bill is opened (parked) with its services and staff
/// member, ready for checkout. Checking in twice opens one bill.
pub async fn check_in(ctx: &AppContext, principal: &StaffPrincipal, booking_id: i64) -> Result<Booking> {
    principal.require(Permission::BookingManage)?;
    let booker = Booker::Staff(principal);
    let row = find(&ctx.db, booker, booking_id).await?;
    if row.status == "arrived" && row.bill_id.is_some() {
        return view(ctx, row, booker, true).await;
    }
    if !LIVE.contains(&row.status.as_str()) {
        return Err(Error::Conflict(Conflict::BookingState));
    }
    let store = open_store(&ctx.db, row.merchant_id, row.store_id).await?;
    let calendar = Calendar::new(&store.timezone);
    if calendar.date_of(row.starts_at) != calendar.today(ctx.now()) {
        return Err(Error::invalid("booking", "check-in is on the day of the booking"));
    }
    let items = items_of(&ctx.db, row.id).await?;
    let draft = crate::checkout::bills::BillDraft {
        store_id: row.store_id,
        member_id: Some(row.member_id),
        lines: items
            .iter()
            .map(|item| crate::checkout::bills::LineInput {
                kind: LineKind::Service,
                item_id: Some(item.service_item_id),
                quantity: 1,
                staff: vec![crate::checkout::bills::StaffInput { staff_id: row.staff_id, share_bp: None }],
                count_card_id: None,
                amount_fen: None,
            })
            .collect(),
        points: Points::ZERO,
        coupon_ids: Vec::new(),
        note: format!("预约 #{}", row.id),
    };
    let bill = crate::checkout::bills::park(ctx, principal, draft, &format!("booking-{}-check-in", row.id)).await?;
    let now = ctx.now();
    let txn = ctx.db.begin().await?;
    let moved = bookings::Entity::update_many()
        .col_expr(bookings::Column::Status, Expr::value("arrived"))
        .col_expr(bookings::Column::ArrivedAt, Expr::value(Some(now)))
        .col_expr(bookings::Column::BillId, Expr::value(Some(bill.id)))
        .col_expr(bookings::Column::UpdatedAt, Expr::value(now))
        .filter(bookings::Column::Id.eq(row.id))
        .filter(bookings::Column::Status.is_in(LIVE))
        .exec(&txn)
        .await?;
    if moved.rows_affected == 0 {
        // Someone else checked it in (with the same bill, by the key) or cancelled it meanwhile.
        txn.rollback().await?;
        let again = find(&ctx.db, booker, booking_id).await?;
        return if again.bill_id == Some(bill.id) {
            view(ctx, again, booker, true).await
        } else {
            Err(Error::Conflict(Conflict::BookingState))
        };
    }
    crate::notifications::outbox::withdraw(&txn, row.id, "arrived").await?;
    let ticket = print_queue::Job {
        merchant_id: row.merchant_id,
        store_id: row.store_id,
        kind: JobKind::AppointmentTicket,
        subject_id: row.id,
        stated: None,
    };
    print_queue::queue_into(&txn, ticket).await?;
    audit::by_staff(&txn, principal, "booking.checked_in", ("booking", row.id), json!({ "bill_id": bill.id })).await?;
    txn.commit().await?;
    print_queue::announce(ctx, row.store_id).await;
    get(ctx, booker, booking_id).await
}

pub async fn complete(ctx: &AppContext, principal: &StaffPrincipal, booking_id: i64) -> Result<Booking> {
    principal.require(Permission::BookingManage)?;
    let booker = Booker::Staff(principal);
    let row = find(&ctx.db, booker, booking_id).await?;
    let txn = ctx.db.begin().await?;
    transition(&txn, row.id, &["arrived"], "completed", bookings::Column::FinishedAt, ctx.now()).await?;
    audit::by_staff(&txn, principal, "booking.completed", ("booking", row.id), json!({})).await?;
    txn.commit().await?;
    get(ctx, booker, booking_id).await
}

/// The member did not come: only once the booking has started. Frees the rest of the staff member's time.
pub async fn no_show(ctx: &AppContext, principal: &StaffPrincipal, booking_id: i64) -> Result<Booking> {
    principal.require(Permission::BookingManage)?;
    let booker = Booker::Staff(principal);
    let row = find(&ctx.db, booker, booking_id).await?;
    let now = ctx.now();
    if now < row.starts_at {
        return Err(Error::invalid("booking", "a booking becomes a no-show only after its start"));
    }
    let txn = ctx.db.begin().await?;
    transition(&txn, row.id, &LIVE, "no_show", bookings::Column::FinishedAt, now).await?;
    booking_holds::Entity::delete_many().filter(booking_holds::Column::BookingId.eq(row.id)).exec(&txn).await?;
    crate::notifications::outbox::withdraw(&txn, row.id, "no_show").await?;
    audit::by_staff(&txn, principal, "booking.no_show", ("booking", row.id), json!({})).await?;
    txn.commit().await?;
    get(ctx, booker, booking_id).await
}

/// Marks the live bookings of `day` (a store's local day that has ended) as no-shows: the nightly close of a
/// store's day. Idempotent: a second run finds nothing live.
pub async fn close_day(ctx: &AppContext, store: &stores::Model, day: NaiveDate) -> Result<u64> {
    let calendar = Calendar::new(&store.timezone);
    let span = calendar.day(day);
    let (from, to) = (calendar::from_minutes(span.start), calendar::from_minutes(span.end));
    if to > ctx.now() {
        return Ok(0);
    }
    let txn = ctx.db.begin().await?;
    let ids: Vec<i64> = bookings::Entity::find()
        .select_only()
        .column(bookings::Column::Id)
        .filter(bookings::Column::StoreId.eq(store.id))
        .filter(bookings::Column::StartsAt.gte(from))
        .filter(bookings::Column::StartsAt.lt(to))
        .filter(bookings::Column::Status.is_in(LIVE))
        .into_tuple()
        .all(&txn)
        .await?;
    let now = ctx.now();
    for id in &ids {
        transition(&txn, *id, &LIVE, "no_show", bookings::Column::FinishedAt, now).await?;
        crate::notifications::outbox::withdraw(&txn, *id, "no_show").await?;
    }
    booking_holds::Entity::delete_many().filter(booking_holds::Column::BookingId.is_in(ids.clone())).exec(&txn).await?;
    txn.commit().await?;
    Ok(u64::try_from(ids.len()).unwrap_or(0))
}

/// The nightly close for every store in `timezone`: `day` is the local day that has ended. Returns the stores
/// closed and the no-shows marked.
pub async fn close_day_in_zone(ctx: &AppContext, timezone: &str, day: NaiveDate) -> Result<(u64, u64)> {
    let stores = stores::Entity::find().filter(stores::Column::Timezone.eq(timezone)).all(&ctx.db).await?;
    let mut no_shows = 0;
    for store in &stores {
        no_shows += close_day(ctx, store, day).await?;
    }
    Ok((u64::try_from(stores.len()).unwrap_or(0), no_shows))
}
