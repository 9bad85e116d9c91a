//! Count-card products (次卡/疗程卡) on the menu: N sessions of one or several services for a price, valid for some
//! days after the sale. Selling one (checkout) issues a count card to the member; the product itself only says what
//! a card of it holds.

use std::collections::BTreeSet;

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};

use entity::{card_products, service_items};

use crate::domain::{Fen, Permission, label};
use crate::foundation::audit;
use crate::foundation::principal::StaffPrincipal;
use crate::{AppContext, Error, Result};

#[derive(Clone, Debug)]
pub struct CardProduct {
    pub id: i64,
    pub name: String,
    pub price_fen: Fen,
    pub sessions: i32,
    /// Days a sold card stays valid; none for no expiry.
    pub validity_days: Option<i32>,
    /// The services a session may be used for.
    pub service_item_ids: Vec<i64>,
    pub active: bool,
}

fn to_card_product(row: card_products::Model) -> Result<CardProduct> {
    Ok(CardProduct {
        id: row.id,
        name: row.name,
        price_fen: Fen::new(row.price_fen),
        sessions: row.sessions,
        validity_days: row.validity_days,
        service_item_ids: crate::domain::stored_json("card product services", &row.service_item_ids)?,
        active: row.active,
    })
}

#[derive(Default)]
pub struct CardProductInput {
    pub name: Option<String>,
    pub price_fen: Option<Fen>,
    pub sessions: Option<i32>,
    /// `Some(None)` makes cards sold from now on never expire.
    pub validity_days: Option<Option<i32>>,
    pub service_item_ids: Option<Vec<i64>>,
    pub active: Option<bool>,
}

/// The service items of the merchant among `ids`, in the order given, duplicates dropped; a missing one is a field
/// error.
async fn check_services(conn: &impl ConnectionTrait, merchant_id: i64, ids: &[i64]) -> Result<Vec<i64>> {
    if ids.is_empty() || ids.len() > 20 {
        return Err(Error::invalid("service_item_ids", "name 1–20 service items"));
    }
    let found: BTreeSet<i64> = service_items::Entity::find()
        .select_only()
        .column(service_items::Column::Id)
        .filter(service_items::Column::MerchantId.eq(merchant_id))
        .filter(service_items::Column::Id.is_in(ids.iter().copied()))
        .into_tuple::<i64>()
        .all(conn)
        .await?
        .into_iter()
        .collect();
    if let Some(missing) = ids.iter().find(|id| !found.contains(id)) {
        return Err(Error::invalid("service_item_ids", format!("no service item {missing}")));
    }
    let mut seen = BTreeSet::new();
    Ok(ids.iter().copied().filter(|id| seen.insert(*id)).collect())
}

async fn apply(
    conn: &impl ConnectionTrait,
    merchant_id: i64,
    active: &mut card_products::ActiveModel,
    input: CardProductInput,
) -> Result<()> {
    if let Some(name) = input.name {
        active.name = Set(label("name", &name)?);
    }
    if let Some(price) = input.price_fen {
        if !(Fen::new(1)..=Fen::MAX_AMOUNT).contains(&price) {
            return Err(Error::invalid("price_fen", "must be more than 0 and at most ￥1,000,000 (in fen)"));
        }
        active.price_fen = Set(price.get());
    }
    if let Some(sessions) = input.sessions {
        if !(1..=1000).contains(&sessions) {
            return Err(Error::invalid("sessions", "must be 1–1000"));
        }
        active.sessions = Set(sessions);
    }
    if let Some(days) = input.validity_days {
        if days.is_some_and(|d| !(1..=3650).contains(&d)) {
            return Err(Error::invalid("validity_days", "must be 1–3650 days, or null for no expiry"));
        }
        active.validity_days = Set(days);
    }
    if let Some(flag) = input.active {
        active.active = Set(flag);
    }
    if let Some(ids) = input.service_item_ids {
        let ids = check_services(conn, merchant_id, &ids).await?;
        active.service_item_ids = Set(serde_json::to_string(&ids).map_err(anyhow::Error::from)?);
    }
    Ok(())
}

/// The merchant's count-card products, inactive ones included. For staff at the desk and catalog managers.
pub async fn list(ctx: &AppContext, principal: &StaffPrincipal) -> Result<Vec<CardProduct>> {
    if !principal.can(Permission::Checkout) && !principal.can(Permission::CatalogManage) {
        return Err(Error::NeedsEither(Permission::Checkout, Permission::CatalogManage));
    }
    card_products::Entity::find()
        .filter(card_products::Column::MerchantId.eq(principal.merchant_id))
        .order_by_asc(card_products::Column::Id)
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(to_card_product)
        .collect()
}

pub async fn create(ctx: &AppContext, principal: &StaffPrincipal, input: CardProductInput) -> Result<CardProduct> {
    principal.require_merchant_wide(Permission::CatalogManage)?;
    for (field, present) in [
        ("name", input.name.is_some()),
        ("price_fen", input.price_fen.is_some()),
        ("sessions", input.sessions.is_some()),
        ("service_item_ids", input.service_item_ids.is_some()),
    ] {
        if !present {
            return Err(Error::invalid(field, "is required"));
        }
    }
    let mut active = card_products::ActiveModel {
        merchant_id: Set(principal.merchant_id),
        validity_days: Set(None),
        active: Set(true),
        created_at: Set(ctx.now()),
        ..Default::default()
    };
    apply(&ctx.db, principal.merchant_id, &mut active, input).await?;
    let txn = ctx.db.begin().await?;
    let row = active.insert(&txn).await?;
    let detail = audit::created(&row);
    audit::by_staff(&txn, principal, "card_product.created", ("card_product", row.id), detail).await?;
    txn.commit().await?;
    to_card_product(row)
}

pub async fn update(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    id: i64,
    input: CardProductInput,
) -> Result<CardProduct> {
    principal.require_merchant_wide(Permission::CatalogManage)?;
    let row = card_products::Entity::find_by_id(id)
        .filter(card_products::Column::MerchantId.eq(principal.merchant_id))
        .one(&ctx.db)
        .await?
        .ok_or(Error::NotFound("count-card product"))?;
    let before = row.clone();
    let mut active: card_products::ActiveModel = row.into();
    apply(&ctx.db, principal.merchant_id, &mut active, input).await?;
    let txn = ctx.db.begin().await?;
    let row = active.update(&txn).await?;
    let detail = audit::changes(&before, &row);
    audit::by_staff(&txn, principal, "card_product.updated", ("card_product", row.id), detail).await?;
    txn.commit().await?;
    to_card_product(row)
}

/// For checkout: an active count-card product of the merchant, or a field error on the bill's lines.
pub(crate) async fn get_active(conn: &impl ConnectionTrait, merchant_id: i64, id: i64) -> Result<CardProduct> {
    card_products::Entity::find_by_id(id)
        .filter(card_products::Column::MerchantId.eq(merchant_id))
        .filter(card_products::Column::Active.eq(true))
        .one(conn)
        .await?
        .map(to_card_product)
        .transpose()?
        .ok_or_else(|| Error::invalid("lines", format!("no count-card product {id}")))
}

/// Demo data: a count-card product for the named services.
pub(crate) async fn seed(
    conn: &impl ConnectionTrait,
    merchant_id: i64,
    name: &str,
    price_fen: i64,
    sessions: i32,
    validity_days: Option<i32>,
    service_item_ids: &[i64],
) -> Result<i64> {
    let row = card_products::ActiveModel {
        merchant_id: Set(merchant_id),
        name: Set(name.to_owned()),
        price_fen: Set(price_fen),
        sessions: Set(sessions),
        validity_days: Set(validity_days),
        service_item_ids: Set(serde_json::to_string(service_item_ids).map_err(anyhow::Error::from)?),
        active: Set(true),
        created_at: Set(chrono::Utc::now()),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(row.id)
}
