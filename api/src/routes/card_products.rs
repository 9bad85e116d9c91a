//! Count-card products (次卡/疗程卡) on the menu.

use actix_web::{HttpResponse, get, patch, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use service::AppContext;
use service::cards::card_products::{self, CardProduct, CardProductInput};
use service::domain::Fen;

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Body, Staff};

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_card_products).service(create_card_product).service(update_card_product);
}

#[derive(Serialize, ToSchema)]
pub struct CardProductDto {
    pub id: i64,
    #[schema(example = "洗护10次卡")]
    pub name: String,
    /// Price of the card in fen.
    pub price_fen: Fen,
    /// Sessions a card holds.
    pub sessions: i32,
    /// A sold card is valid for this many days; null: no expiry.
    pub validity_days: Option<i32>,
    /// The services a session may be used for.
    pub service_item_ids: Vec<i64>,
    pub active: bool,
}

impl From<CardProduct> for CardProductDto {
    fn from(p: CardProduct) -> Self {
        Self {
            id: p.id,
            name: p.name,
            price_fen: p.price_fen,
            sessions: p.sessions,
            validity_days: p.validity_days,
            service_item_ids: p.service_item_ids,
            active: p.active,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CardProductRequest {
    /// 1–40 characters.
    pub name: Option<String>,
    /// 1 to 100,000,000 fen.
    pub price_fen: Option<Fen>,
    /// 1–1000.
    pub sessions: Option<i32>,
    /// 1–3650, or null for no expiry.
    #[serde(default, deserialize_with = "crate::extract::explicit_null")]
    #[schema(value_type = Option<i32>)]
    pub validity_days: Option<Option<i32>>,
    /// 1–20 service items of the merchant.
    pub service_item_ids: Option<Vec<i64>>,
    pub active: Option<bool>,
}

impl From<CardProductRequest> for CardProductInput {
    fn from(r: CardProductRequest) -> Self {
        Self {
            name: r.name,
            price_fen: r.price_fen,
            sessions: r.sessions,
            validity_days: r.validity_days,
            service_item_ids: r.service_item_ids,
            active: r.active,
        }
    }
}

/// Count-card products, inactive ones included (desk staff and catalog managers).
#[utoipa::path(tag = "catalog", responses((status = 200, body = Vec<CardProductDto>), (status = 403, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/card-products")]
async fn list_card_products(ctx: web::Data<AppContext>, Staff(me): Staff) -> ApiResult<web::Json<Vec<CardProductDto>>> {
    Ok(web::Json(card_products::list(&ctx, &me).await?.into_iter().map(CardProductDto::from).collect()))
}

/// Adds a count-card product (sessions of services for a price, valid for a period).
#[utoipa::path(tag = "catalog", request_body = CardProductRequest, responses((status = 201, body = CardProductDto), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/card-products")]
async fn create_card_product(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    body: Body<CardProductRequest>,
) -> ApiResult<HttpResponse> {
    let product = card_products::create(&ctx, &me, body.into_inner().into()).await?;
    Ok(HttpResponse::Created().json(CardProductDto::from(product)))
}

/// Change a count-card product; cards already sold keep what they were sold with.
#[utoipa::path(tag = "catalog", params(("id" = i64, Path)), request_body = CardProductRequest, responses((status = 200, body = CardProductDto), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[patch("/card-products/{id}")]
async fn update_card_product(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
    body: Body<CardProductRequest>,
) -> ApiResult<web::Json<CardProductDto>> {
    Ok(web::Json(card_products::update(&ctx, &me, id.into_inner(), body.into_inner().into()).await?.into()))
}
