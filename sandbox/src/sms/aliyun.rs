//! Aliyun SMS (dysmsapi, RPC API version 2017-05-25): `SendSms` and `QuerySendDetails` on `GET|POST /dysmsapi/`,
//! with the RPC signature v1 checked; delivery receipts (SmsReport) pushed to the account's HTTP callback.
//!
//! Sources (read, not copied): help.aliyun.com "RPC风格请求体 / 签名机制" (v1 signature with the testId /
//! testSecret example the unit test replays), the SendSms and QuerySendDetails API reference pages, "HTTP批量推送
//! 模式" (SmsReport / SmsUp item fields and the `{"code":0}` acknowledgement) and the SMS error-code centre
//! (`isv.*` codes). The generic POP gateway errors (InvalidAccessKeyId.NotFound, SignatureDoesNotMatch,
//! SignatureNonceUsed, InvalidTimeStamp.Expired, `Missing<Param>`) carry `HostId` and a non-200 status; business
//! refusals answer HTTP 200 with their `Code`, which is why a client must read `Code`, not just the status.
//!
//! Parameters are merged from the query string and an `x-www-form-urlencoded` body, as the SDKs send either. The
//! answer is always JSON (what `Format=JSON` asks for; XML is not spoken).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, NaiveDate, Utc};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha1::Sha1;

use super::{Gate, SentSms, SmsProvider, beijing, fill_aliyun, mainland_mobile, parts, push, request_id};
use crate::util::{china, random_digits};
use crate::{Shared, count};

const HOST_ID: &str = "dysmsapi.aliyuncs.com";
/// How far `Timestamp` may be off, and how long a `SignatureNonce` is remembered.
const WINDOW_SECONDS: i64 = 15 * 60;

/// RFC 3986 percent-encoding of UTF-8: unreserved characters stay, every other byte becomes `%XY` (uppercase).
pub(crate) fn percent_encode(text: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0F)]));
        }
    }
    out
}

/// `METHOD&%2F&percentEncode(sorted k=v&…)`, every parameter but `Signature`; the path is always `/`.
pub(crate) fn string_to_sign(method: &str, params: &BTreeMap<String, String>) -> String {
    let query = params
        .iter()
        .filter(|(k, _)| k.as_str() != "Signature")
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    format!("{method}&{}&{}", percent_encode("/"), percent_encode(&query))
}

/// Base64(HMAC-SHA1(secret + "&", string to sign)).
pub(crate) fn sign(secret: &str, string_to_sign: &str) -> String {
    match Hmac::<Sha1>::new_from_slice(format!("{secret}&").as_bytes()) {
        Ok(mut mac) => {
            mac.update(string_to_sign.as_bytes());
            STANDARD.encode(mac.finalize().into_bytes())
        }
        // HMAC takes keys of any length; an empty signature never matches anyway.
        Err(_) => String::new(),
    }
}

fn answer(status: StatusCode, body: Value) -> HttpResponse {
    HttpResponse::build(status).content_type("application/json;charset=utf-8").body(body.to_string())
}

/// A gateway refusal (auth, missing parameter, unknown action): non-200, with `HostId`.
fn gateway_error(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    let id = request_id().to_uppercase();
    answer(status, json!({ "RequestId": id, "HostId": HOST_ID, "Code": code, "Message": message }))
}

/// A business refusal: HTTP 200 and a `Code` other than `OK`.
fn refusal(code: &str, message: &str) -> HttpResponse {
    answer(StatusCode::OK, json!({ "RequestId": request_id().to_uppercase(), "Code": code, "Message": message }))
}

fn missing(name: &str) -> HttpResponse {
    let refused = Refused::missing(name);
    gateway_error(refused.status, &refused.code, &refused.message)
}

/// A gateway refusal before it becomes an answer (small, unlike `HttpResponse`).
struct Refused {
    status: StatusCode,
    code: String,
    message: String,
}

impl Refused {
    fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self { status, code: code.to_owned(), message: message.into() }
    }

    fn missing(name: &str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, &format!("Missing{name}"), format!("{name} is mandatory for this action."))
    }
}

fn form_pairs(text: &str) -> BTreeMap<String, String> {
    web::Query::<BTreeMap<String, String>>::from_query(text).map(web::Query::into_inner).unwrap_or_default()
}

pub(crate) async fn rpc(shared: web::Data<Shared>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let shared = shared.into_inner();
    count(&shared, "dysmsapi");
    let method = req.method().as_str().to_owned();
    if method != "GET" && method != "POST" {
        return gateway_error(StatusCode::METHOD_NOT_ALLOWED, "UnsupportedHTTPMethod", "Use GET or POST.");
    }
    let mut params = form_pairs(req.query_string());
    params.extend(form_pairs(&String::from_utf8_lossy(&body)));
    let key_id = match authenticate(&shared, &method, &params) {
        Ok(key_id) => key_id,
        Err(refused) => return gateway_error(refused.status, &refused.code, &refused.message),
    };
    if params.get("Version").map(String::as_str) != Some("2017-05-25") {
        return gateway_error(StatusCode::BAD_REQUEST, "InvalidVersion", "Specified parameter Version is not valid.");
    }
    match params.get("Action").map(String::as_str).unwrap_or_default() {
        "SendSms" => send_sms(&shared, &key_id, &params).await,
        "QuerySendDetails" => query_send_details(&shared, &key_id, &params),
        "" => missing("Action"),
        _ => gateway_error(
            StatusCode::NOT_FOUND,
            "InvalidAction.NotFound",
            "Specified api is not found, please check your url and method.",
        ),
    }
}

/// Checks the key, the signature, the timestamp and the nonce, in that order; the nonce is remembered only for a
/// request that passed the rest, so a refused request can be corrected and sent again with the same nonce.
fn authenticate(shared: &Shared, method: &str, params: &BTreeMap<String, String>) -> Result<String, Refused> {
    let get = |k: &str| params.get(k).map(String::as_str).unwrap_or_default();
    let key_id = get("AccessKeyId");
    if key_id.is_empty() {
        return Err(Refused::missing("AccessKeyId"));
    }
    let secret = shared.state().sms.accounts.get(&(SmsProvider::Aliyun, key_id.to_owned())).map(|a| a.secret.clone());
    let Some(secret) = secret else {
        return Err(Refused::new(
            StatusCode::NOT_FOUND,
            "InvalidAccessKeyId.NotFound",
            "Specified access key is not found.",
        ));
    };
    if get("Signature").is_empty() {
        return Err(Refused::missing("Signature"));
    }
    let text = string_to_sign(method, params);
    if get("SignatureMethod") != "HMAC-SHA1"
        || get("SignatureVersion") != "1.0"
        || sign(&secret, &text) != get("Signature")
    {
        // Aliyun shows its string to sign, which is what a client author needs to find the difference.
        let message =
            format!("Specified signature is not matched with our calculation. server string to sign is:{text}");
        return Err(Refused::new(StatusCode::BAD_REQUEST, "SignatureDoesNotMatch", message));
    }
    let Some(timestamp) = params.get("Timestamp") else {
        return Err(Refused::missing("Timestamp"));
    };
    let Ok(timestamp) = DateTime::parse_from_rfc3339(timestamp) else {
        return Err(Refused::new(
            StatusCode::BAD_REQUEST,
            "InvalidTimeStamp.Format",
            "Specified time stamp or date value is not well formatted.",
        ));
    };
    let now = Utc::now();
    if (now.timestamp() - timestamp.timestamp()).abs() > WINDOW_SECONDS {
        return Err(Refused::new(
            StatusCode::BAD_REQUEST,
            "InvalidTimeStamp.Expired",
            "Specified time stamp or date value is expired.",
        ));
    }
    let nonce = get("SignatureNonce");
    if nonce.is_empty() {
        return Err(Refused::missing("SignatureNonce"));
    }
    let mut state = shared.state();
    let nonces = &mut state.sms.nonces;
    nonces.retain(|_, seen| (now - *seen).num_seconds() <= WINDOW_SECONDS);
    if nonces.insert(nonce.to_owned(), now).is_some() {
        return Err(Refused::new(
            StatusCode::BAD_REQUEST,
            "SignatureNonceUsed",
            "Specified signature nonce was used already.",
        ));
    }
    Ok(key_id.to_owned())
}

async fn send_sms(shared: &Arc<Shared>, key_id: &str, params: &BTreeMap<String, String>) -> HttpResponse {
    let get = |k: &str| params.get(k).map(String::as_str).unwrap_or_default();
    for name in ["PhoneNumbers", "SignName", "TemplateCode"] {
        if get(name).is_empty() {
            return missing(name);
        }
    }
    let numbers: Vec<&str> = get("PhoneNumbers").split(',').collect();
    if numbers.len() > 1000 {
        return refusal("isv.MOBILE_COUNT_OVER_LIMIT", "手机号码数量超过限制");
    }
    let Some(phones) = numbers.iter().map(|n| mainland_mobile(n.trim(), true)).collect::<Option<Vec<_>>>() else {
        return refusal("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号");
    };
    let values: HashMap<String, String> = match params.get("TemplateParam").filter(|t| !t.is_empty()) {
        None => HashMap::new(),
        // Aliyun takes only string values ("只接受字符串值").
        Some(text) => match serde_json::from_str::<HashMap<String, Value>>(text) {
            Ok(map) if map.values().all(Value::is_string) => {
                map.into_iter().map(|(k, v)| (k, v.as_str().unwrap_or_default().to_owned())).collect()
            }
            _ => return refusal("isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值"),
        },
    };
    let (sign_name, template_code) = (get("SignName"), get("TemplateCode"));
    let key = params.get("OutId").filter(|k| !k.is_empty()).cloned();
    let now = Utc::now();
    let biz_id = format!("{}^{}", random_digits(18), random_digits(1));
    let (late, reports, report_url) = {
        let mut state = shared.state();
        let book = &mut state.sms;
        let Some(account) = book.accounts.get(&(SmsProvider::Aliyun, key_id.to_owned())) else {
            return refusal("isv.ACCOUNT_NOT_EXISTS", "账户不存在");
        };
        if !account.has_sign(sign_name) {
            return refusal("isv.SMS_SIGNATURE_ILLEGAL", "该账号下找不到对应签名");
        }
        let Some(template) = account.template(template_code).map(str::to_owned) else {
            return refusal("isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板");
        };
        let Ok(text) = fill_aliyun(&template, &values) else {
            return refusal("isv.TEMPLATE_MISSING_PARAMETERS", "模板变量中存在未赋值变量");
        };
        let late = match book.gate() {
            Gate::Throttled => return refusal("isv.BUSINESS_LIMIT_CONTROL", "触发号码天级流控Permits:10"),
            Gate::Accept(late) => late,
        };
        let params: Vec<(String, String)> = super::aliyun_variables(&template)
            .into_iter()
            .map(|name| {
                let value = values.get(&name).cloned().unwrap_or_default();
                (name, value)
            })
            .collect();
        let content = format!("【{sign_name}】{text}");
        let mut reports = Vec::new();
        for phone in phones {
            let sms = SentSms {
                provider: SmsProvider::Aliyun,
                phone,
                sign_name: sign_name.to_owned(),
                template_code: template_code.to_owned(),
                params: params.clone(),
                content: content.clone(),
                key: key.clone(),
                provider_id: biz_id.clone(),
                at: now,
            };
            let index = book.accept(sms, key_id);
            if let Some(record) = book.records.get(index) {
                reports.push(json!({
                    "phone_number": record.sms.phone,
                    "send_time": beijing(&record.sms.at),
                    "report_time": beijing(&record.reported_at),
                    "success": record.delivered,
                    "err_code": record.carrier_code(),
                    "err_msg": if record.delivered { "用户接收成功" } else { "运营商拦截或用户无法接收" },
                    "sms_size": parts(&record.sms.content).to_string(),
                    "biz_id": biz_id,
                    "out_id": record.sms.key.clone().unwrap_or_default(),
                }));
            }
        }
        (late, reports, book.report_url())
    };
    // The receipts of one call go out as one batch, before the answer if that is late (as can happen for real).
    if let Some(url) = report_url {
        push(shared, url, reports);
    }
    if let Some(delay) = late {
        tokio::time::sleep(delay).await;
    }
    let id = request_id().to_uppercase();
    answer(StatusCode::OK, json!({ "RequestId": id, "Code": "OK", "Message": "OK", "BizId": biz_id }))
}

fn query_send_details(shared: &Shared, key_id: &str, params: &BTreeMap<String, String>) -> HttpResponse {
    let get = |k: &str| params.get(k).map(String::as_str).unwrap_or_default();
    for name in ["PhoneNumber", "SendDate", "PageSize", "CurrentPage"] {
        if get(name).is_empty() {
            return missing(name);
        }
    }
    let Some(phone) = mainland_mobile(get("PhoneNumber"), true) else {
        return refusal("isv.MOBILE_NUMBER_ILLEGAL", "非法手机号");
    };
    let Ok(day) = NaiveDate::parse_from_str(get("SendDate"), "%Y%m%d") else {
        return refusal("isv.INVALID_PARAMETERS", "SendDate格式错误，应为yyyyMMdd");
    };
    let page_size = get("PageSize").parse::<usize>().ok().filter(|n| (1..=50).contains(n));
    let page = get("CurrentPage").parse::<usize>().ok().filter(|n| *n >= 1);
    let (Some(page_size), Some(page)) = (page_size, page) else {
        return refusal("isv.INVALID_PARAMETERS", "PageSize须在1到50之间，CurrentPage从1开始");
    };
    let biz_id = params.get("BizId").filter(|b| !b.is_empty());
    let state = shared.state();
    let matching: Vec<_> = state
        .sms
        .records
        .iter()
        .filter(|r| r.sms.provider == SmsProvider::Aliyun && r.owner == key_id && r.sms.phone == phone)
        .filter(|r| r.sms.at.with_timezone(&china()).date_naive() == day)
        .filter(|r| biz_id.is_none_or(|b| *b == r.sms.provider_id))
        .collect();
    let details: Vec<Value> = matching
        .iter()
        .skip((page - 1).saturating_mul(page_size))
        .take(page_size)
        .map(|r| {
            json!({
                "PhoneNum": r.sms.phone,
                // 1 waiting for the receipt, 2 failed, 3 delivered; receipts come at once here.
                "SendStatus": if r.delivered { 3 } else { 2 },
                "ErrCode": r.carrier_code(),
                "TemplateCode": r.sms.template_code,
                "Content": r.sms.content,
                "SendDate": beijing(&r.sms.at),
                "ReceiveDate": beijing(&r.reported_at),
                "OutId": r.sms.key.clone().unwrap_or_default(),
            })
        })
        .collect();
    answer(
        StatusCode::OK,
        json!({
            "RequestId": request_id().to_uppercase(),
            "Code": "OK",
            "Message": "OK",
            "TotalCount": matching.len(),
            "SmsSendDetailDTOs": { "SmsSendDetailDTO": details },
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_encoding_is_rfc3986() {
        assert_eq!(percent_encode("a*b c~d"), "a%2Ab%20c~d");
        assert_eq!(percent_encode("阿里"), "%E9%98%BF%E9%87%8C");
        assert_eq!(percent_encode("A-z_0.9"), "A-z_0.9");
        assert_eq!(percent_encode("/+=&"), "%2F%2B%3D%26");
    }

    #[test]
    fn signature_matches_the_published_example() {
        let params: BTreeMap<String, String> = [
            ("AccessKeyId", "testId"),
            ("Action", "SendSms"),
            ("Format", "XML"),
            ("OutId", "123"),
            ("PhoneNumbers", "15300000001"),
            ("RegionId", "cn-hangzhou"),
            ("SignName", "阿里云短信测试专用"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", "45e25e9b-0a6f-4070-8c85-2956eda1b466"),
            ("SignatureVersion", "1.0"),
            ("TemplateCode", "SMS_71390007"),
            ("TemplateParam", r#"{"customer":"test"}"#),
            ("Timestamp", "2017-07-12T02:42:19Z"),
            ("Version", "2017-05-25"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let text = string_to_sign("GET", &params);
        assert!(text.starts_with("GET&%2F&AccessKeyId%3DtestId%26Action%3DSendSms"), "{text}");
        assert_eq!(sign("testSecret", &text), "zJDF+Lrzhj/ThnlvIToysFRq6t4=");
        // A different secret (or any changed parameter) gives a different signature, which the gateway refuses.
        assert_ne!(sign("otherSecret", &text), "zJDF+Lrzhj/ThnlvIToysFRq6t4=");
    }
}
