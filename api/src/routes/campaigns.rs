//! Campaigns for staff who manage marketing (schedule, read, call off), and the member's in-app inbox.

use actix_web::{HttpResponse, get, post, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use service::AppContext;
use service::domain::{CampaignStatus, SendChannel, SendStatus};
use service::marketing::assignment;
use service::marketing::campaigns::{self, Campaign, CampaignInput};
use service::marketing::inbox::{self, InboxMessage};

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Body, Member, Staff};

pub fn staff_routes(cfg: &mut ServiceConfig) {
    cfg.service(list_campaigns)
        .service(create_campaign)
        .service(get_campaign)
        .service(cancel_campaign)
        .service(pause_campaign)
        .service(resume_campaign)
        .service(stop_campaign)
        .service(get_holdout)
        .service(set_holdout);
}

pub fn mini_routes(cfg: &mut ServiceConfig) {
    cfg.service(list_my_inbox).service(read_my_message);
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignRequest {
    /// 1–30 characters.
    pub name: String,
    /// The saved segment it reaches, as it stands when the campaign runs.
    pub segment_id: i64,
    /// A coupon for each member of the treatment group; the template must not be claimable in the coupon center.
    #[serde(default)]
    pub coupon_template_id: Option<i64>,
    /// An in-app message (1–30 and 1–500 characters); give a coupon, a message, or both.
    #[serde(default)]
    pub message_title: Option<String>,
    #[serde(default)]
    pub message_body: Option<String>,
    /// An SMS from a recorded template, to members who said yes to marketing by SMS, within the sending hours.
    #[serde(default)]
    pub sms_template_id: Option<i64>,
    /// The control group's share, 0–5000 basis points (default 1000 = 10%): they receive nothing, to measure against.
    #[serde(default)]
    pub control_bp: Option<i32>,
    /// How many days after it runs the treatment and control groups are compared (7–90, default 30): fixed now, so
    /// the report cannot be read early and stopped on a lucky day.
    #[serde(default)]
    pub horizon_days: Option<i32>,
    /// When it runs: now or up to a year ahead.
    pub run_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct CampaignDto {
    pub id: i64,
    pub name: String,
    /// The segment reached; none for a run of an automation without one.
    pub segment_id: Option<i64>,
    /// The automation this is one day's run of.
    pub automation_id: Option<i64>,
    pub coupon_template_id: Option<i64>,
    pub message_title: Option<String>,
    pub message_body: Option<String>,
    pub sms_template_id: Option<i64>,
    pub control_bp: i32,
    /// Days after it ran over which its groups are compared.
    pub horizon_days: i32,
    pub status: CampaignStatus,
    pub run_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Members the segment held when it ran; of them, the control group (who received nothing).
    pub audience: i64,
    pub control: i64,
    pub coupons_issued: i64,
    /// Messages sent or delivered, all channels.
    pub messages: i64,
    /// Its messages counted by channel and where they stand (sent, delivered, failed, skipped…).
    pub sends: Vec<SendCountDto>,
    /// Why it gave up (`failed`: its segment was gone when it ran).
    pub failure: Option<String>,
    /// When staff paused it: a scheduled one does not run, one that ran sends nothing more, until resumed.
    pub paused_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct SendCountDto {
    pub channel: SendChannel,
    pub status: SendStatus,
    pub count: i64,
}

impl From<Campaign> for CampaignDto {
    fn from(c: Campaign) -> Self {
        let (message_title, message_body) = c.message.unzip();
        Self {
            id: c.id,
            name: c.name,
            segment_id: c.segment_id,
            automation_id: c.automation_id,
            coupon_template_id: c.coupon_template_id,
            message_title,
            message_body,
            sms_template_id: c.sms_template_id,
            control_bp: c.control_bp,
            horizon_days: c.horizon_days,
            status: c.status,
            run_at: c.run_at,
            started_at: c.started_at,
            finished_at: c.finished_at,
            audience: c.audience,
            control: c.control,
            coupons_issued: c.coupons_issued,
            messages: c.messages,
            sends: c
                .sends
                .into_iter()
                .map(|s| SendCountDto { channel: s.channel, status: s.status, count: s.count })
                .collect(),
            failure: c.failure,
            paused_at: c.paused_at,
            created_at: c.created_at,
        }
    }
}

/// The merchant's campaigns, newest first.
#[utoipa::path(tag = "marketing", responses((status = 200, body = Vec<CampaignDto>), (status = 403, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/campaigns")]
async fn list_campaigns(ctx: web::Data<AppContext>, Staff(me): Staff) -> ApiResult<web::Json<Vec<CampaignDto>>> {
    Ok(web::Json(campaigns::list(&ctx, &me).await?.into_iter().map(CampaignDto::from).collect()))
}

/// Schedule a one-off campaign to a saved segment.
#[utoipa::path(tag = "marketing", request_body = CampaignRequest, responses((status = 201, body = CampaignDto), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/campaigns")]
async fn create_campaign(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    body: Body<CampaignRequest>,
) -> ApiResult<HttpResponse> {
    let r = body.into_inner();
    let message = message_of(r.message_title, r.message_body)?;
    let input = CampaignInput {
        name: r.name,
        segment_id: r.segment_id,
        coupon_template_id: r.coupon_template_id,
        message,
        sms_template_id: r.sms_template_id,
        control_bp: r.control_bp,
        horizon_days: r.horizon_days,
        run_at: r.run_at,
    };
    Ok(HttpResponse::Created().json(CampaignDto::from(campaigns::create(&ctx, &me, input).await?)))
}

/// An in-app message's title and body: both or neither.
pub(crate) fn message_of(
    title: Option<String>,
    body: Option<String>,
) -> Result<Option<(String, String)>, service::Error> {
    match (title, body) {
        (Some(title), Some(body)) => Ok(Some((title, body))),
        (None, None) => Ok(None),
        _ => Err(service::Error::invalid("message_body", "give the message's title and body together")),
    }
}

/// A campaign with what it did.
#[utoipa::path(tag = "marketing", params(("id" = i64, Path)), responses((status = 200, body = CampaignDto), (status = 404, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/campaigns/{id}")]
async fn get_campaign(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
) -> ApiResult<web::Json<CampaignDto>> {
    Ok(web::Json(campaigns::get(&ctx, &me, id.into_inner()).await?.into()))
}

/// Call off a campaign that has not run (409 `campaign_state` otherwise).
#[utoipa::path(tag = "marketing", params(("id" = i64, Path)), responses((status = 200, body = CampaignDto), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/campaigns/{id}/cancel")]
async fn cancel_campaign(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
) -> ApiResult<web::Json<CampaignDto>> {
    Ok(web::Json(campaigns::cancel(&ctx, &me, id.into_inner()).await?.into()))
}

/// Pause a scheduled campaign, or one that has run: nothing more is sent until it is resumed (409 `campaign_state`
/// while it is being run, or once paused, cancelled or failed).
#[utoipa::path(tag = "marketing", params(("id" = i64, Path)), responses((status = 200, body = CampaignDto), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/campaigns/{id}/pause")]
async fn pause_campaign(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
) -> ApiResult<web::Json<CampaignDto>> {
    Ok(web::Json(campaigns::pause(&ctx, &me, id.into_inner()).await?.into()))
}

/// Resume a paused campaign: its messages not sent yet are queued again (409 `campaign_state` if not paused).
#[utoipa::path(tag = "marketing", params(("id" = i64, Path)), responses((status = 200, body = CampaignDto), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/campaigns/{id}/resume")]
async fn resume_campaign(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
) -> ApiResult<web::Json<CampaignDto>> {
    Ok(web::Json(campaigns::resume(&ctx, &me, id.into_inner()).await?.into()))
}

/// End a campaign that has run: its messages not sent yet are skipped (409 `campaign_state` before it runs).
#[utoipa::path(tag = "marketing", params(("id" = i64, Path)), responses((status = 200, body = CampaignDto), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/campaigns/{id}/stop")]
async fn stop_campaign(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
) -> ApiResult<web::Json<CampaignDto>> {
    Ok(web::Json(campaigns::stop(&ctx, &me, id.into_inner()).await?.into()))
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldoutDto {
    /// The merchant-wide control group, 0–2000 basis points (0: none): these members are in the control group of
    /// every campaign and automation, so the whole of marketing can be measured against them.
    pub holdout_bp: i32,
}

/// The merchant-wide control group.
#[utoipa::path(tag = "marketing", responses((status = 200, body = HoldoutDto), (status = 403, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/marketing/holdout")]
async fn get_holdout(ctx: web::Data<AppContext>, Staff(me): Staff) -> ApiResult<web::Json<HoldoutDto>> {
    Ok(web::Json(HoldoutDto { holdout_bp: assignment::holdout(&ctx, &me).await? }))
}

/// Set the merchant-wide control group (owner); campaigns that ran keep their groups.
#[utoipa::path(tag = "marketing", request_body = HoldoutDto, responses((status = 200, body = HoldoutDto), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[put("/marketing/holdout")]
async fn set_holdout(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    body: Body<HoldoutDto>,
) -> ApiResult<web::Json<HoldoutDto>> {
    let holdout_bp = assignment::set_holdout(&ctx, &me, body.into_inner().holdout_bp).await?;
    Ok(web::Json(HoldoutDto { holdout_bp }))
}

#[derive(Serialize, ToSchema)]
pub struct InboxMessageDto {
    pub id: i64,
    pub title: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
    /// None: not read yet (the app shows it once as a pop-up).
    pub read_at: Option<DateTime<Utc>>,
}

impl From<InboxMessage> for InboxMessageDto {
    fn from(m: InboxMessage) -> Self {
        Self { id: m.id, title: m.title, body: m.body, created_at: m.created_at, read_at: m.read_at }
    }
}

/// My messages from the store, newest first.
#[utoipa::path(tag = "me", responses((status = 200, body = Vec<InboxMessageDto>)), security(("member_token" = [])))]
#[get("/me/inbox")]
async fn list_my_inbox(ctx: web::Data<AppContext>, Member(me): Member) -> ApiResult<web::Json<Vec<InboxMessageDto>>> {
    Ok(web::Json(inbox::mine(&ctx, &me).await?.into_iter().map(InboxMessageDto::from).collect()))
}

/// Mark one of my messages read.
#[utoipa::path(tag = "me", params(("id" = i64, Path)), responses((status = 204), (status = 404, body = ErrorBody)), security(("member_token" = [])))]
#[post("/me/inbox/{id}/read")]
async fn read_my_message(
    ctx: web::Data<AppContext>,
    Member(me): Member,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    inbox::read(&ctx, &me, id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}
