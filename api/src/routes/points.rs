//! Points (积分): a member's lots with their expiry, and adjustments by hand.

use actix_web::{get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use service::AppContext;
use service::domain::Points;
use service::loyalty::points::{self, MemberPoints};

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Body, Staff};

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(get_member_points).service(adjust_member_points);
}

#[derive(Serialize, ToSchema)]
pub struct PointsLotDto {
    pub id: i64,
    pub points: Points,
    pub remaining: Points,
    pub expires_at: DateTime<Utc>,
    /// `earn`, `adjust`, `recharge` or `refund`.
    pub source: String,
    pub bill_id: Option<i64>,
    pub created_at: DateTime<Utc>,
}

/// A member's points: what can be spent now, and the lots it is in, earliest expiry first.
#[derive(Serialize, ToSchema)]
pub struct PointsDto {
    pub member_id: i64,
    pub available: Points,
    pub lots: Vec<PointsLotDto>,
}

impl From<MemberPoints> for PointsDto {
    fn from(p: MemberPoints) -> Self {
        Self {
            member_id: p.member_id,
            available: p.available,
            lots: p
                .lots
                .into_iter()
                .map(|l| PointsLotDto {
                    id: l.id,
                    points: l.points,
                    remaining: l.remaining,
                    expires_at: l.expires_at,
                    source: l.source,
                    bill_id: l.bill_id,
                    created_at: l.created_at,
                })
                .collect(),
        }
    }
}

/// A member's points available and their lots, soonest expiry first.
#[utoipa::path(tag = "points", params(("id" = i64, Path)), responses((status = 200, body = PointsDto), (status = 404, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/members/{id}/points")]
async fn get_member_points(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
) -> ApiResult<web::Json<PointsDto>> {
    Ok(web::Json(points::get(&ctx, &me, id.into_inner()).await?.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdjustPointsRequest {
    pub store_id: i64,
    /// Positive gives, negative takes (earliest-expiring first).
    pub points: Points,
    pub reason: String,
    pub idempotency_key: String,
}

/// Give or take points by hand, with a reason. Audited.
#[utoipa::path(tag = "points", params(("id" = i64, Path)), request_body = AdjustPointsRequest, responses((status = 200, body = PointsDto), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/members/{id}/points/adjustments")]
async fn adjust_member_points(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
    body: Body<AdjustPointsRequest>,
) -> ApiResult<web::Json<PointsDto>> {
    let b = body.into_inner();
    let input = points::AdjustInput {
        store_id: b.store_id,
        points: b.points,
        reason: b.reason,
        idempotency_key: b.idempotency_key,
    };
    Ok(web::Json(points::adjust(&ctx, &me, id.into_inner(), input).await?.into()))
}
