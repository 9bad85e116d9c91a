//! What checkout reads, configured through the staff API: retail products and their stock, count-card products,
//! member levels, per-level prices, the merchant's loyalty settings and commission rules. Bad input writes
//! nothing, roles are enforced, another merchant's things are not found, and racing receipts and counts keep
//! stock equal to its movements.

use reqwest::StatusCode;
use serde_json::{Value, json};
use service::domain::Role;

use crate::support::{STAFF, TestApp, assert_error};

fn path(p: &str) -> String {
    format!("{STAFF}{p}")
}

/// The id of the demo service called `name`.
async fn service_id(app: &TestApp, token: &str, name: &str) -> i64 {
    let services = app.staff_ok(token, "/services").await;
    services.as_array().unwrap().iter().find(|s| s["name"] == name).expect("demo service")["id"].as_i64().unwrap()
}

fn ids(list: &Value) -> Vec<i64> {
    list.as_array().unwrap().iter().map(|v| v["id"].as_i64().unwrap()).collect()
}

async fn audit_actions(app: &TestApp, owner: &str) -> Vec<String> {
    app.staff_ok(owner, "/audit-log?limit=200")
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn products_are_created_searched_changed_and_bad_input_writes_nothing() {
    let app = TestApp::spawn().await;
    let manager = app.chain_manager().await;
    let cashier = app.token(Role::Cashier).await;
    let tech = app.token(Role::Technician).await;

    let body = json!({ "sku": "Keratin-01", "barcode": "6901234567892", "name": "角蛋白发膜", "category": "零售", "price_fen": 12_800 });
    let product = app.staff_created(&manager, "/products", body).await;
    let id = product["id"].as_i64().unwrap();
    assert_eq!(product["active"], true);
    assert_eq!(product["barcode"], "6901234567892");
    let other = app
        .staff_created(
            &manager,
            "/products",
            json!({ "sku": "COMB-9", "name": "宽齿梳", "category": "零售", "price_fen": 0 }),
        )
        .await;
    assert_eq!(other["barcode"], Value::Null);

    // The desk finds products by part of the SKU (any case), the name, or the exact barcode.
    assert_eq!(ids(&app.staff_ok(&cashier, "/products?q=keratin").await), vec![id]);
    assert!(ids(&app.staff_ok(&cashier, "/products?q=%E5%8F%91%E8%86%9C").await).contains(&id), "发膜");
    assert_eq!(ids(&app.staff_ok(&cashier, "/products?barcode=6901234567892").await), vec![id]);
    assert_eq!(ids(&app.staff_ok(&cashier, "/products?q=%25").await), Vec::<i64>::new(), "% is not a wildcard");
    let all = app.staff_ok(&cashier, "/products").await;
    assert!(ids(&all).contains(&id) && ids(&all).contains(&other["id"].as_i64().unwrap()));
    assert_error(
        &app.get(&path("/products?barcode=12"), &cashier).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    );

    // A second product with the same SKU is a conflict, on create and on rename.
    let dup = json!({ "sku": "Keratin-01", "name": "x", "category": "零售", "price_fen": 1 });
    assert_error(&app.post(&path("/products"), &manager, dup).await, StatusCode::CONFLICT, "sku_taken");
    assert_error(
        &app.patch(&path(&format!("/products/{}", other["id"])), &manager, json!({ "sku": "Keratin-01" })).await,
        StatusCode::CONFLICT,
        "sku_taken",
    );

    // Changes, and an explicit null removes the barcode.
    let (status, changed) = app
        .patch(
            &path(&format!("/products/{id}")),
            &manager,
            json!({ "price_fen": 13_800, "barcode": null, "active": false }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(
        (changed["price_fen"].as_i64(), changed["barcode"].clone(), changed["active"].clone()),
        (Some(13_800), Value::Null, json!(false))
    );
    assert_eq!(changed["sku"], "Keratin-01", "untouched fields stay");

    let before = app.count("products").await;
    let bad = [
        json!({ "name": "no sku", "category": "零售", "price_fen": 1 }),
        json!({ "sku": "", "name": "x", "category": "零售", "price_fen": 1 }),
        json!({ "sku": "has space", "name": "x", "category": "零售", "price_fen": 1 }),
        json!({ "sku": "B-1", "barcode": "1234567", "name": "x", "category": "零售", "price_fen": 1 }),
        json!({ "sku": "B-2", "barcode": "12345678901234a", "name": "x", "category": "零售", "price_fen": 1 }),
        json!({ "sku": "B-3", "name": "", "category": "零售", "price_fen": 1 }),
        json!({ "sku": "B-4", "name": "x".repeat(41), "category": "零售", "price_fen": 1 }),
        json!({ "sku": "B-5", "name": "x", "category": "零售", "price_fen": -1 }),
        json!({ "sku": "B-6", "name": "x", "category": "零售", "price_fen": 100_000_001 }),
        json!({ "sku": "B-7", "name": "x", "category": "", "price_fen": 1 }),
    ];
    for body in bad {
        assert_error(
            &app.post(&path("/products"), &manager, body.clone()).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        );
    }
    assert_error(
        &app.patch(&path(&format!("/products/{id}")), &manager, json!({ "price_fen": -5 })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    );
    assert_eq!(app.count("products").await, before);
    assert_eq!(
        app.staff_ok(&cashier, "/products?q=keratin").await[0]["price_fen"],
        13_800,
        "the bad PATCH changed nothing"
    );

    // The desk reads the catalog but doesn't change it; a technician doesn't see it.
    let body = json!({ "sku": "C-1", "name": "x", "category": "零售", "price_fen": 1 });
    assert_error(&app.post(&path("/products"), &cashier, body).await, StatusCode::FORBIDDEN, "forbidden");
    assert_error(
        &app.patch(&path(&format!("/products/{id}")), &cashier, json!({ "price_fen": 1 })).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_error(&app.get(&path("/products"), &tech).await, StatusCode::FORBIDDEN, "forbidden");
    assert_error(
        &app.patch(&path("/products/999999"), &manager, json!({ "price_fen": 1 })).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_eq!(app.count("products").await, before);
}

async fn new_product(app: &TestApp, manager: &str, sku: &str) -> i64 {
    app.staff_created(manager, "/products", json!({ "sku": sku, "name": sku, "category": "零售", "price_fen": 5_000 }))
        .await["id"]
        .as_i64()
        .unwrap()
}

async fn on_hand(app: &TestApp, token: &str, store: i64, product: i64) -> i64 {
    let stock = app.staff_ok(token, &format!("/stores/{store}/stock")).await;
    stock.as_array().unwrap().iter().find(|s| s["product_id"] == product).expect("listed")["on_hand"].as_i64().unwrap()
}

/// The sum of a product's stock movements at a store, straight from the database.
async fn movement_sum(app: &TestApp, store: i64, product: i64) -> i64 {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    entity::stock_movements::Entity::find()
        .filter(entity::stock_movements::Column::StoreId.eq(store))
        .filter(entity::stock_movements::Column::ProductId.eq(product))
        .all(&app.ctx.db)
        .await
        .unwrap()
        .iter()
        .map(|m| m.delta)
        .sum()
}

#[tokio::test]
async fn stock_is_received_counted_and_its_movements_listed() {
    let app = TestApp::spawn().await;
    let manager = app.chain_manager().await;
    let cashier = app.token(Role::Cashier).await;
    let tech = app.token(Role::Technician).await;
    let [store, far_store] = [app.seed.store_ids[0], app.seed.store_ids[1]];
    let product = new_product(&app, &manager, "SHAMPOO-1").await;
    assert_eq!(on_hand(&app, &cashier, store, product).await, 0, "never moved");

    let received = app
        .staff_created(
            &cashier,
            &format!("/stores/{store}/stock/receipts"),
            json!({ "product_id": product, "quantity": 10, "memo": "供应商 A 送货单 0012" }),
        )
        .await;
    assert_eq!(received["on_hand"], 10);
    assert_eq!(
        (received["movement"]["delta"].as_i64(), received["movement"]["reason"].as_str()),
        (Some(10), Some("receive"))
    );
    app.staff_created(
        &cashier,
        &format!("/stores/{store}/stock/receipts"),
        json!({ "product_id": product, "quantity": 2 }),
    )
    .await;
    let counted = app
        .staff_created(
            &cashier,
            &format!("/stores/{store}/stock/counts"),
            json!({ "product_id": product, "counted": 7, "memo": "月末盘点" }),
        )
        .await;
    assert_eq!(counted["on_hand"], 7);
    assert_eq!(
        (counted["movement"]["delta"].as_i64(), counted["movement"]["reason"].as_str()),
        (Some(-5), Some("adjust"))
    );
    // A count that agrees with the books is still on record.
    let agreed = app
        .staff_created(
            &cashier,
            &format!("/stores/{store}/stock/counts"),
            json!({ "product_id": product, "counted": 7 }),
        )
        .await;
    assert_eq!(agreed["movement"]["delta"], 0);
    assert_eq!(on_hand(&app, &cashier, store, product).await, 7);
    assert_eq!(on_hand(&app, &manager, store, product).await, movement_sum(&app, store, product).await);

    // Newest first, for one product, paged.
    let moves = app.staff_ok(&cashier, &format!("/stores/{store}/stock/movements?product_id={product}")).await;
    let deltas: Vec<i64> = moves.as_array().unwrap().iter().map(|m| m["delta"].as_i64().unwrap()).collect();
    assert_eq!(deltas, vec![0, -5, 2, 10]);
    assert_eq!(moves[3]["memo"], "供应商 A 送货单 0012");
    assert!(moves[0]["staff_id"].is_i64());
    let page = app
        .staff_ok(
            &cashier,
            &format!("/stores/{store}/stock/movements?product_id={product}&limit=2&before_id={}", moves[1]["id"]),
        )
        .await;
    assert_eq!(ids(&page), vec![moves[2]["id"].as_i64().unwrap(), moves[3]["id"].as_i64().unwrap()]);
    // The demo's opening stock is there too.
    let all = app.staff_ok(&cashier, &format!("/stores/{store}/stock/movements?limit=200")).await;
    assert!(all.as_array().unwrap().iter().any(|m| m["memo"] == "期初库存 (demo)"));

    // Bad input writes nothing.
    let (_, stranger_owner) = app.other_merchant().await;
    let foreign = new_product(&app, &stranger_owner, "FOREIGN-1").await;
    let movements_before = app.count("stock_movements").await;
    let receipts = format!("/stores/{store}/stock/receipts");
    let counts = format!("/stores/{store}/stock/counts");
    let bad = [
        (receipts.clone(), json!({ "product_id": product, "quantity": 0 })),
        (receipts.clone(), json!({ "product_id": product, "quantity": -3 })),
        (receipts.clone(), json!({ "product_id": product, "quantity": 1_000_001 })),
        (receipts.clone(), json!({ "product_id": product, "quantity": 1, "memo": "x".repeat(201) })),
        (receipts.clone(), json!({ "product_id": 999_999, "quantity": 1 })),
        (receipts.clone(), json!({ "product_id": foreign, "quantity": 1 })),
        (counts.clone(), json!({ "product_id": product, "counted": -1 })),
        (counts.clone(), json!({ "product_id": foreign, "counted": 3 })),
    ];
    for (p, body) in bad {
        assert_error(&app.post(&path(&p), &cashier, body).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    }
    assert_error(
        &app.get(&path(&format!("/stores/{store}/stock/movements?limit=0")), &cashier).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    );
    assert_eq!(app.count("stock_movements").await, movements_before);
    assert_eq!(on_hand(&app, &cashier, store, product).await, 7);

    // The cashier works at the first store only; technicians don't handle stock; nobody reaches a missing store.
    let far = [
        app.get(&path(&format!("/stores/{far_store}/stock")), &cashier).await,
        app.get(&path(&format!("/stores/{far_store}/stock/movements")), &cashier).await,
        app.post(
            &path(&format!("/stores/{far_store}/stock/receipts")),
            &cashier,
            json!({ "product_id": product, "quantity": 1 }),
        )
        .await,
        app.post(
            &path(&format!("/stores/{far_store}/stock/counts")),
            &cashier,
            json!({ "product_id": product, "counted": 1 }),
        )
        .await,
        app.post(&path("/stores/999999/stock/receipts"), &manager, json!({ "product_id": product, "quantity": 1 }))
            .await,
    ];
    for answer in &far {
        assert_error(answer, StatusCode::NOT_FOUND, "not_found");
    }
    assert_error(&app.get(&path(&format!("/stores/{store}/stock")), &tech).await, StatusCode::FORBIDDEN, "forbidden");
    assert_error(
        &app.post(&path(&receipts), &tech, json!({ "product_id": product, "quantity": 1 })).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_eq!(app.count("stock_movements").await, movements_before);
}

#[tokio::test]
async fn racing_receipts_and_counts_keep_stock_equal_to_its_movements() {
    let app = TestApp::spawn().await;
    let manager = app.chain_manager().await;
    let store = app.seed.store_ids[0];
    let product = new_product(&app, &manager, "RACE-1").await;
    let receipts = path(&format!("/stores/{store}/stock/receipts"));
    let counts = path(&format!("/stores/{store}/stock/counts"));

    // 20 receipts at once, 1 to 20 units: nothing is lost.
    let answers = futures_util::future::join_all(
        (1..=20).map(|n| app.post(&receipts, &manager, json!({ "product_id": product, "quantity": n }))),
    )
    .await;
    assert!(answers.iter().all(|(status, _)| *status == StatusCode::CREATED), "{answers:?}");
    assert_eq!(on_hand(&app, &manager, store, product).await, 210);
    assert_eq!(movement_sum(&app, store, product).await, 210);

    // 10 counts of 100 racing 10 receipts of 5: whatever the order, every count sets the stock to exactly 100 when
    // it commits (its difference was computed under the row lock), so the end is 100 plus the receipts after the
    // last count, and the books still add up.
    let counts_and_receipts = (0..20).map(|i| {
        let (p, body) = if i % 2 == 0 {
            (&counts, json!({ "product_id": product, "counted": 100 }))
        } else {
            (&receipts, json!({ "product_id": product, "quantity": 5 }))
        };
        app.post(p, &manager, body)
    });
    let answers = futures_util::future::join_all(counts_and_receipts).await;
    assert!(answers.iter().all(|(status, _)| *status == StatusCode::CREATED), "{answers:?}");
    let end = on_hand(&app, &manager, store, product).await;
    assert_eq!(end, movement_sum(&app, store, product).await);
    assert!((100..=150).contains(&end) && (end - 100) % 5 == 0, "{end}");
    let moves =
        app.staff_ok(&manager, &format!("/stores/{store}/stock/movements?product_id={product}&limit=200")).await;
    let moves = moves.as_array().unwrap();
    assert_eq!(moves.len(), 40);
    // Replaying the movements oldest first, every count lands on 100.
    let mut running = 0;
    for m in moves.iter().rev() {
        running += m["delta"].as_i64().unwrap();
        assert!(running >= 0);
        if m["reason"] == "adjust" {
            assert_eq!(running, 100, "a count's difference was computed from a stale read");
        }
    }
    assert_eq!(running, end);
}

#[tokio::test]
async fn count_card_products_are_configured_and_checked() {
    let app = TestApp::spawn().await;
    let manager = app.chain_manager().await;
    let cashier = app.token(Role::Cashier).await;
    let [wash, facial] = [service_id(&app, &manager, "洗剪吹").await, service_id(&app, &manager, "面部清洁").await];

    let body = json!({ "name": "洗护 + 护理 8 次", "price_fen": 48_000, "sessions": 8, "validity_days": 365, "service_item_ids": [wash, facial, wash] });
    let card = app.staff_created(&manager, "/card-products", body).await;
    let id = card["id"].as_i64().unwrap();
    assert_eq!(card["service_item_ids"], json!([wash, facial]), "duplicates dropped, order kept");
    assert_eq!(
        (card["sessions"].as_i64(), card["validity_days"].as_i64(), card["active"].as_bool()),
        (Some(8), Some(365), Some(true))
    );

    let (status, changed) = app
        .patch(&path(&format!("/card-products/{id}")), &manager, json!({ "validity_days": null, "sessions": 10 }))
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!((changed["validity_days"].clone(), changed["sessions"].as_i64()), (Value::Null, Some(10)));
    assert_eq!(changed["price_fen"], 48_000);

    let listed = app.staff_ok(&cashier, "/card-products").await;
    assert!(ids(&listed).contains(&id));
    assert!(listed.as_array().unwrap().iter().any(|c| c["name"] == "洗护10次卡"), "the demo's cards");

    let (_, stranger_owner) = app.other_merchant().await;
    let foreign_service = app
        .staff_created(
            &stranger_owner,
            "/services",
            json!({ "category": "x", "name": "x", "duration_min": 30, "price_fen": 100 }),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let before = app.count("card_products").await;
    let good = json!({ "name": "ok", "price_fen": 100, "sessions": 1, "service_item_ids": [wash] });
    let with = |key: &str, value: Value| {
        let mut body = good.clone();
        body[key] = value;
        body
    };
    let bad = [
        with("name", json!("")),
        with("name", json!("x".repeat(41))),
        with("price_fen", json!(0)),
        with("price_fen", json!(100_000_001)),
        with("sessions", json!(0)),
        with("sessions", json!(1001)),
        with("validity_days", json!(0)),
        with("validity_days", json!(3651)),
        with("service_item_ids", json!([])),
        with("service_item_ids", json!((0..21).map(|_| wash).collect::<Vec<_>>())),
        with("service_item_ids", json!([999_999])),
        with("service_item_ids", json!([foreign_service])),
        json!({ "name": "no sessions", "price_fen": 100, "service_item_ids": [wash] }),
    ];
    for body in bad {
        assert_error(
            &app.post(&path("/card-products"), &manager, body.clone()).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        );
    }
    assert_error(
        &app.patch(&path(&format!("/card-products/{id}")), &manager, json!({ "service_item_ids": [foreign_service] }))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    );
    assert_eq!(app.count("card_products").await, before);
    assert_eq!(
        app.staff_ok(&cashier, "/card-products").await.as_array().unwrap().iter().find(|c| c["id"] == id).unwrap()["service_item_ids"],
        json!([wash, facial])
    );

    assert_error(&app.post(&path("/card-products"), &cashier, good).await, StatusCode::FORBIDDEN, "forbidden");
    assert_error(
        &app.get(&path("/card-products"), &app.token(Role::Technician).await).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
}

#[tokio::test]
async fn levels_are_configured_priced_on_services_and_deleted_only_when_unused() {
    let app = TestApp::spawn().await;
    let owner = app.token(Role::Owner).await;
    let manager = app.chain_manager().await;
    let cashier = app.token(Role::Cashier).await;

    // The demo's levels come with their rules.
    let levels = app.staff_ok(&cashier, "/member-levels").await;
    let ranks: Vec<i64> = levels.as_array().unwrap().iter().map(|l| l["rank"].as_i64().unwrap()).collect();
    assert_eq!(ranks, vec![0, 1, 2]);
    assert_eq!(
        (levels[0]["discount_bp"].as_i64(), levels[0]["points_multiplier_pct"].as_i64()),
        (Some(10_000), Some(100))
    );
    assert_eq!(levels[2]["discount_bp"], 9_000);
    assert_eq!(levels[2]["category_discounts"], json!({ "护理": 8_500 }));

    let body = json!({ "name": "钻石会员", "rank": 3, "threshold_fen": 2_000_000, "discount_bp": 8_500, "category_discounts": { "美发": 8_000, " 零售 ": 9_500 }, "points_multiplier_pct": 200 });
    let diamond = app.staff_created(&owner, "/member-levels", body).await;
    let id = diamond["id"].as_i64().unwrap();
    assert_eq!(diamond["category_discounts"], json!({ "美发": 8_000, "零售": 9_500 }));
    let plain = app.staff_created(&owner, "/member-levels", json!({ "name": "体验会员", "rank": 10 })).await;
    assert_eq!(
        (plain["discount_bp"].as_i64(), plain["threshold_fen"].as_i64(), plain["points_multiplier_pct"].as_i64()),
        (Some(10_000), Some(0), Some(100))
    );
    let (status, changed) = app
        .patch(
            &path(&format!("/member-levels/{id}")),
            &owner,
            json!({ "discount_bp": 8_800, "category_discounts": {} }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(
        (changed["discount_bp"].as_i64(), changed["category_discounts"].clone(), changed["rank"].as_i64()),
        (Some(8_800), json!({}), Some(3))
    );

    // Ranks are unique per merchant.
    assert_error(
        &app.post(&path("/member-levels"), &owner, json!({ "name": "又一个", "rank": 3 })).await,
        StatusCode::CONFLICT,
        "rank_taken",
    );
    assert_error(
        &app.patch(&path(&format!("/member-levels/{id}")), &owner, json!({ "rank": 2 })).await,
        StatusCode::CONFLICT,
        "rank_taken",
    );

    let before = app.count("member_levels").await;
    let bad = [
        json!({ "rank": 20 }),
        json!({ "name": "x" }),
        json!({ "name": "", "rank": 20 }),
        json!({ "name": "x", "rank": -1 }),
        json!({ "name": "x", "rank": 20, "threshold_fen": -1 }),
        json!({ "name": "x", "rank": 20, "discount_bp": 999 }),
        json!({ "name": "x", "rank": 20, "discount_bp": 10_001 }),
        json!({ "name": "x", "rank": 20, "category_discounts": { "美发": 500 } }),
        json!({ "name": "x", "rank": 20, "category_discounts": { "": 9000 } }),
        json!({ "name": "x", "rank": 20, "category_discounts": (0..51).map(|i| (format!("c{i}"), json!(9000))).collect::<serde_json::Map<_, _>>() }),
        json!({ "name": "x", "rank": 20, "points_multiplier_pct": 1001 }),
        json!({ "name": "x", "rank": 20, "points_multiplier_pct": -1 }),
    ];
    for body in bad {
        assert_error(
            &app.post(&path("/member-levels"), &owner, body.clone()).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        );
    }
    assert_eq!(app.count("member_levels").await, before);

    // Only the owner sets levels.
    for token in [&manager, &cashier] {
        assert_error(
            &app.post(&path("/member-levels"), token, json!({ "name": "x", "rank": 30 })).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        );
        assert_error(
            &app.patch(&path(&format!("/member-levels/{id}")), token, json!({ "discount_bp": 1000 })).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        );
        assert_error(
            &app.delete(&path(&format!("/member-levels/{id}")), token).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        );
    }

    // A service priced per level.
    let cut = service_id(&app, &manager, "洗剪吹").await;
    let service = |list: Value| list.as_array().unwrap().iter().find(|s| s["id"] == cut).unwrap().clone();
    assert_eq!(service(app.staff_ok(&manager, "/services").await)["level_prices"], json!({}));
    let (status, priced) = app
        .patch(
            &path(&format!("/services/{cut}")),
            &manager,
            json!({ "level_prices": { id.to_string(): 5_000, plain["id"].to_string(): 6_000 } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{priced}");
    assert_eq!(priced["level_prices"], json!({ id.to_string(): 5_000, plain["id"].to_string(): 6_000 }));
    let (_, stranger_owner) = app.other_merchant().await;
    let foreign_level = app.staff_ok(&stranger_owner, "/member-levels").await[0]["id"].as_i64().unwrap();
    for prices in [
        json!({ foreign_level.to_string(): 100 }),
        json!({ id.to_string(): -1 }),
        json!({ id.to_string(): 100_000_001 }),
        json!({ "abc": 1 }),
    ] {
        assert_error(
            &app.patch(&path(&format!("/services/{cut}")), &manager, json!({ "level_prices": prices, "price_fen": 1 }))
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        );
    }
    let body = json!({ "category": "美发", "name": "造型", "duration_min": 30, "price_fen": 8_000, "level_prices": { foreign_level.to_string(): 100 } });
    let services_before = app.count("service_items").await;
    assert_error(
        &app.post(&path("/services"), &manager, body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    );
    assert_eq!(app.count("service_items").await, services_before);
    assert_eq!(
        service(app.staff_ok(&manager, "/services").await)["price_fen"],
        6_800,
        "the refused PATCH changed nothing"
    );

    // A level a member holds stays; an unused one goes, with its prices.
    let (_, member) = app.post(&path("/members"), &cashier, json!({ "phone": "13900007001" })).await;
    let (status, _) = app
        .put(
            &path(&format!("/members/{}/level", member["id"])),
            &owner,
            json!({ "level_id": id, "reason": "老客迁移" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_error(
        &app.delete(&path(&format!("/member-levels/{id}")), &owner).await,
        StatusCode::CONFLICT,
        "level_in_use",
    );
    let (status, _) = app.delete(&path(&format!("/member-levels/{}", plain["id"])), &owner).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_error(
        &app.delete(&path(&format!("/member-levels/{}", plain["id"])), &owner).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert!(!ids(&app.staff_ok(&cashier, "/member-levels").await).contains(&plain["id"].as_i64().unwrap()));
    assert_eq!(service(app.staff_ok(&manager, "/services").await)["level_prices"], json!({ id.to_string(): 5_000 }));
    // The member sees their level's rules.
    let (_, read) = app.get(&path(&format!("/members/{}", member["id"])), &cashier).await;
    assert_eq!(
        (read["level"]["name"].as_str(), read["level"]["discount_bp"].as_i64()),
        (Some("钻石会员"), Some(8_800))
    );

    let actions = audit_actions(&app, &owner).await;
    for action in ["member_level.created", "member_level.updated", "member_level.deleted"] {
        assert!(actions.iter().any(|a| a == action), "{action} in {actions:?}");
    }
}

#[tokio::test]
async fn loyalty_settings_are_read_changed_and_audited() {
    let app = TestApp::spawn().await;
    let owner = app.token(Role::Owner).await;
    let manager = app.token(Role::Manager).await;

    let settings = app.staff_ok(&manager, "/merchant/loyalty").await;
    assert_eq!(
        settings,
        json!({
            "points_per_yuan": 1, "points_per_yuan_offset": 100, "points_validity_days": 365,
            "points_excluded_categories": [], "level_basis": "spend", "level_downgrade": "never",
            "confirm_threshold_fen": null, "breakage_policy": "never",
        })
    );
    let change = json!({
        "points_per_yuan": 2, "points_per_yuan_offset": 0, "points_validity_days": 730,
        "points_excluded_categories": ["次卡", " 零售 ", "次卡"], "level_basis": "recharge", "level_downgrade": "annual",
        "confirm_threshold_fen": 50_000,
    });
    let (status, changed) = app.patch(&path("/merchant/loyalty"), &owner, change).await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["points_excluded_categories"], json!(["次卡", "零售"]));
    assert_eq!(
        (changed["confirm_threshold_fen"].as_i64(), changed["level_basis"].as_str()),
        (Some(50_000), Some("recharge"))
    );

    // Leaving a field out keeps it; null turns confirmation off.
    let (status, changed) = app.patch(&path("/merchant/loyalty"), &owner, json!({ "points_per_yuan": 3 })).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (changed["points_per_yuan"].as_i64(), changed["confirm_threshold_fen"].as_i64()),
        (Some(3), Some(50_000))
    );
    let (_, changed) = app.patch(&path("/merchant/loyalty"), &owner, json!({ "confirm_threshold_fen": null })).await;
    assert_eq!(changed["confirm_threshold_fen"], Value::Null);
    assert_eq!(changed["points_validity_days"], 730);
    let (status, same) = app.patch(&path("/merchant/loyalty"), &owner, json!({})).await;
    assert_eq!((status, same.clone()), (StatusCode::OK, changed.clone()), "an empty change changes nothing");

    let bad = [
        json!({ "points_per_yuan": -1 }),
        json!({ "points_per_yuan": 101 }),
        json!({ "points_per_yuan_offset": 100_001 }),
        json!({ "points_validity_days": 0 }),
        json!({ "points_validity_days": 3651 }),
        json!({ "points_excluded_categories": [""] }),
        json!({ "points_excluded_categories": ["x".repeat(41)] }),
        json!({ "points_excluded_categories": (0..51).map(|i| format!("c{i}")).collect::<Vec<_>>() }),
        json!({ "level_basis": "visits" }),
        json!({ "level_downgrade": "monthly" }),
        json!({ "confirm_threshold_fen": -1 }),
        json!({ "confirm_threshold_fen": 100_000_001 }),
        // One bad field refuses the whole change.
        json!({ "points_per_yuan": 5, "level_basis": "visits" }),
    ];
    for body in bad {
        assert_error(
            &app.patch(&path("/merchant/loyalty"), &owner, body.clone()).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        );
    }
    assert_error(
        &app.patch(&path("/merchant/loyalty"), &manager, json!({ "points_per_yuan": 5 })).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_eq!(app.staff_ok(&manager, "/merchant/loyalty").await, changed, "nothing changed");

    let actions = audit_actions(&app, &owner).await;
    assert_eq!(actions.iter().filter(|a| *a == "merchant.loyalty_updated").count(), 4);
}

#[tokio::test]
async fn commission_rules_are_configured_and_checked() {
    let app = TestApp::spawn().await;
    let owner = app.token(Role::Owner).await;
    let manager = app.chain_manager().await;
    let cashier = app.token(Role::Cashier).await;
    let perm = service_id(&app, &manager, "烫发").await;
    let product = new_product(&app, &manager, "RULE-P").await;
    let card_product = app.staff_ok(&cashier, "/card-products").await[0]["id"].as_i64().unwrap();

    // The demo's rules: 美发 services tiered by monthly sales, and each count card.
    let demo = app.staff_ok(&manager, "/commission-rules").await;
    assert_eq!(demo.as_array().unwrap().len(), 3);
    assert_eq!(demo[0]["tiers"].as_array().unwrap().len(), 3);

    let tiered = json!({ "line_kind": "service", "item_id": perm, "mode": "percent", "tiers": [{ "from_fen": 0, "value": 800 }, { "from_fen": 3_000_000, "value": 1_200 }] });
    let rule = app.staff_created(&owner, "/commission-rules", tiered).await;
    let id = rule["id"].as_i64().unwrap();
    assert_eq!(
        (rule["item_id"].as_i64(), rule["category"].clone(), rule["active"].as_bool()),
        (Some(perm), Value::Null, Some(true))
    );
    app.staff_created(&owner, "/commission-rules", json!({ "line_kind": "product", "item_id": product, "mode": "fixed", "tiers": [{ "from_fen": 0, "value": 500 }] })).await;
    app.staff_created(
        &owner,
        "/commission-rules",
        json!({ "line_kind": "recharge", "mode": "percent", "tiers": [{ "from_fen": 0, "value": 100 }] }),
    )
    .await;
    app.staff_created(&owner, "/commission-rules", json!({ "line_kind": "product", "category": "零售", "mode": "percent", "tiers": [{ "from_fen": 0, "value": 300 }] })).await;

    // A second active rule for the same thing is refused; deactivated, it no longer counts.
    let same =
        json!({ "line_kind": "service", "item_id": perm, "mode": "fixed", "tiers": [{ "from_fen": 0, "value": 1 }] });
    assert_error(
        &app.post(&path("/commission-rules"), &owner, same.clone()).await,
        StatusCode::CONFLICT,
        "rule_exists",
    );
    let (status, off) = app.patch(&path(&format!("/commission-rules/{id}")), &owner, json!({ "active": false })).await;
    assert_eq!((status, off["active"].clone()), (StatusCode::OK, json!(false)));
    let replacement = app.staff_created(&owner, "/commission-rules", same).await;
    assert_error(
        &app.patch(&path(&format!("/commission-rules/{id}")), &owner, json!({ "active": true })).await,
        StatusCode::CONFLICT,
        "rule_exists",
    );

    // An edit is checked as a whole: moving the item rule to `recharge` or adding a category to it is refused.
    let rid = replacement["id"].as_i64().unwrap();
    for change in [
        json!({ "line_kind": "recharge" }),
        json!({ "category": "美发" }),
        json!({ "item_id": 999_999 }),
        json!({ "mode": "percent", "tiers": [{ "from_fen": 0, "value": 10_001 }] }),
    ] {
        assert_error(
            &app.patch(&path(&format!("/commission-rules/{rid}")), &owner, change).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        );
    }
    let (status, moved) = app
        .patch(&path(&format!("/commission-rules/{rid}")), &owner, json!({ "item_id": null, "category": "烫染" }))
        .await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert_eq!((moved["item_id"].clone(), moved["category"].as_str()), (Value::Null, Some("烫染")));

    let (_, stranger_owner) = app.other_merchant().await;
    let foreign_product = new_product(&app, &stranger_owner, "FOREIGN-P").await;
    let before = app.count("commission_rules").await;
    let tier = json!([{ "from_fen": 0, "value": 100 }]);
    let bad = [
        json!({ "line_kind": "tips", "mode": "percent", "tiers": tier }),
        json!({ "line_kind": "service", "mode": "share", "tiers": tier }),
        json!({ "line_kind": "service", "tiers": tier }),
        json!({ "line_kind": "service", "mode": "percent" }),
        json!({ "line_kind": "service", "mode": "percent", "tiers": [] }),
        json!({ "line_kind": "service", "mode": "percent", "tiers": [{ "from_fen": 100, "value": 100 }] }),
        json!({ "line_kind": "service", "mode": "percent", "tiers": [{ "from_fen": 0, "value": 100 }, { "from_fen": 0, "value": 200 }] }),
        json!({ "line_kind": "service", "mode": "percent", "tiers": [{ "from_fen": 0, "value": 100 }, { "from_fen": 500, "value": 200 }, { "from_fen": 400, "value": 300 }] }),
        json!({ "line_kind": "service", "mode": "percent", "tiers": (0..11).map(|i| json!({ "from_fen": i * 100, "value": 1 })).collect::<Vec<_>>() }),
        json!({ "line_kind": "service", "mode": "percent", "tiers": [{ "from_fen": 0, "value": 10_001 }] }),
        json!({ "line_kind": "service", "mode": "fixed", "tiers": [{ "from_fen": 0, "value": 100_000_001 }] }),
        json!({ "line_kind": "service", "mode": "fixed", "tiers": [{ "from_fen": 0, "value": -1 }] }),
        json!({ "line_kind": "service", "item_id": 999_999, "mode": "fixed", "tiers": tier }),
        json!({ "line_kind": "product", "item_id": 999_999, "mode": "fixed", "tiers": tier }),
        json!({ "line_kind": "product", "item_id": foreign_product, "mode": "fixed", "tiers": tier }),
        json!({ "line_kind": "card_sale", "item_id": 999_999, "mode": "fixed", "tiers": tier }),
        json!({ "line_kind": "recharge", "item_id": card_product, "mode": "fixed", "tiers": tier }),
        json!({ "line_kind": "service", "item_id": perm, "category": "美发", "mode": "fixed", "tiers": tier }),
        json!({ "line_kind": "service", "category": "", "mode": "fixed", "tiers": tier }),
    ];
    for body in bad {
        assert_error(
            &app.post(&path("/commission-rules"), &owner, body.clone()).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        );
    }
    assert_eq!(app.count("commission_rules").await, before);

    // Managers read everyone's commission, so they see the rules, but only the owner sets them; the desk does neither.
    assert_eq!(app.staff_ok(&manager, "/commission-rules").await.as_array().unwrap().len(), 8);
    let fine = json!({ "line_kind": "card_sale", "mode": "fixed", "tiers": tier });
    assert_error(
        &app.post(&path("/commission-rules"), &manager, fine.clone()).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_error(
        &app.patch(&path(&format!("/commission-rules/{rid}")), &manager, json!({ "active": false })).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_error(&app.get(&path("/commission-rules"), &cashier).await, StatusCode::FORBIDDEN, "forbidden");
    assert_error(&app.post(&path("/commission-rules"), &cashier, fine).await, StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(app.count("commission_rules").await, before);
    assert!(audit_actions(&app, &owner).await.iter().any(|a| a == "commission_rule.updated"));
}

#[tokio::test]
async fn another_merchant_neither_sees_nor_changes_our_configuration() {
    let app = TestApp::spawn().await;
    let owner = app.token(Role::Owner).await;
    let store = app.seed.store_ids[0];
    let product = app.staff_ok(&owner, "/products").await[0]["id"].as_i64().unwrap();
    let card = app.staff_ok(&owner, "/card-products").await[0]["id"].as_i64().unwrap();
    let level = app.staff_ok(&owner, "/member-levels").await[1]["id"].as_i64().unwrap();
    let rule = app.staff_ok(&owner, "/commission-rules").await[0]["id"].as_i64().unwrap();
    let (_, other) = app.other_merchant().await;

    let not_found = [
        app.patch(&path(&format!("/products/{product}")), &other, json!({ "price_fen": 1 })).await,
        app.patch(&path(&format!("/card-products/{card}")), &other, json!({ "price_fen": 1 })).await,
        app.patch(&path(&format!("/member-levels/{level}")), &other, json!({ "discount_bp": 1000 })).await,
        app.delete(&path(&format!("/member-levels/{level}")), &other).await,
        app.patch(&path(&format!("/commission-rules/{rule}")), &other, json!({ "active": false })).await,
        app.get(&path(&format!("/stores/{store}/stock")), &other).await,
        app.get(&path(&format!("/stores/{store}/stock/movements")), &other).await,
        app.post(
            &path(&format!("/stores/{store}/stock/receipts")),
            &other,
            json!({ "product_id": product, "quantity": 1 }),
        )
        .await,
        app.post(
            &path(&format!("/stores/{store}/stock/counts")),
            &other,
            json!({ "product_id": product, "counted": 0 }),
        )
        .await,
    ];
    for answer in &not_found {
        assert_error(answer, StatusCode::NOT_FOUND, "not_found");
    }
    // Their own store cannot take in our product either.
    let (_, their_store) =
        app.post(&path("/stores"), &other, json!({ "name": "Other store", "address": "x", "phone": "021-1" })).await;
    assert_error(
        &app.post(
            &path(&format!("/stores/{}/stock/receipts", their_store["id"])),
            &other,
            json!({ "product_id": product, "quantity": 1 }),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    );
    for p in ["/products", "/card-products", "/commission-rules"] {
        assert_eq!(app.staff_ok(&other, p).await, json!([]), "{p}");
    }
    assert_eq!(app.staff_ok(&other, "/member-levels").await.as_array().unwrap().len(), 1, "their own default level");
    assert_eq!(app.staff_ok(&other, &format!("/stores/{}/stock", their_store["id"])).await, json!([]));

    // Ours are as they were.
    let ours = app.staff_ok(&owner, "/products").await;
    assert_ne!(ours[0]["price_fen"], 1);
    assert_eq!(app.staff_ok(&owner, "/commission-rules").await[0]["active"], true);
    assert_eq!(app.staff_ok(&owner, "/member-levels").await[1]["discount_bp"], 9_500);
}

/// The audit entries for `target` (kind and id), oldest first: (action, detail).
async fn audited(app: &TestApp, owner: &str, kind: &str, id: &Value) -> Vec<(String, Value)> {
    let log = app.staff_ok(owner, "/audit-log?limit=200").await;
    let mut entries: Vec<(String, Value)> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["target_kind"] == kind && &e["target_id"] == id)
        .map(|e| (e["action"].as_str().unwrap().to_owned(), e["detail"].clone()))
        .collect();
    entries.reverse();
    entries
}

#[tokio::test]
async fn every_price_catalog_bill_and_bridge_change_is_audited_with_what_it_changed() {
    let app = TestApp::spawn().await;
    let owner = app.token(Role::Owner).await;
    let cashier = app.token(Role::Cashier).await;
    let store = app.seed.store_ids[0];
    let actions = |entries: &[(String, Value)]| entries.iter().map(|(a, _)| a.clone()).collect::<Vec<_>>();

    // A service's price change names the old and the new price.
    let body = json!({ "category": "美发", "name": "审计剪发", "duration_min": 30, "price_fen": 8_800 });
    let cut = app.staff_created(&owner, "/services", body).await["id"].clone();
    app.patch(&path(&format!("/services/{cut}")), &owner, json!({ "price_fen": 9_800 })).await;
    let entries = audited(&app, &owner, "service", &cut).await;
    assert_eq!(actions(&entries), ["service.created", "service.updated"]);
    assert_eq!((entries[0].1["name"].clone(), entries[0].1["price_fen"].clone()), (json!("审计剪发"), json!(8_800)));
    assert_eq!(entries[1].1, json!({ "price_fen": [8_800, 9_800] }));

    let body = json!({ "sku": "AUD-1", "name": "发蜡", "category": "零售", "price_fen": 5_000 });
    let product = app.staff_created(&owner, "/products", body).await["id"].clone();
    app.patch(&path(&format!("/products/{product}")), &owner, json!({ "price_fen": 4_500, "name": "定型发蜡" })).await;
    let entries = audited(&app, &owner, "product", &product).await;
    assert_eq!(actions(&entries), ["product.created", "product.updated"]);
    assert_eq!(entries[1].1, json!({ "price_fen": [5_000, 4_500], "name": ["发蜡", "定型发蜡"] }));

    let body = json!({ "name": "审计3次卡", "price_fen": 20_000, "sessions": 3, "service_item_ids": [cut] });
    let card = app.staff_created(&owner, "/card-products", body).await["id"].clone();
    app.patch(&path(&format!("/card-products/{card}")), &owner, json!({ "price_fen": 18_000 })).await;
    let entries = audited(&app, &owner, "card_product", &card).await;
    assert_eq!(actions(&entries), ["card_product.created", "card_product.updated"]);
    assert_eq!(entries[1].1, json!({ "price_fen": [20_000, 18_000] }));

    let plan = app
        .staff_created(&owner, "/recharge-plans", json!({ "name": "充500送50", "pay_fen": 50_000, "bonus_fen": 5_000 }))
        .await["id"]
        .clone();
    app.patch(&path(&format!("/recharge-plans/{plan}")), &owner, json!({ "bonus_fen": 8_000 })).await;
    let entries = audited(&app, &owner, "recharge_plan", &plan).await;
    assert_eq!(actions(&entries), ["recharge_plan.created", "recharge_plan.updated"]);
    assert_eq!(entries[1].1, json!({ "bonus_fen": [5_000, 8_000] }));

    // A parked bill: parked, raised by an edit (old and new total), voided with its reason.
    let park =
        json!({ "store_id": store, "park": true, "idempotency_key": "audit-park-1", "lines": [{ "item_id": cut }] });
    let bill = app.staff_created(&cashier, "/bills", park).await["id"].clone();
    let edit = json!({ "store_id": store, "lines": [{ "item_id": cut }, { "item_id": cut }] });
    let (status, _) = app.put(&path(&format!("/bills/{bill}")), &cashier, edit).await;
    assert_eq!(status, StatusCode::OK);
    app.staff_posted(&owner, &format!("/bills/{bill}/void"), json!({ "reason": "客人走了" })).await;
    let entries = audited(&app, &owner, "bill", &bill).await;
    assert_eq!(actions(&entries), ["bill.parked", "bill.edited", "bill.voided"]);
    assert_eq!(entries[1].1["total_fen"], json!([9_800, 19_600]));
    assert_eq!(entries[1].1["lines"], json!([1, 2]));

    // A settled bill refunded in part, then reversed.
    let receipt = json!({ "product_id": product, "quantity": 2, "memo": "进货" });
    app.staff_created(&owner, &format!("/stores/{store}/stock/receipts"), receipt).await;
    let sale = json!({ "store_id": store, "idempotency_key": "audit-sale-1", "lines": [{ "item_id": cut }, { "kind": "product", "item_id": product }], "tenders": [{ "kind": "cash", "amount_fen": 14_300 }] });
    let settled = app.staff_created(&cashier, "/bills", sale).await;
    let line = settled["lines"][1]["id"].clone();
    let refund =
        json!({ "lines": [{ "line_id": line, "quantity": 1 }], "reason": "退货", "idempotency_key": "audit-refund-1" });
    let refunded = app.staff_created(&owner, &format!("/bills/{}/refunds", settled["id"]), refund).await;
    let reverse = json!({ "reason": "收错了", "idempotency_key": "audit-reverse-1" });
    let reversed = app.staff_created(&owner, &format!("/bills/{}/reverse", settled["id"]), reverse).await;
    let entries = audited(&app, &owner, "bill", &settled["id"]).await;
    assert_eq!(actions(&entries), ["bill.refunded", "bill.reversed"]);
    assert_eq!(
        (entries[0].1["refund_id"].clone(), entries[0].1["reason"].clone()),
        (refunded["id"].clone(), json!("退货"))
    );
    assert_eq!(entries[1].1["refund_id"], reversed["id"]);

    // The store's bridge and printers, each change with the change itself.
    let device =
        app.staff_created(&owner, &format!("/stores/{store}/bridge-devices"), json!({ "name": "前台电脑" })).await;
    let device = device["device"]["id"].clone();
    app.staff_posted(&owner, &format!("/bridge-devices/{device}/revoke"), json!({})).await;
    assert_eq!(
        actions(&audited(&app, &owner, "bridge_device", &device).await),
        ["bridge.device_created", "bridge.device_revoked"]
    );
    let printer = json!({ "name": "前台", "address": "192.168.1.50:9100", "paper_mm": 58 });
    let printer = app.staff_created(&owner, &format!("/stores/{store}/printers"), printer).await["id"].clone();
    app.patch(&path(&format!("/printers/{printer}")), &owner, json!({ "paper_mm": 80, "drawer": true })).await;
    let entries = audited(&app, &owner, "printer", &printer).await;
    assert_eq!(actions(&entries), ["bridge.printer_added", "bridge.printer_changed"]);
    assert_eq!(entries[0].1["address"], "192.168.1.50:9100");
    assert_eq!(entries[1].1, json!({ "paper_mm": [58, 80], "drawer": [false, true] }));
}
