//! Known answers from the published worked examples, properties every interval must have, and a simulation of many
//! campaigns with a known true effect measuring how often the intervals cover it.

use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;

fn close(actual: f64, expected: f64, tolerance: f64) -> bool {
    (actual - expected).abs() <= tolerance
}

/// Newcombe (1998), Statistics in Medicine 17:873–890, table II, method 10: the eight worked examples, to the four
/// places the paper prints.
#[test]
fn newcombes_hybrid_interval_gives_the_papers_worked_examples() {
    let examples = [
        ((56, 70, 48, 80), (0.0524, 0.3339)),
        ((9, 10, 3, 10), (0.1705, 0.8090)),
        ((6, 7, 2, 7), (0.0582, 0.8062)),
        ((5, 56, 0, 29), (-0.0381, 0.1926)),
        ((0, 10, 0, 20), (-0.1611, 0.2775)),
        ((0, 10, 0, 10), (-0.2775, 0.2775)),
        ((10, 10, 0, 20), (0.6791, 1.0000)),
        ((10, 10, 0, 10), (0.6075, 1.0000)),
    ];
    for ((x1, n1, x2, n2), (low, high)) in examples {
        let interval = newcombe(x1, n1, x2, n2).unwrap();
        assert!(
            close(interval.low, low, 5e-5) && close(interval.high, high, 5e-5),
            "{x1}/{n1} − {x2}/{n2}: {interval:?}, the paper {low}–{high}"
        );
    }
}

/// Student's sleep data (Student 1908; R's `sleep`), compared by Welch's test in R's `t.test` documentation:
/// t = −1.8608, df = 17.776, 95% interval −3.3654832 to 0.2054832.
#[test]
fn welchs_interval_gives_the_textbook_example() {
    let first = Moments::of([0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]);
    let second = Moments::of([1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]);
    let (interval, df) = welch(&first, &second).unwrap();
    assert!(close(interval.estimate, -1.58, 1e-9), "{interval:?}");
    assert!(close(df, 17.776, 5e-4), "df {df}");
    assert!(close(interval.low, -3.365_483_2, 1e-6) && close(interval.high, 0.205_483_2, 1e-6), "{interval:?}");
}

/// Quantiles of Student's t from the printed tables, and the normal one in the limit.
#[test]
fn the_t_quantiles_match_the_tables() {
    for (df, quantile) in
        [(1.0, 12.7062), (2.0, 4.3027), (5.0, 2.5706), (10.0, 2.2281), (30.0, 2.0423), (120.0, 1.9799)]
    {
        assert!(close(student_t_quantile(0.975, df), quantile, 5e-4), "df {df}: {}", student_t_quantile(0.975, df));
    }
    assert!(close(student_t_quantile(0.975, 1e12), Z_95, 1e-6));
    assert!(close(student_t_quantile(0.025, 10.0), -2.2281, 5e-4));
    assert!(close(student_t_cdf(2.2281, 10.0), 0.975, 1e-5));
}

/// The power table of MARKETING.md (normal approximation, 5% two-sided, 80% power), to the tenth of a point it
/// prints.
#[test]
fn the_detectable_difference_matches_the_power_table() {
    let table = [
        ((270, 30), (21.6, 11.8)),
        ((400, 100), (12.5, 6.8)),
        ((1_600, 400), (6.3, 3.4)),
        ((47_500, 2_500), (2.3, 1.3)),
    ];
    for ((treated, control), (at_20, at_5)) in table {
        let points = |rate| 100.0 * detectable_rate_difference(rate, treated, control).unwrap();
        assert!(close(points(0.20), at_20, 0.05) && close(points(0.05), at_5, 0.05), "{treated}/{control}");
    }
    assert_eq!(detectable_rate_difference(0.2, 100, 0), None);
}

#[test]
fn the_verdict_is_the_sign_of_the_whole_interval_and_the_net_return_follows_the_lift() {
    let lift = Interval { estimate: 3.0, low: -1.0, high: 7.0 };
    assert_eq!(verdict(&lift), Verdict::Inconclusive);
    assert_eq!(verdict(&Interval { estimate: 3.0, low: 0.5, high: 7.0 }), Verdict::Positive);
    assert_eq!(verdict(&Interval { estimate: -3.0, low: -7.0, high: -0.5 }), Verdict::Negative);
    // 1,000 treated members, each ￥3 (−1 to 7) more, for ￥2,000: ￥1,000 net (−3,000 to 5,000), a return of 0.5.
    let back = net_return(lift, 1_000, 2_000.0);
    assert_eq!(back.net, Interval { estimate: 1_000.0, low: -3_000.0, high: 5_000.0 });
    assert_eq!(back.roi, Some(Interval { estimate: 0.5, low: -1.5, high: 2.5 }));
    assert_eq!(net_return(lift, 1_000, 0.0).roi, None, "nothing spent: no return on it");
}

#[test]
fn groups_too_small_have_no_interval() {
    assert_eq!(wilson(0, 0), None);
    assert_eq!(newcombe(1, 10, 0, 0), None);
    assert_eq!(welch(&Moments::of([1.0]), &Moments::of([1.0, 2.0])), None);
    // Two groups where every member did the same: the difference is exact.
    let (exact, _) = welch(&Moments::of([5.0, 5.0]), &Moments::of([2.0, 2.0, 2.0])).unwrap();
    assert_eq!((exact.low, exact.high), (3.0, 3.0));
}

proptest! {
    #[test]
    fn a_rate_interval_holds_its_estimate_and_narrows_as_groups_grow(
        x1 in 0_u64..200, extra1 in 0_u64..200, x2 in 0_u64..200, extra2 in 0_u64..200,
    ) {
        let (n1, n2) = (x1 + extra1 + 1, x2 + extra2 + 1);
        let small = newcombe(x1, n1, x2, n2).unwrap();
        prop_assert!(small.low <= small.estimate && small.estimate <= small.high, "{small:?}");
        prop_assert!(small.low >= -1.0 && small.high <= 1.0);
        // The same rates over ten times the members.
        let large = newcombe(10 * x1, 10 * n1, 10 * x2, 10 * n2).unwrap();
        prop_assert!(close(large.estimate, small.estimate, 1e-12));
        prop_assert!(large.high - large.low < small.high - small.low, "{small:?} {large:?}");
    }

    #[test]
    fn identical_rates_give_an_interval_around_zero(x in 0_u64..500, extra in 1_u64..500) {
        let same = newcombe(x, x + extra, x, x + extra).unwrap();
        prop_assert!(same.estimate == 0.0 && same.low < 0.0 && same.high > 0.0, "{same:?}");
        prop_assert!(close(same.low, -same.high, 1e-12), "symmetric: {same:?}");
    }

    #[test]
    fn a_mean_interval_holds_its_estimate_and_narrows_as_groups_grow(
        first in proptest::collection::vec(0_u32..100_000, 2..40),
        second in proptest::collection::vec(0_u32..100_000, 2..40),
    ) {
        prop_assume!(first.iter().any(|v| *v != first[0]) || second.iter().any(|v| *v != second[0]));
        let values = |v: &[u32], times: usize| Moments::of(v.iter().cycle().take(v.len() * times).map(|x| f64::from(*x)));
        let (small, _) = welch(&values(&first, 1), &values(&second, 1)).unwrap();
        prop_assert!(small.low < small.estimate && small.estimate < small.high, "{small:?}");
        let (large, _) = welch(&values(&first, 10), &values(&second, 10)).unwrap();
        prop_assert!(close(large.estimate, small.estimate, 1e-6 * small.estimate.abs().max(1.0)));
        prop_assert!(large.high - large.low < small.high - small.low, "{small:?} {large:?}");
    }

    #[test]
    fn identical_groups_give_a_mean_interval_around_zero(
        values in proptest::collection::vec(0_u32..100_000, 2..60),
    ) {
        prop_assume!(values.iter().any(|v| *v != values[0]));
        let group = Moments::of(values.iter().map(|v| f64::from(*v)));
        let (same, _) = welch(&group, &group).unwrap();
        prop_assert!(same.estimate == 0.0 && same.low < 0.0 && same.high > 0.0, "{same:?}");
    }
}

/// One simulated member's spending over a campaign's horizon: a visit with probability `rate`, then a bill of ￥50
/// to ￥3,050 drawn from a skewed law (most bills small, a few large), so money per member is mostly zero and skewed
/// as in a salon.
fn spend(rng: &mut StdRng, rate: f64) -> f64 {
    if rng.gen_range(0.0..1.0) >= rate {
        return 0.0;
    }
    let u: f64 = rng.gen_range(0.0..1.0);
    50.0 + 3_000.0 * u * u * u
}

/// Mean spend per member of a group at `rate`, computed exactly: P(visit) × the bill's mean (50 + 3000/4).
fn true_mean(rate: f64) -> f64 {
    rate * (50.0 + 3_000.0 / 4.0)
}

/// Coverage over 2,000 seeded campaigns of 2,000 treated and 500 control members. A 95% interval should cover the
/// true difference in 95% of them; with 2,000 runs the share a correct interval shows has a standard error of
/// 0.49 points, so the test accepts 93.5%–96.5% (three standard errors).
#[test]
fn the_intervals_cover_a_known_effect_about_95_times_in_100_and_say_inconclusive_when_there_is_none() {
    const RUNS: u32 = 2_000;
    let (treated, control) = (2_000_u64, 500_u64);
    for (name, treated_rate, control_rate) in [("an effect", 0.23, 0.20), ("no effect", 0.20, 0.20)] {
        let mut rng = StdRng::seed_from_u64(20_261_207);
        let (mut rate_covered, mut mean_covered, mut inconclusive) = (0_u32, 0_u32, 0_u32);
        for _ in 0..RUNS {
            let group = |rng: &mut StdRng, n: u64, rate: f64| {
                let values: Vec<f64> = (0..n).map(|_| spend(rng, rate)).collect();
                let visitors = values.iter().filter(|v| **v > 0.0).count();
                (u64::try_from(visitors).unwrap(), Moments::of(values))
            };
            let (t_visitors, t_money) = group(&mut rng, treated, treated_rate);
            let (c_visitors, c_money) = group(&mut rng, control, control_rate);
            let rate = newcombe(t_visitors, treated, c_visitors, control).unwrap();
            rate_covered += u32::from(rate.contains(treated_rate - control_rate));
            let (money, _) = welch(&t_money, &c_money).unwrap();
            mean_covered += u32::from(money.contains(true_mean(treated_rate) - true_mean(control_rate)));
            inconclusive += u32::from(verdict(&money) == Verdict::Inconclusive);
        }
        let share = |count: u32| f64::from(count) / f64::from(RUNS);
        let (rate_share, mean_share) = (share(rate_covered), share(mean_covered));
        println!(
            "{name}: visit-rate coverage {rate_share}, money coverage {mean_share}, inconclusive {}",
            share(inconclusive)
        );
        assert!((0.935..=0.965).contains(&rate_share), "{name}: the visit-rate interval covered {rate_share}");
        assert!((0.935..=0.965).contains(&mean_share), "{name}: the money interval covered {mean_share}");
        if name == "no effect" {
            // With no effect, "inconclusive" is the verdict whenever the interval covers zero: about 95%.
            assert!(share(inconclusive) >= 0.935, "no effect, inconclusive only {}", share(inconclusive));
        }
    }
}
