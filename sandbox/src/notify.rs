//! Outgoing callbacks: WeChat Pay's signed JSON notifications and Alipay's signed form posts.
//!
//! Real providers retry on a schedule measured in minutes and hours (WeChat: 15s/15s/30s/3m/…, Alipay:
//! 4m/10m/10m/1h/…); here the schedule is compressed to a base delay (default 200 ms) that doubles per try, up
//! to a maximum number of tries (default 8), so tests see redelivery within seconds. What counts as accepted
//! follows each provider: WeChat Pay wants HTTP 200 or 204, Alipay wants the body to be exactly `success`.
//!
//! Each notification can be sent several times (sequentially or at once), after a delay, or held back until
//! `release_held()`, so a client's idempotency and ordering can be exercised. Every attempt is recorded.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::Shared;
use crate::util::now_china;

/// Which provider an order or notification belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Provider {
    WechatPay,
    Alipay,
}

impl Provider {
    /// `wechatpay` or `alipay`, as in the control routes.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::WechatPay => "wechatpay",
            Self::Alipay => "alipay",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "wechatpay" | "wechat" => Some(Self::WechatPay),
            "alipay" => Some(Self::Alipay),
            _ => None,
        }
    }
}

/// How a notification is delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// How many copies of the same notification (same id) are sent; at least one is.
    pub duplicates: u32,
    /// Send the copies at the same time rather than one after the other.
    pub concurrent: bool,
    /// Wait this long before the first send.
    pub delay: Duration,
    /// Hold the notification until `release_held()` (to deliver it out of order, or late).
    pub hold: bool,
}

impl Default for Delivery {
    fn default() -> Self {
        Self { duplicates: 1, concurrent: false, delay: Duration::ZERO, hold: false }
    }
}

/// A notification the fake decided to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    pub provider: Provider,
    /// WeChat Pay's event `id` (`EV-…`) or Alipay's `notify_id`.
    pub event_id: String,
    /// WeChat Pay's `event_type` (`TRANSACTION.SUCCESS`, `REFUND.SUCCESS`) or Alipay's `trade_status`.
    pub kind: String,
    pub url: String,
    pub out_trade_no: String,
    /// The exact body as sent: JSON for WeChat Pay, `application/x-www-form-urlencoded` for Alipay.
    pub body: String,
    /// Still waiting for `release_held()`.
    pub held: bool,
    /// Some copy was accepted by the receiver.
    pub delivered: bool,
}

/// One HTTP attempt to deliver a notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryAttempt {
    pub provider: Provider,
    pub url: String,
    pub event_id: String,
    /// Which copy (1-based) when duplicates were asked for.
    pub copy: u32,
    /// 1 for the first try, 2 for the first retry, …
    pub attempt: u32,
    /// The receiver's HTTP status; `None` if the request failed (connection refused, timeout).
    pub status: Option<u16>,
    /// Whether the provider would count this attempt as delivered.
    pub accepted: bool,
    /// Why the request failed, if it did.
    pub error: Option<String>,
}

pub(crate) enum Payload {
    /// Headers are made per attempt (fresh timestamp and nonce, as WeChat Pay does); the body stays the same.
    WechatPay {
        body: String,
    },
    Alipay {
        form: Vec<(String, String)>,
    },
}

pub(crate) struct Outgoing {
    pub(crate) provider: Provider,
    pub(crate) event_id: String,
    pub(crate) kind: String,
    pub(crate) url: String,
    pub(crate) out_trade_no: String,
    pub(crate) payload: Payload,
}

impl Outgoing {
    fn body_text(&self) -> String {
        match &self.payload {
            Payload::WechatPay { body } => body.clone(),
            Payload::Alipay { form } => form_encode(form),
        }
    }
}

pub(crate) fn form_encode(form: &[(String, String)]) -> String {
    form.iter()
        .map(|(k, v)| format!("{}={}", urlencoding::encode(k), urlencoding::encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

pub(crate) struct Log {
    pub(crate) notifications: Vec<Notification>,
    pub(crate) attempts: Vec<DeliveryAttempt>,
    held: Vec<(Arc<Outgoing>, Delivery)>,
    pub(crate) retry_base: Duration,
    pub(crate) max_attempts: u32,
}

impl Default for Log {
    fn default() -> Self {
        Self {
            notifications: Vec::new(),
            attempts: Vec::new(),
            held: Vec::new(),
            retry_base: Duration::from_millis(200),
            max_attempts: 8,
        }
    }
}

/// Records the notification and starts delivering it (or holds it).
pub(crate) fn dispatch(shared: &Arc<Shared>, outgoing: Outgoing, delivery: Delivery) {
    let outgoing = Arc::new(outgoing);
    {
        let mut state = shared.state();
        state.notify.notifications.push(Notification {
            provider: outgoing.provider,
            event_id: outgoing.event_id.clone(),
            kind: outgoing.kind.clone(),
            url: outgoing.url.clone(),
            out_trade_no: outgoing.out_trade_no.clone(),
            body: outgoing.body_text(),
            held: delivery.hold,
            delivered: false,
        });
        if delivery.hold {
            state.notify.held.push((outgoing, delivery));
            return;
        }
    }
    start(shared, outgoing, delivery);
}

/// Sends every held notification now, in the order they were held. Returns how many.
pub(crate) fn release_held(shared: &Arc<Shared>) -> usize {
    let held = {
        let mut state = shared.state();
        let held = std::mem::take(&mut state.notify.held);
        for (outgoing, _) in &held {
            for n in state.notify.notifications.iter_mut().filter(|n| n.event_id == outgoing.event_id) {
                n.held = false;
            }
        }
        held
    };
    let count = held.len();
    for (outgoing, delivery) in held {
        start(shared, outgoing, delivery);
    }
    count
}

fn start(shared: &Arc<Shared>, outgoing: Arc<Outgoing>, delivery: Delivery) {
    shared.in_flight.fetch_add(1, Ordering::SeqCst);
    let task_shared = shared.clone();
    shared.rt.spawn(async move {
        if !delivery.delay.is_zero() {
            tokio::time::sleep(delivery.delay).await;
        }
        let copies = delivery.duplicates.max(1);
        if delivery.concurrent {
            let handles: Vec<_> = (1..=copies)
                .map(|copy| {
                    let (s, o) = (task_shared.clone(), outgoing.clone());
                    task_shared.rt.spawn(async move { deliver_copy(&s, &o, copy).await })
                })
                .collect();
            for handle in handles {
                // A panicking copy only loses that copy; the others were already recorded.
                let _ = handle.await;
            }
        } else {
            for copy in 1..=copies {
                deliver_copy(&task_shared, &outgoing, copy).await;
            }
        }
        task_shared.in_flight.fetch_sub(1, Ordering::SeqCst);
    });
}

async fn deliver_copy(shared: &Arc<Shared>, outgoing: &Outgoing, copy: u32) {
    let (base, max) = {
        let state = shared.state();
        (state.notify.retry_base, state.notify.max_attempts.max(1))
    };
    let mut wait = base;
    for attempt in 1..=max {
        let (status, accepted, error) = send_once(shared, outgoing).await;
        {
            let mut state = shared.state();
            state.notify.attempts.push(DeliveryAttempt {
                provider: outgoing.provider,
                url: outgoing.url.clone(),
                event_id: outgoing.event_id.clone(),
                copy,
                attempt,
                status,
                accepted,
                error,
            });
            if accepted {
                for n in state.notify.notifications.iter_mut().filter(|n| n.event_id == outgoing.event_id) {
                    n.delivered = true;
                }
            }
        }
        if accepted {
            return;
        }
        if attempt < max {
            tokio::time::sleep(wait).await;
            wait = wait.saturating_mul(2);
        }
    }
    tracing::warn!(event_id = %outgoing.event_id, url = %outgoing.url, "sandbox gave up delivering a notification");
}

async fn send_once(shared: &Shared, outgoing: &Outgoing) -> (Option<u16>, bool, Option<String>) {
    let request = match &outgoing.payload {
        Payload::WechatPay { body } => {
            let mut request = shared
                .http
                .post(&outgoing.url)
                .header("Content-Type", "application/json")
                .header("User-Agent", "Mozilla/4.0")
                .body(body.clone());
            for (name, value) in crate::wechatpay::signature_headers(shared, body, false) {
                request = request.header(name, value);
            }
            request
        }
        Payload::Alipay { form } => shared
            .http
            .post(&outgoing.url)
            .header("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
            .body(form_encode(form)),
    };
    match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            let accepted = match outgoing.provider {
                // "接收成功：HTTP应答状态码需返回200或204，无需返回应答报文。"
                Provider::WechatPay => status == 200 || status == 204,
                // Anything but the exact text `success` makes Alipay redeliver.
                Provider::Alipay => response.text().await.is_ok_and(|text| text == "success"),
            };
            (Some(status), accepted, None)
        }
        Err(e) => (None, false, Some(e.to_string())),
    }
}

/// `EV-` and 19 digits, like WeChat Pay's event ids.
pub(crate) fn wechat_event_id() -> String {
    format!("EV-{}{}", now_china().format("%Y%m%d%H%M%S"), crate::util::random_digits(5))
}
