//! More than one coupon on a bill, when each of them says it combines with others.
//! - `stacks_with_coupons` on the template and on each member's coupon (its copy of the terms); false, as every
//!   coupon issued before was: one per bill.
//! - `bill_coupons`: which coupons a bill names and what each took off, in the order pricing applied them. It stays
//!   when a reversal gives the coupons back, so the bill keeps its history. It replaces `bills.coupon_id`, whose
//!   bills are copied in; the column is no longer written and goes in a later migration (expand, then contract).
//! - The drafts of bills still kept (parked or being paid) name their coupon in the new list form. A parked bill's
//!   in-app confirmation was of the old draft, so it is cleared as an edit would clear it: the member confirms
//!   again. A bill being paid keeps its confirmation, which its payment settles with.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

use crate::columns::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261207_000025_stacked_coupons"
    }
}

fn col(name: &'static str) -> Alias {
    Alias::new(name)
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in ["coupon_templates", "member_coupons"] {
            m.alter_table(Table::alter().table(col(table)).add_column(flag(col("stacks_with_coupons"), false)).take())
                .await?;
        }
        m.create_table(
            Table::create()
                .table(col("bill_coupons"))
                .col(id(col("id")))
                .col(fk_id(col("bill_id")))
                .col(fk_id(col("coupon_id")))
                // Where pricing applied it among the bill's coupons (0 first).
                .col(int(col("position")))
                .col(amount(col("off_fen")))
                .to_owned(),
        )
        .await?;
        m.create_index(index(col("bill_coupons"), "ux_bill_coupons_bill", &["bill_id", "coupon_id"], true)).await?;
        m.create_index(index(col("bill_coupons"), "ix_bill_coupons_coupon", &["coupon_id"], false)).await?;

        let db = m.get_connection();
        db.execute_unprepared(
            "INSERT INTO bill_coupons (bill_id, coupon_id, position, off_fen) \
             SELECT id, coupon_id, 0, coupon_fen FROM bills WHERE coupon_id IS NOT NULL",
        )
        .await?;
        db.execute_unprepared(
            "UPDATE bills SET member_confirmed_at = NULL, member_confirmed_digest = NULL \
             WHERE coupon_id IS NOT NULL AND status = 'parked'",
        )
        .await?;
        let kept_drafts = match m.get_database_backend() {
            DatabaseBackend::Postgres => {
                "UPDATE bills SET request = ((request::jsonb - 'coupon_id') \
                 || jsonb_build_object('coupon_ids', jsonb_build_array(coupon_id)))::text \
                 WHERE coupon_id IS NOT NULL AND status IN ('parked', 'paying')"
            }
            _ => {
                "UPDATE bills SET request = json_set(json_remove(request, '$.coupon_id'), '$.coupon_ids', \
                 json_array(coupon_id)) WHERE coupon_id IS NOT NULL AND status IN ('parked', 'paying')"
            }
        };
        db.execute_unprepared(kept_drafts).await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        db.execute_unprepared(
            "UPDATE bills SET coupon_id = (SELECT coupon_id FROM bill_coupons WHERE bill_id = bills.id \
             ORDER BY position LIMIT 1)",
        )
        .await?;
        // Kept drafts name their first coupon the old way again (one coupon per bill).
        let kept_drafts = match m.get_database_backend() {
            DatabaseBackend::Postgres => {
                "UPDATE bills SET request = ((request::jsonb - 'coupon_ids') \
                 || jsonb_build_object('coupon_id', request::jsonb -> 'coupon_ids' -> 0))::text \
                 WHERE status IN ('parked', 'paying') AND request::jsonb ? 'coupon_ids'"
            }
            _ => {
                "UPDATE bills SET request = json_set(json_remove(request, '$.coupon_ids'), '$.coupon_id', \
                 json_extract(request, '$.coupon_ids[0]')) WHERE status IN ('parked', 'paying') \
                 AND json_extract(request, '$.coupon_ids') IS NOT NULL"
            }
        };
        db.execute_unprepared(kept_drafts).await?;
        m.drop_table(Table::drop().table(col("bill_coupons")).to_owned()).await?;
        for table in ["member_coupons", "coupon_templates"] {
            m.alter_table(Table::alter().table(col(table)).drop_column(col("stacks_with_coupons")).take()).await?;
        }
        Ok(())
    }
}
