//! Short names staff give things (a category, an item, a level, a printer).

use crate::{Error, Result};

/// A short name: 1–40 characters, trimmed, no control characters; `field` names it in the error.
pub(crate) fn label(field: &'static str, value: &str) -> Result<String> {
    let trimmed = value.trim();
    if trimmed.is_empty() || trimmed.chars().count() > 40 || trimmed.chars().any(char::is_control) {
        return Err(Error::invalid(field, "must be 1–40 characters"));
    }
    Ok(trimmed.to_owned())
}
