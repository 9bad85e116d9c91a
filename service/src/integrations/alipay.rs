//! Alipay Open Platform, classic `gateway.do` protocol with RSA2 (SHA256withRSA, PKCS#1 v1.5).
//!
//! Signing: every parameter except `sign`, sorted by key, `k=v` joined by `&`, raw (not URL-encoded) values;
//! empty values are never sent (the Java and Python SDKs disagree on them). Synchronous responses are verified over
//! the exact JSON text of `<method>_response` as it arrived, so we keep it as a raw slice instead of re-serialising.

use std::collections::BTreeMap;

use rsa::{RsaPrivateKey, RsaPublicKey};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::domain::Fen;
use crate::integrations::signing;

use crate::{Error, Result};

/// The string RSA2 signs: sorted `k=v` pairs joined by `&`, `sign` left out, empty values left out.
pub fn sign_content(params: &BTreeMap<String, String>) -> String {
    params
        .iter()
        .filter(|(k, v)| k.as_str() != "sign" && !v.is_empty())
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

#[derive(Clone)]
pub struct AlipayClient {
    http: reqwest::Client,
    gateway: String,
}

/// The keys one merchant's Alipay app signs and verifies with.
pub struct AppKeys<'a> {
    pub app_id: &'a str,
    pub private_key: &'a RsaPrivateKey,
    pub alipay_public_key: &'a RsaPublicKey,
}

pub struct OauthToken {
    /// The per-app `open_id` when Alipay issues one, else the legacy `user_id`.
    pub subject: String,
}

const PROVIDER: &str = "alipay";

/// Verifies an asynchronous notification (a form POST): every field except `sign` and `sign_type`, URL-decoded,
/// sorted, `k=v` joined by `&` (empty values included, as Alipay's verifier does), under Alipay's public key.
pub fn verify_notification(fields: &BTreeMap<String, String>, alipay_public_key: &RsaPublicKey) -> bool {
    let Some(signature) = fields.get("sign") else { return false };
    if fields.get("sign_type").is_some_and(|t| t != "RSA2") {
        return false;
    }
    let content = fields
        .iter()
        .filter(|(k, _)| k.as_str() != "sign" && k.as_str() != "sign_type")
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    signing::verify(alipay_public_key, content.as_bytes(), signature)
}

/// What both `trade.create` and `trade.pay` need.
pub struct TradeOrder<'a> {
    pub out_trade_no: &'a str,
    pub total: Fen,
    pub subject: &'a str,
    /// The payer's per-app `open_id` (mini-program payments only).
    pub buyer_open_id: &'a str,
}

/// A trade as `trade.pay` and `trade.query` describe it; amounts are yuan strings.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Trade {
    pub trade_no: String,
    pub out_trade_no: String,
    /// `trade.pay` answers have no status: a `10000` is a payment.
    #[serde(default)]
    pub trade_status: Option<String>,
    pub total_amount: String,
    #[serde(default)]
    pub buyer_open_id: Option<String>,
    #[serde(default)]
    pub buyer_user_id: Option<String>,
    #[serde(default)]
    pub send_pay_date: Option<String>,
    #[serde(default)]
    pub gmt_payment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TradePayOutcome {
    Paid(Trade),
    /// The customer must confirm in Alipay (10003), or Alipay does not know yet (20000): query, cancel if never.
    Waiting,
    Failed {
        code: String,
        message: String,
    },
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct TradeRefunded {
    #[serde(default)]
    pub trade_no: Option<String>,
    /// `Y` when this call moved money; `N` for a repeat of a refund already made.
    #[serde(default)]
    pub fund_change: Option<String>,
    /// The trade's cumulative refunded amount (yuan).
    #[serde(default)]
    pub refund_fee: Option<String>,
}

#[derive(Deserialize)]
struct TradeCreated {
    trade_no: String,
}

#[derive(Deserialize)]
struct Cancelled {
    #[serde(default)]
    retry_flag: Option<String>,
}

#[derive(Deserialize)]
struct BillUrl {
    bill_download_url: String,
}

fn success_code() -> String {
    "10000".to_owned()
}

/// A verified answer of any code.
struct Reply {
    status: ErrorBody,
    body: String,
}

impl ErrorBody {
    fn into_rejection(self) -> Error {
        Error::ProviderRejected {
            provider: PROVIDER,
            code: self.sub_code.unwrap_or(self.code),
            message: self.sub_msg.unwrap_or(self.msg),
        }
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    /// Absent on some successful answers (`alipay.system.oauth.token`): that is a success.
    #[serde(default = "success_code")]
    code: String,
    #[serde(default)]
    msg: String,
    #[serde(default)]
    sub_code: Option<String>,
    #[serde(default)]
    sub_msg: Option<String>,
}

#[derive(Deserialize)]
struct OauthBody {
    user_id: Option<String>,
    open_id: Option<String>,
}

impl AlipayClient {
    pub fn new(http: reqwest::Client, gateway: String) -> Self {
        Self { http, gateway }
    }

    /// Calls `method` with the common parameters plus `extra`, verifies the signature over the raw
    /// `<method>_response` text, and returns the verified reply whatever its code.
    async fn call_any(&self, keys: &AppKeys<'_>, method: &str, extra: &[(&str, &str)]) -> Result<Reply> {
        let timestamp = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai).format("%Y-%m-%d %H:%M:%S");
        let mut params: BTreeMap<String, String> = [
            ("app_id", keys.app_id.to_owned()),
            ("method", method.to_owned()),
            ("format", "JSON".to_owned()),
            ("charset", "utf-8".to_owned()),
            ("sign_type", "RSA2".to_owned()),
            ("timestamp", timestamp.to_string()),
            ("version", "1.0".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        for (k, v) in extra {
            params.insert((*k).to_owned(), (*v).to_owned());
        }
        let signature = signing::sign(keys.private_key, &sign_content(&params));
        params.insert("sign".to_owned(), signature);
        let response =
            self.http.post(&self.gateway).form(&params).send().await.map_err(|e| Error::unavailable(PROVIDER, e))?;
        if !response.status().is_success() {
            return Err(Error::unavailable(PROVIDER, anyhow::anyhow!("HTTP {}", response.status())));
        }
        let text = response.text().await.map_err(|e| Error::unavailable(PROVIDER, e))?;
        let envelope: BTreeMap<String, &RawValue> =
            serde_json::from_str(&text).map_err(|e| Error::unavailable(PROVIDER, e))?;
        let key = format!("{}_response", method.replace('.', "_"));
        let body = envelope
            .get(&key)
            .or_else(|| envelope.get("error_response"))
            .ok_or_else(|| Error::unavailable(PROVIDER, anyhow::anyhow!("response without {key}")))?;
        let sign = envelope.get("sign").and_then(|raw| serde_json::from_str::<String>(raw.get()).ok());
        let verified = sign.is_some_and(|sign| signing::verify(keys.alipay_public_key, body.get().as_bytes(), &sign));
        let status: ErrorBody = serde_json::from_str(body.get()).map_err(|e| Error::unavailable(PROVIDER, e))?;
        if !verified {
            if status.code != "10000" {
                // Error answers may be unsigned (a bad app id, say); they change nothing, so we report them as is.
                return Err(status.into_rejection());
            }
            return Err(Error::unavailable(PROVIDER, anyhow::anyhow!("response signature did not verify")));
        }
        Ok(Reply { status, body: body.get().to_owned() })
    }

    /// Like `call_any`, but anything other than `10000` is a refusal.
    async fn call(&self, keys: &AppKeys<'_>, method: &str, extra: &[(&str, &str)]) -> Result<String> {
        let reply = self.call_any(keys, method, extra).await?;
        if reply.status.code != "10000" {
            return Err(reply.status.into_rejection());
        }
        Ok(reply.body)
    }

    fn parse<T: for<'de> Deserialize<'de>>(text: &str) -> Result<T> {
        serde_json::from_str(text).map_err(|e| Error::unavailable(PROVIDER, e))
    }

    /// `alipay.trade.create` for `my.tradePay`: returns Alipay's `trade_no`, which the mini-program passes as
    /// `tradeNO` (not our `out_trade_no`).
    pub async fn trade_create(&self, keys: &AppKeys<'_>, order: &TradeOrder<'_>, notify_url: &str) -> Result<String> {
        let biz = serde_json::json!({
            "out_trade_no": order.out_trade_no,
            "total_amount": order.total.to_yuan_string(),
            "subject": order.subject,
            "product_code": "JSAPI_PAY",
            "op_app_id": keys.app_id,
            "buyer_open_id": order.buyer_open_id,
            "timeout_express": "30m",
        });
        let text = self
            .call(keys, "alipay.trade.create", &[("notify_url", notify_url), ("biz_content", &biz.to_string())])
            .await?;
        let body: TradeCreated = Self::parse(&text)?;
        Ok(body.trade_no)
    }

    /// `alipay.trade.pay` with a scanned payment code (`scene=bar_code`).
    pub async fn trade_pay(
        &self,
        keys: &AppKeys<'_>,
        order: &TradeOrder<'_>,
        auth_code: &str,
    ) -> Result<TradePayOutcome> {
        let biz = serde_json::json!({
            "out_trade_no": order.out_trade_no,
            "scene": "bar_code",
            "auth_code": auth_code,
            "subject": order.subject,
            "total_amount": order.total.to_yuan_string(),
        });
        let reply = self.call_any(keys, "alipay.trade.pay", &[("biz_content", &biz.to_string())]).await?;
        Ok(match reply.status.code.as_str() {
            "10000" => TradePayOutcome::Paid(Self::parse(&reply.body)?),
            // 10003: waiting for the customer (a password); 20000: Alipay does not know yet. Both: query.
            "10003" | "20000" => TradePayOutcome::Waiting,
            _ => TradePayOutcome::Failed {
                code: reply.status.sub_code.unwrap_or(reply.status.code),
                message: reply.status.sub_msg.unwrap_or(reply.status.msg),
            },
        })
    }

    /// `alipay.trade.query`; `None` when Alipay has no such trade (yet: a `trade.create`d order the buyer has not
    /// opened is not created at Alipay's side either).
    pub async fn trade_query(&self, keys: &AppKeys<'_>, out_trade_no: &str) -> Result<Option<Trade>> {
        let biz = serde_json::json!({ "out_trade_no": out_trade_no });
        match self.call(keys, "alipay.trade.query", &[("biz_content", &biz.to_string())]).await {
            Ok(text) => Ok(Some(Self::parse(&text)?)),
            Err(Error::ProviderRejected { code, .. }) if code == "ACQ.TRADE_NOT_EXIST" => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `alipay.trade.close`: an unpaid trade can no longer be paid. A trade Alipay never saw is closed already.
    pub async fn trade_close(&self, keys: &AppKeys<'_>, out_trade_no: &str) -> Result<()> {
        let biz = serde_json::json!({ "out_trade_no": out_trade_no });
        match self.call(keys, "alipay.trade.close", &[("biz_content", &biz.to_string())]).await {
            Ok(_) => Ok(()),
            Err(Error::ProviderRejected { code, .. }) if code == "ACQ.TRADE_NOT_EXIST" => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `alipay.trade.cancel` (撤销): closes an unpaid payment-code trade, refunds a paid one.
    pub async fn trade_cancel(&self, keys: &AppKeys<'_>, out_trade_no: &str) -> Result<()> {
        let biz = serde_json::json!({ "out_trade_no": out_trade_no });
        let text = self.call(keys, "alipay.trade.cancel", &[("biz_content", &biz.to_string())]).await?;
        let body: Cancelled = Self::parse(&text)?;
        if body.retry_flag.as_deref() == Some("Y") {
            return Err(Error::unavailable(PROVIDER, anyhow::anyhow!("trade.cancel asks to retry")));
        }
        Ok(())
    }

    /// `alipay.trade.refund`, idempotent on `out_request_no`. Alipay answers synchronously: `10000` means refunded.
    pub async fn trade_refund(
        &self,
        keys: &AppKeys<'_>,
        out_trade_no: &str,
        out_request_no: &str,
        amount: Fen,
        reason: &str,
    ) -> Result<TradeRefunded> {
        let biz = serde_json::json!({
            "out_trade_no": out_trade_no,
            "out_request_no": out_request_no,
            "refund_amount": amount.to_yuan_string(),
            "refund_reason": reason,
        });
        let text = self.call(keys, "alipay.trade.refund", &[("biz_content", &biz.to_string())]).await?;
        Self::parse(&text)
    }

    /// `alipay.data.dataservice.bill.downloadurl.query` for the trade bill of `bill_date` (`YYYY-MM-DD`).
    pub async fn bill_download_url(&self, keys: &AppKeys<'_>, bill_date: &str) -> Result<String> {
        let biz = serde_json::json!({ "bill_type": "trade", "bill_date": bill_date });
        let text = self
            .call(keys, "alipay.data.dataservice.bill.downloadurl.query", &[("biz_content", &biz.to_string())])
            .await?;
        let body: BillUrl = Self::parse(&text)?;
        Ok(body.bill_download_url)
    }

    /// Fetches a bill file (a short-lived signed URL; the file itself carries no signature).
    pub async fn download(&self, url: &str) -> Result<Vec<u8>> {
        let response = self.http.get(url).send().await.map_err(|e| Error::unavailable(PROVIDER, e))?;
        if !response.status().is_success() {
            return Err(Error::unavailable(PROVIDER, anyhow::anyhow!("bill download: HTTP {}", response.status())));
        }
        Ok(response.bytes().await.map_err(|e| Error::unavailable(PROVIDER, e))?.to_vec())
    }

    /// `alipay.system.oauth.token`: exchanges a mini-program `authCode` for the member's Alipay identity.
    pub async fn oauth_token(&self, keys: &AppKeys<'_>, auth_code: &str) -> Result<OauthToken> {
        let text = self
            .call(keys, "alipay.system.oauth.token", &[("grant_type", "authorization_code"), ("code", auth_code)])
            .await?;
        let body: OauthBody = serde_json::from_str(&text).map_err(|e| Error::unavailable(PROVIDER, e))?;
        let subject = body.open_id.or(body.user_id).filter(|s| !s.is_empty());
        subject
            .map(|subject| OauthToken { subject })
            .ok_or_else(|| Error::unavailable(PROVIDER, anyhow::anyhow!("oauth.token answered without a user")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    fn kat(key: &str) -> String {
        fixture("alipay_kat.txt")
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{key}=")).map(str::to_owned))
            .unwrap()
    }

    #[test]
    fn known_answer_request_signature() {
        let key = signing::parse_private_key(&fixture("ali_app_private_key.pem")).unwrap();
        assert_eq!(signing::sign(&key, &kat("REQ_CONTENT")), kat("REQ_SIG"));
    }

    #[test]
    fn known_answer_notify_signature_verifies() {
        let public = signing::parse_public_key(&fixture("ali_app_public_key.pem")).unwrap();
        assert!(signing::verify(&public, kat("NOTIFY_CONTENT").as_bytes(), &kat("NOTIFY_SIG")));
        assert!(!signing::verify(
            &public,
            kat("NOTIFY_CONTENT").replace("2.00", "2.01").as_bytes(),
            &kat("NOTIFY_SIG")
        ));
    }

    #[test]
    fn known_answer_notification_form_verifies_without_sign_and_sign_type() {
        let public = signing::parse_public_key(&fixture("ali_app_public_key.pem")).unwrap();
        let mut fields: BTreeMap<String, String> = kat("NOTIFY_CONTENT")
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        fields.insert("sign".into(), kat("NOTIFY_SIG"));
        fields.insert("sign_type".into(), "RSA2".into());
        assert!(verify_notification(&fields, &public));
        let mut tampered = fields.clone();
        tampered.insert("total_amount".into(), "2000.00".into());
        assert!(!verify_notification(&tampered, &public));
        let mut other_type = fields.clone();
        other_type.insert("sign_type".into(), "RSA".into());
        assert!(!verify_notification(&other_type, &public));
        fields.remove("sign");
        assert!(!verify_notification(&fields, &public));
    }

    #[test]
    fn sign_content_sorts_and_skips_sign_and_empties() {
        let params: BTreeMap<String, String> = [("b", "2"), ("a", "1"), ("sign", "x"), ("c", "")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        assert_eq!(sign_content(&params), "a=1&b=2");
    }
}
