//! Notes, preferences and the full birthday sealed at rest like the phone: `members.birthday_sealed`,
//! `members.preferences_sealed` and `member_notes.body_sealed`. The plain columns stay for rows written before;
//! the application seals those at start (it holds the keys, this migration does not) and empties the plain
//! columns. The birth month stays plain for queries.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261205_000016_sealed_member_details"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (table, column) in
            [("members", "birthday_sealed"), ("members", "preferences_sealed"), ("member_notes", "body_sealed")]
        {
            let column = ColumnDef::new(Alias::new(column)).text().null().take();
            m.alter_table(Table::alter().table(Alias::new(table)).add_column(column).take()).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (table, column) in
            [("members", "birthday_sealed"), ("members", "preferences_sealed"), ("member_notes", "body_sealed")]
        {
            m.alter_table(Table::alter().table(Alias::new(table)).drop_column(Alias::new(column)).take()).await?;
        }
        Ok(())
    }
}
