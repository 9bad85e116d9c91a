//! WeChat Pay API v3 fake, exercised with a hand-written client.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Read;
use std::time::Duration;

use common::*;
use sandbox::{CodeBehaviour, Delivery, Provider, SerialMode};
use serde_json::{Value, json};
use sha1::Digest;

fn prepay_body(out_trade_no: &str, total: i64, notify_url: &str) -> Value {
    json!({
        "appid": APPID,
        "mchid": MCHID,
        "description": "Huiyuan-洗剪吹",
        "out_trade_no": out_trade_no,
        "notify_url": notify_url,
        "attach": "bill-42",
        "amount": { "total": total, "currency": "CNY" },
        "payer": { "openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o" },
    })
}

fn codepay_body(out_trade_no: &str, total: i64, auth_code: &str) -> Value {
    json!({
        "appid": APPID,
        "mchid": MCHID,
        "description": "Huiyuan-染发",
        "out_trade_no": out_trade_no,
        "payer": { "auth_code": auth_code },
        "amount": { "total": total, "currency": "CNY" },
        "scene_info": { "device_id": "POS-1", "store_info": { "id": "S1" } },
    })
}

fn query_path(out_trade_no: &str) -> String {
    format!("/v3/pay/transactions/out-trade-no/{out_trade_no}?mchid={MCHID}")
}

/// Decrypts a notification body's resource with the test APIv3 key.
fn open_resource(body: &str) -> Value {
    let v: Value = serde_json::from_str(body).unwrap();
    let r = &v["resource"];
    assert_eq!(r["algorithm"], "AEAD_AES_256_GCM");
    let plain = decrypt(
        APIV3_KEY,
        r["nonce"].as_str().unwrap(),
        r["associated_data"].as_str().unwrap(),
        r["ciphertext"].as_str().unwrap(),
    )
    .expect("resource decrypts");
    serde_json::from_str(&plain).unwrap()
}

fn notification_verifies(received: &Received) -> bool {
    let message = format!(
        "{}\n{}\n{}\n",
        received.header("Wechatpay-Timestamp"),
        received.header("Wechatpay-Nonce"),
        received.body
    );
    received.header("Wechatpay-Signature-Type") == "WECHATPAY2-SHA256-RSA2048"
        && verify(&platform_key(), message.as_bytes(), &received.header("Wechatpay-Signature"))
}

#[tokio::test]
async fn jsapi_prepay_query_pay_and_signed_encrypted_notification() {
    let fake = fake();
    let listener = Listener::start(204, "");
    let client = WxClient::new(&fake.wechatpay_base());

    let answer = client.post("/v3/pay/transactions/jsapi", &prepay_body("HY20260001", 2500, &listener.url)).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    assert!(answer.verifies());
    assert_eq!(answer.header("Wechatpay-Serial"), sandbox::WECHATPAY_PUBLIC_KEY_ID);
    assert!(!answer.header("Request-ID").is_empty());
    let prepay_id = answer.json()["prepay_id"].as_str().unwrap().to_owned();
    assert!(prepay_id.starts_with("wx"));

    // The same request again is the same order; other content under the same number is refused.
    let again = client.post("/v3/pay/transactions/jsapi", &prepay_body("HY20260001", 2500, &listener.url)).await;
    assert_eq!(again.json()["prepay_id"], prepay_id.as_str());
    let reused = client.post("/v3/pay/transactions/jsapi", &prepay_body("HY20260001", 2600, &listener.url)).await;
    assert_eq!((reused.status, reused.json()["code"].as_str()), (400, Some("INVALID_REQUEST")));
    assert!(reused.verifies(), "errors are signed too");

    let query = client.get(&query_path("HY20260001")).await;
    assert_eq!(query.status, 200);
    assert!(query.verifies());
    assert_eq!(query.json()["trade_state"], "NOTPAY");
    assert!(query.json().get("transaction_id").is_none());

    fake.pay(Provider::WechatPay, "HY20260001", Delivery::default()).unwrap();
    let received = listener.wait_for(1).await;
    assert!(notification_verifies(&received[0]));
    assert_eq!(received[0].header("Wechatpay-Serial"), sandbox::WECHATPAY_PUBLIC_KEY_ID);
    let body: Value = serde_json::from_str(&received[0].body).unwrap();
    assert_eq!(body["event_type"], "TRANSACTION.SUCCESS");
    assert_eq!(body["resource_type"], "encrypt-resource");
    assert_eq!(body["resource"]["original_type"], "transaction");
    assert!(body["id"].as_str().unwrap().starts_with("EV-"));
    let transaction = open_resource(&received[0].body);
    assert_eq!(transaction["trade_state"], "SUCCESS");
    assert_eq!(transaction["out_trade_no"], "HY20260001");
    assert_eq!(transaction["mchid"], MCHID);
    assert_eq!(transaction["amount"]["total"], 2500);
    assert_eq!(transaction["amount"]["payer_total"], 2500);
    assert_eq!(transaction["attach"], "bill-42");
    assert!(transaction["success_time"].as_str().unwrap().ends_with("+08:00"));

    let paid = client.get(&query_path("HY20260001")).await.json();
    assert_eq!(paid["trade_state"], "SUCCESS");
    assert_eq!(paid["transaction_id"], transaction["transaction_id"]);
    assert_eq!(paid["trade_type"], "JSAPI");

    assert!(fake.wait_for_notifications(Duration::from_secs(2)).await);
    let deliveries = fake.deliveries();
    assert_eq!(deliveries.len(), 1);
    assert_eq!((deliveries[0].status, deliveries[0].accepted, deliveries[0].attempt), (Some(204), true, 1));
    assert_eq!(fake.pay(Provider::WechatPay, "HY20260001", Delivery::default()).map_err(|_| ()), Err(()));
}

#[tokio::test]
async fn unsigned_forged_or_stale_requests_get_401() {
    let fake = fake();
    let client = WxClient::new(&fake.wechatpay_base());
    let target = query_path("HY20260002");

    let unsigned = client.send_with("GET", &target, None, None).await;
    assert_eq!((unsigned.status, unsigned.json()["code"].as_str()), (401, Some("SIGN_ERROR")));
    assert!(unsigned.verifies());

    let mut forger = WxClient::new(&fake.wechatpay_base());
    forger.key = rsa::pkcs1::DecodeRsaPrivateKey::from_pkcs1_pem(sandbox::APP_TEST_PRIVATE_KEY).unwrap();
    assert_eq!(forger.get(&target).await.status, 401);

    let stale = client.authorization("GET", &target, "", now() - 301);
    assert_eq!(client.send_with("GET", &target, None, Some(&stale)).await.status, 401);

    let mut unknown_serial = WxClient::new(&fake.wechatpay_base());
    unknown_serial.serial = "0000000000000000000000000000000000000000".into();
    assert_eq!(unknown_serial.get(&target).await.status, 401);

    // Signed over another body than the one sent.
    let auth = client.authorization("POST", "/v3/pay/transactions/jsapi", "{}", now());
    let body = prepay_body("HY20260002", 100, "http://127.0.0.1:1/n").to_string();
    let tampered = client.send_with("POST", "/v3/pay/transactions/jsapi", Some(&body), Some(&auth)).await;
    assert_eq!(tampered.status, 401);

    // Signed properly it is only the order that does not exist.
    let fine = client.get(&target).await;
    assert_eq!((fine.status, fine.json()["code"].as_str()), (404, Some("ORDER_NOT_EXIST")));
}

#[tokio::test]
async fn serial_modes_certificates_and_forged_answers() {
    let fake = fake();
    let client = WxClient::new(&fake.wechatpay_base());

    fake.set_wechatpay_serial_mode(SerialMode::PlatformCert);
    let certs = client.get("/v3/certificates").await;
    assert_eq!(certs.status, 200);
    assert!(certs.verifies());
    assert_eq!(certs.header("Wechatpay-Serial"), sandbox::WECHATPAY_PLATFORM_CERT_SERIAL);
    let entry = &certs.json()["data"][0];
    assert_eq!(entry["serial_no"], sandbox::WECHATPAY_PLATFORM_CERT_SERIAL);
    let enc = &entry["encrypt_certificate"];
    assert_eq!(enc["associated_data"], "certificate");
    let pem =
        decrypt(APIV3_KEY, enc["nonce"].as_str().unwrap(), "certificate", enc["ciphertext"].as_str().unwrap()).unwrap();
    assert_eq!(pem, sandbox::WECHATPAY_PLATFORM_CERT);

    fake.set_wechatpay_serial_mode(SerialMode::PublicKeyId);
    fake.forge_next_wechatpay_response();
    let forged = client.get("/v3/certificates").await;
    assert_eq!(forged.status, 200);
    assert!(!forged.verifies(), "a forged answer must not verify");
    let next = client.get("/v3/certificates").await;
    assert!(next.verifies());
    assert_eq!(next.header("Wechatpay-Serial"), sandbox::WECHATPAY_PUBLIC_KEY_ID);
}

#[tokio::test]
async fn codepay_user_paying_declined_unknown_and_reverse() {
    let fake = fake();
    let client = WxClient::new(&fake.wechatpay_base());

    let code = fake.wechat_payment_code(CodeBehaviour::UserPaying { paid_after_queries: Some(2) });
    assert_eq!(code.len(), 18);
    let paying = client.post("/v3/pay/transactions/codepay", &codepay_body("POS20260001", 8800, &code)).await;
    assert_eq!((paying.status, paying.json()["code"].as_str()), (202, Some("USERPAYING")));
    assert!(paying.verifies());
    let first = client.get(&query_path("POS20260001")).await.json();
    assert_eq!(first["trade_state"], "USERPAYING");
    let second = client.get(&query_path("POS20260001")).await.json();
    assert_eq!(second["trade_state"], "SUCCESS");
    assert_eq!(second["trade_type"], "MICROPAY");
    assert_eq!(second["amount"]["payer_total"], 8800);

    // Codes are single use.
    let reused = client.post("/v3/pay/transactions/codepay", &codepay_body("POS20260002", 100, &code)).await;
    assert_eq!((reused.status, reused.json()["code"].as_str()), (400, Some("INVALID_REQUEST")));

    let unknown =
        client.post("/v3/pay/transactions/codepay", &codepay_body("POS20260003", 100, "134567890123456789")).await;
    assert_eq!(unknown.status, 400);

    let declined = fake.wechat_payment_code(CodeBehaviour::Declined);
    let refused = client.post("/v3/pay/transactions/codepay", &codepay_body("POS20260004", 100, &declined)).await;
    assert_eq!((refused.status, refused.json()["code"].as_str()), (403, Some("NOT_ENOUGH")));
    assert_eq!(client.get(&query_path("POS20260004")).await.json()["trade_state"], "PAYERROR");

    let pays = fake.wechat_payment_code(CodeBehaviour::Pays);
    let paid = client.post("/v3/pay/transactions/codepay", &codepay_body("POS20260005", 1200, &pays)).await;
    assert_eq!(paid.status, 200);
    assert_eq!(paid.json()["trade_state"], "SUCCESS");
    let reverse = client
        .post("/v3/pay/transactions/out-trade-no/POS20260005/reverse", &json!({ "appid": APPID, "mchid": MCHID }))
        .await;
    assert_eq!(reverse.status, 200);
    assert_eq!(reverse.json()["out_trade_no"], "POS20260005");
    assert_eq!(client.get(&query_path("POS20260005")).await.json()["trade_state"], "REVOKED");

    // Waiting forever until the control API pays it.
    let forever = fake.wechat_payment_code(CodeBehaviour::UserPaying { paid_after_queries: None });
    client.post("/v3/pay/transactions/codepay", &codepay_body("POS20260006", 300, &forever)).await;
    assert_eq!(client.get(&query_path("POS20260006")).await.json()["trade_state"], "USERPAYING");
    fake.pay(Provider::WechatPay, "POS20260006", Delivery::default()).unwrap();
    assert_eq!(client.get(&query_path("POS20260006")).await.json()["trade_state"], "SUCCESS");
}

#[tokio::test]
async fn close_answers_a_signed_204() {
    let fake = fake();
    let client = WxClient::new(&fake.wechatpay_base());
    client.post("/v3/pay/transactions/jsapi", &prepay_body("HY20260010", 100, "http://127.0.0.1:1/n")).await;
    let closed = client.post("/v3/pay/transactions/out-trade-no/HY20260010/close", &json!({ "mchid": MCHID })).await;
    assert_eq!(closed.status, 204);
    assert!(closed.bytes.is_empty());
    assert!(closed.verifies(), "204 is signed over an empty body");
    assert_eq!(client.get(&query_path("HY20260010")).await.json()["trade_state"], "CLOSED");
    assert!(fake.pay(Provider::WechatPay, "HY20260010", Delivery::default()).is_err());
}

#[tokio::test]
async fn refunds_are_idempotent_and_notified() {
    let fake = fake();
    let listener = Listener::start(200, "");
    let client = WxClient::new(&fake.wechatpay_base());
    client.post("/v3/pay/transactions/jsapi", &prepay_body("HY20260020", 100, &listener.url)).await;
    fake.pay(Provider::WechatPay, "HY20260020", Delivery::default()).unwrap();
    listener.wait_for(1).await;

    let refund = |amount: i64, no: &str| {
        json!({
            "out_trade_no": "HY20260020",
            "out_refund_no": no,
            "reason": "顾客取消",
            "notify_url": listener.url,
            "amount": { "refund": amount, "total": 100, "currency": "CNY" },
        })
    };
    let first = client.post("/v3/refund/domestic/refunds", &refund(60, "RF1")).await;
    assert_eq!(first.status, 200, "{}", first.text());
    assert!(first.verifies());
    let first = first.json();
    assert_eq!(first["status"], "PROCESSING");
    assert_eq!(first["amount"]["refund"], 60);
    let again = client.post("/v3/refund/domestic/refunds", &refund(60, "RF1")).await.json();
    assert_eq!(again["refund_id"], first["refund_id"]);
    let over = client.post("/v3/refund/domestic/refunds", &refund(50, "RF2")).await;
    assert_eq!((over.status, over.json()["code"].as_str()), (400, Some("INVALID_REQUEST")));

    let received = listener.wait_for(2).await;
    assert!(notification_verifies(&received[1]));
    let body: Value = serde_json::from_str(&received[1].body).unwrap();
    assert_eq!(body["event_type"], "REFUND.SUCCESS");
    let notice = open_resource(&received[1].body);
    assert_eq!(notice["refund_status"], "SUCCESS");
    assert_eq!(notice["out_refund_no"], "RF1");
    assert_eq!(notice["amount"]["refund"], 60);

    let queried = client.get("/v3/refund/domestic/refunds/RF1").await.json();
    assert_eq!(queried["status"], "SUCCESS");
    assert_eq!(client.get(&query_path("HY20260020")).await.json()["trade_state"], "REFUND");
    let rest = client.post("/v3/refund/domestic/refunds", &refund(40, "RF3")).await;
    assert_eq!(rest.status, 200);
    assert_eq!(client.get("/v3/refund/domestic/refunds/NOPE").await.status, 404);
}

#[tokio::test]
async fn tradebill_hash_matches_the_file() {
    let fake = fake();
    fake.set_refund_delay(Duration::ZERO);
    // The payment notification goes nowhere (port 1): give up at once.
    fake.set_notify_retry(Duration::from_millis(1), 1);
    let client = WxClient::new(&fake.wechatpay_base());
    client.post("/v3/pay/transactions/jsapi", &prepay_body("HY20260030", 12345, "http://127.0.0.1:1/n")).await;
    fake.pay(Provider::WechatPay, "HY20260030", Delivery::default()).unwrap();
    let refund = json!({ "out_trade_no": "HY20260030", "out_refund_no": "RF30", "amount": { "refund": 345, "total": 12345, "currency": "CNY" } });
    assert_eq!(client.post("/v3/refund/domestic/refunds", &refund).await.status, 200);
    assert!(fake.wait_for_notifications(Duration::from_secs(2)).await);

    let today = chrono::Utc::now().with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap()).format("%Y-%m-%d");
    for gzip in [true, false] {
        let tar = if gzip { "&tar_type=GZIP" } else { "" };
        let apply = client.get(&format!("/v3/bill/tradebill?bill_date={today}&bill_type=ALL{tar}")).await;
        assert_eq!(apply.status, 200, "{}", apply.text());
        assert!(apply.verifies());
        let meta = apply.json();
        assert_eq!(meta["hash_type"], "SHA1");
        let url = meta["download_url"].as_str().unwrap();
        assert!(url.starts_with(&fake.base_url()));
        let path = url.strip_prefix(&fake.base_url()).unwrap();
        let file = client.get(path).await;
        assert_eq!(file.status, 200);
        let csv = if gzip {
            let mut text = String::new();
            flate2::read::GzDecoder::new(file.bytes.as_slice()).read_to_string(&mut text).unwrap();
            text
        } else {
            file.text()
        };
        assert_eq!(hex::encode(sha1::Sha1::digest(csv.as_bytes())), meta["hash_value"].as_str().unwrap());
        let lines: Vec<&str> = csv.lines().collect();
        assert!(lines[0].starts_with("交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号"));
        assert!(lines[1].contains("`HY20260030") && lines[1].contains("`SUCCESS") && lines[1].contains("`123.45"));
        assert!(lines[2].contains("`REFUND") && lines[2].contains("`RF30") && lines[2].contains("`3.45"));
        assert!(lines[3].starts_with("总交易单数,应结订单总金额,退款总金额"));
        assert!(lines[4].starts_with("`2,`123.45,`3.45,"));
    }

    // Unsigned downloads are refused.
    let apply = client.get(&format!("/v3/bill/tradebill?bill_date={today}")).await.json();
    let path = apply["download_url"].as_str().unwrap().strip_prefix(&fake.base_url()).unwrap().to_owned();
    assert_eq!(client.send_with("GET", &path, None, None).await.status, 401);

    let empty = client.get("/v3/bill/tradebill?bill_date=2020-01-01&bill_type=ALL").await;
    assert_eq!((empty.status, empty.json()["code"].as_str()), (400, Some("NO_STATEMENT_EXIST")));
}

#[tokio::test]
async fn notifications_retry_duplicate_and_hold() {
    let fake = fake();
    fake.set_notify_retry(Duration::from_millis(10), 4);
    let listener = Listener::start(200, "");
    listener.script(&[(500, "{\"code\":\"FAIL\",\"message\":\"失败\"}"), (404, "")]);
    let client = WxClient::new(&fake.wechatpay_base());
    client.post("/v3/pay/transactions/jsapi", &prepay_body("HY20260040", 100, &listener.url)).await;
    fake.pay(Provider::WechatPay, "HY20260040", Delivery { duplicates: 2, ..Delivery::default() }).unwrap();
    assert!(fake.wait_for_notifications(Duration::from_secs(2)).await);
    let attempts: Vec<_> = fake.deliveries().iter().map(|d| (d.copy, d.attempt, d.status, d.accepted)).collect();
    assert_eq!(
        attempts,
        [(1, 1, Some(500), false), (1, 2, Some(404), false), (1, 3, Some(200), true), (2, 1, Some(200), true)]
    );
    let received = listener.received();
    assert_eq!(received.len(), 4);
    let ids: Vec<_> = received.iter().map(|r| serde_json::from_str::<Value>(&r.body).unwrap()["id"].clone()).collect();
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "every copy and retry carries the same event id");

    // Held back until released: the later order's notification arrives first.
    client.post("/v3/pay/transactions/jsapi", &prepay_body("HY20260041", 100, &listener.url)).await;
    client.post("/v3/pay/transactions/jsapi", &prepay_body("HY20260042", 100, &listener.url)).await;
    fake.pay(Provider::WechatPay, "HY20260041", Delivery { hold: true, ..Delivery::default() }).unwrap();
    fake.pay(Provider::WechatPay, "HY20260042", Delivery::default()).unwrap();
    listener.wait_for(5).await;
    assert!(fake.notifications().iter().any(|n| n.out_trade_no == "HY20260041" && n.held && !n.delivered));
    assert_eq!(fake.release_held(), 1);
    let received = listener.wait_for(6).await;
    assert_eq!(open_resource(&received[4].body)["out_trade_no"], "HY20260042");
    assert_eq!(open_resource(&received[5].body)["out_trade_no"], "HY20260041");

    // Concurrent duplicates.
    client.post("/v3/pay/transactions/jsapi", &prepay_body("HY20260043", 100, &listener.url)).await;
    fake.pay(Provider::WechatPay, "HY20260043", Delivery { duplicates: 3, concurrent: true, ..Delivery::default() })
        .unwrap();
    listener.wait_for(9).await;

    // Delayed.
    client.post("/v3/pay/transactions/jsapi", &prepay_body("HY20260044", 100, &listener.url)).await;
    fake.pay(Provider::WechatPay, "HY20260044", Delivery { delay: Duration::from_millis(150), ..Delivery::default() })
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(listener.received().len(), 9);
    listener.wait_for(10).await;
}

#[tokio::test]
async fn notification_helper_builds_what_a_client_verifies() {
    let fake = fake();
    let plaintext = json!({ "mchid": MCHID, "out_trade_no": "X1", "trade_state": "SUCCESS" }).to_string();
    let (headers, body) = fake.wechatpay_notification(MCHID, "TRANSACTION.SUCCESS", &plaintext).unwrap();
    let received = Received {
        headers: headers.iter().map(|(k, v)| (k.to_ascii_lowercase(), v.clone())).collect(),
        body: body.clone(),
    };
    assert!(notification_verifies(&received));
    assert_eq!(open_resource(&body)["out_trade_no"], "X1");
    let message =
        format!("{}\n{}\n{}\n", received.header("Wechatpay-Timestamp"), received.header("Wechatpay-Nonce"), body);
    assert_eq!(fake.wechatpay_sign(&message), received.header("Wechatpay-Signature"));
    assert!(fake.wechatpay_notification("nobody", "TRANSACTION.SUCCESS", &plaintext).is_err());
}
