//! A campaign's measurement horizon (营销效果的观察期): how many days after it runs its groups are compared, fixed
//! before it runs so a report cannot be stopped on a lucky day.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261209_000031_campaign_horizon"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Alias::new("campaigns"))
                .add_column(ColumnDef::new(Alias::new("horizon_days")).integer().not_null().default(30))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Alias::new("campaigns")).drop_column(Alias::new("horizon_days")).to_owned())
            .await
    }
}
