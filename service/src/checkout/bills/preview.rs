//! The price preview: every step explained, the points the member has and can use, and allergy warnings.

use serde_json::json;

use super::input::BillDraft;
use super::read::Line;
use super::resolve::{Resolved, resolve};
use crate::checkout::pricing::Priced;
use crate::domain::{Fen, LineKind, Permission, Points};
use crate::foundation::principal::StaffPrincipal;
use crate::loyalty::levels::LevelRule;
use crate::members::allergies::{AllergyMatch, matching_allergies};
use crate::{AppContext, Result};

/// One step of the price, in order, for the cashier and the receipt.
#[derive(Clone, Debug)]
pub struct Step {
    /// `subtotal`, `level_discount`, `coupon` (one per coupon, in the order they apply), `points_offset` or `total`.
    pub step: &'static str,
    pub amount: Fen,
    pub explanation: String,
}

/// A priced draft: what the bill will cost and why.
#[derive(Clone, Debug)]
pub struct Quote {
    pub lines: Vec<Line>,
    pub steps: Vec<Step>,
    pub subtotal: Fen,
    pub discount: Fen,
    pub coupon: Fen,
    pub points_used: Points,
    pub points_offset: Fen,
    /// Points the gift lines cost.
    pub points_redeemed: Points,
    pub total: Fen,
    pub points_earned: Points,
    pub points_available: Points,
    pub points_max: Points,
    pub level: Option<(i64, String)>,
    pub allergies: Vec<AllergyMatch>,
    /// The stored-value or count-card value above which the member must confirm, when the merchant asks for it.
    pub confirm_threshold_fen: Option<Fen>,
    /// Of the member's usable coupons, the one that takes the most off this bill (none when none applies), and
    /// what it would take.
    pub best_coupon: Option<(i64, Fen)>,
}

/// The steps of `priced`; `coupons` are the names of the coupons it was priced with, in the order given to pricing.
pub(super) fn steps(priced: &Priced, level: Option<&LevelRule>, points_rate: i64, coupons: &[&str]) -> Vec<Step> {
    let level_name = level.map_or_else(|| "无等级".to_owned(), |l| l.name.clone());
    let mut steps = vec![
        Step { step: "subtotal", amount: priced.subtotal, explanation: "单价 × 数量".to_owned() },
        Step {
            step: "level_discount",
            amount: Fen::new((-priced.discount).get()),
            explanation: format!("{level_name} 会员折扣，逐行四舍五入到分"),
        },
    ];
    if coupons.is_empty() {
        steps.push(Step { step: "coupon", amount: Fen::ZERO, explanation: "未使用优惠券".to_owned() });
    }
    // In the order pricing applied them: free items, then amounts, then percentages (of what was left).
    let mut applied: Vec<(usize, &str)> = coupons.iter().copied().enumerate().collect();
    applied.sort_by_key(|&(index, _)| priced.coupon_order.iter().position(|&i| i == index));
    for (index, name) in applied {
        let took = priced.coupons.get(index).copied().unwrap_or(Fen::ZERO);
        steps.push(Step {
            step: "coupon",
            amount: Fen::new((-took).get()),
            explanation: format!("{name}，按适用项目金额分摊到分"),
        });
    }
    steps.extend([
        Step {
            step: "points_offset",
            amount: Fen::new((-priced.points_offset).get()),
            explanation: match (priced.points_used, priced.points_redeemed) {
                (Points::ZERO, Points::ZERO) => "未使用积分".to_owned(),
                (used, Points::ZERO) => format!("{used} 积分抵现，{points_rate} 积分 = ￥1"),
                (Points::ZERO, gifts) => format!("{gifts} 积分兑换礼品"),
                (used, gifts) => format!("{gifts} 积分兑换礼品；{used} 积分抵现，{points_rate} 积分 = ￥1"),
            },
        },
        Step { step: "total", amount: priced.total, explanation: "应收 (次卡支付的项目不计)".to_owned() },
    ]);
    steps
}

pub(super) fn quote_lines(resolved: &Resolved, priced: &Priced) -> Vec<Line> {
    resolved
        .lines
        .iter()
        .zip(&priced.lines)
        .map(|(line, p)| Line {
            id: 0,
            kind: line.kind,
            item_id: line.item_id,
            name: line.name.clone(),
            category: line.category.clone(),
            quantity: line.quantity,
            unit_price: line.unit_price,
            amount: p.amount,
            discount: p.discount,
            coupon: p.coupon,
            points_offset: p.points_offset,
            net: p.net,
            count_card_id: line.count_card.as_ref().map(|c| c.id),
            recognised: Fen::ZERO,
            points_earned: p.points_earned,
            points_redeemed: p.points_redeemed,
            staff: line.staff.clone(),
            refunded_quantity: 0,
            refunded: Fen::ZERO,
            detail: json!({}),
        })
        .collect()
}

pub(super) async fn allergy_matches(ctx: &AppContext, resolved: &Resolved) -> Result<Vec<AllergyMatch>> {
    let Some(member) = &resolved.member else { return Ok(Vec::new()) };
    let services: Vec<(i64, &str, &[String])> = resolved
        .lines
        .iter()
        .filter(|l| l.kind == LineKind::Service)
        .map(|l| (l.item_id, l.name.as_str(), l.substances.as_slice()))
        .collect();
    matching_allergies(ctx, member.id, &services).await
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
        steps: steps(
            &priced,
            resolved.level.as_ref(),
            i64::from(resolved.settings.points_per_yuan_offset),
            &resolved.coupons.iter().map(|c| c.terms.name.as_str()).collect::<Vec<_>>(),
        ),
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
        best_coupon: best_coupon(ctx, principal.merchant_id, &resolved, &draft).await?,
    })
}

/// Tries each of the member's usable coupons alone on the draft as it stands (points included): the one that takes
/// the most, the sooner-expiring one on a tie. A coupon this bill cannot use (below its threshold, no lines it
/// covers, not with points) is passed over. Adding coupons that combine with it is the cashier's choice.
async fn best_coupon(
    ctx: &AppContext,
    merchant_id: i64,
    resolved: &Resolved,
    draft: &BillDraft,
) -> Result<Option<(i64, Fen)>> {
    let Some(member_id) = resolved.member_id() else { return Ok(None) };
    let store_id = resolved.store_id;
    let candidates = crate::coupons::redeem::usable_for(&ctx.db, merchant_id, member_id, store_id, ctx.now()).await?;
    let mut best: Option<(i64, Fen)> = None;
    // Candidates come soonest-expiring first: only a strictly larger discount replaces the one found.
    for coupon in &candidates {
        if let Ok(priced) = resolved.price_with(draft.points, std::slice::from_ref(coupon))
            && priced.coupon > Fen::ZERO
            && best.is_none_or(|(_, off)| priced.coupon > off)
        {
            best = Some((coupon.id, priced.coupon));
        }
    }
    Ok(best)
}
