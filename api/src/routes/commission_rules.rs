//! Commission rules (提成方案).

use actix_web::{HttpResponse, get, patch, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use service::AppContext;
use service::commission::rules::{self, RuleInput, RuleView, Tier};
use service::domain::Fen;

use crate::error::{ApiResult, ErrorBody};
use crate::extract::Staff;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_commission_rules).service(create_commission_rule).service(update_commission_rule);
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
    body: web::Json<CommissionRuleRequest>,
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
    body: web::Json<CommissionRuleRequest>,
) -> ApiResult<web::Json<CommissionRuleDto>> {
    Ok(web::Json(rules::update(&ctx, &me, id.into_inner(), body.into_inner().into()).await?.into()))
}
