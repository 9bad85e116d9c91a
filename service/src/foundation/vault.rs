//! Protection of personal data at rest.
//!
//! - `seal`/`open`: AES-256-GCM with a random 96-bit nonce, stored as `v1.<key id>.<base64(nonce ‖ ciphertext)>`.
//!   The key id lets keys rotate: new data is sealed under the active key, old data opens under its own key.
//!   The column name is the associated data, so a sealed phone number can't be passed off as a name.
//! - `blind_index`: HMAC-SHA256 of a normalised value under the index key, so an exact look-up (phone at the desk)
//!   is an index probe without storing the value.
//! - `member_code_key`: the HMAC key for member QR codes, derived from the index key.

use std::collections::HashMap;
use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use anyhow::{Context, anyhow};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::foundation::settings::{Secret, SecuritySettings};

pub struct Vault {
    ciphers: HashMap<String, Aes256Gcm>,
    active_key: String,
    index_key: Zeroizing<[u8; 32]>,
    member_code_key: Zeroizing<[u8; 32]>,
}

/// Which column a sealed value belongs to; used as associated data.
#[derive(Clone, Copy, Debug)]
pub enum Field {
    MemberPhone,
    MemberName,
    AllergySubstance,
    AllergyNote,
    WechatSessionKey,
    WechatAppSecret,
    AlipayPrivateKey,
    WechatPayPrivateKey,
    WechatPayApiV3Key,
    WechatPayV2Key,
    StaffPhone,
    MemberBirthday,
    MemberPreferences,
    MemberNote,
    SmsSecret,
}

impl Field {
    fn label(self) -> &'static [u8] {
        match self {
            Field::MemberPhone => b"members.phone",
            Field::MemberName => b"members.name",
            Field::AllergySubstance => b"member_allergies.substance",
            Field::AllergyNote => b"member_allergies.note",
            Field::WechatSessionKey => b"member_identities.session_key",
            Field::WechatAppSecret => b"merchants.wechat_secret",
            Field::AlipayPrivateKey => b"merchants.alipay_private_key",
            Field::WechatPayPrivateKey => b"merchants.wechatpay_private_key",
            Field::WechatPayApiV3Key => b"merchants.wechatpay_apiv3_key",
            Field::WechatPayV2Key => b"merchants.wechatpay_v2_key",
            Field::StaffPhone => b"staff.phone",
            Field::MemberBirthday => b"members.birthday",
            Field::MemberPreferences => b"members.preferences",
            Field::MemberNote => b"member_notes.body",
            Field::SmsSecret => b"sms_accounts.secret",
        }
    }
}

fn decode_key(name: &str, secret: &Secret) -> Result<Zeroizing<[u8; 32]>, String> {
    let bytes = Zeroizing::new(STANDARD.decode(secret.expose().trim()).map_err(|_| format!("{name} is not base64"))?);
    let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| format!("{name} must be 32 bytes"))?;
    Ok(Zeroizing::new(key))
}

impl Vault {
    pub fn from_settings(settings: &SecuritySettings) -> Result<Self, String> {
        if settings.keys.is_empty() {
            return Err("security.keys is empty".into());
        }
        let mut ciphers = HashMap::new();
        for (id, secret) in &settings.keys {
            if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
                return Err(format!("security.keys: key id `{id}` must be letters, digits, '_' or '-'"));
            }
            let key = decode_key(&format!("security.keys.{id}"), secret)?;
            ciphers.insert(id.clone(), Aes256Gcm::new(key.as_ref().into()));
        }
        if !ciphers.contains_key(&settings.active_key) {
            return Err(format!("security.active_key `{}` is not one of security.keys", settings.active_key));
        }
        let index_key = decode_key("security.index_key", &settings.index_key)?;
        let mut derive = <Hmac<Sha256> as Mac>::new_from_slice(index_key.as_ref()).map_err(|e| e.to_string())?;
        derive.update(b"huiyuan member code key");
        let member_code_key = Zeroizing::new(derive.finalize().into_bytes().into());
        Ok(Self { ciphers, active_key: settings.active_key.clone(), index_key, member_code_key })
    }

    /// Development only: keys live in `<data_dir>/dev-keys.toml`, generated on first use, so data written by one
    /// run opens in the next. Production refuses to start without configured keys (see `Settings::validate`).
    pub fn load_or_create_dev_keys(data_dir: &Path) -> anyhow::Result<SecuritySettings> {
        let path = data_dir.join("dev-keys.toml");
        if !path.exists() {
            std::fs::create_dir_all(data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
            let random = || {
                let mut key = [0u8; 32];
                rand::rngs::OsRng.fill_bytes(&mut key);
                STANDARD.encode(key)
            };
            let text = format!(
                "# Development keys, generated on first start. Never use them in production.\n\
                 active_key = \"dev1\"\nindex_key = \"{}\"\n\n[keys]\ndev1 = \"{}\"\n",
                random(),
                random()
            );
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        }
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        toml_like::parse(&text).ok_or_else(|| anyhow!("{} is malformed; delete it to regenerate", path.display()))
    }

    pub fn seal(&self, field: Field, plaintext: &str) -> String {
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let cipher = &self.ciphers[&self.active_key];
        // Encryption with a valid key and in-memory buffers only fails on absurd lengths (> 64 GiB).
        let ciphertext = cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext.as_bytes(), aad: field.label() })
            .unwrap_or_default();
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&ciphertext);
        format!("v1.{}.{}", self.active_key, STANDARD.encode(blob))
    }

    pub fn open(&self, field: Field, sealed: &str) -> anyhow::Result<String> {
        let mut parts = sealed.splitn(3, '.');
        let (Some("v1"), Some(key_id), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(anyhow!("sealed {field:?} has an unknown format"));
        };
        let cipher = self.ciphers.get(key_id).ok_or_else(|| anyhow!("sealed {field:?} uses unknown key `{key_id}`"))?;
        let blob = STANDARD.decode(body).context("sealed value is not base64")?;
        if blob.len() < 12 + 16 {
            return Err(anyhow!("sealed {field:?} is truncated"));
        }
        let (nonce, ciphertext) = blob.split_at(12);
        let plaintext = cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ciphertext, aad: field.label() })
            .map_err(|_| anyhow!("sealed {field:?} failed authentication"))?;
        String::from_utf8(plaintext).context("sealed value is not UTF-8")
    }

    pub fn open_opt(&self, field: Field, sealed: Option<&str>) -> anyhow::Result<Option<String>> {
        sealed.map(|s| self.open(field, s)).transpose()
    }

    /// True when the value was sealed under a key other than the active one (a rotation candidate).
    pub fn needs_reseal(&self, sealed: &str) -> bool {
        sealed.split('.').nth(1) != Some(self.active_key.as_str())
    }

    /// Hex HMAC-SHA256 of `value` under the index key, domain-separated by `domain`.
    pub fn blind_index(&self, domain: &str, value: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.index_key.as_ref()).unwrap_or_else(|_| unreachable!());
        mac.update(domain.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..20])
    }

    pub fn member_code_key(&self) -> &[u8; 32] {
        &self.member_code_key
    }
}

/// The dev-keys file is three keys and a table: a tiny reader beats pulling a TOML parser into the domain crate.
mod toml_like {
    use std::collections::BTreeMap;

    use crate::foundation::settings::{Secret, SecuritySettings};

    pub fn parse(text: &str) -> Option<SecuritySettings> {
        let (mut active_key, mut index_key, mut keys, mut in_keys) = (None, None, BTreeMap::new(), false);
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
            if line == "[keys]" {
                in_keys = true;
                continue;
            }
            let (name, value) = line.split_once('=')?;
            let value = value.trim().trim_matches('"').to_owned();
            match (in_keys, name.trim()) {
                (true, id) => {
                    keys.insert(id.to_owned(), Secret::new(value));
                }
                (false, "active_key") => active_key = Some(value),
                (false, "index_key") => index_key = Some(Secret::new(value)),
                _ => return None,
            }
        }
        Some(SecuritySettings { keys, active_key: active_key?, index_key: index_key? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(active: &str) -> SecuritySettings {
        let mut keys = std::collections::BTreeMap::new();
        keys.insert("a".to_owned(), Secret::new(STANDARD.encode([1u8; 32])));
        keys.insert("b".to_owned(), Secret::new(STANDARD.encode([2u8; 32])));
        SecuritySettings { keys, active_key: active.into(), index_key: Secret::new(STANDARD.encode([3u8; 32])) }
    }

    #[test]
    fn seal_open_round_trip_and_rotation() {
        let old = Vault::from_settings(&settings("a")).unwrap();
        let sealed = old.seal(Field::MemberPhone, "13812345678");
        assert!(!sealed.contains("13812345678"));
        assert_ne!(sealed, old.seal(Field::MemberPhone, "13812345678"), "nonces must differ");
        let rotated = Vault::from_settings(&settings("b")).unwrap();
        assert_eq!(rotated.open(Field::MemberPhone, &sealed).unwrap(), "13812345678");
        assert!(rotated.needs_reseal(&sealed));
        assert!(!old.needs_reseal(&sealed));
    }

    #[test]
    fn tampering_and_field_swaps_are_detected() {
        let vault = Vault::from_settings(&settings("a")).unwrap();
        let sealed = vault.seal(Field::MemberPhone, "13812345678");
        assert!(vault.open(Field::MemberName, &sealed).is_err());
        let mut blob = STANDARD.decode(sealed.rsplit('.').next().unwrap()).unwrap();
        let last = blob.len() - 1;
        blob[last] ^= 1;
        assert!(vault.open(Field::MemberPhone, &format!("v1.a.{}", STANDARD.encode(blob))).is_err());
    }

    #[test]
    fn blind_index_is_deterministic_and_domain_separated() {
        let vault = Vault::from_settings(&settings("a")).unwrap();
        assert_eq!(vault.blind_index("phone", "13812345678"), vault.blind_index("phone", "13812345678"));
        assert_ne!(vault.blind_index("phone", "13812345678"), vault.blind_index("name", "13812345678"));
    }

    #[test]
    fn bad_key_settings_are_refused() {
        assert!(Vault::from_settings(&settings("c")).is_err());
        let mut short = settings("a");
        short.keys.insert("a".into(), Secret::new(STANDARD.encode([1u8; 16])));
        assert!(Vault::from_settings(&short).is_err());
    }

    #[test]
    fn dev_keys_are_created_once_and_reused() {
        let dir = std::env::temp_dir().join(format!("hy-vault-{}", rand::random::<u64>()));
        let first = Vault::load_or_create_dev_keys(&dir).unwrap();
        let second = Vault::load_or_create_dev_keys(&dir).unwrap();
        assert_eq!(first.index_key, second.index_key);
        assert!(Vault::from_settings(&first).is_ok());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
