//! Merchants, stores, staff and their sessions, the audit log, members and what hangs off them, the service menu.

use sea_orm_migration::prelude::*;

use crate::columns::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261123_000001_foundation"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Merchants::Table)
                .col(id(Merchants::Id))
                .col(text(Merchants::Name))
                .col(text(Merchants::Code))
                .col(text(Merchants::Timezone))
                .col(text_null(Merchants::WechatAppid))
                .col(text_null(Merchants::WechatSecretSealed))
                .col(text_null(Merchants::AlipayAppid))
                .col(text_null(Merchants::AlipayPrivateKeySealed))
                .col(text_null(Merchants::AlipayPublicKey))
                .col(at(Merchants::CreatedAt))
                .take(),
        )
        .await?;
        m.create_index(index(Merchants::Table, "ux_merchants_code", &["code"], true)).await?;
        m.create_index(index(Merchants::Table, "ux_merchants_wechat_appid", &["wechat_appid"], true)).await?;
        m.create_index(index(Merchants::Table, "ux_merchants_alipay_appid", &["alipay_appid"], true)).await?;

        m.create_table(
            Table::create()
                .table(Stores::Table)
                .col(id(Stores::Id))
                .col(fk_id(Stores::MerchantId))
                .col(text(Stores::Name))
                .col(text(Stores::Address))
                .col(text(Stores::Phone))
                .col(text(Stores::Timezone))
                .col(flag(Stores::Active, true))
                .col(at(Stores::CreatedAt))
                .foreign_key(
                    ForeignKey::create().from(Stores::Table, Stores::MerchantId).to(Merchants::Table, Merchants::Id),
                )
                .take(),
        )
        .await?;
        m.create_index(index(Stores::Table, "ix_stores_merchant", &["merchant_id"], false)).await?;

        m.create_table(
            Table::create()
                .table(Staff::Table)
                .col(id(Staff::Id))
                .col(fk_id(Staff::MerchantId))
                .col(text(Staff::Username))
                .col(text(Staff::DisplayName))
                .col(text(Staff::Role))
                .col(text(Staff::PasswordHash))
                .col(flag(Staff::AllStores, false))
                .col(flag(Staff::Active, true))
                .col(at(Staff::CreatedAt))
                .col(at(Staff::UpdatedAt))
                .foreign_key(
                    ForeignKey::create().from(Staff::Table, Staff::MerchantId).to(Merchants::Table, Merchants::Id),
                )
                .take(),
        )
        .await?;
        m.create_index(index(Staff::Table, "ux_staff_username", &["username"], true)).await?;
        m.create_index(index(Staff::Table, "ix_staff_merchant", &["merchant_id"], false)).await?;

        m.create_table(
            Table::create()
                .table(StaffStores::Table)
                .col(fk_id(StaffStores::StaffId))
                .col(fk_id(StaffStores::StoreId))
                .col(fk_id(StaffStores::MerchantId))
                .primary_key(Index::create().col(StaffStores::StaffId).col(StaffStores::StoreId))
                .foreign_key(
                    ForeignKey::create().from(StaffStores::Table, StaffStores::StaffId).to(Staff::Table, Staff::Id),
                )
                .foreign_key(
                    ForeignKey::create().from(StaffStores::Table, StaffStores::StoreId).to(Stores::Table, Stores::Id),
                )
                .take(),
        )
        .await?;
        m.create_index(index(StaffStores::Table, "ix_staff_stores_store", &["store_id"], false)).await?;

        m.create_table(
            Table::create()
                .table(StaffSessions::Table)
                .col(id(StaffSessions::Id))
                .col(text(StaffSessions::TokenHash))
                .col(fk_id(StaffSessions::StaffId))
                .col(fk_id(StaffSessions::MerchantId))
                .col(at(StaffSessions::CreatedAt))
                .col(at(StaffSessions::ExpiresAt))
                .col(at_null(StaffSessions::RevokedAt))
                .foreign_key(
                    ForeignKey::create().from(StaffSessions::Table, StaffSessions::StaffId).to(Staff::Table, Staff::Id),
                )
                .take(),
        )
        .await?;
        m.create_index(index(StaffSessions::Table, "ux_staff_sessions_token", &["token_hash"], true)).await?;
        m.create_index(index(StaffSessions::Table, "ix_staff_sessions_staff", &["staff_id"], false)).await?;

        m.create_table(
            Table::create()
                .table(AuditLog::Table)
                .col(id(AuditLog::Id))
                .col(fk_id_null(AuditLog::MerchantId))
                .col(text(AuditLog::ActorKind))
                .col(fk_id_null(AuditLog::ActorId))
                .col(text(AuditLog::Action))
                .col(text_null(AuditLog::TargetKind))
                .col(fk_id_null(AuditLog::TargetId))
                .col(ColumnDef::new(AuditLog::Detail).text().not_null())
                .col(text_null(AuditLog::Ip))
                .col(at(AuditLog::CreatedAt))
                .take(),
        )
        .await?;
        m.create_index(index(AuditLog::Table, "ix_audit_log_merchant", &["merchant_id", "id"], false)).await?;

        m.create_table(
            Table::create()
                .table(MemberLevels::Table)
                .col(id(MemberLevels::Id))
                .col(fk_id(MemberLevels::MerchantId))
                .col(text(MemberLevels::Name))
                .col(ColumnDef::new(MemberLevels::Rank).integer().not_null())
                .col(at(MemberLevels::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(MemberLevels::Table, MemberLevels::MerchantId)
                        .to(Merchants::Table, Merchants::Id),
                )
                .take(),
        )
        .await?;
        m.create_index(index(MemberLevels::Table, "ux_member_levels_rank", &["merchant_id", "rank"], true)).await?;

        m.create_table(
            Table::create()
                .table(Members::Table)
                .col(id(Members::Id))
                .col(fk_id(Members::MerchantId))
                .col(fk_id_null(Members::HomeStoreId))
                .col(text(Members::Nickname))
                .col(text_null(Members::NameSealed))
                .col(text_null(Members::NameIndex))
                .col(text_null(Members::PhoneSealed))
                .col(text_null(Members::PhoneIndex))
                .col(text(Members::Gender))
                .col(ColumnDef::new(Members::Birthday).date().null())
                .col(ColumnDef::new(Members::BirthMonth).integer().null())
                .col(fk_id_null(Members::LevelId))
                .col(ColumnDef::new(Members::TotalSpendFen).big_integer().not_null().default(0))
                .col(ColumnDef::new(Members::Preferences).text().not_null())
                .col(text(Members::Source))
                .col(at_null(Members::AnonymisedAt))
                .col(at(Members::CreatedAt))
                .col(at(Members::UpdatedAt))
                .foreign_key(
                    ForeignKey::create().from(Members::Table, Members::MerchantId).to(Merchants::Table, Merchants::Id),
                )
                .foreign_key(
                    ForeignKey::create().from(Members::Table, Members::HomeStoreId).to(Stores::Table, Stores::Id),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(Members::Table, Members::LevelId)
                        .to(MemberLevels::Table, MemberLevels::Id),
                )
                .take(),
        )
        .await?;
        // One phone number is one member within a merchant; the desk look-up is an index probe on this.
        m.create_index(index(Members::Table, "ux_members_phone", &["merchant_id", "phone_index"], true)).await?;
        m.create_index(index(Members::Table, "ix_members_name", &["merchant_id", "name_index"], false)).await?;
        m.create_index(index(Members::Table, "ix_members_birth_month", &["merchant_id", "birth_month"], false)).await?;
        m.create_index(index(Members::Table, "ix_members_level", &["merchant_id", "level_id"], false)).await?;
        m.create_index(index(Members::Table, "ix_members_spend", &["merchant_id", "total_spend_fen"], false)).await?;

        m.create_table(
            Table::create()
                .table(MemberIdentities::Table)
                .col(id(MemberIdentities::Id))
                .col(fk_id(MemberIdentities::MerchantId))
                .col(fk_id(MemberIdentities::MemberId))
                .col(text(MemberIdentities::Provider))
                .col(text(MemberIdentities::Subject))
                .col(text_null(MemberIdentities::Unionid))
                .col(text_null(MemberIdentities::SessionKeySealed))
                .col(at(MemberIdentities::CreatedAt))
                .col(at(MemberIdentities::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(MemberIdentities::Table, MemberIdentities::MemberId)
                        .to(Members::Table, Members::Id),
                )
                .take(),
        )
        .await?;
        m.create_index(index(
            MemberIdentities::Table,
            "ux_member_identities_subject",
            &["merchant_id", "provider", "subject"],
            true,
        ))
        .await?;
        m.create_index(index(MemberIdentities::Table, "ix_member_identities_member", &["member_id"], false)).await?;

        m.create_table(
            Table::create()
                .table(MemberSessions::Table)
                .col(id(MemberSessions::Id))
                .col(text(MemberSessions::TokenHash))
                .col(fk_id(MemberSessions::MemberId))
                .col(fk_id(MemberSessions::MerchantId))
                .col(fk_id(MemberSessions::IdentityId))
                .col(at(MemberSessions::CreatedAt))
                .col(at(MemberSessions::ExpiresAt))
                .col(at_null(MemberSessions::RevokedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(MemberSessions::Table, MemberSessions::MemberId)
                        .to(Members::Table, Members::Id),
                )
                .take(),
        )
        .await?;
        m.create_index(index(MemberSessions::Table, "ux_member_sessions_token", &["token_hash"], true)).await?;
        m.create_index(index(MemberSessions::Table, "ix_member_sessions_member", &["member_id"], false)).await?;

        m.create_table(
            Table::create()
                .table(MemberTags::Table)
                .col(fk_id(MemberTags::MemberId))
                .col(text(MemberTags::Tag))
                .col(fk_id(MemberTags::MerchantId))
                .primary_key(Index::create().col(MemberTags::MemberId).col(MemberTags::Tag))
                .foreign_key(
                    ForeignKey::create().from(MemberTags::Table, MemberTags::MemberId).to(Members::Table, Members::Id),
                )
                .take(),
        )
        .await?;
        m.create_index(index(MemberTags::Table, "ix_member_tags_tag", &["merchant_id", "tag"], false)).await?;

        m.create_table(
            Table::create()
                .table(MemberNotes::Table)
                .col(id(MemberNotes::Id))
                .col(fk_id(MemberNotes::MerchantId))
                .col(fk_id(MemberNotes::MemberId))
                .col(fk_id(MemberNotes::StaffId))
                .col(ColumnDef::new(MemberNotes::Body).text().not_null())
                .col(at(MemberNotes::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(MemberNotes::Table, MemberNotes::MemberId)
                        .to(Members::Table, Members::Id),
                )
                .take(),
        )
        .await?;
        m.create_index(index(MemberNotes::Table, "ix_member_notes_member", &["member_id"], false)).await?;

        m.create_table(
            Table::create()
                .table(MemberAllergies::Table)
                .col(id(MemberAllergies::Id))
                .col(fk_id(MemberAllergies::MerchantId))
                .col(fk_id(MemberAllergies::MemberId))
                .col(text(MemberAllergies::SubstanceSealed))
                .col(text(MemberAllergies::Severity))
                .col(text_null(MemberAllergies::NoteSealed))
                .col(fk_id(MemberAllergies::CreatedBy))
                .col(at(MemberAllergies::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(MemberAllergies::Table, MemberAllergies::MemberId)
                        .to(Members::Table, Members::Id),
                )
                .take(),
        )
        .await?;
        m.create_index(index(MemberAllergies::Table, "ix_member_allergies_member", &["member_id"], false)).await?;

        m.create_table(
            Table::create()
                .table(ServiceItems::Table)
                .col(id(ServiceItems::Id))
                .col(fk_id(ServiceItems::MerchantId))
                .col(text(ServiceItems::Category))
                .col(text(ServiceItems::Name))
                .col(ColumnDef::new(ServiceItems::DurationMin).integer().not_null())
                .col(ColumnDef::new(ServiceItems::PriceFen).big_integer().not_null())
                .col(ColumnDef::new(ServiceItems::Substances).text().not_null())
                .col(flag(ServiceItems::Active, true))
                .col(at(ServiceItems::CreatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(ServiceItems::Table, ServiceItems::MerchantId)
                        .to(Merchants::Table, Merchants::Id),
                )
                .take(),
        )
        .await?;
        m.create_index(index(ServiceItems::Table, "ix_service_items_merchant", &["merchant_id"], false)).await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "service_items",
            "member_allergies",
            "member_notes",
            "member_tags",
            "member_sessions",
            "member_identities",
            "members",
            "member_levels",
            "audit_log",
            "staff_sessions",
            "staff_stores",
            "staff",
            "stores",
            "merchants",
        ] {
            m.drop_table(Table::drop().table(Alias::new(table)).take()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Merchants {
    Table,
    Id,
    Name,
    Code,
    Timezone,
    WechatAppid,
    WechatSecretSealed,
    AlipayAppid,
    AlipayPrivateKeySealed,
    AlipayPublicKey,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Stores {
    Table,
    Id,
    MerchantId,
    Name,
    Address,
    Phone,
    Timezone,
    Active,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Staff {
    Table,
    Id,
    MerchantId,
    Username,
    DisplayName,
    Role,
    PasswordHash,
    AllStores,
    Active,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum StaffStores {
    Table,
    StaffId,
    StoreId,
    MerchantId,
}

#[derive(DeriveIden)]
enum StaffSessions {
    Table,
    Id,
    TokenHash,
    StaffId,
    MerchantId,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    MerchantId,
    ActorKind,
    ActorId,
    Action,
    TargetKind,
    TargetId,
    Detail,
    Ip,
    CreatedAt,
}

#[derive(DeriveIden)]
enum MemberLevels {
    Table,
    Id,
    MerchantId,
    Name,
    Rank,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Members {
    Table,
    Id,
    MerchantId,
    HomeStoreId,
    Nickname,
    NameSealed,
    NameIndex,
    PhoneSealed,
    PhoneIndex,
    Gender,
    Birthday,
    BirthMonth,
    LevelId,
    TotalSpendFen,
    Preferences,
    Source,
    AnonymisedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum MemberIdentities {
    Table,
    Id,
    MerchantId,
    MemberId,
    Provider,
    Subject,
    Unionid,
    SessionKeySealed,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum MemberSessions {
    Table,
    Id,
    TokenHash,
    MemberId,
    MerchantId,
    IdentityId,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum MemberTags {
    Table,
    MemberId,
    Tag,
    MerchantId,
}

#[derive(DeriveIden)]
enum MemberNotes {
    Table,
    Id,
    MerchantId,
    MemberId,
    StaffId,
    Body,
    CreatedAt,
}

#[derive(DeriveIden)]
enum MemberAllergies {
    Table,
    Id,
    MerchantId,
    MemberId,
    SubstanceSealed,
    Severity,
    NoteSealed,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ServiceItems {
    Table,
    Id,
    MerchantId,
    Category,
    Name,
    DurationMin,
    PriceFen,
    Substances,
    Active,
    CreatedAt,
}
