//! Coupon templates: written by merchant-wide staff who manage coupons (owners, managers of every store,
//! marketing); a template is paused or ended, never deleted, so every issued coupon keeps its origin.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, TransactionTrait,
};
use serde_json::json;

use entity::{coupon_templates, member_coupons, products, service_items, stores};

use super::{FreeItemKind, Template, Terms, Validity, to_template};
use crate::domain::{CouponStatus, Fen, MAX_AMOUNT_FEN, MAX_POINTS, Permission, Points, TemplateStatus};
use crate::foundation::audit;
use crate::foundation::principal::StaffPrincipal;
use crate::{AppContext, Conflict, Error, Result};

pub struct TemplateInput {
    pub terms: Terms,
    pub validity: Validity,
    pub claim_from: Option<DateTime<Utc>>,
    pub claim_until: Option<DateTime<Utc>>,
    pub total_stock: Option<i64>,
    pub per_member_limit: i32,
    pub claimable: bool,
    /// Issued to each new member, once (at the desk or on their first sign-in in the app).
    pub on_join: bool,
    /// Issued to each member with a birthday this many days ahead (0–30), once a year, valid through the birthday
    /// month whatever the template's own validity.
    pub birthday_days_before: Option<i32>,
    /// Members exchange this many points for one in the coupon center (the template is then claimable).
    pub points_price: Option<Points>,
    /// Given with every settled bill of a member paying at least this (满赠), once per bill.
    pub purchase_min: Option<Fen>,
    /// The most its coupons may take off bills: each issued takes its largest possible discount from it.
    pub budget: Option<Fen>,
}

/// The largest budget a template may have: ￥100,000,000.
const MAX_BUDGET_FEN: i64 = 10_000_000_000;

/// `auto_grant` of a template every new member receives.
pub(crate) const ON_JOIN: &str = "join";
/// `auto_grant` of a template members receive before their birthday.
pub(crate) const ON_BIRTHDAY: &str = "birthday";
/// `auto_grant` of a template given with a purchase above an amount.
pub(crate) const ON_PURCHASE: &str = "purchase";

/// What can change on a template once coupons may have been issued from it: not the terms (issued coupons keep
/// theirs, and the report would mix two offers under one name).
#[derive(Default)]
pub struct TemplateChanges {
    pub name: Option<String>,
    pub status: Option<TemplateStatus>,
    pub claimable: Option<bool>,
    pub claim_until: Option<Option<DateTime<Utc>>>,
    /// More stock (a limited template only).
    pub add_stock: Option<i64>,
}

/// A template with what became of it.
#[derive(Clone, Debug)]
pub struct TemplateSummary {
    pub template: Template,
    pub issued: u64,
    pub used: u64,
}

/// Names that exist: the stores, services and products a scope or a free item names must be the merchant's.
async fn check_names(conn: &impl ConnectionTrait, merchant_id: i64, terms: &Terms) -> Result<()> {
    let scope = &terms.scope;
    let count_in = |found: u64, wanted: usize, field: &'static str| {
        if usize::try_from(found).ok() == Some(wanted) {
            Ok(())
        } else {
            Err(Error::invalid(field, "names something that is not this merchant's"))
        }
    };
    let mut ids = scope.store_ids.clone();
    ids.sort_unstable();
    ids.dedup();
    let found = stores::Entity::find()
        .filter(stores::Column::MerchantId.eq(merchant_id))
        .filter(stores::Column::Id.is_in(ids.clone()))
        .count(conn)
        .await?;
    count_in(found, ids.len(), "scope.store_ids")?;
    let mut services = scope.service_ids.clone();
    if let Some((FreeItemKind::Service, id)) = terms.free_item {
        services.push(id);
    }
    services.sort_unstable();
    services.dedup();
    let found = service_items::Entity::find()
        .filter(service_items::Column::MerchantId.eq(merchant_id))
        .filter(service_items::Column::Id.is_in(services.clone()))
        .count(conn)
        .await?;
    count_in(found, services.len(), "scope.service_ids")?;
    let mut goods = scope.product_ids.clone();
    if let Some((FreeItemKind::Product, id)) = terms.free_item {
        goods.push(id);
    }
    goods.sort_unstable();
    goods.dedup();
    let found = products::Entity::find()
        .filter(products::Column::MerchantId.eq(merchant_id))
        .filter(products::Column::Id.is_in(goods.clone()))
        .count(conn)
        .await?;
    count_in(found, goods.len(), "scope.product_ids")?;
    if scope.categories.iter().any(|c| c.trim().is_empty() || c.chars().count() > 20) {
        return Err(Error::invalid("scope.categories", "each category is 1–20 characters"));
    }
    Ok(())
}

fn check_input(input: &TemplateInput) -> Result<()> {
    input.terms.check()?;
    match input.validity {
        Validity::Fixed { from, until } if until <= from => {
            return Err(Error::invalid("valid_until", "must be after valid_from"));
        }
        Validity::Days(days) if !(1..=3_650).contains(&days) => {
            return Err(Error::invalid("valid_days", "must be 1 to 3650"));
        }
        _ => {}
    }
    if let (Some(from), Some(until)) = (input.claim_from, input.claim_until)
        && until <= from
    {
        return Err(Error::invalid("claim_until", "must be after claim_from"));
    }
    if input.total_stock.is_some_and(|stock| !(1..=100_000_000).contains(&stock)) {
        return Err(Error::invalid("total_stock", "must be 1 to 100,000,000, or absent for no limit"));
    }
    if !(1..=100).contains(&input.per_member_limit) {
        return Err(Error::invalid("per_member_limit", "must be 1 to 100"));
    }
    let automatic = [input.on_join, input.birthday_days_before.is_some(), input.purchase_min.is_some()];
    if automatic.iter().filter(|on| **on).count() > 1 {
        return Err(Error::invalid(
            "auto_grant",
            "a template is given on joining, on birthdays or with a purchase: one of them at most",
        ));
    }
    if input.purchase_min.is_some_and(|min| !(1..=MAX_AMOUNT_FEN).contains(&min.get())) {
        return Err(Error::invalid("purchase_min_fen", "a purchase of ￥0.01 to ￥1,000,000 gives it"));
    }
    match input.points_price {
        Some(price) if !(1..=MAX_POINTS).contains(&price.get()) => {
            return Err(Error::invalid("points_price", "must be 1 to 100,000,000 points"));
        }
        Some(_) if !input.claimable => {
            return Err(Error::invalid("points_price", "a coupon sold for points is offered in the coupon center"));
        }
        _ => {}
    }
    if let Some(budget) = input.budget {
        if !(1..=MAX_BUDGET_FEN).contains(&budget.get()) {
            return Err(Error::invalid("budget_fen", "must be ￥0.01 to ￥100,000,000"));
        }
        if input.terms.most_off().is_none() {
            return Err(Error::invalid(
                "budget_fen",
                "a budget counts each coupon's largest discount: give a percentage coupon a cap; a free item has none",
            ));
        }
    }
    match input.birthday_days_before {
        Some(days) if !(0..=30).contains(&days) => {
            return Err(Error::invalid("birthday_days_before", "must be 0 to 30"));
        }
        _ => {}
    }
    Ok(())
}

pub async fn create(ctx: &AppContext, principal: &StaffPrincipal, input: TemplateInput) -> Result<TemplateSummary> {
    principal.require_merchant_wide(Permission::CouponManage)?;
    check_input(&input)?;
    check_names(&ctx.db, principal.merchant_id, &input.terms).await?;
    let (valid_from, valid_until, valid_days) = input.validity.columns();
    let terms = &input.terms;
    let now = ctx.now();
    let txn = ctx.db.begin().await?;
    let row = coupon_templates::ActiveModel {
        merchant_id: Set(principal.merchant_id),
        name: Set(terms.name.trim().to_owned()),
        kind: Set(terms.kind.as_str().to_owned()),
        value_fen: Set(terms.value.get()),
        rate_bp: Set(terms.rate_bp),
        cap_fen: Set(terms.cap.map(|c| c.get())),
        threshold_fen: Set(terms.threshold.get()),
        free_item_kind: Set(terms.free_item.map(|(kind, _)| kind.as_str().to_owned())),
        free_item_id: Set(terms.free_item.map(|(_, id)| id)),
        scope: Set(serde_json::to_string(&terms.scope).map_err(anyhow::Error::from)?),
        stacks_with_level: Set(terms.stacks_with_level),
        stacks_with_points: Set(terms.stacks_with_points),
        stacks_with_coupons: Set(terms.stacks_with_coupons),
        valid_from: Set(valid_from),
        valid_until: Set(valid_until),
        valid_days: Set(valid_days),
        claim_from: Set(input.claim_from),
        claim_until: Set(input.claim_until),
        total_stock: Set(input.total_stock),
        remaining: Set(input.total_stock),
        per_member_limit: Set(input.per_member_limit),
        claimable: Set(input.claimable),
        auto_grant: Set(match (input.on_join, input.birthday_days_before, input.purchase_min) {
            (true, _, _) => Some(ON_JOIN.to_owned()),
            (false, Some(_), _) => Some(ON_BIRTHDAY.to_owned()),
            (false, None, Some(_)) => Some(ON_PURCHASE.to_owned()),
            (false, None, None) => None,
        }),
        birthday_days_before: Set(input.birthday_days_before.unwrap_or(7)),
        points_price: Set(input.points_price.map(Points::get)),
        purchase_min_fen: Set(input.purchase_min.map(Fen::get)),
        budget_fen: Set(input.budget.map(Fen::get)),
        budget_left_fen: Set(input.budget.map(Fen::get)),
        status: Set(TemplateStatus::Active.as_str().to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let detail = json!({ "kind": row.kind, "total_stock": row.total_stock, "claimable": row.claimable });
    audit::by_staff(&txn, principal, "coupon_template.created", ("coupon_template", row.id), detail).await?;
    // Checkout keeps whether any gift with a purchase (满赠) is on offer with the merchant's reference data.
    crate::foundation::merchants::config_changed(&txn, principal.merchant_id).await?;
    txn.commit().await?;
    Ok(TemplateSummary { template: to_template(row)?, issued: 0, used: 0 })
}

pub(crate) async fn row(conn: &impl ConnectionTrait, merchant_id: i64, id: i64) -> Result<coupon_templates::Model> {
    coupon_templates::Entity::find_by_id(id)
        .filter(coupon_templates::Column::MerchantId.eq(merchant_id))
        .one(conn)
        .await?
        .ok_or(Error::NotFound("coupon template"))
}

pub async fn update(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    id: i64,
    changes: TemplateChanges,
) -> Result<TemplateSummary> {
    principal.require_merchant_wide(Permission::CouponManage)?;
    let txn = ctx.db.begin().await?;
    let current = row(&txn, principal.merchant_id, id).await?;
    if TemplateStatus::stored(&current.status)? == TemplateStatus::Ended {
        return Err(Error::invalid("status", "an ended template is not changed again"));
    }
    let mut detail = serde_json::Map::new();
    if let Some(add) = changes.add_stock {
        if !(1..=100_000_000).contains(&add) || current.total_stock.is_none() {
            return Err(Error::invalid("add_stock", "adds 1 to 100,000,000 to a template with limited stock"));
        }
        // Taken claims may be racing: add in one statement rather than writing back what was read.
        coupon_templates::Entity::update_many()
            .col_expr(coupon_templates::Column::Remaining, Expr::col(coupon_templates::Column::Remaining).add(add))
            .col_expr(coupon_templates::Column::TotalStock, Expr::col(coupon_templates::Column::TotalStock).add(add))
            .filter(coupon_templates::Column::Id.eq(id))
            .exec(&txn)
            .await?;
        detail.insert("add_stock".into(), json!(add));
    }
    let mut active: coupon_templates::ActiveModel = row(&txn, principal.merchant_id, id).await?.into();
    if let Some(name) = changes.name {
        let trimmed = name.trim();
        if trimmed.is_empty() || trimmed.chars().count() > 30 {
            return Err(Error::invalid("name", "must be 1–30 characters"));
        }
        active.name = Set(trimmed.to_owned());
        detail.insert("name".into(), json!(true));
    }
    if let Some(status) = changes.status {
        active.status = Set(status.as_str().to_owned());
        detail.insert("status".into(), json!(status.as_str()));
    }
    if let Some(claimable) = changes.claimable {
        // A campaign's coupon reaches members only through the campaign: its control group must not claim it.
        if claimable && crate::marketing::campaigns::in_use(&txn, principal.merchant_id, None, Some(id)).await? {
            return Err(Error::Conflict(Conflict::UsedByCampaign));
        }
        active.claimable = Set(claimable);
        detail.insert("claimable".into(), json!(claimable));
    }
    if let Some(claim_until) = changes.claim_until {
        active.claim_until = Set(claim_until);
        detail.insert("claim_until".into(), json!(claim_until));
    }
    active.updated_at = Set(ctx.now());
    let updated = active.update(&txn).await?;
    audit::by_staff(&txn, principal, "coupon_template.updated", ("coupon_template", id), detail.into()).await?;
    crate::foundation::merchants::config_changed(&txn, principal.merchant_id).await?;
    txn.commit().await?;
    summarise(&ctx.db, updated).await
}

async fn summarise(conn: &impl ConnectionTrait, row: coupon_templates::Model) -> Result<TemplateSummary> {
    let of_template = || member_coupons::Entity::find().filter(member_coupons::Column::TemplateId.eq(row.id));
    let issued = of_template().count(conn).await?;
    let used = of_template().filter(member_coupons::Column::Status.eq(CouponStatus::Used.as_str())).count(conn).await?;
    Ok(TemplateSummary { template: to_template(row)?, issued, used })
}

/// The merchant's templates, newest first, with what became of each; for anyone who may read members (the desk
/// sees which coupons exist).
pub async fn list(ctx: &AppContext, principal: &StaffPrincipal) -> Result<Vec<TemplateSummary>> {
    principal.require(Permission::MemberRead)?;
    let rows = coupon_templates::Entity::find()
        .filter(coupon_templates::Column::MerchantId.eq(principal.merchant_id))
        .order_by_desc(coupon_templates::Column::Id)
        .all(&ctx.db)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.push(summarise(&ctx.db, row).await?);
    }
    Ok(out)
}
