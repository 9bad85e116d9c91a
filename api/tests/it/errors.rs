//! Every kind of bad request gets the JSON envelope with a stable code and a 4xx, and changes nothing.

use reqwest::{Method, StatusCode};
use serde_json::json;
use service::domain::Role;

use crate::support::{TestApp, assert_error};

#[tokio::test]
async fn routing_errors_use_the_envelope() {
    let app = TestApp::spawn().await;
    assert_error(&app.call(Method::GET, "/no/such/path", None, None).await, StatusCode::NOT_FOUND, "not_found");
    let response = app.client.delete(app.url("/api/staff/v1/me")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()["allow"], "GET");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], "method_not_allowed");
    assert_error(
        &app.call(Method::PUT, "/api/staff/v1/members/12", None, None).await,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    );
    // A literal route is not read as an id of its parameterised neighbour: `PUT /bills/preview` is not the bill
    // with id "preview", it is a method the preview does not take.
    let token = app.token(Role::Cashier).await;
    let response = app
        .client
        .put(app.url("/api/staff/v1/bills/preview"))
        .bearer_auth(&token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()["allow"], "POST");
    // The parameterised route still answers for a real id, and a bad id is still a bad path.
    assert_error(&app.get("/api/staff/v1/bills/abc", &token).await, StatusCode::BAD_REQUEST, "invalid_path");
    // A trailing slash names no route at all: not found, not a method of the route without it.
    assert_error(&app.get("/api/staff/v1/bills/5/", &token).await, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn authentication_errors() {
    let app = TestApp::spawn().await;
    assert_error(
        &app.call(Method::GET, "/api/staff/v1/me", None, None).await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    assert_error(&app.get("/api/staff/v1/me", "hys_not-a-token").await, StatusCode::UNAUTHORIZED, "unauthenticated");
    let forged = format!("hys_{}", "A".repeat(43));
    assert_error(&app.get("/api/staff/v1/me", &forged).await, StatusCode::UNAUTHORIZED, "unauthenticated");
    // A member token is not a staff token, and the other way round.
    let (member, _) = app.member_token("alice").await;
    assert_error(&app.get("/api/staff/v1/me", &member).await, StatusCode::UNAUTHORIZED, "unauthenticated");
    let staff = app.token(Role::Owner).await;
    assert_error(&app.get("/api/mini/v1/me", &staff).await, StatusCode::UNAUTHORIZED, "unauthenticated");
}

#[tokio::test]
async fn body_query_and_path_errors_write_nothing() {
    let app = TestApp::spawn().await;
    let token = app.token(Role::Cashier).await;
    let members = app.count("members").await;

    let raw = app
        .client
        .post(app.url("/api/staff/v1/members"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{\"phone\": \"13900000000\"")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), StatusCode::BAD_REQUEST);
    assert_eq!(raw.json::<serde_json::Value>().await.unwrap()["code"], "malformed_json");

    let wrong_type = app.post("/api/staff/v1/members", &token, json!({ "phone": 13900000000u64 })).await;
    assert_error(&wrong_type, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    // A field the api does not know is refused, not ignored: a client that believes it sent a discount must hear
    // that nothing took it.
    let unknown =
        app.post("/api/staff/v1/members", &token, json!({ "phone": "13900000001", "discount_pct": 50 })).await;
    // A body is an object: serde would read a one-field struct from an array holding that field's value, which
    // no client means (`{"tags": [...]}` sent as `[[...]]`).
    let listed = app.get("/api/staff/v1/members?limit=1", &token).await.1;
    let member = listed["items"][0]["id"].as_i64().unwrap_or_else(|| panic!("a demo member: {listed}"));
    let before = app.get(&format!("/api/staff/v1/members/{member}"), &token).await.1["tags"].clone();
    let array = app.put(&format!("/api/staff/v1/members/{member}/tags"), &token, json!([["新标签"]])).await;
    assert_error(&array, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    assert_eq!(app.get(&format!("/api/staff/v1/members/{member}"), &token).await.1["tags"], before);
    assert_error(&unknown, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    assert!(unknown.1["message"].as_str().unwrap().contains("discount_pct"), "{}", unknown.1);
    let bills = app.count("bills").await;
    let store = app.seed.store_ids[0];
    let bill = json!({
        "store_id": store, "lines": [], "tenders": [], "idempotency_key": "unknown-field-1", "discount_pct": 50,
    });
    assert_error(
        &app.post("/api/staff/v1/bills", &token, bill).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    );
    assert_eq!(app.count("bills").await, bills);

    let text = app
        .client
        .post(app.url("/api/staff/v1/members"))
        .bearer_auth(&token)
        .header("content-type", "text/plain")
        .body("phone=13900000000")
        .send()
        .await
        .unwrap();
    assert_eq!(text.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let huge = app
        .post("/api/staff/v1/members", &token, json!({ "phone": "13900000000", "nickname": "x".repeat(300_000) }))
        .await;
    assert_error(&huge, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");

    assert_error(&app.get("/api/staff/v1/members?limit=lots", &token).await, StatusCode::BAD_REQUEST, "invalid_query");
    assert_error(
        &app.get("/api/staff/v1/members?limit=1000", &token).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    );
    assert_error(&app.get("/api/staff/v1/members/abc", &token).await, StatusCode::BAD_REQUEST, "invalid_path");
    assert_error(&app.get("/api/staff/v1/members/999999", &token).await, StatusCode::NOT_FOUND, "not_found");
    assert_error(
        &app.get("/api/staff/v1/members?cursor=garbage", &token).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    );

    assert_eq!(app.count("members").await, members, "no bad request may write a member");
}
