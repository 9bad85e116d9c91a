use std::fmt;

use serde::{Deserialize, Serialize};

/// An amount of money in fen (1/100 yuan). Money is integer fen end to end; yuan strings exist only at the
/// edges that demand them (Alipay, receipts).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fen(i64);

impl Fen {
    pub const ZERO: Fen = Fen(0);

    pub const fn new(fen: i64) -> Self {
        Self(fen)
    }

    /// A non-negative amount, as prices and payments must be.
    pub fn non_negative(fen: i64) -> Result<Self, &'static str> {
        if fen < 0 { Err("must not be negative") } else { Ok(Self(fen)) }
    }

    pub const fn get(self) -> i64 {
        self.0
    }

    pub fn checked_add(self, other: Fen) -> Option<Fen> {
        self.0.checked_add(other.0).map(Fen)
    }

    pub fn checked_sub(self, other: Fen) -> Option<Fen> {
        self.0.checked_sub(other.0).map(Fen)
    }

    /// `12.34`: the yuan form with exactly two decimals.
    pub fn to_yuan_string(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        format!("{sign}{}.{:02}", abs / 100, abs % 100)
    }

    /// Parses `12`, `12.3` or `12.34` (yuan) exactly; more decimals, signs or garbage are refused.
    pub fn parse_yuan(text: &str) -> Result<Self, &'static str> {
        let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let dotted = text.contains('.');
        if !digits(whole) || frac.len() > 2 || (dotted && !digits(frac)) {
            return Err("not an amount in yuan with at most two decimals");
        }
        let whole: i64 = whole.parse().map_err(|_| "amount too large")?;
        let mut frac_fen: i64 = if frac.is_empty() { 0 } else { frac.parse().map_err(|_| "bad decimals")? };
        if frac.len() == 1 {
            frac_fen *= 10;
        }
        whole.checked_mul(100).and_then(|f| f.checked_add(frac_fen)).map(Fen).ok_or("amount too large")
    }
}

impl fmt::Display for Fen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "￥{}", self.to_yuan_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn yuan_strings() {
        assert_eq!(Fen::new(1234).to_yuan_string(), "12.34");
        assert_eq!(Fen::new(5).to_yuan_string(), "0.05");
        assert_eq!(Fen::new(-105).to_yuan_string(), "-1.05");
        assert_eq!(Fen::parse_yuan("88.8"), Ok(Fen::new(8880)));
        assert!(Fen::parse_yuan("1.234").is_err());
        assert!(Fen::parse_yuan("-1").is_err());
        assert!(Fen::parse_yuan(".5").is_err());
        assert!(Fen::parse_yuan("1.").is_err());
    }

    proptest! {
        #[test]
        fn yuan_round_trip(fen in 0i64..i64::MAX / 1000) {
            prop_assert_eq!(Fen::parse_yuan(&Fen::new(fen).to_yuan_string()), Ok(Fen::new(fen)));
        }
    }
}
