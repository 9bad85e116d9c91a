//! Count cards (次卡) members hold: sessions left, extension, transfer and refund.

use actix_web::{get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use service::AppContext;
use service::cards::count_cards::{self, CountCard};
use service::domain::Fen;

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Body, Staff};

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_member_count_cards)
        .service(get_count_card)
        .service(extend_count_card)
        .service(transfer_count_card)
        .service(refund_count_card);
}

/// A count card: sessions left and the value not yet used.
#[derive(Serialize, ToSchema)]
pub struct CountCardDto {
    pub id: i64,
    pub member_id: i64,
    pub name: String,
    pub service_item_ids: Vec<i64>,
    pub sessions_total: i32,
    pub sessions_left: i64,
    pub price_fen: Fen,
    /// What refunding the unused sessions pays.
    pub deferred_fen: Fen,
    /// `active`, `refunded`, `transferred` or `expired` (its value recognised as breakage).
    pub status: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<CountCard> for CountCardDto {
    fn from(c: CountCard) -> Self {
        Self {
            id: c.id,
            member_id: c.member_id,
            name: c.name,
            service_item_ids: c.service_item_ids,
            sessions_total: c.sessions_total,
            sessions_left: c.sessions_left,
            price_fen: c.price_fen,
            deferred_fen: c.deferred_fen,
            status: c.status,
            expires_at: c.expires_at,
            created_at: c.created_at,
        }
    }
}

/// A member's count cards with the sessions left.
#[utoipa::path(tag = "count cards", params(("id" = i64, Path)), responses((status = 200, body = Vec<CountCardDto>), (status = 404, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/members/{id}/count-cards")]
async fn list_member_count_cards(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
) -> ApiResult<web::Json<Vec<CountCardDto>>> {
    Ok(web::Json(count_cards::list(&ctx, &me, id.into_inner()).await?.into_iter().map(Into::into).collect()))
}

/// One count card with its sessions left and expiry.
#[utoipa::path(tag = "count cards", params(("id" = i64, Path)), responses((status = 200, body = CountCardDto), (status = 404, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/count-cards/{id}")]
async fn get_count_card(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
) -> ApiResult<web::Json<CountCardDto>> {
    Ok(web::Json(count_cards::get(&ctx, &me, id.into_inner()).await?.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtendCardRequest {
    pub expires_at: DateTime<Utc>,
    pub reason: String,
}

/// Extend a count card's validity. Audited.
#[utoipa::path(tag = "count cards", params(("id" = i64, Path)), request_body = ExtendCardRequest, responses((status = 200, body = CountCardDto), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/count-cards/{id}/extend")]
async fn extend_count_card(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
    body: Body<ExtendCardRequest>,
) -> ApiResult<web::Json<CountCardDto>> {
    Ok(web::Json(count_cards::extend(&ctx, &me, id.into_inner(), body.expires_at, &body.reason).await?.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferCardRequest {
    pub to_member_id: i64,
    pub reason: String,
    pub idempotency_key: String,
}

/// Give what is left on a count card to another member. Returns the new card. Audited.
#[utoipa::path(tag = "count cards", params(("id" = i64, Path)), request_body = TransferCardRequest, responses((status = 200, body = CountCardDto), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/count-cards/{id}/transfer")]
async fn transfer_count_card(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
    body: Body<TransferCardRequest>,
) -> ApiResult<web::Json<CountCardDto>> {
    let b = body.into_inner();
    let input = count_cards::TransferInput {
        to_member_id: b.to_member_id,
        reason: b.reason,
        idempotency_key: b.idempotency_key,
    };
    Ok(web::Json(count_cards::transfer(&ctx, &me, id.into_inner(), input).await?.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundCardRequest {
    pub store_id: i64,
    /// `cash` or `bank_card`.
    pub tender: String,
    pub reason: String,
    pub idempotency_key: String,
}

/// Refund a count card's unused sessions at its unit price and close it. Audited.
#[utoipa::path(tag = "count cards", params(("id" = i64, Path)), request_body = RefundCardRequest, responses((status = 200, body = CountCardDto), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/count-cards/{id}/refund")]
async fn refund_count_card(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
    body: Body<RefundCardRequest>,
) -> ApiResult<web::Json<CountCardDto>> {
    let b = body.into_inner();
    let input = count_cards::RefundInput {
        store_id: b.store_id,
        tender: b.tender,
        reason: b.reason,
        idempotency_key: b.idempotency_key,
    };
    Ok(web::Json(count_cards::refund(&ctx, &me, id.into_inner(), input).await?.into()))
}
