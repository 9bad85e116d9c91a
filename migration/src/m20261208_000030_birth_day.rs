//! The day of the month a member was born, plain beside the month, so a segment can ask "birthday within the next N
//! days" in SQL over a million members. The year stays sealed with the full birthday; month and day alone are what a
//! birthday greeting needs. Rows sealed before this are filled from the sealed birthday at the next start.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261208_000030_birth_day"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Alias::new("members"))
                .add_column(ColumnDef::new(Alias::new("birth_day")).integer().null())
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Alias::new("members")).drop_column(Alias::new("birth_day")).to_owned()).await
    }
}
