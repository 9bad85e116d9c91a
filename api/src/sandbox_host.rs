//! The outside world of the embedded default and of the tests: the sandbox's fake WeChat (mini-program server API
//! and WeChat Pay) and Alipay, and a merchant wired to them with the sandbox's test keys, exactly as an owner would
//! configure a real merchant (sealed secrets, WeChat Pay's public key and platform certificate side by side).

use sandbox::FakeProviders;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};

use service::AppContext;
use service::foundation::settings::Settings;
use service::foundation::vault::Field;

/// The identities one merchant has at the fake providers.
pub struct SandboxMerchant<'a> {
    pub wechat_appid: &'a str,
    pub wechat_secret: &'a str,
    pub mchid: &'a str,
    pub apiv3_key: &'a str,
    pub alipay_appid: &'a str,
}

/// What the demo merchant uses in the embedded default.
pub const DEMO: SandboxMerchant<'static> = SandboxMerchant {
    wechat_appid: "wx5a4d0b1c2e3f4a5b",
    wechat_secret: "5a4d0b1c2e3f4a5b5a4d0b1c2e3f4a5b",
    mchid: "1900000109",
    apiv3_key: "SandboxApiV3Key00000000000000000",
    alipay_appid: "2021000000000109",
};

/// Points every provider client of `settings` at `fake`.
pub fn point_at(settings: &mut Settings, fake: &FakeProviders) {
    settings.wechat.api_base = fake.wechat_base();
    settings.wechatpay.api_base = fake.wechatpay_base();
    settings.alipay.gateway = fake.alipay_gateway();
}

/// Registers the merchant's apps and WeChat Pay account with the fake, and configures the merchant to use them.
pub async fn connect_merchant(
    ctx: &AppContext,
    fake: &FakeProviders,
    merchant_id: i64,
    ids: &SandboxMerchant<'_>,
) -> anyhow::Result<()> {
    fake.register_wechat_app(ids.wechat_appid, ids.wechat_secret);
    fake.register_alipay_app(ids.alipay_appid, sandbox::APP_TEST_PUBLIC_KEY).map_err(anyhow::Error::msg)?;
    fake.set_alipay_seller_id(ids.alipay_appid, sandbox::ALIPAY_SANDBOX_SELLER_ID);
    fake.register_wechatpay_merchant(
        ids.mchid,
        sandbox::WECHATPAY_MERCHANT_SERIAL,
        sandbox::WECHATPAY_MERCHANT_PUBLIC_KEY,
        ids.apiv3_key,
    )
    .map_err(anyhow::Error::msg)?;

    let merchant = entity::merchants::Entity::find_by_id(merchant_id)
        .one(&ctx.db)
        .await?
        .ok_or_else(|| anyhow::anyhow!("merchant {merchant_id} not found"))?;
    let mut active: entity::merchants::ActiveModel = merchant.into();
    active.wechat_appid = Set(Some(ids.wechat_appid.into()));
    active.wechat_secret_sealed = Set(Some(ctx.vault.seal(Field::WechatAppSecret, ids.wechat_secret)));
    active.alipay_appid = Set(Some(ids.alipay_appid.into()));
    active.alipay_private_key_sealed =
        Set(Some(ctx.vault.seal(Field::AlipayPrivateKey, sandbox::APP_TEST_PRIVATE_KEY)));
    active.alipay_public_key = Set(Some(sandbox::ALIPAY_PLATFORM_PUBLIC_KEY.into()));
    active.alipay_seller_id = Set(Some(sandbox::ALIPAY_SANDBOX_SELLER_ID.into()));
    active.wechatpay_mchid = Set(Some(ids.mchid.into()));
    active.wechatpay_serial = Set(Some(sandbox::WECHATPAY_MERCHANT_SERIAL.into()));
    active.wechatpay_private_key_sealed =
        Set(Some(ctx.vault.seal(Field::WechatPayPrivateKey, sandbox::WECHATPAY_MERCHANT_PRIVATE_KEY)));
    active.wechatpay_apiv3_key_sealed = Set(Some(ctx.vault.seal(Field::WechatPayApiV3Key, ids.apiv3_key)));
    active.update(&ctx.db).await?;
    service::payments::credentials::trust_platform_keys(
        &ctx.db,
        merchant_id,
        sandbox::WECHATPAY_PUBLIC_KEY_ID,
        sandbox::WECHATPAY_PLATFORM_PUBLIC_KEY,
        Some(sandbox::WECHATPAY_PLATFORM_CERT),
    )
    .await?;
    Ok(())
}
