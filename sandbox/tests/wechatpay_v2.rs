//! WeChat Pay v2 payment-code fake (XML, MD5 / HMAC-SHA256), exercised with a hand-written XML client.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;

use common::*;
use sandbox::{CodeBehaviour, OrderSummary, Provider};

const V2_KEY: &str = "sandboxAPIv2Key00000000000000000";

fn fake_v2() -> sandbox::FakeProviders {
    let fake = fake();
    fake.set_wechatpay_v2_key(MCHID, V2_KEY).unwrap();
    fake
}

/// `<xml>` with CDATA values, written here rather than borrowed from the fake.
fn to_xml(params: &BTreeMap<String, String>) -> String {
    let mut out = String::from("<xml>");
    for (k, v) in params {
        out.push_str(&format!("<{k}><![CDATA[{v}]]></{k}>"));
    }
    out.push_str("</xml>");
    out
}

/// Reads the fake's answers: flat, every value in one CDATA section.
fn from_xml(text: &str) -> BTreeMap<String, String> {
    let inner = text.strip_prefix("<xml>").and_then(|t| t.strip_suffix("</xml>")).expect("an <xml> answer");
    let mut out = BTreeMap::new();
    let mut rest = inner;
    while !rest.is_empty() {
        let open_end = rest.find('>').unwrap();
        let name = &rest[1..open_end];
        let close = format!("</{name}>");
        let close_at = rest.find(&close).unwrap();
        let value = &rest[open_end + 1..close_at];
        let value = value.strip_prefix("<![CDATA[").and_then(|v| v.strip_suffix("]]>")).expect("CDATA value");
        out.insert(name.to_owned(), value.to_owned());
        rest = &rest[close_at + close.len()..];
    }
    out
}

struct V2 {
    base: String,
    key: String,
    /// `None`: no `sign_type` field (MD5 by default).
    sign_type: Option<&'static str>,
    http: reqwest::Client,
}

impl V2 {
    fn new(fake: &sandbox::FakeProviders, sign_type: Option<&'static str>) -> Self {
        Self { base: fake.wechatpay_base(), key: V2_KEY.to_owned(), sign_type, http: http() }
    }

    fn signed(&self, fields: &[(&str, &str)]) -> BTreeMap<String, String> {
        let mut params: BTreeMap<String, String> =
            fields.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        params.insert("appid".into(), APPID.into());
        params.insert("mch_id".into(), MCHID.into());
        params.insert("nonce_str".into(), format!("n{}", now()));
        if let Some(t) = self.sign_type {
            params.insert("sign_type".into(), t.into());
        }
        let sign = sandbox::wechatpay_v2_sign(&params, &self.key, self.sign_type.unwrap_or("MD5"));
        params.insert("sign".into(), sign);
        params
    }

    async fn post_raw(&self, path: &str, body: String) -> BTreeMap<String, String> {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header("Content-Type", "text/xml")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        from_xml(&response.text().await.unwrap())
    }

    /// Posts a signed request; checks the answer's signature (same sign_type) whenever return_code is SUCCESS.
    async fn call(&self, path: &str, fields: &[(&str, &str)]) -> BTreeMap<String, String> {
        let answer = self.post_raw(path, to_xml(&self.signed(fields))).await;
        if answer["return_code"] == "SUCCESS" {
            let expected = sandbox::wechatpay_v2_sign(&answer, &self.key, self.sign_type.unwrap_or("MD5"));
            assert_eq!(answer["sign"], expected, "answer signature: {answer:?}");
            assert!(!answer.contains_key("sign_type"));
        } else {
            assert!(!answer.contains_key("sign"), "FAIL answers are unsigned");
        }
        answer
    }

    async fn micropay(&self, out_trade_no: &str, total_fee: &str, auth_code: &str) -> BTreeMap<String, String> {
        self.call(
            "/pay/micropay",
            &[
                ("body", "Huiyuan-剪发"),
                ("out_trade_no", out_trade_no),
                ("total_fee", total_fee),
                ("spbill_create_ip", "192.168.1.20"),
                ("auth_code", auth_code),
                ("device_info", "POS-1"),
                ("attach", "bill-7"),
            ],
        )
        .await
    }

    async fn query(&self, out_trade_no: &str) -> BTreeMap<String, String> {
        self.call("/pay/orderquery", &[("out_trade_no", out_trade_no)]).await
    }

    async fn reverse(&self, out_trade_no: &str) -> BTreeMap<String, String> {
        self.call("/secapi/pay/reverse", &[("out_trade_no", out_trade_no)]).await
    }
}

fn summary(fake: &sandbox::FakeProviders, out_trade_no: &str) -> OrderSummary {
    fake.orders().into_iter().find(|o| o.out_trade_no == out_trade_no).expect("order listed")
}

#[test]
fn helper_signs_the_official_example() {
    let params: BTreeMap<String, String> = [
        ("appid", "wxd930ea5d5a258f4f"),
        ("mch_id", "10000100"),
        ("device_info", "1000"),
        ("body", "test"),
        ("nonce_str", "ibuaiVcKdpRxkhJA"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let key = "192006250b4c09247ec02edce69f6a2d";
    assert_eq!(sandbox::wechatpay_v2_sign(&params, key, "MD5"), "9A0A8659F005D6984697E2CA0A9CF3B7");
    assert_eq!(
        sandbox::wechatpay_v2_sign(&params, key, "HMAC-SHA256"),
        "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6"
    );
}

#[tokio::test]
async fn micropay_pays_at_once_and_the_order_is_the_v3_one() {
    let fake = fake_v2();
    let v2 = V2::new(&fake, None);
    let code = fake.wechat_payment_code(CodeBehaviour::Pays);

    let paid = v2.micropay("V2PAY0001", "1234", &code).await;
    assert_eq!((paid["return_code"].as_str(), paid["return_msg"].as_str()), ("SUCCESS", "OK"));
    assert_eq!(paid["result_code"], "SUCCESS", "{paid:?}");
    assert!(!paid.contains_key("err_code"));
    assert_eq!(paid["appid"], APPID);
    assert_eq!(paid["mch_id"], MCHID);
    assert_eq!(paid["device_info"], "POS-1");
    assert_eq!(paid["trade_type"], "MICROPAY");
    assert_eq!(paid["total_fee"], "1234");
    assert_eq!(paid["cash_fee"], "1234");
    assert_eq!(paid["fee_type"], "CNY");
    assert_eq!(paid["bank_type"], "OTHERS");
    assert_eq!(paid["out_trade_no"], "V2PAY0001");
    assert_eq!(paid["attach"], "bill-7");
    assert!(paid["openid"].starts_with('o'));
    assert!(paid["transaction_id"].starts_with("4200"));
    let time_end = &paid["time_end"];
    assert!(time_end.len() == 14 && time_end.bytes().all(|b| b.is_ascii_digit()), "{time_end}");
    let today = chrono::Utc::now().with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).unwrap());
    assert!(time_end.starts_with(&today.format("%Y%m%d").to_string()), "China time");
    assert_eq!(fake.calls("pay/micropay"), 1);

    // The same request again (a retry) is the same payment.
    let again = v2.micropay("V2PAY0001", "1234", &code).await;
    assert_eq!(again["transaction_id"], paid["transaction_id"]);

    let query = v2.query("V2PAY0001").await;
    assert_eq!(query["result_code"], "SUCCESS");
    assert_eq!(query["trade_state"], "SUCCESS");
    assert_eq!(query["transaction_id"], paid["transaction_id"]);
    assert_eq!(query["openid"], paid["openid"]);
    assert_eq!(query["time_end"], paid["time_end"]);
    assert_eq!(query["device_info"], "POS-1");
    let by_id = v2.call("/pay/orderquery", &[("transaction_id", paid["transaction_id"].as_str())]).await;
    assert_eq!(by_id["out_trade_no"], "V2PAY0001");

    // One book: v3 sees the order, orders() and the trade bill list it.
    let client = WxClient::new(&fake.wechatpay_base());
    let v3 = client.get(&format!("/v3/pay/transactions/out-trade-no/V2PAY0001?mchid={MCHID}")).await;
    assert_eq!(v3.json()["trade_state"], "SUCCESS");
    assert_eq!(v3.json()["transaction_id"], paid["transaction_id"].as_str());
    assert_eq!(v3.json()["trade_type"], "MICROPAY");
    let listed = summary(&fake, "V2PAY0001");
    assert_eq!((listed.provider, listed.amount_fen, listed.state.as_str()), (Provider::WechatPay, 1234, "SUCCESS"));
    assert!(!listed.pending);

    let bill = client.get(&format!("/v3/bill/tradebill?bill_date={}", today.format("%Y-%m-%d"))).await;
    assert_eq!(bill.status, 200, "{}", bill.text());
    let url = bill.json()["download_url"].as_str().unwrap().to_owned();
    let file = client.get(url.strip_prefix(&fake.base_url()).unwrap()).await;
    let csv = file.text();
    let row = csv.lines().find(|l| l.contains("`V2PAY0001")).expect("bill row");
    assert!(
        row.contains(&format!("`{}", paid["transaction_id"])) && row.contains("`MICROPAY") && row.contains("`12.34")
    );
}

#[tokio::test]
async fn user_paying_then_success_after_queries_with_hmac_sha256() {
    let fake = fake_v2();
    let v2 = V2::new(&fake, Some("HMAC-SHA256"));
    let code = fake.wechat_payment_code(CodeBehaviour::UserPaying { paid_after_queries: Some(2) });

    let paying = v2.micropay("V2WAIT0001", "30000", &code).await;
    assert_eq!(paying["return_code"], "SUCCESS");
    assert_eq!(paying["result_code"], "FAIL");
    assert_eq!(paying["err_code"], "USERPAYING");
    assert!(!paying["err_code_des"].is_empty());
    assert!(!paying.contains_key("transaction_id"));
    assert!(summary(&fake, "V2WAIT0001").pending);

    let first = v2.query("V2WAIT0001").await;
    assert_eq!((first["result_code"].as_str(), first["trade_state"].as_str()), ("SUCCESS", "USERPAYING"));
    assert_eq!(first["trade_type"], "MICROPAY");
    assert_eq!(first["total_fee"], "30000");
    assert!(!first.contains_key("transaction_id"));
    let second = v2.query("V2WAIT0001").await;
    assert_eq!(second["trade_state"], "SUCCESS");
    assert!(second["transaction_id"].starts_with("4200"));
    assert_eq!(second["cash_fee"], "30000");
    assert_eq!(fake.calls("pay/orderquery"), 2);

    // Resubmitting the same micropay now reports the payment.
    let retry = v2.micropay("V2WAIT0001", "30000", &code).await;
    assert_eq!(
        (retry["result_code"].as_str(), retry["transaction_id"].as_str()),
        ("SUCCESS", second["transaction_id"].as_str())
    );
    // Another code under a paid number is ORDERPAID.
    let other = fake.wechat_payment_code(CodeBehaviour::Pays);
    assert_eq!(v2.micropay("V2WAIT0001", "30000", &other).await["err_code"], "ORDERPAID");
}

#[tokio::test]
async fn md5_and_hmac_sha256_both_accepted_and_a_v3_code_path_agrees() {
    let fake = fake_v2();
    for (n, sign_type) in [(1, None), (2, Some("MD5")), (3, Some("HMAC-SHA256"))] {
        let v2 = V2::new(&fake, sign_type);
        let code = fake.wechat_payment_code(CodeBehaviour::Pays);
        let paid = v2.micropay(&format!("V2SIGN000{n}"), "100", &code).await;
        assert_eq!(paid["result_code"], "SUCCESS", "{sign_type:?}: {paid:?}");
    }
    // A declined code answers NOTENOUGH, as v3 answers NOT_ENOUGH.
    let v2 = V2::new(&fake, None);
    let declined = fake.wechat_payment_code(CodeBehaviour::Declined);
    assert_eq!(v2.micropay("V2DECL0001", "100", &declined).await["err_code"], "NOTENOUGH");
    assert_eq!(v2.query("V2DECL0001").await["trade_state"], "PAYERROR");
}

#[tokio::test]
async fn bad_signatures_and_requests_are_refused() {
    let fake = fake_v2();
    let v2 = V2::new(&fake, Some("HMAC-SHA256"));
    let code = fake.wechat_payment_code(CodeBehaviour::Pays);
    let fields = [
        ("body", "Huiyuan-剪发"),
        ("out_trade_no", "V2BAD0001"),
        ("total_fee", "100"),
        ("spbill_create_ip", "10.0.0.1"),
        ("auth_code", code.as_str()),
    ];

    let mut tampered = v2.signed(&fields);
    tampered.insert("total_fee".into(), "1".into());
    let refused = v2.post_raw("/pay/micropay", to_xml(&tampered)).await;
    assert_eq!(refused["return_code"], "FAIL");
    assert_eq!(refused["return_msg"], "签名错误");
    assert_eq!(refused.len(), 2, "only return_code and return_msg: {refused:?}");

    // Signed as MD5 but declared HMAC-SHA256; lowercase hex; another key.
    let mut wrong_type = v2.signed(&fields);
    let md5 = sandbox::wechatpay_v2_sign(&wrong_type, V2_KEY, "MD5");
    wrong_type.insert("sign".into(), md5);
    assert_eq!(v2.post_raw("/pay/micropay", to_xml(&wrong_type)).await["return_msg"], "签名错误");
    let mut lower = v2.signed(&fields);
    let sign = lower["sign"].to_lowercase();
    lower.insert("sign".into(), sign);
    assert_eq!(v2.post_raw("/pay/micropay", to_xml(&lower)).await["return_msg"], "签名错误");
    let stranger = V2 { key: "0123456789abcdef0123456789abcdef".into(), ..V2::new(&fake, None) };
    assert_eq!(stranger.micropay("V2BAD0001", "100", &code).await["return_msg"], "签名错误");

    // Not XML, missing sign, unknown merchant, unknown sign_type.
    assert_eq!(v2.post_raw("/pay/micropay", "{\"a\":1}".into()).await["return_code"], "FAIL");
    let mut unsigned = v2.signed(&fields);
    unsigned.remove("sign");
    assert_eq!(v2.post_raw("/pay/micropay", to_xml(&unsigned)).await["return_code"], "FAIL");
    let mut other_merchant = v2.signed(&fields);
    other_merchant.insert("mch_id".into(), "1900009999".into());
    assert_eq!(v2.post_raw("/pay/micropay", to_xml(&other_merchant)).await["return_code"], "FAIL");
    let odd = V2::new(&fake, Some("RSA"));
    assert_eq!(odd.micropay("V2BAD0001", "100", &code).await["return_code"], "FAIL");

    // None of that touched the code: the correctly signed request still pays.
    assert!(fake.orders().is_empty());
    let paid = v2.call("/pay/micropay", &fields).await;
    assert_eq!(paid["result_code"], "SUCCESS", "{paid:?}");

    // Business errors: bad parameters, bad / unknown / used codes, unknown orders.
    let fresh = fake.wechat_payment_code(CodeBehaviour::Pays);
    assert_eq!(v2.micropay("V2BAD0002", "1.00", &fresh).await["err_code"], "PARAM_ERROR");
    assert_eq!(v2.micropay("V2BAD0002", "0", &fresh).await["err_code"], "PARAM_ERROR");
    assert_eq!(v2.micropay("V2BAD0002", "100", "28123456789012345678").await["err_code"], "AUTH_CODE_INVALID");
    assert_eq!(v2.micropay("V2BAD0002", "100", "134567890123456789").await["err_code"], "AUTHCODEEXPIRE");
    assert_eq!(v2.micropay("V2BAD0002", "100", &code).await["err_code"], "AUTH_CODE_INVALID");
    let missing = v2.query("V2NOPE0001").await;
    assert_eq!((missing["result_code"].as_str(), missing["err_code"].as_str()), ("FAIL", "ORDERNOTEXIST"));
    assert_eq!(v2.call("/pay/orderquery", &[]).await["err_code"], "PARAM_ERROR");
    // The fresh code was never charged by the refused calls.
    assert_eq!(v2.micropay("V2BAD0002", "100", &fresh).await["result_code"], "SUCCESS");
}

#[tokio::test]
async fn reverse_revokes_waiting_and_paid_orders() {
    let fake = fake_v2();
    let v2 = V2::new(&fake, None);

    let waiting = fake.wechat_payment_code(CodeBehaviour::UserPaying { paid_after_queries: None });
    assert_eq!(v2.micropay("V2REV0001", "500", &waiting).await["err_code"], "USERPAYING");
    let reversed = v2.reverse("V2REV0001").await;
    assert_eq!((reversed["result_code"].as_str(), reversed["recall"].as_str()), ("SUCCESS", "N"));
    assert_eq!(fake.calls("secapi/pay/reverse"), 1);
    let query = v2.query("V2REV0001").await;
    assert_eq!(query["trade_state"], "REVOKED");
    assert!(!query.contains_key("transaction_id"));
    let listed = summary(&fake, "V2REV0001");
    assert_eq!(listed.state, "REVOKED");
    assert!(!listed.pending);
    assert!(fake.pay(Provider::WechatPay, "V2REV0001", Default::default()).is_err(), "no longer payable");
    assert_eq!(v2.reverse("V2REV0001").await["result_code"], "SUCCESS", "reversing again is fine");
    let again = fake.wechat_payment_code(CodeBehaviour::Pays);
    assert_eq!(v2.micropay("V2REV0001", "500", &again).await["err_code"], "ORDERREVERSED");

    // A paid order is refunded in full by the reverse.
    let pays = fake.wechat_payment_code(CodeBehaviour::Pays);
    let paid = v2.micropay("V2REV0002", "800", &pays).await;
    assert_eq!(paid["result_code"], "SUCCESS");
    assert_eq!(v2.reverse("V2REV0002").await["result_code"], "SUCCESS");
    let query = v2.query("V2REV0002").await;
    assert_eq!(query["trade_state"], "REVOKED");
    assert_eq!(query["transaction_id"], paid["transaction_id"]);

    // A v3 codepay order reversed through v2, a JSAPI order refused, an unknown one.
    let client = WxClient::new(&fake.wechatpay_base());
    let v3_code = fake.wechat_payment_code(CodeBehaviour::UserPaying { paid_after_queries: None });
    let body = serde_json::json!({
        "appid": APPID, "mchid": MCHID, "description": "Huiyuan-染发", "out_trade_no": "V3CODE0001",
        "payer": { "auth_code": v3_code }, "amount": { "total": 100, "currency": "CNY" }, "scene_info": {},
    });
    assert_eq!(client.post("/v3/pay/transactions/codepay", &body).await.status, 202);
    assert_eq!(v2.reverse("V3CODE0001").await["result_code"], "SUCCESS");
    assert_eq!(summary(&fake, "V3CODE0001").state, "REVOKED");
    let jsapi = serde_json::json!({
        "appid": APPID, "mchid": MCHID, "description": "Huiyuan-卡", "out_trade_no": "V3JSAPI0001",
        "notify_url": "http://127.0.0.1:9/notify", "amount": { "total": 100 }, "payer": { "openid": "o1" },
    });
    assert_eq!(client.post("/v3/pay/transactions/jsapi", &jsapi).await.status, 200);
    let refused = v2.reverse("V3JSAPI0001").await;
    assert_eq!((refused["result_code"].as_str(), refused["err_code"].as_str()), ("FAIL", "TRADE_ERROR"));
    assert_eq!(refused["recall"], "N");
    assert_eq!(v2.reverse("V2NOPE0001").await["err_code"], "ORDERNOTEXIST");
}

#[tokio::test]
async fn plain_text_values_and_keys_checked() {
    let fake = fake_v2();
    assert!(fake.set_wechatpay_v2_key(MCHID, "short").is_err());
    let v2 = V2::new(&fake, None);
    let code = fake.wechat_payment_code(CodeBehaviour::Pays);
    // Plain text (entities decoded before signing), a prolog and whitespace, as some SDKs send.
    let params = v2.signed(&[
        ("body", "洗 & 吹"),
        ("out_trade_no", "V2TEXT0001"),
        ("total_fee", "100"),
        ("spbill_create_ip", "::1"),
        ("auth_code", code.as_str()),
    ]);
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<xml>\n");
    for (k, v) in &params {
        xml.push_str(&format!("  <{k}>{}</{k}>\n", v.replace('&', "&amp;")));
    }
    xml.push_str("</xml>");
    let paid = v2.post_raw("/pay/micropay", xml).await;
    assert_eq!(paid["result_code"], "SUCCESS", "{paid:?}");
    assert_eq!(summary(&fake, "V2TEXT0001").description, "洗 & 吹");
}
