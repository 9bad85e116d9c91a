//! What the member app needs that the desk did not:
//! - `staff.title` and `staff.photo_url`: how a technician is shown to members choosing one for a booking.
//! - `member_allergies.reported_by`: `staff` or `member` (told in the app); `created_by` is that staff member's or
//!   member's id.
//! - `marketing_consents`: every grant and withdrawal of consent to marketing messages, with when, through which
//!   channel and the wording shown, so a campaign can prove it asked (the latest row is the answer in force).
//! - `visit_ratings`: a member's 1–5 rating of a technician for a settled bill, once per bill and technician.

use sea_orm_migration::prelude::*;

use crate::columns::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000019_member_app"
    }
}

fn col(name: &'static str) -> Alias {
    Alias::new(name)
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters a table one column at a time.
        let title = ColumnDef::new(col("title")).string().not_null().default("").take();
        m.alter_table(Table::alter().table(col("staff")).add_column(title).take()).await?;
        m.alter_table(Table::alter().table(col("staff")).add_column(text_null(col("photo_url"))).take()).await?;
        let reported_by = ColumnDef::new(col("reported_by")).string().not_null().default("staff").take();
        m.alter_table(Table::alter().table(col("member_allergies")).add_column(reported_by).take()).await?;

        m.create_table(
            Table::create()
                .table(col("marketing_consents"))
                .col(id(col("id")))
                .col(fk_id(col("merchant_id")))
                .col(fk_id(col("member_id")))
                .col(flag(col("granted"), false))
                // wechat | alipay | sandbox | desk
                .col(text(col("channel")))
                // The sentence the member agreed to or withdrew from, as shown.
                .col(text(col("wording")))
                .col(at(col("given_at")))
                .to_owned(),
        )
        .await?;
        m.create_index(index(col("marketing_consents"), "ix_marketing_consents_member", &["member_id", "id"], false))
            .await?;

        m.create_table(
            Table::create()
                .table(col("visit_ratings"))
                .col(id(col("id")))
                .col(fk_id(col("merchant_id")))
                .col(fk_id(col("store_id")))
                .col(fk_id(col("member_id")))
                .col(fk_id(col("bill_id")))
                .col(fk_id(col("staff_id")))
                .col(int(col("stars")))
                .col(text_null(col("comment")))
                .col(at(col("created_at")))
                .to_owned(),
        )
        .await?;
        m.create_index(index(col("visit_ratings"), "ux_visit_ratings_bill_staff", &["bill_id", "staff_id"], true))
            .await?;
        m.create_index(index(col("visit_ratings"), "ix_visit_ratings_store", &["store_id", "created_at"], false))
            .await?;
        // A member's export and erasure read their ratings.
        m.create_index(index(col("visit_ratings"), "ix_visit_ratings_member", &["member_id"], false)).await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(col("visit_ratings")).to_owned()).await?;
        m.drop_table(Table::drop().table(col("marketing_consents")).to_owned()).await?;
        m.alter_table(Table::alter().table(col("member_allergies")).drop_column(col("reported_by")).take()).await?;
        for name in ["photo_url", "title"] {
            m.alter_table(Table::alter().table(col("staff")).drop_column(col(name)).take()).await?;
        }
        Ok(())
    }
}
