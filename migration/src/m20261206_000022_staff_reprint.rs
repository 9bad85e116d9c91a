//! `staff.may_reprint`: the owner's word on one staff member's reprints. NULL follows the role (cashiers, managers
//! and owners reprint); true gives the permission to someone whose role lacks it, false withdraws it.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000022_staff_reprint"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let column = ColumnDef::new(Alias::new("may_reprint")).boolean().null().take();
        m.alter_table(Table::alter().table(Alias::new("staff")).add_column(column).take()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Alias::new("staff")).drop_column(Alias::new("may_reprint")).take()).await
    }
}
