//! Member consent to a large debit, bound to what the member saw and given once:
//! - `bills.member_confirmed_digest`: the digest of the bill (its draft and total) the member confirmed in the
//!   mini-program; a settlement honours the confirmation only while the bill still has that digest.
//! - `bills.member_debit_fen`: the stored value and count-card value a settlement took from the member, so the
//!   merchant's threshold counts per member per day across bills.
//! - `member_code_uses`: every member code spent, to identify the member or as consent, so one code is consent for
//!   one bill, once, and never after it was scanned to identify.

use sea_orm_migration::prelude::*;

use crate::columns::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261205_000013_member_consent"
    }
}

fn col(name: &'static str) -> Alias {
    Alias::new(name)
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters a table one column at a time.
        m.alter_table(Table::alter().table(col("bills")).add_column(text_null(col("member_confirmed_digest"))).take())
            .await?;
        m.alter_table(Table::alter().table(col("bills")).add_column(amount_default(col("member_debit_fen"), 0)).take())
            .await?;
        // The daily sum reads a member's bills settled since the store's midnight.
        m.create_index(index(col("bills"), "ix_bills_member_settled", &["member_id", "settled_at"], false)).await?;
        m.create_table(
            Table::create()
                .table(col("member_code_uses"))
                .col(id(col("id")))
                .col(fk_id(col("merchant_id")))
                .col(fk_id(col("member_id")))
                // SHA-256 of the code: the code itself is a bearer credential for its minute.
                .col(text(col("code_digest")))
                // identify | consent
                .col(text(col("purpose")))
                .col(fk_id_null(col("bill_id")))
                .col(fk_id_null(col("staff_id")))
                .col(at(col("used_at")))
                // When the code stops being valid anyway: rows past it are only history and are purged.
                .col(at(col("expires_at")))
                .to_owned(),
        )
        .await?;
        m.create_index(index(col("member_code_uses"), "ux_member_code_uses_code", &["code_digest"], true)).await?;
        m.create_index(index(col("member_code_uses"), "ix_member_code_uses_expires", &["expires_at"], false)).await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(col("member_code_uses")).to_owned()).await?;
        m.drop_index(Index::drop().name("ix_bills_member_settled").table(col("bills")).to_owned()).await?;
        for name in ["member_debit_fen", "member_confirmed_digest"] {
            m.alter_table(Table::alter().table(col("bills")).drop_column(col(name)).take()).await?;
        }
        Ok(())
    }
}
