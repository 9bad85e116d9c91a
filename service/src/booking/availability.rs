//! Slot search: everything that constrains a store's staff over some local days, loaded in a handful of queries,
//! then the pure arithmetic of [`crate::booking::slots`] per staff member and day. The same loading, inside the booking
//! transaction, is how a booking checks that its time is still free.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use entity::{
    booking_holds, bookings, resources, service_items, staff, staff_shift_exceptions, staff_shifts, staff_skills,
    staff_stores, store_closures, store_hours, stores,
};

use super::calendar::{self, Calendar, weekday};
use super::schedules::AnyonePolicy;
use crate::booking::slots::{self, Day, Span, Step};
use crate::{Error, Result};

/// The longest range one search covers.
pub const MAX_SEARCH_DAYS: i64 = 14;
/// The most services booked in one sequence.
pub const MAX_SERVICES: usize = 5;

/// A staff member who can do every requested service, with the steps the sequence takes in their hands.
#[derive(Clone, Debug)]
pub struct Candidate {
    pub staff: staff::Model,
    pub steps: Vec<Step>,
    /// Per service, what the staff member charges (their own price, or the menu's).
    pub prices: Vec<i64>,
    /// Per service, minutes (their own duration, or the menu's).
    pub durations: Vec<i64>,
}

/// A store's constraints over a UTC window, for the candidates of one request.
pub struct Availability {
    pub store: stores::Model,
    pub calendar: Calendar,
    pub services: Vec<service_items::Model>,
    pub candidates: Vec<Candidate>,
    /// Resource kinds the steps need, by the index steps use, with the store's capacity of each.
    pub kinds: Vec<(String, u32)>,
    hours: Vec<store_hours::Model>,
    closures: BTreeSet<NaiveDate>,
    shifts: Vec<staff_shifts::Model>,
    exceptions: Vec<staff_shift_exceptions::Model>,
    holds: Vec<booking_holds::Model>,
}

/// The requested services, in order, active and the merchant's.
pub async fn services(conn: &impl ConnectionTrait, merchant_id: i64, ids: &[i64]) -> Result<Vec<service_items::Model>> {
    if ids.is_empty() || ids.len() > MAX_SERVICES {
        return Err(Error::invalid("service_ids", format!("one to {MAX_SERVICES} services")));
    }
    let rows = service_items::Entity::find()
        .filter(service_items::Column::MerchantId.eq(merchant_id))
        .filter(service_items::Column::Id.is_in(ids.to_vec()))
        .filter(service_items::Column::Active.eq(true))
        .all(conn)
        .await?;
    ids.iter()
        .map(|id| {
            rows.iter()
                .find(|r| r.id == *id)
                .cloned()
                .ok_or_else(|| Error::invalid("service_ids", format!("no service {id}")))
        })
        .collect()
}

impl Candidate {
    /// When the client leaves, starting at `start`: the end of the last service, before its clean-up.
    pub fn client_end(&self, start: i64) -> i64 {
        let whole = slots::demands(&self.steps, start).whole;
        whole.end - self.steps.last().map_or(0, |s| s.buffer)
    }
}

impl Availability {
    /// Loads what constrains `staff_filter` (or every staff member of the store who can do all `services`) over
    /// `window`, a UTC span on the minute axis. Holds of `ignore_booking` are left out (a booking being moved).
    pub async fn load(
        conn: &impl ConnectionTrait,
        store: stores::Model,
        services: Vec<service_items::Model>,
        staff_filter: Option<i64>,
        window: Span,
        ignore_booking: Option<i64>,
    ) -> Result<Self> {
        let calendar = Calendar::new(&store.timezone);
        let mut kinds: Vec<(String, u32)> = Vec::new();
        for kind in services.iter().filter_map(|s| s.resource_kind.clone()) {
            if !kinds.iter().any(|(k, _)| *k == kind) {
                kinds.push((kind, 0));
            }
        }
        if !kinds.is_empty() {
            for resource in resources::Entity::find()
                .filter(resources::Column::StoreId.eq(store.id))
                .filter(resources::Column::Active.eq(true))
                .all(conn)
                .await?
            {
                if let Some(entry) = kinds.iter_mut().find(|(k, _)| *k == resource.kind) {
                    entry.1 += u32::try_from(resource.capacity).unwrap_or(0);
                }
            }
        }

        let people = working_at(conn, &store, staff_filter).await?;
        let ids: Vec<i64> = people.iter().map(|s| s.id).collect();
        let service_ids: Vec<i64> = services.iter().map(|s| s.id).collect();
        let skills = staff_skills::Entity::find()
            .filter(staff_skills::Column::StaffId.is_in(ids.clone()))
            .filter(staff_skills::Column::ServiceItemId.is_in(service_ids))
            .all(conn)
            .await?;
        let candidates: Vec<Candidate> = people
            .into_iter()
            .filter_map(|person| {
                let mut candidate =
                    Candidate { staff: person, steps: Vec::new(), prices: Vec::new(), durations: Vec::new() };
                for service in &services {
                    let skill =
                        skills.iter().find(|k| k.staff_id == candidate.staff.id && k.service_item_id == service.id)?;
                    let duration = i64::from(skill.duration_min.unwrap_or(service.duration_min));
                    let processing = match (service.processing_offset_min, service.processing_min) {
                        (Some(offset), Some(length)) => Some((i64::from(offset), i64::from(length))),
                        _ => None,
                    };
                    let resource = service.resource_kind.as_ref().and_then(|k| kinds.iter().position(|(n, _)| n == k));
                    candidate.steps.push(Step {
                        duration,
                        buffer: i64::from(service.buffer_min),
                        processing,
                        resource,
                    });
                    candidate.prices.push(skill.price_fen.unwrap_or(service.price_fen));
                    candidate.durations.push(duration);
                }
                Some(candidate)
            })
            .collect();
        let ids: Vec<i64> = candidates.iter().map(|c| c.staff.id).collect();

        let (from, to) = (calendar::from_minutes(window.start), calendar::from_minutes(window.end));
        let first_day = calendar.date_of(from) - Duration::days(1);
        let last_day = calendar.date_of(to) + Duration::days(1);
        let hours = store_hours::Entity::find().filter(store_hours::Column::StoreId.eq(store.id)).all(conn).await?;
        let closures = store_closures::Entity::find()
            .filter(store_closures::Column::StoreId.eq(store.id))
            .filter(store_closures::Column::Day.between(first_day, last_day))
            .all(conn)
            .await?
            .into_iter()
            .map(|c| c.day)
            .collect();
        let shifts = staff_shifts::Entity::find()
            .filter(staff_shifts::Column::StoreId.eq(store.id))
            .filter(staff_shifts::Column::StaffId.is_in(ids.clone()))
            .all(conn)
            .await?;
        let exceptions = staff_shift_exceptions::Entity::find()
            .filter(staff_shift_exceptions::Column::StoreId.eq(store.id))
            .filter(staff_shift_exceptions::Column::StaffId.is_in(ids.clone()))
            .filter(staff_shift_exceptions::Column::Day.between(first_day, last_day))
            .all(conn)
            .await?;
        // Holds a day either side: a booking started before the window can reach into it.
        let mut holds_query = booking_holds::Entity::find()
            .filter(booking_holds::Column::StoreId.eq(store.id))
            .filter(booking_holds::Column::StartsAt.lt(to))
            .filter(booking_holds::Column::EndsAt.gt(from));
        if let Some(booking) = ignore_booking {
            holds_query = holds_query.filter(booking_holds::Column::BookingId.ne(booking));
        }
        let holds = holds_query.all(conn).await?;
        // Another store's bookings also hold a staff member who works at several.
        let mut elsewhere = booking_holds::Entity::find()
            .filter(booking_holds::Column::StoreId.ne(store.id))
            .filter(booking_holds::Column::StaffId.is_in(ids))
            .filter(booking_holds::Column::StartsAt.lt(to))
            .filter(booking_holds::Column::EndsAt.gt(from))
            .all(conn)
            .await?;
        let mut holds = holds;
        holds.append(&mut elsewhere);
        Ok(Self { store, calendar, services, candidates, kinds, hours, closures, shifts, exceptions, holds })
    }

    pub fn is_closed(&self, date: NaiveDate) -> bool {
        self.closures.contains(&date)
    }

    /// When the store is open on `date`.
    pub fn open(&self, date: NaiveDate) -> Vec<Span> {
        if self.is_closed(date) {
            return Vec::new();
        }
        let day = weekday(date);
        self.hours
            .iter()
            .filter(|h| h.weekday == day)
            .map(|h| self.calendar.span(date, h.opens_min, h.closes_min))
            .collect()
    }

    /// A staff member's shifts on `date`, exceptions applied (partial leave is returned as busy time instead).
    pub fn shifts(&self, staff_id: i64, date: NaiveDate) -> (Vec<Span>, Vec<Span>) {
        let todays: Vec<&staff_shift_exceptions::Model> =
            self.exceptions.iter().filter(|e| e.staff_id == staff_id && e.day == date).collect();
        let whole_day_leave = todays.iter().any(|e| e.kind == "leave" && e.starts_min.is_none());
        let day = weekday(date);
        let mut shifts: Vec<Span> = if whole_day_leave {
            Vec::new()
        } else {
            self.shifts
                .iter()
                .filter(|s| s.staff_id == staff_id && s.weekday == day)
                .map(|s| self.calendar.span(date, s.starts_min, s.ends_min))
                .collect()
        };
        let mut leave = Vec::new();
        for e in todays {
            let (Some(from), Some(to)) = (e.starts_min, e.ends_min) else { continue };
            let span = self.calendar.span(date, from, to);
            if e.kind == "extra" {
                shifts.push(span);
            } else {
                leave.push(span);
            }
        }
        (merge(shifts), leave)
    }

    /// Minutes the staff member's bookings hold on `date`.
    pub fn booked_minutes(&self, staff_id: i64, date: NaiveDate) -> i64 {
        let day = self.calendar.day(date);
        self.holds
            .iter()
            .filter(|h| h.staff_id == Some(staff_id))
            .map(|h| {
                let span = Span::new(calendar::minutes(h.starts_at), calendar::minutes(h.ends_at));
                (span.end.min(day.end) - span.start.max(day.start)).max(0)
            })
            .sum()
    }

    /// Booked minutes on `date` of every candidate: what "least busy" compares, computed once per day searched.
    pub fn booked_minutes_on(&self, date: NaiveDate) -> HashMap<i64, i64> {
        self.candidates.iter().map(|c| (c.staff.id, self.booked_minutes(c.staff.id, date))).collect()
    }

    /// Everything constraining one staff member on `date`, for the slot arithmetic.
    pub fn day(&self, staff_id: i64, date: NaiveDate) -> Day {
        let (shifts, leave) = self.shifts(staff_id, date);
        let window = self.calendar.day(date);
        let near = |span: &Span| span.start < window.end + 1440 && span.end > window.start - 1440;
        let mut busy: Vec<Span> = self
            .holds
            .iter()
            .filter(|h| h.staff_id == Some(staff_id))
            .map(|h| Span::new(calendar::minutes(h.starts_at), calendar::minutes(h.ends_at)))
            .filter(near)
            .collect();
        busy.extend(leave);
        let resources = self
            .kinds
            .iter()
            .map(|(kind, capacity)| slots::Resource {
                capacity: *capacity,
                booked: self
                    .holds
                    .iter()
                    .filter(|h| h.resource_kind.as_deref() == Some(kind.as_str()))
                    .map(|h| Span::new(calendar::minutes(h.starts_at), calendar::minutes(h.ends_at)))
                    .filter(near)
                    .collect(),
            })
            .collect();
        Day { open: self.open(date), shifts, busy, resources }
    }

    /// The candidate's free starts on `date`, on the store's grid from local midnight, not before `not_before`.
    pub fn free_starts(&self, candidate: &Candidate, date: NaiveDate, not_before: i64) -> Vec<i64> {
        let granularity = i64::from(self.store.booking_granularity_min.max(5));
        let day = self.day(candidate.staff.id, date);
        let mut starts = slots::free_starts(&day, &candidate.steps, self.calendar.day(date), granularity);
        starts.retain(|start| *start >= not_before);
        starts
    }
}

/// Sorted, overlapping spans joined.
fn merge(mut spans: Vec<Span>) -> Vec<Span> {
    spans.sort();
    let mut merged: Vec<Span> = Vec::new();
    for span in spans {
        match merged.last_mut() {
            Some(last) if span.start <= last.end => last.end = last.end.max(span.end),
            _ => merged.push(span),
        }
    }
    merged
}

/// One free start, with who would take it.
#[derive(Clone, Debug)]
pub struct Slot {
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub staff_id: i64,
    pub staff_name: String,
    /// `chosen`, or the policy that picked the staff member.
    pub assigned_by: &'static str,
}

/// How "anyone" ranks the free staff members at one start: the order to try them in.
pub struct Ranking {
    pub policy: AnyonePolicy,
    /// Staff id → when they were last given a rotation booking here (absent: never).
    pub last_rotation: HashMap<i64, DateTime<Utc>>,
    /// The member's usual staff member here, if any.
    pub usual: Option<i64>,
}

impl Ranking {
    pub async fn load(conn: &impl ConnectionTrait, store: &stores::Model, member_id: Option<i64>) -> Result<Self> {
        let policy = AnyonePolicy::parse(&store.booking_anyone_policy).unwrap_or(AnyonePolicy::LeastBusy);
        let mut last_rotation = HashMap::new();
        if policy == AnyonePolicy::Rotation {
            let rows: Vec<(i64, DateTime<Utc>)> = bookings::Entity::find()
                .select_only()
                .column(bookings::Column::StaffId)
                .column(bookings::Column::CreatedAt)
                .filter(bookings::Column::StoreId.eq(store.id))
                .filter(bookings::Column::AssignedBy.eq("rotation"))
                .order_by_desc(bookings::Column::Id)
                .limit(500)
                .into_tuple()
                .all(conn)
                .await?;
            for (staff_id, at) in rows {
                last_rotation.entry(staff_id).or_insert(at);
            }
        }
        let mut usual = None;
        if let (AnyonePolicy::Usual, Some(member_id)) = (policy, member_id) {
            let past: Vec<i64> = bookings::Entity::find()
                .select_only()
                .column(bookings::Column::StaffId)
                .filter(bookings::Column::StoreId.eq(store.id))
                .filter(bookings::Column::MemberId.eq(member_id))
                .filter(bookings::Column::Status.is_in(["completed", "arrived", "confirmed", "booked"]))
                .order_by_desc(bookings::Column::Id)
                .limit(50)
                .into_tuple()
                .all(conn)
                .await?;
            let mut counts: BTreeMap<i64, usize> = BTreeMap::new();
            for staff_id in &past {
                *counts.entry(*staff_id).or_default() += 1;
            }
            // Most bookings; among equals, the most recent.
            usual = counts
                .iter()
                .max_by_key(|(id, n)| {
                    (**n, std::cmp::Reverse(past.iter().position(|p| p == *id).unwrap_or(usize::MAX)))
                })
                .map(|(id, _)| *id);
        }
        Ok(Self { policy, last_rotation, usual })
    }

    /// Orders the free candidates at one start, best first, and names the rule that put the first there.
    pub fn order<'a>(
        &self,
        booked: &HashMap<i64, i64>,
        mut free: Vec<&'a Candidate>,
    ) -> (Vec<&'a Candidate>, &'static str) {
        let least_busy = |c: &&Candidate| (booked.get(&c.staff.id).copied().unwrap_or(0), c.staff.id);
        match self.policy {
            AnyonePolicy::LeastBusy => {
                free.sort_by_key(least_busy);
                (free, "least_busy")
            }
            AnyonePolicy::Rotation => {
                // Never given one first, then longest ago.
                free.sort_by_key(|c| (self.last_rotation.get(&c.staff.id).copied(), c.staff.id));
                (free, "rotation")
            }
            AnyonePolicy::Usual => {
                free.sort_by_key(least_busy);
                match free.iter().position(|c| Some(c.staff.id) == self.usual) {
                    Some(at) => {
                        let usual = free.remove(at);
                        free.insert(0, usual);
                        (free, "usual")
                    }
                    None => (free, "least_busy"),
                }
            }
        }
    }
}

/// Free starts over `dates` for one chosen staff member, or for "anyone" (one slot per start, assigned by the
/// store's policy), not before `not_before` (axis minutes).
pub fn search(
    availability: &Availability,
    ranking: &Ranking,
    dates: &[NaiveDate],
    chosen: bool,
    not_before: i64,
) -> Vec<Slot> {
    let mut found = Vec::new();
    for date in dates {
        let booked = if chosen { HashMap::new() } else { availability.booked_minutes_on(*date) };
        let mut by_start: BTreeMap<i64, Vec<&Candidate>> = BTreeMap::new();
        for candidate in &availability.candidates {
            for start in availability.free_starts(candidate, *date, not_before) {
                by_start.entry(start).or_default().push(candidate);
            }
        }
        for (start, free) in by_start {
            let (ordered, rule) = if chosen { (free, "chosen") } else { ranking.order(&booked, free) };
            let Some(first) = ordered.first() else { continue };
            found.push(Slot {
                starts_at: calendar::from_minutes(start),
                ends_at: calendar::from_minutes(first.client_end(start)),
                staff_id: first.staff.id,
                staff_name: first.staff.display_name.clone(),
                assigned_by: rule,
            });
        }
    }
    found
}

/// The active staff who work at the store (assigned to it, or to every store), in the order they were added;
/// only `only` when given. Slot search and the technicians members choose from read the same list.
pub(crate) async fn working_at(
    conn: &impl ConnectionTrait,
    store: &stores::Model,
    only: Option<i64>,
) -> Result<Vec<staff::Model>> {
    let mut query = staff::Entity::find()
        .filter(staff::Column::MerchantId.eq(store.merchant_id))
        .filter(staff::Column::Active.eq(true));
    if let Some(id) = only {
        query = query.filter(staff::Column::Id.eq(id));
    }
    let assigned: BTreeSet<i64> = staff_stores::Entity::find()
        .filter(staff_stores::Column::StoreId.eq(store.id))
        .all(conn)
        .await?
        .into_iter()
        .map(|row| row.staff_id)
        .collect();
    Ok(query
        .order_by_asc(staff::Column::Id)
        .all(conn)
        .await?
        .into_iter()
        .filter(|s| s.all_stores || assigned.contains(&s.id))
        .collect())
}
