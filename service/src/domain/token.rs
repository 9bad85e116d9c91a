use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// An opaque bearer token: a prefix naming its kind and 32 random bytes. Only its SHA-256 is stored.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(String);

impl SessionToken {
    pub const STAFF_PREFIX: &'static str = "hys_";
    pub const MEMBER_PREFIX: &'static str = "hym_";

    pub fn generate(prefix: &'static str) -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// Accepts a presented token if it has the expected prefix and shape; anything else is simply not a session.
    pub fn parse(prefix: &'static str, input: &str) -> Option<Self> {
        let body = input.strip_prefix(prefix)?;
        let decoded = URL_SAFE_NO_PAD.decode(body).ok()?;
        (decoded.len() == 32).then(|| Self(input.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the database keeps: a leaked table yields no usable token.
    pub fn hash(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken(<redacted>)")
    }
}

/// A staff sign-in name: 3–40 characters of lowercase ASCII letters, digits, `.`, `_`, `-`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        let lowered = input.trim().to_ascii_lowercase();
        if !(3..=40).contains(&lowered.len()) {
            return Err("must be 3–40 characters");
        }
        if !lowered.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')) {
            return Err("may contain only letters, digits, '.', '_' and '-'");
        }
        Ok(Self(lowered))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A new password as chosen: 10–128 characters, not all one kind of character.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        let count = input.chars().count();
        if count < 10 {
            return Err("must be at least 10 characters");
        }
        if count > 128 {
            return Err("must be at most 128 characters");
        }
        let first = input.chars().next();
        if input.chars().all(|c| Some(c) == first) {
            return Err("must not be one character repeated");
        }
        Ok(Self(input.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn tokens_parse_back_and_hash_stably() {
        let token = SessionToken::generate(SessionToken::STAFF_PREFIX);
        let parsed = SessionToken::parse(SessionToken::STAFF_PREFIX, token.expose()).unwrap();
        assert_eq!(parsed.hash(), token.hash());
        assert!(SessionToken::parse(SessionToken::MEMBER_PREFIX, token.expose()).is_none());
        assert_ne!(token, SessionToken::generate(SessionToken::STAFF_PREFIX));
    }

    proptest! {
        #[test]
        fn random_strings_are_not_tokens(input in "hys_[A-Za-z0-9_-]{0,42}") {
            // 32 bytes encode to exactly 43 characters: nothing shorter is a token.
            prop_assert!(SessionToken::parse(SessionToken::STAFF_PREFIX, &input).is_none());
        }

        #[test]
        fn usernames_are_lowercased_and_restricted(input in "[A-Za-z0-9._-]{3,40}") {
            let name = Username::parse(&input).unwrap();
            prop_assert_eq!(name.as_str(), input.to_ascii_lowercase());
        }
    }
}
