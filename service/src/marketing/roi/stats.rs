//! The statistics of a campaign's report, as pure functions: the difference between the treatment group and the
//! random control group, with a 95% interval, and what a campaign of a given size can detect at all.
//!
//! - **Visit rate** (a proportion): each group's Wilson score interval, and for the difference Newcombe's hybrid
//!   score interval (Newcombe 1998, method 10), which keeps its coverage for small groups and rates near 0 or 1
//!   where the textbook normal interval does not.
//! - **Money per member** (mostly zero and skewed): Welch's interval for a difference of means. It needs only each
//!   group's count, sum and sum of squares, which running aggregates keep, so a report never reads a member's
//!   bills; at the group sizes where any verdict is possible the mean is close to normal whatever the skew, and
//!   the simulation test below measures its coverage on skewed, mostly-zero spending.
//! - **Net return**: the lift in money per member times the treatment group's size, less what the campaign cost.
//!   The costs are counted (discounts given, messages billed), not estimated: the uncertainty is the lift's.

/// The two-sided 95% normal quantile.
pub const Z_95: f64 = 1.959_963_984_540_054;
/// The one-sided normal quantile of 80% power.
pub const Z_POWER_80: f64 = 0.841_621_233_572_914_3;

/// A count as a real number: exact, since counts of members stay far below 2⁵³.
#[expect(clippy::as_conversions, reason = "u64 has no lossless conversion to f64; counts are far below 2^53")]
pub fn real(n: u64) -> f64 {
    n as f64
}

/// An estimate with its 95% interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interval {
    pub estimate: f64,
    pub low: f64,
    pub high: f64,
}

impl Interval {
    pub fn contains(&self, value: f64) -> bool {
        self.low <= value && value <= self.high
    }

    /// The interval scaled by `factor` and moved by `shift` (a positive factor keeps the ends in order).
    fn affine(self, factor: f64, shift: f64) -> Interval {
        Interval {
            estimate: self.estimate * factor + shift,
            low: self.low * factor + shift,
            high: self.high * factor + shift,
        }
    }
}

/// What the interval says about the sign of an effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The whole interval is above zero.
    Positive,
    /// The whole interval is below zero.
    Negative,
    /// The interval spans zero: the data cannot tell.
    Inconclusive,
}

pub fn verdict(interval: &Interval) -> Verdict {
    if interval.low > 0.0 {
        Verdict::Positive
    } else if interval.high < 0.0 {
        Verdict::Negative
    } else {
        Verdict::Inconclusive
    }
}

/// Wilson's score interval for `successes` of `n` (none for an empty group).
pub fn wilson(successes: u64, n: u64) -> Option<Interval> {
    if n == 0 || successes > n {
        return None;
    }
    let (x, n) = (real(successes), real(n));
    let p = x / n;
    let z2 = Z_95 * Z_95;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = Z_95 / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    Some(Interval { estimate: p, low: (centre - half).max(0.0), high: (centre + half).min(1.0) })
}

/// Newcombe's hybrid score interval for the difference of two independent proportions, `x1/n1 − x2/n2`, built from
/// the two Wilson intervals (Newcombe 1998, method 10).
pub fn newcombe(x1: u64, n1: u64, x2: u64, n2: u64) -> Option<Interval> {
    let (one, two) = (wilson(x1, n1)?, wilson(x2, n2)?);
    let (p1, p2) = (one.estimate, two.estimate);
    let d = p1 - p2;
    Some(Interval {
        estimate: d,
        low: d - ((p1 - one.low).powi(2) + (two.high - p2).powi(2)).sqrt(),
        high: d + ((one.high - p1).powi(2) + (p2 - two.low).powi(2)).sqrt(),
    })
}

/// A group's outcome in aggregate: how many members, the sum of their values and the sum of the squares.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Moments {
    pub n: u64,
    pub sum: f64,
    pub sum_sq: f64,
}

impl Moments {
    pub fn of(values: impl IntoIterator<Item = f64>) -> Moments {
        let mut moments = Moments::default();
        values.into_iter().for_each(|v| moments.push(v));
        moments
    }

    /// Counts one more value.
    pub fn push(&mut self, value: f64) {
        self.n += 1;
        self.sum += value;
        self.sum_sq += value * value;
    }

    /// Adds the values counted by `other` (another store's, another day's).
    pub fn merge(&mut self, other: &Moments) {
        self.n += other.n;
        self.sum += other.sum;
        self.sum_sq += other.sum_sq;
    }

    pub fn mean(&self) -> Option<f64> {
        (self.n > 0).then(|| self.sum / real(self.n))
    }

    /// The sample variance (n − 1); none below two members. Never negative (rounding on a constant could make it so).
    pub fn variance(&self) -> Option<f64> {
        if self.n < 2 {
            return None;
        }
        let n = real(self.n);
        Some(((self.sum_sq - self.sum * self.sum / n) / (n - 1.0)).max(0.0))
    }
}

/// Welch's interval for the difference of means `treatment − control`, with its degrees of freedom
/// (Welch–Satterthwaite). None when a group has fewer than two members.
pub fn welch(treatment: &Moments, control: &Moments) -> Option<(Interval, f64)> {
    let (m1, m2) = (treatment.mean()?, control.mean()?);
    let (v1, v2) = (treatment.variance()? / real(treatment.n), control.variance()? / real(control.n));
    let d = m1 - m2;
    let se2 = v1 + v2;
    if se2 == 0.0 {
        // Every member of both groups alike: the difference is exact.
        return Some((Interval { estimate: d, low: d, high: d }, f64::INFINITY));
    }
    let df = se2 * se2 / (v1 * v1 / (real(treatment.n) - 1.0) + v2 * v2 / (real(control.n) - 1.0));
    let half = student_t_quantile(0.975, df) * se2.sqrt();
    Some((Interval { estimate: d, low: d - half, high: d + half }, df))
}

/// The smallest difference in a rate near `rate` that groups of `treated` and `control` members detect with 80%
/// power at the two-sided 5% level (normal approximation).
pub fn detectable_rate_difference(rate: f64, treated: u64, control: u64) -> Option<f64> {
    if treated == 0 || control == 0 {
        return None;
    }
    let spread = rate * (1.0 - rate) * (1.0 / real(treated) + 1.0 / real(control));
    Some((Z_95 + Z_POWER_80) * spread.sqrt())
}

/// The smallest difference in a mean, for members whose values have standard deviation `sd`, that the groups
/// detect with 80% power at the two-sided 5% level.
pub fn detectable_mean_difference(sd: f64, treated: u64, control: u64) -> Option<f64> {
    if treated == 0 || control == 0 {
        return None;
    }
    Some((Z_95 + Z_POWER_80) * sd * (1.0 / real(treated) + 1.0 / real(control)).sqrt())
}

/// What the campaign added net of its cost, and the return on that cost, each with its interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NetReturn {
    /// Lift per member × treated members − cost.
    pub net: Interval,
    /// Net ÷ cost; none when nothing was spent.
    pub roi: Option<Interval>,
}

/// The net return of a campaign whose treatment group of `treated` members did `lift` more per member than the
/// control group, at a counted `cost`.
pub fn net_return(lift: Interval, treated: u64, cost: f64) -> NetReturn {
    let net = lift.affine(real(treated), -cost);
    let roi = (cost > 0.0).then(|| net.affine(1.0 / cost, 0.0));
    NetReturn { net, roi }
}

/// The quantile of Student's t distribution with `df` degrees of freedom, for `p` in (0, 1): by bisection on the
/// distribution function (monotone, so it cannot fail to converge).
pub fn student_t_quantile(p: f64, df: f64) -> f64 {
    if p == 0.5 {
        return 0.0;
    }
    if p < 0.5 {
        return -student_t_quantile(1.0 - p, df);
    }
    // Beyond ten million degrees of freedom t is the normal to seven places; the continued fraction needs no more.
    let df = df.min(1e7);
    let mut high = 2.0;
    while student_t_cdf(high, df) < p && high < 1e12 {
        high *= 2.0;
    }
    let mut low = 0.0;
    for _ in 0..200 {
        let mid = 0.5 * (low + high);
        if student_t_cdf(mid, df) < p {
            low = mid;
        } else {
            high = mid;
        }
        if high - low < 1e-12 * high.max(1.0) {
            break;
        }
    }
    0.5 * (low + high)
}

/// P(T ≤ t) for Student's t with `df` degrees of freedom.
pub fn student_t_cdf(t: f64, df: f64) -> f64 {
    let tail = 0.5 * regularized_beta(df / 2.0, 0.5, df / (df + t * t));
    if t > 0.0 { 1.0 - tail } else { tail }
}

/// The regularized incomplete beta function I_x(a, b), by its continued fraction (modified Lentz), on the side of
/// `x` where the fraction converges fast.
fn regularized_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front = (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_fraction(a, b, x) / a
    } else {
        1.0 - front * beta_fraction(b, a, 1.0 - x) / b
    }
}

fn beta_fraction(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let nonzero = |v: f64| if v.abs() < TINY { TINY } else { v };
    let mut c = 1.0;
    let mut d = 1.0 / nonzero(1.0 - (a + b) * x / (a + 1.0));
    let mut h = d;
    for m in 1..=1000 {
        let m = f64::from(m);
        let even = m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m));
        d = 1.0 / nonzero(1.0 + even * d);
        c = nonzero(1.0 + even / c);
        h *= d * c;
        let odd = -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0));
        d = 1.0 / nonzero(1.0 + odd * d);
        c = nonzero(1.0 + odd / c);
        let step = d * c;
        h *= step;
        if (step - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, nine terms: about fifteen digits).
fn ln_gamma(x: f64) -> f64 {
    const LANCZOS: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection.
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let series = (1..9_u8).zip(&LANCZOS[1..]).fold(LANCZOS[0], |s, (i, c)| s + c / (x + f64::from(i)));
    let t = x + 7.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + series.ln()
}

#[cfg(test)]
mod tests;
