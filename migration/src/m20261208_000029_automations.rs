//! Automations: a campaign that runs by itself, each day in the merchant's zone, for the members a trigger picks
//! that day (joined, birthday near, lapsed, overdue, something expiring, balance low) or, recurring, for a segment
//! every so many days.
//! - `marketing_automations`: the trigger and its number, an optional segment narrowing it, what each run carries
//!   (coupon, in-app message, SMS), the control share, how long a member waits before the same automation reaches
//!   them again, and whether it is active, paused or ended.
//! - `campaigns.automation_id` and `campaigns.occasion`: each day's run is a campaign of its automation, unique per
//!   automation and local date, so a day runs once however many replicas try.
//! - `merchants.holdout_bp`: a merchant-wide control group, in the control group of every campaign (0: none).
//! - `campaigns.paused_at`: a campaign paused by staff: not run, or its messages not sent, until resumed;
//!   `campaigns.stopped_at`: stopped by staff (or its automation ended): nothing more of it is sent.
//! - `campaigns.segment_id` may be empty: a run of an automation without a segment reaches whom its trigger picks.
//!   SQLite cannot drop a NOT NULL in place, so there the table is rebuilt with its rows.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

use crate::columns::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261208_000029_automations"
    }
}

fn col(name: &'static str) -> Alias {
    Alias::new(name)
}

/// The campaigns table as of this migration, `segment_id` nullable (SQLite's rebuild).
fn campaigns_table() -> TableCreateStatement {
    Table::create()
        .table(col("campaigns"))
        .col(id(col("id")))
        .col(fk_id(col("merchant_id")))
        .col(text(col("name")))
        .col(text(col("kind")))
        .col(fk_id_null(col("segment_id")))
        .col(fk_id_null(col("coupon_template_id")))
        .col(text_null(col("message_title")))
        .col(ColumnDef::new(col("message_body")).text().null())
        .col(int(col("control_bp")))
        .col(text(col("status")))
        .col(at(col("run_at")))
        .col(text_null(col("claim_token")))
        .col(at_null(col("claimed_until")))
        .col(at_null(col("assigned_at")))
        .col(text_null(col("failure")))
        .col(at_null(col("started_at")))
        .col(at_null(col("finished_at")))
        .col(amount_default(col("audience"), 0))
        .col(amount_default(col("control"), 0))
        .col(amount_default(col("coupons_issued"), 0))
        .col(amount_default(col("messages"), 0))
        .col(fk_id(col("created_by")))
        .col(at(col("created_at")))
        .col(at(col("updated_at")))
        .col(fk_id_null(col("sms_template_id")))
        .to_owned()
}

const CAMPAIGN_COLUMNS: &str = "id, merchant_id, name, kind, segment_id, coupon_template_id, message_title, \
    message_body, control_bp, status, run_at, claim_token, claimed_until, assigned_at, failure, started_at, \
    finished_at, audience, control, coupons_issued, messages, created_by, created_at, updated_at, sms_template_id";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// All or nothing, on SQLite too: a rebuild stopped half-way would leave `campaigns` renamed.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        if db.get_database_backend() == DbBackend::Sqlite {
            for index in ["ix_campaigns_due", "ix_campaigns_merchant"] {
                db.execute_unprepared(&format!("DROP INDEX {index}")).await?;
            }
            db.execute_unprepared("ALTER TABLE campaigns RENAME TO campaigns_before_automations").await?;
            m.create_table(campaigns_table()).await?;
            db.execute_unprepared(&format!(
                "INSERT INTO campaigns ({CAMPAIGN_COLUMNS}) SELECT {CAMPAIGN_COLUMNS} FROM campaigns_before_automations"
            ))
            .await?;
            db.execute_unprepared("DROP TABLE campaigns_before_automations").await?;
            m.create_index(index(col("campaigns"), "ix_campaigns_due", &["status", "run_at"], false)).await?;
            m.create_index(index(col("campaigns"), "ix_campaigns_merchant", &["merchant_id", "id"], false)).await?;
        } else {
            m.alter_table(
                Table::alter()
                    .table(col("campaigns"))
                    .modify_column(ColumnDef::new(col("segment_id")).big_integer().null())
                    .take(),
            )
            .await?;
        }
        m.alter_table(Table::alter().table(col("campaigns")).add_column(fk_id_null(col("automation_id"))).take())
            .await?;
        m.alter_table(Table::alter().table(col("campaigns")).add_column(text_null(col("occasion"))).take()).await?;
        m.alter_table(Table::alter().table(col("campaigns")).add_column(at_null(col("paused_at"))).take()).await?;
        m.alter_table(Table::alter().table(col("campaigns")).add_column(at_null(col("stopped_at"))).take()).await?;
        let holdout = ColumnDef::new(col("holdout_bp")).integer().not_null().default(0).take();
        m.alter_table(Table::alter().table(col("merchants")).add_column(holdout).take()).await?;
        m.create_index(index(col("campaigns"), "ux_campaigns_occasion", &["automation_id", "occasion"], true)).await?;
        m.create_table(
            Table::create()
                .table(col("marketing_automations"))
                .col(id(col("id")))
                .col(fk_id(col("merchant_id")))
                .col(text(col("name")))
                // welcome | birthday | win_back | rebook | count_card_expiring | stored_value_expiring |
                // low_balance | coupon_expiring | recurring
                .col(text(col("trigger")))
                // The trigger's number of days (after joining, before the birthday, lapsed, ahead, every).
                .col(int(col("days")))
                // The trigger's percent of the member's own interval (rebook), or its balance in fen (low balance).
                .col(ColumnDef::new(col("threshold")).big_integer().null())
                .col(fk_id_null(col("segment_id")))
                .col(fk_id_null(col("coupon_template_id")))
                .col(text_null(col("message_title")))
                .col(ColumnDef::new(col("message_body")).text().null())
                .col(fk_id_null(col("sms_template_id")))
                .col(int(col("control_bp")))
                // Days before the same automation may reach a member again (36500: once ever).
                .col(int(col("cooldown_days")))
                // active | paused | ended
                .col(text(col("status")))
                // The local date of the latest run.
                .col(text_null(col("last_occasion")))
                .col(fk_id(col("created_by")))
                .col(at(col("created_at")))
                .col(at(col("updated_at")))
                .to_owned(),
        )
        .await?;
        m.create_index(index(col("marketing_automations"), "ix_automations_merchant", &["merchant_id", "id"], false))
            .await?;
        m.create_index(index(col("marketing_automations"), "ix_automations_status", &["status"], false)).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // The runs of automations go with them: without a segment they would not read as campaigns before this.
        let db = m.get_connection();
        let runs = "SELECT id FROM campaigns WHERE automation_id IS NOT NULL";
        for table in ["marketing_sends", "campaign_members"] {
            db.execute_unprepared(&format!("DELETE FROM {table} WHERE campaign_id IN ({runs})")).await?;
        }
        db.execute_unprepared("DELETE FROM campaigns WHERE automation_id IS NOT NULL").await?;
        m.drop_table(Table::drop().table(col("marketing_automations")).to_owned()).await?;
        m.drop_index(Index::drop().name("ux_campaigns_occasion").table(col("campaigns")).to_owned()).await?;
        for column in ["stopped_at", "paused_at", "occasion", "automation_id"] {
            m.alter_table(Table::alter().table(col("campaigns")).drop_column(col(column)).take()).await?;
        }
        m.alter_table(Table::alter().table(col("merchants")).drop_column(col("holdout_bp")).take()).await?;
        Ok(())
    }
}
