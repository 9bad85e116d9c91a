//! What every feature stands on: configuration, storage and shared state, protection of personal data, the audit
//! log, staff sign-in and permissions, and the merchant, its stores, staff and service menu.

pub mod audit;
pub mod auth;
pub mod catalog;
pub mod db;
pub mod merchants;
pub mod principal;
pub mod sessions;
pub mod settings;
pub mod shared;
pub mod staff;
pub mod stores;
pub mod vault;
