//! Checkout end to end through the staff API: a bill of every kind of line priced with a level discount and
//! points, settled with mixed tenders, refunded by line and reversed until every balance is back where it
//! started; count cards sold, used, transferred and refunded; parking, voiding and settling parked bills; member
//! confirmation; bad input that writes nothing; concurrent refunds; commission statements.

use std::collections::BTreeMap;

use reqwest::StatusCode;
use serde_json::{Value, json};
use service::domain::Role;

use crate::support::{STAFF, TestApp, assert_error};

/// Everything a test bill needs, made through the API.
struct Shop {
    store: i64,
    owner: String,
    cashier: String,
    cut: i64,
    colour: i64,
    wash: i64,
    oil: i64,
    card_product: i64,
    gold: i64,
    stylist: i64,
    assistant: i64,
}

async fn shop(app: &TestApp) -> Shop {
    let owner = app.token(Role::Owner).await;
    let cashier = app.token(Role::Cashier).await;
    let store = app.seed.store_ids[0];
    let service = |category: &str, name: &str, price: i64, substances: Value| json!({ "category": category, "name": name, "duration_min": 30, "price_fen": price, "substances": substances });
    let cut =
        app.staff_posted(&owner, "/services", service("剪发", "精剪", 8800, json!([]))).await["id"].as_i64().unwrap();
    let colour = app.staff_posted(&owner, "/services", service("染发", "植物染", 19900, json!(["PPD"]))).await["id"]
        .as_i64()
        .unwrap();
    let wash =
        app.staff_posted(&owner, "/services", service("洗护", "洗吹", 3000, json!([]))).await["id"].as_i64().unwrap();
    let product = json!({ "sku": "OIL-001", "barcode": "6901234567892", "name": "护发精油", "category": "零售", "price_fen": 6800 });
    let oil = app.staff_posted(&owner, "/products", product).await["id"].as_i64().unwrap();
    app.staff_posted(
        &owner,
        &format!("/stores/{store}/stock/receipts"),
        json!({ "product_id": oil, "quantity": 10, "memo": "进货" }),
    )
    .await;
    let card = json!({ "name": "洗吹3次卡", "price_fen": 1000, "sessions": 3, "validity_days": 365, "service_item_ids": [wash] });
    let card_product = app.staff_posted(&owner, "/card-products", card).await["id"].as_i64().unwrap();
    let level = json!({
        "name": "金卡测试", "rank": 50, "threshold_fen": 10_000_000, "discount_bp": 9000,
        "category_discounts": { "零售": 9500 }, "points_multiplier_pct": 200,
    });
    let gold = app.staff_posted(&owner, "/member-levels", level).await["id"].as_i64().unwrap();
    let staff = |name: &str, role: &str| json!({ "username": name, "display_name": name, "role": role, "password": "stylist-password-1", "all_stores": true });
    let stylist = app.staff_posted(&owner, "/staff", staff("stylist-a", "technician")).await["id"].as_i64().unwrap();
    let assistant = app.staff_posted(&owner, "/staff", staff("stylist-b", "technician")).await["id"].as_i64().unwrap();
    let rule = json!({ "line_kind": "service", "mode": "percent", "tiers": [{ "from_fen": 0, "value": 1000 }] });
    app.staff_posted(&owner, "/commission-rules", rule).await;
    let card_rule = json!({ "line_kind": "card_sale", "mode": "fixed", "tiers": [{ "from_fen": 0, "value": 50 }] });
    app.staff_posted(&owner, "/commission-rules", card_rule).await;
    Shop { store, owner, cashier, cut, colour, wash, oil, card_product, gold, stylist, assistant }
}

async fn member(app: &TestApp, shop: &Shop, phone: &str) -> i64 {
    app.staff_posted(&shop.cashier, "/members", json!({ "phone": phone })).await["id"].as_i64().unwrap()
}

async fn set_level(app: &TestApp, shop: &Shop, member: i64, level: i64) {
    let (status, body) = app
        .put(&format!("{STAFF}/members/{member}/level"), &shop.owner, json!({ "level_id": level, "reason": "测试" }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn recharge(app: &TestApp, shop: &Shop, member: i64, fen: i64, key: &str) {
    let body = json!({ "store_id": shop.store, "amount_fen": fen, "tender": "cash", "idempotency_key": key });
    app.staff_posted(&shop.cashier, &format!("/members/{member}/stored-value/recharges"), body).await;
}

async fn give_points(app: &TestApp, shop: &Shop, member: i64, points: i64, key: &str) {
    let body = json!({ "store_id": shop.store, "points": points, "reason": "开业赠送", "idempotency_key": key });
    let (status, answer) = app.post(&format!("{STAFF}/members/{member}/points/adjustments"), &shop.owner, body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

/// Every ledger account's balance, by key.
async fn balances(app: &TestApp) -> BTreeMap<String, i64> {
    use sea_orm::EntityTrait;
    entity::ledger_accounts::Entity::find()
        .all(&app.ctx.db)
        .await
        .unwrap()
        .into_iter()
        .map(|row| (row.key, row.balance))
        .collect()
}

async fn on_hand(app: &TestApp, shop: &Shop) -> i64 {
    let stock = app.staff_ok(&shop.owner, &format!("/stores/{}/stock", shop.store)).await;
    stock.as_array().unwrap().iter().find(|s| s["product_id"] == shop.oil).map_or(0, |s| s["on_hand"].as_i64().unwrap())
}

async fn points_available(app: &TestApp, shop: &Shop, member: i64) -> i64 {
    app.staff_ok(&shop.cashier, &format!("/members/{member}/points")).await["available"].as_i64().unwrap()
}

async fn commission_total(app: &TestApp, shop: &Shop, staff: i64) -> i64 {
    let today = chrono::Utc::now().date_naive();
    let (from, to) = (today - chrono::Duration::days(1), today + chrono::Duration::days(1));
    app.staff_ok(&shop.owner, &format!("/staff/{staff}/commission?from={from}&to={to}")).await["total_fen"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn a_bill_of_every_kind_prices_settles_refunds_and_reverses_to_where_it_started() {
    let app = TestApp::spawn().await;
    let shop = shop(&app).await;
    let vip = member(&app, &shop, "13900005001").await;
    set_level(&app, &shop, vip, shop.gold).await;
    let (status, _) = app
        .post(
            &format!("{STAFF}/members/{vip}/allergies"),
            &shop.cashier,
            json!({ "substance": "ppd", "severity": "severe" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    recharge(&app, &shop, vip, 50_000, "co-recharge-1").await;
    give_points(&app, &shop, vip, 1_000, "co-points-1").await;

    let draft = json!({
        "store_id": shop.store,
        "member_id": vip,
        "points": 500,
        "lines": [
            { "kind": "service", "item_id": shop.cut, "staff": [{ "staff_id": shop.stylist }] },
            { "kind": "service", "item_id": shop.colour, "staff": [
                { "staff_id": shop.stylist, "share_bp": 7000 }, { "staff_id": shop.assistant, "share_bp": 3000 }] },
            { "kind": "product", "item_id": shop.oil, "quantity": 2 },
            { "kind": "card_sale", "item_id": shop.card_product, "staff": [{ "staff_id": shop.assistant }] },
            { "kind": "recharge", "amount_fen": 20_000 },
        ],
    });
    let (status, quote) = app.post(&format!("{STAFF}/bills/preview"), &shop.cashier, draft.clone()).await;
    assert_eq!(status, StatusCode::OK, "{quote}");
    // 8800 + 19900 at 90 %, 2 × 6800 at 95 % (category override), card and recharge undiscounted.
    assert_eq!(quote["subtotal_fen"], 8800 + 19900 + 13600 + 1000 + 20_000);
    assert_eq!(quote["discount_fen"], 880 + 1990 + 680);
    assert_eq!(quote["points_offset_fen"], 500);
    let total = 63_300 - 3_550 - 500;
    assert_eq!(quote["total_fen"], total);
    let steps: i64 = quote["steps"].as_array().unwrap()[..4].iter().map(|s| s["amount_fen"].as_i64().unwrap()).sum();
    assert_eq!(steps, total, "the steps add up to the total: {quote}");
    // Points on the services and product net (not the card sale or recharge), at the level's 2×.
    let consumption = 8800 + 19900 + 13600 - 3550 - 500;
    assert_eq!(quote["points_earned"], consumption / 100 * 2);
    assert_eq!(quote["allergies"][0]["service_item_id"], shop.colour, "{quote}");

    let before = balances(&app).await;
    let (stock_before, points_before) = (on_hand(&app, &shop).await, points_available(&app, &shop, vip).await);
    let sv_before =
        app.staff_ok(&shop.cashier, &format!("/members/{vip}/stored-value")).await["balance_fen"].as_i64().unwrap();

    // Stored value pays ￥300 (not the recharge), cash the rest from a ￥500 note.
    let mut bill = draft.clone();
    bill["tenders"] = json!([
        { "kind": "stored_value", "amount_fen": 30_000 },
        { "kind": "cash", "amount_fen": total - 30_000, "tendered_fen": 50_000 },
    ]);
    bill["idempotency_key"] = json!("co-bill-0001");
    let (status, settled) = app.post(&format!("{STAFF}/bills"), &shop.cashier, bill.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{settled}");
    assert_eq!(settled["total_fen"], total);
    assert_eq!(settled["change_fen"], 50_000 - (total - 30_000));
    let (status, again) = app.post(&format!("{STAFF}/bills"), &shop.cashier, bill).await;
    assert_eq!((status, &again["id"], &again["replayed"]), (StatusCode::OK, &settled["id"], &json!(true)));

    let bill_id = settled["id"].as_i64().unwrap();
    assert_eq!(on_hand(&app, &shop).await, stock_before - 2);
    let cards = app.staff_ok(&shop.cashier, &format!("/members/{vip}/count-cards")).await;
    assert_eq!((cards[0]["sessions_left"].as_i64(), cards[0]["deferred_fen"].as_i64()), (Some(3), Some(1000)));
    let earned = settled["points_earned"].as_i64().unwrap();
    assert_eq!(points_available(&app, &shop, vip).await, points_before - 500 + earned);
    let sv_after =
        app.staff_ok(&shop.cashier, &format!("/members/{vip}/stored-value")).await["balance_fen"].as_i64().unwrap();
    assert_eq!(sv_after, sv_before - 30_000 + 20_000);
    // Commission: 10 % of each service's net (half up), the colour's basis split 70/30; ￥0.50 fixed on the card.
    let lines = settled["lines"].as_array().unwrap();
    let colour_net = lines[1]["net_fen"].as_i64().unwrap();
    let statement = |staff: i64| {
        let today = chrono::Utc::now().date_naive();
        let (from, to) = (today - chrono::Duration::days(1), today + chrono::Duration::days(1));
        format!("/staff/{staff}/commission?from={from}&to={to}")
    };
    let stylist = app.staff_ok(&shop.owner, &statement(shop.stylist)).await;
    let assistant = app.staff_ok(&shop.owner, &statement(shop.assistant)).await;
    let mut colour_bases = 0;
    for row in stylist["rows"].as_array().unwrap().iter().chain(assistant["rows"].as_array().unwrap()) {
        let (basis, amount) = (row["basis_fen"].as_i64().unwrap(), row["amount_fen"].as_i64().unwrap());
        if row["kind"] == "card_sale" {
            assert_eq!((basis, amount), (1000, 50));
        } else {
            assert_eq!(amount, (basis * 1000 + 5_000) / 10_000, "{row}");
        }
        if row["bill_line_id"] == lines[1]["id"] {
            colour_bases += basis;
        }
    }
    assert_eq!(colour_bases, colour_net);
    let assistant_colour =
        assistant["rows"].as_array().unwrap().iter().find(|r| r["bill_line_id"] == lines[1]["id"]).unwrap();
    let share = assistant_colour["basis_fen"].as_i64().unwrap();
    assert!((colour_net * 3 / 10..=colour_net * 3 / 10 + 1).contains(&share), "{share} of {colour_net}");
    assert_eq!(stylist["rows"].as_array().unwrap().len(), 2);
    let receipt = app.staff_ok(&shop.cashier, &format!("/bills/{bill_id}/receipt")).await;
    assert_eq!(receipt["bill"]["id"], bill_id);
    assert_eq!(receipt["stored_value_fen"], sv_after);

    // Refund one of the two bottles: the stock comes back, money goes back to both tenders in proportion.
    let oil_line = lines[2]["id"].as_i64().unwrap();
    let refund = json!({ "lines": [{ "line_id": oil_line, "quantity": 1 }], "reason": "顾客退货", "idempotency_key": "co-refund-1" });
    let (status, refunded) = app.post(&format!("{STAFF}/bills/{bill_id}/refunds"), &shop.owner, refund.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{refunded}");
    assert_eq!(refunded["amount_fen"], lines[2]["net_fen"].as_i64().unwrap() / 2);
    let back: i64 = refunded["tenders"].as_array().unwrap().iter().map(|t| t["amount_fen"].as_i64().unwrap()).sum();
    assert_eq!(back, refunded["amount_fen"].as_i64().unwrap());
    assert_eq!(on_hand(&app, &shop).await, stock_before - 1);
    let (status, replayed) = app.post(&format!("{STAFF}/bills/{bill_id}/refunds"), &shop.owner, refund).await;
    assert_eq!((status, &replayed["id"]), (StatusCode::OK, &refunded["id"]));
    // Only one bottle is left to refund; a cashier may not refund at all.
    let too_many =
        json!({ "lines": [{ "line_id": oil_line, "quantity": 2 }], "reason": "x", "idempotency_key": "co-refund-2" });
    assert_error(
        &app.post(&format!("{STAFF}/bills/{bill_id}/refunds"), &shop.owner, too_many).await,
        StatusCode::CONFLICT,
        "nothing_to_refund",
    );
    let by_cashier = json!({ "reason": "x", "idempotency_key": "co-reverse-x" });
    assert_error(
        &app.post(&format!("{STAFF}/bills/{bill_id}/reverse"), &shop.cashier, by_cashier).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );

    // 反结账: everything left goes back, and every balance is where it was before the bill.
    let reverse = json!({ "reason": "开错单", "idempotency_key": "co-reverse-1" });
    let (status, reversed) = app.post(&format!("{STAFF}/bills/{bill_id}/reverse"), &shop.owner, reverse).await;
    assert_eq!(status, StatusCode::CREATED, "{reversed}");
    assert_eq!(reversed["bill"]["status"], "reversed");
    assert_eq!(reversed["bill"]["refunded_fen"], total);
    let after = balances(&app).await;
    for (key, balance) in &after {
        assert_eq!(before.get(key).copied().unwrap_or(0), *balance, "{key} is not back where it started");
    }
    assert_eq!(on_hand(&app, &shop).await, stock_before);
    assert_eq!(points_available(&app, &shop, vip).await, points_before);
    assert_eq!(commission_total(&app, &shop, shop.stylist).await, 0);
    assert_eq!(commission_total(&app, &shop, shop.assistant).await, 0);
    let cards = app.staff_ok(&shop.cashier, &format!("/members/{vip}/count-cards")).await;
    assert_eq!(cards[0]["status"], "refunded");
    let again = json!({ "reason": "again", "idempotency_key": "co-reverse-2" });
    assert_error(
        &app.post(&format!("{STAFF}/bills/{bill_id}/reverse"), &shop.owner, again).await,
        StatusCode::CONFLICT,
        "bill_state",
    );
    app.assert_ledger_balanced().await;
}

#[tokio::test]
async fn count_cards_are_sold_used_transferred_and_refunded_at_their_unit_price() {
    let app = TestApp::spawn().await;
    let shop = shop(&app).await;
    let (anna, ben) = (member(&app, &shop, "13900005101").await, member(&app, &shop, "13900005102").await);
    let sell = json!({
        "store_id": shop.store, "member_id": anna, "idempotency_key": "cc-sell-0001",
        "lines": [{ "kind": "card_sale", "item_id": shop.card_product }],
        "tenders": [{ "kind": "cash", "amount_fen": 1000 }],
    });
    let sold = app.staff_posted(&shop.cashier, "/bills", sell).await;
    let card = sold["lines"][0]["detail"]["count_card_id"].as_i64().unwrap();
    let revenue_key = format!("store:{}:revenue:洗护", shop.store);
    let revenue_before = balances(&app).await.get(&revenue_key).copied().unwrap_or(0);

    let use_card = |key: &str, member: i64| {
        json!({
            "store_id": shop.store, "member_id": member, "idempotency_key": key,
            "lines": [{ "kind": "service", "item_id": shop.wash, "count_card_id": card }], "tenders": [],
        })
    };
    let used = app.staff_posted(&shop.cashier, "/bills", use_card("cc-use-00001", anna)).await;
    assert_eq!(used["total_fen"], 0);
    assert_eq!(used["lines"][0]["recognised_fen"], 333, "{used}");
    assert_eq!(balances(&app).await[&revenue_key], revenue_before + 333);
    // The member signs a slip for the session used (queued with the receipt); the card sale needed none.
    let slip = crate::bridge::printed_lines(&app, "count_card_slip", used["id"].as_i64().unwrap()).await;
    assert!(slip.iter().any(|l| l.contains("次卡消费凭证")), "{slip:?}");
    assert!(slip.iter().any(|l| l.starts_with("洗吹3次卡") && l.ends_with("剩余2次")), "{slip:?}");
    assert!(slip.iter().any(|l| l.starts_with("会员签字")), "{slip:?}");
    assert_eq!(app.count("print_jobs WHERE kind = 'count_card_slip'").await, 1);
    // Not for another member, not for a service the card does not cover.
    assert_error(
        &app.post(&format!("{STAFF}/bills"), &shop.cashier, use_card("cc-use-00002", ben)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    );
    let mut wrong = use_card("cc-use-00003", anna);
    wrong["lines"][0]["item_id"] = json!(shop.cut);
    assert_error(
        &app.post(&format!("{STAFF}/bills"), &shop.cashier, wrong).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    );

    // Transfer what is left to Ben; the old card can no longer be used.
    let transfer = json!({ "to_member_id": ben, "reason": "转给家人", "idempotency_key": "cc-transfer-1" });
    let moved = app.staff_posted(&shop.owner, &format!("/count-cards/{card}/transfer"), transfer.clone()).await;
    assert_eq!(
        (moved["member_id"].as_i64(), moved["sessions_left"].as_i64(), moved["deferred_fen"].as_i64()),
        (Some(ben), Some(2), Some(667))
    );
    let replay = app.staff_posted(&shop.owner, &format!("/count-cards/{card}/transfer"), transfer).await;
    assert_eq!(replay["id"], moved["id"]);
    assert_error(
        &app.post(&format!("{STAFF}/bills"), &shop.cashier, use_card("cc-use-00004", anna)).await,
        StatusCode::CONFLICT,
        "count_card_unusable",
    );

    // Extend, then refund the two unused sessions: exactly the deferred ￥6.67, by cash.
    let new_card = moved["id"].as_i64().unwrap();
    let later = (chrono::Utc::now() + chrono::Duration::days(800)).to_rfc3339();
    let extended = app
        .staff_posted(
            &shop.owner,
            &format!("/count-cards/{new_card}/extend"),
            json!({ "expires_at": later, "reason": "延期" }),
        )
        .await;
    assert!(extended["expires_at"].as_str().is_some());
    let past = (chrono::Utc::now() - chrono::Duration::days(1)).to_rfc3339();
    assert_error(
        &app.post(
            &format!("{STAFF}/count-cards/{new_card}/extend"),
            &shop.owner,
            json!({ "expires_at": past, "reason": "x" }),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    );
    let cash_key = format!("store:{}:cash", shop.store);
    let cash_before = balances(&app).await[&cash_key];
    let refund =
        json!({ "store_id": shop.store, "tender": "cash", "reason": "不想做了", "idempotency_key": "cc-refund-01" });
    let refunded = app.staff_posted(&shop.owner, &format!("/count-cards/{new_card}/refund"), refund).await;
    assert_eq!(
        (refunded["status"].as_str(), refunded["sessions_left"].as_i64(), refunded["deferred_fen"].as_i64()),
        (Some("refunded"), Some(0), Some(0))
    );
    assert_eq!(balances(&app).await[&cash_key], cash_before - 667);
    app.assert_ledger_balanced().await;
}

#[tokio::test]
async fn bills_park_resume_void_and_settle_once() {
    let app = TestApp::spawn().await;
    let shop = shop(&app).await;
    let park = json!({
        "store_id": shop.store, "park": true, "idempotency_key": "park-000001",
        "lines": [{ "kind": "service", "item_id": shop.cut }],
    });
    let entries = app.count("journal_entries").await;
    let parked = app.staff_posted(&shop.cashier, "/bills", park).await;
    assert_eq!(parked["status"], "parked");
    let id = parked["id"].as_i64().unwrap();
    let listed = app.staff_ok(&shop.cashier, &format!("/bills?store_id={}&status=parked", shop.store)).await;
    assert!(listed.as_array().unwrap().iter().any(|b| b["id"] == id));
    // A cashier resuming it sees what is on it: its lines, priced as settling would price them.
    let line_items = |bill: &Value| -> Vec<(i64, i64)> {
        bill["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| (l["item_id"].as_i64().unwrap(), l["amount_fen"].as_i64().unwrap()))
            .collect()
    };
    assert_eq!(line_items(&parked), [(shop.cut, 8_800)], "{parked}");
    let listed_bill = listed.as_array().unwrap().iter().find(|b| b["id"] == id).unwrap();
    assert_eq!(line_items(listed_bill), [(shop.cut, 8_800)]);
    assert_eq!(line_items(&app.staff_ok(&shop.cashier, &format!("/bills/{id}")).await), [(shop.cut, 8_800)]);
    assert_eq!(app.count("journal_entries").await, entries, "a parked bill moves no money");

    // Resume with a second line, then settle by cash.
    let edited = json!({ "store_id": shop.store, "lines": [{ "item_id": shop.cut }, { "item_id": shop.wash }] });
    let (status, updated) = app.put(&format!("{STAFF}/bills/{id}"), &shop.cashier, edited).await;
    assert_eq!((status, updated["total_fen"].as_i64()), (StatusCode::OK, Some(11_800)), "{updated}");
    assert_eq!(line_items(&updated), [(shop.cut, 8_800), (shop.wash, 3_000)], "{updated}");
    assert_eq!(app.count("journal_entries").await, entries, "parking moves no money");
    let pay = json!({ "tenders": [{ "kind": "cash", "amount_fen": 11_800 }] });
    let (status, settled) = app.post(&format!("{STAFF}/bills/{id}/settle"), &shop.cashier, pay.clone()).await;
    assert_eq!((status, settled["status"].as_str()), (StatusCode::OK, Some("settled")), "{settled}");
    let (status, again) = app.post(&format!("{STAFF}/bills/{id}/settle"), &shop.cashier, pay).await;
    assert_eq!((status, &again["replayed"], &again["entry_id"]), (StatusCode::OK, &json!(true), &settled["entry_id"]));
    assert_eq!(app.count("journal_entries").await, entries + 1);
    let other = json!({ "tenders": [{ "kind": "bank_card", "amount_fen": 11_800 }] });
    assert_error(
        &app.post(&format!("{STAFF}/bills/{id}/settle"), &shop.cashier, other).await,
        StatusCode::CONFLICT,
        "bill_state",
    );
    assert_error(
        &app.post(&format!("{STAFF}/bills/{id}/void"), &shop.cashier, json!({ "reason": "x" })).await,
        StatusCode::CONFLICT,
        "bill_state",
    );

    // A voided bill cannot be settled.
    let park = json!({ "store_id": shop.store, "park": true, "idempotency_key": "park-000002", "lines": [{ "item_id": shop.cut }] });
    let second = app.staff_posted(&shop.cashier, "/bills", park).await["id"].as_i64().unwrap();
    let voided =
        app.staff_posted(&shop.cashier, &format!("/bills/{second}/void"), json!({ "reason": "客人走了" })).await;
    assert_eq!(voided["status"], "voided");
    let pay = json!({ "tenders": [{ "kind": "cash", "amount_fen": 8_800 }] });
    assert_error(
        &app.post(&format!("{STAFF}/bills/{second}/settle"), &shop.cashier, pay.clone()).await,
        StatusCode::CONFLICT,
        "bill_state",
    );

    // Nor can a bill settled at once (never parked, so it keeps no draft) be settled again.
    let at_once = json!({
        "store_id": shop.store, "idempotency_key": "at-once-0001", "lines": [{ "item_id": shop.cut }],
        "tenders": [{ "kind": "cash", "amount_fen": 8_800 }],
    });
    let third = app.staff_posted(&shop.cashier, "/bills", at_once).await["id"].as_i64().unwrap();
    let entries = app.count("journal_entries").await;
    assert_error(
        &app.post(&format!("{STAFF}/bills/{third}/settle"), &shop.cashier, pay).await,
        StatusCode::CONFLICT,
        "bill_state",
    );
    assert_eq!(app.count("journal_entries").await, entries);
}

#[tokio::test]
async fn large_debits_wait_for_the_members_confirmation() {
    let app = TestApp::spawn().await;
    let shop = shop(&app).await;
    let (member_token, member_id) = app.member_token("confirming-member").await;
    recharge(&app, &shop, member_id, 100_000, "cf-recharge-1").await;
    let (status, settings) =
        app.patch(&format!("{STAFF}/merchant/loyalty"), &shop.owner, json!({ "confirm_threshold_fen": 10_000 })).await;
    assert_eq!(status, StatusCode::OK, "{settings}");
    let fresh_code = async || {
        let (_, code) = app.get("/api/mini/v1/me/member-code", &member_token).await;
        code["code"].as_str().unwrap().to_owned()
    };
    let bill = |key: &str, code: Option<&str>| {
        json!({
            "store_id": shop.store, "member_id": member_id, "idempotency_key": key, "member_code": code,
            "lines": [{ "item_id": shop.colour }], "tenders": [{ "kind": "stored_value", "amount_fen": 19_900 }],
        })
    };
    let refused = async |answer: (StatusCode, Value), code: &str| {
        let entries = app.count("journal_entries").await;
        assert_error(&answer, StatusCode::CONFLICT, code);
        assert_eq!(app.count("journal_entries").await, entries, "a refused debit writes nothing");
    };
    refused(
        app.post(&format!("{STAFF}/bills"), &shop.cashier, bill("cf-bill-0001", None)).await,
        "member_confirmation_required",
    )
    .await;

    // A code scanned to open the member at the desk is not consent to a debit.
    let shown = fresh_code().await;
    let (status, found) = app.post(&format!("{STAFF}/members/lookup"), &shop.cashier, json!({ "query": shown })).await;
    assert_eq!((status, found["id"].as_i64()), (StatusCode::OK, Some(member_id)), "{found}");
    let (status, _) = app.post(&format!("{STAFF}/members/lookup"), &shop.cashier, json!({ "query": shown })).await;
    assert_eq!(status, StatusCode::OK, "opening the member twice with one code is fine");
    refused(
        app.post(&format!("{STAFF}/bills"), &shop.cashier, bill("cf-bill-0002", Some(&shown))).await,
        "member_code_used",
    )
    .await;

    // A fresh code is consent to one bill, once.
    let code = fresh_code().await;
    app.staff_posted(&shop.cashier, "/bills", bill("cf-bill-0003", Some(&code))).await;
    refused(
        app.post(&format!("{STAFF}/bills"), &shop.cashier, bill("cf-bill-0004", Some(&code))).await,
        "member_code_used",
    )
    .await;

    // Or the member confirms a parked bill in the mini-program: the bill as they saw it.
    let park = json!({ "store_id": shop.store, "member_id": member_id, "park": true, "idempotency_key": "cf-park-0001", "lines": [{ "item_id": shop.colour }] });
    let id = app.staff_posted(&shop.cashier, "/bills", park).await["id"].as_i64().unwrap();
    let pay = |fen: i64| json!({ "tenders": [{ "kind": "stored_value", "amount_fen": fen }] });
    let settle = async |fen: i64| app.post(&format!("{STAFF}/bills/{id}/settle"), &shop.cashier, pay(fen)).await;
    refused(settle(19_900).await, "member_confirmation_required").await;
    let to_confirm = async || {
        let (_, waiting) = app.get("/api/mini/v1/me/bills/to-confirm", &member_token).await;
        let bill = waiting.as_array().unwrap().iter().find(|b| b["id"] == id).cloned();
        bill.map(|b| (b["total_fen"].as_i64().unwrap(), json!({ "confirmation_digest": b["confirmation_digest"] })))
    };
    let confirm =
        async |seen: Value| app.post(&format!("/api/mini/v1/me/bills/{id}/confirm"), &member_token, seen).await;
    let (total, seen) = to_confirm().await.expect("the parked bill waits for the member");
    assert_eq!(total, 19_900);

    // The cashier raises the bill after the member opened it: what they saw is no longer the bill.
    let raised = json!({ "store_id": shop.store, "member_id": member_id, "lines": [{ "item_id": shop.colour }, { "item_id": shop.cut }] });
    let (status, updated) = app.put(&format!("{STAFF}/bills/{id}"), &shop.cashier, raised.clone()).await;
    assert_eq!((status, updated["total_fen"].as_i64()), (StatusCode::OK, Some(28_700)), "{updated}");
    assert_error(&confirm(seen.clone()).await, StatusCode::CONFLICT, "bill_changed");
    refused(settle(28_700).await, "member_confirmation_required").await;

    // Confirmed as it is now, then edited again: the edit voids the confirmation.
    let (total, seen) = to_confirm().await.expect("the raised bill waits for the member");
    assert_eq!(total, 28_700);
    let (status, body) = confirm(seen).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(to_confirm().await.is_none(), "a confirmed bill no longer waits");
    app.put(&format!("{STAFF}/bills/{id}"), &shop.cashier, raised).await;
    refused(settle(28_700).await, "member_confirmation_required").await;
    let (_, seen) = to_confirm().await.expect("the edited bill waits again");
    assert_eq!(confirm(seen).await.0, StatusCode::OK);
    let (status, settled) = settle(28_700).await;
    assert_eq!((status, settled["status"].as_str()), (StatusCode::OK, Some("settled")), "{settled}");

    // Small debits add up over the day: the second 6,000 of a 10,000 threshold needs consent.
    let small = |key: &str, code: Option<&str>| {
        json!({
            "store_id": shop.store, "member_id": member_id, "idempotency_key": key, "member_code": code,
            "lines": [{ "item_id": shop.cut }],
            "tenders": [{ "kind": "stored_value", "amount_fen": 6_000 }, { "kind": "cash", "amount_fen": 2_800 }],
        })
    };
    app.staff_posted(&shop.cashier, "/bills", small("cf-small-0001", None)).await;
    refused(
        app.post(&format!("{STAFF}/bills"), &shop.cashier, small("cf-small-0002", None)).await,
        "member_confirmation_required",
    )
    .await;
    let code = fresh_code().await;
    app.staff_posted(&shop.cashier, "/bills", small("cf-small-0003", Some(&code))).await;
    app.assert_ledger_balanced().await;
}

#[tokio::test]
async fn small_debits_settled_at_the_same_moment_cannot_both_slip_under_the_daily_threshold() {
    let app = TestApp::spawn().await;
    let shop = shop(&app).await;
    let (status, _) =
        app.patch(&format!("{STAFF}/merchant/loyalty"), &shop.owner, json!({ "confirm_threshold_fen": 10_000 })).await;
    assert_eq!(status, StatusCode::OK);
    // Five members, each with two ￥60 debits sent at once: each alone is under ￥100, together they are not.
    for round in 0..5 {
        let member = member(&app, &shop, &format!("1390000720{round}")).await;
        recharge(&app, &shop, member, 50_000, &format!("race-rc-{round}")).await;
        let small = |k: usize| {
            json!({
                "store_id": shop.store, "member_id": member, "idempotency_key": format!("race-small-{round}-{k}"),
                "lines": [{ "item_id": shop.cut }],
                "tenders": [{ "kind": "stored_value", "amount_fen": 6_000 }, { "kind": "cash", "amount_fen": 2_800 }],
            })
        };
        let path = format!("{STAFF}/bills");
        let sent = (0..2).map(|k| app.post(&path, &shop.cashier, small(k)));
        let answers = futures_util::future::join_all(sent).await;
        let settled = answers.iter().filter(|(status, _)| *status == StatusCode::CREATED).count();
        let refused = answers
            .iter()
            .filter(|(status, body)| *status == StatusCode::CONFLICT && body["code"] == "member_confirmation_required")
            .count();
        assert_eq!((settled, refused), (1, 1), "round {round}: {answers:?}");
        assert_eq!(app.stored_value(&shop.cashier, member).await["balance_fen"], 44_000, "one ￥60 debit");
    }
    app.assert_ledger_balanced().await;
}

#[tokio::test]
async fn bad_checkout_input_gets_a_clear_error_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let shop = shop(&app).await;
    let anna = member(&app, &shop, "13900005201").await;
    let ben = member(&app, &shop, "13900005202").await;
    recharge(&app, &shop, anna, 10_000, "bad-recharge-1").await;
    give_points(&app, &shop, anna, 100, "bad-points-1").await;
    let sold = json!({
        "store_id": shop.store, "member_id": ben, "idempotency_key": "bad-card-0001",
        "lines": [{ "kind": "card_sale", "item_id": shop.card_product }], "tenders": [{ "kind": "cash", "amount_fen": 1000 }],
    });
    let bens_card =
        app.staff_posted(&shop.cashier, "/bills", sold).await["lines"][0]["detail"]["count_card_id"].as_i64().unwrap();
    app.staff_posted(&shop.cashier, &format!("/members/{anna}/stored-value/freeze"), json!({})).await;

    let tables = [
        "bills",
        "bill_lines",
        "journal_entries",
        "journal_lines",
        "stock_movements",
        "points_lots",
        "count_cards",
        "commissions",
    ];
    let mut counts = Vec::new();
    for table in tables {
        counts.push(app.count(table).await);
    }
    let line = |kind: &str, item: i64| json!({ "kind": kind, "item_id": item });
    let cases: Vec<(Value, StatusCode, &str)> = vec![
        (
            json!({ "lines": [{ "kind": "service", "item_id": shop.cut, "quantity": -1 }], "tenders": [{ "kind": "cash", "amount_fen": 8800 }] }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
        (
            json!({ "lines": [line("product", 999_999)], "tenders": [{ "kind": "cash", "amount_fen": 100 }] }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
        (
            json!({ "lines": [line("gift", shop.cut)], "tenders": [{ "kind": "cash", "amount_fen": 100 }] }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
        (
            json!({ "lines": [line("service", shop.cut)], "tenders": [{ "kind": "cash", "amount_fen": 8000 }] }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
        (
            json!({ "lines": [line("service", shop.cut)], "tenders": [{ "kind": "cash", "amount_fen": -8800 }] }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
        (
            json!({ "member_id": anna, "lines": [{ "kind": "service", "item_id": shop.wash, "count_card_id": bens_card }], "tenders": [] }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
        (
            json!({ "member_id": anna, "lines": [{ "kind": "recharge", "amount_fen": 5000 }], "tenders": [{ "kind": "stored_value", "amount_fen": 5000 }] }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
        (
            json!({ "member_id": anna, "points": 101, "lines": [line("service", shop.cut)], "tenders": [{ "kind": "cash", "amount_fen": 8799 }] }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
        (
            json!({ "member_id": anna, "lines": [line("service", shop.cut)], "tenders": [{ "kind": "stored_value", "amount_fen": 8800 }] }),
            StatusCode::CONFLICT,
            "card_frozen",
        ),
        (
            json!({ "lines": [{ "kind": "product", "item_id": shop.oil, "quantity": 11 }], "tenders": [{ "kind": "cash", "amount_fen": 74_800 }] }),
            StatusCode::CONFLICT,
            "out_of_stock",
        ),
        (
            json!({ "lines": [{ "kind": "service", "item_id": shop.cut, "staff": [{ "staff_id": 999_999 }] }], "tenders": [{ "kind": "cash", "amount_fen": 8800 }] }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
        (
            json!({ "lines": [{ "kind": "service", "item_id": shop.cut, "staff": [{ "staff_id": shop.stylist, "share_bp": 5000 }] }], "tenders": [{ "kind": "cash", "amount_fen": 8800 }] }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
        (
            json!({ "lines": [{ "kind": "card_sale", "item_id": shop.card_product }], "tenders": [{ "kind": "cash", "amount_fen": 1000 }] }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
    ];
    for (index, (mut body, status, code)) in cases.into_iter().enumerate() {
        body["store_id"] = json!(shop.store);
        body["idempotency_key"] = json!(format!("bad-bill-{index:04}"));
        let answer = app.post(&format!("{STAFF}/bills"), &shop.cashier, body.clone()).await;
        assert_eq!(answer.0, status, "case {index}: {body} → {}", answer.1);
        assert_error(&answer, status, code);
    }
    for (table, count) in tables.iter().zip(counts) {
        assert_eq!(app.count(table).await, count, "{table} changed");
    }
    // Another merchant cannot see or refund these bills.
    let (_, other_owner) = app.other_merchant().await;
    let some_bill = app.count("bills").await;
    assert_error(
        &app.get(&format!("{STAFF}/bills/{some_bill}"), &other_owner).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
}

#[tokio::test]
async fn concurrent_refunds_of_one_line_refund_it_once() {
    let app = TestApp::spawn().await;
    let shop = shop(&app).await;
    let sell = json!({
        "store_id": shop.store, "idempotency_key": "cr-bill-0001",
        "lines": [{ "item_id": shop.colour }], "tenders": [{ "kind": "cash", "amount_fen": 19_900 }],
    });
    let bill = app.staff_posted(&shop.cashier, "/bills", sell).await;
    let (id, line) = (bill["id"].as_i64().unwrap(), bill["lines"][0]["id"].as_i64().unwrap());
    let requests = (0..10).map(|n| {
        let body = json!({ "lines": [{ "line_id": line, "quantity": 1 }], "reason": "并发", "idempotency_key": format!("cr-refund-{n:04}") });
        let app = &app;
        let owner = shop.owner.clone();
        async move { app.post(&format!("{STAFF}/bills/{id}/refunds"), &owner, body).await }
    });
    let answers = futures_util::future::join_all(requests).await;
    let done = answers.iter().filter(|(status, _)| *status == StatusCode::CREATED).count();
    assert_eq!(done, 1, "{answers:?}");
    for answer in answers.iter().filter(|(status, _)| *status != StatusCode::CREATED) {
        assert_error(answer, StatusCode::CONFLICT, "nothing_to_refund");
    }
    assert_eq!(app.staff_ok(&shop.cashier, &format!("/bills/{id}")).await["refunded_fen"], 19_900);
}

/// Property: whatever the bill (lines, points, mix of tenders) and however it is refunded (any lines, any
/// quantities, in any number of steps, then 反结账 for the rest), every ledger balance, the stock, the member's points
/// and stored value and every commission total end exactly where they started.
#[tokio::test]
async fn settle_then_refund_everything_in_any_steps_restores_every_balance() {
    use proptest::strategy::{Strategy, ValueTree};
    let app = TestApp::spawn().await;
    let shop = shop(&app).await;
    let vip = member(&app, &shop, "13900005301").await;
    set_level(&app, &shop, vip, shop.gold).await;
    recharge(&app, &shop, vip, 1_000_000, "prop-recharge-1").await;
    give_points(&app, &shop, vip, 100_000, "prop-points-01").await;
    app.staff_posted(
        &shop.owner,
        &format!("/stores/{}/stock/receipts", shop.store),
        json!({ "product_id": shop.oil, "quantity": 500, "memo": "进货" }),
    )
    .await;

    let case = (
        proptest::collection::vec((0usize..5, 1i32..4, any_staff()), 1..6),
        0i64..3_000,
        0i64..=100,
        0i64..=100,
        proptest::collection::vec((0usize..6, 1i32..3), 0..4),
    );
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    for round in 0..10 {
        let (picks, points, sv_pct, bank_pct, refunds) = case.new_tree(&mut runner).unwrap().current();
        let before = balances(&app).await;
        let stock_before = on_hand(&app, &shop).await;
        let points_before = points_available(&app, &shop, vip).await;
        let lines: Vec<Value> = picks
            .iter()
            .map(|(kind, quantity, staff)| {
                let staff: Vec<Value> = staff
                    .iter()
                    .map(|s| json!({ "staff_id": if *s { shop.stylist } else { shop.assistant } }))
                    .collect();
                match kind {
                    0 => json!({ "item_id": shop.cut, "quantity": quantity, "staff": staff }),
                    1 => json!({ "item_id": shop.colour, "quantity": quantity, "staff": staff }),
                    2 => json!({ "kind": "product", "item_id": shop.oil, "quantity": quantity, "staff": staff }),
                    3 => json!({ "kind": "card_sale", "item_id": shop.card_product, "staff": staff }),
                    _ => json!({ "kind": "recharge", "amount_fen": 1_000 * i64::from(*quantity), "staff": staff }),
                }
            })
            .collect();
        let draft = json!({ "store_id": shop.store, "member_id": vip, "points": points, "lines": lines });
        let quote = app.staff_posted(&shop.cashier, "/bills/preview", draft.clone()).await;
        let total = quote["total_fen"].as_i64().unwrap();
        let recharges: i64 = quote["lines"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["kind"] == "recharge")
            .map(|l| l["net_fen"].as_i64().unwrap())
            .sum();
        let stored = (total - recharges) * sv_pct / 100;
        let bank = (total - stored) * bank_pct / 100;
        let cash = total - stored - bank;
        let tenders: Vec<Value> = [("stored_value", stored), ("bank_card", bank), ("cash", cash)]
            .into_iter()
            .filter(|(_, amount)| *amount > 0)
            .map(|(kind, amount)| json!({ "kind": kind, "amount_fen": amount }))
            .collect();
        let mut bill = draft;
        bill["tenders"] = json!(tenders);
        bill["idempotency_key"] = json!(format!("prop-bill-{round:04}"));
        let settled = app.staff_posted(&shop.cashier, "/bills", bill).await;
        let id = settled["id"].as_i64().unwrap();
        let settled_lines = settled["lines"].as_array().unwrap().clone();
        let mut left: Vec<i64> = settled_lines.iter().map(|l| l["quantity"].as_i64().unwrap()).collect();
        for (step, (index, quantity)) in refunds.iter().enumerate() {
            let index = index % settled_lines.len();
            let quantity = i64::from(*quantity).min(left[index]);
            if quantity == 0 {
                continue;
            }
            let body = json!({ "lines": [{ "line_id": settled_lines[index]["id"], "quantity": quantity }], "reason": "退", "idempotency_key": format!("prop-refund-{round}-{step}") });
            let refunded = app.staff_posted(&shop.owner, &format!("/bills/{id}/refunds"), body).await;
            assert_eq!(
                refunded["amount_fen"].as_i64().unwrap(),
                refunded["tenders"].as_array().unwrap().iter().map(|t| t["amount_fen"].as_i64().unwrap()).sum::<i64>()
            );
            left[index] -= quantity;
        }
        if left.iter().any(|l| *l > 0) {
            let body = json!({ "reason": "反结账", "idempotency_key": format!("prop-reverse-{round}") });
            let reversed = app.staff_posted(&shop.owner, &format!("/bills/{id}/reverse"), body).await;
            assert_eq!(reversed["bill"]["refunded_fen"], total);
        }
        let after = balances(&app).await;
        for (key, balance) in &after {
            assert_eq!(
                before.get(key).copied().unwrap_or(0),
                *balance,
                "round {round}: {key} moved; picks {picks:?} refunds {refunds:?}"
            );
        }
        assert_eq!(on_hand(&app, &shop).await, stock_before, "round {round}");
        assert_eq!(points_available(&app, &shop, vip).await, points_before, "round {round}");
        assert_eq!(commission_total(&app, &shop, shop.stylist).await, 0, "round {round}");
        assert_eq!(commission_total(&app, &shop, shop.assistant).await, 0, "round {round}");
    }
    app.assert_ledger_balanced().await;
}

fn any_staff() -> impl proptest::strategy::Strategy<Value = Vec<bool>> {
    use proptest::strategy::Strategy;
    proptest::collection::vec(proptest::bool::ANY, 0..2).prop_map(|mut staff| {
        staff.dedup();
        staff
    })
}

#[tokio::test]
async fn members_move_up_a_level_when_a_bill_or_a_recharge_qualifies() {
    let app = TestApp::spawn().await;
    let shop = shop(&app).await;
    let silver = json!({ "name": "银卡测试", "rank": 40, "threshold_fen": 20_000, "discount_bp": 9500, "category_discounts": {}, "points_multiplier_pct": 100 });
    let silver = app.staff_posted(&shop.owner, "/member-levels", silver).await["id"].as_i64().unwrap();
    let level_of = |member: i64| {
        let (app, token) = (&app, shop.cashier.clone());
        async move { app.staff_ok(&token, &format!("/members/{member}")).await["level"]["id"].as_i64() }
    };
    let anna = member(&app, &shop, "13900005401").await;
    let first = json!({ "store_id": shop.store, "member_id": anna, "idempotency_key": "lv-bill-0001", "lines": [{ "item_id": shop.cut }], "tenders": [{ "kind": "cash", "amount_fen": 8800 }] });
    app.staff_posted(&shop.cashier, "/bills", first).await;
    assert_ne!(level_of(anna).await, Some(silver), "￥88 does not reach ￥200");
    let second = json!({ "store_id": shop.store, "member_id": anna, "idempotency_key": "lv-bill-0002", "lines": [{ "item_id": shop.colour }], "tenders": [{ "kind": "cash", "amount_fen": 19_900 }] });
    app.staff_posted(&shop.cashier, "/bills", second).await;
    assert_eq!(level_of(anna).await, Some(silver), "￥287 of spend reaches 银卡");

    // By recharge instead: spend no longer counts, a ￥200 recharge does.
    let (status, _) =
        app.patch(&format!("{STAFF}/merchant/loyalty"), &shop.owner, json!({ "level_basis": "recharge" })).await;
    assert_eq!(status, StatusCode::OK);
    let ben = member(&app, &shop, "13900005402").await;
    let spend = json!({ "store_id": shop.store, "member_id": ben, "idempotency_key": "lv-bill-0003", "lines": [{ "item_id": shop.colour }, { "item_id": shop.cut }], "tenders": [{ "kind": "cash", "amount_fen": 28_700 }] });
    app.staff_posted(&shop.cashier, "/bills", spend).await;
    assert_ne!(level_of(ben).await, Some(silver));
    recharge(&app, &shop, ben, 20_000, "lv-recharge-1").await;
    assert_eq!(level_of(ben).await, Some(silver));

    // The annual review moves levels down to what the last 365 days reach, a level given by hand included.
    let review_path = format!("{STAFF}/member-levels/review");
    let review = || app.post(&review_path, &shop.owner, json!({}));
    assert_error(&review().await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    let (status, _) = app
        .patch(
            &format!("{STAFF}/merchant/loyalty"),
            &shop.owner,
            json!({ "level_basis": "spend", "level_downgrade": "annual" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, done) = review().await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(level_of(anna).await, Some(silver), "anna's ￥287 still reaches 银卡");
    assert_eq!(level_of(ben).await, Some(silver), "ben's ￥287 of spend reaches 银卡 too: {done}");
    let carl = member(&app, &shop, "13900005403").await;
    set_level(&app, &shop, carl, silver).await;
    let bills = app.staff_ok(&shop.cashier, &format!("/bills?store_id={}&status=settled", shop.store)).await;
    let colour_bill =
        bills.as_array().unwrap().iter().find(|b| b["member_id"] == anna && b["total_fen"] == 19_900).unwrap()["id"]
            .as_i64()
            .unwrap();
    app.staff_posted(
        &shop.owner,
        &format!("/bills/{colour_bill}/reverse"),
        json!({ "reason": "退单", "idempotency_key": "lv-reverse-1" }),
    )
    .await;
    assert_ne!(level_of(anna).await, Some(silver), "the reversal took back what earned 银卡");
    assert_eq!(level_of(carl).await, Some(silver));
    let (status, done) = review().await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(done["moved_down"], 1, "{done}");
    assert_ne!(level_of(carl).await, Some(silver), "nothing in the last year reaches 银卡");
    assert_eq!(level_of(ben).await, Some(silver));

    // The review goes through members a batch at a time (500 per transaction): 520 more 银卡 holders with nothing
    // spent are all moved down, the ones past the first batch too.
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let now = chrono::Utc::now();
    let holders = (0..520).map(|k| entity::members::ActiveModel {
        merchant_id: sea_orm::Set(app.seed.merchant_id),
        nickname: sea_orm::Set(format!("复审{k}")),
        gender: sea_orm::Set("unknown".to_owned()),
        level_id: sea_orm::Set(Some(silver)),
        total_spend_fen: sea_orm::Set(0),
        total_recharge_fen: sea_orm::Set(0),
        preferences: sea_orm::Set(String::new()),
        source: sea_orm::Set("import".to_owned()),
        created_at: sea_orm::Set(now),
        updated_at: sea_orm::Set(now),
        ..Default::default()
    });
    entity::members::Entity::insert_many(holders).exec(&app.ctx.db).await.unwrap();
    let (status, done) = review().await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["moved_down"], 520, "{done}");
    let still_silver = entity::members::Entity::find()
        .filter(entity::members::Column::LevelId.eq(silver))
        .filter(entity::members::Column::Nickname.starts_with("复审"))
        .count(&app.ctx.db)
        .await
        .unwrap();
    assert_eq!(still_silver, 0);
}

/// The level changes audited for `member`, oldest first: (from, to, cause).
async fn level_changes(app: &TestApp, shop: &Shop, member: i64) -> Vec<(Value, Value, Value)> {
    let log = app.staff_ok(&shop.owner, "/audit-log?limit=200").await;
    let mut changes: Vec<(Value, Value, Value)> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "member.level_changed" && e["target_id"] == member)
        .map(|e| (e["detail"]["from"].clone(), e["detail"]["to"].clone(), e["detail"]["cause"].clone()))
        .collect();
    changes.reverse();
    changes
}

#[tokio::test]
async fn levels_follow_the_money_back_down_and_a_level_set_by_hand_is_a_managers_audited_call() {
    let app = TestApp::spawn().await;
    let shop = shop(&app).await;
    let silver = json!({ "name": "银卡测试", "rank": 40, "threshold_fen": 20_000, "discount_bp": 9500, "category_discounts": {}, "points_multiplier_pct": 100 });
    let silver = app.staff_posted(&shop.owner, "/member-levels", silver).await["id"].as_i64().unwrap();
    let level_of = |member: i64| {
        let (app, token) = (&app, shop.cashier.clone());
        async move { app.staff_ok(&token, &format!("/members/{member}")).await["level"]["name"].clone() }
    };
    let bill = |member: i64, key: &str, items: &[i64], paid: i64| {
        let lines: Vec<Value> = items.iter().map(|id| json!({ "item_id": id })).collect();
        json!({ "store_id": shop.store, "member_id": member, "idempotency_key": key, "lines": lines, "tenders": [{ "kind": "cash", "amount_fen": paid }] })
    };

    // A refund of the line that earned 银卡 takes it back, by the merchant's rule: ￥88 is below ￥200.
    let anna = member(&app, &shop, "13900005501").await;
    let settled =
        app.staff_posted(&shop.cashier, "/bills", bill(anna, "lf-bill-0001", &[shop.cut, shop.colour], 28_700)).await;
    assert_eq!(level_of(anna).await, "银卡测试");
    let colour_line =
        settled["lines"].as_array().unwrap().iter().find(|l| l["item_id"] == shop.colour).unwrap()["id"].clone();
    let refund = json!({ "lines": [{ "line_id": colour_line, "quantity": 1 }], "reason": "染坏了", "idempotency_key": "lf-refund-01" });
    let refunded = app.staff_posted(&shop.owner, &format!("/bills/{}/refunds", settled["id"]), refund).await;
    assert_eq!(level_of(anna).await, "普通会员");
    let changes = level_changes(&app, &shop, anna).await;
    assert_eq!(changes.len(), 2, "{changes:?}");
    assert_eq!((&changes[0].1, &changes[0].2["bill_id"]), (&json!("银卡测试"), &settled["id"]));
    assert_eq!((&changes[1].0, &changes[1].1), (&json!("银卡测试"), &json!("普通会员")));
    assert_eq!(changes[1].2["refund_id"], refunded["id"]);

    // 退卡 lowers the recharge total the level counted: by recharge, ￥200 reaches 银卡 and the card refund undoes it.
    let (status, _) =
        app.patch(&format!("{STAFF}/merchant/loyalty"), &shop.owner, json!({ "level_basis": "recharge" })).await;
    assert_eq!(status, StatusCode::OK);
    let ben = member(&app, &shop, "13900005502").await;
    recharge(&app, &shop, ben, 20_000, "lf-recharge-1").await;
    assert_eq!(level_of(ben).await, "银卡测试");
    let card_refund = json!({ "store_id": shop.store, "tender": "cash", "fee_fen": 0, "reason": "搬家", "idempotency_key": "lf-card-refund-1" });
    app.staff_posted(&shop.owner, &format!("/members/{ben}/stored-value/refund"), card_refund).await;
    assert_eq!(level_of(ben).await, "普通会员");
    assert!(level_changes(&app, &shop, ben).await[1].2["card_refund_entry_id"].is_i64());
    recharge(&app, &shop, ben, 10_000, "lf-recharge-2").await;
    assert_eq!(level_of(ben).await, "普通会员", "￥100 after the refund is all that counts now");

    // By spend, a count card's unused sessions paid back (次卡退卡) no longer count either.
    let (status, _) =
        app.patch(&format!("{STAFF}/merchant/loyalty"), &shop.owner, json!({ "level_basis": "spend" })).await;
    assert_eq!(status, StatusCode::OK);
    let card = json!({ "name": "烫染3次卡", "price_fen": 30_000, "sessions": 3, "validity_days": 365, "service_item_ids": [shop.colour] });
    let card_product = app.staff_posted(&shop.owner, "/card-products", card).await["id"].as_i64().unwrap();
    let carl = member(&app, &shop, "13900005503").await;
    let sale = json!({ "store_id": shop.store, "member_id": carl, "idempotency_key": "lf-bill-0002", "lines": [{ "kind": "card_sale", "item_id": card_product }], "tenders": [{ "kind": "cash", "amount_fen": 30_000 }] });
    let sold = app.staff_posted(&shop.cashier, "/bills", sale).await;
    assert_eq!(level_of(carl).await, "银卡测试");
    let card_id = sold["lines"][0]["detail"]["count_card_id"].as_i64().unwrap();
    let refund =
        json!({ "store_id": shop.store, "tender": "cash", "reason": "不想做了", "idempotency_key": "lf-cc-refund-1" });
    app.staff_posted(&shop.owner, &format!("/count-cards/{card_id}/refund"), refund).await;
    assert_eq!(level_of(carl).await, "普通会员");

    // Setting a level by hand: a manager's permission, a reason, and the old and new level in the audit.
    let dora = member(&app, &shop, "13900005504").await;
    let by_hand = format!("{STAFF}/members/{dora}/level");
    let (status, body) = app.put(&by_hand, &shop.cashier, json!({ "level_id": silver, "reason": "老客" })).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")));
    assert!(body["message"].as_str().unwrap().contains("member_level_set"), "{body}");
    assert_error(
        &app.put(&by_hand, &shop.owner, json!({ "level_id": silver, "reason": " " })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    );
    assert_error(
        &app.patch(&format!("{STAFF}/members/{dora}"), &shop.owner, json!({ "level_id": silver })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    );
    assert_eq!(level_of(dora).await, "普通会员", "refused changes changed nothing");
    let manager = app.token(Role::Manager).await;
    let (status, body) =
        app.put(&by_hand, &manager, json!({ "level_id": silver, "reason": "老店迁移的金卡客人" })).await;
    assert_eq!((status, body["level"]["name"].as_str()), (StatusCode::OK, Some("银卡测试")), "{body}");
    let changes = level_changes(&app, &shop, dora).await;
    assert_eq!((&changes[0].0, &changes[0].1), (&json!("普通会员"), &json!("银卡测试")));
    assert_eq!(changes[0].2, json!({ "by_hand": true, "reason": "老店迁移的金卡客人" }));
    // A level given by hand was not earned by money, so a refund of what the member spent since leaves it.
    let spent = app.staff_posted(&shop.cashier, "/bills", bill(dora, "lf-bill-0003", &[shop.cut], 8_360)).await;
    let back = json!({ "reason": "不满意", "idempotency_key": "lf-reverse-1" });
    app.staff_posted(&shop.owner, &format!("/bills/{}/reverse", spent["id"]), back).await;
    assert_eq!(level_of(dora).await, "银卡测试");
    assert_eq!(level_changes(&app, &shop, dora).await.len(), 1);
}

#[tokio::test]
async fn points_are_spent_from_the_earliest_expiring_lot_first() {
    let app = TestApp::spawn().await;
    let shop = shop(&app).await;
    let anna = member(&app, &shop, "13900005501").await;
    let validity = |days: i64| json!({ "points_validity_days": days });
    let (status, _) = app.patch(&format!("{STAFF}/merchant/loyalty"), &shop.owner, validity(400)).await;
    assert_eq!(status, StatusCode::OK);
    give_points(&app, &shop, anna, 100, "pt-late-0001").await;
    app.patch(&format!("{STAFF}/merchant/loyalty"), &shop.owner, validity(10)).await;
    give_points(&app, &shop, anna, 100, "pt-soon-0001").await;

    // 150 points (￥1.50) off a cut: the lot expiring in 10 days goes first.
    let bill = json!({
        "store_id": shop.store, "member_id": anna, "points": 150, "idempotency_key": "pt-bill-0001",
        "lines": [{ "item_id": shop.cut }], "tenders": [{ "kind": "cash", "amount_fen": 8650 }],
    });
    let settled = app.staff_posted(&shop.cashier, "/bills", bill).await;
    assert_eq!((settled["points_used"].as_i64(), settled["points_offset_fen"].as_i64()), (Some(150), Some(150)));
    let points = app.staff_ok(&shop.cashier, &format!("/members/{anna}/points")).await;
    let lots: Vec<(i64, i64)> = points["lots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["points"].as_i64().unwrap(), l["remaining"].as_i64().unwrap()))
        .collect();
    // Left: 50 of the later lot, plus the lot this bill earned (86 yuan paid → 86 points, valid 10 days).
    assert!(lots.contains(&(100, 50)), "{points}");
    assert!(!lots.iter().any(|(p, r)| *p == 100 && *r == 100), "{points}");
    assert_eq!(points["available"], 50 + settled["points_earned"].as_i64().unwrap());
    // Taking more than the member has is refused and changes nothing.
    let take = json!({ "store_id": shop.store, "points": -1_000, "reason": "纠错", "idempotency_key": "pt-take-0001" });
    assert_error(
        &app.post(&format!("{STAFF}/members/{anna}/points/adjustments"), &shop.owner, take).await,
        StatusCode::CONFLICT,
        "insufficient_balance",
    );
    // So is a count no store could hold, either way, however large: i64::MIN has no opposite.
    for extreme in [i64::MIN, i64::MAX, -100_000_001] {
        let key = format!("pt-extreme-{}", extreme.unsigned_abs() % 1_000_000);
        let body = json!({ "store_id": shop.store, "points": extreme, "reason": "纠错", "idempotency_key": key });
        assert_error(
            &app.post(&format!("{STAFF}/members/{anna}/points/adjustments"), &shop.owner, body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        );
    }
    assert_eq!(app.staff_ok(&shop.cashier, &format!("/members/{anna}/points")).await["available"], points["available"]);
}

#[tokio::test]
async fn gifts_are_redeemed_for_points_and_refunds_return_them() {
    let app = TestApp::spawn().await;
    let shop = shop(&app).await;
    let bo = member(&app, &shop, "13900005601").await;
    let gift =
        json!({ "sku": "GIFT-COMB", "name": "檀木梳", "category": "礼品", "price_fen": 3800, "points_price": 500 });
    let comb = app.staff_posted(&shop.owner, "/products", gift).await;
    assert_eq!(comb["points_price"], 500);
    let comb = comb["id"].as_i64().unwrap();
    let receipt = json!({ "product_id": comb, "quantity": 5, "memo": "礼品入库" });
    app.staff_posted(&shop.owner, &format!("/stores/{}/stock/receipts", shop.store), receipt).await;
    give_points(&app, &shop, bo, 1_200, "gift-pts-0001").await;
    let stock_of = |stock: &Value| {
        stock.as_array().unwrap().iter().find(|s| s["product_id"] == comb).map_or(0, |s| s["on_hand"].as_i64().unwrap())
    };

    // Two combs cost 1,000 points; the other 200 may still take ￥2 off the cut.
    let lines = json!([{ "item_id": shop.cut }, { "kind": "gift", "item_id": comb, "quantity": 2 }]);
    let preview = json!({ "store_id": shop.store, "member_id": bo, "lines": lines, "points": 200 });
    let quote = app.staff_posted(&shop.cashier, "/bills/preview", preview).await;
    assert_eq!((quote["points_redeemed"].as_i64(), quote["points_max"].as_i64()), (Some(1_000), Some(200)), "{quote}");
    assert_eq!(quote["total_fen"], 8800 - 200);
    assert_eq!(quote["lines"][1]["net_fen"], 0);
    let bill = json!({
        "store_id": shop.store, "member_id": bo, "points": 200, "lines": lines, "idempotency_key": "gift-bill-0001",
        "tenders": [{ "kind": "cash", "amount_fen": 8600 }],
    });
    let settled = app.staff_posted(&shop.cashier, "/bills", bill).await;
    assert_eq!(settled["lines"][1]["points_redeemed"], 1_000);
    let earned = settled["points_earned"].as_i64().unwrap();
    assert_eq!(earned, 86, "a gift earns nothing; the ￥86 paid does");
    assert_eq!(points_available(&app, &shop, bo).await, earned);
    let stock = app.staff_ok(&shop.owner, &format!("/stores/{}/stock", shop.store)).await;
    assert_eq!(stock_of(&stock), 3);

    // A gift the member cannot afford is refused and changes nothing.
    let greedy = json!({
        "store_id": shop.store, "member_id": bo, "idempotency_key": "gift-bill-0002",
        "lines": [{ "kind": "gift", "item_id": comb }], "tenders": [],
    });
    assert_error(
        &app.post(&format!("{STAFF}/bills"), &shop.cashier, greedy).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    );
    // A product without a points price is no gift.
    let not_gift = json!({
        "store_id": shop.store, "member_id": bo, "idempotency_key": "gift-bill-0003",
        "lines": [{ "kind": "gift", "item_id": shop.oil }], "tenders": [],
    });
    assert_error(
        &app.post(&format!("{STAFF}/bills"), &shop.cashier, not_gift).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    );

    // Returning one comb gives back its 500 points and puts it back in stock; the cut's money and points stay.
    let gift_line = settled["lines"][1]["id"].as_i64().unwrap();
    let refund = json!({ "lines": [{ "line_id": gift_line, "quantity": 1 }], "reason": "礼品退回", "idempotency_key": "gift-ref-0001" });
    let refunded = app.staff_posted(&shop.owner, &format!("/bills/{}/refunds", settled["id"]), refund).await;
    assert_eq!(refunded["amount_fen"], 0, "{refunded}");
    assert_eq!(points_available(&app, &shop, bo).await, earned + 500);
    let stock = app.staff_ok(&shop.owner, &format!("/stores/{}/stock", shop.store)).await;
    assert_eq!(stock_of(&stock), 4);
    app.assert_ledger_balanced().await;
}

#[tokio::test]
async fn a_recharge_plan_grants_its_bonus_points_and_a_refund_takes_them_back() {
    let app = TestApp::spawn().await;
    let shop = shop(&app).await;
    let cy = member(&app, &shop, "13900005701").await;
    let plan =
        json!({ "name": "充1000送100再送500积分", "pay_fen": 100_000, "bonus_fen": 10_000, "bonus_points": 500 });
    let plan = app.staff_posted(&shop.owner, "/recharge-plans", plan).await;
    assert_eq!(plan["bonus_points"], 500);
    let plan = plan["id"].as_i64().unwrap();
    let bad = json!({ "name": "x", "pay_fen": 100, "bonus_points": -1 });
    assert_error(
        &app.post(&format!("{STAFF}/recharge-plans"), &shop.owner, bad).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    );

    // At the desk.
    let desk =
        json!({ "store_id": shop.store, "plan_id": plan, "tender": "cash", "idempotency_key": "plan-desk-0001" });
    app.staff_posted(&shop.cashier, &format!("/members/{cy}/stored-value/recharges"), desk).await;
    assert_eq!(points_available(&app, &shop, cy).await, 500);

    // On a bill, where a refund of the recharge line takes the points back with the money.
    let bill = json!({
        "store_id": shop.store, "member_id": cy, "idempotency_key": "plan-bill-0001",
        "lines": [{ "kind": "recharge", "item_id": plan }], "tenders": [{ "kind": "cash", "amount_fen": 100_000 }],
    });
    let settled = app.staff_posted(&shop.cashier, "/bills", bill).await;
    assert_eq!(settled["lines"][0]["points_earned"], 500, "{settled}");
    assert_eq!(points_available(&app, &shop, cy).await, 1_000);
    let line = settled["lines"][0]["id"].as_i64().unwrap();
    let refund = json!({ "lines": [{ "line_id": line, "quantity": 1 }], "reason": "顾客反悔", "idempotency_key": "plan-ref-0001" });
    app.staff_posted(&shop.owner, &format!("/bills/{}/refunds", settled["id"]), refund).await;
    assert_eq!(points_available(&app, &shop, cy).await, 500);
    app.assert_ledger_balanced().await;
}

/// Each api process keeps its own copy of the merchant's stores, levels and menu for checkout. A change made
/// through one replica is priced by another at its very next bill: the copy is kept by the merchant's config
/// version, which every such change bumps.
#[tokio::test]
async fn a_change_through_one_replica_is_priced_by_another_at_once() {
    let app = TestApp::spawn().await;
    let shop = shop(&app).await;
    let replica = app.replica().await;
    let at_replica = |path: &str, body: Value| {
        let request = app.client.post(format!("{replica}{STAFF}{path}")).bearer_auth(&shop.cashier).json(&body);
        async move {
            let response = request.send().await.unwrap();
            (response.status(), response.json::<Value>().await.unwrap())
        }
    };
    let bills_before = app.count("bills").await;
    let gold_member = member(&app, &shop, "13800009001").await;
    set_level(&app, &shop, gold_member, shop.gold).await;
    let draft = json!({
        "store_id": shop.store,
        "member_id": gold_member,
        "lines": [{ "kind": "service", "item_id": shop.cut }, { "kind": "product", "item_id": shop.oil }],
    });
    // Gold: 90% on services, 95% on 零售. The replica loads its copy here.
    let (status, quote) = at_replica("/bills/preview", draft.clone()).await;
    assert_eq!(status, StatusCode::OK, "{quote}");
    assert_eq!(quote["total_fen"], 8800 * 9 / 10 + 6800 * 95 / 100);

    // A new price, a new product price and a new level discount, all through the first process.
    let patch = |path: String, body: Value| {
        let app = &app;
        let owner = shop.owner.clone();
        async move {
            let (status, answer) = app.patch(&format!("{STAFF}{path}"), &owner, body).await;
            assert_eq!(status, StatusCode::OK, "PATCH {path}: {answer}");
        }
    };
    patch(format!("/services/{}", shop.cut), json!({ "price_fen": 10_000 })).await;
    let (_, quote) = at_replica("/bills/preview", draft.clone()).await;
    assert_eq!(quote["total_fen"], 10_000 * 9 / 10 + 6800 * 95 / 100, "the replica prices the new service price");
    patch(format!("/products/{}", shop.oil), json!({ "price_fen": 7000 })).await;
    patch(format!("/member-levels/{}", shop.gold), json!({ "discount_bp": 8000 })).await;
    let (_, quote) = at_replica("/bills/preview", draft.clone()).await;
    assert_eq!(quote["total_fen"], 10_000 * 8 / 10 + 7000 * 95 / 100, "and the new product price and discount");

    // A store closed through the first process takes no more money through the replica.
    patch(format!("/stores/{}", shop.store), json!({ "active": false })).await;
    let mut bill = draft.clone();
    bill["tenders"] = json!([{ "kind": "cash", "amount_fen": 20_000, "tendered_fen": 20_000 }]);
    bill["idempotency_key"] = json!("replica-closed-store-1");
    assert_error(&at_replica("/bills", bill).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    assert_eq!(app.count("bills").await, bills_before, "nothing settled");
}

/// A retry of a settled bill is answered with that bill even when the bill would no longer pass its checks (here:
/// its store has closed since), and a different bill under the same key is still refused.
#[tokio::test]
async fn a_retry_is_answered_by_the_first_settlement_even_after_the_store_closed() {
    let app = TestApp::spawn().await;
    let shop = shop(&app).await;
    let bills_before = app.count("bills").await;
    let bill = json!({
        "store_id": shop.store,
        "lines": [{ "kind": "service", "item_id": shop.cut }],
        "tenders": [{ "kind": "cash", "amount_fen": 8800, "tendered_fen": 10_000 }],
        "idempotency_key": "retry-after-close-1",
    });
    let first = app.staff_posted(&shop.cashier, "/bills", bill.clone()).await;
    let (status, answer) =
        app.patch(&format!("{STAFF}/stores/{}", shop.store), &shop.owner, json!({ "active": false })).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (status, again) = app.post(&format!("{STAFF}/bills"), &shop.cashier, bill.clone()).await;
    assert!(status.is_success(), "{status} {again}");
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["change_fen"], 1200);
    let mut other = bill.clone();
    other["tenders"] = json!([{ "kind": "cash", "amount_fen": 8800, "tendered_fen": 8800 }]);
    assert_error(
        &app.post(&format!("{STAFF}/bills"), &shop.cashier, other).await,
        StatusCode::CONFLICT,
        "idempotency_key_reused",
    );
    assert_eq!(app.count("bills").await, bills_before + 1);
}

/// Lots past their expiry are written off when the member next spends points, at checkout or by a negative
/// adjustment: an entry of its own, whose balance moves are applied together with the spend's as the last statement
/// (the store's points account is shared by every bill of the store).
#[tokio::test]
async fn expired_lots_are_written_off_when_points_are_next_spent() {
    use sea_orm::ConnectionTrait;

    let app = TestApp::spawn().await;
    let shop = shop(&app).await;
    let cleo = member(&app, &shop, "13900005701").await;
    let expire_all = || {
        let sql = format!("UPDATE points_lots SET expires_at = '2020-01-01 00:00:00+00:00' WHERE member_id = {cleo}");
        let db = app.ctx.db.clone();
        async move { db.execute_unprepared(&sql).await.unwrap() }
    };
    let write_offs = "journal_entries WHERE kind = 'points_expiry'";
    give_points(&app, &shop, cleo, 300, "exp-old-0001").await;
    expire_all().await;
    give_points(&app, &shop, cleo, 200, "exp-new-0001").await;
    assert_eq!(app.count(write_offs).await, 0, "nothing written off before a spend");

    let bill = json!({
        "store_id": shop.store, "member_id": cleo, "points": 150, "idempotency_key": "exp-bill-0001",
        "lines": [{ "item_id": shop.cut }], "tenders": [{ "kind": "cash", "amount_fen": 8650 }],
    });
    let settled = app.staff_posted(&shop.cashier, "/bills", bill).await;
    assert_eq!(settled["points_used"], 150);
    assert_eq!(app.count(write_offs).await, 1, "the expired lot written off with the bill");
    let points = app.staff_ok(&shop.cashier, &format!("/members/{cleo}/points")).await;
    assert_eq!(points["available"], 50 + settled["points_earned"].as_i64().unwrap(), "{points}");

    // Everything expires; a negative adjustment writes it off and then finds nothing to take.
    expire_all().await;
    let take = json!({ "store_id": shop.store, "points": -10, "reason": "纠错", "idempotency_key": "exp-take-0001" });
    assert_error(
        &app.post(&format!("{STAFF}/members/{cleo}/points/adjustments"), &shop.owner, take).await,
        StatusCode::CONFLICT,
        "insufficient_balance",
    );
    let take = json!({ "store_id": shop.store, "points": 10, "reason": "补偿", "idempotency_key": "exp-give-0001" });
    let (status, answer) = app.post(&format!("{STAFF}/members/{cleo}/points/adjustments"), &shop.owner, take).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let take = json!({ "store_id": shop.store, "points": -10, "reason": "纠错", "idempotency_key": "exp-take-0002" });
    let (status, answer) = app.post(&format!("{STAFF}/members/{cleo}/points/adjustments"), &shop.owner, take).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(app.count(write_offs).await, 2, "the second expiry written off with the adjustment");
    assert_eq!(answer["available"], 0, "{answer}");
}

/// Bills that write off expired points and bills that earn points, selling the same product at one store at once:
/// each takes the store's stock row and its points account in the same order, last, so none deadlocks (on
/// PostgreSQL a deadlock would be an error answer) and every bill settles.
#[tokio::test]
async fn write_offs_and_sales_at_one_store_settle_together() {
    use sea_orm::ConnectionTrait;

    let app = TestApp::spawn().await;
    let shop = shop(&app).await;
    let receipt = json!({ "product_id": shop.oil, "quantity": 100, "memo": "进货" });
    app.staff_posted(&shop.owner, &format!("/stores/{}/stock/receipts", shop.store), receipt).await;
    let mut spenders = Vec::new();
    for k in 0..8 {
        let who = member(&app, &shop, &format!("1390000580{k}")).await;
        give_points(&app, &shop, who, 300, &format!("wo-old-{k:04}")).await;
        let sql = format!("UPDATE points_lots SET expires_at = '2020-01-01 00:00:00+00:00' WHERE member_id = {who}");
        app.ctx.db.execute_unprepared(&sql).await.unwrap();
        give_points(&app, &shop, who, 200, &format!("wo-new-{k:04}")).await;
        spenders.push(who);
    }
    let mut earners = Vec::new();
    for k in 0..8 {
        earners.push(member(&app, &shop, &format!("1390000590{k}")).await);
    }
    let lines = json!([{ "item_id": shop.cut }, { "kind": "product", "item_id": shop.oil }]);
    let bills = (0..16).map(|k| {
        let (app, shop, lines) = (&app, &shop, lines.clone());
        let (spender, earner) = (spenders[k % 8], earners[k % 8]);
        async move {
            let mut bill =
                json!({ "store_id": shop.store, "lines": lines, "idempotency_key": format!("wo-bill-{k:04}") });
            if k < 8 {
                bill["member_id"] = json!(spender);
                bill["points"] = json!(100);
                bill["tenders"] = json!([{ "kind": "cash", "amount_fen": 8800 + 6800 - 100 }]);
            } else {
                bill["member_id"] = json!(earner);
                bill["tenders"] = json!([{ "kind": "cash", "amount_fen": 8800 + 6800 }]);
            }
            app.post(&format!("{STAFF}/bills"), &shop.cashier, bill).await
        }
    });
    for (status, answer) in futures_util::future::join_all(bills).await {
        assert_eq!(status, StatusCode::CREATED, "{answer}");
    }
    assert_eq!(app.count("journal_entries WHERE kind = 'points_expiry'").await, 8);
}

#[tokio::test]
async fn stored_settings_that_cannot_be_read_stop_a_settlement_instead_of_reading_as_empty() {
    use sea_orm::{ConnectionTrait, Statement};
    let app = TestApp::spawn().await;
    let shop = shop(&app).await;
    let bill = |key: &str| {
        json!({
            "store_id": shop.store, "idempotency_key": key, "lines": [{ "item_id": shop.cut }],
            "tenders": [{ "kind": "cash", "amount_fen": 8_800 }],
        })
    };
    app.staff_posted(&shop.cashier, "/bills", bill("unreadable-0001")).await;
    // The categories that earn no points, damaged in storage: read as "none", every category would earn points.
    let backend = app.ctx.db.get_database_backend();
    let damage = "UPDATE merchants SET points_excluded_categories = 'not json'";
    app.ctx.db.execute_raw(Statement::from_string(backend, damage.to_owned())).await.unwrap();
    let (bills, entries) = (app.count("bills").await, app.count("journal_entries").await);
    let (status, answer) = app.post(&format!("{STAFF}/bills"), &shop.cashier, bill("unreadable-0002")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{answer}");
    assert_eq!((app.count("bills").await, app.count("journal_entries").await), (bills, entries));
    let mend = "UPDATE merchants SET points_excluded_categories = '[]'";
    app.ctx.db.execute_raw(Statement::from_string(backend, mend.to_owned())).await.unwrap();

    // The same for everything else money is computed from. Each is damaged in turn (a prefix that breaks the JSON,
    // taken off again after), and the operation that reads it must stop with nothing written.
    let gold = member(&app, &shop, "13900007001").await;
    set_level(&app, &shop, gold, shop.gold).await;
    let kept = json!({
        "store_id": shop.store, "member_id": gold, "idempotency_key": "unreadable-kept",
        "lines": [{ "item_id": shop.cut, "staff": [{ "staff_id": shop.stylist }] }, { "kind": "recharge", "amount_fen": 10_000 }],
        "tenders": [{ "kind": "cash", "amount_fen": 7_920 + 10_000 }],
    });
    let kept = app.staff_posted(&shop.cashier, "/bills", kept).await;
    let kept_id = kept["id"].as_i64().unwrap();
    let refund = |line: &Value, key: &str| json!({ "lines": [{ "line_id": line["id"], "quantity": 1 }], "reason": "测试", "idempotency_key": key });
    let cases = [
        (
            "commission tiers",
            "commission_rules SET tiers = 'broken' || tiers".to_owned(),
            "commission_rules SET tiers = substr(tiers, 7)".to_owned(),
            json!({ "store_id": shop.store, "idempotency_key": "unreadable-tiers", "tenders": [{ "kind": "cash", "amount_fen": 8_800 }],
                    "lines": [{ "item_id": shop.cut, "staff": [{ "staff_id": shop.stylist }] }] }),
            "/bills".to_owned(),
        ),
        (
            "level category discounts",
            format!("member_levels SET category_discounts = 'broken' || category_discounts WHERE id = {}", shop.gold),
            format!("member_levels SET category_discounts = substr(category_discounts, 7) WHERE id = {}", shop.gold),
            json!({ "store_id": shop.store, "member_id": gold, "idempotency_key": "unreadable-level", "tenders": [{ "kind": "cash", "amount_fen": 6_460 }],
                    "lines": [{ "kind": "product", "item_id": shop.oil }] }),
            "/bills".to_owned(),
        ),
        (
            "card product services",
            format!(
                "card_products SET service_item_ids = 'broken' || service_item_ids WHERE id = {}",
                shop.card_product
            ),
            format!(
                "card_products SET service_item_ids = substr(service_item_ids, 7) WHERE id = {}",
                shop.card_product
            ),
            json!({ "store_id": shop.store, "member_id": gold, "idempotency_key": "unreadable-card", "tenders": [{ "kind": "cash", "amount_fen": 1_000 }],
                    "lines": [{ "kind": "card_sale", "item_id": shop.card_product }] }),
            "/bills".to_owned(),
        ),
        (
            "a recharge line's bonus",
            format!("bill_lines SET detail = 'broken' || detail WHERE bill_id = {kept_id}"),
            format!("bill_lines SET detail = substr(detail, 7) WHERE bill_id = {kept_id}"),
            refund(&kept["lines"][1], "unreadable-bonus"),
            format!("/bills/{kept_id}/refunds"),
        ),
    ];
    // Replicas keep a copy of the merchant's prices and levels until its configuration version moves on.
    let reload = "UPDATE merchants SET config_version = config_version + 1";
    for (what, damage, mend, body, path) in cases {
        app.ctx.db.execute_raw(Statement::from_string(backend, format!("UPDATE {damage}"))).await.unwrap();
        app.ctx.db.execute_raw(Statement::from_string(backend, reload.to_owned())).await.unwrap();
        let before = (app.count("bills").await, app.count("journal_entries").await, app.count("bill_refunds").await);
        let (status, answer) = app.post(&format!("{STAFF}{path}"), &shop.owner, body.clone()).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{what}: {answer}");
        let after = (app.count("bills").await, app.count("journal_entries").await, app.count("bill_refunds").await);
        assert_eq!(after, before, "{what}: nothing written");
        // Mended, the same request goes through: it was the damage that stopped it.
        app.ctx.db.execute_raw(Statement::from_string(backend, format!("UPDATE {mend}"))).await.unwrap();
        app.ctx.db.execute_raw(Statement::from_string(backend, reload.to_owned())).await.unwrap();
        let (status, answer) = app.post(&format!("{STAFF}{path}"), &shop.owner, body).await;
        assert!(status.is_success(), "{what}, mended: {status} {answer}");
    }
    // A bill whose staff shares cannot be read is not shown as a bill without staff either.
    app.ctx
        .db
        .execute_raw(Statement::from_string(
            backend,
            format!("UPDATE bill_lines SET staff = 'broken' || staff WHERE bill_id = {kept_id}"),
        ))
        .await
        .unwrap();
    let (status, _) = app.get(&format!("{STAFF}/bills/{kept_id}"), &shop.owner).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
}
