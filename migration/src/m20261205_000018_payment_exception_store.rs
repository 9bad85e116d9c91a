//! `payment_exceptions.store_id`: the store of the payment an exception is about, so store-scoped staff see only
//! their stores' exceptions. Exceptions about no known payment keep none and are for merchant-wide staff.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261205_000018_payment_exception_store"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let column = ColumnDef::new(Alias::new("store_id")).big_integer().null().take();
        m.alter_table(Table::alter().table(Alias::new("payment_exceptions")).add_column(column).take()).await?;
        m.get_connection()
            .execute_unprepared(
                "UPDATE payment_exceptions SET store_id = \
                 (SELECT payments.store_id FROM payments WHERE payments.id = payment_exceptions.payment_id)",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(Alias::new("payment_exceptions")).drop_column(Alias::new("store_id")).take())
            .await
    }
}
