//! The other ways coupons reach members, through the real server: points exchanged for a coupon (racing a spend of
//! the same points), redemption codes, gifts with a purchase, grants to everyone a member filter selects, and a
//! budget that stops issuing.

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

/// The demo wash: its id and price.
async fn wash(app: &TestApp, token: &str) -> (i64, i64) {
    let services = app.staff_ok(token, "/services").await;
    let wash = services.as_array().unwrap().iter().find(|s| s["name"] == "洗剪吹").unwrap();
    (wash["id"].as_i64().unwrap(), wash["price_fen"].as_i64().unwrap())
}

async fn give_points(app: &TestApp, owner: &str, member: i64, points: i64, key: &str) {
    let body =
        json!({ "store_id": app.seed.store_ids[0], "points": points, "reason": "开业赠送", "idempotency_key": key });
    ok(app.post(&format!("{STAFF}/members/{member}/points/adjustments"), owner, body).await);
}

async fn points_of(app: &TestApp, token: &str) -> i64 {
    ok(app.get(&format!("{MINI}/me/points"), token).await)["available"].as_i64().unwrap()
}

#[tokio::test]
async fn points_buy_a_coupon_in_one_transaction_and_a_spend_racing_them_never_overdraws() {
    let app = TestApp::spawn().await;
    let owner = app.token(Role::Owner).await;
    let cashier = app.token(Role::Cashier).await;
    // A points price needs the coupon center.
    let hidden =
        json!({ "name": "积分换券", "kind": "amount", "value_fen": 1000, "valid_days": 30, "points_price": 300 });
    assert_error(
        &app.post(&format!("{STAFF}/coupon-templates"), &owner, hidden).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    );
    let body = json!({ "name": "300 积分换 10 元", "kind": "amount", "value_fen": 1000, "valid_days": 30, "claimable": true, "points_price": 300, "per_member_limit": 5, "total_stock": 50 });
    let coupon = template(&app, &owner, body).await;
    let claim = format!("{MINI}/coupon-center/{}/claims", coupon["id"]);
    let center = ok(app.get(&format!("{MINI}/coupon-center"), &app.member_token("window-shopper").await.0).await);
    assert_eq!(center[0]["points_price"], 300);

    // Without the points: refused, nothing taken.
    let (poor, _) = app.member_token("poor").await;
    assert_error(&app.post(&claim, &poor, json!(null)).await, StatusCode::CONFLICT, "insufficient_balance");
    assert_eq!(app.count("member_coupons").await, 0);

    // Each member holds 300 points and, at once, exchanges them and spends them on a bill: one of the two wins.
    let (wash, _) = wash(&app, &cashier).await;
    let mut exchanged = 0;
    for i in 0..6 {
        let (token, member) = app.member_token(&format!("racer-{i}")).await;
        give_points(&app, &owner, member, 300, &format!("race-points-{i}")).await;
        let draft = json!({ "store_id": app.seed.store_ids[0], "member_id": member, "points": 300, "lines": [{ "item_id": wash }] });
        let quote = app.staff_posted(&cashier, "/bills/preview", draft.clone()).await;
        let mut bill = draft;
        bill["idempotency_key"] = json!(format!("race-bill-{i}"));
        bill["tenders"] = json!([{ "kind": "cash", "amount_fen": quote["total_fen"] }]);
        let bills = format!("{STAFF}/bills");
        let (swap, spend) = tokio::join!(app.post(&claim, &token, json!(null)), app.post(&bills, &cashier, bill));
        let won = [swap.0 == StatusCode::CREATED, spend.0 == StatusCode::CREATED];
        assert_eq!(won.iter().filter(|w| **w).count(), 1, "one of them takes the points: {swap:?} {spend:?}");
        if won[0] {
            // The bill checks the points when it is priced (422) and again when it spends them (409).
            let codes =
                [(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input"), (StatusCode::CONFLICT, "insufficient_balance")];
            assert!(codes.iter().any(|(status, code)| spend.0 == *status && spend.1["code"] == *code), "{spend:?}");
        } else {
            assert_error(&swap, StatusCode::CONFLICT, "insufficient_balance");
        }
        // What is left: nothing after the exchange; after the bill, only what the bill earned.
        let earned = if won[0] { 0 } else { spend.1["points_earned"].as_i64().unwrap() };
        assert_eq!(points_of(&app, &token).await, earned, "the 300 points were spent once");
        let mine = ok(app.get(&format!("{MINI}/me/coupons"), &token).await);
        assert_eq!(mine.as_array().unwrap().len(), usize::from(won[0]), "a coupon exactly when its points were paid");
        if won[0] {
            assert_eq!(mine[0]["source"], "points");
            exchanged += 1;
        }
    }
    let templates = app.staff_ok(&owner, "/coupon-templates").await;
    assert_eq!(templates[0]["remaining"].as_i64(), Some(50 - exchanged));
    app.assert_ledger_balanced().await;
}

#[tokio::test]
async fn redemption_codes_are_random_single_use_and_a_batch_is_made_once() {
    let app = TestApp::spawn().await;
    let marketing = app.token(Role::Marketing).await;
    let body =
        json!({ "name": "合作商户兑换券", "kind": "amount", "value_fen": 1500, "valid_days": 30, "total_stock": 5 });
    let coupon = template(&app, &marketing, body).await;
    let codes_path = format!("{STAFF}/coupon-templates/{}/codes", coupon["id"]);
    let made = ok(app.post(&codes_path, &marketing, json!({ "count": 3, "idempotency_key": "codes-batch-1" })).await);
    let codes: Vec<String> = made.as_array().unwrap().iter().map(|c| c["code"].as_str().unwrap().to_owned()).collect();
    assert_eq!(codes.len(), 3);
    assert!(codes.iter().all(|c| c.len() == 14 && c.chars().filter(|ch| *ch == '-').count() == 2), "{codes:?}");
    assert!(codes[0] != codes[1] && codes[1] != codes[2]);
    // The same request again: the same codes, no more stock taken.
    let again = ok(app.post(&codes_path, &marketing, json!({ "count": 3, "idempotency_key": "codes-batch-1" })).await);
    assert_eq!(again, made);
    let templates = app.staff_ok(&marketing, "/coupon-templates").await;
    assert_eq!(templates[0]["remaining"], 2);
    assert_error(
        &app.post(&codes_path, &marketing, json!({ "count": 3, "idempotency_key": "codes-batch-2" })).await,
        StatusCode::CONFLICT,
        "coupon_sold_out",
    );
    // The desk does not see the codes.
    let cashier = app.token(Role::Cashier).await;
    assert_error(&app.get(&codes_path, &cashier).await, StatusCode::FORBIDDEN, "forbidden");

    // Two members race for one code: one coupon between them.
    let (ann, ann_id) = app.member_token("code-ann").await;
    let (bo, _) = app.member_token("code-bo").await;
    let redeem = format!("{MINI}/me/coupon-codes");
    let (a, b) = tokio::join!(
        app.post(&redeem, &ann, json!({ "code": codes[0] })),
        app.post(&redeem, &bo, json!({ "code": codes[0] }))
    );
    let won: Vec<&(StatusCode, Value)> = [&a, &b].into_iter().filter(|r| r.0 == StatusCode::CREATED).collect();
    assert_eq!(won.len(), 1, "{a:?} {b:?}");
    let lost = if a.0 == StatusCode::CREATED { &b } else { &a };
    assert_error(lost, StatusCode::CONFLICT, "coupon_code_used");
    assert_eq!(won[0].1["source"], "code");
    assert_eq!(app.count("member_coupons").await, 1);
    // Typed as people type: lower case, spaces for dashes.
    let typed = codes[1].to_lowercase().replace('-', " ");
    let (status, coupon_of_ann) = app.post(&redeem, &ann, json!({ "code": typed })).await;
    assert_eq!(status, StatusCode::CREATED, "{coupon_of_ann}");
    let listed = app.staff_ok(&marketing, &format!("/coupon-templates/{}/codes", coupon["id"])).await;
    let redeemed = listed.as_array().unwrap().iter().filter(|c| c["member_id"].is_i64()).count();
    assert_eq!(redeemed, 2);
    assert!(listed.as_array().unwrap().iter().any(|c| c["code"] == codes[1] && c["member_id"] == ann_id));

    // Guessing: a wrong code is not found, and after ten wrong ones the member waits.
    let (guesser, _) = app.member_token("code-guesser").await;
    for i in 0..10 {
        let answer = app.post(&redeem, &guesser, json!({ "code": format!("ABCD-EFGH-JK{:02}", 22 + i) })).await;
        assert_error(&answer, StatusCode::NOT_FOUND, "not_found");
    }
    assert_error(
        &app.post(&redeem, &guesser, json!({ "code": codes[2] })).await,
        StatusCode::TOO_MANY_REQUESTS,
        "too_many_requests",
    );
    assert_eq!(app.count("member_coupons").await, 2, "the guesser got nothing, even with a good code once stopped");
}

#[tokio::test]
async fn a_purchase_above_the_minimum_gives_its_coupon_once_per_bill() {
    let app = TestApp::spawn().await;
    let owner = app.token(Role::Owner).await;
    let cashier = app.token(Role::Cashier).await;
    let (wash, price) = wash(&app, &cashier).await;
    let gift = json!({ "name": "满额赠 20 元", "kind": "amount", "value_fen": 2000, "valid_days": 30, "purchase_min_fen": price, "total_stock": 10 });
    let gift = template(&app, &owner, gift).await["id"].as_i64().unwrap();
    let too_high = json!({ "name": "满额赠 50 元", "kind": "amount", "value_fen": 5000, "valid_days": 30, "purchase_min_fen": price + 1 });
    template(&app, &owner, too_high).await;
    let both = json!({ "name": "两样都要", "kind": "amount", "value_fen": 100, "valid_days": 30, "purchase_min_fen": 100, "on_join": true });
    assert_error(
        &app.post(&format!("{STAFF}/coupon-templates"), &owner, both).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    );
    let member = app.new_member(&cashier, "13900005001").await;
    let bill = json!({
        "store_id": app.seed.store_ids[0], "member_id": member, "idempotency_key": "gift-bill-1",
        "lines": [{ "item_id": wash }], "tenders": [{ "kind": "cash", "amount_fen": price }],
    });
    let settled = app.staff_posted(&cashier, "/bills", bill.clone()).await;
    // The same request retried: the same bill, no second gift.
    let retried = app.staff_posted(&cashier, "/bills", bill).await;
    assert_eq!(retried["id"], settled["id"]);
    let held = app.staff_ok(&cashier, &format!("/members/{member}/coupons")).await;
    assert_eq!(held.as_array().unwrap().len(), 1, "{held}");
    assert_eq!((held[0]["source"].as_str(), held[0]["terms"]["value_fen"].as_i64()), (Some("purchase"), Some(2000)));
    // A walk-in pays the same and no coupon is given to anyone.
    let walk_in = json!({
        "store_id": app.seed.store_ids[0], "idempotency_key": "gift-bill-2",
        "lines": [{ "item_id": wash }], "tenders": [{ "kind": "cash", "amount_fen": price }],
    });
    app.staff_posted(&cashier, "/bills", walk_in).await;
    assert_eq!(app.count("member_coupons").await, 1);
    let left = |n: i64| format!("coupon_templates WHERE id = {gift} AND remaining = {n}");
    assert_eq!(app.count(&left(9)).await, 1);

    // The purchase reversed (反结账): its gift, unused, is taken back and its stock returns.
    let reverse = |bill: &Value, key: &str| {
        let path = format!("{STAFF}/bills/{}/reverse", bill["id"]);
        let body = json!({ "reason": "开错单", "idempotency_key": key });
        let (app, owner) = (&app, owner.clone());
        async move { app.post(&path, &owner, body).await }
    };
    ok(reverse(&settled, "gift-reverse-1").await);
    let held = app.staff_ok(&cashier, &format!("/members/{member}/coupons")).await;
    assert_eq!(held[0]["state"], "withdrawn", "{held}");
    assert_eq!(app.count(&left(10)).await, 1, "its stock is back");
    // A gift used already stays with the member when its purchase is reversed: they have had it.
    let again = json!({
        "store_id": app.seed.store_ids[0], "member_id": member, "idempotency_key": "gift-bill-3",
        "lines": [{ "item_id": wash }], "tenders": [{ "kind": "cash", "amount_fen": price }],
    });
    let again = app.staff_posted(&cashier, "/bills", again).await;
    let held = app.staff_ok(&cashier, &format!("/members/{member}/coupons")).await;
    let fresh = held.as_array().unwrap().iter().find(|c| c["state"] == "usable").expect("a new gift")["id"].clone();
    let spend = json!({
        "store_id": app.seed.store_ids[0], "member_id": member, "idempotency_key": "gift-bill-4", "coupon_ids": [fresh],
        "lines": [{ "item_id": wash }], "tenders": [{ "kind": "cash", "amount_fen": price - 2000 }],
    });
    app.staff_posted(&cashier, "/bills", spend).await;
    ok(reverse(&again, "gift-reverse-2").await);
    let held = app.staff_ok(&cashier, &format!("/members/{member}/coupons")).await;
    let used = held.as_array().unwrap().iter().find(|c| c["id"] == fresh).unwrap();
    assert_eq!(used["state"], "used", "{held}");
    let log = app.staff_ok(&owner, "/audit-log?limit=5").await;
    let reversal = log.as_array().unwrap().iter().find(|e| e["action"] == "bill.reversed").unwrap();
    assert_eq!(
        (reversal["detail"]["gifts_withdrawn"].as_i64(), reversal["detail"]["gifts_kept"].as_i64()),
        (Some(0), Some(1))
    );

    // A gift a parked bill holds is taken back as well: that bill can no longer use it.
    let third = json!({
        "store_id": app.seed.store_ids[0], "member_id": member, "idempotency_key": "gift-bill-5",
        "lines": [{ "item_id": wash }], "tenders": [{ "kind": "cash", "amount_fen": price }],
    });
    let third = app.staff_posted(&cashier, "/bills", third).await;
    let held = app.staff_ok(&cashier, &format!("/members/{member}/coupons")).await;
    let gift3 = held.as_array().unwrap().iter().find(|c| c["state"] == "usable").expect("a third gift")["id"].clone();
    let park = json!({
        "store_id": app.seed.store_ids[0], "member_id": member, "idempotency_key": "gift-park-1", "park": true,
        "coupon_ids": [gift3], "lines": [{ "item_id": wash }],
    });
    let parked = app.staff_posted(&cashier, "/bills", park).await;
    ok(reverse(&third, "gift-reverse-3").await);
    let held = app.staff_ok(&cashier, &format!("/members/{member}/coupons")).await;
    let gift3 = held.as_array().unwrap().iter().find(|c| c["id"] == gift3).unwrap().clone();
    assert_eq!(gift3["state"], "withdrawn", "{gift3}");
    let settle = json!({ "tenders": [{ "kind": "cash", "amount_fen": price - 2000 }] });
    let refused = app.post(&format!("{STAFF}/bills/{}/settle", parked["id"]), &cashier, settle).await;
    assert_error(&refused, StatusCode::CONFLICT, "coupon_unusable");
    app.assert_ledger_balanced().await;
}

#[tokio::test]
async fn a_grant_by_filter_reaches_everyone_it_selects_once_and_a_budget_stops_issuing() {
    let app = TestApp::spawn().await;
    let owner = app.token(Role::Owner).await;
    let cashier = app.token(Role::Cashier).await;
    for i in 0..3 {
        app.new_member(&cashier, &format!("1390000600{i}")).await;
    }
    let everyone = app.count("members").await;
    let body = json!({ "name": "全员 5 元", "kind": "amount", "value_fen": 500, "valid_days": 7 });
    let coupon = template(&app, &owner, body).await;
    let grants = format!("{STAFF}/coupon-templates/{}/grants", coupon["id"]);
    let drop = json!({ "filter": {}, "idempotency_key": "drop-everyone-1" });
    let granted = ok(app.post(&grants, &owner, drop.clone()).await);
    assert_eq!(granted["issued"].as_i64(), Some(everyone));
    let again = ok(app.post(&grants, &owner, drop).await);
    assert_eq!((again["issued"].as_i64(), again["already"].as_i64()), (Some(0), Some(everyone)));
    assert_eq!(app.count("member_coupons").await, everyone);
    // A filter that selects one member, by phone.
    let one = json!({ "filter": { "phone": "13900006001" }, "idempotency_key": "drop-one-1" });
    assert_eq!(ok(app.post(&grants, &owner, one).await)["issued"], 1);
    // Both kinds of whom at once, or a bad filter: refused, nothing issued.
    let both = json!({ "member_ids": [1], "filter": {}, "idempotency_key": "drop-both-1" });
    assert_error(&app.post(&grants, &owner, both).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    let bad = json!({ "filter": { "birthday_month": 13 }, "idempotency_key": "drop-bad-1" });
    assert_error(&app.post(&grants, &owner, bad).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    assert_eq!(app.count("member_coupons").await, everyone + 1);

    // A ￥25 budget on ￥10 coupons: two can be issued, a third would overspend it.
    let budgeted =
        json!({ "name": "预算券", "kind": "amount", "value_fen": 1000, "valid_days": 7, "budget_fen": 2500 });
    let budgeted = template(&app, &owner, budgeted).await;
    let grants = format!("{STAFF}/coupon-templates/{}/grants", budgeted["id"]);
    assert_error(
        &app.post(&grants, &owner, json!({ "filter": {}, "idempotency_key": "drop-budget-1" })).await,
        StatusCode::CONFLICT,
        "coupon_sold_out",
    );
    assert_eq!(app.count("member_coupons").await, everyone + 1, "all or nothing");
    let members = app.staff_ok(&owner, "/members?limit=3").await;
    let ids: Vec<i64> = members["items"].as_array().unwrap().iter().map(|m| m["id"].as_i64().unwrap()).collect();
    ok(app.post(&grants, &owner, json!({ "member_ids": &ids[..2], "idempotency_key": "drop-budget-2" })).await);
    assert_error(
        &app.post(&grants, &owner, json!({ "member_ids": &ids[2..], "idempotency_key": "drop-budget-3" })).await,
        StatusCode::CONFLICT,
        "coupon_sold_out",
    );
    let templates = app.staff_ok(&owner, "/coupon-templates").await;
    assert_eq!(
        (templates[0]["budget_fen"].as_i64(), templates[0]["budget_left_fen"].as_i64()),
        (Some(2500), Some(500))
    );
    // A budget needs a largest discount to count: a percentage without a cap has none.
    let uncapped =
        json!({ "name": "无上限折扣", "kind": "percent", "rate_bp": 9000, "valid_days": 7, "budget_fen": 10000 });
    assert_error(
        &app.post(&format!("{STAFF}/coupon-templates"), &owner, uncapped).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    );
}
