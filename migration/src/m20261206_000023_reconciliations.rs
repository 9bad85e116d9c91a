//! `reconciliations`: what comparing one local day's provider bill with our payments found, per merchant and
//! provider: the totals on both sides, how many differences went to the exceptions list, or why it could not run.
//! One row per (merchant, provider, day); running the day again replaces it.

use sea_orm_migration::prelude::*;

use crate::columns::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000023_reconciliations"
    }
}

fn col(name: &'static str) -> Alias {
    Alias::new(name)
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(col("reconciliations"))
                .col(id(col("id")))
                .col(fk_id(col("merchant_id")))
                .col(text(col("provider")))
                .col(ColumnDef::new(col("day")).date().not_null())
                // `matched`, `differences` or `failed`.
                .col(text(col("status")))
                .col(int(col("provider_rows")))
                .col(int(col("our_payments")))
                .col(amount(col("our_paid_fen")))
                .col(amount(col("their_paid_fen")))
                .col(amount(col("our_refunded_fen")))
                .col(amount(col("their_refunded_fen")))
                .col(int(col("exceptions")))
                .col(text_null(col("error")))
                .col(at(col("ran_at")))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            col("reconciliations"),
            "ux_reconciliations_day",
            &["merchant_id", "provider", "day"],
            true,
        ))
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(col("reconciliations")).to_owned()).await
    }
}
