//! Minimal hand-written clients for the fakes (signing written here from the protocol, not shared with the fake)
//! and a tiny callback listener that records what it receives.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, VecDeque};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use rsa::{RsaPrivateKey, RsaPublicKey};
use sha2::Sha256;

pub const MCHID: &str = "1900000001";
pub const APPID: &str = "wxd678efh567hg6787";
pub const APIV3_KEY: &str = "sandboxAPIv3Key00000000000000000";
pub const ALIPAY_APP_ID: &str = "2021000000000001";

pub fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

pub fn sign(key: &RsaPrivateKey, message: &[u8]) -> String {
    STANDARD.encode(SigningKey::<Sha256>::new(key.clone()).sign(message).to_bytes())
}

pub fn verify(key: &RsaPublicKey, message: &[u8], signature: &str) -> bool {
    let Ok(bytes) = STANDARD.decode(signature) else { return false };
    let Ok(sig) = Signature::try_from(bytes.as_slice()) else { return false };
    VerifyingKey::<Sha256>::new(key.clone()).verify(message, &sig).is_ok()
}

pub fn platform_key() -> RsaPublicKey {
    RsaPublicKey::from_public_key_pem(sandbox::WECHATPAY_PLATFORM_PUBLIC_KEY).unwrap()
}

pub fn alipay_key() -> RsaPublicKey {
    RsaPublicKey::from_public_key_pem(sandbox::ALIPAY_PLATFORM_PUBLIC_KEY).unwrap()
}

pub fn decrypt(key: &str, nonce: &str, aad: &str, ciphertext_b64: &str) -> Option<String> {
    let cipher = Aes256Gcm::new_from_slice(key.as_bytes()).ok()?;
    let data = STANDARD.decode(ciphertext_b64).ok()?;
    let plain =
        cipher.decrypt(Nonce::from_slice(nonce.as_bytes()), Payload { msg: &data, aad: aad.as_bytes() }).ok()?;
    String::from_utf8(plain).ok()
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

pub struct WxResponse {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub bytes: Vec<u8>,
}

impl WxResponse {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.bytes).unwrap_or(serde_json::Value::Null)
    }

    pub fn header(&self, name: &str) -> String {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
    }

    /// Checks `Wechatpay-Signature` over `TS\nNONCE\nBODY\n` with the platform key.
    pub fn verifies(&self) -> bool {
        let message =
            format!("{}\n{}\n{}\n", self.header("Wechatpay-Timestamp"), self.header("Wechatpay-Nonce"), self.text());
        self.header("Wechatpay-Signature-Type") == "WECHATPAY2-SHA256-RSA2048"
            && verify(&platform_key(), message.as_bytes(), &self.header("Wechatpay-Signature"))
    }
}

/// A WeChat Pay v3 merchant client.
pub struct WxClient {
    pub base: String,
    pub mchid: String,
    pub serial: String,
    pub key: RsaPrivateKey,
    http: reqwest::Client,
}

impl WxClient {
    pub fn new(base: &str) -> Self {
        Self {
            base: base.to_owned(),
            mchid: MCHID.to_owned(),
            serial: sandbox::WECHATPAY_MERCHANT_SERIAL.to_owned(),
            key: RsaPrivateKey::from_pkcs8_pem(sandbox::WECHATPAY_MERCHANT_PRIVATE_KEY).unwrap(),
            http: http(),
        }
    }

    pub fn authorization(&self, method: &str, target: &str, body: &str, timestamp: i64) -> String {
        let nonce = format!("{:032X}", rand_u128());
        let message = format!("{method}\n{target}\n{timestamp}\n{nonce}\n{body}\n");
        let signature = sign(&self.key, message.as_bytes());
        // Deliberately not in the Go SDK's order: the order must not matter.
        format!(
            "WECHATPAY2-SHA256-RSA2048 signature=\"{signature}\",mchid=\"{}\",serial_no=\"{}\",timestamp=\"{timestamp}\",nonce_str=\"{nonce}\"",
            self.mchid, self.serial
        )
    }

    pub async fn send(&self, method: &str, target: &str, body: Option<&str>) -> WxResponse {
        let auth = self.authorization(method, target, body.unwrap_or(""), now());
        self.send_with(method, target, body, Some(&auth)).await
    }

    pub async fn send_with(&self, method: &str, target: &str, body: Option<&str>, auth: Option<&str>) -> WxResponse {
        let url = if target.starts_with("http") { target.to_owned() } else { format!("{}{target}", self.base) };
        let mut request = match method {
            "GET" => self.http.get(&url),
            _ => self.http.post(&url),
        }
        .header("Accept", "application/json")
        .header("User-Agent", "sandbox-tests");
        if let Some(auth) = auth {
            request = request.header("Authorization", auth);
        }
        if let Some(body) = body {
            request = request.header("Content-Type", "application/json").body(body.to_owned());
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.unwrap().to_vec();
        WxResponse { status, headers, bytes }
    }

    pub async fn get(&self, target: &str) -> WxResponse {
        self.send("GET", target, None).await
    }

    pub async fn post(&self, target: &str, body: &serde_json::Value) -> WxResponse {
        self.send("POST", target, Some(&body.to_string())).await
    }
}

fn rand_u128() -> u128 {
    use rand::Rng;
    rand::thread_rng().r#gen()
}

/// Starts the fake with the test merchant and app registered.
pub fn fake() -> sandbox::FakeProviders {
    let fake = sandbox::FakeProviders::start().unwrap();
    fake.register_wechatpay_merchant(
        MCHID,
        sandbox::WECHATPAY_MERCHANT_SERIAL,
        sandbox::WECHATPAY_MERCHANT_PUBLIC_KEY,
        APIV3_KEY,
    )
    .unwrap();
    fake.register_alipay_app(ALIPAY_APP_ID, sandbox::APP_TEST_PUBLIC_KEY).unwrap();
    fake
}

/// One request the listener received.
#[derive(Clone, Debug)]
pub struct Received {
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

impl Received {
    pub fn header(&self, name: &str) -> String {
        self.headers.get(&name.to_ascii_lowercase()).cloned().unwrap_or_default()
    }
}

#[derive(Default)]
struct ListenerState {
    received: Vec<Received>,
    /// Scripted answers (status, body), used in order; then the default.
    script: VecDeque<(u16, String)>,
    default: (u16, String),
}

/// A local notify_url receiver.
pub struct Listener {
    pub url: String,
    state: Arc<Mutex<ListenerState>>,
}

impl Listener {
    /// Answers `default_status` with `default_body` unless scripted otherwise.
    pub fn start(default_status: u16, default_body: &str) -> Self {
        let state = Arc::new(Mutex::new(ListenerState {
            default: (default_status, default_body.to_owned()),
            ..ListenerState::default()
        }));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let data = web::Data::from(state.clone());
        let server = HttpServer::new(move || {
            App::new().app_data(data.clone()).default_service(web::to(
                |state: web::Data<Mutex<ListenerState>>, req: HttpRequest, body: web::Bytes| async move {
                    let mut state = state.lock().unwrap();
                    let headers = req
                        .headers()
                        .iter()
                        .map(|(k, v)| (k.as_str().to_ascii_lowercase(), v.to_str().unwrap_or_default().to_owned()))
                        .collect();
                    state.received.push(Received { headers, body: String::from_utf8_lossy(&body).into_owned() });
                    let (status, text) = state.script.pop_front().unwrap_or_else(|| state.default.clone());
                    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).body(text)
                },
            ))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
        tokio::spawn(server);
        Self { url: format!("http://127.0.0.1:{port}/notify"), state }
    }

    pub fn script(&self, answers: &[(u16, &str)]) {
        self.state.lock().unwrap().script.extend(answers.iter().map(|(s, b)| (*s, (*b).to_owned())));
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    /// Waits until at least `n` requests arrived.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        for _ in 0..400 {
            let received = self.received();
            if received.len() >= n {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("listener got {} requests, expected {n}", self.received().len());
    }
}

/// An Alipay gateway client for the test app.
pub struct AlipayClient {
    pub gateway: String,
    key: RsaPrivateKey,
    http: reqwest::Client,
}

impl AlipayClient {
    pub fn new(gateway: &str) -> Self {
        Self {
            gateway: gateway.to_owned(),
            key: RsaPrivateKey::from_pkcs1_pem(sandbox::APP_TEST_PRIVATE_KEY).unwrap(),
            http: http(),
        }
    }

    /// Calls `method` and returns the verified `<method>_response` object (panics if the signature is wrong).
    pub async fn call(&self, method: &str, biz: serde_json::Value, notify_url: Option<&str>) -> serde_json::Value {
        let (key, text) = self.call_raw(method, biz, notify_url).await;
        verified(&key, &text)
    }
}

/// The verified `<key>` object of an Alipay answer (panics if the signature is wrong).
pub fn verified(key: &str, text: &str) -> serde_json::Value {
    {
        let (content, signature) = extract(text, key).unwrap_or_else(|| panic!("no {key} in {text}"));
        assert!(verify(&alipay_key(), content.as_bytes(), &signature), "Alipay answer signature: {text}");
        serde_json::from_str(&content).unwrap()
    }
}

impl AlipayClient {
    pub async fn call_raw(&self, method: &str, biz: serde_json::Value, notify_url: Option<&str>) -> (String, String) {
        self.call_with(method, Some(biz), &[], notify_url).await
    }

    /// Like `call_raw`, with extra common parameters and biz_content optional.
    pub async fn call_with(
        &self,
        method: &str,
        biz: Option<serde_json::Value>,
        extra: &[(&str, &str)],
        notify_url: Option<&str>,
    ) -> (String, String) {
        let mut params: BTreeMap<String, String> = BTreeMap::new();
        for (k, v) in extra {
            params.insert((*k).to_owned(), (*v).to_owned());
        }
        params.insert("app_id".into(), ALIPAY_APP_ID.into());
        params.insert("method".into(), method.into());
        params.insert("format".into(), "JSON".into());
        params.insert("charset".into(), "utf-8".into());
        params.insert("sign_type".into(), "RSA2".into());
        params.insert("timestamp".into(), chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string());
        params.insert("version".into(), "1.0".into());
        if let Some(biz) = biz {
            params.insert("biz_content".into(), biz.to_string());
        }
        if let Some(url) = notify_url {
            params.insert("notify_url".into(), url.into());
        }
        let content = params.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
        params.insert("sign".into(), sign(&self.key, content.as_bytes()));
        let text = self.http.post(&self.gateway).form(&params).send().await.unwrap().text().await.unwrap();
        let key = format!("{}_response", method.replace('.', "_"));
        (key, text)
    }
}

/// The exact `"<key>":{…}` JSON text and the `sign` of an Alipay answer.
fn extract(text: &str, key: &str) -> Option<(String, String)> {
    let start = text.find(&format!("\"{key}\":"))? + key.len() + 3;
    let sign_at = text.rfind(",\"sign\":\"")?;
    let content = text.get(start..sign_at)?.to_owned();
    let signature = text.get(sign_at + 9..)?.trim_end_matches("\"}").to_owned();
    Some((content, signature))
}

/// Parses an `application/x-www-form-urlencoded` body.
pub fn parse_form(body: &str) -> BTreeMap<String, String> {
    web::Query::<BTreeMap<String, String>>::from_query(body).unwrap().into_inner()
}

/// Verifies an Alipay notify form: RSA2 over sorted `k=v&…` without `sign` and `sign_type`.
pub fn alipay_form_verifies(form: &BTreeMap<String, String>) -> bool {
    let content = form
        .iter()
        .filter(|(k, _)| k.as_str() != "sign" && k.as_str() != "sign_type")
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    form.get("sign_type").map(String::as_str) == Some("RSA2")
        && verify(&alipay_key(), content.as_bytes(), form.get("sign").map(String::as_str).unwrap_or_default())
}
