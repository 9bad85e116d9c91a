//! The dynamic member QR code: `HY` + base32(version · member id · expiry · nonce · HMAC), 46 characters of the QR
//! alphanumeric alphabet, so it scans fast and never starts with a digit (payment codes are all digits).
//!
//! It proves "this member showed this screen within the last minute": the HMAC binds member and expiry under a
//! server key, so a code can't be forged or stretched, and after its expiry it is refused (a photo of yesterday's
//! screen opens nothing). The random nonce makes every issued code distinct, even two issued in the same second, so
//! a code can be spent once (`members::code::CodeUse`).

use hmac::{Hmac, Mac};
use sha2::Sha256;

const PREFIX: &str = "HY";
const VERSION: u8 = 2;
const MAC_LEN: usize = 10;
const NONCE_LEN: usize = 4;
const PAYLOAD_LEN: usize = 1 + 8 + 4 + NONCE_LEN;
const RAW_LEN: usize = PAYLOAD_LEN + MAC_LEN;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberCode(String);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemberCodeClaims {
    pub member_id: i64,
    /// Unix seconds after which the code is refused.
    pub expires_at: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberCodeError {
    /// Not a member code at all, or a forged or altered one.
    Invalid,
    Expired,
}

impl MemberCode {
    pub fn looks_like(input: &str) -> bool {
        input.starts_with(PREFIX)
    }

    pub fn issue(key: &[u8; 32], claims: MemberCodeClaims) -> Result<Self, MemberCodeError> {
        let member_id = u64::try_from(claims.member_id).map_err(|_| MemberCodeError::Invalid)?;
        let expires_at = u32::try_from(claims.expires_at).map_err(|_| MemberCodeError::Invalid)?;
        let mut raw = Vec::with_capacity(RAW_LEN);
        raw.push(VERSION);
        raw.extend_from_slice(&member_id.to_be_bytes());
        raw.extend_from_slice(&expires_at.to_be_bytes());
        raw.extend_from_slice(&rand::random::<[u8; NONCE_LEN]>());
        let tag = mac(key, &raw);
        raw.extend_from_slice(&tag[..MAC_LEN]);
        Ok(Self(format!("{PREFIX}{}", base32::encode(&raw))))
    }

    /// Checks shape, signature (in constant time) and expiry against `now` (unix seconds).
    pub fn verify(key: &[u8; 32], input: &str, now: i64) -> Result<MemberCodeClaims, MemberCodeError> {
        let body = input.trim().strip_prefix(PREFIX).ok_or(MemberCodeError::Invalid)?;
        let raw = base32::decode(body).ok_or(MemberCodeError::Invalid)?;
        if raw.len() != RAW_LEN || raw[0] != VERSION {
            return Err(MemberCodeError::Invalid);
        }
        let (payload, tag) = raw.split_at(PAYLOAD_LEN);
        let mut check = Hmac::<Sha256>::new_from_slice(key).map_err(|_| MemberCodeError::Invalid)?;
        check.update(b"huiyuan member code\0");
        check.update(payload);
        check.verify_truncated_left(tag).map_err(|_| MemberCodeError::Invalid)?;
        let member_id = u64::from_be_bytes(payload[1..9].try_into().map_err(|_| MemberCodeError::Invalid)?);
        let expires_at = u32::from_be_bytes(payload[9..13].try_into().map_err(|_| MemberCodeError::Invalid)?);
        let claims = MemberCodeClaims {
            member_id: i64::try_from(member_id).map_err(|_| MemberCodeError::Invalid)?,
            expires_at: i64::from(expires_at),
        };
        if now > claims.expires_at {
            return Err(MemberCodeError::Expired);
        }
        Ok(claims)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn mac(key: &[u8; 32], payload: &[u8]) -> [u8; 32] {
    // A fixed-size key always fits HMAC; this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(b"huiyuan member code\0");
    mac.update(payload);
    mac.finalize().into_bytes().into()
}

/// RFC 4648 base32 without padding: the QR alphanumeric alphabet holds every character it uses.
mod base32 {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

    pub fn encode(bytes: &[u8]) -> String {
        let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
        let (mut buffer, mut bits) = (0u16, 0u8);
        for &byte in bytes {
            buffer = (buffer << 8) | u16::from(byte);
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                out.push(char::from(ALPHABET[usize::from((buffer >> bits) & 31)]));
            }
            buffer &= (1 << bits) - 1;
        }
        if bits > 0 {
            out.push(char::from(ALPHABET[usize::from((buffer << (5 - bits)) & 31)]));
        }
        out
    }

    pub fn decode(text: &str) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(text.len() * 5 / 8);
        let (mut buffer, mut bits) = (0u16, 0u8);
        for c in text.bytes() {
            let value = u16::try_from(ALPHABET.iter().position(|&a| a == c)?).ok()?;
            buffer = (buffer << 5) | value;
            bits += 5;
            if bits >= 8 {
                bits -= 8;
                out.push(u8::try_from((buffer >> bits) & 0xff).ok()?);
            }
            buffer &= (1 << bits) - 1;
        }
        // Leftover bits must be zero padding, or the text was not produced by `encode`.
        (buffer == 0).then_some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KEY: [u8; 32] = [7; 32];

    #[test]
    fn issued_codes_verify_until_they_expire() {
        let claims = MemberCodeClaims { member_id: 42, expires_at: 1_800_000_060 };
        let code = MemberCode::issue(&KEY, claims).unwrap();
        assert!(code.as_str().starts_with("HY"));
        assert_eq!(code.as_str().len(), 46);
        let again = MemberCode::issue(&KEY, claims).unwrap();
        assert_ne!(code, again, "two codes issued in the same second differ");
        assert_eq!(MemberCode::verify(&KEY, code.as_str(), 1_800_000_000), Ok(claims));
        assert_eq!(MemberCode::verify(&KEY, code.as_str(), 1_800_000_060), Ok(claims));
        assert_eq!(MemberCode::verify(&KEY, code.as_str(), 1_800_000_061), Err(MemberCodeError::Expired));
    }

    #[test]
    fn another_key_or_garbage_is_invalid() {
        let code = MemberCode::issue(&KEY, MemberCodeClaims { member_id: 1, expires_at: 2_000_000_000 }).unwrap();
        assert_eq!(MemberCode::verify(&[8; 32], code.as_str(), 0), Err(MemberCodeError::Invalid));
        for bad in ["", "HY", "HY!!!!", "13812345678", "HYAAAA"] {
            assert_eq!(MemberCode::verify(&KEY, bad, 0), Err(MemberCodeError::Invalid));
        }
    }

    proptest! {
        #[test]
        fn base32_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            prop_assert_eq!(base32::decode(&base32::encode(&bytes)), Some(bytes));
        }

        #[test]
        fn any_single_character_change_is_refused(member_id in 1i64..1_000_000_000, pos in 2usize..46, replacement in 0usize..32) {
            let claims = MemberCodeClaims { member_id, expires_at: 2_000_000_000 };
            let code = MemberCode::issue(&KEY, claims).unwrap().as_str().to_owned();
            let mut chars: Vec<char> = code.chars().collect();
            let pos = pos.min(chars.len() - 1);
            let new = char::from(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[replacement]);
            prop_assume!(chars[pos] != new);
            chars[pos] = new;
            let tampered: String = chars.into_iter().collect();
            prop_assert!(MemberCode::verify(&KEY, &tampered, 0).is_err());
        }

        #[test]
        fn codes_carry_their_claims(member_id in 1i64..i64::MAX, expires_at in 0i64..i64::from(u32::MAX)) {
            let claims = MemberCodeClaims { member_id, expires_at };
            let code = MemberCode::issue(&KEY, claims).unwrap();
            prop_assert_eq!(MemberCode::verify(&KEY, code.as_str(), 0), Ok(claims));
        }
    }
}
