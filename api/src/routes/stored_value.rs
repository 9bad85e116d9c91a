//! Stored-value cards (储值) at the desk: recharge plans, the member's card, recharge, transfer, 挂失, 退卡.

use actix_web::{HttpResponse, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use service::AppContext;
use service::cards::recharge_plans::{self, Plan, PlanInput};
use service::cards::stored_value::{self, Card, Movement, StatementLine};
use service::domain::{Fen, Page, Points};

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Body, Staff};

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_recharge_plans)
        .service(create_recharge_plan)
        .service(update_recharge_plan)
        .service(get_stored_value)
        .service(recharge_stored_value)
        .service(transfer_stored_value)
        .service(refund_stored_value)
        .service(freeze_stored_value)
        .service(unfreeze_stored_value)
        .service(list_stored_value_entries);
}

#[derive(Serialize, ToSchema)]
pub struct RechargePlanDto {
    pub id: i64,
    pub name: String,
    /// What the member pays, in fen.
    pub pay_fen: Fen,
    /// What the store adds on top, in fen.
    pub bonus_fen: Fen,
    /// Points granted with each recharge (充值送积分), valid for the merchant's points validity.
    pub bonus_points: Points,
    /// A recharge under this plan makes the card valid for this many days (never shorter); null: no expiry.
    pub validity_days: Option<i32>,
    pub active: bool,
}

impl From<Plan> for RechargePlanDto {
    fn from(p: Plan) -> Self {
        Self {
            id: p.id,
            name: p.name,
            pay_fen: p.pay_fen,
            bonus_fen: p.bonus_fen,
            bonus_points: p.bonus_points,
            validity_days: p.validity_days,
            active: p.active,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RechargePlanRequest {
    pub name: Option<String>,
    pub pay_fen: Option<Fen>,
    pub bonus_fen: Option<Fen>,
    /// 0–100,000,000.
    pub bonus_points: Option<Points>,
    /// 1–3650, or null for no expiry.
    #[serde(default, deserialize_with = "crate::extract::explicit_null")]
    #[schema(value_type = Option<i32>)]
    pub validity_days: Option<Option<i32>>,
    pub active: Option<bool>,
}

impl From<RechargePlanRequest> for PlanInput {
    fn from(r: RechargePlanRequest) -> Self {
        Self {
            name: r.name,
            pay_fen: r.pay_fen,
            bonus_fen: r.bonus_fen,
            bonus_points: r.bonus_points,
            validity_days: r.validity_days,
            active: r.active,
        }
    }
}

/// A member's stored-value card. A member who never recharged has an empty active card.
#[derive(Serialize, ToSchema)]
pub struct CardDto {
    pub member_id: i64,
    /// `active`, `frozen` (挂失) or `closed` (退卡).
    pub status: String,
    /// Money the member paid in and has not spent, in fen.
    pub principal_fen: Fen,
    /// Bonus the store added and the member has not spent, in fen.
    pub bonus_fen: Fen,
    /// principal + bonus.
    pub balance_fen: Fen,
    pub expires_at: Option<DateTime<Utc>>,
}

impl From<Card> for CardDto {
    fn from(c: Card) -> Self {
        Self {
            member_id: c.member_id,
            status: c.status.as_str().to_owned(),
            principal_fen: c.principal,
            bonus_fen: c.bonus,
            balance_fen: c.balance(),
            expires_at: c.expires_at,
        }
    }
}

/// A movement of stored value and the card afterwards.
#[derive(Serialize, ToSchema)]
pub struct MovementDto {
    /// The ledger entry that moved the value.
    pub entry_id: i64,
    pub card: CardDto,
    /// True when this idempotency key was seen before: nothing new happened.
    pub replayed: bool,
}

impl From<Movement> for MovementDto {
    fn from(m: Movement) -> Self {
        Self { entry_id: m.entry_id, card: m.card.into(), replayed: m.replayed }
    }
}

fn moved(movement: Movement) -> HttpResponse {
    if movement.replayed {
        HttpResponse::Ok().json(MovementDto::from(movement))
    } else {
        HttpResponse::Created().json(MovementDto::from(movement))
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RechargeRequest {
    pub store_id: i64,
    /// A recharge plan (充X送Y), or
    pub plan_id: Option<i64>,
    /// a plain amount in fen, without bonus.
    pub amount_fen: Option<Fen>,
    /// `cash` or `bank_card`.
    pub tender: String,
    /// Chosen by the client, 8–64 characters; retrying with the same key never recharges twice.
    pub idempotency_key: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferRequest {
    pub to_member_id: i64,
    pub amount_fen: Fen,
    pub reason: String,
    pub idempotency_key: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundCardRequest {
    pub store_id: i64,
    /// How the principal is paid back: `cash` or `bank_card`.
    pub tender: String,
    /// Kept from the principal by the store's refund policy; default 0.
    #[serde(default)]
    pub fee_fen: Fen,
    pub reason: String,
    pub idempotency_key: String,
}

/// One movement on a member's card; deltas are signed (+ in, − out).
#[derive(Serialize, ToSchema)]
pub struct StatementLineDto {
    pub entry_id: i64,
    /// `recharge`, `sale`, `transfer`, `card_refund`, ...
    pub kind: String,
    pub memo: String,
    pub bill_id: Option<i64>,
    pub principal_delta_fen: Fen,
    pub bonus_delta_fen: Fen,
    pub created_at: DateTime<Utc>,
}

impl From<StatementLine> for StatementLineDto {
    fn from(l: StatementLine) -> Self {
        Self {
            entry_id: l.entry_id,
            kind: l.kind,
            memo: l.memo,
            bill_id: l.bill_id,
            principal_delta_fen: l.principal_delta,
            bonus_delta_fen: l.bonus_delta,
            created_at: l.created_at,
        }
    }
}

#[derive(Deserialize, IntoParams)]
pub struct StatementQuery {
    /// Movements older than this entry id (the last one of the previous page).
    pub before_id: Option<i64>,
    /// 1–200, default 50.
    pub limit: Option<u64>,
}

/// Recharge plans, cheapest first, inactive ones included.
#[utoipa::path(tag = "stored value", responses((status = 200, body = Vec<RechargePlanDto>)), security(("staff_token" = [])))]
#[get("/recharge-plans")]
async fn list_recharge_plans(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
) -> ApiResult<web::Json<Vec<RechargePlanDto>>> {
    Ok(web::Json(recharge_plans::list_plans(&ctx, &me).await?.into_iter().map(Into::into).collect()))
}

/// Adds a recharge plan (pay X, get Y bonus and points).
#[utoipa::path(tag = "stored value", request_body = RechargePlanRequest, responses((status = 201, body = RechargePlanDto), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/recharge-plans")]
async fn create_recharge_plan(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    body: Body<RechargePlanRequest>,
) -> ApiResult<HttpResponse> {
    let plan = recharge_plans::create_plan(&ctx, &me, body.into_inner().into()).await?;
    Ok(HttpResponse::Created().json(RechargePlanDto::from(plan)))
}

/// Changes a recharge plan or withdraws it.
#[utoipa::path(tag = "stored value", params(("id" = i64, Path)), request_body = RechargePlanRequest, responses((status = 200, body = RechargePlanDto), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[patch("/recharge-plans/{id}")]
async fn update_recharge_plan(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
    body: Body<RechargePlanRequest>,
) -> ApiResult<web::Json<RechargePlanDto>> {
    Ok(web::Json(recharge_plans::update_plan(&ctx, &me, id.into_inner(), body.into_inner().into()).await?.into()))
}

/// A member's stored-value card: principal, bonus and status.
#[utoipa::path(tag = "stored value", params(("id" = i64, Path, description = "member id")), responses((status = 200, body = CardDto), (status = 404, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/members/{id}/stored-value")]
async fn get_stored_value(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
) -> ApiResult<web::Json<CardDto>> {
    Ok(web::Json(stored_value::get(&ctx, &me, id.into_inner()).await?.into()))
}

/// Recharge at the desk by cash or bank card. 201 when it happened, 200 when the key was seen before.
#[utoipa::path(tag = "stored value", params(("id" = i64, Path, description = "member id")), request_body = RechargeRequest, responses((status = 201, body = MovementDto), (status = 200, body = MovementDto, description = "replayed"), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/members/{id}/stored-value/recharges")]
async fn recharge_stored_value(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
    body: Body<RechargeRequest>,
) -> ApiResult<HttpResponse> {
    let b = body.into_inner();
    let input = stored_value::RechargeInput {
        store_id: b.store_id,
        plan_id: b.plan_id,
        amount_fen: b.amount_fen,
        tender: b.tender,
        idempotency_key: b.idempotency_key,
    };
    Ok(moved(stored_value::recharge(&ctx, &me, id.into_inner(), input).await?))
}

/// Move value to another member's card; principal and bonus keep their nature (managers; audited).
#[utoipa::path(tag = "stored value", params(("id" = i64, Path, description = "the giving member")), request_body = TransferRequest, responses((status = 201, body = MovementDto), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/members/{id}/stored-value/transfers")]
async fn transfer_stored_value(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
    body: Body<TransferRequest>,
) -> ApiResult<HttpResponse> {
    let b = body.into_inner();
    let input = stored_value::TransferInput {
        to_member_id: b.to_member_id,
        amount_fen: b.amount_fen,
        reason: b.reason,
        idempotency_key: b.idempotency_key,
    };
    Ok(moved(stored_value::transfer(&ctx, &me, id.into_inner(), input).await?))
}

/// 退卡: pay back the remaining principal less the policy fee, void the bonus, close the card (managers; audited).
#[utoipa::path(tag = "stored value", params(("id" = i64, Path, description = "member id")), request_body = RefundCardRequest, responses((status = 201, body = MovementDto), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/members/{id}/stored-value/refund")]
async fn refund_stored_value(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
    body: Body<RefundCardRequest>,
) -> ApiResult<HttpResponse> {
    let b = body.into_inner();
    let input = stored_value::RefundInput {
        store_id: b.store_id,
        tender: b.tender,
        fee_fen: b.fee_fen,
        reason: b.reason,
        idempotency_key: b.idempotency_key,
    };
    Ok(moved(stored_value::refund_card(&ctx, &me, id.into_inner(), input).await?))
}

/// 挂失: stop debits and transfers out until unfrozen.
#[utoipa::path(tag = "stored value", params(("id" = i64, Path, description = "member id")), responses((status = 200, body = CardDto), (status = 409, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/members/{id}/stored-value/freeze")]
async fn freeze_stored_value(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
) -> ApiResult<web::Json<CardDto>> {
    Ok(web::Json(stored_value::set_frozen(&ctx, &me, id.into_inner(), true).await?.into()))
}

/// Lift a freeze (managers).
#[utoipa::path(tag = "stored value", params(("id" = i64, Path, description = "member id")), responses((status = 200, body = CardDto), (status = 409, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/members/{id}/stored-value/unfreeze")]
async fn unfreeze_stored_value(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
) -> ApiResult<web::Json<CardDto>> {
    Ok(web::Json(stored_value::set_frozen(&ctx, &me, id.into_inner(), false).await?.into()))
}

/// The card's movements, newest first.
#[utoipa::path(tag = "stored value", params(("id" = i64, Path, description = "member id"), StatementQuery), responses((status = 200, body = Vec<StatementLineDto>), (status = 404, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/members/{id}/stored-value/entries")]
async fn list_stored_value_entries(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
    query: web::Query<StatementQuery>,
) -> ApiResult<web::Json<Vec<StatementLineDto>>> {
    let page = Page::parse(query.before_id, query.limit, 50)?;
    let lines = stored_value::statement(&ctx, &me, id.into_inner(), page).await?;
    Ok(web::Json(lines.into_iter().map(StatementLineDto::from).collect()))
}
