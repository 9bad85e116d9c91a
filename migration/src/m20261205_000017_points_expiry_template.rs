//! `merchants.points_expiry_template`: the WeChat subscribe-message template of the "points expiring soon" notice
//! (like `booking_reminder_template`: its id, page and what fills each field), none by default.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261205_000017_points_expiry_template"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let column = ColumnDef::new(Alias::new("points_expiry_template")).text().null().take();
        m.alter_table(Table::alter().table(Alias::new("merchants")).add_column(column).take()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter().table(Alias::new("merchants")).drop_column(Alias::new("points_expiry_template")).take(),
        )
        .await
    }
}
