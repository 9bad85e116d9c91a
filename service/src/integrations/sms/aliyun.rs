//! Aliyun SMS (`dysmsapi`, RPC API 2017-05-25): `SendSms` and `QuerySendDetails`, signed with signature v1
//! (HMAC-SHA1 over the sorted, RFC 3986-encoded parameters), and the receipts (`SmsReport`) and replies (`SmsUp`) it
//! pushes over HTTP. Sources: help.aliyun.com/document_detail/55284.htm (SendSms: not idempotent, `OutId`),
//! 102352 (QuerySendDetails), 101343 (signing, with the worked example our test checks), 101867 (HTTP push).

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, FixedOffset, NaiveDateTime, Utc};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha1::Sha1;

use super::provider::{Account, Found, Message, Receipt, Reply, SendError, SmsProviders, mainland, transport_error};
use crate::domain::PhoneNumber;

const VERSION: &str = "2017-05-25";

/// RFC 3986: everything but `A–Z a–z 0–9 - _ . ~` as `%XY`.
fn encode(value: &str) -> String {
    urlencoding::encode(value).into_owned()
}

/// Signature v1 of `params` (without `Signature`) for an HTTP `method`.
pub(crate) fn signature(method: &str, params: &BTreeMap<String, String>, secret: &str) -> String {
    let query = params.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&");
    let to_sign = format!("{method}&{}&{}", encode("/"), encode(&query));
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(format!("{secret}&").as_bytes()) else {
        return String::new(); // HMAC takes a key of any length
    };
    mac.update(to_sign.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

fn common(account: &Account<'_>, action: &str, now: DateTime<Utc>) -> BTreeMap<String, String> {
    [
        ("AccessKeyId", account.access_key_id.to_owned()),
        ("Action", action.to_owned()),
        ("Format", "JSON".to_owned()),
        ("RegionId", "cn-hangzhou".to_owned()),
        ("SignatureMethod", "HMAC-SHA1".to_owned()),
        ("SignatureNonce", hex::encode(rand::random::<[u8; 16]>())),
        ("SignatureVersion", "1.0".to_owned()),
        ("Timestamp", now.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
        ("Version", VERSION.to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Answer {
    code: Option<String>,
    message: Option<String>,
    biz_id: Option<String>,
    total_count: Option<serde_json::Value>,
    sms_send_detail_d_t_os: Option<Details>,
}

#[derive(Deserialize)]
struct Details {
    #[serde(rename = "SmsSendDetailDTO", default)]
    items: Vec<Detail>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Detail {
    send_status: Option<i64>,
    err_code: Option<String>,
    out_id: Option<String>,
}

/// Posts a signed call; the answer's body whatever the status (errors carry `Code` too).
async fn call(
    providers: &SmsProviders,
    account: &Account<'_>,
    mut params: BTreeMap<String, String>,
) -> Result<(reqwest::StatusCode, Answer), SendError> {
    let signature = signature("POST", &params, account.secret);
    params.insert("Signature".to_owned(), signature);
    let response =
        providers.http.post(&providers.aliyun_endpoint).form(&params).send().await.map_err(|e| transport_error(&e))?;
    let status = response.status();
    let body = response.text().await.map_err(|e| SendError::Unknown(e.to_string()))?;
    if status.is_server_error() {
        return Err(SendError::Unknown(format!("HTTP {status}: {body}")));
    }
    let answer: Answer =
        serde_json::from_str(&body).map_err(|e| SendError::Unknown(format!("unreadable answer ({e}): {body}")))?;
    Ok((status, answer))
}

pub(super) async fn send(
    providers: &SmsProviders,
    account: &Account<'_>,
    message: &Message<'_>,
    now: DateTime<Utc>,
) -> Result<String, SendError> {
    let mut params = common(account, "SendSms", now);
    let values: serde_json::Map<String, serde_json::Value> =
        message.params.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect();
    params.insert("PhoneNumbers".into(), message.phone.as_str().to_owned());
    params.insert("SignName".into(), account.sign_name.to_owned());
    params.insert("TemplateCode".into(), message.template_code.to_owned());
    params.insert("TemplateParam".into(), serde_json::Value::Object(values).to_string());
    params.insert("OutId".into(), message.key.to_owned());
    let (_, answer) = call(providers, account, params).await?;
    let code = answer.code.unwrap_or_default();
    let text = answer.message.unwrap_or_default();
    match code.as_str() {
        "OK" => answer.biz_id.ok_or_else(|| SendError::Unknown("accepted without a BizId".into())),
        // Throttled per number or per account: nothing went.
        "isv.BUSINESS_LIMIT_CONTROL" | "Throttling.User" | "isv.DAY_LIMIT_CONTROL" => {
            Err(SendError::NotSent { code, message: text })
        }
        _ => Err(SendError::Refused { code, message: text }),
    }
}

/// `QuerySendDetails` for the number on the day (Beijing time) the send was handed over, paged, looking for our
/// `OutId`. Aliyun lists a message from the moment it takes it (status 1, waiting for its receipt).
pub(super) async fn lookup(
    providers: &SmsProviders,
    account: &Account<'_>,
    phone: &PhoneNumber,
    key: &str,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Found, String> {
    let beijing = FixedOffset::east_opt(8 * 3600).ok_or("offset")?;
    let day = since.with_timezone(&beijing).format("%Y%m%d").to_string();
    for page in 1..=20_u32 {
        let mut params = common(account, "QuerySendDetails", now);
        params.insert("PhoneNumber".into(), phone.as_str().to_owned());
        params.insert("SendDate".into(), day.clone());
        params.insert("PageSize".into(), "50".into());
        params.insert("CurrentPage".into(), page.to_string());
        let (_, answer) = call(providers, account, params).await.map_err(|e| format!("{e:?}"))?;
        if answer.code.as_deref() != Some("OK") {
            return Err(format!("{}: {}", answer.code.unwrap_or_default(), answer.message.unwrap_or_default()));
        }
        let items = answer.sms_send_detail_d_t_os.map(|d| d.items).unwrap_or_default();
        if let Some(found) = items.iter().find(|d| d.out_id.as_deref() == Some(key)) {
            let delivered = match found.send_status {
                Some(3) => Some(true),
                Some(2) => Some(false),
                _ => None,
            };
            return Ok(Found::Accepted { provider_id: None, delivered, code: found.err_code.clone() });
        }
        let total = answer.total_count.and_then(|t| t.as_u64().or_else(|| t.as_str()?.parse().ok())).unwrap_or(0);
        if items.is_empty() || u64::from(page) * 50 >= total {
            break;
        }
    }
    Ok(Found::NotFound)
}

#[derive(Deserialize)]
struct PushedReport {
    success: bool,
    err_code: Option<String>,
    biz_id: String,
    out_id: Option<String>,
    report_time: Option<String>,
}

#[derive(Deserialize)]
struct PushedReply {
    phone_number: String,
    content: String,
    sign_name: Option<String>,
}

/// `2017-02-02 22:23:24`, Beijing time.
fn beijing_time(text: &str) -> Option<DateTime<Utc>> {
    let local = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").ok()?;
    Some(local.and_local_timezone(FixedOffset::east_opt(8 * 3600)?).single()?.with_timezone(&Utc))
}

/// The receipts in one `SmsReport` push (a JSON array).
pub fn parse_reports(body: &[u8]) -> Result<Vec<Receipt>, serde_json::Error> {
    let items: Vec<PushedReport> = serde_json::from_slice(body)?;
    Ok(items
        .into_iter()
        .map(|r| Receipt {
            key: r.out_id.filter(|k| !k.is_empty()),
            provider_id: r.biz_id,
            delivered: r.success,
            code: r.err_code.unwrap_or_default(),
            at: r.report_time.as_deref().and_then(beijing_time),
        })
        .collect())
}

/// The replies in one `SmsUp` push (a JSON array).
pub fn parse_replies(body: &[u8]) -> Result<Vec<Reply>, serde_json::Error> {
    let items: Vec<PushedReply> = serde_json::from_slice(body)?;
    Ok(items
        .into_iter()
        .map(|r| Reply { phone: mainland(&r.phone_number), sign_name: r.sign_name, text: r.content })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of Aliyun's signing document (help.aliyun.com/document_detail/101343.htm).
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
            ("TemplateParam", "{\"customer\":\"test\"}"),
            ("Timestamp", "2017-07-12T02:42:19Z"),
            ("Version", "2017-05-25"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(signature("GET", &params, "testSecret"), "zJDF+Lrzhj/ThnlvIToysFRq6t4=");
        assert_ne!(signature("POST", &params, "testSecret"), "zJDF+Lrzhj/ThnlvIToysFRq6t4=");
    }

    #[test]
    fn encoding_is_rfc_3986() {
        assert_eq!(encode("a b*c~d"), "a%20b%2Ac~d");
        assert_eq!(encode("退"), "%E9%80%80");
    }

    #[test]
    fn pushed_receipts_and_replies_are_read() {
        let reports = br#"[{"phone_number":"13900000000","send_time":"2017-01-01 00:00:00","report_time":"2017-01-01 00:00:05","success":true,"err_code":"DELIVERED","err_msg":"ok","sms_size":"1","biz_id":"12345","out_id":"hy-1"}]"#;
        let receipts = parse_reports(reports).expect("reports");
        assert_eq!(receipts.len(), 1);
        assert_eq!(receipts[0].key.as_deref(), Some("hy-1"));
        assert!(receipts[0].delivered);
        assert_eq!(receipts[0].at.map(|t| t.to_rfc3339()), Some("2016-12-31T16:00:05+00:00".into()));
        let replies = r#"[{"phone_number":"13900000000","send_time":"2017-01-01 00:00:00","content":"T","sign_name":"美发","dest_code":"1","sequence_id":1}]"#;
        let replies = parse_replies(replies.as_bytes()).expect("replies");
        assert!(replies[0].opts_out());
        assert_eq!(replies[0].phone, "13900000000");
    }
}
