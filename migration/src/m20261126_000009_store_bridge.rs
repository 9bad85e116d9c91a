//! The store bridge: printers on a store's LAN and where each kind of job goes, the bridge devices that connect out
//! to us (a token each, shown once), and print jobs that know their printer, their copy (a reprint is a new copy)
//! and why they are held; and shift handovers (交班), which print a summary.

use sea_orm_migration::prelude::*;

use crate::columns::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000009_store_bridge"
    }
}

fn col(name: &'static str) -> Alias {
    Alias::new(name)
}

fn int_default(name: &'static str, default: i32) -> ColumnDef {
    ColumnDef::new(col(name)).integer().not_null().default(default).take()
}

/// Columns added to `print_jobs`, one `ALTER TABLE` each (SQLite alters one column per statement).
fn added_columns() -> Vec<ColumnDef> {
    vec![
        // The printer it was routed to (when a bridge took it).
        fk_id_null(col("printer_id")),
        // 0 for the first print; a reprint is the next copy of the same subject.
        int_default("copy", 0),
        // paper_out | cover_open | offline: why the printer holds it.
        text_null(col("hold_reason")),
        // When a bridge spooled it (acknowledged receipt).
        at_null(col("received_at")),
        // Who asked for it (a reprint or a test page); null for receipts queued by a sale.
        fk_id_null(col("requested_by")),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for def in added_columns() {
            m.alter_table(Table::alter().table(col("print_jobs")).add_column(def).take()).await?;
        }
        m.drop_index(Index::drop().name("ux_print_jobs_subject").table(col("print_jobs")).to_owned()).await?;
        m.create_index(index(col("print_jobs"), "ux_print_jobs_copy", &["kind", "subject_id", "copy"], true)).await?;

        m.create_table(
            Table::create()
                .table(col("printers"))
                .col(id(col("id")))
                .col(fk_id(col("merchant_id")))
                .col(fk_id(col("store_id")))
                .col(text(col("name")))
                // host:port on the store's LAN (port 9100 for raw printing).
                .col(text(col("address")))
                .col(int_default("paper_mm", 80))
                .col(flag(col("native_qr"), true))
                .col(flag(col("drawer"), false))
                // JSON array of the job kinds routed here; empty takes every kind no other printer takes.
                .col(ColumnDef::new(col("kinds")).text().not_null().default("[]"))
                .col(flag(col("active"), true))
                // ok | paper_out | cover_open | offline | unknown, as the bridge last saw it.
                .col(ColumnDef::new(col("state")).string().not_null().default("unknown"))
                .col(at_null(col("state_at")))
                .col(at(col("created_at")))
                .to_owned(),
        )
        .await?;
        m.create_index(index(col("printers"), "ix_printers_store", &["store_id"], false)).await?;

        m.create_table(
            Table::create()
                .table(col("bridge_devices"))
                .col(id(col("id")))
                .col(fk_id(col("merchant_id")))
                .col(fk_id(col("store_id")))
                .col(text(col("name")))
                // SHA-256 of the token; the token itself is shown once.
                .col(text(col("token_hash")))
                // The token's last characters, to tell devices apart.
                .col(text(col("token_hint")))
                .col(at_null(col("revoked_at")))
                .col(at_null(col("last_seen_at")))
                .col(text_null(col("version")))
                .col(fk_id(col("created_by")))
                .col(at(col("created_at")))
                .to_owned(),
        )
        .await?;
        m.create_index(index(col("bridge_devices"), "ux_bridge_devices_token", &["token_hash"], true)).await?;
        m.create_index(index(col("bridge_devices"), "ix_bridge_devices_store", &["store_id"], false)).await?;

        // 交班: a cashier's takings per payment method over their shift, recorded when they hand over.
        m.create_table(
            Table::create()
                .table(col("handovers"))
                .col(id(col("id")))
                .col(fk_id(col("merchant_id")))
                .col(fk_id(col("store_id")))
                .col(fk_id(col("staff_id")))
                .col(at(col("from_at")))
                .col(at(col("to_at")))
                // JSON: payment method → net fen taken; entry kind → count.
                .col(ColumnDef::new(col("takings")).text().not_null())
                .col(ColumnDef::new(col("entries")).text().not_null())
                .col(amount(col("total_fen")))
                .col(at(col("created_at")))
                .to_owned(),
        )
        .await?;
        m.create_index(index(col("handovers"), "ix_handovers_staff", &["store_id", "staff_id", "to_at"], false))
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(col("handovers")).to_owned()).await?;
        m.drop_table(Table::drop().table(col("bridge_devices")).to_owned()).await?;
        m.drop_table(Table::drop().table(col("printers")).to_owned()).await?;
        m.drop_index(Index::drop().name("ux_print_jobs_copy").table(col("print_jobs")).to_owned()).await?;
        for def in added_columns().into_iter().rev() {
            let name = def.get_column_name();
            m.alter_table(Table::alter().table(col("print_jobs")).drop_column(Alias::new(name)).take()).await?;
        }
        m.create_index(index(col("print_jobs"), "ux_print_jobs_subject", &["kind", "subject_id"], true)).await
    }
}
