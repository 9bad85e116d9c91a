//! Campaigns: a segment reached once, at a chosen time, with a coupon and/or an in-app message, keeping a random
//! control group that receives nothing.
//! - `merchants.assignment_salt`: the merchant's secret salt for assigning members to a campaign's control group
//!   (set the first time one is needed).
//! - `campaign_members`: the audience fixed when the campaign runs, each member's bucket (0–9999, from a hash of the
//!   salt, the campaign and the member) and group, recorded once and never changed.
//! - `member_inbox`: what the mini-program shows a member (an inbox, and a one-time pop-up), one per campaign and
//!   member.

use sea_orm_migration::prelude::*;

use crate::columns::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261207_000027_campaigns"
    }
}

fn col(name: &'static str) -> Alias {
    Alias::new(name)
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(col("merchants")).add_column(text_null(col("assignment_salt"))).take())
            .await?;
        m.create_table(
            Table::create()
                .table(col("campaigns"))
                .col(id(col("id")))
                .col(fk_id(col("merchant_id")))
                .col(text(col("name")))
                // one_off (recurring and automations come later)
                .col(text(col("kind")))
                .col(fk_id(col("segment_id")))
                .col(fk_id_null(col("coupon_template_id")))
                .col(text_null(col("message_title")))
                .col(ColumnDef::new(col("message_body")).text().null())
                // The control group's share in basis points (1000 = 10%).
                .col(int(col("control_bp")))
                // scheduled | running | done | cancelled | failed
                .col(text(col("status")))
                .col(at(col("run_at")))
                // A run claims the campaign (its token) until this time, renewing it as it goes; a run that died is
                // taken over after it.
                .col(text_null(col("claim_token")))
                .col(at_null(col("claimed_until")))
                // When the audience was fixed, complete: a run taken over after it does not assign again.
                .col(at_null(col("assigned_at")))
                // Why a run gave up (a segment gone), when it did.
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
                .to_owned(),
        )
        .await?;
        m.create_index(index(col("campaigns"), "ix_campaigns_due", &["status", "run_at"], false)).await?;
        m.create_index(index(col("campaigns"), "ix_campaigns_merchant", &["merchant_id", "id"], false)).await?;
        m.create_table(
            Table::create()
                .table(col("campaign_members"))
                .col(id(col("id")))
                .col(fk_id(col("campaign_id")))
                .col(fk_id(col("member_id")))
                .col(int(col("bucket")))
                .col(flag(col("in_control"), false))
                .col(at(col("assigned_at")))
                .to_owned(),
        )
        .await?;
        m.create_index(index(col("campaign_members"), "ux_campaign_members", &["campaign_id", "member_id"], true))
            .await?;
        m.create_index(index(col("campaign_members"), "ix_campaign_members_member", &["member_id"], false)).await?;
        m.create_table(
            Table::create()
                .table(col("member_inbox"))
                .col(id(col("id")))
                .col(fk_id(col("merchant_id")))
                .col(fk_id(col("member_id")))
                .col(fk_id_null(col("campaign_id")))
                .col(text(col("title")))
                .col(ColumnDef::new(col("body")).text().not_null())
                .col(at(col("created_at")))
                .col(at_null(col("read_at")))
                .to_owned(),
        )
        .await?;
        m.create_index(index(col("member_inbox"), "ux_member_inbox_campaign", &["campaign_id", "member_id"], true))
            .await?;
        m.create_index(index(col("member_inbox"), "ix_member_inbox_member", &["member_id", "id"], false)).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in ["member_inbox", "campaign_members", "campaigns"] {
            m.drop_table(Table::drop().table(col(table)).to_owned()).await?;
        }
        m.alter_table(Table::alter().table(col("merchants")).drop_column(col("assignment_salt")).take()).await
    }
}
