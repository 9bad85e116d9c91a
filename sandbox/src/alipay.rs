//! Alipay's classic gateway (`POST /gateway.do`): checks the app's RSA2 request signature, dispatches on
//! `method`, and signs each answer over the exact `<method>_response` JSON text, as Alipay does.
//!
//! Request signing (PROTOCOLS.md §B): every parameter except `sign` (so `sign_type` is included), sorted, raw
//! `k=v` joined by `&`, SHA256withRSA with the app's key. Parameters are read from both the query string and the
//! form body because the official Java SDK sends the common ones in the URL and `biz_content` in the body.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use crate::notify::{self, Delivery};
use crate::util::{random_token, rsa_sign, rsa_verify};
use crate::{Shared, alipay_trade, count};

/// The RSA2 content: sorted `k=v`, `sign` excluded, raw values.
fn sign_content(params: &BTreeMap<String, String>) -> String {
    let pairs: Vec<String> =
        params.iter().filter(|(k, v)| k.as_str() != "sign" && !v.is_empty()).map(|(k, v)| format!("{k}={v}")).collect();
    pairs.join("&")
}

fn answer(shared: &Shared, method_key: &str, body: serde_json::Value) -> HttpResponse {
    let body_text = body.to_string();
    let forge = std::mem::take(&mut shared.state().forge_next_alipay_response);
    let signature = if forge {
        // Signed by someone who is not Alipay (the test app's own key): our client must refuse it.
        rsa_sign(&shared.keys.forger, body_text.as_bytes())
    } else {
        rsa_sign(&shared.keys.alipay, body_text.as_bytes())
    };
    // Hand-assembled so the signed text appears byte for byte in the answer, as Alipay's does.
    let text = format!(r#"{{"{method_key}":{body_text},"sign":"{signature}"}}"#);
    HttpResponse::Ok().content_type("text/html;charset=utf-8").body(text)
}

fn gateway_error(shared: &Shared, code: &str, msg: &str, sub_code: &str, sub_msg: &str) -> HttpResponse {
    answer(shared, "error_response", json!({ "code": code, "msg": msg, "sub_code": sub_code, "sub_msg": sub_msg }))
}

fn form_pairs(text: &str) -> BTreeMap<String, String> {
    web::Query::<BTreeMap<String, String>>::from_query(text).map(web::Query::into_inner).unwrap_or_default()
}

pub(crate) async fn gateway(shared: web::Data<Shared>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let shared = shared.into_inner();
    count(&shared, "gateway");
    let mut params = form_pairs(req.query_string());
    params.extend(form_pairs(&String::from_utf8_lossy(&body)));
    let get = |k: &str| params.get(k).cloned().unwrap_or_default();
    let app_key = shared.state().alipay_apps.get(&get("app_id")).cloned();
    let Some(app_key) = app_key else {
        return gateway_error(&shared, "40002", "Invalid Arguments", "isv.invalid-app-id", "无效的AppID参数");
    };
    if get("sign_type") != "RSA2" || !rsa_verify(&app_key, sign_content(&params).as_bytes(), &get("sign")) {
        return gateway_error(&shared, "40002", "Invalid Arguments", "isv.invalid-signature", "验签出错");
    }
    let method = get("method");
    let method_key = format!("{}_response", method.replace('.', "_"));
    if method == "alipay.system.oauth.token" {
        return oauth_token(&shared, &params, &method_key);
    }
    let conn = req.connection_info();
    let host = format!("{}://{}", conn.scheme(), conn.host());
    match alipay_trade::handle(&shared, &method, &params, &host) {
        Some(Ok((body, outgoing))) => {
            if let Some(outgoing) = outgoing {
                notify::dispatch(&shared, outgoing, Delivery::default());
            }
            answer(&shared, &method_key, body)
        }
        Some(Err(e)) => answer(
            &shared,
            &method_key,
            json!({ "code": e.code, "msg": e.msg, "sub_code": e.sub_code, "sub_msg": e.sub_msg }),
        ),
        None => gateway_error(&shared, "40004", "Business Failed", "isv.invalid-method", "不存在的方法名"),
    }
}

fn oauth_token(shared: &Shared, params: &BTreeMap<String, String>, method_key: &str) -> HttpResponse {
    let get = |k: &str| params.get(k).cloned().unwrap_or_default();
    if get("grant_type") != "authorization_code" {
        return gateway_error(shared, "40002", "Invalid Arguments", "isv.grant-type-invalid", "grant_type无效");
    }
    let code = shared.state().alipay_codes.remove(&get("code"));
    match code {
        Some((app_id, open_id)) if app_id == get("app_id") => answer(
            shared,
            method_key,
            json!({
                "open_id": open_id,
                "access_token": format!("authusrB{}", random_token(24)),
                "expires_in": 1296000,
                "refresh_token": format!("authusrB{}", random_token(24)),
                "re_expires_in": 2592000,
                "auth_start": chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string(),
            }),
        ),
        _ => gateway_error(shared, "40002", "Invalid Arguments", "isv.code-invalid", "授权码code无效"),
    }
}

/// `GET /downloadBillFile.resource?…&token=…`: the zip behind a `bill_download_url`.
pub(crate) async fn bill_download(shared: web::Data<Shared>, req: HttpRequest) -> HttpResponse {
    let token = form_pairs(req.query_string()).remove("token").unwrap_or_default();
    let file = alipay_trade::bill_file(&shared.state().alipay, &token);
    match file {
        Some((name, data)) => HttpResponse::Ok()
            .content_type("application/oct-stream")
            .insert_header(("Content-Disposition", format!("attachment; filename={}", urlencoding::encode(&name))))
            .body(data),
        None => HttpResponse::NotFound().content_type("text/plain; charset=utf-8").body("token invalid or expired"),
    }
}
