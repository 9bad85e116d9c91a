use actix_web::{HttpResponse, delete, get, post, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use service::AppContext;
use service::domain::{Permission, Role};
use service::foundation::principal::{StaffPrincipal, StoreScope};

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Body, ClientIp, Staff};

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(create_staff_session)
        .service(delete_staff_session)
        .service(get_current_staff)
        .service(change_my_password);
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInRequest {
    #[schema(example = "demo-cashier")]
    pub username: String,
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct MeDto {
    pub id: i64,
    pub merchant_id: i64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub all_stores: bool,
    pub store_ids: Vec<i64>,
    /// Everything this role may do; the console hides what is not here.
    pub permissions: Vec<Permission>,
}

impl From<&StaffPrincipal> for MeDto {
    fn from(p: &StaffPrincipal) -> Self {
        let (all_stores, store_ids) = match &p.stores {
            StoreScope::All => (true, Vec::new()),
            StoreScope::Only(ids) => (false, ids.clone()),
        };
        Self {
            id: p.staff_id,
            merchant_id: p.merchant_id,
            username: p.username.clone(),
            display_name: p.display_name.clone(),
            role: p.role,
            all_stores,
            store_ids,
            permissions: p.permissions(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct SignInResponse {
    /// Bearer token for `Authorization: Bearer …`; shown once.
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub staff: MeDto,
}

/// Sign in with username and password.
#[utoipa::path(
    tag = "staff sessions",
    request_body = SignInRequest,
    responses(
        (status = 200, body = SignInResponse),
        (status = 401, description = "Wrong username or password", body = ErrorBody),
        (status = 429, description = "Too many attempts", body = ErrorBody),
    ),
)]
#[post("/sessions")]
async fn create_staff_session(
    ctx: web::Data<AppContext>,
    ip: ClientIp,
    body: Body<SignInRequest>,
) -> ApiResult<web::Json<SignInResponse>> {
    let signed_in = service::foundation::auth::sign_in(&ctx, &body.username, &body.password, ip.0.as_deref()).await?;
    Ok(web::Json(SignInResponse {
        token: signed_in.token.expose().to_owned(),
        expires_at: signed_in.expires_at,
        staff: MeDto::from(&signed_in.principal),
    }))
}

/// Sign out: the token stops working at once.
#[utoipa::path(tag = "staff sessions", responses((status = 204), (status = 401, body = ErrorBody)), security(("staff_token" = [])))]
#[delete("/sessions/current")]
async fn delete_staff_session(ctx: web::Data<AppContext>, Staff(me): Staff) -> ApiResult<HttpResponse> {
    service::foundation::auth::sign_out(&ctx, &me).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Who am I, and what may I do.
#[utoipa::path(tag = "staff sessions", responses((status = 200, body = MeDto), (status = 401, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/me")]
async fn get_current_staff(Staff(me): Staff) -> web::Json<MeDto> {
    web::Json(MeDto::from(&me))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    /// 10–128 characters.
    pub new_password: String,
}

/// Change my password; my other sessions end.
#[utoipa::path(
    tag = "staff sessions",
    request_body = ChangePasswordRequest,
    responses((status = 204), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("staff_token" = [])),
)]
#[put("/me/password")]
async fn change_my_password(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    ip: ClientIp,
    body: Body<ChangePasswordRequest>,
) -> ApiResult<HttpResponse> {
    service::foundation::auth::change_own_password(
        &ctx,
        &me,
        &body.current_password,
        &body.new_password,
        ip.0.as_deref(),
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
