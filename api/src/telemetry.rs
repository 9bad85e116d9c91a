//! Logs, request ids and metrics.
//!
//! Every request gets an id (ours, or a well-formed `X-Request-Id` from the caller), echoed in the response and
//! carried by the span every log line of that request is in. Paths are logged, query strings never (a phone look-up
//! has the number in its query). Prometheus counters and latency histograms are labelled by route pattern, not by
//! raw path, so ids don't explode the series.

use std::sync::Mutex;
use std::time::Instant;

use actix_web::HttpMessage;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use futures_util::future::LocalBoxFuture;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tracing::Instrument;
use tracing_subscriber::EnvFilter;

use service::foundation::settings::Settings;

pub fn init_tracing(settings: &Settings) {
    let filter = EnvFilter::try_from_env("RUST_LOG").unwrap_or_else(|_| EnvFilter::new(&settings.log.filter));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    // A second init (tests start many apps in one process) is harmless: the first subscriber stays.
    if settings.is_production() || settings.log.format == "json" {
        let _ = builder.json().flatten_event(true).with_current_span(true).try_init();
    } else {
        let _ = builder.compact().try_init();
    }
}

#[derive(Clone, Debug)]
pub struct RequestId(pub String);

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

type HistogramFamily = Family<HttpLabels, Histogram, fn() -> Histogram>;

pub struct Metrics {
    registry: Mutex<Registry>,
    requests: Family<HttpLabels, Counter>,
    seconds: HistogramFamily,
}

fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 14))
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("huiyuan");
        let requests = Family::<HttpLabels, Counter>::default();
        let seconds: HistogramFamily = Family::new_with_constructor(latency_histogram);
        registry.register("http_requests", "HTTP requests answered", requests.clone());
        registry.register("http_request_duration_seconds", "Time to answer an HTTP request", seconds.clone());
        Self { registry: Mutex::new(registry), requests, seconds }
    }

    pub fn observe(&self, labels: HttpLabels, seconds: f64) {
        self.requests.get_or_create(&labels).inc();
        self.seconds.get_or_create(&labels).observe(seconds);
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        // Encoding into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

fn request_id(req: &ServiceRequest) -> String {
    req.headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{:016x}", rand::random::<u64>()))
}

/// The middleware: request id, span, access log line, metrics.
pub fn observe<S, B>(
    req: ServiceRequest,
    service: &S,
    metrics: std::sync::Arc<Metrics>,
) -> LocalBoxFuture<'static, Result<ServiceResponse<B>, actix_web::Error>>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    S::Future: 'static,
    B: 'static,
{
    let id = request_id(&req);
    let method = req.method().to_string();
    let span = tracing::info_span!("request", request_id = %id, method = %method, path = %req.path());
    req.extensions_mut().insert(RequestId(id.clone()));
    let started = Instant::now();
    let future = service.call(req);
    Box::pin(
        async move {
            let mut response = future.await?;
            let elapsed = started.elapsed();
            let status = response.status().as_u16();
            let route = response.request().match_pattern().unwrap_or_else(|| "unmatched".to_owned());
            if let Ok(value) = HeaderValue::from_str(&id) {
                response.headers_mut().insert(HeaderName::from_static("x-request-id"), value);
            }
            let duration_ms = elapsed.as_secs_f64() * 1000.0;
            if status >= 500 {
                tracing::error!(status, duration_ms, route = %route, "request failed");
            } else {
                tracing::info!(status, duration_ms, route = %route, "request");
            }
            metrics.observe(HttpLabels { method, route, status }, elapsed.as_secs_f64());
            Ok(response)
        }
        .instrument(span),
    )
}
