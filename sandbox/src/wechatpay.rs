//! WeChat Pay API v3 for a direct (普通) merchant: JSAPI/mini-program prepay, payment-code (付款码) pay and
//! reverse, query, close, refunds, the platform-certificate download, the trade bill, and the signed, encrypted
//! TRANSACTION.SUCCESS / REFUND.SUCCESS notifications.
//!
//! Sources (see shared/docs/PROTOCOLS.md §A for the citations): request signing and the `Authorization` header per
//! wechatpay-go (`METHOD\nPATH?QUERY\nTS\nNONCE\nBODY\n`, SHA256withRSA, 401 SIGN_ERROR on failure); answer and
//! callback signing per the official verify page (`TS\nNONCE\nBODY\n`, empty body for 204, `Wechatpay-*`
//! headers, the serial being a `PUB_KEY_ID_…` or a platform-certificate serial); endpoint shapes per
//! TheNorthMemory/wechatpay.js.org (openapi/v3/pay/transactions/{jsapi,codepay}.md, …/out-trade-no/*/{close,
//! reverse}.md, refund/domestic/refunds.md, bill/tradebill.md, billdownload/file.md, webhook/v3/*.md); HTTP
//! statuses and error codes per the APIv3 error tables (202 USERPAYING, 400 PARAM_ERROR / INVALID_REQUEST /
//! ORDER_CLOSED, 401 SIGN_ERROR, 403 NOT_ENOUGH / TRADE_ERROR, 404 ORDER_NOT_EXIST / RESOURCE_NOT_EXISTS).
//!
//! Every answer, errors and 204s included, is signed with the platform key, like the real service. Amounts are
//! integer fen everywhere except in the downloaded bill (yuan).
//!
//! [`v2`] adds the v2 XML payment-code API over the same orders and payment codes: `charge_code` and `revoke` are
//! the one place a code is charged and an order reversed, whichever API asks.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, FixedOffset, NaiveDate};
use rsa::RsaPublicKey;
use serde_json::{Value, json};

use crate::control::{CodeBehaviour, PaymentCode};
use crate::keys::{
    WECHATPAY_PLATFORM_CERT, WECHATPAY_PLATFORM_CERT_EFFECTIVE_TIME, WECHATPAY_PLATFORM_CERT_EXPIRE_TIME,
    WECHATPAY_PLATFORM_CERT_SERIAL, WECHATPAY_PUBLIC_KEY_ID,
};
use crate::notify::{self, Delivery, Outgoing, Payload, Provider};
use crate::util::{aes_gcm_encrypt, now_china, random_digits, random_hex, random_token, rfc3339, rsa_sign, rsa_verify};
use crate::{Shared, bills};

pub mod v2;

/// Which `Wechatpay-Serial` the fake presents. The key is the same either way, so a client configured for both
/// verification modes (as during WeChat's migration to public keys) works in both.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SerialMode {
    /// `PUB_KEY_ID_…`: the "WeChat Pay public key" mode new merchants get.
    #[default]
    PublicKeyId,
    /// The hex serial of the platform certificate served by `GET /v3/certificates`.
    PlatformCert,
}

pub(crate) struct Merchant {
    /// Merchant API certificate serial → its public key (several while a merchant rotates keys).
    keys: HashMap<String, RsaPublicKey>,
    apiv3_key: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TradeState {
    NotPay,
    UserPaying,
    Success,
    Refund,
    Closed,
    Revoked,
    PayError,
}

impl TradeState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::NotPay => "NOTPAY",
            Self::UserPaying => "USERPAYING",
            Self::Success => "SUCCESS",
            Self::Refund => "REFUND",
            Self::Closed => "CLOSED",
            Self::Revoked => "REVOKED",
            Self::PayError => "PAYERROR",
        }
    }

    fn desc(self) -> &'static str {
        match self {
            Self::NotPay => "订单未支付",
            Self::UserPaying => "用户支付中，需输入密码",
            Self::Success => "支付成功",
            Self::Refund => "转入退款",
            Self::Closed => "已关闭",
            Self::Revoked => "已撤销",
            Self::PayError => "支付失败，请重新下单支付",
        }
    }

    fn paid(self) -> bool {
        matches!(self, Self::Success | Self::Refund)
    }
}

pub(crate) struct Order {
    pub(crate) mchid: String,
    pub(crate) appid: String,
    pub(crate) out_trade_no: String,
    pub(crate) description: String,
    pub(crate) attach: Option<String>,
    pub(crate) notify_url: Option<String>,
    time_expire: Option<DateTime<FixedOffset>>,
    pub(crate) total: i64,
    pub(crate) openid: Option<String>,
    /// `JSAPI` (prepay) or `MICROPAY` (payment code).
    pub(crate) trade_type: &'static str,
    pub(crate) state: TradeState,
    prepay_id: Option<String>,
    pub(crate) transaction_id: Option<String>,
    pub(crate) success_time: Option<DateTime<FixedOffset>>,
    pub(crate) created: DateTime<FixedOffset>,
    pub(crate) device_id: Option<String>,
    /// The request's business content, to tell an idempotent retry from a reused `out_trade_no`.
    fingerprint: String,
    /// For USERPAYING: the query on which the user finishes paying (`None`: never).
    pays_on_query: Option<u32>,
    /// Declined from the control API while NOTPAY: still NOTPAY to the API, gone from the pending list.
    pub(crate) declined: bool,
}

impl Order {
    fn refundable(&self, refunds: &[Refund]) -> i64 {
        let refunded: i64 = refunds
            .iter()
            .filter(|r| r.mchid == self.mchid && r.out_trade_no == self.out_trade_no && r.status != "CLOSED")
            .map(|r| r.refund)
            .sum();
        self.total - refunded
    }
}

pub(crate) struct Refund {
    pub(crate) mchid: String,
    pub(crate) refund_id: String,
    pub(crate) out_refund_no: String,
    pub(crate) transaction_id: String,
    pub(crate) out_trade_no: String,
    notify_url: Option<String>,
    funds_account: Option<String>,
    pub(crate) total: i64,
    pub(crate) refund: i64,
    pub(crate) status: &'static str,
    pub(crate) create_time: DateTime<FixedOffset>,
    pub(crate) success_time: Option<DateTime<FixedOffset>>,
    /// Made by a reverse (撤销) of a paid order rather than by the refund API: not visible to refund queries.
    internal: bool,
}

pub(crate) struct BillFile {
    mchid: String,
    data: Vec<u8>,
}

pub(crate) struct Book {
    merchants: HashMap<String, Merchant>,
    pub(crate) orders: Vec<Order>,
    pub(crate) refunds: Vec<Refund>,
    pub(crate) codes: HashMap<String, PaymentCode>,
    bills: HashMap<String, BillFile>,
    /// mchid → APIv2 key (the v2 XML payment-code API signs with it).
    v2_keys: HashMap<String, String>,
    pub(crate) serial_mode: SerialMode,
    pub(crate) forge_next: bool,
    pub(crate) refund_delay: Duration,
    pub(crate) refund_delivery: Delivery,
    /// Orders whose trade-bill row carries amounts that are not yuan, as a damaged bill would.
    pub(crate) garbled_bill_rows: std::collections::HashSet<String>,
}

impl Default for Book {
    fn default() -> Self {
        Self {
            merchants: HashMap::new(),
            orders: Vec::new(),
            refunds: Vec::new(),
            codes: HashMap::new(),
            bills: HashMap::new(),
            v2_keys: HashMap::new(),
            serial_mode: SerialMode::default(),
            forge_next: false,
            refund_delay: Duration::from_millis(50),
            refund_delivery: Delivery::default(),
            garbled_bill_rows: std::collections::HashSet::new(),
        }
    }
}

impl Book {
    pub(crate) fn register(&mut self, mchid: &str, serial: &str, key: RsaPublicKey, apiv3_key: &str) {
        let merchant = self
            .merchants
            .entry(mchid.to_owned())
            .or_insert_with(|| Merchant { keys: HashMap::new(), apiv3_key: apiv3_key.to_owned() });
        merchant.apiv3_key = apiv3_key.to_owned();
        merchant.keys.insert(serial.to_owned(), key);
    }

    pub(crate) fn apiv3_key(&self, mchid: &str) -> Option<&str> {
        self.merchants.get(mchid).map(|m| m.apiv3_key.as_str())
    }

    fn order_index(&self, mchid: &str, out_trade_no: &str) -> Option<usize> {
        self.orders.iter().position(|o| o.mchid == mchid && o.out_trade_no == out_trade_no)
    }
}

/// A handler's result before signing.
struct Answer {
    status: StatusCode,
    body: Option<String>,
}

impl Answer {
    fn ok(body: Value) -> Self {
        Self { status: StatusCode::OK, body: Some(body.to_string()) }
    }

    fn no_content() -> Self {
        Self { status: StatusCode::NO_CONTENT, body: None }
    }
}

struct WxError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

fn err(status: u16, code: &'static str, message: impl Into<String>) -> WxError {
    WxError { status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST), code, message: message.into() }
}

fn sign_error(message: &str) -> WxError {
    err(401, "SIGN_ERROR", message)
}

type Outcome = Result<Answer, WxError>;
type Logic = fn(&Arc<Shared>, &str, &HttpRequest, &[u8]) -> Outcome;

/// The `Wechatpay-*` headers for a body: fresh timestamp and nonce, SHA256withRSA over `TS\nNONCE\nBODY\n`.
/// `forge` signs with a key WeChat Pay doesn't own. Must not be called with the state lock held.
pub(crate) fn signature_headers(shared: &Shared, body: &str, forge: bool) -> Vec<(&'static str, String)> {
    let mode = shared.state().wechatpay.serial_mode;
    let timestamp = chrono::Utc::now().timestamp().to_string();
    let nonce = random_hex(32);
    let key = if forge { &shared.keys.forger } else { &shared.keys.wechatpay };
    let signature = rsa_sign(key, format!("{timestamp}\n{nonce}\n{body}\n").as_bytes());
    let serial = match mode {
        SerialMode::PublicKeyId => WECHATPAY_PUBLIC_KEY_ID,
        SerialMode::PlatformCert => WECHATPAY_PLATFORM_CERT_SERIAL,
    };
    vec![
        ("Wechatpay-Nonce", nonce),
        ("Wechatpay-Signature", signature),
        ("Wechatpay-Timestamp", timestamp),
        ("Wechatpay-Serial", serial.to_owned()),
        ("Wechatpay-Signature-Type", "WECHATPAY2-SHA256-RSA2048".to_owned()),
        ("Request-ID", request_id()),
    ]
}

fn request_id() -> String {
    format!("{}-0", random_hex(40).to_uppercase())
}

fn respond(shared: &Shared, outcome: Outcome) -> HttpResponse {
    let (status, body) = match outcome {
        Ok(answer) => (answer.status, answer.body),
        Err(e) => (e.status, Some(json!({ "code": e.code, "message": e.message }).to_string())),
    };
    let forge = std::mem::take(&mut shared.state().wechatpay.forge_next);
    let text = body.clone().unwrap_or_default();
    let mut builder = HttpResponse::build(status);
    for header in signature_headers(shared, &text, forge) {
        builder.insert_header(header);
    }
    match body {
        Some(body) => builder.content_type("application/json; charset=utf-8").body(body),
        None => builder.finish(),
    }
}

/// Runs a /v3 handler: authenticate, act, sign the answer.
fn serve(shared: web::Data<Shared>, req: &HttpRequest, body: &[u8], logic: Logic) -> HttpResponse {
    let shared = shared.into_inner();
    let outcome = authenticate(&shared, req, body).and_then(|mchid| logic(&shared, &mchid, req, body));
    respond(&shared, outcome)
}

/// Checks `Authorization: WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",timestamp="…",serial_no="…",
/// signature="…"` (any parameter order) against the registered merchant key; returns the mchid.
fn authenticate(shared: &Shared, req: &HttpRequest, body: &[u8]) -> Result<String, WxError> {
    let header = req
        .headers()
        .get("Authorization")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| sign_error("Authorization头缺失"))?;
    let params = header
        .strip_prefix("WECHATPAY2-SHA256-RSA2048 ")
        .ok_or_else(|| sign_error("错误的签名认证类型，应为WECHATPAY2-SHA256-RSA2048"))?;
    let mut fields: HashMap<&str, &str> = HashMap::new();
    for part in params.split(',') {
        let (key, value) = part.trim().split_once('=').ok_or_else(|| sign_error("Authorization格式错误"))?;
        let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
        fields.insert(key.trim(), value);
    }
    let field = |name: &str| fields.get(name).copied().ok_or_else(|| sign_error(&format!("Authorization中缺少{name}")));
    let (mchid, nonce, timestamp, serial, signature) =
        (field("mchid")?, field("nonce_str")?, field("timestamp")?, field("serial_no")?, field("signature")?);
    let ts: i64 = timestamp.parse().map_err(|_| sign_error("timestamp格式错误"))?;
    if (chrono::Utc::now().timestamp() - ts).abs() > 300 {
        return Err(sign_error("请求的时间戳已过期，请检查系统时间"));
    }
    let key = {
        let state = shared.state();
        let merchant = state.wechatpay.merchants.get(mchid).ok_or_else(|| sign_error("商户号不存在或未配置API证书"))?;
        merchant.keys.get(serial).cloned().ok_or_else(|| sign_error("商户证书序列号有误"))?
    };
    let target = req.uri().path_and_query().map_or_else(|| req.uri().path(), |pq| pq.as_str());
    let mut message = format!("{}\n{target}\n{timestamp}\n{nonce}\n", req.method().as_str()).into_bytes();
    message.extend_from_slice(body);
    message.push(b'\n');
    if !rsa_verify(&key, &message, signature) {
        return Err(sign_error("签名错误，请检查后再试"));
    }
    Ok(mchid.to_owned())
}

fn parse_json(body: &[u8]) -> Result<Value, WxError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| err(400, "PARAM_ERROR", format!("请求JSON格式错误: {e}")))?;
    if value.is_object() { Ok(value) } else { Err(err(400, "PARAM_ERROR", "请求体应为JSON对象")) }
}

fn missing(pointer: &str) -> WxError {
    err(400, "PARAM_ERROR", format!("输入源“/body{pointer}”映射到值字段必填性规则校验失败，此字段为必填项"))
}

fn required_str(v: &Value, pointer: &str) -> Result<String, WxError> {
    match v.pointer(pointer) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(Value::String(_)) | None | Some(Value::Null) => Err(missing(pointer)),
        Some(_) => Err(err(400, "PARAM_ERROR", format!("输入源“/body{pointer}”映射到值字段类型错误，应为字符串"))),
    }
}

fn optional_str(v: &Value, pointer: &str) -> Result<Option<String>, WxError> {
    match v.pointer(pointer) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(err(400, "PARAM_ERROR", format!("输入源“/body{pointer}”映射到值字段类型错误，应为字符串"))),
    }
}

fn required_amount(v: &Value, pointer: &str) -> Result<i64, WxError> {
    match v.pointer(pointer) {
        None | Some(Value::Null) => Err(missing(pointer)),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(fen) if fen > 0 => Ok(fen),
            _ => Err(err(
                400,
                "PARAM_ERROR",
                format!("输入源“/body{pointer}”映射到值字段取值错误，应为正整数（单位：分）"),
            )),
        },
        Some(_) => Err(err(400, "PARAM_ERROR", format!("输入源“/body{pointer}”映射到值字段类型错误，应为整数"))),
    }
}

fn check_currency(v: &Value, pointer: &str, required: bool) -> Result<(), WxError> {
    match optional_str(v, pointer)? {
        None if required => Err(missing(pointer)),
        Some(c) if c != "CNY" => Err(err(400, "PARAM_ERROR", "币种仅支持CNY")),
        _ => Ok(()),
    }
}

fn check_mchid(header_mchid: &str, body_mchid: &str) -> Result<(), WxError> {
    if header_mchid == body_mchid {
        Ok(())
    } else {
        Err(err(400, "INVALID_REQUEST", "请求中的mchid与Authorization中的商户号不一致"))
    }
}

/// 6–32 characters of `[0-9A-Za-z_-|*]`, unique per merchant.
fn check_out_trade_no(no: &str) -> Result<(), WxError> {
    let ok = (6..=32).contains(&no.len()) && no.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-|*".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(err(400, "PARAM_ERROR", "商户订单号out_trade_no格式错误，要求6-32位数字、大小写字母或_-|*"))
    }
}

fn path_param(req: &HttpRequest, name: &str) -> String {
    req.match_info().get(name).unwrap_or_default().to_owned()
}

fn query_param(req: &HttpRequest, name: &str) -> Option<String> {
    web::Query::<HashMap<String, String>>::from_query(req.query_string()).ok().and_then(|q| q.get(name).cloned())
}

fn transaction_id() -> String {
    format!("420000{}{}{}", random_digits(4), now_china().format("%Y%m%d"), random_digits(10))
}

/// The Transaction object of query answers and TRANSACTION.SUCCESS notifications.
pub(crate) fn transaction_json(o: &Order) -> Value {
    let mut t = json!({
        "appid": o.appid,
        "mchid": o.mchid,
        "out_trade_no": o.out_trade_no,
        "trade_state": o.state.as_str(),
        "trade_state_desc": o.state.desc(),
        "amount": { "total": o.total, "currency": "CNY", "payer_currency": "CNY" },
    });
    if o.trade_type == "MICROPAY" || o.transaction_id.is_some() {
        t["trade_type"] = json!(o.trade_type);
    }
    if let Some(id) = &o.transaction_id {
        t["transaction_id"] = json!(id);
        t["bank_type"] = json!("OTHERS");
        t["amount"]["payer_total"] = json!(o.total);
        if let Some(at) = &o.success_time {
            t["success_time"] = json!(rfc3339(at));
        }
        if let Some(openid) = &o.openid {
            t["payer"] = json!({ "openid": openid });
        }
        // "实际情况下只有支付完成状态才会返回该字段"
        if let Some(attach) = &o.attach {
            t["attach"] = json!(attach);
        }
        t["promotion_detail"] = json!([]);
    }
    if let Some(device_id) = &o.device_id {
        t["scene_info"] = json!({ "device_id": device_id });
    }
    t
}

fn refund_json(r: &Refund) -> Value {
    let mut v = json!({
        "refund_id": r.refund_id,
        "out_refund_no": r.out_refund_no,
        "transaction_id": r.transaction_id,
        "out_trade_no": r.out_trade_no,
        "channel": "ORIGINAL",
        "user_received_account": "支付用户零钱",
        "create_time": rfc3339(&r.create_time),
        "status": r.status,
        "funds_account": r.funds_account.clone().unwrap_or_else(|| "UNSETTLED".to_owned()),
        "amount": {
            "total": r.total,
            "refund": r.refund,
            "from": [],
            "payer_total": r.total,
            "payer_refund": r.refund,
            "settlement_refund": r.refund,
            "settlement_total": r.total,
            "discount_refund": 0,
            "currency": "CNY",
            "refund_fee": 0,
        },
        "promotion_detail": [],
    });
    if let Some(at) = &r.success_time {
        v["success_time"] = json!(rfc3339(at));
    }
    v
}

/// The plaintext of a REFUND.* notification (webhook/v3/REFUND.SUCCESS.md).
fn refund_notice_json(r: &Refund) -> Value {
    let mut v = json!({
        "mchid": r.mchid,
        "transaction_id": r.transaction_id,
        "out_trade_no": r.out_trade_no,
        "refund_id": r.refund_id,
        "out_refund_no": r.out_refund_no,
        "refund_status": r.status,
        "user_received_account": "支付用户零钱",
        "amount": { "total": r.total, "refund": r.refund, "payer_total": r.total, "payer_refund": r.refund },
    });
    if let Some(at) = &r.success_time {
        v["success_time"] = json!(rfc3339(at));
    }
    v
}

/// A complete notification body: `resource` = AEAD_AES_256_GCM(APIv3 key, 12-char nonce, AAD = original type).
pub(crate) fn notification_body(
    event_type: &str,
    plaintext: &str,
    apiv3_key: &str,
) -> Result<(String, String), String> {
    let original_type = if event_type.starts_with("REFUND.") { "refund" } else { "transaction" };
    let summary = match event_type {
        "TRANSACTION.SUCCESS" => "支付成功",
        "REFUND.SUCCESS" => "退款成功",
        "REFUND.ABNORMAL" => "退款异常",
        "REFUND.CLOSED" => "退款关闭",
        _ => "通知",
    };
    let nonce = random_token(12);
    let ciphertext = aes_gcm_encrypt(apiv3_key, &nonce, original_type, plaintext.as_bytes())?;
    let id = notify::wechat_event_id();
    let body = json!({
        "id": id,
        "create_time": rfc3339(&now_china()),
        "resource_type": "encrypt-resource",
        "event_type": event_type,
        "summary": summary,
        "resource": {
            "original_type": original_type,
            "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": ciphertext,
            "associated_data": original_type,
            "nonce": nonce,
        },
    });
    Ok((id, body.to_string()))
}

/// Marks the order paid (as if the payer confirmed).
fn complete_payment(order: &mut Order, payer: Option<String>) {
    order.state = TradeState::Success;
    order.transaction_id = Some(transaction_id());
    order.success_time = Some(now_china());
    if order.openid.is_none() {
        order.openid = payer.or_else(|| Some(format!("o{}", random_token(27))));
    }
}

/// The TRANSACTION.SUCCESS notification for a just-paid order, if it asked for one.
fn payment_notification(book: &Book, index: usize) -> Result<Option<Outgoing>, String> {
    let Some(order) = book.orders.get(index) else { return Ok(None) };
    let Some(url) = order.notify_url.clone() else { return Ok(None) };
    let apiv3 = book.apiv3_key(&order.mchid).ok_or("merchant not registered")?;
    let (event_id, body) = notification_body("TRANSACTION.SUCCESS", &transaction_json(order).to_string(), apiv3)?;
    Ok(Some(Outgoing {
        provider: Provider::WechatPay,
        event_id,
        kind: "TRANSACTION.SUCCESS".into(),
        url,
        out_trade_no: order.out_trade_no.clone(),
        payload: Payload::WechatPay { body },
    }))
}

/// A USERPAYING order is queried: the scripted payer may finish now.
fn progress_user_paying(order: &mut Order) {
    if order.state != TradeState::UserPaying {
        return;
    }
    match order.pays_on_query {
        Some(n) if n <= 1 => complete_payment(order, None),
        Some(n) => order.pays_on_query = Some(n - 1),
        None => {}
    }
}

// ---- handlers -------------------------------------------------------------------------------------------------

pub(crate) async fn jsapi(shared: web::Data<Shared>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    serve(shared, &req, &body, prepay)
}

pub(crate) async fn codepay(shared: web::Data<Shared>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    serve(shared, &req, &body, pay_with_code)
}

pub(crate) async fn query_by_out_trade_no(
    shared: web::Data<Shared>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    serve(shared, &req, &body, query_out_trade_no)
}

pub(crate) async fn query_by_transaction_id(
    shared: web::Data<Shared>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    serve(shared, &req, &body, query_transaction_id)
}

pub(crate) async fn close(shared: web::Data<Shared>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    serve(shared, &req, &body, close_order)
}

pub(crate) async fn reverse(shared: web::Data<Shared>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    serve(shared, &req, &body, reverse_order)
}

pub(crate) async fn refunds(shared: web::Data<Shared>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    serve(shared, &req, &body, create_refund)
}

pub(crate) async fn refund_query(shared: web::Data<Shared>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    serve(shared, &req, &body, query_refund)
}

pub(crate) async fn certificates(shared: web::Data<Shared>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    serve(shared, &req, &body, list_certificates)
}

pub(crate) async fn tradebill(shared: web::Data<Shared>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    serve(shared, &req, &body, apply_tradebill)
}

/// `GET /v3/billdownload/file?token=…`: signed request like any other, but the answer is the raw file, unsigned.
pub(crate) async fn billdownload(shared: web::Data<Shared>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let shared = shared.into_inner();
    let mchid = match authenticate(&shared, &req, &body) {
        Ok(mchid) => mchid,
        Err(e) => return respond(&shared, Err(e)),
    };
    let token = query_param(&req, "token").unwrap_or_default();
    let file = {
        let state = shared.state();
        state.wechatpay.bills.get(&token).filter(|f| f.mchid == mchid).map(|f| f.data.clone())
    };
    match file {
        Some(data) => HttpResponse::Ok()
            .content_type("application/octet-stream")
            .insert_header(("Request-ID", request_id()))
            .body(data),
        None => respond(&shared, Err(err(400, "INVALID_REQUEST", "账单下载token无效或已过期"))),
    }
}

/// Anything else: under `/v3` a signed WeChat-style 404 (clients verify even errors), elsewhere a plain 404.
pub(crate) async fn not_found(shared: web::Data<Shared>, req: HttpRequest) -> HttpResponse {
    if req.path().starts_with("/v3/") {
        respond(&shared, Err(err(404, "NOT_FOUND", format!("沙箱未实现 {} {}", req.method(), req.path()))))
    } else {
        HttpResponse::NotFound().content_type("text/plain; charset=utf-8").body("not found")
    }
}

fn prepay(shared: &Arc<Shared>, mchid: &str, _req: &HttpRequest, body: &[u8]) -> Outcome {
    let v = parse_json(body)?;
    let appid = required_str(&v, "/appid")?;
    check_mchid(mchid, &required_str(&v, "/mchid")?)?;
    let description = required_str(&v, "/description")?;
    let out_trade_no = required_str(&v, "/out_trade_no")?;
    check_out_trade_no(&out_trade_no)?;
    let notify_url = required_str(&v, "/notify_url")?;
    if !(notify_url.starts_with("https://") || notify_url.starts_with("http://")) {
        return Err(err(400, "PARAM_ERROR", "notify_url格式错误，应为http(s)开头的完整URL"));
    }
    let total = required_amount(&v, "/amount/total")?;
    check_currency(&v, "/amount/currency", false)?;
    let openid = required_str(&v, "/payer/openid")?;
    let attach = optional_str(&v, "/attach")?;
    let time_expire = optional_str(&v, "/time_expire")?;
    let expire = match &time_expire {
        Some(t) => Some(
            DateTime::parse_from_rfc3339(t)
                .map_err(|_| err(400, "PARAM_ERROR", "time_expire格式错误，应遵循rfc3339标准格式"))?,
        ),
        None => None,
    };
    if description.chars().count() > 127 || attach.as_ref().is_some_and(|a| a.chars().count() > 128) {
        return Err(err(400, "PARAM_ERROR", "description或attach超出长度限制"));
    }
    let fingerprint = json!([appid, description, notify_url, total, openid, attach, time_expire]).to_string();

    let mut state = shared.state();
    let book = &mut state.wechatpay;
    if let Some(index) = book.order_index(mchid, &out_trade_no) {
        let order = &book.orders[index];
        if order.state.paid() {
            return Err(err(400, "ORDERPAID", "该订单已支付"));
        }
        if matches!(order.state, TradeState::Closed | TradeState::Revoked) {
            return Err(err(400, "ORDER_CLOSED", "订单已关闭"));
        }
        return match (&order.prepay_id, order.fingerprint == fingerprint) {
            (Some(prepay_id), true) => Ok(Answer::ok(json!({ "prepay_id": prepay_id }))),
            _ => Err(err(400, "INVALID_REQUEST", "201 商户订单号重复")),
        };
    }
    // `wx` + yyyyMMddHHmmss + 20 more, 36 characters like the documented examples.
    let prepay_id = format!("wx{}{}", now_china().format("%Y%m%d%H%M%S"), random_hex(20));
    book.orders.push(Order {
        mchid: mchid.to_owned(),
        appid,
        out_trade_no,
        description,
        attach,
        notify_url: Some(notify_url),
        time_expire: expire,
        total,
        openid: Some(openid),
        trade_type: "JSAPI",
        state: TradeState::NotPay,
        prepay_id: Some(prepay_id.clone()),
        transaction_id: None,
        success_time: None,
        created: now_china(),
        device_id: None,
        fingerprint,
        pays_on_query: None,
        declined: false,
    });
    Ok(Answer::ok(json!({ "prepay_id": prepay_id })))
}

/// The business content of a new payment-code order (v3 codepay or v2 micropay).
struct CodeOrder<'a> {
    mchid: &'a str,
    appid: String,
    out_trade_no: String,
    description: String,
    attach: Option<String>,
    total: i64,
    device_id: Option<String>,
    /// What tells an idempotent retry from a reused `out_trade_no` (API-specific).
    fingerprint: String,
}

/// A payment-code order before its code is charged: USERPAYING, no payer yet.
fn code_order(c: CodeOrder<'_>) -> Order {
    Order {
        mchid: c.mchid.to_owned(),
        appid: c.appid,
        out_trade_no: c.out_trade_no,
        description: c.description,
        attach: c.attach,
        notify_url: None,
        time_expire: None,
        total: c.total,
        openid: None,
        trade_type: "MICROPAY",
        state: TradeState::UserPaying,
        prepay_id: None,
        transaction_id: None,
        success_time: None,
        created: now_china(),
        device_id: c.device_id,
        fingerprint: c.fingerprint,
        pays_on_query: None,
        declined: false,
    }
}

/// Why a scanned payment code was not charged (the order is then not created).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CodeRefusal {
    /// Not 18 digits starting `10`–`15`.
    Malformed,
    /// Never issued by `wechat_payment_code` (to a real cashier: an expired or made-up code).
    Unknown,
    /// Scanned before: codes are single-use.
    Used,
}

/// Scans `auth_code` for a fresh `order` (from [`code_order`]): uses the code up and applies its scripted
/// behaviour: paid at once (SUCCESS), waiting for the password (USERPAYING, paid on the scripted query), or
/// refused (PAYERROR). Shared by v3 codepay and v2 micropay, so a code behaves the same whichever API charges it.
fn charge_code(book: &mut Book, auth_code: &str, order: &mut Order) -> Result<(), CodeRefusal> {
    let valid_format = auth_code.len() == 18
        && auth_code.bytes().all(|b| b.is_ascii_digit())
        && matches!(auth_code.get(..2), Some("10" | "11" | "12" | "13" | "14" | "15"));
    if !valid_format {
        return Err(CodeRefusal::Malformed);
    }
    let code = book.codes.get_mut(auth_code).ok_or(CodeRefusal::Unknown)?;
    if code.used {
        return Err(CodeRefusal::Used);
    }
    code.used = true;
    order.openid = Some(code.payer.clone());
    match code.behaviour {
        CodeBehaviour::Pays => complete_payment(order, None),
        CodeBehaviour::UserPaying { paid_after_queries } => {
            order.state = TradeState::UserPaying;
            order.pays_on_query = paid_after_queries;
        }
        CodeBehaviour::Declined => order.state = TradeState::PayError,
    }
    Ok(())
}

fn not_enough() -> WxError {
    err(403, "NOT_ENOUGH", "用户账号余额不足，请用户充值或更换支付卡后再支付")
}

fn user_paying() -> WxError {
    err(202, "USERPAYING", "用户支付中，需要输入密码")
}

fn pay_with_code(shared: &Arc<Shared>, mchid: &str, _req: &HttpRequest, body: &[u8]) -> Outcome {
    let v = parse_json(body)?;
    let appid = required_str(&v, "/appid")?;
    check_mchid(mchid, &required_str(&v, "/mchid")?)?;
    let description = required_str(&v, "/description")?;
    let out_trade_no = required_str(&v, "/out_trade_no")?;
    check_out_trade_no(&out_trade_no)?;
    let auth_code = required_str(&v, "/payer/auth_code")?;
    let total = required_amount(&v, "/amount/total")?;
    check_currency(&v, "/amount/currency", false)?;
    if !v.pointer("/scene_info").is_some_and(Value::is_object) {
        return Err(missing("/scene_info"));
    }
    let device_id = optional_str(&v, "/scene_info/device_id")?;
    let attach = optional_str(&v, "/attach")?;
    let fingerprint = json!([appid, description, auth_code, total, attach]).to_string();

    let mut state = shared.state();
    let book = &mut state.wechatpay;
    if let Some(index) = book.order_index(mchid, &out_trade_no) {
        // A retry of the same payment (e.g. after a timeout) reports where it stands; anything else reuses the number.
        let order = &book.orders[index];
        if order.fingerprint != fingerprint {
            return Err(err(400, "INVALID_REQUEST", "201 商户订单号重复"));
        }
        return match order.state {
            TradeState::Success | TradeState::Refund => Ok(Answer::ok(transaction_json(order))),
            TradeState::UserPaying => Err(user_paying()),
            TradeState::PayError => Err(not_enough()),
            _ => Err(err(400, "ORDER_CLOSED", "订单已关闭")),
        };
    }
    let mut order =
        code_order(CodeOrder { mchid, appid, out_trade_no, description, attach, total, device_id, fingerprint });
    charge_code(book, &auth_code, &mut order).map_err(|refusal| match refusal {
        CodeRefusal::Malformed => err(400, "PARAM_ERROR", "付款码auth_code格式错误，应为10~15开头的18位数字"),
        CodeRefusal::Unknown | CodeRefusal::Used => err(400, "INVALID_REQUEST", "101 付款码无效，请重新扫码"),
    })?;
    let outcome = match order.state {
        TradeState::Success => Ok(Answer::ok(transaction_json(&order))),
        TradeState::UserPaying => Err(user_paying()),
        _ => Err(not_enough()),
    };
    book.orders.push(order);
    outcome
}

fn query_out_trade_no(shared: &Arc<Shared>, mchid: &str, req: &HttpRequest, _body: &[u8]) -> Outcome {
    let out_trade_no = path_param(req, "out_trade_no");
    let query_mchid = query_param(req, "mchid").ok_or_else(|| err(400, "PARAM_ERROR", "缺少查询参数mchid"))?;
    check_mchid(mchid, &query_mchid)?;
    let mut state = shared.state();
    let book = &mut state.wechatpay;
    let index = book.order_index(mchid, &out_trade_no).ok_or_else(|| err(404, "ORDER_NOT_EXIST", "订单不存在"))?;
    let order = &mut book.orders[index];
    progress_user_paying(order);
    Ok(Answer::ok(transaction_json(order)))
}

fn query_transaction_id(shared: &Arc<Shared>, mchid: &str, req: &HttpRequest, _body: &[u8]) -> Outcome {
    let id = path_param(req, "transaction_id");
    let query_mchid = query_param(req, "mchid").ok_or_else(|| err(400, "PARAM_ERROR", "缺少查询参数mchid"))?;
    check_mchid(mchid, &query_mchid)?;
    let state = shared.state();
    let order = state
        .wechatpay
        .orders
        .iter()
        .find(|o| o.mchid == mchid && o.transaction_id.as_deref() == Some(id.as_str()))
        .ok_or_else(|| err(404, "ORDER_NOT_EXIST", "订单不存在"))?;
    Ok(Answer::ok(transaction_json(order)))
}

fn close_order(shared: &Arc<Shared>, mchid: &str, req: &HttpRequest, body: &[u8]) -> Outcome {
    let v = parse_json(body)?;
    check_mchid(mchid, &required_str(&v, "/mchid")?)?;
    let out_trade_no = path_param(req, "out_trade_no");
    let mut state = shared.state();
    let book = &mut state.wechatpay;
    let index = book.order_index(mchid, &out_trade_no).ok_or_else(|| err(404, "ORDER_NOT_EXIST", "订单不存在"))?;
    let order = &mut book.orders[index];
    match order.state {
        TradeState::Success | TradeState::Refund => Err(err(400, "ORDERPAID", "订单已支付")),
        TradeState::Revoked => Err(err(400, "ORDER_CLOSED", "订单已撤销")),
        TradeState::NotPay | TradeState::UserPaying | TradeState::PayError | TradeState::Closed => {
            order.state = TradeState::Closed;
            Ok(Answer::no_content())
        }
    }
}

/// 撤销: closes an unpaid payment-code order, or refunds a paid one in full; answers `{appid,mchid,out_trade_no}`.
fn reverse_order(shared: &Arc<Shared>, mchid: &str, req: &HttpRequest, body: &[u8]) -> Outcome {
    let v = parse_json(body)?;
    let appid = required_str(&v, "/appid")?;
    check_mchid(mchid, &required_str(&v, "/mchid")?)?;
    let out_trade_no = path_param(req, "out_trade_no");
    let mut state = shared.state();
    let book = &mut state.wechatpay;
    let index = book.order_index(mchid, &out_trade_no).ok_or_else(|| err(404, "ORDER_NOT_EXIST", "订单不存在"))?;
    revoke(book, index).map_err(|refusal| match refusal {
        RevokeRefusal::NotCodeOrder => err(400, "INVALID_REQUEST", "仅付款码支付订单可撤销"),
        RevokeRefusal::Closed => err(400, "ORDER_CLOSED", "订单已关闭，无法撤销"),
        RevokeRefusal::Refunded => err(400, "INVALID_REQUEST", "订单已发生退款，无法撤销"),
    })?;
    Ok(Answer::ok(json!({ "appid": appid, "mchid": mchid, "out_trade_no": out_trade_no })))
}

/// Why an order cannot be reversed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RevokeRefusal {
    /// Only payment-code (MICROPAY) orders can be.
    NotCodeOrder,
    Closed,
    /// Refunds went through the refund API: reversing would refund twice.
    Refunded,
}

/// Reverses the order at `index` (REVOKED): unpaid, it can no longer be paid; paid, it is refunded in full (a refund
/// the refund API doesn't show, but the bill does). Reversing a REVOKED order again is fine. Shared by v3 and v2.
fn revoke(book: &mut Book, index: usize) -> Result<(), RevokeRefusal> {
    let Some(order) = book.orders.get(index) else { return Err(RevokeRefusal::NotCodeOrder) };
    let has_refunds =
        book.refunds.iter().any(|r| r.mchid == order.mchid && r.out_trade_no == order.out_trade_no && !r.internal);
    let order = &mut book.orders[index];
    if order.trade_type != "MICROPAY" {
        return Err(RevokeRefusal::NotCodeOrder);
    }
    match order.state {
        TradeState::Revoked => Ok(()),
        TradeState::Closed => Err(RevokeRefusal::Closed),
        TradeState::Refund => Err(RevokeRefusal::Refunded),
        TradeState::Success if has_refunds => Err(RevokeRefusal::Refunded),
        TradeState::Success => {
            order.state = TradeState::Revoked;
            let now = now_china();
            let refund = Refund {
                mchid: order.mchid.clone(),
                refund_id: format!("503{}", random_digits(26)),
                out_refund_no: order.out_trade_no.clone(),
                transaction_id: order.transaction_id.clone().unwrap_or_default(),
                out_trade_no: order.out_trade_no.clone(),
                notify_url: None,
                funds_account: None,
                total: order.total,
                refund: order.total,
                status: "SUCCESS",
                create_time: now,
                success_time: Some(now),
                internal: true,
            };
            book.refunds.push(refund);
            Ok(())
        }
        TradeState::NotPay | TradeState::UserPaying | TradeState::PayError => {
            order.state = TradeState::Revoked;
            Ok(())
        }
    }
}

fn create_refund(shared: &Arc<Shared>, mchid: &str, _req: &HttpRequest, body: &[u8]) -> Outcome {
    let v = parse_json(body)?;
    let out_refund_no = required_str(&v, "/out_refund_no")?;
    if out_refund_no.len() > 64 {
        return Err(err(400, "PARAM_ERROR", "out_refund_no超出长度限制"));
    }
    let by_transaction = optional_str(&v, "/transaction_id")?.filter(|s| !s.is_empty());
    let by_out_trade_no = optional_str(&v, "/out_trade_no")?.filter(|s| !s.is_empty());
    if by_transaction.is_none() && by_out_trade_no.is_none() {
        return Err(err(400, "PARAM_ERROR", "transaction_id和out_trade_no必须二选一"));
    }
    let refund = required_amount(&v, "/amount/refund")?;
    let total = required_amount(&v, "/amount/total")?;
    check_currency(&v, "/amount/currency", true)?;
    let notify_url = optional_str(&v, "/notify_url")?.filter(|s| !s.is_empty());
    let funds_account = optional_str(&v, "/funds_account")?;

    let (answer, schedule) = {
        let mut state = shared.state();
        let book = &mut state.wechatpay;
        let order = book
            .orders
            .iter()
            .find(|o| {
                o.mchid == mchid
                    && match (&by_transaction, &by_out_trade_no) {
                        (Some(id), _) => o.transaction_id.as_ref() == Some(id),
                        (None, Some(no)) => &o.out_trade_no == no,
                        (None, None) => false,
                    }
            })
            .filter(|o| o.transaction_id.is_some())
            .ok_or_else(|| {
                err(
                    404,
                    "RESOURCE_NOT_EXISTS",
                    "订单不存在，请检查订单号是否正确且是否已支付，未支付的订单不能发起退款",
                )
            })?;
        if let Some(existing) =
            book.refunds.iter().find(|r| r.mchid == mchid && r.out_refund_no == out_refund_no && !r.internal)
        {
            // Same out_refund_no: the same refund, never a second one.
            if existing.out_trade_no != order.out_trade_no || existing.refund != refund || existing.total != total {
                return Err(err(400, "INVALID_REQUEST", "订单金额或退款金额与之前请求不一致，请核实后再试"));
            }
            return Ok(Answer::ok(refund_json(existing)));
        }
        if order.state == TradeState::Revoked {
            return Err(err(400, "INVALID_REQUEST", "订单已全额退款"));
        }
        if total != order.total {
            return Err(err(400, "INVALID_REQUEST", "订单金额total与原订单金额不一致"));
        }
        if refund > order.refundable(&book.refunds) {
            return Err(err(400, "INVALID_REQUEST", "申请退款金额超过订单可退金额"));
        }
        let record = Refund {
            mchid: mchid.to_owned(),
            refund_id: format!("503{}", random_digits(26)),
            out_refund_no: out_refund_no.clone(),
            transaction_id: order.transaction_id.clone().unwrap_or_default(),
            out_trade_no: order.out_trade_no.clone(),
            notify_url,
            funds_account,
            total,
            refund,
            status: "PROCESSING",
            create_time: now_china(),
            success_time: None,
            internal: false,
        };
        let answer = refund_json(&record);
        let order_no = order.out_trade_no.clone();
        if let Some(index) = book.order_index(mchid, &order_no) {
            book.orders[index].state = TradeState::Refund;
        }
        book.refunds.push(record);
        (answer, (book.refund_delay, book.refund_delivery))
    };
    schedule_refund_success(shared, mchid.to_owned(), out_refund_no, schedule.0, schedule.1);
    Ok(Answer::ok(answer))
}

/// Decrements the in-flight count when dropped (also on the early returns).
struct InFlight<'a>(&'a Shared);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Refunds are accepted as PROCESSING and succeed a moment later, as the real ones do (asynchronously).
fn schedule_refund_success(
    shared: &Arc<Shared>,
    mchid: String,
    out_refund_no: String,
    delay: Duration,
    delivery: Delivery,
) {
    // Counted as a delivery in flight, so `wait_for_notifications` also waits for the REFUND.SUCCESS to come.
    shared.in_flight.fetch_add(1, Ordering::SeqCst);
    let shared_task = shared.clone();
    shared.rt.spawn(async move {
        tokio::time::sleep(delay).await;
        let _done = InFlight(&shared_task);
        let outgoing = {
            let mut state = shared_task.state();
            let book = &mut state.wechatpay;
            let Some(refund) =
                book.refunds.iter_mut().find(|r| r.mchid == mchid && r.out_refund_no == out_refund_no && !r.internal)
            else {
                return;
            };
            refund.status = "SUCCESS";
            refund.success_time = Some(now_china());
            let plaintext = refund_notice_json(refund).to_string();
            let (url, out_trade_no) = (refund.notify_url.clone(), refund.out_trade_no.clone());
            match (url, book.apiv3_key(&mchid)) {
                (Some(url), Some(key)) => match notification_body("REFUND.SUCCESS", &plaintext, key) {
                    Ok((event_id, body)) => Some(Outgoing {
                        provider: Provider::WechatPay,
                        event_id,
                        kind: "REFUND.SUCCESS".into(),
                        url,
                        out_trade_no,
                        payload: Payload::WechatPay { body },
                    }),
                    Err(e) => {
                        tracing::warn!("sandbox could not encrypt a refund notification: {e}");
                        None
                    }
                },
                _ => None,
            }
        };
        if let Some(outgoing) = outgoing {
            notify::dispatch(&shared_task, outgoing, delivery);
        }
    });
}

fn query_refund(shared: &Arc<Shared>, mchid: &str, req: &HttpRequest, _body: &[u8]) -> Outcome {
    let out_refund_no = path_param(req, "out_refund_no");
    let state = shared.state();
    let refund = state
        .wechatpay
        .refunds
        .iter()
        .find(|r| r.mchid == mchid && r.out_refund_no == out_refund_no && !r.internal)
        .ok_or_else(|| err(404, "RESOURCE_NOT_EXISTS", "退款单不存在"))?;
    Ok(Answer::ok(refund_json(refund)))
}

fn list_certificates(shared: &Arc<Shared>, mchid: &str, _req: &HttpRequest, _body: &[u8]) -> Outcome {
    let apiv3 = shared.state().wechatpay.apiv3_key(mchid).map(str::to_owned).unwrap_or_default();
    let nonce = random_token(12);
    let ciphertext = aes_gcm_encrypt(&apiv3, &nonce, "certificate", WECHATPAY_PLATFORM_CERT.as_bytes())
        .map_err(|e| err(500, "SYSTEM_ERROR", e))?;
    Ok(Answer::ok(json!({
        "data": [{
            "serial_no": WECHATPAY_PLATFORM_CERT_SERIAL,
            "effective_time": WECHATPAY_PLATFORM_CERT_EFFECTIVE_TIME,
            "expire_time": WECHATPAY_PLATFORM_CERT_EXPIRE_TIME,
            "encrypt_certificate": {
                "algorithm": "AEAD_AES_256_GCM",
                "associated_data": "certificate",
                "nonce": nonce,
                "ciphertext": ciphertext,
            },
        }],
    })))
}

fn apply_tradebill(shared: &Arc<Shared>, mchid: &str, req: &HttpRequest, _body: &[u8]) -> Outcome {
    let date = query_param(req, "bill_date").ok_or_else(|| err(400, "PARAM_ERROR", "缺少查询参数bill_date"))?;
    let date = NaiveDate::parse_from_str(&date, "%Y-%m-%d")
        .map_err(|_| err(400, "PARAM_ERROR", "bill_date格式错误，应为YYYY-MM-DD"))?;
    if date > now_china().date_naive() {
        return Err(err(400, "INVALID_REQUEST", "账单日期不能晚于今天"));
    }
    let bill_type = query_param(req, "bill_type").unwrap_or_else(|| "ALL".to_owned());
    let kind = match bill_type.as_str() {
        "ALL" => bills::WechatBillType::All,
        "SUCCESS" => bills::WechatBillType::Success,
        "REFUND" => bills::WechatBillType::Refund,
        _ => return Err(err(400, "PARAM_ERROR", "bill_type取值错误，应为ALL、SUCCESS或REFUND")),
    };
    let gzip = match query_param(req, "tar_type").as_deref() {
        None => false,
        Some("GZIP") => true,
        Some(_) => return Err(err(400, "PARAM_ERROR", "tar_type取值错误，仅支持GZIP")),
    };
    let mut state = shared.state();
    let book = &mut state.wechatpay;
    let csv = bills::wechat_tradebill(book, mchid, date, kind).ok_or_else(|| {
        err(400, "NO_STATEMENT_EXIST", "账单文件不存在，请检查当前商户号在指定日期内是否有成功的交易")
    })?;
    let hash = bills::sha1_hex(csv.as_bytes());
    let data =
        if gzip { bills::gzip(csv.as_bytes()).map_err(|e| err(500, "SYSTEM_ERROR", e))? } else { csv.into_bytes() };
    let token = random_token(64);
    book.bills.insert(token.clone(), BillFile { mchid: mchid.to_owned(), data });
    let conn = req.connection_info();
    let mut download_url = format!("{}://{}/v3/billdownload/file?token={token}", conn.scheme(), conn.host());
    if gzip {
        download_url.push_str("&tartype=gzip");
    }
    Ok(Answer::ok(json!({ "hash_type": "SHA1", "hash_value": hash, "download_url": download_url })))
}

// ---- control (used by FakeProviders and the /sandbox page) --------------------------------------------------

fn find_unique(book: &Book, out_trade_no: &str) -> Result<usize, String> {
    let mut matches = book.orders.iter().enumerate().filter(|(_, o)| o.out_trade_no == out_trade_no);
    match (matches.next(), matches.next()) {
        (Some((index, _)), None) => Ok(index),
        (None, _) => Err(format!("no WeChat Pay order {out_trade_no}")),
        (Some(_), Some(_)) => Err(format!("out_trade_no {out_trade_no} exists at several merchants")),
    }
}

pub(crate) fn control_pay(shared: &Arc<Shared>, out_trade_no: &str, delivery: Delivery) -> Result<(), String> {
    let outgoing = {
        let mut state = shared.state();
        let book = &mut state.wechatpay;
        let index = find_unique(book, out_trade_no)?;
        let order = &mut book.orders[index];
        match order.state {
            TradeState::NotPay | TradeState::UserPaying => {}
            TradeState::Success | TradeState::Refund => return Err(format!("{out_trade_no} is already paid")),
            other => return Err(format!("{out_trade_no} is {}", other.as_str())),
        }
        if order.time_expire.is_some_and(|t| t < now_china()) {
            return Err(format!("{out_trade_no} expired (time_expire)"));
        }
        complete_payment(order, None);
        order.declined = false;
        payment_notification(book, index)?
    };
    if let Some(outgoing) = outgoing {
        notify::dispatch(shared, outgoing, delivery);
    }
    Ok(())
}

/// The payer backs out: a JSAPI order stays NOTPAY (WeChat sends nothing), a payment-code order fails (PAYERROR).
pub(crate) fn control_decline(shared: &Shared, out_trade_no: &str) -> Result<(), String> {
    let mut state = shared.state();
    let book = &mut state.wechatpay;
    let index = find_unique(book, out_trade_no)?;
    let order = &mut book.orders[index];
    match order.state {
        TradeState::NotPay => order.declined = true,
        TradeState::UserPaying => order.state = TradeState::PayError,
        other => return Err(format!("{out_trade_no} is {}", other.as_str())),
    }
    Ok(())
}

pub(crate) fn pending(order: &Order) -> bool {
    (order.state == TradeState::NotPay && !order.declined) || order.state == TradeState::UserPaying
}
