//! One page of a list. Every list pages the same way: newest first, at most `limit` items (1–200) older than
//! `before_id`, the last id of the previous page.

use crate::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    pub before_id: Option<i64>,
    pub limit: u64,
}

impl Page {
    /// The most items one page holds.
    pub const MAX_LIMIT: u64 = 200;

    /// `limit` defaults to `default`; a limit outside 1–200 or an id that no list holds is refused.
    pub fn parse(before_id: Option<i64>, limit: Option<u64>, default: u64) -> Result<Self> {
        let limit = limit.unwrap_or(default);
        if !(1..=Self::MAX_LIMIT).contains(&limit) {
            return Err(Error::invalid("limit", "must be 1–200"));
        }
        if before_id.is_some_and(|id| id <= 0) {
            return Err(Error::invalid("before_id", "must be the id of an item of the previous page"));
        }
        Ok(Self { before_id, limit })
    }

    /// The first page of `limit` items.
    pub fn first(limit: u64) -> Self {
        Self { before_id: None, limit: limit.clamp(1, Self::MAX_LIMIT) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_and_cursors() {
        assert_eq!(Page::parse(None, None, 50).unwrap(), Page { before_id: None, limit: 50 });
        assert_eq!(Page::parse(Some(7), Some(200), 50).unwrap(), Page { before_id: Some(7), limit: 200 });
        assert!(Page::parse(None, Some(0), 50).is_err());
        assert!(Page::parse(None, Some(201), 50).is_err());
        assert!(Page::parse(Some(0), None, 50).is_err());
    }
}
