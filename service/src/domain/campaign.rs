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
    Sending => "sending",
    Unknown => "unknown",
    Sent => "sent",
    Delivered => "delivered",
    Failed => "failed",
    Skipped => "skipped",
});
