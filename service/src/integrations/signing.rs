//! SHA256withRSA (RSASSA-PKCS1-v1_5 over SHA-256, standard Base64): the one signature both WeChat Pay v3 and Alipay
//! RSA2 use, for our requests and for their answers and notifications.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use rsa::{RsaPrivateKey, RsaPublicKey};
use sha2::Sha256;

/// Accepts PKCS#8 (`BEGIN PRIVATE KEY`: WeChat Pay's `apiclient_key.pem`, the Java SDKs) or PKCS#1
/// (`BEGIN RSA PRIVATE KEY`: Alipay's key tool and the Python SDK).
pub fn parse_private_key(pem: &str) -> anyhow::Result<RsaPrivateKey> {
    let pem = pem.trim();
    RsaPrivateKey::from_pkcs8_pem(pem)
        .or_else(|_| RsaPrivateKey::from_pkcs1_pem(pem))
        .map_err(|e| anyhow::anyhow!("not an RSA private key: {e}"))
}

/// Accepts SPKI (`BEGIN PUBLIC KEY`: Alipay's public key, WeChat Pay's `pub_key.pem`) or PKCS#1.
pub fn parse_public_key(pem: &str) -> anyhow::Result<RsaPublicKey> {
    let pem = pem.trim();
    RsaPublicKey::from_public_key_pem(pem)
        .or_else(|_| RsaPublicKey::from_pkcs1_pem(pem))
        .map_err(|e| anyhow::anyhow!("not an RSA public key: {e}"))
}

pub fn sign(key: &RsaPrivateKey, message: &str) -> String {
    let signature = SigningKey::<Sha256>::new(key.clone()).sign(message.as_bytes());
    STANDARD.encode(signature.to_bytes())
}

/// False for anything that is not a valid Base64 signature of `message` under `key`; never an error, so a forged
/// or garbled signature is just "not verified".
pub fn verify(key: &RsaPublicKey, message: &[u8], signature_b64: &str) -> bool {
    let Ok(bytes) = STANDARD.decode(signature_b64.trim()) else { return false };
    let Ok(signature) = Signature::try_from(bytes.as_slice()) else { return false };
    VerifyingKey::<Sha256>::new(key.clone()).verify(message, &signature).is_ok()
}
