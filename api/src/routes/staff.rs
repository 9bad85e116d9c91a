use actix_web::{HttpResponse, get, patch, post, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use service::AppContext;
use service::domain::{ReprintGrant, Role};
use service::foundation::staff::{NewStaffInput, StaffChanges, StaffMember};

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Body, ClientIp, Staff};

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_staff)
        .service(create_staff)
        .service(get_staff)
        .service(update_staff)
        .service(reset_staff_password);
}

#[derive(Serialize, ToSchema)]
pub struct StaffDto {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub all_stores: bool,
    pub store_ids: Vec<i64>,
    pub active: bool,
    /// How members see them when booking (e.g. 首席发型师); may be empty.
    pub title: String,
    pub photo_url: Option<String>,
    /// The owner's word on their reprints: `role` follows the role, `given` or `withdrawn` overrides it.
    pub reprint: ReprintGrant,
    /// Whether they may reprint, all told.
    pub can_reprint: bool,
    pub created_at: DateTime<Utc>,
}

impl From<StaffMember> for StaffDto {
    fn from(s: StaffMember) -> Self {
        Self {
            id: s.id,
            username: s.username,
            display_name: s.display_name,
            role: s.role,
            all_stores: s.all_stores,
            store_ids: s.store_ids,
            active: s.active,
            title: s.title,
            photo_url: s.photo_url,
            reprint: s.reprint,
            can_reprint: s.can_reprint,
            created_at: s.created_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateStaffRequest {
    pub username: String,
    pub display_name: String,
    /// owner, manager, marketing, cashier or technician.
    pub role: String,
    pub password: String,
    #[serde(default)]
    pub all_stores: bool,
    #[serde(default)]
    pub store_ids: Vec<i64>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateStaffRequest {
    pub display_name: Option<String>,
    pub role: Option<String>,
    pub all_stores: Option<bool>,
    pub store_ids: Option<Vec<i64>>,
    /// false deactivates the account and ends its sessions.
    pub active: Option<bool>,
    /// Shown to members choosing a technician; at most 20 characters.
    pub title: Option<String>,
    /// An https:// picture shown to members; "" removes it.
    pub photo_url: Option<String>,
    /// Give or withdraw reprints for this member, or follow the role again (owners only).
    pub reprint: Option<ReprintGrant>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPasswordRequest {
    pub password: String,
}

/// Staff of my merchant that I can see (store-scoped managers see their stores' staff).
#[utoipa::path(tag = "staff", responses((status = 200, body = Vec<StaffDto>), (status = 403, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/staff")]
async fn list_staff(ctx: web::Data<AppContext>, Staff(me): Staff) -> ApiResult<web::Json<Vec<StaffDto>>> {
    Ok(web::Json(service::foundation::staff::list(&ctx, &me).await?.into_iter().map(StaffDto::from).collect()))
}

/// Create a staff account (only for roles below mine, in my stores).
#[utoipa::path(
    tag = "staff",
    request_body = CreateStaffRequest,
    responses((status = 201, body = StaffDto), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("staff_token" = [])),
)]
#[post("/staff")]
async fn create_staff(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    ip: ClientIp,
    body: Body<CreateStaffRequest>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let input = NewStaffInput {
        username: body.username,
        display_name: body.display_name,
        role: body.role,
        password: body.password,
        all_stores: body.all_stores,
        store_ids: body.store_ids,
    };
    let created = service::foundation::staff::create(&ctx, &me, input, ip.0.as_deref()).await?;
    Ok(HttpResponse::Created().json(StaffDto::from(created)))
}

/// One staff member with their role and stores.
#[utoipa::path(tag = "staff", params(("id" = i64, Path)), responses((status = 200, body = StaffDto), (status = 404, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/staff/{id}")]
async fn get_staff(ctx: web::Data<AppContext>, Staff(me): Staff, id: web::Path<i64>) -> ApiResult<web::Json<StaffDto>> {
    Ok(web::Json(service::foundation::staff::get(&ctx, &me, id.into_inner()).await?.into()))
}

/// Change name, role, stores or active flag; role or store changes end the member's sessions.
#[utoipa::path(
    tag = "staff",
    params(("id" = i64, Path)),
    request_body = UpdateStaffRequest,
    responses((status = 200, body = StaffDto), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("staff_token" = [])),
)]
#[patch("/staff/{id}")]
async fn update_staff(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    ip: ClientIp,
    id: web::Path<i64>,
    body: Body<UpdateStaffRequest>,
) -> ApiResult<web::Json<StaffDto>> {
    let body = body.into_inner();
    let changes = StaffChanges {
        display_name: body.display_name,
        role: body.role,
        all_stores: body.all_stores,
        store_ids: body.store_ids,
        active: body.active,
        title: body.title,
        photo_url: body.photo_url,
        reprint: body.reprint,
    };
    Ok(web::Json(
        service::foundation::staff::update(&ctx, &me, id.into_inner(), changes, ip.0.as_deref()).await?.into(),
    ))
}

/// Set a new password for a staff member I manage; all their sessions end.
#[utoipa::path(
    tag = "staff",
    params(("id" = i64, Path)),
    request_body = ResetPasswordRequest,
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("staff_token" = [])),
)]
#[put("/staff/{id}/password")]
async fn reset_staff_password(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    ip: ClientIp,
    id: web::Path<i64>,
    body: Body<ResetPasswordRequest>,
) -> ApiResult<HttpResponse> {
    service::foundation::staff::reset_password(&ctx, &me, id.into_inner(), &body.password, ip.0.as_deref()).await?;
    Ok(HttpResponse::NoContent().finish())
}
