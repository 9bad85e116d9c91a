//! How a stored-value debit splits between principal (本金) and bonus (赠送金): the merchant's rule.

/// How a debit splits between principal and bonus.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SplitRule {
    /// In proportion to the two balances; the principal share is rounded down to the fen and the bonus takes the
    /// remainder, which can never exceed the bonus balance.
    Proportional,
    PrincipalFirst,
    BonusFirst,
}

impl SplitRule {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "proportional" => Some(SplitRule::Proportional),
            "principal_first" => Some(SplitRule::PrincipalFirst),
            "bonus_first" => Some(SplitRule::BonusFirst),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SplitRule::Proportional => "proportional",
            SplitRule::PrincipalFirst => "principal_first",
            SplitRule::BonusFirst => "bonus_first",
        }
    }

    /// `(from principal, from bonus)` for a debit of `amount`, or `None` when the card does not cover it.
    pub fn split(self, amount: i64, principal: i64, bonus: i64) -> Option<(i64, i64)> {
        let total = principal.checked_add(bonus)?;
        if amount < 0 || principal < 0 || bonus < 0 || amount > total {
            return None;
        }
        let from_principal = match self {
            SplitRule::Proportional if total == 0 => 0,
            SplitRule::Proportional => {
                i64::try_from(i128::from(amount) * i128::from(principal) / i128::from(total)).ok()?
            }
            SplitRule::PrincipalFirst => std::cmp::min(amount, principal),
            SplitRule::BonusFirst => amount - std::cmp::min(amount, bonus),
        };
        Some((from_principal, amount - from_principal))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::MAX_AMOUNT_FEN;
    use proptest::prelude::*;

    #[test]
    fn proportional_split_examples() {
        // ￥1000 paid, ￥200 bonus; a ￥120 debit takes ￥100 principal and ￥20 bonus.
        assert_eq!(SplitRule::Proportional.split(12_000, 100_000, 20_000), Some((10_000, 2_000)));
        assert_eq!(SplitRule::Proportional.split(1, 2, 1), Some((0, 1)));
        assert_eq!(SplitRule::Proportional.split(3, 2, 1), Some((2, 1)));
        assert_eq!(SplitRule::Proportional.split(4, 2, 1), None);
        assert_eq!(SplitRule::PrincipalFirst.split(5, 3, 9), Some((3, 2)));
        assert_eq!(SplitRule::BonusFirst.split(5, 3, 9), Some((0, 5)));
        assert_eq!(SplitRule::Proportional.split(0, 0, 0), Some((0, 0)));
    }

    proptest! {
        #[test]
        fn splits_sum_to_the_amount_and_stay_within_balances(
            principal in 0i64..=MAX_AMOUNT_FEN,
            bonus in 0i64..=MAX_AMOUNT_FEN,
            amount in 0i64..=2 * MAX_AMOUNT_FEN,
        ) {
            for rule in [SplitRule::Proportional, SplitRule::PrincipalFirst, SplitRule::BonusFirst] {
                match rule.split(amount, principal, bonus) {
                    Some((p, b)) => {
                        prop_assert_eq!(p + b, amount);
                        prop_assert!((0..=principal).contains(&p));
                        prop_assert!((0..=bonus).contains(&b));
                    }
                    None => prop_assert!(amount > principal + bonus),
                }
            }
        }
    }
}
