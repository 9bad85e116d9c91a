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
    /// `ready`, or `degraded`: Redis does not answer, but the counter still works (sign-in limits are counted per
    /// process; what travels through Redis, such as a bridge's scans, does not arrive).
    pub status: &'static str,
    pub database: &'static str,
    /// `redis`, `in-process` when no Redis is configured, or `unavailable`.
    pub shared_state: &'static str,
}

/// The process is up.
#[utoipa::path(tag = "ops", responses((status = 200, body = Health)))]
#[get("/healthz")]
async fn get_health() -> web::Json<Health> {
    web::Json(Health { status: "ok" })
}

/// Whether the replica can serve: the database answers.
///
/// Without the database nothing works (503, so a load balancer takes the replica out); without Redis the counter
/// still works, so the replica stays in, reported `degraded`.
#[utoipa::path(tag = "ops", responses((status = 200, body = Readiness), (status = 503, body = ErrorBody)))]
#[get("/readyz")]
async fn get_readiness(ctx: web::Data<AppContext>) -> HttpResponse {
    let database = service::foundation::db::ping(&ctx.db).await;
    let shared = ctx.shared.ping().await;
    if let Err(error) = database {
        tracing::warn!(%error, shared = ?shared.err(), "not ready: the database does not answer");
        return HttpResponse::ServiceUnavailable()
            .json(ErrorBody { code: "not_ready".into(), message: "the database does not answer".into() });
    }
    if let Err(error) = &shared {
        tracing::warn!(%error, "degraded: shared state does not answer");
    }
    HttpResponse::Ok().json(Readiness {
        status: if shared.is_ok() { "ready" } else { "degraded" },
        database: if ctx.settings.uses_sqlite() { "sqlite" } else { "postgres" },
        shared_state: if shared.is_ok() { ctx.shared.backend() } else { "unavailable" },
    })
}

/// Prometheus metrics (text exposition format).
#[utoipa::path(tag = "ops", responses((status = 200, content_type = "text/plain", body = String)))]
#[get("/metrics")]
async fn get_metrics(metrics: web::Data<Arc<Metrics>>) -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(metrics.render())
}
