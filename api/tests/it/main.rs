//! Integration tests through the real HTTP server. One binary (one link) for all of them.

#![expect(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

mod automations;
mod bad_input;
mod bookings;
mod bridge;
mod campaigns;
mod catalog_config;
mod checkout;
mod cli;
mod console;
mod coupon_channels;
mod coupon_stacking;
mod coupons;
mod crash;
mod errors;
mod jobs;
mod member_app;
mod member_code;
mod members;
mod mini_auth;
mod money;
mod ops;
mod payments;
mod roi;
mod scope_walk;
mod segments;
mod sms_campaigns;
mod staff_auth;
mod support;
mod tenancy;
