//! The SMS fakes' text rules, and round trips over HTTP: requests signed as a client would (with the fakes' own
//! signing functions, which the published vectors in `aliyun` and `tencent` pin down), refused when the signature
//! is wrong, and receipts / replies flowing as the providers make them.

use std::sync::Mutex;
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer};
use serde_json::Value;

use super::*;
use crate::sms::aliyun::{percent_encode, sign, string_to_sign};
use crate::sms::tencent::{canonical_request, tc3_signature};
use crate::util::random_token;

#[test]
fn aliyun_templates_are_filled_and_missing_variables_named() {
    let template = "您的验证码为${code}，${minutes}分钟内有效，请勿泄露${code}";
    assert_eq!(aliyun_variables(template), ["code", "minutes"]);
    let mut values = HashMap::from([("code".to_owned(), "1234".to_owned())]);
    assert_eq!(fill_aliyun(template, &values), Err("minutes".to_owned()));
    values.insert("minutes".into(), "5".into());
    assert_eq!(fill_aliyun(template, &values).as_deref(), Ok("您的验证码为1234，5分钟内有效，请勿泄露1234"));
    assert_eq!(fill_aliyun("无变量", &HashMap::new()).as_deref(), Ok("无变量"));
}

#[test]
fn tencent_templates_take_exactly_their_variables() {
    let template = "{1}为您的登录验证码，请于{2}分钟内填写";
    assert_eq!(tencent_variable_count(template), 2);
    assert_eq!(fill_tencent(template, &["1234".into()]), None);
    assert_eq!(fill_tencent(template, &["1234".into(), "5".into(), "x".into()]), None);
    assert_eq!(
        fill_tencent(template, &["1234".into(), "5".into()]).as_deref(),
        Some("1234为您的登录验证码，请于5分钟内填写")
    );
    assert_eq!(tencent_variable_count("{a} and {} but not"), 0);
}

#[test]
fn mainland_numbers_and_parts() {
    assert_eq!(mainland_mobile("13800000001", false).as_deref(), Some("13800000001"));
    assert_eq!(mainland_mobile("+8613800000001", true).as_deref(), Some("13800000001"));
    assert_eq!(mainland_mobile("8613800000001", true).as_deref(), Some("13800000001"));
    for bad in ["+8613800000001", "12800000001", "1380000000", "1380000000a", "+85212345678"] {
        assert_eq!(mainland_mobile(bad, false), None, "{bad}");
    }
    assert_eq!(mainland_mobile("+85213800000001", true), None);
    assert_eq!(parts(&"字".repeat(70)), 1);
    assert_eq!(parts(&"字".repeat(71)), 2);
    assert_eq!(parts(&"字".repeat(134)), 2);
    assert_eq!(parts(&"字".repeat(135)), 3);
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().expect("client")
}

/// A signed Aliyun RPC POST; `extra` adds or overrides parameters (a fixed `SignatureNonce`, say).
async fn aliyun(fake: &FakeProviders, secret: &str, extra: &[(&str, &str)]) -> (u16, Value) {
    let mut params: std::collections::BTreeMap<String, String> = [
        ("AccessKeyId", "LTAI5tTest"),
        ("Format", "JSON"),
        ("RegionId", "cn-hangzhou"),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureVersion", "1.0"),
        ("Version", "2017-05-25"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    params.insert("SignatureNonce".into(), random_token(16));
    params.insert("Timestamp".into(), Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string());
    params.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let signature = sign(secret, &string_to_sign("POST", &params));
    params.insert("Signature".into(), signature);
    let form: Vec<String> =
        params.iter().map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v))).collect();
    let response = client()
        .post(fake.aliyun_sms_endpoint())
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form.join("&"))
        .send()
        .await
        .expect("aliyun request");
    let status = response.status().as_u16();
    (status, response.json().await.expect("aliyun json"))
}

/// A TC3-signed Tencent call; `Err` when the client gave up (timeout).
async fn tencent(fake: &FakeProviders, secret: &str, action: &str, body: Value, timeout: Duration) -> Option<Value> {
    let body = body.to_string();
    let (content_type, host) = ("application/json; charset=utf-8", format!("127.0.0.1:{}", fake.port()));
    let timestamp = Utc::now().timestamp();
    let date = Utc::now().format("%Y-%m-%d").to_string();
    let headers = format!("content-type:{content_type}\nhost:{host}\n");
    let canonical = canonical_request(&headers, "content-type;host", body.as_bytes());
    let signature = tc3_signature(secret, "sms", timestamp, &date, &canonical);
    let authorization = format!(
        "TC3-HMAC-SHA256 Credential=AKIDtest/{date}/sms/tc3_request, SignedHeaders=content-type;host, Signature={signature}"
    );
    let response = client()
        .post(fake.tencent_sms_endpoint())
        .timeout(timeout)
        .header("Content-Type", content_type)
        .header("Authorization", authorization)
        .header("X-TC-Action", action)
        .header("X-TC-Version", "2021-01-11")
        .header("X-TC-Timestamp", timestamp.to_string())
        .header("X-TC-Region", "ap-guangzhou")
        .body(body)
        .send()
        .await
        .ok()?;
    Some(response.json::<Value>().await.expect("tencent json")["Response"].clone())
}

/// A receiver for Aliyun's pushes that refuses the first one (to see the retry) and keeps the rest.
fn receiver(got: Arc<Mutex<Vec<Value>>>) -> (String, actix_web::dev::ServerHandle) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let refused_once = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let server = HttpServer::new(move || {
        let (got, refused_once) = (got.clone(), refused_once.clone());
        App::new().default_service(actix_web::web::to(move |body: actix_web::web::Json<Value>| {
            let (got, refused_once) = (got.clone(), refused_once.clone());
            async move {
                if !refused_once.swap(true, Ordering::SeqCst) {
                    return HttpResponse::Ok().json(json!({ "code": 1, "msg": "busy" }));
                }
                got.lock().expect("lock").push(body.into_inner());
                HttpResponse::Ok().json(json!({ "code": 0, "msg": "成功" }))
            }
        }))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .expect("listen")
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    (format!("http://127.0.0.1:{port}"), handle)
}

#[tokio::test]
async fn aliyun_round_trip() {
    let fake = FakeProviders::start().expect("start");
    fake.set_notify_retry(Duration::from_millis(20), 8);
    fake.register_sms_account(
        SmsProvider::Aliyun,
        "LTAI5tTest",
        "secret",
        None,
        &["美发店"],
        &[("SMS_1", "${name}您好，您的卡余额${balance}元")],
    );
    let got = Arc::new(Mutex::new(Vec::new()));
    let (base, receiver_handle) = receiver(got.clone());
    fake.set_aliyun_sms_callbacks(&format!("{base}/report"), &format!("{base}/up"));
    fake.fail_sms_to("13900000002");
    let send = [
        ("Action", "SendSms"),
        ("PhoneNumbers", "13800000001,+8613900000002"),
        ("SignName", "美发店"),
        ("TemplateCode", "SMS_1"),
        ("TemplateParam", r#"{"balance":"88.00","name":"王 *先生~"}"#),
        ("OutId", "job-1"),
    ];

    let (status, body) = aliyun(&fake, "wrong", &send).await;
    assert_eq!((status, body["Code"].as_str()), (400, Some("SignatureDoesNotMatch")), "{body}");
    let (status, body) = aliyun(
        &fake,
        "secret",
        &[
            ("Action", "SendSms"),
            ("PhoneNumbers", "13800000001"),
            ("SignName", "美发店"),
            ("TemplateCode", "SMS_1"),
            ("TemplateParam", r#"{"name":"王"}"#),
        ],
    )
    .await;
    assert_eq!((status, body["Code"].as_str()), (200, Some("isv.TEMPLATE_MISSING_PARAMETERS")), "{body}");
    fake.throttle_sms(1);
    let (_, body) = aliyun(&fake, "secret", &send).await;
    assert_eq!(body["Code"], "isv.BUSINESS_LIMIT_CONTROL");
    assert!(fake.sms_sent().is_empty());

    let mut nonce_send = send.to_vec();
    nonce_send.push(("SignatureNonce", "nonce-1"));
    let (status, body) = aliyun(&fake, "secret", &nonce_send).await;
    assert_eq!((status, body["Code"].as_str()), (200, Some("OK")), "{body}");
    let biz_id = body["BizId"].as_str().expect("BizId").to_owned();
    let (status, body) = aliyun(&fake, "secret", &nonce_send).await;
    assert_eq!((status, body["Code"].as_str()), (400, Some("SignatureNonceUsed")));

    let sent = fake.sms_sent();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].phone, "13900000002");
    assert_eq!(sent[0].content, "【美发店】王 *先生~您好，您的卡余额88.00元");
    assert_eq!(sent[0].params, [("name".to_owned(), "王 *先生~".to_owned()), ("balance".into(), "88.00".into())]);
    assert_eq!((sent[0].key.as_deref(), sent[0].provider_id.as_str()), (Some("job-1"), biz_id.as_str()));

    fake.sms_reply(SmsProvider::Aliyun, "美发店", "13800000001", "退订");
    assert!(fake.wait_for_notifications(Duration::from_secs(10)).await);
    let pushed = got.lock().expect("lock").clone();
    let reports: Vec<&Value> = pushed.iter().flat_map(|batch| batch.as_array().into_iter().flatten()).collect();
    let report = |phone: &str| reports.iter().find(|r| r["phone_number"] == phone && r.get("biz_id").is_some());
    assert_eq!(report("13800000001").map(|r| r["success"].clone()), Some(json!(true)), "{pushed:?}");
    assert_eq!(report("13900000002").map(|r| r["err_code"].clone()), Some(json!("MK:0001")));
    assert!(reports.iter().any(|r| r["content"] == "退订" && r["sign_name"] == "美发店"), "{pushed:?}");

    let day = Utc::now().with_timezone(&crate::util::china()).format("%Y%m%d").to_string();
    let query = [
        ("Action", "QuerySendDetails"),
        ("PhoneNumber", "13900000002"),
        ("SendDate", day.as_str()),
        ("PageSize", "10"),
        ("CurrentPage", "1"),
    ];
    let (_, body) = aliyun(&fake, "secret", &query).await;
    assert_eq!(body["TotalCount"], 1, "{body}");
    assert_eq!(body["SmsSendDetailDTOs"]["SmsSendDetailDTO"][0]["SendStatus"], 2);
    receiver_handle.stop(false).await;
    fake.stop().await;
}

#[tokio::test]
async fn tencent_round_trip() {
    let fake = FakeProviders::start().expect("start");
    fake.register_sms_account(
        SmsProvider::Tencent,
        "AKIDtest",
        "secret",
        Some("1400000001"),
        &["美发店"],
        &[("1001", "您的余额为{1}元，{2}")],
    );
    let long = Duration::from_secs(10);
    let send = json!({
        "PhoneNumberSet": ["+8613800000001", "+85212345678"],
        "SmsSdkAppId": "1400000001",
        "SignName": "美发店",
        "TemplateId": "1001",
        "TemplateParamSet": ["88.00", "欢迎光临"],
        "SessionContext": "job-1",
    });
    let refused = tencent(&fake, "wrong", "SendSms", send.clone(), long).await.expect("answer");
    assert_eq!(refused["Error"]["Code"], "AuthFailure.SignatureFailure", "{refused}");
    let mut short = send.clone();
    short["TemplateParamSet"] = json!(["88.00"]);
    let refused = tencent(&fake, "secret", "SendSms", short, long).await.expect("answer");
    assert_eq!(refused["Error"]["Code"], "InvalidParameterValue.TemplateParameterFormatError");

    let answer = tencent(&fake, "secret", "SendSms", send.clone(), long).await.expect("answer");
    let items = answer["SendStatusSet"].as_array().expect("items").clone();
    assert_eq!((items[0]["Code"].as_str(), items[0]["Fee"].as_u64()), (Some("Ok"), Some(1)), "{answer}");
    assert_eq!(
        (items[1]["Code"].as_str(), items[1]["SerialNo"].as_str()),
        (Some("InvalidParameterValue.IncorrectPhoneNumber"), Some(""))
    );
    fake.throttle_sms(1);
    let answer = tencent(&fake, "secret", "SendSms", send.clone(), long).await.expect("answer");
    assert_eq!(answer["SendStatusSet"][0]["Code"], "LimitExceeded.PhoneNumberDailyLimit");
    fake.answer_sms_late(1, Duration::from_millis(600));
    assert!(tencent(&fake, "secret", "SendSms", send, Duration::from_millis(100)).await.is_none());
    let sent = fake.sms_sent();
    assert_eq!(sent.len(), 2, "the late one is recorded, the throttled one is not");
    assert_eq!(sent[0].content, "【美发店】您的余额为88.00元，欢迎光临");

    let pull = json!({ "Limit": 10, "SmsSdkAppId": "1400000001" });
    let first = tencent(&fake, "secret", "PullSmsSendStatus", pull.clone(), long).await.expect("answer");
    assert_eq!(first["PullSmsSendStatusSet"].as_array().map(Vec::len), Some(2), "{first}");
    assert_eq!(first["PullSmsSendStatusSet"][0]["ReportStatus"], "SUCCESS");
    let again = tencent(&fake, "secret", "PullSmsSendStatus", pull.clone(), long).await.expect("answer");
    assert_eq!(again["PullSmsSendStatusSet"].as_array().map(Vec::len), Some(0));
    let by_phone = json!({
        "BeginTime": Utc::now().timestamp() - 60, "Offset": 0, "Limit": 10,
        "PhoneNumber": "+8613800000001", "SmsSdkAppId": "1400000001",
    });
    for _ in 0..2 {
        let answer = tencent(&fake, "secret", "PullSmsSendStatusByPhoneNumber", by_phone.clone(), long).await;
        assert_eq!(answer.expect("answer")["PullSmsSendStatusSet"].as_array().map(Vec::len), Some(2));
    }

    fake.sms_reply(SmsProvider::Tencent, "美发店", "13800000001", "T");
    let replies = tencent(&fake, "secret", "PullSmsReplyStatus", pull.clone(), long).await.expect("answer");
    assert_eq!(replies["PullSmsReplyStatusSet"][0]["ReplyContent"], "T", "{replies}");
    let replies = tencent(&fake, "secret", "PullSmsReplyStatus", pull, long).await.expect("answer");
    assert_eq!(replies["PullSmsReplyStatusSet"].as_array().map(Vec::len), Some(0));
    fake.stop().await;
}
