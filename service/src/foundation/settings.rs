//! Configuration, layered: built-in defaults → optional TOML file → `HUIYUAN__SECTION__KEY` environment → CLI.
//!
//! Loading is explicit (no globals): `Settings::load` returns a value that is passed into `AppContext::build`.
//! `validate` fails fast with a message naming the bad setting. Secrets are wrapped in [`Secret`] so that `Debug`
//! never prints them.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Local use: missing keys are generated into the data directory, demo data and the sandbox are allowed.
    Development,
    /// Refuses to start without configured keys, with demo data or with the sandbox.
    Production,
}

/// A configured secret: deserialises from a string, never prints.
#[derive(Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() { "<empty>" } else { "<redacted>" })
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Settings {
    pub mode: Mode,
    /// Where the embedded default keeps its SQLite file and generated development keys.
    pub data_dir: PathBuf,
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub redis: RedisSettings,
    pub security: SecuritySettings,
    pub auth: AuthSettings,
    pub wechat: WechatSettings,
    pub alipay: AlipaySettings,
    pub wechatpay: WechatPaySettings,
    pub payments: PaymentSettings,
    pub jobs: JobSettings,
    pub notifications: NotificationSettings,
    pub marketing: MarketingSettings,
    pub demo: DemoSettings,
    pub sandbox: SandboxSettings,
    pub log: LogSettings,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct ServerSettings {
    pub host: String,
    /// 0 picks a free port (tests).
    pub port: u16,
    /// Seconds in-flight requests get to finish after SIGINT/SIGTERM.
    pub shutdown_timeout_secs: u64,
    /// Worker threads; 0 means one per core.
    pub workers: usize,
    /// Trust `X-Forwarded-For` for the client IP (only behind a proxy that sets it).
    pub behind_proxy: bool,
    /// The address providers reach us at (`https://api.example.com`): payment notifications go to
    /// `<public_url>/callbacks/…`. Empty: `http://<host>:<bound port>`, right for the embedded default and tests.
    pub public_url: String,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct DatabaseSettings {
    /// `sqlite://path?mode=rwc` or `postgres://user@host/db`.
    pub url: Secret,
    pub max_connections: u32,
    /// How long a request waits for a pooled connection before failing. A request that asks for a second
    /// connection inside its own transaction waits this long on SQLite's single connection (and stalls every other
    /// request meanwhile), so tests set it short to make such a mistake fail fast.
    pub acquire_timeout_secs: u64,
    /// Apply pending migrations whenever a command starts the application (the server, the jobs, the seeding and
    /// configuring commands; never `check-config` or `verify-ledger`).
    pub migrate_on_start: bool,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct RedisSettings {
    /// Empty: cache, rate limits, locks and pub/sub stay in process (one api process only).
    pub url: Secret,
    /// Prefix of every key this deployment writes, so several deployments (or test runs) can share a Redis.
    pub key_prefix: String,
    pub pool_size: usize,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct SecuritySettings {
    /// Data-encryption keys by key id, each 32 bytes in standard base64. Old ids stay for decryption after a rotation.
    pub keys: BTreeMap<String, Secret>,
    /// The key id new personal data is sealed under.
    pub active_key: String,
    /// 32 bytes, base64: keys the blind indexes (phone, name) and member codes. Rotating it means re-indexing.
    pub index_key: Secret,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct AuthSettings {
    pub staff_session_hours: i64,
    pub member_session_days: i64,
    /// How long a member QR code stays valid (30–60 s: the mini-program refreshes at half of it).
    pub member_code_ttl_secs: i64,
    /// Failed sign-ins allowed per account in `sign_in_window_secs` before it is locked for the rest of the window.
    pub sign_in_failures_per_account: u32,
    /// Sign-in attempts allowed per client IP in `sign_in_window_secs`.
    pub sign_in_attempts_per_ip: u32,
    pub sign_in_window_secs: u64,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct WechatSettings {
    /// `https://api.weixin.qq.com` in production; the sandbox or a test fake otherwise.
    pub api_base: String,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct AlipaySettings {
    /// `https://openapi.alipay.com/gateway.do` in production.
    pub gateway: String,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct WechatPaySettings {
    /// `https://api.mch.weixin.qq.com` in production; the sandbox or a test fake otherwise.
    pub api_base: String,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct PaymentSettings {
    /// How long a member has to pay an order before we close it.
    pub order_ttl_secs: i64,
    /// A pending payment older than this is asked about (query) by the reconciliation sweep.
    pub query_after_secs: i64,
    /// Payment codes: how often to ask while the customer confirms, and when to give up and reverse.
    pub code_poll_interval_ms: u64,
    pub code_timeout_secs: u64,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct JobSettings {
    /// Host the job scheduler in this api process (the embedded default). At scale, set false on the api
    /// replicas and run `jobs` processes; either way each tick runs once.
    pub in_process: bool,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct NotificationSettings {
    /// Where SMS goes: `log` (the embedded default: written to the log, nothing leaves the machine).
    pub sms: String,
    /// Whether reminders use SMS at all (a staff member's reminder, a member's when WeChat cannot reach them).
    /// Production refuses it on the `log` channel: a reminder that reaches no phone must not pass as sent.
    pub sms_enabled: bool,
    /// How long a sender holds a message it is sending; after that another sender may take it. Longer than the
    /// HTTP timeout, so a slow answer is never sent twice.
    pub claim_secs: i64,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct MarketingSettings {
    /// Aliyun SMS (`https://dysmsapi.aliyuncs.com/`); the sandbox's fake in the embedded default and the tests.
    pub aliyun_sms_endpoint: String,
    /// Tencent Cloud SMS (`https://sms.tencentcloudapi.com/`).
    pub tencent_sms_endpoint: String,
    /// Marketing SMS handed to one provider per second at most, below its published limit (Aliyun 5,000/s,
    /// Tencent 3,000/s) and gentle on a shared account.
    pub sms_per_second: u32,
    /// How long a receipt can take: a Tencent send whose answer was lost and that shows no receipt after this long
    /// never went, and is sent again.
    pub receipt_window_secs: i64,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct DemoSettings {
    /// Seed the demo merchant on first start (development only).
    pub seed: bool,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct SandboxSettings {
    /// Offer `/api/mini/v1/sessions/sandbox` (member sign-in without WeChat) and, in `serve`, run the fake WeChat,
    /// WeChat Pay and Alipay the demo merchant pays through (development only).
    pub enabled: bool,
    /// Where `serve` runs the fakes, with the pay-or-decline page at `/sandbox`.
    pub listen: String,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct LogSettings {
    /// `pretty` or `json`; production defaults to `json`.
    pub format: String,
    /// A tracing filter, e.g. `info,sqlx=warn`.
    pub filter: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            mode: Mode::Development,
            data_dir: PathBuf::from("data"),
            server: ServerSettings {
                host: "127.0.0.1".into(),
                port: 8080,
                shutdown_timeout_secs: 20,
                workers: 0,
                behind_proxy: false,
                public_url: String::new(),
            },
            database: DatabaseSettings {
                url: Secret::new("sqlite://data/huiyuan.db?mode=rwc"),
                max_connections: 16,
                acquire_timeout_secs: 10,
                migrate_on_start: true,
            },
            redis: RedisSettings { url: Secret::default(), key_prefix: "hy:".into(), pool_size: 32 },
            security: SecuritySettings {
                keys: BTreeMap::new(),
                active_key: String::new(),
                index_key: Secret::default(),
            },
            auth: AuthSettings {
                staff_session_hours: 12,
                member_session_days: 30,
                member_code_ttl_secs: 60,
                sign_in_failures_per_account: 5,
                sign_in_attempts_per_ip: 30,
                sign_in_window_secs: 900,
            },
            wechat: WechatSettings { api_base: "https://api.weixin.qq.com".into() },
            alipay: AlipaySettings { gateway: "https://openapi.alipay.com/gateway.do".into() },
            wechatpay: WechatPaySettings { api_base: "https://api.mch.weixin.qq.com".into() },
            payments: PaymentSettings {
                order_ttl_secs: 900,
                query_after_secs: 120,
                code_poll_interval_ms: 5000,
                code_timeout_secs: 30,
            },
            jobs: JobSettings { in_process: true },
            notifications: NotificationSettings { sms: "log".into(), sms_enabled: true, claim_secs: 60 },
            marketing: MarketingSettings {
                aliyun_sms_endpoint: "https://dysmsapi.aliyuncs.com/".into(),
                tencent_sms_endpoint: "https://sms.tencentcloudapi.com/".into(),
                sms_per_second: 100,
                receipt_window_secs: 900,
            },
            demo: DemoSettings { seed: true },
            sandbox: SandboxSettings { enabled: true, listen: "127.0.0.1:8081".into() },
            log: LogSettings { format: "pretty".into(), filter: "info,sqlx=warn,sea_orm=warn".into() },
        }
    }
}

/// Values given on the command line: the last and strongest layer.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CliOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

impl Settings {
    /// A copy fit to print: every secret that is set reads `<redacted>` (database and Redis URLs may carry
    /// passwords; keys are keys).
    pub fn redacted(&self) -> Settings {
        let hide = |secret: &Secret| {
            if secret.is_empty() { Secret::default() } else { Secret::new("<redacted>") }
        };
        let mut copy = self.clone();
        copy.database.url = hide(&self.database.url);
        copy.redis.url = hide(&self.redis.url);
        copy.security.index_key = hide(&self.security.index_key);
        copy.security.keys = self.security.keys.iter().map(|(id, key)| (id.clone(), hide(key))).collect();
        copy
    }

    /// The generated development keys file in use, when no keys are configured outside production.
    pub fn dev_keys_file(&self) -> Option<PathBuf> {
        (self.security.keys.is_empty() && !self.is_production()).then(|| self.data_dir.join("dev-keys.toml"))
    }

    /// Defaults → `config` (if given, or `huiyuan.toml` if present) → `HUIYUAN__…` env → CLI.
    pub fn load(config: Option<&Path>, cli: &CliOverrides) -> Result<Self, Box<figment::Error>> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        match config {
            Some(path) => figment = figment.merge(Toml::file_exact(path)),
            None => figment = figment.merge(Toml::file("huiyuan.toml")),
        }
        figment = figment.merge(Env::prefixed("HUIYUAN__").split("__"));
        let mut cli_layer = Figment::new();
        if let Some(url) = &cli.database_url {
            cli_layer = cli_layer.merge(("database.url", url));
        }
        if let Some(port) = cli.port {
            cli_layer = cli_layer.merge(("server.port", port));
        }
        if let Some(host) = &cli.host {
            cli_layer = cli_layer.merge(("server.host", host));
        }
        figment.merge(cli_layer).extract().map_err(Box::new)
    }

    pub fn is_production(&self) -> bool {
        self.mode == Mode::Production
    }

    pub fn uses_sqlite(&self) -> bool {
        self.database.url.expose().starts_with("sqlite:")
    }

    /// Every rule a setting must meet, checked before anything starts. Key material is checked by the vault.
    pub fn validate(&self) -> Result<(), String> {
        let url = self.database.url.expose();
        if !(url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err("database.url must be a sqlite: or postgres:// URL".into());
        }
        let redis = self.redis.url.expose();
        if !(redis.is_empty() || redis.starts_with("redis://") || redis.starts_with("rediss://")) {
            return Err("redis.url must be empty or a redis:// / rediss:// URL".into());
        }
        if !(60..=7200).contains(&self.payments.order_ttl_secs) {
            return Err("payments.order_ttl_secs must be between 60 and 7200 (a WeChat prepay id lives 2 hours)".into());
        }
        if self.payments.code_poll_interval_ms == 0 || self.payments.code_timeout_secs == 0 {
            return Err("payments.code_poll_interval_ms and payments.code_timeout_secs must be positive".into());
        }
        if self.database.acquire_timeout_secs == 0 {
            return Err("database.acquire_timeout_secs must be at least 1".into());
        }
        if self.database.max_connections == 0 {
            return Err("database.max_connections must be at least 1".into());
        }
        if !(30..=60).contains(&self.auth.member_code_ttl_secs) {
            return Err("auth.member_code_ttl_secs must be between 30 and 60".into());
        }
        if self.auth.staff_session_hours < 1 || self.auth.member_session_days < 1 {
            return Err("auth session lifetimes must be positive".into());
        }
        if self.log.format != "pretty" && self.log.format != "json" {
            return Err("log.format must be `pretty` or `json`".into());
        }
        for (name, base) in [("wechat.api_base", &self.wechat.api_base), ("alipay.gateway", &self.alipay.gateway)] {
            if !(base.starts_with("https://") || base.starts_with("http://")) {
                return Err(format!("{name} must be an http(s) URL"));
            }
        }
        if self.notifications.sms != "log" {
            return Err("notifications.sms must be `log` (the only SMS channel so far)".into());
        }
        if !(10..=3600).contains(&self.notifications.claim_secs) && !cfg!(debug_assertions) {
            return Err("notifications.claim_secs must be 10–3600".into());
        }
        if self.is_production() {
            if self.security.keys.is_empty() || self.security.index_key.is_empty() {
                return Err("production mode needs security.keys, security.active_key and security.index_key".into());
            }
            if self.demo.seed {
                return Err("production mode refuses demo data: set demo.seed = false".into());
            }
            if self.sandbox.enabled {
                return Err("production mode refuses the sandbox: set sandbox.enabled = false".into());
            }
            if self.notifications.sms_enabled && self.notifications.sms == "log" {
                return Err("production mode refuses SMS through the log channel (no phone would get it): set \
                            notifications.sms_enabled = false until an SMS provider is configured"
                    .into());
            }
            if self.uses_sqlite() {
                tracing::warn!("production mode on SQLite: fine for one store, not for several api replicas");
            }
        }
        Ok(())
    }
}
