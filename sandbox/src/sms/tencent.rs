//! Tencent Cloud SMS (API 3.0, version 2021-01-11): `SendSms`, `PullSmsSendStatus`,
//! `PullSmsSendStatusByPhoneNumber` and `PullSmsReplyStatus` on `POST /tencent-sms/`, every request's
//! TC3-HMAC-SHA256 `Authorization` checked.
//!
//! Sources (read, not copied): cloud.tencent.com/document/api/382 (SendSms, PullSmsSendStatus,
//! PullSmsSendStatusByPhoneNumber, PullSmsReplyStatus, the SMS error-code list) and the API 3.0 pages "签名方法 v3"
//! (with the cvm example the unit test replays) and "公共错误码". Tencent answers everything with HTTP 200 and
//! `{"Response":{…,"RequestId"}}`, errors as `Response.Error.{Code,Message}`. A send is all or nothing for
//! request-level faults (sign, template, parameter count), but per number for the number itself and for
//! frequency limits: those come back as items of `SendStatusSet` with their own `Code` and an empty `SerialNo`,
//! while the rest of the numbers still go.
//!
//! Receipts are held per SmsSdkAppId: `PullSmsSendStatus` hands each out once, `PullSmsSendStatusByPhoneNumber`
//! returns a number's receipts in a time window as often as asked.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{Gate, Record, SentSms, SmsProvider, beijing, fill_tencent, mainland_mobile, parts, request_id};
use crate::util::random_digits;
use crate::{Shared, count};

const VERSION: &str = "2021-01-11";
const SERVICE: &str = "sms";
const REGIONS: [&str; 3] = ["ap-beijing", "ap-guangzhou", "ap-nanjing"];
const DAILY_LIMIT: &str =
    "the number of sms messages sent from a single mobile number every day exceeds the upper limit";

/// Hex SHA-256.
fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn hmac256(key: &[u8], data: &str) -> Vec<u8> {
    match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(data.as_bytes());
            mac.finalize().into_bytes().to_vec()
        }
        // HMAC takes keys of any length; an empty signature never matches anyway.
        Err(_) => Vec::new(),
    }
}

/// `POST\n/\n\n<canonical headers>\n<signed headers>\n<hex sha256(body)>`; the URI is `/` whatever the path.
pub(crate) fn canonical_request(canonical_headers: &str, signed_headers: &str, body: &[u8]) -> String {
    format!("POST\n/\n\n{canonical_headers}\n{signed_headers}\n{}", sha256_hex(body))
}

/// The TC3-HMAC-SHA256 signature (hex) of a canonical request, keyed through date, service and `tc3_request`.
pub(crate) fn tc3_signature(secret: &str, service: &str, timestamp: i64, date: &str, canonical: &str) -> String {
    let string_to_sign =
        format!("TC3-HMAC-SHA256\n{timestamp}\n{date}/{service}/tc3_request\n{}", sha256_hex(canonical.as_bytes()));
    let k_date = hmac256(format!("TC3{secret}").as_bytes(), date);
    let k_service = hmac256(&k_date, service);
    let k_signing = hmac256(&k_service, "tc3_request");
    hex::encode(hmac256(&k_signing, &string_to_sign))
}

/// A refusal: `Response.Error`.
struct Refusal(&'static str, String);

fn refuse(code: &'static str, message: impl Into<String>) -> Refusal {
    Refusal(code, message.into())
}

fn respond(outcome: Result<Value, Refusal>) -> HttpResponse {
    let mut response = match outcome {
        Ok(Value::Object(fields)) => fields,
        Ok(_) => serde_json::Map::new(),
        Err(Refusal(code, message)) => {
            let mut fields = serde_json::Map::new();
            fields.insert("Error".into(), json!({ "Code": code, "Message": message }));
            fields
        }
    };
    response.insert("RequestId".into(), Value::String(request_id()));
    HttpResponse::Ok().json(json!({ "Response": response }))
}

fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

pub(crate) async fn api(shared: web::Data<Shared>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let shared = shared.into_inner();
    count(&shared, "tencent_sms");
    if let Err(refused) = authenticate(&shared, &req, &body) {
        return respond(Err(refused));
    }
    let (action, body) = match preamble(&req, &body) {
        Ok(parsed) => parsed,
        Err(refused) => return respond(Err(refused)),
    };
    match action.as_str() {
        "SendSms" => send_sms(&shared, &body).await,
        "PullSmsSendStatus" => respond(pull_send_status(&shared, &body)),
        "PullSmsSendStatusByPhoneNumber" => respond(pull_by_phone(&shared, &body)),
        "PullSmsReplyStatus" => respond(pull_replies(&shared, &body)),
        _ => respond(Err(refuse("InvalidAction", format!("The action `{action}` does not exist.")))),
    }
}

/// The version, region and JSON body every action needs; the action name.
fn preamble(req: &HttpRequest, body: &[u8]) -> Result<(String, Value), Refusal> {
    match header(req, "X-TC-Version") {
        Some(VERSION) => {}
        Some(other) => return Err(refuse("NoSuchVersion", format!("The API version `{other}` does not exist."))),
        None => return Err(refuse("MissingParameter", "The parameter `X-TC-Version` is missing.")),
    }
    match header(req, "X-TC-Region") {
        Some(region) if REGIONS.contains(&region) => {}
        Some(region) => return Err(refuse("UnsupportedRegion", format!("The region `{region}` is not supported."))),
        None => return Err(refuse("MissingParameter", "The parameter `X-TC-Region` is missing.")),
    }
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(body) else {
        return Err(refuse("InvalidParameter", "The request body is not a JSON object."));
    };
    Ok((header(req, "X-TC-Action").unwrap_or_default().to_owned(), Value::Object(fields)))
}

fn authenticate(shared: &Shared, req: &HttpRequest, body: &[u8]) -> Result<(), Refusal> {
    let invalid = || refuse("AuthFailure.InvalidAuthorization", "The Authorization header is not TC3-HMAC-SHA256.");
    let authorization = header(req, "Authorization").ok_or_else(invalid)?;
    let fields = authorization.strip_prefix("TC3-HMAC-SHA256 ").ok_or_else(invalid)?;
    let field = |name: &str| {
        fields.split(',').filter_map(|part| part.trim().split_once('=')).find(|(k, _)| *k == name).map(|(_, v)| v)
    };
    let (credential, signed_headers, signature) = (
        field("Credential").ok_or_else(invalid)?,
        field("SignedHeaders").ok_or_else(invalid)?,
        field("Signature").ok_or_else(invalid)?,
    );
    let scope: Vec<&str> = credential.split('/').collect();
    let [secret_id, date, service, "tc3_request"] = scope.as_slice() else {
        return Err(invalid());
    };
    let names: Vec<&str> = signed_headers.split(';').collect();
    if *service != SERVICE || !names.contains(&"content-type") || !names.contains(&"host") {
        return Err(invalid());
    }
    let Some(timestamp) = header(req, "X-TC-Timestamp").and_then(|t| t.parse::<i64>().ok()) else {
        return Err(refuse("MissingParameter", "The parameter `X-TC-Timestamp` is missing or not a number."));
    };
    let secret =
        shared.state().sms.accounts.get(&(SmsProvider::Tencent, (*secret_id).to_owned())).map(|a| a.secret.clone());
    let Some(secret) = secret else {
        return Err(refuse("AuthFailure.SecretIdNotFound", "The SecretId is not found."));
    };
    if Utc::now().timestamp().abs_diff(timestamp) > 300 {
        return Err(refuse(
            "AuthFailure.SignatureExpire",
            "The signature expired: X-TC-Timestamp is more than 300 s off.",
        ));
    }
    let failure = |why: &str| {
        refuse("AuthFailure.SignatureFailure", format!("The provided credentials could not be validated: {why}."))
    };
    let utc_date = DateTime::from_timestamp(timestamp, 0).map(|t| t.format("%Y-%m-%d").to_string());
    if utc_date.as_deref() != Some(*date) {
        return Err(failure("the Credential date is not the UTC date of X-TC-Timestamp"));
    }
    let mut canonical_headers = String::new();
    for name in &names {
        let value = header(req, name).ok_or_else(|| failure("a signed header is missing"))?;
        canonical_headers.push_str(&format!("{name}:{}\n", value.trim().to_lowercase()));
    }
    let expected =
        tc3_signature(&secret, SERVICE, timestamp, date, &canonical_request(&canonical_headers, signed_headers, body));
    if expected != signature {
        return Err(failure("the signature does not match"));
    }
    Ok(())
}

fn text<'a>(body: &'a Value, name: &str) -> Result<&'a str, Refusal> {
    match body.get(name) {
        None | Some(Value::Null) => Err(refuse("MissingParameter", format!("The parameter `{name}` is missing."))),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(refuse("InvalidParameter", format!("The parameter `{name}` must be a string."))),
    }
}

fn number(body: &Value, name: &str) -> Result<u64, Refusal> {
    match body.get(name) {
        None | Some(Value::Null) => Err(refuse("MissingParameter", format!("The parameter `{name}` is missing."))),
        Some(value) => value.as_u64().ok_or_else(|| refuse("InvalidParameter", format!("`{name}` must be a number."))),
    }
}

fn strings(body: &Value, name: &str) -> Result<Vec<String>, Refusal> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| refuse("InvalidParameter", format!("`{name}` must be an array of strings."))),
        Some(_) => Err(refuse("InvalidParameter", format!("`{name}` must be an array of strings."))),
    }
}

/// `Limit` (1–100) as a count.
fn limit(body: &Value) -> Result<usize, Refusal> {
    let limit = number(body, "Limit")?;
    usize::try_from(limit)
        .ok()
        .filter(|n| (1..=100).contains(n))
        .ok_or_else(|| refuse("InvalidParameterValue", "`Limit` must be between 1 and 100."))
}

fn unknown_app() -> Refusal {
    refuse("InvalidParameterValue.SdkAppIdNotExist", "The SmsSdkAppId does not exist.")
}

/// Decides and records at once; a late answer (`answer_sms_late`) only waits before it is written.
async fn send_sms(shared: &Arc<Shared>, body: &Value) -> HttpResponse {
    let decided = decide_send(shared, body);
    if let Ok((_, Some(delay))) = &decided {
        tokio::time::sleep(*delay).await;
    }
    respond(decided.map(|(answer, _)| answer))
}

fn decide_send(shared: &Shared, body: &Value) -> Result<(Value, Option<std::time::Duration>), Refusal> {
    let numbers = strings(body, "PhoneNumberSet")?;
    if numbers.is_empty() {
        return Err(refuse("MissingParameter.EmptyPhoneNumberSet", "The PhoneNumberSet is empty."));
    }
    if numbers.len() > 200 {
        return Err(refuse("LimitExceeded.PhoneNumberCountLimit", "More than 200 numbers in one request."));
    }
    let (app_id, template_id) = (text(body, "SmsSdkAppId")?, text(body, "TemplateId")?);
    let sign_name = text(body, "SignName")
        .map_err(|_| refuse("FailedOperation.MissingSignature", "SignName is required for mainland numbers."))?;
    let values = strings(body, "TemplateParamSet")?;
    let session = body.get("SessionContext").and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned);
    let mut state = shared.state();
    let book = &mut state.sms;
    let account = book.tencent_app(app_id).ok_or_else(unknown_app)?;
    if !account.has_sign(sign_name) {
        return Err(refuse(
            "FailedOperation.SignatureIncorrectOrUnapproved",
            "The signature is incorrect or not approved.",
        ));
    }
    let Some(template) = account.template(template_id) else {
        return Err(refuse(
            "FailedOperation.TemplateIncorrectOrUnapproved",
            "The template is incorrect or not approved.",
        ));
    };
    let Some(filled) = fill_tencent(template, &values) else {
        return Err(refuse(
            "InvalidParameterValue.TemplateParameterFormatError",
            "The number of template parameters does not match the template.",
        ));
    };
    let content = format!("【{sign_name}】{filled}");
    let params: Vec<(String, String)> =
        values.iter().enumerate().map(|(i, v)| ((i + 1).to_string(), v.clone())).collect();
    let gate = book.gate();
    let now = Utc::now();
    let mut items = Vec::new();
    for number in &numbers {
        let item = |serial: &str, fee: usize, code: &str, message: &str| {
            json!({
                "SerialNo": serial,
                "PhoneNumber": number,
                "Fee": fee,
                "SessionContext": session.clone().unwrap_or_default(),
                "Code": code,
                "Message": message,
                "IsoCode": if number.starts_with("+86") { "CN" } else { "" },
            })
        };
        let phone = number.strip_prefix("+86").and_then(|n| mainland_mobile(n, false));
        items.push(match (&gate, phone) {
            (_, None) => item("", 0, "InvalidParameterValue.IncorrectPhoneNumber", "incorrect phone number"),
            // Tencent reports frequency limits per number, in the item, not as a request error.
            (Gate::Throttled, Some(_)) => item("", 0, "LimitExceeded.PhoneNumberDailyLimit", DAILY_LIMIT),
            (Gate::Accept(_), Some(phone)) => {
                let serial = format!("2028:{}", random_digits(24));
                let sms = SentSms {
                    provider: SmsProvider::Tencent,
                    phone,
                    sign_name: sign_name.to_owned(),
                    template_code: template_id.to_owned(),
                    params: params.clone(),
                    content: content.clone(),
                    key: session.clone(),
                    provider_id: serial.clone(),
                    at: now,
                };
                book.accept(sms, app_id);
                item(&serial, parts(&content), "Ok", "send success")
            }
        });
    }
    let late = match gate {
        Gate::Accept(late) => late,
        Gate::Throttled => None,
    };
    Ok((json!({ "SendStatusSet": items }), late))
}

fn receipt(record: &Record) -> Value {
    json!({
        "UserReceiveTime": beijing(&record.reported_at),
        "CountryCode": "86",
        "SubscriberNumber": record.sms.phone,
        "PhoneNumber": format!("+86{}", record.sms.phone),
        "SerialNo": record.sms.provider_id,
        "ReportStatus": if record.delivered { "SUCCESS" } else { "FAIL" },
        "Description": if record.delivered { "DELIVRD" } else { record.carrier_code() },
        "SessionContext": record.sms.key.clone().unwrap_or_default(),
    })
}

fn pull_send_status(shared: &Shared, body: &Value) -> Result<Value, Refusal> {
    let (limit, app_id) = (limit(body)?, text(body, "SmsSdkAppId")?);
    let mut state = shared.state();
    state.sms.tencent_app(app_id).ok_or_else(unknown_app)?;
    let set: Vec<Value> = state
        .sms
        .records
        .iter_mut()
        .filter(|r| r.sms.provider == SmsProvider::Tencent && r.owner == app_id && !r.pulled)
        .take(limit)
        .map(|r| {
            r.pulled = true;
            receipt(r)
        })
        .collect();
    Ok(json!({ "PullSmsSendStatusSet": set }))
}

fn pull_by_phone(shared: &Shared, body: &Value) -> Result<Value, Refusal> {
    let (begin, offset, limit) = (number(body, "BeginTime")?, number(body, "Offset")?, limit(body)?);
    let end = match body.get("EndTime") {
        None | Some(Value::Null) => None,
        Some(_) => Some(number(body, "EndTime")?),
    };
    let (number_text, app_id) = (text(body, "PhoneNumber")?, text(body, "SmsSdkAppId")?);
    let Some(phone) = number_text.strip_prefix("+86").and_then(|n| mainland_mobile(n, false)) else {
        return Err(refuse(
            "InvalidParameterValue.IncorrectPhoneNumber",
            "The PhoneNumber is not a mainland mobile number.",
        ));
    };
    let offset = usize::try_from(offset).unwrap_or(usize::MAX);
    let state = shared.state();
    state.sms.tencent_app(app_id).ok_or_else(unknown_app)?;
    let set: Vec<Value> = state
        .sms
        .records
        .iter()
        .filter(|r| r.sms.provider == SmsProvider::Tencent && r.owner == app_id && r.sms.phone == phone)
        .filter(|r| {
            let at = u64::try_from(r.sms.at.timestamp()).unwrap_or_default();
            at >= begin && end.is_none_or(|end| at <= end)
        })
        .skip(offset)
        .take(limit)
        .map(receipt)
        .collect();
    Ok(json!({ "PullSmsSendStatusSet": set }))
}

fn pull_replies(shared: &Shared, body: &Value) -> Result<Value, Refusal> {
    let (limit, app_id) = (limit(body)?, text(body, "SmsSdkAppId")?);
    let mut state = shared.state();
    let book = &mut state.sms;
    let signs = book.tencent_app(app_id).map(|a| a.signs.clone()).ok_or_else(unknown_app)?;
    let set: Vec<Value> = book
        .replies
        .iter_mut()
        .filter(|r| !r.pulled && signs.contains(&r.sign_name))
        .take(limit)
        .map(|r| {
            r.pulled = true;
            json!({
                "ExtendCode": "01",
                "CountryCode": "86",
                "SubscriberNumber": r.phone,
                "PhoneNumber": format!("+86{}", r.phone),
                "Sign": r.sign_name,
                "ReplyContent": r.text,
                "ReplyTime": beijing(&r.at),
                "ReplyUnixTime": r.at.timestamp(),
            })
        })
        .collect();
    Ok(json!({ "PullSmsReplyStatusSet": set }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tc3_matches_the_published_example() {
        let body = br#"{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}"#;
        assert_eq!(sha256_hex(body), "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064");
        let headers = "content-type:application/json; charset=utf-8\nhost:cvm.tencentcloudapi.com\n";
        let canonical = canonical_request(headers, "content-type;host", body);
        assert_eq!(
            sha256_hex(canonical.as_bytes()),
            "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
        );
        let secret = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE";
        let signature = tc3_signature(secret, "cvm", 1551113065, "2019-02-25", &canonical);
        assert_eq!(signature, "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168");
        // Any change (secret, day, body) gives another signature, which `authenticate` refuses.
        assert_ne!(tc3_signature(secret, "cvm", 1551113065, "2019-02-26", &canonical), signature);
        assert_ne!(tc3_signature("other", "cvm", 1551113065, "2019-02-25", &canonical), signature);
    }
}
