//! `api`: the Huiyuan server and its operator commands.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use sea_orm::EntityTrait;
use service::AppContext;
use service::foundation::settings::{CliOverrides, Settings};

#[derive(Parser)]
#[command(name = "api", version, about = "Huiyuan: membership, booking and cashier system for service stores")]
struct Cli {
    /// TOML configuration file (default: ./huiyuan.toml if present).
    #[arg(long, global = true, env = "HUIYUAN_CONFIG")]
    config: Option<PathBuf>,
    /// Overrides database.url.
    #[arg(long, global = true)]
    database_url: Option<String>,
    /// Overrides server.host.
    #[arg(long, global = true)]
    host: Option<String>,
    /// Overrides server.port.
    #[arg(long, global = true)]
    port: Option<u16>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Seed the demo merchant (once) and print its accounts.
    SeedDemo,
    /// Create a merchant and its first owner account.
    CreateOwner {
        #[arg(long)]
        merchant_name: String,
        /// Short unique code of the merchant, e.g. `yueji`.
        #[arg(long)]
        merchant_code: String,
        #[arg(long)]
        username: String,
        /// The owner's password (or set HUIYUAN_OWNER_PASSWORD).
        #[arg(long, env = "HUIYUAN_OWNER_PASSWORD", hide_env_values = true)]
        password: String,
        #[arg(long, default_value = "Asia/Shanghai")]
        timezone: String,
    },
    /// Load and validate the configuration, print it with secrets redacted, and exit.
    CheckConfig,
    /// Print the OpenAPI document (the console's types are generated from it).
    Openapi,
    /// Recompute every ledger balance from the journal and list any difference (exit status 1 if there is one).
    VerifyLedger {
        /// Only this merchant (default: all).
        #[arg(long)]
        merchant_id: Option<i64>,
    },
    /// Set a merchant's WeChat Pay account from the files WeChat Pay issues (secrets are sealed, never printed).
    ConfigureWechatpay {
        #[arg(long)]
        merchant_id: i64,
        /// 商户号.
        #[arg(long)]
        mchid: Option<String>,
        /// Serial of the merchant API certificate.
        #[arg(long)]
        serial: Option<String>,
        /// `apiclient_key.pem`.
        #[arg(long)]
        private_key_file: Option<std::path::PathBuf>,
        /// A file holding the 32-character APIv3 key.
        #[arg(long)]
        apiv3_key_file: Option<std::path::PathBuf>,
        /// `PUB_KEY_ID_…`, with --public-key-file.
        #[arg(long)]
        public_key_id: Option<String>,
        /// `pub_key.pem`.
        #[arg(long)]
        public_key_file: Option<std::path::PathBuf>,
        /// A platform certificate to trust.
        #[arg(long)]
        platform_certificate_file: Option<std::path::PathBuf>,
        /// `v3` or `v2` for payment codes.
        #[arg(long)]
        code_api: Option<String>,
        /// A file holding the 32-character APIv2 key (the v2 fallback).
        #[arg(long)]
        v2_key_file: Option<std::path::PathBuf>,
        /// `apiclient_cert.pem` (v2 reverse).
        #[arg(long)]
        merchant_certificate_file: Option<std::path::PathBuf>,
    },
    /// Run the job scheduler alone, for deployments whose api replicas do not host it (`jobs.in_process = false`).
    /// Run one or several: each tick of each job runs once across all of them. Stops on SIGINT or SIGTERM once
    /// the pass under way has finished.
    Scheduler,
    /// Scheduled jobs: `jobs list` shows them and their recent runs, `jobs run <name>` runs one now.
    Jobs {
        #[command(subcommand)]
        action: JobsAction,
    },
    /// Compare WeChat Pay's and Alipay's trade bills of a day with our records; differences go to the
    /// payment exceptions list.
    ReconcilePayments {
        /// The day (YYYY-MM-DD); default yesterday (China time).
        #[arg(long)]
        date: Option<chrono::NaiveDate>,
    },
}

#[derive(clap::Subcommand)]
enum JobsAction {
    /// The jobs, their schedules and the latest runs.
    List,
    /// Run a job now (recorded in the run history like a scheduled run).
    Run { name: String },
}

/// Needs no configuration, database or logging: its output is the document alone, for code generators.
fn print_openapi() -> anyhow::Result<()> {
    println!("{}", api::openapi::document().to_pretty_json().context("printing the OpenAPI document")?);
    Ok(())
}

fn start() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if matches!(cli.command, Some(Command::Openapi)) {
        return print_openapi();
    }
    let overrides = CliOverrides { database_url: cli.database_url.clone(), port: cli.port, host: cli.host.clone() };
    let settings = Settings::load(cli.config.as_deref(), &overrides).context("loading configuration")?;
    api::telemetry::init_tracing(&settings);
    let workers = settings.server.workers;
    let runtime = if workers > 0 {
        tokio::runtime::Builder::new_multi_thread().worker_threads(workers).enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread().enable_all().build()
    }
    .context("starting the runtime")?;
    let local = tokio::task::LocalSet::new();
    runtime.block_on(local.run_until(run(cli.command.unwrap_or(Command::Serve), settings)))
}

fn main() -> std::process::ExitCode {
    // An operator reads the error and its causes on one line, not the backtrace anyhow captures when
    // RUST_BACKTRACE is set.
    match start() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Openapi => print_openapi(),
        Command::CheckConfig => {
            settings.validate().map_err(|m| anyhow::anyhow!("bad configuration: {m}"))?;
            let effective = toml::to_string_pretty(&settings.redacted()).context("printing the configuration")?;
            println!("# The effective configuration, secrets redacted.\n{effective}");
            match settings.dev_keys_file() {
                Some(path) => println!("# Personal data is sealed with the development keys in {}.", path.display()),
                None => println!("# Personal data is sealed with the keys configured under [security]."),
            }
            println!("# The configuration is valid.");
            Ok(())
        }
        Command::Scheduler => {
            let ctx = AppContext::build(settings).await?;
            let scheduler = jobs::standard_scheduler(ctx)?;
            tracing::info!(jobs = scheduler.jobs().await?.len(), "scheduler running");
            scheduler.run_until(shutdown_signal()).await;
            Ok(())
        }
        Command::Migrate => {
            // Building the context applies the migrations and then seals what they leave for the keys to seal.
            let mut settings = settings;
            settings.database.migrate_on_start = true;
            AppContext::build(settings).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::VerifyLedger { merchant_id } => {
            let db = service::foundation::db::connect(&settings.database).await?;
            if let Some(id) = merchant_id
                && entity::merchants::Entity::find_by_id(id).one(&db).await?.is_none()
            {
                anyhow::bail!("there is no merchant with id {id}");
            }
            let extent = service::ledger::extent(&db, merchant_id).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            let found = service::ledger::verify(&db, merchant_id).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            let scope = merchant_id.map_or_else(|| "all merchants".to_owned(), |id| format!("merchant {id}"));
            println!(
                "checked {scope}: {} accounts, {} journal entries, {} lines, points lots and stock",
                extent.accounts, extent.entries, extent.lines
            );
            if found.is_empty() {
                println!("ledger verified: every balance matches its entries and every entry balances");
                return Ok(());
            }
            for discrepancy in &found {
                println!("{discrepancy}");
            }
            anyhow::bail!("{} ledger discrepancies", found.len())
        }
        Command::ConfigureWechatpay {
            merchant_id,
            mchid,
            serial,
            private_key_file,
            apiv3_key_file,
            public_key_id,
            public_key_file,
            platform_certificate_file,
            code_api,
            v2_key_file,
            merchant_certificate_file,
        } => {
            let read = |path: Option<std::path::PathBuf>| -> anyhow::Result<Option<String>> {
                path.map(|p| {
                    std::fs::read_to_string(&p)
                        .map(|text| text.trim().to_owned())
                        .with_context(|| format!("reading {}", p.display()))
                })
                .transpose()
            };
            let input = service::payments::credentials::WechatPayInput {
                mchid,
                serial,
                private_key: read(private_key_file)?,
                apiv3_key: read(apiv3_key_file)?,
                public_key_id,
                public_key: read(public_key_file)?,
                platform_certificate: read(platform_certificate_file)?,
                code_api,
                v2_key: read(v2_key_file)?,
                merchant_certificate: read(merchant_certificate_file)?,
            };
            let ctx = AppContext::build(settings).await?;
            let status = service::payments::credentials::configure_wechatpay(
                &ctx,
                merchant_id,
                service::foundation::audit::Actor::System,
                input,
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "merchant {merchant_id}: mchid {}, private key {}, APIv3 key {}, payment codes via {}, trusted serials: {}",
                status.mchid.as_deref().unwrap_or("-"),
                if status.private_key_set { "set" } else { "missing" },
                if status.apiv3_key_set { "set" } else { "missing" },
                status.code_api,
                status.platform_serials.join(", ")
            );
            Ok(())
        }
        Command::Jobs { action } => {
            let ctx = AppContext::build(settings).await?;
            let scheduler = jobs::standard_scheduler(ctx.clone())?;
            match action {
                JobsAction::List => {
                    for job in scheduler.jobs().await? {
                        println!("{:<32} {}  ({})", job.name, job.schedule, job.timezone);
                    }
                    for run in jobs::recent_runs(&ctx, 20).await? {
                        println!(
                            "{}  {:<32} {:<9} attempt {}  {}",
                            run.tick_at,
                            run.job,
                            run.status,
                            run.attempt,
                            run.error.as_deref().unwrap_or(&run.counts)
                        );
                    }
                    Ok(())
                }
                JobsAction::Run { name } => {
                    let run = scheduler.run_now(&name).await?;
                    println!("{} {}: {}", run.job, run.status, run.error.as_deref().unwrap_or(&run.counts));
                    if run.status == "succeeded" { Ok(()) } else { anyhow::bail!("{name} did not succeed") }
                }
            }
        }
        Command::ReconcilePayments { date } => {
            let ctx = AppContext::build(settings).await?;
            let day = date.unwrap_or_else(yesterday_in_china);
            let mut failed = 0;
            for done in service::payments::reconcile::reconcile_day(&ctx, day).await? {
                match done.outcome {
                    Ok(counts) => println!(
                        "merchant {} {}: {} bill rows, {} new exceptions",
                        done.merchant_id,
                        done.provider.as_str(),
                        counts.provider_rows,
                        counts.exceptions
                    ),
                    Err(error) => {
                        failed += 1;
                        println!("merchant {} {}: failed: {error}", done.merchant_id, done.provider.as_str());
                    }
                }
            }
            if failed > 0 {
                anyhow::bail!("{failed} reconciliations failed");
            }
            Ok(())
        }
        Command::SeedDemo => {
            let ctx = AppContext::build(settings).await?;
            seed_demo(&ctx).await
        }
        Command::CreateOwner { merchant_name, merchant_code, username, password, timezone } => {
            let ctx = AppContext::build(settings).await?;
            let merchant = service::foundation::merchants::NewMerchant {
                name: &merchant_name,
                code: &merchant_code,
                timezone: &timezone,
            };
            let (merchant, owner) =
                service::foundation::merchants::create_with_owner(&ctx, merchant, &username, &password)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("created merchant {} (id {}) with owner {}", merchant.name, merchant.id, owner.username);
            Ok(())
        }
        Command::Serve => serve(settings).await,
    }
}

fn yesterday_in_china() -> chrono::NaiveDate {
    let today = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai).date_naive();
    today.pred_opt().unwrap_or(today)
}

async fn seed_demo(ctx: &AppContext) -> anyhow::Result<()> {
    let seeded = service::demo::seed(ctx, &|_| service::demo::random_password())
        .await
        .map_err(|e| anyhow::anyhow!("seeding demo data: {e}"))?;
    match seeded {
        Some(seed) => {
            // Printed to the terminal, once, never to the log: these are live credentials.
            println!("\nDemo merchant seeded (id {}). Staff accounts, shown only now:", seed.merchant_id);
            for account in &seed.accounts {
                println!("  {:<11} {:<16} {}", account.role.as_str(), account.username, account.password);
            }
            println!("Forgot them later? `api create-owner ...` makes a new owner who can reset the others.\n");
            // A finished campaign with its history, so the campaign report shows a real computation.
            service::demo::showcase::finished_campaign(ctx, seed.merchant_id)
                .await
                .map_err(|e| anyhow::anyhow!("writing the demo's finished campaign: {e}"))?;
        }
        None => tracing::info!("demo data already present"),
    }
    Ok(())
}

async fn serve(mut settings: Settings) -> anyhow::Result<()> {
    // The embedded default's outside world: fake WeChat, WeChat Pay and Alipay speaking the real protocols.
    let fake = if settings.sandbox.enabled && !settings.is_production() {
        let fake = sandbox::FakeProviders::start_on(&settings.sandbox.listen)
            .with_context(|| format!("starting the sandbox on {}", settings.sandbox.listen))?;
        api::sandbox_host::point_at(&mut settings, &fake);
        Some(fake)
    } else {
        None
    };
    let ctx = AppContext::build(settings).await?;
    if ctx.settings.demo.seed {
        seed_demo(&ctx).await?;
    }
    if let Some(fake) = &fake {
        if let Some(merchant_id) = service::demo::merchant_id(&ctx).await? {
            api::sandbox_host::connect_merchant(&ctx, fake, merchant_id, &api::sandbox_host::DEMO).await?;
        }
        tracing::info!(page = %format!("{}/sandbox", fake.base_url()), "sandbox payments: pay or decline orders here");
    }
    // The embedded default hosts the job scheduler (payment sweep, daily reconciliation, certificate refresh).
    // It stops with the server, after the pass under way.
    let (stop_scheduler, scheduler_stopped) = tokio::sync::oneshot::channel::<()>();
    let scheduler = if ctx.settings.jobs.in_process {
        let scheduler = jobs::standard_scheduler(ctx.clone())?;
        Some(tokio::spawn(scheduler.run_until(async move {
            let _ = scheduler_stopped.await;
        })))
    } else {
        None
    };
    let app = api::Application::from_context(ctx.clone())?;
    // Once bound, the api's address is known: the fake's SMS receipts and replies are pushed there.
    if let (Some(fake), Some(merchant_id)) = (&fake, service::demo::merchant_id(&ctx).await?) {
        api::sandbox_host::connect_sms(&ctx, fake, merchant_id).await?;
    }
    let base = format!("http://{}:{}", ctx.settings.server.host, app.port());
    tracing::info!(
        listen = %base,
        docs = %format!("{base}/api/docs/"),
        database = if ctx.settings.uses_sqlite() { "sqlite" } else { "postgres" },
        shared_state = ctx.shared.backend(),
        "Huiyuan is listening; sign in with POST /api/staff/v1/sessions {{\"username\", \"password\"}}"
    );
    let served = app.serve().await.context("serving");
    // The scheduler's run under way finishes before the pool closes under it.
    if let Some(scheduler) = scheduler {
        let _ = stop_scheduler.send(());
        let grace = std::time::Duration::from_secs(ctx.settings.server.shutdown_timeout_secs);
        if tokio::time::timeout(grace, scheduler).await.is_err() {
            tracing::warn!("a job was still running when the shutdown grace ran out");
        }
    }
    api::close(&ctx).await;
    served
}

/// SIGINT (Ctrl-C) or, on Unix, SIGTERM (what service managers send).
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; stop with SIGINT");
                std::future::pending::<()>().await
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("stopping");
}
