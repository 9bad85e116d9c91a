//! Campaign ROI (营销效果): what a campaign added, measured against its random control group.

pub mod stats;
