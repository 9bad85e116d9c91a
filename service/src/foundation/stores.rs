//! Stores of a merchant. Staff see and change only the stores in their scope.

use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::json;

use entity::stores;

use crate::domain::Permission;
use crate::foundation::audit::{self, Actor, Event};
use crate::foundation::principal::{StaffPrincipal, StoreScope};
use crate::{AppContext, Error, Result};

pub struct StoreInput {
    pub name: Option<String>,
    pub address: Option<String>,
    pub phone: Option<String>,
    pub timezone: Option<String>,
    pub active: Option<bool>,
}

fn check_text(field: &'static str, value: &str, max: usize) -> Result<String> {
    let trimmed = value.trim();
    if trimmed.is_empty() && field == "name" {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if trimmed.chars().count() > max || trimmed.chars().any(char::is_control) {
        return Err(Error::invalid(field, format!("must be at most {max} characters, without control characters")));
    }
    Ok(trimmed.to_owned())
}

pub async fn list(ctx: &AppContext, principal: &StaffPrincipal) -> Result<Vec<stores::Model>> {
    let mut query = stores::Entity::find().filter(stores::Column::MerchantId.eq(principal.merchant_id));
    if let StoreScope::Only(ids) = &principal.stores {
        query = query.filter(stores::Column::Id.is_in(ids.clone()));
    }
    Ok(query.order_by_asc(stores::Column::Id).all(&ctx.db).await?)
}

/// A store of the principal's merchant and scope, or `NotFound`.
pub async fn get(ctx: &AppContext, principal: &StaffPrincipal, store_id: i64) -> Result<stores::Model> {
    in_scope(&ctx.db, principal, store_id).await
}

/// [`get`] on `conn`: inside a transaction, pass the transaction (SQLite's pool has one connection, and a second
/// one asked for meanwhile would wait for the first to come back).
pub(crate) async fn in_scope(
    conn: &impl sea_orm::ConnectionTrait,
    principal: &StaffPrincipal,
    store_id: i64,
) -> Result<stores::Model> {
    principal.require_store(store_id)?;
    stores::Entity::find_by_id(store_id)
        .filter(stores::Column::MerchantId.eq(principal.merchant_id))
        .one(conn)
        .await?
        .ok_or(Error::NotFound("store"))
}

/// A store where the principal may take money now: theirs, in their scope, and open. Store ids arrive in request
/// bodies, so a wrong one is a field error rather than a missing resource.
pub(crate) async fn require_open(
    conn: &impl sea_orm::ConnectionTrait,
    principal: &StaffPrincipal,
    store_id: i64,
) -> Result<stores::Model> {
    let store = if principal.can_access_store(store_id) {
        stores::Entity::find_by_id(store_id)
            .filter(stores::Column::MerchantId.eq(principal.merchant_id))
            .one(conn)
            .await?
    } else {
        None
    };
    open_for(principal, store_id, store.as_ref()).cloned()
}

/// The rule of [`require_open`] on a store row already at hand (the principal's merchant's, or none).
pub(crate) fn open_for<'a>(
    principal: &StaffPrincipal,
    store_id: i64,
    store: Option<&'a stores::Model>,
) -> Result<&'a stores::Model> {
    match store.filter(|_| principal.can_access_store(store_id)) {
        Some(store) if store.active => Ok(store),
        Some(_) => Err(Error::invalid("store_id", "this store is closed")),
        None => Err(Error::invalid("store_id", "no such store")),
    }
}

pub async fn create(ctx: &AppContext, principal: &StaffPrincipal, input: StoreInput) -> Result<stores::Model> {
    principal.require_merchant_wide(Permission::MerchantManage)?;
    let name = check_text("name", input.name.as_deref().unwrap_or_default(), 60)?;
    let merchant = crate::foundation::merchants::get(ctx, principal.merchant_id).await?;
    let timezone = match input.timezone.as_deref() {
        Some(tz) => crate::domain::parse_timezone(tz).map_err(|m| Error::invalid("timezone", m))?,
        None => merchant.timezone,
    };
    let txn = sea_orm::TransactionTrait::begin(&ctx.db).await?;
    let store = stores::ActiveModel {
        merchant_id: Set(principal.merchant_id),
        name: Set(name),
        address: Set(check_text("address", input.address.as_deref().unwrap_or_default(), 200)?),
        phone: Set(check_text("phone", input.phone.as_deref().unwrap_or_default(), 30)?),
        timezone: Set(timezone),
        active: Set(input.active.unwrap_or(true)),
        created_at: Set(ctx.now()),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        Event {
            merchant_id: Some(principal.merchant_id),
            actor: Actor::Staff(principal.staff_id),
            action: "store.created",
            target: Some(("store", store.id)),
            detail: json!({ "name": store.name }),
            ip: None,
        },
    )
    .await?;
    crate::foundation::merchants::config_changed(&txn, principal.merchant_id).await?;
    txn.commit().await?;
    Ok(store)
}

pub async fn update(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    store_id: i64,
    input: StoreInput,
) -> Result<stores::Model> {
    let store = get(ctx, principal, store_id).await?;
    principal.require(Permission::StoreManage)?;
    let mut active: stores::ActiveModel = store.into();
    if let Some(name) = input.name {
        active.name = Set(check_text("name", &name, 60)?);
    }
    if let Some(address) = input.address {
        active.address = Set(check_text("address", &address, 200)?);
    }
    if let Some(phone) = input.phone {
        active.phone = Set(check_text("phone", &phone, 30)?);
    }
    if let Some(tz) = input.timezone {
        active.timezone = Set(crate::domain::parse_timezone(&tz).map_err(|m| Error::invalid("timezone", m))?);
    }
    if let Some(flag) = input.active {
        active.active = Set(flag);
    }
    let txn = sea_orm::TransactionTrait::begin(&ctx.db).await?;
    let store = active.update(&txn).await?;
    audit::record(
        &txn,
        Event {
            merchant_id: Some(principal.merchant_id),
            actor: Actor::Staff(principal.staff_id),
            action: "store.updated",
            target: Some(("store", store.id)),
            detail: json!({}),
            ip: None,
        },
    )
    .await?;
    crate::foundation::merchants::config_changed(&txn, principal.merchant_id).await?;
    txn.commit().await?;
    Ok(store)
}

/// The merchant's open stores, as members see them in the mini-program.
pub async fn list_open(ctx: &AppContext, merchant_id: i64) -> Result<Vec<stores::Model>> {
    Ok(stores::Entity::find()
        .filter(stores::Column::MerchantId.eq(merchant_id))
        .filter(stores::Column::Active.eq(true))
        .order_by_asc(stores::Column::Id)
        .all(&ctx.db)
        .await?)
}

/// The store that keeps `member`'s merchant-wide balances (see [`Keeping`]): their home store, else the merchant's
/// first store.
pub(crate) async fn keeping_store(
    conn: &impl sea_orm::ConnectionTrait,
    member: &entity::members::Model,
) -> Result<i64> {
    if let Some(home) = member.home_store_id {
        return Ok(home);
    }
    stores::Entity::find()
        .filter(stores::Column::MerchantId.eq(member.merchant_id))
        .order_by_asc(stores::Column::Id)
        .one(conn)
        .await?
        .map(|store| store.id)
        .ok_or(Error::NotFound("store"))
}

/// Which store keeps a member's merchant-wide balances (points, stored value) for the nightly jobs that run in
/// each store's time zone: their home store, else the merchant's first store. Each member is thus in exactly one
/// zone's run, and its write-offs land on one store's accounts.
pub(crate) struct Keeping {
    first_store: std::collections::BTreeMap<i64, i64>,
    in_zone: std::collections::BTreeSet<i64>,
}

impl Keeping {
    pub(crate) async fn in_zone(conn: &impl sea_orm::ConnectionTrait, timezone: &str) -> Result<Keeping> {
        let all = stores::Entity::find().order_by_asc(stores::Column::Id).all(conn).await?;
        let mut first_store = std::collections::BTreeMap::new();
        for store in &all {
            first_store.entry(store.merchant_id).or_insert(store.id);
        }
        let in_zone = all.iter().filter(|s| s.timezone == timezone).map(|s| s.id).collect();
        Ok(Keeping { first_store, in_zone })
    }

    /// No store is in the zone: nothing to do there.
    pub(crate) fn is_empty(&self) -> bool {
        self.in_zone.is_empty()
    }

    /// The store that keeps `member`'s balances, when it is in this zone.
    pub(crate) fn store_of(&self, member: &entity::members::Model) -> Option<i64> {
        let store = member.home_store_id.or_else(|| self.first_store.get(&member.merchant_id).copied());
        store.filter(|id| self.in_zone.contains(id))
    }

    /// `store_id` is in this zone.
    pub(crate) fn has(&self, store_id: i64) -> bool {
        self.in_zone.contains(&store_id)
    }
}
