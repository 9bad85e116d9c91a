//! The job scheduler's run history. A row per (job, tick) is also the claim on that tick: the unique index makes
//! sure each tick of each job runs once, whatever number of processes schedule it.

use sea_orm_migration::prelude::*;

use crate::columns::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261124_000007_job_runs"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(JobRuns::Table)
                .col(id(JobRuns::Id))
                .col(text(JobRuns::Job))
                // The scheduled time this run is for (UTC); `jobs run` uses the time it was asked.
                .col(at(JobRuns::TickAt))
                // running | succeeded | retrying | failed
                .col(text(JobRuns::Status))
                .col(int(JobRuns::Attempt))
                // Which process runs it.
                .col(text(JobRuns::Holder))
                .col(at(JobRuns::StartedAt))
                .col(at_null(JobRuns::FinishedAt))
                .col(at_null(JobRuns::NextAttemptAt))
                // What it did, as the job reports it (JSON).
                .col(ColumnDef::new(JobRuns::Counts).text().not_null().default("{}"))
                .col(ColumnDef::new(JobRuns::Error).text().null())
                .to_owned(),
        )
        .await?;
        m.create_index(index(JobRuns::Table, "ux_job_runs_tick", &["job", "tick_at"], true)).await?;
        m.create_index(index(JobRuns::Table, "ix_job_runs_status", &["status", "next_attempt_at"], false)).await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(JobRuns::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum JobRuns {
    Table,
    Id,
    Job,
    TickAt,
    Status,
    Attempt,
    Holder,
    StartedAt,
    FinishedAt,
    NextAttemptAt,
    Counts,
    Error,
}
