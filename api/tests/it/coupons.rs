//! Coupons through the real server: templates, claims that hold stock and per-member limits under concurrency,
//! idempotent grants, and what members and staff see.

use std::collections::HashMap;

use reqwest::StatusCode;
use serde_json::{Value, json};

use service::domain::Role;

use crate::support::{STAFF, TestApp, assert_error, ok};

const MINI: &str = "/api/mini/v1";

async fn template(app: &TestApp, token: &str, body: Value) -> Value {
    let (status, created) = app.post(&format!("{STAFF}/coupon-templates"), token, body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created
}

#[tokio::test]
async fn five_hundred_claims_of_a_hundred_coupons_by_two_hundred_members_issue_exactly_a_hundred() {
    let app = TestApp::spawn().await;
    let marketing = app.token(Role::Marketing).await;
    let body = json!({ "name": "开业 20 元券", "kind": "amount", "value_fen": 2000, "valid_days": 30, "total_stock": 100, "per_member_limit": 1, "claimable": true });
    let coupon = template(&app, &marketing, body).await;
    let path = format!("{MINI}/coupon-center/{}/claims", coupon["id"]);
    let mut members = Vec::new();
    for i in 0..200 {
        members.push(app.member_token(&format!("claimer-{i}")).await);
    }
    let answers = futures_util::future::join_all((0..500).map(|i| {
        let (token, _) = &members[i % 200];
        app.post(&path, token, json!(null))
    }))
    .await;
    let issued = answers.iter().filter(|(status, _)| *status == StatusCode::CREATED).count();
    assert_eq!(issued, 100, "exactly the stock is issued");
    for (status, body) in answers.iter().filter(|(status, _)| *status != StatusCode::CREATED) {
        assert_eq!(*status, StatusCode::CONFLICT, "{body}");
        assert!(["coupon_sold_out", "coupon_limit_reached"].contains(&body["code"].as_str().unwrap()), "{body}");
    }
    assert_eq!(app.count("member_coupons").await, 100);
    let mut held: HashMap<i64, u32> = HashMap::new();
    for (token, member) in &members {
        let mine = ok(app.get(&format!("{MINI}/me/coupons"), token).await);
        *held.entry(*member).or_default() += u32::try_from(mine.as_array().unwrap().len()).unwrap();
    }
    assert!(held.values().all(|&n| n <= 1), "nobody holds two");
    assert_eq!(held.values().sum::<u32>(), 100);
    let templates = app.staff_ok(&marketing, "/coupon-templates").await;
    assert_eq!((templates[0]["remaining"].as_i64(), templates[0]["issued"].as_u64()), (Some(0), Some(100)));
}

#[tokio::test]
async fn templates_refuse_what_cannot_be_honoured_and_change_nothing() {
    let app = TestApp::spawn().await;
    let owner = app.token(Role::Owner).await;
    let path = format!("{STAFF}/coupon-templates");
    let bad = [
        json!({ "name": "折扣", "kind": "percent", "rate_bp": 0, "valid_days": 7 }),
        json!({ "name": "满减", "kind": "spend_off", "value_fen": 5000, "threshold_fen": 5000, "valid_days": 7 }),
        json!({ "name": "代金", "kind": "amount", "value_fen": 500, "valid_days": 7, "valid_from": "2030-01-01T00:00:00Z", "valid_until": "2030-02-01T00:00:00Z" }),
        json!({ "name": "代金", "kind": "amount", "value_fen": 500, "valid_from": "2030-02-01T00:00:00Z", "valid_until": "2030-01-01T00:00:00Z" }),
        json!({ "name": "代金", "kind": "amount", "value_fen": 500, "valid_days": 7, "scope": { "store_ids": [999_999] } }),
        json!({ "name": "体验", "kind": "free_item", "valid_days": 7 }),
        json!({ "name": "代金", "kind": "amount", "value_fen": 500, "valid_days": 7, "total_stock": 0 }),
        json!({ "name": "", "kind": "amount", "value_fen": 500, "valid_days": 7 }),
    ];
    for body in bad {
        assert_error(&app.post(&path, &owner, body.clone()).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    }
    assert_error(
        &app.post(
            &path,
            &owner,
            json!({ "name": "代金", "kind": "amount", "value_fen": 500, "valid_days": 7, "colour": "red" }),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    );
    // Cashiers do not make coupons; a manager of one store does not make the chain's.
    let cashier = app.token(Role::Cashier).await;
    let manager = app.token(Role::Manager).await;
    let fine = json!({ "name": "代金", "kind": "amount", "value_fen": 500, "valid_days": 7 });
    assert_error(&app.post(&path, &cashier, fine.clone()).await, StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(app.post(&path, &manager, fine).await.0, StatusCode::FORBIDDEN);
    assert_eq!(app.count("coupon_templates").await, 0);
}

#[tokio::test]
async fn grants_are_idempotent_all_or_nothing_and_issued_coupons_keep_their_terms() {
    let app = TestApp::spawn().await;
    let owner = app.token(Role::Owner).await;
    let cashier = app.token(Role::Cashier).await;
    let members: Vec<i64> = [
        app.new_member(&cashier, "13900001001").await,
        app.new_member(&cashier, "13900001002").await,
        app.new_member(&cashier, "13900001003").await,
    ]
    .to_vec();
    let body = json!({ "name": "老客回馈 85 折", "kind": "percent", "rate_bp": 8500, "cap_fen": 5000, "valid_days": 7, "total_stock": 4 });
    let coupon = template(&app, &owner, body).await;
    let grants = format!("{STAFF}/coupon-templates/{}/grants", coupon["id"]);
    let granted =
        ok(app.post(&grants, &owner, json!({ "member_ids": members, "idempotency_key": "grant-vip-0001" })).await);
    assert_eq!((granted["issued"].as_u64(), granted["already"].as_u64()), (Some(3), Some(0)));
    let again =
        ok(app.post(&grants, &owner, json!({ "member_ids": members, "idempotency_key": "grant-vip-0001" })).await);
    assert_eq!((again["issued"].as_u64(), again["already"].as_u64()), (Some(0), Some(3)));
    // One left: two more members under a new key is refused whole.
    assert_error(
        &app.post(
            &grants,
            &owner,
            json!({ "member_ids": [members[0], members[1]], "idempotency_key": "grant-vip-0002" }),
        )
        .await,
        StatusCode::CONFLICT,
        "coupon_sold_out",
    );
    assert_eq!(app.count("member_coupons").await, 3);
    // Someone not of this merchant: refused, nothing issued.
    let (_, other_owner) = app.other_merchant().await;
    let stranger = app.new_member(&other_owner, "13900001009").await;
    assert_error(
        &app.post(&grants, &owner, json!({ "member_ids": [stranger], "idempotency_key": "grant-vip-0003" })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    );

    // The template is renamed and ended; the coupons issued keep the name and terms they were issued with.
    let path = format!("{STAFF}/coupon-templates/{}", coupon["id"]);
    ok(app.patch(&path, &owner, json!({ "name": "改名了", "status": "ended" })).await);
    let held = app.staff_ok(&owner, &format!("/members/{}/coupons", members[0])).await;
    assert_eq!(held[0]["terms"]["name"], "老客回馈 85 折");
    assert_eq!((held[0]["terms"]["rate_bp"].as_i64(), held[0]["state"].as_str()), (Some(8500), Some("usable")));
    // Valid through the end of the 7th local day (Asia/Shanghai, UTC+8): 15:59:59.999 UTC of day 6 after today.
    let until = chrono::DateTime::parse_from_rfc3339(held[0]["valid_until"].as_str().unwrap()).unwrap();
    let shanghai = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai).date_naive();
    assert_eq!(until.with_timezone(&chrono_tz::Asia::Shanghai).date_naive(), shanghai + chrono::Duration::days(7));
    assert_error(
        &app.post(&grants, &owner, json!({ "member_ids": [members[0]], "idempotency_key": "grant-vip-0004" })).await,
        StatusCode::CONFLICT,
        "coupon_unavailable",
    );
}

#[tokio::test]
async fn the_coupon_center_offers_what_a_member_may_claim_within_its_window() {
    let app = TestApp::spawn().await;
    let owner = app.token(Role::Owner).await;
    let (token, _) = app.member_token("center").await;
    let open = template(&app, &owner, json!({ "name": "满 200 减 30", "kind": "spend_off", "value_fen": 3000, "threshold_fen": 20_000, "valid_days": 14, "per_member_limit": 2, "claimable": true })).await;
    template(&app, &owner, json!({ "name": "仅前台发放", "kind": "amount", "value_fen": 1000, "valid_days": 14 }))
        .await;
    let later = template(&app, &owner, json!({ "name": "下月开抢", "kind": "amount", "value_fen": 1000, "valid_days": 14, "claimable": true, "claim_from": "2099-01-01T00:00:00Z" })).await;

    let center = ok(app.get(&format!("{MINI}/coupon-center"), &token).await);
    let names: Vec<&str> = center.as_array().unwrap().iter().map(|o| o["terms"]["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["满 200 减 30"]);
    let claim = |id: &Value| format!("{MINI}/coupon-center/{id}/claims");
    assert_eq!(app.post(&claim(&open["id"]), &token, json!(null)).await.0, StatusCode::CREATED);
    assert_eq!(app.post(&claim(&open["id"]), &token, json!(null)).await.0, StatusCode::CREATED);
    assert_error(
        &app.post(&claim(&open["id"]), &token, json!(null)).await,
        StatusCode::CONFLICT,
        "coupon_limit_reached",
    );
    assert_error(
        &app.post(&claim(&later["id"]), &token, json!(null)).await,
        StatusCode::CONFLICT,
        "coupon_unavailable",
    );
    let center = ok(app.get(&format!("{MINI}/coupon-center"), &token).await);
    assert_eq!((center[0]["claimed"].as_u64(), center[0]["can_claim"].as_bool()), (Some(2), Some(false)));
    let mine = ok(app.get(&format!("{MINI}/me/coupons"), &token).await);
    assert_eq!(mine.as_array().unwrap().len(), 2);
    assert!(mine.as_array().unwrap().iter().all(|c| c["state"] == "usable" && c["source"] == "claim"));

    // Paused: not offered, not claimable; resumed: offered again.
    let path = format!("{STAFF}/coupon-templates/{}", open["id"]);
    ok(app.patch(&path, &owner, json!({ "status": "paused" })).await);
    assert!(ok(app.get(&format!("{MINI}/coupon-center"), &token).await).as_array().unwrap().is_empty());
}
