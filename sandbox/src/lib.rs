//! Local stand-ins for the outside world: the WeChat mini-program server API and the Alipay gateway.
//!
//! They speak the real wire protocols (paths, parameters, JSON shapes, error codes, RSA2 signatures both ways) so
//! our clients are exercised exactly as against the real hosts. Tests and the embedded default point
//! `wechat.api_base` / `alipay.gateway` here. The Alipay side checks our request signature with the app's public
//! key and signs its answers with its own platform key, as Alipay does.
//!
//! Deliberately independent of `service`: a bug in our signing must not be mirrored by the fake.

use std::collections::{BTreeMap, HashMap};
use std::net::TcpListener;
use std::sync::{Arc, Mutex, MutexGuard};

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpResponse, HttpServer, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::Rng;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::pkcs8::DecodePublicKey;
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde::Deserialize;
use serde_json::json;
use sha2::Sha256;

/// Alipay's platform key pair as the fake plays it.
pub const ALIPAY_PLATFORM_PRIVATE_KEY: &str = include_str!("../keys/alipay_platform_private.pem");
pub const ALIPAY_PLATFORM_PUBLIC_KEY: &str = include_str!("../keys/alipay_platform_public.pem");
/// A merchant application key pair for tests and the demo merchant.
pub const APP_TEST_PRIVATE_KEY: &str = include_str!("../keys/app_test_private.pem");
pub const APP_TEST_PUBLIC_KEY: &str = include_str!("../keys/app_test_public.pem");

#[derive(Default)]
struct State {
    /// appid → AppSecret of the mini-programs WeChat knows.
    wechat_apps: HashMap<String, String>,
    /// Single-use `wx.login` codes → (appid, openid, unionid).
    login_codes: HashMap<String, (String, String, Option<String>)>,
    /// Single-use `getPhoneNumber` codes → (appid, phone).
    phone_codes: HashMap<String, (String, String)>,
    /// Live access tokens → appid.
    access_tokens: HashMap<String, String>,
    /// Alipay app id → the app's public key (to verify requests).
    alipay_apps: HashMap<String, RsaPublicKey>,
    /// Single-use auth codes → (app id, open_id).
    alipay_codes: HashMap<String, (String, String)>,
    /// When set, the next gateway answer is signed with a key Alipay doesn't own (a forged response).
    forge_next_alipay_response: bool,
    /// Counts calls per endpoint, for tests that check caching.
    calls: HashMap<&'static str, u32>,
}

struct Shared {
    state: Mutex<State>,
    alipay_key: RsaPrivateKey,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running fake; dropping it does not stop it, `stop()` does.
pub struct FakeProviders {
    shared: Arc<Shared>,
    handle: ServerHandle,
    port: u16,
}

fn random_token(len: usize) -> String {
    rand::thread_rng().sample_iter(&rand::distributions::Alphanumeric).take(len).map(char::from).collect()
}

impl FakeProviders {
    /// Starts on 127.0.0.1 with a free port. Must be called inside a Tokio runtime.
    pub fn start() -> std::io::Result<Self> {
        let alipay_key = RsaPrivateKey::from_pkcs1_pem(ALIPAY_PLATFORM_PRIVATE_KEY)
            .map_err(|e| std::io::Error::other(format!("platform key: {e}")))?;
        let shared = Arc::new(Shared { state: Mutex::new(State::default()), alipay_key });
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let data = web::Data::from(shared.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/sns/jscode2session", web::get().to(jscode2session))
                .route("/cgi-bin/stable_token", web::post().to(stable_token))
                .route("/wxa/business/getuserphonenumber", web::post().to(get_phone_number))
                .route("/gateway.do", web::post().to(alipay_gateway))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)?
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Ok(Self { shared, handle, port })
    }

    pub fn wechat_base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn alipay_gateway(&self) -> String {
        format!("http://127.0.0.1:{}/gateway.do", self.port)
    }

    pub fn register_wechat_app(&self, appid: &str, secret: &str) {
        self.shared.state().wechat_apps.insert(appid.to_owned(), secret.to_owned());
    }

    /// What `wx.login` would hand the mini-program of `appid` for this user.
    pub fn wechat_login_code(&self, appid: &str, openid: &str, unionid: Option<&str>) -> String {
        let code = random_token(32);
        self.shared
            .state()
            .login_codes
            .insert(code.clone(), (appid.to_owned(), openid.to_owned(), unionid.map(str::to_owned)));
        code
    }

    /// What a `getPhoneNumber` button tap would hand the mini-program.
    pub fn wechat_phone_code(&self, appid: &str, phone: &str) -> String {
        let code = random_token(32);
        self.shared.state().phone_codes.insert(code.clone(), (appid.to_owned(), phone.to_owned()));
        code
    }

    /// Makes every access token issued so far invalid (as a `force_refresh` elsewhere would).
    pub fn invalidate_access_tokens(&self) {
        self.shared.state().access_tokens.clear();
    }

    pub fn register_alipay_app(&self, app_id: &str, app_public_key_pem: &str) -> Result<(), String> {
        let key = RsaPublicKey::from_public_key_pem(app_public_key_pem).map_err(|e| e.to_string())?;
        self.shared.state().alipay_apps.insert(app_id.to_owned(), key);
        Ok(())
    }

    /// What `my.getAuthCode` would hand the mini-program of `app_id` for this user.
    pub fn alipay_auth_code(&self, app_id: &str, open_id: &str) -> String {
        let code = random_token(32);
        self.shared.state().alipay_codes.insert(code.clone(), (app_id.to_owned(), open_id.to_owned()));
        code
    }

    pub fn forge_next_alipay_response(&self) {
        self.shared.state().forge_next_alipay_response = true;
    }

    pub fn calls(&self, endpoint: &'static str) -> u32 {
        self.shared.state().calls.get(endpoint).copied().unwrap_or(0)
    }

    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }
}

fn count(shared: &Shared, endpoint: &'static str) {
    *shared.state().calls.entry(endpoint).or_default() += 1;
}

fn wechat_error(errcode: i64, errmsg: &str) -> HttpResponse {
    // WeChat answers errors with HTTP 200 and an errcode.
    HttpResponse::Ok().json(json!({ "errcode": errcode, "errmsg": errmsg }))
}

#[derive(Deserialize)]
struct Code2SessionQuery {
    appid: String,
    secret: String,
    js_code: String,
    grant_type: String,
}

async fn jscode2session(shared: web::Data<Shared>, query: web::Query<Code2SessionQuery>) -> HttpResponse {
    count(&shared, "jscode2session");
    let mut state = shared.state();
    if query.grant_type != "authorization_code" {
        return wechat_error(40002, "invalid grant_type");
    }
    if state.wechat_apps.get(&query.appid) != Some(&query.secret) {
        return wechat_error(40013, "invalid appid or secret");
    }
    match state.login_codes.remove(&query.js_code) {
        Some((appid, openid, unionid)) if appid == query.appid => {
            let mut body = json!({ "openid": openid, "session_key": STANDARD.encode(random_token(16)) });
            if let Some(unionid) = unionid {
                body["unionid"] = json!(unionid);
            }
            HttpResponse::Ok().json(body)
        }
        _ => wechat_error(40029, "invalid code"),
    }
}

#[derive(Deserialize)]
struct StableTokenBody {
    grant_type: String,
    appid: String,
    secret: String,
    #[serde(default)]
    force_refresh: bool,
}

async fn stable_token(shared: web::Data<Shared>, body: web::Json<StableTokenBody>) -> HttpResponse {
    count(&shared, "stable_token");
    let mut state = shared.state();
    if body.grant_type != "client_credential" || state.wechat_apps.get(&body.appid) != Some(&body.secret) {
        return wechat_error(40013, "invalid appid or secret");
    }
    // Normal mode returns the live token if there is one; force_refresh replaces it.
    let live = state.access_tokens.iter().find(|(_, appid)| **appid == body.appid).map(|(t, _)| t.clone());
    let token = match live {
        Some(token) if !body.force_refresh => token,
        _ => {
            state.access_tokens.retain(|_, appid| *appid != body.appid);
            let token = random_token(120);
            state.access_tokens.insert(token.clone(), body.appid.clone());
            token
        }
    };
    HttpResponse::Ok().json(json!({ "access_token": token, "expires_in": 7200 }))
}

#[derive(Deserialize)]
struct TokenQuery {
    access_token: String,
}

#[derive(Deserialize)]
struct PhoneBody {
    code: String,
}

async fn get_phone_number(
    shared: web::Data<Shared>,
    query: web::Query<TokenQuery>,
    body: web::Json<PhoneBody>,
) -> HttpResponse {
    count(&shared, "getuserphonenumber");
    let mut state = shared.state();
    let Some(appid) = state.access_tokens.get(&query.access_token).cloned() else {
        return wechat_error(40001, "invalid credential, access_token is invalid or not latest");
    };
    match state.phone_codes.remove(&body.code) {
        Some((code_appid, phone)) if code_appid == appid => HttpResponse::Ok().json(json!({
            "errcode": 0,
            "errmsg": "ok",
            "phone_info": {
                "phoneNumber": phone,
                "purePhoneNumber": phone,
                "countryCode": "86",
                "watermark": { "timestamp": chrono::Utc::now().timestamp(), "appid": appid },
            }
        })),
        _ => wechat_error(40029, "invalid code"),
    }
}

/// The RSA2 content: sorted `k=v`, `sign` excluded, raw values.
fn sign_content(params: &BTreeMap<String, String>) -> String {
    let pairs: Vec<String> =
        params.iter().filter(|(k, v)| k.as_str() != "sign" && !v.is_empty()).map(|(k, v)| format!("{k}={v}")).collect();
    pairs.join("&")
}

fn alipay_answer(shared: &Shared, method_key: &str, body: serde_json::Value) -> HttpResponse {
    let body_text = body.to_string();
    let forge = std::mem::take(&mut shared.state().forge_next_alipay_response);
    let signature = if forge {
        // Signed by someone who is not Alipay: our client must refuse it.
        let other = RsaPrivateKey::from_pkcs1_pem(APP_TEST_PRIVATE_KEY).ok();
        other.map(|k| SigningKey::<Sha256>::new(k).sign(body_text.as_bytes()).to_bytes()).unwrap_or_default()
    } else {
        SigningKey::<Sha256>::new(shared.alipay_key.clone()).sign(body_text.as_bytes()).to_bytes()
    };
    // Hand-assembled so the signed text appears byte for byte in the answer, as Alipay's does.
    let text = format!(r#"{{"{method_key}":{body_text},"sign":"{}"}}"#, STANDARD.encode(signature));
    HttpResponse::Ok().content_type("text/html;charset=utf-8").body(text)
}

fn alipay_error(shared: &Shared, code: &str, msg: &str, sub_code: &str, sub_msg: &str) -> HttpResponse {
    alipay_answer(
        shared,
        "error_response",
        json!({ "code": code, "msg": msg, "sub_code": sub_code, "sub_msg": sub_msg }),
    )
}

async fn alipay_gateway(shared: web::Data<Shared>, form: web::Form<BTreeMap<String, String>>) -> HttpResponse {
    count(&shared, "gateway");
    let params = form.into_inner();
    let get = |k: &str| params.get(k).cloned().unwrap_or_default();
    let app_key = shared.state().alipay_apps.get(&get("app_id")).cloned();
    let Some(app_key) = app_key else {
        return alipay_error(&shared, "40002", "Invalid Arguments", "isv.invalid-app-id", "无效的AppID参数");
    };
    let verified =
        STANDARD.decode(get("sign")).ok().and_then(|bytes| Signature::try_from(bytes.as_slice()).ok()).is_some_and(
            |sig| VerifyingKey::<Sha256>::new(app_key).verify(sign_content(&params).as_bytes(), &sig).is_ok(),
        );
    if !verified || get("sign_type") != "RSA2" {
        return alipay_error(&shared, "40002", "Invalid Arguments", "isv.invalid-signature", "验签出错");
    }
    match get("method").as_str() {
        "alipay.system.oauth.token" => {
            if get("grant_type") != "authorization_code" {
                return alipay_error(&shared, "40002", "Invalid Arguments", "isv.grant-type-invalid", "grant_type无效");
            }
            let code = shared.state().alipay_codes.remove(&get("code"));
            match code {
                Some((app_id, open_id)) if app_id == get("app_id") => alipay_answer(
                    &shared,
                    "alipay_system_oauth_token_response",
                    json!({
                        "open_id": open_id,
                        "access_token": format!("authusrB{}", random_token(24)),
                        "expires_in": 1296000,
                        "refresh_token": format!("authusrB{}", random_token(24)),
                        "re_expires_in": 2592000,
                        "auth_start": chrono::Utc::now().format("%Y-%m-%d %H:%M:%S").to_string(),
                    }),
                ),
                _ => alipay_error(&shared, "40002", "Invalid Arguments", "isv.code-invalid", "授权码code无效"),
            }
        }
        _ => alipay_error(&shared, "40004", "Business Failed", "isv.invalid-method", "不存在的方法名"),
    }
}
