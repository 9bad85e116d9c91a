//! Liveness, readiness and metrics for the platform around us.

use std::sync::Arc;

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use service::AppContext;

use crate::error::ErrorBody;
use crate::telemetry::Metrics;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(get_health).service(get_readiness).service(get_metrics);
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    pub status: &'static str,
    pub database: &'static str,
    /// redis, or in-process when no Redis is configured.
    pub shared_state: &'static str,
}

/// The process is up.
#[utoipa::path(tag = "ops", responses((status = 200, body = Health)))]
#[get("/healthz")]
async fn get_health() -> web::Json<Health> {
    web::Json(Health { status: "ok" })
}

/// The database and Redis answer.
#[utoipa::path(tag = "ops", responses((status = 200, body = Readiness), (status = 503, body = ErrorBody)))]
#[get("/readyz")]
async fn get_readiness(ctx: web::Data<AppContext>) -> HttpResponse {
    let database = service::foundation::db::ping(&ctx.db).await;
    let shared = ctx.shared.ping().await;
    match (database, shared) {
        (Ok(()), Ok(())) => HttpResponse::Ok().json(Readiness {
            status: "ready",
            database: if ctx.settings.uses_sqlite() { "sqlite" } else { "postgres" },
            shared_state: ctx.shared.backend(),
        }),
        (database, shared) => {
            tracing::warn!(database = ?database.err(), shared = ?shared.err(), "not ready");
            HttpResponse::ServiceUnavailable()
                .json(ErrorBody { code: "not_ready".into(), message: "a dependency does not answer".into() })
        }
    }
}

/// Prometheus metrics (text exposition format).
#[utoipa::path(tag = "ops", responses((status = 200, content_type = "text/plain", body = String)))]
#[get("/metrics")]
async fn get_metrics(metrics: web::Data<Arc<Metrics>>) -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(metrics.render())
}
