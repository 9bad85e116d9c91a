//! SMS. For reminders, the second channel: a trait so a provider plugs in by configuration, and the logging channel
//! of the embedded default, which writes each message to the log with the number masked. For marketing, the
//! providers themselves ([`SmsProviders`]): Aliyun SMS and Tencent Cloud SMS with approved templates.

pub mod aliyun;
mod provider;
mod tencent;

pub use provider::{Account, Found, Message, Provider, Receipt, Reply, SendError, SmsProviders};

use async_trait::async_trait;

use crate::domain::PhoneNumber;
use crate::foundation::settings::NotificationSettings;

/// Why a message was not sent: `permanent` ones are not retried (a number the provider refuses, say).
#[derive(Debug)]
pub struct SmsError {
    pub code: String,
    pub message: String,
    pub permanent: bool,
}

#[async_trait]
pub trait SmsChannel: Send + Sync {
    fn name(&self) -> &'static str;
    /// Whether a message this channel takes reaches a phone. The logging channel's do not: they are recorded as
    /// `logged`, never as `sent`.
    fn delivers(&self) -> bool {
        true
    }
    async fn send(&self, to: &PhoneNumber, text: &str) -> Result<(), SmsError>;
}

/// Logs instead of sending: nothing leaves the machine.
pub struct LoggingSms;

#[async_trait]
impl SmsChannel for LoggingSms {
    fn name(&self) -> &'static str {
        "log"
    }

    fn delivers(&self) -> bool {
        false
    }

    async fn send(&self, to: &PhoneNumber, text: &str) -> Result<(), SmsError> {
        tracing::info!(to = %to.masked(), %text, "sms (logging channel)");
        Ok(())
    }
}

/// The configured channel.
pub fn channel(settings: &NotificationSettings) -> anyhow::Result<std::sync::Arc<dyn SmsChannel>> {
    match settings.sms.as_str() {
        "log" => Ok(std::sync::Arc::new(LoggingSms)),
        other => anyhow::bail!("unknown SMS channel {other}"),
    }
}
