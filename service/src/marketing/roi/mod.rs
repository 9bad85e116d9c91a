//! Campaign ROI (营销效果): what a campaign added, measured against its random control group.

pub mod power;
pub mod report;
pub mod results;
pub mod stats;

/// Days after a campaign runs over which its groups are compared, unless staff choose otherwise.
pub const DEFAULT_HORIZON_DAYS: i32 = 30;
