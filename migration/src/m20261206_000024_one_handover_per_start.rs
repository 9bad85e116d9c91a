//! A cashier's shift at a store starts where their last handover ended, so two handovers with the same start are
//! the same shift handed over twice (two clicks at once): a unique index on the start refuses the second.

use sea_orm_migration::prelude::*;

use crate::columns::index;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000024_one_handover_per_start"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_index(index(Alias::new("handovers"), "ux_handovers_start", &["store_id", "staff_id", "from_at"], true))
            .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(Index::drop().name("ux_handovers_start").table(Alias::new("handovers")).to_owned()).await
    }
}
