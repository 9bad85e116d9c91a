//! Where a campaign stands.

use serde::{Deserialize, Serialize};

use super::bill::names;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CampaignStatus {
    /// Waiting for its time.
    Scheduled,
    /// A run holds it.
    Running,
    /// Ran: its audience is fixed and what it sent is counted.
    Done,
    /// Called off before it ran.
    Cancelled,
    /// Gave up: what it needs is gone (its segment deleted). Nothing more is sent.
    Failed,
}

names!(CampaignStatus {
    Scheduled => "scheduled",
    Running => "running",
    Done => "done",
    Cancelled => "cancelled",
    Failed => "failed",
});
