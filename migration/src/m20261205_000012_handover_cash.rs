//! `handovers`: the cash the cashier counted, the float left in the drawer for the next shift, and the over/short
//! against what the ledger says the drawer should hold.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261205_000012_handover_cash"
    }
}

const COLUMNS: [&str; 3] = ["cash_counted_fen", "float_fen", "over_short_fen"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters a table one column at a time.
        for name in COLUMNS {
            let column = ColumnDef::new(Alias::new(name)).big_integer().null().take();
            m.alter_table(Table::alter().table(Alias::new("handovers")).add_column(column).take()).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for name in COLUMNS {
            m.alter_table(Table::alter().table(Alias::new("handovers")).drop_column(Alias::new(name)).take()).await?;
        }
        Ok(())
    }
}
