//! sea-orm entities: plain row shapes, one module per table, no behaviour.
//!
//! These mirror the tables the `migration` crate creates; behaviour lives in `service`. They are never wire types:
//! `api` maps them to DTOs.

pub mod audit_log;
pub mod bill_lines;
pub mod bill_tenders;
pub mod bills;
pub mod journal_entries;
pub mod journal_lines;
pub mod ledger_accounts;
pub mod member_allergies;
pub mod member_identities;
pub mod member_levels;
pub mod member_notes;
pub mod member_sessions;
pub mod member_tags;
pub mod members;
pub mod merchants;
pub mod recharge_plans;
pub mod service_items;
pub mod staff;
pub mod staff_sessions;
pub mod staff_stores;
pub mod stored_value_cards;
pub mod stores;
