//! Routes, one module per resource area. Handlers are thin: extract, call one service function, map to a DTO.

pub mod audit;
pub mod automations;
pub mod bills;
pub mod bookings;
pub mod bridge;
pub mod campaign_report;
pub mod campaigns;
pub mod card_products;
pub mod catalog;
pub mod commission;
pub mod count_cards;
pub mod coupons;
pub mod handovers;
pub mod jobs;
pub mod levels;
pub mod members;
pub mod merchant;
pub mod mini;
pub mod ops;
pub mod payments;
pub mod points;
pub mod products;
pub mod schedules;
pub mod segments;
pub mod sms;
pub mod staff;
pub mod staff_auth;
pub mod stored_value;
pub mod stores;
pub mod visits;

use utoipa_actix_web::scope;
use utoipa_actix_web::service_config::ServiceConfig;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(
        scope::scope("/api/staff/v1")
            .configure(staff_auth::routes)
            .configure(staff::routes)
            .configure(stores::routes)
            .configure(merchant::routes)
            .configure(audit::routes)
            .configure(members::routes)
            .configure(catalog::staff_routes)
            .configure(products::routes)
            .configure(card_products::routes)
            .configure(levels::routes)
            .configure(commission::routes)
            .configure(stored_value::routes)
            .configure(bills::routes)
            .configure(points::routes)
            .configure(count_cards::routes)
            .configure(payments::staff_routes)
            .configure(schedules::routes)
            .configure(bookings::staff_routes)
            .configure(bridge::staff_routes)
            .configure(handovers::routes)
            .configure(jobs::routes)
            .configure(visits::staff_routes)
            .configure(coupons::staff_routes)
            .configure(segments::routes)
            .configure(campaigns::staff_routes)
            .configure(campaign_report::staff_routes)
            .configure(automations::staff_routes)
            .configure(sms::staff_routes),
    )
    .service(
        scope::scope("/api/mini/v1")
            .configure(mini::routes)
            .configure(payments::mini_routes)
            .configure(bookings::mini_routes)
            .configure(visits::mini_routes)
            .configure(coupons::mini_routes)
            .configure(campaigns::mini_routes)
            .configure(sms::mini_routes),
    )
    .configure(payments::callback_routes)
    .configure(sms::callback_routes)
    .configure(bridge::bridge_routes)
    .configure(ops::routes);
}
