use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::support::{PrivateRedis, TestApp};

#[tokio::test]
async fn health_and_readiness_report_the_backends() {
    let app = TestApp::spawn().await;
    let (status, body) = app.call(Method::GET, "/healthz", None, None).await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("ok")));
    let (status, body) = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let expected_db =
        if std::env::var("TEST_DATABASE_URL").is_ok_and(|u| !u.is_empty()) { "postgres" } else { "sqlite" };
    let expected_shared =
        if std::env::var("TEST_REDIS_URL").is_ok_and(|u| !u.is_empty()) { "redis" } else { "in-process" };
    assert_eq!(body["database"], expected_db);
    assert_eq!(body["shared_state"], expected_shared);
}

#[tokio::test]
async fn metrics_count_requests_by_route_pattern() {
    let app = TestApp::spawn().await;
    let token = app.token(service::domain::Role::Cashier).await;
    app.get("/api/staff/v1/members/1", &token).await;
    let text = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(text.contains(r#"route="/api/staff/v1/members/{id}""#), "{text}");
    assert!(text.contains("huiyuan_http_request_duration_seconds_bucket"), "{text}");
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated() {
    let app = TestApp::spawn().await;
    let response = app.client.get(app.url("/healthz")).header("x-request-id", "abc-123").send().await.unwrap();
    assert_eq!(response.headers()["x-request-id"], "abc-123");
    let response =
        app.client.get(app.url("/healthz")).header("x-request-id", "bad id with spaces").send().await.unwrap();
    let generated = response.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(generated.len(), 16);
}

#[tokio::test]
async fn docs_page_is_served_offline_and_the_document_is_openapi_3_1() {
    let app = TestApp::spawn().await;
    let response = app.client.get(app.url("/api/docs/")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "docs page is Swagger UI");
    assert!(!html.contains("cdn") && !html.contains("unpkg"), "docs page must not load from a CDN");
    let script = app.client.get(app.url("/api/docs/swagger-ui-bundle.js")).send().await.unwrap();
    assert_eq!(script.status(), StatusCode::OK, "the UI's script is vendored");

    let (status, doc) = app.call(Method::GET, "/api/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    // Every operation has a unique `<verb>_<resource>` id (client generators name functions after it), a summary,
    // a tag and at least one response; every non-public one declares its token. Callbacks are authenticated by
    // the provider's signature over the body, not by a token.
    let public = ["/healthz", "/readyz", "/metrics", "/api/staff/v1/sessions", "/api/mini/v1/sessions/", "/callbacks/"];
    let mut ids = std::collections::BTreeMap::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path} has no operationId"));
            if let Some(first) = ids.insert(id.to_owned(), format!("{method} {path}")) {
                panic!("operationId {id} names both {first} and {method} {path}");
            }
            assert!(id.contains('_'), "{method} {path}: operationId {id} is not <verb>_<resource>");
            assert!(op["summary"].as_str().is_some_and(|s| !s.is_empty()), "{method} {path} has no summary");
            assert!(op["tags"].is_array(), "{method} {path} has no tag");
            assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()), "{method} {path} has no responses");
            let is_public = public.iter().any(|p| path.starts_with(p)) && !(path.ends_with("/current"));
            if !is_public {
                assert!(op["security"].is_array(), "{method} {path} declares no security");
            }
        }
    }
}

#[tokio::test]
async fn openapi_document_snapshot() {
    // The mini-program and console are built against this document: any change to it shows up in review.
    let mut doc = service_openapi();
    doc["info"]["version"] = Value::String("[version]".into());
    insta::assert_json_snapshot!("openapi", doc);
}

fn service_openapi() -> Value {
    serde_json::to_value(api::openapi::document()).unwrap()
}

#[tokio::test]
async fn with_redis_stopped_the_counter_goes_on_sign_in_degrades_and_readiness_says_so() {
    use serde_json::json;
    use service::domain::Role;

    let mut redis = PrivateRedis::start().await;
    let app =
        TestApp::spawn_with(crate::support::Options { redis_url: Some(redis.url.clone()), ..Default::default() }).await;
    let (status, ready) = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(
        (status, ready["status"].as_str(), ready["shared_state"].as_str()),
        (StatusCode::OK, Some("ready"), Some("redis"))
    );
    let cashier = app.token(Role::Cashier).await;

    redis.stop();
    // The replica can still serve the counter: readiness keeps it in the load balancer, and says what is missing.
    let (status, ready) = app.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(
        (status, ready["status"].as_str(), ready["shared_state"].as_str()),
        (StatusCode::OK, Some("degraded"), Some("unavailable")),
        "{ready}"
    );
    // Settlements and reads go on with the sessions staff hold.
    let service = app.staff_ok(&cashier, "/services").await[0].clone();
    let bill = json!({ "store_id": app.seed.store_ids[0], "idempotency_key": "no-redis-bill-1", "lines": [{ "item_id": service["id"] }], "tenders": [{ "kind": "cash", "amount_fen": service["price_fen"] }] });
    app.staff_posted(&cashier, "/bills", bill).await;
    // Staff can still sign in, and guessing is still limited, counted in this process.
    let owner = app.token(Role::Owner).await;
    app.staff_ok(&owner, "/merchant/loyalty").await;
    let guess = || {
        app.call(
            Method::POST,
            "/api/staff/v1/sessions",
            None,
            Some(json!({ "username": "demo-manager", "password": "a wrong guess" })),
        )
    };
    let mut answers = Vec::new();
    for _ in 0..6 {
        answers.push(guess().await.0);
    }
    assert_eq!(answers[..5], [StatusCode::UNAUTHORIZED; 5], "{answers:?}");
    assert_eq!(answers[5], StatusCode::TOO_MANY_REQUESTS, "{answers:?}");
}
