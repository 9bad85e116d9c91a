//! Member levels (会员等级): what qualifies (a threshold of cumulative spend or recharge, by the merchant's
//! `level_basis`), what a member of the level pays (a discount in basis points, overridable per item category) and
//! how fast they earn points. Every merchant starts with 普通会员 at rank 0; new members get the lowest rank.

use std::collections::BTreeMap;

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, TransactionTrait,
};
use serde_json::json;

use entity::{member_levels, members, service_items};

use crate::audit::{self, Actor, Event};
use crate::auth::StaffPrincipal;
use crate::catalog::label;
use crate::domain::Permission;
use crate::error::is_unique_violation;
use crate::stored_value::MAX_AMOUNT_FEN;
use crate::{AppContext, Conflict, Error, Result};

/// A level as pricing and points see it.
#[derive(Clone, Debug)]
pub struct LevelRule {
    pub id: i64,
    pub name: String,
    pub rank: i32,
    pub threshold_fen: i64,
    pub discount_bp: i32,
    pub category_discounts: std::collections::BTreeMap<String, i32>,
    pub points_multiplier_pct: i32,
}

/// The same thing as staff configure it and see it on a member.
pub type Level = LevelRule;

pub(crate) fn to_level(row: member_levels::Model) -> Level {
    LevelRule {
        id: row.id,
        name: row.name,
        rank: row.rank,
        threshold_fen: row.threshold_fen,
        discount_bp: row.discount_bp,
        category_discounts: serde_json::from_str(&row.category_discounts).unwrap_or_default(),
        points_multiplier_pct: row.points_multiplier_pct,
    }
}

/// The merchant's levels, lowest rank first.
pub(crate) async fn load_rules(conn: &impl ConnectionTrait, merchant_id: i64) -> Result<Vec<LevelRule>> {
    Ok(member_levels::Entity::find()
        .filter(member_levels::Column::MerchantId.eq(merchant_id))
        .order_by_asc(member_levels::Column::Rank)
        .all(conn)
        .await?
        .into_iter()
        .map(to_level)
        .collect())
}

#[derive(Default)]
pub struct LevelInput {
    pub name: Option<String>,
    pub rank: Option<i32>,
    pub threshold_fen: Option<i64>,
    pub discount_bp: Option<i32>,
    pub category_discounts: Option<BTreeMap<String, i32>>,
    pub points_multiplier_pct: Option<i32>,
}

fn discount(field: &'static str, bp: i32) -> Result<i32> {
    if !(1000..=10_000).contains(&bp) {
        return Err(Error::invalid(field, "must be 1000–10000 basis points of the price (9000 = 10% off)"));
    }
    Ok(bp)
}

fn apply(active: &mut member_levels::ActiveModel, input: LevelInput) -> Result<()> {
    if let Some(name) = input.name {
        active.name = Set(label("name", &name)?);
    }
    if let Some(rank) = input.rank {
        if !(0..=1000).contains(&rank) {
            return Err(Error::invalid("rank", "must be 0–1000"));
        }
        active.rank = Set(rank);
    }
    if let Some(threshold) = input.threshold_fen {
        if !(0..=MAX_AMOUNT_FEN).contains(&threshold) {
            return Err(Error::invalid("threshold_fen", "must be 0 to ￥1,000,000 (in fen)"));
        }
        active.threshold_fen = Set(threshold);
    }
    if let Some(bp) = input.discount_bp {
        active.discount_bp = Set(discount("discount_bp", bp)?);
    }
    if let Some(overrides) = input.category_discounts {
        if overrides.len() > 50 {
            return Err(Error::invalid("category_discounts", "at most 50 categories"));
        }
        let mut cleaned = BTreeMap::new();
        for (category, bp) in overrides {
            let category = label("category_discounts", &category)?;
            cleaned.insert(category, discount("category_discounts", bp)?);
        }
        active.category_discounts = Set(serde_json::to_string(&cleaned).map_err(anyhow::Error::from)?);
    }
    if let Some(pct) = input.points_multiplier_pct {
        if !(0..=1000).contains(&pct) {
            return Err(Error::invalid("points_multiplier_pct", "must be 0–1000 percent (150 = 1.5×)"));
        }
        active.points_multiplier_pct = Set(pct);
    }
    Ok(())
}

fn rank_taken(err: sea_orm::DbErr) -> Error {
    if is_unique_violation(&err) { Error::Conflict(Conflict::RankTaken) } else { err.into() }
}

async fn level_row(conn: &impl ConnectionTrait, merchant_id: i64, id: i64) -> Result<member_levels::Model> {
    member_levels::Entity::find_by_id(id)
        .filter(member_levels::Column::MerchantId.eq(merchant_id))
        .one(conn)
        .await?
        .ok_or(Error::NotFound("member level"))
}

async fn record(
    conn: &impl ConnectionTrait,
    principal: &StaffPrincipal,
    action: &'static str,
    level: &member_levels::Model,
) -> Result<()> {
    audit::record(
        conn,
        Event {
            merchant_id: Some(principal.merchant_id),
            actor: Actor::Staff(principal.staff_id),
            action,
            target: Some(("member_level", level.id)),
            detail: json!({
                "name": level.name,
                "rank": level.rank,
                "threshold_fen": level.threshold_fen,
                "discount_bp": level.discount_bp,
                "points_multiplier_pct": level.points_multiplier_pct,
            }),
            ip: None,
        },
    )
    .await
}

pub async fn create(ctx: &AppContext, principal: &StaffPrincipal, input: LevelInput) -> Result<Level> {
    principal.require(Permission::LoyaltyManage)?;
    for (field, present) in [("name", input.name.is_some()), ("rank", input.rank.is_some())] {
        if !present {
            return Err(Error::invalid(field, "is required"));
        }
    }
    let mut active = member_levels::ActiveModel {
        merchant_id: Set(principal.merchant_id),
        threshold_fen: Set(0),
        discount_bp: Set(10_000),
        category_discounts: Set("{}".to_owned()),
        points_multiplier_pct: Set(100),
        created_at: Set(ctx.now()),
        ..Default::default()
    };
    apply(&mut active, input)?;
    let txn = ctx.db.begin().await?;
    let level = active.insert(&txn).await.map_err(rank_taken)?;
    record(&txn, principal, "member_level.created", &level).await?;
    txn.commit().await?;
    Ok(to_level(level))
}

pub async fn update(ctx: &AppContext, principal: &StaffPrincipal, id: i64, input: LevelInput) -> Result<Level> {
    principal.require(Permission::LoyaltyManage)?;
    let mut active: member_levels::ActiveModel = level_row(&ctx.db, principal.merchant_id, id).await?.into();
    apply(&mut active, input)?;
    let txn = ctx.db.begin().await?;
    let level = active.update(&txn).await.map_err(rank_taken)?;
    record(&txn, principal, "member_level.updated", &level).await?;
    txn.commit().await?;
    Ok(to_level(level))
}

/// Deletes a level no member has, and its prices on the service menu. A level in use is a conflict: move its
/// members first.
pub async fn delete(ctx: &AppContext, principal: &StaffPrincipal, id: i64) -> Result<()> {
    principal.require(Permission::LoyaltyManage)?;
    let txn = ctx.db.begin().await?;
    let level = level_row(&txn, principal.merchant_id, id).await?;
    let holders = members::Entity::find()
        .filter(members::Column::MerchantId.eq(principal.merchant_id))
        .filter(members::Column::LevelId.eq(id))
        .count(&txn)
        .await?;
    if holders > 0 {
        return Err(Error::Conflict(Conflict::LevelInUse));
    }
    // Per-level prices name the level by id; drop them with it.
    let key = id.to_string();
    for item in service_items::Entity::find()
        .filter(service_items::Column::MerchantId.eq(principal.merchant_id))
        .all(&txn)
        .await?
    {
        let mut prices: BTreeMap<String, i64> = serde_json::from_str(&item.level_prices).unwrap_or_default();
        if prices.remove(&key).is_some() {
            let text = serde_json::to_string(&prices).map_err(anyhow::Error::from)?;
            let mut active: service_items::ActiveModel = item.into();
            active.level_prices = Set(text);
            active.update(&txn).await?;
        }
    }
    member_levels::Entity::delete_by_id(id).exec(&txn).await.map_err(|e| {
        // A member given the level since we counted: the foreign key refuses the delete.
        if matches!(e.sql_err(), Some(sea_orm::SqlErr::ForeignKeyConstraintViolation(_))) {
            Error::Conflict(Conflict::LevelInUse)
        } else {
            e.into()
        }
    })?;
    record(&txn, principal, "member_level.deleted", &level).await?;
    txn.commit().await?;
    Ok(())
}

/// Demo data: a level with its discount rules.
pub(crate) async fn seed(conn: &impl ConnectionTrait, merchant_id: i64, level: LevelRule) -> Result<i64> {
    let row = member_levels::ActiveModel {
        merchant_id: Set(merchant_id),
        name: Set(level.name),
        rank: Set(level.rank),
        threshold_fen: Set(level.threshold_fen),
        discount_bp: Set(level.discount_bp),
        category_discounts: Set(serde_json::to_string(&level.category_discounts).map_err(anyhow::Error::from)?),
        points_multiplier_pct: Set(level.points_multiplier_pct),
        created_at: Set(chrono::Utc::now()),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(row.id)
}
