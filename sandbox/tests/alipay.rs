//! Alipay gateway fake (trade APIs and notifications), exercised with a hand-written client.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Read;
use std::time::Duration;

use common::*;
use sandbox::{CodeBehaviour, Delivery, Provider};
use serde_json::json;

fn create_biz(out_trade_no: &str, amount: &str) -> serde_json::Value {
    json!({
        "out_trade_no": out_trade_no,
        "total_amount": amount,
        "subject": "会员卡充值",
        "product_code": "JSAPI_PAY",
        "op_app_id": ALIPAY_APP_ID,
        "buyer_open_id": "074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo5",
    })
}

fn pay_biz(out_trade_no: &str, amount: &str, auth_code: &str) -> serde_json::Value {
    json!({ "out_trade_no": out_trade_no, "scene": "bar_code", "auth_code": auth_code, "subject": "剪发", "total_amount": amount })
}

#[tokio::test]
async fn trade_create_then_paid_sends_a_signed_notification() {
    let fake = fake();
    let listener = Listener::start(200, "success");
    let client = AlipayClient::new(&fake.alipay_gateway());

    let created = client.call("alipay.trade.create", create_biz("AL20260001", "25.00"), Some(&listener.url)).await;
    assert_eq!(created["code"], "10000");
    let trade_no = created["trade_no"].as_str().unwrap().to_owned();
    assert_eq!(trade_no.len(), 28);
    let again = client.call("alipay.trade.create", create_biz("AL20260001", "25.00"), Some(&listener.url)).await;
    assert_eq!(again["trade_no"], trade_no.as_str());
    let changed = client.call("alipay.trade.create", create_biz("AL20260001", "26.00"), Some(&listener.url)).await;
    assert_eq!(
        (changed["code"].as_str(), changed["sub_code"].as_str()),
        (Some("40004"), Some("ACQ.CONTEXT_INCONSISTENT"))
    );

    let query = client.call("alipay.trade.query", json!({ "out_trade_no": "AL20260001" }), None).await;
    assert_eq!(query["trade_status"], "WAIT_BUYER_PAY");

    fake.pay(Provider::Alipay, "AL20260001", Delivery::default()).unwrap();
    let received = listener.wait_for(1).await;
    assert!(received[0].header("content-type").starts_with("application/x-www-form-urlencoded"));
    let form = parse_form(&received[0].body);
    assert!(alipay_form_verifies(&form), "{form:?}");
    assert_eq!(form["notify_type"], "trade_status_sync");
    assert_eq!(form["trade_status"], "TRADE_SUCCESS");
    assert_eq!(form["trade_no"], trade_no);
    assert_eq!(form["out_trade_no"], "AL20260001");
    assert_eq!(form["total_amount"], "25.00");
    assert_eq!(form["seller_id"], sandbox::ALIPAY_SANDBOX_SELLER_ID);
    assert_eq!(form["app_id"], ALIPAY_APP_ID);
    assert_eq!(form["buyer_open_id"], "074a1CcTG1LelxKe4xQC0zgNdId0nxi95b5lsNpazWYoCo5");

    let paid = client.call("alipay.trade.query", json!({ "trade_no": trade_no }), None).await;
    assert_eq!(paid["trade_status"], "TRADE_SUCCESS");
    assert_eq!(paid["total_amount"], "25.00");
    assert!(fake.wait_for_notifications(Duration::from_secs(2)).await);
    assert!(fake.deliveries()[0].accepted);

    let unknown = client.call("alipay.trade.query", json!({ "out_trade_no": "NOPE" }), None).await;
    assert_eq!(unknown["sub_code"], "ACQ.TRADE_NOT_EXIST");

    // Declined: closed, nothing sent.
    client.call("alipay.trade.create", create_biz("AL20260002", "5.00"), Some(&listener.url)).await;
    fake.decline(Provider::Alipay, "AL20260002").unwrap();
    let closed = client.call("alipay.trade.query", json!({ "out_trade_no": "AL20260002" }), None).await;
    assert_eq!(closed["trade_status"], "TRADE_CLOSED");
    assert_eq!(fake.notifications().len(), 1);
}

#[tokio::test]
async fn notifications_are_redelivered_until_the_answer_is_exactly_success() {
    let fake = fake();
    fake.set_notify_retry(Duration::from_millis(10), 5);
    let listener = Listener::start(200, "success");
    listener.script(&[(200, "fail"), (200, "SUCCESS "), (500, "success")]);
    let client = AlipayClient::new(&fake.alipay_gateway());
    client.call("alipay.trade.create", create_biz("AL20260010", "1.00"), Some(&listener.url)).await;
    fake.pay(Provider::Alipay, "AL20260010", Delivery::default()).unwrap();
    assert!(fake.wait_for_notifications(Duration::from_secs(2)).await);
    let accepted: Vec<_> = fake.deliveries().iter().map(|d| d.accepted).collect();
    assert_eq!(accepted, [false, false, true], "a 500 that says success still counts; only the body matters");
    let ids: Vec<_> = listener.received().iter().map(|r| parse_form(&r.body)["notify_id"].clone()).collect();
    assert!(ids.windows(2).all(|w| w[0] == w[1]));
}

#[tokio::test]
async fn bar_code_pay_waits_for_the_user_declines_and_rejects_unknown_codes() {
    let fake = fake();
    let listener = Listener::start(200, "success");
    let client = AlipayClient::new(&fake.alipay_gateway());

    let code = fake.alipay_payment_code(CodeBehaviour::UserPaying { paid_after_queries: Some(2) });
    assert!(code.starts_with("28") && code.len() == 18);
    let waiting = client.call("alipay.trade.pay", pay_biz("AP20260001", "88.00", &code), Some(&listener.url)).await;
    assert_eq!(waiting["code"], "10003");
    let q1 = client.call("alipay.trade.query", json!({ "out_trade_no": "AP20260001" }), None).await;
    assert_eq!(q1["trade_status"], "WAIT_BUYER_PAY");
    let q2 = client.call("alipay.trade.query", json!({ "out_trade_no": "AP20260001" }), None).await;
    assert_eq!(q2["trade_status"], "TRADE_SUCCESS");
    let received = listener.wait_for(1).await;
    assert!(alipay_form_verifies(&parse_form(&received[0].body)));

    let reused = client.call("alipay.trade.pay", pay_biz("AP20260002", "1.00", &code), None).await;
    assert_eq!(reused["sub_code"], "ACQ.PAYMENT_AUTH_CODE_INVALID");
    let unknown = client.call("alipay.trade.pay", pay_biz("AP20260003", "1.00", "281234567890123456"), None).await;
    assert_eq!(
        (unknown["code"].as_str(), unknown["sub_code"].as_str()),
        (Some("40004"), Some("ACQ.PAYMENT_AUTH_CODE_INVALID"))
    );
    let declined = fake.alipay_payment_code(CodeBehaviour::Declined);
    let refused = client.call("alipay.trade.pay", pay_biz("AP20260004", "1.00", &declined), None).await;
    assert_eq!(refused["sub_code"], "ACQ.BUYER_BALANCE_NOT_ENOUGH");

    let pays = fake.alipay_payment_code(CodeBehaviour::Pays);
    let paid = client.call("alipay.trade.pay", pay_biz("AP20260005", "12.50", &pays), None).await;
    assert_eq!(paid["code"], "10000");
    assert_eq!(paid["total_amount"], "12.50");
    assert_eq!(paid["fund_bill_list"][0]["fund_channel"], "ALIPAYACCOUNT");
    assert!(paid["gmt_payment"].is_string());

    let cancel = client.call("alipay.trade.cancel", json!({ "out_trade_no": "AP20260005" }), None).await;
    assert_eq!((cancel["action"].as_str(), cancel["retry_flag"].as_str()), (Some("refund"), Some("N")));
    let forever = fake.alipay_payment_code(CodeBehaviour::UserPaying { paid_after_queries: None });
    client.call("alipay.trade.pay", pay_biz("AP20260006", "3.00", &forever), None).await;
    let cancel = client.call("alipay.trade.cancel", json!({ "out_trade_no": "AP20260006" }), None).await;
    assert_eq!(cancel["action"], "close");
}

#[tokio::test]
async fn refunds_are_idempotent_on_out_request_no() {
    let fake = fake();
    let client = AlipayClient::new(&fake.alipay_gateway());
    let code = fake.alipay_payment_code(CodeBehaviour::Pays);
    client.call("alipay.trade.pay", pay_biz("AP20260010", "10.00", &code), None).await;

    let refund =
        |amount: &str, no: &str| json!({ "out_trade_no": "AP20260010", "refund_amount": amount, "out_request_no": no });
    let first = client.call("alipay.trade.refund", refund("3.00", "R1"), None).await;
    assert_eq!((first["fund_change"].as_str(), first["refund_fee"].as_str()), (Some("Y"), Some("3.00")));
    let repeat = client.call("alipay.trade.refund", refund("3.00", "R1"), None).await;
    assert_eq!((repeat["fund_change"].as_str(), repeat["refund_fee"].as_str()), (Some("N"), Some("3.00")));
    let over = client.call("alipay.trade.refund", refund("8.00", "R2"), None).await;
    assert_eq!(over["sub_code"], "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL");
    let rest = client.call("alipay.trade.refund", refund("7.00", "R2"), None).await;
    assert_eq!(rest["refund_fee"], "10.00");
    let query = client.call("alipay.trade.query", json!({ "out_trade_no": "AP20260010" }), None).await;
    assert_eq!(query["trade_status"], "TRADE_CLOSED");
    let refund_query = client
        .call(
            "alipay.trade.fastpay.refund.query",
            json!({ "out_trade_no": "AP20260010", "out_request_no": "R2" }),
            None,
        )
        .await;
    assert_eq!(
        (refund_query["refund_amount"].as_str(), refund_query["refund_status"].as_str()),
        (Some("7.00"), Some("REFUND_SUCCESS"))
    );
}

#[tokio::test]
async fn trade_bill_is_a_zip_of_gbk_csvs() {
    let fake = fake();
    let client = AlipayClient::new(&fake.alipay_gateway());
    let code = fake.alipay_payment_code(CodeBehaviour::Pays);
    client.call("alipay.trade.pay", pay_biz("AP20260020", "66.60", &code), None).await;
    client
        .call(
            "alipay.trade.refund",
            json!({ "out_trade_no": "AP20260020", "refund_amount": "6.60", "out_request_no": "RB1" }),
            None,
        )
        .await;

    let today = chrono::Utc::now().with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap()).format("%Y-%m-%d");
    let answer = client
        .call(
            "alipay.data.dataservice.bill.downloadurl.query",
            json!({ "bill_type": "trade", "bill_date": today.to_string() }),
            None,
        )
        .await;
    assert_eq!(answer["code"], "10000");
    let url = answer["bill_download_url"].as_str().unwrap();
    let bytes = http().get(url).send().await.unwrap().bytes().await.unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    assert_eq!(zip.len(), 2);
    let detail_name = (0..zip.len())
        .map(|i| zip.by_index(i).unwrap().name().to_owned())
        .find(|n| n.ends_with("_业务明细.csv"))
        .unwrap();
    assert!(detail_name.starts_with(&format!("{}0156_", sandbox::ALIPAY_SANDBOX_SELLER_ID)));
    let mut raw = Vec::new();
    zip.by_name(&detail_name).unwrap().read_to_end(&mut raw).unwrap();
    let (text, _, bad) = encoding_rs::GBK.decode(&raw);
    assert!(!bad);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "#支付宝业务明细查询");
    assert!(lines[4].starts_with("支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间"));
    assert!(lines[5].contains("AP20260020\t,交易\t") && lines[5].contains(",66.60,66.60,"));
    assert!(lines[6].contains(",退款\t") && lines[6].contains(",-6.60,-6.60,") && lines[6].contains("RB1\t"));
    assert!(text.contains("#交易合计：1笔"));
}

#[tokio::test]
async fn login_still_works_and_the_notify_form_helper_signs() {
    let fake = fake();
    let client = AlipayClient::new(&fake.alipay_gateway());
    let code = fake.alipay_auth_code(ALIPAY_APP_ID, "open-1");
    // oauth.token takes grant_type and code as common parameters, not in biz_content.
    let extra = [("grant_type", "authorization_code"), ("code", code.as_str())];
    let (key, text) = client.call_with("alipay.system.oauth.token", None, &extra, None).await;
    assert_eq!(verified(&key, &text)["open_id"], "open-1");
    let (_, reused) = client.call_with("alipay.system.oauth.token", None, &extra, None).await;
    assert_eq!(verified("error_response", &reused)["sub_code"], "isv.code-invalid");

    fake.forge_next_alipay_response();
    let (key, forged) = client.call_raw("alipay.trade.query", json!({ "out_trade_no": "X" }), None).await;
    let result = std::panic::catch_unwind(|| verified(&key, &forged));
    assert!(result.is_err(), "a forged answer must not verify");

    let form =
        fake.alipay_notification_form(ALIPAY_APP_ID, &[("out_trade_no", "X1"), ("trade_status", "TRADE_SUCCESS")]);
    let map: std::collections::BTreeMap<String, String> = form.into_iter().collect();
    assert!(alipay_form_verifies(&map));
    assert_eq!(map["app_id"], ALIPAY_APP_ID);
}

#[tokio::test]
async fn control_page_lists_and_acts() {
    let fake = fake();
    let client = AlipayClient::new(&fake.alipay_gateway());
    client.call("alipay.trade.create", create_biz("AL20260100", "9.90"), None).await;
    let http = http();
    let page = http.get(format!("{}/sandbox", fake.base_url())).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("AL20260100") && page.contains("¥9.90") && page.contains("/sandbox/alipay/AL20260100/pay"));
    let acted = http
        .post(format!("{}/sandbox/alipay/AL20260100/pay", fake.base_url()))
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(acted.status(), 200);
    let orders: serde_json::Value =
        http.get(format!("{}/sandbox/orders", fake.base_url())).send().await.unwrap().json().await.unwrap();
    assert_eq!(orders["orders"][0]["state"], "TRADE_SUCCESS");
    assert_eq!(orders["orders"][0]["amount"], "9.90");
    let no_redirects =
        reqwest::Client::builder().no_proxy().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let again = no_redirects.post(format!("{}/sandbox/alipay/AL20260100/pay", fake.base_url())).send().await.unwrap();
    assert_eq!(again.status(), 303);
    assert!(again.headers()["location"].to_str().unwrap().starts_with("/sandbox?error="));
}
