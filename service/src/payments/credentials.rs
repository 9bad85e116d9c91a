//! Each merchant's payment credentials: set by an owner, sealed at rest, never returned or logged, parsed once per
//! process (RSA key parsing costs more than the query that finds them).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, TransactionTrait,
};
use serde_json::json;

use entity::{merchants, wechatpay_platform_keys};

use crate::domain::Permission;
use crate::foundation::audit::{self, Actor, Event};
use crate::foundation::principal::StaffPrincipal;
use crate::foundation::vault::Field;
use crate::integrations::signing;
use crate::integrations::wechatpay::{MerchantCredentials, PlatformKeys};
use crate::{AppContext, Error, Result};
use zeroize::Zeroizing;

/// A merchant's WeChat Pay account, ready to sign and verify.
pub struct WechatPayAccount {
    pub merchant_id: i64,
    /// The mini-program the member pays in (JSAPI `appid`).
    pub appid: String,
    pub credentials: MerchantCredentials,
    pub platform: PlatformKeys,
    /// Set when payment codes go through the v2 `micropay` fallback: the APIv2 key and a client carrying the
    /// merchant API certificate (for `reverse`).
    pub v2: Option<(Zeroizing<String>, reqwest::Client)>,
}

impl WechatPayAccount {
    pub fn merchant(&self) -> crate::integrations::wechatpay::Merchant<'_> {
        crate::integrations::wechatpay::Merchant { credentials: &self.credentials, platform: &self.platform }
    }

    /// The v2 account, when payment codes use the v2 fallback.
    pub fn v2(&self) -> Option<crate::integrations::wechatpay_v2::V2Account<'_>> {
        self.v2.as_ref().map(|(key, tls_client)| crate::integrations::wechatpay_v2::V2Account {
            appid: &self.appid,
            mchid: &self.credentials.mchid,
            key: key.as_str(),
            sign_type: crate::integrations::wechatpay_v2::SignType::HmacSha256,
            tls_client,
        })
    }
}

/// A client presenting the merchant API certificate (v2 `/secapi/…` calls need it).
fn tls_client(cert_pem: Option<&str>, key_pem: &str) -> Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder().timeout(std::time::Duration::from_secs(10));
    if let Some(cert) = cert_pem {
        let identity = reqwest::Identity::from_pem(format!("{cert}\n{key_pem}").as_bytes())
            .map_err(|e| anyhow::anyhow!("merchant certificate: {e}"))?;
        builder = builder.identity(identity);
    }
    Ok(builder.build().map_err(|e| anyhow::anyhow!("TLS client: {e}"))?)
}

/// A merchant's Alipay app, ready to sign and verify.
pub struct AlipayAccount {
    pub merchant_id: i64,
    pub app_id: String,
    pub private_key: rsa::RsaPrivateKey,
    pub alipay_public_key: rsa::RsaPublicKey,
    /// The seller (2088…) notifications must name, when configured.
    pub seller_id: Option<String>,
}

impl AlipayAccount {
    pub fn keys(&self) -> crate::integrations::alipay::AppKeys<'_> {
        crate::integrations::alipay::AppKeys {
            app_id: &self.app_id,
            private_key: &self.private_key,
            alipay_public_key: &self.alipay_public_key,
        }
    }
}

/// Parsed accounts by merchant, valid while the sealed inputs they came from are unchanged (the fingerprint is
/// those inputs, so a credential change on any replica is picked up by every other on its next read).
#[derive(Default)]
pub struct AccountCache {
    wechatpay: Mutex<HashMap<i64, (String, Arc<WechatPayAccount>)>>,
    alipay: Mutex<HashMap<i64, (String, Arc<AlipayAccount>)>>,
}

fn fingerprint(parts: &[Option<&str>]) -> String {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    for part in parts {
        hasher.update(part.unwrap_or("\u{0}").as_bytes());
        hasher.update(b"\x1f");
    }
    hex::encode(hasher.finalize())
}

fn not_configured(what: &'static str) -> Error {
    Error::Disabled(what)
}

/// The WeChat Pay account of a merchant, or `Disabled` when it has none.
pub async fn wechatpay(ctx: &AppContext, merchant: &merchants::Model) -> Result<Arc<WechatPayAccount>> {
    let (Some(appid), Some(mchid), Some(serial), Some(key), Some(apiv3)) = (
        &merchant.wechat_appid,
        &merchant.wechatpay_mchid,
        &merchant.wechatpay_serial,
        &merchant.wechatpay_private_key_sealed,
        &merchant.wechatpay_apiv3_key_sealed,
    ) else {
        return Err(not_configured("WeChat Pay for this merchant"));
    };
    let keys = wechatpay_platform_keys::Entity::find()
        .filter(wechatpay_platform_keys::Column::MerchantId.eq(merchant.id))
        .all(&ctx.db)
        .await?;
    let key_marks: Vec<String> = keys.iter().map(|k| format!("{}:{}", k.serial, k.pem.len())).collect();
    let marks = key_marks.join(",");
    let print = fingerprint(&[
        Some(appid),
        Some(mchid),
        Some(serial),
        Some(key),
        Some(apiv3),
        Some(&marks),
        Some(&merchant.wechatpay_code_api),
        merchant.wechatpay_v2_key_sealed.as_deref(),
        merchant.wechatpay_cert_pem.as_deref(),
    ]);
    if let Some((seen, account)) = ctx.payment_accounts.wechatpay.lock().ok().and_then(|m| m.get(&merchant.id).cloned())
        && seen == print
    {
        return Ok(account);
    }
    let private_pem = Zeroizing::new(ctx.vault.open(Field::WechatPayPrivateKey, key)?);
    let private_key = signing::parse_private_key(&private_pem)?;
    let v2 = match (merchant.wechatpay_code_api.as_str(), &merchant.wechatpay_v2_key_sealed) {
        ("v2", Some(sealed)) => Some((
            Zeroizing::new(ctx.vault.open(Field::WechatPayV2Key, sealed)?),
            tls_client(merchant.wechatpay_cert_pem.as_deref(), &private_pem)?,
        )),
        _ => None,
    };
    let apiv3_key = ctx.vault.open(Field::WechatPayApiV3Key, apiv3)?;
    let credentials = MerchantCredentials::new(mchid.clone(), serial.clone(), private_key, &apiv3_key)?;
    let mut platform = PlatformKeys::default();
    for key in &keys {
        let public_key = match key.kind.as_str() {
            "certificate" => crate::integrations::wechatpay::parse_certificate(&key.pem)?.public_key,
            _ => signing::parse_public_key(&key.pem)?,
        };
        platform.add(key.serial.clone(), public_key);
    }
    let account =
        Arc::new(WechatPayAccount { merchant_id: merchant.id, appid: appid.clone(), credentials, platform, v2 });
    if let Ok(mut cache) = ctx.payment_accounts.wechatpay.lock() {
        cache.insert(merchant.id, (print, account.clone()));
    }
    Ok(account)
}

/// The Alipay app of a merchant, or `Disabled` when it has none.
pub async fn alipay(ctx: &AppContext, merchant: &merchants::Model) -> Result<Arc<AlipayAccount>> {
    let (Some(app_id), Some(key), Some(public)) =
        (&merchant.alipay_appid, &merchant.alipay_private_key_sealed, &merchant.alipay_public_key)
    else {
        return Err(not_configured("Alipay for this merchant"));
    };
    let print = fingerprint(&[Some(app_id), Some(key), Some(public), merchant.alipay_seller_id.as_deref()]);
    if let Some((seen, account)) = ctx.payment_accounts.alipay.lock().ok().and_then(|m| m.get(&merchant.id).cloned())
        && seen == print
    {
        return Ok(account);
    }
    let account = Arc::new(AlipayAccount {
        merchant_id: merchant.id,
        app_id: app_id.clone(),
        private_key: signing::parse_private_key(&ctx.vault.open(Field::AlipayPrivateKey, key)?)?,
        alipay_public_key: signing::parse_public_key(public)?,
        seller_id: merchant.alipay_seller_id.clone(),
    });
    if let Ok(mut cache) = ctx.payment_accounts.alipay.lock() {
        cache.insert(merchant.id, (print, account.clone()));
    }
    Ok(account)
}

/// The merchants that have a WeChat Pay key with this serial (a notification names nothing else before it is
/// decrypted). Usually exactly one.
pub async fn merchants_for_serial(conn: &impl ConnectionTrait, serial: &str) -> Result<Vec<i64>> {
    Ok(wechatpay_platform_keys::Entity::find()
        .filter(wechatpay_platform_keys::Column::Serial.eq(serial))
        .all(conn)
        .await?
        .into_iter()
        .map(|k| k.merchant_id)
        .collect())
}

/// What an owner sets; every field optional, secrets write-only.
#[derive(Default)]
pub struct WechatPayInput {
    pub mchid: Option<String>,
    pub serial: Option<String>,
    pub private_key: Option<String>,
    pub apiv3_key: Option<String>,
    /// The WeChat Pay public key and its `PUB_KEY_ID_…`.
    pub public_key_id: Option<String>,
    pub public_key: Option<String>,
    /// A platform certificate (PEM) to trust beside the public key.
    pub platform_certificate: Option<String>,
    /// `v3` (codepay) or `v2` (micropay) for payment codes.
    pub code_api: Option<String>,
    /// The APIv2 key (32 characters), for the v2 fallback.
    pub v2_key: Option<String>,
    /// The merchant API certificate (`apiclient_cert.pem`), for v2 `reverse`.
    pub merchant_certificate: Option<String>,
}

/// What staff may see of the configuration: never a secret, only whether it is set.
pub struct WechatPayStatus {
    pub mchid: Option<String>,
    pub serial: Option<String>,
    pub private_key_set: bool,
    pub apiv3_key_set: bool,
    /// Serials WeChat Pay's messages may name: public key ids and certificate serials.
    pub platform_serials: Vec<String>,
    pub code_api: String,
    pub v2_key_set: bool,
    pub merchant_certificate_set: bool,
}

pub async fn wechatpay_status(ctx: &AppContext, principal: &StaffPrincipal) -> Result<WechatPayStatus> {
    principal.require_merchant_wide(Permission::MerchantManage)?;
    status_of(ctx, principal.merchant_id).await
}

async fn status_of(ctx: &AppContext, merchant_id: i64) -> Result<WechatPayStatus> {
    let merchant = crate::foundation::merchants::get(ctx, merchant_id).await?;
    let keys = wechatpay_platform_keys::Entity::find()
        .filter(wechatpay_platform_keys::Column::MerchantId.eq(merchant.id))
        .all(&ctx.db)
        .await?;
    Ok(WechatPayStatus {
        mchid: merchant.wechatpay_mchid,
        serial: merchant.wechatpay_serial,
        private_key_set: merchant.wechatpay_private_key_sealed.is_some(),
        apiv3_key_set: merchant.wechatpay_apiv3_key_sealed.is_some(),
        platform_serials: keys.into_iter().map(|k| k.serial).collect(),
        code_api: merchant.wechatpay_code_api,
        v2_key_set: merchant.wechatpay_v2_key_sealed.is_some(),
        merchant_certificate_set: merchant.wechatpay_cert_pem.is_some(),
    })
}

/// Sets the merchant's WeChat Pay credentials (owner only, audited without the values).
pub async fn set_wechatpay(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    input: WechatPayInput,
) -> Result<WechatPayStatus> {
    principal.require_merchant_wide(Permission::MerchantManage)?;
    configure_wechatpay(ctx, principal.merchant_id, Actor::Staff(principal.staff_id), input).await
}

/// Sets a merchant's WeChat Pay credentials: from an owner through the API, or from files through the CLI
/// (`api configure-wechatpay`). Validated before anything is written; audited without the values.
pub async fn configure_wechatpay(
    ctx: &AppContext,
    merchant_id: i64,
    actor: Actor,
    input: WechatPayInput,
) -> Result<WechatPayStatus> {
    let merchant = crate::foundation::merchants::get(ctx, merchant_id).await?;
    let mut active: merchants::ActiveModel = merchant.clone().into();
    let mut changed = Vec::new();
    if let Some(mchid) = input.mchid {
        if !(mchid.len() >= 8 && mchid.len() <= 32 && mchid.bytes().all(|b| b.is_ascii_digit())) {
            return Err(Error::invalid("mchid", "must be the numeric WeChat Pay merchant number"));
        }
        active.wechatpay_mchid = Set(Some(mchid));
        changed.push("mchid");
    }
    if let Some(serial) = input.serial {
        if !(serial.len() <= 64 && !serial.is_empty() && serial.bytes().all(|b| b.is_ascii_hexdigit())) {
            return Err(Error::invalid("serial", "must be the merchant API certificate serial (hex)"));
        }
        active.wechatpay_serial = Set(Some(serial.to_ascii_uppercase()));
        changed.push("serial");
    }
    if let Some(pem) = input.private_key {
        signing::parse_private_key(&pem)
            .map_err(|_| Error::invalid("private_key", "not an RSA private key (PKCS#8 PEM, apiclient_key.pem)"))?;
        active.wechatpay_private_key_sealed = Set(Some(ctx.vault.seal(Field::WechatPayPrivateKey, &pem)));
        changed.push("private_key");
    }
    if let Some(key) = input.apiv3_key {
        if key.len() != 32 || !key.is_ascii() {
            return Err(Error::invalid("apiv3_key", "must be the 32-character APIv3 key"));
        }
        active.wechatpay_apiv3_key_sealed = Set(Some(ctx.vault.seal(Field::WechatPayApiV3Key, &key)));
        changed.push("apiv3_key");
    }
    let mut new_keys = Vec::new();
    match (input.public_key_id, input.public_key) {
        (Some(id), Some(pem)) => {
            if !id.starts_with("PUB_KEY_ID_") || id.len() > 64 {
                return Err(Error::invalid("public_key_id", "must be the PUB_KEY_ID_… shown with the key"));
            }
            signing::parse_public_key(&pem)
                .map_err(|_| Error::invalid("public_key", "not an RSA public key (pub_key.pem)"))?;
            new_keys.push((id, "public_key", pem, None));
            changed.push("public_key");
        }
        (None, None) => {}
        _ => return Err(Error::invalid("public_key", "give public_key_id and public_key together")),
    }
    if let Some(pem) = input.platform_certificate {
        let cert = crate::integrations::wechatpay::parse_certificate(&pem)
            .map_err(|_| Error::invalid("platform_certificate", "not an RSA X.509 certificate (PEM)"))?;
        let expires = chrono::DateTime::from_timestamp(cert.not_after_unix, 0);
        new_keys.push((cert.serial, "certificate", pem, expires));
        changed.push("platform_certificate");
    }
    if let Some(api) = input.code_api {
        if api != "v3" && api != "v2" {
            return Err(Error::invalid("code_api", "must be v3 (codepay) or v2 (micropay)"));
        }
        active.wechatpay_code_api = Set(api);
        changed.push("code_api");
    }
    if let Some(key) = input.v2_key {
        if key.len() != 32 || !key.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(Error::invalid("v2_key", "must be the 32-character APIv2 key"));
        }
        active.wechatpay_v2_key_sealed = Set(Some(ctx.vault.seal(Field::WechatPayV2Key, &key)));
        changed.push("v2_key");
    }
    if let Some(pem) = input.merchant_certificate {
        crate::integrations::wechatpay::parse_certificate(&pem)
            .map_err(|_| Error::invalid("merchant_certificate", "not an RSA X.509 certificate (apiclient_cert.pem)"))?;
        active.wechatpay_cert_pem = Set(Some(pem));
        changed.push("merchant_certificate");
    }
    let switching_to_v2 = matches!(&active.wechatpay_code_api, sea_orm::ActiveValue::Set(api) if api == "v2");
    let has_v2_key = match &active.wechatpay_v2_key_sealed {
        sea_orm::ActiveValue::Set(key) | sea_orm::ActiveValue::Unchanged(key) => key.is_some(),
        sea_orm::ActiveValue::NotSet => false,
    };
    if switching_to_v2 && !has_v2_key {
        return Err(Error::invalid("v2_key", "the v2 fallback needs the APIv2 key"));
    }
    if changed.is_empty() {
        return status_of(ctx, merchant_id).await;
    }
    let txn = ctx.db.begin().await?;
    active.update(&txn).await?;
    for (serial, kind, pem, expires_at) in new_keys {
        store_platform_key(&txn, merchant.id, &serial, kind, &pem, expires_at).await?;
    }
    audit::record(
        &txn,
        Event {
            merchant_id: Some(merchant.id),
            actor,
            action: "merchant.wechatpay_configured",
            target: Some(("merchant", merchant.id)),
            detail: json!({ "changed": changed }),
            ip: None,
        },
    )
    .await?;
    txn.commit().await?;
    status_of(ctx, merchant_id).await
}

/// Adds or replaces one platform key of a merchant.
pub(crate) async fn store_platform_key(
    conn: &impl ConnectionTrait,
    merchant_id: i64,
    serial: &str,
    kind: &str,
    pem: &str,
    expires_at: Option<chrono::DateTime<Utc>>,
) -> Result<()> {
    wechatpay_platform_keys::Entity::delete_many()
        .filter(wechatpay_platform_keys::Column::MerchantId.eq(merchant_id))
        .filter(wechatpay_platform_keys::Column::Serial.eq(serial))
        .exec(conn)
        .await?;
    wechatpay_platform_keys::ActiveModel {
        merchant_id: Set(merchant_id),
        serial: Set(serial.to_owned()),
        kind: Set(kind.to_owned()),
        pem: Set(pem.to_owned()),
        expires_at: Set(expires_at),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// Trusts a WeChat Pay public key (and optionally a platform certificate beside it) for a merchant: setup for
/// the sandbox and for tooling; owners go through [`set_wechatpay`].
pub async fn trust_platform_keys(
    conn: &impl ConnectionTrait,
    merchant_id: i64,
    public_key_id: &str,
    public_key_pem: &str,
    certificate_pem: Option<&str>,
) -> Result<()> {
    signing::parse_public_key(public_key_pem)?;
    store_platform_key(conn, merchant_id, public_key_id, "public_key", public_key_pem, None).await?;
    if let Some(pem) = certificate_pem {
        let cert = crate::integrations::wechatpay::parse_certificate(pem)?;
        let expires = chrono::DateTime::from_timestamp(cert.not_after_unix, 0);
        store_platform_key(conn, merchant_id, &cert.serial, "certificate", pem, expires).await?;
    }
    Ok(())
}

/// Downloads the merchant's platform certificates (`/v3/certificates`) and trusts the new ones. The answer must
/// verify with a key already trusted, so a merchant on the public key can add certificates, and one on
/// certificates can roll them over.
pub async fn refresh_certificates(ctx: &AppContext, merchant_id: i64) -> Result<usize> {
    let merchant = crate::foundation::merchants::get(ctx, merchant_id).await?;
    let account = wechatpay(ctx, &merchant).await?;
    let certificates = ctx.wechatpay.certificates(&account.merchant()).await?;
    let mut added = 0;
    for (serial, pem) in certificates {
        if account.platform.knows(&serial) {
            continue;
        }
        let cert = crate::integrations::wechatpay::parse_certificate(&pem)?;
        let expires = chrono::DateTime::from_timestamp(cert.not_after_unix, 0);
        store_platform_key(&ctx.db, merchant_id, &serial, "certificate", &pem, expires).await?;
        added += 1;
    }
    Ok(added)
}

/// The daily certificate refresh: every merchant that verifies with platform certificates downloads the current
/// ones (new certificates appear before old ones expire). Merchants on the public key alone are left alone.
pub async fn refresh_all_certificates(ctx: &AppContext) -> Result<usize> {
    let with_certificates: std::collections::BTreeSet<i64> = wechatpay_platform_keys::Entity::find()
        .filter(wechatpay_platform_keys::Column::Kind.eq("certificate"))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|k| k.merchant_id)
        .collect();
    let mut added = 0;
    let mut failed = 0;
    for merchant_id in with_certificates {
        match refresh_certificates(ctx, merchant_id).await {
            Ok(n) => added += n,
            Err(error) => {
                failed += 1;
                tracing::warn!(merchant = merchant_id, %error, "platform certificate refresh failed");
            }
        }
    }
    if failed > 0 {
        return Err(Error::Internal(anyhow::anyhow!("{failed} certificate refreshes failed")));
    }
    Ok(added)
}
