//! Member sign-in through WeChat, Alipay and the sandbox, and phone binding, against the local fakes.

use reqwest::{Method, StatusCode};
use sea_orm::EntityTrait;
use serde_json::json;
use service::domain::Role;

use crate::support::{ALIPAY_APPID, Options, TestApp, WECHAT_APPID, assert_error};

async fn wechat_sign_in(app: &TestApp, openid: &str) -> (StatusCode, serde_json::Value) {
    let code = app.fake.wechat_login_code(WECHAT_APPID, openid, Some("union-1"));
    app.call(Method::POST, "/api/mini/v1/sessions/wechat", None, Some(json!({ "appid": WECHAT_APPID, "code": code })))
        .await
}

#[tokio::test]
async fn wechat_sign_in_registers_once_and_keeps_the_session_key_on_the_server() {
    let app = TestApp::spawn().await;
    let (status, first) = wechat_sign_in(&app, "o-openid-1").await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["created"], true);
    let (_, second) = wechat_sign_in(&app, "o-openid-1").await;
    assert_eq!(second["created"], false);
    assert_eq!(second["member_id"], first["member_id"]);
    assert!(!first.to_string().contains("session_key"));

    let identities = entity::member_identities::Entity::find().all(&app.ctx.db).await.unwrap();
    let wechat = identities.iter().find(|i| i.provider == "wechat").unwrap();
    assert_eq!(wechat.unionid.as_deref(), Some("union-1"));
    assert!(wechat.session_key_sealed.as_deref().is_some_and(|k| k.starts_with("v1.")), "sealed at rest");

    let (_, me) = app.get("/api/mini/v1/me", first["token"].as_str().unwrap()).await;
    assert_eq!(me["source"], "wechat");
}

#[tokio::test]
async fn wechat_refusals_are_clear_and_write_nothing() {
    let app = TestApp::spawn().await;
    let members = app.count("members").await;
    let code = app.fake.wechat_login_code(WECHAT_APPID, "o-openid-2", None);
    let body = json!({ "appid": WECHAT_APPID, "code": code });
    assert_eq!(
        app.call(Method::POST, "/api/mini/v1/sessions/wechat", None, Some(body.clone())).await.0,
        StatusCode::OK
    );
    // A code is single-use.
    let reused = app.call(Method::POST, "/api/mini/v1/sessions/wechat", None, Some(body)).await;
    assert_error(&reused, StatusCode::BAD_REQUEST, "provider_rejected");
    let unknown_app = app
        .call(
            Method::POST,
            "/api/mini/v1/sessions/wechat",
            None,
            Some(json!({ "appid": "wx9999999999999999", "code": "abc" })),
        )
        .await;
    assert_error(&unknown_app, StatusCode::NOT_FOUND, "not_found");
    let empty = app
        .call(Method::POST, "/api/mini/v1/sessions/wechat", None, Some(json!({ "appid": WECHAT_APPID, "code": "" })))
        .await;
    assert_error(&empty, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    assert_eq!(app.count("members").await, members + 1, "only the one good sign-in registered a member");
}

#[tokio::test]
async fn binding_a_phone_uses_a_cached_access_token_and_refreshes_it_when_invalidated() {
    let app = TestApp::spawn().await;
    let (_, session) = wechat_sign_in(&app, "o-phone-1").await;
    let token = session["token"].as_str().unwrap();
    let code = app.fake.wechat_phone_code(WECHAT_APPID, "13977776666");
    let (status, me) = app.post("/api/mini/v1/me/phone", token, json!({ "code": code })).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["phone"], "13977776666");
    let again = app
        .post(
            "/api/mini/v1/me/phone",
            token,
            json!({ "code": app.fake.wechat_phone_code(WECHAT_APPID, "13977775555") }),
        )
        .await;
    assert_error(&again, StatusCode::CONFLICT, "phone_already_bound");

    let (_, other) = wechat_sign_in(&app, "o-phone-2").await;
    let other_token = other["token"].as_str().unwrap();
    app.fake.invalidate_access_tokens();
    let code = app.fake.wechat_phone_code(WECHAT_APPID, "13977774444");
    let (status, _) = app.post("/api/mini/v1/me/phone", other_token, json!({ "code": code })).await;
    assert_eq!(status, StatusCode::OK, "a 40001 leads to one fresh token and a retry");
    assert_eq!(app.fake.calls("stable_token"), 2, "one token for the first two binds, one after invalidation");

    let bad = app.post("/api/mini/v1/me/phone", other_token, json!({ "code": "never-issued" })).await;
    assert_error(&bad, StatusCode::BAD_REQUEST, "provider_rejected");
}

#[tokio::test]
async fn binding_the_phone_of_a_desk_member_joins_that_membership() {
    let app = TestApp::spawn().await;
    let cashier = app.token(Role::Cashier).await;
    let (_, desk) = app.post("/api/staff/v1/members/lookup", &cashier, json!({ "query": "13800000001" })).await;
    let (_, session) = wechat_sign_in(&app, "o-zhangli").await;
    let token = session["token"].as_str().unwrap();
    assert_ne!(session["member_id"], desk["id"]);
    let members = app.count("members").await;

    let code = app.fake.wechat_phone_code(WECHAT_APPID, "13800000001");
    let (status, me) = app.post("/api/mini/v1/me/phone", token, json!({ "code": code })).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["id"], desk["id"], "the member now sees the card the store opened");
    assert_eq!(me["tags"], desk["tags"]);
    assert_eq!(app.count("members").await, members - 1, "the empty sign-in member is folded away");
    // The same session now belongs to the desk member; the next sign-in lands there too.
    assert_eq!(app.get("/api/mini/v1/me", token).await.1["id"], desk["id"]);
    assert_eq!(wechat_sign_in(&app, "o-zhangli").await.1["member_id"], desk["id"]);
}

#[tokio::test]
async fn alipay_sign_in_verifies_signatures_both_ways() {
    let app = TestApp::spawn().await;
    let code = app.fake.alipay_auth_code(ALIPAY_APPID, "alipay-open-id-1");
    let body = json!({ "appid": ALIPAY_APPID, "auth_code": code });
    let (status, session) = app.call(Method::POST, "/api/mini/v1/sessions/alipay", None, Some(body.clone())).await;
    assert_eq!(status, StatusCode::OK, "{session}");
    assert_eq!(session["created"], true);
    let reused = app.call(Method::POST, "/api/mini/v1/sessions/alipay", None, Some(body)).await;
    assert_error(&reused, StatusCode::BAD_REQUEST, "provider_rejected");

    let members = app.count("members").await;
    app.fake.forge_next_alipay_response();
    let code = app.fake.alipay_auth_code(ALIPAY_APPID, "alipay-open-id-2");
    let forged = app
        .call(
            Method::POST,
            "/api/mini/v1/sessions/alipay",
            None,
            Some(json!({ "appid": ALIPAY_APPID, "auth_code": code })),
        )
        .await;
    assert_error(&forged, StatusCode::BAD_GATEWAY, "provider_unavailable");
    assert_eq!(app.count("members").await, members, "an answer we can't trust registers nobody");
}

#[tokio::test]
async fn concurrent_first_sign_ins_make_one_member() {
    let app = TestApp::spawn().await;
    let attempts = (0..10).map(|_| {
        app.call(
            Method::POST,
            "/api/mini/v1/sessions/sandbox",
            None,
            Some(json!({ "merchant_id": app.seed.merchant_id, "user": "twin" })),
        )
    });
    let answers = futures_util::future::join_all(attempts).await;
    let ids: std::collections::BTreeSet<i64> = answers
        .iter()
        .map(|(status, body)| {
            assert_eq!(*status, StatusCode::OK, "{body}");
            body["member_id"].as_i64().unwrap()
        })
        .collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(app.count("member_identities").await, 1);
}

#[tokio::test]
async fn members_manage_their_own_profile() {
    let app = TestApp::spawn().await;
    let (token, _) = app.member_token("erin").await;
    let (status, me) = app
        .patch("/api/mini/v1/me", &token, json!({ "nickname": "小E", "birthday": "1999-05-05", "gender": "female" }))
        .await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!((me["nickname"].as_str(), me["birthday"].as_str()), (Some("小E"), Some("1999-05-05")));
    assert_error(
        &app.patch("/api/mini/v1/me", &token, json!({ "birthday": "2999-01-01" })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    );
    let (_, export) = app.get("/api/mini/v1/me/export", &token).await;
    assert_eq!(export["member"]["nickname"], "小E");
    assert_eq!(export["linked_accounts"][0]["provider"], "sandbox");
    let (_, menu) = app.get("/api/mini/v1/services", &token).await;
    assert_eq!(menu.as_array().unwrap().len(), 6);
    assert_eq!(app.delete("/api/mini/v1/sessions/current", &token).await.0, StatusCode::NO_CONTENT);
    assert_error(&app.get("/api/mini/v1/me", &token).await, StatusCode::UNAUTHORIZED, "unauthenticated");
}

#[tokio::test]
async fn the_sandbox_sign_in_is_refused_when_disabled() {
    let app = TestApp::spawn_with(Options { sandbox: false, ..Options::default() }).await;
    let answer = app
        .call(
            Method::POST,
            "/api/mini/v1/sessions/sandbox",
            None,
            Some(json!({ "merchant_id": app.seed.merchant_id, "user": "x" })),
        )
        .await;
    assert_error(&answer, StatusCode::FORBIDDEN, "disabled");
}
