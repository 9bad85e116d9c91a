use actix_web::{HttpResponse, get, patch, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use service::AppContext;
use service::catalog::{ServiceInput, ServiceItem};

use crate::error::{ApiResult, ErrorBody};
use crate::extract::Staff;

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
    pub price_fen: i64,
    /// Substances the service uses, matched against allergy notes.
    pub substances: Vec<String>,
    pub active: bool,
}

impl From<ServiceItem> for ServiceItemDto {
    fn from(s: ServiceItem) -> Self {
        Self {
            id: s.id,
            category: s.category,
            name: s.name,
            duration_min: s.duration_min,
            price_fen: s.price.get(),
            substances: s.substances,
            active: s.active,
        }
    }
}

#[derive(Deserialize, ToSchema)]
pub struct ServiceItemRequest {
    pub category: Option<String>,
    pub name: Option<String>,
    pub duration_min: Option<i32>,
    pub price_fen: Option<i64>,
    pub substances: Option<Vec<String>>,
    pub active: Option<bool>,
}

impl From<ServiceItemRequest> for ServiceInput {
    fn from(r: ServiceItemRequest) -> Self {
        Self {
            category: r.category,
            name: r.name,
            duration_min: r.duration_min,
            price_fen: r.price_fen,
            substances: r.substances,
            active: r.active,
        }
    }
}

/// The service menu, inactive items included.
#[utoipa::path(tag = "catalog", responses((status = 200, body = Vec<ServiceItemDto>)), security(("staff_token" = [])))]
#[get("/services")]
async fn list_services(ctx: web::Data<AppContext>, Staff(me): Staff) -> ApiResult<web::Json<Vec<ServiceItemDto>>> {
    let items = service::catalog::list(&ctx, me.merchant_id, false).await?;
    Ok(web::Json(items.into_iter().map(ServiceItemDto::from).collect()))
}

#[utoipa::path(tag = "catalog", request_body = ServiceItemRequest, responses((status = 201, body = ServiceItemDto), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/services")]
async fn create_service(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    body: web::Json<ServiceItemRequest>,
) -> ApiResult<HttpResponse> {
    let item = service::catalog::create(&ctx, &me, body.into_inner().into()).await?;
    Ok(HttpResponse::Created().json(ServiceItemDto::from(item)))
}

#[utoipa::path(tag = "catalog", params(("id" = i64, Path)), request_body = ServiceItemRequest, responses((status = 200, body = ServiceItemDto), (status = 404, body = ErrorBody)), security(("staff_token" = [])))]
#[patch("/services/{id}")]
async fn update_service(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
    body: web::Json<ServiceItemRequest>,
) -> ApiResult<web::Json<ServiceItemDto>> {
    Ok(web::Json(service::catalog::update(&ctx, &me, id.into_inner(), body.into_inner().into()).await?.into()))
}
