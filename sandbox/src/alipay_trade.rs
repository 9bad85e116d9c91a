//! Alipay's trade APIs on the classic gateway (`gateway.do`, RSA2): `alipay.trade.create` (mini-program JSAPI
//! checkout), `alipay.trade.pay` (bar-code payment), `.query`, `.close`, `.cancel`, `.refund`,
//! `alipay.trade.fastpay.refund.query` and `alipay.data.dataservice.bill.downloadurl.query`, plus the
//! `trade_status_sync` async notification.
//!
//! Sources (shared/docs/PROTOCOLS.md §B): biz_content fields and result codes (10000 success, 10003 waiting for the
//! user, 40004 business failure with an `ACQ.*` sub_code) from the alipay.trade.* docs and the official SDK models;
//! notification fields and their signing (sorted `k=v&…` without `sign` and `sign_type`, RSA2 with the platform
//! key) from the notify docs and `AlipaySignature.verifyV1`. Amounts are yuan strings with two decimals; times are
//! Beijing time `yyyy-MM-dd HH:mm:ss`. Business failures are answered under `<method>_response` (only gateway
//! failures such as a bad signature use `error_response`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, FixedOffset, NaiveDate};
use rsa::RsaPrivateKey;
use serde_json::{Value, json};

use crate::control::{CodeBehaviour, PaymentCode};
use crate::keys::ALIPAY_SANDBOX_SELLER_ID;
use crate::notify::{self, Delivery, Outgoing, Payload, Provider};
use crate::util::{alipay_time, now_china, parse_yuan, random_digits, random_hex, random_token, rsa_sign, yuan};
use crate::{Shared, bills};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TradeStatus {
    WaitBuyerPay,
    Success,
    Closed,
}

impl TradeStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::WaitBuyerPay => "WAIT_BUYER_PAY",
            Self::Success => "TRADE_SUCCESS",
            Self::Closed => "TRADE_CLOSED",
        }
    }
}

pub(crate) struct AliRefund {
    pub(crate) out_request_no: String,
    pub(crate) amount: i64,
    pub(crate) at: DateTime<FixedOffset>,
}

pub(crate) struct Trade {
    pub(crate) app_id: String,
    pub(crate) out_trade_no: String,
    pub(crate) trade_no: String,
    pub(crate) subject: String,
    pub(crate) total: i64,
    buyer_open_id: Option<String>,
    buyer_id: Option<String>,
    logon_id: String,
    notify_url: Option<String>,
    pub(crate) status: TradeStatus,
    pub(crate) created: DateTime<FixedOffset>,
    pub(crate) paid_at: Option<DateTime<FixedOffset>>,
    pub(crate) refunds: Vec<AliRefund>,
    /// The request's business content, to tell an idempotent retry from a reused `out_trade_no`.
    fingerprint: String,
    /// For a bar-code payment waiting for the user: the query on which the payer finishes (`None`: never).
    pays_on_query: Option<u32>,
    /// Closed by a cancel that refunded the payment (`action` = `refund` on repeats).
    cancel_refunded: bool,
    pub(crate) declined: bool,
}

impl Trade {
    pub(crate) fn buyer_logon_id(&self) -> &str {
        &self.logon_id
    }

    fn refunded(&self) -> i64 {
        self.refunds.iter().map(|r| r.amount).sum()
    }

    fn paid_fields(&self, body: &mut Value) {
        body["trade_no"] = json!(self.trade_no);
        body["out_trade_no"] = json!(self.out_trade_no);
        body["buyer_logon_id"] = json!(self.logon_id);
        if let Some(open_id) = &self.buyer_open_id {
            body["buyer_open_id"] = json!(open_id);
        }
        if let Some(buyer_id) = &self.buyer_id {
            body["buyer_user_id"] = json!(buyer_id);
        }
        let paid = self.paid_at.is_some();
        let received = if paid { yuan(self.total) } else { "0.00".into() };
        body["total_amount"] = json!(yuan(self.total));
        body["receipt_amount"] = json!(received);
        body["buyer_pay_amount"] = json!(received);
        body["invoice_amount"] = json!(received);
        body["point_amount"] = json!("0.00");
        if let Some(at) = &self.paid_at {
            body["fund_bill_list"] = json!([{ "fund_channel": "ALIPAYACCOUNT", "amount": yuan(self.total) }]);
            body["send_pay_date"] = json!(alipay_time(at));
        }
    }
}

pub(crate) struct BillFile {
    name: String,
    data: Vec<u8>,
}

#[derive(Default)]
pub(crate) struct Book {
    pub(crate) trades: Vec<Trade>,
    pub(crate) codes: HashMap<String, PaymentCode>,
    pub(crate) sellers: HashMap<String, String>,
    bills: HashMap<String, BillFile>,
}

impl Book {
    pub(crate) fn seller_id(&self, app_id: &str) -> String {
        self.sellers.get(app_id).cloned().unwrap_or_else(|| ALIPAY_SANDBOX_SELLER_ID.to_owned())
    }

    /// The trade a request names by `out_trade_no` or `trade_no`.
    fn find(&self, app_id: &str, biz: &Value) -> Option<usize> {
        let out_trade_no = text(biz, "out_trade_no");
        let trade_no = text(biz, "trade_no");
        self.trades.iter().position(|t| {
            t.app_id == app_id
                && match (&trade_no, &out_trade_no) {
                    (Some(no), _) => &t.trade_no == no,
                    (None, Some(no)) => &t.out_trade_no == no,
                    (None, None) => false,
                }
        })
    }
}

/// A business answer: `(code, fields)`; failures carry `msg`/`sub_code`/`sub_msg`.
pub(crate) struct AliError {
    pub(crate) code: &'static str,
    pub(crate) msg: &'static str,
    pub(crate) sub_code: &'static str,
    pub(crate) sub_msg: String,
}

fn business(sub_code: &'static str, sub_msg: impl Into<String>) -> AliError {
    AliError { code: "40004", msg: "Business Failed", sub_code, sub_msg: sub_msg.into() }
}

fn invalid(sub_msg: impl Into<String>) -> AliError {
    business("ACQ.INVALID_PARAMETER", sub_msg)
}

fn not_exist() -> AliError {
    business("ACQ.TRADE_NOT_EXIST", "交易不存在")
}

fn success(mut body: Value) -> Value {
    body["code"] = json!("10000");
    body["msg"] = json!("Success");
    body
}

/// A biz_content string field (numbers, as some SDKs send amounts, are taken as their text).
fn text(biz: &Value, key: &str) -> Option<String> {
    match biz.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

fn required(biz: &Value, key: &str) -> Result<String, AliError> {
    text(biz, key).ok_or_else(|| invalid(format!("缺少必选参数{key}")))
}

fn amount(biz: &Value, key: &str) -> Result<i64, AliError> {
    let raw = required(biz, key)?;
    parse_yuan(&raw)
        .filter(|fen| (1..=10_000_000_000).contains(fen))
        .ok_or_else(|| invalid(format!("{key}金额格式错误，取值范围[0.01,100000000]，最多两位小数")))
}

fn trade_no() -> String {
    format!("{}22001{}", now_china().format("%Y%m%d"), random_digits(15))
}

fn masked_logon() -> String {
    format!("1{}****{}", random_digits(2), random_digits(4))
}

/// Signs an async notification form: RSA2 over the sorted `k=v&…` of every field except `sign` and `sign_type`.
pub(crate) fn sign_notify_form(key: &RsaPrivateKey, fields: Vec<(String, String)>) -> Vec<(String, String)> {
    let sorted: BTreeMap<String, String> =
        fields.into_iter().filter(|(k, _)| k != "sign" && k != "sign_type").collect();
    let content = sorted.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    let sign = rsa_sign(key, content.as_bytes());
    let mut form: Vec<(String, String)> = sorted.into_iter().collect();
    form.push(("sign".into(), sign));
    form.push(("sign_type".into(), "RSA2".into()));
    form
}

fn paid_notification(shared: &Shared, book: &Book, index: usize) -> Option<Outgoing> {
    let trade = book.trades.get(index)?;
    let url = trade.notify_url.clone()?;
    let paid_at = trade.paid_at?;
    let total = yuan(trade.total);
    let notify_id = format!("{}{}", random_hex(34), random_digits(2));
    let mut fields: Vec<(String, String)> = vec![
        ("notify_time".into(), alipay_time(&now_china())),
        ("notify_type".into(), "trade_status_sync".into()),
        ("notify_id".into(), notify_id.clone()),
        ("app_id".into(), trade.app_id.clone()),
        ("auth_app_id".into(), trade.app_id.clone()),
        ("charset".into(), "utf-8".into()),
        ("version".into(), "1.0".into()),
        ("trade_no".into(), trade.trade_no.clone()),
        ("out_trade_no".into(), trade.out_trade_no.clone()),
        ("seller_id".into(), book.seller_id(&trade.app_id)),
        ("trade_status".into(), "TRADE_SUCCESS".into()),
        ("total_amount".into(), total.clone()),
        ("receipt_amount".into(), total.clone()),
        ("invoice_amount".into(), total.clone()),
        ("buyer_pay_amount".into(), total.clone()),
        ("point_amount".into(), "0.00".into()),
        ("gmt_create".into(), alipay_time(&trade.created)),
        ("gmt_payment".into(), alipay_time(&paid_at)),
        ("subject".into(), trade.subject.clone()),
        ("buyer_logon_id".into(), trade.logon_id.clone()),
        // The notify form spells the fund channel in camelCase, unlike the API answers.
        ("fund_bill_list".into(), json!([{ "amount": total, "fundChannel": "ALIPAYACCOUNT" }]).to_string()),
    ];
    if let Some(open_id) = &trade.buyer_open_id {
        fields.push(("buyer_open_id".into(), open_id.clone()));
    }
    if let Some(buyer_id) = &trade.buyer_id {
        fields.push(("buyer_id".into(), buyer_id.clone()));
    }
    Some(Outgoing {
        provider: Provider::Alipay,
        event_id: notify_id,
        kind: "TRADE_SUCCESS".into(),
        url,
        out_trade_no: trade.out_trade_no.clone(),
        payload: Payload::Alipay { form: sign_notify_form(&shared.keys.alipay, fields) },
    })
}

fn mark_paid(trade: &mut Trade) {
    trade.status = TradeStatus::Success;
    trade.paid_at = Some(now_china());
    trade.pays_on_query = None;
}

/// A trade method's answer: the `<method>_response` body and, maybe, a notification to send.
pub(crate) type Handled = (Value, Option<Outgoing>);

/// Dispatches one `alipay.trade.*` / bill call; `None` for methods this module doesn't know.
pub(crate) fn handle(
    shared: &Arc<Shared>,
    method: &str,
    params: &BTreeMap<String, String>,
    host: &str,
) -> Option<Result<Handled, AliError>> {
    let app_id = params.get("app_id").cloned().unwrap_or_default();
    let biz: Value = match params.get("biz_content").map(|b| serde_json::from_str::<Value>(b)) {
        Some(Ok(v)) if v.is_object() => v,
        None => json!({}),
        Some(_) => {
            return Some(Err(AliError {
                code: "40002",
                msg: "Invalid Arguments",
                sub_code: "isv.invalid-parameter",
                sub_msg: "biz_content不是合法的JSON".into(),
            }));
        }
    };
    let notify_url = params.get("notify_url").filter(|u| !u.is_empty()).cloned();
    let mut state = shared.state();
    let book = &mut state.alipay;
    let result = match method {
        "alipay.trade.create" => create(book, &app_id, &biz, notify_url).map(|v| (v, None)),
        "alipay.trade.pay" => pay(shared, book, &app_id, &biz, notify_url),
        "alipay.trade.query" => query(shared, book, &app_id, &biz),
        "alipay.trade.close" => close(book, &app_id, &biz).map(|v| (v, None)),
        "alipay.trade.cancel" => cancel(book, &app_id, &biz).map(|v| (v, None)),
        "alipay.trade.refund" => refund(book, &app_id, &biz).map(|v| (v, None)),
        "alipay.trade.fastpay.refund.query" => refund_query(book, &app_id, &biz).map(|v| (v, None)),
        "alipay.data.dataservice.bill.downloadurl.query" => bill_url(book, &app_id, &biz, host).map(|v| (v, None)),
        _ => return None,
    };
    Some(result)
}

fn create(book: &mut Book, app_id: &str, biz: &Value, notify_url: Option<String>) -> Result<Value, AliError> {
    let out_trade_no = required(biz, "out_trade_no")?;
    if out_trade_no.len() > 64 {
        return Err(invalid("out_trade_no超出长度限制"));
    }
    let total = amount(biz, "total_amount")?;
    let subject = required(biz, "subject")?;
    let buyer_open_id = text(biz, "buyer_open_id");
    let buyer_id = text(biz, "buyer_id");
    if buyer_open_id.is_none() && buyer_id.is_none() {
        return Err(invalid("buyer_open_id和buyer_id不能同时为空"));
    }
    let product_code = text(biz, "product_code");
    let op_app_id = text(biz, "op_app_id");
    let fingerprint = json!(["create", total, subject, buyer_open_id, buyer_id, product_code, op_app_id]).to_string();
    if let Some(index) = book.find(app_id, &json!({ "out_trade_no": out_trade_no })) {
        let trade = &book.trades[index];
        return match trade.status {
            TradeStatus::Success => Err(business("ACQ.TRADE_HAS_SUCCESS", "交易已被支付")),
            TradeStatus::Closed => Err(business("ACQ.TRADE_HAS_CLOSE", "交易已经关闭")),
            TradeStatus::WaitBuyerPay if trade.fingerprint == fingerprint => {
                Ok(success(json!({ "out_trade_no": trade.out_trade_no, "trade_no": trade.trade_no })))
            }
            TradeStatus::WaitBuyerPay => Err(business("ACQ.CONTEXT_INCONSISTENT", "交易信息被篡改")),
        };
    }
    let trade = Trade {
        app_id: app_id.to_owned(),
        out_trade_no,
        trade_no: trade_no(),
        subject,
        total,
        buyer_open_id,
        buyer_id,
        logon_id: masked_logon(),
        notify_url,
        status: TradeStatus::WaitBuyerPay,
        created: now_china(),
        paid_at: None,
        refunds: Vec::new(),
        fingerprint,
        pays_on_query: None,
        cancel_refunded: false,
        declined: false,
    };
    let answer = success(json!({ "out_trade_no": trade.out_trade_no, "trade_no": trade.trade_no }));
    book.trades.push(trade);
    Ok(answer)
}

fn wait_for_user(trade: &Trade) -> Value {
    let mut body = json!({ "code": "10003", "msg": " order success pay inprocess" });
    trade.paid_fields(&mut body);
    body
}

fn pay(
    shared: &Shared,
    book: &mut Book,
    app_id: &str,
    biz: &Value,
    notify_url: Option<String>,
) -> Result<Handled, AliError> {
    let out_trade_no = required(biz, "out_trade_no")?;
    let scene = required(biz, "scene")?;
    if scene != "bar_code" && scene != "security_code" {
        return Err(invalid("scene取值错误，应为bar_code或security_code"));
    }
    let auth_code = required(biz, "auth_code")?;
    let subject = required(biz, "subject")?;
    let total = amount(biz, "total_amount")?;
    let fingerprint = json!(["pay", total, subject, auth_code]).to_string();
    if let Some(index) = book.find(app_id, &json!({ "out_trade_no": out_trade_no })) {
        let trade = &book.trades[index];
        if trade.fingerprint != fingerprint {
            return Err(business("ACQ.CONTEXT_INCONSISTENT", "交易信息被篡改"));
        }
        return match trade.status {
            TradeStatus::Success => Err(business("ACQ.TRADE_HAS_SUCCESS", "交易已被支付")),
            TradeStatus::Closed => Err(business("ACQ.TRADE_HAS_CLOSE", "交易已经关闭")),
            TradeStatus::WaitBuyerPay => Ok((wait_for_user(trade), None)),
        };
    }
    let valid_format = (16..=24).contains(&auth_code.len())
        && auth_code.bytes().all(|b| b.is_ascii_digit())
        && matches!(auth_code.get(..2), Some("25" | "26" | "27" | "28" | "29" | "30"));
    let code = book.codes.get_mut(&auth_code).filter(|c| valid_format && !c.used).ok_or_else(|| {
        business(
            "ACQ.PAYMENT_AUTH_CODE_INVALID",
            "支付失败，获取顾客账户信息失败，请顾客刷新付款码后重新收款，如再次收款失败，请联系管理员处理。[SOUNDWAVE_PARSER_FAIL]",
        )
    })?;
    code.used = true;
    let (behaviour, payer) = (code.behaviour, code.payer.clone());
    let mut trade = Trade {
        app_id: app_id.to_owned(),
        out_trade_no,
        trade_no: trade_no(),
        subject,
        total,
        buyer_open_id: Some(payer),
        buyer_id: None,
        logon_id: masked_logon(),
        notify_url,
        status: TradeStatus::WaitBuyerPay,
        created: now_china(),
        paid_at: None,
        refunds: Vec::new(),
        fingerprint,
        pays_on_query: None,
        cancel_refunded: false,
        declined: false,
    };
    let result = match behaviour {
        CodeBehaviour::Pays => {
            mark_paid(&mut trade);
            let mut body = success(json!({}));
            trade.paid_fields(&mut body);
            body["gmt_payment"] = body["send_pay_date"].take();
            if let Some(map) = body.as_object_mut() {
                map.remove("send_pay_date");
            }
            Ok(body)
        }
        CodeBehaviour::UserPaying { paid_after_queries } => {
            trade.pays_on_query = paid_after_queries;
            Ok(wait_for_user(&trade))
        }
        CodeBehaviour::Declined => {
            trade.status = TradeStatus::Closed;
            Err(business("ACQ.BUYER_BALANCE_NOT_ENOUGH", "买家余额不足"))
        }
    };
    book.trades.push(trade);
    let index = book.trades.len() - 1;
    match result {
        Ok(body) => {
            let outgoing =
                if book.trades[index].paid_at.is_some() { paid_notification(shared, book, index) } else { None };
            Ok((body, outgoing))
        }
        Err(e) => Err(e),
    }
}

fn query(shared: &Shared, book: &mut Book, app_id: &str, biz: &Value) -> Result<Handled, AliError> {
    let index = book.find(app_id, biz).ok_or_else(not_exist)?;
    let trade = &mut book.trades[index];
    let mut outgoing = None;
    if trade.status == TradeStatus::WaitBuyerPay {
        match trade.pays_on_query {
            Some(n) if n <= 1 => {
                mark_paid(trade);
                outgoing = Some(());
            }
            Some(n) => trade.pays_on_query = Some(n - 1),
            None => {}
        }
    }
    let trade = &book.trades[index];
    let mut body = success(json!({ "trade_status": trade.status.as_str() }));
    trade.paid_fields(&mut body);
    let outgoing = outgoing.and_then(|()| paid_notification(shared, book, index));
    Ok((body, outgoing))
}

fn close(book: &mut Book, app_id: &str, biz: &Value) -> Result<Value, AliError> {
    let index = book.find(app_id, biz).ok_or_else(not_exist)?;
    let trade = &mut book.trades[index];
    match trade.status {
        TradeStatus::Success => Err(business("ACQ.TRADE_STATUS_ERROR", "交易状态不合法")),
        TradeStatus::WaitBuyerPay | TradeStatus::Closed if trade.paid_at.is_none() => {
            trade.status = TradeStatus::Closed;
            Ok(success(json!({ "trade_no": trade.trade_no, "out_trade_no": trade.out_trade_no })))
        }
        _ => Err(business("ACQ.TRADE_STATUS_ERROR", "交易状态不合法")),
    }
}

/// 撤销: closes an unpaid trade (`action` close) or refunds a paid one in full (`action` refund).
fn cancel(book: &mut Book, app_id: &str, biz: &Value) -> Result<Value, AliError> {
    let index = book.find(app_id, biz).ok_or_else(not_exist)?;
    let trade = &mut book.trades[index];
    let action = match trade.status {
        TradeStatus::WaitBuyerPay => {
            trade.status = TradeStatus::Closed;
            "close"
        }
        TradeStatus::Success => {
            let remaining = trade.total - trade.refunded();
            if remaining > 0 {
                let out_request_no = trade.out_trade_no.clone();
                trade.refunds.push(AliRefund { out_request_no, amount: remaining, at: now_china() });
            }
            trade.status = TradeStatus::Closed;
            trade.cancel_refunded = true;
            "refund"
        }
        TradeStatus::Closed if trade.cancel_refunded => "refund",
        TradeStatus::Closed => "close",
    };
    let mut body = success(json!({
        "trade_no": trade.trade_no,
        "out_trade_no": trade.out_trade_no,
        "retry_flag": "N",
        "action": action,
    }));
    if action == "refund"
        && let Some(refund) = trade.refunds.last()
    {
        body["gmt_refund_pay"] = json!(alipay_time(&refund.at));
    }
    Ok(body)
}

fn refund(book: &mut Book, app_id: &str, biz: &Value) -> Result<Value, AliError> {
    let index = book.find(app_id, biz).ok_or_else(not_exist)?;
    let amount = amount(biz, "refund_amount")?;
    let trade = &mut book.trades[index];
    // Without out_request_no Alipay treats the call as the trade's single (full or one-off) refund.
    let out_request_no = text(biz, "out_request_no").unwrap_or_else(|| trade.out_trade_no.clone());
    let answer = |trade: &Trade, fund_change: &str, at: &DateTime<FixedOffset>, send_back: i64| {
        let mut body = success(json!({
            "trade_no": trade.trade_no,
            "out_trade_no": trade.out_trade_no,
            "buyer_logon_id": trade.logon_id,
            "fund_change": fund_change,
            "refund_fee": yuan(trade.refunded()),
            "gmt_refund_pay": alipay_time(at),
            "send_back_fee": yuan(send_back),
        }));
        if let Some(open_id) = &trade.buyer_open_id {
            body["buyer_open_id"] = json!(open_id);
        }
        body
    };
    if let Some(existing) = trade.refunds.iter().find(|r| r.out_request_no == out_request_no) {
        if existing.amount != amount {
            return Err(business("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额与原退款请求不一致"));
        }
        // A repeat of a done refund: the same result, and no money moves again.
        return Ok(answer(trade, "N", &existing.at, 0));
    }
    if trade.paid_at.is_none() || trade.cancel_refunded {
        return Err(business("ACQ.TRADE_STATUS_ERROR", "交易状态不合法"));
    }
    if amount > trade.total - trade.refunded() {
        return Err(business("ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限"));
    }
    let at = now_china();
    trade.refunds.push(AliRefund { out_request_no, amount, at });
    if trade.refunded() >= trade.total {
        trade.status = TradeStatus::Closed;
    }
    Ok(answer(trade, "Y", &at, amount))
}

fn refund_query(book: &mut Book, app_id: &str, biz: &Value) -> Result<Value, AliError> {
    let index = book.find(app_id, biz).ok_or_else(not_exist)?;
    let out_request_no = required(biz, "out_request_no")?;
    let trade = &book.trades[index];
    let mut body = success(json!({ "trade_no": trade.trade_no, "out_trade_no": trade.out_trade_no }));
    // An unknown out_request_no is still a success, just without refund fields: the refund did not happen.
    if let Some(refund) = trade.refunds.iter().find(|r| r.out_request_no == out_request_no) {
        body["out_request_no"] = json!(refund.out_request_no);
        body["total_amount"] = json!(yuan(trade.total));
        body["refund_amount"] = json!(yuan(refund.amount));
        body["refund_status"] = json!("REFUND_SUCCESS");
        body["gmt_refund_pay"] = json!(alipay_time(&refund.at));
    }
    Ok(body)
}

fn bill_url(book: &mut Book, app_id: &str, biz: &Value, host: &str) -> Result<Value, AliError> {
    let bill_type = required(biz, "bill_type")?;
    if bill_type != "trade" {
        return Err(business("isp.bill_not_exist", "账单不存在（沙箱只提供trade账单）"));
    }
    let raw_date = required(biz, "bill_date")?;
    let day = NaiveDate::parse_from_str(&raw_date, "%Y-%m-%d")
        .map_err(|_| invalid("bill_date格式错误，日账单格式为yyyy-MM-dd"))?;
    if day > now_china().date_naive() {
        return Err(business("isp.bill_not_exist", "账单不存在"));
    }
    let pid = book.seller_id(app_id);
    let (name, data) = bills::alipay_tradebill(book, app_id, &pid, day).map_err(|e| AliError {
        code: "20000",
        msg: "Service Currently Unavailable",
        sub_code: "isp.unknow-error",
        sub_msg: e,
    })?;
    let token = random_token(32);
    let url = format!(
        "{host}/downloadBillFile.resource?bizType=trade&userId={pid}&fileType=csv.zip&bizDates={}&downloadFileName={}&fileId=%2Ftrade%2F{pid}%2F{}&timestamp={}&token={token}",
        day.format("%Y%m%d"),
        urlencoding::encode(&name),
        day.format("%Y%m%d"),
        chrono::Utc::now().timestamp_millis(),
    );
    book.bills.insert(token, BillFile { name, data });
    Ok(success(json!({ "bill_download_url": url })))
}

/// The bill file behind a `bill_download_url` (no signature: the token is the credential, as at Alipay).
pub(crate) fn bill_file(book: &Book, token: &str) -> Option<(String, Vec<u8>)> {
    book.bills.get(token).map(|f| (f.name.clone(), f.data.clone()))
}

// ---- control -------------------------------------------------------------------------------------------------

fn find_unique(book: &Book, out_trade_no: &str) -> Result<usize, String> {
    let mut matches = book.trades.iter().enumerate().filter(|(_, t)| t.out_trade_no == out_trade_no);
    match (matches.next(), matches.next()) {
        (Some((index, _)), None) => Ok(index),
        (None, _) => Err(format!("no Alipay trade {out_trade_no}")),
        (Some(_), Some(_)) => Err(format!("out_trade_no {out_trade_no} exists in several apps")),
    }
}

pub(crate) fn control_pay(shared: &Arc<Shared>, out_trade_no: &str, delivery: Delivery) -> Result<(), String> {
    let outgoing = {
        let mut state = shared.state();
        let book = &mut state.alipay;
        let index = find_unique(book, out_trade_no)?;
        let trade = &mut book.trades[index];
        match trade.status {
            TradeStatus::WaitBuyerPay => mark_paid(trade),
            TradeStatus::Success => return Err(format!("{out_trade_no} is already paid")),
            TradeStatus::Closed => return Err(format!("{out_trade_no} is closed")),
        }
        paid_notification(shared, book, index)
    };
    if let Some(outgoing) = outgoing {
        notify::dispatch(shared, outgoing, delivery);
    }
    Ok(())
}

/// The buyer backs out: the trade closes, and Alipay sends no notification for it.
pub(crate) fn control_decline(shared: &Shared, out_trade_no: &str) -> Result<(), String> {
    let mut state = shared.state();
    let book = &mut state.alipay;
    let index = find_unique(book, out_trade_no)?;
    let trade = &mut book.trades[index];
    if trade.status != TradeStatus::WaitBuyerPay {
        return Err(format!("{out_trade_no} is {}", trade.status.as_str()));
    }
    trade.status = TradeStatus::Closed;
    trade.declined = true;
    Ok(())
}

pub(crate) fn pending(trade: &Trade) -> bool {
    trade.status == TradeStatus::WaitBuyerPay && !trade.declined
}
