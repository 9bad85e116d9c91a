//! Automations for staff who manage marketing: campaigns that run by themselves each day for the members a trigger
//! picks (create, read, pause, resume, end). Each day's run is a campaign, listed with the others.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use service::AppContext;
use service::domain::{AutomationStatus, AutomationTrigger};
use service::marketing::automations::{self, Automation, AutomationInput};

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Body, Staff};
use crate::routes::campaigns::message_of;

pub fn staff_routes(cfg: &mut ServiceConfig) {
    cfg.service(list_automations)
        .service(create_automation)
        .service(get_automation)
        .service(pause_automation)
        .service(resume_automation)
        .service(end_automation);
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AutomationRequest {
    /// 1–18 characters (each run is named after it and its date).
    pub name: String,
    pub trigger: AutomationTrigger,
    /// The trigger's days, its default when left out: welcome, joined within 1–30 (3); birthday, 0–30 days ahead
    /// (3); win-back, lapsed 7–730 (60); count card or stored value expiring, within 1–90 (14); coupon expiring,
    /// within 1–30 (3); recurring, every 1–365 days (7). Rebook and low balance take none.
    #[serde(default)]
    pub days: Option<u32>,
    /// Rebook: percent of the member's own interval, 101–1000 (150). Low balance: the balance in fen at most
    /// (10000). Others take none.
    #[serde(default)]
    pub threshold: Option<i64>,
    /// Narrows the trigger to a saved segment; a recurring automation needs one.
    #[serde(default)]
    pub segment_id: Option<i64>,
    /// A coupon for each member of the treatment group; the template must not reach members any other way.
    #[serde(default)]
    pub coupon_template_id: Option<i64>,
    #[serde(default)]
    pub message_title: Option<String>,
    #[serde(default)]
    pub message_body: Option<String>,
    #[serde(default)]
    pub sms_template_id: Option<i64>,
    /// The control group's share, 0–5000 basis points (default 1000 = 10%), kept across all its runs.
    #[serde(default)]
    pub control_bp: Option<i32>,
    /// Days, 0–3650, before it may reach the same member again; by default once ever for a welcome, 300 days for a
    /// birthday, 180 for a win-back, 7 for a coupon expiring, 30 for the others, 0 for recurring.
    #[serde(default)]
    pub cooldown_days: Option<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct AutomationDto {
    pub id: i64,
    pub name: String,
    pub trigger: AutomationTrigger,
    /// The trigger's days (0 for rebook and low balance).
    pub days: u32,
    pub threshold: Option<i64>,
    pub segment_id: Option<i64>,
    pub coupon_template_id: Option<i64>,
    pub message_title: Option<String>,
    pub message_body: Option<String>,
    pub sms_template_id: Option<i64>,
    pub control_bp: i32,
    pub cooldown_days: u32,
    pub status: AutomationStatus,
    /// The local date (YYYY-MM-DD) of its latest run.
    pub last_occasion: Option<String>,
    /// Its runs so far; their members, control group and coupons added up.
    pub runs: i64,
    pub audience: i64,
    pub control: i64,
    pub coupons_issued: i64,
    pub created_at: DateTime<Utc>,
}

impl From<Automation> for AutomationDto {
    fn from(a: Automation) -> Self {
        let (message_title, message_body) = a.message.unzip();
        Self {
            id: a.id,
            name: a.name,
            trigger: a.trigger,
            days: a.days,
            threshold: a.threshold,
            segment_id: a.segment_id,
            coupon_template_id: a.coupon_template_id,
            message_title,
            message_body,
            sms_template_id: a.sms_template_id,
            control_bp: a.control_bp,
            cooldown_days: a.cooldown_days,
            status: a.status,
            last_occasion: a.last_occasion,
            runs: a.totals.runs,
            audience: a.totals.audience,
            control: a.totals.control,
            coupons_issued: a.totals.coupons_issued,
            created_at: a.created_at,
        }
    }
}

/// The merchant's automations, newest first.
#[utoipa::path(tag = "marketing", responses((status = 200, body = Vec<AutomationDto>), (status = 403, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/automations")]
async fn list_automations(ctx: web::Data<AppContext>, Staff(me): Staff) -> ApiResult<web::Json<Vec<AutomationDto>>> {
    Ok(web::Json(automations::list(&ctx, &me).await?.into_iter().map(AutomationDto::from).collect()))
}

/// Create an automation: from the next morning (09:00 in the merchant's zone) it runs every day.
#[utoipa::path(tag = "marketing", request_body = AutomationRequest, responses((status = 201, body = AutomationDto), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/automations")]
async fn create_automation(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    body: Body<AutomationRequest>,
) -> ApiResult<HttpResponse> {
    let r = body.into_inner();
    let input = AutomationInput {
        name: r.name,
        trigger: r.trigger,
        days: r.days,
        threshold: r.threshold,
        segment_id: r.segment_id,
        coupon_template_id: r.coupon_template_id,
        message: message_of(r.message_title, r.message_body)?,
        sms_template_id: r.sms_template_id,
        control_bp: r.control_bp,
        cooldown_days: r.cooldown_days,
    };
    Ok(HttpResponse::Created().json(AutomationDto::from(automations::create(&ctx, &me, input).await?)))
}

/// An automation with its runs added up.
#[utoipa::path(tag = "marketing", params(("id" = i64, Path)), responses((status = 200, body = AutomationDto), (status = 404, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/automations/{id}")]
async fn get_automation(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
) -> ApiResult<web::Json<AutomationDto>> {
    Ok(web::Json(automations::get(&ctx, &me, id.into_inner()).await?.into()))
}

/// Pause an active automation: no more runs until resumed (409 `automation_state` otherwise).
#[utoipa::path(tag = "marketing", params(("id" = i64, Path)), responses((status = 200, body = AutomationDto), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/automations/{id}/pause")]
async fn pause_automation(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
) -> ApiResult<web::Json<AutomationDto>> {
    Ok(web::Json(automations::pause(&ctx, &me, id.into_inner()).await?.into()))
}

/// Resume a paused automation (409 `automation_state` otherwise).
#[utoipa::path(tag = "marketing", params(("id" = i64, Path)), responses((status = 200, body = AutomationDto), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/automations/{id}/resume")]
async fn resume_automation(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
) -> ApiResult<web::Json<AutomationDto>> {
    Ok(web::Json(automations::resume(&ctx, &me, id.into_inner()).await?.into()))
}

/// End an automation for good: no more runs, its runs' messages not sent yet are skipped (409 once ended).
#[utoipa::path(tag = "marketing", params(("id" = i64, Path)), responses((status = 200, body = AutomationDto), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/automations/{id}/end")]
async fn end_automation(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
) -> ApiResult<web::Json<AutomationDto>> {
    Ok(web::Json(automations::end(&ctx, &me, id.into_inner()).await?.into()))
}
