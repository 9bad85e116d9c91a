//! Commission rules (提成方案): what staff earn on a kind of line — for one item, a category, or every line of the
//! kind — as a percentage of the line's net amount or a fixed amount per unit, tiered by the staff member's sales
//! this month. Settlement picks the most specific active rule (item, then category, then the kind), so two active
//! rules for the same thing are refused.

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use entity::{card_products, commission_rules, merchants, products, service_items};

use crate::domain::{Fen, MAX_AMOUNT_FEN, Permission, label};
use crate::foundation::audit::{self, Actor, Event};
use crate::foundation::principal::StaffPrincipal;
use crate::{AppContext, Conflict, Error, Result};

/// From `from_fen` of monthly sales on, the rule pays `value` (basis points or fen per unit, by the rule's mode).
#[derive(Clone, Debug)]
pub struct Tier {
    pub from_fen: Fen,
    pub value: i64,
}

#[derive(Clone, Debug)]
pub struct Rule {
    pub id: i64,
    pub line_kind: String,
    pub item_id: Option<i64>,
    pub category: Option<String>,
    pub mode: String,
    pub tiers: Vec<Tier>,
}

/// A rule as staff configure it.
#[derive(Clone, Debug)]
pub struct RuleView {
    pub rule: Rule,
    pub active: bool,
}

#[derive(Serialize, Deserialize)]
struct StoredTier {
    from_fen: i64,
    value: i64,
}

pub const LINE_KINDS: [&str; 4] = ["service", "product", "card_sale", "recharge"];
pub const MODES: [&str; 2] = ["percent", "fixed"];

fn to_rule(row: &commission_rules::Model) -> Result<Rule> {
    let tiers: Vec<StoredTier> = crate::domain::stored_json("commission tiers", &row.tiers)?;
    Ok(Rule {
        id: row.id,
        line_kind: row.line_kind.clone(),
        item_id: row.item_id,
        category: row.category.clone(),
        mode: row.mode.clone(),
        tiers: tiers.into_iter().map(|t| Tier { from_fen: Fen::new(t.from_fen), value: t.value }).collect(),
    })
}

fn to_view(row: commission_rules::Model) -> Result<RuleView> {
    Ok(RuleView { rule: to_rule(&row)?, active: row.active })
}

/// The merchant's active rules, oldest first, for settlement.
pub(crate) async fn active_rules(conn: &impl ConnectionTrait, merchant_id: i64) -> Result<Vec<Rule>> {
    commission_rules::Entity::find()
        .filter(commission_rules::Column::MerchantId.eq(merchant_id))
        .filter(commission_rules::Column::Active.eq(true))
        .order_by_asc(commission_rules::Column::Id)
        .all(conn)
        .await?
        .iter()
        .map(to_rule)
        .collect()
}

#[derive(Default)]
pub struct RuleInput {
    pub line_kind: Option<String>,
    /// `Some(None)` makes the rule apply to every item again.
    pub item_id: Option<Option<i64>>,
    /// `Some(None)` removes the category.
    pub category: Option<Option<String>>,
    pub mode: Option<String>,
    pub tiers: Option<Vec<Tier>>,
    pub active: Option<bool>,
}

/// A rule after a create or an edit, before it is checked as a whole.
struct Candidate {
    line_kind: String,
    item_id: Option<i64>,
    category: Option<String>,
    mode: String,
    tiers: Vec<Tier>,
    active: bool,
}

impl Candidate {
    fn overlay(mut self, input: RuleInput) -> Self {
        if let Some(kind) = input.line_kind {
            self.line_kind = kind;
        }
        if let Some(item) = input.item_id {
            self.item_id = item;
        }
        if let Some(category) = input.category {
            self.category = category;
        }
        if let Some(mode) = input.mode {
            self.mode = mode;
        }
        if let Some(tiers) = input.tiers {
            self.tiers = tiers;
        }
        if let Some(flag) = input.active {
            self.active = flag;
        }
        self
    }
}

fn check_tiers(mode: &str, tiers: &[Tier]) -> Result<()> {
    if tiers.is_empty() || tiers.len() > 10 {
        return Err(Error::invalid("tiers", "name 1–10 tiers"));
    }
    if tiers[0].from_fen != Fen::ZERO {
        return Err(Error::invalid("tiers", "the first tier starts at from_fen 0"));
    }
    if tiers.windows(2).any(|pair| pair[1].from_fen <= pair[0].from_fen) {
        return Err(Error::invalid("tiers", "from_fen must be strictly ascending"));
    }
    if tiers.iter().any(|t| t.from_fen > Fen::new(MAX_AMOUNT_FEN)) {
        return Err(Error::invalid("tiers", "from_fen must be at most ￥1,000,000 (in fen)"));
    }
    let (max, what) = if mode == "percent" {
        (10_000, "percent tiers pay 0–10000 basis points")
    } else {
        (MAX_AMOUNT_FEN, "fixed tiers pay 0 to ￥1,000,000 (in fen) per unit")
    };
    if tiers.iter().any(|t| !(0..=max).contains(&t.value)) {
        return Err(Error::invalid("tiers", what));
    }
    Ok(())
}

/// Checks the whole rule: shape first (no database), then that its item exists and no other active rule covers
/// the same thing.
async fn check(
    conn: &impl ConnectionTrait,
    merchant_id: i64,
    id: Option<i64>,
    mut rule: Candidate,
) -> Result<Candidate> {
    if !LINE_KINDS.contains(&rule.line_kind.as_str()) {
        return Err(Error::invalid("line_kind", "must be service, product, card_sale or recharge"));
    }
    if !MODES.contains(&rule.mode.as_str()) {
        return Err(Error::invalid("mode", "must be percent or fixed"));
    }
    check_tiers(&rule.mode, &rule.tiers)?;
    rule.category = rule.category.as_deref().map(|c| label("category", c)).transpose()?;
    if rule.item_id.is_some() && rule.category.is_some() {
        return Err(Error::invalid("category", "a rule is for an item or for a category, not both"));
    }
    if let Some(item_id) = rule.item_id {
        let exists = match rule.line_kind.as_str() {
            "service" => service_items::Entity::find_by_id(item_id)
                .filter(service_items::Column::MerchantId.eq(merchant_id))
                .one(conn)
                .await?
                .is_some(),
            "product" => products::Entity::find_by_id(item_id)
                .filter(products::Column::MerchantId.eq(merchant_id))
                .one(conn)
                .await?
                .is_some(),
            "card_sale" => card_products::Entity::find_by_id(item_id)
                .filter(card_products::Column::MerchantId.eq(merchant_id))
                .one(conn)
                .await?
                .is_some(),
            _ => return Err(Error::invalid("item_id", "recharge rules apply to every recharge")),
        };
        if !exists {
            return Err(Error::invalid("item_id", format!("no {} {item_id}", rule.line_kind.replace('_', " "))));
        }
    }
    if rule.active {
        let mut others = commission_rules::Entity::find()
            .filter(commission_rules::Column::MerchantId.eq(merchant_id))
            .filter(commission_rules::Column::Active.eq(true))
            .filter(commission_rules::Column::LineKind.eq(rule.line_kind.as_str()));
        if let Some(id) = id {
            others = others.filter(commission_rules::Column::Id.ne(id));
        }
        let same = others
            .all(conn)
            .await?
            .iter()
            .any(|other| other.item_id == rule.item_id && other.category == rule.category);
        if same {
            return Err(Error::Conflict(Conflict::RuleExists));
        }
    }
    Ok(rule)
}

/// Rule changes of one merchant queue behind each other (the merchant row's lock on PostgreSQL; SQLite has one
/// writer), so two of them cannot both find "no other active rule for this" and both commit.
async fn lock_rules(conn: &impl ConnectionTrait, merchant_id: i64) -> Result<()> {
    merchants::Entity::find_by_id(merchant_id).lock_exclusive().one(conn).await?.ok_or(Error::NotFound("merchant"))?;
    Ok(())
}

fn tiers_json(tiers: &[Tier]) -> Result<String> {
    let stored: Vec<StoredTier> =
        tiers.iter().map(|t| StoredTier { from_fen: t.from_fen.get(), value: t.value }).collect();
    Ok(serde_json::to_string(&stored).map_err(anyhow::Error::from)?)
}

async fn record(
    conn: &impl ConnectionTrait,
    principal: &StaffPrincipal,
    action: &'static str,
    row: &commission_rules::Model,
) -> Result<()> {
    audit::record(
        conn,
        Event {
            merchant_id: Some(principal.merchant_id),
            actor: Actor::Staff(principal.staff_id),
            action,
            target: Some(("commission_rule", row.id)),
            detail: json!({
                "line_kind": row.line_kind,
                "item_id": row.item_id,
                "category": row.category,
                "mode": row.mode,
                "tiers": serde_json::from_str::<serde_json::Value>(&row.tiers).unwrap_or_default(),
                "active": row.active,
            }),
            ip: None,
        },
    )
    .await
}

/// The merchant's rules, inactive ones included, for those who set them or read everyone's commission.
pub async fn list(ctx: &AppContext, principal: &StaffPrincipal) -> Result<Vec<RuleView>> {
    if !principal.can(Permission::LoyaltyManage) && !principal.can(Permission::CommissionRead) {
        return Err(Error::NeedsEither(Permission::LoyaltyManage, Permission::CommissionRead));
    }
    commission_rules::Entity::find()
        .filter(commission_rules::Column::MerchantId.eq(principal.merchant_id))
        .order_by_asc(commission_rules::Column::Id)
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(to_view)
        .collect()
}

pub async fn create(ctx: &AppContext, principal: &StaffPrincipal, input: RuleInput) -> Result<RuleView> {
    principal.require_merchant_wide(Permission::LoyaltyManage)?;
    for (field, present) in
        [("line_kind", input.line_kind.is_some()), ("mode", input.mode.is_some()), ("tiers", input.tiers.is_some())]
    {
        if !present {
            return Err(Error::invalid(field, "is required"));
        }
    }
    let empty = Candidate {
        line_kind: String::new(),
        item_id: None,
        category: None,
        mode: String::new(),
        tiers: vec![],
        active: true,
    };
    let txn = ctx.db.begin().await?;
    lock_rules(&txn, principal.merchant_id).await?;
    let rule = check(&txn, principal.merchant_id, None, empty.overlay(input)).await?;
    let row = commission_rules::ActiveModel {
        merchant_id: Set(principal.merchant_id),
        line_kind: Set(rule.line_kind),
        item_id: Set(rule.item_id),
        category: Set(rule.category),
        mode: Set(rule.mode),
        tiers: Set(tiers_json(&rule.tiers)?),
        active: Set(rule.active),
        created_at: Set(ctx.now()),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    record(&txn, principal, "commission_rule.created", &row).await?;
    txn.commit().await?;
    to_view(row)
}

pub async fn update(ctx: &AppContext, principal: &StaffPrincipal, id: i64, input: RuleInput) -> Result<RuleView> {
    principal.require_merchant_wide(Permission::LoyaltyManage)?;
    let txn = ctx.db.begin().await?;
    lock_rules(&txn, principal.merchant_id).await?;
    let row = commission_rules::Entity::find_by_id(id)
        .filter(commission_rules::Column::MerchantId.eq(principal.merchant_id))
        .one(&txn)
        .await?
        .ok_or(Error::NotFound("commission rule"))?;
    let current = to_rule(&row)?;
    let candidate = Candidate {
        line_kind: current.line_kind,
        item_id: current.item_id,
        category: current.category,
        mode: current.mode,
        tiers: current.tiers,
        active: row.active,
    };
    let rule = check(&txn, principal.merchant_id, Some(id), candidate.overlay(input)).await?;
    let mut active: commission_rules::ActiveModel = row.into();
    active.line_kind = Set(rule.line_kind);
    active.item_id = Set(rule.item_id);
    active.category = Set(rule.category);
    active.mode = Set(rule.mode);
    active.tiers = Set(tiers_json(&rule.tiers)?);
    active.active = Set(rule.active);
    let row = active.update(&txn).await?;
    record(&txn, principal, "commission_rule.updated", &row).await?;
    txn.commit().await?;
    to_view(row)
}

/// Demo data: an active rule.
pub(crate) async fn seed(
    conn: &impl ConnectionTrait,
    merchant_id: i64,
    line_kind: &str,
    item_id: Option<i64>,
    category: Option<&str>,
    mode: &str,
    tiers: &[Tier],
) -> Result<i64> {
    let row = commission_rules::ActiveModel {
        merchant_id: Set(merchant_id),
        line_kind: Set(line_kind.to_owned()),
        item_id: Set(item_id),
        category: Set(category.map(str::to_owned)),
        mode: Set(mode.to_owned()),
        tiers: Set(tiers_json(tiers)?),
        active: Set(true),
        created_at: Set(chrono::Utc::now()),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(row.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiers(list: &[(i64, i64)]) -> Vec<Tier> {
        list.iter().map(|&(from_fen, value)| Tier { from_fen: Fen::new(from_fen), value }).collect()
    }

    #[test]
    fn tiers_start_at_zero_and_ascend() {
        assert!(check_tiers("percent", &tiers(&[(0, 1000), (1_000_000, 1500)])).is_ok());
        assert!(check_tiers("percent", &[]).is_err());
        assert!(check_tiers("percent", &tiers(&[(100, 1000)])).is_err());
        assert!(check_tiers("percent", &tiers(&[(0, 1000), (0, 1500)])).is_err());
        assert!(check_tiers("percent", &tiers(&[(0, 1000), (500, 1500), (400, 1600)])).is_err());
        assert!(check_tiers("percent", &tiers(&[(0, 10_001)])).is_err());
        assert!(check_tiers("fixed", &tiers(&[(0, 10_001)])).is_ok());
        assert!(check_tiers("fixed", &tiers(&[(0, -1)])).is_err());
        let eleven: Vec<(i64, i64)> = (0..11).map(|i| (i * 100, 100)).collect();
        assert!(check_tiers("fixed", &tiers(&eleven)).is_err());
    }
}
