//! WeChat Pay API v2 payment code (付款码支付, XML), the fallback for merchants whose v3 codepay is not enabled:
//! `POST /pay/micropay`, `POST /pay/orderquery`, `POST /secapi/pay/reverse`.
//!
//! Sources (read, not copied): the official v2 pages (付款码支付 / 查询订单 / 撤销订单, pay.weixin.qq.com/doc/v2/
//! merchant/4011937125 and wiki/doc/api/wxpay/ch/pay/QuickPay/chapter3_3…3_4), the 安全规范 signing example,
//! wechatpay-php src/Crypto/Hash.php (MD5 / HMAC-SHA256), WxJava's WxPayMicropayResult / WxPayOrderReverseResult
//! field lists, and answers quoted in the WeChat developer community (USERPAYING, AUTH_CODE_INVALID "101 …",
//! PAYERROR "支付失败"); see shared/docs/PROTOCOLS.md §A5.
//!
//! Wire format: the request body is `<xml><key><![CDATA[value]]></key>…</xml>` (CDATA or plain text with the five
//! XML entities; a prolog is allowed, a DOCTYPE is refused), the answer is the same shape with CDATA values,
//! always HTTP 200. `return_code` is the communication result: FAIL answers (bad XML, missing `appid` / `mch_id` /
//! `nonce_str` / `sign`, unknown merchant, unknown `sign_type`, `签名错误`) carry only `return_code` and
//! `return_msg` and are unsigned. SUCCESS answers add `appid`, `mch_id`, a fresh `nonce_str`, `result_code`
//! (the business result, with `err_code` / `err_code_des` on FAIL), the business fields, and `sign`, made with
//! the request's `sign_type` (answers carry no `sign_type` field).
//!
//! Signing: every non-empty parameter except `sign`, sorted by ASCII key, `k=v` joined with `&`, then
//! `&key=<APIv2 key>`; MD5 (the default when `sign_type` is absent) or HMAC-SHA256 keyed by the APIv2 key, both
//! as UPPER hex. The fake compares the request's `sign` exactly (lowercase hex is refused).
//!
//! The orders are the v3 fake's: the same book, the same scripted payment codes, the same state machine (a v2
//! order can be queried, closed, refunded or reversed through `/v3`, shows in `orders()`, on `/sandbox` and in the
//! v3 trade bill, and the other way round). Real WeChat wants the merchant's client TLS certificate on
//! `/secapi/pay/reverse`; the sandbox speaks plain HTTP and does not check it.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use actix_web::{HttpResponse, web};
use hmac::{Hmac, Mac};
use md5::Digest as _;
use serde_json::json;
use sha2::Sha256;

use super::{Book, CodeOrder, CodeRefusal, Order, RevokeRefusal, TradeState};
use crate::Shared;
use crate::util::random_token;

/// `sign_type` values.
const MD5: &str = "MD5";
const HMAC_SHA256: &str = "HMAC-SHA256";

/// The v2 signature of `params`: every non-empty value except `sign`, in the map's (ASCII) key order, as
/// `k=v&…&key=<key>`, then UPPER hex of MD5 (`sign_type` `"MD5"`, or anything but `"HMAC-SHA256"`) or of
/// HMAC-SHA256 keyed by `key` (`"HMAC-SHA256"`). Include `sign_type` in `params` when the request carries it.
pub fn wechatpay_v2_sign(params: &BTreeMap<String, String>, key: &str, sign_type: &str) -> String {
    let mut text = params
        .iter()
        .filter(|(k, v)| k.as_str() != "sign" && !v.is_empty())
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    text.push_str("&key=");
    text.push_str(key);
    sign_text(&text, key, sign_type)
}

/// Signs the complete string (`stringA&key=…`).
fn sign_text(text: &str, key: &str, sign_type: &str) -> String {
    if sign_type == HMAC_SHA256 {
        match Hmac::<Sha256>::new_from_slice(key.as_bytes()) {
            Ok(mut mac) => {
                mac.update(text.as_bytes());
                hex::encode_upper(mac.finalize().into_bytes())
            }
            // HMAC takes keys of any length; an empty signature never verifies anyway.
            Err(_) => String::new(),
        }
    } else {
        hex::encode_upper(md5::Md5::digest(text.as_bytes()))
    }
}

impl Book {
    pub(crate) fn set_v2_key(&mut self, mchid: &str, key: &str) {
        self.v2_keys.insert(mchid.to_owned(), key.to_owned());
    }
}

/// An APIv2 key as the merchant platform makes them: 32 letters and digits.
pub(crate) fn check_v2_key(key: &str) -> Result<(), String> {
    if key.len() == 32 && key.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err("the APIv2 key must be 32 letters and digits".into())
    }
}

// ---- XML -----------------------------------------------------------------------------------------------------

/// Parses the flat `<xml><k>v</k>…</xml>` of a v2 request: values in CDATA or as text with `&lt;` `&gt;` `&amp;`
/// `&quot;` `&apos;` and numeric references; `<k/>` is empty. Refuses nesting, attributes, DOCTYPEs and repeats.
pub(crate) fn parse_xml(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut rest = text.trim_start_matches('\u{feff}').trim_start();
    if rest.starts_with("<?xml") {
        let end = rest.find("?>").ok_or("unterminated XML declaration")?;
        rest = rest[end + 2..].trim_start();
    }
    if rest.starts_with("<!") {
        return Err("DOCTYPE and entity declarations are not accepted".into());
    }
    rest = rest.strip_prefix("<xml>").ok_or("the root element must be <xml>")?;
    let mut fields = BTreeMap::new();
    loop {
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix("</xml>") {
            if !after.trim().is_empty() {
                return Err("content after </xml>".into());
            }
            return Ok(fields);
        }
        rest = rest.strip_prefix('<').ok_or("expected an element")?;
        let name_len = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.'));
        let name_len = name_len.ok_or("unterminated element")?;
        let name = &rest[..name_len];
        if name.is_empty() {
            return Err("expected an element name".into());
        }
        rest = &rest[name_len..];
        let value = if let Some(after) = rest.strip_prefix("/>") {
            rest = after;
            String::new()
        } else {
            rest = rest.strip_prefix('>').ok_or_else(|| format!("<{name}>: attributes are not accepted"))?;
            let close = format!("</{name}>");
            let mut value = String::new();
            loop {
                if let Some(after) = rest.strip_prefix(close.as_str()) {
                    rest = after;
                    break;
                }
                if let Some(after) = rest.strip_prefix("<![CDATA[") {
                    let end = after.find("]]>").ok_or("unterminated CDATA section")?;
                    value.push_str(&after[..end]);
                    rest = &after[end + 3..];
                } else if rest.starts_with('<') {
                    return Err(format!("<{name}> must hold text or CDATA only"));
                } else {
                    let end = rest.find('<').ok_or_else(|| format!("unterminated <{name}>"))?;
                    value.push_str(&decode_entities(&rest[..end])?);
                    rest = &rest[end..];
                }
            }
            value
        };
        if fields.insert(name.to_owned(), value).is_some() {
            return Err(format!("<{name}> appears twice"));
        }
    }
}

fn decode_entities(text: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let end = after.find(';').ok_or("unterminated entity")?;
        let entity = &after[..end];
        let c = match entity {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let code = if let Some(hex) = entity.strip_prefix("#x").or_else(|| entity.strip_prefix("#X")) {
                    u32::from_str_radix(hex, 16).ok()
                } else if let Some(dec) = entity.strip_prefix('#') {
                    dec.parse().ok()
                } else {
                    None
                };
                code.and_then(char::from_u32).ok_or_else(|| format!("unknown entity &{entity};"))?
            }
        };
        out.push(c);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// `<xml>` with every value in CDATA (a `]]>` inside a value is split across two sections).
fn to_xml(fields: &[(&str, String)]) -> String {
    let mut out = String::from("<xml>");
    for (name, value) in fields {
        let value = value.replace("]]>", "]]]]><![CDATA[>");
        out.push_str(&format!("<{name}><![CDATA[{value}]]></{name}>"));
    }
    out.push_str("</xml>");
    out
}

// ---- serving -------------------------------------------------------------------------------------------------

/// An authenticated request.
struct Request {
    params: BTreeMap<String, String>,
    mchid: String,
    appid: String,
    sign_type: &'static str,
    key: String,
}

impl Request {
    /// A parameter, `None` when absent or empty.
    fn get(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }
}

/// Business fields of a SUCCESS answer, starting with `result_code` (and `err_code`, `err_code_des` on FAIL).
type Fields = Vec<(&'static str, String)>;

fn success(mut fields: Fields) -> Fields {
    fields.insert(0, ("result_code", "SUCCESS".into()));
    fields
}

fn failure(code: &str, description: &str) -> Fields {
    vec![("result_code", "FAIL".into()), ("err_code", code.into()), ("err_code_des", description.into())]
}

fn param_error(description: impl Into<String>) -> Fields {
    failure("PARAM_ERROR", &description.into())
}

fn xml_response(body: String) -> HttpResponse {
    HttpResponse::Ok().content_type("text/xml; charset=utf-8").body(body)
}

/// A communication failure: `return_code` FAIL, unsigned.
fn return_fail(message: &str) -> HttpResponse {
    xml_response(to_xml(&[("return_code", "FAIL".into()), ("return_msg", message.into())]))
}

type Logic = fn(&Arc<Shared>, &Request) -> Fields;

/// Parses, authenticates (merchant key, `sign_type`, `sign`), runs the business logic and signs the answer.
fn serve(shared: &Arc<Shared>, body: &[u8], logic: Logic) -> HttpResponse {
    let request = match authenticate(shared, body) {
        Ok(request) => request,
        Err(message) => return return_fail(&message),
    };
    let business = logic(shared, &request);
    let mut fields: Fields = vec![
        ("return_code", "SUCCESS".into()),
        ("return_msg", "OK".into()),
        ("appid", request.appid.clone()),
        ("mch_id", request.mchid.clone()),
    ];
    if let Some(device) = request.get("device_info").filter(|_| !business.iter().any(|(k, _)| *k == "device_info")) {
        fields.push(("device_info", device.to_owned()));
    }
    fields.push(("nonce_str", random_token(16)));
    fields.extend(business);
    let map: BTreeMap<String, String> = fields.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
    let sign = wechatpay_v2_sign(&map, &request.key, request.sign_type);
    fields.push(("sign", sign));
    xml_response(to_xml(&fields))
}

fn authenticate(shared: &Shared, body: &[u8]) -> Result<Request, String> {
    let text = std::str::from_utf8(body).map_err(|_| "编码格式错误，请使用UTF-8编码".to_owned())?;
    let params = parse_xml(text).map_err(|e| format!("XML格式错误: {e}"))?;
    let field =
        |name: &str| params.get(name).filter(|v| !v.is_empty()).cloned().ok_or_else(|| format!("缺少参数{name}"));
    let (appid, mchid, nonce, sign) = (field("appid")?, field("mch_id")?, field("nonce_str")?, field("sign")?);
    if nonce.chars().count() > 32 {
        return Err("nonce_str参数长度有误，不能超过32位".into());
    }
    let sign_type = match params.get("sign_type").map(String::as_str) {
        None | Some("") | Some(MD5) => MD5,
        Some(HMAC_SHA256) => HMAC_SHA256,
        Some(_) => return Err("sign_type参数错误，仅支持MD5和HMAC-SHA256".into()),
    };
    let key = shared
        .state()
        .wechatpay
        .v2_keys
        .get(&mchid)
        .cloned()
        .ok_or_else(|| "mch_id参数错误：商户号不存在或未设置APIv2密钥".to_owned())?;
    if wechatpay_v2_sign(&params, &key, sign_type) != sign {
        return Err("签名错误".into());
    }
    Ok(Request { params, mchid, appid, sign_type, key })
}

/// `yyyyMMddHHmmss`, Beijing time (the stored times are +08:00 already).
fn time_end(order: &Order) -> Option<String> {
    order.success_time.map(|t| t.format("%Y%m%d%H%M%S").to_string())
}

/// What a paid order adds to micropay and orderquery answers.
fn paid_fields(order: &Order, fields: &mut Fields) {
    let Some(transaction_id) = &order.transaction_id else { return };
    if let Some(openid) = &order.openid {
        fields.push(("openid", openid.clone()));
    }
    fields.push(("is_subscribe", "N".into()));
    fields.push(("bank_type", "OTHERS".into()));
    fields.push(("cash_fee_type", "CNY".into()));
    fields.push(("cash_fee", order.total.to_string()));
    fields.push(("transaction_id", transaction_id.clone()));
    if let Some(attach) = &order.attach {
        fields.push(("attach", attach.clone()));
    }
    if let Some(end) = time_end(order) {
        fields.push(("time_end", end));
    }
}

/// A paid micropay's business fields.
fn micropay_success(order: &Order) -> Fields {
    let mut fields: Fields = vec![
        ("trade_type", order.trade_type.into()),
        ("fee_type", "CNY".into()),
        ("total_fee", order.total.to_string()),
        ("out_trade_no", order.out_trade_no.clone()),
    ];
    paid_fields(order, &mut fields);
    success(fields)
}

fn user_paying() -> Fields {
    failure("USERPAYING", "需要用户输入支付密码")
}

fn not_enough() -> Fields {
    failure("NOTENOUGH", "余额不足")
}

fn order_closed() -> Fields {
    failure("ORDERCLOSED", "订单已关闭")
}

fn order_reversed() -> Fields {
    failure("ORDERREVERSED", "订单已撤销")
}

/// 1–32 of `[0-9A-Za-z_-|*@]`.
fn valid_out_trade_no(no: &str) -> bool {
    (1..=32).contains(&no.len()) && no.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-|*@".contains(&b))
}

/// Positive integer fen, digits only.
fn parse_fee(text: &str) -> Option<i64> {
    if text.is_empty() || text.len() > 12 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok().filter(|fen: &i64| *fen > 0)
}

// ---- handlers ------------------------------------------------------------------------------------------------

pub(crate) async fn micropay(shared: web::Data<Shared>, body: web::Bytes) -> HttpResponse {
    crate::count(&shared, "pay/micropay");
    serve(&shared.into_inner(), &body, pay_with_code)
}

pub(crate) async fn orderquery(shared: web::Data<Shared>, body: web::Bytes) -> HttpResponse {
    crate::count(&shared, "pay/orderquery");
    serve(&shared.into_inner(), &body, query_order)
}

/// Real WeChat requires the merchant's client certificate (mutual TLS) here; the sandbox's plain HTTP can't.
pub(crate) async fn reverse(shared: web::Data<Shared>, body: web::Bytes) -> HttpResponse {
    crate::count(&shared, "secapi/pay/reverse");
    serve(&shared.into_inner(), &body, reverse_order)
}

fn pay_with_code(shared: &Arc<Shared>, req: &Request) -> Fields {
    let (Some(description), Some(out_trade_no), Some(total_fee), Some(ip), Some(auth_code)) = (
        req.get("body"),
        req.get("out_trade_no"),
        req.get("total_fee"),
        req.get("spbill_create_ip"),
        req.get("auth_code"),
    ) else {
        return param_error("缺少必填参数body、out_trade_no、total_fee、spbill_create_ip或auth_code");
    };
    if description.chars().count() > 128 {
        return param_error("body参数长度有误");
    }
    if !valid_out_trade_no(out_trade_no) {
        return param_error("out_trade_no参数格式错误，要求32个字符内的数字、大小写字母或_-|*@");
    }
    let Some(total) = parse_fee(total_fee) else {
        return param_error("total_fee参数格式错误，应为以分为单位的正整数");
    };
    if req.get("fee_type").is_some_and(|t| t != "CNY") {
        return param_error("fee_type参数错误，仅支持CNY");
    }
    if ip.parse::<IpAddr>().is_err() {
        return param_error("spbill_create_ip参数格式错误");
    }
    let attach = req.get("attach").map(str::to_owned);
    if attach.as_ref().is_some_and(|a| a.chars().count() > 127) {
        return param_error("attach参数长度有误");
    }
    let fingerprint = json!(["v2", req.appid, description, auth_code, total, attach]).to_string();

    let mut state = shared.state();
    let book = &mut state.wechatpay;
    if let Some(index) = book.order_index(&req.mchid, out_trade_no) {
        let order = &book.orders[index];
        // The same request again (a retry after a timeout or SYSTEMERROR) reports where the payment stands.
        if order.fingerprint == fingerprint {
            return match order.state {
                TradeState::Success | TradeState::Refund => micropay_success(order),
                TradeState::UserPaying => user_paying(),
                TradeState::PayError => not_enough(),
                TradeState::Revoked => order_reversed(),
                TradeState::Closed | TradeState::NotPay => order_closed(),
            };
        }
        return match order.state {
            TradeState::Success | TradeState::Refund => failure("ORDERPAID", "订单已支付"),
            TradeState::Revoked => order_reversed(),
            TradeState::Closed => order_closed(),
            _ => failure("OUT_TRADE_NO_USED", "商户订单号重复"),
        };
    }
    let mut order = super::code_order(CodeOrder {
        mchid: &req.mchid,
        appid: req.appid.clone(),
        out_trade_no: out_trade_no.to_owned(),
        description: description.to_owned(),
        attach,
        total,
        device_id: req.get("device_info").map(str::to_owned),
        fingerprint,
    });
    if let Err(refusal) = super::charge_code(book, auth_code, &mut order) {
        return match refusal {
            CodeRefusal::Malformed => {
                failure("AUTH_CODE_INVALID", "请扫描微信支付付款码(以10/11/12/13/14/15为前缀的18位数字)")
            }
            CodeRefusal::Unknown => failure("AUTHCODEEXPIRE", "二维码已过期，请用户在微信上刷新后再试"),
            CodeRefusal::Used => failure("AUTH_CODE_INVALID", "101 每个二维码仅限使用一次，请刷新再试"),
        };
    }
    let answer = match order.state {
        TradeState::Success => micropay_success(&order),
        TradeState::UserPaying => user_paying(),
        _ => not_enough(),
    };
    book.orders.push(order);
    answer
}

/// The order a query or reverse names: `transaction_id` first, else `out_trade_no`.
fn find_order(book: &Book, mchid: &str, req: &Request) -> Result<Option<usize>, Fields> {
    match (req.get("transaction_id"), req.get("out_trade_no")) {
        (Some(id), _) => {
            Ok(book.orders.iter().position(|o| o.mchid == mchid && o.transaction_id.as_deref() == Some(id)))
        }
        (None, Some(no)) => Ok(book.order_index(mchid, no)),
        (None, None) => Err(param_error("transaction_id和out_trade_no至少填一个")),
    }
}

fn query_order(shared: &Arc<Shared>, req: &Request) -> Fields {
    let mut state = shared.state();
    let book = &mut state.wechatpay;
    let index = match find_order(book, &req.mchid, req) {
        Ok(Some(index)) => index,
        Ok(None) => return failure("ORDERNOTEXIST", "此交易订单号不存在"),
        Err(fields) => return fields,
    };
    let order = &mut book.orders[index];
    super::progress_user_paying(order);
    let mut fields: Fields = Vec::new();
    if let Some(device) = &order.device_id {
        fields.push(("device_info", device.clone()));
    }
    fields.push(("out_trade_no", order.out_trade_no.clone()));
    fields.push(("trade_state", order.state.as_str().into()));
    fields.push(("trade_state_desc", order.state.desc().into()));
    if order.trade_type == "MICROPAY" || order.transaction_id.is_some() {
        fields.push(("trade_type", order.trade_type.into()));
    }
    fields.push(("fee_type", "CNY".into()));
    fields.push(("total_fee", order.total.to_string()));
    paid_fields(order, &mut fields);
    success(fields)
}

/// Always answers `recall` N: the fake never leaves a reverse half-done.
fn reverse_order(shared: &Arc<Shared>, req: &Request) -> Fields {
    let mut fields = reverse_outcome(shared, req);
    fields.push(("recall", "N".into()));
    fields
}

fn reverse_outcome(shared: &Arc<Shared>, req: &Request) -> Fields {
    let mut state = shared.state();
    let book = &mut state.wechatpay;
    let index = match find_order(book, &req.mchid, req) {
        Ok(Some(index)) => index,
        Ok(None) => return failure("ORDERNOTEXIST", "订单不存在"),
        Err(fields) => return fields,
    };
    match super::revoke(book, index) {
        Ok(()) => success(Vec::new()),
        Err(RevokeRefusal::NotCodeOrder) => failure("TRADE_ERROR", "订单支付场景错误，仅付款码支付订单可撤销"),
        Err(RevokeRefusal::Closed) => order_closed(),
        Err(RevokeRefusal::Refunded) => failure("TRADE_ERROR", "订单已发生退款，无法撤销"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    const STRING_A: &str =
        "appid=wxd930ea5d5a258f4f&body=test&device_info=1000&mch_id=10000100&nonce_str=ibuaiVcKdpRxkhJA";
    const KEY: &str = "192006250b4c09247ec02edce69f6a2d";

    #[test]
    fn signer_matches_the_official_example() {
        // The v2 安全规范 example (shared/docs/PROTOCOLS.md §A5).
        let text = format!("{STRING_A}&key={KEY}");
        assert_eq!(sign_text(&text, KEY, MD5), "9A0A8659F005D6984697E2CA0A9CF3B7");
        assert_eq!(
            sign_text(&text, KEY, HMAC_SHA256),
            "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6"
        );
        // The same through the map: sorted, `sign` and empty values left out.
        let mut params: BTreeMap<String, String> = STRING_A
            .split('&')
            .map(|kv| kv.split_once('=').unwrap())
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        params.insert("sign".into(), "whatever".into());
        params.insert("attach".into(), String::new());
        assert_eq!(wechatpay_v2_sign(&params, KEY, MD5), "9A0A8659F005D6984697E2CA0A9CF3B7");
        assert_eq!(wechatpay_v2_sign(&params, KEY, ""), "9A0A8659F005D6984697E2CA0A9CF3B7");
        assert_eq!(
            wechatpay_v2_sign(&params, KEY, HMAC_SHA256),
            "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6"
        );
    }

    #[test]
    fn parses_cdata_text_entities_and_empty_elements() {
        let xml = "\u{feff}<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<xml>\n  <appid><![CDATA[wx1]]></appid>\n  \
                   <body>洗剪吹 &amp; 护理 &#x41;&#66;</body><attach/><detail><![CDATA[{\"a\":\"<b>\"}]]></detail>\n\
                   <split><![CDATA[x]]]]><![CDATA[>y]]></split></xml>\n";
        let fields = parse_xml(xml).unwrap();
        assert_eq!(fields["appid"], "wx1");
        assert_eq!(fields["body"], "洗剪吹 & 护理 AB");
        assert_eq!(fields["attach"], "");
        assert_eq!(fields["detail"], "{\"a\":\"<b>\"}");
        assert_eq!(fields["split"], "x]]>y");
        assert_eq!(fields.len(), 5);
    }

    #[test]
    fn refuses_what_is_not_the_flat_shape() {
        for bad in [
            "",
            "<root><a>1</a></root>",
            "<xml><a>1</a>",
            "<xml><a><b>1</b></a></xml>",
            "<xml><a x=\"1\">1</a></xml>",
            "<xml><a>1</a><a>2</a></xml>",
            "<xml><a>1</b></xml>",
            "<xml><a>&bogus;</a></xml>",
            "<xml><a><![CDATA[1</a></xml>",
            "<!DOCTYPE xml [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><xml><a>&e;</a></xml>",
            "<xml><a>1</a></xml><xml/>",
        ] {
            assert!(parse_xml(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn writes_cdata_that_parses_back() {
        let xml = to_xml(&[("a", "x]]>y".into()), ("b", "<&>".into()), ("c", String::new())]);
        let fields = parse_xml(&xml).unwrap();
        assert_eq!(fields["a"], "x]]>y");
        assert_eq!(fields["b"], "<&>");
        assert_eq!(fields["c"], "");
    }

    #[test]
    fn fees_and_keys() {
        assert_eq!(parse_fee("1"), Some(1));
        assert_eq!(parse_fee("8800"), Some(8800));
        for bad in ["", "0", "-1", "+1", "1.00", "1e3", " 1", "9999999999999"] {
            assert_eq!(parse_fee(bad), None, "{bad}");
        }
        assert!(check_v2_key("192006250b4c09247ec02edce69f6a2d").is_ok());
        assert!(check_v2_key("192006250b4c09247ec02edce69f6a2").is_err());
        assert!(check_v2_key("192006250b4c09247ec02edce69f6a2-").is_err());
    }
}
