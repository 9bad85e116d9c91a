//! `print_jobs.stated`: what a slip states that later events change (balances, points, sessions left, the member's
//! level), captured in the transaction that wrote what it prints, so a slip printed late or again is true to its
//! moment. Jobs queued before this have none and are printed as before.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261205_000014_print_job_stated"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let column = ColumnDef::new(Alias::new("stated")).text().null().take();
        m.alter_table(Table::alter().table(Alias::new("print_jobs")).add_column(column).take()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Alias::new("print_jobs")).drop_column(Alias::new("stated")).take()).await
    }
}
