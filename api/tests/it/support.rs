//! Test support: a real server on port 0 against a fresh database, with WeChat and Alipay replaced by the local
//! fakes. `TEST_DATABASE_URL` (a PostgreSQL server URL) and `TEST_REDIS_URL` switch from the embedded default
//! (a temp SQLite file, in-process shared state) to PostgreSQL + Redis.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::{Method, StatusCode};
use sandbox::FakeProviders;
use serde_json::{Value, json};

use service::AppContext;
use service::demo::DemoSeed;
use service::domain::Role;
use service::foundation::settings::{Secret, SecuritySettings, Settings};

pub const WECHAT_APPID: &str = "wx0123456789abcdef";
pub const WECHAT_SECRET: &str = "0123456789abcdef0123456789abcdef";
pub const ALIPAY_APPID: &str = "2021000000000001";
pub const WECHATPAY_MCHID: &str = "1230000109";
pub const WECHATPAY_APIV3_KEY: &str = "TestApiV3Key00000000000000000000";

pub fn password(role: Role) -> String {
    format!("correct-horse-{}", role.as_str())
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub ctx: AppContext,
    pub seed: DemoSeed,
    pub fake: FakeProviders,
    database: Option<(String, String)>,
}

fn random_key() -> Secret {
    Secret::new(STANDARD.encode(rand::random::<[u8; 32]>()))
}

pub struct Options {
    pub sandbox: bool,
    /// A Redis of the test's own (one it can stop), instead of `TEST_REDIS_URL`.
    pub redis_url: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self { sandbox: true, redis_url: None }
    }
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(Options::default()).await
    }

    pub async fn spawn_with(options: Options) -> Self {
        let fake = FakeProviders::start().expect("fake providers start");
        let mut settings = Settings::default();
        let test_id = format!("{:016x}", rand::random::<u64>());
        settings.server.port = 0;
        settings.server.workers = 2;
        settings.data_dir = std::env::temp_dir().join(format!("hy-test-{test_id}"));
        let database = match std::env::var("TEST_DATABASE_URL").ok().filter(|u| !u.is_empty()) {
            Some(server) => {
                let name = format!("hy_test_{test_id}");
                create_postgres_database(&server, &name).await;
                settings.database.url = Secret::new(format!("{}/{name}", server.trim_end_matches('/')));
                settings.database.max_connections = 8;
                Some((server, name))
            }
            None => {
                let path = settings.data_dir.join("test.db");
                settings.database.url = Secret::new(format!("sqlite://{}?mode=rwc", path.display()));
                // A request that takes a second connection inside its own transaction waits for SQLite's single
                // connection until this runs out: fail such a test in seconds rather than hide the stall. (On
                // PostgreSQL the pool has more connections, and 200 concurrent bills queue longer than this.)
                settings.database.acquire_timeout_secs = 3;
                None
            }
        };
        let redis = options.redis_url.clone().or_else(|| std::env::var("TEST_REDIS_URL").ok());
        if let Some(redis) = redis.filter(|u| !u.is_empty()) {
            settings.redis.url = Secret::new(redis);
            settings.redis.key_prefix = format!("hy-test:{test_id}:");
            settings.redis.pool_size = 8;
        }
        let mut keys = BTreeMap::new();
        keys.insert("t1".to_owned(), random_key());
        settings.security = SecuritySettings { keys, active_key: "t1".into(), index_key: random_key() };
        api::sandbox_host::point_at(&mut settings, &fake);
        settings.sandbox.enabled = options.sandbox;
        settings.log.filter = "warn".into();

        let ctx = AppContext::build(settings).await.expect("app context builds");
        let seed = service::demo::seed(&ctx, &password).await.expect("seed works").expect("fresh database");
        configure_channels(&ctx, &fake, seed.merchant_id).await;
        let app = api::Application::from_context(ctx.clone()).expect("app builds");
        let address = format!("http://127.0.0.1:{}", app.port());
        tokio::spawn(app.run_until_stopped());
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        Self { address, client, ctx, seed, fake, database }
    }

    /// Another api process on this test's database, with its own caches and connections, as a second replica is
    /// at scale. Returns its address.
    pub async fn replica(&self) -> String {
        self.replica_with_context().await.0
    }

    /// [`Self::replica`], with the replica's context.
    pub async fn replica_with_context(&self) -> (String, AppContext) {
        let ctx = AppContext::build((*self.ctx.settings).clone()).await.expect("replica context builds");
        let replica = api::Application::from_context(ctx.clone()).expect("replica builds");
        let address = format!("http://127.0.0.1:{}", replica.port());
        tokio::spawn(replica.run_until_stopped());
        (address, ctx)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Signs in the demo account of `role` and returns its bearer token.
    pub async fn token(&self, role: Role) -> String {
        let username = &self.seed.accounts.iter().find(|a| a.role == role).expect("demo account").username;
        self.sign_in(username, &password(role)).await
    }

    pub async fn sign_in(&self, username: &str, password: &str) -> String {
        let (status, body) = self
            .call(
                Method::POST,
                "/api/staff/v1/sessions",
                None,
                Some(json!({ "username": username, "password": password })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "sign-in of {username} failed: {body}");
        body["token"].as_str().expect("token").to_owned()
    }

    /// Sends a JSON request and returns status and JSON body (Null when empty).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status();
        let text = response.text().await.expect("body read");
        let value =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        (status, value)
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PATCH, path, Some(token), Some(body)).await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::PUT, path, Some(token), Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    /// A ledger account's balance by its key (`store:1:cash`, `member:7:points`), 0 when it was never opened.
    pub async fn account_balance(&self, key: &str) -> i64 {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        entity::ledger_accounts::Entity::find()
            .filter(entity::ledger_accounts::Column::Key.eq(key))
            .one(&self.ctx.db)
            .await
            .unwrap()
            .map_or(0, |row| row.balance)
    }

    /// Rows in `table`: the "nothing was written" check.
    pub async fn count(&self, table: &str) -> i64 {
        use sea_orm::{ConnectionTrait, Statement};
        let backend = self.ctx.db.get_database_backend();
        let row = self
            .ctx
            .db
            .query_one_raw(Statement::from_string(backend, format!("SELECT COUNT(*) AS n FROM {table}")))
            .await
            .expect("count query")
            .expect("a row");
        row.try_get::<i64>("", "n").expect("count")
    }

    /// A manager who works for every store (the demo's manager works at one): prices and the catalog are theirs to
    /// change.
    pub async fn chain_manager(&self) -> String {
        let owner = self.token(Role::Owner).await;
        let body = json!({ "username": "chain-manager", "display_name": "区域经理", "role": "manager", "password": "chain-manager-pass-1", "all_stores": true });
        let (status, created) = self.post("/api/staff/v1/staff", &owner, body).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        self.sign_in("chain-manager", "chain-manager-pass-1").await
    }

    /// A sandbox member session of the demo merchant.
    pub async fn member_token(&self, user: &str) -> (String, i64) {
        let (status, body) = self
            .call(
                Method::POST,
                "/api/mini/v1/sessions/sandbox",
                None,
                Some(json!({ "merchant_id": self.seed.merchant_id, "user": user })),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        (body["token"].as_str().expect("token").to_owned(), body["member_id"].as_i64().expect("member id"))
    }

    /// A second merchant with its own owner, for cross-tenant tests. Returns (merchant id, owner token).
    pub async fn other_merchant(&self) -> (i64, String) {
        let (merchant, _) = service::foundation::merchants::create_with_owner(
            &self.ctx,
            service::foundation::merchants::NewMerchant {
                name: "Other Salon",
                code: "other",
                timezone: "Asia/Shanghai",
            },
            "other-owner",
            "other-owner-password",
        )
        .await
        .expect("second merchant");
        (merchant.id, self.sign_in("other-owner", "other-owner-password").await)
    }
}

/// Gives the demo merchant mini-program and payment credentials that the fakes know.
async fn configure_channels(ctx: &AppContext, fake: &FakeProviders, merchant_id: i64) {
    let ids = api::sandbox_host::SandboxMerchant {
        wechat_appid: WECHAT_APPID,
        wechat_secret: WECHAT_SECRET,
        mchid: WECHATPAY_MCHID,
        apiv3_key: WECHATPAY_APIV3_KEY,
        alipay_appid: ALIPAY_APPID,
    };
    api::sandbox_host::connect_merchant(ctx, fake, merchant_id, &ids).await.expect("merchant connected to the fakes");
}

async fn create_postgres_database(server: &str, name: &str) {
    use sea_orm::{ConnectionTrait, Database};
    let admin =
        Database::connect(format!("{}/postgres", server.trim_end_matches('/'))).await.expect("postgres reachable");
    admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create test database");
    admin.close().await.ok();
}

impl TestApp {
    /// Runs `verify-ledger` on this test's database and fails on any discrepancy.
    pub async fn assert_ledger_balanced(&self) {
        let found = service::ledger::verify(&self.ctx.db, None).await.expect("verify runs");
        assert!(found.is_empty(), "ledger discrepancies: {found:#?}");
    }
}

/// Every test ends with the ledger verified (unless it already failed), then its database is dropped.
impl Drop for TestApp {
    fn drop(&mut self) {
        let url = self.ctx.settings.database.url.expose().to_owned();
        let database = self.database.take();
        let verify = !std::thread::panicking();
        // Drop runs inside the test's runtime: do the async work from a thread with its own.
        let found = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
            runtime.block_on(async {
                use sea_orm::{ConnectionTrait, Database};
                let mut found = None;
                if verify {
                    let db = Database::connect(url.as_str()).await.ok()?;
                    found = Some(service::ledger::verify(&db, None).await.map_err(|e| e.to_string()));
                    db.close().await.ok();
                }
                if let Some((server, name)) = database {
                    let admin = Database::connect(format!("{}/postgres", server.trim_end_matches('/'))).await.ok()?;
                    admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await.ok();
                    admin.close().await.ok();
                }
                found
            })
        })
        .join()
        .ok()
        .flatten();
        let _ = std::fs::remove_dir_all(&self.ctx.settings.data_dir);
        match found {
            Some(Ok(found)) => assert!(found.is_empty(), "ledger discrepancies at the end of the test: {found:#?}"),
            Some(Err(error)) => panic!("verify-ledger failed at the end of the test: {error}"),
            None if verify => panic!("could not run verify-ledger at the end of the test"),
            None => {}
        }
    }
}

/// Asserts an error answer: the status, the stable code, and a human message.
#[track_caller]
pub fn assert_error(answer: &(StatusCode, Value), status: StatusCode, code: &str) {
    assert_eq!(answer.0, status, "unexpected status, body {}", answer.1);
    assert_eq!(answer.1["code"], code, "unexpected code, body {}", answer.1);
    assert!(answer.1["message"].as_str().is_some_and(|m| !m.is_empty()), "no message in {}", answer.1);
}

// ---------------------------------------------------------------------------------------------------------------
// Factories: what many tests make through the API, made one way.

pub const STAFF: &str = "/api/staff/v1";
pub const MINI: &str = "/api/mini/v1";

/// The body of a 2xx answer; any other status fails the test, showing the answer.
#[track_caller]
pub fn ok(answer: (StatusCode, Value)) -> Value {
    assert!(answer.0.is_success(), "{} {}", answer.0, answer.1);
    answer.1
}

impl TestApp {
    /// `GET {STAFF}{path}`, which must answer 200.
    pub async fn staff_ok(&self, token: &str, path: &str) -> Value {
        let (status, answer) = self.get(&format!("{STAFF}{path}"), token).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {answer}");
        answer
    }

    /// `POST {STAFF}{path}`, which must answer 201 Created.
    pub async fn staff_created(&self, token: &str, path: &str, body: Value) -> Value {
        let (status, answer) = self.post(&format!("{STAFF}{path}"), token, body).await;
        assert_eq!(status, StatusCode::CREATED, "POST {path}: {answer}");
        answer
    }

    /// `POST {STAFF}{path}`, which must answer 201 Created or 200 (an action, or a replay).
    pub async fn staff_posted(&self, token: &str, path: &str, body: Value) -> Value {
        let (status, answer) = self.post(&format!("{STAFF}{path}"), token, body).await;
        assert!(status == StatusCode::CREATED || status == StatusCode::OK, "POST {path}: {status} {answer}");
        answer
    }

    /// A member registered at the desk with `phone`.
    pub async fn new_member(&self, token: &str, phone: &str) -> i64 {
        self.staff_created(token, "/members", json!({ "phone": phone })).await["id"].as_i64().unwrap()
    }

    /// A 30-minute service item of `category` at `price_fen`.
    pub async fn new_service(&self, manager: &str, category: &str, price_fen: i64) -> i64 {
        let body = json!({ "category": category, "name": format!("{category} {price_fen}"), "duration_min": 30, "price_fen": price_fen });
        self.staff_created(manager, "/services", body).await["id"].as_i64().unwrap()
    }

    /// A recharge plan: pay `pay_fen`, get `bonus_fen` on top.
    pub async fn new_plan(&self, manager: &str, pay_fen: i64, bonus_fen: i64) -> i64 {
        let body = json!({ "name": format!("充{}送{}", pay_fen / 100, bonus_fen / 100), "pay_fen": pay_fen, "bonus_fen": bonus_fen });
        self.staff_created(manager, "/recharge-plans", body).await["id"].as_i64().unwrap()
    }

    /// A member's stored-value card as staff see it.
    pub async fn stored_value(&self, token: &str, member_id: i64) -> Value {
        self.staff_ok(token, &format!("/members/{member_id}/stored-value")).await
    }
}

/// A Redis server of the test's own, on a free port, that the test can stop.
pub struct PrivateRedis {
    child: std::process::Child,
    pub url: String,
}

impl PrivateRedis {
    pub async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server runs (it is installed with Redis)");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        Self { child, url: format!("redis://127.0.0.1:{port}") }
    }

    pub fn stop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}
