//! Points as rewards: retail products redeemable for points (积分兑换礼品), the points a redemption line spent,
//! and recharge plans that also grant points (充值送积分).

use sea_orm_migration::prelude::*;

use crate::columns::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261123_000004_points_rewards"
    }
}

/// Added by this migration, one `ALTER TABLE` each (SQLite alters one column per statement).
const COLUMNS: [(&str, &str); 3] =
    [("products", "points_price"), ("bill_lines", "points_redeemed"), ("recharge_plans", "bonus_points")];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let add = |table: &'static str, column: ColumnDef| {
            m.alter_table(Table::alter().table(Alias::new(table)).add_column(column).take())
        };
        // NULL: not a gift. Otherwise the points one unit costs.
        add("products", ColumnDef::new(Alias::new("points_price")).big_integer().null().take()).await?;
        add("bill_lines", amount_default(Alias::new("points_redeemed"), 0)).await?;
        add("recharge_plans", amount_default(Alias::new("bonus_points"), 0)).await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (table, column) in COLUMNS.iter().rev() {
            m.alter_table(Table::alter().table(Alias::new(*table)).drop_column(Alias::new(*column)).take()).await?;
        }
        Ok(())
    }
}
