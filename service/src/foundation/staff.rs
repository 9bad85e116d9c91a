//! Managing staff: who works where, in which role. Every change is audited.
//!
//! Rules: staff manage only roles below their own (owners manage everyone); a store-scoped manager sees staff who
//! work in one of their stores and manages only staff whose every store is theirs; a merchant keeps at least one
//! active owner. Another merchant's or store's staff member is "not found".

use std::collections::BTreeSet;

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, TransactionTrait,
};
use serde_json::json;

use entity::{staff, staff_stores, stores};

use crate::domain::{Password, Permission, ReprintGrant, Role, Username};
use crate::foundation::audit::{self, Actor, Event};
use crate::foundation::auth;
use crate::foundation::merchants::{NewStaff, insert_staff};
use crate::foundation::principal::{StaffPrincipal, StoreScope};
use crate::foundation::sessions::{self, Change};
use crate::{AppContext, Conflict, Error, Result};

/// A staff member as others see them.
#[derive(Clone, Debug)]
pub struct StaffMember {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub all_stores: bool,
    pub store_ids: Vec<i64>,
    pub active: bool,
    /// How members see them when booking.
    pub title: String,
    pub photo_url: Option<String>,
    /// The owner's word on their reprints.
    pub reprint: ReprintGrant,
    /// Whether they may reprint, all told.
    pub can_reprint: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

pub struct NewStaffInput {
    pub username: String,
    pub display_name: String,
    pub role: String,
    pub password: String,
    pub all_stores: bool,
    pub store_ids: Vec<i64>,
}

#[derive(Default)]
pub struct StaffChanges {
    pub display_name: Option<String>,
    pub role: Option<String>,
    pub all_stores: Option<bool>,
    pub store_ids: Option<Vec<i64>>,
    pub active: Option<bool>,
    pub title: Option<String>,
    /// `Some("")` removes the photo.
    pub photo_url: Option<String>,
    /// Only an owner gives or withdraws reprints.
    pub reprint: Option<ReprintGrant>,
}

async fn load(conn: &impl ConnectionTrait, row: staff::Model) -> Result<StaffMember> {
    let role = Role::parse(&row.role).ok_or_else(|| anyhow::anyhow!("staff {} has unknown role", row.id))?;
    let store_ids = if row.all_stores { Vec::new() } else { auth::store_ids(conn, row.id).await? };
    Ok(StaffMember {
        id: row.id,
        username: row.username,
        display_name: row.display_name,
        role,
        all_stores: row.all_stores,
        store_ids,
        active: row.active,
        title: row.title,
        photo_url: row.photo_url,
        reprint: ReprintGrant::from_stored(row.may_reprint),
        can_reprint: row.may_reprint.unwrap_or_else(|| role.can(Permission::Reprint)),
        created_at: row.created_at,
    })
}

fn visible(principal: &StaffPrincipal, target: &StaffMember) -> bool {
    match &principal.stores {
        StoreScope::All => true,
        StoreScope::Only(mine) => target.all_stores || target.store_ids.iter().any(|id| mine.contains(id)),
    }
}

fn manageable(principal: &StaffPrincipal, target: &StaffMember) -> bool {
    let in_scope = match &principal.stores {
        StoreScope::All => true,
        StoreScope::Only(mine) => !target.all_stores && target.store_ids.iter().all(|id| mine.contains(id)),
    };
    in_scope && principal.role.may_manage(target.role)
}

/// A staff member of the principal's merchant who works in one of the principal's stores (or in every store), for
/// reading what belongs to them (skills, commission); anyone else is not found.
pub(crate) async fn visible_to(
    conn: &impl ConnectionTrait,
    principal: &StaffPrincipal,
    staff_id: i64,
) -> Result<StaffMember> {
    let row = staff::Entity::find_by_id(staff_id)
        .filter(staff::Column::MerchantId.eq(principal.merchant_id))
        .one(conn)
        .await?
        .ok_or(Error::NotFound("staff member"))?;
    let member = load(conn, row).await?;
    if staff_id == principal.staff_id || visible(principal, &member) {
        Ok(member)
    } else {
        Err(Error::NotFound("staff member"))
    }
}

/// A staff member whose every store is the principal's, for changing what belongs to them (skills, their reminder
/// phone): a store-scoped manager does not change a colleague who also works elsewhere.
pub(crate) async fn in_scope_of(
    conn: &impl ConnectionTrait,
    principal: &StaffPrincipal,
    staff_id: i64,
) -> Result<StaffMember> {
    let member = visible_to(conn, principal, staff_id).await?;
    let whole = match &principal.stores {
        StoreScope::All => true,
        StoreScope::Only(mine) => !member.all_stores && member.store_ids.iter().all(|id| mine.contains(id)),
    };
    if whole { Ok(member) } else { Err(Error::NotFound("staff member")) }
}

pub async fn list(ctx: &AppContext, principal: &StaffPrincipal) -> Result<Vec<StaffMember>> {
    principal.require(Permission::StaffRead)?;
    let rows = staff::Entity::find()
        .filter(staff::Column::MerchantId.eq(principal.merchant_id))
        .order_by_asc(staff::Column::Id)
        .all(&ctx.db)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let member = load(&ctx.db, row).await?;
        if visible(principal, &member) {
            out.push(member);
        }
    }
    Ok(out)
}

pub async fn get(ctx: &AppContext, principal: &StaffPrincipal, staff_id: i64) -> Result<StaffMember> {
    if staff_id != principal.staff_id {
        principal.require(Permission::StaffRead)?;
    }
    let row = staff::Entity::find_by_id(staff_id)
        .filter(staff::Column::MerchantId.eq(principal.merchant_id))
        .one(&ctx.db)
        .await?
        .ok_or(Error::NotFound("staff member"))?;
    let member = load(&ctx.db, row).await?;
    if staff_id != principal.staff_id && !visible(principal, &member) {
        return Err(Error::NotFound("staff member"));
    }
    Ok(member)
}

/// Checks a requested store set: every store must be the merchant's and within the principal's scope.
async fn check_stores(
    conn: &impl ConnectionTrait,
    principal: &StaffPrincipal,
    all_stores: bool,
    store_ids: &[i64],
) -> Result<Vec<i64>> {
    if all_stores {
        if principal.stores != StoreScope::All {
            return Err(Error::MerchantWide(Permission::StaffManage));
        }
        return Ok(Vec::new());
    }
    let wanted: BTreeSet<i64> = store_ids.iter().copied().collect();
    if wanted.is_empty() {
        return Err(Error::invalid("store_ids", "give at least one store, or all_stores"));
    }
    let found = stores::Entity::find()
        .filter(stores::Column::MerchantId.eq(principal.merchant_id))
        .filter(stores::Column::Id.is_in(wanted.iter().copied()))
        .count(conn)
        .await?;
    if usize::try_from(found).unwrap_or(0) != wanted.len() || !wanted.iter().all(|id| principal.can_access_store(*id)) {
        return Err(Error::NotFound("store"));
    }
    Ok(wanted.into_iter().collect())
}

async fn set_stores(conn: &impl ConnectionTrait, merchant_id: i64, staff_id: i64, ids: &[i64]) -> Result<()> {
    staff_stores::Entity::delete_many().filter(staff_stores::Column::StaffId.eq(staff_id)).exec(conn).await?;
    if !ids.is_empty() {
        staff_stores::Entity::insert_many(ids.iter().map(|store_id| staff_stores::ActiveModel {
            staff_id: Set(staff_id),
            store_id: Set(*store_id),
            merchant_id: Set(merchant_id),
        }))
        .exec(conn)
        .await?;
    }
    Ok(())
}

fn parse_role(value: &str) -> Result<Role> {
    Role::parse(value).ok_or_else(|| Error::invalid("role", "must be owner, manager, marketing, cashier or technician"))
}

fn parse_display_name(value: &str) -> Result<String> {
    let trimmed = value.trim();
    if trimmed.is_empty() || trimmed.chars().count() > 40 || trimmed.chars().any(char::is_control) {
        return Err(Error::invalid("display_name", "must be 1–40 characters"));
    }
    Ok(trimmed.to_owned())
}

fn parse_title(value: &str) -> Result<String> {
    let trimmed = value.trim();
    if trimmed.chars().count() > 20 || trimmed.chars().any(char::is_control) {
        return Err(Error::invalid("title", "must be at most 20 characters"));
    }
    Ok(trimmed.to_owned())
}

/// An https address of a picture (members' phones load it), or nothing.
fn parse_photo_url(value: &str) -> Result<Option<String>> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    let valid = reqwest::Url::parse(trimmed).is_ok_and(|url| url.scheme() == "https" && url.host().is_some());
    if !valid || trimmed.len() > 500 {
        return Err(Error::invalid("photo_url", "must be an https:// address of at most 500 characters"));
    }
    Ok(Some(trimmed.to_owned()))
}

pub async fn create(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    input: NewStaffInput,
    ip: Option<&str>,
) -> Result<StaffMember> {
    principal.require(Permission::StaffManage)?;
    let username = Username::parse(&input.username).map_err(|m| Error::invalid("username", m))?;
    let display_name = parse_display_name(&input.display_name)?;
    let role = parse_role(&input.role)?;
    let password = Password::parse(&input.password).map_err(|m| Error::invalid("password", m))?;
    if !principal.role.may_manage(role) {
        return Err(Error::Forbidden);
    }
    let store_ids = check_stores(&ctx.db, principal, input.all_stores, &input.store_ids).await?;
    let hash = auth::hash_password(&password).await?;
    let txn = ctx.db.begin().await?;
    let row = insert_staff(
        ctx,
        &txn,
        NewStaff {
            merchant_id: principal.merchant_id,
            username: &username,
            display_name: &display_name,
            role,
            password_hash: hash,
            all_stores: input.all_stores,
        },
    )
    .await?;
    set_stores(&txn, principal.merchant_id, row.id, &store_ids).await?;
    audit::record(
        &txn,
        Event {
            merchant_id: Some(principal.merchant_id),
            actor: Actor::Staff(principal.staff_id),
            action: "staff.created",
            target: Some(("staff", row.id)),
            detail: json!({ "role": role.as_str(), "all_stores": input.all_stores, "store_ids": store_ids }),
            ip,
        },
    )
    .await?;
    let member = load(&txn, row).await?;
    txn.commit().await?;
    Ok(member)
}

async fn active_owners(conn: &impl ConnectionTrait, merchant_id: i64) -> Result<u64> {
    Ok(staff::Entity::find()
        .filter(staff::Column::MerchantId.eq(merchant_id))
        .filter(staff::Column::Role.eq(Role::Owner.as_str()))
        .filter(staff::Column::Active.eq(true))
        .count(conn)
        .await?)
}

pub async fn update(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    staff_id: i64,
    changes: StaffChanges,
    ip: Option<&str>,
) -> Result<StaffMember> {
    principal.require(Permission::StaffManage)?;
    let current = get(ctx, principal, staff_id).await?;
    if !manageable(principal, &current) {
        return Err(Error::Forbidden);
    }
    let txn = ctx.db.begin().await?;
    let row = staff::Entity::find_by_id(staff_id).one(&txn).await?.ok_or(Error::NotFound("staff member"))?;
    let mut active: staff::ActiveModel = row.into();
    let mut changed = serde_json::Map::new();
    if let Some(name) = changes.display_name {
        active.display_name = Set(parse_display_name(&name)?);
        changed.insert("display_name".into(), json!(true));
    }
    if let Some(role) = changes.role {
        let role = parse_role(&role)?;
        if !principal.role.may_manage(role) {
            return Err(Error::Forbidden);
        }
        active.role = Set(role.as_str().to_owned());
        changed.insert("role".into(), json!({ "from": current.role.as_str(), "to": role.as_str() }));
    }
    if changes.all_stores.is_some() || changes.store_ids.is_some() {
        let all = changes.all_stores.unwrap_or(false);
        let ids = check_stores(&txn, principal, all, changes.store_ids.as_deref().unwrap_or_default()).await?;
        active.all_stores = Set(all);
        set_stores(&txn, principal.merchant_id, staff_id, &ids).await?;
        changed.insert("stores".into(), json!({ "all_stores": all, "store_ids": ids }));
    }
    if let Some(title) = changes.title {
        active.title = Set(parse_title(&title)?);
        changed.insert("title".into(), json!(true));
    }
    if let Some(photo_url) = changes.photo_url {
        active.photo_url = Set(parse_photo_url(&photo_url)?);
        changed.insert("photo_url".into(), json!(true));
    }
    if let Some(grant) = changes.reprint {
        // Reprints are how a receipt is copied after the fact: the owner alone decides who may.
        principal.require(Permission::MerchantManage)?;
        active.may_reprint = Set(grant.stored());
        changed.insert("reprint".into(), json!({ "from": current.reprint, "to": grant }));
    }
    let deactivated = changes.active == Some(false) && current.active;
    if let Some(flag) = changes.active {
        active.active = Set(flag);
        changed.insert("active".into(), json!(flag));
    }
    active.updated_at = Set(ctx.now());
    let row = active.update(&txn).await?;
    if current.role == Role::Owner && active_owners(&txn, principal.merchant_id).await? == 0 {
        return Err(Error::Conflict(Conflict::LastOwner));
    }
    let role_changed = changed.contains_key("role") || changed.contains_key("stores");
    if deactivated || role_changed {
        // A changed role or scope must take effect now, not when the old session expires.
        let ended = auth::revoke_sessions(&txn, staff_id, None).await?;
        changed.insert("sessions_ended".into(), json!(ended));
    }
    audit::record(
        &txn,
        Event {
            merchant_id: Some(principal.merchant_id),
            actor: Actor::Staff(principal.staff_id),
            action: if deactivated { "staff.deactivated" } else { "staff.updated" },
            target: Some(("staff", staff_id)),
            detail: serde_json::Value::Object(changed),
            ip,
        },
    )
    .await?;
    let member = load(&txn, row).await?;
    txn.commit().await?;
    // Name, role, stores, reprints and being active all make up the principal of each of their sessions.
    sessions::forget(ctx, Change::Staff(staff_id)).await;
    Ok(member)
}

/// A manager sets a new password for someone they manage; all of that person's sessions end.
pub async fn reset_password(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    staff_id: i64,
    new_password: &str,
    ip: Option<&str>,
) -> Result<()> {
    principal.require(Permission::StaffManage)?;
    let password = Password::parse(new_password).map_err(|m| Error::invalid("password", m))?;
    let target = get(ctx, principal, staff_id).await?;
    if !manageable(principal, &target) {
        return Err(Error::Forbidden);
    }
    if !target.active {
        return Err(Error::Conflict(Conflict::StaffInactive));
    }
    let hash = auth::hash_password(&password).await?;
    let txn = ctx.db.begin().await?;
    staff::Entity::update_many()
        .col_expr(staff::Column::PasswordHash, sea_orm::sea_query::Expr::value(hash))
        .col_expr(staff::Column::UpdatedAt, sea_orm::sea_query::Expr::value(ctx.now()))
        .filter(staff::Column::Id.eq(staff_id))
        .exec(&txn)
        .await?;
    let ended = auth::revoke_sessions(&txn, staff_id, None).await?;
    audit::record(
        &txn,
        Event {
            merchant_id: Some(principal.merchant_id),
            actor: Actor::Staff(principal.staff_id),
            action: "staff.password_reset",
            target: Some(("staff", staff_id)),
            detail: json!({ "sessions_ended": ended }),
            ip,
        },
    )
    .await?;
    txn.commit().await?;
    sessions::forget(ctx, Change::Staff(staff_id)).await;
    Ok(())
}
