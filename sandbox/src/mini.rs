//! The WeChat mini-program server API: `jscode2session`, `stable_token`, `getuserphonenumber`, and subscribe
//! messages (`/cgi-bin/message/subscribe/send`).
//!
//! WeChat answers these with HTTP 200 and an `errcode` (40029 invalid code, 40013 invalid appid/secret, 40001
//! invalid access token; for subscribe messages 40003 bad openid, 40037 bad template id, 43101 no subscription left,
//! 47003 a data value breaking its field rule), per the developers.weixin.qq.com server-API pages cited in
//! PROTOCOLS.md §C.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use actix_web::{HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::json;

use crate::util::random_token;
use crate::{Shared, count};

fn wechat_error(errcode: i64, errmsg: &str) -> HttpResponse {
    // WeChat answers errors with HTTP 200 and an errcode.
    HttpResponse::Ok().json(json!({ "errcode": errcode, "errmsg": errmsg }))
}

#[derive(Deserialize)]
pub(crate) struct Code2SessionQuery {
    appid: String,
    secret: String,
    js_code: String,
    grant_type: String,
}

pub(crate) async fn jscode2session(shared: web::Data<Shared>, query: web::Query<Code2SessionQuery>) -> HttpResponse {
    count(&shared, "jscode2session");
    let mut state = shared.state();
    if query.grant_type != "authorization_code" {
        return wechat_error(40002, "invalid grant_type");
    }
    if state.wechat_apps.get(&query.appid) != Some(&query.secret) {
        return wechat_error(40013, "invalid appid or secret");
    }
    match state.login_codes.remove(&query.js_code) {
        Some((appid, openid, unionid)) if appid == query.appid => {
            let mut body = json!({ "openid": openid, "session_key": STANDARD.encode(random_token(16)) });
            if let Some(unionid) = unionid {
                body["unionid"] = json!(unionid);
            }
            HttpResponse::Ok().json(body)
        }
        _ => wechat_error(40029, "invalid code"),
    }
}

#[derive(Deserialize)]
pub(crate) struct StableTokenBody {
    grant_type: String,
    appid: String,
    secret: String,
    #[serde(default)]
    force_refresh: bool,
}

pub(crate) async fn stable_token(shared: web::Data<Shared>, body: web::Json<StableTokenBody>) -> HttpResponse {
    count(&shared, "stable_token");
    let mut state = shared.state();
    if body.grant_type != "client_credential" || state.wechat_apps.get(&body.appid) != Some(&body.secret) {
        return wechat_error(40013, "invalid appid or secret");
    }
    // Normal mode returns the live token if there is one; force_refresh replaces it.
    let live = state.access_tokens.iter().find(|(_, appid)| **appid == body.appid).map(|(t, _)| t.clone());
    let token = match live {
        Some(token) if !body.force_refresh => token,
        _ => {
            state.access_tokens.retain(|_, appid| *appid != body.appid);
            let token = random_token(120);
            state.access_tokens.insert(token.clone(), body.appid.clone());
            token
        }
    };
    HttpResponse::Ok().json(json!({ "access_token": token, "expires_in": 7200 }))
}

#[derive(Deserialize)]
pub(crate) struct TokenQuery {
    access_token: String,
}

#[derive(Deserialize)]
pub(crate) struct PhoneBody {
    code: String,
}

pub(crate) async fn get_phone_number(
    shared: web::Data<Shared>,
    query: web::Query<TokenQuery>,
    body: web::Json<PhoneBody>,
) -> HttpResponse {
    count(&shared, "getuserphonenumber");
    let mut state = shared.state();
    let Some(appid) = state.access_tokens.get(&query.access_token).cloned() else {
        return wechat_error(40001, "invalid credential, access_token is invalid or not latest");
    };
    match state.phone_codes.remove(&body.code) {
        Some((code_appid, phone)) if code_appid == appid => HttpResponse::Ok().json(json!({
            "errcode": 0,
            "errmsg": "ok",
            "phone_info": {
                "phoneNumber": phone,
                "purePhoneNumber": phone,
                "countryCode": "86",
                "watermark": { "timestamp": chrono::Utc::now().timestamp(), "appid": appid },
            }
        })),
        _ => wechat_error(40029, "invalid code"),
    }
}

/// One-time subscriptions, the optional answer delay, and the messages sent.
#[derive(Default)]
pub(crate) struct Subscriptions {
    /// (appid, openid, template_id) → messages the member still accepts (one per tap on "允许").
    pub(crate) grants: HashMap<(String, String, String), u32>,
    /// How long `subscribe/send` waits before deciding.
    pub(crate) delay: Duration,
    pub(crate) sent: Vec<SentSubscribeMessage>,
    last_msgid: u64,
}

/// A subscribe message WeChat accepted (and would have shown the member).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentSubscribeMessage {
    /// The mini-program whose access token sent it.
    pub appid: String,
    pub touser: String,
    pub template_id: String,
    pub page: Option<String>,
    /// Keys and values, in key order.
    pub data: Vec<(String, String)>,
    /// As sent, or WeChat's default `formal` when absent.
    pub miniprogram_state: String,
    /// As sent, or WeChat's default `zh_CN` when absent.
    pub lang: String,
}

#[derive(Deserialize)]
struct SubscribeBody {
    #[serde(default)]
    touser: String,
    #[serde(default)]
    template_id: String,
    page: Option<String>,
    #[serde(default)]
    data: BTreeMap<String, DataValue>,
    miniprogram_state: Option<String>,
    lang: Option<String>,
}

#[derive(Deserialize)]
struct DataValue {
    value: String,
}

pub(crate) async fn send_subscribe_message(
    shared: web::Data<Shared>,
    query: web::Query<TokenQuery>,
    body: web::Bytes,
) -> HttpResponse {
    count(&shared, "subscribe_send");
    // Decide only after the delay, so a client that gives up meanwhile (actix then drops this future) leaves no
    // trace. The state lock is not held while waiting.
    let delay = shared.state().subscribe.delay;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let mut state = shared.state();
    let Some(appid) = state.access_tokens.get(&query.access_token).cloned() else {
        return wechat_error(40001, "invalid credential, access_token is invalid or not latest");
    };
    let Ok(body) = serde_json::from_slice::<SubscribeBody>(&body) else {
        return wechat_error(47001, "data format error");
    };
    if body.touser.is_empty() {
        return wechat_error(40003, "invalid openid");
    }
    if body.template_id.is_empty() {
        return wechat_error(40037, "invalid template_id");
    }
    if body.data.is_empty() {
        return wechat_error(47003, "argument invalid! data is empty");
    }
    if let Some(key) = body.data.iter().find(|(key, field)| !field_is_valid(key, &field.value)).map(|(key, _)| key) {
        return wechat_error(47003, &format!("argument invalid! data.{key}.value invalid"));
    }
    let grant = (appid.clone(), body.touser.clone(), body.template_id.clone());
    match state.subscribe.grants.get_mut(&grant) {
        Some(left) if *left > 0 => *left -= 1,
        _ => return wechat_error(43101, "user refuse to accept the msg"),
    }
    state.subscribe.last_msgid += 1;
    let msgid = state.subscribe.last_msgid;
    state.subscribe.sent.push(SentSubscribeMessage {
        appid,
        touser: body.touser,
        template_id: body.template_id,
        page: body.page,
        data: body.data.into_iter().map(|(key, field)| (key, field.value)).collect(),
        miniprogram_state: body.miniprogram_state.unwrap_or_else(|| "formal".to_owned()),
        lang: body.lang.unwrap_or_else(|| "zh_CN".to_owned()),
    });
    HttpResponse::Ok().json(json!({ "errcode": 0, "errmsg": "ok", "msgid": msgid }))
}

/// WeChat's field rules (「订阅消息参数值内容限制说明」, tabled in PROTOCOLS.md), written here again rather than taken
/// from `service`, so a misreading there shows up as a 47003 here. A key is a type prefix and digits; the types our
/// templates use are checked closely, the others only for a value.
fn field_is_valid(key: &str, value: &str) -> bool {
    let prefix = key.trim_end_matches(|c: char| c.is_ascii_digit());
    if value.is_empty() || prefix.is_empty() || prefix.len() == key.len() {
        return false;
    }
    let chars = value.chars().count();
    match prefix {
        "thing" => chars <= 20,
        "phrase" => chars <= 5 && value.chars().all(is_han),
        "name" if value.chars().all(|c| c.is_ascii_alphabetic() || c == ' ') => chars <= 20,
        "name" => chars <= 10,
        "time" => value.as_bytes().windows(4).any(
            |w| matches!(w, [h, b':', m1, m2] if h.is_ascii_digit() && m1.is_ascii_digit() && m2.is_ascii_digit()),
        ),
        "number" => chars <= 32 && is_decimal(value),
        "character_string" => chars <= 32 && value.chars().all(|c| c.is_ascii_graphic()),
        _ => true,
    }
}

/// 汉字: the CJK unified ideograph blocks (basic, extension A, extensions B and later) and compatibility ideographs.
fn is_han(c: char) -> bool {
    matches!(u32::from(c), 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x323AF)
}

/// Digits with at most one decimal point between digits, optionally negative.
fn is_decimal(value: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let unsigned = value.strip_prefix('-').unwrap_or(value);
    match unsigned.split_once('.') {
        Some((whole, fraction)) => digits(whole) && digits(fraction),
        None => digits(unsigned),
    }
}
