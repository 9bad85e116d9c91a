//! The service menu (项目): what a store sells by the minute. Retail products and pricing rules come with checkout.

use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use entity::service_items;

use crate::auth::StaffPrincipal;
use crate::domain::{Fen, Permission};
use crate::{AppContext, Error, Result};

#[derive(Clone, Debug)]
pub struct ServiceItem {
    pub id: i64,
    pub category: String,
    pub name: String,
    pub duration_min: i32,
    pub price: Fen,
    pub substances: Vec<String>,
    pub active: bool,
}

#[derive(Default)]
pub struct ServiceInput {
    pub category: Option<String>,
    pub name: Option<String>,
    pub duration_min: Option<i32>,
    pub price_fen: Option<i64>,
    pub substances: Option<Vec<String>>,
    pub active: Option<bool>,
}

fn to_item(row: service_items::Model) -> ServiceItem {
    ServiceItem {
        id: row.id,
        category: row.category,
        name: row.name,
        duration_min: row.duration_min,
        price: Fen::new(row.price_fen),
        substances: serde_json::from_str(&row.substances).unwrap_or_default(),
        active: row.active,
    }
}

fn label(field: &'static str, value: &str) -> Result<String> {
    let trimmed = value.trim();
    if trimmed.is_empty() || trimmed.chars().count() > 40 || trimmed.chars().any(char::is_control) {
        return Err(Error::invalid(field, "must be 1–40 characters"));
    }
    Ok(trimmed.to_owned())
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
        let price = Fen::non_negative(price).map_err(|m| Error::invalid("price_fen", m))?;
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
    principal.require(Permission::CatalogManage)?;
    if input.name.is_none() || input.category.is_none() || input.duration_min.is_none() || input.price_fen.is_none() {
        return Err(Error::invalid("body", "category, name, duration_min and price_fen are required"));
    }
    let mut active = service_items::ActiveModel {
        merchant_id: Set(principal.merchant_id),
        substances: Set("[]".to_owned()),
        active: Set(true),
        created_at: Set(ctx.now()),
        ..Default::default()
    };
    apply(&mut active, input)?;
    Ok(to_item(active.insert(&ctx.db).await?))
}

pub async fn update(ctx: &AppContext, principal: &StaffPrincipal, id: i64, input: ServiceInput) -> Result<ServiceItem> {
    principal.require(Permission::CatalogManage)?;
    let row = service_items::Entity::find_by_id(id)
        .filter(service_items::Column::MerchantId.eq(principal.merchant_id))
        .one(&ctx.db)
        .await?
        .ok_or(Error::NotFound("service"))?;
    let mut active: service_items::ActiveModel = row.into();
    apply(&mut active, input)?;
    Ok(to_item(active.update(&ctx.db).await?))
}
