//! Payments through WeChat Pay and Alipay: each merchant's payment credentials (sealed) and WeChat Pay's keys, the
//! payments we create
//! (mini-program and payment-code, for recharges and bills), their refunds through the provider, and the
//! reconciliation exceptions staff resolve.

use sea_orm_migration::prelude::*;

use crate::columns::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261124_000005_payments"
    }
}

/// Merchant columns added here, one `ALTER TABLE` each (SQLite alters one column per statement).
const MERCHANT_COLUMNS: [&str; 8] = [
    "wechatpay_mchid",
    "wechatpay_serial",
    "wechatpay_private_key_sealed",
    "wechatpay_apiv3_key_sealed",
    "wechatpay_v2_key_sealed",
    "wechatpay_cert_pem",
    "alipay_seller_id",
    "wechatpay_code_api",
];

fn long_text_null(col: &'static str) -> ColumnDef {
    ColumnDef::new(Alias::new(col)).text().null().take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for column in MERCHANT_COLUMNS {
            let def = if column == "wechatpay_code_api" {
                // Which API charges payment codes: v3 `codepay`, or the v2 `micropay` fallback.
                ColumnDef::new(Alias::new(column)).string().not_null().default("v3").take()
            } else if column.ends_with("_sealed") || column.ends_with("_pem") {
                long_text_null(column)
            } else {
                text_null(Alias::new(column))
            };
            m.alter_table(Table::alter().table(Alias::new("merchants")).add_column(def).take()).await?;
        }

        // The keys WeChat Pay signs with, per merchant, by the serial its messages name: the WeChat Pay public key
        // (`PUB_KEY_ID_…`) and platform certificates, side by side during a migration. A notification names only
        // the serial, so this is also how its merchant is found.
        m.create_table(
            Table::create()
                .table(WechatpayPlatformKeys::Table)
                .col(id(WechatpayPlatformKeys::Id))
                .col(fk_id(WechatpayPlatformKeys::MerchantId))
                .col(text(WechatpayPlatformKeys::Serial))
                // public_key | certificate
                .col(text(WechatpayPlatformKeys::Kind))
                // SPKI PEM (public key) or the certificate PEM
                .col(ColumnDef::new(WechatpayPlatformKeys::Pem).text().not_null())
                .col(at_null(WechatpayPlatformKeys::ExpiresAt))
                .col(at(WechatpayPlatformKeys::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(WechatpayPlatformKeys::Table, WechatpayPlatformKeys::MerchantId)
                        .to(Merchants::Table, Merchants::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            WechatpayPlatformKeys::Table,
            "ux_wechatpay_platform_keys",
            &["serial", "merchant_id"],
            true,
        ))
        .await?;

        m.create_table(
            Table::create()
                .table(Payments::Table)
                .col(id(Payments::Id))
                .col(fk_id(Payments::MerchantId))
                .col(fk_id(Payments::StoreId))
                .col(fk_id_null(Payments::MemberId))
                // wechatpay | alipay
                .col(text(Payments::Provider))
                // mini (the member pays in the mini-program) | code (the cashier scans a payment code)
                .col(text(Payments::Method))
                // recharge | bill
                .col(text(Payments::Purpose))
                .col(fk_id_null(Payments::BillId))
                .col(fk_id_null(Payments::PlanId))
                // A bill paid by code: the bill's other tenders (JSON), settled together with the payment.
                .col(ColumnDef::new(Payments::OtherTenders).text().not_null().default("[]"))
                .col(text(Payments::OutTradeNo))
                .col(amount(Payments::AmountFen))
                .col(text(Payments::Description))
                // pending | paid | closed | failed
                .col(text(Payments::Status))
                .col(text_null(Payments::ProviderTradeNo))
                .col(text_null(Payments::Payer))
                .col(text_null(Payments::Failure))
                .col(text_null(Payments::IdempotencyKey))
                .col(fk_id_null(Payments::JournalEntryId))
                .col(amount_default(Payments::RefundedFen, 0))
                .col(fk_id_null(Payments::CreatedBy))
                .col(at(Payments::CreatedAt))
                .col(at(Payments::ExpiresAt))
                .col(at_null(Payments::PaidAt))
                .col(at_null(Payments::ClosedAt))
                .col(at(Payments::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Payments::Table, Payments::MerchantId)
                        .to(Merchants::Table, Merchants::Id),
                )
                .foreign_key(
                    ForeignKey::create().from(Payments::Table, Payments::StoreId).to(Stores::Table, Stores::Id),
                )
                .to_owned(),
        )
        .await?;
        // Our order numbers are unique across merchants (each provider requires them unique per merchant account,
        // and one number per payment everywhere keeps look-ups by number unambiguous).
        m.create_index(index(Payments::Table, "ux_payments_out_trade_no", &["out_trade_no"], true)).await?;
        // A provider's transaction can settle one payment only.
        m.create_index(index(Payments::Table, "ux_payments_provider_trade", &["provider", "provider_trade_no"], true))
            .await?;
        m.create_index(index(Payments::Table, "ux_payments_idempotency", &["merchant_id", "idempotency_key"], true))
            .await?;
        // The reconciliation sweep: pending payments by age.
        m.create_index(index(Payments::Table, "ix_payments_status_created", &["status", "created_at"], false)).await?;
        m.create_index(index(
            Payments::Table,
            "ix_payments_member",
            &["merchant_id", "member_id", "created_at"],
            false,
        ))
        .await?;
        m.create_index(index(Payments::Table, "ix_payments_bill", &["bill_id"], false)).await?;

        m.create_table(
            Table::create()
                .table(PaymentRefunds::Table)
                .col(id(PaymentRefunds::Id))
                .col(fk_id(PaymentRefunds::MerchantId))
                .col(fk_id(PaymentRefunds::PaymentId))
                .col(text(PaymentRefunds::OutRefundNo))
                .col(amount(PaymentRefunds::AmountFen))
                .col(text(PaymentRefunds::Reason))
                // processing | succeeded | closed | abnormal
                .col(text(PaymentRefunds::Status))
                .col(text_null(PaymentRefunds::ProviderRefundNo))
                .col(fk_id_null(PaymentRefunds::BillRefundId))
                .col(at(PaymentRefunds::CreatedAt))
                .col(at_null(PaymentRefunds::FinishedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(PaymentRefunds::Table, PaymentRefunds::PaymentId)
                        .to(Payments::Table, Payments::Id),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(index(PaymentRefunds::Table, "ux_payment_refunds_out_refund_no", &["out_refund_no"], true))
            .await?;
        m.create_index(index(PaymentRefunds::Table, "ix_payment_refunds_payment", &["payment_id"], false)).await?;

        m.create_table(
            Table::create()
                .table(PaymentExceptions::Table)
                .col(id(PaymentExceptions::Id))
                .col(fk_id(PaymentExceptions::MerchantId))
                .col(fk_id_null(PaymentExceptions::PaymentId))
                .col(text(PaymentExceptions::Provider))
                // What did not match: missing_here, missing_there, amount_mismatch, paid_after_close, ...
                .col(text(PaymentExceptions::Kind))
                // The provider's or our reference, so a re-run of the same check finds the same exception.
                .col(text(PaymentExceptions::Reference))
                .col(ColumnDef::new(PaymentExceptions::Detail).text().not_null())
                .col(at(PaymentExceptions::FoundAt))
                .col(at_null(PaymentExceptions::ResolvedAt))
                .col(fk_id_null(PaymentExceptions::ResolvedBy))
                .col(text_null(PaymentExceptions::Resolution))
                .to_owned(),
        )
        .await?;
        m.create_index(index(
            PaymentExceptions::Table,
            "ux_payment_exceptions_ref",
            &["merchant_id", "provider", "kind", "reference"],
            true,
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(PaymentExceptions::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(PaymentRefunds::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(Payments::Table).to_owned()).await?;
        m.drop_table(Table::drop().table(WechatpayPlatformKeys::Table).to_owned()).await?;
        for column in MERCHANT_COLUMNS.iter().rev() {
            m.alter_table(Table::alter().table(Alias::new("merchants")).drop_column(Alias::new(*column)).take())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Merchants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Stores {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum WechatpayPlatformKeys {
    Table,
    Id,
    MerchantId,
    Serial,
    Kind,
    Pem,
    ExpiresAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Payments {
    Table,
    Id,
    MerchantId,
    StoreId,
    MemberId,
    Provider,
    Method,
    Purpose,
    BillId,
    PlanId,
    OtherTenders,
    OutTradeNo,
    AmountFen,
    Description,
    Status,
    ProviderTradeNo,
    Payer,
    Failure,
    IdempotencyKey,
    JournalEntryId,
    RefundedFen,
    CreatedBy,
    CreatedAt,
    ExpiresAt,
    PaidAt,
    ClosedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum PaymentRefunds {
    Table,
    Id,
    MerchantId,
    PaymentId,
    OutRefundNo,
    AmountFen,
    Reason,
    Status,
    ProviderRefundNo,
    BillRefundId,
    CreatedAt,
    FinishedAt,
}

#[derive(DeriveIden)]
enum PaymentExceptions {
    Table,
    Id,
    MerchantId,
    PaymentId,
    Provider,
    Kind,
    Reference,
    Detail,
    FoundAt,
    ResolvedAt,
    ResolvedBy,
    Resolution,
}
