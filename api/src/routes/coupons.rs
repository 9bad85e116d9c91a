//! Coupons (优惠券): templates and grants for staff who manage coupons, a member's coupons on their profile, and
//! for members the coupon center, claiming and their own coupons.

use actix_web::{HttpResponse, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use service::AppContext;
use service::coupons::codes::{self, Code};
use service::coupons::grants;
use service::coupons::issue::{self, Offer};
use service::coupons::templates::{self, TemplateChanges, TemplateInput, TemplateSummary};
use service::coupons::{CouponState, FreeItemKind, MemberCoupon, Scope, Terms, Validity};
use service::domain::{CouponKind, CouponSource, Fen, Points, TemplateStatus};
use service::members::MemberQuery;

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Body, Member, Staff};

pub fn staff_routes(cfg: &mut ServiceConfig) {
    cfg.service(list_coupon_templates)
        .service(get_coupon_report)
        .service(create_coupon_template)
        .service(update_coupon_template)
        .service(grant_coupons)
        .service(generate_coupon_codes)
        .service(list_coupon_codes)
        .service(list_member_coupons);
}

pub fn mini_routes(cfg: &mut ServiceConfig) {
    cfg.service(list_coupon_center).service(claim_coupon).service(redeem_coupon_code).service(list_my_coupons);
}

/// What a coupon takes off, as issued.
#[derive(Serialize, ToSchema)]
pub struct TermsDto {
    pub name: String,
    pub kind: CouponKind,
    /// `amount`, `spend_off`: the face value.
    pub value_fen: Fen,
    /// `percent`: the share the member pays (8500 = 85折).
    pub rate_bp: i32,
    /// `percent`: the most it takes off.
    pub cap_fen: Option<Fen>,
    /// The eligible lines must reach this (after the level discount).
    pub threshold_fen: Fen,
    pub free_item_kind: Option<FreeItemKind>,
    pub free_item_id: Option<i64>,
    pub scope: Scope,
    pub stacks_with_level: bool,
    pub stacks_with_points: bool,
    /// Combines with the member's other coupons on one bill (each of them must say so; one per template).
    pub stacks_with_coupons: bool,
}

impl From<Terms> for TermsDto {
    fn from(t: Terms) -> Self {
        Self {
            name: t.name,
            kind: t.kind,
            value_fen: t.value,
            rate_bp: t.rate_bp,
            cap_fen: t.cap,
            threshold_fen: t.threshold,
            free_item_kind: t.free_item.map(|(kind, _)| kind),
            free_item_id: t.free_item.map(|(_, id)| id),
            scope: t.scope,
            stacks_with_level: t.stacks_with_level,
            stacks_with_points: t.stacks_with_points,
            stacks_with_coupons: t.stacks_with_coupons,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CouponTemplateDto {
    pub id: i64,
    pub terms: TermsDto,
    /// Fixed validity (with `valid_until`), or
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    /// valid this many days from issue, to the end of the last day in the merchant's zone.
    pub valid_days: Option<i32>,
    pub claim_from: Option<DateTime<Utc>>,
    pub claim_until: Option<DateTime<Utc>>,
    /// Absent: no limit.
    pub total_stock: Option<i64>,
    pub remaining: Option<i64>,
    pub per_member_limit: i32,
    /// Shown in the members' coupon center.
    pub claimable: bool,
    /// Issued to each new member, once.
    pub on_join: bool,
    /// Issued this many days before each member's birthday, once a year.
    pub birthday_days_before: Option<i32>,
    /// Members exchange this many points for one in the coupon center (积分兑换).
    pub points_price: Option<Points>,
    /// Given with every settled bill of a member paying at least this (满赠).
    pub purchase_min_fen: Option<Fen>,
    /// The most its coupons may take off bills; each issued takes its largest discount from what is left.
    pub budget_fen: Option<Fen>,
    pub budget_left_fen: Option<Fen>,
    pub status: TemplateStatus,
    /// Coupons issued from it, and how many of them were used.
    pub issued: u64,
    pub used: u64,
    pub created_at: DateTime<Utc>,
}

impl From<TemplateSummary> for CouponTemplateDto {
    fn from(s: TemplateSummary) -> Self {
        let t = s.template;
        let (valid_from, valid_until, valid_days) = t.validity.columns();
        Self {
            id: t.id,
            terms: t.terms.into(),
            valid_from,
            valid_until,
            valid_days,
            claim_from: t.claim_from,
            claim_until: t.claim_until,
            total_stock: t.total_stock,
            remaining: t.remaining,
            per_member_limit: t.per_member_limit,
            claimable: t.claimable,
            on_join: t.on_join,
            birthday_days_before: t.birthday_days_before,
            points_price: t.points_price,
            purchase_min_fen: t.purchase_min,
            budget_fen: t.budget,
            budget_left_fen: t.budget_left,
            status: t.status,
            issued: s.issued,
            used: s.used,
            created_at: t.created_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CouponTemplateRequest {
    /// 1–30 characters, shown to members.
    pub name: String,
    pub kind: CouponKind,
    #[serde(default)]
    pub value_fen: Option<Fen>,
    /// `percent`: the share paid, 1–9999 (8500 = 85折).
    #[serde(default)]
    pub rate_bp: Option<i32>,
    #[serde(default)]
    pub cap_fen: Option<Fen>,
    #[serde(default)]
    pub threshold_fen: Option<Fen>,
    #[serde(default)]
    pub free_item_kind: Option<FreeItemKind>,
    #[serde(default)]
    pub free_item_id: Option<i64>,
    #[serde(default)]
    pub scope: Scope,
    /// Default true.
    #[serde(default)]
    pub stacks_with_level: Option<bool>,
    /// Default true.
    #[serde(default)]
    pub stacks_with_points: Option<bool>,
    /// Combines with other coupons on one bill when each of them says so (default false: one coupon per bill).
    #[serde(default)]
    pub stacks_with_coupons: bool,
    /// Fixed validity: both, or
    #[serde(default)]
    pub valid_from: Option<DateTime<Utc>>,
    #[serde(default)]
    pub valid_until: Option<DateTime<Utc>>,
    /// 1–3650 days from issue.
    #[serde(default)]
    pub valid_days: Option<i32>,
    #[serde(default)]
    pub claim_from: Option<DateTime<Utc>>,
    #[serde(default)]
    pub claim_until: Option<DateTime<Utc>>,
    /// 1–100,000,000; absent for no limit.
    #[serde(default)]
    pub total_stock: Option<i64>,
    /// 1–100, default 1.
    #[serde(default)]
    pub per_member_limit: Option<i32>,
    /// Members may claim it in the coupon center (default false: staff grant it).
    #[serde(default)]
    pub claimable: bool,
    /// Issued to each new member, once (at the desk or on their first sign-in in the app).
    #[serde(default)]
    pub on_join: bool,
    /// Issued this many days (0–30) before each member's birthday, once a year, valid through the birthday month.
    #[serde(default)]
    pub birthday_days_before: Option<i32>,
    /// Members exchange this many points for one (1–100,000,000); the template must be claimable.
    #[serde(default)]
    pub points_price: Option<Points>,
    /// Given with every settled bill of a member paying at least this (满赠), once per bill.
    #[serde(default)]
    pub purchase_min_fen: Option<Fen>,
    /// The most its coupons may take off bills: each issued takes its largest discount (the face value, or a
    /// percentage's cap) from it, and issuing stops when it would be overspent.
    #[serde(default)]
    pub budget_fen: Option<Fen>,
}

impl CouponTemplateRequest {
    fn input(self) -> Result<TemplateInput, service::Error> {
        let validity = match (self.valid_days, self.valid_from, self.valid_until) {
            (Some(days), None, None) => Validity::Days(days),
            (None, Some(from), Some(until)) => Validity::Fixed { from, until },
            _ => {
                return Err(service::Error::invalid(
                    "valid_days",
                    "give valid_days, or valid_from and valid_until (not both kinds)",
                ));
            }
        };
        let free_item = match (self.free_item_kind, self.free_item_id) {
            (Some(kind), Some(id)) => Some((kind, id)),
            (None, None) => None,
            _ => return Err(service::Error::invalid("free_item_id", "give free_item_kind and free_item_id together")),
        };
        Ok(TemplateInput {
            terms: Terms {
                name: self.name,
                kind: self.kind,
                value: self.value_fen.unwrap_or(Fen::ZERO),
                rate_bp: self.rate_bp.unwrap_or(10_000),
                cap: self.cap_fen,
                threshold: self.threshold_fen.unwrap_or(Fen::ZERO),
                free_item,
                scope: self.scope,
                stacks_with_level: self.stacks_with_level.unwrap_or(true),
                stacks_with_points: self.stacks_with_points.unwrap_or(true),
                stacks_with_coupons: self.stacks_with_coupons,
            },
            validity,
            claim_from: self.claim_from,
            claim_until: self.claim_until,
            total_stock: self.total_stock,
            per_member_limit: self.per_member_limit.unwrap_or(1),
            claimable: self.claimable,
            on_join: self.on_join,
            birthday_days_before: self.birthday_days_before,
            points_price: self.points_price,
            purchase_min: self.purchase_min_fen,
            budget: self.budget_fen,
        })
    }
}

/// The merchant's coupon templates, newest first, with how many were issued and used.
#[utoipa::path(tag = "coupons", responses((status = 200, body = Vec<CouponTemplateDto>), (status = 403, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/coupon-templates")]
async fn list_coupon_templates(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
) -> ApiResult<web::Json<Vec<CouponTemplateDto>>> {
    Ok(web::Json(templates::list(&ctx, &me).await?.into_iter().map(Into::into).collect()))
}

/// A new coupon template (merchant-wide staff who manage coupons; audited).
#[utoipa::path(tag = "coupons", request_body = CouponTemplateRequest, responses((status = 201, body = CouponTemplateDto), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/coupon-templates")]
async fn create_coupon_template(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    body: Body<CouponTemplateRequest>,
) -> ApiResult<HttpResponse> {
    let created = templates::create(&ctx, &me, body.into_inner().input()?).await?;
    Ok(HttpResponse::Created().json(CouponTemplateDto::from(created)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CouponTemplateChange {
    pub name: Option<String>,
    /// `paused` stops issuing for now, `ended` for good; issued coupons stay usable either way.
    pub status: Option<TemplateStatus>,
    pub claimable: Option<bool>,
    /// A new end of the claim window.
    pub claim_until: Option<DateTime<Utc>>,
    /// More stock for a template with limited stock.
    pub add_stock: Option<i64>,
}

/// Rename, pause, resume or end a template, or add stock. Its terms never change: issued coupons keep theirs.
#[utoipa::path(tag = "coupons", params(("id" = i64, Path)), request_body = CouponTemplateChange, responses((status = 200, body = CouponTemplateDto), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[patch("/coupon-templates/{id}")]
async fn update_coupon_template(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
    body: Body<CouponTemplateChange>,
) -> ApiResult<web::Json<CouponTemplateDto>> {
    let b = body.into_inner();
    let changes = TemplateChanges {
        name: b.name,
        status: b.status,
        claimable: b.claimable,
        claim_until: b.claim_until.map(Some),
        add_stock: b.add_stock,
    };
    Ok(web::Json(templates::update(&ctx, &me, id.into_inner(), changes).await?.into()))
}

/// The member list's filters: a grant to everyone they select.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct MemberFilterDto {
    pub phone: Option<String>,
    pub name: Option<String>,
    pub level_id: Option<i64>,
    pub tag: Option<String>,
    pub birthday_month: Option<i32>,
    pub min_spend_fen: Option<Fen>,
    pub max_spend_fen: Option<Fen>,
}

impl From<MemberFilterDto> for MemberQuery {
    fn from(f: MemberFilterDto) -> Self {
        MemberQuery {
            phone: f.phone,
            name: f.name,
            level_id: f.level_id,
            tag: f.tag,
            birthday_month: f.birthday_month,
            min_spend_fen: f.min_spend_fen,
            max_spend_fen: f.max_spend_fen,
            ..MemberQuery::default()
        }
    }
}

/// Whom a grant is for: the members named, or every member the filter selects (an empty filter: every member).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantRequest {
    /// 1–10,000 members of the merchant; each gets one coupon.
    #[serde(default)]
    pub member_ids: Option<Vec<i64>>,
    #[serde(default)]
    pub filter: Option<MemberFilterDto>,
    /// Everyone a saved segment holds now.
    #[serde(default)]
    pub segment_id: Option<i64>,
    /// The same key again issues nothing new.
    pub idempotency_key: String,
}

#[derive(Serialize, ToSchema)]
pub struct GrantDto {
    /// Coupons this request issued.
    pub issued: u64,
    /// Members who had this grant's coupon already (the key was used before).
    pub already: u64,
}

/// Grant one coupon to each member named, to everyone the member filters select, or to everyone a saved segment
/// holds: all or nothing (409 `coupon_sold_out` when stock is short for all).
#[utoipa::path(tag = "coupons", params(("id" = i64, Path)), request_body = GrantRequest, responses((status = 200, body = GrantDto), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/coupon-templates/{id}/grants")]
async fn grant_coupons(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
    body: Body<GrantRequest>,
) -> ApiResult<web::Json<GrantDto>> {
    let GrantRequest { member_ids, filter, segment_id, idempotency_key: key } = body.into_inner();
    let id = id.into_inner();
    let granted = match (member_ids, filter, segment_id) {
        (Some(ids), None, None) => grants::grant(&ctx, &me, id, &ids, &key).await?,
        (None, Some(filter), None) => grants::grant_matching(&ctx, &me, id, &filter.into(), &key).await?,
        (None, None, Some(segment)) => grants::grant_segment(&ctx, &me, id, segment, &key).await?,
        _ => {
            let message = "give member_ids, filter or segment_id, one of them";
            return Err(service::Error::invalid("member_ids", message).into());
        }
    };
    Ok(web::Json(GrantDto { issued: granted.issued, already: granted.already }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodesRequest {
    /// 1–10,000 codes; each takes one of the template's stock.
    pub count: i64,
    /// The same key again returns the same codes.
    pub idempotency_key: String,
}

#[derive(Serialize, ToSchema)]
pub struct CouponCodeDto {
    /// `ABCD-EFGH-JKLM`: what a member types (case and separators do not matter).
    pub code: String,
    /// Who redeemed it; absent while unused.
    pub member_id: Option<i64>,
    pub redeemed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<Code> for CouponCodeDto {
    fn from(c: Code) -> Self {
        Self { code: c.code, member_id: c.member_id, redeemed_at: c.redeemed_at, created_at: c.created_at }
    }
}

/// Redemption codes (兑换码) for a template: random, single use, taking their stock now.
#[utoipa::path(tag = "coupons", params(("id" = i64, Path)), request_body = CodesRequest, responses((status = 200, body = Vec<CouponCodeDto>), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/coupon-templates/{id}/codes")]
async fn generate_coupon_codes(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
    body: Body<CodesRequest>,
) -> ApiResult<web::Json<Vec<CouponCodeDto>>> {
    let made = codes::generate(&ctx, &me, id.into_inner(), body.count, &body.idempotency_key).await?;
    Ok(web::Json(made.into_iter().map(Into::into).collect()))
}

/// A template's redemption codes, oldest first, with who redeemed each.
#[utoipa::path(tag = "coupons", params(("id" = i64, Path)), responses((status = 200, body = Vec<CouponCodeDto>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/coupon-templates/{id}/codes")]
async fn list_coupon_codes(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
) -> ApiResult<web::Json<Vec<CouponCodeDto>>> {
    Ok(web::Json(codes::list(&ctx, &me, id.into_inner()).await?.into_iter().map(Into::into).collect()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedeemCodeRequest {
    /// As given: case, spaces and dashes do not matter.
    pub code: String,
}

/// Redeem a code I was given: its coupon is mine. Ten wrong codes an hour, then 429.
#[utoipa::path(tag = "me", request_body = RedeemCodeRequest, responses((status = 201, body = MemberCouponDto), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "`coupon_code_used` or `coupon_unavailable`."), (status = 429, body = ErrorBody)), security(("member_token" = [])))]
#[post("/me/coupon-codes")]
async fn redeem_coupon_code(
    ctx: web::Data<AppContext>,
    Member(me): Member,
    body: Body<RedeemCodeRequest>,
) -> ApiResult<HttpResponse> {
    let coupon = codes::redeem(&ctx, &me, &body.code).await?;
    Ok(HttpResponse::Created().json(MemberCouponDto::from(coupon)))
}

#[derive(Serialize, ToSchema)]
pub struct MemberCouponDto {
    pub id: i64,
    pub template_id: i64,
    pub terms: TermsDto,
    pub valid_from: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
    /// Read from the coupon's validity now: `usable`, `pending` (not valid yet), `reserved` (on a parked bill),
    /// `used` or `expired`.
    pub state: CouponState,
    pub source: CouponSource,
    pub bill_id: Option<i64>,
    pub used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<MemberCoupon> for MemberCouponDto {
    fn from(c: MemberCoupon) -> Self {
        Self {
            id: c.id,
            template_id: c.template_id,
            terms: c.terms.into(),
            valid_from: c.valid_from,
            valid_until: c.valid_until,
            state: c.state,
            source: c.source,
            bill_id: c.bill_id,
            used_at: c.used_at,
            created_at: c.created_at,
        }
    }
}

/// A member's coupons: usable ones first, soonest to expire first.
#[utoipa::path(tag = "coupons", params(("id" = i64, Path)), responses((status = 200, body = Vec<MemberCouponDto>), (status = 404, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/members/{id}/coupons")]
async fn list_member_coupons(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
) -> ApiResult<web::Json<Vec<MemberCouponDto>>> {
    Ok(web::Json(issue::of_member(&ctx, &me, id.into_inner()).await?.into_iter().map(Into::into).collect()))
}

#[derive(Serialize, ToSchema)]
pub struct CouponOfferDto {
    pub template_id: i64,
    pub terms: TermsDto,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    pub valid_days: Option<i32>,
    pub claim_until: Option<DateTime<Utc>>,
    /// Absent: no limit.
    pub remaining: Option<i64>,
    pub per_member_limit: i32,
    /// Points one costs (积分兑换); absent: free to claim.
    pub points_price: Option<Points>,
    /// How many I have claimed.
    pub claimed: u32,
    /// Whether a claim now would be taken.
    pub can_claim: bool,
}

impl From<Offer> for CouponOfferDto {
    fn from(o: Offer) -> Self {
        let t = o.template;
        let (valid_from, valid_until, valid_days) = t.validity.columns();
        Self {
            template_id: t.id,
            terms: t.terms.into(),
            valid_from,
            valid_until,
            valid_days,
            claim_until: t.claim_until,
            remaining: t.remaining,
            per_member_limit: t.per_member_limit,
            points_price: t.points_price,
            claimed: o.claimed,
            can_claim: o.can_claim,
        }
    }
}

/// The coupon center: coupons I may claim now.
#[utoipa::path(tag = "me", responses((status = 200, body = Vec<CouponOfferDto>)), security(("member_token" = [])))]
#[get("/coupon-center")]
async fn list_coupon_center(
    ctx: web::Data<AppContext>,
    Member(me): Member,
) -> ApiResult<web::Json<Vec<CouponOfferDto>>> {
    Ok(web::Json(issue::center(&ctx, &me).await?.into_iter().map(Into::into).collect()))
}

/// Claim a coupon from the coupon center; one with a points price takes its points in the same transaction
/// (409 `insufficient_balance` when I hold fewer).
#[utoipa::path(tag = "me", params(("id" = i64, Path, description = "template id")), responses((status = 201, body = MemberCouponDto), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "`coupon_sold_out`, `coupon_limit_reached` or `coupon_unavailable`.")), security(("member_token" = [])))]
#[post("/coupon-center/{id}/claims")]
async fn claim_coupon(ctx: web::Data<AppContext>, Member(me): Member, id: web::Path<i64>) -> ApiResult<HttpResponse> {
    let coupon = issue::claim(&ctx, &me, id.into_inner()).await?;
    Ok(HttpResponse::Created().json(MemberCouponDto::from(coupon)))
}

/// My coupons: usable ones first, soonest to expire first.
#[utoipa::path(tag = "me", responses((status = 200, body = Vec<MemberCouponDto>)), security(("member_token" = [])))]
#[get("/me/coupons")]
async fn list_my_coupons(ctx: web::Data<AppContext>, Member(me): Member) -> ApiResult<web::Json<Vec<MemberCouponDto>>> {
    Ok(web::Json(issue::mine(&ctx, &me).await?.into_iter().map(Into::into).collect()))
}

#[derive(Serialize, ToSchema)]
pub struct CouponReportDto {
    pub template_id: i64,
    pub issued: u64,
    /// Of those issued: claimed by members, and granted by staff or automatically.
    pub claimed: u64,
    pub granted: u64,
    pub used: u64,
    /// Unused and past their validity.
    pub expired: u64,
    /// Unused and still valid (or not yet), or held by a parked bill.
    pub outstanding: u64,
    /// Settled bills that used one.
    pub bills: u64,
    /// What the coupons took off those bills: the coupon's cost, every redeemer counted.
    pub discount_fen: Fen,
    /// What those bills were paid, less refunds.
    pub revenue_fen: Fen,
}

/// What became of a template's coupons: issued, claimed, used, expired, the discount given and the revenue of the
/// bills that used them.
#[utoipa::path(tag = "coupons", params(("id" = i64, Path)), responses((status = 200, body = CouponReportDto), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/coupon-templates/{id}/report")]
async fn get_coupon_report(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
) -> ApiResult<web::Json<CouponReportDto>> {
    let r = service::coupons::report::of_template(&ctx, &me, id.into_inner()).await?;
    Ok(web::Json(CouponReportDto {
        template_id: r.template_id,
        issued: r.issued,
        claimed: r.claimed,
        granted: r.granted,
        used: r.used,
        expired: r.expired,
        outstanding: r.outstanding,
        bills: r.bills,
        discount_fen: r.discount,
        revenue_fen: r.revenue,
    }))
}
