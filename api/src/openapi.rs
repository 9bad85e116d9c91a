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
    document_shared_errors(&mut api);
    api
}

/// The errors every operation of a shape can answer, added where the handler's annotation does not already say
/// more: they come from the extractors and the error layer, not from the handler, so writing them on 162 handlers
/// would only let them drift. An operation's own entries (a 404 that names what is missing, a 409) win.
fn document_shared_errors(api: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::{Operation, ParameterIn};
    for item in api.paths.paths.values_mut() {
        let shared_path_params = item.parameters.iter().flatten().any(|p| p.parameter_in == ParameterIn::Path);
        let operations = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch];
        for (method, op) in operations.into_iter().enumerate().filter_map(|(i, op)| op.as_mut().map(|op| (i, op))) {
            let is_read = method == 0;
            let params =
                |op: &Operation, place: ParameterIn| op.parameters.iter().flatten().any(|p| p.parameter_in == place);
            let token = op.security.as_ref().filter(|s| !s.is_empty());
            let mut errors: Vec<(&str, &str)> = Vec::new();
            if token.is_some() {
                errors.push((
                    "401",
                    "No token, or one that is unknown, expired or of the wrong kind (`unauthenticated`).",
                ));
                errors.push((
                    "403",
                    "The token's role may not do this (`forbidden`), or the merchant has it turned off \
                                     (`disabled`).",
                ));
            }
            if shared_path_params || params(op, ParameterIn::Path) {
                errors.push(("400", "A path parameter of the wrong type (`invalid_path`)."));
                errors.push(("404", "No such resource for this merchant (`not_found`)."));
            }
            if params(op, ParameterIn::Query) {
                errors.push(("400", "A query parameter of the wrong type (`invalid_query`)."));
                errors.push(("404", "Something the query names does not exist for this merchant (`not_found`)."));
                errors.push(("422", "A query parameter out of its range (`invalid_input`)."));
            }
            if op.request_body.is_some() {
                errors.push(("400", "The body cannot be parsed (`malformed_json`)."));
                errors.push(("404", "Something the body names does not exist for this merchant (`not_found`)."));
                errors.push(("413", "The body is too large (`payload_too_large`)."));
                errors.push(("415", "The body is not of the declared media type (`unsupported_media_type`)."));
                errors.push((
                    "422",
                    "The body does not match its schema, has unknown fields, or a value is refused \
                                     (`invalid_input`).",
                ));
            }
            if token.is_some() && !is_read {
                errors.push((
                    "409",
                    "The resource's state does not allow this now, or an idempotency key was reused \
                                     for something else (`conflict` and kin).",
                ));
            }
            let mut by_status: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
            for (status, description) in errors {
                by_status.entry(status).or_default().push(description);
            }
            for (status, descriptions) in by_status {
                let responses = &mut op.responses.responses;
                if !responses.contains_key(status) {
                    responses.insert(status.to_owned(), error_response(&descriptions.join(" ")).into());
                }
            }
        }
    }
}

fn error_response(description: &str) -> utoipa::openapi::Response {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    ResponseBuilder::new()
        .description(description)
        .content("application/json", ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build())
        .build()
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

    /// The methods allowed on `path`, if any documented route matches it. A literal segment is more specific than
    /// a parameter, as a reader sees it: `/bills/preview` is that route, not the bill with id `preview`.
    pub fn allowed(&self, path: &str) -> Option<Vec<String>> {
        // A trailing slash is a path of its own (an empty last segment), so it matches no route: 404, not 405.
        let segments: Vec<&str> = path.split('/').collect();
        let matching: Vec<_> = self
            .0
            .iter()
            .filter(|(template, _)| {
                template.len() == segments.len()
                    && template.iter().zip(&segments).all(|(t, s)| t == s || (t.starts_with('{') && !s.is_empty()))
            })
            .collect();
        let literals = |template: &[String]| template.iter().filter(|t| !t.starts_with('{')).count();
        let most_specific = matching.iter().map(|(template, _)| literals(template)).max()?;
        let mut allowed: Vec<String> = matching
            .iter()
            .filter(|(template, _)| literals(template) == most_specific)
            .flat_map(|(_, methods)| methods.iter().filter(|m| m.as_str() != "PARAMETERS").cloned())
            .collect();
        allowed.sort();
        allowed.dedup();
        (!allowed.is_empty()).then_some(allowed)
    }
}
