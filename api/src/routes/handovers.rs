//! Shift handover (交班): a cashier's takings per payment method since their last handover.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use service::AppContext;
use service::domain::Fen;
use service::store::handover::Handover;

use crate::error::{ApiResult, ErrorBody};
use crate::extract::Staff;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(preview_handover).service(create_handover).service(list_handovers);
}

#[derive(Serialize, ToSchema)]
pub struct HandoverDto {
    /// 0 for a preview (not handed over yet).
    pub id: i64,
    pub store_id: i64,
    pub staff_id: i64,
    pub staff_name: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Payment method (`cash`, `bank_card`, `wechat_pay`, `alipay`) → net fen taken, refunds deducted.
    pub takings: BTreeMap<String, i64>,
    /// What was done: entry kind (`sale`, `recharge`, `refund`, `card_refund`, …) → how many.
    pub entries: BTreeMap<String, u64>,
    pub total_fen: Fen,
}

impl From<Handover> for HandoverDto {
    fn from(h: Handover) -> Self {
        Self {
            id: h.id,
            store_id: h.store_id,
            staff_id: h.staff_id,
            staff_name: h.staff_name,
            from: h.from,
            to: h.to,
            takings: h.takings,
            entries: h.entries,
            total_fen: Fen::new(h.total),
        }
    }
}

/// My shift so far (from my last handover, or the start of the store's day).
#[utoipa::path(tag = "checkout", params(("id" = i64, Path)), responses((status = 200, body = HandoverDto), (status = 404, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/stores/{id}/handovers/current")]
async fn preview_handover(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
) -> ApiResult<web::Json<HandoverDto>> {
    Ok(web::Json(service::store::handover::preview(&ctx, &me, id.into_inner()).await?.into()))
}

/// Hands over (交班): records my shift so far and prints its summary on the store's printer.
#[utoipa::path(tag = "checkout", params(("id" = i64, Path)), responses((status = 201, body = HandoverDto), (status = 404, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/stores/{id}/handovers")]
async fn create_handover(ctx: web::Data<AppContext>, Staff(me): Staff, id: web::Path<i64>) -> ApiResult<HttpResponse> {
    let handover = service::store::handover::hand_over(&ctx, &me, id.into_inner()).await?;
    Ok(HttpResponse::Created().json(HandoverDto::from(handover)))
}

/// The store's latest handovers (everyone's for managers, my own otherwise).
#[utoipa::path(tag = "checkout", params(("id" = i64, Path)), responses((status = 200, body = Vec<HandoverDto>), (status = 404, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/stores/{id}/handovers")]
async fn list_handovers(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
) -> ApiResult<web::Json<Vec<HandoverDto>>> {
    let found = service::store::handover::list(&ctx, &me, id.into_inner()).await?;
    Ok(web::Json(found.into_iter().map(HandoverDto::from).collect()))
}
