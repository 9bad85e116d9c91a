use sha2::{Digest, Sha256};

/// A client-chosen key that makes a money-moving request safe to retry: the same key with the same request
/// returns the first result; the same key with a different request is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(value: &str) -> Result<Self, &'static str> {
        let ok = (8..=64).contains(&value.len())
            && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
        if ok { Ok(Self(value.to_owned())) } else { Err("must be 8–64 letters, digits or - _ . :") }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A digest of a request's meaning (not its bytes), stored beside the key it came with.
pub fn fingerprint(parts: &serde_json::Value) -> String {
    hex::encode(Sha256::digest(parts.to_string().as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert!(IdempotencyKey::parse("bill-2026-11-23-0001").is_ok());
        assert!(IdempotencyKey::parse("short").is_err());
        assert!(IdempotencyKey::parse("has space in it").is_err());
        assert!(IdempotencyKey::parse(&"x".repeat(65)).is_err());
    }

    #[test]
    fn fingerprints_differ_with_meaning() {
        let a = fingerprint(&serde_json::json!({"amount": 100}));
        assert_eq!(a, fingerprint(&serde_json::json!({"amount": 100})));
        assert_ne!(a, fingerprint(&serde_json::json!({"amount": 101})));
    }
}
