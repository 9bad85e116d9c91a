//! Where a booking stands.

use serde::{Deserialize, Serialize};

use super::bill::names;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BookingStatus {
    /// Made by the member; the store has not confirmed it yet.
    Booked,
    /// Confirmed by the store (bookings made at the desk start here).
    Confirmed,
    /// The member checked in; a bill is parked for the booked services.
    Arrived,
    Completed,
    Cancelled,
    /// The member did not come (marked by staff or by the nightly close).
    NoShow,
}

names!(BookingStatus {
    Booked => "booked",
    Confirmed => "confirmed",
    Arrived => "arrived",
    Completed => "completed",
    Cancelled => "cancelled",
    NoShow => "no_show",
});

impl BookingStatus {
    /// Still ahead: holds its time and can be moved, confirmed or cancelled.
    pub fn is_live(self) -> bool {
        matches!(self, BookingStatus::Booked | BookingStatus::Confirmed)
    }
}
