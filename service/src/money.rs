//! Arithmetic on money in integer fen, with the one rounding rule Huiyuan uses everywhere:
//!
//! - A rate applied to one amount (a level discount, a commission percentage) rounds **half up to the fen**
//!   (四舍五入): `￥0.005` becomes `￥0.01`.
//! - An amount that belongs to a whole bill (a points offset, points earned, a refund across tenders) is
//!   **spread over the parts by largest remainder**, so the parts always add up to the whole, no part is
//!   negative, and no fen is created or lost by rounding.

/// `amount × bp / 10000`, rounded half up. `bp` is basis points (9000 = 90 %). Amounts and rates are
/// non-negative.
pub fn apply_bp(amount: i64, bp: i64) -> i64 {
    debug_assert!(amount >= 0 && bp >= 0);
    let scaled = i128::from(amount) * i128::from(bp);
    narrow((scaled + 5_000) / 10_000)
}

/// Back from the wide intermediate: every result here is at most one of the `i64` inputs, so it always fits.
fn narrow(value: i128) -> i64 {
    i64::try_from(value).unwrap_or(if value < 0 { i64::MIN } else { i64::MAX })
}

/// Spreads `total` over parts in proportion to `weights` (largest-remainder method). The parts sum to `total`
/// exactly; when `total <= sum(weights)` no part exceeds its weight. Ties go to the earlier part. All weights zero
/// puts everything on the first part (or nothing when there are no parts).
pub fn spread(total: i64, weights: &[i64]) -> Vec<i64> {
    debug_assert!(total >= 0 && weights.iter().all(|w| *w >= 0));
    let sum: i128 = weights.iter().map(|w| i128::from(*w)).sum();
    if weights.is_empty() {
        return Vec::new();
    }
    if sum == 0 {
        let mut parts = vec![0; weights.len()];
        parts[0] = total;
        return parts;
    }
    let mut parts = Vec::with_capacity(weights.len());
    let mut remainders = Vec::with_capacity(weights.len());
    for (index, weight) in weights.iter().enumerate() {
        let exact = i128::from(total) * i128::from(*weight);
        parts.push(narrow(exact / sum));
        remainders.push((exact % sum, index));
    }
    let mut left = total - parts.iter().sum::<i64>();
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, index) in remainders {
        if left == 0 {
            break;
        }
        parts[index] += 1;
        left -= 1;
    }
    parts
}

/// The part of `whole` that belongs to `done` of `of` units, rounded down, reaching `whole` exactly at the last
/// unit. Used for refunds: refunding units one request at a time adds up to the same as refunding them at once.
pub fn share_of(whole: i64, done: i64, of: i64) -> i64 {
    debug_assert!(of > 0 && (0..=of).contains(&done));
    narrow(i128::from(whole) * i128::from(done) / i128::from(of))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn half_up() {
        assert_eq!(apply_bp(105, 9500), 100); // 99.75 → 100
        assert_eq!(apply_bp(1, 5000), 1); // 0.5 → 1
        assert_eq!(apply_bp(3, 1000), 0); // 0.3 → 0
        assert_eq!(apply_bp(9990, 8800), 8791); // 8791.2 → 8791
    }

    #[test]
    fn spread_examples() {
        assert_eq!(spread(100, &[1, 1, 1]), vec![34, 33, 33]);
        assert_eq!(spread(10, &[0, 0]), vec![10, 0]);
        assert_eq!(spread(5, &[3000, 1000]), vec![4, 1]);
        assert!(spread(7, &[]).is_empty());
    }

    proptest! {
        #[test]
        fn spread_sums_to_the_whole(total in 0i64..10_000_000, weights in prop::collection::vec(0i64..1_000_000, 1..20)) {
            let parts = spread(total, &weights);
            prop_assert_eq!(parts.iter().sum::<i64>(), total);
            prop_assert!(parts.iter().all(|p| *p >= 0));
            if total <= weights.iter().sum::<i64>() {
                prop_assert!(parts.iter().zip(&weights).all(|(p, w)| p <= w));
            }
        }

        #[test]
        fn shares_add_up_however_they_are_taken(whole in 0i64..10_000_000, of in 1i64..50, cuts in prop::collection::vec(1i64..10, 0..10)) {
            let mut done = 0;
            let mut taken = 0;
            for cut in cuts {
                let next = (done + cut).min(of);
                taken += share_of(whole, next, of) - share_of(whole, done, of);
                done = next;
            }
            taken += share_of(whole, of, of) - share_of(whole, done, of);
            prop_assert_eq!(taken, whole);
        }

        #[test]
        fn discount_never_exceeds_the_price(amount in 0i64..100_000_000, bp in 0i64..=10_000) {
            let discounted = apply_bp(amount, bp);
            prop_assert!((0..=amount).contains(&discounted));
        }
    }
}
