//! The HTTP layer: routes, extractors, DTOs, errors. It translates; `service` decides.

pub mod console;
pub mod error;
pub mod extract;
pub mod openapi;
pub mod routes;
pub mod sandbox_host;
pub mod telemetry;

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Server, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use anyhow::Context;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

use service::AppContext;
use service::foundation::settings::Settings;

use crate::error::{ApiError, ErrorBody};
use crate::openapi::KnownRoutes;
use crate::telemetry::Metrics;

/// A built, bound, not yet running server. `port()` is the real port (the configured one, or a free one for 0).
pub struct Application {
    port: u16,
    server: Server,
    ctx: AppContext,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let ctx = AppContext::build(settings).await?;
        Self::from_context(ctx)
    }

    pub fn from_context(ctx: AppContext) -> anyhow::Result<Self> {
        let server_settings = &ctx.settings.server;
        let listener = TcpListener::bind((server_settings.host.as_str(), server_settings.port))
            .with_context(|| format!("binding {}:{}", server_settings.host, server_settings.port))?;
        let port = listener.local_addr().context("reading the bound address")?.port();
        ctx.set_bound_address(&server_settings.host, port);
        let openapi = openapi::document();
        let known_routes = Arc::new(KnownRoutes::from_document(&openapi));
        let metrics = Arc::new(Metrics::new());
        let data = web::Data::new(ctx.clone());
        let member_app = ctx.settings.sandbox.enabled;
        let mut server = HttpServer::new(move || {
            let metrics_for_middleware = metrics.clone();
            let (app, _) = App::new()
                .into_utoipa_app()
                .app_data(data.clone())
                .app_data(web::Data::new(metrics.clone()))
                .app_data(web::Data::new(known_routes.clone()))
                .app_data(web::JsonConfig::default().limit(256 * 1024).error_handler(error::json_error))
                .app_data(web::QueryConfig::default().error_handler(error::query_error))
                .app_data(web::PathConfig::default().error_handler(error::path_error))
                .configure(routes::configure)
                .split_for_parts();
            app.service(SwaggerUi::new("/api/docs/{_:.*}").url("/api/openapi.json", openapi.clone()))
                .route("/api/docs", web::get().to(docs_redirect))
                .configure(|cfg| console::routes(cfg, member_app))
                .default_service(web::to(unmatched))
                .wrap(ErrorHandlers::new().default_handler(ensure_envelope))
                .wrap_fn(move |req, srv| telemetry::observe(req, srv, metrics_for_middleware.clone()))
        })
        .shutdown_timeout(ctx.settings.server.shutdown_timeout_secs)
        .listen(listener)
        .context("listening")?;
        if ctx.settings.server.workers > 0 {
            server = server.workers(ctx.settings.server.workers);
        }
        Ok(Self { port, server: server.run(), ctx })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn context(&self) -> &AppContext {
        &self.ctx
    }

    /// Serves until SIGINT/SIGTERM (or the server handle stops it), letting in-flight requests finish, then
    /// closes the database pool.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let ctx = self.ctx.clone();
        self.serve().await?;
        close(&ctx).await;
        Ok(())
    }

    /// Serves until SIGINT/SIGTERM, letting in-flight requests finish. The pool stays open for what the caller
    /// still has to finish (the in-process scheduler's run); the caller closes it with [`close`].
    pub async fn serve(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// Closes the pool so SQLite checkpoints its WAL and PostgreSQL sees clean disconnects.
pub async fn close(ctx: &AppContext) {
    if let Err(error) = ctx.db.close_by_ref().await {
        tracing::warn!(%error, "closing the database pool");
    }
    tracing::info!("stopped");
}

async fn docs_redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect().insert_header((header::LOCATION, "/api/docs/")).finish()
}

/// No route matched: 405 with `Allow` when the path exists under other methods, else 404.
async fn unmatched(req: HttpRequest, known: web::Data<Arc<KnownRoutes>>) -> HttpResponse {
    use actix_web::ResponseError;
    match known.allowed(req.path()) {
        Some(methods) => method_not_allowed(&req, &methods),
        None => ApiError::new(actix_web::http::StatusCode::NOT_FOUND, "not_found", "no such resource").error_response(),
    }
}

/// 405 with the `Allow` header listing `methods`.
pub(crate) fn method_not_allowed(req: &HttpRequest, methods: &[String]) -> HttpResponse {
    use actix_web::ResponseError;
    let mut response = ApiError::new(
        actix_web::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} is not allowed here; use {}", req.method(), methods.join(", ")),
    )
    .error_response();
    if let Ok(value) = HeaderValue::from_str(&methods.join(", ")) {
        response.headers_mut().insert(header::ALLOW, value);
    }
    response
}

/// Any error response that is not already our JSON envelope (actix's own, e.g. a body too large) becomes one.
fn ensure_envelope<B: MessageBody + 'static>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_json =
        res.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let code = match status.as_u16() {
        404 => "not_found",
        405 => "method_not_allowed",
        413 => "payload_too_large",
        415 => "unsupported_media_type",
        400..=499 => "bad_request",
        _ => "internal_error",
    };
    let message = status.canonical_reason().unwrap_or("error").to_lowercase();
    let allow = res.headers().get(header::ALLOW).cloned();
    let (req, _) = res.into_parts();
    let mut response = HttpResponse::build(status).json(ErrorBody { code: code.to_owned(), message });
    if let Some(allow) = allow {
        response.headers_mut().insert(header::ALLOW, allow);
    }
    let response: ServiceResponse<EitherBody<B>> = ServiceResponse::new(req, response).map_into_right_body();
    Ok(ErrorHandlerResponse::Response(response))
}
