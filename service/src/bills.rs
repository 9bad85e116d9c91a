//! Checkout (开单/结账): bills with lines of services (with their staff), products, count-card sales and
//! recharges; a price preview that explains every step ([`crate::pricing`]); settlement with any mix of tenders
//! under an idempotency key; parking (挂单) and resuming; voiding before settlement; member confirmation of large
//! debits; and the data of each bill's receipt. Refunds and reversal (反结账) are in [`crate::refunds`].
//!
//! A settlement is one database transaction: the bill, its lines and tenders, stock movements, new count cards,
//! points lots, commission and one balanced journal entry commit together or not at all.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use entity::{bill_lines, bill_tenders, bills, count_cards, members, recharge_plans, staff, stores};

use crate::audit::{self, Actor, Event};
use crate::auth::StaffPrincipal;
use crate::card_products::CardProduct;
use crate::commission::{CommissionLine, StaffShare};
use crate::deferred::{Check, Deferred};
use crate::domain::{IdempotencyKey, Permission, fingerprint};
use crate::error::is_unique_violation;
use crate::ledger::{self, Account, AccountKind, Cause, Draft};
use crate::levels::LevelRule;
use crate::merchants::LoyaltySettings;
use crate::pricing::{self, LineKind, PointsRule, PriceError, PriceLine, Priced};
use crate::products::StockMoves;
use crate::reference::Reference;
use crate::stored_value::{self, MAX_AMOUNT_FEN};
use crate::{AppContext, Conflict, Error, Result};

// ---------------------------------------------------------------------------------------------------------------
// Requests

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct StaffInput {
    pub staff_id: i64,
    /// Share of the line in basis points; when no staff member on a line gives one, they share equally.
    pub share_bp: Option<i64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LineInput {
    /// `service`, `product`, `card_sale` or `recharge`.
    pub kind: String,
    /// The service item, product, count-card product or recharge plan.
    pub item_id: Option<i64>,
    pub quantity: i32,
    #[serde(default)]
    pub staff: Vec<StaffInput>,
    /// Services only: pay with this count card's sessions.
    pub count_card_id: Option<i64>,
    /// Recharges without a plan: the amount.
    pub amount_fen: Option<i64>,
}

/// What a bill is made of, before tenders: what preview prices and parking keeps.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BillDraft {
    pub store_id: i64,
    pub member_id: Option<i64>,
    pub lines: Vec<LineInput>,
    /// Points to use as an offset.
    #[serde(default)]
    pub points: i64,
    #[serde(default)]
    pub note: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TenderInput {
    /// `stored_value`, `cash` or `bank_card`. (`wechat_pay` and `alipay` come with the payments API.)
    pub kind: String,
    pub amount_fen: i64,
    /// Cash only: what the customer handed over, when more than `amount_fen`.
    pub tendered_fen: Option<i64>,
}

pub struct SettleInput {
    pub draft: BillDraft,
    pub tenders: Vec<TenderInput>,
    pub idempotency_key: String,
    /// A fresh member code scanned at the counter, confirming a large stored-value or count-card debit.
    pub member_code: Option<String>,
}

pub struct SettleParkedInput {
    pub tenders: Vec<TenderInput>,
    pub member_code: Option<String>,
}

// ---------------------------------------------------------------------------------------------------------------
// Results

#[derive(Clone, Debug)]
pub struct Line {
    pub id: i64,
    pub kind: String,
    pub item_id: i64,
    pub name: String,
    pub category: String,
    pub quantity: i32,
    pub unit_price: i64,
    pub amount: i64,
    pub discount: i64,
    pub points_offset: i64,
    pub net: i64,
    pub count_card_id: Option<i64>,
    pub recognised: i64,
    pub points_earned: i64,
    /// Gifts: the points the line cost.
    pub points_redeemed: i64,
    pub staff: Vec<StaffShare>,
    pub refunded_quantity: i32,
    pub refunded: i64,
    pub detail: serde_json::Value,
}

#[derive(Clone, Debug)]
pub struct Tender {
    pub kind: String,
    pub amount: i64,
    pub tendered: i64,
    pub change: i64,
    pub principal: i64,
    pub bonus: i64,
    pub refunded: i64,
}

#[derive(Clone, Debug)]
pub struct Bill {
    pub id: i64,
    pub store_id: i64,
    pub member_id: Option<i64>,
    pub status: String,
    pub subtotal: i64,
    pub discount: i64,
    pub points_used: i64,
    pub points_offset: i64,
    pub total: i64,
    pub change: i64,
    pub points_earned: i64,
    pub refunded: i64,
    pub level_id: Option<i64>,
    pub note: String,
    pub lines: Vec<Line>,
    pub tenders: Vec<Tender>,
    pub entry_id: Option<i64>,
    pub created_by: i64,
    pub created_at: DateTime<Utc>,
    pub settled_at: Option<DateTime<Utc>>,
    pub member_confirmed_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    /// A parked bill's draft, to resume.
    pub draft: Option<BillDraft>,
    /// True when the idempotency key had been seen and this is the first settlement's bill.
    pub replayed: bool,
}

/// One step of the price, in order, for the cashier and the receipt.
#[derive(Clone, Debug)]
pub struct Step {
    /// `subtotal`, `level_discount`, `coupon`, `points_offset` or `total`.
    pub step: &'static str,
    pub amount: i64,
    pub explanation: String,
}

#[derive(Clone, Debug)]
pub struct AllergyMatch {
    pub substance: String,
    pub severity: String,
    pub note: Option<String>,
    pub service_item_id: i64,
    pub service_name: String,
}

/// A priced draft: what the bill will cost and why.
#[derive(Clone, Debug)]
pub struct Quote {
    pub lines: Vec<Line>,
    pub steps: Vec<Step>,
    pub subtotal: i64,
    pub discount: i64,
    pub coupon: i64,
    pub points_used: i64,
    pub points_offset: i64,
    /// Points the gift lines cost.
    pub points_redeemed: i64,
    pub total: i64,
    pub points_earned: i64,
    pub points_available: i64,
    pub points_max: i64,
    pub level: Option<(i64, String)>,
    pub allergies: Vec<AllergyMatch>,
    /// The stored-value or count-card value above which the member must confirm, when the merchant asks for it.
    pub confirm_threshold_fen: Option<i64>,
}

// ---------------------------------------------------------------------------------------------------------------
// Resolving a draft against the catalog, the member and the rules

/// A line with everything pricing and settlement need.
#[derive(Clone, Debug)]
struct ResolvedLine {
    kind: LineKind,
    item_id: i64,
    name: String,
    category: String,
    quantity: i32,
    unit_price: i64,
    level_bp: i64,
    staff: Vec<StaffShare>,
    count_card: Option<count_cards::Model>,
    card_product: Option<CardProduct>,
    /// Recharges: bonus and validity of the plan.
    recharge: Option<(i64, Option<i32>)>,
    substances: Vec<String>,
    earns_points: bool,
    /// Gifts: the points one unit costs.
    points_price: i64,
    /// Recharges: the plan's bonus points.
    bonus_points: i64,
}

impl ResolvedLine {
    /// Whether the line's net is revenue of its category at settlement (a count-card session's value is recognised
    /// from the card instead; card sales and recharges are prepaid value, gifts are paid in points).
    fn earns_revenue(&self) -> bool {
        matches!(self.kind, LineKind::Service | LineKind::Product) && self.count_card.is_none()
    }
}

struct Resolved {
    store_id: i64,
    /// The merchant's stores, levels and menu at the version this bill was checked against.
    reference: Arc<Reference>,
    member: Option<members::Model>,
    level: Option<LevelRule>,
    settings: LoyaltySettings,
    split: stored_value::SplitRule,
    lines: Vec<ResolvedLine>,
    points_available: i64,
}

impl Resolved {
    fn points_rule(&self) -> PointsRule {
        PointsRule {
            per_yuan: i64::from(self.settings.points_per_yuan),
            multiplier_pct: self.level.as_ref().map_or(100, |level| i64::from(level.points_multiplier_pct)),
            per_yuan_offset: i64::from(self.settings.points_per_yuan_offset),
        }
    }

    fn price(&self, points: i64) -> Result<Priced> {
        let lines: Vec<PriceLine> = self
            .lines
            .iter()
            .map(|line| PriceLine {
                kind: line.kind,
                unit_price: line.unit_price,
                quantity: i64::from(line.quantity),
                level_bp: line.level_bp,
                by_card: line.count_card.is_some(),
                earns_points: line.earns_points,
                points_price: line.points_price,
                bonus_points: line.bonus_points,
            })
            .collect();
        pricing::price(&lines, points, self.points_available, self.points_rule()).map_err(|e| match e {
            PriceError::RedemptionOff => Error::invalid("points", "this merchant does not take points at checkout"),
            PriceError::TooManyPoints { max } => {
                Error::invalid("points", format!("the member has fewer points: at most {max} can be used"))
            }
            PriceError::GiftsExceedPoints { needed, available } => {
                Error::invalid("lines", format!("the gifts cost {needed} points and the member has {available}"))
            }
        })
    }

    fn member_id(&self) -> Option<i64> {
        self.member.as_ref().map(|m| m.id)
    }

    /// The bill's store is one where `principal` may take money now.
    fn require_open(&self, principal: &StaffPrincipal) -> Result<()> {
        self.reference.require_open(principal, self.store_id).map(|_| ())
    }
}

const MAX_LINES: usize = 50;

fn id_of(line: &LineInput, what: &str) -> Result<i64> {
    line.item_id.ok_or_else(|| Error::invalid("lines", format!("a {what} line needs item_id")))
}

fn shares(inputs: &[StaffInput]) -> Result<Vec<StaffShare>> {
    if inputs.len() > 5 {
        return Err(Error::invalid("lines", "at most 5 staff on one line"));
    }
    let mut seen = BTreeSet::new();
    if !inputs.iter().all(|s| seen.insert(s.staff_id)) {
        return Err(Error::invalid("lines", "a staff member appears twice on one line"));
    }
    if inputs.iter().all(|s| s.share_bp.is_none()) {
        let even = crate::money::spread(10_000, &vec![1; inputs.len()]);
        return Ok(inputs
            .iter()
            .zip(even)
            .map(|(s, share_bp)| StaffShare { staff_id: s.staff_id, share_bp })
            .collect());
    }
    let given: Option<Vec<i64>> = inputs.iter().map(|s| s.share_bp.filter(|bp| (1..=10_000).contains(bp))).collect();
    match given {
        Some(bps) if bps.iter().sum::<i64>() == 10_000 => {
            Ok(inputs.iter().zip(bps).map(|(s, share_bp)| StaffShare { staff_id: s.staff_id, share_bp }).collect())
        }
        _ => Err(Error::invalid("lines", "staff shares must each be 1–10000 basis points and add up to 10000")),
    }
}

/// The merchant's rows of `E` with these ids, by id; no query at all when there are none.
async fn by_id<E: EntityTrait>(
    conn: &impl ConnectionTrait,
    merchant: E::Column,
    id: E::Column,
    merchant_id: i64,
    ids: Vec<i64>,
    key: impl Fn(&E::Model) -> i64,
) -> Result<BTreeMap<i64, E::Model>> {
    if ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    let rows = E::find().filter(merchant.eq(merchant_id)).filter(id.is_in(ids)).all(conn).await?;
    Ok(rows.into_iter().map(|row| (key(&row), row)).collect())
}

/// Resolves `draft`. The member's points balance is read only when the draft uses points or `for_preview` asks for
/// it (settlement re-checks it under the lots' lock anyway).
async fn resolve(
    ctx: &AppContext,
    conn: &impl ConnectionTrait,
    merchant_id: i64,
    draft: &BillDraft,
    for_preview: bool,
) -> Result<Resolved> {
    if draft.lines.is_empty() || draft.lines.len() > MAX_LINES {
        return Err(Error::invalid("lines", "a bill has 1–50 lines"));
    }
    if !(0..=crate::points::MAX_POINTS).contains(&draft.points) {
        return Err(Error::invalid("points", "must be 0–100,000,000"));
    }
    if draft.note.chars().count() > 200 {
        return Err(Error::invalid("note", "at most 200 characters"));
    }
    let (member, merchant) =
        crate::members::live_row_and_merchant(conn, merchant_id, draft.member_id).await.map_err(|e| match e {
            Error::NotFound("member") => Error::invalid("member_id", "no such member"),
            other => other,
        })?;
    let (settings, split) = crate::merchants::checkout_settings(&merchant);
    let reference = ctx.reference.get(conn, &merchant).await?;
    let level =
        member.as_ref().and_then(|m| m.level_id).and_then(|id| reference.levels.iter().find(|l| l.id == id).cloned());
    let services = &reference.services;
    let product_rows = &reference.products;
    let card_ids: Vec<i64> = draft.lines.iter().filter_map(|l| l.count_card_id).collect();
    let cards = by_id::<count_cards::Entity>(
        conn,
        count_cards::Column::MerchantId,
        count_cards::Column::Id,
        merchant_id,
        card_ids,
        |row| row.id,
    )
    .await?;
    let staff_ids: BTreeSet<i64> = draft.lines.iter().flat_map(|l| l.staff.iter().map(|s| s.staff_id)).collect();
    if !staff_ids.is_empty() {
        let found: BTreeSet<i64> = staff::Entity::find()
            .select_only()
            .column(staff::Column::Id)
            .filter(staff::Column::MerchantId.eq(merchant_id))
            .filter(staff::Column::Active.eq(true))
            .filter(staff::Column::Id.is_in(staff_ids.iter().copied()))
            .into_tuple::<i64>()
            .all(conn)
            .await?
            .into_iter()
            .collect();
        if let Some(missing) = staff_ids.iter().find(|id| !found.contains(id)) {
            return Err(Error::invalid("lines", format!("no active staff member {missing}")));
        }
    }
    let excluded: BTreeSet<&str> = settings.points_excluded_categories.iter().map(String::as_str).collect();
    let level_bp = |category: &str| -> i64 {
        level
            .as_ref()
            .map_or(10_000, |l| i64::from(l.category_discounts.get(category).copied().unwrap_or(l.discount_bp)))
    };
    let needs_member = |what: &str| -> Result<()> {
        if member.is_none() {
            return Err(Error::invalid("member_id", format!("{what} needs the bill's member")));
        }
        Ok(())
    };

    let mut lines = Vec::with_capacity(draft.lines.len());
    for input in &draft.lines {
        let kind = LineKind::parse(&input.kind)
            .ok_or_else(|| Error::invalid("lines", "kind must be service, product, gift, card_sale or recharge"))?;
        if !(1..=99).contains(&input.quantity) {
            return Err(Error::invalid("lines", "quantity must be 1–99"));
        }
        if input.count_card_id.is_some() && kind != LineKind::Service {
            return Err(Error::invalid("lines", "only service lines can be paid by a count card"));
        }
        if input.amount_fen.is_some() && kind != LineKind::Recharge {
            return Err(Error::invalid("lines", "only recharge lines have amount_fen"));
        }
        let staff = shares(&input.staff)?;
        let quantity = input.quantity;
        let line = match kind {
            LineKind::Service => {
                let id = id_of(input, "service")?;
                let item = services
                    .get(&id)
                    .filter(|item| item.active)
                    .ok_or_else(|| Error::invalid("lines", format!("no service item {id}")))?;
                let level_price = level.as_ref().and_then(|l| {
                    serde_json::from_str::<BTreeMap<String, i64>>(&item.level_prices)
                        .ok()
                        .and_then(|prices| prices.get(&l.id.to_string()).copied())
                });
                let count_card = match input.count_card_id {
                    Some(card_id) => {
                        needs_member("a count card")?;
                        let card =
                            cards.get(&card_id).filter(|card| Some(card.member_id) == draft.member_id).ok_or_else(
                                || Error::invalid("lines", format!("no count card {card_id} of this member")),
                            )?;
                        let covered: Vec<i64> = serde_json::from_str(&card.service_item_ids).unwrap_or_default();
                        if !covered.contains(&id) {
                            return Err(Error::invalid(
                                "lines",
                                format!("count card {card_id} does not cover {}", item.name),
                            ));
                        }
                        Some(card.clone())
                    }
                    None => None,
                };
                ResolvedLine {
                    kind,
                    item_id: id,
                    name: item.name.clone(),
                    category: item.category.clone(),
                    quantity,
                    unit_price: level_price.unwrap_or(item.price_fen),
                    level_bp: if level_price.is_some() { 10_000 } else { level_bp(&item.category) },
                    staff,
                    count_card,
                    card_product: None,
                    recharge: None,
                    substances: serde_json::from_str(&item.substances).unwrap_or_default(),
                    earns_points: !excluded.contains(item.category.as_str()),
                    points_price: 0,
                    bonus_points: 0,
                }
            }
            LineKind::Product => {
                let id = id_of(input, "product")?;
                let item = product_rows
                    .get(&id)
                    .filter(|item| item.active)
                    .ok_or_else(|| Error::invalid("lines", format!("no product {id}")))?;
                ResolvedLine {
                    kind,
                    item_id: id,
                    name: item.name.clone(),
                    category: item.category.clone(),
                    quantity,
                    unit_price: item.price_fen,
                    level_bp: level_bp(&item.category),
                    staff,
                    count_card: None,
                    card_product: None,
                    recharge: None,
                    substances: Vec::new(),
                    earns_points: !excluded.contains(item.category.as_str()),
                    points_price: 0,
                    bonus_points: 0,
                }
            }
            LineKind::Gift => {
                needs_member("a gift for points")?;
                let id = id_of(input, "gift")?;
                let item = product_rows
                    .get(&id)
                    .filter(|item| item.active)
                    .ok_or_else(|| Error::invalid("lines", format!("no product {id}")))?;
                let points_price = item
                    .points_price
                    .filter(|p| *p > 0)
                    .ok_or_else(|| Error::invalid("lines", format!("{} is not redeemable for points", item.name)))?;
                ResolvedLine {
                    kind,
                    item_id: id,
                    name: item.name.clone(),
                    category: item.category.clone(),
                    quantity,
                    unit_price: 0,
                    level_bp: 10_000,
                    staff,
                    count_card: None,
                    card_product: None,
                    recharge: None,
                    substances: Vec::new(),
                    earns_points: false,
                    points_price,
                    bonus_points: 0,
                }
            }
            LineKind::CardSale => {
                needs_member("selling a count card")?;
                if quantity != 1 {
                    return Err(Error::invalid("lines", "sell one count card per line"));
                }
                let product = crate::card_products::get_active(conn, merchant_id, id_of(input, "card_sale")?).await?;
                ResolvedLine {
                    kind,
                    item_id: product.id,
                    name: product.name.clone(),
                    category: "次卡".to_owned(),
                    quantity,
                    unit_price: product.price_fen,
                    level_bp: 10_000,
                    staff,
                    count_card: None,
                    card_product: Some(product),
                    recharge: None,
                    substances: Vec::new(),
                    earns_points: false,
                    points_price: 0,
                    bonus_points: 0,
                }
            }
            LineKind::Recharge => {
                needs_member("a recharge")?;
                if quantity != 1 {
                    return Err(Error::invalid("lines", "one recharge per line"));
                }
                let (item_id, name, pay, bonus, bonus_points, days) = match (input.item_id, input.amount_fen) {
                    (Some(plan_id), None) => {
                        let plan = recharge_plans::Entity::find_by_id(plan_id)
                            .filter(recharge_plans::Column::MerchantId.eq(merchant_id))
                            .filter(recharge_plans::Column::Active.eq(true))
                            .one(conn)
                            .await?
                            .ok_or_else(|| Error::invalid("lines", format!("no recharge plan {plan_id}")))?;
                        (plan.id, plan.name, plan.pay_fen, plan.bonus_fen, plan.bonus_points, plan.validity_days)
                    }
                    (None, Some(fen)) if fen > 0 && fen <= MAX_AMOUNT_FEN => (0, "储值".to_owned(), fen, 0, 0, None),
                    _ => {
                        return Err(Error::invalid(
                            "lines",
                            "a recharge line has either a plan (item_id) or an amount_fen of ￥0.01–￥1,000,000",
                        ));
                    }
                };
                ResolvedLine {
                    kind,
                    item_id,
                    name,
                    category: "储值".to_owned(),
                    quantity,
                    unit_price: pay,
                    level_bp: 10_000,
                    staff,
                    count_card: None,
                    card_product: None,
                    recharge: Some((bonus, days)),
                    substances: Vec::new(),
                    earns_points: false,
                    points_price: 0,
                    bonus_points,
                }
            }
        };
        lines.push(line);
    }
    let gross: i128 = lines.iter().map(|l| i128::from(l.unit_price) * i128::from(l.quantity)).sum();
    if gross > i128::from(MAX_AMOUNT_FEN) {
        return Err(Error::invalid("lines", "a bill may not exceed ￥1,000,000"));
    }
    if draft.points > 0 && member.is_none() {
        return Err(Error::invalid("points", "points need the bill's member"));
    }
    let points_available = match &member {
        Some(m) if for_preview || draft.points > 0 || lines.iter().any(|l| l.kind == LineKind::Gift) => {
            crate::points::available(conn, m.id, ctx.now()).await?
        }
        _ => 0,
    };
    Ok(Resolved { store_id: draft.store_id, reference, member, level, settings, split, lines, points_available })
}

fn steps(priced: &Priced, level: Option<&LevelRule>, points_rate: i64) -> Vec<Step> {
    let level_name = level.map_or_else(|| "无等级".to_owned(), |l| l.name.clone());
    vec![
        Step { step: "subtotal", amount: priced.subtotal, explanation: "单价 × 数量".to_owned() },
        Step {
            step: "level_discount",
            amount: -priced.discount,
            explanation: format!("{level_name} 会员折扣，逐行四舍五入到分"),
        },
        Step { step: "coupon", amount: -priced.coupon, explanation: "优惠券 (暂无)".to_owned() },
        Step {
            step: "points_offset",
            amount: -priced.points_offset,
            explanation: match (priced.points_used, priced.points_redeemed) {
                (0, 0) => "未使用积分".to_owned(),
                (used, 0) => format!("{used} 积分抵现，{points_rate} 积分 = ￥1"),
                (0, gifts) => format!("{gifts} 积分兑换礼品"),
                (used, gifts) => format!("{gifts} 积分兑换礼品；{used} 积分抵现，{points_rate} 积分 = ￥1"),
            },
        },
        Step { step: "total", amount: priced.total, explanation: "应收 (次卡支付的项目不计)".to_owned() },
    ]
}

fn quote_lines(resolved: &Resolved, priced: &Priced) -> Vec<Line> {
    resolved
        .lines
        .iter()
        .zip(&priced.lines)
        .map(|(line, p)| Line {
            id: 0,
            kind: line.kind.as_str().to_owned(),
            item_id: line.item_id,
            name: line.name.clone(),
            category: line.category.clone(),
            quantity: line.quantity,
            unit_price: line.unit_price,
            amount: p.amount,
            discount: p.discount,
            points_offset: p.points_offset,
            net: p.net,
            count_card_id: line.count_card.as_ref().map(|c| c.id),
            recognised: 0,
            points_earned: p.points_earned,
            points_redeemed: p.points_redeemed,
            staff: line.staff.clone(),
            refunded_quantity: 0,
            refunded: 0,
            detail: json!({}),
        })
        .collect()
}

async fn allergy_matches(ctx: &AppContext, resolved: &Resolved) -> Result<Vec<AllergyMatch>> {
    let Some(member) = &resolved.member else { return Ok(Vec::new()) };
    let services: Vec<(i64, &str, &[String])> = resolved
        .lines
        .iter()
        .filter(|l| l.kind == LineKind::Service)
        .map(|l| (l.item_id, l.name.as_str(), l.substances.as_slice()))
        .collect();
    matching_allergies(ctx, member.id, &services).await
}

/// The member's allergy notes that match the substances of these services (`(item id, name, substances)`).
pub(crate) async fn matching_allergies(
    ctx: &AppContext,
    member_id: i64,
    services: &[(i64, &str, &[String])],
) -> Result<Vec<AllergyMatch>> {
    if services.iter().all(|(_, _, substances)| substances.is_empty()) {
        return Ok(Vec::new());
    }
    let allergies = crate::members::allergies_of(ctx, member_id).await?;
    let mut found = Vec::new();
    for allergy in &allergies {
        let substance = allergy.substance.trim().to_lowercase();
        for (item_id, name, substances) in services {
            if substances.iter().any(|s| {
                let s = s.trim().to_lowercase();
                !s.is_empty() && (s.contains(&substance) || substance.contains(&s))
            }) {
                found.push(AllergyMatch {
                    substance: allergy.substance.clone(),
                    severity: allergy.severity.as_str().to_owned(),
                    note: allergy.note.clone(),
                    service_item_id: *item_id,
                    service_name: (*name).to_owned(),
                });
            }
        }
    }
    Ok(found)
}

/// Prices a draft without writing anything: every step explained, the points the member has and can use, and the
/// member's allergy notes that match the services.
pub async fn preview(ctx: &AppContext, principal: &StaffPrincipal, draft: BillDraft) -> Result<Quote> {
    principal.require(Permission::Checkout)?;
    let resolved = resolve(ctx, &ctx.db, principal.merchant_id, &draft, true).await?;
    resolved.require_open(principal)?;
    let priced = resolved.price(draft.points)?;
    Ok(Quote {
        lines: quote_lines(&resolved, &priced),
        steps: steps(&priced, resolved.level.as_ref(), i64::from(resolved.settings.points_per_yuan_offset)),
        subtotal: priced.subtotal,
        discount: priced.discount,
        coupon: priced.coupon,
        points_used: priced.points_used,
        points_offset: priced.points_offset,
        points_redeemed: priced.points_redeemed,
        total: priced.total,
        points_earned: priced.points_earned,
        points_available: resolved.points_available,
        points_max: priced.points_max,
        level: resolved.level.as_ref().map(|l| (l.id, l.name.clone())),
        allergies: allergy_matches(ctx, &resolved).await?,
        confirm_threshold_fen: resolved.settings.confirm_threshold_fen,
    })
}

// ---------------------------------------------------------------------------------------------------------------
// Tenders

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TenderKind {
    StoredValue,
    Cash,
    BankCard,
    /// Taken only through a payment (a payment code at the counter): never named by the cashier directly.
    WechatPay,
    Alipay,
}

impl TenderKind {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "stored_value" => Some(TenderKind::StoredValue),
            "cash" => Some(TenderKind::Cash),
            "bank_card" => Some(TenderKind::BankCard),
            "wechat_pay" => Some(TenderKind::WechatPay),
            "alipay" => Some(TenderKind::Alipay),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TenderKind::StoredValue => "stored_value",
            TenderKind::Cash => "cash",
            TenderKind::BankCard => "bank_card",
            TenderKind::WechatPay => "wechat_pay",
            TenderKind::Alipay => "alipay",
        }
    }

    /// The store account a tender's money lands in (stored value has none: it comes from the member's card).
    pub(crate) fn account(self, store_id: i64) -> Option<Account> {
        match self {
            TenderKind::StoredValue => None,
            TenderKind::Cash => Some(Account::store(store_id, AccountKind::Cash)),
            TenderKind::BankCard => Some(Account::store(store_id, AccountKind::BankCard)),
            TenderKind::WechatPay => Some(Account::store(store_id, AccountKind::WechatPay)),
            TenderKind::Alipay => Some(Account::store(store_id, AccountKind::Alipay)),
        }
    }

    /// WeChat Pay and Alipay: money that came through a provider and goes back through it.
    pub fn is_external(self) -> bool {
        matches!(self, TenderKind::WechatPay | TenderKind::Alipay)
    }
}

struct CheckedTender {
    kind: TenderKind,
    amount: i64,
    tendered: i64,
}

fn check_tenders(inputs: &[TenderInput], member: Option<i64>) -> Result<Vec<CheckedTender>> {
    if inputs.len() > 5 {
        return Err(Error::invalid("tenders", "at most 5 tenders"));
    }
    let mut seen = Vec::new();
    let mut out = Vec::with_capacity(inputs.len());
    for tender in inputs {
        let kind = TenderKind::parse(&tender.kind).filter(|k| !k.is_external()).ok_or_else(|| {
            Error::invalid(
                "tenders",
                "kind must be stored_value, cash or bank_card (WeChat Pay and Alipay: scan the customer's payment code)",
            )
        })?;
        if seen.contains(&kind) {
            return Err(Error::invalid("tenders", "each kind at most once"));
        }
        seen.push(kind);
        if tender.amount_fen <= 0 || tender.amount_fen > MAX_AMOUNT_FEN {
            return Err(Error::invalid("tenders", "amount_fen must be more than 0 and at most ￥1,000,000"));
        }
        let tendered = match (kind, tender.tendered_fen) {
            (TenderKind::Cash, Some(given)) if given < tender.amount_fen || given > MAX_AMOUNT_FEN => {
                return Err(Error::invalid("tenders", "cash tendered_fen must cover amount_fen"));
            }
            (TenderKind::Cash, Some(given)) => given,
            (_, Some(_)) => return Err(Error::invalid("tenders", "only cash has tendered_fen")),
            (_, None) => tender.amount_fen,
        };
        if kind == TenderKind::StoredValue && member.is_none() {
            return Err(Error::invalid("tenders", "stored value needs the bill's member"));
        }
        out.push(CheckedTender { kind, amount: tender.amount_fen, tendered });
    }
    Ok(out)
}

/// Tenders must pay the total exactly, and stored value cannot pay for a recharge.
fn check_cover(tenders: &[CheckedTender], resolved: &Resolved, priced: &Priced) -> Result<()> {
    let paid: i64 = tenders.iter().map(|t| t.amount).sum();
    if paid != priced.total {
        return Err(Error::invalid(
            "tenders",
            format!("tenders add up to {paid} fen but the bill is {} fen", priced.total),
        ));
    }
    let recharges: i64 = resolved
        .lines
        .iter()
        .zip(&priced.lines)
        .filter(|(line, _)| line.kind == LineKind::Recharge)
        .map(|(_, p)| p.net)
        .sum();
    let stored: i64 = tenders.iter().filter(|t| t.kind == TenderKind::StoredValue).map(|t| t.amount).sum();
    if stored > priced.total - recharges {
        return Err(Error::invalid("tenders", "stored value cannot pay for a recharge"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------------
// Member confirmation (optional per merchant)

/// Whether this settlement debits more stored value or count-card value than the merchant lets go unconfirmed.
fn needs_confirmation(resolved: &Resolved, tenders: &[CheckedTender]) -> bool {
    let Some(threshold) = resolved.settings.confirm_threshold_fen else { return false };
    let stored: i64 = tenders.iter().filter(|t| t.kind == TenderKind::StoredValue).map(|t| t.amount).sum();
    let sessions: i64 = resolved
        .lines
        .iter()
        .filter_map(|line| {
            let card = line.count_card.as_ref()?;
            Some(card.price_fen * i64::from(line.quantity) / i64::from(std::cmp::max(card.sessions_total, 1)))
        })
        .sum();
    stored > threshold || sessions > threshold
}

fn check_confirmation(
    ctx: &AppContext,
    resolved: &Resolved,
    tenders: &[CheckedTender],
    member_code: Option<&str>,
    confirmed_in_app: bool,
) -> Result<()> {
    if !needs_confirmation(resolved, tenders) || confirmed_in_app {
        return Ok(());
    }
    let Some(code) = member_code else { return Err(Error::Conflict(Conflict::MemberConfirmationRequired)) };
    let claims = crate::member_auth::verify_member_code(ctx, code)?;
    if Some(claims.member_id) != resolved.member_id() {
        return Err(Error::invalid("member_code", "this member code belongs to another member"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------------
// Settlement

fn bill_fingerprint(draft: &BillDraft, tenders: &[TenderInput]) -> String {
    fingerprint(&json!(["bill", draft, tenders]))
}

/// A new bill: parked (its tenders come when it is settled) or settled at once.
pub async fn create(ctx: &AppContext, principal: &StaffPrincipal, input: SettleInput, park: bool) -> Result<Bill> {
    if !park {
        return settle(ctx, principal, input).await;
    }
    if !input.tenders.is_empty() {
        return Err(Error::invalid("tenders", "a parked bill takes its tenders when it is settled"));
    }
    self::park(ctx, principal, input.draft, &input.idempotency_key).await
}

/// Settles a new bill in one transaction. The same idempotency key with the same bill returns the first
/// settlement; with another bill it is refused.
pub async fn settle(ctx: &AppContext, principal: &StaffPrincipal, input: SettleInput) -> Result<Bill> {
    principal.require(Permission::Checkout)?;
    let key = IdempotencyKey::parse(&input.idempotency_key).map_err(|m| Error::invalid("idempotency_key", m))?;
    let merchant_id = principal.merchant_id;
    let fingerprint = bill_fingerprint(&input.draft, &input.tenders);
    // A retry is answered by the first settlement: found when its insert meets the first bill's key, or when its
    // checks fail (the store may have closed since). First tries, nearly all of them, skip the look-up.
    let (tenders, resolved, priced) = match check_settlement(ctx, principal, &input).await {
        Ok(checked) => checked,
        Err(err) => return replay(ctx, merchant_id, &key, &fingerprint).await?.ok_or(err),
    };

    let now = ctx.now();
    let txn = ctx.db.begin().await?;
    let inserted = bills::ActiveModel {
        merchant_id: Set(merchant_id),
        store_id: Set(input.draft.store_id),
        member_id: Set(input.draft.member_id),
        status: Set("settled".to_owned()),
        subtotal_fen: Set(priced.subtotal),
        total_fen: Set(priced.total),
        change_fen: Set(0),
        idempotency_key: Set(key.as_str().to_owned()),
        fingerprint: Set(fingerprint.clone()),
        entry_id: Set(None),
        created_by: Set(principal.staff_id),
        created_at: Set(now),
        settled_at: Set(Some(now)),
        discount_fen: Set(priced.discount),
        points_used: Set(priced.points_used),
        points_offset_fen: Set(priced.points_offset),
        points_earned: Set(priced.points_earned),
        refunded_fen: Set(0),
        level_id: Set(resolved.level.as_ref().map(|l| l.id)),
        note: Set(input.draft.note.trim().to_owned()),
        request: Set("{}".to_owned()),
        member_confirmed_at: Set(None),
        closed_at: Set(None),
        closed_by: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await;
    let row = match inserted {
        Ok(row) => row,
        Err(err) if is_unique_violation(&err) => {
            drop(txn);
            return replay(ctx, merchant_id, &key, &fingerprint).await?.ok_or(Error::Database(err));
        }
        Err(err) => return Err(err.into()),
    };
    let written = write_settlement(&txn, By::staff(principal), row.id, &resolved, &priced, &tenders, now).await?;
    txn.commit().await?;
    // The receipt is queued: wake the store's bridge now rather than at its next look.
    crate::bridge::announce(ctx, row.store_id).await;
    Ok(written.into_bill(row))
}

/// Everything a new bill must pass before its transaction starts: its store, tenders, lines, price and cover.
async fn check_settlement(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    input: &SettleInput,
) -> Result<(Vec<CheckedTender>, Resolved, Priced)> {
    let tenders = check_tenders(&input.tenders, input.draft.member_id)?;
    let resolved = resolve(ctx, &ctx.db, principal.merchant_id, &input.draft, false).await?;
    resolved.require_open(principal)?;
    let priced = resolved.price(input.draft.points)?;
    check_cover(&tenders, &resolved, &priced)?;
    check_confirmation(ctx, &resolved, &tenders, input.member_code.as_deref(), false)?;
    Ok((tenders, resolved, priced))
}

/// Who settles: the cashier, or the cashier who started a payment that completed later.
#[derive(Clone, Copy, Debug)]
struct By {
    merchant_id: i64,
    staff_id: i64,
}

impl By {
    fn staff(principal: &StaffPrincipal) -> Self {
        Self { merchant_id: principal.merchant_id, staff_id: principal.staff_id }
    }
}

/// What a settlement wrote besides the bill row, so the answer needs no second read.
struct Written {
    entry_id: i64,
    change: i64,
    lines: Vec<bill_lines::Model>,
    tenders: Vec<bill_tenders::Model>,
}

impl Written {
    /// The settled bill: `row` as claimed or inserted, with what was written since.
    fn into_bill(self, mut row: bills::Model) -> Bill {
        row.entry_id = Some(self.entry_id);
        row.change_fen = self.change;
        let (mut lines, mut tenders) = (self.lines, self.tenders);
        lines.sort_by_key(|l| l.id);
        tenders.sort_by_key(|t| t.id);
        to_bill(row, lines, tenders, false)
    }
}

/// Writes everything a settlement does on `txn` for the bill row `bill_id` (already marked settled).
async fn write_settlement(
    txn: &DatabaseTransaction,
    by: By,
    bill_id: i64,
    resolved: &Resolved,
    priced: &Priced,
    tenders: &[CheckedTender],
    now: DateTime<Utc>,
) -> Result<Written> {
    let By { merchant_id, staff_id } = by;
    let store_id = resolved.store_id;
    let member_id = resolved.member_id();
    let mut draft = Draft::new(merchant_id, "sale", Cause::Staff(staff_id));
    draft.store_id = Some(store_id);
    draft.member_id = member_id;
    draft.bill_id = Some(bill_id);
    draft.memo = format!("结账 #{bill_id}");
    // The writes nothing in this transaction reads back, sent last (below).
    let mut tail = Deferred::new();

    // The store's accounts this bill posts to are read with the member's balances: one query, not two.
    draft.expect(tenders.iter().filter_map(|tender| tender.kind.account(store_id)));
    let revenue_lines = resolved.lines.iter().filter(|line| line.earns_revenue());
    draft.expect(revenue_lines.map(|line| Account::revenue(store_id, &line.category)));
    if let Some(member) = member_id.filter(|_| priced.points_earned > 0) {
        draft.expect(crate::points::earn_accounts(store_id, member));
    }

    // Money in.
    let mut tender_rows = Vec::with_capacity(tenders.len());
    for tender in tenders {
        let (principal_part, bonus_part) = match (tender.kind.account(store_id), member_id) {
            (Some(account), _) => {
                draft.debit(account, tender.amount);
                (0, 0)
            }
            (None, Some(member)) => {
                stored_value::debit_into(txn, merchant_id, member, tender.amount, resolved.split, &mut draft).await?
            }
            (None, None) => return Err(Error::invalid("tenders", "stored value needs the bill's member")),
        };
        tender_rows.push(bill_tenders::ActiveModel {
            bill_id: Set(bill_id),
            kind: Set(tender.kind.as_str().to_owned()),
            amount_fen: Set(tender.amount),
            tendered_fen: Set(tender.tendered),
            change_fen: Set(tender.tendered - tender.amount),
            principal_fen: Set(principal_part),
            bonus_fen: Set(bonus_part),
            refunded_fen: Set(0),
            refunded_principal_fen: Set(0),
            ..Default::default()
        });
    }
    let tender_rows = if tender_rows.is_empty() {
        Vec::new()
    } else {
        bill_tenders::Entity::insert_many(tender_rows).exec_with_returning(txn).await?
    };

    // What each line delivers.
    let mut line_rows = Vec::with_capacity(resolved.lines.len());
    // What each line earned the store, for commission: its net, or a count-card session's recognised value.
    let mut bases = Vec::with_capacity(resolved.lines.len());
    let mut revenue: BTreeMap<&str, i64> = BTreeMap::new();
    let mut stock = StockMoves::new(merchant_id, store_id, "sale", bill_id, staff_id);
    for (line, p) in resolved.lines.iter().zip(&priced.lines) {
        let mut recognised = 0;
        let mut detail = json!({});
        match line.kind {
            LineKind::Service if line.count_card.is_some() => {
                let card = line.count_card.as_ref().map_or(0, |c| c.id);
                let member = member_id.unwrap_or_default();
                recognised = crate::count_cards::use_into(
                    txn,
                    merchant_id,
                    store_id,
                    member,
                    card,
                    line.item_id,
                    i64::from(line.quantity),
                    &line.category,
                    now,
                    &mut draft,
                )
                .await?;
            }
            LineKind::Service => {}
            LineKind::Product | LineKind::Gift => stock.add(line.item_id, -i64::from(line.quantity)),
            LineKind::CardSale => {
                let product = line.card_product.as_ref().ok_or(Error::invalid("lines", "no count-card product"))?;
                let member = member_id.unwrap_or_default();
                let card_id = crate::count_cards::issue_into(
                    txn,
                    merchant_id,
                    store_id,
                    member,
                    product,
                    Some(bill_id),
                    now,
                    &mut draft,
                )
                .await?;
                detail = json!({ "count_card_id": card_id });
            }
            LineKind::Recharge => {
                let (bonus, days) = line.recharge.unwrap_or((0, None));
                let member = member_id.unwrap_or_default();
                stored_value::recharge_into(txn, merchant_id, store_id, member, p.net, bonus, days, &mut draft).await?;
                detail = json!({ "bonus_fen": bonus });
            }
        }
        if line.earns_revenue() {
            *revenue.entry(line.category.as_str()).or_default() += p.net;
        }
        bases.push(if line.count_card.is_some() { recognised } else { p.net });
        line_rows.push(bill_lines::ActiveModel {
            bill_id: Set(bill_id),
            kind: Set(line.kind.as_str().to_owned()),
            item_id: Set(line.item_id),
            name: Set(line.name.clone()),
            category: Set(line.category.clone()),
            quantity: Set(line.quantity),
            unit_price_fen: Set(line.unit_price),
            amount_fen: Set(p.amount),
            staff: Set(serde_json::to_string(&line.staff).map_err(anyhow::Error::from)?),
            discount_fen: Set(p.discount),
            points_offset_fen: Set(p.points_offset),
            net_fen: Set(p.net),
            count_card_id: Set(line.count_card.as_ref().map(|c| c.id)),
            recognised_fen: Set(recognised),
            points_earned: Set(p.points_earned),
            points_redeemed: Set(p.points_redeemed),
            refunded_quantity: Set(0),
            refunded_fen: Set(0),
            detail: Set(detail.to_string()),
            ..Default::default()
        });
    }
    for (category, amount) in revenue {
        draft.credit(Account::revenue(store_id, category), amount);
    }
    let line_rows = bill_lines::Entity::insert_many(line_rows).exec_with_returning(txn).await?;
    let line_ids: Vec<i64> = line_rows.iter().map(|l| l.id).collect();

    // Points: spent on the offset, earned on what was paid.
    let mut expiry = None;
    if let Some(member) = member_id {
        let spent = priced.points_used + priced.points_redeemed;
        expiry = crate::points::spend_into(txn, merchant_id, store_id, member, spent, now, &mut draft).await?;
        let lot = crate::points::NewLot {
            merchant_id,
            store_id,
            member_id: member,
            points: priced.points_earned,
            source: "earn",
            bill_id: Some(bill_id),
            validity_days: resolved.settings.points_validity_days,
        };
        crate::points::grant_deferred(&mut tail, lot, now, &mut draft);
    }
    // Commission on every line with staff.
    let commission_lines: Vec<CommissionLine<'_>> = resolved
        .lines
        .iter()
        .zip(&line_ids)
        .zip(&bases)
        .map(|((line, id), basis)| CommissionLine {
            bill_line_id: *id,
            line_kind: line.kind.as_str(),
            item_id: line.item_id,
            category: &line.category,
            quantity: i64::from(line.quantity),
            basis_fen: *basis,
            staff: &line.staff,
        })
        .collect();
    crate::commission::record(txn, merchant_id, store_id, bill_id, &commission_lines, now).await?;

    // The member's spend, and an upgrade when it qualifies.
    if let Some(member) = &resolved.member {
        let spend: i64 = resolved
            .lines
            .iter()
            .zip(&priced.lines)
            .filter(|(line, _)| line.kind != LineKind::Recharge)
            .map(|(_, p)| p.net)
            .sum();
        // RETURNING gives the totals after this bill, read under the row lock the update takes.
        let updated = members::Entity::update_many()
            .col_expr(members::Column::TotalSpendFen, Expr::col(members::Column::TotalSpendFen).add(spend))
            .filter(members::Column::Id.eq(member.id))
            .exec_with_returning(txn)
            .await?;
        if let Some(member) = updated.first() {
            upgrade_level(txn, resolved, member).await?;
        }
    }
    // Last, the writes nothing reads back, in one statement on PostgreSQL (`deferred`): the points lot, the
    // journal lines, the bill's entry, its receipts and its stock (a row every cashier of the store shares); then
    // the ledger's balances (the member's, then the store's). Both are locked only until commit.
    let (entry_id, mut balance_moves) = ledger::post_into(txn, &draft, &mut tail).await?;
    if let Some(expiry) = expiry {
        balance_moves.merge(expiry);
    }
    let change: i64 = tenders.iter().map(|t| t.tendered - t.amount).sum();
    let link = bills::Entity::update_many()
        .col_expr(bills::Column::EntryId, Expr::value(entry_id))
        .col_expr(bills::Column::ChangeFen, Expr::value(change))
        .filter(bills::Column::Id.eq(bill_id))
        .into_query();
    tail.push(link, Check::Any);
    crate::receipts::queue_deferred(&mut tail, merchant_id, store_id, crate::receipts::ReceiptKind::Bill, bill_id);
    if resolved.lines.iter().any(|line| line.count_card.is_some()) {
        let slip = crate::receipts::ReceiptKind::CountCardSlip;
        crate::receipts::queue_deferred(&mut tail, merchant_id, store_id, slip, bill_id);
    }
    stock.defer(txn, &mut tail).await?;
    tail.flush(txn).await?;
    balance_moves.apply(txn).await?;
    Ok(Written { entry_id, change, lines: line_rows, tenders: tender_rows })
}

/// Moves the member up to the highest level their cumulative spend or recharge (by the merchant's rule) now
/// qualifies for. Levels only go down by the downgrade policy.
async fn upgrade_level(conn: &impl ConnectionTrait, resolved: &Resolved, member: &members::Model) -> Result<()> {
    set_best_level(conn, &resolved.reference.levels, &resolved.settings, member).await
}

async fn set_best_level(
    conn: &impl ConnectionTrait,
    levels: &[LevelRule],
    settings: &LoyaltySettings,
    member: &members::Model,
) -> Result<()> {
    let basis = if settings.level_basis == "recharge" { member.total_recharge_fen } else { member.total_spend_fen };
    let current = levels.iter().find(|l| Some(l.id) == member.level_id).map_or(i32::MIN, |l| l.rank);
    let best = levels.iter().filter(|l| l.threshold_fen <= basis && l.rank > current).max_by_key(|l| l.rank);
    if let Some(level) = best {
        members::Entity::update_many()
            .col_expr(members::Column::LevelId, Expr::value(level.id))
            .filter(members::Column::Id.eq(member.id))
            .exec(conn)
            .await?;
    }
    Ok(())
}

/// After a recharge at the desk: the member may now qualify for a higher level.
pub(crate) async fn upgrade_member(conn: &impl ConnectionTrait, merchant_id: i64, member_id: i64) -> Result<()> {
    let levels = crate::levels::load_rules(conn, merchant_id).await?;
    if levels.is_empty() {
        return Ok(());
    }
    let settings = crate::merchants::loyalty_settings(conn, merchant_id).await?;
    let member = crate::members::row(conn, merchant_id, member_id).await?;
    set_best_level(conn, &levels, &settings, &member).await
}

async fn replay(ctx: &AppContext, merchant_id: i64, key: &IdempotencyKey, fingerprint: &str) -> Result<Option<Bill>> {
    let Some(row) = bills::Entity::find()
        .filter(bills::Column::MerchantId.eq(merchant_id))
        .filter(bills::Column::IdempotencyKey.eq(key.as_str()))
        .one(&ctx.db)
        .await?
    else {
        return Ok(None);
    };
    if row.fingerprint != fingerprint {
        return Err(Error::Conflict(Conflict::IdempotencyKeyReused));
    }
    Ok(Some(load(&ctx.db, merchant_id, row.id, true).await?))
}

// ---------------------------------------------------------------------------------------------------------------
// Parking, resuming, voiding

fn park_fingerprint(draft: &BillDraft) -> String {
    fingerprint(&json!(["park", draft]))
}

/// Parks a bill (挂单): checks and prices it now so mistakes surface at once, and keeps the draft to resume.
pub async fn park(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    draft: BillDraft,
    idempotency_key: &str,
) -> Result<Bill> {
    principal.require(Permission::Checkout)?;
    let key = IdempotencyKey::parse(idempotency_key).map_err(|m| Error::invalid("idempotency_key", m))?;
    let merchant_id = principal.merchant_id;
    let fingerprint = park_fingerprint(&draft);
    if let Some(bill) = replay(ctx, merchant_id, &key, &fingerprint).await? {
        return Ok(bill);
    }
    let resolved = resolve(ctx, &ctx.db, merchant_id, &draft, false).await?;
    resolved.require_open(principal)?;
    let priced = resolved.price(draft.points)?;
    let now = ctx.now();
    let inserted = bills::Entity::insert(bills::ActiveModel {
        merchant_id: Set(merchant_id),
        store_id: Set(draft.store_id),
        member_id: Set(draft.member_id),
        status: Set("parked".to_owned()),
        subtotal_fen: Set(priced.subtotal),
        total_fen: Set(priced.total),
        change_fen: Set(0),
        idempotency_key: Set(key.as_str().to_owned()),
        fingerprint: Set(fingerprint.clone()),
        entry_id: Set(None),
        created_by: Set(principal.staff_id),
        created_at: Set(now),
        settled_at: Set(None),
        discount_fen: Set(priced.discount),
        points_used: Set(priced.points_used),
        points_offset_fen: Set(priced.points_offset),
        points_earned: Set(priced.points_earned),
        refunded_fen: Set(0),
        level_id: Set(resolved.level.as_ref().map(|l| l.id)),
        note: Set(draft.note.trim().to_owned()),
        request: Set(serde_json::to_string(&draft).map_err(anyhow::Error::from)?),
        member_confirmed_at: Set(None),
        closed_at: Set(None),
        closed_by: Set(None),
        ..Default::default()
    })
    .exec(&ctx.db)
    .await;
    match inserted {
        Ok(result) => load(&ctx.db, merchant_id, result.last_insert_id, false).await,
        Err(err) if is_unique_violation(&err) => {
            replay(ctx, merchant_id, &key, &fingerprint).await?.ok_or(Error::Database(err))
        }
        Err(err) => Err(err.into()),
    }
}

async fn parked_row(ctx: &AppContext, principal: &StaffPrincipal, bill_id: i64) -> Result<bills::Model> {
    let row = bills::Entity::find_by_id(bill_id)
        .filter(bills::Column::MerchantId.eq(principal.merchant_id))
        .one(&ctx.db)
        .await?
        .filter(|row| principal.can_access_store(row.store_id))
        .ok_or(Error::NotFound("bill"))?;
    Ok(row)
}

/// Replaces a parked bill's draft (lines edited on resume). A member's in-app confirmation no longer holds.
pub async fn update_parked(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    bill_id: i64,
    draft: BillDraft,
) -> Result<Bill> {
    principal.require(Permission::Checkout)?;
    let row = parked_row(ctx, principal, bill_id).await?;
    if draft.store_id != row.store_id {
        return Err(Error::invalid("store_id", "a parked bill stays at its store"));
    }
    let resolved = resolve(ctx, &ctx.db, principal.merchant_id, &draft, false).await?;
    let priced = resolved.price(draft.points)?;
    let updated = with_price(bills::Entity::update_many(), &resolved, &priced)
        .col_expr(bills::Column::MemberId, Expr::value(draft.member_id))
        .col_expr(bills::Column::Note, Expr::value(draft.note.trim().to_owned()))
        .col_expr(bills::Column::Request, Expr::value(serde_json::to_string(&draft).map_err(anyhow::Error::from)?))
        .col_expr(bills::Column::MemberConfirmedAt, Expr::value(Option::<DateTime<Utc>>::None))
        .filter(bills::Column::Id.eq(bill_id))
        .filter(bills::Column::Status.eq("parked"))
        .exec(&ctx.db)
        .await?;
    if updated.rows_affected != 1 {
        return Err(Error::Conflict(Conflict::BillState));
    }
    load(&ctx.db, principal.merchant_id, bill_id, false).await
}

/// The guarded `from → settled` update of a kept bill, with the price as settled: whoever runs it first settles.
fn claim_for_settlement(
    bill_id: i64,
    from: &str,
    fingerprint: &str,
    resolved: &Resolved,
    priced: &Priced,
    now: DateTime<Utc>,
) -> sea_orm::UpdateMany<bills::Entity> {
    with_price(bills::Entity::update_many(), resolved, priced)
        .col_expr(bills::Column::Status, Expr::value("settled"))
        .col_expr(bills::Column::Fingerprint, Expr::value(fingerprint))
        .col_expr(bills::Column::SettledAt, Expr::value(Some(now)))
        .filter(bills::Column::Id.eq(bill_id))
        .filter(bills::Column::Status.eq(from))
}

/// Sets a kept bill's price columns (every step of the price, and the level it was priced at).
fn with_price(
    update: sea_orm::UpdateMany<bills::Entity>,
    resolved: &Resolved,
    priced: &Priced,
) -> sea_orm::UpdateMany<bills::Entity> {
    update
        .col_expr(bills::Column::SubtotalFen, Expr::value(priced.subtotal))
        .col_expr(bills::Column::TotalFen, Expr::value(priced.total))
        .col_expr(bills::Column::DiscountFen, Expr::value(priced.discount))
        .col_expr(bills::Column::PointsUsed, Expr::value(priced.points_used))
        .col_expr(bills::Column::PointsOffsetFen, Expr::value(priced.points_offset))
        .col_expr(bills::Column::PointsEarned, Expr::value(priced.points_earned))
        .col_expr(bills::Column::LevelId, Expr::value(resolved.level.as_ref().map(|l| l.id)))
}

/// Settles a parked bill with its kept draft. Settling it again with the same tenders returns the settlement;
/// a voided or otherwise settled bill is refused.
pub async fn settle_parked(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    bill_id: i64,
    input: SettleParkedInput,
) -> Result<Bill> {
    principal.require(Permission::Checkout)?;
    let row = parked_row(ctx, principal, bill_id).await?;
    let draft: BillDraft = match row.status.as_str() {
        "parked" => serde_json::from_str(&row.request).map_err(anyhow::Error::from)?,
        "settled" => {
            let draft: BillDraft = serde_json::from_str(&row.request).map_err(anyhow::Error::from)?;
            if row.fingerprint == bill_fingerprint(&draft, &input.tenders) {
                return load(&ctx.db, principal.merchant_id, bill_id, true).await;
            }
            return Err(Error::Conflict(Conflict::BillState));
        }
        _ => return Err(Error::Conflict(Conflict::BillState)),
    };
    let tenders = check_tenders(&input.tenders, draft.member_id)?;
    let resolved = resolve(ctx, &ctx.db, principal.merchant_id, &draft, false).await?;
    let priced = resolved.price(draft.points)?;
    check_cover(&tenders, &resolved, &priced)?;
    check_confirmation(ctx, &resolved, &tenders, input.member_code.as_deref(), row.member_confirmed_at.is_some())?;
    let now = ctx.now();
    let txn = ctx.db.begin().await?;
    let fingerprint = bill_fingerprint(&draft, &input.tenders);
    let claimed = claim_for_settlement(bill_id, "parked", &fingerprint, &resolved, &priced, now)
        .exec_with_returning(&txn)
        .await?
        .pop();
    let Some(row) = claimed else {
        drop(txn);
        // A concurrent twin settled it first: the same tenders are a replay.
        return Box::pin(settle_parked(ctx, principal, bill_id, input)).await;
    };
    let written = write_settlement(&txn, By::staff(principal), bill_id, &resolved, &priced, &tenders, now).await?;
    txn.commit().await?;
    crate::bridge::announce(ctx, row.store_id).await;
    Ok(written.into_bill(row))
}

/// The share of a parked bill a payment code must pay: the total less the other `tenders`, after every check a
/// settlement makes (so the customer is charged only for a bill that will settle).
pub(crate) async fn external_share(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    bill_id: i64,
    tenders: &[TenderInput],
    kind: TenderKind,
    member_code: Option<&str>,
) -> Result<(bills::Model, i64)> {
    principal.require(Permission::Checkout)?;
    let row = parked_row(ctx, principal, bill_id).await?;
    if row.status != "parked" {
        return Err(Error::Conflict(Conflict::BillState));
    }
    let draft: BillDraft = serde_json::from_str(&row.request).map_err(anyhow::Error::from)?;
    let mut checked = check_tenders(tenders, draft.member_id)?;
    let resolved = resolve(ctx, &ctx.db, principal.merchant_id, &draft, false).await?;
    let priced = resolved.price(draft.points)?;
    let others: i64 = checked.iter().map(|t| t.amount).sum();
    let share = priced.total - others;
    if share <= 0 {
        return Err(Error::invalid("tenders", "the other tenders already pay the whole bill"));
    }
    checked.push(CheckedTender { kind, amount: share, tendered: share });
    check_cover(&checked, &resolved, &priced)?;
    check_confirmation(ctx, &resolved, &checked, member_code, row.member_confirmed_at.is_some())?;
    Ok((row, share))
}

/// What a member pays in the mini-program for a bill the store parked for them: all of it. Paying in the app is
/// the member's confirmation of any stored-value or count-card debit on it.
pub(crate) async fn member_share(
    ctx: &AppContext,
    merchant_id: i64,
    member_id: i64,
    bill_id: i64,
    kind: TenderKind,
) -> Result<(bills::Model, i64)> {
    let row = bills::Entity::find_by_id(bill_id)
        .filter(bills::Column::MerchantId.eq(merchant_id))
        .filter(bills::Column::MemberId.eq(member_id))
        .one(&ctx.db)
        .await?
        .ok_or(Error::NotFound("bill"))?;
    if row.status != "parked" {
        return Err(Error::Conflict(Conflict::BillState));
    }
    let draft: BillDraft = serde_json::from_str(&row.request).map_err(anyhow::Error::from)?;
    let resolved = resolve(ctx, &ctx.db, merchant_id, &draft, false).await?;
    let priced = resolved.price(draft.points)?;
    if priced.total <= 0 {
        return Err(Error::invalid("bill", "this bill has nothing to pay"));
    }
    let tenders = [CheckedTender { kind, amount: priced.total, tendered: priced.total }];
    check_cover(&tenders, &resolved, &priced)?;
    Ok((row, priced.total))
}

/// Holds a parked bill while its customer pays (`parked → paying`): no edit, void or other settlement meanwhile.
pub(crate) async fn hold_for_payment(conn: &impl ConnectionTrait, bill_id: i64) -> Result<()> {
    let held = bills::Entity::update_many()
        .col_expr(bills::Column::Status, Expr::value("paying"))
        .filter(bills::Column::Id.eq(bill_id))
        .filter(bills::Column::Status.eq("parked"))
        .exec(conn)
        .await?;
    if held.rows_affected != 1 {
        return Err(Error::Conflict(Conflict::BillState));
    }
    Ok(())
}

/// The payment did not happen: the bill is parked again for another try or another tender.
pub(crate) async fn release_payment_hold(conn: &impl ConnectionTrait, bill_id: i64) -> Result<()> {
    bills::Entity::update_many()
        .col_expr(bills::Column::Status, Expr::value("parked"))
        .filter(bills::Column::Id.eq(bill_id))
        .filter(bills::Column::Status.eq("paying"))
        .exec(conn)
        .await?;
    Ok(())
}

/// Inside the transaction that marks a payment paid: settles the bill it was held for, with its other tenders
/// and the paid amount as a WeChat Pay or Alipay tender. Returns the settlement's journal entry.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn settle_paid(
    ctx: &AppContext,
    txn: &DatabaseTransaction,
    merchant_id: i64,
    staff_id: Option<i64>,
    bill_id: i64,
    tenders: &[TenderInput],
    kind: TenderKind,
    paid: i64,
) -> Result<i64> {
    let row = bills::Entity::find_by_id(bill_id)
        .filter(bills::Column::MerchantId.eq(merchant_id))
        .one(txn)
        .await?
        .ok_or(Error::NotFound("bill"))?;
    if row.status != "paying" {
        return Err(Error::Conflict(Conflict::BillState));
    }
    let draft: BillDraft = serde_json::from_str(&row.request).map_err(anyhow::Error::from)?;
    let mut checked = check_tenders(tenders, draft.member_id)?;
    checked.push(CheckedTender { kind, amount: paid, tendered: paid });
    let resolved = resolve(ctx, txn, merchant_id, &draft, false).await?;
    let priced = resolved.price(draft.points)?;
    check_cover(&checked, &resolved, &priced)?;
    let mut all_tenders = tenders.to_vec();
    all_tenders.push(TenderInput { kind: kind.as_str().to_owned(), amount_fen: paid, tendered_fen: None });
    let now = ctx.now();
    let fingerprint = bill_fingerprint(&draft, &all_tenders);
    let claimed = claim_for_settlement(bill_id, "paying", &fingerprint, &resolved, &priced, now).exec(txn).await?;
    if claimed.rows_affected != 1 {
        return Err(Error::Conflict(Conflict::BillState));
    }
    // The cashier who took the code, or (a member paying in the app) the one who parked the bill.
    let staff_id = staff_id.unwrap_or(row.created_by);
    let written =
        write_settlement(txn, By { merchant_id, staff_id }, bill_id, &resolved, &priced, &checked, now).await?;
    Ok(written.entry_id)
}

/// Voids a parked bill: nothing was settled, so nothing moves. Audited.
pub async fn void(ctx: &AppContext, principal: &StaffPrincipal, bill_id: i64, reason: &str) -> Result<Bill> {
    principal.require(Permission::Checkout)?;
    let reason = audit::reason(reason)?;
    let row = parked_row(ctx, principal, bill_id).await?;
    if row.status == "voided" {
        return load(&ctx.db, principal.merchant_id, bill_id, true).await;
    }
    let now = ctx.now();
    let txn = ctx.db.begin().await?;
    let updated = bills::Entity::update_many()
        .col_expr(bills::Column::Status, Expr::value("voided"))
        .col_expr(bills::Column::ClosedAt, Expr::value(Some(now)))
        .col_expr(bills::Column::ClosedBy, Expr::value(Some(principal.staff_id)))
        .filter(bills::Column::Id.eq(bill_id))
        .filter(bills::Column::Status.eq("parked"))
        .exec(&txn)
        .await?;
    if updated.rows_affected != 1 {
        return Err(Error::Conflict(Conflict::BillState));
    }
    audit::record(
        &txn,
        Event {
            merchant_id: Some(principal.merchant_id),
            actor: Actor::Staff(principal.staff_id),
            action: "bill.voided",
            target: Some(("bill", bill_id)),
            detail: json!({ "reason": reason, "total_fen": row.total_fen }),
            ip: None,
        },
    )
    .await?;
    txn.commit().await?;
    load(&ctx.db, principal.merchant_id, bill_id, false).await
}

/// Parked bills waiting for this member's confirmation in the mini-program.
pub async fn pending_confirmations(ctx: &AppContext, merchant_id: i64, member_id: i64) -> Result<Vec<Bill>> {
    let rows = bills::Entity::find()
        .filter(bills::Column::MerchantId.eq(merchant_id))
        .filter(bills::Column::MemberId.eq(member_id))
        .filter(bills::Column::Status.eq("parked"))
        .filter(bills::Column::MemberConfirmedAt.is_null())
        .order_by_desc(bills::Column::Id)
        .limit(20)
        .all(&ctx.db)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.push(load(&ctx.db, merchant_id, row.id, false).await?);
    }
    Ok(out)
}

/// The member confirms a parked bill of theirs in the mini-program.
pub async fn confirm_by_member(ctx: &AppContext, merchant_id: i64, member_id: i64, bill_id: i64) -> Result<Bill> {
    let updated = bills::Entity::update_many()
        .col_expr(bills::Column::MemberConfirmedAt, Expr::value(Some(ctx.now())))
        .filter(bills::Column::Id.eq(bill_id))
        .filter(bills::Column::MerchantId.eq(merchant_id))
        .filter(bills::Column::MemberId.eq(member_id))
        .filter(bills::Column::Status.eq("parked"))
        .exec(&ctx.db)
        .await?;
    if updated.rows_affected != 1 {
        return Err(Error::NotFound("bill"));
    }
    load(&ctx.db, merchant_id, bill_id, false).await
}

// ---------------------------------------------------------------------------------------------------------------
// Reading

pub(crate) fn to_line(row: bill_lines::Model) -> Line {
    Line {
        id: row.id,
        kind: row.kind,
        item_id: row.item_id,
        name: row.name,
        category: row.category,
        quantity: row.quantity,
        unit_price: row.unit_price_fen,
        amount: row.amount_fen,
        discount: row.discount_fen,
        points_offset: row.points_offset_fen,
        net: row.net_fen,
        count_card_id: row.count_card_id,
        recognised: row.recognised_fen,
        points_earned: row.points_earned,
        points_redeemed: row.points_redeemed,
        staff: serde_json::from_str(&row.staff).unwrap_or_default(),
        refunded_quantity: row.refunded_quantity,
        refunded: row.refunded_fen,
        detail: serde_json::from_str(&row.detail).unwrap_or_else(|_| json!({})),
    }
}

pub(crate) async fn load(conn: &impl ConnectionTrait, merchant_id: i64, bill_id: i64, replayed: bool) -> Result<Bill> {
    let row = bills::Entity::find_by_id(bill_id)
        .filter(bills::Column::MerchantId.eq(merchant_id))
        .one(conn)
        .await?
        .ok_or(Error::NotFound("bill"))?;
    let lines = bill_lines::Entity::find()
        .filter(bill_lines::Column::BillId.eq(bill_id))
        .order_by_asc(bill_lines::Column::Id)
        .all(conn)
        .await?;
    let tenders = bill_tenders::Entity::find()
        .filter(bill_tenders::Column::BillId.eq(bill_id))
        .order_by_asc(bill_tenders::Column::Id)
        .all(conn)
        .await?;
    Ok(to_bill(row, lines, tenders, replayed))
}

fn to_bill(
    row: bills::Model,
    lines: Vec<bill_lines::Model>,
    tenders: Vec<bill_tenders::Model>,
    replayed: bool,
) -> Bill {
    let draft = if row.status == "parked" { serde_json::from_str(&row.request).ok() } else { None };
    Bill {
        id: row.id,
        store_id: row.store_id,
        member_id: row.member_id,
        status: row.status,
        subtotal: row.subtotal_fen,
        discount: row.discount_fen,
        points_used: row.points_used,
        points_offset: row.points_offset_fen,
        total: row.total_fen,
        change: row.change_fen,
        points_earned: row.points_earned,
        refunded: row.refunded_fen,
        level_id: row.level_id,
        note: row.note,
        lines: lines.into_iter().map(to_line).collect(),
        tenders: tenders
            .into_iter()
            .map(|t| Tender {
                kind: t.kind,
                amount: t.amount_fen,
                tendered: t.tendered_fen,
                change: t.change_fen,
                principal: t.principal_fen,
                bonus: t.bonus_fen,
                refunded: t.refunded_fen,
            })
            .collect(),
        entry_id: row.entry_id,
        created_by: row.created_by,
        created_at: row.created_at,
        settled_at: row.settled_at,
        member_confirmed_at: row.member_confirmed_at,
        closed_at: row.closed_at,
        draft,
        replayed,
    }
}

/// A bill of a store in the principal's scope.
pub async fn get(ctx: &AppContext, principal: &StaffPrincipal, bill_id: i64) -> Result<Bill> {
    principal.require(Permission::Checkout)?;
    let bill = load(&ctx.db, principal.merchant_id, bill_id, false).await?;
    if !principal.can_access_store(bill.store_id) {
        return Err(Error::NotFound("bill"));
    }
    Ok(bill)
}

/// Bills of a store, newest first, optionally only one status (the parked list to resume from).
pub async fn list(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    store_id: i64,
    status: Option<&str>,
    before_id: Option<i64>,
    limit: u64,
) -> Result<Vec<Bill>> {
    principal.require(Permission::Checkout)?;
    if !principal.can_access_store(store_id) {
        return Err(Error::NotFound("store"));
    }
    if let Some(status) = status
        && !["parked", "paying", "settled", "voided", "reversed"].contains(&status)
    {
        return Err(Error::invalid("status", "must be parked, settled, voided or reversed"));
    }
    let mut query = bills::Entity::find()
        .filter(bills::Column::MerchantId.eq(principal.merchant_id))
        .filter(bills::Column::StoreId.eq(store_id));
    if let Some(status) = status {
        query = query.filter(bills::Column::Status.eq(status));
    }
    if let Some(before) = before_id {
        query = query.filter(bills::Column::Id.lt(before));
    }
    let rows = query.order_by_desc(bills::Column::Id).limit(limit.clamp(1, 100)).all(&ctx.db).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.push(load(&ctx.db, principal.merchant_id, row.id, false).await?);
    }
    Ok(out)
}

/// Everything a printed receipt shows, in the store's words.
#[derive(Clone, Debug)]
pub struct Receipt {
    pub store_name: String,
    pub bill: Bill,
    pub cashier: String,
    /// How the member is named on paper: the masked real name, else the nickname.
    pub member_nickname: Option<String>,
    /// Balances after the bill: stored value, points available, and each count card used or sold.
    pub stored_value_fen: Option<i64>,
    pub points_available: Option<i64>,
    pub count_cards: Vec<(String, i64)>,
}

pub async fn receipt(ctx: &AppContext, principal: &StaffPrincipal, bill_id: i64) -> Result<Receipt> {
    let bill = get(ctx, principal, bill_id).await?;
    receipt_of(ctx, principal.merchant_id, bill).await
}

/// The receipt of a bill already read in its merchant's scope (the printer's queue reads it without a principal).
pub(crate) async fn receipt_of(ctx: &AppContext, merchant_id: i64, bill: Bill) -> Result<Receipt> {
    let store = stores::Entity::find_by_id(bill.store_id).one(&ctx.db).await?.ok_or(Error::NotFound("store"))?;
    let cashier = staff::Entity::find_by_id(bill.created_by).one(&ctx.db).await?.map(|s| s.display_name);
    let (nickname, stored, points, cards) = match bill.member_id {
        Some(member_id) => {
            let member = crate::members::row(&ctx.db, merchant_id, member_id).await?;
            let card = stored_value::own(ctx, merchant_id, member_id).await?;
            let points = crate::points::available(&ctx.db, member_id, ctx.now()).await?;
            let card_ids: BTreeSet<i64> = bill
                .lines
                .iter()
                .filter_map(|l| l.count_card_id.or_else(|| l.detail.get("count_card_id").and_then(|v| v.as_i64())))
                .collect();
            let mut cards = Vec::new();
            for card in crate::count_cards::own(ctx, merchant_id, member_id).await? {
                if card_ids.contains(&card.id) {
                    cards.push((card.name, card.sessions_left));
                }
            }
            (Some(crate::members::label(ctx, &member, false)?), Some(card.balance()), Some(points), cards)
        }
        None => (None, None, None, Vec::new()),
    };
    Ok(Receipt {
        store_name: store.name,
        bill,
        cashier: cashier.unwrap_or_default(),
        member_nickname: nickname,
        stored_value_fen: stored,
        points_available: points,
        count_cards: cards,
    })
}
