//! A draft resolved against the catalog, the member, their level and the merchant's loyalty rules: what pricing and
//! settlement need of each line.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};

use entity::{count_cards, members, recharge_plans, staff};

use super::input::{BillDraft, LineInput, StaffInput};
use crate::cards::card_products::CardProduct;
use crate::checkout::pricing::{self, CouponUse, PointsRule, PriceError, PriceLine, Priced};
use crate::checkout::reference::Reference;
use crate::commission::StaffShare;
use crate::coupons::redeem::{BillCoupon, for_bill};
use crate::domain::{Fen, LineKind, MAX_AMOUNT_FEN, Points, SplitRule};
use crate::foundation::merchants::LoyaltySettings;
use crate::foundation::principal::StaffPrincipal;
use crate::loyalty::levels::LevelRule;
use crate::{AppContext, Error, Result};

/// A line with everything pricing and settlement need.
#[derive(Clone, Debug)]
pub(super) struct ResolvedLine {
    pub(super) kind: LineKind,
    pub(super) item_id: i64,
    pub(super) name: String,
    pub(super) category: String,
    pub(super) quantity: i32,
    pub(super) unit_price: Fen,
    pub(super) level_bp: i64,
    pub(super) staff: Vec<StaffShare>,
    pub(super) count_card: Option<count_cards::Model>,
    pub(super) card_product: Option<CardProduct>,
    /// Recharges: bonus and validity of the plan.
    pub(super) recharge: Option<(Fen, Option<i32>)>,
    pub(super) substances: Vec<String>,
    pub(super) earns_points: bool,
    /// Gifts: the points one unit costs.
    pub(super) points_price: Points,
    /// Recharges: the plan's bonus points.
    pub(super) bonus_points: Points,
}

pub(super) struct Resolved {
    pub(super) store_id: i64,
    /// The merchant's stores, levels and menu at the version this bill was checked against.
    pub(super) reference: Arc<Reference>,
    pub(super) member: Option<members::Model>,
    pub(super) level: Option<LevelRule>,
    pub(super) settings: LoyaltySettings,
    pub(super) split: SplitRule,
    pub(super) lines: Vec<ResolvedLine>,
    pub(super) points_available: Points,
    /// The member's coupons the draft names, checked for the member, the store and the time, in the order of their
    /// ids.
    pub(super) coupons: Vec<BillCoupon>,
}

pub(super) const MAX_LINES: usize = 50;

pub(super) fn id_of(line: &LineInput, what: &str) -> Result<i64> {
    line.item_id.ok_or_else(|| Error::invalid("lines", format!("a {what} line needs item_id")))
}

pub(super) fn shares(inputs: &[StaffInput]) -> Result<Vec<StaffShare>> {
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
pub(super) async fn by_id<E: EntityTrait>(
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
pub(super) async fn resolve(
    ctx: &AppContext,
    conn: &impl ConnectionTrait,
    merchant_id: i64,
    draft: &BillDraft,
    for_preview: bool,
) -> Result<Resolved> {
    if draft.lines.is_empty() || draft.lines.len() > MAX_LINES {
        return Err(Error::invalid("lines", "a bill has 1–50 lines"));
    }
    if !(Points::ZERO..=Points::MAX).contains(&draft.points) {
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
    let (settings, split) = crate::foundation::merchants::checkout_settings(&merchant)?;
    let reference = ctx.reference.get(conn, &merchant).await?;
    let level =
        member.as_ref().and_then(|m| m.level_id).and_then(|id| reference.levels.iter().find(|l| l.id == id).cloned());
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
    require_active_staff(conn, merchant_id, draft).await?;
    let against = Against {
        merchant_id,
        member: member.as_ref(),
        level: level.as_ref(),
        reference: &reference,
        cards: &cards,
        points_excluded: settings.points_excluded_categories.iter().map(String::as_str).collect(),
    };
    let mut lines = Vec::with_capacity(draft.lines.len());
    for input in &draft.lines {
        lines.push(against.line(conn, input).await?);
    }
    let gross: i128 = lines.iter().map(|l| i128::from(l.unit_price.get()) * i128::from(l.quantity)).sum();
    if gross > i128::from(MAX_AMOUNT_FEN) {
        return Err(Error::invalid("lines", "a bill may not exceed ￥1,000,000"));
    }
    if draft.points > Points::ZERO && member.is_none() {
        return Err(Error::invalid("points", "points need the bill's member"));
    }
    let points_available = match &member {
        Some(m) if for_preview || draft.points > Points::ZERO || lines.iter().any(|l| l.kind == LineKind::Gift) => {
            Points::new((crate::loyalty::points::available(conn, m.id, ctx.now()).await?).get())
        }
        _ => Points::ZERO,
    };
    let coupons = for_bill(conn, merchant_id, member.as_ref(), &draft.coupon_ids, draft.store_id, ctx.now()).await?;
    Ok(Resolved {
        store_id: draft.store_id,
        reference,
        member,
        level,
        settings,
        split,
        lines,
        points_available,
        coupons,
    })
}

/// Every staff member named on the draft's lines is an active staff member of the merchant.
async fn require_active_staff(conn: &impl ConnectionTrait, merchant_id: i64, draft: &BillDraft) -> Result<()> {
    let staff_ids: BTreeSet<i64> = draft.lines.iter().flat_map(|l| l.staff.iter().map(|s| s.staff_id)).collect();
    if staff_ids.is_empty() {
        return Ok(());
    }
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
    match staff_ids.iter().find(|id| !found.contains(id)) {
        Some(missing) => Err(Error::invalid("lines", format!("no active staff member {missing}"))),
        None => Ok(()),
    }
}

/// What each line of a draft is resolved against: the merchant's menu, the bill's member and their level, the
/// count cards the draft names, and the categories that earn no points.
struct Against<'a> {
    merchant_id: i64,
    member: Option<&'a members::Model>,
    level: Option<&'a LevelRule>,
    reference: &'a Reference,
    cards: &'a BTreeMap<i64, count_cards::Model>,
    points_excluded: BTreeSet<&'a str>,
}

impl Against<'_> {
    /// The level's rate for `category`, in basis points of the price (10000: no discount).
    fn level_bp(&self, category: &str) -> i64 {
        self.level.map_or(10_000, |l| i64::from(l.category_discounts.get(category).copied().unwrap_or(l.discount_bp)))
    }

    fn earns_points(&self, category: &str) -> bool {
        !self.points_excluded.contains(category)
    }

    fn needs_member(&self, what: &str) -> Result<()> {
        match self.member {
            Some(_) => Ok(()),
            None => Err(Error::invalid("member_id", format!("{what} needs the bill's member"))),
        }
    }

    async fn line(&self, conn: &impl ConnectionTrait, input: &LineInput) -> Result<ResolvedLine> {
        let kind = input.kind;
        if !(1..=99).contains(&input.quantity) {
            return Err(Error::invalid("lines", "quantity must be 1–99"));
        }
        if input.count_card_id.is_some() && kind != LineKind::Service {
            return Err(Error::invalid("lines", "only service lines can be paid by a count card"));
        }
        if input.amount_fen.is_some() && kind != LineKind::Recharge {
            return Err(Error::invalid("lines", "only recharge lines have amount_fen"));
        }
        let line = ResolvedLine {
            kind,
            item_id: 0,
            name: String::new(),
            category: String::new(),
            quantity: input.quantity,
            unit_price: Fen::ZERO,
            level_bp: 10_000,
            staff: shares(&input.staff)?,
            count_card: None,
            card_product: None,
            recharge: None,
            substances: Vec::new(),
            earns_points: false,
            points_price: Points::ZERO,
            bonus_points: Points::ZERO,
        };
        match kind {
            LineKind::Service => self.service(input, line),
            LineKind::Product => self.product(input, line),
            LineKind::Gift => self.gift(input, line),
            LineKind::CardSale => self.card_sale(conn, input, line).await,
            LineKind::Recharge => self.recharge(conn, input, line).await,
        }
    }

    /// A service at the member's level price, or at the level's rate for its category; or paid with sessions of
    /// one of the member's count cards that covers it.
    fn service(&self, input: &LineInput, line: ResolvedLine) -> Result<ResolvedLine> {
        let id = id_of(input, "service")?;
        let item = self
            .reference
            .services
            .get(&id)
            .filter(|item| item.active)
            .ok_or_else(|| Error::invalid("lines", format!("no service item {id}")))?;
        let level_price = self.level.and_then(|l| {
            serde_json::from_str::<BTreeMap<String, i64>>(&item.level_prices)
                .ok()
                .and_then(|prices| prices.get(&l.id.to_string()).copied())
        });
        let count_card = match input.count_card_id {
            Some(card_id) => {
                self.needs_member("a count card")?;
                let card = self
                    .cards
                    .get(&card_id)
                    .filter(|card| Some(card.member_id) == self.member.map(|m| m.id))
                    .ok_or_else(|| Error::invalid("lines", format!("no count card {card_id} of this member")))?;
                let covered: Vec<i64> = crate::domain::stored_json("count card services", &card.service_item_ids)?;
                if !covered.contains(&id) {
                    return Err(Error::invalid("lines", format!("count card {card_id} does not cover {}", item.name)));
                }
                Some(card.clone())
            }
            None => None,
        };
        Ok(ResolvedLine {
            item_id: id,
            name: item.name.clone(),
            category: item.category.clone(),
            unit_price: Fen::new(level_price.unwrap_or(item.price_fen)),
            level_bp: if level_price.is_some() { 10_000 } else { self.level_bp(&item.category) },
            count_card,
            substances: serde_json::from_str(&item.substances).unwrap_or_default(),
            earns_points: self.earns_points(&item.category),
            ..line
        })
    }

    fn product(&self, input: &LineInput, line: ResolvedLine) -> Result<ResolvedLine> {
        let id = id_of(input, "product")?;
        let item = self
            .reference
            .products
            .get(&id)
            .filter(|item| item.active)
            .ok_or_else(|| Error::invalid("lines", format!("no product {id}")))?;
        Ok(ResolvedLine {
            item_id: id,
            name: item.name.clone(),
            category: item.category.clone(),
            unit_price: Fen::new(item.price_fen),
            level_bp: self.level_bp(&item.category),
            earns_points: self.earns_points(&item.category),
            ..line
        })
    }

    /// A product given for points (积分兑换): it costs no money and earns nothing.
    fn gift(&self, input: &LineInput, line: ResolvedLine) -> Result<ResolvedLine> {
        self.needs_member("a gift for points")?;
        let id = id_of(input, "gift")?;
        let item = self
            .reference
            .products
            .get(&id)
            .filter(|item| item.active)
            .ok_or_else(|| Error::invalid("lines", format!("no product {id}")))?;
        let points_price = item
            .points_price
            .filter(|p| *p > 0)
            .map(Points::new)
            .ok_or_else(|| Error::invalid("lines", format!("{} is not redeemable for points", item.name)))?;
        Ok(ResolvedLine { item_id: id, name: item.name.clone(), category: item.category.clone(), points_price, ..line })
    }

    async fn card_sale(
        &self,
        conn: &impl ConnectionTrait,
        input: &LineInput,
        line: ResolvedLine,
    ) -> Result<ResolvedLine> {
        self.needs_member("selling a count card")?;
        if line.quantity != 1 {
            return Err(Error::invalid("lines", "sell one count card per line"));
        }
        let product =
            crate::cards::card_products::get_active(conn, self.merchant_id, id_of(input, "card_sale")?).await?;
        Ok(ResolvedLine {
            item_id: product.id,
            name: product.name.clone(),
            category: "次卡".to_owned(),
            unit_price: product.price_fen,
            card_product: Some(product),
            ..line
        })
    }

    /// A recharge by one of the merchant's plans, or of a plain amount.
    async fn recharge(
        &self,
        conn: &impl ConnectionTrait,
        input: &LineInput,
        line: ResolvedLine,
    ) -> Result<ResolvedLine> {
        self.needs_member("a recharge")?;
        if line.quantity != 1 {
            return Err(Error::invalid("lines", "one recharge per line"));
        }
        let (item_id, name, pay, bonus, bonus_points, days) = match (input.item_id, input.amount_fen) {
            (Some(plan_id), None) => {
                let plan = recharge_plans::Entity::find_by_id(plan_id)
                    .filter(recharge_plans::Column::MerchantId.eq(self.merchant_id))
                    .filter(recharge_plans::Column::Active.eq(true))
                    .one(conn)
                    .await?
                    .ok_or_else(|| Error::invalid("lines", format!("no recharge plan {plan_id}")))?;
                let (pay, bonus, points) =
                    (Fen::new(plan.pay_fen), Fen::new(plan.bonus_fen), Points::new(plan.bonus_points));
                (plan.id, plan.name, pay, bonus, points, plan.validity_days)
            }
            (None, Some(fen)) if fen > Fen::ZERO && fen <= Fen::MAX_AMOUNT => {
                (0, "储值".to_owned(), fen, Fen::ZERO, Points::ZERO, None)
            }
            _ => {
                return Err(Error::invalid(
                    "lines",
                    "a recharge line has either a plan (item_id) or an amount_fen of ￥0.01–￥1,000,000",
                ));
            }
        };
        Ok(ResolvedLine {
            item_id,
            name,
            category: "储值".to_owned(),
            unit_price: pay,
            recharge: Some((bonus, days)),
            bonus_points,
            ..line
        })
    }
}

impl ResolvedLine {
    /// Whether the line's net is revenue of its category at settlement (a count-card session's value is recognised
    /// from the card instead; card sales and recharges are prepaid value, gifts are paid in points).
    pub(super) fn earns_revenue(&self) -> bool {
        matches!(self.kind, LineKind::Service | LineKind::Product) && self.count_card.is_none()
    }
}

impl Resolved {
    pub(super) fn points_rule(&self) -> PointsRule {
        PointsRule {
            per_yuan: i64::from(self.settings.points_per_yuan),
            multiplier_pct: self.level.as_ref().map_or(100, |level| i64::from(level.points_multiplier_pct)),
            per_yuan_offset: i64::from(self.settings.points_per_yuan_offset),
        }
    }

    pub(super) fn price(&self, points: Points) -> Result<Priced> {
        self.price_with(points, &self.coupons)
    }

    /// The price with other coupons than the draft's (the preview trying the member's others).
    pub(super) fn price_with(&self, points: Points, coupons: &[BillCoupon]) -> Result<Priced> {
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
        let uses: Vec<CouponUse> = coupons
            .iter()
            .map(|c| CouponUse {
                rule: c.terms.rule(),
                covers: self.lines.iter().map(|l| c.terms.covers_line(l.kind, l.item_id, &l.category)).collect(),
            })
            .collect();
        let named =
            |index: usize| coupons.get(index).map_or_else(String::new, |c| format!("{} (#{})", c.terms.name, c.id));
        pricing::price(&lines, points, self.points_available, self.points_rule(), &uses).map_err(|e| match e {
            PriceError::RedemptionOff => Error::invalid("points", "this merchant does not take points at checkout"),
            PriceError::TooManyPoints { max } => {
                Error::invalid("points", format!("the member has fewer points: at most {max} can be used"))
            }
            PriceError::GiftsExceedPoints { needed, available } => {
                Error::invalid("lines", format!("the gifts cost {needed} points and the member has {available}"))
            }
            PriceError::CouponBelowThreshold { coupon, threshold, eligible } => Error::invalid(
                "coupon_ids",
                format!(
                    "coupon {} needs {threshold} fen of the lines it covers; they come to {eligible}",
                    named(coupon)
                ),
            ),
            PriceError::CouponExcludesPoints { coupon } => Error::invalid(
                "coupon_ids",
                format!("coupon {} does not combine with points: use one or the other", named(coupon)),
            ),
            PriceError::CouponsDoNotCombine { coupon } => Error::invalid(
                "coupon_ids",
                format!("coupon {} does not combine with other coupons: use it alone", named(coupon)),
            ),
            PriceError::CouponTakesNothing { coupon } => Error::invalid(
                "coupon_ids",
                format!("coupon {} would take nothing off this bill: leave it for another", named(coupon)),
            ),
        })
    }

    pub(super) fn member_id(&self) -> Option<i64> {
        self.member.as_ref().map(|m| m.id)
    }

    /// The bill's store is one where `principal` may take money now.
    pub(super) fn require_open(&self, principal: &StaffPrincipal) -> Result<()> {
        self.reference.require_open(principal, self.store_id).map(|_| ())
    }
}
