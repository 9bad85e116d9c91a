use std::collections::BTreeMap;

use actix_web::{HttpResponse, get, patch, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use service::AppContext;
use service::domain::Fen;
use service::foundation::catalog::{ServiceInput, ServiceItem};

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Body, Staff};

pub fn staff_routes(cfg: &mut ServiceConfig) {
    cfg.service(list_services).service(create_service).service(update_service);
}

#[derive(Serialize, ToSchema)]
pub struct ServiceItemDto {
    pub id: i64,
    pub category: String,
    pub name: String,
    pub duration_min: i32,
    /// Price in fen.
    pub price_fen: Fen,
    /// Substances the service uses, matched against allergy notes.
    pub substances: Vec<String>,
    /// Member level id → price in fen for members of that level (instead of the level's discount).
    #[schema(value_type = BTreeMap<String, i64>)]
    pub level_prices: BTreeMap<i64, i64>,
    pub active: bool,
    /// Minutes the staff member needs after the service before the next client.
    pub buffer_min: i32,
    /// A stretch inside the service (a colour developing) when its staff member may take another client.
    pub processing: Option<ProcessingWindow>,
    /// The kind of room or bed the service needs (`massage_bed`).
    pub resource_kind: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema, Clone, Copy)]
#[serde(deny_unknown_fields)]
pub struct ProcessingWindow {
    /// Minutes from the start of the service.
    pub offset_min: i32,
    /// Length in minutes; 0 in a request removes the window.
    pub length_min: i32,
}

impl From<ServiceItem> for ServiceItemDto {
    fn from(s: ServiceItem) -> Self {
        Self {
            id: s.id,
            category: s.category,
            name: s.name,
            duration_min: s.duration_min,
            price_fen: s.price,
            substances: s.substances,
            level_prices: s.level_prices,
            active: s.active,
            buffer_min: s.buffer_min,
            processing: s.processing.map(|(offset_min, length_min)| ProcessingWindow { offset_min, length_min }),
            resource_kind: s.resource_kind,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceItemRequest {
    pub category: Option<String>,
    pub name: Option<String>,
    pub duration_min: Option<i32>,
    pub price_fen: Option<Fen>,
    pub substances: Option<Vec<String>>,
    /// Member level id → price in fen (0 to 100,000,000) for members of that level. Replaces the whole map; `{}`
    /// removes them.
    #[serde(default, deserialize_with = "level_keyed")]
    #[schema(value_type = Option<BTreeMap<String, i64>>)]
    pub level_prices: Option<BTreeMap<i64, i64>>,
    pub active: Option<bool>,
    /// 0–120 minutes.
    pub buffer_min: Option<i32>,
    /// Starts at least 5 minutes in and ends at least 5 minutes before the service ends.
    pub processing: Option<ProcessingWindow>,
    /// 1–40 of a-z, 0-9 and _; `""` removes it.
    pub resource_kind: Option<String>,
}

/// A JSON object keyed by level ids. A key that is not a number is a shape error (422), not malformed JSON.
fn level_keyed<'de, D>(deserializer: D) -> Result<Option<BTreeMap<i64, i64>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let Some(raw) = <Option<BTreeMap<String, i64>> as Deserialize>::deserialize(deserializer)? else { return Ok(None) };
    raw.into_iter()
        .map(|(key, price)| {
            key.parse::<i64>()
                .map(|level| (level, price))
                .map_err(|_| serde::de::Error::custom(format!("level_prices: {key:?} is not a member level id")))
        })
        .collect::<Result<_, _>>()
        .map(Some)
}

impl From<ServiceItemRequest> for ServiceInput {
    fn from(r: ServiceItemRequest) -> Self {
        Self {
            category: r.category,
            name: r.name,
            duration_min: r.duration_min,
            price_fen: r.price_fen,
            substances: r.substances,
            level_prices: r.level_prices,
            active: r.active,
            buffer_min: r.buffer_min,
            processing: r.processing.map(|w| (w.offset_min, w.length_min)),
            resource_kind: r.resource_kind,
        }
    }
}

/// The service menu, inactive items included.
#[utoipa::path(tag = "catalog", responses((status = 200, body = Vec<ServiceItemDto>)), security(("staff_token" = [])))]
#[get("/services")]
async fn list_services(ctx: web::Data<AppContext>, Staff(me): Staff) -> ApiResult<web::Json<Vec<ServiceItemDto>>> {
    let items = service::foundation::catalog::list(&ctx, me.merchant_id, false).await?;
    Ok(web::Json(items.into_iter().map(ServiceItemDto::from).collect()))
}

/// Adds a service item to the menu.
#[utoipa::path(tag = "catalog", request_body = ServiceItemRequest, responses((status = 201, body = ServiceItemDto), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/services")]
async fn create_service(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    body: Body<ServiceItemRequest>,
) -> ApiResult<HttpResponse> {
    let item = service::foundation::catalog::create(&ctx, &me, body.into_inner().into()).await?;
    Ok(HttpResponse::Created().json(ServiceItemDto::from(item)))
}

/// Changes a service item: its name, category, price, duration, level prices or whether it is offered.
#[utoipa::path(tag = "catalog", params(("id" = i64, Path)), request_body = ServiceItemRequest, responses((status = 200, body = ServiceItemDto), (status = 404, body = ErrorBody)), security(("staff_token" = [])))]
#[patch("/services/{id}")]
async fn update_service(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
    body: Body<ServiceItemRequest>,
) -> ApiResult<web::Json<ServiceItemDto>> {
    Ok(web::Json(
        service::foundation::catalog::update(&ctx, &me, id.into_inner(), body.into_inner().into()).await?.into(),
    ))
}
