//! Appointments: slot search, booking and its lifecycle, for staff at the desk and members in the mini-program;
//! the day board; the reminder outbox.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use service::AppContext;
use service::booking::arrivals;
use service::booking::availability::Slot;
use service::booking::board::DayBoard;
use service::booking::bookings::{self, BookInput, Booker, Booking};
use service::booking::calendar::{self, Calendar};
use service::booking::search::{self, SearchInput, SlotSearch};
use service::booking::slots::Span;
use service::domain::{BookingStatus, Fen};

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Body, Member, Staff};
use crate::routes::bills::AllergyMatchDto;

pub fn staff_routes(cfg: &mut ServiceConfig) {
    cfg.service(search_slots)
        .service(create_booking)
        .service(get_booking)
        .service(list_member_bookings)
        .service(confirm_booking)
        .service(reschedule_booking)
        .service(cancel_booking)
        .service(check_in_booking)
        .service(complete_booking)
        .service(mark_booking_no_show)
        .service(get_day_board)
        .service(list_notifications);
}

pub fn mini_routes(cfg: &mut ServiceConfig) {
    cfg.service(search_my_slots)
        .service(list_store_technicians)
        .service(create_my_booking)
        .service(list_my_bookings)
        .service(get_my_booking)
        .service(cancel_my_booking)
        .service(reschedule_my_booking)
        .service(list_subscription_templates)
        .service(record_my_subscriptions);
}

// ---------------------------------------------------------------------------------------------------------------
// Slots

#[derive(Deserialize, IntoParams)]
pub struct SlotQuery {
    /// One service id, or several in sequence, comma-separated (`3,5`).
    pub service_ids: String,
    /// First local day; today when absent.
    pub from: Option<NaiveDate>,
    /// Days to search, 1–14 (7 when absent).
    pub days: Option<i64>,
    /// A chosen staff member; "anyone" when absent.
    pub staff_id: Option<i64>,
    /// Staff only: who the booking is for, so "usual stylist" can count.
    pub member_id: Option<i64>,
}

fn service_ids(text: &str) -> service::Result<Vec<i64>> {
    text.split(',')
        .map(|id| id.trim().parse::<i64>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| service::Error::invalid("service_ids", "comma-separated service ids, such as 3,5"))
}

impl SlotQuery {
    fn input(&self, store_id: i64) -> service::Result<SearchInput> {
        Ok(SearchInput {
            store_id,
            service_ids: service_ids(&self.service_ids)?,
            from: self.from,
            days: self.days,
            staff_id: self.staff_id,
            member_id: self.member_id,
        })
    }
}

#[derive(Serialize, ToSchema)]
pub struct SlotDto {
    pub starts_at: DateTime<Utc>,
    /// When the client is done (clean-up after is the staff member's).
    pub ends_at: DateTime<Utc>,
    /// `starts_at` in the store's time zone, RFC 3339 with its offset.
    pub local_starts_at: String,
    pub staff_id: i64,
    pub staff_name: String,
    /// `chosen`, or the "anyone" rule that picked the staff member: `least_busy`, `rotation` or `usual`.
    pub assigned_by: String,
}

#[derive(Serialize, ToSchema)]
pub struct SlotsDto {
    pub timezone: String,
    /// In time order; one per start time (the staff member "anyone" would get).
    pub slots: Vec<SlotDto>,
}

fn slot_dto(calendar: &Calendar, s: Slot) -> SlotDto {
    SlotDto {
        local_starts_at: calendar.local(s.starts_at),
        starts_at: s.starts_at,
        ends_at: s.ends_at,
        staff_id: s.staff_id,
        staff_name: s.staff_name,
        assigned_by: s.assigned_by.to_owned(),
    }
}

impl From<SlotSearch> for SlotsDto {
    fn from(found: SlotSearch) -> Self {
        let calendar = found.calendar;
        Self {
            timezone: calendar.tz.name().to_owned(),
            slots: found.slots.into_iter().map(|s| slot_dto(&calendar, s)).collect(),
        }
    }
}

/// Free start times at a store for one service or several in sequence (any horizon for staff).
#[utoipa::path(tag = "bookings", params(("id" = i64, Path), SlotQuery), responses((status = 200, body = SlotsDto), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/stores/{id}/slots")]
async fn search_slots(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
    query: web::Query<SlotQuery>,
) -> ApiResult<web::Json<SlotsDto>> {
    let input = query.input(id.into_inner())?;
    Ok(web::Json(search::search_for_staff(&ctx, &me, input).await?.into()))
}

/// Free start times at a store, within the store's booking horizon.
#[utoipa::path(tag = "me", params(("id" = i64, Path), SlotQuery), responses((status = 200, body = SlotsDto), (status = 422, body = ErrorBody)), security(("member_token" = [])))]
#[get("/stores/{id}/slots")]
async fn search_my_slots(
    ctx: web::Data<AppContext>,
    Member(me): Member,
    id: web::Path<i64>,
    query: web::Query<SlotQuery>,
) -> ApiResult<web::Json<SlotsDto>> {
    let input = query.input(id.into_inner())?;
    Ok(web::Json(search::search_for_member(&ctx, &me, input).await?.into()))
}

/// A technician as members choose one.
#[derive(Serialize, ToSchema)]
pub struct TechnicianDto {
    pub staff_id: i64,
    pub name: String,
    /// e.g. 首席发型师; may be empty.
    pub title: String,
    pub photo_url: Option<String>,
    /// The services they do, in menu order.
    pub service_ids: Vec<i64>,
    pub service_names: Vec<String>,
}

impl From<service::booking::technicians::Technician> for TechnicianDto {
    fn from(t: service::booking::technicians::Technician) -> Self {
        Self {
            staff_id: t.staff_id,
            name: t.name,
            title: t.title,
            photo_url: t.photo_url,
            service_ids: t.service_ids,
            service_names: t.service_names,
        }
    }
}

/// Who works at the store and what they do, to choose one when booking (or let the store choose).
#[utoipa::path(tag = "me", params(("id" = i64, Path)), responses((status = 200, body = Vec<TechnicianDto>), (status = 404, body = ErrorBody)), security(("member_token" = [])))]
#[get("/stores/{id}/technicians")]
async fn list_store_technicians(
    ctx: web::Data<AppContext>,
    Member(me): Member,
    id: web::Path<i64>,
) -> ApiResult<web::Json<Vec<TechnicianDto>>> {
    let found = service::booking::technicians::at_store(&ctx, &me, id.into_inner()).await?;
    Ok(web::Json(found.into_iter().map(TechnicianDto::from).collect()))
}

// ---------------------------------------------------------------------------------------------------------------
// Bookings

#[derive(Serialize, ToSchema)]
pub struct BookedServiceDto {
    pub service_item_id: i64,
    pub name: String,
    pub price_fen: Fen,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct MemberRecordDto {
    pub no_shows: u64,
    pub late_cancellations: u64,
}

#[derive(Serialize, ToSchema)]
pub struct BookingDto {
    pub id: i64,
    pub store_id: i64,
    pub store_name: String,
    pub timezone: String,
    pub member_id: i64,
    /// Staff views: who is coming (masked unless the viewer may see contact details).
    pub member: Option<String>,
    pub staff_id: i64,
    pub staff_name: String,
    /// From then on (the store's cutoff before the start) a member's cancellation counts as late, and they can no
    /// longer reschedule it themselves.
    pub member_changes_close_at: DateTime<Utc>,
    pub status: BookingStatus,
    /// `mini` or `desk`.
    pub source: String,
    /// `chosen`, `least_busy`, `rotation` or `usual`.
    pub assigned_by: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    /// In the store's time zone.
    pub local_starts_at: String,
    pub local_ends_at: String,
    pub services: Vec<BookedServiceDto>,
    pub note: String,
    /// Cancelled inside the store's cutoff (counted against the member).
    pub late_cancel: bool,
    pub reschedules: i32,
    pub cancel_reason: Option<String>,
    /// The bill check-in opened.
    pub bill_id: Option<i64>,
    /// Staff views: the member's allergy notes that match the booked services.
    pub allergies: Vec<AllergyMatchDto>,
    /// Staff views: the member's no-shows and late cancellations.
    pub member_record: Option<MemberRecordDto>,
    /// True when this request repeated an earlier one (a second tap): this is the booking it made.
    pub duplicate: bool,
    pub created_at: DateTime<Utc>,
}

impl From<Booking> for BookingDto {
    fn from(b: Booking) -> Self {
        let calendar = b.calendar;
        let row = b.row;
        Self {
            id: row.id,
            store_id: row.store_id,
            store_name: b.store_name,
            timezone: calendar.tz.name().to_owned(),
            member_id: row.member_id,
            member: b.member_label,
            staff_id: row.staff_id,
            staff_name: b.staff_name,
            member_changes_close_at: b.member_changes_close_at,
            status: b.status,
            source: row.source,
            assigned_by: row.assigned_by,
            local_starts_at: calendar.local(row.starts_at),
            local_ends_at: calendar.local(row.ends_at),
            starts_at: row.starts_at,
            ends_at: row.ends_at,
            services: b
                .items
                .into_iter()
                .map(|i| BookedServiceDto {
                    service_item_id: i.service_item_id,
                    name: i.name,
                    price_fen: Fen::new(i.price_fen),
                    starts_at: i.starts_at,
                    ends_at: i.ends_at,
                })
                .collect(),
            note: row.note,
            late_cancel: row.late_cancel,
            reschedules: row.reschedules,
            cancel_reason: row.cancel_reason,
            bill_id: row.bill_id,
            allergies: b.allergies.into_iter().map(AllergyMatchDto::from).collect(),
            member_record: b
                .record
                .map(|r| MemberRecordDto { no_shows: r.no_shows, late_cancellations: r.late_cancellations }),
            duplicate: b.duplicate,
            created_at: row.created_at,
        }
    }
}

/// A booking made or replayed: 201 when made, 200 when this repeated an earlier request.
fn booked(booking: Booking) -> HttpResponse {
    let dto = BookingDto::from(booking);
    if dto.duplicate { HttpResponse::Ok().json(dto) } else { HttpResponse::Created().json(dto) }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookingRequest {
    pub store_id: i64,
    /// Staff bookings: the member it is for.
    pub member_id: Option<i64>,
    /// One service or several in sequence.
    pub service_ids: Vec<i64>,
    /// A start offered by slot search (RFC 3339, any offset).
    pub starts_at: DateTime<Utc>,
    /// A chosen staff member; "anyone" when absent.
    pub staff_id: Option<i64>,
    #[serde(default)]
    pub note: String,
    /// The same key again returns the same booking (a retried request); up to 64 characters.
    pub idempotency_key: Option<String>,
}

impl BookingRequest {
    fn input(self) -> BookInput {
        BookInput {
            store_id: self.store_id,
            member_id: self.member_id,
            service_ids: self.service_ids,
            starts_at: self.starts_at,
            staff_id: self.staff_id,
            note: self.note,
            idempotency_key: self.idempotency_key,
        }
    }
}

/// Books at the desk for a member (confirmed at once). The slot is checked again under the store's lock: a slot
/// taken meanwhile is a 409 `slot_taken`.
#[utoipa::path(tag = "bookings", request_body = BookingRequest, responses((status = 201, body = BookingDto), (status = 200, body = BookingDto, description = "the same booking, asked for again"), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/bookings")]
async fn create_booking(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    body: Body<BookingRequest>,
) -> ApiResult<HttpResponse> {
    Ok(booked(bookings::book(&ctx, Booker::Staff(&me), body.into_inner().input()).await?))
}

/// Books for myself. Tapping twice (the same store, start and services) returns the same booking.
#[utoipa::path(tag = "me", request_body = BookingRequest, responses((status = 201, body = BookingDto), (status = 200, body = BookingDto, description = "the same booking, asked for again"), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("member_token" = [])))]
#[post("/me/bookings")]
async fn create_my_booking(
    ctx: web::Data<AppContext>,
    Member(me): Member,
    body: Body<BookingRequest>,
) -> ApiResult<HttpResponse> {
    Ok(booked(bookings::book(&ctx, Booker::Member(&me), body.into_inner().input()).await?))
}

/// One booking with its services, technician and status.
#[utoipa::path(tag = "bookings", params(("id" = i64, Path)), responses((status = 200, body = BookingDto), (status = 404, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/bookings/{id}")]
async fn get_booking(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
) -> ApiResult<web::Json<BookingDto>> {
    Ok(web::Json(bookings::get(&ctx, Booker::Staff(&me), id.into_inner()).await?.into()))
}

/// A member's bookings at my stores (every store for merchant-wide staff), newest first.
#[utoipa::path(tag = "bookings", params(("id" = i64, Path)), responses((status = 200, body = Vec<BookingDto>), (status = 404, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/members/{id}/bookings")]
async fn list_member_bookings(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
) -> ApiResult<web::Json<Vec<BookingDto>>> {
    let found = service::booking::member_bookings::of_member(&ctx, &me, id.into_inner()).await?;
    Ok(web::Json(found.into_iter().map(BookingDto::from).collect()))
}

#[derive(Deserialize, IntoParams)]
pub struct MyBookingsQuery {
    /// Only bookings still to come (the default); `false` for the history.
    pub upcoming: Option<bool>,
}

/// The signed-in member's bookings, upcoming first.
#[utoipa::path(tag = "me", params(MyBookingsQuery), responses((status = 200, body = Vec<BookingDto>)), security(("member_token" = [])))]
#[get("/me/bookings")]
async fn list_my_bookings(
    ctx: web::Data<AppContext>,
    Member(me): Member,
    query: web::Query<MyBookingsQuery>,
) -> ApiResult<web::Json<Vec<BookingDto>>> {
    let found = service::booking::member_bookings::mine(&ctx, &me, query.upcoming.unwrap_or(true)).await?;
    Ok(web::Json(found.into_iter().map(BookingDto::from).collect()))
}

/// One of the signed-in member's bookings.
#[utoipa::path(tag = "me", params(("id" = i64, Path)), responses((status = 200, body = BookingDto), (status = 404, body = ErrorBody)), security(("member_token" = [])))]
#[get("/me/bookings/{id}")]
async fn get_my_booking(
    ctx: web::Data<AppContext>,
    Member(me): Member,
    id: web::Path<i64>,
) -> ApiResult<web::Json<BookingDto>> {
    Ok(web::Json(bookings::get(&ctx, Booker::Member(&me), id.into_inner()).await?.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RescheduleRequest {
    pub starts_at: DateTime<Utc>,
    /// Staff only: move it to another staff member.
    pub staff_id: Option<i64>,
}

/// Moves a booking to another time (and technician), if that slot is free.
#[utoipa::path(tag = "bookings", params(("id" = i64, Path)), request_body = RescheduleRequest, responses((status = 200, body = BookingDto), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/bookings/{id}/reschedule")]
async fn reschedule_booking(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
    body: Body<RescheduleRequest>,
) -> ApiResult<web::Json<BookingDto>> {
    let b = body.into_inner();
    Ok(web::Json(
        bookings::reschedule(&ctx, Booker::Staff(&me), id.into_inner(), b.starts_at, b.staff_id).await?.into(),
    ))
}

/// Moves my booking to another start with the same staff member (outside the store's cutoff).
#[utoipa::path(tag = "me", params(("id" = i64, Path)), request_body = RescheduleRequest, responses((status = 200, body = BookingDto), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("member_token" = [])))]
#[post("/me/bookings/{id}/reschedule")]
async fn reschedule_my_booking(
    ctx: web::Data<AppContext>,
    Member(me): Member,
    id: web::Path<i64>,
    body: Body<RescheduleRequest>,
) -> ApiResult<web::Json<BookingDto>> {
    let b = body.into_inner();
    Ok(web::Json(
        bookings::reschedule(&ctx, Booker::Member(&me), id.into_inner(), b.starts_at, b.staff_id).await?.into(),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    #[serde(default)]
    pub reason: String,
    /// Staff only: a late cancellation not held against the member.
    #[serde(default)]
    pub waive_late: bool,
}

/// Cancels a booking; a late cancellation is recorded as such.
#[utoipa::path(tag = "bookings", params(("id" = i64, Path)), request_body = CancelRequest, responses((status = 200, body = BookingDto), (status = 409, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/bookings/{id}/cancel")]
async fn cancel_booking(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
    body: Body<CancelRequest>,
) -> ApiResult<web::Json<BookingDto>> {
    let b = body.into_inner();
    Ok(web::Json(bookings::cancel(&ctx, Booker::Staff(&me), id.into_inner(), &b.reason, b.waive_late).await?.into()))
}

/// Cancels my booking; inside the store's cutoff it counts as a late cancellation.
#[utoipa::path(tag = "me", params(("id" = i64, Path)), request_body = CancelRequest, responses((status = 200, body = BookingDto), (status = 409, body = ErrorBody)), security(("member_token" = [])))]
#[post("/me/bookings/{id}/cancel")]
async fn cancel_my_booking(
    ctx: web::Data<AppContext>,
    Member(me): Member,
    id: web::Path<i64>,
    body: Body<CancelRequest>,
) -> ApiResult<web::Json<BookingDto>> {
    let b = body.into_inner();
    Ok(web::Json(bookings::cancel(&ctx, Booker::Member(&me), id.into_inner(), &b.reason, false).await?.into()))
}

/// Confirms a requested booking.
#[utoipa::path(tag = "bookings", params(("id" = i64, Path)), responses((status = 200, body = BookingDto), (status = 409, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/bookings/{id}/confirm")]
async fn confirm_booking(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
) -> ApiResult<web::Json<BookingDto>> {
    Ok(web::Json(bookings::confirm(&ctx, &me, id.into_inner()).await?.into()))
}

/// The member has arrived: opens a parked bill with the booked services and staff, ready for checkout
/// (`bill_id`). Allergy notes matching the services come back with it.
#[utoipa::path(tag = "bookings", params(("id" = i64, Path)), responses((status = 200, body = BookingDto), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/bookings/{id}/check-in")]
async fn check_in_booking(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
) -> ApiResult<web::Json<BookingDto>> {
    Ok(web::Json(arrivals::check_in(&ctx, &me, id.into_inner()).await?.into()))
}

/// Marks a checked-in booking as done.
#[utoipa::path(tag = "bookings", params(("id" = i64, Path)), responses((status = 200, body = BookingDto), (status = 409, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/bookings/{id}/complete")]
async fn complete_booking(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
) -> ApiResult<web::Json<BookingDto>> {
    Ok(web::Json(arrivals::complete(&ctx, &me, id.into_inner()).await?.into()))
}

/// The member did not come (counted against them); only once the booking has started.
#[utoipa::path(tag = "bookings", params(("id" = i64, Path)), responses((status = 200, body = BookingDto), (status = 409, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/bookings/{id}/no-show")]
async fn mark_booking_no_show(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
) -> ApiResult<web::Json<BookingDto>> {
    Ok(web::Json(arrivals::no_show(&ctx, &me, id.into_inner()).await?.into()))
}

// ---------------------------------------------------------------------------------------------------------------
// Day board

#[derive(Deserialize, IntoParams)]
pub struct DayBoardQuery {
    /// The store's local day; today when absent.
    pub date: Option<NaiveDate>,
    /// One staff member's column only.
    pub staff_id: Option<i64>,
}

/// A stretch of local time on the board.
#[derive(Serialize, ToSchema)]
pub struct TimeSpanDto {
    pub from: String,
    pub to: String,
}

fn spans(calendar: &Calendar, spans: Vec<Span>) -> Vec<TimeSpanDto> {
    spans
        .into_iter()
        .map(|s| TimeSpanDto {
            from: calendar.local(calendar::from_minutes(s.start)),
            to: calendar.local(calendar::from_minutes(s.end)),
        })
        .collect()
}

#[derive(Serialize, ToSchema)]
pub struct BoardColumnDto {
    pub staff_id: i64,
    pub staff_name: String,
    pub shifts: Vec<TimeSpanDto>,
    pub leave: Vec<TimeSpanDto>,
    /// Cancelled bookings are left off.
    pub bookings: Vec<BookingDto>,
}

#[derive(Serialize, ToSchema)]
pub struct ResourceUseDto {
    pub kind: String,
    pub capacity: i32,
}

#[derive(Serialize, ToSchema)]
pub struct DayBoardDto {
    pub date: NaiveDate,
    pub timezone: String,
    /// A closed day (bookings made before it closed still show).
    pub closed: bool,
    pub open: Vec<TimeSpanDto>,
    pub columns: Vec<BoardColumnDto>,
    pub resources: Vec<ResourceUseDto>,
}

impl From<DayBoard> for DayBoardDto {
    fn from(board: DayBoard) -> Self {
        let calendar = board.calendar;
        Self {
            date: board.date,
            timezone: calendar.tz.name().to_owned(),
            closed: board.closed,
            open: spans(&calendar, board.open),
            columns: board
                .columns
                .into_iter()
                .map(|c| BoardColumnDto {
                    staff_id: c.staff_id,
                    staff_name: c.staff_name,
                    shifts: spans(&calendar, c.shifts),
                    leave: spans(&calendar, c.leave),
                    bookings: c.bookings.into_iter().map(BookingDto::from).collect(),
                })
                .collect(),
            resources: board.resources.into_iter().map(|(kind, capacity)| ResourceUseDto { kind, capacity }).collect(),
        }
    }
}

/// A store's day: a column per staff member with their shifts, leave and bookings.
#[utoipa::path(tag = "bookings", params(("id" = i64, Path), DayBoardQuery), responses((status = 200, body = DayBoardDto), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/stores/{id}/day-board")]
async fn get_day_board(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
    query: web::Query<DayBoardQuery>,
) -> ApiResult<web::Json<DayBoardDto>> {
    let board = service::booking::board::day_board(&ctx, &me, id.into_inner(), query.date, query.staff_id).await?;
    Ok(web::Json(board.into()))
}

// ---------------------------------------------------------------------------------------------------------------
// Reminders

#[derive(Serialize, ToSchema)]
pub struct NotificationDto {
    pub id: i64,
    /// `wechat_subscribe` or `sms`.
    pub channel: String,
    /// `member_reminder` or `staff_reminder`.
    pub purpose: String,
    pub booking_id: Option<i64>,
    /// `member:<id>` or `staff:<id>`.
    pub recipient: String,
    /// `pending`, `sending`, `sent`, `logged` (an SMS written to the log channel, reaching no phone), `failed` or
    /// `skipped`.
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    /// WeChat's errcode (`43101`: the member holds no subscription) or ours (`no_subscription`, `field_rule` …).
    pub error_code: Option<String>,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

impl From<entity::notification_outbox::Model> for NotificationDto {
    fn from(n: entity::notification_outbox::Model) -> Self {
        Self {
            id: n.id,
            channel: n.channel,
            purpose: n.purpose,
            booking_id: n.booking_id,
            recipient: n.recipient,
            status: n.status,
            attempts: n.attempts,
            next_attempt_at: n.next_attempt_at,
            error_code: n.error_code,
            error: n.error,
            created_at: n.created_at,
            sent_at: n.sent_at,
        }
    }
}

#[derive(Deserialize, IntoParams)]
pub struct NotificationQuery {
    pub booking_id: Option<i64>,
}

/// Reminders sent, waiting or refused: one booking's, or the latest 200.
#[utoipa::path(tag = "bookings", params(NotificationQuery), responses((status = 200, body = Vec<NotificationDto>), (status = 403, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/notifications")]
async fn list_notifications(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    query: web::Query<NotificationQuery>,
) -> ApiResult<web::Json<Vec<NotificationDto>>> {
    let found = service::notifications::outbox::list(&ctx, &me, query.booking_id).await?;
    Ok(web::Json(found.into_iter().map(NotificationDto::from).collect()))
}

#[derive(Serialize, ToSchema)]
pub struct SubscriptionTemplateDto {
    /// What it is for: `booking_reminder`.
    pub purpose: String,
    /// Pass to `wx.requestSubscribeMessage({ tmplIds })`.
    pub template_id: String,
}

/// The subscribe-message templates to ask the member about (after booking).
#[utoipa::path(tag = "me", responses((status = 200, body = Vec<SubscriptionTemplateDto>)), security(("member_token" = [])))]
#[get("/subscriptions/templates")]
async fn list_subscription_templates(
    ctx: web::Data<AppContext>,
    Member(me): Member,
) -> ApiResult<web::Json<Vec<SubscriptionTemplateDto>>> {
    let found = service::booking::reminders::templates(&ctx, me.merchant_id).await?;
    Ok(web::Json(
        found
            .into_iter()
            .map(|(purpose, template_id)| SubscriptionTemplateDto { purpose: purpose.to_owned(), template_id })
            .collect(),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionAnswers {
    /// What `wx.requestSubscribeMessage` answered: template id → `accept`, `reject`, `ban` or `filter`.
    pub answers: std::collections::BTreeMap<String, String>,
}

#[derive(Serialize, ToSchema)]
pub struct OpenSubscriptionDto {
    pub template_id: String,
    /// Messages we may still send on it (each acceptance is one).
    pub remaining: u64,
}

/// Records the member's answers; each acceptance lets one reminder through.
#[utoipa::path(tag = "me", request_body = SubscriptionAnswers, responses((status = 200, body = Vec<OpenSubscriptionDto>), (status = 422, body = ErrorBody)), security(("member_token" = [])))]
#[post("/me/subscriptions")]
async fn record_my_subscriptions(
    ctx: web::Data<AppContext>,
    Member(me): Member,
    body: Body<SubscriptionAnswers>,
) -> ApiResult<web::Json<Vec<OpenSubscriptionDto>>> {
    let open = service::booking::reminders::record_answers(&ctx, &me, &body.answers).await?;
    Ok(web::Json(
        open.into_iter().map(|(template_id, remaining)| OpenSubscriptionDto { template_id, remaining }).collect(),
    ))
}
