//! The WeChat mini-program server API: `jscode2session`, `stable_token`, `getuserphonenumber`.
//!
//! WeChat answers these with HTTP 200 and an `errcode` (40029 invalid code, 40013 invalid appid/secret, 40001
//! invalid access token), per the developers.weixin.qq.com server-API pages cited in PROTOCOLS.md §C.

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
