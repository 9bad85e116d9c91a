//! Test-only key material (see `keys/README.md`). None of it guards anything real.

use rsa::RsaPrivateKey;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;

/// Alipay's platform key pair as the fake plays it.
pub const ALIPAY_PLATFORM_PRIVATE_KEY: &str = include_str!("../keys/alipay_platform_private.pem");
pub const ALIPAY_PLATFORM_PUBLIC_KEY: &str = include_str!("../keys/alipay_platform_public.pem");
/// A merchant application key pair for tests and the demo merchant.
pub const APP_TEST_PRIVATE_KEY: &str = include_str!("../keys/app_test_private.pem");
pub const APP_TEST_PUBLIC_KEY: &str = include_str!("../keys/app_test_public.pem");
/// The seller (商户 PID, `2088…`) an Alipay app collects for unless `set_alipay_seller_id` says otherwise; it is
/// what async notifications carry as `seller_id`.
pub const ALIPAY_SANDBOX_SELLER_ID: &str = "2088000000000001";

/// WeChat Pay's platform key pair (PKCS#8 private, SPKI public): signs every answer and notification.
pub const WECHATPAY_PLATFORM_PRIVATE_KEY: &str = include_str!("../keys/wechatpay_platform_private.pem");
pub const WECHATPAY_PLATFORM_PUBLIC_KEY: &str = include_str!("../keys/wechatpay_platform_public.pem");
/// A self-signed X.509 certificate for the same platform key, as `GET /v3/certificates` hands it out.
pub const WECHATPAY_PLATFORM_CERT: &str = include_str!("../keys/wechatpay_platform_cert.pem");
/// The certificate's serial in the uppercase hex WeChat Pay prints (`Wechatpay-Serial` in certificate mode).
pub const WECHATPAY_PLATFORM_CERT_SERIAL: &str = "5A1D0C3B9E7F24680ACE13579BDF02468ACE1357";
/// The certificate's validity (`notBefore` / `notAfter`) in the form `/v3/certificates` reports it.
pub const WECHATPAY_PLATFORM_CERT_EFFECTIVE_TIME: &str = "2026-11-24T01:11:05+08:00";
pub const WECHATPAY_PLATFORM_CERT_EXPIRE_TIME: &str = "2036-11-21T01:11:05+08:00";
/// The id of the same key as a "WeChat Pay public key" (微信支付公钥; `Wechatpay-Serial` in public-key mode).
pub const WECHATPAY_PUBLIC_KEY_ID: &str = "PUB_KEY_ID_0111000000000000000000000000SANDBOX";

/// A merchant API key pair (`apiclient_key.pem` and its public half) for tests and the demo merchant.
pub const WECHATPAY_MERCHANT_PRIVATE_KEY: &str = include_str!("../keys/wechatpay_merchant_private.pem");
pub const WECHATPAY_MERCHANT_PUBLIC_KEY: &str = include_str!("../keys/wechatpay_merchant_public.pem");
/// The serial of the (imaginary) merchant API certificate of that key pair, as `serial_no` in `Authorization`.
pub const WECHATPAY_MERCHANT_SERIAL: &str = "3775B6A45ACD588826D15E583A95F5DD2D0E2F4B";

/// The private keys the fake signs with, parsed once.
pub(crate) struct Keys {
    pub(crate) alipay: RsaPrivateKey,
    pub(crate) wechatpay: RsaPrivateKey,
    /// Someone who is not the provider: signs forged answers that our clients must refuse.
    pub(crate) forger: RsaPrivateKey,
}

impl Keys {
    pub(crate) fn load() -> Result<Self, String> {
        let alipay =
            RsaPrivateKey::from_pkcs1_pem(ALIPAY_PLATFORM_PRIVATE_KEY).map_err(|e| format!("alipay key: {e}"))?;
        let wechatpay = RsaPrivateKey::from_pkcs8_pem(WECHATPAY_PLATFORM_PRIVATE_KEY)
            .map_err(|e| format!("wechatpay platform key: {e}"))?;
        let forger = RsaPrivateKey::from_pkcs1_pem(APP_TEST_PRIVATE_KEY).map_err(|e| format!("forger key: {e}"))?;
        Ok(Self { alipay, wechatpay, forger })
    }
}
