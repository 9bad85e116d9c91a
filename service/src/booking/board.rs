//! The day board: a store's local day at a glance, a column per staff member (their shifts, leave and bookings)
//! and the rooms and beds in use.

use chrono::NaiveDate;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use entity::{bookings, resources};

use super::availability::Availability;
use super::bookings::{Booker, Booking, get};
use super::calendar::{self, Calendar};
use crate::booking::slots::Span;
use crate::domain::Permission;
use crate::foundation::principal::StaffPrincipal;
use crate::{AppContext, Error, Result};

pub struct Column {
    pub staff_id: i64,
    pub staff_name: String,
    pub shifts: Vec<Span>,
    pub leave: Vec<Span>,
    pub bookings: Vec<Booking>,
}

pub struct DayBoard {
    pub calendar: Calendar,
    pub date: NaiveDate,
    pub closed: bool,
    pub open: Vec<Span>,
    pub columns: Vec<Column>,
    /// Rooms and beds: kind, capacity.
    pub resources: Vec<(String, i32)>,
}

/// The board of `date` (today at the store when absent); one staff member's column when `staff_id` is given.
/// Cancelled bookings are left off.
pub async fn day_board(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    store_id: i64,
    date: Option<NaiveDate>,
    staff_id: Option<i64>,
) -> Result<DayBoard> {
    principal.require(Permission::BookingRead)?;
    let store = crate::foundation::stores::get(ctx, principal, store_id).await?;
    let calendar = Calendar::new(&store.timezone);
    let date = date.unwrap_or_else(|| calendar.today(ctx.now()));
    let day = calendar.day(date);
    let availability = Availability::load(&ctx.db, store.clone(), Vec::new(), staff_id, day, None).await?;
    if let Some(id) = staff_id
        && availability.candidates.is_empty()
    {
        return Err(Error::invalid("staff_id", format!("staff member {id} does not work at this store")));
    }
    let mut query = bookings::Entity::find()
        .filter(bookings::Column::StoreId.eq(store_id))
        .filter(bookings::Column::StartsAt.gte(calendar::from_minutes(day.start)))
        .filter(bookings::Column::StartsAt.lt(calendar::from_minutes(day.end)))
        .filter(bookings::Column::Status.ne("cancelled"));
    if let Some(id) = staff_id {
        query = query.filter(bookings::Column::StaffId.eq(id));
    }
    let rows = query.order_by_asc(bookings::Column::StartsAt).all(&ctx.db).await?;
    let mut columns = Vec::new();
    for candidate in &availability.candidates {
        let (shifts, leave) = availability.shifts(candidate.staff.id, date);
        let mut booked = Vec::new();
        for row in rows.iter().filter(|r| r.staff_id == candidate.staff.id) {
            booked.push(get(ctx, Booker::Staff(principal), row.id).await?);
        }
        if shifts.is_empty() && booked.is_empty() && staff_id.is_none() {
            continue;
        }
        columns.push(Column {
            staff_id: candidate.staff.id,
            staff_name: candidate.staff.display_name.clone(),
            shifts,
            leave,
            bookings: booked,
        });
    }
    let resources = resources::Entity::find()
        .filter(resources::Column::StoreId.eq(store_id))
        .filter(resources::Column::Active.eq(true))
        .order_by_asc(resources::Column::Id)
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|r| (r.kind, r.capacity))
        .collect();
    Ok(DayBoard {
        closed: availability.is_closed(date),
        open: availability.open(date),
        calendar,
        date,
        columns,
        resources,
    })
}
