//! Appointments: schedules ([`schedules`]), the local calendar of a store ([`calendar`]), slot search over storage
//! ([`availability`]), the booking lifecycle ([`bookings`]) and the day board ([`board`]). The slot arithmetic itself
//! is pure and lives in [`slots`].

pub mod arrivals;
pub mod availability;
pub mod board;
pub mod bookings;
pub mod calendar;
pub mod member_bookings;
pub mod reminders;
pub mod schedules;
pub mod search;
pub mod slots;
pub mod technicians;
