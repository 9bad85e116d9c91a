//! Schema migrations, written against the schema builder so one migration serves SQLite and PostgreSQL.
//!
//! Migrations are append-only: never edit one that has shipped; add a new one (expand, then contract).

pub use sea_orm_migration::prelude::*;

mod columns;
mod m20261123_000001_foundation;
mod m20261123_000002_ledger;
mod m20261123_000003_checkout;
mod m20261123_000004_points_rewards;
mod m20261124_000005_payments;
mod m20261124_000006_print_jobs;
mod m20261124_000007_job_runs;
mod m20261125_000008_appointments;
mod m20261126_000009_store_bridge;
mod m20261127_000010_config_version;
mod m20261127_000011_journal_lines_unlocked;
mod m20261205_000012_handover_cash;
mod m20261205_000013_member_consent;
mod m20261205_000014_print_job_stated;
mod m20261205_000015_breakage_policy;
mod m20261205_000016_sealed_member_details;
mod m20261205_000017_points_expiry_template;
mod m20261205_000018_payment_exception_store;
mod m20261206_000019_member_app;
mod m20261206_000020_coupons;
mod m20261206_000021_coupon_channels;
mod m20261206_000022_staff_reprint;
mod m20261206_000023_reconciliations;
mod m20261206_000024_one_handover_per_start;
mod m20261207_000025_stacked_coupons;
mod m20261207_000026_segments;
mod m20261207_000027_campaigns;
mod m20261207_000028_marketing_sends;
mod m20261208_000029_automations;
mod m20261208_000030_birth_day;
mod m20261209_000031_campaign_horizon;
mod m20261210_000032_campaign_results;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_foundation::Migration),
            Box::new(m20261123_000002_ledger::Migration),
            Box::new(m20261123_000003_checkout::Migration),
            Box::new(m20261123_000004_points_rewards::Migration),
            Box::new(m20261124_000005_payments::Migration),
            Box::new(m20261124_000006_print_jobs::Migration),
            Box::new(m20261124_000007_job_runs::Migration),
            Box::new(m20261125_000008_appointments::Migration),
            Box::new(m20261126_000009_store_bridge::Migration),
            Box::new(m20261127_000010_config_version::Migration),
            Box::new(m20261127_000011_journal_lines_unlocked::Migration),
            Box::new(m20261205_000012_handover_cash::Migration),
            Box::new(m20261205_000013_member_consent::Migration),
            Box::new(m20261205_000014_print_job_stated::Migration),
            Box::new(m20261205_000015_breakage_policy::Migration),
            Box::new(m20261205_000016_sealed_member_details::Migration),
            Box::new(m20261205_000017_points_expiry_template::Migration),
            Box::new(m20261205_000018_payment_exception_store::Migration),
            Box::new(m20261206_000019_member_app::Migration),
            Box::new(m20261206_000020_coupons::Migration),
            Box::new(m20261206_000021_coupon_channels::Migration),
            Box::new(m20261206_000022_staff_reprint::Migration),
            Box::new(m20261206_000023_reconciliations::Migration),
            Box::new(m20261206_000024_one_handover_per_start::Migration),
            Box::new(m20261207_000025_stacked_coupons::Migration),
            Box::new(m20261207_000026_segments::Migration),
            Box::new(m20261207_000027_campaigns::Migration),
            Box::new(m20261207_000028_marketing_sends::Migration),
            Box::new(m20261208_000029_automations::Migration),
            Box::new(m20261208_000030_birth_day::Migration),
            Box::new(m20261209_000031_campaign_horizon::Migration),
            Box::new(m20261210_000032_campaign_results::Migration),
        ]
    }
}
