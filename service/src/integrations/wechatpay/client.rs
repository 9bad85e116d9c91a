//! The calls we make to WeChat Pay: each request signed, each answer verified before it is read.

use serde::Deserialize;

use super::{
    EncryptedResource, MerchantCredentials, PROVIDER, PlatformKeys, Refund, SignatureHeaders, Transaction,
    authorization, nonce, parse_certificate,
};
use crate::{Error, Result};

/// What the payment-code API answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodePayOutcome {
    Paid(Box<Transaction>),
    /// The customer must confirm in WeChat (a password, say): query until it settles, reverse if it never does.
    UserPaying,
    /// Refused for good (insufficient balance, a used code...): `code` and `message` are WeChat Pay's.
    Failed {
        code: String,
        message: String,
    },
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

#[derive(Deserialize)]
struct PrepayBody {
    prepay_id: String,
}

#[derive(Deserialize)]
struct CertificatesBody {
    data: Vec<CertificateEntry>,
}

#[derive(Deserialize)]
struct CertificateEntry {
    serial_no: String,
    encrypt_certificate: EncryptedResource,
}

#[derive(Deserialize)]
struct TradeBillBody {
    hash_type: String,
    hash_value: String,
    download_url: String,
}

/// An answer whose signature verified.
struct Answer {
    status: reqwest::StatusCode,
    body: String,
}

impl Answer {
    fn json<T: for<'de> Deserialize<'de>>(&self) -> Result<T> {
        serde_json::from_str(&self.body).map_err(|e| Error::unavailable(PROVIDER, e))
    }

    /// A non-2xx answer as the refusal it is.
    fn rejected(&self) -> Error {
        match serde_json::from_str::<ErrorBody>(&self.body) {
            Ok(error) if !error.code.is_empty() => {
                Error::ProviderRejected { provider: PROVIDER, code: error.code, message: error.message }
            }
            _ => Error::unavailable(PROVIDER, anyhow::anyhow!("HTTP {} without an error body", self.status)),
        }
    }

    fn ok(self) -> Result<Self> {
        if self.status.is_success() { Ok(self) } else { Err(self.rejected()) }
    }
}

#[derive(Clone)]
pub struct WechatPayClient {
    http: reqwest::Client,
    base: String,
}

/// Everything one merchant's calls need.
pub struct Merchant<'a> {
    pub credentials: &'a MerchantCredentials,
    pub platform: &'a PlatformKeys,
}

pub struct JsapiOrder<'a> {
    pub appid: &'a str,
    pub description: &'a str,
    pub out_trade_no: &'a str,
    pub notify_url: &'a str,
    pub total: i64,
    pub openid: &'a str,
    /// RFC 3339; WeChat Pay closes the order itself after this.
    pub time_expire: &'a str,
}

pub struct CodePayOrder<'a> {
    pub appid: &'a str,
    pub description: &'a str,
    pub out_trade_no: &'a str,
    pub total: i64,
    pub auth_code: &'a str,
    pub store_id: &'a str,
}

pub struct RefundRequest<'a> {
    pub out_trade_no: &'a str,
    pub out_refund_no: &'a str,
    pub reason: &'a str,
    pub notify_url: &'a str,
    pub refund: i64,
    pub total: i64,
}

impl WechatPayClient {
    pub fn new(http: reqwest::Client, base: String) -> Self {
        Self { http, base: base.trim_end_matches('/').to_owned() }
    }

    /// Sends a signed request and verifies the answer's signature before anyone reads it.
    async fn call(
        &self,
        merchant: &Merchant<'_>,
        method: reqwest::Method,
        path: &str,
        body: Option<String>,
    ) -> Result<Answer> {
        let timestamp = chrono::Utc::now().timestamp();
        let nonce = nonce();
        let body_text = body.unwrap_or_default();
        let authorization = authorization(merchant.credentials, method.as_str(), path, &body_text, timestamp, &nonce);
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("Authorization", authorization)
            .header("Accept", "application/json")
            .header("User-Agent", concat!("huiyuan/", env!("CARGO_PKG_VERSION")));
        if !body_text.is_empty() {
            request = request.header("Content-Type", "application/json").body(body_text);
        }
        let response = request.send().await.map_err(|e| Error::unavailable(PROVIDER, e))?;
        let status = response.status();
        let headers = SignatureHeaders::from_pairs(
            response.headers().iter().filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?))),
        );
        let bytes = response.bytes().await.map_err(|e| Error::unavailable(PROVIDER, e))?;
        merchant
            .platform
            .verify(&headers, &bytes, chrono::Utc::now().timestamp())
            .map_err(|r| Error::unavailable(PROVIDER, anyhow::anyhow!("answer not verified: {}", r.code())))?;
        let body = String::from_utf8(bytes.to_vec()).map_err(|e| Error::unavailable(PROVIDER, e))?;
        Ok(Answer { status, body })
    }

    fn json(value: serde_json::Value) -> Option<String> {
        Some(value.to_string())
    }

    /// `POST /v3/pay/transactions/jsapi`: the prepay id for `wx.requestPayment` (valid 2 hours).
    pub async fn jsapi_prepay(&self, merchant: &Merchant<'_>, order: &JsapiOrder<'_>) -> Result<String> {
        let body = serde_json::json!({
            "appid": order.appid,
            "mchid": merchant.credentials.mchid,
            "description": order.description,
            "out_trade_no": order.out_trade_no,
            "time_expire": order.time_expire,
            "notify_url": order.notify_url,
            "amount": { "total": order.total, "currency": "CNY" },
            "payer": { "openid": order.openid },
        });
        let answer =
            self.call(merchant, reqwest::Method::POST, "/v3/pay/transactions/jsapi", Self::json(body)).await?.ok()?;
        Ok(answer.json::<PrepayBody>()?.prepay_id)
    }

    /// `GET /v3/pay/transactions/out-trade-no/{no}`; `None` when WeChat Pay has no such order.
    pub async fn query(&self, merchant: &Merchant<'_>, out_trade_no: &str) -> Result<Option<Transaction>> {
        let path = format!(
            "/v3/pay/transactions/out-trade-no/{}?mchid={}",
            urlencoding::encode(out_trade_no),
            urlencoding::encode(&merchant.credentials.mchid)
        );
        let answer = self.call(merchant, reqwest::Method::GET, &path, None).await?;
        if answer.status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        Ok(Some(answer.ok()?.json()?))
    }

    /// Closes an unpaid order so it can no longer be paid.
    pub async fn close(&self, merchant: &Merchant<'_>, out_trade_no: &str) -> Result<()> {
        let path = format!("/v3/pay/transactions/out-trade-no/{}/close", urlencoding::encode(out_trade_no));
        let body = serde_json::json!({ "mchid": merchant.credentials.mchid });
        self.call(merchant, reqwest::Method::POST, &path, Self::json(body)).await?.ok()?;
        Ok(())
    }

    /// `POST /v3/pay/transactions/codepay`: charges a customer's payment code.
    pub async fn codepay(&self, merchant: &Merchant<'_>, order: &CodePayOrder<'_>) -> Result<CodePayOutcome> {
        let body = serde_json::json!({
            "appid": order.appid,
            "mchid": merchant.credentials.mchid,
            "description": order.description,
            "out_trade_no": order.out_trade_no,
            "payer": { "auth_code": order.auth_code },
            "amount": { "total": order.total, "currency": "CNY" },
            "scene_info": { "store_info": { "out_id": order.store_id } },
        });
        let answer =
            self.call(merchant, reqwest::Method::POST, "/v3/pay/transactions/codepay", Self::json(body)).await?;
        if answer.status.is_success() {
            let transaction: Transaction = answer.json()?;
            return Ok(match transaction.trade_state.as_str() {
                "SUCCESS" => CodePayOutcome::Paid(Box::new(transaction)),
                _ => CodePayOutcome::UserPaying,
            });
        }
        match answer.rejected() {
            Error::ProviderRejected { code, .. } if code == "USERPAYING" => Ok(CodePayOutcome::UserPaying),
            // WeChat Pay's own trouble: the outcome is unknown, so the caller queries (and reverses if need be).
            Error::ProviderRejected { code, .. } if code == "SYSTEM_ERROR" || code == "BANK_ERROR" => {
                Ok(CodePayOutcome::UserPaying)
            }
            Error::ProviderRejected { code, message, .. } => Ok(CodePayOutcome::Failed { code, message }),
            other => Err(other),
        }
    }

    /// Reverses (撤销) a payment-code order: closes it if unpaid, refunds it if paid.
    pub async fn reverse(&self, merchant: &Merchant<'_>, appid: &str, out_trade_no: &str) -> Result<()> {
        let path = format!("/v3/pay/transactions/out-trade-no/{}/reverse", urlencoding::encode(out_trade_no));
        let body = serde_json::json!({ "appid": appid, "mchid": merchant.credentials.mchid });
        self.call(merchant, reqwest::Method::POST, &path, Self::json(body)).await?.ok()?;
        Ok(())
    }

    /// `POST /v3/refund/domestic/refunds`, idempotent on `out_refund_no`.
    pub async fn refund(&self, merchant: &Merchant<'_>, request: &RefundRequest<'_>) -> Result<Refund> {
        let body = serde_json::json!({
            "out_trade_no": request.out_trade_no,
            "out_refund_no": request.out_refund_no,
            "reason": request.reason,
            "notify_url": request.notify_url,
            "amount": { "refund": request.refund, "total": request.total, "currency": "CNY" },
        });
        let answer =
            self.call(merchant, reqwest::Method::POST, "/v3/refund/domestic/refunds", Self::json(body)).await?.ok()?;
        answer.json()
    }

    pub async fn refund_query(&self, merchant: &Merchant<'_>, out_refund_no: &str) -> Result<Option<Refund>> {
        let path = format!("/v3/refund/domestic/refunds/{}", urlencoding::encode(out_refund_no));
        let answer = self.call(merchant, reqwest::Method::GET, &path, None).await?;
        if answer.status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        Ok(Some(answer.ok()?.json()?))
    }

    /// `GET /v3/certificates`: the platform certificates, decrypted with the APIv3 key. The answer itself must verify
    /// with a key we already trust (the public key, or a certificate still valid).
    pub async fn certificates(&self, merchant: &Merchant<'_>) -> Result<Vec<(String, String)>> {
        let answer = self.call(merchant, reqwest::Method::GET, "/v3/certificates", None).await?.ok()?;
        let body: CertificatesBody = answer.json()?;
        let mut certificates = Vec::with_capacity(body.data.len());
        for entry in body.data {
            let pem = merchant
                .credentials
                .decrypt(&entry.encrypt_certificate)
                .map_err(|r| Error::unavailable(PROVIDER, anyhow::anyhow!("certificate: {}", r.code())))?;
            let pem = String::from_utf8(pem).map_err(|e| Error::unavailable(PROVIDER, e))?;
            let parsed = parse_certificate(&pem).map_err(|e| Error::unavailable(PROVIDER, e))?;
            if parsed.serial != entry.serial_no.to_ascii_uppercase() {
                return Err(Error::unavailable(PROVIDER, anyhow::anyhow!("certificate serial does not match")));
            }
            certificates.push((parsed.serial, pem));
        }
        Ok(certificates)
    }

    /// The trade bill of one day (`bill_date` as `YYYY-MM-DD`): asks for the download address, fetches the file
    /// (signed like any request; the file itself is not), gunzips it and checks its SHA-1.
    pub async fn trade_bill(&self, merchant: &Merchant<'_>, bill_date: &str) -> Result<String> {
        let path = format!("/v3/bill/tradebill?bill_date={bill_date}&bill_type=ALL&tar_type=GZIP");
        let answer = self.call(merchant, reqwest::Method::GET, &path, None).await?.ok()?;
        let bill: TradeBillBody = answer.json()?;
        if !bill.hash_type.eq_ignore_ascii_case("SHA1") {
            return Err(Error::unavailable(PROVIDER, anyhow::anyhow!("unknown bill hash {}", bill.hash_type)));
        }
        let url = reqwest::Url::parse(&bill.download_url).map_err(|e| Error::unavailable(PROVIDER, e))?;
        let path_and_query = match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        };
        let timestamp = chrono::Utc::now().timestamp();
        let nonce = nonce();
        let authorization = authorization(merchant.credentials, "GET", &path_and_query, "", timestamp, &nonce);
        let response = self
            .http
            .get(url)
            .header("Authorization", authorization)
            .send()
            .await
            .map_err(|e| Error::unavailable(PROVIDER, e))?;
        if !response.status().is_success() {
            return Err(Error::unavailable(PROVIDER, anyhow::anyhow!("bill download: HTTP {}", response.status())));
        }
        let gzipped = response.bytes().await.map_err(|e| Error::unavailable(PROVIDER, e))?;
        let mut text = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(gzipped.as_ref()), &mut text)
            .map_err(|e| Error::unavailable(PROVIDER, e))?;
        let digest = hex::encode(<sha1::Sha1 as sha1::Digest>::digest(&text));
        if !digest.eq_ignore_ascii_case(&bill.hash_value) {
            return Err(Error::unavailable(PROVIDER, anyhow::anyhow!("bill hash does not match")));
        }
        String::from_utf8(text).map_err(|e| Error::unavailable(PROVIDER, e))
    }
}
