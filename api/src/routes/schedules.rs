//! Store schedules for booking: opening hours, closed days, staff shifts and their exceptions, skills, rooms and
//! beds, booking settings, and where reminders go.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, delete, get, patch, post, put, web};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use service::AppContext;
use service::booking::calendar::{clock, parse_clock};
use service::booking::reminders::ReminderTemplate;
use service::booking::schedules::{
    BookingSettingsInput, Exception, ExceptionInput, Resource, Schedule, Skill, WeeklyWindow,
};
use service::domain::Fen;

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Body, Staff};

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(get_schedule)
        .service(set_store_hours)
        .service(update_booking_settings)
        .service(create_store_closure)
        .service(delete_store_closure)
        .service(set_staff_shifts)
        .service(create_shift_exception)
        .service(delete_shift_exception)
        .service(get_staff_skills)
        .service(set_staff_skills)
        .service(create_resource)
        .service(update_resource)
        .service(set_staff_notify_phone)
        .service(get_booking_reminder)
        .service(set_booking_reminder);
}

/// A weekly window: a weekday (1 Monday … 7 Sunday) and local times.
#[derive(Serialize, Deserialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct WeeklyWindowDto {
    pub weekday: i32,
    /// `HH:MM`, local time at the store.
    #[schema(example = "10:00")]
    pub from: String,
    #[schema(example = "21:00")]
    pub to: String,
}

impl From<WeeklyWindow> for WeeklyWindowDto {
    fn from(w: WeeklyWindow) -> Self {
        Self { weekday: w.weekday, from: clock(w.from_min), to: clock(w.to_min) }
    }
}

fn windows(field: &'static str, dtos: &[WeeklyWindowDto]) -> service::Result<Vec<WeeklyWindow>> {
    dtos.iter()
        .map(|w| {
            Ok(WeeklyWindow {
                weekday: w.weekday,
                from_min: parse_clock(field, &w.from)?,
                to_min: parse_clock(field, &w.to)?,
            })
        })
        .collect()
}

#[derive(Serialize, ToSchema)]
pub struct BookingSettingsDto {
    /// Slot starts fall on this grid, in minutes.
    pub granularity_min: i32,
    /// Members cancelling later than this before the start cancel late.
    pub cutoff_min: i32,
    /// How many days ahead members may book.
    pub horizon_days: i32,
    /// Who "anyone" gets: `least_busy`, `rotation` (轮钟) or `usual`.
    pub anyone_policy: String,
    /// Minutes before the start the member is reminded; 0 for never.
    pub member_reminder_min: i32,
    /// Minutes before the start the staff member is reminded; 0 for never.
    pub staff_reminder_min: i32,
}

impl From<&entity::stores::Model> for BookingSettingsDto {
    fn from(s: &entity::stores::Model) -> Self {
        Self {
            granularity_min: s.booking_granularity_min,
            cutoff_min: s.booking_cutoff_min,
            horizon_days: s.booking_horizon_days,
            anyone_policy: s.booking_anyone_policy.clone(),
            member_reminder_min: s.member_reminder_min,
            staff_reminder_min: s.staff_reminder_min,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ClosureDto {
    pub date: NaiveDate,
    pub reason: String,
}

#[derive(Serialize, ToSchema)]
pub struct ShiftDto {
    pub staff_id: i64,
    // The window's fields spelled out rather than flattened: a flattened schema that refuses unknown fields
    // would refuse `staff_id` too.
    pub weekday: i32,
    /// `HH:MM`, local time at the store.
    pub from: String,
    pub to: String,
}

#[derive(Serialize, ToSchema)]
pub struct ShiftExceptionDto {
    pub id: i64,
    pub staff_id: i64,
    pub date: NaiveDate,
    /// `leave` (not working, the whole day when no times) or `extra` (an extra shift).
    pub kind: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub note: String,
}

impl From<Exception> for ShiftExceptionDto {
    fn from(e: Exception) -> Self {
        Self {
            id: e.id,
            staff_id: e.staff_id,
            date: e.day,
            kind: e.kind,
            from: e.window.map(|(from, _)| clock(from)),
            to: e.window.map(|(_, to)| clock(to)),
            note: e.note,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ResourceDto {
    pub id: i64,
    pub name: String,
    /// What services ask for (`massage_bed`).
    pub kind: String,
    /// Clients it takes at once.
    pub capacity: i32,
    pub active: bool,
}

impl From<Resource> for ResourceDto {
    fn from(r: Resource) -> Self {
        Self { id: r.id, name: r.name, kind: r.kind, capacity: r.capacity, active: r.active }
    }
}

/// A store's booking schedule.
#[derive(Serialize, ToSchema)]
pub struct ScheduleDto {
    pub store_id: i64,
    pub timezone: String,
    pub settings: BookingSettingsDto,
    pub hours: Vec<WeeklyWindowDto>,
    pub closures: Vec<ClosureDto>,
    pub shifts: Vec<ShiftDto>,
    /// Leave and extra shifts from today on.
    pub exceptions: Vec<ShiftExceptionDto>,
    pub resources: Vec<ResourceDto>,
}

impl From<Schedule> for ScheduleDto {
    fn from(s: Schedule) -> Self {
        Self {
            store_id: s.store.id,
            timezone: s.store.timezone.clone(),
            settings: BookingSettingsDto::from(&s.store),
            hours: s.hours.into_iter().map(WeeklyWindowDto::from).collect(),
            closures: s.closures.into_iter().map(|(date, reason)| ClosureDto { date, reason }).collect(),
            shifts: s
                .shifts
                .into_iter()
                .map(|(staff_id, w)| {
                    let WeeklyWindowDto { weekday, from, to } = WeeklyWindowDto::from(w);
                    ShiftDto { staff_id, weekday, from, to }
                })
                .collect(),
            exceptions: s.exceptions.into_iter().map(ShiftExceptionDto::from).collect(),
            resources: s.resources.into_iter().map(ResourceDto::from).collect(),
        }
    }
}

/// Opening hours, shifts, closed days, leave, rooms and booking settings of a store.
#[utoipa::path(tag = "schedules", params(("id" = i64, Path)), responses((status = 200, body = ScheduleDto), (status = 404, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/stores/{id}/schedule")]
async fn get_schedule(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
) -> ApiResult<web::Json<ScheduleDto>> {
    Ok(web::Json(service::booking::schedules::get(&ctx, &me, id.into_inner()).await?.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WeekRequest {
    /// The whole week: replaces what was there. Windows on one day must not overlap.
    pub windows: Vec<WeeklyWindowDto>,
}

/// Sets the store's weekly opening hours (managers).
#[utoipa::path(tag = "schedules", params(("id" = i64, Path)), request_body = WeekRequest, responses((status = 200, body = Vec<WeeklyWindowDto>), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[put("/stores/{id}/hours")]
async fn set_store_hours(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
    body: Body<WeekRequest>,
) -> ApiResult<web::Json<Vec<WeeklyWindowDto>>> {
    let hours = windows("windows", &body.windows)?;
    let set = service::booking::schedules::set_hours(&ctx, &me, id.into_inner(), &hours).await?;
    Ok(web::Json(set.into_iter().map(WeeklyWindowDto::from).collect()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookingSettingsRequest {
    /// 5, 10, 15, 20, 30 or 60.
    pub granularity_min: Option<i32>,
    /// 0 to 2880 minutes.
    pub cutoff_min: Option<i32>,
    /// 1 to 180 days.
    pub horizon_days: Option<i32>,
    /// `least_busy`, `rotation` or `usual`.
    pub anyone_policy: Option<String>,
    /// 0 (never) to 10080 minutes.
    pub member_reminder_min: Option<i32>,
    pub staff_reminder_min: Option<i32>,
}

/// Changes the store's booking settings (managers).
#[utoipa::path(tag = "schedules", params(("id" = i64, Path)), request_body = BookingSettingsRequest, responses((status = 200, body = BookingSettingsDto), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[patch("/stores/{id}/booking-settings")]
async fn update_booking_settings(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
    body: Body<BookingSettingsRequest>,
) -> ApiResult<web::Json<BookingSettingsDto>> {
    let b = body.into_inner();
    let input = BookingSettingsInput {
        granularity_min: b.granularity_min,
        cutoff_min: b.cutoff_min,
        horizon_days: b.horizon_days,
        anyone_policy: b.anyone_policy,
        member_reminder_min: b.member_reminder_min,
        staff_reminder_min: b.staff_reminder_min,
    };
    let store = service::booking::schedules::update_settings(&ctx, &me, id.into_inner(), input).await?;
    Ok(web::Json(BookingSettingsDto::from(&store)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClosureRequest {
    pub date: NaiveDate,
    #[serde(default)]
    pub reason: String,
}

/// Closes the store for a day (a holiday, a refit). Existing bookings stay; the day board shows them.
#[utoipa::path(tag = "schedules", params(("id" = i64, Path)), request_body = ClosureRequest, responses((status = 204), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/stores/{id}/closures")]
async fn create_store_closure(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
    body: Body<ClosureRequest>,
) -> ApiResult<HttpResponse> {
    service::booking::schedules::add_closure(&ctx, &me, id.into_inner(), body.date, &body.reason).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Removes a day the store was to be closed.
#[utoipa::path(tag = "schedules", params(("id" = i64, Path), ("date" = NaiveDate, Path)), responses((status = 204), (status = 404, body = ErrorBody)), security(("staff_token" = [])))]
#[delete("/stores/{id}/closures/{date}")]
async fn delete_store_closure(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    path: web::Path<(i64, NaiveDate)>,
) -> ApiResult<HttpResponse> {
    let (id, date) = path.into_inner();
    service::booking::schedules::remove_closure(&ctx, &me, id, date).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Sets a staff member's weekly shifts at the store (managers); an empty week takes them off the booking sheet.
#[utoipa::path(tag = "schedules", params(("id" = i64, Path), ("staff_id" = i64, Path)), request_body = WeekRequest, responses((status = 200, body = Vec<WeeklyWindowDto>), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[put("/stores/{id}/staff/{staff_id}/shifts")]
async fn set_staff_shifts(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    path: web::Path<(i64, i64)>,
    body: Body<WeekRequest>,
) -> ApiResult<web::Json<Vec<WeeklyWindowDto>>> {
    let (store_id, staff_id) = path.into_inner();
    let shifts = windows("windows", &body.windows)?;
    let set = service::booking::schedules::set_shifts(&ctx, &me, store_id, staff_id, &shifts).await?;
    Ok(web::Json(set.into_iter().map(WeeklyWindowDto::from).collect()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShiftExceptionRequest {
    pub staff_id: i64,
    pub date: NaiveDate,
    /// `leave` or `extra`.
    pub kind: String,
    /// `HH:MM`; leave without times is the whole day, an extra shift needs them.
    pub from: Option<String>,
    pub to: Option<String>,
    #[serde(default)]
    pub note: String,
}

/// Leave or an extra shift on one day (managers).
#[utoipa::path(tag = "schedules", params(("id" = i64, Path)), request_body = ShiftExceptionRequest, responses((status = 201, body = ShiftExceptionDto), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/stores/{id}/shift-exceptions")]
async fn create_shift_exception(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
    body: Body<ShiftExceptionRequest>,
) -> ApiResult<HttpResponse> {
    let b = body.into_inner();
    let window = service::booking::schedules::clock_window(b.from.as_deref(), b.to.as_deref())?;
    let input = ExceptionInput { staff_id: b.staff_id, day: b.date, kind: b.kind, window, note: b.note };
    let exception = service::booking::schedules::add_exception(&ctx, &me, id.into_inner(), input).await?;
    Ok(HttpResponse::Created().json(ShiftExceptionDto::from(exception)))
}

/// Removes a leave or an extra shift.
#[utoipa::path(tag = "schedules", params(("id" = i64, Path)), responses((status = 204), (status = 404, body = ErrorBody)), security(("staff_token" = [])))]
#[delete("/shift-exceptions/{id}")]
async fn delete_shift_exception(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    service::booking::schedules::remove_exception(&ctx, &me, id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SkillDto {
    pub service_item_id: i64,
    /// What this staff member charges instead of the menu price (a senior stylist), in fen.
    pub price_fen: Option<Fen>,
    /// How long this staff member takes instead of the menu duration.
    pub duration_min: Option<i32>,
}

impl From<Skill> for SkillDto {
    fn from(s: Skill) -> Self {
        Self { service_item_id: s.service_item_id, price_fen: s.price_fen, duration_min: s.duration_min }
    }
}

/// The services a staff member does.
#[utoipa::path(tag = "schedules", params(("id" = i64, Path)), responses((status = 200, body = Vec<SkillDto>), (status = 404, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/staff/{id}/skills")]
async fn get_staff_skills(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
) -> ApiResult<web::Json<Vec<SkillDto>>> {
    let skills = service::booking::schedules::skills(&ctx, &me, id.into_inner()).await?;
    Ok(web::Json(skills.into_iter().map(SkillDto::from).collect()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SkillsRequest {
    /// The whole list: replaces what was there.
    pub skills: Vec<SkillDto>,
}

/// Sets the services a staff member does (managers).
#[utoipa::path(tag = "schedules", params(("id" = i64, Path)), request_body = SkillsRequest, responses((status = 200, body = Vec<SkillDto>), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[put("/staff/{id}/skills")]
async fn set_staff_skills(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
    body: Body<SkillsRequest>,
) -> ApiResult<web::Json<Vec<SkillDto>>> {
    let skills: Vec<Skill> = body
        .skills
        .iter()
        .map(|s| Skill { service_item_id: s.service_item_id, price_fen: s.price_fen, duration_min: s.duration_min })
        .collect();
    let set = service::booking::schedules::set_skills(&ctx, &me, id.into_inner(), &skills).await?;
    Ok(web::Json(set.into_iter().map(SkillDto::from).collect()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceRequest {
    pub name: String,
    /// 1–40 of a-z, 0-9 and _; services needing one name the same kind.
    pub kind: String,
    /// 1–20 clients at once.
    pub capacity: i32,
}

/// Adds a room or bed (managers).
#[utoipa::path(tag = "schedules", params(("id" = i64, Path)), request_body = ResourceRequest, responses((status = 201, body = ResourceDto), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/stores/{id}/resources")]
async fn create_resource(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
    body: Body<ResourceRequest>,
) -> ApiResult<HttpResponse> {
    let resource =
        service::booking::schedules::add_resource(&ctx, &me, id.into_inner(), &body.name, &body.kind, body.capacity)
            .await?;
    Ok(HttpResponse::Created().json(ResourceDto::from(resource)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceUpdate {
    pub name: Option<String>,
    pub capacity: Option<i32>,
    pub active: Option<bool>,
}

/// Renames a room or bed, changes its capacity or takes it out of use.
#[utoipa::path(tag = "schedules", params(("id" = i64, Path)), request_body = ResourceUpdate, responses((status = 200, body = ResourceDto), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[patch("/resources/{id}")]
async fn update_resource(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
    body: Body<ResourceUpdate>,
) -> ApiResult<web::Json<ResourceDto>> {
    let b = body.into_inner();
    let resource =
        service::booking::schedules::update_resource(&ctx, &me, id.into_inner(), b.name, b.capacity, b.active).await?;
    Ok(web::Json(resource.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotifyPhoneRequest {
    /// Mainland mobile number for SMS reminders of the staff member's bookings; null removes it.
    pub phone: Option<String>,
}

/// Where a staff member's booking reminders go by SMS (stored sealed).
#[utoipa::path(tag = "schedules", params(("id" = i64, Path)), request_body = NotifyPhoneRequest, responses((status = 204), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[put("/staff/{id}/notify-phone")]
async fn set_staff_notify_phone(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
    body: Body<NotifyPhoneRequest>,
) -> ApiResult<HttpResponse> {
    service::booking::reminders::set_staff_phone(&ctx, &me, id.into_inner(), body.phone.as_deref()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The WeChat subscribe-message template members are reminded with, and what fills each of its fields.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReminderTemplateDto {
    /// The template id from the mini-program's subscribe-message settings.
    pub template_id: String,
    /// The mini-program page the message opens.
    pub page: Option<String>,
    /// Template key (`thing1`, `time2`, …) → what fills it: `services`, `starts_at`, `date`, `store`, `address`,
    /// `staff`, `member` or `note`. Values are fitted to each key's WeChat rule (a `thing` at most 20 characters …).
    pub fields: BTreeMap<String, String>,
}

impl ReminderTemplateDto {
    pub fn into_template(self) -> ReminderTemplate {
        ReminderTemplate { template_id: self.template_id, page: self.page, fields: self.fields }
    }
}

impl From<ReminderTemplate> for ReminderTemplateDto {
    fn from(t: ReminderTemplate) -> Self {
        Self { template_id: t.template_id, page: t.page, fields: t.fields }
    }
}

/// The WeChat subscribe-message template used for booking reminders, if one is set.
#[utoipa::path(tag = "schedules", responses((status = 200, body = Option<ReminderTemplateDto>)), security(("staff_token" = [])))]
#[get("/merchant/booking-reminder")]
async fn get_booking_reminder(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
) -> ApiResult<web::Json<Option<ReminderTemplateDto>>> {
    let merchant = service::foundation::merchants::get(&ctx, me.merchant_id).await?;
    Ok(web::Json(service::booking::reminders::template_of(&merchant).map(ReminderTemplateDto::from)))
}

/// Sets the reminder template (owners and managers); null stops WeChat reminders (SMS still goes where it can).
#[utoipa::path(tag = "schedules", request_body = Option<ReminderTemplateDto>, responses((status = 200, body = Option<ReminderTemplateDto>), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[put("/merchant/booking-reminder")]
async fn set_booking_reminder(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    body: Body<Option<ReminderTemplateDto>>,
) -> ApiResult<web::Json<Option<ReminderTemplateDto>>> {
    let template = body.into_inner().map(ReminderTemplateDto::into_template);
    let set = service::booking::reminders::set_template(&ctx, &me, template).await?;
    Ok(web::Json(set.map(ReminderTemplateDto::from)))
}
