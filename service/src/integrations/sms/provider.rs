//! Marketing SMS through a real provider, Aliyun SMS or Tencent Cloud SMS: one approved template per message, our
//! own key on every send, and the provider asked before any retry whether a send whose answer was lost went out
//! (neither provider's send is idempotent).

use chrono::{DateTime, Utc};

use super::{aliyun, tencent};
use crate::domain::PhoneNumber;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provider {
    Aliyun,
    Tencent,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Aliyun => "aliyun",
            Self::Tencent => "tencent",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "aliyun" => Some(Self::Aliyun),
            "tencent" => Some(Self::Tencent),
            _ => None,
        }
    }
}

/// A merchant's account at its provider.
pub struct Account<'a> {
    pub provider: Provider,
    pub access_key_id: &'a str,
    pub secret: &'a str,
    /// Tencent's `SmsSdkAppId`.
    pub app_id: Option<&'a str>,
    pub sign_name: &'a str,
}

/// One message: an approved template and its values, in the template's variable order.
pub struct Message<'a> {
    pub phone: &'a PhoneNumber,
    pub template_code: &'a str,
    /// (variable name, value): Aliyun fills `${name}` by name, Tencent `{1}`, `{2}`… by position.
    pub params: &'a [(String, String)],
    /// Our key (Aliyun `OutId`, Tencent `SessionContext`), by which the send is found again.
    pub key: &'a str,
}

/// Why a send did not go.
#[derive(Debug)]
pub enum SendError {
    /// The provider refused this message for good (a number, a template, the account): not retried.
    Refused { code: String, message: String },
    /// The provider asked us to slow down, or the request never left: retried later, nothing went.
    NotSent { code: String, message: String },
    /// The answer was lost (a timeout, a dropped connection, a server error): the message may have gone, so it is
    /// looked up before any retry.
    Unknown(String),
}

/// What the provider knows of a send, looked up by our key.
#[derive(Debug, PartialEq, Eq)]
pub enum Found {
    /// It has it: with the delivery outcome when a receipt came (`Some(true)` delivered).
    Accepted {
        provider_id: Option<String>,
        delivered: Option<bool>,
        code: Option<String>,
    },
    NotFound,
}

/// A delivery receipt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    pub key: Option<String>,
    pub provider_id: String,
    pub delivered: bool,
    pub code: String,
    pub at: Option<DateTime<Utc>>,
}

/// A member's reply to a signature's messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// 11 mainland digits.
    pub phone: String,
    pub sign_name: Option<String>,
    pub text: String,
}

impl Reply {
    /// Whether the reply asks to stop: the unsubscribe words the providers print (Aliyun "回T退订", Tencent "TD",
    /// "T" or "N", Huawei "R") or the word itself.
    pub fn opts_out(&self) -> bool {
        let text = self.text.trim().to_uppercase();
        matches!(text.as_str(), "T" | "TD" | "N" | "R" | "退订" | "TD退订" | "T退订" | "拒收" | "UNSUBSCRIBE" | "STOP")
    }
}

/// Talks to both providers (at their real hosts, or the sandbox's fakes).
#[derive(Clone)]
pub struct SmsProviders {
    pub(super) http: reqwest::Client,
    pub(super) aliyun_endpoint: String,
    pub(super) tencent_endpoint: String,
}

impl SmsProviders {
    pub fn new(http: reqwest::Client, aliyun_endpoint: String, tencent_endpoint: String) -> Self {
        Self { http, aliyun_endpoint, tencent_endpoint }
    }

    /// Sends one message; `now` stamps the request (both providers refuse a stale one).
    pub async fn send(
        &self,
        account: &Account<'_>,
        message: &Message<'_>,
        now: DateTime<Utc>,
    ) -> Result<String, SendError> {
        match account.provider {
            Provider::Aliyun => aliyun::send(self, account, message, now).await,
            Provider::Tencent => tencent::send(self, account, message, now).await,
        }
    }

    /// Looks a send up by our key: was it accepted, and delivered? `since` is when it was handed over.
    pub async fn lookup(
        &self,
        account: &Account<'_>,
        phone: &PhoneNumber,
        key: &str,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Found, String> {
        match account.provider {
            Provider::Aliyun => aliyun::lookup(self, account, phone, key, since, now).await,
            Provider::Tencent => tencent::lookup(self, account, phone, key, since, now).await,
        }
    }

    /// Whether a lookup that finds nothing means the send never went: Aliyun lists a message as soon as it takes it;
    /// Tencent only once a receipt came, so there "not found" is conclusive only after the receipt window.
    pub fn lists_on_acceptance(provider: Provider) -> bool {
        provider == Provider::Aliyun
    }

    /// Receipts and replies waiting at a provider that has them pulled (Tencent); Aliyun pushes them.
    pub async fn pull(&self, account: &Account<'_>, now: DateTime<Utc>) -> Result<(Vec<Receipt>, Vec<Reply>), String> {
        match account.provider {
            Provider::Aliyun => Ok((Vec::new(), Vec::new())),
            Provider::Tencent => tencent::pull(self, account, now).await,
        }
    }
}

/// `+86` and 11 digits, as Tencent wants a number.
pub(super) fn e164(phone: &PhoneNumber) -> String {
    format!("+86{}", phone.as_str())
}

/// The last 11 digits of a number a provider reports (`+8613800000001`, `8613800000001`, `13800000001`).
pub(super) fn mainland(number: &str) -> String {
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    digits.get(digits.len().saturating_sub(11)..).unwrap_or_default().to_owned()
}

/// A transport failure: whether the request can have reached the provider.
pub(super) fn transport_error(error: &reqwest::Error) -> SendError {
    if error.is_connect() {
        SendError::NotSent { code: "connect".into(), message: error.to_string() }
    } else {
        SendError::Unknown(error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_that_opt_out_are_the_unsubscribe_words() {
        let reply = |text: &str| Reply { phone: "13800000001".into(), sign_name: None, text: text.into() };
        for text in ["T", " t ", "TD", "td", "N", "R", "退订"] {
            assert!(reply(text).opts_out(), "{text}");
        }
        for text in ["好的", "Thanks", "", "TT"] {
            assert!(!reply(text).opts_out(), "{text}");
        }
    }

    #[test]
    fn numbers_from_providers_are_read_as_mainland_digits() {
        assert_eq!(mainland("+8613800000001"), "13800000001");
        assert_eq!(mainland("8613800000001"), "13800000001");
        assert_eq!(mainland("13800000001"), "13800000001");
    }
}
