//! Slot search for members and staff: the free starts of a sequence of services at a store over some days, with a
//! staff member or anyone, and why there are none when a named staff member cannot be booked.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};

use entity::{service_items, stores};

use super::availability::{self, Availability, MAX_SEARCH_DAYS, Ranking, Slot};
use super::calendar::{self, Calendar};
use crate::booking::slots::Span;
use crate::domain::Permission;
use crate::foundation::principal::StaffPrincipal;
use crate::members::auth::MemberPrincipal;
use crate::{AppContext, Error, Result};

pub struct SearchInput {
    pub store_id: i64,
    pub service_ids: Vec<i64>,
    /// First local day; today when absent.
    pub from: Option<NaiveDate>,
    /// How many days, 1–14 (7 when absent).
    pub days: Option<i64>,
    pub staff_id: Option<i64>,
    /// Staff searching for a member: their usual staff member counts for the "usual" policy.
    pub member_id: Option<i64>,
}

pub struct SlotSearch {
    pub calendar: Calendar,
    pub slots: Vec<Slot>,
}

pub(super) async fn open_store(conn: &impl ConnectionTrait, merchant_id: i64, store_id: i64) -> Result<stores::Model> {
    stores::Entity::find_by_id(store_id)
        .filter(stores::Column::MerchantId.eq(merchant_id))
        .filter(stores::Column::Active.eq(true))
        .one(conn)
        .await?
        .ok_or_else(|| Error::invalid("store_id", "no such store"))
}

/// Why a chosen staff member is not a candidate: not theirs to book, or a service they don't do.
pub(super) async fn explain_missing_staff(
    conn: &impl ConnectionTrait,
    store: &stores::Model,
    staff_id: i64,
    services: &[service_items::Model],
) -> Error {
    if let Err(error) = super::schedules::staff_at_store(conn, store.merchant_id, staff_id, store.id).await {
        return error;
    }
    let skills: Vec<i64> = entity::staff_skills::Entity::find()
        .select_only()
        .column(entity::staff_skills::Column::ServiceItemId)
        .filter(entity::staff_skills::Column::StaffId.eq(staff_id))
        .into_tuple()
        .all(conn)
        .await
        .unwrap_or_default();
    match services.iter().find(|s| !skills.contains(&s.id)) {
        Some(service) => Error::invalid("staff_id", format!("this staff member does not do {}", service.name)),
        None => Error::invalid("staff_id", "this staff member cannot take this booking"),
    }
}

/// Dates to search: from `from` (today when absent), `days` of them, inside `[today, today + horizon)`.
fn dates(
    calendar: &Calendar,
    now: DateTime<Utc>,
    from: Option<NaiveDate>,
    days: Option<i64>,
    horizon: i64,
) -> Result<Vec<NaiveDate>> {
    let today = calendar.today(now);
    let days = days.unwrap_or(7);
    if !(1..=MAX_SEARCH_DAYS).contains(&days) {
        return Err(Error::invalid("days", format!("must be 1–{MAX_SEARCH_DAYS}")));
    }
    let from = from.unwrap_or(today);
    if from < today {
        return Err(Error::invalid("from", "must be today or later"));
    }
    let last = today + Duration::days(horizon);
    Ok((0..days).map(|d| from + Duration::days(d)).filter(|d| *d < last).collect())
}

async fn search(
    ctx: &AppContext,
    merchant_id: i64,
    member_id: Option<i64>,
    input: SearchInput,
    horizon_for_staff: bool,
) -> Result<SlotSearch> {
    // The store is named in the path here: one that is not the merchant's (or not open) is not found.
    let store = open_store(&ctx.db, merchant_id, input.store_id).await.map_err(|error| match error {
        Error::Invalid { .. } => Error::NotFound("store"),
        other => other,
    })?;
    let services = availability::services(&ctx.db, merchant_id, &input.service_ids).await?;
    let calendar = Calendar::new(&store.timezone);
    let now = ctx.now();
    let horizon = if horizon_for_staff { 365 } else { i64::from(store.booking_horizon_days) };
    let dates = dates(&calendar, now, input.from, input.days, horizon)?;
    let (Some(first), Some(last)) = (dates.first(), dates.last()) else {
        return Ok(SlotSearch { calendar, slots: Vec::new() });
    };
    let window = Span::new(calendar.day(*first).start, calendar.day(*last).end);
    let ranking = Ranking::load(&ctx.db, &store, member_id).await?;
    let availability =
        Availability::load(&ctx.db, store.clone(), services.clone(), input.staff_id, window, None).await?;
    if let Some(staff_id) = input.staff_id
        && availability.candidates.is_empty()
    {
        return Err(explain_missing_staff(&ctx.db, &store, staff_id, &services).await);
    }
    let slots =
        availability::search(&availability, &ranking, &dates, input.staff_id.is_some(), calendar::minutes(now) + 1);
    Ok(SlotSearch { calendar, slots })
}

/// Free slots as members see them: the store's horizon, their usual staff member for the "usual" policy.
pub async fn search_for_member(
    ctx: &AppContext,
    principal: &MemberPrincipal,
    mut input: SearchInput,
) -> Result<SlotSearch> {
    input.member_id = None;
    search(ctx, principal.merchant_id, Some(principal.member_id), input, false).await
}

pub async fn search_for_staff(ctx: &AppContext, principal: &StaffPrincipal, input: SearchInput) -> Result<SlotSearch> {
    principal.require(Permission::BookingRead)?;
    principal.require_store(input.store_id)?;
    let member = input.member_id;
    search(ctx, principal.merchant_id, member, input, true).await
}
