use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Neg, Sub, SubAssign};

use serde::{Deserialize, Serialize};

/// The largest single amount we accept anywhere (a price, a bill, a recharge, a payment): ￥1,000,000.
pub const MAX_AMOUNT_FEN: i64 = 100_000_000;

/// A payment, a recharge or a fee: more than zero and at most [`MAX_AMOUNT_FEN`]; `field` names it in the error.
pub(crate) fn amount(field: &'static str, fen: Fen) -> crate::Result<Fen> {
    if fen <= Fen::ZERO || fen > Fen::MAX_AMOUNT {
        return Err(crate::Error::invalid(field, "must be more than 0 and at most ￥1,000,000 (in fen)"));
    }
    Ok(fen)
}

/// At most this many points move in one request.
pub const MAX_POINTS: i64 = 100_000_000;

/// An amount of money in fen (1/100 yuan). Money is integer fen end to end; yuan strings exist only at the
/// edges that demand them (Alipay, receipts). On the wire it is a plain integer.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(transparent)]
#[schema(value_type = i64, format = Int64, example = 12800)]
pub struct Fen(i64);

/// A number of points (积分). Points are their own unit in the ledger: never added to money, converted only by the
/// merchant's offset rate at checkout.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(transparent)]
#[schema(value_type = i64, format = Int64, example = 500)]
pub struct Points(i64);

/// Sums, differences and negation of one unit; mixing units does not compile.
macro_rules! unit_arithmetic {
    ($unit:ident) => {
        impl Add for $unit {
            type Output = $unit;
            fn add(self, other: $unit) -> $unit {
                $unit(self.0 + other.0)
            }
        }
        impl Sub for $unit {
            type Output = $unit;
            fn sub(self, other: $unit) -> $unit {
                $unit(self.0 - other.0)
            }
        }
        impl Neg for $unit {
            type Output = $unit;
            fn neg(self) -> $unit {
                $unit(-self.0)
            }
        }
        impl AddAssign for $unit {
            fn add_assign(&mut self, other: $unit) {
                self.0 += other.0;
            }
        }
        impl SubAssign for $unit {
            fn sub_assign(&mut self, other: $unit) {
                self.0 -= other.0;
            }
        }
        impl Sum for $unit {
            fn sum<I: Iterator<Item = $unit>>(iter: I) -> $unit {
                $unit(iter.map(|x| x.0).sum())
            }
        }
        impl<'a> Sum<&'a $unit> for $unit {
            fn sum<I: Iterator<Item = &'a $unit>>(iter: I) -> $unit {
                $unit(iter.map(|x| x.0).sum())
            }
        }
        /// The ledger's lines and the storage columns hold plain integers in each account's unit.
        impl From<$unit> for i64 {
            fn from(value: $unit) -> i64 {
                value.0
            }
        }
        impl From<$unit> for sea_orm::Value {
            fn from(value: $unit) -> sea_orm::Value {
                sea_orm::Value::BigInt(Some(value.0))
            }
        }
    };
}

unit_arithmetic!(Fen);
unit_arithmetic!(Points);

impl Points {
    pub const ZERO: Points = Points(0);
    /// At most this many points move in one request.
    pub const MAX: Points = Points(MAX_POINTS);

    pub const fn new(points: i64) -> Self {
        Self(points)
    }

    pub const fn get(self) -> i64 {
        self.0
    }

    /// Saturating: the most negative count reads as the largest, which every limit refuses, instead of
    /// overflowing.
    pub fn abs(self) -> Points {
        Points(self.0.saturating_abs())
    }
}

impl fmt::Display for Points {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Fen {
    pub const ZERO: Fen = Fen(0);
    /// The largest single amount we accept anywhere: ￥1,000,000.
    pub const MAX_AMOUNT: Fen = Fen(MAX_AMOUNT_FEN);

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

    /// `quantity` units at this price (quantities are at most 99 and prices at most ￥1,000,000, so this cannot
    /// overflow).
    pub fn times(self, quantity: i64) -> Fen {
        Fen(self.0 * quantity)
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
