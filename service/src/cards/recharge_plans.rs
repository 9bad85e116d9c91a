//! Recharge plans (充值方案): pay X, get Y of bonus (充1000送200), optional bonus points and validity, offered to
//! members at the desk and in the mini-program.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    TransactionTrait,
};

use entity::recharge_plans;

use crate::domain::{Fen, Permission, Points, amount};
use crate::foundation::audit;
use crate::foundation::principal::StaffPrincipal;
use crate::{AppContext, Error, Result};

#[derive(Clone, Debug)]
pub struct Plan {
    pub id: i64,
    pub name: String,
    pub pay_fen: Fen,
    pub bonus_fen: Fen,
    /// Points granted with each recharge (充值送积分).
    pub bonus_points: Points,
    pub validity_days: Option<i32>,
    pub active: bool,
}

fn to_plan(row: recharge_plans::Model) -> Plan {
    Plan {
        id: row.id,
        name: row.name,
        pay_fen: Fen::new(row.pay_fen),
        bonus_fen: Fen::new(row.bonus_fen),
        bonus_points: Points::new(row.bonus_points),
        validity_days: row.validity_days,
        active: row.active,
    }
}

#[derive(Default)]
pub struct PlanInput {
    pub name: Option<String>,
    pub pay_fen: Option<Fen>,
    pub bonus_fen: Option<Fen>,
    pub bonus_points: Option<Points>,
    /// `Some(None)` clears the validity.
    pub validity_days: Option<Option<i32>>,
    pub active: Option<bool>,
}

pub(crate) async fn plan_row(
    conn: &impl ConnectionTrait,
    merchant_id: i64,
    plan_id: i64,
) -> Result<recharge_plans::Model> {
    recharge_plans::Entity::find_by_id(plan_id)
        .filter(recharge_plans::Column::MerchantId.eq(merchant_id))
        .one(conn)
        .await?
        .ok_or(Error::NotFound("recharge plan"))
}

pub async fn list_plans(ctx: &AppContext, principal: &StaffPrincipal) -> Result<Vec<Plan>> {
    principal.require(Permission::MemberRead)?;
    Ok(recharge_plans::Entity::find()
        .filter(recharge_plans::Column::MerchantId.eq(principal.merchant_id))
        .order_by_asc(recharge_plans::Column::PayFen)
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(to_plan)
        .collect())
}

/// The plans a member can recharge on in the mini-program: the offered ones.
pub async fn offered_plans(ctx: &AppContext, merchant_id: i64) -> Result<Vec<Plan>> {
    Ok(recharge_plans::Entity::find()
        .filter(recharge_plans::Column::MerchantId.eq(merchant_id))
        .filter(recharge_plans::Column::Active.eq(true))
        .order_by_asc(recharge_plans::Column::PayFen)
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(to_plan)
        .collect())
}

fn apply_plan(active: &mut recharge_plans::ActiveModel, input: PlanInput) -> Result<()> {
    if let Some(name) = input.name {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 40 {
            return Err(Error::invalid("name", "must be 1–40 characters"));
        }
        active.name = Set(name.to_owned());
    }
    if let Some(pay) = input.pay_fen {
        active.pay_fen = Set(amount("pay_fen", pay)?.get());
    }
    if let Some(bonus) = input.bonus_fen {
        if !(Fen::ZERO..=Fen::MAX_AMOUNT).contains(&bonus) {
            return Err(Error::invalid("bonus_fen", "must be 0 to ￥1,000,000 (in fen)"));
        }
        active.bonus_fen = Set(bonus.get());
    }
    if let Some(points) = input.bonus_points {
        if !(Points::ZERO..=Points::MAX).contains(&points) {
            return Err(Error::invalid("bonus_points", "must be 0–100,000,000"));
        }
        active.bonus_points = Set(points.get());
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
    Ok(())
}

pub async fn create_plan(ctx: &AppContext, principal: &StaffPrincipal, input: PlanInput) -> Result<Plan> {
    principal.require_merchant_wide(Permission::StoredValueManage)?;
    for (field, present) in [("name", input.name.is_some()), ("pay_fen", input.pay_fen.is_some())] {
        if !present {
            return Err(Error::invalid(field, "is required"));
        }
    }
    let now = Utc::now();
    let mut active = recharge_plans::ActiveModel {
        merchant_id: Set(principal.merchant_id),
        bonus_fen: Set(0),
        bonus_points: Set(0),
        validity_days: Set(None),
        active: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    apply_plan(&mut active, input)?;
    let txn = ctx.db.begin().await?;
    let row = active.insert(&txn).await?;
    let detail = audit::created(&row);
    audit::by_staff(&txn, principal, "recharge_plan.created", ("recharge_plan", row.id), detail).await?;
    txn.commit().await?;
    Ok(to_plan(row))
}

pub async fn update_plan(ctx: &AppContext, principal: &StaffPrincipal, plan_id: i64, input: PlanInput) -> Result<Plan> {
    principal.require_merchant_wide(Permission::StoredValueManage)?;
    let before = plan_row(&ctx.db, principal.merchant_id, plan_id).await?;
    let mut active: recharge_plans::ActiveModel = before.clone().into();
    apply_plan(&mut active, input)?;
    active.updated_at = Set(Utc::now());
    let txn = ctx.db.begin().await?;
    let row = active.update(&txn).await?;
    let detail = audit::changes(&before, &row);
    audit::by_staff(&txn, principal, "recharge_plan.updated", ("recharge_plan", row.id), detail).await?;
    txn.commit().await?;
    Ok(to_plan(row))
}
