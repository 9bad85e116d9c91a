//! Several coupons on one bill: only coupons that each say they combine, one per template, applied in a fixed order
//! whatever order the cashier picked them in, used together or not at all, and given back together.

use std::collections::HashMap;

use reqwest::StatusCode;
use serde_json::{Value, json};

use service::domain::Role;

use crate::support::{STAFF, TestApp, assert_error, ok};

/// A member of the demo merchant holding one coupon of each template in `templates` (by name), and the wash's id.
async fn member_holding(app: &TestApp, phone: &str, templates: &[Value]) -> (i64, HashMap<String, i64>, i64) {
    let owner = app.token(Role::Owner).await;
    let cashier = app.token(Role::Cashier).await;
    let member = app.new_member(&cashier, phone).await;
    for (index, body) in templates.iter().enumerate() {
        let template = app.staff_created(&owner, "/coupon-templates", body.clone()).await;
        let grant = json!({ "member_ids": [member], "idempotency_key": format!("stack-{phone}-{index}") });
        ok(app.post(&format!("{STAFF}/coupon-templates/{}/grants", template["id"]), &owner, grant).await);
    }
    let held = app.staff_ok(&cashier, &format!("/members/{member}/coupons")).await;
    let ids = held
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["terms"]["name"].as_str().unwrap().to_owned(), c["id"].as_i64().unwrap()));
    let services = app.staff_ok(&cashier, "/services").await;
    let wash = services.as_array().unwrap().iter().find(|s| s["name"] == "洗剪吹").unwrap()["id"].as_i64().unwrap();
    (member, ids.collect(), wash)
}

fn twenty_off(name: &str, stacks: bool) -> Value {
    json!({ "name": name, "kind": "amount", "value_fen": 2000, "valid_days": 30, "stacks_with_coupons": stacks })
}

fn ninety_percent() -> Value {
    json!({ "name": "九折券", "kind": "percent", "rate_bp": 9000, "valid_days": 30, "stacks_with_coupons": true })
}

async fn states(app: &TestApp, member: i64) -> HashMap<i64, String> {
    let cashier = app.token(Role::Cashier).await;
    let held = app.staff_ok(&cashier, &format!("/members/{member}/coupons")).await;
    held.as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_i64().unwrap(), c["state"].as_str().unwrap().to_owned()))
        .collect()
}

fn draft(app: &TestApp, member: i64, wash: i64, coupons: &[i64]) -> Value {
    json!({ "store_id": app.seed.store_ids[0], "member_id": member, "coupon_ids": coupons, "lines": [{ "item_id": wash }] })
}

#[tokio::test]
async fn coupons_that_combine_share_a_bill_in_a_fixed_order_and_come_back_together() {
    let app = TestApp::spawn().await;
    let cashier = app.token(Role::Cashier).await;
    let manager = app.token(Role::Manager).await;
    let owner = app.token(Role::Owner).await;
    let (member, held, wash) =
        member_holding(&app, "13900004001", &[ninety_percent(), twenty_off("叠加 20 元券", true)]).await;
    let (twenty, ninety) = (held["叠加 20 元券"], held["九折券"]);

    assert!(ninety < twenty, "the percentage has the lower id: the order applied is not the order of ids");
    // Named percentage first, applied last: 9折 of what is left after the ￥20.
    let quote = app.staff_posted(&cashier, "/bills/preview", draft(&app, member, wash, &[ninety, twenty])).await;
    let after_level = quote["subtotal_fen"].as_i64().unwrap() - quote["discount_fen"].as_i64().unwrap();
    let left = after_level - 2000;
    let tenth = left - (left * 9000 + 5000) / 10_000;
    let steps = quote["steps"].as_array().unwrap();
    let coupon_steps: Vec<(&str, i64)> = steps
        .iter()
        .filter(|s| s["step"] == "coupon")
        .map(|s| (s["explanation"].as_str().unwrap(), s["amount_fen"].as_i64().unwrap()))
        .collect();
    assert_eq!(coupon_steps.len(), 2, "{quote}");
    assert!(coupon_steps[0].0.starts_with("叠加 20 元券") && coupon_steps[1].0.starts_with("九折券"), "{quote}");
    assert_eq!((coupon_steps[0].1, coupon_steps[1].1), (-2000, -tenth));
    let stepped: i64 = steps.iter().filter(|s| s["step"] != "total").map(|s| s["amount_fen"].as_i64().unwrap()).sum();
    assert_eq!(stepped, quote["total_fen"].as_i64().unwrap(), "the steps add up to the total");
    let total = quote["total_fen"].as_i64().unwrap();
    assert_eq!(total, after_level - 2000 - tenth);

    let mut body = draft(&app, member, wash, &[twenty, ninety]);
    body["idempotency_key"] = json!("stack-bill-1");
    body["tenders"] = json!([{ "kind": "cash", "amount_fen": total }]);
    let settled = app.staff_posted(&cashier, "/bills", body).await;
    let used: Vec<(i64, i64)> = settled["coupons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["coupon_id"].as_i64().unwrap(), c["off_fen"].as_i64().unwrap()))
        .collect();
    assert_eq!(used, [(twenty, 2000), (ninety, tenth)]);
    assert_eq!(settled["coupon_fen"], 2000 + tenth);
    let lines_took: i64 = settled["lines"].as_array().unwrap().iter().map(|l| l["coupon_fen"].as_i64().unwrap()).sum();
    assert_eq!(lines_took, 2000 + tenth);
    let after = states(&app, member).await;
    assert_eq!((after[&twenty].as_str(), after[&ninety].as_str()), ("used", "used"));
    // Read back, the bill names the same coupons.
    let read = app.staff_ok(&cashier, &format!("/bills/{}", settled["id"])).await;
    assert_eq!(read["coupons"], settled["coupons"]);

    // Each template's report counts what its own coupon took off, and the bill's revenue.
    let held_now = app.staff_ok(&cashier, &format!("/members/{member}/coupons")).await;
    for coupon in held_now.as_array().unwrap() {
        let report = app.staff_ok(&owner, &format!("/coupon-templates/{}/report", coupon["template_id"])).await;
        let took = if coupon["id"] == twenty { 2000 } else { tenth };
        assert_eq!(
            (report["bills"].as_u64(), report["discount_fen"].as_i64(), report["revenue_fen"].as_i64()),
            (Some(1), Some(took), Some(total)),
            "{report}"
        );
    }

    let reverse = json!({ "reason": "顾客取消", "idempotency_key": "stack-reverse-1" });
    app.staff_posted(&manager, &format!("/bills/{}/reverse", settled["id"]), reverse).await;
    let after = states(&app, member).await;
    assert_eq!((after[&twenty].as_str(), after[&ninety].as_str()), ("usable", "usable"), "both come back");
    let log = app.staff_ok(&owner, "/audit-log?limit=5").await;
    let reversal = log.as_array().unwrap().iter().find(|e| e["action"] == "bill.reversed").unwrap();
    assert_eq!(reversal["detail"]["coupons_given_back"], 2, "{reversal}");
    let read = app.staff_ok(&cashier, &format!("/bills/{}", settled["id"])).await;
    assert_eq!(read["coupons"], settled["coupons"], "the reversed bill keeps its history");
    app.assert_ledger_balanced().await;
}

#[tokio::test]
async fn coupons_that_may_not_share_a_bill_are_refused_and_nothing_is_written() {
    let app = TestApp::spawn().await;
    let cashier = app.token(Role::Cashier).await;
    let owner = app.token(Role::Owner).await;
    let (member, held, wash) = member_holding(
        &app,
        "13900004002",
        &[
            json!({ "name": "叠加 100 元券", "kind": "amount", "value_fen": 10_000, "valid_days": 30, "stacks_with_coupons": true }),
            twenty_off("叠加 20 元券", true),
            twenty_off("独享 20 元券", false),
            ninety_percent(),
        ],
    )
    .await;
    let (hundred, twenty, alone, ninety) =
        (held["叠加 100 元券"], held["叠加 20 元券"], held["独享 20 元券"], held["九折券"]);
    // A second coupon of the same template.
    let template = app.staff_ok(&cashier, &format!("/members/{member}/coupons")).await;
    let twenty_template =
        template.as_array().unwrap().iter().find(|c| c["id"] == twenty).unwrap()["template_id"].clone();
    let grant = json!({ "member_ids": [member], "idempotency_key": "stack-second-twenty" });
    ok(app.post(&format!("{STAFF}/coupon-templates/{twenty_template}/grants"), &owner, grant).await);
    let now_held = states(&app, member).await;
    let second_twenty = *now_held.keys().find(|id| ![hundred, twenty, alone, ninety].contains(id)).unwrap();

    let path = format!("{STAFF}/bills/preview");
    let refused = [
        vec![twenty, alone],
        vec![alone, ninety],
        vec![twenty, second_twenty],
        vec![twenty, twenty],
        vec![twenty, ninety, alone, second_twenty, 1, 2],
        // The ￥100 takes the whole ￥68 wash first: the ￥20 would be used up for nothing.
        vec![twenty, hundred],
    ];
    for (index, coupons) in refused.iter().enumerate() {
        let answer = app.post(&path, &cashier, draft(&app, member, wash, coupons)).await;
        assert_error(&answer, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
        // Parking them is refused as well, holding none.
        let mut park = draft(&app, member, wash, coupons);
        park["idempotency_key"] = json!(format!("stack-refused-{index}"));
        park["park"] = json!(true);
        let answer = app.post(&format!("{STAFF}/bills"), &cashier, park).await;
        assert_error(&answer, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    }
    let message = app.post(&path, &cashier, draft(&app, member, wash, &[twenty, alone])).await.1;
    assert!(message["message"].as_str().unwrap().contains("独享 20 元券"), "{message}");
    let message = app.post(&path, &cashier, draft(&app, member, wash, &[hundred, twenty])).await.1;
    assert!(message["message"].as_str().unwrap().contains("叠加 20 元券"), "{message}");
    assert_eq!(app.count("bills").await, 0);
    assert_eq!(app.count("bill_coupons").await, 0);
    assert!(states(&app, member).await.values().all(|s| s == "usable"));
    // Alone, the coupon that does not combine is fine.
    assert_eq!(
        app.staff_posted(&cashier, "/bills/preview", draft(&app, member, wash, &[alone])).await["coupon_fen"],
        2000
    );
}

#[tokio::test]
async fn bills_racing_for_a_shared_coupon_use_all_of_theirs_or_none() {
    let app = TestApp::spawn().await;
    let cashier = app.token(Role::Cashier).await;
    let (member, held, wash) = member_holding(
        &app,
        "13900004003",
        &[twenty_off("叠加 20 元券", true), twenty_off("叠加 20 元券 B", true), twenty_off("叠加 20 元券 C", true)],
    )
    .await;
    let (shared, b, c) = (held["叠加 20 元券"], held["叠加 20 元券 B"], held["叠加 20 元券 C"]);
    let total =
        app.staff_posted(&cashier, "/bills/preview", draft(&app, member, wash, &[shared, b])).await["total_fen"]
            .as_i64()
            .unwrap();
    let bodies: Vec<Value> = (0..20)
        .map(|i| {
            let mut body = draft(&app, member, wash, &[shared, if i % 2 == 0 { b } else { c }]);
            body["idempotency_key"] = json!(format!("stack-race-{i:04}"));
            body["tenders"] = json!([{ "kind": "cash", "amount_fen": total }]);
            body
        })
        .collect();
    let path = format!("{STAFF}/bills");
    let answers = futures_util::future::join_all(bodies.into_iter().map(|body| app.post(&path, &cashier, body))).await;
    let settled: Vec<&Value> = answers.iter().filter(|(s, _)| *s == StatusCode::CREATED).map(|(_, b)| b).collect();
    assert_eq!(settled.len(), 1, "the shared coupon pays for one bill");
    for (status, body) in answers.iter().filter(|(status, _)| *status != StatusCode::CREATED) {
        assert_eq!((*status, body["code"].as_str()), (StatusCode::CONFLICT, Some("coupon_unusable")), "{body}");
    }
    let winner_other = settled[0]["coupons"][1]["coupon_id"].as_i64().unwrap();
    let loser_other = if winner_other == b { c } else { b };
    let after = states(&app, member).await;
    assert_eq!(
        (after[&shared].as_str(), after[&winner_other].as_str(), after[&loser_other].as_str()),
        ("used", "used", "usable"),
        "a losing bill uses none of its coupons"
    );
    assert_eq!((app.count("bills").await, app.count("bill_coupons").await), (1, 2));
    app.assert_ledger_balanced().await;
}
