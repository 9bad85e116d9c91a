//! WeChat subscribe-message fake (`/cgi-bin/message/subscribe/send`): access tokens, one-time grants, field rules,
//! and the answer delay, exercised over HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

const SECRET: &str = "sandboxMiniSecret";
const OPENID: &str = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o";
const TEMPLATE: &str = "tplBookingConfirmed0001";

/// A fake with the mini-program registered, and an access token for it from `stable_token`.
async fn fake_with_token() -> (sandbox::FakeProviders, String) {
    let fake = fake();
    fake.register_wechat_app(APPID, SECRET);
    let token = access_token(&fake, APPID, SECRET).await;
    (fake, token)
}

async fn access_token(fake: &sandbox::FakeProviders, appid: &str, secret: &str) -> String {
    let answer: serde_json::Value = http()
        .post(format!("{}/cgi-bin/stable_token", fake.wechat_base()))
        .json(&json!({ "grant_type": "client_credential", "appid": appid, "secret": secret, "force_refresh": false }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["access_token"].as_str().unwrap().to_owned()
}

fn message(data: serde_json::Value) -> serde_json::Value {
    json!({
        "touser": OPENID,
        "template_id": TEMPLATE,
        "page": "pages/booking/detail?id=42",
        "data": data,
        "miniprogram_state": "trial",
        "lang": "zh_CN",
    })
}

fn booking_data() -> serde_json::Value {
    json!({
        "thing1": { "value": "剪发 + 护理" },
        "time2": { "value": "2026年11月25日 15:00" },
        "phrase3": { "value": "已预约" },
        "name4": { "value": "王小明" },
        "character_string5": { "value": "BK20261125-0001" },
        "number6": { "value": "2" },
    })
}

async fn send_with(
    client: &reqwest::Client,
    fake: &sandbox::FakeProviders,
    token: &str,
    body: &serde_json::Value,
) -> reqwest::Result<serde_json::Value> {
    client
        .post(format!("{}/cgi-bin/message/subscribe/send", fake.wechat_base()))
        .query(&[("access_token", token)])
        .json(body)
        .send()
        .await?
        .json()
        .await
}

async fn send(fake: &sandbox::FakeProviders, token: &str, body: &serde_json::Value) -> serde_json::Value {
    send_with(&http(), fake, token, body).await.unwrap()
}

#[tokio::test]
async fn a_sent_message_is_recorded_and_uses_up_its_grant() {
    let (fake, token) = fake_with_token().await;
    fake.grant_subscription(APPID, OPENID, TEMPLATE);

    let answer = send(&fake, &token, &message(booking_data())).await;
    assert_eq!((answer["errcode"].as_i64(), answer["errmsg"].as_str()), (Some(0), Some("ok")), "{answer}");
    let first_msgid = answer["msgid"].as_u64().unwrap();

    let sent = fake.subscribe_messages();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].appid, APPID);
    assert_eq!(sent[0].touser, OPENID);
    assert_eq!(sent[0].template_id, TEMPLATE);
    assert_eq!(sent[0].page.as_deref(), Some("pages/booking/detail?id=42"));
    assert_eq!((sent[0].miniprogram_state.as_str(), sent[0].lang.as_str()), ("trial", "zh_CN"));
    let keys: Vec<&str> = sent[0].data.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["character_string5", "name4", "number6", "phrase3", "thing1", "time2"]);
    assert!(sent[0].data.contains(&("time2".to_owned(), "2026年11月25日 15:00".to_owned())));

    // One-time: the grant is used up.
    let again = send(&fake, &token, &message(booking_data())).await;
    assert_eq!(again["errcode"], 43101, "{again}");
    assert_eq!(again["errmsg"], "user refuse to accept the msg");
    assert_eq!(fake.subscribe_messages().len(), 1);

    // Grants add up, and msgids increase.
    fake.grant_subscription(APPID, OPENID, TEMPLATE);
    fake.grant_subscription(APPID, OPENID, TEMPLATE);
    let second = send(&fake, &token, &message(booking_data())).await;
    let third = send(&fake, &token, &message(booking_data())).await;
    let (second, third) = (second["msgid"].as_u64().unwrap(), third["msgid"].as_u64().unwrap());
    assert!(first_msgid < second && second < third, "{first_msgid} {second} {third}");
    assert_eq!(fake.subscribe_messages().len(), 3);
    assert_eq!(fake.calls("subscribe_send"), 4);

    // Defaults are recorded when the client leaves them out.
    fake.grant_subscription(APPID, OPENID, TEMPLATE);
    let bare = json!({ "touser": OPENID, "template_id": TEMPLATE, "data": { "thing1": { "value": "到店提醒" } } });
    assert_eq!(send(&fake, &token, &bare).await["errcode"], 0);
    let last = fake.subscribe_messages().pop().unwrap();
    assert_eq!((last.page, last.miniprogram_state.as_str(), last.lang.as_str()), (None, "formal", "zh_CN"));
}

#[tokio::test]
async fn grants_are_per_app_member_and_template() {
    let (fake, token) = fake_with_token().await;
    fake.grant_subscription("wxOtherApp000001", OPENID, TEMPLATE);
    fake.grant_subscription(APPID, "oSomeoneElse", TEMPLATE);
    fake.grant_subscription(APPID, OPENID, "tplOther");
    let answer = send(&fake, &token, &message(booking_data())).await;
    assert_eq!(answer["errcode"], 43101, "{answer}");
    assert!(fake.subscribe_messages().is_empty());
}

#[tokio::test]
async fn a_value_breaking_its_field_rule_is_refused_naming_the_key() {
    let (fake, token) = fake_with_token().await;
    fake.grant_subscription(APPID, OPENID, TEMPLATE);

    let cases: Vec<(&str, serde_json::Value)> = vec![
        ("thing1", json!("一二三四五六七八九十一二三四五六七八九十一")),
        ("phrase3", json!("正常结束了吧")),
        ("phrase3", json!("OK")),
        ("name4", json!("阿卜杜热合曼·买买提明")),
        ("name4", json!("Alexandra Richardsonian")),
        ("time2", json!("明天下午")),
        ("number6", json!("2份")),
        ("number6", json!("1.2.3")),
        ("character_string5", json!("BK 0001")),
        ("character_string5", json!("A".repeat(33))),
        ("thing1", json!("")),
    ];
    for (key, value) in cases {
        let mut data = booking_data();
        data[key] = json!({ "value": value });
        let answer = send(&fake, &token, &message(data)).await;
        assert_eq!(answer["errcode"], 47003, "{key}={value}: {answer}");
        assert_eq!(answer["errmsg"], format!("argument invalid! data.{key}.value invalid"), "{key}={value}");
    }

    let empty = send(&fake, &token, &message(json!({}))).await;
    assert_eq!(empty["errcode"], 47003, "{empty}");

    // Refusals use no grant: the valid message still goes out.
    assert!(fake.subscribe_messages().is_empty());
    let answer = send(&fake, &token, &message(booking_data())).await;
    assert_eq!(answer["errcode"], 0, "{answer}");
}

#[tokio::test]
async fn bad_token_openid_and_template_are_refused() {
    let (fake, token) = fake_with_token().await;
    fake.grant_subscription(APPID, OPENID, TEMPLATE);

    let answer = send(&fake, "not-a-token", &message(booking_data())).await;
    assert_eq!(answer["errcode"], 40001, "{answer}");

    let mut no_user = message(booking_data());
    no_user["touser"] = json!("");
    assert_eq!(send(&fake, &token, &no_user).await["errcode"], 40003);

    let mut no_template = message(booking_data());
    no_template["template_id"] = json!("");
    assert_eq!(send(&fake, &token, &no_template).await["errcode"], 40037);

    fake.invalidate_access_tokens();
    let answer = send(&fake, &token, &message(booking_data())).await;
    assert_eq!(answer["errcode"], 40001, "{answer}");
    assert!(fake.subscribe_messages().is_empty());
}

#[tokio::test]
async fn a_client_that_gives_up_during_the_delay_leaves_nothing_recorded() {
    let (fake, token) = fake_with_token().await;
    fake.grant_subscription(APPID, OPENID, TEMPLATE);
    fake.set_subscribe_delay(Duration::from_millis(500));

    let impatient = reqwest::Client::builder().no_proxy().timeout(Duration::from_millis(100)).build().unwrap();
    let err = send_with(&impatient, &fake, &token, &message(booking_data())).await.unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert_eq!(fake.calls("subscribe_send"), 1);
    // Once the delay has passed, the abandoned send has decided nothing.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(fake.subscribe_messages().is_empty());

    // The grant is still there for a patient client, which gets its answer after the delay; meanwhile the fake's
    // state is not locked by the waiting send.
    let started = Instant::now();
    let probe = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let asked = Instant::now();
        let sent = fake.subscribe_messages();
        (sent.len(), asked.elapsed())
    };
    let body = message(booking_data());
    let (answer, (sent_meanwhile, probe_took)) = tokio::join!(send(&fake, &token, &body), probe);
    assert_eq!(answer["errcode"], 0, "{answer}");
    assert!(started.elapsed() >= Duration::from_millis(500));
    assert_eq!(sent_meanwhile, 0);
    assert!(probe_took < Duration::from_millis(100), "{probe_took:?}");
    assert_eq!(fake.subscribe_messages().len(), 1);
}
