//! The domain and its use cases. Everything that decides something lives here; `api` only translates HTTP to
//! these calls and back. This crate never imports actix-web.

pub mod alipay;
pub mod audit;
pub mod auth;
pub mod bills;
pub mod booking;
pub mod bridge;
pub mod card_products;
pub mod catalog;
pub mod commission;
pub mod commission_rules;
pub mod count_cards;
pub mod db;
pub mod deferred;
pub mod demo;
pub mod domain;
pub mod error;
pub mod escpos;
pub mod handover;
pub mod ledger;
pub mod levels;
pub mod member_auth;
pub mod members;
pub mod merchants;
pub mod money;
pub mod payments;
pub mod points;
pub mod pricing;
pub mod products;
pub mod receipts;
pub mod reference;
pub mod refunds;
pub mod reminders;
pub mod settings;
pub mod shared;
pub mod signing;
pub mod slots;
pub mod sms;
pub mod staff;
pub mod stored_value;
pub mod stores;
pub mod subscribe_fields;
pub mod vault;
pub mod wechat;
pub mod wechatpay;
pub mod wechatpay_v2;

use std::sync::Arc;

use anyhow::Context;
use sea_orm::DatabaseConnection;

pub use error::{Conflict, Error, Result};
use settings::Settings;
use shared::SharedState;
use vault::Vault;

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
    /// Parsed payment credentials per merchant.
    pub payment_accounts: Arc<payments::credentials::AccountCache>,
    /// Checkout's copy of each merchant's stores, levels, service items and products.
    pub reference: Arc<reference::ReferenceCache>,
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
        if settings.database.migrate_on_start {
            db::migrate(&db).await?;
        }
        let shared = shared::connect(&settings.redis).await.context("connecting to Redis")?;
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .context("building the HTTP client")?;
        Ok(Self {
            wechat: wechat::WechatClient::new(http.clone(), settings.wechat.api_base.clone()),
            alipay: alipay::AlipayClient::new(http.clone(), settings.alipay.gateway.clone()),
            wechatpay_v2: wechatpay_v2::WechatPayV2Client::new(http.clone(), settings.wechatpay.api_base.clone()),
            wechatpay: wechatpay::WechatPayClient::new(http, settings.wechatpay.api_base.clone()),
            public_url: Arc::new(std::sync::OnceLock::new()),
            payment_accounts: Arc::default(),
            reference: Arc::default(),
            sms: sms::channel(&settings.notifications)?,
            settings: Arc::new(settings),
            db,
            vault: Arc::new(vault),
            shared,
        })
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
