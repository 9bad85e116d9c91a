//! The money spine through the staff API: recharge plans, recharges, settlement with mixed tenders, transfers,
//! 挂失 and 退卡, idempotency, bad input writing nothing, and concurrent debits that cannot overdraw.

use reqwest::StatusCode;
use serde_json::{Value, json};
use service::domain::Role;

use crate::support::{TestApp, assert_error};

#[tokio::test]
async fn recharge_then_settle_with_stored_value_and_cash() {
    let app = TestApp::spawn().await;
    let manager = app.chain_manager().await;
    let cashier = app.token(Role::Cashier).await;
    let store = app.seed.store_ids[0];
    let member = app.new_member(&cashier, "13900002001").await;
    let plan = app.new_plan(&manager, 100_000, 20_000).await;

    // The demo seed recharged some members already: compare store accounts with where they started.
    let cash_key = format!("store:{store}:cash");
    let bonus_key = format!("store:{store}:bonus_expense");
    let (cash_before, bonus_before) = (app.account_balance(&cash_key).await, app.account_balance(&bonus_key).await);

    // 充1000送200 by cash.
    let recharge = json!({ "store_id": store, "plan_id": plan, "tender": "cash", "idempotency_key": "recharge-0001" });
    let path = format!("/api/staff/v1/members/{member}/stored-value/recharges");
    let (status, moved) = app.post(&path, &cashier, recharge.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{moved}");
    assert_eq!(moved["card"]["principal_fen"], 100_000);
    assert_eq!(moved["card"]["bonus_fen"], 20_000);
    assert_eq!(moved["card"]["balance_fen"], 120_000);

    // The same request again is a replay; the same key for another request is refused.
    let (status, again) = app.post(&path, &cashier, recharge).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["replayed"], true);
    assert_eq!(again["entry_id"], moved["entry_id"]);
    assert_eq!(again["card"]["balance_fen"], 120_000);
    let other = json!({ "store_id": store, "amount_fen": 500, "tender": "cash", "idempotency_key": "recharge-0001" });
    assert_error(&app.post(&path, &cashier, other).await, StatusCode::CONFLICT, "idempotency_key_reused");
    assert_eq!(app.account_balance(&cash_key).await, cash_before + 100_000);
    assert_eq!(app.account_balance(&bonus_key).await, bonus_before + 20_000);

    // A ￥300 cut and a ￥88 blow-dry: ￥240 from the card (split 200 principal : 40 bonus), ￥148 cash from ￥200.
    let cut = app.new_service(&manager, "hair", 30_000).await;
    let dry = app.new_service(&manager, "care", 8_800).await;
    let bill = json!({
        "store_id": store,
        "member_id": member,
        "lines": [{ "service_item_id": cut }, { "service_item_id": dry }],
        "tenders": [
            { "kind": "stored_value", "amount_fen": 24_000 },
            { "kind": "cash", "amount_fen": 14_800, "tendered_fen": 20_000 }
        ],
        "idempotency_key": "bill-0001"
    });
    let (status, settled) = app.post("/api/staff/v1/bills", &cashier, bill.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{settled}");
    assert_eq!(settled["total_fen"], 38_800);
    assert_eq!(settled["change_fen"], 5_200);
    assert_eq!(settled["lines"].as_array().unwrap().len(), 2);
    let after = app.stored_value(&cashier, member).await;
    assert_eq!(after["principal_fen"], 80_000);
    assert_eq!(after["bonus_fen"], 16_000);
    assert_eq!(app.account_balance(&format!("store:{store}:revenue:hair")).await, 30_000);
    assert_eq!(app.account_balance(&format!("store:{store}:revenue:care")).await, 8_800);
    assert_eq!(app.account_balance(&cash_key).await, cash_before + 114_800, "change is not takings");

    // Retrying the settlement charges nothing more and returns the same bill.
    let (status, replayed) = app.post("/api/staff/v1/bills", &cashier, bill).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(replayed["id"], settled["id"]);
    assert_eq!(app.stored_value(&cashier, member).await["balance_fen"], 96_000);
    assert_eq!(app.count("bills").await, 1);

    let (status, read) = app.get(&format!("/api/staff/v1/bills/{}", settled["id"]), &cashier).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read["tenders"][1]["change_fen"], 5_200);

    // The statement shows both movements, newest first, with signed deltas.
    let (status, lines) = app.get(&format!("/api/staff/v1/members/{member}/stored-value/entries"), &cashier).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(lines[0]["kind"], "sale");
    assert_eq!(lines[0]["principal_delta_fen"], -20_000);
    assert_eq!(lines[0]["bonus_delta_fen"], -4_000);
    assert_eq!(lines[1]["kind"], "recharge");
    assert_eq!(lines[1]["principal_delta_fen"], 100_000);

    let (status, member_view) = app.get(&format!("/api/staff/v1/members/{member}"), &cashier).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(member_view["total_spend_fen"], 38_800);
    app.assert_ledger_balanced().await;
}

#[tokio::test]
async fn bad_settlements_are_refused_and_write_nothing() {
    let app = TestApp::spawn().await;
    let manager = app.chain_manager().await;
    let cashier = app.token(Role::Cashier).await;
    let store = app.seed.store_ids[0];
    let member = app.new_member(&cashier, "13900002002").await;
    let item = app.new_service(&manager, "hair", 10_000).await;
    let path = format!("/api/staff/v1/members/{member}/stored-value/recharges");
    let (status, _) = app
        .post(&path, &cashier, json!({ "store_id": store, "amount_fen": 5_000, "tender": "bank_card", "idempotency_key": "recharge-0002" }))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (other_merchant, other_owner) = app.other_merchant().await;
    let (_, other_store) = app
        .post("/api/staff/v1/stores", &other_owner, json!({ "name": "Other store", "address": "x", "phone": "021-1" }))
        .await;
    let stranger = app.new_member(&other_owner, "13900002003").await;
    assert!(other_merchant != app.seed.merchant_id);

    let bill = |lines: Value, tenders: Value| json!({ "store_id": store, "member_id": member, "lines": lines, "tenders": tenders, "idempotency_key": "bill-bad-0001" });
    let one = json!([{ "service_item_id": item }]);
    let before = (app.count("bills").await, app.count("journal_entries").await, app.count("journal_lines").await);
    let cases: Vec<(Value, StatusCode, &str)> = vec![
        // Tenders that don't cover the total, or cover too much.
        (
            bill(one.clone(), json!([{ "kind": "cash", "amount_fen": 9_999 }])),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
        (
            bill(one.clone(), json!([{ "kind": "cash", "amount_fen": 10_001 }])),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
        // Negative and zero amounts, short cash.
        (
            bill(one.clone(), json!([{ "kind": "cash", "amount_fen": -10_000 }])),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
        (
            bill(one.clone(), json!([{ "kind": "cash", "amount_fen": 10_000, "tendered_fen": 5_000 }])),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
        // Unknown items, unknown tender kinds, no lines.
        (
            bill(json!([{ "service_item_id": 999_999 }]), json!([{ "kind": "cash", "amount_fen": 10_000 }])),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
        (
            bill(one.clone(), json!([{ "kind": "iou", "amount_fen": 10_000 }])),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
        (bill(json!([]), json!([])), StatusCode::UNPROCESSABLE_ENTITY, "invalid_input"),
        // More than the card holds: the whole bill is refused, the cash part too.
        (
            bill(
                one.clone(),
                json!([{ "kind": "stored_value", "amount_fen": 6_000 }, { "kind": "cash", "amount_fen": 4_000 }]),
            ),
            StatusCode::CONFLICT,
            "insufficient_balance",
        ),
        // Another merchant's member and store.
        (
            json!({ "store_id": store, "member_id": stranger, "lines": one, "tenders": [{ "kind": "cash", "amount_fen": 10_000 }], "idempotency_key": "bill-bad-0002" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
        (
            json!({ "store_id": other_store["id"], "lines": one, "tenders": [{ "kind": "cash", "amount_fen": 10_000 }], "idempotency_key": "bill-bad-0003" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
        // A bad idempotency key.
        (
            json!({ "store_id": store, "lines": one, "tenders": [{ "kind": "cash", "amount_fen": 10_000 }], "idempotency_key": "x" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
    ];
    for (body, status, code) in cases {
        let answer = app.post("/api/staff/v1/bills", &cashier, body.clone()).await;
        assert_error(&answer, status, code);
    }

    // A frozen card cannot pay; unfreezing needs a manager.
    let (status, frozen) =
        app.post(&format!("/api/staff/v1/members/{member}/stored-value/freeze"), &cashier, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(frozen["status"], "frozen");
    let sv = bill(
        one.clone(),
        json!([{ "kind": "stored_value", "amount_fen": 5_000 }, { "kind": "cash", "amount_fen": 5_000 }]),
    );
    assert_error(&app.post("/api/staff/v1/bills", &cashier, sv.clone()).await, StatusCode::CONFLICT, "card_frozen");
    let unfreeze = format!("/api/staff/v1/members/{member}/stored-value/unfreeze");
    assert_error(&app.post(&unfreeze, &cashier, json!({})).await, StatusCode::FORBIDDEN, "forbidden");
    assert_eq!(
        before,
        (app.count("bills").await, app.count("journal_entries").await, app.count("journal_lines").await)
    );
    assert_eq!(app.stored_value(&cashier, member).await["balance_fen"], 5_000);

    assert_eq!(app.post(&unfreeze, &manager, json!({})).await.0, StatusCode::OK);
    let (status, settled) = app.post("/api/staff/v1/bills", &cashier, sv).await;
    assert_eq!(status, StatusCode::CREATED, "{settled}");
    assert_eq!(app.stored_value(&cashier, member).await["balance_fen"], 0);

    // Bad recharges write nothing either.
    let entries = app.count("journal_entries").await;
    for body in [
        json!({ "store_id": store, "amount_fen": -100, "tender": "cash", "idempotency_key": "recharge-bad-1" }),
        json!({ "store_id": store, "amount_fen": 100, "tender": "wechat", "idempotency_key": "recharge-bad-2" }),
        json!({ "store_id": store, "tender": "cash", "idempotency_key": "recharge-bad-3" }),
        json!({ "store_id": store, "plan_id": 999_999, "tender": "cash", "idempotency_key": "recharge-bad-4" }),
        json!({ "store_id": other_store["id"], "amount_fen": 100, "tender": "cash", "idempotency_key": "recharge-bad-5" }),
    ] {
        let answer = app.post(&format!("/api/staff/v1/members/{member}/stored-value/recharges"), &cashier, body).await;
        assert!(answer.0.is_client_error(), "{}", answer.1);
    }
    let answer = app
        .post(
            &format!("/api/staff/v1/members/{stranger}/stored-value/recharges"),
            &cashier,
            json!({ "store_id": store, "amount_fen": 100, "tender": "cash", "idempotency_key": "recharge-bad-6" }),
        )
        .await;
    assert_error(&answer, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(app.count("journal_entries").await, entries);
}

#[tokio::test]
async fn transfer_and_card_refund() {
    let app = TestApp::spawn().await;
    let manager = app.chain_manager().await;
    let cashier = app.token(Role::Cashier).await;
    let store = app.seed.store_ids[0];
    let giver = app.new_member(&cashier, "13900002004").await;
    let taker = app.new_member(&cashier, "13900002005").await;
    let plan = app.new_plan(&manager, 50_000, 10_000).await;
    let recharge = json!({ "store_id": store, "plan_id": plan, "tender": "cash", "idempotency_key": "recharge-0004" });
    assert_eq!(
        app.post(&format!("/api/staff/v1/members/{giver}/stored-value/recharges"), &cashier, recharge).await.0,
        StatusCode::CREATED
    );

    // Transfers need a manager; bonus stays bonus.
    let transfer = json!({ "to_member_id": taker, "amount_fen": 12_000, "reason": "家人共用", "idempotency_key": "transfer-0001" });
    let path = format!("/api/staff/v1/members/{giver}/stored-value/transfers");
    assert_error(&app.post(&path, &cashier, transfer.clone()).await, StatusCode::FORBIDDEN, "forbidden");
    let (status, moved) = app.post(&path, &manager, transfer).await;
    assert_eq!(status, StatusCode::CREATED, "{moved}");
    assert_eq!(moved["card"]["principal_fen"], 40_000);
    assert_eq!(moved["card"]["bonus_fen"], 8_000);
    let taken = app.stored_value(&cashier, taker).await;
    assert_eq!((taken["principal_fen"].as_i64(), taken["bonus_fen"].as_i64()), (Some(10_000), Some(2_000)));
    let too_much =
        json!({ "to_member_id": taker, "amount_fen": 48_001, "reason": "x", "idempotency_key": "transfer-0002" });
    assert_error(&app.post(&path, &manager, too_much).await, StatusCode::CONFLICT, "insufficient_balance");
    let to_self = json!({ "to_member_id": giver, "amount_fen": 1, "reason": "x", "idempotency_key": "transfer-0003" });
    assert_error(&app.post(&path, &manager, to_self).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");

    // 退卡 with a ￥20 fee: ￥380 cash back, ￥80 bonus voided, card closed.
    let refund = json!({ "store_id": store, "tender": "cash", "fee_fen": 2_000, "reason": "搬家", "idempotency_key": "refund-0001" });
    let refund_path = format!("/api/staff/v1/members/{giver}/stored-value/refund");
    assert_error(&app.post(&refund_path, &cashier, refund.clone()).await, StatusCode::FORBIDDEN, "forbidden");
    let cash_before = app.account_balance(&format!("store:{store}:cash")).await;
    let bonus_before = app.account_balance(&format!("store:{store}:bonus_expense")).await;
    let (status, refunded) = app.post(&refund_path, &manager, refund).await;
    assert_eq!(status, StatusCode::CREATED, "{refunded}");
    assert_eq!(refunded["card"]["status"], "closed");
    assert_eq!(refunded["card"]["balance_fen"], 0);
    assert_eq!(app.account_balance(&format!("store:{store}:cash")).await, cash_before - 38_000);
    assert_eq!(app.account_balance(&format!("store:{store}:breakage")).await, 2_000);
    let voided = bonus_before - app.account_balance(&format!("store:{store}:bonus_expense")).await;
    assert_eq!(voided, 8_000, "the bonus left on the card is voided");

    // A closed card takes no transfers and pays nothing; a recharge opens it again.
    let into_closed =
        json!({ "to_member_id": giver, "amount_fen": 100, "reason": "x", "idempotency_key": "transfer-0004" });
    let taker_path = format!("/api/staff/v1/members/{taker}/stored-value/transfers");
    assert_error(&app.post(&taker_path, &manager, into_closed).await, StatusCode::CONFLICT, "card_closed");
    let recharge =
        json!({ "store_id": store, "amount_fen": 1_000, "tender": "cash", "idempotency_key": "recharge-0005" });
    let (status, reopened) =
        app.post(&format!("/api/staff/v1/members/{giver}/stored-value/recharges"), &cashier, recharge).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(reopened["card"]["status"], "active");

    // Transfers and refunds are audited.
    let (_, log) = app.get("/api/staff/v1/audit-log", &manager).await;
    let actions: Vec<&str> = log.as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    assert!(actions.contains(&"stored_value.transferred") && actions.contains(&"stored_value.refunded"), "{actions:?}");
    app.assert_ledger_balanced().await;
}

/// 200 cashiers at once against one card holding exactly 100 debits' worth: exactly 100 settle, the card ends at
/// zero, nothing is lost or created.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_debits_never_overdraw() {
    let app = TestApp::spawn().await;
    let manager = app.chain_manager().await;
    let cashier = app.token(Role::Cashier).await;
    let store = app.seed.store_ids[0];
    let member = app.new_member(&cashier, "13900002006").await;
    let item = app.new_service(&manager, "wash", 100).await;
    let plan = app.new_plan(&manager, 8_000, 2_000).await;
    let recharge = json!({ "store_id": store, "plan_id": plan, "tender": "cash", "idempotency_key": "recharge-0006" });
    assert_eq!(
        app.post(&format!("/api/staff/v1/members/{member}/stored-value/recharges"), &cashier, recharge).await.0,
        StatusCode::CREATED
    );

    let attempts = (0..200).map(|i| {
        let body = json!({
            "store_id": store,
            "member_id": member,
            "lines": [{ "service_item_id": item }],
            "tenders": [{ "kind": "stored_value", "amount_fen": 100 }],
            "idempotency_key": format!("concurrent-{i:04}"),
        });
        let (app, cashier) = (&app, &cashier);
        async move { app.post("/api/staff/v1/bills", cashier, body).await }
    });
    let answers = futures_util::future::join_all(attempts).await;
    let settled = answers.iter().filter(|(status, _)| *status == StatusCode::CREATED).count();
    for (status, body) in answers.iter().filter(|(status, _)| *status != StatusCode::CREATED) {
        assert_eq!(*status, StatusCode::CONFLICT, "{body}");
        assert_eq!(body["code"], "insufficient_balance", "{body}");
    }
    assert_eq!(settled, 100);
    let after = app.stored_value(&cashier, member).await;
    assert_eq!((after["principal_fen"].as_i64(), after["bonus_fen"].as_i64()), (Some(0), Some(0)));
    assert_eq!(app.count("bills").await, 100);
    assert_eq!(app.account_balance(&format!("store:{store}:revenue:wash")).await, 10_000);
    app.assert_ledger_balanced().await;
}

/// `verify-ledger` is not a formality: a balance changed behind the ledger's back is reported, by the service
/// and by the `api verify-ledger` command (which exits non-zero).
#[tokio::test]
async fn verify_ledger_reports_a_tampered_balance() {
    use sea_orm::{ConnectionTrait, Statement};
    let app = TestApp::spawn().await;
    let cashier = app.token(Role::Cashier).await;
    let store = app.seed.store_ids[0];
    let member = app.new_member(&cashier, "13900002007").await;
    let recharge =
        json!({ "store_id": store, "amount_fen": 10_000, "tender": "cash", "idempotency_key": "recharge-0007" });
    assert_eq!(
        app.post(&format!("/api/staff/v1/members/{member}/stored-value/recharges"), &cashier, recharge).await.0,
        StatusCode::CREATED
    );
    app.assert_ledger_balanced().await;

    let tamper = |delta: i64| {
        let sql = format!(
            "UPDATE ledger_accounts SET balance = balance + {delta} WHERE key = 'member:{member}:sv_principal'"
        );
        Statement::from_string(app.ctx.db.get_database_backend(), sql)
    };
    app.ctx.db.execute_raw(tamper(1)).await.unwrap();
    let found = service::ledger::verify(&app.ctx.db, None).await.unwrap();
    let expected_key = format!("member:{member}:sv_principal");
    assert!(
        matches!(
            found.as_slice(),
            [service::ledger::Discrepancy::Balance { key, kept: 10_001, from_entries: 10_000, .. }] if *key == expected_key
        ),
        "{found:?}"
    );

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_api"))
        .args(["--database-url", app.ctx.settings.database.url.expose(), "verify-ledger"])
        .env("HUIYUAN__LOG__FILTER", "error")
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "verify-ledger must fail: {printed}");
    assert!(printed.contains(&format!("member:{member}:sv_principal")), "{printed}");

    app.ctx.db.execute_raw(tamper(-1)).await.unwrap();
    app.assert_ledger_balanced().await;
}

#[tokio::test]
async fn demo_data_has_plans_and_stored_value_in_the_ledger() {
    let app = TestApp::spawn().await;
    let cashier = app.token(Role::Cashier).await;
    let (status, plans) = app.get("/api/staff/v1/recharge-plans", &cashier).await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = plans.as_array().unwrap().iter().filter_map(|p| p["name"].as_str()).collect();
    assert_eq!(names, ["充500送50", "充1000送200", "充3000送800"]);
    let (status, vip) = app.post("/api/staff/v1/members/lookup", &cashier, json!({ "query": "13800000001" })).await;
    assert_eq!(status, StatusCode::OK, "{vip}");
    let held = app.stored_value(&cashier, vip["id"].as_i64().unwrap()).await;
    assert_eq!((held["principal_fen"].as_i64(), held["bonus_fen"].as_i64()), (Some(300_000), Some(80_000)));
    app.assert_ledger_balanced().await;
}

/// Journal lines name their accounts. On PostgreSQL no foreign key checks that (it would lock a store's busiest rows
/// on every line), so accounts can never be deleted, and verify-ledger reports a line whose account is missing. On
/// SQLite the foreign key stays and refuses such a line outright.
#[tokio::test]
async fn accounts_are_never_deleted_and_a_line_without_one_is_reported() {
    use sea_orm::ConnectionTrait;

    let app = TestApp::spawn().await;
    let db = &app.ctx.db;
    let used = "(SELECT account_id FROM journal_lines ORDER BY id LIMIT 1)";
    let deleted = db.execute_unprepared(&format!("DELETE FROM ledger_accounts WHERE id = {used}")).await;
    assert!(deleted.is_err(), "an account with lines was deleted");

    let entry = "(SELECT MIN(id) FROM journal_entries)";
    let stray = format!(
        "INSERT INTO journal_lines (entry_id, account_id, amount) VALUES ({entry}, 999999999, 5), ({entry}, 999999998, -5)"
    );
    let inserted = db.execute_unprepared(&stray).await;
    if db.get_database_backend() != sea_orm::DbBackend::Postgres {
        assert!(inserted.is_err(), "SQLite's foreign key refuses a line without its account");
        return;
    }
    inserted.expect("PostgreSQL takes the line: nothing but the ledger code checks it");
    let found = service::ledger::verify(db, None).await.unwrap();
    let missing: Vec<String> = found
        .iter()
        .filter(|d| matches!(d, service::ledger::Discrepancy::MissingAccount { .. }))
        .map(ToString::to_string)
        .collect();
    assert_eq!(missing.len(), 2, "both stray lines reported: {found:?}");
    assert!(missing[0].contains("no account 999999999"), "{missing:?}");
    // Put the ledger back for the check every test ends with.
    db.execute_unprepared("DELETE FROM journal_lines WHERE account_id IN (999999999, 999999998)").await.unwrap();
}
