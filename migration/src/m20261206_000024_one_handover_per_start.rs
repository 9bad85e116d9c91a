//! A cashier's shift at a store starts where their last handover ended, so two handovers with the same start are
//! the same shift handed over twice (two clicks at once): a unique index on the start refuses the second.
//!
//! Handovers recorded twice before this index existed are kept: each later twin is re-keyed to start where the
//! handover before it ended, as the shift it recorded did.

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
        m.get_connection()
            .execute_unprepared(
                "UPDATE handovers SET from_at = (SELECT MAX(earlier.to_at) FROM handovers earlier \
                 WHERE earlier.store_id = handovers.store_id AND earlier.staff_id = handovers.staff_id \
                 AND earlier.id < handovers.id) \
                 WHERE EXISTS (SELECT 1 FROM handovers twin WHERE twin.store_id = handovers.store_id \
                 AND twin.staff_id = handovers.staff_id AND twin.from_at = handovers.from_at AND twin.id < handovers.id)",
            )
            .await?;
        m.create_index(index(Alias::new("handovers"), "ux_handovers_start", &["store_id", "staff_id", "from_at"], true))
            .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(Index::drop().name("ux_handovers_start").table(Alias::new("handovers")).to_owned()).await
    }
}
