//! The dynamic member code: shown in the mini-program, scanned at the desk.

use entity::member_code_uses;
use jobs::Scheduler;
use reqwest::StatusCode;
use sea_orm::{ActiveModelTrait, ActiveValue::Set};
use serde_json::json;
use service::domain::{MemberCode, MemberCodeClaims, Role};

use crate::support::{TestApp, assert_error};

#[tokio::test]
async fn a_fresh_code_opens_the_member_at_the_desk() {
    let app = TestApp::spawn().await;
    let (member_token, member_id) = app.member_token("bob").await;
    let (status, code) = app.get("/api/mini/v1/me/member-code", &member_token).await;
    assert_eq!(status, StatusCode::OK);
    let text = code["code"].as_str().unwrap();
    assert!(text.starts_with("HY"));
    assert_eq!(code["refresh_after_secs"], 30);
    let cashier = app.token(Role::Cashier).await;
    let (status, found) = app.post("/api/staff/v1/members/lookup", &cashier, json!({ "query": text })).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(found["id"], member_id);
    // Scanning twice within its lifetime is fine (the cashier's scanner double-reads).
    assert_eq!(app.post("/api/staff/v1/members/lookup", &cashier, json!({ "query": text })).await.0, StatusCode::OK);
}

#[tokio::test]
async fn forged_tampered_expired_and_foreign_codes_are_refused() {
    let app = TestApp::spawn().await;
    let (member_token, member_id) = app.member_token("carol").await;
    let cashier = app.token(Role::Cashier).await;
    let lookup = |query: String| {
        let cashier = cashier.clone();
        let app = &app;
        async move { app.post("/api/staff/v1/members/lookup", &cashier, json!({ "query": query })).await }
    };

    let (_, code) = app.get("/api/mini/v1/me/member-code", &member_token).await;
    let code = code["code"].as_str().unwrap().to_owned();
    let mut tampered: Vec<char> = code.chars().collect();
    tampered[5] = if tampered[5] == 'A' { 'B' } else { 'A' };
    assert_error(
        &lookup(tampered.into_iter().collect()).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "member_code_invalid",
    );

    let now = chrono::Utc::now().timestamp();
    let forged = MemberCode::issue(&[9; 32], MemberCodeClaims { member_id, expires_at: now + 60 }).unwrap();
    assert_error(&lookup(forged.as_str().to_owned()).await, StatusCode::UNPROCESSABLE_ENTITY, "member_code_invalid");

    // Signed with the server's own key but past its expiry: a screenshot from a minute ago.
    let expired =
        MemberCode::issue(app.ctx.vault.member_code_key(), MemberCodeClaims { member_id, expires_at: now - 1 })
            .unwrap();
    assert_error(&lookup(expired.as_str().to_owned()).await, StatusCode::UNPROCESSABLE_ENTITY, "member_code_expired");

    assert_error(&lookup("HY".into()).await, StatusCode::UNPROCESSABLE_ENTITY, "member_code_invalid");
    assert_error(&lookup("hello".into()).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");

    // A valid code of our member means nothing to another merchant's staff.
    let (_, other) = app.other_merchant().await;
    assert_error(
        &app.post("/api/staff/v1/members/lookup", &other, json!({ "query": code })).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
}

#[tokio::test]
async fn an_anonymised_member_has_no_code() {
    let app = TestApp::spawn().await;
    let (token, _) = app.member_token("dave").await;
    let (_, code) = app.get("/api/mini/v1/me/member-code", &token).await;
    assert_eq!(app.post("/api/mini/v1/me/deletion", &token, json!({})).await.0, StatusCode::NO_CONTENT);
    // Deletion ended the member's sessions.
    assert_error(&app.get("/api/mini/v1/me/member-code", &token).await, StatusCode::UNAUTHORIZED, "unauthenticated");
    // A code shown just before the deletion no longer opens anything.
    let cashier = app.token(Role::Cashier).await;
    let answer = app.post("/api/staff/v1/members/lookup", &cashier, json!({ "query": code["code"] })).await;
    assert_error(&answer, StatusCode::CONFLICT, "member_anonymised");
}

#[tokio::test]
async fn a_code_is_spent_once_and_its_use_forgotten_after_it_expires() {
    let app = TestApp::spawn().await;
    let (member_token, member_id) = app.member_token("erin").await;
    let cashier = app.token(Role::Cashier).await;
    let (_, first) = app.get("/api/mini/v1/me/member-code", &member_token).await;
    let (_, second) = app.get("/api/mini/v1/me/member-code", &member_token).await;
    assert_ne!(first["code"], second["code"], "every code shown is a new one");
    for code in [&first["code"], &second["code"]] {
        assert_eq!(
            app.post("/api/staff/v1/members/lookup", &cashier, json!({ "query": code })).await.0,
            StatusCode::OK
        );
    }
    assert_eq!(app.count("member_code_uses").await, 2);

    // A use of a code long expired: its record is forgotten; the live ones are kept.
    let long_ago = chrono::Utc::now() - chrono::Duration::hours(1);
    member_code_uses::ActiveModel {
        merchant_id: Set(app.seed.merchant_id),
        member_id: Set(member_id),
        code_digest: Set("an-old-code".into()),
        purpose: Set("identify".into()),
        used_at: Set(long_ago),
        expires_at: Set(long_ago + chrono::Duration::minutes(1)),
        ..Default::default()
    }
    .insert(&app.ctx.db)
    .await
    .unwrap();
    let scheduler = Scheduler::new(app.ctx.clone(), jobs::standard_jobs().unwrap());
    let run = scheduler.run_now("members.forget_spent_codes").await.unwrap();
    assert_eq!(run.status, "succeeded", "{:?}", run.error);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&run.counts).unwrap(), json!({ "forgotten": 1 }));
    assert_eq!(app.count("member_code_uses").await, 2);
}
