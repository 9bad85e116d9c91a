//! Loyalty: member levels (会员等级) and points (积分) in lots with expiry.

pub mod levels;
pub mod points;
