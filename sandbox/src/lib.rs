//! Local stand-ins for the outside world: the WeChat mini-program server API, WeChat Pay API v3, the Alipay
//! gateway (login and trade APIs), and Aliyun / Tencent Cloud SMS.
//!
//! They speak the real wire protocols (paths, parameters, JSON and form shapes, HTTP statuses, error codes, RSA2 /
//! SHA256withRSA signatures both ways, AES-256-GCM encrypted callback resources) with real keys, so our clients are
//! exercised exactly as against the real hosts. Tests and the embedded default point `wechat.api_base`, the WeChat
//! Pay base URL and `alipay.gateway` here.
//!
//! - [`mini`]: `jscode2session`, `stable_token`, `getuserphonenumber`, subscribe messages (`subscribe/send`, with
//!   one-time subscriptions granted by tests and WeChat's field rules checked).
//! - [`wechatpay`]: `/v3/…` for a direct merchant (JSAPI prepay, payment code, query, close, reverse, refunds,
//!   certificates, trade bill), every request's `Authorization` checked against the merchant's key, every answer
//!   signed with the platform key. [`wechatpay::v2`]: the v2 XML payment-code API (`/pay/micropay`,
//!   `/pay/orderquery`, `/secapi/pay/reverse`, MD5 / HMAC-SHA256 signed with the APIv2 key) over the same orders.
//! - [`alipay`] and [`alipay_trade`]: `gateway.do` (`alipay.system.oauth.token`, `alipay.trade.*`, bill URL),
//!   request signatures checked with the app's public key, answers signed with Alipay's platform key.
//! - [`notify`]: the signed callbacks (WeChat Pay JSON with an encrypted resource, Alipay signed forms), retried on a
//!   compressed schedule, optionally duplicated, delayed or held back.
//! - [`sms`]: Aliyun SMS (`SendSms`, `QuerySendDetails`, RPC signature v1, receipts and replies pushed over HTTP)
//!   and Tencent Cloud SMS (`SendSms`, the status and reply pulls, TC3-HMAC-SHA256), with approved signs and
//!   templates per account, scripted failures, throttling and late answers.
//! - [`printer`]: a LAN receipt printer (TCP 9100) that records what it prints and answers status queries, and a
//!   decoder from ESC/POS back to readable lines.
//! - [`control`] and [`page`]: acting as the payer, from tests (`pay`, `decline`, scripted payment codes) or from a
//!   browser (`GET /sandbox`).
//!
//! Deliberately independent of `service`: a bug in our signing must not be mirrored by the fake. The protocol facts
//! come from shared/docs/PROTOCOLS.md and the public SDKs and docs it cites; each module names its sources.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpServer, web};
use rsa::RsaPublicKey;
use rsa::pkcs8::DecodePublicKey;

pub mod alipay;
pub mod alipay_trade;
mod bills;
pub mod control;
mod keys;
pub mod mini;
pub mod notify;
pub mod page;
pub mod printer;
pub mod sms;
mod util;
pub mod wechatpay;

pub use control::{CodeBehaviour, OrderSummary};
pub use keys::{
    ALIPAY_PLATFORM_PRIVATE_KEY, ALIPAY_PLATFORM_PUBLIC_KEY, ALIPAY_SANDBOX_SELLER_ID, APP_TEST_PRIVATE_KEY,
    APP_TEST_PUBLIC_KEY, WECHATPAY_MERCHANT_PRIVATE_KEY, WECHATPAY_MERCHANT_PUBLIC_KEY, WECHATPAY_MERCHANT_SERIAL,
    WECHATPAY_PLATFORM_CERT, WECHATPAY_PLATFORM_CERT_EFFECTIVE_TIME, WECHATPAY_PLATFORM_CERT_EXPIRE_TIME,
    WECHATPAY_PLATFORM_CERT_SERIAL, WECHATPAY_PLATFORM_PRIVATE_KEY, WECHATPAY_PLATFORM_PUBLIC_KEY,
    WECHATPAY_PUBLIC_KEY_ID,
};
pub use mini::SentSubscribeMessage;
pub use notify::{Delivery, DeliveryAttempt, Notification, Provider};
pub use sms::{SentSms, SmsProvider};
pub use wechatpay::SerialMode;
pub use wechatpay::v2::wechatpay_v2_sign;

#[derive(Default)]
pub(crate) struct State {
    /// appid → AppSecret of the mini-programs WeChat knows.
    wechat_apps: HashMap<String, String>,
    /// Single-use `wx.login` codes → (appid, openid, unionid).
    login_codes: HashMap<String, (String, String, Option<String>)>,
    /// Single-use `getPhoneNumber` codes → (appid, phone).
    phone_codes: HashMap<String, (String, String)>,
    /// Live access tokens → appid.
    access_tokens: HashMap<String, String>,
    /// One-time subscribe-message grants and the messages sent.
    subscribe: mini::Subscriptions,
    /// Alipay app id → the app's public key (to verify requests).
    alipay_apps: HashMap<String, RsaPublicKey>,
    /// Single-use auth codes → (app id, open_id).
    alipay_codes: HashMap<String, (String, String)>,
    /// When set, the next gateway answer is signed with a key Alipay doesn't own (a forged response).
    forge_next_alipay_response: bool,
    /// Counts calls per endpoint, for tests that check caching.
    calls: HashMap<&'static str, u32>,
    /// WeChat Pay merchants, orders, refunds, payment codes, bills.
    wechatpay: wechatpay::Book,
    /// Alipay trades, payment codes, sellers, bills.
    alipay: alipay_trade::Book,
    /// Notifications and every delivery attempt.
    notify: notify::Log,
    /// SMS accounts, messages, receipts and replies (Aliyun and Tencent).
    sms: sms::Book,
}

pub(crate) struct Shared {
    state: Mutex<State>,
    keys: keys::Keys,
    /// The runtime `start` was called on: background work (refund completion, notification delivery) runs there.
    rt: tokio::runtime::Handle,
    /// Client for outgoing notifications.
    http: reqwest::Client,
    /// Notification deliveries still running (for `wait_for_notifications`).
    in_flight: AtomicUsize,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub(crate) fn count(shared: &Shared, endpoint: &'static str) {
    *shared.state().calls.entry(endpoint).or_default() += 1;
}

/// A running fake; dropping it does not stop it, `stop()` does.
pub struct FakeProviders {
    shared: Arc<Shared>,
    handle: ServerHandle,
    port: u16,
}

impl FakeProviders {
    /// Starts on 127.0.0.1 with a free port. Must be called inside a Tokio runtime.
    pub fn start() -> std::io::Result<Self> {
        Self::start_on("127.0.0.1:0")
    }

    /// Starts on the given address (e.g. `127.0.0.1:8081`; port 0 picks a free one). Must be called inside a Tokio
    /// runtime, which then also runs the fake's background work (refund completion, notification delivery).
    pub fn start_on(addr: &str) -> std::io::Result<Self> {
        let rt = tokio::runtime::Handle::try_current()
            .map_err(|_| std::io::Error::other("FakeProviders must be started inside a Tokio runtime"))?;
        let keys = keys::Keys::load().map_err(std::io::Error::other)?;
        // Notify URLs are local listeners: never route them through a proxy from the environment.
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| std::io::Error::other(format!("notification client: {e}")))?;
        let shared =
            Arc::new(Shared { state: Mutex::new(State::default()), keys, rt, http, in_flight: AtomicUsize::new(0) });
        let listener = TcpListener::bind(addr)?;
        let port = listener.local_addr()?.port();
        let data = web::Data::from(shared.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                // WeChat mini-program server API
                .route("/sns/jscode2session", web::get().to(mini::jscode2session))
                .route("/cgi-bin/stable_token", web::post().to(mini::stable_token))
                .route("/wxa/business/getuserphonenumber", web::post().to(mini::get_phone_number))
                .route("/cgi-bin/message/subscribe/send", web::post().to(mini::send_subscribe_message))
                // WeChat Pay API v3
                .route("/v3/pay/transactions/jsapi", web::post().to(wechatpay::jsapi))
                .route("/v3/pay/transactions/codepay", web::post().to(wechatpay::codepay))
                .route(
                    "/v3/pay/transactions/out-trade-no/{out_trade_no}",
                    web::get().to(wechatpay::query_by_out_trade_no),
                )
                .route("/v3/pay/transactions/out-trade-no/{out_trade_no}/close", web::post().to(wechatpay::close))
                .route("/v3/pay/transactions/out-trade-no/{out_trade_no}/reverse", web::post().to(wechatpay::reverse))
                .route("/v3/pay/transactions/id/{transaction_id}", web::get().to(wechatpay::query_by_transaction_id))
                .route("/v3/refund/domestic/refunds", web::post().to(wechatpay::refunds))
                .route("/v3/refund/domestic/refunds/{out_refund_no}", web::get().to(wechatpay::refund_query))
                .route("/v3/certificates", web::get().to(wechatpay::certificates))
                .route("/v3/bill/tradebill", web::get().to(wechatpay::tradebill))
                .route("/v3/billdownload/file", web::get().to(wechatpay::billdownload))
                // WeChat Pay API v2, payment code only (XML)
                .route("/pay/micropay", web::post().to(wechatpay::v2::micropay))
                .route("/pay/orderquery", web::post().to(wechatpay::v2::orderquery))
                .route("/secapi/pay/reverse", web::post().to(wechatpay::v2::reverse))
                // Alipay gateway and bill files
                .route("/gateway.do", web::post().to(alipay::gateway))
                .route("/downloadBillFile.resource", web::get().to(alipay::bill_download))
                // Aliyun SMS (RPC: GET or POST) and Tencent Cloud SMS (API 3.0)
                .route("/dysmsapi/", web::route().to(sms::aliyun::rpc))
                .route("/dysmsapi", web::route().to(sms::aliyun::rpc))
                .route("/tencent-sms/", web::post().to(sms::tencent::api))
                .route("/tencent-sms", web::post().to(sms::tencent::api))
                // Acting as the payer
                .route("/sandbox", web::get().to(page::page))
                .route("/sandbox/orders", web::get().to(page::orders))
                .route("/sandbox/codes", web::post().to(page::make_code))
                .route("/sandbox/{provider}/{out_trade_no}/{action}", web::post().to(page::act))
                .default_service(web::to(wechatpay::not_found))
        })
        .workers(1)
        // A client that hangs up mid-request aborts it (actix drops the handler future) instead of the handler
        // running on for a half-closed connection: a send abandoned during `set_subscribe_delay` then never happens.
        // Every other handler decides without awaiting, so only that one can notice.
        .h1_allow_half_closed(false)
        .disable_signals()
        .listen(listener)?
        .run();
        let handle = server.handle();
        shared.rt.spawn(server);
        Ok(Self { shared, handle, port })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Stands in for `https://api.weixin.qq.com`.
    pub fn wechat_base(&self) -> String {
        self.base_url()
    }

    /// Stands in for `https://api.mch.weixin.qq.com` (clients append `/v3/…`).
    pub fn wechatpay_base(&self) -> String {
        self.base_url()
    }

    pub fn alipay_gateway(&self) -> String {
        format!("{}/gateway.do", self.base_url())
    }

    // ---- mini-program login -------------------------------------------------------------------------------

    pub fn register_wechat_app(&self, appid: &str, secret: &str) {
        self.shared.state().wechat_apps.insert(appid.to_owned(), secret.to_owned());
    }

    /// What `wx.login` would hand the mini-program of `appid` for this user.
    pub fn wechat_login_code(&self, appid: &str, openid: &str, unionid: Option<&str>) -> String {
        let code = util::random_token(32);
        self.shared
            .state()
            .login_codes
            .insert(code.clone(), (appid.to_owned(), openid.to_owned(), unionid.map(str::to_owned)));
        code
    }

    /// What a `getPhoneNumber` button tap would hand the mini-program.
    pub fn wechat_phone_code(&self, appid: &str, phone: &str) -> String {
        let code = util::random_token(32);
        self.shared.state().phone_codes.insert(code.clone(), (appid.to_owned(), phone.to_owned()));
        code
    }

    /// Makes every access token issued so far invalid (as a `force_refresh` elsewhere would).
    pub fn invalidate_access_tokens(&self) {
        self.shared.state().access_tokens.clear();
    }

    // ---- subscribe messages -------------------------------------------------------------------------------

    /// The member `openid` of `appid` accepts one more message of `template_id`, as a tap on "允许" in
    /// `wx.requestSubscribeMessage` grants (one-time subscriptions add up; each message sent uses one).
    pub fn grant_subscription(&self, appid: &str, openid: &str, template_id: &str) {
        let grant = (appid.to_owned(), openid.to_owned(), template_id.to_owned());
        *self.shared.state().subscribe.grants.entry(grant).or_default() += 1;
    }

    /// How long `subscribe/send` waits before deciding (default: not at all). A client that gives up meanwhile
    /// leaves nothing recorded and no subscription used.
    pub fn set_subscribe_delay(&self, delay: Duration) {
        self.shared.state().subscribe.delay = delay;
    }

    /// Every subscribe message WeChat accepted, oldest first.
    pub fn subscribe_messages(&self) -> Vec<SentSubscribeMessage> {
        self.shared.state().subscribe.sent.clone()
    }

    pub fn register_alipay_app(&self, app_id: &str, app_public_key_pem: &str) -> Result<(), String> {
        let key = RsaPublicKey::from_public_key_pem(app_public_key_pem).map_err(|e| e.to_string())?;
        self.shared.state().alipay_apps.insert(app_id.to_owned(), key);
        Ok(())
    }

    /// The seller (`2088…` PID) an app's trades are paid to (`seller_id` in notifications, the bill's account).
    /// Defaults to [`ALIPAY_SANDBOX_SELLER_ID`].
    pub fn set_alipay_seller_id(&self, app_id: &str, seller_id: &str) {
        self.shared.state().alipay.sellers.insert(app_id.to_owned(), seller_id.to_owned());
    }

    /// What `my.getAuthCode` would hand the mini-program of `app_id` for this user.
    pub fn alipay_auth_code(&self, app_id: &str, open_id: &str) -> String {
        let code = util::random_token(32);
        self.shared.state().alipay_codes.insert(code.clone(), (app_id.to_owned(), open_id.to_owned()));
        code
    }

    /// The next gateway answer is signed with a key that is not Alipay's.
    pub fn forge_next_alipay_response(&self) {
        self.shared.state().forge_next_alipay_response = true;
    }

    /// How often an endpoint was called: `jscode2session`, `stable_token`, `getuserphonenumber`, `subscribe_send`,
    /// `gateway`, `pay/micropay`, `pay/orderquery`, `secapi/pay/reverse`, `dysmsapi`, `tencent_sms`.
    pub fn calls(&self, endpoint: &'static str) -> u32 {
        self.shared.state().calls.get(endpoint).copied().unwrap_or(0)
    }

    // ---- WeChat Pay ---------------------------------------------------------------------------------------

    /// Lets `mchid` call `/v3/…` with the merchant API key whose certificate serial is `merchant_serial` (call again
    /// with another serial to add a key, as during a rotation). `apiv3_key` (32 bytes) encrypts notification
    /// resources and the certificate download.
    pub fn register_wechatpay_merchant(
        &self,
        mchid: &str,
        merchant_serial: &str,
        merchant_public_key_pem: &str,
        apiv3_key: &str,
    ) -> Result<(), String> {
        let key = RsaPublicKey::from_public_key_pem(merchant_public_key_pem).map_err(|e| e.to_string())?;
        if apiv3_key.len() != 32 {
            return Err("the APIv3 key must be 32 bytes".into());
        }
        self.shared.state().wechatpay.register(mchid, merchant_serial, key, apiv3_key);
        Ok(())
    }

    /// Lets `mchid` call the v2 payment-code API (`/pay/micropay`, `/pay/orderquery`, `/secapi/pay/reverse`)
    /// with this APIv2 key (32 letters and digits; calling again replaces it). Independent of the v3 registration,
    /// but the orders are shared: register both to query or bill v2 orders through `/v3`.
    pub fn set_wechatpay_v2_key(&self, mchid: &str, key: &str) -> Result<(), String> {
        wechatpay::v2::check_v2_key(key)?;
        self.shared.state().wechatpay.set_v2_key(mchid, key);
        Ok(())
    }

    /// Which `Wechatpay-Serial` answers and notifications carry (same key either way). Default: public-key id.
    pub fn set_wechatpay_serial_mode(&self, mode: SerialMode) {
        self.shared.state().wechatpay.serial_mode = mode;
    }

    /// The trade-bill row of `out_trade_no` states its amounts as something that is not yuan (a damaged bill).
    pub fn garble_bill_row(&self, out_trade_no: &str) {
        self.shared.state().wechatpay.garbled_bill_rows.insert(out_trade_no.to_owned());
    }

    /// The next `/v3` answer is signed with a key that is not WeChat Pay's.
    pub fn forge_next_wechatpay_response(&self) {
        self.shared.state().wechatpay.forge_next = true;
    }

    /// How long a refund stays PROCESSING before it succeeds (default 50 ms).
    pub fn set_refund_delay(&self, delay: Duration) {
        self.shared.state().wechatpay.refund_delay = delay;
    }

    /// How REFUND.SUCCESS notifications of refunds created from now on are delivered.
    pub fn set_refund_delivery(&self, delivery: Delivery) {
        self.shared.state().wechatpay.refund_delivery = delivery;
    }

    /// SHA256withRSA of `message` with WeChat Pay's platform key, Base64.
    pub fn wechatpay_sign(&self, message: &str) -> String {
        util::rsa_sign(&self.shared.keys.wechatpay, message.as_bytes())
    }

    /// A correctly signed and encrypted WeChat Pay notification for `mchid` (its APIv3 key encrypts the resource),
    /// as `(headers, body)`, without sending it: tests tamper with copies (signature, serial, timestamp, ciphertext)
    /// and post them to our endpoint themselves.
    pub fn wechatpay_notification(
        &self,
        mchid: &str,
        event_type: &str,
        resource_plaintext_json: &str,
    ) -> Result<(Vec<(String, String)>, String), String> {
        let apiv3 = self
            .shared
            .state()
            .wechatpay
            .apiv3_key(mchid)
            .map(str::to_owned)
            .ok_or_else(|| format!("merchant {mchid} is not registered"))?;
        let (_, body) = wechatpay::notification_body(event_type, resource_plaintext_json, &apiv3)?;
        let mut headers: Vec<(String, String)> = wechatpay::signature_headers(&self.shared, &body, false)
            .into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .collect();
        headers.push(("Content-Type".into(), "application/json".into()));
        Ok((headers, body))
    }

    // ---- Alipay -------------------------------------------------------------------------------------------

    /// Signs an async-notification form as Alipay would (RSA2 over the sorted fields without `sign` and
    /// `sign_type`); adds `app_id` if missing, then `sign` and `sign_type`.
    pub fn alipay_notification_form(&self, app_id: &str, fields: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut all: Vec<(String, String)> = fields.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        if !all.iter().any(|(k, _)| k == "app_id") {
            all.push(("app_id".into(), app_id.to_owned()));
        }
        alipay_trade::sign_notify_form(&self.shared.keys.alipay, all)
    }

    // ---- acting as the payer ------------------------------------------------------------------------------

    /// The payer pays `out_trade_no` (a JSAPI order / `alipay.trade.create` trade, or a payment-code order waiting
    /// for the password); the provider then notifies the order's notify URL as `delivery` says.
    pub fn pay(&self, provider: Provider, out_trade_no: &str, delivery: Delivery) -> Result<(), String> {
        control::pay(&self.shared, provider, out_trade_no, delivery)
    }

    /// The payer backs out. WeChat Pay: a JSAPI order stays NOTPAY (and leaves the pending list), a payment-code
    /// order becomes PAYERROR. Alipay: the trade closes. No notification either way, as the providers do.
    pub fn decline(&self, provider: Provider, out_trade_no: &str) -> Result<(), String> {
        control::decline(&self.shared, provider, out_trade_no)
    }

    /// A fresh, single-use WeChat payment code (18 digits, `10`–`15`…) that behaves as scripted when scanned.
    pub fn wechat_payment_code(&self, behaviour: CodeBehaviour) -> String {
        control::new_wechat_code(&self.shared, behaviour)
    }

    /// A fresh, single-use Alipay payment code (`28` and 16 digits) that behaves as scripted when scanned.
    pub fn alipay_payment_code(&self, behaviour: CodeBehaviour) -> String {
        control::new_alipay_code(&self.shared, behaviour)
    }

    /// Every WeChat Pay order and Alipay trade, oldest first.
    pub fn orders(&self) -> Vec<OrderSummary> {
        control::orders(&self.shared)
    }

    // ---- notifications ------------------------------------------------------------------------------------

    /// Every notification the fakes decided to send, in order.
    pub fn notifications(&self) -> Vec<Notification> {
        self.shared.state().notify.notifications.clone()
    }

    /// Every delivery attempt with the receiver's HTTP status, in order.
    pub fn deliveries(&self) -> Vec<DeliveryAttempt> {
        self.shared.state().notify.attempts.clone()
    }

    /// Sends the held notifications now, in the order they were held; returns how many.
    pub fn release_held(&self) -> usize {
        notify::release_held(&self.shared)
    }

    /// The compressed retry schedule: first retry after `base`, doubling, at most `max_attempts` tries in all
    /// (defaults: 200 ms, 8).
    pub fn set_notify_retry(&self, base: Duration, max_attempts: u32) {
        let mut state = self.shared.state();
        state.notify.retry_base = base;
        state.notify.max_attempts = max_attempts.max(1);
    }

    /// Waits until no notification is being delivered (held ones don't count); `false` on timeout.
    pub async fn wait_for_notifications(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if self.shared.in_flight.load(Ordering::SeqCst) == 0 {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }
}
