//! Segments (人群): a marketing manager's saved rule choosing members (see `service::marketing::segments`). The rule
//! is JSON, checked by the service when written; who is in a segment is read when asked, never stored here.

use sea_orm_migration::prelude::*;

use crate::columns::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261207_000026_segments"
    }
}

fn col(name: &'static str) -> Alias {
    Alias::new(name)
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(col("segments"))
                .col(id(col("id")))
                .col(fk_id(col("merchant_id")))
                .col(text(col("name")))
                .col(ColumnDef::new(col("rule")).text().not_null())
                .col(fk_id(col("created_by")))
                .col(at(col("created_at")))
                .col(at(col("updated_at")))
                .to_owned(),
        )
        .await?;
        m.create_index(index(col("segments"), "ux_segments_name", &["merchant_id", "name"], true)).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(col("segments")).to_owned()).await
    }
}
