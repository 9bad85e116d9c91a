//! The booking lifecycle: booked (by the member in the mini-program or by staff at the desk) → confirmed →
//! arrived (check-in opens a bill) → completed; or cancelled (late when inside the store's cutoff) or no-show;
//! rescheduled while still ahead.
//!
//! **Never double-booked.** A booking, a reschedule, a cancellation all lock the store's row first, then re-read
//! what holds the staff member and the rooms inside that transaction and check the time with the same arithmetic
//! slot search uses. Two requests for the same time serialise on the lock: the second sees the first's holds and
//! gets `slot_taken`. A member tapping twice is recognised by the idempotency key, or, without one, by finding
//! their live booking at the same store, start and services.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use serde_json::json;

use entity::{booking_holds, booking_items, bookings, service_items, staff, stores};

use super::availability::{self, Availability, Candidate, Ranking};
use super::calendar::{self, Calendar};
use super::search::{explain_missing_staff, open_store};
use crate::booking::slots::{self};
use crate::domain::{BookingStatus, IdempotencyKey, Permission, fingerprint};
use crate::error::is_unique_violation;
use crate::foundation::audit;
use crate::foundation::principal::StaffPrincipal;
use crate::members::allergies::AllergyMatch;
use crate::members::auth::MemberPrincipal;
use crate::{AppContext, Conflict, Error, Result};

/// Statuses that still hold time.
pub const LIVE: [&str; 2] = ["booked", "confirmed"];

/// Who is asking.
#[derive(Clone, Copy)]
pub enum Booker<'a> {
    Member(&'a MemberPrincipal),
    Staff(&'a StaffPrincipal),
}

impl Booker<'_> {
    fn merchant_id(&self) -> i64 {
        match self {
            Booker::Member(p) => p.merchant_id,
            Booker::Staff(p) => p.merchant_id,
        }
    }
}

pub struct BookInput {
    pub store_id: i64,
    /// Staff bookings name the member; members book for themselves.
    pub member_id: Option<i64>,
    pub service_ids: Vec<i64>,
    pub starts_at: DateTime<Utc>,
    /// None: "anyone", assigned by the store's policy.
    pub staff_id: Option<i64>,
    pub note: String,
    pub idempotency_key: Option<String>,
}

/// How often a member failed to come.
#[derive(Clone, Copy, Debug, Default)]
pub struct MemberRecord {
    pub no_shows: u64,
    pub late_cancellations: u64,
}

#[derive(Clone, Debug)]
pub struct Booking {
    pub row: bookings::Model,
    /// Where it stands (`row.status`, read once and checked).
    pub status: BookingStatus,
    pub items: Vec<booking_items::Model>,
    pub calendar: Calendar,
    pub store_name: String,
    pub staff_name: String,
    /// From then on (the store's cutoff before the start) a member's cancellation counts as late and they can no
    /// longer reschedule it themselves.
    pub member_changes_close_at: DateTime<Utc>,
    /// Staff views only: who is coming (masked unless the viewer may see contact details).
    pub member_label: Option<String>,
    /// Staff views only: matching allergy notes and the member's record.
    pub allergies: Vec<AllergyMatch>,
    pub record: Option<MemberRecord>,
    /// The same booking was asked for again (a second tap, a retried request).
    pub duplicate: bool,
}

// ---------------------------------------------------------------------------------------------------------------
// Slot search

// ---------------------------------------------------------------------------------------------------------------
// Booking

fn booking_fingerprint(input: &BookInput, member_id: i64) -> String {
    fingerprint(&json!({
        "store": input.store_id, "member": member_id, "services": input.service_ids,
        "starts_at": input.starts_at.timestamp(), "staff": input.staff_id,
    }))
}

async fn replay(
    ctx: &AppContext,
    merchant_id: i64,
    key: &IdempotencyKey,
    fingerprint: &str,
) -> Result<Option<bookings::Model>> {
    let found = bookings::Entity::find()
        .filter(bookings::Column::MerchantId.eq(merchant_id))
        .filter(bookings::Column::IdempotencyKey.eq(key.as_str()))
        .one(&ctx.db)
        .await?;
    match found {
        Some(row) if row.fingerprint.as_deref() == Some(fingerprint) => Ok(Some(row)),
        Some(_) => Err(Error::Conflict(Conflict::IdempotencyKeyReused)),
        None => Ok(None),
    }
}

/// The member's live booking at this store, start and services: the same booking asked for twice.
async fn same_booking(
    conn: &impl ConnectionTrait,
    member_id: i64,
    store_id: i64,
    starts_at: DateTime<Utc>,
    service_ids: &[i64],
) -> Result<Option<bookings::Model>> {
    let rows = bookings::Entity::find()
        .filter(bookings::Column::MemberId.eq(member_id))
        .filter(bookings::Column::StoreId.eq(store_id))
        .filter(bookings::Column::StartsAt.eq(starts_at))
        .filter(bookings::Column::Status.is_in(LIVE))
        .all(conn)
        .await?;
    for row in rows {
        let items: Vec<i64> = booking_items::Entity::find()
            .select_only()
            .column(booking_items::Column::ServiceItemId)
            .filter(booking_items::Column::BookingId.eq(row.id))
            .order_by_asc(booking_items::Column::Seq)
            .into_tuple()
            .all(conn)
            .await?;
        if items == service_ids {
            return Ok(Some(row));
        }
    }
    Ok(None)
}

/// Says why nobody can take `start`: a closed day, outside opening hours, nobody on shift; else the time is taken.
fn refusal(availability: &Availability, candidates: &[&Candidate], date: NaiveDate, start: i64) -> Error {
    if availability.is_closed(date) {
        return Error::invalid("starts_at", format!("the store is closed on {date}"));
    }
    let open = availability.open(date);
    let on_shift = |c: &Candidate| {
        let whole = slots::demands(&c.steps, start).whole;
        if !open.iter().any(|o| o.start <= whole.start && whole.end <= o.end) {
            return Err(Error::invalid("starts_at", "the store is not open for the whole booking then"));
        }
        let (shifts, _) = availability.shifts(c.staff.id, date);
        Ok(shifts.iter().any(|s| s.start <= whole.start && whole.end <= s.end))
    };
    let mut anyone_on_shift = false;
    for candidate in candidates {
        match on_shift(candidate) {
            Err(error) => return error,
            Ok(true) => anyone_on_shift = true,
            Ok(false) => {}
        }
    }
    if candidates.is_empty() {
        return Error::invalid("service_ids", "no staff member at this store does these services");
    }
    if !anyone_on_shift {
        return Error::invalid("starts_at", "no staff member who does these services is working then");
    }
    Error::Conflict(Conflict::SlotTaken)
}

/// Writes the items and holds of a booking placed at `start` with `candidate`.
async fn place(
    txn: &DatabaseTransaction,
    availability: &Availability,
    booking_id: i64,
    candidate: &Candidate,
    start: i64,
) -> Result<()> {
    let mut at = start;
    for (seq, (service, step)) in availability.services.iter().zip(&candidate.steps).enumerate() {
        booking_items::ActiveModel {
            booking_id: Set(booking_id),
            seq: Set(i32::try_from(seq).unwrap_or(0)),
            service_item_id: Set(service.id),
            name: Set(service.name.clone()),
            price_fen: Set(candidate.prices.get(seq).copied().unwrap_or(service.price_fen)),
            starts_at: Set(calendar::from_minutes(at)),
            ends_at: Set(calendar::from_minutes(at + step.duration)),
            ..Default::default()
        }
        .insert(txn)
        .await?;
        at += step.duration + step.buffer;
    }
    let demands = slots::demands(&candidate.steps, start);
    let mut holds: Vec<booking_holds::ActiveModel> = demands
        .staff
        .iter()
        .map(|span| booking_holds::ActiveModel {
            booking_id: Set(booking_id),
            store_id: Set(availability.store.id),
            staff_id: Set(Some(candidate.staff.id)),
            resource_kind: Set(None),
            starts_at: Set(calendar::from_minutes(span.start)),
            ends_at: Set(calendar::from_minutes(span.end)),
            ..Default::default()
        })
        .collect();
    for (index, span) in &demands.resources {
        let Some((kind, _)) = availability.kinds.get(*index) else { continue };
        holds.push(booking_holds::ActiveModel {
            booking_id: Set(booking_id),
            store_id: Set(availability.store.id),
            staff_id: Set(None),
            resource_kind: Set(Some(kind.clone())),
            starts_at: Set(calendar::from_minutes(span.start)),
            ends_at: Set(calendar::from_minutes(span.end)),
            ..Default::default()
        });
    }
    booking_holds::Entity::insert_many(holds).exec(txn).await?;
    Ok(())
}

/// Locks the store row: every change to a store's bookings is serialised by it (PostgreSQL `FOR UPDATE`; SQLite
/// writes are serial anyway).
async fn lock_store(txn: &DatabaseTransaction, store_id: i64) -> Result<stores::Model> {
    stores::Entity::find_by_id(store_id).lock_exclusive().one(txn).await?.ok_or(Error::NotFound("store"))
}

/// Books a member: by themselves in the mini-program, or by staff at the desk.
pub async fn book(ctx: &AppContext, booker: Booker<'_>, input: BookInput) -> Result<Booking> {
    let merchant_id = booker.merchant_id();
    let (member_id, source, staff_id) = match booker {
        Booker::Member(p) => (p.member_id, "mini", None),
        Booker::Staff(p) => {
            p.require(Permission::BookingManage)?;
            p.require_store(input.store_id).map_err(|_| Error::invalid("store_id", "no such store"))?;
            let member = input.member_id.ok_or_else(|| Error::invalid("member_id", "name the member to book"))?;
            (member, "desk", Some(p.staff_id))
        }
    };
    crate::members::live_row(&ctx.db, merchant_id, member_id)
        .await
        .map_err(|_| Error::invalid("member_id", "no such member"))?;
    let note: String = input.note.trim().chars().take(200).collect();
    let key = input
        .idempotency_key
        .as_deref()
        .map(|k| IdempotencyKey::parse(k).map_err(|m| Error::invalid("idempotency_key", m)))
        .transpose()?;
    let fingerprint = booking_fingerprint(&input, member_id);
    if let Some(key) = &key
        && let Some(row) = replay(ctx, merchant_id, key, &fingerprint).await?
    {
        return view(ctx, row, booker, true).await;
    }

    let store = open_store(&ctx.db, merchant_id, input.store_id).await?;
    let services = availability::services(&ctx.db, merchant_id, &input.service_ids).await?;
    let calendar = Calendar::new(&store.timezone);
    let now = ctx.now();
    if input.starts_at <= now {
        return Err(Error::invalid("starts_at", "is in the past"));
    }
    let date = calendar.date_of(input.starts_at);
    if matches!(booker, Booker::Member(_))
        && date >= calendar.today(now) + Duration::days(i64::from(store.booking_horizon_days))
    {
        return Err(Error::invalid("starts_at", format!("bookings open {} days ahead", store.booking_horizon_days)));
    }
    let start = calendar::minutes(input.starts_at);
    if input.starts_at.timestamp() % 60 != 0 {
        return Err(Error::invalid("starts_at", "must be a whole minute"));
    }
    // Members book what slot search offers; the desk may squeeze a client in between.
    let granularity = i64::from(store.booking_granularity_min.max(5));
    if matches!(booker, Booker::Member(_)) && (start - calendar.day(date).start) % granularity != 0 {
        return Err(Error::invalid("starts_at", format!("starts fall every {granularity} minutes; search for slots")));
    }

    let txn = ctx.db.begin().await?;
    lock_store(&txn, store.id).await?;
    if let Some(row) = same_booking(&txn, member_id, store.id, input.starts_at, &input.service_ids).await? {
        txn.rollback().await?;
        return view(ctx, row, booker, true).await;
    }
    let window = calendar.day(date);
    let availability = Availability::load(&txn, store.clone(), services.clone(), input.staff_id, window, None).await?;
    if let Some(staff_id) = input.staff_id
        && availability.candidates.is_empty()
    {
        return Err(explain_missing_staff(&txn, &store, staff_id, &services).await);
    }
    let fitting: Vec<&Candidate> = availability
        .candidates
        .iter()
        .filter(|c| slots::fits(&availability.day(c.staff.id, date), &c.steps, start))
        .collect();
    let (chosen, assigned_by) = if input.staff_id.is_some() {
        (fitting.first().copied(), "chosen")
    } else {
        let ranking = Ranking::load(&txn, &store, Some(member_id)).await?;
        let (ordered, rule) = ranking.order(&availability.booked_minutes_on(date), fitting);
        (ordered.first().copied(), rule)
    };
    let Some(candidate) = chosen else {
        let all: Vec<&Candidate> = availability.candidates.iter().collect();
        return Err(refusal(&availability, &all, date, start));
    };
    let inserted = bookings::ActiveModel {
        merchant_id: Set(merchant_id),
        store_id: Set(store.id),
        member_id: Set(member_id),
        staff_id: Set(candidate.staff.id),
        starts_at: Set(input.starts_at),
        ends_at: Set(calendar::from_minutes(candidate.client_end(start))),
        status: Set(if source == "desk" { "confirmed" } else { "booked" }.to_owned()),
        source: Set(source.to_owned()),
        assigned_by: Set(assigned_by.to_owned()),
        idempotency_key: Set(key.as_ref().map(|k| k.as_str().to_owned())),
        fingerprint: Set(key.as_ref().map(|_| fingerprint.clone())),
        note: Set(note),
        late_cancel: Set(false),
        reschedules: Set(0),
        bill_id: Set(None),
        created_by_staff_id: Set(staff_id),
        created_at: Set(now),
        updated_at: Set(now),
        confirmed_at: Set((source == "desk").then_some(now)),
        arrived_at: Set(None),
        finished_at: Set(None),
        cancel_reason: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await;
    let row = match inserted {
        Ok(row) => row,
        Err(err) if is_unique_violation(&err) => {
            txn.rollback().await?;
            let key = key.ok_or(Error::Database(err))?;
            let row = replay(ctx, merchant_id, &key, &fingerprint).await?.ok_or(Error::NotFound("booking"))?;
            return view(ctx, row, booker, true).await;
        }
        Err(err) => return Err(err.into()),
    };
    place(&txn, &availability, row.id, candidate, start).await?;
    if let Booker::Staff(p) = booker {
        audit::by_staff(&txn, p, "booking.created", ("booking", row.id), json!({ "member_id": member_id })).await?;
    }
    txn.commit().await?;
    view(ctx, row, booker, false).await
}

/// A booking the caller may see: the member's own, or one in the staff member's stores.
pub(super) async fn find(conn: &impl ConnectionTrait, booker: Booker<'_>, booking_id: i64) -> Result<bookings::Model> {
    let row = bookings::Entity::find_by_id(booking_id)
        .filter(bookings::Column::MerchantId.eq(booker.merchant_id()))
        .one(conn)
        .await?;
    let visible = |row: &bookings::Model| match booker {
        Booker::Member(p) => row.member_id == p.member_id,
        Booker::Staff(p) => p.can_access_store(row.store_id),
    };
    row.filter(visible).ok_or(Error::NotFound("booking"))
}

pub async fn get(ctx: &AppContext, booker: Booker<'_>, booking_id: i64) -> Result<Booking> {
    if let Booker::Staff(p) = booker {
        p.require(Permission::BookingRead)?;
    }
    let row = find(&ctx.db, booker, booking_id).await?;
    view(ctx, row, booker, false).await
}

/// Moves a live booking to another start (and, from the desk, optionally another staff member).
pub async fn reschedule(
    ctx: &AppContext,
    booker: Booker<'_>,
    booking_id: i64,
    starts_at: DateTime<Utc>,
    staff_id: Option<i64>,
) -> Result<Booking> {
    if let Booker::Staff(p) = booker {
        p.require(Permission::BookingManage)?;
    }
    let now = ctx.now();
    if starts_at <= now {
        return Err(Error::invalid("starts_at", "is in the past"));
    }
    let current = find(&ctx.db, booker, booking_id).await?;
    let txn = ctx.db.begin().await?;
    let store = lock_store(&txn, current.store_id).await?;
    let row = find(&txn, booker, booking_id).await?;
    if !LIVE.contains(&row.status.as_str()) {
        return Err(Error::Conflict(Conflict::BookingState));
    }
    let cutoff = Duration::minutes(i64::from(store.booking_cutoff_min));
    let calendar = Calendar::new(&store.timezone);
    let date = calendar.date_of(starts_at);
    if let Booker::Member(_) = booker {
        if staff_id.is_some_and(|s| s != row.staff_id) {
            return Err(Error::invalid("staff_id", "members keep their staff member when rescheduling"));
        }
        if now > row.starts_at - cutoff {
            return Err(Error::Conflict(Conflict::BookingCutoffPassed));
        }
        if date >= calendar.today(now) + Duration::days(i64::from(store.booking_horizon_days)) {
            return Err(Error::invalid(
                "starts_at",
                format!("bookings open {} days ahead", store.booking_horizon_days),
            ));
        }
    }
    let service_ids: Vec<i64> = booking_items::Entity::find()
        .select_only()
        .column(booking_items::Column::ServiceItemId)
        .filter(booking_items::Column::BookingId.eq(row.id))
        .order_by_asc(booking_items::Column::Seq)
        .into_tuple()
        .all(&txn)
        .await?;
    let services = availability::services(&txn, row.merchant_id, &service_ids).await?;
    let staff_id = staff_id.unwrap_or(row.staff_id);
    let availability =
        Availability::load(&txn, store.clone(), services.clone(), Some(staff_id), calendar.day(date), Some(row.id))
            .await?;
    let Some(candidate) = availability.candidates.first() else {
        return Err(explain_missing_staff(&txn, &store, staff_id, &services).await);
    };
    let start = calendar::minutes(starts_at);
    if !slots::fits(&availability.day(staff_id, date), &candidate.steps, start) {
        return Err(refusal(&availability, &[candidate], date, start));
    }
    booking_items::Entity::delete_many().filter(booking_items::Column::BookingId.eq(row.id)).exec(&txn).await?;
    booking_holds::Entity::delete_many().filter(booking_holds::Column::BookingId.eq(row.id)).exec(&txn).await?;
    place(&txn, &availability, row.id, candidate, start).await?;
    let mut active: bookings::ActiveModel = row.clone().into();
    active.starts_at = Set(starts_at);
    active.ends_at = Set(calendar::from_minutes(candidate.client_end(start)));
    active.staff_id = Set(staff_id);
    if staff_id != row.staff_id {
        active.assigned_by = Set("chosen".to_owned());
    }
    active.reschedules = Set(row.reschedules + 1);
    active.updated_at = Set(now);
    let updated = active.update(&txn).await?;
    crate::notifications::outbox::withdraw(&txn, row.id, "rescheduled").await?;
    if let Booker::Staff(p) = booker {
        audit::by_staff(
            &txn,
            p,
            "booking.rescheduled",
            ("booking", row.id),
            json!({ "from": row.starts_at.to_rfc3339() }),
        )
        .await?;
    }
    txn.commit().await?;
    view(ctx, updated, booker, false).await
}

/// Cancels a live booking. Inside the store's cutoff it counts as a late cancellation, unless staff waive it.
pub async fn cancel(
    ctx: &AppContext,
    booker: Booker<'_>,
    booking_id: i64,
    reason: &str,
    waive_late: bool,
) -> Result<Booking> {
    if let Booker::Staff(p) = booker {
        p.require(Permission::BookingManage)?;
    }
    let reason: String = reason.trim().chars().take(200).collect();
    let current = find(&ctx.db, booker, booking_id).await?;
    let now = ctx.now();
    let txn = ctx.db.begin().await?;
    let store = lock_store(&txn, current.store_id).await?;
    let row = find(&txn, booker, booking_id).await?;
    if !LIVE.contains(&row.status.as_str()) {
        return Err(Error::Conflict(Conflict::BookingState));
    }
    let late = now > row.starts_at - Duration::minutes(i64::from(store.booking_cutoff_min));
    let waived = waive_late && matches!(booker, Booker::Staff(_));
    let mut active: bookings::ActiveModel = row.clone().into();
    active.status = Set("cancelled".to_owned());
    active.late_cancel = Set(late && !waived);
    active.cancel_reason = Set(Some(reason.clone()));
    active.finished_at = Set(Some(now));
    active.updated_at = Set(now);
    let updated = active.update(&txn).await?;
    booking_holds::Entity::delete_many().filter(booking_holds::Column::BookingId.eq(row.id)).exec(&txn).await?;
    crate::notifications::outbox::withdraw(&txn, row.id, "cancelled").await?;
    if let Booker::Staff(p) = booker {
        audit::by_staff(
            &txn,
            p,
            "booking.cancelled",
            ("booking", row.id),
            json!({ "late": late, "waived": waived, "reason": reason }),
        )
        .await?;
    }
    txn.commit().await?;
    view(ctx, updated, booker, false).await
}

/// Moves a booking from one of `from` to `to` with a guarded update; `Conflict::BookingState` when it was not.
pub(super) async fn transition(
    txn: &DatabaseTransaction,
    booking_id: i64,
    from: &[&str],
    to: &str,
    stamp: bookings::Column,
    now: DateTime<Utc>,
) -> Result<()> {
    let moved = bookings::Entity::update_many()
        .col_expr(bookings::Column::Status, Expr::value(to))
        .col_expr(stamp, Expr::value(Some(now)))
        .col_expr(bookings::Column::UpdatedAt, Expr::value(now))
        .filter(bookings::Column::Id.eq(booking_id))
        .filter(bookings::Column::Status.is_in(from.iter().copied()))
        .exec(txn)
        .await?;
    if moved.rows_affected == 1 { Ok(()) } else { Err(Error::Conflict(Conflict::BookingState)) }
}

pub async fn confirm(ctx: &AppContext, principal: &StaffPrincipal, booking_id: i64) -> Result<Booking> {
    principal.require(Permission::BookingManage)?;
    let booker = Booker::Staff(principal);
    let row = find(&ctx.db, booker, booking_id).await?;
    let txn = ctx.db.begin().await?;
    transition(&txn, row.id, &["booked"], "confirmed", bookings::Column::ConfirmedAt, ctx.now()).await?;
    audit::by_staff(&txn, principal, "booking.confirmed", ("booking", row.id), json!({})).await?;
    txn.commit().await?;
    get(ctx, booker, booking_id).await
}

/// The distinct time zones of the stores: the zones store-local jobs run in.
pub async fn store_zones(conn: &impl ConnectionTrait) -> Result<Vec<String>> {
    Ok(stores::Entity::find()
        .select_only()
        .column(stores::Column::Timezone)
        .distinct()
        .order_by_asc(stores::Column::Timezone)
        .into_tuple()
        .all(conn)
        .await?)
}

// ---------------------------------------------------------------------------------------------------------------
// Reading

pub(crate) async fn items_of(conn: &impl ConnectionTrait, booking_id: i64) -> Result<Vec<booking_items::Model>> {
    Ok(booking_items::Entity::find()
        .filter(booking_items::Column::BookingId.eq(booking_id))
        .order_by_asc(booking_items::Column::Seq)
        .all(conn)
        .await?)
}

pub async fn member_record(conn: &impl ConnectionTrait, member_id: i64) -> Result<MemberRecord> {
    let no_shows = bookings::Entity::find()
        .filter(bookings::Column::MemberId.eq(member_id))
        .filter(bookings::Column::Status.eq("no_show"))
        .count(conn)
        .await?;
    let late_cancellations = bookings::Entity::find()
        .filter(bookings::Column::MemberId.eq(member_id))
        .filter(bookings::Column::LateCancel.eq(true))
        .count(conn)
        .await?;
    Ok(MemberRecord { no_shows, late_cancellations })
}

pub(super) async fn view(
    ctx: &AppContext,
    row: bookings::Model,
    booker: Booker<'_>,
    duplicate: bool,
) -> Result<Booking> {
    let contact = match booker {
        Booker::Staff(principal) => Some(principal.can(Permission::MemberContactRead)),
        Booker::Member(_) => None,
    };
    build(ctx, row, contact, duplicate).await
}

/// A booking as staff see it (`contact`: whether the member's name shows unmasked), or as its member sees it
/// (`None`: no staff notes).
async fn build(ctx: &AppContext, row: bookings::Model, contact: Option<bool>, duplicate: bool) -> Result<Booking> {
    let items = items_of(&ctx.db, row.id).await?;
    let store = stores::Entity::find_by_id(row.store_id).one(&ctx.db).await?.ok_or(Error::NotFound("store"))?;
    let staff_name =
        staff::Entity::find_by_id(row.staff_id).one(&ctx.db).await?.map(|s| s.display_name).unwrap_or_default();
    let (allergies, record, member_label) = match contact {
        Some(contact) => {
            let member = crate::members::row(&ctx.db, row.merchant_id, row.member_id).await?;
            let label = crate::members::label(ctx, &member, contact)?;
            let services = service_items::Entity::find()
                .filter(service_items::Column::Id.is_in(items.iter().map(|i| i.service_item_id)))
                .all(&ctx.db)
                .await?;
            let substances: Vec<(i64, String, Vec<String>)> = services
                .into_iter()
                .map(|s| (s.id, s.name, serde_json::from_str(&s.substances).unwrap_or_default()))
                .collect();
            let borrowed: Vec<(i64, &str, &[String])> =
                substances.iter().map(|(id, name, subs)| (*id, name.as_str(), subs.as_slice())).collect();
            let allergies = crate::members::allergies::matching_allergies(ctx, row.member_id, &borrowed).await?;
            (allergies, Some(member_record(&ctx.db, row.member_id).await?), Some(label))
        }
        None => (Vec::new(), None, None),
    };
    Ok(Booking {
        status: BookingStatus::stored(&row.status)?,
        calendar: Calendar::new(&store.timezone),
        member_changes_close_at: row.starts_at - Duration::minutes(i64::from(store.booking_cutoff_min)),
        store_name: store.name,
        staff_name,
        member_label,
        items,
        allergies,
        record,
        duplicate,
        row,
    })
}

/// A booking for its printed ticket: the staff view with the member's name masked (paper lies about).
pub(crate) async fn for_ticket(ctx: &AppContext, merchant_id: i64, booking_id: i64) -> Result<Booking> {
    let row = bookings::Entity::find_by_id(booking_id)
        .filter(bookings::Column::MerchantId.eq(merchant_id))
        .one(&ctx.db)
        .await?
        .ok_or(Error::NotFound("booking"))?;
    build(ctx, row, Some(false), false).await
}

#[cfg(test)]
mod live_tests {
    use super::*;

    #[test]
    fn live_names_the_live_statuses() {
        let live: Vec<&str> = BookingStatus::ALL.iter().filter(|s| s.is_live()).map(|s| s.as_str()).collect();
        assert_eq!(live, LIVE);
    }
}
