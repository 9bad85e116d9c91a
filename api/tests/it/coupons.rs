//! Coupons through the real server: templates, claims that hold stock and per-member limits under concurrency,
//! idempotent grants, and what members and staff see.

use std::collections::HashMap;

use chrono::Datelike;

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

/// A member holding a ￥20 coupon (no threshold) for the demo merchant, and the wash's id and price.
async fn member_with_coupon(app: &TestApp, phone: &str, body: Value) -> (i64, i64, (i64, i64)) {
    let owner = app.token(Role::Owner).await;
    let cashier = app.token(Role::Cashier).await;
    let member = app.new_member(&cashier, phone).await;
    let template = template(app, &owner, body).await;
    let grant = json!({ "member_ids": [member], "idempotency_key": format!("grant-{phone}") });
    ok(app.post(&format!("{STAFF}/coupon-templates/{}/grants", template["id"]), &owner, grant).await);
    let held = app.staff_ok(&cashier, &format!("/members/{member}/coupons")).await;
    let services = app.staff_ok(&cashier, "/services").await;
    let wash = services.as_array().unwrap().iter().find(|s| s["name"] == "洗剪吹").unwrap();
    (member, held[0]["id"].as_i64().unwrap(), (wash["id"].as_i64().unwrap(), wash["price_fen"].as_i64().unwrap()))
}

fn twenty_off() -> Value {
    json!({ "name": "到店 20 元券", "kind": "amount", "value_fen": 2000, "valid_days": 30 })
}

fn bill(app: &TestApp, member: i64, coupon: i64, wash: i64, pay: i64, key: &str) -> Value {
    json!({
        "store_id": app.seed.store_ids[0], "member_id": member, "coupon_ids": [coupon], "idempotency_key": key,
        "lines": [{ "item_id": wash }], "tenders": [{ "kind": "cash", "amount_fen": pay }],
    })
}

async fn coupon_state(app: &TestApp, member: i64) -> String {
    let cashier = app.token(Role::Cashier).await;
    let held = app.staff_ok(&cashier, &format!("/members/{member}/coupons")).await;
    held[0]["state"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_coupon_comes_off_one_bill_and_comes_back_when_it_is_reversed() {
    let app = TestApp::spawn().await;
    let cashier = app.token(Role::Cashier).await;
    let manager = app.token(Role::Manager).await;
    let (member, coupon, (wash, price)) = member_with_coupon(&app, "13900003001", twenty_off()).await;
    // The preview names the coupon's step.
    let draft = json!({ "store_id": app.seed.store_ids[0], "member_id": member, "coupon_ids": [coupon], "lines": [{ "item_id": wash }] });
    let quote = app.staff_posted(&cashier, "/bills/preview", draft).await;
    assert_eq!((quote["coupon_fen"].as_i64(), quote["total_fen"].as_i64()), (Some(2000), Some(price - 2000)));
    // Without one named, the preview suggests the coupon that takes the most.
    let plain = json!({ "store_id": app.seed.store_ids[0], "member_id": member, "lines": [{ "item_id": wash }] });
    let quote = app.staff_posted(&cashier, "/bills/preview", plain).await;
    assert_eq!((quote["best_coupon_id"].as_i64(), quote["best_coupon_fen"].as_i64()), (Some(coupon), Some(2000)));
    assert_eq!(quote["coupon_fen"], 0);

    let settled =
        app.staff_posted(&cashier, "/bills", bill(&app, member, coupon, wash, price - 2000, "coupon-bill-1")).await;
    assert_eq!(
        (settled["coupons"][0]["coupon_id"].as_i64(), settled["coupon_fen"].as_i64()),
        (Some(coupon), Some(2000))
    );
    assert_eq!(
        (settled["coupons"][0]["off_fen"].as_i64(), settled["coupons"][0]["name"].as_str()),
        (Some(2000), Some("到店 20 元券"))
    );
    assert_eq!(settled["lines"][0]["coupon_fen"], 2000);
    assert_eq!(coupon_state(&app, member).await, "used");
    // Used once: a second bill naming it is refused and writes nothing.
    let bills_before = app.count("bills").await;
    assert_error(
        &app.post(&format!("{STAFF}/bills"), &cashier, bill(&app, member, coupon, wash, price - 2000, "coupon-bill-2"))
            .await,
        StatusCode::CONFLICT,
        "coupon_unusable",
    );
    assert_eq!(app.count("bills").await, bills_before);

    // The template's report: one issued and used, the bill it paid for, what it cost.
    let owner = app.token(Role::Owner).await;
    let held = app.staff_ok(&cashier, &format!("/members/{member}/coupons")).await;
    let report = app.staff_ok(&owner, &format!("/coupon-templates/{}/report", held[0]["template_id"])).await;
    assert_eq!(
        (report["issued"].as_u64(), report["used"].as_u64(), report["bills"].as_u64()),
        (Some(1), Some(1), Some(1))
    );
    assert_eq!((report["discount_fen"].as_i64(), report["revenue_fen"].as_i64()), (Some(2000), Some(price - 2000)));
    let reverse = json!({ "reason": "顾客取消", "idempotency_key": "coupon-reverse-1" });
    app.staff_posted(&manager, &format!("/bills/{}/reverse", settled["id"]), reverse).await;
    assert_eq!(coupon_state(&app, member).await, "usable", "a reversed bill gives its coupon back");
    app.assert_ledger_balanced().await;
}

#[tokio::test]
async fn one_coupon_in_fifty_concurrent_settlements_pays_for_exactly_one() {
    let app = TestApp::spawn().await;
    let cashier = app.token(Role::Cashier).await;
    let (member, coupon, (wash, price)) = member_with_coupon(&app, "13900003002", twenty_off()).await;
    let bodies: Vec<Value> =
        (0..50).map(|i| bill(&app, member, coupon, wash, price - 2000, &format!("race-coupon-{i:04}"))).collect();
    let path = format!("{STAFF}/bills");
    let answers = futures_util::future::join_all(bodies.into_iter().map(|body| app.post(&path, &cashier, body))).await;
    let settled = answers.iter().filter(|(status, _)| *status == StatusCode::CREATED).count();
    assert_eq!(settled, 1, "the coupon pays for one bill");
    for (status, body) in answers.iter().filter(|(status, _)| *status != StatusCode::CREATED) {
        assert_eq!((*status, body["code"].as_str()), (StatusCode::CONFLICT, Some("coupon_unusable")), "{body}");
    }
    assert_eq!(app.count("bills").await, 1);
    app.assert_ledger_balanced().await;
}

#[tokio::test]
async fn a_parked_bill_holds_its_coupon_until_voided_and_a_full_refund_gives_it_back() {
    let app = TestApp::spawn().await;
    let cashier = app.token(Role::Cashier).await;
    let manager = app.token(Role::Manager).await;
    let (member, coupon, (wash, price)) = member_with_coupon(&app, "13900003003", twenty_off()).await;
    let park = |key: &str| json!({ "store_id": app.seed.store_ids[0], "member_id": member, "coupon_ids": [coupon], "park": true, "idempotency_key": key, "lines": [{ "item_id": wash }] });
    let parked = app.staff_posted(&cashier, "/bills", park("coupon-park-1")).await;
    assert_eq!(coupon_state(&app, member).await, "reserved");
    // Held: another bill cannot use it meanwhile.
    assert_error(
        &app.post(&format!("{STAFF}/bills"), &cashier, bill(&app, member, coupon, wash, price - 2000, "coupon-bill-3"))
            .await,
        StatusCode::CONFLICT,
        "coupon_unusable",
    );
    let void = json!({ "reason": "顾客改天再来" });
    app.staff_posted(&cashier, &format!("/bills/{}/void", parked["id"]), void).await;
    assert_eq!(coupon_state(&app, member).await, "usable", "a voided bill lets its coupon go");

    let parked = app.staff_posted(&cashier, "/bills", park("coupon-park-2")).await;
    let pay = json!({ "tenders": [{ "kind": "cash", "amount_fen": price - 2000 }] });
    let settled = app.staff_posted(&cashier, &format!("/bills/{}/settle", parked["id"]), pay).await;
    assert_eq!((settled["status"].as_str(), settled["coupon_fen"].as_i64()), (Some("settled"), Some(2000)));
    assert_eq!(coupon_state(&app, member).await, "used");
    let refund = json!({ "lines": [{ "line_id": settled["lines"][0]["id"], "quantity": 1 }], "reason": "不满意", "idempotency_key": "coupon-refund-1" });
    let refunded = app.staff_posted(&manager, &format!("/bills/{}/refunds", settled["id"]), refund).await;
    assert_eq!(refunded["amount_fen"], price - 2000, "what was paid comes back, not the coupon's part");
    assert_eq!(coupon_state(&app, member).await, "usable", "a bill refunded in full gives its coupon back");
    app.assert_ledger_balanced().await;
}

#[tokio::test]
async fn coupons_a_bill_cannot_use_are_refused_with_a_clear_code() {
    let app = TestApp::spawn().await;
    let cashier = app.token(Role::Cashier).await;
    let (member, coupon, (wash, price)) = member_with_coupon(
        &app,
        "13900003004",
        json!({ "name": "满 500 减 50", "kind": "spend_off", "value_fen": 5000, "threshold_fen": 50_000, "valid_days": 30 }),
    )
    .await;
    let other = app.new_member(&cashier, "13900003005").await;
    let preview = |member: i64, coupon: i64| json!({ "store_id": app.seed.store_ids[0], "member_id": member, "coupon_ids": [coupon], "lines": [{ "item_id": wash }] });
    let path = format!("{STAFF}/bills/preview");
    // Not suggested for a bill it cannot take from.
    let plain = json!({ "store_id": app.seed.store_ids[0], "member_id": member, "lines": [{ "item_id": wash }] });
    assert!(app.staff_posted(&cashier, "/bills/preview", plain).await["best_coupon_id"].is_null());
    // Below its threshold.
    assert_error(
        &app.post(&path, &cashier, preview(member, coupon)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    );
    // Another member's coupon, and no member at all.
    assert_error(
        &app.post(&path, &cashier, preview(other, coupon)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    );
    let anonymous =
        json!({ "store_id": app.seed.store_ids[0], "coupon_ids": [coupon], "lines": [{ "item_id": wash }] });
    assert_error(&app.post(&path, &cashier, anonymous).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    // Settling anyway writes nothing.
    assert_error(
        &app.post(&format!("{STAFF}/bills"), &cashier, bill(&app, member, coupon, wash, price, "coupon-bill-9")).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    );
    assert_eq!(app.count("bills").await, 0);
    assert_eq!(coupon_state(&app, member).await, "usable");
}

#[tokio::test]
async fn every_new_member_receives_the_welcome_coupon_once() {
    let app = TestApp::spawn().await;
    let owner = app.token(Role::Owner).await;
    let cashier = app.token(Role::Cashier).await;
    let welcome =
        json!({ "name": "新人礼 10 元", "kind": "amount", "value_fen": 1000, "valid_days": 14, "on_join": true });
    let welcome = template(&app, &owner, welcome).await;
    assert_eq!(welcome["on_join"], true);
    template(&app, &owner, json!({ "name": "普通券", "kind": "amount", "value_fen": 500, "valid_days": 14 })).await;

    // At the desk, and on a first sign-in in the app; signing in again gives nothing more.
    let at_desk = app.new_member(&cashier, "13900004001").await;
    let held = app.staff_ok(&cashier, &format!("/members/{at_desk}/coupons")).await;
    let names: Vec<(&str, &str)> = held
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["terms"]["name"].as_str().unwrap(), c["source"].as_str().unwrap()))
        .collect();
    assert_eq!(names, [("新人礼 10 元", "join")]);
    let (token, _) = app.member_token("newcomer").await;
    app.member_token("newcomer").await;
    let mine = ok(app.get(&format!("{MINI}/me/coupons"), &token).await);
    assert_eq!(mine.as_array().unwrap().len(), 1);
    assert_eq!(mine[0]["source"], "join");
    let export = ok(app.get(&format!("{MINI}/me/export"), &token).await);
    assert_eq!(export["coupons"][0]["name"], "新人礼 10 元", "a member's copy of their data lists their coupons");
    // Ended: the next member joins without it.
    ok(app.patch(&format!("{STAFF}/coupon-templates/{}", welcome["id"]), &owner, json!({ "status": "ended" })).await);
    let later = app.new_member(&cashier, "13900004002").await;
    assert!(app.staff_ok(&cashier, &format!("/members/{later}/coupons")).await.as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_birthday_coupon_comes_before_the_birthday_once_a_year_through_the_birthday_month() {
    let app = TestApp::spawn().await;
    let owner = app.token(Role::Owner).await;
    let manager = app.token(Role::Manager).await;
    let body = json!({ "name": "生日礼 50 元", "kind": "amount", "value_fen": 5000, "valid_days": 30, "birthday_days_before": 7 });
    template(&app, &owner, body).await;
    let today = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai).date_naive();
    let soon = app.new_member(&manager, "13900005001").await;
    let later = app.new_member(&manager, "13900005002").await;
    let birthday = |days: i64| (today + chrono::Duration::days(days)).with_year(1990).unwrap_or(today).to_string();
    ok(app.patch(&format!("{STAFF}/members/{soon}"), &manager, json!({ "birthday": birthday(3) })).await);
    ok(app.patch(&format!("{STAFF}/members/{later}"), &manager, json!({ "birthday": birthday(20) })).await);

    let now = chrono::Utc::now();
    let first = service::coupons::issue::birthdays_in_zone(&app.ctx, "Asia/Shanghai", now).await.unwrap();
    let again = service::coupons::issue::birthdays_in_zone(&app.ctx, "Asia/Shanghai", now).await.unwrap();
    assert_eq!((first.issued, again.issued), (1, 0), "once a year, however often the job runs");
    let held = app.staff_ok(&manager, &format!("/members/{soon}/coupons")).await;
    assert_eq!(
        (held[0]["source"].as_str(), held[0]["terms"]["name"].as_str()),
        (Some("birthday"), Some("生日礼 50 元"))
    );
    // Valid through the end of the birthday month, in the store's zone.
    let until = chrono::DateTime::parse_from_rfc3339(held[0]["valid_until"].as_str().unwrap()).unwrap();
    let month_of = (today + chrono::Duration::days(3)).month();
    assert_eq!(until.with_timezone(&chrono_tz::Asia::Shanghai).month(), month_of);
    assert_ne!((until + chrono::Duration::seconds(1)).with_timezone(&chrono_tz::Asia::Shanghai).month(), month_of);
    assert!(app.staff_ok(&manager, &format!("/members/{later}/coupons")).await.as_array().unwrap().is_empty());
}
