//! No request reads or changes another merchant's data; no store-scoped staff member touches another store.

use reqwest::StatusCode;
use serde_json::{Value, json};
use service::domain::Role;

use crate::support::{TestApp, assert_error};

async fn demo_member_id(app: &TestApp, token: &str) -> i64 {
    let (_, found) = app.post("/api/staff/v1/members/lookup", token, json!({ "query": "13800000002" })).await;
    found["id"].as_i64().unwrap()
}

#[tokio::test]
async fn another_merchant_sees_and_changes_nothing_of_ours() {
    let app = TestApp::spawn().await;
    let ours = app.token(Role::Owner).await;
    let member = demo_member_id(&app, &ours).await;
    let (_, staff) = app.get("/api/staff/v1/staff", &ours).await;
    let staff_id = staff[0]["id"].as_i64().unwrap();
    let store = app.seed.store_ids[0];
    let (_, services) = app.get("/api/staff/v1/services", &ours).await;
    let service_id = services[0]["id"].as_i64().unwrap();
    let (_, allergy) = app
        .post(
            &format!("/api/staff/v1/members/{member}/allergies"),
            &ours,
            json!({ "substance": "乳胶", "severity": "mild" }),
        )
        .await;
    let allergy_id = allergy["id"].as_i64().unwrap();
    let (_, other) = app.other_merchant().await;

    let not_found = [
        app.get(&format!("/api/staff/v1/members/{member}"), &other).await,
        app.patch(&format!("/api/staff/v1/members/{member}"), &other, json!({ "nickname": "hacked" })).await,
        app.put(&format!("/api/staff/v1/members/{member}/tags"), &other, json!({ "tags": ["x"] })).await,
        app.get(&format!("/api/staff/v1/members/{member}/notes"), &other).await,
        app.post(&format!("/api/staff/v1/members/{member}/notes"), &other, json!({ "body": "x" })).await,
        app.post(
            &format!("/api/staff/v1/members/{member}/allergies"),
            &other,
            json!({ "substance": "x", "severity": "mild" }),
        )
        .await,
        app.delete(&format!("/api/staff/v1/members/{member}/allergies/{allergy_id}"), &other).await,
        app.get(&format!("/api/staff/v1/members/{member}/export"), &other).await,
        app.post(&format!("/api/staff/v1/members/{member}/anonymise"), &other, json!({})).await,
        app.post("/api/staff/v1/members/lookup", &other, json!({ "query": "13800000002" })).await,
        app.get(&format!("/api/staff/v1/staff/{staff_id}"), &other).await,
        app.patch(&format!("/api/staff/v1/staff/{staff_id}"), &other, json!({ "active": false })).await,
        app.put(&format!("/api/staff/v1/staff/{staff_id}/password"), &other, json!({ "password": "taken-over-123" }))
            .await,
        app.get(&format!("/api/staff/v1/stores/{store}"), &other).await,
        app.patch(&format!("/api/staff/v1/stores/{store}"), &other, json!({ "name": "hacked" })).await,
        app.patch(&format!("/api/staff/v1/services/{service_id}"), &other, json!({ "price_fen": 1 })).await,
    ];
    for answer in &not_found {
        assert_error(answer, StatusCode::NOT_FOUND, "not_found");
    }
    // Lists contain only their own.
    let (_, members) = app.get("/api/staff/v1/members", &other).await;
    assert_eq!(members["items"], json!([]));
    let (_, members) = app.get("/api/staff/v1/members?phone=13800000002", &other).await;
    assert_eq!(members["items"], json!([]));
    for path in ["/api/staff/v1/stores", "/api/staff/v1/services"] {
        assert_eq!(app.get(path, &other).await.1, json!([]), "{path}");
    }
    let (_, staff) = app.get("/api/staff/v1/staff", &other).await;
    assert_eq!(staff.as_array().unwrap().len(), 1, "only their own owner");
    let (_, log) = app.get("/api/staff/v1/audit-log", &other).await;
    assert!(log.as_array().unwrap().iter().all(|e| e["target_id"] != json!(member)));
    let (_, merchant) = app.get("/api/staff/v1/merchant", &other).await;
    assert_eq!(merchant["code"], "other");

    // Nothing changed on our side.
    let (_, ours_now) = app.get(&format!("/api/staff/v1/members/{member}"), &ours).await;
    assert_eq!(ours_now["nickname"], "");
    assert_eq!(ours_now["allergies"].as_array().unwrap().len(), 2);
    assert_eq!(app.get(&format!("/api/staff/v1/stores/{store}"), &ours).await.1["name"], "人民广场店");
}

#[tokio::test]
async fn a_store_scoped_manager_stays_in_their_store() {
    let app = TestApp::spawn().await;
    let owner = app.token(Role::Owner).await;
    let manager = app.token(Role::Manager).await;
    let [mine, theirs] = [app.seed.store_ids[0], app.seed.store_ids[1]];
    let (status, far_cashier) = app
        .post(
            "/api/staff/v1/staff",
            &owner,
            json!({ "username": "far-cashier", "display_name": "远方", "role": "cashier", "password": "far-away-pass-1", "store_ids": [theirs] }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let far_id = far_cashier["id"].as_i64().unwrap();

    let (_, stores) = app.get("/api/staff/v1/stores", &manager).await;
    let ids: Vec<i64> = stores.as_array().unwrap().iter().map(|s| s["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, vec![mine]);
    let denied = [
        app.get(&format!("/api/staff/v1/stores/{theirs}"), &manager).await,
        app.patch(&format!("/api/staff/v1/stores/{theirs}"), &manager, json!({ "name": "mine now" })).await,
        app.get(&format!("/api/staff/v1/staff/{far_id}"), &manager).await,
        app.patch(&format!("/api/staff/v1/staff/{far_id}"), &manager, json!({ "active": false })).await,
        app.put(&format!("/api/staff/v1/staff/{far_id}/password"), &manager, json!({ "password": "taken-over-123" })).await,
        app.post(
            "/api/staff/v1/staff",
            &manager,
            json!({ "username": "sneaky", "display_name": "S", "role": "cashier", "password": "sneaky-pass-123", "store_ids": [theirs] }),
        )
        .await,
        app.post("/api/staff/v1/members", &manager, json!({ "phone": "13911112222", "home_store_id": theirs })).await,
    ];
    for answer in &denied {
        assert_error(answer, StatusCode::NOT_FOUND, "not_found");
    }
    // Granting all stores is beyond a store-scoped manager, and so is moving someone into another store.
    let (_, cashier_me) = app.get("/api/staff/v1/me", &app.token(Role::Cashier).await).await;
    let cashier_id = cashier_me["id"].as_i64().unwrap();
    assert_error(
        &app.patch(&format!("/api/staff/v1/staff/{cashier_id}"), &manager, json!({ "all_stores": true })).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_error(
        &app.patch(&format!("/api/staff/v1/staff/{cashier_id}"), &manager, json!({ "store_ids": [mine, theirs] }))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    // The list shows only staff of the manager's store (and staff of every store).
    let (_, staff) = app.get("/api/staff/v1/staff", &manager).await;
    assert!(staff.as_array().unwrap().iter().all(|s| s["id"] != json!(far_id)));
    assert_eq!(app.get(&format!("/api/staff/v1/stores/{theirs}"), &owner).await.1["name"], "徐家汇店", "unchanged");
    assert_eq!(app.count("members").await, 12, "no member written");

    // A price is the same at every store: changing it is for staff who work for all of them.
    let (_, services) = app.get("/api/staff/v1/services", &owner).await;
    let service = services[0]["id"].as_i64().unwrap();
    let price = json!({ "price_fen": 1 });
    let refused = app.patch(&format!("/api/staff/v1/services/{service}"), &manager, price.clone()).await;
    assert_error(&refused, StatusCode::FORBIDDEN, "forbidden");
    assert!(refused.1["message"].as_str().unwrap().contains("every store"), "{}", refused.1);
    assert_eq!(app.get("/api/staff/v1/services", &owner).await.1[0]["price_fen"], services[0]["price_fen"]);
    let chain_manager = app.chain_manager().await;
    let changed = app.patch(&format!("/api/staff/v1/services/{service}"), &chain_manager, price).await;
    assert_eq!((changed.0, changed.1["price_fen"].clone()), (StatusCode::OK, json!(1)));

    // Within their store the manager works normally.
    let (status, member) =
        app.post("/api/staff/v1/members", &manager, json!({ "phone": "13911112222", "home_store_id": mine })).await;
    assert_eq!((status, member["home_store_id"].clone()), (StatusCode::CREATED, Value::from(mine)));
}

#[tokio::test]
async fn members_of_one_merchant_cannot_reach_another() {
    let app = TestApp::spawn().await;
    let (other_id, _) = app.other_merchant().await;
    let (token, member_id) = app.member_token("alice").await;
    // The same sandbox user at another merchant is another member.
    let (status, other_session) = app
        .call(
            reqwest::Method::POST,
            "/api/mini/v1/sessions/sandbox",
            None,
            Some(json!({ "merchant_id": other_id, "user": "alice" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(other_session["member_id"].as_i64().unwrap(), member_id);
    let (_, stores) = app.get("/api/mini/v1/stores", &token).await;
    assert_eq!(stores.as_array().unwrap().len(), 2, "the demo merchant's two stores only");
    let (_, other_stores) = app.get("/api/mini/v1/stores", other_session["token"].as_str().unwrap()).await;
    assert_eq!(other_stores, json!([]));
}

#[tokio::test]
async fn a_store_scoped_manager_reads_their_stores_audit_and_exports_only_their_stores_members() {
    let app = TestApp::spawn().await;
    let owner = app.token(Role::Owner).await;
    // The demo manager works at the first store only.
    let manager = app.token(Role::Manager).await;
    let [mine, theirs] = [app.seed.store_ids[0], app.seed.store_ids[1]];
    let body = json!({ "username": "far-cashier", "display_name": "远方", "role": "cashier", "password": "far-away-pass-1", "store_ids": [theirs] });
    assert_eq!(app.post("/api/staff/v1/staff", &owner, body).await.0, StatusCode::CREATED);
    let far = app.sign_in("far-cashier", "far-away-pass-1").await;
    let add = |phone: &'static str, store: i64| {
        let (app, token) = (&app, far.clone());
        async move {
            let (status, member) =
                app.post("/api/staff/v1/members", &token, json!({ "phone": phone, "home_store_id": store })).await;
            assert_eq!(status, StatusCode::CREATED, "{member}");
            member["id"].as_i64().unwrap()
        }
    };
    let far_member = add("13911113333", theirs).await;
    let (status, near_member) =
        app.post("/api/staff/v1/members", &manager, json!({ "phone": "13911114444", "home_store_id": mine })).await;
    assert_eq!(status, StatusCode::CREATED);
    let near_member = near_member["id"].as_i64().unwrap();

    // The audit log: the manager reads what their store's staff did, not the other store's nor the owner's.
    let targets = |log: &Value| -> Vec<i64> {
        log.as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "member.created")
            .map(|e| e["target_id"].as_i64().unwrap())
            .collect()
    };
    let everything = app.get("/api/staff/v1/audit-log?limit=200", &owner).await.1;
    assert!(targets(&everything).contains(&far_member) && targets(&everything).contains(&near_member));
    let theirs_only = app.get("/api/staff/v1/audit-log?limit=200", &manager).await.1;
    assert!(targets(&theirs_only).contains(&near_member), "{theirs_only}");
    assert!(!targets(&theirs_only).contains(&far_member), "the other store's entries are not theirs: {theirs_only}");
    assert!(theirs_only.as_array().unwrap().iter().all(|e| e["actor_kind"] == "staff"), "{theirs_only}");

    // A member's whole record: exported or erased by staff of their home store, or merchant-wide staff.
    let export = |member: i64| format!("/api/staff/v1/members/{member}/export");
    assert_eq!(app.get(&export(near_member), &manager).await.0, StatusCode::OK);
    assert_error(&app.get(&export(far_member), &manager).await, StatusCode::NOT_FOUND, "not_found");
    let erase = format!("/api/staff/v1/members/{far_member}/anonymise");
    assert_error(&app.post(&erase, &manager, json!({})).await, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(app.get(&export(far_member), &owner).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_members_bill_history_shows_the_bills_at_my_stores() {
    let app = TestApp::spawn().await;
    let owner = app.token(Role::Owner).await;
    let manager = app.token(Role::Manager).await;
    let member = demo_member_id(&app, &owner).await;
    let (_, services) = app.get("/api/staff/v1/services", &owner).await;
    let wash = services.as_array().unwrap().iter().find(|s| s["name"] == "洗剪吹").unwrap()["id"].clone();
    let mut bills = Vec::new();
    for (n, store) in app.seed.store_ids.iter().enumerate() {
        let body = json!({
            "store_id": store, "member_id": member, "idempotency_key": format!("history-bill-{n}"), "park": true,
            "lines": [{ "item_id": wash }],
        });
        let (status, bill) = app.post("/api/staff/v1/bills", &owner, body).await;
        assert!(status.is_success(), "{bill}");
        bills.push(bill["id"].as_i64().unwrap());
    }
    let ids =
        |list: &Value| -> Vec<i64> { list.as_array().unwrap().iter().map(|b| b["id"].as_i64().unwrap()).collect() };
    let path = format!("/api/staff/v1/members/{member}/bills");
    let (status, everything) = app.get(&path, &owner).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&everything), vec![bills[1], bills[0]], "newest first, every store");
    assert_eq!(everything[0]["lines"][0]["name"], "洗剪吹");
    assert_eq!(ids(&app.get(&path, &manager).await.1), vec![bills[0]], "the manager's store only");
    assert_eq!(ids(&app.get(&format!("{path}?limit=1"), &owner).await.1), vec![bills[1]]);
    let (_, other) = app.other_merchant().await;
    assert_error(&app.get(&path, &other).await, StatusCode::NOT_FOUND, "not_found");
    let (status, bookings) = app.get(&format!("/api/staff/v1/members/{member}/bookings"), &owner).await;
    assert_eq!((status, bookings), (StatusCode::OK, json!([])));
}
