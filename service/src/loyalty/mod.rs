//! Loyalty: member levels (会员等级) and points (积分) in lots with expiry, and the notice of points expiring soon.

pub mod expiry_notice;
pub mod levels;
pub mod points;
