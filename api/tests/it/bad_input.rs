//! Bad input on every writing endpoint: a 4xx with a stable code and a message, and not one row changed anywhere.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use service::domain::Role;

use crate::support::TestApp;

const TABLES: [&str; 14] = [
    "merchants",
    "stores",
    "staff",
    "staff_stores",
    "staff_sessions",
    "audit_log",
    "member_levels",
    "members",
    "member_identities",
    "member_sessions",
    "member_tags",
    "member_notes",
    "member_allergies",
    "service_items",
];

async fn snapshot(app: &TestApp) -> Vec<i64> {
    let mut counts = Vec::new();
    for table in TABLES {
        counts.push(app.count(table).await);
    }
    counts
}

#[tokio::test]
async fn every_writing_endpoint_refuses_bad_input_without_writing() {
    let app = TestApp::spawn().await;
    let owner = app.token(Role::Owner).await;
    let (member_token, _) = app.member_token("frank").await;
    let (_, member) = app.post("/api/staff/v1/members/lookup", &owner, json!({ "query": "13800000004" })).await;
    let m = member["id"].as_i64().unwrap();
    let (_, staff) = app.get("/api/staff/v1/staff", &owner).await;
    let s = staff.as_array().unwrap().iter().find(|s| s["role"] == "cashier").unwrap()["id"].as_i64().unwrap();
    let store = app.seed.store_ids[0];
    let (_, services) = app.get("/api/staff/v1/services", &owner).await;
    let service = services[0]["id"].as_i64().unwrap();
    let before = snapshot(&app).await;

    let staff_cases: Vec<(Method, String, Value)> = vec![
        (Method::POST, "/api/staff/v1/stores".into(), json!({ "name": "" })),
        (Method::POST, "/api/staff/v1/stores".into(), json!({ "name": "新店", "timezone": "Mars/Olympus" })),
        (Method::PATCH, format!("/api/staff/v1/stores/{store}"), json!({ "timezone": "UTC+8" })),
        (Method::PATCH, format!("/api/staff/v1/stores/{store}"), json!({ "name": "x".repeat(61) })),
        (
            Method::POST,
            "/api/staff/v1/services".into(),
            json!({ "category": "美发", "name": "洗", "duration_min": 30, "price_fen": -1 }),
        ),
        (
            Method::POST,
            "/api/staff/v1/services".into(),
            json!({ "category": "美发", "name": "洗", "duration_min": 0, "price_fen": 100 }),
        ),
        (Method::POST, "/api/staff/v1/services".into(), json!({ "name": "洗" })),
        (Method::PATCH, format!("/api/staff/v1/services/{service}"), json!({ "price_fen": "free" })),
        (Method::PATCH, "/api/staff/v1/merchant".into(), json!({ "wechat_appid": "not-an-appid" })),
        (Method::PATCH, "/api/staff/v1/merchant".into(), json!({ "wechat_secret": "short" })),
        (Method::PATCH, "/api/staff/v1/merchant".into(), json!({ "alipay_private_key": "-----BEGIN NOTHING-----" })),
        (Method::PATCH, "/api/staff/v1/merchant".into(), json!({ "timezone": "Nowhere" })),
        (Method::PATCH, format!("/api/staff/v1/staff/{s}"), json!({ "role": "king" })),
        (Method::PATCH, format!("/api/staff/v1/staff/{s}"), json!({ "store_ids": [] })),
        (Method::PATCH, format!("/api/staff/v1/staff/{s}"), json!({ "display_name": "" })),
        (Method::PUT, format!("/api/staff/v1/staff/{s}/password"), json!({ "password": "short" })),
        (Method::PUT, "/api/staff/v1/me/password".into(), json!({ "current_password": "x" })),
        (Method::PATCH, format!("/api/staff/v1/members/{m}"), json!({ "phone": "12" })),
        (Method::PATCH, format!("/api/staff/v1/members/{m}"), json!({ "phone": "13800000001" })),
        (Method::PATCH, format!("/api/staff/v1/members/{m}"), json!({ "level_id": 987654 })),
        (Method::PUT, format!("/api/staff/v1/members/{m}/level"), json!({ "level_id": 987654, "reason": "迁移" })),
        (Method::PUT, format!("/api/staff/v1/members/{m}/level"), json!({ "level_id": 987654 })),
        (Method::PUT, format!("/api/staff/v1/members/{m}/tags"), json!({ "tags": [""] })),
        (Method::PUT, format!("/api/staff/v1/members/{m}/tags"), json!({ "labels": ["VIP"] })),
        (Method::POST, format!("/api/staff/v1/members/{m}/notes"), json!({ "body": "x".repeat(2001) })),
        (Method::POST, format!("/api/staff/v1/members/{m}/allergies"), json!({ "substance": "", "severity": "mild" })),
        (
            Method::POST,
            format!("/api/staff/v1/members/{m}/allergies"),
            json!({ "substance": "花粉", "severity": "mild", "note": "x".repeat(501) }),
        ),
        (Method::POST, "/api/staff/v1/members/lookup".into(), json!({ "query": "" })),
        (Method::POST, "/api/staff/v1/members/lookup".into(), json!({})),
    ];
    for (method, path, body) in staff_cases {
        let (status, answer) = app.call(method.clone(), &path, Some(&owner), Some(body.clone())).await;
        assert!(status.is_client_error(), "{method} {path} {body} gave {status}: {answer}");
        assert!(answer["code"].is_string() && answer["message"].is_string(), "{method} {path}: {answer}");
    }
    let member_cases: Vec<(Method, &str, Value)> = vec![
        (Method::PATCH, "/api/mini/v1/me", json!({ "gender": "none" })),
        (Method::PATCH, "/api/mini/v1/me", json!({ "preferences": "tea" })),
        (Method::POST, "/api/mini/v1/me/phone", json!({ "code": "" })),
        (Method::POST, "/api/mini/v1/me/phone", json!({ "code": "anything" })),
    ];
    for (method, path, body) in member_cases {
        let (status, answer) = app.call(method.clone(), path, Some(&member_token), Some(body.clone())).await;
        assert!(status.is_client_error(), "{method} {path} {body} gave {status}: {answer}");
        assert!(answer["code"].is_string(), "{answer}");
    }
    let public_cases: Vec<(&str, Value)> = vec![
        ("/api/staff/v1/sessions", json!({})),
        ("/api/mini/v1/sessions/sandbox", json!({ "merchant_id": app.seed.merchant_id, "user": "bad user!" })),
        ("/api/mini/v1/sessions/sandbox", json!({ "merchant_id": 987654, "user": "ghost" })),
        ("/api/mini/v1/sessions/alipay", json!({ "appid": "2021000000000001", "auth_code": "" })),
    ];
    for (path, body) in public_cases {
        let (status, answer) = app.call(Method::POST, path, None, Some(body.clone())).await;
        assert!(status.is_client_error(), "{path} {body} gave {status}: {answer}");
        assert!(answer["code"].is_string(), "{answer}");
    }
    assert_eq!(snapshot(&app).await, before, "tables {TABLES:?}");
    assert_eq!(app.get(&format!("/api/staff/v1/members/{m}"), &owner).await.0, StatusCode::OK);
}
