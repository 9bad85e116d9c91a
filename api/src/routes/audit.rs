use actix_web::{get, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use service::AppContext;
use service::domain::Page;

use crate::error::{ApiResult, ErrorBody};
use crate::extract::Staff;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_audit_log);
}

#[derive(Serialize, ToSchema)]
pub struct AuditEntryDto {
    pub id: i64,
    /// staff, member or system.
    pub actor_kind: String,
    pub actor_id: Option<i64>,
    #[schema(example = "staff.signed_in")]
    pub action: String,
    pub target_kind: Option<String>,
    pub target_id: Option<i64>,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    pub ip: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Deserialize, IntoParams)]
pub struct AuditQuery {
    /// Entries older than this id (the last id of the previous page).
    pub before_id: Option<i64>,
    /// 1–200, default 50.
    pub limit: Option<u64>,
}

/// The merchant's audit log, newest first.
///
/// Merchant-wide staff read all of it; store-scoped staff read what the staff of their stores did.
#[utoipa::path(tag = "audit", params(AuditQuery), responses((status = 200, body = Vec<AuditEntryDto>), (status = 403, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/audit-log")]
async fn list_audit_log(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    query: web::Query<AuditQuery>,
) -> ApiResult<web::Json<Vec<AuditEntryDto>>> {
    let page = Page::parse(query.before_id, query.limit, 50)?;
    let entries = service::foundation::audit::list(&ctx, &me, page).await?;
    Ok(web::Json(
        entries
            .into_iter()
            .map(|e| AuditEntryDto {
                id: e.id,
                actor_kind: e.actor_kind,
                actor_id: e.actor_id,
                action: e.action,
                target_kind: e.target_kind,
                target_id: e.target_id,
                detail: e.detail,
                ip: e.ip,
                created_at: e.created_at,
            })
            .collect(),
    ))
}
