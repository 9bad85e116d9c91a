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
    settings.marketing.aliyun_sms_endpoint = fake.aliyun_sms_endpoint();
    settings.marketing.tencent_sms_endpoint = fake.tencent_sms_endpoint();
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

/// The demo merchant's Aliyun SMS account at the fake: the key, and the signature and template the fake approved.
pub const DEMO_SMS_KEY_ID: &str = "LTAI5tSandboxDemoKey";
pub const DEMO_SMS_SECRET: &str = "SandboxDemoSecretForAliyunSms0001";
pub const DEMO_SMS_SIGN: &str = "悦己美发";
pub const DEMO_SMS_TEMPLATE: (&str, &str) =
    ("SMS_476500001", "${name}您好，送您一张${coupon}，${days}天内到店可用，期待与您再见。回T退订");

/// Gives the merchant the demo SMS account (once) and a template the fake approved, exactly as an owner and a
/// marketing manager would record them; Aliyun's pushes are pointed at the api.
pub async fn connect_sms(ctx: &AppContext, fake: &FakeProviders, merchant_id: i64) -> anyhow::Result<()> {
    use sea_orm::{ColumnTrait, QueryFilter};
    fake.register_sms_account(
        sandbox::SmsProvider::Aliyun,
        DEMO_SMS_KEY_ID,
        DEMO_SMS_SECRET,
        None,
        &[DEMO_SMS_SIGN],
        &[DEMO_SMS_TEMPLATE],
    );
    let existing = entity::sms_accounts::Entity::find()
        .filter(entity::sms_accounts::Column::MerchantId.eq(merchant_id))
        .one(&ctx.db)
        .await?;
    let account = match existing {
        Some(account) => account,
        None => {
            let now = ctx.now();
            let account = entity::sms_accounts::ActiveModel {
                merchant_id: Set(merchant_id),
                provider: Set("aliyun".into()),
                access_key_id: Set(DEMO_SMS_KEY_ID.into()),
                secret_sealed: Set(ctx.vault.seal(Field::SmsSecret, DEMO_SMS_SECRET)),
                app_id: Set(None),
                sign_name: Set(DEMO_SMS_SIGN.into()),
                callback_token: Set(format!("{:032x}", rand::random::<u128>())),
                price_fen: Set(5),
                updated_at: Set(now),
                ..Default::default()
            }
            .insert(&ctx.db)
            .await?;
            let owner = entity::staff::Entity::find()
                .filter(entity::staff::Column::MerchantId.eq(merchant_id))
                .one(&ctx.db)
                .await?
                .map_or(0, |s| s.id);
            entity::sms_templates::ActiveModel {
                merchant_id: Set(merchant_id),
                name: Set("到店礼券提醒".into()),
                code: Set(DEMO_SMS_TEMPLATE.0.into()),
                body: Set(DEMO_SMS_TEMPLATE.1.into()),
                variables: Set(r#"["name","coupon","days"]"#.into()),
                archived: Set(false),
                created_by: Set(owner),
                created_at: Set(now),
                ..Default::default()
            }
            .insert(&ctx.db)
            .await?;
            account
        }
    };
    let url = |kind: &str| ctx.public_url(&format!("/callbacks/sms/aliyun/{}/{kind}", account.callback_token));
    fake.set_aliyun_sms_callbacks(&url("report"), &url("reply"));
    Ok(())
}
