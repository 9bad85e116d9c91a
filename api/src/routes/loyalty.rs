//! What members hold besides stored value, and what staff earn: points (积分) with their lots, count cards
//! (次卡) with extension, transfer and refund, and commission (提成) statements.

use actix_web::{get, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use service::AppContext;
use service::cards::count_cards::{self, CountCard};
use service::commission::{self, Statement};
use service::domain::{Fen, Points};
use service::loyalty::points::{self, MemberPoints};

use crate::error::{ApiResult, ErrorBody};
use crate::extract::Staff;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(get_member_points)
        .service(adjust_member_points)
        .service(list_member_count_cards)
        .service(get_count_card)
        .service(extend_count_card)
        .service(transfer_count_card)
        .service(refund_count_card)
        .service(get_commission_statement);
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
    body: web::Json<AdjustPointsRequest>,
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
    /// `active`, `refunded` or `transferred`.
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
    body: web::Json<ExtendCardRequest>,
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
    body: web::Json<TransferCardRequest>,
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
    body: web::Json<RefundCardRequest>,
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

#[derive(Deserialize, IntoParams)]
pub struct PeriodQuery {
    /// First day, in the merchant's time zone.
    pub from: NaiveDate,
    /// Last day, included.
    pub to: NaiveDate,
}

#[derive(Serialize, ToSchema)]
pub struct CommissionRowDto {
    pub id: i64,
    pub bill_id: i64,
    pub bill_line_id: i64,
    /// Set on a reversal (negative amounts) caused by a refund.
    pub refund_id: Option<i64>,
    pub store_id: i64,
    /// `consume` or `card_sale`.
    pub kind: String,
    pub basis_fen: Fen,
    pub amount_fen: Fen,
    pub created_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct CommissionStatementDto {
    pub staff_id: i64,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub consume_fen: Fen,
    pub card_sale_fen: Fen,
    pub total_fen: Fen,
    pub rows: Vec<CommissionRowDto>,
}

impl From<Statement> for CommissionStatementDto {
    fn from(s: Statement) -> Self {
        Self {
            staff_id: s.staff_id,
            from: s.from,
            to: s.to,
            consume_fen: s.consume_fen,
            card_sale_fen: s.card_sale_fen,
            total_fen: s.total_fen,
            rows: s
                .rows
                .into_iter()
                .map(|r| CommissionRowDto {
                    id: r.id,
                    bill_id: r.bill_id,
                    bill_line_id: r.bill_line_id,
                    refund_id: r.refund_id,
                    store_id: r.store_id,
                    kind: r.kind,
                    basis_fen: r.basis_fen,
                    amount_fen: r.amount_fen,
                    created_at: r.created_at,
                })
                .collect(),
        }
    }
}

/// A staff member's commission for a period: everyone may read their own.
#[utoipa::path(tag = "commission", params(("id" = i64, Path), PeriodQuery), responses((status = 200, body = CommissionStatementDto), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/staff/{id}/commission")]
async fn get_commission_statement(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
    q: web::Query<PeriodQuery>,
) -> ApiResult<web::Json<CommissionStatementDto>> {
    Ok(web::Json(commission::statement(&ctx, &me, id.into_inner(), q.from, q.to).await?.into()))
}
