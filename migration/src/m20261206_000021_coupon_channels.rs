//! More ways to issue coupons, and a budget.
//! - `coupon_templates.points_price`: members exchange this many points for one (积分兑换券), in the coupon center;
//!   the points debit and the coupon are one transaction.
//! - `coupon_templates.purchase_min_fen`: with `auto_grant = 'purchase'`, a settled bill paying at least this gives
//!   its member one (满赠), in the settlement's transaction, keyed by the bill.
//! - `coupon_templates.budget_fen` / `budget_left_fen`: the most the template's coupons may take off bills, in fen;
//!   each coupon issued takes its largest possible discount from what is left, by the same guarded decrement as
//!   stock, so the budget can never be overspent however many issue at once.
//! - `coupon_codes`: redemption codes (兑换码), random and single use. Generating a batch takes its stock; a member
//!   redeems one by a guarded update (`member_id IS NULL`), so two members racing for one code get one coupon.

use sea_orm_migration::prelude::*;

use crate::columns::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000021_coupon_channels"
    }
}

fn col(name: &'static str) -> Alias {
    Alias::new(name)
}

const TEMPLATE_COLUMNS: [&str; 4] = ["points_price", "purchase_min_fen", "budget_fen", "budget_left_fen"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters a table one column at a time.
        for name in TEMPLATE_COLUMNS {
            m.alter_table(
                Table::alter()
                    .table(col("coupon_templates"))
                    .add_column(ColumnDef::new(col(name)).big_integer().null())
                    .take(),
            )
            .await?;
        }
        m.create_table(
            Table::create()
                .table(col("coupon_codes"))
                .col(id(col("id")))
                .col(fk_id(col("merchant_id")))
                .col(fk_id(col("template_id")))
                // Upper case, without separators: what a member types is normalised to this.
                .col(text(col("code")))
                // The idempotency key of the request that generated it, and its place in that batch.
                .col(text(col("batch_key")))
                .col(int(col("batch_seq")))
                .col(fk_id_null(col("member_id")))
                .col(fk_id_null(col("coupon_id")))
                .col(at_null(col("redeemed_at")))
                .col(at(col("created_at")))
                .to_owned(),
        )
        .await?;
        m.create_index(index(col("coupon_codes"), "ux_coupon_codes_code", &["code"], true)).await?;
        m.create_index(index(
            col("coupon_codes"),
            "ux_coupon_codes_batch",
            &["template_id", "batch_key", "batch_seq"],
            true,
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(col("coupon_codes")).to_owned()).await?;
        for name in TEMPLATE_COLUMNS {
            m.alter_table(Table::alter().table(col("coupon_templates")).drop_column(col(name)).take()).await?;
        }
        Ok(())
    }
}
