//! `printer-bridge [--config FILE]` (default `printer-bridge.toml`): the store bridge daemon. See the crate docs and
//! docs/bridge.md for installing it as a service.

use std::path::PathBuf;

use anyhow::Context;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut path = PathBuf::from("printer-bridge.toml");
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--config" | "-c" => path = args.next().map(PathBuf::from).context("--config needs a file")?,
            "--help" | "-h" => {
                println!("usage: printer-bridge [--config printer-bridge.toml]");
                return Ok(());
            }
            other => anyhow::bail!("unknown argument {other}; usage: printer-bridge [--config FILE]"),
        }
    }
    let config = printer_bridge::Config::load(&path)?;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    // Keep the writer's guard alive for the life of the process: it flushes the log file.
    let _guard = match &config.log_file {
        Some(file) => {
            let dir = file.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
            let name = file.file_name().context("log_file needs a file name")?;
            let (writer, guard) = tracing_appender::non_blocking(tracing_appender::rolling::daily(dir, name));
            tracing_subscriber::fmt().with_env_filter(filter).with_ansi(false).with_writer(writer).init();
            Some(guard)
        }
        None => {
            tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
            None
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let stopped = runtime.block_on(printer_bridge::run_until(config, shutdown_signal()));
    // The scanner's reader blocks in a read until the next scan; it must not hold the process open.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    stopped
}

/// SIGINT (Ctrl-C) or, on Unix, SIGTERM (what systemd sends on stop).
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
            Err(_) => std::future::pending::<()>().await,
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
