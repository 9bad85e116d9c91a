//! The money spine, second part: member levels with discounts and thresholds, loyalty settings, retail products and
//! their stock, count cards (次卡), points lots, the full checkout (parked, voided, reversed and refunded bills, lines
//! of every kind with their staff), refunds by line and commission.
//!
//! SQLite alters one column per statement, so every added column is its own `ALTER TABLE`.

use sea_orm_migration::prelude::*;

use crate::columns::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261123_000003_checkout"
    }
}

async fn add(m: &SchemaManager<'_>, table: impl IntoIden, column: ColumnDef) -> Result<(), DbErr> {
    m.alter_table(Table::alter().table(table).add_column(column).take()).await
}

fn int_default(col: impl IntoIden, default: i32) -> ColumnDef {
    ColumnDef::new(col).integer().not_null().default(default).take()
}

fn text_default(col: impl IntoIden, default: &str) -> ColumnDef {
    ColumnDef::new(col).string().not_null().default(default).take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // Loyalty settings per merchant.
        add(m, Merchants::Table, int_default(Merchants::PointsPerYuan, 1)).await?;
        add(m, Merchants::Table, int_default(Merchants::PointsPerYuanOffset, 100)).await?;
        add(m, Merchants::Table, int_default(Merchants::PointsValidityDays, 365)).await?;
        add(m, Merchants::Table, text_default(Merchants::PointsExcludedCategories, "[]")).await?;
        add(m, Merchants::Table, text_default(Merchants::LevelBasis, "spend")).await?;
        add(m, Merchants::Table, text_default(Merchants::LevelDowngrade, "never")).await?;
        add(m, Merchants::Table, ColumnDef::new(Merchants::ConfirmThresholdFen).big_integer().null().take()).await?;

        add(m, MemberLevels::Table, amount_default(MemberLevels::ThresholdFen, 0)).await?;
        add(m, MemberLevels::Table, int_default(MemberLevels::DiscountBp, 10_000)).await?;
        add(m, MemberLevels::Table, text_default(MemberLevels::CategoryDiscounts, "{}")).await?;
        add(m, MemberLevels::Table, int_default(MemberLevels::PointsMultiplierPct, 100)).await?;

        add(m, Members::Table, amount_default(Members::TotalRechargeFen, 0)).await?;
        add(m, ServiceItems::Table, text_default(ServiceItems::LevelPrices, "{}")).await?;

        // Bills grow a lifecycle and the steps of their price.
        add(m, Bills::Table, amount_default(Bills::DiscountFen, 0)).await?;
        add(m, Bills::Table, amount_default(Bills::PointsUsed, 0)).await?;
        add(m, Bills::Table, amount_default(Bills::PointsOffsetFen, 0)).await?;
        add(m, Bills::Table, amount_default(Bills::PointsEarned, 0)).await?;
        add(m, Bills::Table, amount_default(Bills::RefundedFen, 0)).await?;
        add(m, Bills::Table, fk_id_null(Bills::LevelId)).await?;
        add(m, Bills::Table, text_default(Bills::Note, "")).await?;
        add(m, Bills::Table, text_default(Bills::Request, "{}")).await?;
        add(m, Bills::Table, at_null(Bills::MemberConfirmedAt)).await?;
        add(m, Bills::Table, at_null(Bills::ClosedAt)).await?;
        add(m, Bills::Table, fk_id_null(Bills::ClosedBy)).await?;

        add(m, BillLines::Table, text_default(BillLines::Staff, "[]")).await?;
        add(m, BillLines::Table, amount_default(BillLines::DiscountFen, 0)).await?;
        add(m, BillLines::Table, amount_default(BillLines::PointsOffsetFen, 0)).await?;
        add(m, BillLines::Table, amount_default(BillLines::NetFen, 0)).await?;
        add(m, BillLines::Table, fk_id_null(BillLines::CountCardId)).await?;
        add(m, BillLines::Table, amount_default(BillLines::RecognisedFen, 0)).await?;
        add(m, BillLines::Table, amount_default(BillLines::PointsEarned, 0)).await?;
        add(m, BillLines::Table, int_default(BillLines::RefundedQuantity, 0)).await?;
        add(m, BillLines::Table, amount_default(BillLines::RefundedFen, 0)).await?;
        add(m, BillLines::Table, text_default(BillLines::Detail, "{}")).await?;

        add(m, BillTenders::Table, amount_default(BillTenders::PrincipalFen, 0)).await?;
        add(m, BillTenders::Table, amount_default(BillTenders::BonusFen, 0)).await?;
        add(m, BillTenders::Table, amount_default(BillTenders::RefundedFen, 0)).await?;
        add(m, BillTenders::Table, amount_default(BillTenders::RefundedPrincipalFen, 0)).await?;

        m.create_table(
            Table::create()
                .table(Products::Table)
                .col(id(Products::Id))
                .col(fk_id(Products::MerchantId))
                .col(text(Products::Sku))
                .col(text_null(Products::Barcode))
                .col(text(Products::Name))
                .col(text(Products::Category))
                .col(amount(Products::PriceFen))
                .col(flag(Products::Active, true))
                .col(at(Products::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Products::Table, Products::MerchantId)
                        .to(Merchants::Table, Merchants::Id),
                )
                .take(),
        )
        .await?;
        m.create_index(index(Products::Table, "ux_products_sku", &["merchant_id", "sku"], true)).await?;
        m.create_index(index(Products::Table, "ix_products_barcode", &["merchant_id", "barcode"], false)).await?;

        m.create_table(
            Table::create()
                .table(ProductStock::Table)
                .col(id(ProductStock::Id))
                .col(fk_id(ProductStock::MerchantId))
                .col(fk_id(ProductStock::StoreId))
                .col(fk_id(ProductStock::ProductId))
                .col(amount_default(ProductStock::OnHand, 0))
                .col(at(ProductStock::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(ProductStock::Table, ProductStock::ProductId)
                        .to(Products::Table, Products::Id),
                )
                .take(),
        )
        .await?;
        m.create_index(index(ProductStock::Table, "ux_product_stock", &["store_id", "product_id"], true)).await?;

        m.create_table(
            Table::create()
                .table(StockMovements::Table)
                .col(id(StockMovements::Id))
                .col(fk_id(StockMovements::MerchantId))
                .col(fk_id(StockMovements::StoreId))
                .col(fk_id(StockMovements::ProductId))
                .col(amount(StockMovements::Delta))
                .col(text(StockMovements::Reason))
                .col(text(StockMovements::Memo))
                .col(fk_id_null(StockMovements::BillId))
                .col(fk_id_null(StockMovements::StaffId))
                .col(at(StockMovements::CreatedAt))
                .take(),
        )
        .await?;
        m.create_index(index(
            StockMovements::Table,
            "ix_stock_movements_product",
            &["store_id", "product_id", "id"],
            false,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(CardProducts::Table)
                .col(id(CardProducts::Id))
                .col(fk_id(CardProducts::MerchantId))
                .col(text(CardProducts::Name))
                .col(amount(CardProducts::PriceFen))
                .col(int(CardProducts::Sessions))
                .col(ColumnDef::new(CardProducts::ValidityDays).integer().null())
                .col(text(CardProducts::ServiceItemIds))
                .col(flag(CardProducts::Active, true))
                .col(at(CardProducts::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(CardProducts::Table, CardProducts::MerchantId)
                        .to(Merchants::Table, Merchants::Id),
                )
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(CountCards::Table)
                .col(id(CountCards::Id))
                .col(fk_id(CountCards::MerchantId))
                .col(fk_id(CountCards::MemberId))
                .col(fk_id(CountCards::CardProductId))
                .col(text(CountCards::Name))
                .col(text(CountCards::ServiceItemIds))
                .col(int(CountCards::SessionsTotal))
                .col(amount(CountCards::PriceFen))
                .col(text(CountCards::Status))
                .col(fk_id(CountCards::StoreId))
                .col(fk_id_null(CountCards::BillId))
                .col(at_null(CountCards::ExpiresAt))
                .col(at(CountCards::CreatedAt))
                .col(at(CountCards::UpdatedAt))
                .foreign_key(
                    ForeignKey::create().from(CountCards::Table, CountCards::MemberId).to(Members::Table, Members::Id),
                )
                .take(),
        )
        .await?;
        m.create_index(index(CountCards::Table, "ix_count_cards_member", &["member_id"], false)).await?;

        m.create_table(
            Table::create()
                .table(PointsLots::Table)
                .col(id(PointsLots::Id))
                .col(fk_id(PointsLots::MerchantId))
                .col(fk_id(PointsLots::MemberId))
                .col(amount(PointsLots::Points))
                .col(amount(PointsLots::Remaining))
                .col(at(PointsLots::ExpiresAt))
                .col(text(PointsLots::Source))
                .col(fk_id_null(PointsLots::BillId))
                .col(at(PointsLots::CreatedAt))
                .foreign_key(
                    ForeignKey::create().from(PointsLots::Table, PointsLots::MemberId).to(Members::Table, Members::Id),
                )
                .take(),
        )
        .await?;
        m.create_index(index(PointsLots::Table, "ix_points_lots_member", &["member_id", "expires_at"], false)).await?;

        m.create_table(
            Table::create()
                .table(BillRefunds::Table)
                .col(id(BillRefunds::Id))
                .col(fk_id(BillRefunds::MerchantId))
                .col(fk_id(BillRefunds::BillId))
                .col(text(BillRefunds::Kind))
                .col(text(BillRefunds::IdempotencyKey))
                .col(text(BillRefunds::Fingerprint))
                .col(amount(BillRefunds::AmountFen))
                .col(text(BillRefunds::Reason))
                .col(text(BillRefunds::Tenders))
                .col(fk_id_null(BillRefunds::EntryId))
                .col(fk_id(BillRefunds::CreatedBy))
                .col(at(BillRefunds::CreatedAt))
                .foreign_key(
                    ForeignKey::create().from(BillRefunds::Table, BillRefunds::BillId).to(Bills::Table, Bills::Id),
                )
                .take(),
        )
        .await?;
        m.create_index(index(
            BillRefunds::Table,
            "ux_bill_refunds_idempotency",
            &["merchant_id", "idempotency_key"],
            true,
        ))
        .await?;
        m.create_index(index(BillRefunds::Table, "ix_bill_refunds_bill", &["bill_id"], false)).await?;

        m.create_table(
            Table::create()
                .table(BillRefundLines::Table)
                .col(id(BillRefundLines::Id))
                .col(fk_id(BillRefundLines::RefundId))
                .col(fk_id(BillRefundLines::BillLineId))
                .col(int(BillRefundLines::Quantity))
                .col(amount(BillRefundLines::AmountFen))
                .foreign_key(
                    ForeignKey::create()
                        .from(BillRefundLines::Table, BillRefundLines::RefundId)
                        .to(BillRefunds::Table, BillRefunds::Id),
                )
                .take(),
        )
        .await?;
        m.create_index(index(BillRefundLines::Table, "ix_bill_refund_lines_refund", &["refund_id"], false)).await?;

        m.create_table(
            Table::create()
                .table(CommissionRules::Table)
                .col(id(CommissionRules::Id))
                .col(fk_id(CommissionRules::MerchantId))
                .col(text(CommissionRules::LineKind))
                .col(fk_id_null(CommissionRules::ItemId))
                .col(text_null(CommissionRules::Category))
                .col(text(CommissionRules::Mode))
                .col(text(CommissionRules::Tiers))
                .col(flag(CommissionRules::Active, true))
                .col(at(CommissionRules::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(CommissionRules::Table, CommissionRules::MerchantId)
                        .to(Merchants::Table, Merchants::Id),
                )
                .take(),
        )
        .await?;
        m.create_index(index(CommissionRules::Table, "ix_commission_rules_merchant", &["merchant_id"], false)).await?;

        m.create_table(
            Table::create()
                .table(Commissions::Table)
                .col(id(Commissions::Id))
                .col(fk_id(Commissions::MerchantId))
                .col(fk_id(Commissions::StoreId))
                .col(fk_id(Commissions::StaffId))
                .col(fk_id(Commissions::BillId))
                .col(fk_id(Commissions::BillLineId))
                .col(fk_id_null(Commissions::RefundId))
                .col(fk_id_null(Commissions::RuleId))
                .col(text(Commissions::Kind))
                .col(amount(Commissions::BasisFen))
                .col(amount(Commissions::AmountFen))
                .col(at(Commissions::CreatedAt))
                .foreign_key(
                    ForeignKey::create().from(Commissions::Table, Commissions::BillId).to(Bills::Table, Bills::Id),
                )
                .take(),
        )
        .await?;
        m.create_index(index(
            Commissions::Table,
            "ix_commissions_staff",
            &["merchant_id", "staff_id", "created_at"],
            false,
        ))
        .await?;
        m.create_index(index(Commissions::Table, "ix_commissions_line", &["bill_line_id"], false)).await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "commissions",
            "commission_rules",
            "bill_refund_lines",
            "bill_refunds",
            "points_lots",
            "count_cards",
            "card_products",
            "stock_movements",
            "product_stock",
            "products",
        ] {
            m.drop_table(Table::drop().table(Alias::new(table)).take()).await?;
        }
        let columns: [(&str, &[&str]); 7] = [
            (
                "merchants",
                &[
                    "points_per_yuan",
                    "points_per_yuan_offset",
                    "points_validity_days",
                    "points_excluded_categories",
                    "level_basis",
                    "level_downgrade",
                    "confirm_threshold_fen",
                ],
            ),
            ("member_levels", &["threshold_fen", "discount_bp", "category_discounts", "points_multiplier_pct"]),
            ("members", &["total_recharge_fen"]),
            ("service_items", &["level_prices"]),
            (
                "bills",
                &[
                    "discount_fen",
                    "points_used",
                    "points_offset_fen",
                    "points_earned",
                    "refunded_fen",
                    "level_id",
                    "note",
                    "request",
                    "member_confirmed_at",
                    "closed_at",
                    "closed_by",
                ],
            ),
            (
                "bill_lines",
                &[
                    "staff",
                    "discount_fen",
                    "points_offset_fen",
                    "net_fen",
                    "count_card_id",
                    "recognised_fen",
                    "points_earned",
                    "refunded_quantity",
                    "refunded_fen",
                    "detail",
                ],
            ),
            ("bill_tenders", &["principal_fen", "bonus_fen", "refunded_fen", "refunded_principal_fen"]),
        ];
        for (table, names) in columns {
            for name in names {
                m.alter_table(Table::alter().table(Alias::new(table)).drop_column(Alias::new(*name)).take()).await?;
            }
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Merchants {
    Table,
    Id,
    PointsPerYuan,
    PointsPerYuanOffset,
    PointsValidityDays,
    PointsExcludedCategories,
    LevelBasis,
    LevelDowngrade,
    ConfirmThresholdFen,
}

#[derive(DeriveIden)]
enum MemberLevels {
    Table,
    ThresholdFen,
    DiscountBp,
    CategoryDiscounts,
    PointsMultiplierPct,
}

#[derive(DeriveIden)]
enum Members {
    Table,
    Id,
    TotalRechargeFen,
}

#[derive(DeriveIden)]
enum ServiceItems {
    Table,
    LevelPrices,
}

#[derive(DeriveIden)]
enum Bills {
    Table,
    Id,
    DiscountFen,
    PointsUsed,
    PointsOffsetFen,
    PointsEarned,
    RefundedFen,
    LevelId,
    Note,
    Request,
    MemberConfirmedAt,
    ClosedAt,
    ClosedBy,
}

#[derive(DeriveIden)]
enum BillLines {
    Table,
    Staff,
    DiscountFen,
    PointsOffsetFen,
    NetFen,
    CountCardId,
    RecognisedFen,
    PointsEarned,
    RefundedQuantity,
    RefundedFen,
    Detail,
}

#[derive(DeriveIden)]
enum BillTenders {
    Table,
    PrincipalFen,
    BonusFen,
    RefundedFen,
    RefundedPrincipalFen,
}

#[derive(DeriveIden)]
enum Products {
    Table,
    Id,
    MerchantId,
    Sku,
    Barcode,
    Name,
    Category,
    PriceFen,
    Active,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ProductStock {
    Table,
    Id,
    MerchantId,
    StoreId,
    ProductId,
    OnHand,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum StockMovements {
    Table,
    Id,
    MerchantId,
    StoreId,
    ProductId,
    Delta,
    Reason,
    Memo,
    BillId,
    StaffId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum CardProducts {
    Table,
    Id,
    MerchantId,
    Name,
    PriceFen,
    Sessions,
    ValidityDays,
    ServiceItemIds,
    Active,
    CreatedAt,
}

#[derive(DeriveIden)]
enum CountCards {
    Table,
    Id,
    MerchantId,
    MemberId,
    CardProductId,
    Name,
    ServiceItemIds,
    SessionsTotal,
    PriceFen,
    Status,
    StoreId,
    BillId,
    ExpiresAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum PointsLots {
    Table,
    Id,
    MerchantId,
    MemberId,
    Points,
    Remaining,
    ExpiresAt,
    Source,
    BillId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum BillRefunds {
    Table,
    Id,
    MerchantId,
    BillId,
    Kind,
    IdempotencyKey,
    Fingerprint,
    AmountFen,
    Reason,
    Tenders,
    EntryId,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum BillRefundLines {
    Table,
    Id,
    RefundId,
    BillLineId,
    Quantity,
    AmountFen,
}

#[derive(DeriveIden)]
enum CommissionRules {
    Table,
    Id,
    MerchantId,
    LineKind,
    ItemId,
    Category,
    Mode,
    Tiers,
    Active,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Commissions {
    Table,
    Id,
    MerchantId,
    StoreId,
    StaffId,
    BillId,
    BillLineId,
    RefundId,
    RuleId,
    Kind,
    BasisFen,
    AmountFen,
    CreatedAt,
}
