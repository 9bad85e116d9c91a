//! The domain and its use cases. Everything that decides something lives here; `api` only translates HTTP to
//! these calls and back. This crate never imports actix-web.

pub mod booking;
pub mod cards;
pub mod checkout;
pub mod commission;
pub mod coupons;
pub mod demo;
pub mod domain;
pub mod error;
pub mod foundation;
pub mod integrations;
pub mod ledger;
pub mod loyalty;
pub mod marketing;
pub mod members;
pub mod money;
pub mod notifications;
pub mod payments;
pub mod store;

use std::sync::Arc;

use anyhow::Context;
use sea_orm::DatabaseConnection;

use checkout::reference;
pub use error::{Conflict, Error, Result};
use foundation::db;
use foundation::settings::Settings;
use foundation::shared::{self, SharedState};
use foundation::vault::Vault;
use integrations::{alipay, sms, wechat, wechatpay, wechatpay_v2};

/// Everything a use case needs, built once at start-up and shared (cheaply cloned) by handlers, jobs and CLI.
#[derive(Clone)]
pub struct AppContext {
    pub settings: Arc<Settings>,
    pub db: DatabaseConnection,
    pub vault: Arc<Vault>,
    pub shared: Arc<dyn SharedState>,
    pub wechat: wechat::WechatClient,
    pub alipay: alipay::AlipayClient,
    pub wechatpay: wechatpay::WechatPayClient,
    /// WeChat Pay v2, for the payment-code fallback only.
    pub wechatpay_v2: wechatpay_v2::WechatPayV2Client,
    /// The SMS channel reminders fall back to (`notifications.sms`).
    pub sms: Arc<dyn sms::SmsChannel>,
    /// The marketing SMS providers (`marketing.*_sms_endpoint`).
    pub sms_providers: sms::SmsProviders,
    /// Parsed payment credentials per merchant.
    pub payment_accounts: Arc<payments::credentials::AccountCache>,
    /// Checkout's copy of each merchant's stores, levels, service items and products.
    pub reference: Arc<reference::ReferenceCache>,
    /// Staff principals of sessions seen lately, dropped on every replica when they change.
    pub sessions: Arc<foundation::sessions::SessionCache>,
    /// Where providers reach us (notification URLs): `server.public_url`, or the bound address once known.
    public_url: Arc<std::sync::OnceLock<String>>,
}

impl AppContext {
    /// Validates settings, opens the vault, connects to the database (migrating if configured) and to Redis.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        settings.validate().map_err(|message| anyhow::anyhow!("bad configuration: {message}"))?;
        let security = if settings.security.keys.is_empty() && !settings.is_production() {
            Vault::load_or_create_dev_keys(&settings.data_dir)?
        } else {
            settings.security.clone()
        };
        let vault = Vault::from_settings(&security).map_err(|m| anyhow::anyhow!("bad configuration: {m}"))?;
        let db = db::connect(&settings.database).await?;
        let migrate = settings.database.migrate_on_start;
        if migrate {
            db::migrate(&db).await?;
        }
        let shared = shared::connect(&settings.redis).await.context("connecting to Redis")?;
        let sessions = Arc::new(foundation::sessions::SessionCache::default());
        sessions.listen(Arc::clone(&shared));
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .context("building the HTTP client")?;
        let ctx = Self {
            wechat: wechat::WechatClient::new(http.clone(), settings.wechat.api_base.clone()),
            alipay: alipay::AlipayClient::new(http.clone(), settings.alipay.gateway.clone()),
            wechatpay_v2: wechatpay_v2::WechatPayV2Client::new(http.clone(), settings.wechatpay.api_base.clone()),
            sms_providers: sms::SmsProviders::new(
                http.clone(),
                settings.marketing.aliyun_sms_endpoint.clone(),
                settings.marketing.tencent_sms_endpoint.clone(),
            ),
            wechatpay: wechatpay::WechatPayClient::new(http, settings.wechatpay.api_base.clone()),
            public_url: Arc::new(std::sync::OnceLock::new()),
            payment_accounts: Arc::default(),
            reference: Arc::default(),
            sessions,
            sms: sms::channel(&settings.notifications)?,
            settings: Arc::new(settings),
            db,
            vault: Arc::new(vault),
            shared,
        };
        if migrate {
            // The data half of migrations that need the keys, which SQL migrations do not hold.
            let sealed = members::seal_plain_details(&ctx).await?;
            if sealed > 0 {
                tracing::info!(sealed, "sealed member details written in plain before sealing");
            }
        }
        Ok(ctx)
    }

    /// Called by the HTTP server once bound: the public URL when none is configured.
    pub fn set_bound_address(&self, host: &str, port: u16) {
        let url = match self.settings.server.public_url.trim_end_matches('/') {
            "" => format!("http://{host}:{port}"),
            configured => configured.to_owned(),
        };
        let _ = self.public_url.set(url);
    }

    /// `<public url><path>`: where a provider should send notifications.
    pub fn public_url(&self, path: &str) -> String {
        let base = match self.public_url.get() {
            Some(url) => url.clone(),
            None => self.settings.server.public_url.trim_end_matches('/').to_owned(),
        };
        format!("{base}{path}")
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now()
    }
}
