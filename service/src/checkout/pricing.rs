//! The price of a bill, step by step: pure arithmetic, no database, property-tested.
//!
//! 1. **Subtotal**: each line's unit price × quantity. A member of a level with its own price for a service pays
//!    that price (and no further level discount on the line).
//! 2. **Level discount**: each service and product line at the member's level rate for its category, rounded half
//!    up to the fen per line ([`crate::money::apply_bp`]). Count-card sales and recharges are never discounted.
//! 3. **Coupons**: each of the member's coupons off the lines it covers (its scope: services and products, not
//!    paid by a count card), after the level discount (or instead of it on those lines, when a coupon covering them
//!    does not combine with it). A coupon's threshold counts the lines it covers after the level discount. It takes
//!    its face value (代金券, 满减), the share above its rate of what is left to pay up to its cap (折扣券), or one
//!    unit of its item (兑换券), never more than what is left to pay on those lines, spread over them by largest
//!    remainder so the lines add up to exactly what it took. A bill has one coupon, or several when each of them
//!    combines with others; they apply free items first, then fixed amounts, then percentages ([`apply_rank`]).
//! 4. **Points offset**: `points × 100 ÷ rate` fen rounded down, capped at the discounted service and product
//!    lines not paid by a count card, spread over them by largest remainder. The points actually used are the
//!    fewest that buy that offset, so asking for more points than the bill can take uses only what it can.
//! 5. **Total**: what tenders pay. A service line paid by a count card costs ￥0 here (its sessions pay), and so
//!    does a gift line (积分兑换): it costs its points price × quantity in points, taken before any offset.
//!
//! Points earned: `points_per_yuan × multiplier` per whole yuan of the eligible lines' net (not excluded
//! categories, not card sales or recharges, not count-card sessions, not gifts), rounded down for the bill and
//! spread over the lines by largest remainder, so a refund can take back exactly the points of the lines it
//! refunds; plus each line's fixed bonus points (a recharge plan's 充值送积分).

use crate::domain::{CouponKind, Fen, LineKind, Points};
use crate::money::{apply_bp, spread};

/// One line as pricing sees it.
#[derive(Clone, Debug)]
pub struct PriceLine {
    pub kind: LineKind,
    pub unit_price: Fen,
    pub quantity: i64,
    /// The level rate for this line in basis points (10000: no discount).
    pub level_bp: i64,
    /// Paid by a count card's sessions.
    pub by_card: bool,
    /// Its category earns points.
    pub earns_points: bool,
    /// Gifts: the points one unit costs.
    pub points_price: Points,
    /// Points the line grants whatever is paid (a recharge plan's bonus points).
    pub bonus_points: Points,
}

/// A coupon's terms as pricing applies them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CouponRule {
    pub kind: CouponKind,
    pub value: Fen,
    /// `Percent`: the share paid, in basis points.
    pub rate_bp: i64,
    pub cap: Option<Fen>,
    pub threshold: Fen,
    pub stacks_with_level: bool,
    pub stacks_with_points: bool,
    pub stacks_with_coupons: bool,
}

/// One of the bill's coupons and which of its lines it covers (its scope; for a free-item coupon, the lines of that
/// item), one flag per line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CouponUse {
    pub rule: CouponRule,
    pub covers: Vec<bool>,
}

/// Points rules of the merchant and the member's level.
#[derive(Clone, Copy, Debug)]
pub struct PointsRule {
    pub per_yuan: i64,
    pub multiplier_pct: i64,
    /// Points per ￥1 of offset; 0 turns redemption off.
    pub per_yuan_offset: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PricedLine {
    pub amount: Fen,
    pub discount: Fen,
    /// This line's share of the coupon.
    pub coupon: Fen,
    pub points_offset: Fen,
    pub net: Fen,
    pub points_earned: Points,
    /// Gifts: the points the line costs.
    pub points_redeemed: Points,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Priced {
    pub lines: Vec<PricedLine>,
    pub subtotal: Fen,
    pub discount: Fen,
    /// What the coupons took off, all together.
    pub coupon: Fen,
    /// What each coupon took off, in the order they were given.
    pub coupons: Vec<Fen>,
    /// The coupons (indexes into those given) in the order they applied.
    pub coupon_order: Vec<usize>,
    /// Points used for the offset.
    pub points_used: Points,
    pub points_offset: Fen,
    /// Points spent on gifts.
    pub points_redeemed: Points,
    pub total: Fen,
    pub points_earned: Points,
    /// The most points this bill can use (a cashier's "use all" button).
    pub points_max: Points,
}

/// Why a price cannot be made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PriceError {
    RedemptionOff,
    TooManyPoints {
        max: Points,
    },
    /// The gifts cost more points than the member has.
    GiftsExceedPoints {
        needed: Points,
        available: Points,
    },
    /// The lines the `coupon`-th coupon covers do not reach its threshold (or there are none).
    CouponBelowThreshold {
        coupon: usize,
        threshold: Fen,
        eligible: Fen,
    },
    /// The `coupon`-th coupon does not combine with a points offset, and the bill uses points.
    CouponExcludesPoints {
        coupon: usize,
    },
    /// The bill names several coupons and the `coupon`-th does not combine with others.
    CouponsDoNotCombine {
        coupon: usize,
    },
    /// The `coupon`-th coupon would take nothing off (what it covers is paid already, by coupons before it): it is
    /// not used up for nothing.
    CouponTakesNothing {
        coupon: usize,
    },
}

fn offset_for(points: i64, per_yuan_offset: i64) -> i64 {
    if per_yuan_offset <= 0 { 0 } else { points * 100 / per_yuan_offset }
}

/// The fewest points that buy `offset` fen.
fn points_for(offset: i64, per_yuan_offset: i64) -> i64 {
    (offset * per_yuan_offset + 99) / 100
}

/// The order coupons apply in, whatever order they are named in: a free item first (a whole unit, whatever else
/// applies), then fixed amounts, then percentages, so a percentage is of what is left to pay and never discounts
/// money another coupon already took off.
pub fn apply_rank(kind: CouponKind) -> u8 {
    match kind {
        CouponKind::FreeItem => 0,
        CouponKind::Amount | CouponKind::SpendOff => 1,
        CouponKind::Percent => 2,
    }
}

/// What `coupon` takes off the lines it covers (`covered`: indexes into the lines), given each line's net after the
/// level discount (`after_level`, what its threshold and a free unit count) and what is left to pay on it now
/// (`left`), before spreading.
fn coupon_off(
    coupon: &CouponRule,
    covered: &[usize],
    quantity: &[i64],
    after_level: &[i64],
    left: &[i64],
) -> Option<i64> {
    let eligible: i64 = covered.iter().map(|&l| after_level[l]).sum();
    if covered.is_empty() || eligible < coupon.threshold.get() {
        return None;
    }
    let left: i64 = covered.iter().map(|&l| left[l]).sum();
    let off = match coupon.kind {
        CouponKind::Amount | CouponKind::SpendOff => coupon.value.get(),
        CouponKind::Percent => {
            let off = left - apply_bp(left, coupon.rate_bp.clamp(0, 10_000));
            coupon.cap.map_or(off, |cap| off.min(cap.get()))
        }
        // One unit of the first line of the item: its net over its quantity, rounded up so a free unit is whole.
        CouponKind::FreeItem => covered.first().map_or(0, |&l| (after_level[l] + quantity[l] - 1) / quantity[l].max(1)),
    };
    Some(off.clamp(0, left))
}

/// Prices `lines` using `points` for the offset (gifts first take their points from `available`) and the bill's
/// coupons. The arithmetic is in plain integers of each line's unit (fen or points); what it returns is
/// typed.
pub fn price(
    lines: &[PriceLine],
    points: Points,
    available: Points,
    rule: PointsRule,
    coupons: &[CouponUse],
) -> Result<Priced, PriceError> {
    let (points, available) = (points.get(), available.get());
    let gift_points = |line: &PriceLine| line.points_price.get().max(0) * line.quantity;
    let points_redeemed: i64 = lines.iter().filter(|line| line.kind == LineKind::Gift).map(gift_points).sum();
    if points_redeemed > available {
        return Err(PriceError::GiftsExceedPoints {
            needed: Points::new(points_redeemed),
            available: Points::new(available),
        });
    }
    let available = available - points_redeemed;
    if coupons.len() > 1
        && let Some(coupon) = coupons.iter().position(|c| !c.rule.stacks_with_coupons)
    {
        return Err(PriceError::CouponsDoNotCombine { coupon });
    }
    // A line a coupon can take from: a service or product with a price to pay, in the coupon's scope.
    let covered = |coupon: &CouponUse, index: usize| {
        let line = &lines[index];
        coupon.covers.get(index).copied().unwrap_or(false) && line.kind.is_consumption() && !line.by_card
    };
    // Per line: amount, discount, coupon, offset, net (fen); points earned, points redeemed.
    let mut priced: Vec<[i64; 7]> = lines
        .iter()
        .enumerate()
        .map(|(index, line)| {
            if line.kind == LineKind::Gift {
                return [0, 0, 0, 0, 0, 0, gift_points(line)];
            }
            let amount = line.unit_price.get() * line.quantity;
            let level_applies = !coupons.iter().any(|c| !c.rule.stacks_with_level && covered(c, index));
            let discount = if line.kind.is_consumption() && !line.by_card && level_applies {
                amount - apply_bp(amount, line.level_bp.clamp(0, 10_000))
            } else {
                0
            };
            let net = if line.by_card { 0 } else { amount - discount };
            [amount, discount, 0, 0, net, 0, 0]
        })
        .collect();
    const COUPON: usize = 2;
    const OFFSET: usize = 3;
    const NET: usize = 4;

    let after_level: Vec<i64> = priced.iter().map(|p| p[NET]).collect();
    let quantity: Vec<i64> = lines.iter().map(|line| line.quantity).collect();
    let mut order: Vec<usize> = (0..coupons.len()).collect();
    order.sort_by_key(|&index| apply_rank(coupons[index].rule.kind));
    let mut coupon_parts = vec![0; coupons.len()];
    for &index in &order {
        let coupon = &coupons[index];
        let covers: Vec<usize> = (0..lines.len()).filter(|&l| covered(coupon, l)).collect();
        let left: Vec<i64> = priced.iter().map(|p| p[NET]).collect();
        let off = coupon_off(&coupon.rule, &covers, &quantity, &after_level, &left).ok_or_else(|| {
            PriceError::CouponBelowThreshold {
                coupon: index,
                threshold: coupon.rule.threshold,
                eligible: Fen::new(covers.iter().map(|&l| after_level[l]).sum()),
            }
        })?;
        if off == 0 {
            return Err(PriceError::CouponTakesNothing { coupon: index });
        }
        if points > 0 && !coupon.rule.stacks_with_points {
            return Err(PriceError::CouponExcludesPoints { coupon: index });
        }
        let weights: Vec<i64> = (0..lines.len()).map(|l| if covered(coupon, l) { left[l] } else { 0 }).collect();
        for (line, part) in priced.iter_mut().zip(spread(off, &weights)) {
            line[COUPON] += part;
            line[NET] -= part;
        }
        coupon_parts[index] = off;
    }

    let offsettable: Vec<i64> = lines
        .iter()
        .zip(&priced)
        .map(|(line, p)| if line.kind.is_consumption() && !line.by_card { p[NET] } else { 0 })
        .collect();
    let room: i64 = offsettable.iter().sum();
    let points_max = if rule.per_yuan_offset > 0 {
        points_for(room.min(offset_for(available, rule.per_yuan_offset)), rule.per_yuan_offset)
    } else {
        0
    };
    let (points_used, points_offset) = if points > 0 {
        if rule.per_yuan_offset <= 0 {
            return Err(PriceError::RedemptionOff);
        }
        if points > available {
            return Err(PriceError::TooManyPoints { max: Points::new(points_max) });
        }
        let offset = offset_for(points, rule.per_yuan_offset).min(room);
        (points_for(offset, rule.per_yuan_offset), offset)
    } else {
        (0, 0)
    };
    for (line, part) in priced.iter_mut().zip(spread(points_offset, &offsettable)) {
        line[OFFSET] = part;
        line[NET] -= part;
    }

    let earning: Vec<i64> = lines
        .iter()
        .zip(&priced)
        .map(|(line, p)| if line.kind.is_consumption() && !line.by_card && line.earns_points { p[NET] } else { 0 })
        .collect();
    let earn_base: i64 = earning.iter().sum();
    // Whole yuan × points per yuan × multiplier: bounded by ￥1,000,000 × 100 × 10, far inside i64.
    let earned = (earn_base / 100) * rule.per_yuan.max(0) * rule.multiplier_pct.max(0) / 100;
    for ((p, line), part) in priced.iter_mut().zip(lines).zip(spread(earned, &earning)) {
        p[5] = part + line.bonus_points.get().max(0);
    }
    let lines: Vec<PricedLine> = priced
        .into_iter()
        .map(|[amount, discount, coupon, points_offset, net, points_earned, points_redeemed]| PricedLine {
            amount: Fen::new(amount),
            discount: Fen::new(discount),
            coupon: Fen::new(coupon),
            points_offset: Fen::new(points_offset),
            net: Fen::new(net),
            points_earned: Points::new(points_earned),
            points_redeemed: Points::new(points_redeemed),
        })
        .collect();
    Ok(Priced {
        subtotal: lines.iter().map(|p| p.amount).sum(),
        discount: lines.iter().map(|p| p.discount).sum(),
        coupon: Fen::new(coupon_parts.iter().sum()),
        coupons: coupon_parts.into_iter().map(Fen::new).collect(),
        coupon_order: order,
        points_used: Points::new(points_used),
        points_offset: Fen::new(points_offset),
        points_redeemed: Points::new(points_redeemed),
        total: lines.iter().map(|p| p.net).sum(),
        points_earned: lines.iter().map(|p| p.points_earned).sum(),
        points_max: Points::new(points_max),
        lines,
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn pts(points: i64) -> Points {
        Points::new(points)
    }

    const RULE: PointsRule = PointsRule { per_yuan: 1, multiplier_pct: 100, per_yuan_offset: 100 };

    fn service(unit_price: i64, level_bp: i64) -> PriceLine {
        PriceLine {
            kind: LineKind::Service,
            unit_price: Fen::new(unit_price),
            quantity: 1,
            level_bp,
            by_card: false,
            earns_points: true,
            points_price: Points::ZERO,
            bonus_points: Points::ZERO,
        }
    }

    #[test]
    fn a_worked_example() {
        // ￥88 cut and ￥199 colour at 9折, ￥68 shampoo at 95折, 500 points at 100 points per ￥1.
        let mut shampoo = service(6800, 9500);
        shampoo.kind = LineKind::Product;
        let lines = [service(8800, 9000), service(19900, 9000), shampoo];
        let priced = price(&lines, pts(500), pts(1000), RULE, &[]).unwrap();
        assert_eq!(priced.subtotal.get(), 35_500);
        assert_eq!(priced.discount.get(), 880 + 1990 + 340);
        assert_eq!(priced.points_offset.get(), 500);
        assert_eq!(priced.points_used.get(), 500);
        assert_eq!(priced.total.get(), 35_500 - 3_210 - 500);
        assert_eq!(priced.lines.iter().map(|l| l.points_offset.get()).sum::<i64>(), 500);
        assert_eq!(priced.points_earned.get(), priced.total.get() / 100);
    }

    #[test]
    fn count_card_lines_cost_nothing_and_earn_nothing() {
        let mut by_card = service(8800, 9000);
        by_card.by_card = true;
        let priced = price(&[by_card], pts(0), pts(0), RULE, &[]).unwrap();
        assert_eq!((priced.total.get(), priced.discount.get(), priced.points_earned.get()), (0, 0, 0));
    }

    #[test]
    fn points_beyond_the_balance_are_refused_and_beyond_the_bill_unused() {
        let lines = [service(1000, 10_000)];
        let capped = price(&lines, pts(2000), pts(5000), RULE, &[]).unwrap();
        assert_eq!(
            (capped.points_used.get(), capped.points_offset.get(), capped.total.get(), capped.points_max.get()),
            (1000, 1000, 0, 1000)
        );
        assert_eq!(price(&lines, pts(600), pts(500), RULE, &[]), Err(PriceError::TooManyPoints { max: pts(500) }));
        let off = PointsRule { per_yuan_offset: 0, ..RULE };
        assert_eq!(price(&lines, pts(1), pts(500), off, &[]), Err(PriceError::RedemptionOff));
    }

    #[test]
    fn an_uneven_rate_uses_the_fewest_points() {
        // 150 points per ￥1: 100 points buy 66 fen, and 99 points are enough for that.
        let rule = PointsRule { per_yuan_offset: 150, ..RULE };
        let priced = price(&[service(1000, 10_000)], pts(100), pts(100), rule, &[]).unwrap();
        assert_eq!((priced.points_offset.get(), priced.points_used.get()), (66, 99));
    }

    #[test]
    fn gifts_take_their_points_first_and_cost_no_money() {
        let gift = PriceLine {
            kind: LineKind::Gift,
            unit_price: Fen::ZERO,
            quantity: 2,
            level_bp: 10_000,
            by_card: false,
            earns_points: true,
            points_price: pts(300),
            bonus_points: Points::ZERO,
        };
        let lines = [service(1000, 10_000), gift];
        // 1,000 points: 600 go to the two gifts, the other 400 buy ￥4 off the service.
        let priced = price(&lines, pts(1000), pts(1000), RULE, &[]).unwrap_err();
        assert_eq!(priced, PriceError::TooManyPoints { max: pts(400) });
        let priced = price(&lines, pts(400), pts(1000), RULE, &[]).unwrap();
        assert_eq!(
            (priced.points_redeemed.get(), priced.points_used.get(), priced.points_offset.get()),
            (600, 400, 400)
        );
        assert_eq!(
            (priced.total.get(), priced.lines[1].net.get(), priced.lines[1].points_redeemed.get()),
            (600, 0, 600)
        );
        // Points earned on the ￥6 paid only; the gift earns none.
        assert_eq!((priced.points_earned.get(), priced.lines[1].points_earned.get()), (6, 0));
        assert_eq!(
            price(&lines, pts(0), pts(599), RULE, &[]),
            Err(PriceError::GiftsExceedPoints { needed: pts(600), available: pts(599) })
        );
    }

    #[test]
    fn a_recharge_plan_grants_its_bonus_points() {
        let recharge = PriceLine {
            kind: LineKind::Recharge,
            unit_price: Fen::new(300_000),
            quantity: 1,
            level_bp: 10_000,
            by_card: false,
            earns_points: false,
            points_price: Points::ZERO,
            bonus_points: pts(3_000),
        };
        let priced = price(&[service(10_000, 10_000), recharge], Points::ZERO, Points::ZERO, RULE, &[]).unwrap();
        assert_eq!(
            (priced.points_earned.get(), priced.lines[0].points_earned.get(), priced.lines[1].points_earned.get()),
            (3_100, 100, 3_000)
        );
    }

    fn coupon(kind: CouponKind, value: i64, threshold: i64) -> CouponRule {
        CouponRule {
            kind,
            value: Fen::new(value),
            rate_bp: 10_000,
            cap: None,
            threshold: Fen::new(threshold),
            stacks_with_level: true,
            stacks_with_points: true,
            stacks_with_coupons: false,
        }
    }

    /// `rule` on the lines flagged in `covers`.
    fn on(rule: CouponRule, covers: &[bool]) -> CouponUse {
        CouponUse { rule, covers: covers.to_vec() }
    }

    #[test]
    fn a_coupon_comes_off_the_lines_it_covers_after_the_level_discount() {
        // ￥88 and ￥199 at 9折 (79.20 + 179.10 = 258.30), the product outside the coupon's scope.
        let mut shampoo = service(6800, 10_000);
        shampoo.kind = LineKind::Product;
        let lines = [service(8800, 9000), service(19900, 9000), shampoo];
        let services = [true, true, false];
        let twenty = on(coupon(CouponKind::Amount, 2000, 0), &services);
        let priced = price(&lines, pts(0), pts(0), RULE, &[twenty]).unwrap();
        assert_eq!((priced.coupon.get(), priced.coupons.clone()), (2000, vec![Fen::new(2000)]));
        assert_eq!(priced.lines.iter().map(|l| l.coupon.get()).collect::<Vec<_>>(), [613, 1387, 0]);
        assert_eq!(priced.total.get(), 7920 + 17910 + 6800 - 2000);
        // 满 ￥300 减 ￥50 counts only the covered lines after the level discount: ￥258.30 is not enough.
        let spend = on(coupon(CouponKind::SpendOff, 5000, 30_000), &services);
        assert_eq!(
            price(&lines, pts(0), pts(0), RULE, &[spend]),
            Err(PriceError::CouponBelowThreshold {
                coupon: 0,
                threshold: Fen::new(30_000),
                eligible: Fen::new(25_830)
            })
        );
    }

    #[test]
    fn a_percent_coupon_is_capped_and_a_free_item_is_one_unit() {
        let lines = [service(10_000, 10_000)];
        let mut eighty = coupon(CouponKind::Percent, 0, 0);
        eighty.rate_bp = 8000;
        assert_eq!(price(&lines, pts(0), pts(0), RULE, &[on(eighty, &[true])]).unwrap().coupon.get(), 2000);
        eighty.cap = Some(Fen::new(1500));
        assert_eq!(price(&lines, pts(0), pts(0), RULE, &[on(eighty, &[true])]).unwrap().coupon.get(), 1500);
        let mut washes = service(6800, 10_000);
        washes.quantity = 2;
        let free = on(coupon(CouponKind::FreeItem, 0, 0), &[true]);
        let priced = price(&[washes], pts(0), pts(0), RULE, &[free]).unwrap();
        assert_eq!((priced.coupon.get(), priced.total.get()), (6800, 6800));
    }

    #[test]
    fn a_coupon_that_does_not_combine_replaces_the_level_discount_and_refuses_points() {
        let lines = [service(10_000, 9000)];
        let mut alone = coupon(CouponKind::Amount, 2000, 0);
        alone.stacks_with_level = false;
        alone.stacks_with_points = false;
        let priced = price(&lines, pts(0), pts(0), RULE, &[on(alone, &[true])]).unwrap();
        assert_eq!((priced.discount.get(), priced.coupon.get(), priced.total.get()), (0, 2000, 8000));
        assert_eq!(
            price(&lines, pts(100), pts(100), RULE, &[on(alone, &[true])]),
            Err(PriceError::CouponExcludesPoints { coupon: 0 })
        );
        // A coupon bigger than the bill takes the bill, never more.
        let big = on(coupon(CouponKind::Amount, 50_000, 0), &[true]);
        let priced = price(&lines, pts(0), pts(0), RULE, &[big]).unwrap();
        assert_eq!((priced.coupon.get(), priced.total.get()), (9000, 0));
    }

    #[test]
    fn coupons_that_combine_apply_free_items_then_amounts_then_percentages() {
        // A ￥100 cut and two ￥50 washes, no level discount.
        let mut washes = service(5000, 10_000);
        washes.quantity = 2;
        let lines = [service(10_000, 10_000), washes];
        let stacking = |mut rule: CouponRule| {
            rule.stacks_with_coupons = true;
            rule
        };
        let mut ninety = stacking(coupon(CouponKind::Percent, 0, 0));
        ninety.rate_bp = 9000;
        let free_wash = stacking(coupon(CouponKind::FreeItem, 0, 0));
        let thirty_off_200 = stacking(coupon(CouponKind::SpendOff, 3000, 20_000));
        // Named percentage first: still applied last, to what is left after the free wash and the ￥30.
        let coupons = [on(ninety, &[true, true]), on(thirty_off_200, &[true, true]), on(free_wash, &[false, true])];
        let priced = price(&lines, pts(0), pts(0), RULE, &coupons).unwrap();
        // ￥200 − ￥50 (a wash) − ￥30 = ￥120; 9折 of ￥120 takes ￥12.
        assert_eq!(priced.coupons, [Fen::new(1200), Fen::new(3000), Fen::new(5000)]);
        assert_eq!((priced.coupon.get(), priced.total.get()), (9200, 10_800));
        assert_eq!(priced.lines.iter().map(|l| l.coupon.get()).sum::<i64>(), 9200);
        // The ￥200 threshold counts the lines before any coupon: the free wash does not push it below.
        assert!(price(&lines, pts(0), pts(0), RULE, &coupons[1..]).is_ok());
        // One coupon that does not combine refuses the company of any other.
        let mut alone = thirty_off_200;
        alone.stacks_with_coupons = false;
        assert_eq!(
            price(&lines, pts(0), pts(0), RULE, &[on(free_wash, &[false, true]), on(alone, &[true, true])]),
            Err(PriceError::CouponsDoNotCombine { coupon: 1 })
        );
        assert!(price(&lines, pts(0), pts(0), RULE, &[on(alone, &[true, true])]).is_ok());
        // A coupon that does not combine with the level discount takes it off the lines it covers, and only those.
        let mut leveled = lines.clone();
        leveled[0].level_bp = 9000;
        leveled[1].level_bp = 9000;
        let mut no_level = stacking(coupon(CouponKind::Amount, 1000, 0));
        no_level.stacks_with_level = false;
        let priced =
            price(&leveled, pts(0), pts(0), RULE, &[on(no_level, &[true, false]), on(free_wash, &[false, true])])
                .unwrap();
        assert_eq!(priced.lines.iter().map(|l| l.discount.get()).collect::<Vec<_>>(), [0, 1000]);
        assert_eq!(priced.coupons, [Fen::new(1000), Fen::new(4500)]);
    }

    fn arb_coupon() -> impl Strategy<Value = CouponUse> {
        (
            (0usize..4, 1i64..200_000, 1i64..10_000, prop::option::of(1i64..50_000), 0i64..100_000),
            (any::<bool>(), any::<bool>(), prop::bool::weighted(0.8)),
            prop::collection::vec(any::<bool>(), 12),
        )
            .prop_map(
                |(
                    (kind, value, rate_bp, cap, threshold),
                    (stacks_with_level, stacks_with_points, stacks_with_coupons),
                    covers,
                )| CouponUse {
                    rule: CouponRule {
                        kind: [CouponKind::Amount, CouponKind::Percent, CouponKind::SpendOff, CouponKind::FreeItem]
                            [kind],
                        value: Fen::new(value),
                        rate_bp,
                        cap: cap.map(Fen::new),
                        threshold: Fen::new(threshold),
                        stacks_with_level,
                        stacks_with_points,
                        stacks_with_coupons,
                    },
                    covers,
                },
            )
    }

    fn arb_line() -> impl Strategy<Value = PriceLine> {
        (0usize..5, 0i64..1_000_000, 1i64..10, 1000i64..=10_000, any::<bool>(), any::<bool>(), 0i64..2_000).prop_map(
            |(kind, unit_price, quantity, level_bp, by_card, earns_points, points)| {
                let kind =
                    [LineKind::Service, LineKind::Product, LineKind::CardSale, LineKind::Recharge, LineKind::Gift]
                        [kind];
                PriceLine {
                    kind,
                    unit_price: Fen::new(unit_price),
                    quantity,
                    level_bp,
                    by_card: by_card && kind == LineKind::Service,
                    earns_points,
                    points_price: pts(if kind == LineKind::Gift { points } else { 0 }),
                    bonus_points: pts(if kind == LineKind::Recharge { points } else { 0 }),
                }
            },
        )
    }

    proptest! {
        #[test]
        fn parts_sum_to_the_whole_and_nothing_is_negative(
            lines in prop::collection::vec(arb_line(), 1..12),
            points in 0i64..2_000_000,
            available in 0i64..2_000_000,
            per_yuan_offset in 1i64..500,
            multiplier_pct in 0i64..300,
            coupons in prop::collection::vec(arb_coupon(), 0..4),
        ) {
            let rule = PointsRule { per_yuan: 2, multiplier_pct, per_yuan_offset };
            match price(&lines, pts(points), pts(available), rule, &coupons) {
                Ok(priced) => {
                    prop_assert_eq!(priced.subtotal.get(), priced.lines.iter().map(|l| l.amount.get()).sum::<i64>());
                    let by_card: i64 = lines.iter().zip(&priced.lines).filter(|(l, _)| l.by_card).map(|(_, p)| p.amount.get()).sum();
                    prop_assert_eq!(priced.total.get(), priced.subtotal.get() - by_card - priced.discount.get() - priced.coupon.get() - priced.points_offset.get());
                    prop_assert_eq!(priced.coupon.get(), priced.lines.iter().map(|l| l.coupon.get()).sum::<i64>());
                    prop_assert_eq!(priced.coupon.get(), priced.coupons.iter().map(|c| c.get()).sum::<i64>());
                    prop_assert_eq!(priced.coupons.len(), coupons.len());
                    prop_assert!(coupons.len() <= 1 || coupons.iter().all(|c| c.rule.stacks_with_coupons));
                    prop_assert_eq!(priced.coupon_order.len(), coupons.len());
                    for (c, took) in coupons.iter().zip(&priced.coupons) {
                        prop_assert!(took.get() > 0, "a coupon used takes something");
                        let face = match c.rule.kind {
                            CouponKind::Amount | CouponKind::SpendOff => c.rule.value.get(),
                            CouponKind::Percent => c.rule.cap.map_or(i64::MAX, |cap| cap.get()),
                            CouponKind::FreeItem => i64::MAX,
                        };
                        prop_assert!(took.get() >= 0 && took.get() <= face);
                    }
                    for (index, (line, p)) in lines.iter().zip(&priced.lines).enumerate() {
                        let covered = coupons.iter().any(|c| c.covers[index]);
                        prop_assert!(p.coupon.get() == 0 || (covered && !line.by_card));
                    }
                    prop_assert_eq!(priced.points_offset.get(), priced.lines.iter().map(|l| l.points_offset.get()).sum::<i64>());
                    prop_assert_eq!(priced.points_earned.get(), priced.lines.iter().map(|l| l.points_earned.get()).sum::<i64>());
                    let redeemed: i64 = lines.iter().filter(|l| l.kind == LineKind::Gift).map(|l| l.points_price.get() * l.quantity).sum();
                    prop_assert_eq!(priced.points_redeemed.get(), redeemed);
                    prop_assert_eq!(priced.points_redeemed.get(), priced.lines.iter().map(|l| l.points_redeemed.get()).sum::<i64>());
                    prop_assert!(priced.points_used.get() <= points && priced.points_used.get() + priced.points_redeemed.get() <= available);
                    prop_assert!(priced.points_offset.get() <= offset_for(priced.points_used.get(), per_yuan_offset));
                    for line in &priced.lines {
                        prop_assert!(line.discount.get() >= 0 && line.points_offset.get() >= 0 && line.net.get() >= 0 && line.points_earned.get() >= 0);
                        prop_assert!(line.coupon.get() >= 0);
                        prop_assert!(line.discount.get() + line.coupon.get() + line.points_offset.get() <= line.amount.get());
                    }
                }
                Err(PriceError::TooManyPoints { max }) => {
                    let redeemed: i64 = lines.iter().filter(|l| l.kind == LineKind::Gift).map(|l| l.points_price.get() * l.quantity).sum();
                    prop_assert!(points > available - redeemed && max.get() <= available - redeemed);
                    let most = price(&lines, max, pts(available), rule, &coupons);
                    prop_assert!(most.is_ok());
                    prop_assert_eq!(most.unwrap().points_used, max);
                }
                Err(PriceError::GiftsExceedPoints { needed, available: had }) => {
                    prop_assert!(needed.get() > had.get() && had.get() == available);
                }
                Err(PriceError::RedemptionOff) => prop_assert!(false, "redemption is on"),
                Err(PriceError::CouponBelowThreshold { coupon, threshold, eligible }) => {
                    prop_assert!(coupons[coupon].rule.threshold == threshold && (eligible < threshold || eligible == Fen::ZERO));
                }
                Err(PriceError::CouponExcludesPoints { coupon }) => {
                    prop_assert!(points > 0 && !coupons[coupon].rule.stacks_with_points);
                }
                Err(PriceError::CouponsDoNotCombine { coupon }) => {
                    prop_assert!(coupons.len() > 1 && !coupons[coupon].rule.stacks_with_coupons);
                }
                Err(PriceError::CouponTakesNothing { coupon }) => {
                    // Only when what it covers is paid already: nothing left on its lines, or a percentage of
                    // a few fen that rounds to nothing.
                    let covered_left: i64 = lines.iter().enumerate()
                        .filter(|(i, l)| coupons[coupon].covers[*i] && l.kind.is_consumption() && !l.by_card)
                        .map(|(_, l)| l.unit_price.get() * l.quantity).sum();
                    prop_assert!(coupons.len() > 1 || covered_left == 0 || coupons[coupon].rule.kind == CouponKind::Percent);
                }
            }
        }
    }
}
