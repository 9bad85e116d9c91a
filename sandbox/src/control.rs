//! What a payer does, scripted: pay or decline an order, and payment codes (付款码) whose behaviour is chosen in
//! advance. Used by `FakeProviders`' methods (integration tests) and by the `/sandbox` page (a person).

use std::sync::Arc;

use rand::Rng;

use crate::notify::{Delivery, Provider};
use crate::util::{random_digits, random_token, rfc3339};
use crate::{Shared, alipay_trade, wechatpay};

/// What happens when a cashier scans a payment code made by `wechat_payment_code` / `alipay_payment_code`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeBehaviour {
    /// Paid at once (small amount, no password): the pay call answers success.
    Pays,
    /// The payer must enter a password: WeChat Pay answers 202 USERPAYING (v2: `err_code` USERPAYING), Alipay
    /// 10003. The order then waits;
    /// with `Some(n)` the payer finishes while the n-th order query is answered (queries before it still see
    /// USERPAYING / WAIT_BUYER_PAY; `Some(0)` and `Some(1)` both mean "the first query sees it paid"); with `None`
    /// never (until `pay()`, `decline()`, close or reverse).
    UserPaying { paid_after_queries: Option<u32> },
    /// Payment refused (WeChat Pay: 403 NOT_ENOUGH, v2 `err_code` NOTENOUGH; Alipay: 40004
    /// ACQ.BUYER_BALANCE_NOT_ENOUGH).
    Declined,
}

pub(crate) struct PaymentCode {
    pub(crate) behaviour: CodeBehaviour,
    /// The payer's openid (WeChat) or open_id (Alipay).
    pub(crate) payer: String,
    pub(crate) used: bool,
}

/// One order or trade as the control page lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderSummary {
    pub provider: Provider,
    /// The WeChat Pay mchid or the Alipay app id.
    pub merchant: String,
    pub out_trade_no: String,
    pub amount_fen: i64,
    pub description: String,
    /// WeChat's `trade_state` or Alipay's `trade_status`.
    pub state: String,
    /// RFC 3339, Beijing time.
    pub created: String,
    /// Waiting for the payer (the page offers Pay / Decline).
    pub pending: bool,
}

/// A fresh WeChat payment code: 18 digits starting 10–15.
pub(crate) fn new_wechat_code(shared: &Shared, behaviour: CodeBehaviour) -> String {
    let mut state = shared.state();
    loop {
        let code = format!("1{}{}", rand::thread_rng().gen_range(0..6u8), random_digits(16));
        if !state.wechatpay.codes.contains_key(&code) {
            let payer = format!("o{}", random_token(27));
            state.wechatpay.codes.insert(code.clone(), PaymentCode { behaviour, payer, used: false });
            return code;
        }
    }
}

/// A fresh Alipay payment code: `28` and 16 digits.
pub(crate) fn new_alipay_code(shared: &Shared, behaviour: CodeBehaviour) -> String {
    let mut state = shared.state();
    loop {
        let code = format!("28{}", random_digits(16));
        if !state.alipay.codes.contains_key(&code) {
            let payer = format!("0{}", random_digits(29));
            state.alipay.codes.insert(code.clone(), PaymentCode { behaviour, payer, used: false });
            return code;
        }
    }
}

pub(crate) fn pay(
    shared: &Arc<Shared>,
    provider: Provider,
    out_trade_no: &str,
    delivery: Delivery,
) -> Result<(), String> {
    match provider {
        Provider::WechatPay => wechatpay::control_pay(shared, out_trade_no, delivery),
        Provider::Alipay => alipay_trade::control_pay(shared, out_trade_no, delivery),
    }
}

pub(crate) fn decline(shared: &Shared, provider: Provider, out_trade_no: &str) -> Result<(), String> {
    match provider {
        Provider::WechatPay => wechatpay::control_decline(shared, out_trade_no),
        Provider::Alipay => alipay_trade::control_decline(shared, out_trade_no),
    }
}

/// Every order both fakes know, oldest first.
pub(crate) fn orders(shared: &Shared) -> Vec<OrderSummary> {
    let state = shared.state();
    let wechat = state.wechatpay.orders.iter().map(|o| {
        (
            o.created,
            OrderSummary {
                provider: Provider::WechatPay,
                merchant: o.mchid.clone(),
                out_trade_no: o.out_trade_no.clone(),
                amount_fen: o.total,
                description: o.description.clone(),
                state: o.state.as_str().to_owned(),
                created: rfc3339(&o.created),
                pending: wechatpay::pending(o),
            },
        )
    });
    let alipay = state.alipay.trades.iter().map(|t| {
        (
            t.created,
            OrderSummary {
                provider: Provider::Alipay,
                merchant: t.app_id.clone(),
                out_trade_no: t.out_trade_no.clone(),
                amount_fen: t.total,
                description: t.subject.clone(),
                state: t.status.as_str().to_owned(),
                created: rfc3339(&t.created),
                pending: alipay_trade::pending(t),
            },
        )
    });
    let mut all: Vec<_> = wechat.chain(alipay).collect();
    all.sort_by_key(|(created, _)| *created);
    all.into_iter().map(|(_, summary)| summary).collect()
}
