//! One walk over every operation the api documents, as someone who must not reach what it names: a manager of the
//! merchant's other store, the owner of another merchant, and in the mini-program another member of the same
//! merchant and a member of another merchant. Each operation is tried with ids of things that exist (at the victim
//! store, 徐家汇店) and a body that passes validation, so the only reason left to refuse is who is asking. The walk
//! fails on any 2xx that reads or changes what the caller must not reach, on a refusal that is not a plain 404 or
//! 403 (a 409 or 422 would tell an intruder the thing exists), and on an operation it does not know: a new route
//! is classified here before it ships. Ids go where the document says an operation takes them, in the path and in
//! the query (`?booking_id=` of the victim's booking). An answer leaks when it holds the victim's names, or one of
//! the victim's ids under its own key (`"store_id": 2`, `"booking_id": 7`).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use service::domain::Role;

use crate::support::{MINI, STAFF, TestApp, ok};

/// Who must be refused an operation, by how far it reaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reach {
    /// One store's business (its bills, payments, bookings, devices, staff, stock, a member's export): staff of
    /// other stores and other merchants are refused.
    Store,
    /// Changes what every store uses (prices, the catalog, levels, merchant settings) and names the victim's
    /// things: only the merchant's merchant-wide staff may.
    EveryStore,
    /// Like `EveryStore`, but names nothing: another merchant does it to their own merchant; store-scoped staff are
    /// refused.
    EveryStoreOwn,
    /// The merchant's shared things any of its stores serves (a chain member's profile, balances and cards): other
    /// merchants are refused, the merchant's other stores are not.
    AnyStore,
    /// A shared thing's history kept per store (a member's bills and bookings): other merchants are refused; the
    /// merchant's other stores get an answer with nothing of the victim store in it.
    AnyStoreHistory,
    /// The merchant's shared lists (members, the menu, settings): answered, but another merchant sees none of ours.
    Shared,
    /// The caller's own lists and settings: answered, with nothing of the victim store or merchant in them.
    Own,
    /// A member's own things by id: every other member is refused.
    MemberOwn,
    /// The merchant's things its members share (its stores' slots, booking there): other merchants' members are
    /// refused.
    MemberMerchant,
    /// A member's own profile and lists: answered, with nothing of the victim member in them.
    MemberSelf,
    /// Not walked with a session: signing in or out, erasing the caller, callbacks, probes and the bridge socket;
    /// each has its own tests.
    Outside,
}

fn reach(method: &str, path: &str) -> Reach {
    use Reach::*;
    let staff = path.strip_prefix("/api/staff/v1");
    let mini = path.strip_prefix("/api/mini/v1");
    match (method, staff, mini) {
        (_, Some(p), _) => match (method, p) {
            ("POST", "/sessions") | ("DELETE", "/sessions/current") => Outside,
            ("GET", "/audit-log" | "/payments" | "/payment-exceptions" | "/notifications" | "/jobs/runs") => Own,
            ("GET", "/reconciliations") => Own,
            ("POST", "/reconciliations") => EveryStoreOwn,
            ("GET", "/me" | "/staff" | "/stores") | ("PUT", "/me/password") | ("POST", "/scans/classify") => Own,
            ("GET", "/bills" | "/bills/{id}" | "/bills/{id}/receipt") => Store,
            ("POST" | "PUT", _) if p.starts_with("/bills") => Store,
            (_, p) if p.starts_with("/bookings") => Store,
            (_, p) if p.starts_with("/bridge-devices/") || p.starts_with("/printers/") => Store,
            (_, p) if p.starts_with("/print-jobs/") || p.starts_with("/resources/") => Store,
            (_, p) if p.starts_with("/payments/") || p.starts_with("/payment-exceptions/") => Store,
            (_, p) if p.starts_with("/shift-exceptions/") => Store,
            (_, p) if p.starts_with("/stores/{") => Store,
            ("POST", "/stores") => EveryStoreOwn,
            ("POST", "/staff") => Store,
            (_, p) if p.starts_with("/staff/{id}") => Store,
            ("GET", "/services" | "/products" | "/card-products" | "/recharge-plans" | "/commission-rules") => Shared,
            ("GET", "/coupon-templates") => Shared,
            ("POST", "/coupon-templates") => EveryStoreOwn,
            (_, p) if p.starts_with("/coupon-templates/") => EveryStore,
            ("GET", "/segments" | "/campaigns" | "/automations" | "/sms/account" | "/sms/templates") => Shared,
            ("GET", "/campaign-verdicts") => Shared,
            ("GET" | "PUT", "/marketing/holdout") => EveryStoreOwn,
            ("PUT", "/sms/account") | ("POST", "/sms/templates") => EveryStoreOwn,
            (_, p) if p.starts_with("/sms/templates/") => EveryStore,
            ("POST", "/campaigns" | "/automations" | "/campaigns/detectable-effect") => EveryStoreOwn,
            (_, p) if p.starts_with("/campaigns/") || p.starts_with("/automations/") => EveryStore,
            ("POST", "/segments" | "/segments/preview") => EveryStoreOwn,
            (_, p) if p.starts_with("/segments/") => EveryStore,
            ("GET", "/member-levels" | "/members") => Shared,
            ("GET", p) if p.starts_with("/merchant") => Shared,
            ("POST", "/card-products" | "/commission-rules") => EveryStore,
            ("POST", "/services" | "/products" | "/recharge-plans" | "/member-levels" | "/member-levels/review") => {
                EveryStoreOwn
            }
            (_, p) if p.starts_with("/merchant") => EveryStoreOwn,
            (_, p)
                if ["/services/", "/products/", "/card-products/", "/recharge-plans/"]
                    .iter()
                    .any(|s| p.starts_with(s)) =>
            {
                EveryStore
            }
            (_, p) if p.starts_with("/commission-rules/") || p.starts_with("/member-levels/") => EveryStore,
            ("POST", "/members") => Store,
            ("POST", "/members/lookup") => Shared,
            ("GET", "/members/{id}/export") | ("POST", "/members/{id}/anonymise") => Store,
            ("POST", "/members/{id}/points/adjustments") => Store,
            ("POST", "/members/{id}/stored-value/recharges" | "/members/{id}/stored-value/refund") => Store,
            ("GET", "/members/{id}/bills" | "/members/{id}/bookings") => AnyStoreHistory,
            (_, p) if p.starts_with("/members/{id}") => AnyStore,
            ("POST", "/count-cards/{id}/refund") => Store,
            (_, p) if p.starts_with("/count-cards/{id}") => AnyStore,
            _ => panic!("the walk does not know {method} {path}: say how far it reaches"),
        },
        (_, _, Some(p)) => match (method, p) {
            (_, p) if p.starts_with("/sessions") => Outside,
            ("POST", "/me/deletion") => Outside,
            (_, p) if p.contains("{id}") && p.starts_with("/me/") => MemberOwn,
            ("GET", "/stores/{id}/slots" | "/stores/{id}/technicians") | ("POST", "/coupon-center/{id}/claims") => {
                MemberMerchant
            }
            ("POST", "/me/bookings" | "/me/payments/recharges") => MemberMerchant,
            (_, p) if p.starts_with("/me") || !p.contains('{') => MemberSelf,
            _ => panic!("the walk does not know {method} {path}: say how far it reaches"),
        },
        _ => Outside,
    }
}

/// What exists at the victim store and merchant, and how to recognise it in an answer.
struct Victim {
    store: i64,
    member: i64,
    /// Another member of the merchant (a transfer's receiver).
    other_member: i64,
    allergy: i64,
    staff: i64,
    staff_name: String,
    service: i64,
    product: i64,
    card_product: i64,
    plan: i64,
    rule: i64,
    level: i64,
    /// A claimable coupon template with stock.
    coupon: i64,
    segment: i64,
    sms_template: i64,
    /// A campaign scheduled for tomorrow, and a message of an earlier one in the member's inbox.
    campaign: i64,
    /// An active automation.
    automation: i64,
    inbox_message: i64,
    parked_bill: i64,
    settled_bill: i64,
    settled_line: i64,
    booking: i64,
    /// A free start at the store, for booking and rescheduling.
    free_start: Value,
    payment: i64,
    payment_exception: i64,
    count_card: i64,
    printer: i64,
    print_job: i64,
    device: i64,
    resource: i64,
    shift_exception: i64,
    closed_day: String,
}

const NICKNAME: &str = "走查会员甲";

impl Victim {
    /// The operation's path with the victim's ids, plus the queries it requires and every id its query takes.
    fn path(&self, method: &str, template: &str, query_params: &[String]) -> String {
        let segments: Vec<&str> = template.split('/').collect();
        let mut path = String::new();
        for (i, segment) in segments.iter().enumerate() {
            if i > 0 {
                path.push('/');
            }
            let before = if i > 0 { segments[i - 1] } else { "" };
            let value = match (*segment, before) {
                ("{id}", "bills") => {
                    let parked = ["PUT"].contains(&method)
                        || segments
                            .get(i + 1)
                            .is_some_and(|next| ["settle", "payment-code", "confirm", "payments"].contains(next));
                    if parked { self.parked_bill } else { self.settled_bill }.to_string()
                }
                ("{id}", "bookings") => self.booking.to_string(),
                ("{id}", "bridge-devices") => self.device.to_string(),
                ("{id}", "card-products") => self.card_product.to_string(),
                ("{id}", "commission-rules") => self.rule.to_string(),
                ("{id}", "coupon-templates" | "coupon-center") => self.coupon.to_string(),
                ("{id}", "segments") => self.segment.to_string(),
                ("{id}", "templates") => self.sms_template.to_string(),
                ("{purpose}", _) => "sms".to_owned(),
                ("{id}", "campaigns") => self.campaign.to_string(),
                ("{id}", "automations") => self.automation.to_string(),
                ("{id}", "inbox") => self.inbox_message.to_string(),
                ("{id}", "count-cards") => self.count_card.to_string(),
                ("{id}", "member-levels") => self.level.to_string(),
                ("{id}", "members") => self.member.to_string(),
                ("{id}", "payment-exceptions") => self.payment_exception.to_string(),
                ("{id}", "payments") => self.payment.to_string(),
                ("{id}", "print-jobs") => self.print_job.to_string(),
                ("{id}", "printers") => self.printer.to_string(),
                ("{id}", "products") => self.product.to_string(),
                ("{id}", "recharge-plans") => self.plan.to_string(),
                ("{id}", "resources") => self.resource.to_string(),
                ("{id}", "services") => self.service.to_string(),
                ("{id}", "shift-exceptions") => self.shift_exception.to_string(),
                ("{id}", "staff") | ("{staff_id}", _) => self.staff.to_string(),
                ("{id}" | "{store_id}", "stores") => self.store.to_string(),
                ("{allergy_id}", _) | ("{id}", "allergies") => self.allergy.to_string(),
                ("{date}", _) => self.closed_day.clone(),
                (s, _) if s.starts_with('{') => panic!("no victim id for {s} in {template}"),
                (s, _) => s.to_owned(),
            };
            path.push_str(&value);
        }
        let query = match template.rsplit('/').next().unwrap_or_default() {
            "slots" => format!("?service_ids={}&days=3", self.service),
            "commission" | "ratings" | "reconciliations" if method == "GET" => {
                "?from=2026-06-01&to=2026-12-31".to_owned()
            }
            "bills" if method == "GET" && template.ends_with("/v1/bills") => format!("?store_id={}", self.store),
            _ => String::new(),
        };
        let mut query = query;
        for name in query_params {
            let id = match name.as_str() {
                // A page cursor, not a thing.
                "before_id" => continue,
                "store_id" => self.store,
                "member_id" => self.member,
                "staff_id" => self.staff,
                "booking_id" => self.booking,
                "level_id" => self.level,
                "product_id" => self.product,
                "bill_id" => self.settled_bill,
                "payment_id" => self.payment,
                "template_id" => self.coupon,
                name if name.ends_with("_id") => panic!("no victim id for the query's {name} in {template}"),
                _ => continue,
            };
            if !query.contains(&format!("{name}=")) {
                query.push(if query.is_empty() { '?' } else { '&' });
                query.push_str(&format!("{name}={id}"));
            }
        }
        path + &query
    }

    /// A body that passes validation, naming the victim's things wherever the request names something.
    fn body(&self, method: &str, template: &str, key: &str) -> Option<Value> {
        let p = template.trim_start_matches("/api/staff/v1").trim_start_matches("/api/mini/v1");
        let lines = json!([{ "kind": "service", "item_id": self.service, "staff": [{ "staff_id": self.staff }] }]);
        let week = json!({ "windows": [{ "weekday": 1, "from": "10:00", "to": "18:00" }] });
        Some(match (method, p) {
            (_, p) if method == "GET" || method == "DELETE" || p.ends_with("/anonymise") => return None,
            ("POST", "/campaigns/{id}/cancel" | "/campaigns/{id}/stop" | "/me/inbox/{id}/read") => return None,
            ("POST", "/campaigns/{id}/pause" | "/campaigns/{id}/resume") => return None,
            ("POST", "/automations/{id}/pause" | "/automations/{id}/resume" | "/automations/{id}/end") => return None,
            ("POST", "/automations") => {
                json!({ "name": "走查自动化", "trigger": "win_back", "message_title": "走查", "message_body": "走查消息" })
            }
            ("POST", "/sms/templates/{id}/archive") => return None,
            ("PUT", "/sms/account") => {
                json!({ "provider": "aliyun", "access_key_id": "walk", "secret": "walk-secret", "sign_name": "走查" })
            }
            ("POST", "/sms/templates") => {
                json!({ "name": "走查短信", "code": format!("SMS_W{}", key.len()), "body": "您好，回T退订" })
            }
            ("POST", "/sms/templates/{id}/test") => json!({ "phone": "13900009997" }),
            ("POST", "/members/{id}/consents") => json!({ "purpose": "marketing", "granted": true }),
            ("PUT", "/marketing/holdout") => json!({ "holdout_bp": 0 }),
            ("PUT", "/me/consents/{purpose}") => json!({ "granted": true }),
            ("POST", p)
                if [
                    "/review",
                    "/check-in",
                    "/complete",
                    "/confirm",
                    "/no-show",
                    "/revoke",
                    "/test-page",
                    "/reprint",
                    "/freeze",
                    "/unfreeze",
                    "/deletion",
                ]
                .iter()
                .any(|end| p.ends_with(end))
                    && !p.starts_with("/me/bills") =>
            {
                return None;
            }
            ("POST", "/coupon-center/{id}/claims" | "/payments/{id}/cancel") => return None,
            ("PATCH", "/me") => json!({ "nickname": "walker" }),
            ("POST", "/reconciliations") => {
                json!({ "day": (chrono::Utc::now() - chrono::Duration::days(1)).date_naive() })
            }
            ("POST", "/me/bills/{id}/confirm") => json!({ "confirmation_digest": "0".repeat(64) }),
            ("POST", "/me/bills/{id}/payments") => json!({ "provider": "wechatpay", "idempotency_key": key }),
            ("POST", "/me/bookings" | "/bookings") => json!({
                "store_id": self.store, "service_ids": [self.service], "starts_at": self.free_start,
                "member_id": if p == "/bookings" { json!(self.member) } else { Value::Null }, "idempotency_key": key,
            }),
            ("POST", "/me/bookings/{id}/cancel" | "/bookings/{id}/cancel") => json!({ "reason": "走查" }),
            ("POST", "/me/bookings/{id}/reschedule" | "/bookings/{id}/reschedule") => {
                json!({ "starts_at": self.free_start })
            }
            ("POST", "/me/payments/recharges") => json!({
                "provider": "wechatpay", "store_id": self.store, "plan_id": self.plan, "idempotency_key": key,
            }),
            ("POST", "/me/phone") => json!({ "code": "walk-phone-code" }),
            ("POST", "/me/bills/{id}/ratings") => json!({ "ratings": [{ "staff_id": self.staff, "stars": 5 }] }),
            ("PUT", "/me/marketing-consent") => json!({ "granted": true }),
            ("POST", "/me/allergies") => json!({ "substance": "乳胶", "severity": "mild" }),
            ("POST", "/coupon-templates") => {
                json!({ "name": "走查券", "kind": "amount", "value_fen": 100, "valid_days": 7 })
            }
            ("PATCH", "/coupon-templates/{id}") => json!({ "name": "走查改名" }),
            ("POST", "/coupon-templates/{id}/grants") => json!({ "member_ids": [self.member], "idempotency_key": key }),
            ("POST", "/coupon-templates/{id}/codes") => json!({ "count": 1, "idempotency_key": key }),
            ("POST", "/segments/preview") => json!({ "rule": never_came() }),
            ("POST", "/campaigns/detectable-effect") => json!({ "segment_id": self.segment }),
            ("POST", "/campaigns") => json!({
                "name": "走查活动", "segment_id": self.segment, "message_title": "走查", "message_body": "走查消息",
                "run_at": chrono::Utc::now() + chrono::Duration::days(1),
            }),
            ("POST", "/segments") | ("PUT", "/segments/{id}") => {
                json!({ "name": format!("走查人群{key}"), "rule": never_came() })
            }
            ("POST", "/me/coupon-codes") => json!({ "code": "ABCD-EFGH-JKLM" }),
            ("POST", "/me/subscriptions") => json!({ "answers": {} }),
            ("POST", "/bills") => json!({
                "store_id": self.store, "member_id": self.member, "lines": lines, "park": true, "idempotency_key": key,
            }),
            ("POST", "/bills/preview") | ("PUT", "/bills/{id}") => {
                json!({ "store_id": self.store, "member_id": self.member, "lines": lines })
            }
            ("POST", "/bills/{id}/payment-code") => {
                json!({ "auth_code": "134567890123456789", "idempotency_key": key })
            }
            ("POST", "/bills/{id}/refunds") => json!({
                "lines": [{ "line_id": self.settled_line, "quantity": 1 }], "reason": "走查", "idempotency_key": key,
            }),
            ("POST", "/bills/{id}/reverse") => json!({ "reason": "走查", "idempotency_key": key }),
            ("POST", "/bills/{id}/settle") => json!({ "tenders": [{ "kind": "cash", "amount_fen": 100 }] }),
            ("POST", "/bills/{id}/void") => json!({ "reason": "走查" }),
            ("POST" | "PATCH", "/card-products" | "/card-products/{id}") => json!({
                "name": "走查卡", "price_fen": 100, "sessions": 2, "validity_days": 30, "service_item_ids": [self.service],
            }),
            ("POST" | "PATCH", "/commission-rules" | "/commission-rules/{id}") => json!({
                "line_kind": "service", "item_id": self.service, "mode": "percent", "tiers": [{ "from_fen": 0, "value": 9000 }],
            }),
            ("POST", "/count-cards/{id}/extend") => json!({ "expires_at": "2030-01-01T00:00:00Z", "reason": "走查" }),
            ("POST", "/count-cards/{id}/refund") | ("POST", "/members/{id}/stored-value/refund") => {
                json!({ "store_id": self.store, "tender": "cash", "reason": "走查", "idempotency_key": key })
            }
            ("POST", "/count-cards/{id}/transfer") => {
                json!({ "to_member_id": self.other_member, "reason": "走查", "idempotency_key": key })
            }
            ("PUT", "/me/password") => {
                json!({ "current_password": "not-my-password", "new_password": "walker-pass-123" })
            }
            ("POST" | "PATCH", "/member-levels" | "/member-levels/{id}") => json!({
                "name": "走查级", "rank": 9, "threshold_fen": 1, "discount_bp": 1,
            }),
            ("POST", "/members") => json!({ "phone": "13900009999", "home_store_id": self.store }),
            ("POST", "/members/lookup") => json!({ "query": "13800000002" }),
            ("PATCH", "/members/{id}") => json!({ "gender": "female" }),
            ("POST", "/members/{id}/allergies") => json!({ "substance": "乳胶", "severity": "mild" }),
            ("PUT", "/members/{id}/level") => json!({ "level_id": self.level, "reason": "走查" }),
            ("POST", "/members/{id}/notes") => json!({ "body": "走查" }),
            ("POST", "/members/{id}/points/adjustments") => {
                json!({ "points": 10, "store_id": self.store, "reason": "走查", "idempotency_key": key })
            }
            ("POST", "/members/{id}/stored-value/recharges") => json!({
                "amount_fen": 10_000, "store_id": self.store, "tender": "cash", "idempotency_key": key,
            }),
            ("POST", "/members/{id}/stored-value/transfers") => json!({
                "amount_fen": 100, "to_member_id": self.other_member, "reason": "走查", "idempotency_key": key,
            }),
            ("PUT", "/members/{id}/tags") => json!({ "tags": ["走查"] }),
            ("PATCH", "/merchant") => json!({ "name": "走查" }),
            ("PUT", "/merchant/booking-reminder") => {
                json!({ "template_id": "walk-tpl", "fields": { "thing1": "services" } })
            }
            ("PUT", "/merchant/points-expiry-notice") => {
                json!({ "template_id": "walk-tpl", "fields": { "number1": "points" } })
            }
            ("PATCH", "/merchant/loyalty") => json!({ "points_per_yuan": 2 }),
            ("PUT", "/merchant/wechatpay") => json!({ "code_api": "v3" }),
            ("POST", "/payment-exceptions/{id}/resolve") => json!({ "resolution": "走查" }),
            ("PATCH", "/printers/{id}") | ("POST", "/stores/{id}/printers") => {
                json!({ "name": "走查打印机", "address": "192.0.2.10:9100" })
            }
            ("POST" | "PATCH", "/products" | "/products/{id}") => {
                json!({ "name": "走查品", "category": "零售", "sku": "WALK-1", "price_fen": 100 })
            }
            ("POST" | "PATCH", "/recharge-plans" | "/recharge-plans/{id}") => {
                json!({ "name": "走查充值", "pay_fen": 100, "bonus_fen": 1 })
            }
            ("PATCH", "/resources/{id}") => json!({ "name": "走查床" }),
            ("POST", "/scans/classify") => json!({ "code": "134567890123456789" }),
            ("POST" | "PATCH", "/services" | "/services/{id}") => {
                json!({ "name": "走查服务", "category": "美发", "duration_min": 30, "price_fen": 100 })
            }
            ("POST", "/staff") => json!({
                "username": "walk-cashier", "display_name": "走查", "role": "cashier", "password": "walk-pass-1234",
                "store_ids": [self.store],
            }),
            ("PATCH", "/staff/{id}") => json!({ "display_name": "走查" }),
            ("PUT", "/staff/{id}/notify-phone") => json!({ "phone": "13900009998" }),
            ("PUT", "/staff/{id}/password") => json!({ "password": "walk-pass-1234" }),
            ("PUT", "/staff/{id}/skills") => json!({ "skills": [{ "service_item_id": self.service }] }),
            ("POST", "/stores") => json!({ "name": "走查店", "address": "走查路", "timezone": "Asia/Shanghai" }),
            ("PATCH", "/stores/{id}") => json!({ "name": "走查店" }),
            ("PATCH", "/stores/{id}/booking-settings") => json!({ "cutoff_min": 30 }),
            ("POST", "/stores/{id}/bridge-devices") => json!({ "name": "走查电脑" }),
            ("POST", "/stores/{id}/closures") => json!({ "date": "2030-01-02", "reason": "走查" }),
            ("POST", "/stores/{id}/handovers") => json!({ "cash_counted_fen": 0 }),
            ("PUT", "/stores/{id}/hours" | "/stores/{id}/staff/{staff_id}/shifts") => week,
            ("POST", "/stores/{id}/resources") => json!({ "name": "走查床", "kind": "massage_bed", "capacity": 1 }),
            ("POST", "/stores/{id}/shift-exceptions") => {
                json!({ "staff_id": self.staff, "date": "2030-01-03", "kind": "leave" })
            }
            ("POST", "/stores/{store_id}/stock/counts") => json!({ "product_id": self.product, "counted": 5 }),
            ("POST", "/stores/{store_id}/stock/receipts") => json!({ "product_id": self.product, "quantity": 1 }),
            _ => panic!("the walk has no body for {method} {template}"),
        })
    }
}

/// Someone walking the api, and what they must not see in an answer they get.
struct Intruder {
    name: &'static str,
    token: String,
    /// Of the same merchant (the other store's manager, a neighbouring member).
    same_merchant: bool,
    member: bool,
    markers: Vec<String>,
    /// The victim's ids that must not appear under their key (`store_id`, `booking_id`) in their answers.
    foreign_ids: Vec<(&'static str, i64)>,
}

impl Intruder {
    fn must_refuse(&self, reach: Reach) -> bool {
        use Reach::*;
        match (self.member, self.same_merchant) {
            (false, true) => matches!(reach, Store | EveryStore | EveryStoreOwn),
            (false, false) => matches!(reach, Store | EveryStore | AnyStore | AnyStoreHistory),
            (true, true) => reach == MemberOwn,
            (true, false) => matches!(reach, MemberOwn | MemberMerchant),
        }
    }

    fn walks(&self, reach: Reach) -> bool {
        let member_reach = matches!(reach, Reach::MemberOwn | Reach::MemberMerchant | Reach::MemberSelf);
        reach != Reach::Outside && member_reach == self.member
    }

    /// Whether a 2xx answer to an operation it may use must still hold nothing of the victim's.
    fn scans(&self, reach: Reach) -> bool {
        match reach {
            Reach::Own | Reach::MemberSelf | Reach::EveryStoreOwn | Reach::AnyStoreHistory => true,
            Reach::Shared | Reach::MemberMerchant => !self.same_merchant,
            _ => false,
        }
    }

    fn leaks(&self, answer: &Value) -> Vec<String> {
        let text = answer.to_string();
        let mut found: Vec<String> = self.markers.iter().filter(|m| text.contains(m.as_str())).cloned().collect();
        for (key, id) in &self.foreign_ids {
            if names(answer, key, *id) {
                found.push(format!("{key} {id}"));
            }
        }
        found
    }
}

/// A segment rule naming nothing of anyone's.
fn never_came() -> Value {
    json!({ "combine": "all", "criteria": [{ "kind": "never_visited" }] })
}

/// Whether `value` holds `id` under `key` anywhere within.
fn names(value: &Value, key: &str, id: i64) -> bool {
    match value {
        Value::Object(map) => map.iter().any(|(k, v)| (k == key && v == &json!(id)) || names(v, key, id)),
        Value::Array(items) => items.iter().any(|v| names(v, key, id)),
        _ => false,
    }
}

/// A plain refusal: not found, not allowed, or (for an id in the body) a field naming something that is not there
/// for this caller, which is what it says of an id that does not exist at all.
fn refused(status: StatusCode, body: &Value, path_id_of_another_merchant: bool) -> bool {
    let field_names_nothing =
        body["message"].as_str().and_then(|m| m.split(": ").nth(1)).is_some_and(|m| m.starts_with("no "));
    match (status, body["code"].as_str()) {
        (StatusCode::NOT_FOUND, Some("not_found")) => true,
        (StatusCode::FORBIDDEN, Some("forbidden")) => !path_id_of_another_merchant,
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_input")) => {
            !path_id_of_another_merchant && field_names_nothing
        }
        _ => false,
    }
}

#[tokio::test]
async fn every_operation_refuses_whoever_must_not_reach_what_it_names() {
    let app = TestApp::spawn().await;
    let victim = victim(&app).await;
    let (other_merchant, other_owner) = app.other_merchant().await;
    let (other_member, _) = member_of(&app, other_merchant, "walk-stranger").await;
    let (neighbour, _) = member_of(&app, app.seed.merchant_id, "walk-neighbour").await;
    let merchant_markers =
        vec!["人民广场店".to_owned(), "徐家汇店".to_owned(), NICKNAME.to_owned(), victim.staff_name.clone()];
    // What the victim store holds; another merchant also must not see the chain's member or staff.
    let store_ids = vec![
        ("store_id", victim.store),
        ("booking_id", victim.booking),
        ("bill_id", victim.settled_bill),
        ("bill_id", victim.parked_bill),
        ("payment_id", victim.payment),
    ];
    let merchant_ids = [store_ids.clone(), vec![("member_id", victim.member), ("staff_id", victim.staff)]].concat();
    let intruders = [
        Intruder {
            name: "owner of another merchant",
            token: other_owner,
            same_merchant: false,
            member: false,
            markers: merchant_markers.clone(),
            foreign_ids: merchant_ids.clone(),
        },
        Intruder {
            name: "member of another merchant",
            token: other_member,
            same_merchant: false,
            member: true,
            markers: merchant_markers,
            foreign_ids: merchant_ids.clone(),
        },
        Intruder {
            name: "another member",
            token: neighbour,
            same_merchant: true,
            member: true,
            markers: vec![NICKNAME.to_owned()],
            foreign_ids: vec![
                ("member_id", victim.member),
                ("booking_id", victim.booking),
                ("bill_id", victim.settled_bill),
            ],
        },
        Intruder {
            // The demo manager works at 人民广场店 only.
            name: "manager of the other store",
            token: app.token(Role::Manager).await,
            same_merchant: true,
            member: false,
            markers: vec!["徐家汇店".to_owned(), victim.staff_name.clone()],
            foreign_ids: store_ids,
        },
    ];

    let document = api::openapi::document();
    let mut operations = Vec::new();
    for (template, item) in &document.paths.paths {
        for (method, operation) in [
            ("GET", &item.get),
            ("POST", &item.post),
            ("PUT", &item.put),
            ("PATCH", &item.patch),
            ("DELETE", &item.delete),
        ] {
            if let Some(operation) = operation {
                let query_params: Vec<String> = operation
                    .parameters
                    .iter()
                    .flatten()
                    .filter(|p| matches!(p.parameter_in, utoipa::openapi::path::ParameterIn::Query))
                    .map(|p| p.name.clone())
                    .collect();
                operations.push((method, template.clone(), reach(method, template), query_params));
            }
        }
    }
    assert!(operations.len() > 150, "the document lists every operation: {}", operations.len());

    let mut failures = Vec::new();
    let mut walked = 0;
    for intruder in &intruders {
        for (n, (method, template, reach, query_params)) in operations.iter().enumerate() {
            if !intruder.walks(*reach) {
                continue;
            }
            walked += 1;
            let path = victim.path(method, template, query_params);
            let body = victim.body(method, template, &format!("walk-{}-{n}", intruder.name.len()));
            let method_value = Method::from_bytes(method.as_bytes()).unwrap();
            let (status, answer) = app.call(method_value, &path, Some(&intruder.token), body).await;
            let what = format!("{} → {method} {template} ({reach:?}): {status} {answer}", intruder.name);
            if status.is_server_error() {
                failures.push(format!("server error: {what}"));
            } else if intruder.must_refuse(*reach) {
                // A staff id of another merchant answers 404, whatever else is wrong with the request.
                let needs_404 = !intruder.same_merchant && template.contains('{');
                if !refused(status, &answer, needs_404) {
                    failures.push(format!("not refused: {what}"));
                }
            } else if status.is_success() && intruder.scans(*reach) {
                let leaks = intruder.leaks(&answer);
                if !leaks.is_empty() {
                    failures.push(format!("leaks {leaks:?}: {what}"));
                }
            }
        }
    }
    assert!(walked > 250, "walked {walked}");
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));

    // And the scope cuts nothing it should not: a manager who works for every store sees the victim store's
    // payments, exceptions, bills and audit trail, exports its member, and changes the chain's prices.
    let chain = app.chain_manager().await;
    let has = |list: &Value, id: i64| list.as_array().unwrap().iter().any(|item| item["id"] == id);
    let payments = ok(app.get(&format!("{STAFF}/payments"), &chain).await);
    assert!(has(&payments, victim.payment), "{payments}");
    let exceptions = ok(app.get(&format!("{STAFF}/payment-exceptions"), &chain).await);
    assert!(has(&exceptions, victim.payment_exception), "{exceptions}");
    let bills = ok(app.get(&format!("{STAFF}/bills?store_id={}", victim.store), &chain).await);
    assert!(has(&bills, victim.settled_bill), "{bills}");
    let audit = ok(app.get(&format!("{STAFF}/audit-log?limit=200"), &chain).await);
    // The victim store was set up by the owner, who works for every store: a store-scoped manager does not read
    // what they did, a merchant-wide one does.
    let owner_id = ok(app.get(&format!("{STAFF}/me"), &app.token(Role::Owner).await).await)["id"].clone();
    let by_owner = |log: &Value| log.as_array().unwrap().iter().any(|e| e["actor_id"] == owner_id);
    assert!(by_owner(&audit), "{audit}");
    let scoped = ok(app.get(&format!("{STAFF}/audit-log?limit=200"), &app.token(Role::Manager).await).await);
    assert!(!by_owner(&scoped), "{scoped}");
    let export = ok(app.get(&format!("{STAFF}/members/{}/export", victim.member), &chain).await);
    assert!(names(&export, "bill_id", victim.settled_bill) || has(&export["bills"], victim.settled_bill), "{export}");
    let renamed = json!({ "name": "洗剪吹" });
    ok(app.patch(&format!("{STAFF}/services/{}", victim.service), &chain, renamed).await);
}

async fn member_of(app: &TestApp, merchant: i64, user: &str) -> (String, i64) {
    let body = json!({ "merchant_id": merchant, "user": user });
    let session = ok(app.call(Method::POST, &format!("{MINI}/sessions/sandbox"), None, Some(body)).await);
    (session["token"].as_str().unwrap().to_owned(), session["member_id"].as_i64().unwrap())
}

fn id(value: &Value) -> i64 {
    value["id"].as_i64().unwrap_or_else(|| panic!("no id in {value}"))
}

fn named(list: &Value, key: &str, name: &str) -> i64 {
    id(list.as_array().unwrap().iter().find(|item| item[key] == name).unwrap_or_else(|| panic!("no {name} in {list}")))
}

/// Builds one of everything at 徐家汇店 (the demo's second store), as its owner.
async fn victim(app: &TestApp) -> Victim {
    let owner = app.token(Role::Owner).await;
    let store = app.seed.store_ids[1];
    let get = |path: String| {
        let owner = owner.clone();
        async move { ok(app.get(&format!("{STAFF}{path}"), &owner).await) }
    };
    let post = |path: String, body: Value| {
        let owner = owner.clone();
        async move { ok(app.post(&format!("{STAFF}{path}"), &owner, body).await) }
    };

    let (member_token, member) = member_of(app, app.seed.merchant_id, "walk-victim").await;
    let (_, other_member) = member_of(app, app.seed.merchant_id, "walk-receiver").await;
    let profile = json!({ "nickname": NICKNAME, "home_store_id": store });
    ok(app.patch(&format!("{STAFF}/members/{member}"), &owner, profile).await);
    let allergy =
        id(&post(format!("/members/{member}/allergies"), json!({ "substance": "花粉", "severity": "mild" })).await);
    let staff_list = get("/staff".to_owned()).await;
    let staff = named(&staff_list, "username", "demo-tech3");
    let staff_name = staff_list.as_array().unwrap().iter().find(|s| id(s) == staff).unwrap()["display_name"]
        .as_str()
        .unwrap()
        .to_owned();
    let service = named(&get("/services".to_owned()).await, "name", "洗剪吹");
    let products = get("/products".to_owned()).await;
    let product = id(&products[0]);
    let card_product = named(&get("/card-products".to_owned()).await, "name", "洗护10次卡");
    let plans = get("/recharge-plans".to_owned()).await;
    let plan = id(plans.as_array().unwrap().iter().find(|p| p["pay_fen"] == 300_000).expect("the demo's big plan"));
    let rule = id(&get("/commission-rules".to_owned()).await[0]);
    let level = id(&get("/member-levels".to_owned()).await[1]);
    let coupon = json!({ "name": "走查券", "kind": "amount", "value_fen": 500, "valid_days": 30, "total_stock": 100, "claimable": true });
    let coupon = id(&post("/coupon-templates".to_owned(), coupon).await);
    let segment = id(&post("/segments".to_owned(), json!({ "name": "走查人群", "rule": never_came() })).await);
    let account =
        json!({ "provider": "aliyun", "access_key_id": "walk", "secret": "walk-secret", "sign_name": "走查" });
    ok(app.put(&format!("{STAFF}/sms/account"), &owner, account).await);
    let sms = json!({ "name": "走查短信", "code": "SMS_WALK", "body": "${name}您好，回T退订", "variables": ["name"] });
    let sms_template = id(&post("/sms/templates".to_owned(), sms).await);
    let tomorrow = chrono::Utc::now() + chrono::Duration::days(1);
    let campaign = json!({ "name": "走查活动", "segment_id": segment, "message_title": "走查", "message_body": "走查消息", "run_at": tomorrow });
    let campaign = id(&post("/campaigns".to_owned(), campaign).await);
    let automation =
        json!({ "name": "走查自动化", "trigger": "welcome", "message_title": "欢迎", "message_body": "欢迎光临" });
    let automation = id(&post("/automations".to_owned(), automation).await);
    let inbox_message = sea_orm::ActiveModelTrait::insert(
        entity::member_inbox::ActiveModel {
            merchant_id: sea_orm::Set(app.seed.merchant_id),
            member_id: sea_orm::Set(member),
            campaign_id: sea_orm::Set(None),
            title: sea_orm::Set("走查消息".to_owned()),
            body: sea_orm::Set("只给受害会员".to_owned()),
            created_at: sea_orm::Set(chrono::Utc::now()),
            read_at: sea_orm::Set(None),
            ..Default::default()
        },
        &app.ctx.db,
    )
    .await
    .unwrap()
    .id;
    let printer =
        id(&post(format!("/stores/{store}/printers"), json!({ "name": "前台", "address": "192.0.2.1:9100" })).await);
    let device = id(&post(format!("/stores/{store}/bridge-devices"), json!({ "name": "前台电脑" })).await["device"]);
    let resource = id(&post(
        format!("/stores/{store}/resources"),
        json!({ "name": "走查床", "kind": "massage_bed", "capacity": 1 }),
    )
    .await);
    let leave = json!({ "staff_id": staff, "date": "2030-01-04", "kind": "leave" });
    let shift_exception = id(&post(format!("/stores/{store}/shift-exceptions"), leave).await);
    let closed_day = "2030-01-05".to_owned();
    post(format!("/stores/{store}/closures"), json!({ "date": closed_day, "reason": "盘点" })).await;

    // Money: stored value, a settled bill with a count card sold, a parked bill, a booking, an online payment
    // whose provider bill row does not parse (a payment exception).
    let recharge =
        json!({ "amount_fen": 50_000, "store_id": store, "tender": "cash", "idempotency_key": "walk-sv-recharge" });
    post(format!("/members/{member}/stored-value/recharges"), recharge).await;
    let sale = json!({
        "store_id": store, "member_id": member, "idempotency_key": "walk-settled",
        "lines": [{ "item_id": service, "staff": [{ "staff_id": staff }] }, { "kind": "card_sale", "item_id": card_product }],
        "tenders": [{ "kind": "stored_value", "amount_fen": 30_000 }, { "kind": "cash", "amount_fen": 34_800 }],
    });
    let (status, settled) = app.post(&format!("{STAFF}/bills"), &owner, sale).await;
    assert_eq!(status, StatusCode::CREATED, "{settled}");
    let settled_bill = id(&settled);
    let settled_line = id(&settled["lines"][0]);
    let count_card = id(&get(format!("/members/{member}/count-cards")).await[0]);
    let print_job = id(&get(format!("/stores/{store}/print-jobs")).await[0]);
    let park = json!({
        "store_id": store, "member_id": member, "idempotency_key": "walk-parked", "park": true,
        "lines": [{ "item_id": service }],
    });
    let (status, parked) = app.post(&format!("{STAFF}/bills"), &owner, park).await;
    assert!(status.is_success(), "{parked}");
    let parked_bill = id(&parked);

    let from = (chrono::Utc::now() + chrono::Duration::days(1)).date_naive();
    let slots = get(format!("/stores/{store}/slots?service_ids={service}&from={from}&days=3")).await;
    let slots = slots["slots"].as_array().unwrap();
    assert!(slots.len() > 2, "free starts at the store: {slots:?}");
    let booked = json!({ "store_id": store, "service_ids": [service], "starts_at": slots[0]["starts_at"], "member_id": member, "idempotency_key": "walk-booking" });
    let booking = id(&post("/bookings".to_owned(), booked).await);
    let free_start = slots[slots.len() - 1]["starts_at"].clone();

    let started = json!({ "provider": "wechatpay", "store_id": store, "plan_id": plan, "idempotency_key": "walk-pay" });
    let started = ok(app.post(&format!("{MINI}/me/payments/recharges"), &member_token, started).await);
    let payment = id(&started["payment"]);
    let out_trade_no = started["payment"]["out_trade_no"].as_str().unwrap();
    app.fake.pay(sandbox::Provider::WechatPay, out_trade_no, sandbox::Delivery::default()).unwrap();
    app.fake.garble_bill_row(out_trade_no);
    assert!(app.fake.wait_for_notifications(std::time::Duration::from_secs(20)).await);
    let today = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai).date_naive();
    let provider = service::payments::Provider::WechatPay;
    service::payments::reconcile::compare_day(&app.ctx, app.seed.merchant_id, provider, today).await.unwrap();
    let payment_exception = id(&get("/payment-exceptions".to_owned()).await[0]);

    Victim {
        store,
        member,
        other_member,
        allergy,
        staff,
        staff_name,
        service,
        product,
        card_product,
        plan,
        rule,
        level,
        coupon,
        segment,
        sms_template,
        campaign,
        automation,
        inbox_message,
        parked_bill,
        settled_bill,
        settled_line,
        booking,
        free_start,
        payment,
        payment_exception,
        count_card,
        printer,
        print_job,
        device,
        resource,
        shift_exception,
        closed_day,
    }
}
