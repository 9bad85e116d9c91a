//! The OpenAPI 3.1 document, generated from the handlers' annotations as they are registered, so a route cannot
//! exist without being documented.

use actix_web::App;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::AppExt;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Huiyuan API",
        description = "Membership, booking and cashier system for service stores. Staff API under /api/staff/v1, \
                       member (mini-program) API under /api/mini/v1. Errors are always {\"code\", \"message\"}; money \
                       is integer fen.",
    ),
    modifiers(&BearerSchemes),
    tags(
        (name = "staff sessions", description = "Staff sign-in"),
        (name = "staff", description = "Staff accounts, roles and stores"),
        (name = "stores"),
        (name = "merchant"),
        (name = "audit", description = "Who did what"),
        (name = "members", description = "Members at the desk"),
        (name = "catalog", description = "The service menu and count-card products (次卡/疗程卡)"),
        (name = "products", description = "Retail products (商品) and their stock at each store"),
        (name = "stored value", description = "Stored-value cards (储值): plans, recharge, transfer, freeze, refund"),
        (name = "checkout", description = "Bills (开单/结账): preview, settle, park, void, receipts, refunds, 反结账"),
        (name = "points", description = "Points (积分) in lots with expiry"),
        (name = "count cards", description = "Count cards (次卡/疗程卡) members hold"),
        (name = "commission", description = "Staff commission (提成): rules and statements"),
        (name = "schedules", description = "Opening hours, closed days, shifts and leave, skills, rooms and beds, reminders"),
        (name = "bookings", description = "Appointments: slots, booking, check-in, the day board"),
        (name = "store bridge", description = "Store PCs: bridge devices, printers, the print queue, the counter's scans"),
        (name = "member sessions", description = "Mini-program sign-in"),
        (name = "me", description = "The member's own data"),
        (name = "ops", description = "Health, readiness, metrics"),
    )
)]
struct ApiDoc;

struct BearerSchemes;

impl Modify for BearerSchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for (name, format) in [("staff_token", "hys_…"), ("member_token", "hym_…"), ("device_token", "hyd_…")] {
            components.add_security_scheme(
                name,
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format(format).build()),
            );
        }
    }
}

pub fn document() -> utoipa::openapi::OpenApi {
    let (_, mut api) =
        App::new().into_utoipa_app().openapi(ApiDoc::openapi()).configure(crate::routes::configure).split_for_parts();
    api.info.version = env!("CARGO_PKG_VERSION").to_owned();
    api
}

/// The documented routes as (path template, methods): what tells a wrong method (405) from a wrong path (404).
pub struct KnownRoutes(Vec<(Vec<String>, Vec<String>)>);

impl KnownRoutes {
    pub fn from_document(api: &utoipa::openapi::OpenApi) -> Self {
        let routes = api
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let segments = path.split('/').map(str::to_owned).collect();
                let methods = serde_json::to_value(item)
                    .ok()
                    .and_then(|v| v.as_object().map(|o| o.keys().map(|k| k.to_uppercase()).collect()))
                    .unwrap_or_default();
                (segments, methods)
            })
            .collect();
        Self(routes)
    }

    /// The methods allowed on `path`, if any documented route matches it.
    pub fn allowed(&self, path: &str) -> Option<Vec<String>> {
        let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        let mut allowed: Vec<String> = self
            .0
            .iter()
            .filter(|(template, _)| {
                template.len() == segments.len()
                    && template.iter().zip(&segments).all(|(t, s)| t == s || (t.starts_with('{') && !s.is_empty()))
            })
            .flat_map(|(_, methods)| methods.iter().filter(|m| m.as_str() != "PARAMETERS").cloned())
            .collect();
        allowed.sort();
        allowed.dedup();
        (!allowed.is_empty()).then_some(allowed)
    }
}
