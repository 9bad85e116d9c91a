//! Small shared helpers: randomness, China Standard Time, money formatting, RSA and AES-GCM primitives.
//!
//! The crypto here is written from the protocol descriptions (SHA256withRSA = RSASSA-PKCS1-v1_5 over SHA-256,
//! Base64; AEAD_AES_256_GCM with the 16-byte tag appended), not shared with `service`, so a misunderstanding on
//! our client side shows up as a failed check instead of being mirrored here.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, FixedOffset, Offset, Utc};
use rand::Rng;
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use rsa::{RsaPrivateKey, RsaPublicKey};
use sha2::Sha256;

/// Random `[A-Za-z0-9]` string.
pub(crate) fn random_token(len: usize) -> String {
    rand::thread_rng().sample_iter(&rand::distributions::Alphanumeric).take(len).map(char::from).collect()
}

/// Random decimal digits.
pub(crate) fn random_digits(len: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..len).map(|_| char::from(b'0' + rng.gen_range(0..10u8))).collect()
}

/// Random lowercase hex.
pub(crate) fn random_hex(len: usize) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut rng = rand::thread_rng();
    (0..len).map(|_| char::from(HEX[rng.gen_range(0..16usize)])).collect()
}

/// UTC+8: both providers speak Beijing time (`+08:00` in WeChat's RFC 3339, bare local times at Alipay).
pub(crate) fn china() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| Utc.fix())
}

pub(crate) fn now_china() -> DateTime<FixedOffset> {
    Utc::now().with_timezone(&china())
}

/// `2018-06-08T10:34:56+08:00`, the form WeChat Pay uses for every time field.
pub(crate) fn rfc3339(t: &DateTime<FixedOffset>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

/// `2014-07-24 03:07:50`, Alipay's time format (Beijing time, no zone).
pub(crate) fn alipay_time(t: &DateTime<FixedOffset>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// Fen (分) → `x.yy` yuan, with a leading `-` for negatives.
pub(crate) fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let abs = fen.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// Alipay amount text (`88.88`, `88.8`, `88`) → fen. Rejects signs, exponents and more than two decimals.
pub(crate) fn parse_yuan(text: &str) -> Option<i64> {
    let (whole, frac) = match text.split_once('.') {
        Some((w, f)) => (w, f),
        None => (text, ""),
    };
    if whole.is_empty() || whole.len() > 9 || frac.len() > 2 {
        return None;
    }
    if !whole.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let frac_fen: i64 = match frac.len() {
        0 => 0,
        1 => frac.parse::<i64>().ok()? * 10,
        _ => frac.parse().ok()?,
    };
    Some(whole * 100 + frac_fen)
}

/// SHA256withRSA (PKCS#1 v1.5), Base64: the signature both providers use.
pub(crate) fn rsa_sign(key: &RsaPrivateKey, message: &[u8]) -> String {
    STANDARD.encode(SigningKey::<Sha256>::new(key.clone()).sign(message).to_bytes())
}

pub(crate) fn rsa_verify(key: &RsaPublicKey, message: &[u8], signature_b64: &str) -> bool {
    STANDARD
        .decode(signature_b64)
        .ok()
        .and_then(|bytes| Signature::try_from(bytes.as_slice()).ok())
        .is_some_and(|sig| VerifyingKey::<Sha256>::new(key.clone()).verify(message, &sig).is_ok())
}

/// AEAD_AES_256_GCM as WeChat Pay uses it: key = the 32-byte APIv3 key as raw bytes, nonce = 12 ASCII chars,
/// output = Base64(ciphertext ‖ 16-byte tag).
pub(crate) fn aes_gcm_encrypt(apiv3_key: &str, nonce: &str, aad: &str, plaintext: &[u8]) -> Result<String, String> {
    let cipher = Aes256Gcm::new_from_slice(apiv3_key.as_bytes()).map_err(|_| "the APIv3 key must be 32 bytes")?;
    if nonce.len() != 12 {
        return Err("the nonce must be 12 bytes".into());
    }
    let sealed = cipher
        .encrypt(Nonce::from_slice(nonce.as_bytes()), Payload { msg: plaintext, aad: aad.as_bytes() })
        .map_err(|_| "encryption failed")?;
    Ok(STANDARD.encode(sealed))
}

/// Minimal HTML escaping for the control page.
pub(crate) fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuan_formats_and_parses() {
        assert_eq!(yuan(0), "0.00");
        assert_eq!(yuan(1), "0.01");
        assert_eq!(yuan(12345), "123.45");
        assert_eq!(yuan(-5), "-0.05");
        assert_eq!(parse_yuan("88.88"), Some(8888));
        assert_eq!(parse_yuan("88.8"), Some(8880));
        assert_eq!(parse_yuan("88"), Some(8800));
        assert_eq!(parse_yuan("0.01"), Some(1));
        for bad in ["", ".5", "1.234", "-1", "1e3", "abc", "1.x"] {
            assert_eq!(parse_yuan(bad), None, "{bad}");
        }
    }

    #[test]
    fn aes_gcm_matches_the_wechatpay_java_vector() {
        // wechatpay-java AeadAesCipherTest (see shared/docs/PROTOCOLS.md A7.1).
        let ct = aes_gcm_encrypt("a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb", "uluk4a9R25RW", "associatedData", b"message");
        assert_eq!(ct.as_deref(), Ok("ulwSiIajGClcvcOYvOQ7+l+0PAbzzwI="));
    }
}
