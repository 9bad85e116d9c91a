//! Alipay Open Platform, classic `gateway.do` protocol with RSA2 (SHA256withRSA, PKCS#1 v1.5).
//!
//! Signing: every parameter except `sign`, sorted by key, `k=v` joined by `&`, raw (not URL-encoded) values;
//! empty values are never sent (the Java and Python SDKs disagree on them). Synchronous responses are verified over
//! the exact JSON text of `<method>_response` as it arrived, so we keep it as a raw slice instead of re-serialising.

use std::collections::BTreeMap;

use rsa::{RsaPrivateKey, RsaPublicKey};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::signing;

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

#[derive(Deserialize)]
struct ErrorBody {
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
    /// `<method>_response` text, and returns that text for the caller to parse.
    async fn call(&self, keys: &AppKeys<'_>, method: &str, extra: &[(&str, &str)]) -> Result<String> {
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
            self.http.post(&self.gateway).form(&params).send().await.map_err(|e| Error::unavailable("alipay", e))?;
        if !response.status().is_success() {
            return Err(Error::unavailable("alipay", anyhow::anyhow!("HTTP {}", response.status())));
        }
        let text = response.text().await.map_err(|e| Error::unavailable("alipay", e))?;
        let envelope: BTreeMap<String, &RawValue> =
            serde_json::from_str(&text).map_err(|e| Error::unavailable("alipay", e))?;
        let key = format!("{}_response", method.replace('.', "_"));
        let body = envelope
            .get(&key)
            .or_else(|| envelope.get("error_response"))
            .ok_or_else(|| Error::unavailable("alipay", anyhow::anyhow!("response without {key}")))?;
        let sign = envelope.get("sign").and_then(|raw| serde_json::from_str::<String>(raw.get()).ok());
        let verified = sign.is_some_and(|sign| signing::verify(keys.alipay_public_key, body.get().as_bytes(), &sign));
        if let Ok(error) = serde_json::from_str::<ErrorBody>(body.get())
            && error.code != "10000"
        {
            {
                // Error answers may be unsigned (e.g. a bad app id); they change nothing, so we report them as is.
                return Err(Error::ProviderRejected {
                    provider: "alipay",
                    code: error.sub_code.unwrap_or(error.code),
                    message: error.sub_msg.unwrap_or(error.msg),
                });
            }
        }
        if !verified {
            return Err(Error::unavailable("alipay", anyhow::anyhow!("response signature did not verify")));
        }
        Ok(body.get().to_owned())
    }

    /// `alipay.system.oauth.token`: exchanges a mini-program `authCode` for the member's Alipay identity.
    pub async fn oauth_token(&self, keys: &AppKeys<'_>, auth_code: &str) -> Result<OauthToken> {
        let text = self
            .call(keys, "alipay.system.oauth.token", &[("grant_type", "authorization_code"), ("code", auth_code)])
            .await?;
        let body: OauthBody = serde_json::from_str(&text).map_err(|e| Error::unavailable("alipay", e))?;
        let subject = body.open_id.or(body.user_id).filter(|s| !s.is_empty());
        subject
            .map(|subject| OauthToken { subject })
            .ok_or_else(|| Error::unavailable("alipay", anyhow::anyhow!("oauth.token answered without a user")))
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
    fn sign_content_sorts_and_skips_sign_and_empties() {
        let params: BTreeMap<String, String> = [("b", "2"), ("a", "1"), ("sign", "x"), ("c", "")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        assert_eq!(sign_content(&params), "a=1&b=2");
    }
}
