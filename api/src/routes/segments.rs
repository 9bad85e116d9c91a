//! Segments (人群) for staff who manage marketing: a rule's live count and sample while it is edited, and saved
//! segments to grant coupons to (and, later, to run campaigns for).

use actix_web::{HttpResponse, delete, get, post, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use service::AppContext;
use service::marketing::segments::{self, Segment, SegmentCount, SegmentRule};

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Body, Staff};
use crate::routes::members::MemberDto;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(preview_segment)
        .service(list_segments)
        .service(create_segment)
        .service(get_segment)
        .service(update_segment)
        .service(delete_segment);
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SegmentPreviewRequest {
    pub rule: SegmentRule,
}

/// How many members a rule holds now, and the newest few.
#[derive(Serialize, ToSchema)]
pub struct SegmentCountDto {
    pub count: u64,
    /// Up to 10 of them, newest first (contact details masked unless the staff member may read them).
    pub sample: Vec<MemberDto>,
}

impl From<SegmentCount> for SegmentCountDto {
    fn from(c: SegmentCount) -> Self {
        Self { count: c.count, sample: c.sample.into_iter().map(MemberDto::from).collect() }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SegmentRequest {
    /// 1–30 characters, unique in the merchant.
    pub name: String,
    pub rule: SegmentRule,
}

#[derive(Serialize, ToSchema)]
pub struct SegmentDto {
    pub id: i64,
    pub name: String,
    pub rule: SegmentRule,
    pub updated_at: DateTime<Utc>,
    /// Members it holds now (only when one segment is read).
    pub count: Option<u64>,
    pub sample: Option<Vec<MemberDto>>,
}

impl From<Segment> for SegmentDto {
    fn from(s: Segment) -> Self {
        Self { id: s.id, name: s.name, rule: s.rule, updated_at: s.updated_at, count: None, sample: None }
    }
}

/// Count the members a rule holds now, with a sample, without saving it.
#[utoipa::path(tag = "marketing", request_body = SegmentPreviewRequest, responses((status = 200, body = SegmentCountDto), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/segments/preview")]
async fn preview_segment(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    body: Body<SegmentPreviewRequest>,
) -> ApiResult<web::Json<SegmentCountDto>> {
    Ok(web::Json(segments::preview(&ctx, &me, &body.into_inner().rule).await?.into()))
}

/// The merchant's saved segments, by name.
#[utoipa::path(tag = "marketing", responses((status = 200, body = Vec<SegmentDto>), (status = 403, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/segments")]
async fn list_segments(ctx: web::Data<AppContext>, Staff(me): Staff) -> ApiResult<web::Json<Vec<SegmentDto>>> {
    Ok(web::Json(segments::list(&ctx, &me).await?.into_iter().map(SegmentDto::from).collect()))
}

/// Save a segment (409 `segment_name_taken` when the name is used).
#[utoipa::path(tag = "marketing", request_body = SegmentRequest, responses((status = 201, body = SegmentDto), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/segments")]
async fn create_segment(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    body: Body<SegmentRequest>,
) -> ApiResult<HttpResponse> {
    let SegmentRequest { name, rule } = body.into_inner();
    let saved = segments::save(&ctx, &me, None, &name, rule).await?;
    Ok(HttpResponse::Created().json(SegmentDto::from(saved)))
}

/// A saved segment with how many members it holds now and the newest few.
#[utoipa::path(tag = "marketing", params(("id" = i64, Path)), responses((status = 200, body = SegmentDto), (status = 404, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/segments/{id}")]
async fn get_segment(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
) -> ApiResult<web::Json<SegmentDto>> {
    let (segment, counted) = segments::get(&ctx, &me, id.into_inner()).await?;
    let counted = SegmentCountDto::from(counted);
    Ok(web::Json(SegmentDto { count: Some(counted.count), sample: Some(counted.sample), ..segment.into() }))
}

/// Rename a segment or change its rule.
#[utoipa::path(tag = "marketing", params(("id" = i64, Path)), request_body = SegmentRequest, responses((status = 200, body = SegmentDto), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[put("/segments/{id}")]
async fn update_segment(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
    body: Body<SegmentRequest>,
) -> ApiResult<web::Json<SegmentDto>> {
    let SegmentRequest { name, rule } = body.into_inner();
    Ok(web::Json(segments::save(&ctx, &me, Some(id.into_inner()), &name, rule).await?.into()))
}

/// Delete a saved segment.
#[utoipa::path(tag = "marketing", params(("id" = i64, Path)), responses((status = 204), (status = 404, body = ErrorBody)), security(("staff_token" = [])))]
#[delete("/segments/{id}")]
async fn delete_segment(ctx: web::Data<AppContext>, Staff(me): Staff, id: web::Path<i64>) -> ApiResult<HttpResponse> {
    segments::delete(&ctx, &me, id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}
