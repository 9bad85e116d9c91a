//! sea-orm entities: plain row shapes, one module per table, no behaviour.
//!
//! These mirror the tables the `migration` crate creates; behaviour lives in `service`. They are never wire types:
//! `api` maps them to DTOs.

pub mod audit_log;
pub mod bill_lines;
pub mod bill_refund_lines;
pub mod bill_refunds;
pub mod bill_tenders;
pub mod bills;
pub mod booking_holds;
pub mod booking_items;
pub mod bookings;
pub mod bridge_devices;
pub mod card_products;
pub mod commission_rules;
pub mod commissions;
pub mod count_cards;
pub mod handovers;
pub mod job_runs;
pub mod journal_entries;
pub mod journal_lines;
pub mod ledger_accounts;
pub mod member_allergies;
pub mod member_code_uses;
pub mod member_identities;
pub mod member_levels;
pub mod member_notes;
pub mod member_sessions;
pub mod member_subscriptions;
pub mod member_tags;
pub mod members;
pub mod merchants;
pub mod notification_outbox;
pub mod payment_exceptions;
pub mod payment_refunds;
pub mod payments;
pub mod points_lots;
pub mod print_jobs;
pub mod printers;
pub mod product_stock;
pub mod products;
pub mod recharge_plans;
pub mod resources;
pub mod service_items;
pub mod staff;
pub mod staff_sessions;
pub mod staff_shift_exceptions;
pub mod staff_shifts;
pub mod staff_skills;
pub mod staff_stores;
pub mod stock_movements;
pub mod store_closures;
pub mod store_hours;
pub mod stored_value_cards;
pub mod stores;
pub mod wechatpay_platform_keys;
