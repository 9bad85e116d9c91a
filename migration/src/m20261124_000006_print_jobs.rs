//! The print queue, first part: a receipt is queued in the same transaction as the settlement or recharge it
//! prints (an outbox), so none is lost and none is queued twice. The store bridge that prints them, printers and
//! routing come in `m20261126_000009_store_bridge`.

use sea_orm_migration::prelude::*;

use crate::columns::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261124_000006_print_jobs"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(PrintJobs::Table)
                .col(id(PrintJobs::Id))
                .col(fk_id(PrintJobs::MerchantId))
                .col(fk_id(PrintJobs::StoreId))
                // bill_receipt | recharge_receipt (more kinds come with the bridge)
                .col(text(PrintJobs::Kind))
                // What it prints: the bill id, or the recharge's journal entry id.
                .col(fk_id(PrintJobs::SubjectId))
                // queued | printed | held | failed
                .col(text(PrintJobs::Status))
                .col(at(PrintJobs::CreatedAt))
                .col(at_null(PrintJobs::PrintedAt))
                .to_owned(),
        )
        .await?;
        // One receipt per thing printed; reprinting is an explicit, separate action.
        m.create_index(index(PrintJobs::Table, "ux_print_jobs_subject", &["kind", "subject_id"], true)).await?;
        m.create_index(index(PrintJobs::Table, "ix_print_jobs_store_status", &["store_id", "status", "id"], false))
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(PrintJobs::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum PrintJobs {
    Table,
    Id,
    MerchantId,
    StoreId,
    Kind,
    SubjectId,
    Status,
    CreatedAt,
    PrintedAt,
}
