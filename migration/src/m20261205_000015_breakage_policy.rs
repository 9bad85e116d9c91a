//! `merchants.breakage_policy`: whether value left on an expired stored-value or count card stays owed to the member
//! (`never`, the default) or is recognised as breakage income when the card expires (`at_expiry`).

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261205_000015_breakage_policy"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let column = ColumnDef::new(Alias::new("breakage_policy")).text().not_null().default("never").take();
        m.alter_table(Table::alter().table(Alias::new("merchants")).add_column(column).take()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Alias::new("merchants")).drop_column(Alias::new("breakage_policy")).take())
            .await
    }
}
