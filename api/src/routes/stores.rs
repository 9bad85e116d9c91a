use actix_web::{HttpResponse, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use service::AppContext;
use service::foundation::stores::StoreInput;

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Body, Staff};

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_stores).service(create_store).service(get_store).service(update_store);
}

#[derive(Serialize, ToSchema)]
pub struct StoreDto {
    pub id: i64,
    pub name: String,
    pub address: String,
    pub phone: String,
    /// IANA time zone of the store.
    pub timezone: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

impl From<entity::stores::Model> for StoreDto {
    fn from(s: entity::stores::Model) -> Self {
        Self {
            id: s.id,
            name: s.name,
            address: s.address,
            phone: s.phone,
            timezone: s.timezone,
            active: s.active,
            created_at: s.created_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StoreRequest {
    pub name: Option<String>,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub timezone: Option<String>,
    pub active: Option<bool>,
}

impl From<StoreRequest> for StoreInput {
    fn from(r: StoreRequest) -> Self {
        Self { name: r.name, address: r.address, phone: r.phone, timezone: r.timezone, active: r.active }
    }
}

/// Stores in my scope.
#[utoipa::path(tag = "stores", responses((status = 200, body = Vec<StoreDto>)), security(("staff_token" = [])))]
#[get("/stores")]
async fn list_stores(ctx: web::Data<AppContext>, Staff(me): Staff) -> ApiResult<web::Json<Vec<StoreDto>>> {
    Ok(web::Json(service::foundation::stores::list(&ctx, &me).await?.into_iter().map(StoreDto::from).collect()))
}

/// Open a new store (owners).
#[utoipa::path(tag = "stores", request_body = StoreRequest, responses((status = 201, body = StoreDto), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/stores")]
async fn create_store(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    body: Body<StoreRequest>,
) -> ApiResult<HttpResponse> {
    let store = service::foundation::stores::create(&ctx, &me, body.into_inner().into()).await?;
    Ok(HttpResponse::Created().json(StoreDto::from(store)))
}

/// One store with its address, phone and time zone.
#[utoipa::path(tag = "stores", params(("id" = i64, Path)), responses((status = 200, body = StoreDto), (status = 404, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/stores/{id}")]
async fn get_store(ctx: web::Data<AppContext>, Staff(me): Staff, id: web::Path<i64>) -> ApiResult<web::Json<StoreDto>> {
    Ok(web::Json(service::foundation::stores::get(&ctx, &me, id.into_inner()).await?.into()))
}

/// Changes a store's name, address, phone, time zone or whether it is open for business.
#[utoipa::path(tag = "stores", params(("id" = i64, Path)), request_body = StoreRequest, responses((status = 200, body = StoreDto), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)), security(("staff_token" = [])))]
#[patch("/stores/{id}")]
async fn update_store(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
    body: Body<StoreRequest>,
) -> ApiResult<web::Json<StoreDto>> {
    Ok(web::Json(
        service::foundation::stores::update(&ctx, &me, id.into_inner(), body.into_inner().into()).await?.into(),
    ))
}
