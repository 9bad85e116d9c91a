//! Text messages (短信) through Aliyun SMS ([`aliyun`], dysmsapi) and Tencent Cloud SMS ([`tencent`]): the accounts
//! tests register, the messages accepted, their delivery receipts (回执) and members' replies (上行), and the test
//! API on [`FakeProviders`].
//!
//! What both providers do alike and the fake keeps: a message goes out only with a sign (签名) and a template the
//! provider approved for the account; the member sees `【sign】` and the template with its variables filled in;
//! billing counts 70 characters for a single message and 67 per part of a longer one (Aliyun's "短信计费规则",
//! Tencent's "计费说明"). Receipts come from the carrier a moment after acceptance; here at once, so a test sees
//! them without waiting. Aliyun pushes them (and replies) to the account's HTTP callback; Tencent keeps them until
//! pulled. Sources are named in each provider's module.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::util::{china, random_hex};
use crate::{FakeProviders, Shared};

pub(crate) mod aliyun;
pub(crate) mod tencent;

/// Which SMS provider an account or message belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SmsProvider {
    Aliyun,
    Tencent,
}

/// A message the provider accepted (one per number).
#[derive(Clone, Debug)]
pub struct SentSms {
    pub provider: SmsProvider,
    /// 11 mainland digits, without `+86`.
    pub phone: String,
    pub sign_name: String,
    /// Aliyun `TemplateCode` / Tencent `TemplateId`.
    pub template_code: String,
    /// Aliyun: the template's variables with the values given, in template order. Tencent: `("1", v1)`, `("2", v2)`…
    pub params: Vec<(String, String)>,
    /// What the member reads: `【sign】` and the filled template.
    pub content: String,
    /// The caller's own key: Aliyun `OutId` / Tencent `SessionContext`.
    pub key: Option<String>,
    /// Aliyun `BizId` (shared by the numbers of one call) / Tencent `SerialNo`.
    pub provider_id: String,
    pub at: DateTime<Utc>,
}

/// An account and what the provider approved for it.
pub(crate) struct Account {
    pub(crate) secret: String,
    /// Tencent `SmsSdkAppId`.
    pub(crate) app_id: Option<String>,
    pub(crate) signs: Vec<String>,
    /// (code, text).
    pub(crate) templates: Vec<(String, String)>,
}

impl Account {
    pub(crate) fn has_sign(&self, sign: &str) -> bool {
        self.signs.iter().any(|s| s == sign)
    }

    pub(crate) fn template(&self, code: &str) -> Option<&str> {
        self.templates.iter().find(|(c, _)| c == code).map(|(_, text)| text.as_str())
    }
}

/// A message accepted and its receipt.
pub(crate) struct Record {
    pub(crate) sms: SentSms,
    /// Who may ask about it: the AccessKeyId (Aliyun) or SmsSdkAppId (Tencent) that sent it.
    pub(crate) owner: String,
    pub(crate) delivered: bool,
    pub(crate) reported_at: DateTime<Utc>,
    /// Tencent: `PullSmsSendStatus` has handed the receipt out (it does so once).
    pub(crate) pulled: bool,
}

impl Record {
    /// The carrier's status word: `DELIVERED` at Aliyun (`DELIVRD` at Tencent), else an Aliyun-style carrier code.
    pub(crate) fn carrier_code(&self) -> &'static str {
        if self.delivered { "DELIVERED" } else { "MK:0001" }
    }
}

/// A member's reply held for Tencent's `PullSmsReplyStatus` (Aliyun's are pushed at once).
pub(crate) struct Reply {
    pub(crate) sign_name: String,
    pub(crate) phone: String,
    pub(crate) text: String,
    pub(crate) at: DateTime<Utc>,
    pub(crate) pulled: bool,
}

#[derive(Default)]
pub(crate) struct Book {
    pub(crate) accounts: HashMap<(SmsProvider, String), Account>,
    pub(crate) records: Vec<Record>,
    pub(crate) replies: Vec<Reply>,
    failing: HashSet<String>,
    late_left: usize,
    late_delay: Duration,
    throttle_left: usize,
    report_url: Option<String>,
    up_url: Option<String>,
    /// Aliyun `SignatureNonce`s seen in the last 15 minutes, with when.
    pub(crate) nonces: HashMap<String, DateTime<Utc>>,
    up_sequence: u64,
}

/// What happens to a send that passed every check.
pub(crate) enum Gate {
    /// Refused with the provider's throttling error; nothing recorded.
    Throttled,
    /// Accepted; the answer waits this long first (`answer_sms_late`).
    Accept(Option<Duration>),
}

impl Book {
    /// Takes one throttled send if any are left, else one late answer.
    pub(crate) fn gate(&mut self) -> Gate {
        if self.throttle_left > 0 {
            self.throttle_left -= 1;
            return Gate::Throttled;
        }
        if self.late_left > 0 {
            self.late_left -= 1;
            return Gate::Accept(Some(self.late_delay));
        }
        Gate::Accept(None)
    }

    /// Records an accepted message with its receipt (failed if the number was named in `fail_sms_to`); returns its
    /// index in `records`.
    pub(crate) fn accept(&mut self, sms: SentSms, owner: &str) -> usize {
        let delivered = !self.failing.contains(&sms.phone);
        let reported_at = sms.at;
        self.records.push(Record { sms, owner: owner.to_owned(), delivered, reported_at, pulled: false });
        self.records.len() - 1
    }

    pub(crate) fn report_url(&self) -> Option<String> {
        self.report_url.clone()
    }

    /// The Tencent account whose `SmsSdkAppId` this is.
    pub(crate) fn tencent_app(&self, app_id: &str) -> Option<&Account> {
        self.accounts
            .iter()
            .find(|((provider, _), account)| {
                *provider == SmsProvider::Tencent && account.app_id.as_deref() == Some(app_id)
            })
            .map(|(_, account)| account)
    }
}

/// `13800000001` (or `86…`, `+86…` when `allow_prefix`) → the 11 mainland digits, if it is a mainland mobile
/// number (`1`, then 3–9, then nine digits).
pub(crate) fn mainland_mobile(text: &str, allow_prefix: bool) -> Option<String> {
    let digits = if allow_prefix && text.len() == 14 {
        text.strip_prefix("+86")?
    } else if allow_prefix && text.len() == 13 {
        text.strip_prefix("86")?
    } else {
        text
    };
    let bytes = digits.as_bytes();
    let valid = bytes.len() == 11
        && bytes.iter().all(u8::is_ascii_digit)
        && bytes.first() == Some(&b'1')
        && bytes.get(1).is_some_and(|b| (b'3'..=b'9').contains(b));
    valid.then(|| digits.to_owned())
}

/// A number as tests may write it (`138…`, `86138…`, `+86138…`) as the 11 digits records use.
fn eleven_digits(phone: &str) -> String {
    mainland_mobile(phone, true).unwrap_or_else(|| phone.to_owned())
}

/// The `${name}` variables of an Aliyun template, in order of first appearance.
pub(crate) fn aliyun_variables(template: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        let name = &after[..end];
        if !names.iter().any(|n| n == name) {
            names.push(name.to_owned());
        }
        rest = &after[end + 1..];
    }
    names
}

/// Fills an Aliyun template; `Err(name)` names the first variable without a value.
pub(crate) fn fill_aliyun(template: &str, values: &HashMap<String, String>) -> Result<String, String> {
    let mut text = template.to_owned();
    for name in aliyun_variables(template) {
        let value = values.get(&name).ok_or_else(|| name.clone())?;
        text = text.replace(&format!("${{{name}}}"), value);
    }
    Ok(text)
}

/// How many values a Tencent template takes: its highest `{n}`.
pub(crate) fn tencent_variable_count(template: &str) -> usize {
    let mut highest = 0;
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        match after.find('}').map(|end| (end, after[..end].parse::<usize>())) {
            Some((end, Ok(n))) if after[..end].bytes().all(|b| b.is_ascii_digit()) => {
                highest = highest.max(n);
                rest = &after[end + 1..];
            }
            _ => rest = after,
        }
    }
    highest
}

/// Fills a Tencent template; `None` if the number of values is not the number of variables.
pub(crate) fn fill_tencent(template: &str, values: &[String]) -> Option<String> {
    if values.len() != tencent_variable_count(template) {
        return None;
    }
    let mut text = template.to_owned();
    for (i, value) in values.iter().enumerate() {
        text = text.replace(&format!("{{{}}}", i + 1), value);
    }
    Some(text)
}

/// Billed parts: 70 characters fit one message, a longer one is split into parts of 67.
pub(crate) fn parts(content: &str) -> usize {
    let chars = content.chars().count();
    if chars <= 70 { 1 } else { chars.div_ceil(67) }
}

/// `2019-01-08 16:44:10`, Beijing time, as both providers write times.
pub(crate) fn beijing(t: &DateTime<Utc>) -> String {
    t.with_timezone(&china()).format("%Y-%m-%d %H:%M:%S").to_string()
}

/// A UUID-shaped request id (lowercase; Aliyun's callers uppercase it).
pub(crate) fn request_id() -> String {
    let hex = random_hex(32);
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

/// Decrements the in-flight count when dropped (also when the push gives up).
struct InFlight<'a>(&'a Shared);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Aliyun's HTTP batch push: POSTs `items` as a JSON array and wants `{"code":0,…}` back; anything else is retried
/// on the notifications' base delay, doubling, at most 4 tries (Aliyun retries "a few times"; the compressed
/// schedule keeps `wait_for_notifications` short when a receiver is down for good).
pub(crate) fn push(shared: &Arc<Shared>, url: String, items: Vec<serde_json::Value>) {
    if items.is_empty() {
        return;
    }
    let body = serde_json::Value::Array(items).to_string();
    shared.in_flight.fetch_add(1, Ordering::SeqCst);
    let task_shared = shared.clone();
    shared.rt.spawn(async move {
        let _done = InFlight(&task_shared);
        let (mut wait, tries) = {
            let state = task_shared.state();
            (state.notify.retry_base, state.notify.max_attempts.clamp(1, 4))
        };
        for attempt in 1..=tries {
            if push_once(&task_shared, &url, &body).await {
                return;
            }
            if attempt < tries {
                tokio::time::sleep(wait).await;
                wait = wait.saturating_mul(2);
            }
        }
        tracing::warn!(%url, "sandbox gave up pushing an SMS report");
    });
}

async fn push_once(shared: &Shared, url: &str, body: &str) -> bool {
    let sent = shared.http.post(url).header("Content-Type", "application/json").body(body.to_owned()).send().await;
    match sent {
        Ok(response) if response.status().is_success() => response
            .json::<serde_json::Value>()
            .await
            .is_ok_and(|answer| answer.get("code").and_then(serde_json::Value::as_i64) == Some(0)),
        _ => false,
    }
}

impl FakeProviders {
    /// Stands in for `https://dysmsapi.aliyuncs.com/`.
    pub fn aliyun_sms_endpoint(&self) -> String {
        format!("{}/dysmsapi/", self.base_url())
    }

    /// Stands in for `https://sms.tencentcloudapi.com/`.
    pub fn tencent_sms_endpoint(&self) -> String {
        format!("{}/tencent-sms/", self.base_url())
    }

    /// An account and what the provider approved for it: sign names and templates (code, text). Aliyun template
    /// text uses `${name}` variables; Tencent uses `{1}`, `{2}`… `app_id` is Tencent's SmsSdkAppId (None for
    /// Aliyun). Registering the same key again replaces the account.
    pub fn register_sms_account(
        &self,
        provider: SmsProvider,
        key_id: &str,
        secret: &str,
        app_id: Option<&str>,
        signs: &[&str],
        templates: &[(&str, &str)],
    ) {
        let account = Account {
            secret: secret.to_owned(),
            app_id: app_id.map(str::to_owned),
            signs: signs.iter().map(|s| (*s).to_owned()).collect(),
            templates: templates.iter().map(|(code, text)| ((*code).to_owned(), (*text).to_owned())).collect(),
        };
        self.shared.state().sms.accounts.insert((provider, key_id.to_owned()), account);
    }

    /// Where Aliyun pushes delivery receipts (SmsReport) and member replies (SmsUp) over HTTP (its "HTTP batch
    /// push" mode). Until set, receipts are only visible through `QuerySendDetails` and replies are lost.
    pub fn set_aliyun_sms_callbacks(&self, report_url: &str, up_url: &str) {
        let mut state = self.shared.state();
        state.sms.report_url = Some(report_url.to_owned());
        state.sms.up_url = Some(up_url.to_owned());
    }

    /// Every message accepted, oldest first.
    pub fn sms_sent(&self) -> Vec<SentSms> {
        self.shared.state().sms.records.iter().map(|r| r.sms.clone()).collect()
    }

    /// A member replies to a signature's messages (e.g. "T", "TD", "退订"). Aliyun: pushed as SmsUp to the up URL;
    /// Tencent: held until `PullSmsReplyStatus` of an app whose account owns the sign returns it (once).
    pub fn sms_reply(&self, provider: SmsProvider, sign_name: &str, phone: &str, text: &str) {
        let phone = &eleven_digits(phone);
        let at = Utc::now();
        let push_to = {
            let mut state = self.shared.state();
            let book = &mut state.sms;
            match provider {
                SmsProvider::Tencent => {
                    book.replies.push(Reply {
                        sign_name: sign_name.to_owned(),
                        phone: phone.to_owned(),
                        text: text.to_owned(),
                        at,
                        pulled: false,
                    });
                    None
                }
                SmsProvider::Aliyun => {
                    book.up_sequence += 1;
                    book.up_url.clone().map(|url| (url, book.up_sequence))
                }
            }
        };
        if let Some((url, sequence)) = push_to {
            let item = json!({
                "phone_number": phone,
                "send_time": beijing(&at),
                "content": text,
                "sign_name": sign_name,
                "dest_code": "01",
                "sequence_id": sequence,
            });
            push(&self.shared, url, vec![item]);
        }
    }

    /// Messages to this number (11 digits) are accepted but their delivery receipt says failed (carrier error).
    pub fn fail_sms_to(&self, phone: &str) {
        self.shared.state().sms.failing.insert(eleven_digits(phone));
    }

    /// The next `n` sends are accepted, recorded and delivered, but the answer comes only after `delay` (so a
    /// client with a shorter timeout gives up without knowing).
    pub fn answer_sms_late(&self, n: usize, delay: Duration) {
        let mut state = self.shared.state();
        state.sms.late_left = n;
        state.sms.late_delay = delay;
    }

    /// The next `n` sends that pass every other check are refused with the provider's throttling error and
    /// nothing is recorded.
    pub fn throttle_sms(&self, n: usize) {
        self.shared.state().sms.throttle_left = n;
    }
}

#[cfg(test)]
mod tests;
