//! Tencent Cloud SMS (API 2021-01-11), signed with TC3-HMAC-SHA256: `SendSms`, and the pulls of receipts
//! (`PullSmsSendStatus`, `PullSmsSendStatusByPhoneNumber`) and replies (`PullSmsReplyStatus`). Sources:
//! cloud.tencent.com/document/api/382/55981 (SendSms, `SessionContext` echoed back), 382/52077 (PullSmsSendStatus),
//! 382/52067 (signature v3, with the worked example our test checks).

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::provider::{
    Account, Found, Message, Receipt, Reply, SendError, SmsProviders, e164, mainland, transport_error,
};
use crate::domain::PhoneNumber;

const SERVICE: &str = "sms";
const VERSION: &str = "2021-01-11";
const REGION: &str = "ap-guangzhou";
const CONTENT_TYPE: &str = "application/json; charset=utf-8";

fn hmac(key: &[u8], message: &str) -> Vec<u8> {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return Vec::new(); // HMAC takes a key of any length
    };
    mac.update(message.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// The TC3 signature (hex) of a POST with `content-type` and `host` signed.
pub(crate) fn signature(secret: &str, service: &str, host: &str, timestamp: i64, payload: &str) -> String {
    let date = DateTime::from_timestamp(timestamp, 0).unwrap_or_default().format("%Y-%m-%d").to_string();
    let canonical = format!(
        "POST\n/\n\ncontent-type:{CONTENT_TYPE}\nhost:{host}\n\ncontent-type;host\n{}",
        hex::encode(Sha256::digest(payload.as_bytes()))
    );
    let to_sign = format!(
        "TC3-HMAC-SHA256\n{timestamp}\n{date}/{service}/tc3_request\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let key = hmac(&hmac(&hmac(format!("TC3{secret}").as_bytes(), &date), service), "tc3_request");
    hex::encode(hmac(&key, &to_sign))
}

/// `host[:port]` of the endpoint, as the request's `Host` header carries it.
fn host_of(endpoint: &str) -> String {
    match reqwest::Url::parse(endpoint) {
        Ok(url) => match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            _ => String::new(),
        },
        Err(_) => String::new(),
    }
}

/// Posts a signed action; the `Response` object, or the error it carries as (code, message).
async fn call(
    providers: &SmsProviders,
    account: &Account<'_>,
    action: &str,
    body: &Value,
    now: DateTime<Utc>,
) -> Result<Result<Value, (String, String)>, SendError> {
    let payload = body.to_string();
    let timestamp = now.timestamp();
    let host = host_of(&providers.tencent_endpoint);
    let date = now.format("%Y-%m-%d");
    let authorization = format!(
        "TC3-HMAC-SHA256 Credential={}/{date}/{SERVICE}/tc3_request, SignedHeaders=content-type;host, Signature={}",
        account.access_key_id,
        signature(account.secret, SERVICE, &host, timestamp, &payload)
    );
    let response = providers
        .http
        .post(&providers.tencent_endpoint)
        .header("Authorization", authorization)
        .header("Content-Type", CONTENT_TYPE)
        .header("X-TC-Action", action)
        .header("X-TC-Version", VERSION)
        .header("X-TC-Timestamp", timestamp.to_string())
        .header("X-TC-Region", REGION)
        .body(payload)
        .send()
        .await
        .map_err(|e| transport_error(&e))?;
    let status = response.status();
    let text = response.text().await.map_err(|e| SendError::Unknown(e.to_string()))?;
    if !status.is_success() {
        return Err(SendError::Unknown(format!("HTTP {status}: {text}")));
    }
    let mut answer: Value =
        serde_json::from_str(&text).map_err(|e| SendError::Unknown(format!("unreadable answer ({e}): {text}")))?;
    let response = answer.get_mut("Response").map(Value::take).unwrap_or_default();
    if let Some(error) = response.get("Error") {
        let field = |name: &str| error.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
        return Ok(Err((field("Code"), field("Message"))));
    }
    Ok(Ok(response))
}

/// A code that means "not now": nothing went, try later.
fn throttled(code: &str) -> bool {
    code.starts_with("LimitExceeded") || code == "RequestLimitExceeded"
}

pub(super) async fn send(
    providers: &SmsProviders,
    account: &Account<'_>,
    message: &Message<'_>,
    now: DateTime<Utc>,
) -> Result<String, SendError> {
    let body = json!({
        "PhoneNumberSet": [e164(message.phone)],
        "SmsSdkAppId": account.app_id.unwrap_or_default(),
        "SignName": account.sign_name,
        "TemplateId": message.template_code,
        "TemplateParamSet": message.params.iter().map(|(_, v)| v.as_str()).collect::<Vec<_>>(),
        "SessionContext": message.key,
    });
    let response = match call(providers, account, "SendSms", &body, now).await? {
        Ok(response) => response,
        Err((code, text)) if throttled(&code) => return Err(SendError::NotSent { code, message: text }),
        // A server-side failure may or may not have sent it.
        Err((code, text)) if code.starts_with("InternalError") => {
            return Err(SendError::Unknown(format!("{code}: {text}")));
        }
        Err((code, text)) => return Err(SendError::Refused { code, message: text }),
    };
    let status = response.get("SendStatusSet").and_then(|s| s.get(0)).cloned().unwrap_or_default();
    let field = |name: &str| status.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
    match field("Code").as_str() {
        "Ok" => Ok(field("SerialNo")),
        "" => Err(SendError::Unknown(format!("no status for the number: {response}"))),
        code if throttled(code) => Err(SendError::NotSent { code: code.to_owned(), message: field("Message") }),
        code => Err(SendError::Refused { code: code.to_owned(), message: field("Message") }),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Status {
    serial_no: Option<String>,
    report_status: Option<String>,
    description: Option<String>,
    session_context: Option<String>,
    user_receive_time: Option<String>,
}

impl Status {
    fn receipt(self) -> Receipt {
        let at = self.user_receive_time.as_deref().and_then(|t| {
            let local = chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S").ok()?;
            Some(local.and_local_timezone(chrono::FixedOffset::east_opt(8 * 3600)?).single()?.with_timezone(&Utc))
        });
        Receipt {
            key: self.session_context.filter(|k| !k.is_empty()),
            provider_id: self.serial_no.unwrap_or_default(),
            delivered: self.report_status.as_deref() == Some("SUCCESS"),
            code: self.description.unwrap_or_default(),
            at,
        }
    }
}

fn statuses(response: &Value) -> Vec<Status> {
    response.get("PullSmsSendStatusSet").cloned().and_then(|set| serde_json::from_value(set).ok()).unwrap_or_default()
}

/// `PullSmsSendStatusByPhoneNumber` since the send, looking for our `SessionContext`. Tencent lists a message only
/// once its receipt came: "not found" is conclusive only after the receipt window.
pub(super) async fn lookup(
    providers: &SmsProviders,
    account: &Account<'_>,
    phone: &PhoneNumber,
    key: &str,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Found, String> {
    let body = json!({
        "BeginTime": since.timestamp() - 60,
        "Offset": 0,
        "Limit": 100,
        "PhoneNumber": e164(phone),
        "SmsSdkAppId": account.app_id.unwrap_or_default(),
    });
    let response = call(providers, account, "PullSmsSendStatusByPhoneNumber", &body, now)
        .await
        .map_err(|e| format!("{e:?}"))?
        .map_err(|(code, text)| format!("{code}: {text}"))?;
    Ok(statuses(&response).into_iter().map(Status::receipt).find(|r| r.key.as_deref() == Some(key)).map_or(
        Found::NotFound,
        |r| Found::Accepted { provider_id: Some(r.provider_id), delivered: Some(r.delivered), code: Some(r.code) },
    ))
}

/// The receipts and replies waiting (each returned once by Tencent).
pub(super) async fn pull(
    providers: &SmsProviders,
    account: &Account<'_>,
    now: DateTime<Utc>,
) -> Result<(Vec<Receipt>, Vec<Reply>), String> {
    let body = json!({ "Limit": 100, "SmsSdkAppId": account.app_id.unwrap_or_default() });
    let fail = |e: SendError| format!("{e:?}");
    let receipts = call(providers, account, "PullSmsSendStatus", &body, now)
        .await
        .map_err(fail)?
        .map_err(|(code, text)| format!("{code}: {text}"))?;
    let replies = call(providers, account, "PullSmsReplyStatus", &body, now)
        .await
        .map_err(fail)?
        .map_err(|(code, text)| format!("{code}: {text}"))?;
    let replies = replies
        .get("PullSmsReplyStatusSet")
        .and_then(Value::as_array)
        .map(|set| {
            set.iter()
                .map(|r| {
                    let field = |name: &str| r.get(name).and_then(Value::as_str).map(str::to_owned);
                    Reply {
                        phone: mainland(&field("PhoneNumber").unwrap_or_default()),
                        sign_name: field("Sign"),
                        text: field("ReplyContent").unwrap_or_default(),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    Ok((statuses(&receipts).into_iter().map(Status::receipt).collect(), replies))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of Tencent Cloud's signature v3 document (a CVM call: the chain is the same for SMS).
    #[test]
    fn signature_matches_the_published_example() {
        let payload = r#"{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}"#;
        assert_eq!(
            signature("Gu5t9xGARNpq86cd98joQYCN3EXAMPLE", "cvm", "cvm.tencentcloudapi.com", 1_551_113_065, payload),
            "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
        );
    }

    #[test]
    fn the_signed_host_carries_a_port_when_the_url_has_one() {
        assert_eq!(host_of("https://sms.tencentcloudapi.com"), "sms.tencentcloudapi.com");
        assert_eq!(host_of("http://127.0.0.1:8081/tencent-sms/"), "127.0.0.1:8081");
    }
}
