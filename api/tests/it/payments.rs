//! Payments end to end against the sandbox's WeChat Pay and Alipay: recharges paid in the mini-program, callbacks
//! that cannot be fooled, exactly-once under duplicates and concurrency, and the query path.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use sandbox::{Delivery, Provider};
use serde_json::{Value, json};

use service::domain::Role;

use crate::support::{ALIPAY_APPID, STAFF, TestApp, WECHAT_APPID, WECHATPAY_MCHID, assert_error, ok};

type Headers = Vec<(String, String)>;

/// The demo's 充3000送800 plan (which also grants 3,000 points).
async fn big_plan(app: &TestApp, owner: &str) -> i64 {
    let (status, plans) = app.get(&format!("{STAFF}/recharge-plans"), owner).await;
    assert_eq!(status, StatusCode::OK, "{plans}");
    let plans = plans.as_array().expect("plans").clone();
    plans.iter().find(|p| p["pay_fen"] == 300_000 && p["bonus_fen"] == 80_000).expect("demo plan")["id"]
        .as_i64()
        .expect("id")
}

async fn balance(app: &TestApp, owner: &str, member: i64) -> i64 {
    app.stored_value(owner, member).await["balance_fen"].as_i64().unwrap_or(0)
}

async fn start(app: &TestApp, token: &str, provider: &str, plan: i64, key: &str) -> Value {
    let body = json!({
        "provider": provider,
        "store_id": app.seed.store_ids[0],
        "plan_id": plan,
        "idempotency_key": key,
    });
    let (status, body) = app.post("/api/mini/v1/me/payments/recharges", token, body).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // With the sandbox on, the H5 build is told where a developer pays the order.
    let sandbox = &app.ctx.settings.sandbox;
    assert!(sandbox.enabled);
    assert_eq!(body["sandbox_page"], json!(format!("http://{}/sandbox", sandbox.listen)));
    body
}

async fn payment(app: &TestApp, token: &str, id: i64) -> Value {
    let (status, body) = app.get(&format!("/api/mini/v1/me/payments/{id}"), token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// Runs a statement on the test's database (to stage what only time or an outside change would bring).
async fn execute(app: &TestApp, sql: &str) {
    use sea_orm::{ConnectionTrait, Statement};
    let backend = app.ctx.db.get_database_backend();
    app.ctx.db.execute_raw(Statement::from_string(backend, sql.to_owned())).await.unwrap();
}

/// Makes a payment's order expire `ago` in the past (and, with `created`, start then too), as if time had passed.
async fn backdate(app: &TestApp, payment_id: i64, ago: chrono::Duration, created: bool) {
    let past = (chrono::Utc::now() - ago).to_rfc3339();
    let cast = if app.ctx.db.get_database_backend() == sea_orm::DbBackend::Postgres { "::timestamptz" } else { "" };
    let created = if created { format!("created_at = '{past}'{cast}, ") } else { String::new() };
    execute(app, &format!("UPDATE payments SET {created}expires_at = '{past}'{cast} WHERE id = {payment_id}")).await;
}

async fn wait_delivered(app: &TestApp) {
    assert!(app.fake.wait_for_notifications(Duration::from_secs(20)).await, "notifications still in flight");
}

/// Posts a WeChat Pay notification as given and returns the status and body.
async fn post_wechatpay(app: &TestApp, headers: &[(String, String)], body: &str) -> (StatusCode, Value) {
    let mut request = app.client.post(app.url("/callbacks/wechatpay")).body(body.to_owned());
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let response = request.send().await.expect("sent");
    let status = response.status();
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn post_alipay(app: &TestApp, form: &[(String, String)]) -> (StatusCode, String) {
    let response = app.client.post(app.url("/callbacks/alipay")).form(form).send().await.expect("sent");
    (response.status(), response.text().await.expect("body"))
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
    headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).expect("header")
}

fn with_header(headers: &[(String, String)], name: &str, value: &str) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(n, v)| if n.eq_ignore_ascii_case(name) { (n.clone(), value.to_owned()) } else { (n.clone(), v.clone()) })
        .collect()
}

/// The transaction resource WeChat Pay would send for a payment, with overrides.
fn transaction(out_trade_no: &str, total: i64, mchid: &str, appid: &str) -> String {
    json!({
        "appid": appid,
        "mchid": mchid,
        "out_trade_no": out_trade_no,
        "transaction_id": format!("4200{}", &out_trade_no[2..]),
        "trade_type": "JSAPI",
        "trade_state": "SUCCESS",
        "trade_state_desc": "支付成功",
        "bank_type": "OTHERS",
        "success_time": "2026-11-24T10:00:00+08:00",
        "payer": { "openid": "o-test" },
        "amount": { "total": total, "payer_total": total, "currency": "CNY", "payer_currency": "CNY" },
    })
    .to_string()
}

#[tokio::test]
async fn a_wechat_pay_recharge_credits_the_card_once_however_often_it_is_notified() {
    let app = TestApp::spawn().await;
    let owner = app.token(Role::Owner).await;
    let (token, member) = app.member_token("pay-wechat").await;
    let plan = big_plan(&app, &owner).await;
    let before = app.stored_value(&owner, member).await;

    let started = start(&app, &token, "wechatpay", plan, "tap-once-1").await;
    let params = &started["wechat"];
    assert_eq!(params["signType"], "RSA");
    assert!(params["package"].as_str().unwrap().starts_with("prepay_id="), "{started}");
    // paySign is the merchant key's signature of appId, timeStamp, nonceStr and package: check it as WeChat would.
    let message = format!(
        "{WECHAT_APPID}\n{}\n{}\n{}\n",
        params["timeStamp"].as_str().unwrap(),
        params["nonceStr"].as_str().unwrap(),
        params["package"].as_str().unwrap()
    );
    let merchant_key =
        service::integrations::signing::parse_public_key(sandbox::WECHATPAY_MERCHANT_PUBLIC_KEY).unwrap();
    assert!(service::integrations::signing::verify(
        &merchant_key,
        message.as_bytes(),
        params["paySign"].as_str().unwrap()
    ));

    let id = started["payment"]["id"].as_i64().unwrap();
    let out_trade_no = started["payment"]["out_trade_no"].as_str().unwrap().to_owned();
    assert_eq!(started["payment"]["status"], "pending");
    assert_eq!(started["payment"]["amount_fen"], 300_000);

    // Tapping again (same key) is the same order; the mini-program saying "paid" changes nothing.
    let again = start(&app, &token, "wechatpay", plan, "tap-once-1").await;
    assert_eq!(again["payment"]["id"], id);
    assert_eq!(payment(&app, &token, id).await["status"], "pending");
    assert_eq!(app.stored_value(&owner, member).await, before);

    // The member pays; WeChat Pay notifies three times at once.
    app.fake
        .pay(Provider::WechatPay, &out_trade_no, Delivery { duplicates: 3, concurrent: true, ..Delivery::default() })
        .unwrap();
    wait_delivered(&app).await;
    let paid = payment(&app, &token, id).await;
    assert_eq!(paid["status"], "paid", "{paid}");
    assert!(paid["provider_trade_no"].as_str().is_some_and(|t| !t.is_empty()));
    let after = app.stored_value(&owner, member).await;
    assert_eq!(after["principal_fen"].as_i64().unwrap(), before["principal_fen"].as_i64().unwrap_or(0) + 300_000);
    assert_eq!(after["bonus_fen"].as_i64().unwrap(), before["bonus_fen"].as_i64().unwrap_or(0) + 80_000);
    let attempts = app.fake.deliveries();
    assert_eq!(attempts.iter().filter(|a| a.accepted).count(), 3, "every copy acknowledged: {attempts:?}");
    assert_eq!(app.count("journal_entries WHERE idempotency_key LIKE 'payment:%'").await, 1);
    // Its receipt is queued for the store's printer, once.
    assert_eq!(app.count("print_jobs WHERE kind = 'recharge_receipt' AND status = 'queued'").await, 1);

    // The member sees the plan on offer and the card credited, in the mini-program.
    let (_, offered) = app.get("/api/mini/v1/recharge-plans", &token).await;
    assert!(offered.as_array().unwrap().iter().any(|p| p["id"] == plan), "{offered}");
    let (_, mine) = app.get("/api/mini/v1/me/stored-value", &token).await;
    assert_eq!(mine["balance_fen"], after["balance_fen"], "{mine}");

    // The member's points include the plan's bonus points.
    let (_, points) = app.get("/api/mini/v1/me/points", &token).await;
    assert!(points["available"].as_i64().unwrap_or(0) >= 3_000, "{points}");
}

#[tokio::test]
async fn an_alipay_recharge_settles_by_query_when_the_notification_is_late_and_the_late_one_changes_nothing() {
    let app = TestApp::spawn().await;
    let owner = app.token(Role::Owner).await;
    let (token, member) = app.member_token("pay-alipay").await;
    let plan = big_plan(&app, &owner).await;
    let before = balance(&app, &owner, member).await;

    let started = start(&app, &token, "alipay", plan, "alipay-tap-1").await;
    assert!(started["alipay_trade_no"].as_str().is_some_and(|t| !t.is_empty()), "{started}");
    assert!(started["wechat"].is_null());
    let id = started["payment"]["id"].as_i64().unwrap();
    let out_trade_no = started["payment"]["out_trade_no"].as_str().unwrap().to_owned();

    // Paid at Alipay, but the notification is held back: asking about the payment queries Alipay and settles it.
    app.fake.pay(Provider::Alipay, &out_trade_no, Delivery { hold: true, ..Delivery::default() }).unwrap();
    assert_eq!(payment(&app, &token, id).await["status"], "paid");
    assert_eq!(balance(&app, &owner, member).await, before + 380_000);

    // The notification arrives after all: acknowledged with `success`, applied nothing.
    assert_eq!(app.fake.release_held(), 1);
    wait_delivered(&app).await;
    let accepted = app.fake.deliveries().iter().filter(|a| a.accepted).count();
    assert_eq!(accepted, 1);
    assert_eq!(balance(&app, &owner, member).await, before + 380_000);
}

#[tokio::test]
async fn forged_stale_tampered_and_mismatched_wechat_notifications_change_nothing() {
    let app = TestApp::spawn().await;
    let owner = app.token(Role::Owner).await;
    let (token, member) = app.member_token("pay-forged").await;
    let plan = big_plan(&app, &owner).await;
    let before = balance(&app, &owner, member).await;
    let started = start(&app, &token, "wechatpay", plan, "forged-1").await;
    let out_trade_no = started["payment"]["out_trade_no"].as_str().unwrap().to_owned();
    let id = started["payment"]["id"].as_i64().unwrap();

    let genuine = |resource: String| app.fake.wechatpay_notification(WECHATPAY_MCHID, "TRANSACTION.SUCCESS", &resource);
    let (headers, body) = genuine(transaction(&out_trade_no, 300_000, WECHATPAY_MCHID, WECHAT_APPID)).unwrap();
    let timestamp: i64 = header(&headers, "Wechatpay-Timestamp").parse().unwrap();
    let nonce = header(&headers, "Wechatpay-Nonce").to_owned();
    let resign = |ts: i64| {
        let signature = app.fake.wechatpay_sign(&format!("{ts}\n{nonce}\n{body}\n"));
        with_header(&with_header(&headers, "Wechatpay-Timestamp", &ts.to_string()), "Wechatpay-Signature", &signature)
    };
    // Signed by someone else: our own merchant key stands in for any key that is not WeChat Pay's.
    let merchant_key =
        service::integrations::signing::parse_private_key(sandbox::WECHATPAY_MERCHANT_PRIVATE_KEY).unwrap();
    let forged_signature =
        service::integrations::signing::sign(&merchant_key, &format!("{timestamp}\n{nonce}\n{body}\n"));
    let tampered_body = {
        let mut value: Value = serde_json::from_str(&body).unwrap();
        let ciphertext = value["resource"]["ciphertext"].as_str().unwrap().to_owned();
        let flipped = if ciphertext.starts_with('A') { "B" } else { "A" };
        value["resource"]["ciphertext"] = json!(format!("{flipped}{}", &ciphertext[1..]));
        value.to_string()
    };
    let tampered_headers = {
        let signature = app.fake.wechatpay_sign(&format!("{timestamp}\n{nonce}\n{tampered_body}\n"));
        with_header(&headers, "Wechatpay-Signature", &signature)
    };

    let mut cases: Vec<(&str, Headers, String)> = vec![
        ("forged signature", with_header(&headers, "Wechatpay-Signature", &forged_signature), body.clone()),
        (
            "unknown serial",
            with_header(&headers, "Wechatpay-Serial", "PUB_KEY_ID_0999999999999999999999999999"),
            body.clone(),
        ),
        ("stale timestamp", resign(timestamp - 600), body.clone()),
        ("future timestamp", resign(timestamp + 600), body.clone()),
        ("tampered ciphertext", tampered_headers, tampered_body),
        ("signature probe", with_header(&headers, "Wechatpay-Signature", "WECHATPAY/SIGNTEST/aGVsbG8="), body.clone()),
        ("body changed after signing", headers.clone(), body.replace("TRANSACTION.SUCCESS", "TRANSACTION.SUCCESS ")),
    ];
    for (what, resource) in [
        ("wrong amount", transaction(&out_trade_no, 1, WECHATPAY_MCHID, WECHAT_APPID)),
        ("wrong merchant id", transaction(&out_trade_no, 300_000, "1999999999", WECHAT_APPID)),
        ("wrong app id", transaction(&out_trade_no, 300_000, WECHATPAY_MCHID, "wx9999999999999999")),
        ("unknown order", transaction("HY20261124000000999999999999", 300_000, WECHATPAY_MCHID, WECHAT_APPID)),
    ] {
        let (h, b) = genuine(resource).unwrap();
        cases.push((what, h, b));
    }
    for (what, headers, body) in &cases {
        let (status, answer) = post_wechatpay(&app, headers, body).await;
        assert!(status.is_client_error() || status.is_server_error(), "{what}: answered {status}");
        assert!(answer["code"].is_string() && answer["message"].is_string(), "{what}: {answer}");
    }
    assert_eq!(payment(&app, &token, id).await["status"], "pending");
    assert_eq!(balance(&app, &owner, member).await, before);
    // Genuine but not matching what we created: staff see them.
    let exceptions = app.count("payment_exceptions WHERE kind IN ('amount_mismatch', 'notification_mismatch')").await;
    assert_eq!(exceptions, 3);

    // The genuine notification, finally: applied.
    let (status, _) = post_wechatpay(&app, &headers, &body).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(balance(&app, &owner, member).await, before + 380_000);
}

#[tokio::test]
async fn fifty_concurrent_copies_of_one_notification_settle_once() {
    let app = TestApp::spawn().await;
    let owner = app.token(Role::Owner).await;
    let (token, member) = app.member_token("pay-50").await;
    let plan = big_plan(&app, &owner).await;
    let before = balance(&app, &owner, member).await;
    let started = start(&app, &token, "wechatpay", plan, "fifty-copies").await;
    let out_trade_no = started["payment"]["out_trade_no"].as_str().unwrap().to_owned();
    let (headers, body) = app
        .fake
        .wechatpay_notification(
            WECHATPAY_MCHID,
            "TRANSACTION.SUCCESS",
            &transaction(&out_trade_no, 300_000, WECHATPAY_MCHID, WECHAT_APPID),
        )
        .unwrap();
    let answers = futures_util::future::join_all((0..50).map(|_| post_wechatpay(&app, &headers, &body))).await;
    for (status, answer) in &answers {
        assert_eq!(*status, StatusCode::NO_CONTENT, "{answer}");
    }
    assert_eq!(balance(&app, &owner, member).await, before + 380_000);
    assert_eq!(app.count("journal_entries WHERE idempotency_key LIKE 'payment:%'").await, 1);
    assert_eq!(app.count("payments WHERE status = 'paid'").await, 1);
}

#[tokio::test]
async fn forged_and_mismatched_alipay_notifications_change_nothing() {
    let app = TestApp::spawn().await;
    let owner = app.token(Role::Owner).await;
    let (token, member) = app.member_token("ali-forged").await;
    let plan = big_plan(&app, &owner).await;
    let before = balance(&app, &owner, member).await;
    let started = start(&app, &token, "alipay", plan, "ali-forged").await;
    let out_trade_no = started["payment"]["out_trade_no"].as_str().unwrap().to_owned();
    let trade_no = started["alipay_trade_no"].as_str().unwrap().to_owned();
    let fields = |amount: &str, seller: &str| {
        vec![
            ("notify_time", "2026-11-24 10:00:00"),
            ("notify_type", "trade_status_sync"),
            ("notify_id", "ntf-1"),
            ("charset", "utf-8"),
            ("version", "1.0"),
            ("trade_no", trade_no.as_str()),
            ("out_trade_no", out_trade_no.as_str()),
            ("buyer_open_id", "074a-test"),
            ("seller_id", seller),
            ("trade_status", "TRADE_SUCCESS"),
            ("total_amount", amount),
        ]
        .into_iter()
        .map(|(k, v)| (k, v.to_owned()))
        .collect::<Vec<_>>()
    };
    let sign = |fields: Vec<(&str, String)>| {
        let borrowed: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        app.fake.alipay_notification_form(ALIPAY_APPID, &borrowed)
    };
    let genuine = sign(fields("3000.00", sandbox::ALIPAY_SANDBOX_SELLER_ID));
    let tampered: Vec<(String, String)> = genuine
        .iter()
        .map(|(k, v)| if k == "total_amount" { (k.clone(), "0.01".to_owned()) } else { (k.clone(), v.clone()) })
        .collect();
    let cases = vec![
        ("tampered amount", tampered),
        ("wrong amount", sign(fields("2999.00", sandbox::ALIPAY_SANDBOX_SELLER_ID))),
        ("wrong seller", sign(fields("3000.00", "2088999999999999"))),
        ("unsigned", genuine.iter().filter(|(k, _)| k != "sign").cloned().collect()),
    ];
    for (what, form) in cases {
        let (status, text) = post_alipay(&app, &form).await;
        assert!(status.is_client_error(), "{what}: {status} {text}");
        assert_ne!(text, "success", "{what}");
    }
    assert_eq!(balance(&app, &owner, member).await, before);
    let (status, text) = post_alipay(&app, &genuine).await;
    assert_eq!((status, text.as_str()), (StatusCode::OK, "success"));
    assert_eq!(balance(&app, &owner, member).await, before + 380_000);
}

#[tokio::test]
async fn the_sweep_closes_expired_unpaid_orders_at_the_provider_and_bad_requests_write_nothing() {
    let app = TestApp::spawn().await;
    let owner = app.token(Role::Owner).await;
    let (token, _) = app.member_token("pay-sweep").await;
    let plan = big_plan(&app, &owner).await;
    let started = start(&app, &token, "wechatpay", plan, "sweep-one-1").await;
    let id = started["payment"]["id"].as_i64().unwrap();
    let out_trade_no = started["payment"]["out_trade_no"].as_str().unwrap().to_owned();

    // Not yet due: the sweep leaves it alone.
    assert_eq!(service::payments::sweep_pending(&app.ctx).await.unwrap().checked, 0);
    backdate(&app, id, chrono::Duration::hours(1), true).await;
    let counts = service::payments::sweep_pending(&app.ctx).await.unwrap();
    assert_eq!((counts.checked, counts.closed, counts.errors), (1, 1, 0), "{counts:?}");
    assert_eq!(payment(&app, &token, id).await["status"], "closed");
    let order = app.fake.orders().into_iter().find(|o| o.out_trade_no == out_trade_no).expect("order at WeChat Pay");
    assert_eq!(order.state, "CLOSED");

    // Bad input: clear errors, no payment written.
    let payments_before = app.count("payments").await;
    for (body, status) in [
        (
            json!({ "provider": "paypal", "store_id": app.seed.store_ids[0], "plan_id": plan, "idempotency_key": "bad-key-1" }),
            422,
        ),
        (json!({ "provider": "wechatpay", "store_id": 999_999, "plan_id": plan, "idempotency_key": "bad-key-2" }), 404),
        (
            json!({ "provider": "wechatpay", "store_id": app.seed.store_ids[0], "amount_fen": -5, "idempotency_key": "bad-key-3" }),
            422,
        ),
        (
            json!({ "provider": "wechatpay", "store_id": app.seed.store_ids[0], "plan_id": 999_999, "idempotency_key": "bad-key-4" }),
            404,
        ),
        (
            json!({ "provider": "wechatpay", "store_id": app.seed.store_ids[0], "plan_id": plan, "idempotency_key": "sweep-one-1", "amount_fen": 100 }),
            422,
        ),
    ] {
        let (got, answer) =
            app.call(Method::POST, "/api/mini/v1/me/payments/recharges", Some(&token), Some(body)).await;
        assert_eq!(got.as_u16(), status, "{answer}");
        assert!(answer["code"].is_string(), "{answer}");
    }
    // The same key for a different recharge is refused.
    let (got, answer) = app
        .post(
            "/api/mini/v1/me/payments/recharges",
            &token,
            json!({ "provider": "alipay", "store_id": app.seed.store_ids[0], "plan_id": plan, "idempotency_key": "sweep-one-1" }),
        )
        .await;
    assert_eq!(got, StatusCode::CONFLICT, "{answer}");
    assert_eq!(app.count("payments").await, payments_before);
}

/// A parked bill of one ￥88 service at the demo's first store; returns (cashier token, bill id).
async fn parked_bill(app: &TestApp, key: &str) -> (String, i64) {
    let owner = app.token(Role::Owner).await;
    let cashier = app.token(Role::Cashier).await;
    let service =
        json!({ "category": "剪发", "name": "精剪", "duration_min": 30, "price_fen": 8800, "substances": [] });
    let (status, item) = app.post(&format!("{STAFF}/services"), &owner, service).await;
    assert_eq!(status, StatusCode::CREATED, "{item}");
    let park = json!({
        "store_id": app.seed.store_ids[0], "park": true, "idempotency_key": key,
        "lines": [{ "item_id": item["id"] }],
    });
    let (status, bill) = app.post(&format!("{STAFF}/bills"), &cashier, park).await;
    assert!(status.is_success(), "{bill}");
    assert_eq!(bill["status"], "parked");
    (cashier, bill["id"].as_i64().unwrap())
}

async fn pay_by_code(app: &TestApp, cashier: &str, bill: i64, code: &str, key: &str) -> (StatusCode, Value) {
    app.post(
        &format!("{STAFF}/bills/{bill}/payment-code"),
        cashier,
        json!({ "auth_code": code, "tenders": [], "idempotency_key": key }),
    )
    .await
}

async fn bill(app: &TestApp, cashier: &str, id: i64) -> Value {
    let (status, bill) = app.get(&format!("{STAFF}/bills/{id}"), cashier).await;
    assert_eq!(status, StatusCode::OK, "{bill}");
    bill
}

#[tokio::test]
async fn a_wechat_payment_code_settles_the_bill_and_its_refund_goes_back_through_wechat_pay() {
    let app = TestApp::spawn().await;
    let (cashier, id) = parked_bill(&app, "code-bill-1").await;

    // Anything but a payment code is refused with a message that says what it is; nothing changes.
    for (code, says) in
        [("6901234567892", "barcode"), ("HYAEAAAAAAAAAAAAAAAAAAAAAAAA", "member code"), ("12345", "payment code")]
    {
        let (status, answer) = pay_by_code(&app, &cashier, id, code, "code-try-bad").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        assert!(answer["message"].as_str().unwrap().contains(says), "{answer}");
    }
    assert_eq!(app.count("payments").await, 0);
    for (code, kind) in [
        ("134567890123456789", "wechat_pay_code"),
        ("2812345678901234", "alipay_code"),
        ("6901234567892", "product_barcode"),
    ] {
        let (status, answer) = app.post(&format!("{STAFF}/scans/classify"), &cashier, json!({ "code": code })).await;
        assert_eq!((status, answer["kind"].as_str()), (StatusCode::OK, Some(kind)), "{answer}");
    }
    let (status, _) = app.post(&format!("{STAFF}/scans/classify"), &cashier, json!({ "code": "hello" })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // The code a customer shows, made as a person would make it on the sandbox page.
    let made: Value = app
        .client
        .post(format!("{}/sandbox/codes", app.fake.base_url()))
        .json(&json!({ "provider": "wechatpay", "behaviour": "pays" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let code = made["code"].as_str().expect("a code").to_owned();
    let (status, paid) = pay_by_code(&app, &cashier, id, &code, "code-pay-1").await;
    assert_eq!(status, StatusCode::OK, "{paid}");
    assert_eq!(
        (paid["status"].as_str(), paid["method"].as_str(), paid["amount_fen"].as_i64()),
        (Some("paid"), Some("code"), Some(8800))
    );
    let settled = bill(&app, &cashier, id).await;
    assert_eq!(settled["status"], "settled");
    assert_eq!(settled["tenders"][0]["kind"], "wechat_pay");
    assert_eq!(settled["tenders"][0]["amount_fen"], 8800);
    let line = settled["lines"][0]["id"].as_i64().unwrap();
    assert_eq!(app.count(&format!("print_jobs WHERE kind = 'bill_receipt' AND subject_id = {id}")).await, 1);
    // The same scan again (a double click) is the same payment; the code itself is used up at WeChat Pay.
    let (status, again) = pay_by_code(&app, &cashier, id, &code, "code-pay-1").await;
    assert_eq!((status, &again["id"]), (StatusCode::OK, &paid["id"]));

    // Refund the line: the ledger moves now, the money goes back through WeChat Pay, whose notification closes it.
    let refund = json!({ "lines": [{ "line_id": line, "quantity": 1 }], "reason": "客户不满意", "idempotency_key": "code-refund-1" });
    let manager = app.token(Role::Manager).await;
    let (status, answer) = app.post(&format!("{STAFF}/bills/{id}/refunds"), &manager, refund).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(app.count("payment_refunds").await, 1);
    wait_delivered(&app).await;
    assert_eq!(app.count("payment_refunds WHERE status = 'succeeded'").await, 1);
    let (_, payment) = app.get(&format!("{STAFF}/payments/{}", paid["id"]), &cashier).await;
    assert_eq!(payment["refunded_fen"], 8800, "{payment}");
    let refund_notes = app.fake.notifications().into_iter().filter(|n| n.kind.starts_with("REFUND")).count();
    assert_eq!(refund_notes, 1);
}

#[tokio::test]
async fn an_alipay_code_waiting_for_the_customer_settles_when_a_query_finds_it_paid() {
    let app = TestApp::spawn().await;
    let (cashier, id) = parked_bill(&app, "code-bill-2").await;
    let code = app.fake.alipay_payment_code(sandbox::CodeBehaviour::UserPaying { paid_after_queries: Some(2) });
    let (status, waiting) = pay_by_code(&app, &cashier, id, &code, "code-ali-1").await;
    assert_eq!(status, StatusCode::OK, "{waiting}");
    assert_eq!(waiting["status"], "pending");
    // The bill is held while the customer confirms: it cannot be voided or settled another way meanwhile. It still
    // shows what is on it.
    let paying = bill(&app, &cashier, id).await;
    assert_eq!(paying["status"], "paying");
    assert_eq!(paying["lines"].as_array().map(Vec::len), Some(1), "{paying}");
    let (status, _) = app
        .post(
            &format!("{STAFF}/bills/{id}/settle"),
            &cashier,
            json!({ "tenders": [{ "kind": "cash", "amount_fen": 8800 }] }),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);

    let pid = waiting["id"].as_i64().unwrap();
    let mut status_seen = String::new();
    for _ in 0..4 {
        let (_, payment) = app.get(&format!("{STAFF}/payments/{pid}"), &cashier).await;
        status_seen = payment["status"].as_str().unwrap().to_owned();
        if status_seen != "pending" {
            break;
        }
    }
    assert_eq!(status_seen, "paid");
    let settled = bill(&app, &cashier, id).await;
    assert_eq!((settled["status"].as_str(), settled["tenders"][0]["kind"].as_str()), (Some("settled"), Some("alipay")));
    let line = settled["lines"][0]["id"].as_i64().unwrap();

    // Alipay refunds synchronously.
    let refund = json!({ "lines": [{ "line_id": line, "quantity": 1 }], "reason": "重复收款", "idempotency_key": "code-refund-2" });
    let manager = app.token(Role::Manager).await;
    let (status, answer) = app.post(&format!("{STAFF}/bills/{id}/refunds"), &manager, refund).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(app.count("payment_refunds WHERE status = 'succeeded'").await, 1);
}

#[tokio::test]
async fn a_code_never_confirmed_is_reversed_and_a_declined_one_leaves_the_bill_parked() {
    let app = TestApp::spawn().await;
    let (cashier, id) = parked_bill(&app, "code-bill-3").await;
    let entries = app.count("journal_entries").await;

    let declined = app.fake.wechat_payment_code(sandbox::CodeBehaviour::Declined);
    let (status, answer) = pay_by_code(&app, &cashier, id, &declined, "code-decl-1").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["code"], "provider_rejected");
    assert_eq!(bill(&app, &cashier, id).await["status"], "parked");

    let never = app.fake.wechat_payment_code(sandbox::CodeBehaviour::UserPaying { paid_after_queries: None });
    let (status, waiting) = pay_by_code(&app, &cashier, id, &never, "code-never-1").await;
    assert_eq!((status, waiting["status"].as_str()), (StatusCode::OK, Some("pending")), "{waiting}");
    let pid = waiting["id"].as_i64().unwrap();
    // Out of time (as if the timeout had passed): the next look reverses it at WeChat Pay and parks the bill.
    backdate(&app, pid, chrono::Duration::minutes(5), false).await;
    let (_, payment) = app.get(&format!("{STAFF}/payments/{pid}"), &cashier).await;
    assert_eq!(payment["status"], "closed", "{payment}");
    let order =
        app.fake.orders().into_iter().find(|o| Some(o.out_trade_no.as_str()) == payment["out_trade_no"].as_str());
    assert_eq!(order.expect("order").state, "REVOKED");
    assert_eq!(bill(&app, &cashier, id).await["status"], "parked");
    assert_eq!(app.count("journal_entries").await, entries, "no money moved");

    // Parked again, it can still be paid another way.
    let (status, settled) = app
        .post(
            &format!("{STAFF}/bills/{id}/settle"),
            &cashier,
            json!({ "tenders": [{ "kind": "cash", "amount_fen": 8800 }] }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{settled}");
    // A cashier cannot name a wallet tender directly.
    let (_, other) = parked_bill(&app, "code-bill-4").await;
    let (status, answer) = app
        .post(
            &format!("{STAFF}/bills/{other}/settle"),
            &cashier,
            json!({ "tenders": [{ "kind": "wechat_pay", "amount_fen": 8800 }] }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
}

#[tokio::test]
async fn the_cashier_calls_off_a_code_the_customer_is_still_confirming() {
    let app = TestApp::spawn().await;
    let (cashier, id) = parked_bill(&app, "code-bill-5").await;
    let entries = app.count("journal_entries").await;
    let never = app.fake.wechat_payment_code(sandbox::CodeBehaviour::UserPaying { paid_after_queries: None });
    let waiting = ok(pay_by_code(&app, &cashier, id, &never, "code-cancel-1").await);
    assert_eq!(waiting["status"], "pending");
    let pid = waiting["id"].as_i64().unwrap();
    let cancel = format!("{STAFF}/payments/{pid}/cancel");
    // Not before its timeout: the cashier says the customer will pay another way. Reversed at WeChat Pay, closed
    // here, the bill parked again, no money moved; audited.
    let called_off = ok(app.post(&cancel, &cashier, json!({})).await);
    assert_eq!(called_off["status"], "closed", "{called_off}");
    let order =
        app.fake.orders().into_iter().find(|o| Some(o.out_trade_no.as_str()) == waiting["out_trade_no"].as_str());
    assert_eq!(order.expect("order").state, "REVOKED");
    assert_eq!(bill(&app, &cashier, id).await["status"], "parked");
    assert_eq!(app.count("journal_entries").await, entries, "no money moved");
    assert_eq!(app.count("audit_log WHERE action = 'payments.code_cancelled'").await, 1);
    // Again: answered as it stands, nothing more done.
    assert_eq!(ok(app.post(&cancel, &cashier, json!({})).await)["status"], "closed");
    assert_eq!(app.count("audit_log WHERE action = 'payments.code_cancelled'").await, 1);

    // A customer who confirmed just before the cashier gave up has paid: the answer says so and the bill settles.
    let (_, other) = parked_bill(&app, "code-bill-6").await;
    let soon = app.fake.alipay_payment_code(sandbox::CodeBehaviour::UserPaying { paid_after_queries: Some(1) });
    let waiting = ok(pay_by_code(&app, &cashier, other, &soon, "code-cancel-2").await);
    assert_eq!(waiting["status"], "pending");
    let late = ok(app.post(&format!("{STAFF}/payments/{}/cancel", waiting["id"]), &cashier, json!({})).await);
    assert_eq!(late["status"], "paid", "{late}");
    assert_eq!(bill(&app, &cashier, other).await["status"], "settled");

    // Only a counter code payment is called off this way (a member's own order in the app is not the cashier's to
    // close); another merchant's payment is not found.
    let owner = app.token(Role::Owner).await;
    let plan = big_plan(&app, &owner).await;
    let (token, _) = app.member_token("code-cancel-online").await;
    let online = start(&app, &token, "wechatpay", plan, "code-cancel-online-1").await;
    let online = format!("{STAFF}/payments/{}/cancel", online["payment"]["id"]);
    assert_error(&app.post(&online, &cashier, json!({})).await, StatusCode::CONFLICT, "not_a_code_payment");
    let elsewhere = app.other_merchant().await.1;
    assert_error(&app.post(&cancel, &elsewhere, json!({})).await, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn the_daily_reconciliation_lists_what_the_bills_disagree_on_and_staff_resolve_it() {
    use service::payments::Provider as Ours;
    let app = TestApp::spawn().await;
    let owner = app.token(Role::Owner).await;
    let manager = app.token(Role::Manager).await;
    let plan = big_plan(&app, &owner).await;
    let (token, _) = app.member_token("recon-1").await;
    let today = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai).date_naive();

    // Three WeChat Pay recharges: one clean, one whose amount we recorded differently, one paid there but
    // (its notification held back) not here.
    let mut orders = Vec::new();
    for key in ["recon-clean-1", "recon-amount-1", "recon-held-1"] {
        let started = start(&app, &token, "wechatpay", plan, key).await;
        orders.push((
            started["payment"]["id"].as_i64().unwrap(),
            started["payment"]["out_trade_no"].as_str().unwrap().to_owned(),
        ));
    }
    app.fake.pay(Provider::WechatPay, &orders[0].1, Delivery::default()).unwrap();
    app.fake.pay(Provider::WechatPay, &orders[1].1, Delivery::default()).unwrap();
    app.fake.pay(Provider::WechatPay, &orders[2].1, Delivery { hold: true, ..Delivery::default() }).unwrap();
    wait_delivered(&app).await;
    execute(&app, &format!("UPDATE payments SET amount_fen = 299999 WHERE id = {}", orders[1].0)).await;
    let merchant = app.seed.merchant_id;
    let found = service::payments::reconcile::compare_day(&app.ctx, merchant, Ours::WechatPay, today).await.unwrap();
    assert_eq!((found.provider_rows, found.exceptions), (3, 2), "{found:?}");

    // An Alipay payment that agrees: its bill (a zip of GBK CSVs) parses and matches.
    let started = start(&app, &token, "alipay", plan, "recon-alipay-1").await;
    app.fake.pay(Provider::Alipay, started["payment"]["out_trade_no"].as_str().unwrap(), Delivery::default()).unwrap();
    wait_delivered(&app).await;
    let found = service::payments::reconcile::compare_day(&app.ctx, merchant, Ours::Alipay, today).await.unwrap();
    assert_eq!((found.provider_rows, found.exceptions), (1, 0), "{found:?}");

    let (status, listed) = app.get(&format!("{STAFF}/payment-exceptions"), &manager).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let kinds: Vec<&str> = listed.as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"amount_mismatch") && kinds.contains(&"missing_here"), "{listed}");
    assert_eq!(kinds.len(), 2, "{listed}");
    // Running the day again finds the same, adds nothing.
    service::payments::reconcile::compare_day(&app.ctx, merchant, Ours::WechatPay, today).await.unwrap();
    assert_eq!(app.count("payment_exceptions").await, 2);

    let id = listed[0]["id"].as_i64().unwrap();
    let path = format!("{STAFF}/payment-exceptions/{id}/resolve");
    let (status, cashier_try) = app.post(&path, &app.token(Role::Cashier).await, json!({ "resolution": "x" })).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{cashier_try}");
    let (status, resolved) = app.post(&path, &manager, json!({ "resolution": "已与微信支付核对，补记" })).await;
    assert_eq!(status, StatusCode::OK, "{resolved}");
    assert!(resolved["resolved_at"].is_string());
    let (status, _) = app.post(&path, &manager, json!({ "resolution": "again" })).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (_, open) = app.get(&format!("{STAFF}/payment-exceptions?open=true"), &manager).await;
    assert_eq!(open.as_array().unwrap().len(), 1);
    // Put the amount back so the ledger check at the end sees the data as the payments wrote it.
    execute(&app, &format!("UPDATE payments SET amount_fen = 300000 WHERE id = {}", orders[1].0)).await;
}

#[tokio::test]
async fn a_bill_row_that_does_not_parse_is_listed_as_an_exception_not_dropped() {
    use service::payments::Provider as Ours;
    let app = TestApp::spawn().await;
    let owner = app.token(Role::Owner).await;
    let plan = big_plan(&app, &owner).await;
    let (token, _) = app.member_token("recon-garbled").await;
    let today = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai).date_naive();
    let mut out_trade_nos = Vec::new();
    for key in ["garbled-clean-1", "garbled-row-1"] {
        let started = start(&app, &token, "wechatpay", plan, key).await;
        let out_trade_no = started["payment"]["out_trade_no"].as_str().unwrap().to_owned();
        app.fake.pay(Provider::WechatPay, &out_trade_no, Delivery::default()).unwrap();
        out_trade_nos.push(out_trade_no);
    }
    wait_delivered(&app).await;
    // The bill states the second payment's amounts as something that is not yuan.
    app.fake.garble_bill_row(&out_trade_nos[1]);

    let merchant = app.seed.merchant_id;
    let found = service::payments::reconcile::compare_day(&app.ctx, merchant, Ours::WechatPay, today).await.unwrap();
    assert_eq!((found.provider_rows, found.exceptions), (2, 1), "{found:?}");
    let (status, listed) = app.get(&format!("{STAFF}/payment-exceptions"), &owner).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 1, "listed once, not also as missing: {listed:?}");
    assert_eq!(listed[0]["kind"], "unreadable_row");
    assert!(listed[0]["payment_id"].is_i64(), "{listed:?}");
    assert!(listed[0]["detail"]["why"].as_str().unwrap().contains("N/A"), "{listed:?}");
    // The day again: the same exception, not a second.
    service::payments::reconcile::compare_day(&app.ctx, merchant, Ours::WechatPay, today).await.unwrap();
    assert_eq!(app.count("payment_exceptions").await, 1);
}

#[tokio::test]
async fn staff_read_each_days_reconciliation_and_run_a_past_day_again() {
    use service::payments::Provider as Ours;
    let app = TestApp::spawn().await;
    let owner = app.token(Role::Owner).await;
    let plan = big_plan(&app, &owner).await;
    let (token, _) = app.member_token("recon-days").await;
    let today = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai).date_naive();
    let yesterday = today.pred_opt().unwrap();
    let mut out_trade_nos = Vec::new();
    for key in ["recon-day-1", "recon-day-2"] {
        let started = start(&app, &token, "wechatpay", plan, key).await;
        let out_trade_no = started["payment"]["out_trade_no"].as_str().unwrap().to_owned();
        app.fake.pay(Provider::WechatPay, &out_trade_no, Delivery::default()).unwrap();
        out_trade_nos.push(out_trade_no);
    }
    wait_delivered(&app).await;
    let paid = app.staff_ok(&owner, "/payments").await;
    let each = paid[0]["amount_fen"].as_i64().unwrap();

    // The day as the daily job leaves it: totals on both sides, and whether they matched.
    let merchant = app.seed.merchant_id;
    service::payments::reconcile::reconcile(&app.ctx, merchant, Ours::WechatPay, today).await.unwrap();
    let days = app.staff_ok(&owner, &format!("/reconciliations?from={yesterday}&to={today}")).await;
    let day = days.as_array().unwrap().iter().find(|d| d["provider"] == "wechatpay").expect("the day is kept");
    assert_eq!(day["day"], today.to_string());
    assert_eq!(day["status"], "matched", "{day}");
    assert_eq!((day["our_payments"].as_i64(), day["provider_rows"].as_i64()), (Some(2), Some(2)));
    assert_eq!((day["our_paid_fen"].as_i64(), day["their_paid_fen"].as_i64()), (Some(2 * each), Some(2 * each)));

    // The same day again after the provider's bill changed: the row is replaced, not added to.
    app.fake.garble_bill_row(&out_trade_nos[1]);
    service::payments::reconcile::reconcile(&app.ctx, merchant, Ours::WechatPay, today).await.unwrap();
    let days = app.staff_ok(&owner, &format!("/reconciliations?from={today}&to={today}")).await;
    let wechat: Vec<&Value> = days.as_array().unwrap().iter().filter(|d| d["provider"] == "wechatpay").collect();
    assert_eq!(wechat.len(), 1, "{days}");
    assert_eq!((wechat[0]["status"].as_str(), wechat[0]["exceptions"].as_i64()), (Some("differences"), Some(1)));

    // It covers every store: a manager of one store may not read or run it; nor may anyone run today or the future.
    let manager = app.token(Role::Manager).await;
    let refused = app.get(&format!("{STAFF}/reconciliations?from={today}&to={today}"), &manager).await;
    assert_error(&refused, StatusCode::FORBIDDEN, "forbidden");
    let runs = format!("{STAFF}/reconciliations");
    let run = |day: chrono::NaiveDate| app.post(&runs, &owner, json!({ "day": day }));
    assert_error(&run(today).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    let backwards = app.get(&format!("{STAFF}/reconciliations?from={today}&to={yesterday}"), &owner).await;
    assert_error(&backwards, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");

    // A past day runs again now. A provider that cannot be reached (here: the merchant's key cannot be read) is
    // kept as a failed day with why, not as a day without payments.
    let again = ok(run(yesterday).await);
    let wechat = again.as_array().unwrap().iter().find(|d| d["provider"] == "wechatpay").expect("run for WeChat Pay");
    assert_eq!(
        (wechat["day"].as_str(), wechat["status"].as_str()),
        (Some(yesterday.to_string().as_str()), Some("matched"))
    );
    execute(&app, "UPDATE merchants SET wechatpay_private_key_sealed = 'unreadable'").await;
    let failed = ok(run(yesterday).await);
    let wechat = failed.as_array().unwrap().iter().find(|d| d["provider"] == "wechatpay").unwrap();
    assert_eq!(wechat["status"], "failed", "{wechat}");
    assert!(wechat["error"].as_str().is_some_and(|e| !e.is_empty()), "{wechat}");
    let log = app.staff_ok(&owner, "/audit-log?limit=20").await;
    assert!(log.as_array().unwrap().iter().any(|e| e["action"] == "payments.reconciled"), "audited");
}

#[tokio::test]
async fn store_scoped_staff_see_only_their_stores_payments_and_payment_exceptions() {
    use service::payments::Provider as Ours;
    let app = TestApp::spawn().await;
    let owner = app.token(Role::Owner).await;
    // The demo manager works at the first store only.
    let manager = app.token(Role::Manager).await;
    let [mine, theirs] = [app.seed.store_ids[0], app.seed.store_ids[1]];
    let plan = big_plan(&app, &owner).await;
    let (token, _) = app.member_token("scoped-payments").await;
    let mut paid = Vec::new();
    for (store, key) in [(mine, "scoped-pay-1"), (theirs, "scoped-pay-2")] {
        let body = json!({ "provider": "wechatpay", "store_id": store, "plan_id": plan, "idempotency_key": key });
        let (status, started) = app.post("/api/mini/v1/me/payments/recharges", &token, body).await;
        assert_eq!(status, StatusCode::OK, "{started}");
        let out_trade_no = started["payment"]["out_trade_no"].as_str().unwrap().to_owned();
        app.fake.pay(Provider::WechatPay, &out_trade_no, Delivery::default()).unwrap();
        app.fake.garble_bill_row(&out_trade_no);
        paid.push(started["payment"]["id"].as_i64().unwrap());
    }
    wait_delivered(&app).await;
    let today = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai).date_naive();
    service::payments::reconcile::compare_day(&app.ctx, app.seed.merchant_id, Ours::WechatPay, today).await.unwrap();

    let ids =
        |list: &Value| -> Vec<i64> { list.as_array().unwrap().iter().map(|p| p["id"].as_i64().unwrap()).collect() };
    let payments_path = format!("{STAFF}/payments");
    let everything = ids(&app.get(&payments_path, &owner).await.1);
    assert!(everything.len() == 2 && everything.iter().all(|id| paid.contains(id)), "{everything:?}");
    assert_eq!(ids(&app.get(&payments_path, &manager).await.1), [paid[0]], "the other store's payment is not theirs");

    let exceptions_path = format!("{STAFF}/payment-exceptions");
    let all = app.get(&exceptions_path, &owner).await.1;
    assert_eq!(all.as_array().unwrap().len(), 2, "{all}");
    let stores: Vec<i64> = all.as_array().unwrap().iter().map(|e| e["store_id"].as_i64().unwrap()).collect();
    assert!(stores.contains(&mine) && stores.contains(&theirs), "{all}");
    let seen = app.get(&exceptions_path, &manager).await.1;
    assert_eq!(seen.as_array().unwrap().len(), 1, "{seen}");
    assert_eq!(seen[0]["store_id"], mine);
    let elsewhere = all.as_array().unwrap().iter().find(|e| e["store_id"] == theirs).unwrap()["id"].as_i64().unwrap();
    let resolve = json!({ "resolution": "不是我店的" });
    let path = format!("{STAFF}/payment-exceptions/{elsewhere}/resolve");
    assert_error(&app.post(&path, &manager, resolve.clone()).await, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(app.post(&path, &owner, resolve).await.0, StatusCode::OK);
}

#[tokio::test]
async fn platform_certificates_and_the_public_key_verify_side_by_side_and_certificates_refresh() {
    let app = TestApp::spawn().await;
    let owner = app.token(Role::Owner).await;
    let (token, member) = app.member_token("pay-cert").await;
    let plan = big_plan(&app, &owner).await;
    let before = balance(&app, &owner, member).await;

    // WeChat Pay signs with its platform certificate's serial (a merchant before the public-key migration).
    app.fake.set_wechatpay_serial_mode(sandbox::SerialMode::PlatformCert);
    let started = start(&app, &token, "wechatpay", plan, "cert-mode-1").await;
    app.fake
        .pay(Provider::WechatPay, started["payment"]["out_trade_no"].as_str().unwrap(), Delivery::default())
        .unwrap();
    wait_delivered(&app).await;
    assert_eq!(balance(&app, &owner, member).await, before + 380_000);
    let attempts = app.fake.deliveries();
    assert!(attempts.iter().all(|a| a.accepted), "{attempts:?}");

    // Forget the certificate: answers signed with it are no longer trusted, so nothing can be prepaid...
    let merchant = app.seed.merchant_id;
    execute(
        &app,
        &format!("DELETE FROM wechatpay_platform_keys WHERE kind = 'certificate' AND merchant_id = {merchant}"),
    )
    .await;
    let body = json!({ "provider": "wechatpay", "store_id": app.seed.store_ids[0], "plan_id": plan, "idempotency_key": "cert-mode-2" });
    let (status, answer) = app.post("/api/mini/v1/me/payments/recharges", &token, body.clone()).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{answer}");
    // ...until the certificates are downloaded again; that answer verifies with the public key still trusted.
    app.fake.set_wechatpay_serial_mode(sandbox::SerialMode::PublicKeyId);
    let added = service::payments::credentials::refresh_certificates(&app.ctx, app.seed.merchant_id).await.unwrap();
    assert_eq!(added, 1);
    app.fake.set_wechatpay_serial_mode(sandbox::SerialMode::PlatformCert);
    let (status, answer) = app.post("/api/mini/v1/me/payments/recharges", &token, body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");

    // Staff see which serials are trusted, never a secret.
    let (status, settings) = app.get(&format!("{STAFF}/merchant/wechatpay"), &owner).await;
    assert_eq!(status, StatusCode::OK, "{settings}");
    assert_eq!(settings["private_key_set"], true);
    let text = settings.to_string();
    assert!(text.contains(sandbox::WECHATPAY_PUBLIC_KEY_ID) && text.contains(sandbox::WECHATPAY_PLATFORM_CERT_SERIAL));
    assert!(!text.contains("PRIVATE KEY") && !text.contains(crate::support::WECHATPAY_APIV3_KEY));
}

#[tokio::test]
async fn a_member_pays_a_parked_bill_in_the_mini_program_and_an_unpaid_one_is_parked_again() {
    let app = TestApp::spawn().await;
    let (token, member) = app.member_token("pay-bill").await;
    let owner = app.token(Role::Owner).await;
    let cashier = app.token(Role::Cashier).await;
    let service =
        json!({ "category": "剪发", "name": "精剪", "duration_min": 30, "price_fen": 8800, "substances": [] });
    let (_, item) = app.post(&format!("{STAFF}/services"), &owner, service).await;
    let park = |key: &str| json!({ "store_id": app.seed.store_ids[0], "member_id": member, "park": true, "idempotency_key": key, "lines": [{ "item_id": item["id"] }] });
    let (_, first) = app.post(&format!("{STAFF}/bills"), &cashier, park("member-bill-1")).await;
    let (_, second) = app.post(&format!("{STAFF}/bills"), &cashier, park("member-bill-2")).await;
    let (first, second) = (first["id"].as_i64().unwrap(), second["id"].as_i64().unwrap());
    let (_, to_pay) = app.get("/api/mini/v1/me/bills/to-confirm", &token).await;
    assert_eq!(to_pay.as_array().unwrap().len(), 2, "{to_pay}");
    let sv_before = balance(&app, &owner, member).await;

    // Another member cannot pay my bill: it is not found for them.
    let (stranger, _) = app.member_token("stranger").await;
    let (status, _) = app
        .post(
            &format!("/api/mini/v1/me/bills/{first}/payments"),
            &stranger,
            json!({ "provider": "wechatpay", "idempotency_key": "stranger-pay-1" }),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, started) = app
        .post(
            &format!("/api/mini/v1/me/bills/{first}/payments"),
            &token,
            json!({ "provider": "wechatpay", "idempotency_key": "bill-pay-001" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{started}");
    assert_eq!(started["payment"]["amount_fen"], 8800);
    assert_eq!(bill(&app, &cashier, first).await["status"], "paying");
    app.fake
        .pay(Provider::WechatPay, started["payment"]["out_trade_no"].as_str().unwrap(), Delivery::default())
        .unwrap();
    wait_delivered(&app).await;
    let settled = bill(&app, &cashier, first).await;
    assert_eq!(settled["status"], "settled", "{settled}");
    assert_eq!(settled["tenders"][0]["kind"], "wechat_pay");
    assert!(settled["points_earned"].as_i64().unwrap_or(0) > 0, "points follow the payment: {settled}");
    assert_eq!(balance(&app, &owner, member).await, sv_before, "stored value untouched");

    // The second is started with Alipay and never paid: once expired, the sweep closes it and parks the bill.
    let (status, started) = app
        .post(
            &format!("/api/mini/v1/me/bills/{second}/payments"),
            &token,
            json!({ "provider": "alipay", "idempotency_key": "bill-pay-002" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{started}");
    let pid = started["payment"]["id"].as_i64().unwrap();
    backdate(&app, pid, chrono::Duration::hours(1), true).await;
    let counts = service::payments::sweep_pending(&app.ctx).await.unwrap();
    assert_eq!(counts.closed, 1, "{counts:?}");
    assert_eq!(bill(&app, &cashier, second).await["status"], "parked");
}

#[tokio::test]
async fn payment_codes_go_through_the_v2_micropay_fallback_when_the_merchant_says_so() {
    let app = TestApp::spawn().await;
    let owner = app.token(Role::Owner).await;
    let v2_key = "SandboxApiV2Key00000000000000000";
    app.fake.set_wechatpay_v2_key(WECHATPAY_MCHID, v2_key).unwrap();
    let path = format!("{STAFF}/merchant/wechatpay");
    let (status, answer) = app.put(&path, &owner, json!({ "code_api": "v2" })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "the fallback needs its key: {answer}");
    let (status, answer) = app.put(&path, &owner, json!({ "code_api": "v4" })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    let (status, settings) = app.put(&path, &owner, json!({ "code_api": "v2", "v2_key": v2_key })).await;
    assert_eq!(status, StatusCode::OK, "{settings}");
    assert_eq!((settings["code_api"].as_str(), settings["v2_key_set"].as_bool()), (Some("v2"), Some(true)));
    assert!(!settings.to_string().contains(v2_key));

    // Paid at once.
    let (cashier, id) = parked_bill(&app, "v2-bill-1").await;
    let code = app.fake.wechat_payment_code(sandbox::CodeBehaviour::Pays);
    let (status, paid) = pay_by_code(&app, &cashier, id, &code, "v2-pay-0001").await;
    assert_eq!((status, paid["status"].as_str()), (StatusCode::OK, Some("paid")), "{paid}");
    assert_eq!(bill(&app, &cashier, id).await["tenders"][0]["kind"], "wechat_pay");

    // Waiting for the password, then paid: the query (v2 orderquery) settles it.
    let (_, id) = parked_bill(&app, "v2-bill-2").await;
    let code = app.fake.wechat_payment_code(sandbox::CodeBehaviour::UserPaying { paid_after_queries: Some(1) });
    let (_, waiting) = pay_by_code(&app, &cashier, id, &code, "v2-pay-0002").await;
    assert_eq!(waiting["status"], "pending", "{waiting}");
    let (_, payment) = app.get(&format!("{STAFF}/payments/{}", waiting["id"]), &cashier).await;
    assert_eq!(payment["status"], "paid", "{payment}");
    assert_eq!(bill(&app, &cashier, id).await["status"], "settled");

    // Never confirmed: reversed through v2 once out of time, the bill parked again.
    let (_, id) = parked_bill(&app, "v2-bill-3").await;
    let code = app.fake.wechat_payment_code(sandbox::CodeBehaviour::UserPaying { paid_after_queries: None });
    let (_, waiting) = pay_by_code(&app, &cashier, id, &code, "v2-pay-0003").await;
    let pid = waiting["id"].as_i64().unwrap();
    backdate(&app, pid, chrono::Duration::minutes(5), false).await;
    let (_, payment) = app.get(&format!("{STAFF}/payments/{pid}"), &cashier).await;
    assert_eq!(payment["status"], "closed", "{payment}");
    let order =
        app.fake.orders().into_iter().find(|o| Some(o.out_trade_no.as_str()) == payment["out_trade_no"].as_str());
    assert_eq!(order.expect("order").state, "REVOKED");
    assert_eq!(bill(&app, &cashier, id).await["status"], "parked");
}
