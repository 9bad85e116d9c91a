use reqwest::{Method, StatusCode};
use serde_json::json;
use service::domain::Role;

use crate::support::{Options, PrivateRedis, TestApp, assert_error, password};

#[tokio::test]
async fn sign_in_returns_a_token_with_the_roles_permissions() {
    let app = TestApp::spawn().await;
    let token = app.token(Role::Technician).await;
    let (status, me) = app.get("/api/staff/v1/me", &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["role"], "technician");
    assert_eq!(me["permissions"], json!(["member_read", "booking_read"]));
    assert_eq!(me["all_stores"], false);
    assert_eq!(me["store_ids"], json!([app.seed.store_ids[0]]));
    // The session is stored hashed: the token itself is nowhere in the database.
    let (sessions,) = (app.count("staff_sessions").await,);
    assert_eq!(sessions, 1);
    use sea_orm::EntityTrait;
    let stored = entity::staff_sessions::Entity::find().all(&app.ctx.db).await.unwrap();
    assert!(stored.iter().all(|s| s.token_hash != token && !token.contains(&s.token_hash)));
}

#[tokio::test]
async fn wrong_or_unknown_credentials_are_refused_alike_and_audited() {
    let app = TestApp::spawn().await;
    let body = |u: &str, p: &str| Some(json!({ "username": u, "password": p }));
    let wrong = app.call(Method::POST, "/api/staff/v1/sessions", None, body("demo-cashier", "not the password")).await;
    assert_error(&wrong, StatusCode::UNAUTHORIZED, "invalid_credentials");
    let unknown =
        app.call(Method::POST, "/api/staff/v1/sessions", None, body("nobody-here", "whatever-password")).await;
    assert_error(&unknown, StatusCode::UNAUTHORIZED, "invalid_credentials");
    assert_eq!(wrong.1["message"], unknown.1["message"], "the answer must not tell which part was wrong");

    let owner = app.token(Role::Owner).await;
    let (_, log) = app.get("/api/staff/v1/audit-log", &owner).await;
    let actions: Vec<&str> = log.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert!(actions.contains(&"staff.sign_in_failed"), "{actions:?}");
    assert!(actions.contains(&"staff.signed_in"), "{actions:?}");
}

#[tokio::test]
async fn repeated_failures_lock_the_account_for_the_window() {
    let app = TestApp::spawn().await;
    for _ in 0..5 {
        let answer = app
            .call(
                Method::POST,
                "/api/staff/v1/sessions",
                None,
                Some(json!({ "username": "demo-cashier", "password": "wrong-password" })),
            )
            .await;
        assert_error(&answer, StatusCode::UNAUTHORIZED, "invalid_credentials");
    }
    let response = app
        .client
        .post(app.url("/api/staff/v1/sessions"))
        .json(&json!({ "username": "demo-cashier", "password": password(Role::Cashier) }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS, "even the right password waits out the lock");
    assert!(response.headers().contains_key("retry-after"));
    // Other accounts are unaffected.
    app.token(Role::Manager).await;
}

#[tokio::test]
async fn too_many_attempts_from_one_ip_are_limited() {
    let app = TestApp::spawn().await;
    let mut limited = false;
    for i in 0..35 {
        let (status, _) = app
            .call(
                Method::POST,
                "/api/staff/v1/sessions",
                None,
                Some(json!({ "username": format!("user-{i}"), "password": "wrong-password" })),
            )
            .await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            limited = true;
            assert!(i >= 30, "limited after only {i} attempts");
            break;
        }
    }
    assert!(limited, "30 attempts per window per IP");
}

#[tokio::test]
async fn signing_out_ends_the_session() {
    let app = TestApp::spawn().await;
    let token = app.token(Role::Cashier).await;
    assert_eq!(app.delete("/api/staff/v1/sessions/current", &token).await.0, StatusCode::NO_CONTENT);
    assert_error(&app.get("/api/staff/v1/me", &token).await, StatusCode::UNAUTHORIZED, "unauthenticated");
}

#[tokio::test]
async fn changing_my_password_ends_my_other_sessions() {
    let app = TestApp::spawn().await;
    let here = app.token(Role::Cashier).await;
    let elsewhere = app.token(Role::Cashier).await;
    let bad = app
        .put(
            "/api/staff/v1/me/password",
            &here,
            json!({ "current_password": "wrong-password", "new_password": "a-new-password-1" }),
        )
        .await;
    assert_error(&bad, StatusCode::UNAUTHORIZED, "invalid_credentials");
    let short = app
        .put(
            "/api/staff/v1/me/password",
            &here,
            json!({ "current_password": password(Role::Cashier), "new_password": "short" }),
        )
        .await;
    assert_error(&short, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");

    let (status, _) = app
        .put(
            "/api/staff/v1/me/password",
            &here,
            json!({ "current_password": password(Role::Cashier), "new_password": "a-new-password-1" }),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(app.get("/api/staff/v1/me", &here).await.0, StatusCode::OK);
    assert_error(&app.get("/api/staff/v1/me", &elsewhere).await, StatusCode::UNAUTHORIZED, "unauthenticated");
    let old = app
        .call(
            Method::POST,
            "/api/staff/v1/sessions",
            None,
            Some(json!({ "username": "demo-cashier", "password": password(Role::Cashier) })),
        )
        .await;
    assert_error(&old, StatusCode::UNAUTHORIZED, "invalid_credentials");
    app.sign_in("demo-cashier", "a-new-password-1").await;
}

#[tokio::test]
async fn deactivating_staff_ends_their_sessions_and_sign_ins() {
    let app = TestApp::spawn().await;
    let owner = app.token(Role::Owner).await;
    let cashier = app.token(Role::Cashier).await;
    let (_, me) = app.get("/api/staff/v1/me", &cashier).await;
    let id = me["id"].as_i64().unwrap();
    let (status, updated) = app.patch(&format!("/api/staff/v1/staff/{id}"), &owner, json!({ "active": false })).await;
    assert_eq!((status, &updated["active"]), (StatusCode::OK, &json!(false)));
    assert_error(&app.get("/api/staff/v1/me", &cashier).await, StatusCode::UNAUTHORIZED, "unauthenticated");
    let again = app
        .call(
            Method::POST,
            "/api/staff/v1/sessions",
            None,
            Some(json!({ "username": "demo-cashier", "password": password(Role::Cashier) })),
        )
        .await;
    assert_error(&again, StatusCode::UNAUTHORIZED, "invalid_credentials");
    let (_, log) = app.get("/api/staff/v1/audit-log", &owner).await;
    assert!(log.as_array().unwrap().iter().any(|e| e["action"] == "staff.deactivated" && e["target_id"] == id));
}

#[tokio::test]
async fn role_rules_for_managing_staff() {
    let app = TestApp::spawn().await;
    let owner = app.token(Role::Owner).await;
    let manager = app.token(Role::Manager).await;
    let technician = app.token(Role::Technician).await;
    let store = app.seed.store_ids[0];
    let new_staff = |username: &str, role: &str| json!({ "username": username, "display_name": "新同事", "role": role, "password": "welcome-aboard-1", "store_ids": [store] });
    assert_error(&app.get("/api/staff/v1/staff", &technician).await, StatusCode::FORBIDDEN, "forbidden");
    // Every refusal says why: the permission it needs, or the rule it breaks.
    let why = |answer: (StatusCode, serde_json::Value), says: &str| {
        assert_error(&answer, StatusCode::FORBIDDEN, "forbidden");
        assert!(answer.1["message"].as_str().unwrap().contains(says), "{}", answer.1);
    };
    why(app.get("/api/staff/v1/staff", &technician).await, "`staff_read`");
    why(app.get("/api/staff/v1/card-products", &technician).await, "`checkout` or the `catalog_manage`");
    why(app.get("/api/staff/v1/commission-rules", &technician).await, "`loyalty_manage` or the `commission_read`");
    why(app.post("/api/staff/v1/staff", &manager, new_staff("boss-two", "owner")).await, "roles below their own");
    let everywhere = json!({ "username": "chain-cashier", "display_name": "新同事", "role": "cashier", "password": "welcome-aboard-1", "all_stores": true });
    why(app.post("/api/staff/v1/staff", &manager, everywhere).await, "held for all stores");
    assert_error(
        &app.post("/api/staff/v1/staff", &manager, new_staff("peer-manager", "manager")).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    let (status, created) = app.post("/api/staff/v1/staff", &manager, new_staff("new-cashier", "cashier")).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["store_ids"], json!([store]));
    app.sign_in("new-cashier", "welcome-aboard-1").await;
    assert_error(
        &app.post("/api/staff/v1/staff", &owner, new_staff("new-cashier", "cashier")).await,
        StatusCode::CONFLICT,
        "username_taken",
    );

    // The manager can't touch the owner; nobody can remove the last owner.
    let (_, staff) = app.get("/api/staff/v1/staff", &owner).await;
    let owner_id = staff.as_array().unwrap().iter().find(|s| s["role"] == "owner").unwrap()["id"].as_i64().unwrap();
    assert_error(
        &app.patch(&format!("/api/staff/v1/staff/{owner_id}"), &manager, json!({ "active": false })).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_error(
        &app.patch(&format!("/api/staff/v1/staff/{owner_id}"), &owner, json!({ "role": "manager" })).await,
        StatusCode::CONFLICT,
        "last_owner",
    );
    assert_eq!(app.get("/api/staff/v1/me", &owner).await.1["role"], "owner", "the refused change wrote nothing");
}

#[tokio::test]
async fn bad_staff_input_writes_nothing() {
    let app = TestApp::spawn().await;
    let owner = app.token(Role::Owner).await;
    let before = app.count("staff").await;
    let audit_before = app.count("audit_log").await;
    let store = app.seed.store_ids[0];
    let cases = [
        json!({ "username": "x", "display_name": "A", "role": "cashier", "password": "long-enough-pass", "store_ids": [store] }),
        json!({ "username": "valid-name", "display_name": "", "role": "cashier", "password": "long-enough-pass", "store_ids": [store] }),
        json!({ "username": "valid-name", "display_name": "A", "role": "admin", "password": "long-enough-pass", "store_ids": [store] }),
        json!({ "username": "valid-name", "display_name": "A", "role": "cashier", "password": "short", "store_ids": [store] }),
        json!({ "username": "valid-name", "display_name": "A", "role": "cashier", "password": "long-enough-pass", "store_ids": [] }),
        json!({ "username": "valid-name", "display_name": "A", "role": "cashier", "password": "long-enough-pass", "store_ids": [987654] }),
        json!({ "username": "valid name!", "display_name": "A", "role": "cashier", "password": "long-enough-pass", "store_ids": [store] }),
    ];
    for case in cases {
        let (status, body) = app.post("/api/staff/v1/staff", &owner, case.clone()).await;
        assert!(status.is_client_error(), "{case} gave {status}");
        assert!(body["code"].is_string(), "{body}");
    }
    assert_eq!(app.count("staff").await, before);
    assert_eq!(app.count("audit_log").await, audit_before);
}

/// Polls until the replica keeps principals (its subscription to session changes is up), or fails after 5 s.
async fn until_listening(ctx: &service::AppContext, listening: bool) {
    for _ in 0..500 {
        if ctx.sessions.is_listening() == listening {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the session cache never turned listening = {listening}");
}

#[tokio::test]
async fn a_session_seen_lately_costs_no_read_and_a_revocation_ends_it_at_once_on_every_replica() {
    use sea_orm::ConnectionTrait;

    let mut redis = PrivateRedis::start().await;
    let app = TestApp::spawn_with(Options { redis_url: Some(redis.url.clone()), ..Default::default() }).await;
    let (replica, replica_ctx) = app.replica_with_context().await;
    until_listening(&app.ctx, true).await;
    until_listening(&replica_ctx, true).await;
    let me = |base: &str, token: &str| {
        let request = app.client.get(format!("{base}/api/staff/v1/me")).bearer_auth(token);
        async move {
            let response = request.send().await.unwrap();
            let status = response.status();
            (status, response.json::<serde_json::Value>().await.unwrap_or_default())
        }
    };
    let revoke_by_hand = |revoked: bool| {
        let sql = if revoked {
            "UPDATE staff_sessions SET revoked_at = created_at"
        } else {
            "UPDATE staff_sessions SET revoked_at = NULL"
        };
        app.ctx.db.execute_unprepared(sql)
    };
    let cashier = app.token(Role::Cashier).await;
    let owner = app.token(Role::Owner).await;
    let (status, cashier_me) = me(&app.address, &cashier).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me(&replica, &cashier).await.0, StatusCode::OK);

    // Held on both: a change made by hand in SQL, which no one announces, is not read back, which shows the
    // session is not read again on every request.
    revoke_by_hand(true).await.unwrap();
    assert_eq!(me(&app.address, &cashier).await.0, StatusCode::OK);
    assert_eq!(me(&replica, &cashier).await.0, StatusCode::OK);
    revoke_by_hand(false).await.unwrap();

    // A change to the staff member through the api shows at once on the other replica.
    let path = format!("/api/staff/v1/staff/{}", cashier_me["id"]);
    let (status, _) = app.patch(&path, &owner, json!({ "display_name": "新名字" })).await;
    assert_eq!(status, StatusCode::OK);
    let (status, renamed) = me(&replica, &cashier).await;
    assert_eq!((status, renamed["display_name"].as_str()), (StatusCode::OK, Some("新名字")));

    // Signing out on one replica ends the session on the other before the sign-out answers.
    assert_eq!(me(&replica, &cashier).await.0, StatusCode::OK);
    let signed_out =
        app.client.delete(format!("{replica}/api/staff/v1/sessions/current")).bearer_auth(&cashier).send().await;
    assert_eq!(signed_out.unwrap().status(), StatusCode::NO_CONTENT);
    assert_eq!(me(&app.address, &cashier).await.0, StatusCode::UNAUTHORIZED);

    // Deactivating the staff member on one replica ends every session of theirs on the other.
    let again = app.token(Role::Cashier).await;
    assert_eq!(me(&replica, &again).await.0, StatusCode::OK);
    let (status, _) = app.patch(&path, &owner, json!({ "active": false })).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me(&replica, &again).await.0, StatusCode::UNAUTHORIZED);

    // Without the shared state, a replica cannot hear changes, so it keeps nothing: each request reads the session,
    // and a change by hand is seen at once.
    redis.stop();
    until_listening(&replica_ctx, false).await;
    assert_eq!(me(&replica, &owner).await.0, StatusCode::OK);
    revoke_by_hand(true).await.unwrap();
    assert_eq!(me(&replica, &owner).await.0, StatusCode::UNAUTHORIZED);
}
