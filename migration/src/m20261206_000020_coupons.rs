//! Coupons: a template (what is offered, to whom, how many) and the member's coupon made from it, which keeps a
//! copy of the terms it was issued with so later edits of the template change nothing already issued.
//! - `coupon_templates.remaining`: stock left, taken by a guarded decrement (`remaining >= 1`); null is unlimited.
//! - `member_coupons.claim_no`: the member's n-th claim of the template, unique per (template, member): the
//!   per-member limit holds under concurrency without counting first. Grants leave it null.
//! - `member_coupons.source_key`: what issued it (a grant's idempotency key, a job's period), unique per
//!   (template, member): a retried grant or a job run twice issues one coupon.
//! - `bills.coupon_id`, `bills.coupon_fen`, `bill_lines.coupon_fen`: the coupon a bill used and each line's share
//!   of it (the lines' shares add up to the bill's).

use sea_orm_migration::prelude::*;

use crate::columns::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000020_coupons"
    }
}

fn col(name: &'static str) -> Alias {
    Alias::new(name)
}

/// The terms a coupon is issued with: on the template, and copied onto each member's coupon.
fn terms(table: &mut TableCreateStatement) {
    table
        .col(text(col("name")))
        // amount | percent | spend_off | free_item
        .col(text(col("kind")))
        .col(amount_default(col("value_fen"), 0))
        // percent: the share the member pays, in basis points (8500 = 85折).
        .col(ColumnDef::new(col("rate_bp")).integer().not_null().default(10_000))
        .col(ColumnDef::new(col("cap_fen")).big_integer().null())
        .col(amount_default(col("threshold_fen"), 0))
        .col(text_null(col("free_item_kind")))
        .col(fk_id_null(col("free_item_id")))
        // JSON: {"store_ids": [], "categories": [], "service_ids": [], "product_ids": []}; empty lists mean any.
        .col(text(col("scope")))
        .col(flag(col("stacks_with_level"), true))
        .col(flag(col("stacks_with_points"), true));
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let mut templates = Table::create();
        templates.table(col("coupon_templates")).col(id(col("id"))).col(fk_id(col("merchant_id")));
        terms(&mut templates);
        templates
            .col(at_null(col("valid_from")))
            .col(at_null(col("valid_until")))
            // Valid for this many days from issue (to the end of the last day in the merchant's zone) instead.
            .col(ColumnDef::new(col("valid_days")).integer().null())
            .col(at_null(col("claim_from")))
            .col(at_null(col("claim_until")))
            .col(ColumnDef::new(col("total_stock")).big_integer().null())
            .col(ColumnDef::new(col("remaining")).big_integer().null())
            .col(ColumnDef::new(col("per_member_limit")).integer().not_null().default(1))
            // Members find it in the coupon center and claim it themselves.
            .col(flag(col("claimable"), false))
            // Issued without anyone asking: `join` (to each new member, once) or `birthday` (once a year, this many
            // days before the birthday, valid through the birthday month).
            .col(text_null(col("auto_grant")))
            .col(ColumnDef::new(col("birthday_days_before")).integer().not_null().default(7))
            // active | paused | ended
            .col(text(col("status")))
            .col(at(col("created_at")))
            .col(at(col("updated_at")));
        m.create_table(templates.to_owned()).await?;
        m.create_index(index(
            col("coupon_templates"),
            "ix_coupon_templates_merchant",
            &["merchant_id", "status"],
            false,
        ))
        .await?;

        let mut coupons = Table::create();
        coupons
            .table(col("member_coupons"))
            .col(id(col("id")))
            .col(fk_id(col("merchant_id")))
            .col(fk_id(col("template_id")))
            .col(fk_id(col("member_id")));
        terms(&mut coupons);
        coupons
            .col(at(col("valid_from")))
            .col(at(col("valid_until")))
            // usable | reserved (on a parked bill) | used; expiry is read from valid_until, never stored.
            .col(text(col("status")))
            // claim | grant | code | join | birthday | points | purchase
            .col(text(col("source")))
            .col(text_null(col("source_key")))
            .col(ColumnDef::new(col("claim_no")).integer().null())
            .col(fk_id_null(col("bill_id")))
            .col(at_null(col("used_at")))
            .col(at(col("created_at")));
        m.create_table(coupons.to_owned()).await?;
        m.create_index(index(
            col("member_coupons"),
            "ux_member_coupons_claim",
            &["template_id", "member_id", "claim_no"],
            true,
        ))
        .await?;
        m.create_index(index(
            col("member_coupons"),
            "ux_member_coupons_source",
            &["template_id", "member_id", "source_key"],
            true,
        ))
        .await?;
        m.create_index(index(col("member_coupons"), "ix_member_coupons_member", &["member_id", "status"], false))
            .await?;
        // A bill's coupon is found by the bill when it is voided, reversed or refunded.
        m.create_index(index(col("member_coupons"), "ix_member_coupons_bill", &["bill_id"], false)).await?;
        // One column per statement: SQLite alters a table one column at a time.
        m.alter_table(Table::alter().table(col("bills")).add_column(fk_id_null(col("coupon_id"))).take()).await?;
        m.alter_table(Table::alter().table(col("bills")).add_column(amount_default(col("coupon_fen"), 0)).take())
            .await?;
        m.alter_table(Table::alter().table(col("bill_lines")).add_column(amount_default(col("coupon_fen"), 0)).take())
            .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table(col("bill_lines")).drop_column(col("coupon_fen")).take()).await?;
        for name in ["coupon_fen", "coupon_id"] {
            m.alter_table(Table::alter().table(col("bills")).drop_column(col(name)).take()).await?;
        }
        m.drop_table(Table::drop().table(col("member_coupons")).to_owned()).await?;
        m.drop_table(Table::drop().table(col("coupon_templates")).to_owned()).await?;
        Ok(())
    }
}
