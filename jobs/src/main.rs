//! `jobs`: the scheduler on its own, for deployments where api replicas do not host it (`jobs.in_process = false`).
//! Run one or several: each tick of each job runs once across all of them.
//!
//! `jobs` runs the scheduler; `jobs run <name>` runs one job now; `jobs list` lists the jobs and recent runs.

use anyhow::Context;

fn main() -> anyhow::Result<()> {
    let settings =
        service::foundation::settings::Settings::load(None, &service::foundation::settings::CliOverrides::default())
            .context("loading configuration")?;
    tracing_subscriber::fmt().with_env_filter(settings.log.filter.clone()).init();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let ctx = service::AppContext::build(settings).await?;
        let scheduler = jobs::standard_scheduler(ctx.clone())?;
        let args: Vec<String> = std::env::args().skip(1).collect();
        match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
            [] => {
                tracing::info!(jobs = scheduler.jobs().await?.len(), "scheduler running");
                scheduler.run().await;
                Ok(())
            }
            ["run", name] => {
                let run = scheduler.run_now(name).await?;
                println!("{} {}: {} {}", run.job, run.tick_at, run.status, run.error.as_deref().unwrap_or(&run.counts));
                if run.status == "succeeded" { Ok(()) } else { anyhow::bail!("{name} did not succeed") }
            }
            ["list"] => {
                for job in scheduler.jobs().await? {
                    println!("{:<32} {} ({})", job.name, job.schedule, job.timezone);
                }
                for run in jobs::recent_runs(&ctx, 20).await? {
                    let outcome = run.error.as_deref().unwrap_or(&run.counts);
                    println!("{} {} {} attempt {} {outcome}", run.tick_at, run.job, run.status, run.attempt);
                }
                Ok(())
            }
            _ => anyhow::bail!("usage: jobs [run <name> | list]"),
        }
    })
}
