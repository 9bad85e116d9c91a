//! Member levels (会员等级) as the owner configures them. The list is `GET /member-levels` in `members`.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, delete, patch, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use service::AppContext;
use service::domain::Fen;
use service::loyalty::levels::{self, LevelInput};

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Body, Staff};
use crate::routes::members::LevelDto;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(create_member_level)
        .service(update_member_level)
        .service(delete_member_level)
        .service(review_member_levels);
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LevelRequest {
    /// 1–40 characters.
    pub name: Option<String>,
    /// 0–1000, unique per merchant (409 `rank_taken` otherwise); higher is better.
    pub rank: Option<i32>,
    /// Cumulative spend or recharge (by the merchant's `level_basis`) that qualifies, 0 to 100,000,000 fen.
    pub threshold_fen: Option<Fen>,
    /// What members of the level pay, 1000–10000 basis points of the price (9500 = 95折).
    pub discount_bp: Option<i32>,
    /// Item category → basis points (1000–10000), overriding `discount_bp`; at most 50. Replaces the whole map.
    pub category_discounts: Option<BTreeMap<String, i32>>,
    /// Points multiplier in percent, 0–1000 (150 = 1.5×).
    pub points_multiplier_pct: Option<i32>,
}

impl From<LevelRequest> for LevelInput {
    fn from(r: LevelRequest) -> Self {
        Self {
            name: r.name,
            rank: r.rank,
            threshold_fen: r.threshold_fen,
            discount_bp: r.discount_bp,
            category_discounts: r.category_discounts,
            points_multiplier_pct: r.points_multiplier_pct,
        }
    }
}

/// Add a level (owners; audited).
#[utoipa::path(tag = "members", request_body = LevelRequest, responses((status = 201, body = LevelDto), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/member-levels")]
async fn create_member_level(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    body: Body<LevelRequest>,
) -> ApiResult<HttpResponse> {
    let level = levels::create(&ctx, &me, body.into_inner().into()).await?;
    Ok(HttpResponse::Created().json(LevelDto::from(level)))
}

/// Change a level (owners; audited).
#[utoipa::path(tag = "members", params(("id" = i64, Path)), request_body = LevelRequest, responses((status = 200, body = LevelDto), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[patch("/member-levels/{id}")]
async fn update_member_level(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
    body: Body<LevelRequest>,
) -> ApiResult<web::Json<LevelDto>> {
    Ok(web::Json(levels::update(&ctx, &me, id.into_inner(), body.into_inner().into()).await?.into()))
}

/// Delete a level no member holds (409 `level_in_use` otherwise), with its prices on the service menu (owners;
/// audited).
#[utoipa::path(tag = "members", params(("id" = i64, Path)), responses((status = 204), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), security(("staff_token" = [])))]
#[delete("/member-levels/{id}")]
async fn delete_member_level(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    levels::delete(&ctx, &me, id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Serialize, ToSchema)]
pub struct LevelReviewDto {
    pub members_reviewed: u64,
    pub moved_down: u64,
}

/// Run the annual downgrade review now: members whose last 365 days no longer reach their level move down.
#[utoipa::path(tag = "members", responses((status = 200, body = LevelReviewDto), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/member-levels/review")]
async fn review_member_levels(ctx: web::Data<AppContext>, Staff(me): Staff) -> ApiResult<web::Json<LevelReviewDto>> {
    let done = levels::review(&ctx, &me).await?;
    Ok(web::Json(LevelReviewDto { members_reviewed: done.members_reviewed, moved_down: done.moved_down }))
}
