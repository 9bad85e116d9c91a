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

/// What a member's answer about marketing is for. Each is kept as its own history of answers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsentPurpose {
    /// Marketing messages at all (in the app and by SMS): no explicit yes is a no for SMS.
    #[default]
    Marketing,
    /// Marketing by SMS in particular: a reply "T" to an SMS, or the member's switch, says no.
    Sms,
    /// Marketing chosen by the member's characteristics (PIPL art. 24): a no leaves them out of every campaign.
    Personalised,
}

names!(ConsentPurpose {
    Marketing => "marketing",
    Sms => "sms",
    Personalised => "personalised",
});

/// One marketing message's channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SendChannel {
    /// The member app's inbox and pop-up.
    InApp,
    Sms,
}

names!(SendChannel {
    InApp => "in_app",
    Sms => "sms",
});

/// Where one marketing message stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SendStatus {
    /// Planned, waiting for its time (or held: quiet hours, a provider asking us to slow down).
    Queued,
    /// Planned, and held while its campaign is paused: queued again when it resumes.
    Paused,
    /// A dispatcher holds it.
    Sending,
    /// Handed to the provider and the answer lost: looked up before anything else.
    Unknown,
    /// The provider took it (in-app: it is in the inbox).
    Sent,
    /// The carrier delivered it.
    Delivered,
    /// The provider or the carrier refused it.
    Failed,
    /// Not sent, for the reason recorded (no consent, the weekly cap, no phone…).
    Skipped,
}

names!(SendStatus {
    Queued => "queued",
    Paused => "paused",
    Sending => "sending",
    Unknown => "unknown",
    Sent => "sent",
    Delivered => "delivered",
    Failed => "failed",
    Skipped => "skipped",
});

/// What picks an automation's members each day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AutomationTrigger {
    /// Joined within the last `days` days (once ever, by default).
    Welcome,
    /// Their birthday is within `days` days from today.
    Birthday,
    /// Their latest visit was at least `days` days ago.
    WinBack,
    /// Their time since the latest visit is at least `threshold` percent of their own usual interval.
    Rebook,
    /// A usable count card of theirs expires within `days` days.
    CountCardExpiring,
    /// Their stored value, not empty, expires within `days` days.
    StoredValueExpiring,
    /// Their stored value is above zero and at most `threshold` fen.
    LowBalance,
    /// A usable coupon of theirs ends within `days` days.
    CouponExpiring,
    /// Everyone the segment holds, every `days` days.
    Recurring,
}

names!(AutomationTrigger {
    Welcome => "welcome",
    Birthday => "birthday",
    WinBack => "win_back",
    Rebook => "rebook",
    CountCardExpiring => "count_card_expiring",
    StoredValueExpiring => "stored_value_expiring",
    LowBalance => "low_balance",
    CouponExpiring => "coupon_expiring",
    Recurring => "recurring",
});

/// Whether an automation runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AutomationStatus {
    /// Runs each day.
    Active,
    /// Runs no more until resumed; what its runs planned still goes.
    Paused,
    /// Ended for good: no more runs, and its runs' messages not sent yet are skipped.
    Ended,
}

names!(AutomationStatus {
    Active => "active",
    Paused => "paused",
    Ended => "ended",
});
