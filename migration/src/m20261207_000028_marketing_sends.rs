//! Marketing messages through SMS, every send accounted for:
//! - `marketing_consents.purpose`: `marketing` (any marketing message, the switch the member app has had),
//!   `sms` (marketing by SMS) or `personalised` (marketing chosen by the member's characteristics, PIPL art. 24);
//!   `recorded_by`: the staff member who recorded an answer at the member's request.
//! - `merchants`: the cap on marketing messages per member per week across channels, and the hours marketing SMS
//!   may arrive (minutes after midnight in the member's store's zone).
//! - `sms_accounts`: a merchant's SMS provider account (secret sealed) and approved signature (【签名】); the
//!   callback token names the account in the provider's receipt and reply pushes.
//! - `sms_templates`: the templates the provider approved, their text in the provider's syntax and which of our
//!   values fill their variables.
//! - `campaigns.sms_template_id`: the SMS a campaign sends.
//! - `marketing_sends`: the outbox and the send log in one: one row per campaign, member and channel, planned when
//!   the campaign runs and decided when it is sent (sent, delivered, failed, or skipped with the reason).

use sea_orm_migration::prelude::*;

use crate::columns::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261207_000028_marketing_sends"
    }
}

fn col(name: &'static str) -> Alias {
    Alias::new(name)
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters a table one column at a time.
        let purpose = ColumnDef::new(col("purpose")).string().not_null().default("marketing").take();
        m.alter_table(Table::alter().table(col("marketing_consents")).add_column(purpose).take()).await?;
        m.alter_table(
            Table::alter().table(col("marketing_consents")).add_column(fk_id_null(col("recorded_by"))).take(),
        )
        .await?;
        for (name, default) in [("marketing_weekly_cap", 3), ("sms_from_min", 8 * 60), ("sms_until_min", 21 * 60)] {
            let column = ColumnDef::new(col(name)).integer().not_null().default(default).take();
            m.alter_table(Table::alter().table(col("merchants")).add_column(column).take()).await?;
        }
        m.create_table(
            Table::create()
                .table(col("sms_accounts"))
                .col(id(col("id")))
                .col(fk_id(col("merchant_id")))
                // aliyun | tencent
                .col(text(col("provider")))
                .col(text(col("access_key_id")))
                .col(text(col("secret_sealed")))
                // Tencent's SmsSdkAppId.
                .col(text_null(col("app_id")))
                .col(text(col("sign_name")))
                .col(text(col("callback_token")))
                // What one message costs, for the campaign's cost.
                .col(amount_default(col("price_fen"), 5))
                .col(at(col("updated_at")))
                .to_owned(),
        )
        .await?;
        m.create_index(index(col("sms_accounts"), "ux_sms_accounts_merchant", &["merchant_id"], true)).await?;
        m.create_index(index(col("sms_accounts"), "ux_sms_accounts_callback", &["callback_token"], true)).await?;
        m.create_table(
            Table::create()
                .table(col("sms_templates"))
                .col(id(col("id")))
                .col(fk_id(col("merchant_id")))
                .col(text(col("name")))
                .col(text(col("code")))
                .col(ColumnDef::new(col("body")).text().not_null())
                // JSON array of our value names in the order the template's variables take them.
                .col(text(col("variables")))
                .col(flag(col("archived"), false))
                .col(fk_id(col("created_by")))
                .col(at(col("created_at")))
                .to_owned(),
        )
        .await?;
        m.create_index(index(col("sms_templates"), "ux_sms_templates_code", &["merchant_id", "code"], true)).await?;
        m.alter_table(Table::alter().table(col("campaigns")).add_column(fk_id_null(col("sms_template_id"))).take())
            .await?;
        m.create_table(
            Table::create()
                .table(col("marketing_sends"))
                .col(id(col("id")))
                .col(fk_id(col("merchant_id")))
                .col(fk_id(col("campaign_id")))
                .col(fk_id(col("member_id")))
                // sms | in_app
                .col(text(col("channel")))
                // queued | sending | unknown | sent | delivered | failed | skipped
                .col(text(col("status")))
                // Why it was skipped, held or failed (a stable code), and the provider's words.
                .col(text_null(col("reason")))
                .col(text_null(col("detail")))
                // Our own key for the provider (OutId / SessionContext): a send is found by it before any retry.
                .col(text(col("send_key")))
                .col(text_null(col("provider")))
                .col(text_null(col("provider_id")))
                .col(at(col("not_before")))
                .col(text_null(col("claim_token")))
                .col(at_null(col("claimed_until")))
                .col(int(col("attempts")))
                .col(at(col("planned_at")))
                .col(at_null(col("attempted_at")))
                .col(at_null(col("sent_at")))
                .col(at_null(col("delivered_at")))
                .col(at(col("updated_at")))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            col("marketing_sends"),
            "ux_marketing_sends",
            &["campaign_id", "member_id", "channel"],
            true,
        ))
        .await?;
        m.create_index(index(col("marketing_sends"), "ux_marketing_sends_key", &["send_key"], true)).await?;
        m.create_index(index(col("marketing_sends"), "ix_marketing_sends_due", &["status", "not_before"], false))
            .await?;
        m.create_index(index(
            col("marketing_sends"),
            "ix_marketing_sends_member",
            &["member_id", "attempted_at"],
            false,
        ))
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in ["marketing_sends", "sms_templates", "sms_accounts"] {
            m.drop_table(Table::drop().table(col(table)).to_owned()).await?;
        }
        m.alter_table(Table::alter().table(col("campaigns")).drop_column(col("sms_template_id")).take()).await?;
        for name in ["sms_until_min", "sms_from_min", "marketing_weekly_cap"] {
            m.alter_table(Table::alter().table(col("merchants")).drop_column(col(name)).take()).await?;
        }
        for name in ["recorded_by", "purpose"] {
            m.alter_table(Table::alter().table(col("marketing_consents")).drop_column(col(name)).take()).await?;
        }
        Ok(())
    }
}
