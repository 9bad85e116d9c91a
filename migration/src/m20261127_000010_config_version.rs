//! `merchants.config_version`: bumped with every change of a merchant's stores, levels, service items or products,
//! so every api replica can tell when its cached copy of them (what checkout looks up) is out of date.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261127_000010_config_version"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let column = ColumnDef::new(Alias::new("config_version")).big_integer().not_null().default(0).take();
        m.alter_table(Table::alter().table(Alias::new("merchants")).add_column(column).take()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Alias::new("merchants")).drop_column(Alias::new("config_version")).take())
            .await
    }
}
