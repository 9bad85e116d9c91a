//! The money spine, first part: the double-entry ledger, stored-value cards and their recharge plans, and settled
//! bills with their lines and tenders.

use sea_orm_migration::prelude::*;

use crate::columns::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261123_000002_ledger"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Merchants::Table)
                .add_column(ColumnDef::new(Merchants::SvSplitRule).string().not_null().default("proportional"))
                .take(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(LedgerAccounts::Table)
                .col(id(LedgerAccounts::Id))
                .col(fk_id(LedgerAccounts::MerchantId))
                .col(text(LedgerAccounts::Key))
                .col(text(LedgerAccounts::Kind))
                .col(fk_id_null(LedgerAccounts::StoreId))
                .col(fk_id_null(LedgerAccounts::MemberId))
                .col(text(LedgerAccounts::Unit))
                .col(flag(LedgerAccounts::DebitNormal, true))
                .col(flag(LedgerAccounts::FloorZero, false))
                .col(amount_default(LedgerAccounts::Balance, 0))
                .col(at(LedgerAccounts::CreatedAt))
                .col(at(LedgerAccounts::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(LedgerAccounts::Table, LedgerAccounts::MerchantId)
                        .to(Merchants::Table, Merchants::Id),
                )
                .take(),
        )
        .await?;
        m.create_index(index(LedgerAccounts::Table, "ux_ledger_accounts_key", &["merchant_id", "key"], true)).await?;
        m.create_index(index(LedgerAccounts::Table, "ix_ledger_accounts_member", &["member_id"], false)).await?;

        m.create_table(
            Table::create()
                .table(JournalEntries::Table)
                .col(id(JournalEntries::Id))
                .col(fk_id(JournalEntries::MerchantId))
                .col(fk_id_null(JournalEntries::StoreId))
                .col(text(JournalEntries::Kind))
                .col(text(JournalEntries::Memo))
                .col(fk_id_null(JournalEntries::StaffId))
                .col(text_null(JournalEntries::Job))
                .col(fk_id_null(JournalEntries::MemberId))
                .col(fk_id_null(JournalEntries::BillId))
                .col(fk_id_null(JournalEntries::PaymentId))
                .col(text_null(JournalEntries::IdempotencyKey))
                .col(text_null(JournalEntries::Fingerprint))
                .col(at(JournalEntries::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(JournalEntries::Table, JournalEntries::MerchantId)
                        .to(Merchants::Table, Merchants::Id),
                )
                .take(),
        )
        .await?;
        m.create_index(index(
            JournalEntries::Table,
            "ux_journal_entries_idempotency",
            &["merchant_id", "idempotency_key"],
            true,
        ))
        .await?;
        m.create_index(index(JournalEntries::Table, "ix_journal_entries_member", &["member_id", "id"], false)).await?;
        m.create_index(index(JournalEntries::Table, "ix_journal_entries_bill", &["bill_id"], false)).await?;

        m.create_table(
            Table::create()
                .table(JournalLines::Table)
                .col(id(JournalLines::Id))
                .col(fk_id(JournalLines::EntryId))
                .col(fk_id(JournalLines::AccountId))
                .col(amount(JournalLines::Amount))
                .foreign_key(
                    ForeignKey::create()
                        .from(JournalLines::Table, JournalLines::EntryId)
                        .to(JournalEntries::Table, JournalEntries::Id),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(JournalLines::Table, JournalLines::AccountId)
                        .to(LedgerAccounts::Table, LedgerAccounts::Id),
                )
                .take(),
        )
        .await?;
        m.create_index(index(JournalLines::Table, "ix_journal_lines_entry", &["entry_id"], false)).await?;
        m.create_index(index(JournalLines::Table, "ix_journal_lines_account", &["account_id"], false)).await?;

        m.create_table(
            Table::create()
                .table(StoredValueCards::Table)
                .col(id(StoredValueCards::Id))
                .col(fk_id(StoredValueCards::MerchantId))
                .col(fk_id(StoredValueCards::MemberId))
                .col(text(StoredValueCards::Status))
                .col(at_null(StoredValueCards::ExpiresAt))
                .col(fk_id(StoredValueCards::PrincipalAccountId))
                .col(fk_id(StoredValueCards::BonusAccountId))
                .col(at(StoredValueCards::CreatedAt))
                .col(at(StoredValueCards::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(StoredValueCards::Table, StoredValueCards::MemberId)
                        .to(Members::Table, Members::Id),
                )
                .take(),
        )
        .await?;
        m.create_index(index(StoredValueCards::Table, "ux_stored_value_cards_member", &["member_id"], true)).await?;

        m.create_table(
            Table::create()
                .table(RechargePlans::Table)
                .col(id(RechargePlans::Id))
                .col(fk_id(RechargePlans::MerchantId))
                .col(text(RechargePlans::Name))
                .col(amount(RechargePlans::PayFen))
                .col(amount(RechargePlans::BonusFen))
                .col(ColumnDef::new(RechargePlans::ValidityDays).integer().null())
                .col(flag(RechargePlans::Active, true))
                .col(at(RechargePlans::CreatedAt))
                .col(at(RechargePlans::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(RechargePlans::Table, RechargePlans::MerchantId)
                        .to(Merchants::Table, Merchants::Id),
                )
                .take(),
        )
        .await?;
        m.create_index(index(RechargePlans::Table, "ix_recharge_plans_merchant", &["merchant_id"], false)).await?;

        m.create_table(
            Table::create()
                .table(Bills::Table)
                .col(id(Bills::Id))
                .col(fk_id(Bills::MerchantId))
                .col(fk_id(Bills::StoreId))
                .col(fk_id_null(Bills::MemberId))
                .col(text(Bills::Status))
                .col(amount(Bills::SubtotalFen))
                .col(amount(Bills::TotalFen))
                .col(amount(Bills::ChangeFen))
                .col(text(Bills::IdempotencyKey))
                .col(text(Bills::Fingerprint))
                .col(fk_id_null(Bills::EntryId))
                .col(fk_id(Bills::CreatedBy))
                .col(at(Bills::CreatedAt))
                .col(at_null(Bills::SettledAt))
                .foreign_key(ForeignKey::create().from(Bills::Table, Bills::StoreId).to(Stores::Table, Stores::Id))
                .take(),
        )
        .await?;
        m.create_index(index(Bills::Table, "ux_bills_idempotency", &["merchant_id", "idempotency_key"], true)).await?;
        m.create_index(index(Bills::Table, "ix_bills_store_created", &["store_id", "created_at"], false)).await?;
        m.create_index(index(Bills::Table, "ix_bills_member", &["member_id", "id"], false)).await?;

        m.create_table(
            Table::create()
                .table(BillLines::Table)
                .col(id(BillLines::Id))
                .col(fk_id(BillLines::BillId))
                .col(text(BillLines::Kind))
                .col(fk_id(BillLines::ItemId))
                .col(text(BillLines::Name))
                .col(text(BillLines::Category))
                .col(int(BillLines::Quantity))
                .col(amount(BillLines::UnitPriceFen))
                .col(amount(BillLines::AmountFen))
                .foreign_key(ForeignKey::create().from(BillLines::Table, BillLines::BillId).to(Bills::Table, Bills::Id))
                .take(),
        )
        .await?;
        m.create_index(index(BillLines::Table, "ix_bill_lines_bill", &["bill_id"], false)).await?;

        m.create_table(
            Table::create()
                .table(BillTenders::Table)
                .col(id(BillTenders::Id))
                .col(fk_id(BillTenders::BillId))
                .col(text(BillTenders::Kind))
                .col(amount(BillTenders::AmountFen))
                .col(amount(BillTenders::TenderedFen))
                .col(amount(BillTenders::ChangeFen))
                .foreign_key(
                    ForeignKey::create().from(BillTenders::Table, BillTenders::BillId).to(Bills::Table, Bills::Id),
                )
                .take(),
        )
        .await?;
        m.create_index(index(BillTenders::Table, "ix_bill_tenders_bill", &["bill_id"], false)).await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "bill_tenders",
            "bill_lines",
            "bills",
            "recharge_plans",
            "stored_value_cards",
            "journal_lines",
            "journal_entries",
            "ledger_accounts",
        ] {
            m.drop_table(Table::drop().table(Alias::new(table)).take()).await?;
        }
        m.alter_table(Table::alter().table(Merchants::Table).drop_column(Merchants::SvSplitRule).take()).await
    }
}

#[derive(DeriveIden)]
enum Merchants {
    Table,
    Id,
    SvSplitRule,
}

#[derive(DeriveIden)]
enum Stores {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Members {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum LedgerAccounts {
    Table,
    Id,
    MerchantId,
    Key,
    Kind,
    StoreId,
    MemberId,
    Unit,
    DebitNormal,
    FloorZero,
    Balance,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum JournalEntries {
    Table,
    Id,
    MerchantId,
    StoreId,
    Kind,
    Memo,
    StaffId,
    Job,
    MemberId,
    BillId,
    PaymentId,
    IdempotencyKey,
    Fingerprint,
    CreatedAt,
}

#[derive(DeriveIden)]
enum JournalLines {
    Table,
    Id,
    EntryId,
    AccountId,
    Amount,
}

#[derive(DeriveIden)]
enum StoredValueCards {
    Table,
    Id,
    MerchantId,
    MemberId,
    Status,
    ExpiresAt,
    PrincipalAccountId,
    BonusAccountId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum RechargePlans {
    Table,
    Id,
    MerchantId,
    Name,
    PayFen,
    BonusFen,
    ValidityDays,
    Active,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Bills {
    Table,
    Id,
    MerchantId,
    StoreId,
    MemberId,
    Status,
    SubtotalFen,
    TotalFen,
    ChangeFen,
    IdempotencyKey,
    Fingerprint,
    EntryId,
    CreatedBy,
    CreatedAt,
    SettledAt,
}

#[derive(DeriveIden)]
enum BillLines {
    Table,
    Id,
    BillId,
    Kind,
    ItemId,
    Name,
    Category,
    Quantity,
    UnitPriceFen,
    AmountFen,
}

#[derive(DeriveIden)]
enum BillTenders {
    Table,
    Id,
    BillId,
    Kind,
    AmountFen,
    TenderedFen,
    ChangeFen,
}
