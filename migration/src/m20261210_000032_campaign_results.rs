//! A campaign's results kept as it goes (营销效果的汇总), so its report reads a few rows instead of every bill:
//! - `campaign_members`: each member's outcome so far (visits, recognised revenue, recharges, bonus, their first
//!   message and the revenue within the attribution days after it) and the home store they were counted under.
//! - `campaign_results`: the sums per group and home store, with the sums of squares the intervals need.
//! - `campaign_days`: each group's recognised revenue by day of the horizon, for the chart.
//! - `campaigns.results_until`: how far the results are brought (the watermark), and the campaign-wide sums
//!   (SMS sent, coupon discounts).
//!
//! Indexes let each step read one slice of time: entries by merchant and moment, bills by merchant and settlement,
//! a campaign's sends by when they went.

use sea_orm_migration::prelude::*;

use crate::columns::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261210_000032_campaign_results"
    }
}

fn col(name: &'static str) -> Alias {
    Alias::new(name)
}

fn real(name: &'static str) -> ColumnDef {
    ColumnDef::new(col(name)).double().not_null().default(0.0).take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            fk_id_null(col("home_store_id")),
            amount_default(col("bills"), 0),
            amount_default(col("revenue_fen"), 0),
            amount_default(col("recharge_fen"), 0),
            amount_default(col("bonus_fen"), 0),
            at_null(col("first_sent_at")),
            amount_default(col("attributed_fen"), 0),
        ] {
            m.alter_table(Table::alter().table(col("campaign_members")).add_column(column).to_owned()).await?;
        }
        for column in [
            at_null(col("results_until")),
            amount_default(col("sms_sent"), 0),
            amount_default(col("coupon_off_fen"), 0),
        ] {
            m.alter_table(Table::alter().table(col("campaigns")).add_column(column).to_owned()).await?;
        }
        m.create_table(
            Table::create()
                .table(col("campaign_results"))
                .col(id(col("id")))
                .col(fk_id(col("campaign_id")))
                .col(flag(col("in_control"), false))
                .col(fk_id_null(col("store_id")))
                .col(amount_default(col("members"), 0))
                .col(amount_default(col("visitors"), 0))
                .col(amount_default(col("bills"), 0))
                .col(amount_default(col("revenue_fen"), 0))
                // Sums of squares of each member's fen: past 2⁶³ at a million members, and only the variance uses them.
                .col(real("revenue_sq"))
                .col(amount_default(col("recharge_fen"), 0))
                .col(real("recharge_sq"))
                .col(amount_default(col("bonus_fen"), 0))
                .col(amount_default(col("recipients"), 0))
                .col(amount_default(col("attributed_visitors"), 0))
                .col(amount_default(col("attributed_fen"), 0))
                .to_owned(),
        )
        .await?;
        m.create_index(index(col("campaign_results"), "ix_campaign_results", &["campaign_id"], false)).await?;
        m.create_table(
            Table::create()
                .table(col("campaign_days"))
                .col(id(col("id")))
                .col(fk_id(col("campaign_id")))
                // 1 is the first 24 hours after the campaign ran.
                .col(int(col("day")))
                .col(flag(col("in_control"), false))
                .col(amount_default(col("revenue_fen"), 0))
                .to_owned(),
        )
        .await?;
        m.create_index(index(col("campaign_days"), "ux_campaign_days", &["campaign_id", "day", "in_control"], true))
            .await?;
        m.create_index(index(
            col("journal_entries"),
            "ix_journal_entries_merchant_at",
            &["merchant_id", "created_at"],
            false,
        ))
        .await?;
        m.create_index(index(col("bills"), "ix_bills_merchant_settled", &["merchant_id", "settled_at"], false)).await?;
        m.create_index(index(
            col("marketing_sends"),
            "ix_marketing_sends_campaign_sent",
            &["campaign_id", "sent_at"],
            false,
        ))
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (table, name) in [
            ("marketing_sends", "ix_marketing_sends_campaign_sent"),
            ("bills", "ix_bills_merchant_settled"),
            ("journal_entries", "ix_journal_entries_merchant_at"),
        ] {
            m.drop_index(Index::drop().name(name).table(col(table)).to_owned()).await?;
        }
        m.drop_table(Table::drop().table(col("campaign_days")).to_owned()).await?;
        m.drop_table(Table::drop().table(col("campaign_results")).to_owned()).await?;
        for column in ["results_until", "sms_sent", "coupon_off_fen"] {
            m.alter_table(Table::alter().table(col("campaigns")).drop_column(col(column)).to_owned()).await?;
        }
        for column in
            ["home_store_id", "bills", "revenue_fen", "recharge_fen", "bonus_fen", "first_sent_at", "attributed_fen"]
        {
            m.alter_table(Table::alter().table(col("campaign_members")).drop_column(col(column)).to_owned()).await?;
        }
        Ok(())
    }
}
