//! Commission (提成): the rules that pay it, and each staff member's statement.

use actix_web::{HttpResponse, get, patch, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use service::AppContext;
use service::commission::rules::{self, RuleInput, RuleView, Tier};
use service::commission::{self, Statement};
use service::domain::Fen;

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Body, Staff};

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_commission_rules)
        .service(create_commission_rule)
        .service(update_commission_rule)
        .service(get_commission_statement);
}

/// From `from_fen` of the staff member's sales this month on, the rule pays `value`.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TierDto {
    /// Monthly sales in fen at which this tier starts; the first tier starts at 0, then strictly ascending.
    pub from_fen: Fen,
    /// Basis points of the line's net amount (`percent`, 0–10000) or fen per unit (`fixed`, 0–100,000,000).
    pub value: i64,
}

#[derive(Serialize, ToSchema)]
pub struct CommissionRuleDto {
    pub id: i64,
    /// `service`, `product`, `card_sale` or `recharge`.
    pub line_kind: String,
    /// Only this service item, product or count-card product.
    pub item_id: Option<i64>,
    /// Only items of this category.
    pub category: Option<String>,
    /// `percent` or `fixed`.
    pub mode: String,
    pub tiers: Vec<TierDto>,
    pub active: bool,
}

impl From<RuleView> for CommissionRuleDto {
    fn from(v: RuleView) -> Self {
        Self {
            id: v.rule.id,
            line_kind: v.rule.line_kind,
            item_id: v.rule.item_id,
            category: v.rule.category,
            mode: v.rule.mode,
            tiers: v.rule.tiers.into_iter().map(|t| TierDto { from_fen: t.from_fen, value: t.value }).collect(),
            active: v.active,
        }
    }
}

/// A rule for an item, a category (not both), or every line of its kind. Settlement uses the most specific active
/// rule; a second active rule for the same thing is refused (409 `rule_exists`).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommissionRuleRequest {
    pub line_kind: Option<String>,
    /// A service item (`service`), product (`product`) or count-card product (`card_sale`); not for `recharge`.
    /// Null: every item.
    #[serde(default, deserialize_with = "crate::extract::explicit_null")]
    #[schema(value_type = Option<i64>)]
    pub item_id: Option<Option<i64>>,
    /// Null: every category.
    #[serde(default, deserialize_with = "crate::extract::explicit_null")]
    #[schema(value_type = Option<String>)]
    pub category: Option<Option<String>>,
    pub mode: Option<String>,
    /// 1–10 tiers.
    pub tiers: Option<Vec<TierDto>>,
    pub active: Option<bool>,
}

impl From<CommissionRuleRequest> for RuleInput {
    fn from(r: CommissionRuleRequest) -> Self {
        Self {
            line_kind: r.line_kind,
            item_id: r.item_id,
            category: r.category,
            mode: r.mode,
            tiers: r
                .tiers
                .map(|tiers| tiers.into_iter().map(|t| Tier { from_fen: t.from_fen, value: t.value }).collect()),
            active: r.active,
        }
    }
}

/// Commission rules, inactive ones included (loyalty managers and those who read everyone's commission).
#[utoipa::path(tag = "commission", responses((status = 200, body = Vec<CommissionRuleDto>), (status = 403, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/commission-rules")]
async fn list_commission_rules(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
) -> ApiResult<web::Json<Vec<CommissionRuleDto>>> {
    Ok(web::Json(rules::list(&ctx, &me).await?.into_iter().map(CommissionRuleDto::from).collect()))
}

/// Add a rule (audited).
#[utoipa::path(tag = "commission", request_body = CommissionRuleRequest, responses((status = 201, body = CommissionRuleDto), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/commission-rules")]
async fn create_commission_rule(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    body: Body<CommissionRuleRequest>,
) -> ApiResult<HttpResponse> {
    let rule = rules::create(&ctx, &me, body.into_inner().into()).await?;
    Ok(HttpResponse::Created().json(CommissionRuleDto::from(rule)))
}

/// Change or deactivate a rule (audited). Commission already earned stays as it was.
#[utoipa::path(tag = "commission", params(("id" = i64, Path)), request_body = CommissionRuleRequest, responses((status = 200, body = CommissionRuleDto), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[patch("/commission-rules/{id}")]
async fn update_commission_rule(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
    body: Body<CommissionRuleRequest>,
) -> ApiResult<web::Json<CommissionRuleDto>> {
    Ok(web::Json(rules::update(&ctx, &me, id.into_inner(), body.into_inner().into()).await?.into()))
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
