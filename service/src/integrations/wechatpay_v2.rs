//! WeChat Pay API v2, payment codes only: `micropay`, `orderquery` and `reverse`, the fallback for merchants whose
//! account cannot use v3 `codepay` (the official 2026 guidance says payment codes are v2-only; the v3 API exists in
//! the docs: PROTOCOLS.md A5). XML over HTTPS; every message signed with the APIv2 key:
//! `UPPER(MD5(stringA&key=K))` or `UPPER(HMAC-SHA256_K(stringA&key=K))`, where stringA is every non-empty parameter
//! but `sign`, sorted, `k=v` joined by `&`. Answers are verified the same way before they are believed. `reverse`
//! needs the merchant API certificate as a TLS client certificate.

use std::collections::BTreeMap;

use hmac::{Hmac, Mac};
use md5::Digest;
use sha2::Sha256;

use crate::integrations::wechatpay::{Amount, CodePayOutcome, Payer, Transaction};
use crate::{Error, Result};

const PROVIDER: &str = "wechatpay";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignType {
    Md5,
    HmacSha256,
}

impl SignType {
    fn as_str(self) -> &'static str {
        match self {
            SignType::Md5 => "MD5",
            SignType::HmacSha256 => "HMAC-SHA256",
        }
    }
}

/// The v2 signature of `params` (its `sign` entry, if any, is left out).
pub fn sign(params: &BTreeMap<String, String>, key: &str, sign_type: SignType) -> String {
    let mut text = params
        .iter()
        .filter(|(k, v)| k.as_str() != "sign" && !v.is_empty())
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    text.push_str("&key=");
    text.push_str(key);
    let digest = match sign_type {
        SignType::Md5 => hex::encode(md5::Md5::digest(text.as_bytes())),
        SignType::HmacSha256 => match Hmac::<Sha256>::new_from_slice(key.as_bytes()) {
            Ok(mut mac) => {
                mac.update(text.as_bytes());
                hex::encode(mac.finalize().into_bytes())
            }
            // HMAC takes keys of any length; this arm is unreachable in practice.
            Err(_) => String::new(),
        },
    };
    digest.to_ascii_uppercase()
}

/// `<xml><k><![CDATA[v]]></k>…</xml>`.
pub fn to_xml(params: &BTreeMap<String, String>) -> String {
    let mut xml = String::from("<xml>");
    for (k, v) in params {
        xml.push_str(&format!("<{k}><![CDATA[{v}]]></{k}>"));
    }
    xml.push_str("</xml>");
    xml
}

/// Parses the flat `<xml>` WeChat answers with (plain or CDATA values). `None` for anything else.
pub fn from_xml(xml: &str) -> Option<BTreeMap<String, String>> {
    let mut rest = xml.trim();
    rest = rest.strip_prefix("<?xml").map_or(Some(rest), |r| r.split_once("?>").map(|(_, r)| r.trim()))?;
    let mut rest = rest.strip_prefix("<xml>")?.trim_end().strip_suffix("</xml>")?;
    let mut out = BTreeMap::new();
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            return Some(out);
        }
        let open = rest.strip_prefix('<')?;
        let (name, after) = open.split_once('>')?;
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return None;
        }
        let close = format!("</{name}>");
        let end = after.find(&close)?;
        let raw = &after[..end];
        let value = match raw.trim().strip_prefix("<![CDATA[").and_then(|v| v.strip_suffix("]]>")) {
            Some(cdata) => cdata.to_owned(),
            None => raw.trim().to_owned(),
        };
        out.insert(name.to_owned(), value);
        rest = &after[end + close.len()..];
    }
}

/// A merchant's v2 credentials.
pub struct V2Account<'a> {
    pub appid: &'a str,
    pub mchid: &'a str,
    pub key: &'a str,
    pub sign_type: SignType,
    /// A client carrying the merchant API certificate (for `/secapi/…`); the plain one when none is configured.
    pub tls_client: &'a reqwest::Client,
}

#[derive(Clone)]
pub struct WechatPayV2Client {
    http: reqwest::Client,
    base: String,
}

/// What an answer said, once its signature verified.
struct V2Answer {
    fields: BTreeMap<String, String>,
}

impl V2Answer {
    fn get(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    fn business_ok(&self) -> bool {
        self.get("result_code") == Some("SUCCESS")
    }

    fn err_code(&self) -> String {
        self.get("err_code").unwrap_or("FAIL").to_owned()
    }

    fn err_message(&self) -> String {
        self.get("err_code_des").unwrap_or("refused").to_owned()
    }

    fn transaction(&self, appid: &str, mchid: &str, state: &str) -> Transaction {
        let total = self.get("total_fee").and_then(|t| t.parse().ok()).unwrap_or(0);
        Transaction {
            appid: self.get("appid").unwrap_or(appid).to_owned(),
            mchid: self.get("mch_id").unwrap_or(mchid).to_owned(),
            out_trade_no: self.get("out_trade_no").unwrap_or_default().to_owned(),
            transaction_id: self.get("transaction_id").map(str::to_owned),
            trade_type: Some("MICROPAY".to_owned()),
            trade_state: state.to_owned(),
            trade_state_desc: self.get("trade_state_desc").map(str::to_owned),
            success_time: self.get("time_end").map(str::to_owned),
            payer: Some(Payer { openid: self.get("openid").map(str::to_owned) }),
            amount: Some(Amount {
                total,
                payer_total: self.get("cash_fee").and_then(|t| t.parse().ok()),
                currency: Some(self.get("fee_type").unwrap_or("CNY").to_owned()),
            }),
        }
    }
}

impl WechatPayV2Client {
    pub fn new(http: reqwest::Client, base: String) -> Self {
        Self { http, base: base.trim_end_matches('/').to_owned() }
    }

    async fn call(
        &self,
        account: &V2Account<'_>,
        client: &reqwest::Client,
        path: &str,
        mut params: BTreeMap<String, String>,
    ) -> Result<V2Answer> {
        params.insert("appid".into(), account.appid.to_owned());
        params.insert("mch_id".into(), account.mchid.to_owned());
        params.insert("nonce_str".into(), crate::integrations::wechatpay::nonce());
        params.insert("sign_type".into(), account.sign_type.as_str().to_owned());
        let signature = sign(&params, account.key, account.sign_type);
        params.insert("sign".into(), signature);
        let response = client
            .post(format!("{}{path}", self.base))
            .header("Content-Type", "text/xml; charset=utf-8")
            .body(to_xml(&params))
            .send()
            .await
            .map_err(|e| Error::unavailable(PROVIDER, e))?;
        if !response.status().is_success() {
            return Err(Error::unavailable(PROVIDER, anyhow::anyhow!("HTTP {}", response.status())));
        }
        let text = response.text().await.map_err(|e| Error::unavailable(PROVIDER, e))?;
        let fields = from_xml(&text).ok_or_else(|| Error::unavailable(PROVIDER, anyhow::anyhow!("not v2 XML")))?;
        if fields.get("return_code").map(String::as_str) != Some("SUCCESS") {
            // A communication-level refusal (a bad signature, a bad parameter) carries no signature.
            let message = fields.get("return_msg").cloned().unwrap_or_default();
            return Err(Error::ProviderRejected { provider: PROVIDER, code: "FAIL".into(), message });
        }
        let claimed = fields.get("sign").cloned().unwrap_or_default();
        let sign_type = match fields.get("sign_type").map(String::as_str) {
            Some("HMAC-SHA256") => SignType::HmacSha256,
            Some("MD5") => SignType::Md5,
            _ => account.sign_type,
        };
        if claimed.is_empty() || sign(&fields, account.key, sign_type) != claimed {
            return Err(Error::unavailable(PROVIDER, anyhow::anyhow!("v2 answer signature did not verify")));
        }
        Ok(V2Answer { fields })
    }

    /// `/pay/micropay`: charges a payment code.
    pub async fn micropay(
        &self,
        account: &V2Account<'_>,
        description: &str,
        out_trade_no: &str,
        total: i64,
        auth_code: &str,
        device: &str,
    ) -> Result<CodePayOutcome> {
        let params: BTreeMap<String, String> = [
            ("body", description.to_owned()),
            ("out_trade_no", out_trade_no.to_owned()),
            ("total_fee", total.to_string()),
            ("fee_type", "CNY".to_owned()),
            ("spbill_create_ip", "127.0.0.1".to_owned()),
            ("auth_code", auth_code.to_owned()),
            ("device_info", device.to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let answer = self.call(account, &self.http, "/pay/micropay", params).await?;
        if answer.business_ok() {
            return Ok(CodePayOutcome::Paid(Box::new(answer.transaction(account.appid, account.mchid, "SUCCESS"))));
        }
        Ok(match answer.err_code().as_str() {
            // Waiting for the password, or WeChat Pay does not know yet: query, reverse if it never settles.
            "USERPAYING" | "SYSTEMERROR" | "BANKERROR" => CodePayOutcome::UserPaying,
            code => CodePayOutcome::Failed { code: code.to_owned(), message: answer.err_message() },
        })
    }

    /// `/pay/orderquery`; `None` for an order WeChat Pay does not have.
    pub async fn query(&self, account: &V2Account<'_>, out_trade_no: &str) -> Result<Option<Transaction>> {
        let params = BTreeMap::from([("out_trade_no".to_owned(), out_trade_no.to_owned())]);
        let answer = self.call(account, &self.http, "/pay/orderquery", params).await?;
        if !answer.business_ok() {
            return match answer.err_code().as_str() {
                "ORDERNOTEXIST" => Ok(None),
                code => Err(Error::ProviderRejected {
                    provider: PROVIDER,
                    code: code.to_owned(),
                    message: answer.err_message(),
                }),
            };
        }
        let state = answer.get("trade_state").unwrap_or("NOTPAY").to_owned();
        Ok(Some(answer.transaction(account.appid, account.mchid, &state)))
    }

    /// `/secapi/pay/reverse` (client certificate): closes an unpaid code order, refunds a paid one.
    pub async fn reverse(&self, account: &V2Account<'_>, out_trade_no: &str) -> Result<()> {
        let params = BTreeMap::from([("out_trade_no".to_owned(), out_trade_no.to_owned())]);
        let answer = self.call(account, account.tls_client, "/secapi/pay/reverse", params).await?;
        if !answer.business_ok() {
            return Err(Error::ProviderRejected {
                provider: PROVIDER,
                code: answer.err_code(),
                message: answer.err_message(),
            });
        }
        if answer.get("recall") == Some("Y") {
            return Err(Error::unavailable(PROVIDER, anyhow::anyhow!("reverse asks to be called again")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answer_v2_signatures() {
        // The v2 安全规范 example (PROTOCOLS.md A5).
        let params: BTreeMap<String, String> = [
            ("appid", "wxd930ea5d5a258f4f"),
            ("mch_id", "10000100"),
            ("device_info", "1000"),
            ("body", "test"),
            ("nonce_str", "ibuaiVcKdpRxkhJA"),
            ("sign", "ignored"),
            ("empty", ""),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let key = "192006250b4c09247ec02edce69f6a2d";
        assert_eq!(sign(&params, key, SignType::Md5), "9A0A8659F005D6984697E2CA0A9CF3B7");
        assert_eq!(
            sign(&params, key, SignType::HmacSha256),
            "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6"
        );
    }

    #[test]
    fn xml_round_trip_with_cdata_and_plain_values() {
        let params: BTreeMap<String, String> = [("body", "精剪 <洗吹>"), ("total_fee", "8800")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        assert_eq!(from_xml(&to_xml(&params)), Some(params));
        let plain = "<xml><return_code>SUCCESS</return_code>\n<total_fee>1</total_fee></xml>";
        let parsed = from_xml(plain).unwrap();
        assert_eq!(parsed["return_code"], "SUCCESS");
        assert_eq!(parsed["total_fee"], "1");
        assert_eq!(from_xml("<xml><a>1</b></xml>"), None);
        assert_eq!(from_xml("{\"json\": true}"), None);
    }
}
