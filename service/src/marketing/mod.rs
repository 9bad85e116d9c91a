//! Marketing: who to reach (segments), what reaches them (campaigns: a coupon, an in-app message, an SMS), through
//! which provider (SMS accounts and templates), and every send accounted for (the send log).

use crate::{Error, Result};

pub mod assignment;
pub mod automations;
pub mod campaigns;
pub mod inbox;
pub mod roi;
pub mod segments;
pub mod sends;
pub mod sms;

/// Staff-written text: trimmed, 1 to `most` characters, no control characters but line breaks.
pub(crate) fn checked_text(field: &'static str, value: &str, most: usize) -> Result<String> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > most || value.chars().any(|c| c.is_control() && c != '\n') {
        return Err(Error::invalid(field, format!("must be 1–{most} characters")));
    }
    Ok(value.to_owned())
}
