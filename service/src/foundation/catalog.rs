//! The service menu (项目): what a store sells by the minute. Retail products and pricing rules come with checkout.

use std::collections::{BTreeMap, BTreeSet};

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};

use entity::{member_levels, service_items};

use crate::domain::{Fen, Permission, label};
use crate::foundation::audit;
use crate::foundation::principal::StaffPrincipal;
use crate::{AppContext, Error, Result};

#[derive(Clone, Debug)]
pub struct ServiceItem {
    pub id: i64,
    pub category: String,
    pub name: String,
    pub duration_min: i32,
    pub price: Fen,
    pub substances: Vec<String>,
    /// Member level id → what a member of that level pays instead of `price` (no level discount on top).
    pub level_prices: BTreeMap<i64, i64>,
    pub active: bool,
    /// Minutes the staff member needs after the service (clean-up) before the next client.
    pub buffer_min: i32,
    /// A stretch inside the service (colour developing) when its staff member may take another client:
    /// (minutes from the start, length).
    pub processing: Option<(i32, i32)>,
    /// The kind of room or bed the service needs (`massage_bed`), if any.
    pub resource_kind: Option<String>,
}

#[derive(Default)]
pub struct ServiceInput {
    pub category: Option<String>,
    pub name: Option<String>,
    pub duration_min: Option<i32>,
    pub price_fen: Option<Fen>,
    pub substances: Option<Vec<String>>,
    /// Replaces the per-level prices; an empty map removes them.
    pub level_prices: Option<BTreeMap<i64, i64>>,
    pub active: Option<bool>,
    pub buffer_min: Option<i32>,
    /// `(offset, length)` of the processing window; a length of 0 removes it.
    pub processing: Option<(i32, i32)>,
    /// An empty string removes the need for a resource.
    pub resource_kind: Option<String>,
}

fn to_item(row: service_items::Model) -> ServiceItem {
    ServiceItem {
        id: row.id,
        category: row.category,
        name: row.name,
        duration_min: row.duration_min,
        price: Fen::new(row.price_fen),
        substances: serde_json::from_str(&row.substances).unwrap_or_default(),
        level_prices: serde_json::from_str::<BTreeMap<String, i64>>(&row.level_prices)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(level, price)| level.parse().ok().map(|level| (level, price)))
            .collect(),
        active: row.active,
        buffer_min: row.buffer_min,
        processing: row.processing_offset_min.zip(row.processing_min),
        resource_kind: row.resource_kind,
    }
}

/// Checks per-level prices (each level of the merchant, each price within the cap) into the column's JSON, whose
/// keys are the level ids as strings.
async fn level_prices(conn: &impl ConnectionTrait, merchant_id: i64, prices: &BTreeMap<i64, i64>) -> Result<String> {
    if prices.len() > 50 {
        return Err(Error::invalid("level_prices", "at most 50 levels"));
    }
    if prices.values().any(|price| !(0..=100_000_000).contains(price)) {
        return Err(Error::invalid("level_prices", "prices must be 0 to ￥1,000,000 (in fen)"));
    }
    let levels: BTreeSet<i64> = if prices.is_empty() {
        BTreeSet::new()
    } else {
        member_levels::Entity::find()
            .select_only()
            .column(member_levels::Column::Id)
            .filter(member_levels::Column::MerchantId.eq(merchant_id))
            .filter(member_levels::Column::Id.is_in(prices.keys().copied()))
            .into_tuple::<i64>()
            .all(conn)
            .await?
            .into_iter()
            .collect()
    };
    if let Some(missing) = prices.keys().find(|level| !levels.contains(level)) {
        return Err(Error::invalid("level_prices", format!("no member level {missing}")));
    }
    let keyed: BTreeMap<String, i64> = prices.iter().map(|(level, price)| (level.to_string(), *price)).collect();
    Ok(serde_json::to_string(&keyed).map_err(anyhow::Error::from)?)
}

fn apply(active: &mut service_items::ActiveModel, input: ServiceInput) -> Result<()> {
    if let Some(category) = input.category {
        active.category = Set(label("category", &category)?);
    }
    if let Some(name) = input.name {
        active.name = Set(label("name", &name)?);
    }
    if let Some(minutes) = input.duration_min {
        if !(5..=600).contains(&minutes) {
            return Err(Error::invalid("duration_min", "must be 5–600 minutes"));
        }
        active.duration_min = Set(minutes);
    }
    if let Some(price) = input.price_fen {
        let price = Fen::non_negative(price.get()).map_err(|m| Error::invalid("price_fen", m))?;
        if price.get() > 100_000_000 {
            return Err(Error::invalid("price_fen", "must be at most ￥1,000,000"));
        }
        active.price_fen = Set(price.get());
    }
    if let Some(substances) = input.substances {
        if substances.len() > 20 || substances.iter().any(|s| s.trim().is_empty() || s.chars().count() > 40) {
            return Err(Error::invalid("substances", "at most 20 entries of 1–40 characters"));
        }
        let cleaned: Vec<String> = substances.iter().map(|s| s.trim().to_owned()).collect();
        active.substances = Set(serde_json::to_string(&cleaned).map_err(anyhow::Error::from)?);
    }
    if let Some(flag) = input.active {
        active.active = Set(flag);
    }
    if let Some(minutes) = input.buffer_min {
        if !(0..=120).contains(&minutes) {
            return Err(Error::invalid("buffer_min", "must be 0–120 minutes"));
        }
        active.buffer_min = Set(minutes);
    }
    match input.processing {
        Some((_, 0)) => {
            active.processing_offset_min = Set(None);
            active.processing_min = Set(None);
        }
        Some((offset, length)) => {
            active.processing_offset_min = Set(Some(offset));
            active.processing_min = Set(Some(length));
        }
        None => {}
    }
    // The window must lie inside the service, whichever of the two changed.
    let duration = active.duration_min.try_as_ref().copied().unwrap_or(0);
    let offset = active.processing_offset_min.try_as_ref().copied().flatten();
    let length = active.processing_min.try_as_ref().copied().flatten();
    if let (Some(offset), Some(length)) = (offset, length)
        && (offset < 5 || length < 5 || offset + length > duration - 5)
    {
        return Err(Error::invalid(
            "processing",
            "the window must start at least 5 minutes in and end at least 5 minutes before the service ends",
        ));
    }
    match input.resource_kind.as_deref() {
        Some("") => active.resource_kind = Set(None),
        Some(kind) => active.resource_kind = Set(Some(resource_kind(kind)?)),
        None => {}
    }
    Ok(())
}

pub async fn list(ctx: &AppContext, merchant_id: i64, only_active: bool) -> Result<Vec<ServiceItem>> {
    let mut query = service_items::Entity::find().filter(service_items::Column::MerchantId.eq(merchant_id));
    if only_active {
        query = query.filter(service_items::Column::Active.eq(true));
    }
    let rows = query
        .order_by_asc(service_items::Column::Category)
        .order_by_asc(service_items::Column::Id)
        .all(&ctx.db)
        .await?;
    Ok(rows.into_iter().map(to_item).collect())
}

pub async fn create(ctx: &AppContext, principal: &StaffPrincipal, input: ServiceInput) -> Result<ServiceItem> {
    principal.require_merchant_wide(Permission::CatalogManage)?;
    if input.name.is_none() || input.category.is_none() || input.duration_min.is_none() || input.price_fen.is_none() {
        return Err(Error::invalid("body", "category, name, duration_min and price_fen are required"));
    }
    let mut active = service_items::ActiveModel {
        merchant_id: Set(principal.merchant_id),
        substances: Set("[]".to_owned()),
        level_prices: Set("{}".to_owned()),
        active: Set(true),
        buffer_min: Set(0),
        processing_offset_min: Set(None),
        processing_min: Set(None),
        resource_kind: Set(None),
        created_at: Set(ctx.now()),
        ..Default::default()
    };
    let prices = input.level_prices.clone();
    apply(&mut active, input)?;
    if let Some(prices) = prices {
        active.level_prices = Set(level_prices(&ctx.db, principal.merchant_id, &prices).await?);
    }
    let txn = ctx.db.begin().await?;
    let item = active.insert(&txn).await?;
    let detail = audit::created(&item);
    audit::by_staff(&txn, principal, "service.created", ("service", item.id), detail).await?;
    crate::foundation::merchants::config_changed(&txn, principal.merchant_id).await?;
    txn.commit().await?;
    Ok(to_item(item))
}

pub async fn update(ctx: &AppContext, principal: &StaffPrincipal, id: i64, input: ServiceInput) -> Result<ServiceItem> {
    principal.require_merchant_wide(Permission::CatalogManage)?;
    let row = service_items::Entity::find_by_id(id)
        .filter(service_items::Column::MerchantId.eq(principal.merchant_id))
        .one(&ctx.db)
        .await?
        .ok_or(Error::NotFound("service"))?;
    let before = row.clone();
    let mut active: service_items::ActiveModel = row.into();
    let prices = input.level_prices.clone();
    apply(&mut active, input)?;
    if let Some(prices) = prices {
        active.level_prices = Set(level_prices(&ctx.db, principal.merchant_id, &prices).await?);
    }
    let txn = ctx.db.begin().await?;
    let item = active.update(&txn).await?;
    let detail = audit::changes(&before, &item);
    audit::by_staff(&txn, principal, "service.updated", ("service", item.id), detail).await?;
    crate::foundation::merchants::config_changed(&txn, principal.merchant_id).await?;
    txn.commit().await?;
    Ok(to_item(item))
}

/// A kind of room or bed: lowercase letters, digits and underscores, 1–40.
pub(crate) fn resource_kind(value: &str) -> Result<String> {
    let ok = (1..=40).contains(&value.len())
        && value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok { Ok(value.to_owned()) } else { Err(Error::invalid("kind", "must be 1–40 of a-z, 0-9 and _")) }
}
