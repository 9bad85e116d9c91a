//! Merchants (brands) and the owner account that starts one.

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde_json::json;

use entity::{member_levels, merchants, staff};

use crate::domain::{Fen, Password, Permission, Role, Username};
use crate::error::is_unique_violation;
use crate::foundation::audit::{self, Actor, Event};
use crate::foundation::principal::StaffPrincipal;
use crate::foundation::vault::Field;
use crate::{AppContext, Conflict, Error, Result};

pub async fn get(ctx: &AppContext, merchant_id: i64) -> Result<merchants::Model> {
    row(&ctx.db, merchant_id).await
}

/// The merchant's row, on any connection (a transaction's too).
pub(crate) async fn row(conn: &impl ConnectionTrait, merchant_id: i64) -> Result<merchants::Model> {
    merchants::Entity::find_by_id(merchant_id).one(conn).await?.ok_or(Error::NotFound("merchant"))
}

pub struct NewMerchant<'a> {
    pub name: &'a str,
    pub code: &'a str,
    pub timezone: &'a str,
}

/// Creates a merchant with its default member level ("普通会员", rank 0).
pub async fn create(ctx: &AppContext, conn: &impl ConnectionTrait, new: NewMerchant<'_>) -> Result<merchants::Model> {
    let code = new.code.trim().to_ascii_lowercase();
    if code.is_empty() || code.len() > 40 || !code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(Error::invalid("code", "must be 1–40 letters, digits or '-'"));
    }
    if new.name.trim().is_empty() {
        return Err(Error::invalid("name", "must not be empty"));
    }
    let merchant = merchants::ActiveModel {
        name: Set(new.name.trim().to_owned()),
        code: Set(code),
        timezone: Set(crate::domain::parse_timezone(new.timezone).map_err(|m| Error::invalid("timezone", m))?),
        created_at: Set(ctx.now()),
        ..Default::default()
    }
    .insert(conn)
    .await
    .map_err(|e| {
        if is_unique_violation(&e) { Error::invalid("code", "a merchant with that code exists") } else { e.into() }
    })?;
    member_levels::ActiveModel {
        merchant_id: Set(merchant.id),
        name: Set("普通会员".to_owned()),
        rank: Set(0),
        created_at: Set(ctx.now()),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(merchant)
}

pub struct NewStaff<'a> {
    pub merchant_id: i64,
    pub username: &'a Username,
    pub display_name: &'a str,
    pub role: Role,
    pub password_hash: String,
    pub all_stores: bool,
}

pub(crate) async fn insert_staff(
    ctx: &AppContext,
    conn: &impl ConnectionTrait,
    new: NewStaff<'_>,
) -> Result<staff::Model> {
    let now = ctx.now();
    staff::ActiveModel {
        merchant_id: Set(new.merchant_id),
        username: Set(new.username.as_str().to_owned()),
        display_name: Set(new.display_name.to_owned()),
        role: Set(new.role.as_str().to_owned()),
        password_hash: Set(new.password_hash),
        all_stores: Set(new.all_stores),
        active: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(conn)
    .await
    .map_err(|e| if is_unique_violation(&e) { Error::Conflict(Conflict::UsernameTaken) } else { e.into() })
}

/// The `create-owner` command: a new merchant and its first owner, who can then do everything else in the console.
pub async fn create_with_owner(
    ctx: &AppContext,
    merchant: NewMerchant<'_>,
    username: &str,
    password: &str,
) -> Result<(merchants::Model, staff::Model)> {
    let username = Username::parse(username).map_err(|m| Error::invalid("username", m))?;
    let password = Password::parse(password).map_err(|m| Error::invalid("password", m))?;
    let hash = crate::foundation::auth::hash_password(&password).await?;
    let txn = sea_orm::TransactionTrait::begin(&ctx.db).await?;
    let merchant = create(ctx, &txn, merchant).await?;
    let owner = insert_staff(
        ctx,
        &txn,
        NewStaff {
            merchant_id: merchant.id,
            username: &username,
            display_name: "Owner",
            role: Role::Owner,
            password_hash: hash,
            all_stores: true,
        },
    )
    .await?;
    audit::record(
        &txn,
        Event {
            merchant_id: Some(merchant.id),
            actor: Actor::System,
            action: "staff.created",
            target: Some(("staff", owner.id)),
            detail: json!({ "role": "owner", "via": "create-owner" }),
            ip: None,
        },
    )
    .await?;
    txn.commit().await?;
    Ok((merchant, owner))
}

/// Mini-program credentials of a merchant. Secrets are sealed at rest and never returned.
pub struct ChannelSettings {
    pub name: Option<String>,
    pub timezone: Option<String>,
    pub wechat_appid: Option<String>,
    pub wechat_secret: Option<String>,
    pub alipay_appid: Option<String>,
    pub alipay_private_key: Option<String>,
    pub alipay_public_key: Option<String>,
    /// How stored-value debits split between principal and bonus.
    pub sv_split_rule: Option<String>,
}

pub async fn update(ctx: &AppContext, principal: &StaffPrincipal, input: ChannelSettings) -> Result<merchants::Model> {
    principal.require_merchant_wide(Permission::MerchantManage)?;
    let merchant = get(ctx, principal.merchant_id).await?;
    let mut active: merchants::ActiveModel = merchant.into();
    let mut changed = Vec::new();
    if let Some(name) = input.name {
        if name.trim().is_empty() || name.chars().count() > 60 {
            return Err(Error::invalid("name", "must be 1–60 characters"));
        }
        active.name = Set(name.trim().to_owned());
        changed.push("name");
    }
    if let Some(tz) = input.timezone {
        active.timezone = Set(crate::domain::parse_timezone(&tz).map_err(|m| Error::invalid("timezone", m))?);
        changed.push("timezone");
    }
    if let Some(appid) = input.wechat_appid {
        if !appid.starts_with("wx") || appid.len() != 18 {
            return Err(Error::invalid("wechat_appid", "must be an 18-character appid starting with wx"));
        }
        active.wechat_appid = Set(Some(appid));
        changed.push("wechat_appid");
    }
    if let Some(secret) = input.wechat_secret {
        if secret.len() != 32 || !secret.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(Error::invalid("wechat_secret", "must be the 32-character AppSecret"));
        }
        active.wechat_secret_sealed = Set(Some(ctx.vault.seal(Field::WechatAppSecret, &secret)));
        changed.push("wechat_secret");
    }
    if let Some(appid) = input.alipay_appid {
        if appid.len() < 8 || !appid.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::invalid("alipay_appid", "must be the numeric Alipay app id"));
        }
        active.alipay_appid = Set(Some(appid));
        changed.push("alipay_appid");
    }
    if let Some(pem) = input.alipay_private_key {
        crate::integrations::signing::parse_private_key(&pem)
            .map_err(|_| Error::invalid("alipay_private_key", "not an RSA private key (PKCS#1 or PKCS#8 PEM)"))?;
        active.alipay_private_key_sealed = Set(Some(ctx.vault.seal(Field::AlipayPrivateKey, &pem)));
        changed.push("alipay_private_key");
    }
    if let Some(pem) = input.alipay_public_key {
        crate::integrations::signing::parse_public_key(&pem)
            .map_err(|_| Error::invalid("alipay_public_key", "not an RSA public key (SPKI PEM)"))?;
        active.alipay_public_key = Set(Some(pem));
        changed.push("alipay_public_key");
    }
    if let Some(rule) = input.sv_split_rule {
        let rule = crate::domain::SplitRule::parse(&rule)
            .ok_or_else(|| Error::invalid("sv_split_rule", "must be proportional, principal_first or bonus_first"))?;
        active.sv_split_rule = Set(rule.as_str().to_owned());
        changed.push("sv_split_rule");
    }
    let txn = sea_orm::TransactionTrait::begin(&ctx.db).await?;
    let merchant = active.update(&txn).await.map_err(|e| {
        if is_unique_violation(&e) { Error::invalid("appid", "another merchant uses that appid") } else { e.into() }
    })?;
    audit::record(
        &txn,
        Event {
            merchant_id: Some(merchant.id),
            actor: Actor::Staff(principal.staff_id),
            action: "merchant.updated",
            target: Some(("merchant", merchant.id)),
            detail: json!({ "changed": changed }),
            ip: None,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(merchant)
}

/// The merchant a mini-program sign-in is for, found by the appid the mini-program runs as.
pub async fn by_appid(ctx: &AppContext, provider: &'static str, appid: &str) -> Result<merchants::Model> {
    let column = match provider {
        "alipay" => merchants::Column::AlipayAppid,
        _ => merchants::Column::WechatAppid,
    };
    merchants::Entity::find().filter(column.eq(appid)).one(&ctx.db).await?.ok_or(Error::NotFound("merchant"))
}

/// How the merchant runs points and levels.
#[derive(Clone, Debug)]
pub struct LoyaltySettings {
    pub points_per_yuan: i32,
    pub points_per_yuan_offset: i32,
    pub points_validity_days: i32,
    pub points_excluded_categories: Vec<String>,
    pub level_basis: String,
    pub level_downgrade: String,
    pub confirm_threshold_fen: Option<Fen>,
    /// `never` or `at_expiry`: what becomes of value left on an expired stored-value or count card.
    pub breakage_policy: String,
}

fn to_loyalty(m: &merchants::Model) -> Result<LoyaltySettings> {
    Ok(LoyaltySettings {
        points_per_yuan: m.points_per_yuan,
        points_per_yuan_offset: m.points_per_yuan_offset,
        points_validity_days: m.points_validity_days,
        points_excluded_categories: crate::domain::stored_json(
            "points-excluded categories",
            &m.points_excluded_categories,
        )?,
        level_basis: m.level_basis.clone(),
        level_downgrade: m.level_downgrade.clone(),
        confirm_threshold_fen: m.confirm_threshold_fen.map(Fen::new),
        breakage_policy: m.breakage_policy.clone(),
    })
}

pub(crate) async fn loyalty_settings(conn: &impl ConnectionTrait, merchant_id: i64) -> Result<LoyaltySettings> {
    to_loyalty(&row(conn, merchant_id).await?)
}

/// What checkout needs of the merchant row: its loyalty settings and stored-value split rule.
pub(crate) fn checkout_settings(merchant: &merchants::Model) -> Result<(LoyaltySettings, crate::domain::SplitRule)> {
    let split =
        crate::domain::SplitRule::parse(&merchant.sv_split_rule).unwrap_or(crate::domain::SplitRule::Proportional);
    Ok((to_loyalty(merchant)?, split))
}

/// The merchant's loyalty settings, for any signed-in staff member.
pub async fn loyalty(ctx: &AppContext, principal: &StaffPrincipal) -> Result<LoyaltySettings> {
    loyalty_settings(&ctx.db, principal.merchant_id).await
}

/// A change of the loyalty settings; fields left out stay as they are.
#[derive(Default)]
pub struct LoyaltyInput {
    pub points_per_yuan: Option<i32>,
    pub points_per_yuan_offset: Option<i32>,
    pub points_validity_days: Option<i32>,
    pub points_excluded_categories: Option<Vec<String>>,
    pub level_basis: Option<String>,
    pub level_downgrade: Option<String>,
    /// `Some(None)` turns member confirmation off.
    pub confirm_threshold_fen: Option<Option<i64>>,
    pub breakage_policy: Option<String>,
}

pub async fn update_loyalty(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    input: LoyaltyInput,
) -> Result<LoyaltySettings> {
    principal.require_merchant_wide(Permission::LoyaltyManage)?;
    let merchant = get(ctx, principal.merchant_id).await?;
    let mut active: merchants::ActiveModel = merchant.into();
    let mut changed = Vec::new();
    if let Some(points) = input.points_per_yuan {
        if !(0..=100).contains(&points) {
            return Err(Error::invalid("points_per_yuan", "must be 0–100 points per yuan paid"));
        }
        active.points_per_yuan = Set(points);
        changed.push("points_per_yuan");
    }
    if let Some(points) = input.points_per_yuan_offset {
        if !(0..=100_000).contains(&points) {
            return Err(Error::invalid(
                "points_per_yuan_offset",
                "must be 0–100000 points per yuan (0 turns redemption off)",
            ));
        }
        active.points_per_yuan_offset = Set(points);
        changed.push("points_per_yuan_offset");
    }
    if let Some(days) = input.points_validity_days {
        if !(1..=3650).contains(&days) {
            return Err(Error::invalid("points_validity_days", "must be 1–3650 days"));
        }
        active.points_validity_days = Set(days);
        changed.push("points_validity_days");
    }
    if let Some(categories) = input.points_excluded_categories {
        if categories.len() > 50 {
            return Err(Error::invalid("points_excluded_categories", "at most 50 categories"));
        }
        let mut cleaned: Vec<String> = Vec::with_capacity(categories.len());
        for category in &categories {
            let category = crate::domain::label("points_excluded_categories", category)?;
            if !cleaned.contains(&category) {
                cleaned.push(category);
            }
        }
        active.points_excluded_categories = Set(serde_json::to_string(&cleaned).map_err(anyhow::Error::from)?);
        changed.push("points_excluded_categories");
    }
    if let Some(basis) = input.level_basis {
        if !["spend", "recharge"].contains(&basis.as_str()) {
            return Err(Error::invalid("level_basis", "must be spend or recharge"));
        }
        active.level_basis = Set(basis);
        changed.push("level_basis");
    }
    if let Some(downgrade) = input.level_downgrade {
        if !["never", "annual"].contains(&downgrade.as_str()) {
            return Err(Error::invalid("level_downgrade", "must be never or annual"));
        }
        active.level_downgrade = Set(downgrade);
        changed.push("level_downgrade");
    }
    if let Some(threshold) = input.confirm_threshold_fen {
        if threshold.is_some_and(|fen| !(0..=crate::domain::MAX_AMOUNT_FEN).contains(&fen)) {
            return Err(Error::invalid(
                "confirm_threshold_fen",
                "must be 0 to ￥1,000,000 (in fen), or null to turn confirmation off",
            ));
        }
        active.confirm_threshold_fen = Set(threshold);
        changed.push("confirm_threshold_fen");
    }
    if let Some(policy) = input.breakage_policy {
        if !["never", "at_expiry"].contains(&policy.as_str()) {
            return Err(Error::invalid("breakage_policy", "must be never or at_expiry"));
        }
        active.breakage_policy = Set(policy);
        changed.push("breakage_policy");
    }
    let txn = sea_orm::TransactionTrait::begin(&ctx.db).await?;
    let merchant = active.update(&txn).await?;
    let settings = to_loyalty(&merchant)?;
    audit::record(
        &txn,
        Event {
            merchant_id: Some(merchant.id),
            actor: Actor::Staff(principal.staff_id),
            action: "merchant.loyalty_updated",
            target: Some(("merchant", merchant.id)),
            detail: json!({
                "changed": changed,
                "points_per_yuan": settings.points_per_yuan,
                "points_per_yuan_offset": settings.points_per_yuan_offset,
                "points_validity_days": settings.points_validity_days,
                "points_excluded_categories": settings.points_excluded_categories,
                "level_basis": settings.level_basis,
                "level_downgrade": settings.level_downgrade,
                "confirm_threshold_fen": settings.confirm_threshold_fen,
                "breakage_policy": settings.breakage_policy,
            }),
            ip: None,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(settings)
}

/// Records that `merchant_id`'s stores, levels, service items or products changed (checkout's reference copies
/// are kept per `config_version`): call it in the transaction
/// that changes them, so the new version and the change commit together.
pub(crate) async fn config_changed(conn: &impl ConnectionTrait, merchant_id: i64) -> Result<()> {
    merchants::Entity::update_many()
        .col_expr(merchants::Column::ConfigVersion, Expr::col(merchants::Column::ConfigVersion).add(1))
        .filter(merchants::Column::Id.eq(merchant_id))
        .exec(conn)
        .await?;
    Ok(())
}
