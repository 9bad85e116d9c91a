//! Checkout (开单/结账): price preview, settlement with any mix of tenders, parking (挂单) and resuming, voiding,
//! receipts, refunds by line and reversal (反结账).

use actix_web::{HttpResponse, get, post, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use service::AppContext;
use service::checkout::bills::{
    self, Bill, BillDraft, LineInput, Quote, Receipt, SettleInput, SettleParkedInput, StaffInput, TenderInput,
};
use service::checkout::refunds::{self, Refund, RefundInput, RefundLineInput};
use service::coupons::UsedCoupon;
use service::domain::{BillStatus, Fen, LineKind, Page, Points, TenderKind};

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Body, Staff};

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(preview_bill)
        .service(create_bill)
        .service(list_bills)
        .service(list_member_bills)
        .service(get_bill)
        .service(update_parked_bill)
        .service(settle_parked_bill)
        .service(void_bill)
        .service(get_bill_receipt)
        .service(refund_bill)
        .service(reverse_bill);
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffShareRequest {
    pub staff_id: i64,
    /// Basis points of the line (all staff on a line together: 10000). Leave out on every staff member to share
    /// equally.
    pub share_bp: Option<i64>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BillLineRequest {
    /// `service` (default), `product`, `gift` (a product redeemable for points, paid with them), `card_sale` (sell
    /// a count card) or `recharge`.
    #[serde(default = "service_kind")]
    pub kind: LineKind,
    /// The service item, product (also for a gift), count-card product or recharge plan.
    #[serde(alias = "service_item_id")]
    pub item_id: Option<i64>,
    /// 1–99; default 1.
    #[serde(default = "one")]
    pub quantity: i32,
    /// Who did the work or made the sale (for commission).
    #[serde(default)]
    pub staff: Vec<StaffShareRequest>,
    /// Services: pay with this count card's sessions instead of money.
    pub count_card_id: Option<i64>,
    /// Recharges without a plan: the amount in fen.
    pub amount_fen: Option<Fen>,
}

fn service_kind() -> LineKind {
    LineKind::Service
}

fn one() -> i32 {
    1
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TenderRequest {
    /// `stored_value`, `cash` or `bank_card`.
    pub kind: TenderKind,
    pub amount_fen: Fen,
    /// Cash only: what the customer handed over; the difference is given back as change.
    pub tendered_fen: Option<Fen>,
}

/// A bill's content before tenders.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BillDraftRequest {
    pub store_id: i64,
    pub member_id: Option<i64>,
    pub lines: Vec<BillLineRequest>,
    /// Points to use as an offset (抵现); 0 by default.
    #[serde(default)]
    pub points: Points,
    /// The member's usable coupons: one, or up to five that each combine with other coupons (one per template).
    #[serde(default)]
    pub coupon_ids: Vec<i64>,
    #[serde(default)]
    pub note: String,
}

impl From<BillDraftRequest> for BillDraft {
    fn from(d: BillDraftRequest) -> Self {
        BillDraft {
            store_id: d.store_id,
            member_id: d.member_id,
            lines: d
                .lines
                .into_iter()
                .map(|l| LineInput {
                    kind: l.kind,
                    item_id: l.item_id,
                    quantity: l.quantity,
                    staff: l
                        .staff
                        .into_iter()
                        .map(|s| StaffInput { staff_id: s.staff_id, share_bp: s.share_bp })
                        .collect(),
                    count_card_id: l.count_card_id,
                    amount_fen: l.amount_fen,
                })
                .collect(),
            points: d.points,
            coupon_ids: d.coupon_ids,
            note: d.note,
        }
    }
}

pub(crate) fn tenders(input: Vec<TenderRequest>) -> Vec<TenderInput> {
    input
        .into_iter()
        .map(|t| TenderInput { kind: t.kind, amount_fen: t.amount_fen, tendered_fen: t.tendered_fen })
        .collect()
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBillRequest {
    pub store_id: i64,
    pub member_id: Option<i64>,
    pub lines: Vec<BillLineRequest>,
    #[serde(default)]
    pub points: Points,
    /// The member's usable coupons: one, or up to five that each combine with other coupons (one per template).
    #[serde(default)]
    pub coupon_ids: Vec<i64>,
    #[serde(default)]
    pub note: String,
    /// Must add up to the bill's total exactly. Leave empty when parking.
    #[serde(default)]
    pub tenders: Vec<TenderRequest>,
    /// True parks the bill (挂单) instead of settling it.
    #[serde(default)]
    pub park: bool,
    /// A fresh member code scanned at the counter, when the merchant asks members to confirm large debits.
    pub member_code: Option<String>,
    /// Chosen by the client, 8–64 characters; retrying with the same key never settles twice.
    pub idempotency_key: String,
}

#[derive(Serialize, ToSchema)]
pub struct BillLineDto {
    pub id: i64,
    /// `service`, `product`, `gift`, `card_sale` or `recharge`.
    pub kind: LineKind,
    pub item_id: i64,
    pub name: String,
    pub category: String,
    pub quantity: i32,
    pub unit_price_fen: Fen,
    /// Unit price × quantity.
    pub amount_fen: Fen,
    pub discount_fen: Fen,
    /// This line's share of the bill's coupon.
    pub coupon_fen: Fen,
    pub points_offset_fen: Fen,
    /// What tenders paid for this line.
    pub net_fen: Fen,
    pub count_card_id: Option<i64>,
    /// Revenue recognised from the count card for these sessions.
    pub recognised_fen: Fen,
    /// Earned on what was paid, plus a recharge plan's bonus points.
    pub points_earned: Points,
    /// Gifts: the points the line cost.
    pub points_redeemed: Points,
    pub staff: Vec<StaffShareDto>,
    pub refunded_quantity: i32,
    pub refunded_fen: Fen,
    /// What the line created: `{"count_card_id": ..}` for a card sale, `{"bonus_fen": ..}` for a recharge.
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

#[derive(Serialize, ToSchema)]
pub struct StaffShareDto {
    pub staff_id: i64,
    pub share_bp: i64,
}

#[derive(Serialize, ToSchema)]
pub struct TenderDto {
    pub kind: TenderKind,
    pub amount_fen: Fen,
    pub tendered_fen: Fen,
    pub change_fen: Fen,
    /// Stored value: the part taken from principal and from bonus.
    pub principal_fen: Fen,
    pub bonus_fen: Fen,
    pub refunded_fen: Fen,
}

/// One of a bill's coupons and what it took off.
#[derive(Serialize, ToSchema)]
pub struct BillCouponDto {
    pub coupon_id: i64,
    pub name: String,
    pub off_fen: Fen,
}

impl From<UsedCoupon> for BillCouponDto {
    fn from(c: UsedCoupon) -> Self {
        Self { coupon_id: c.coupon_id, name: c.name, off_fen: c.off }
    }
}

/// A bill with everything its receipt shows.
#[derive(Serialize, ToSchema)]
pub struct BillDto {
    pub id: i64,
    pub store_id: i64,
    pub member_id: Option<i64>,
    /// `parked`, `settled`, `voided` or `reversed`.
    pub status: BillStatus,
    pub subtotal_fen: Fen,
    pub discount_fen: Fen,
    /// What the bill's coupons took off, all together.
    pub coupon_fen: Fen,
    /// The member's coupons the bill used (or holds while parked), in the order they applied.
    pub coupons: Vec<BillCouponDto>,
    pub points_used: Points,
    pub points_offset_fen: Fen,
    pub total_fen: Fen,
    pub change_fen: Fen,
    pub points_earned: Points,
    pub refunded_fen: Fen,
    pub level_id: Option<i64>,
    pub note: String,
    pub lines: Vec<BillLineDto>,
    pub tenders: Vec<TenderDto>,
    /// The ledger entry that settled it.
    pub entry_id: Option<i64>,
    pub created_by: i64,
    pub created_at: DateTime<Utc>,
    pub settled_at: Option<DateTime<Utc>>,
    /// When the member agreed to its stored-value or count-card debit (in the mini-program, or by a member code).
    pub member_confirmed_at: Option<DateTime<Utc>>,
    /// A parked bill as it stands now: the member confirms it by this digest, so a bill changed after they opened it
    /// is not confirmed.
    pub confirmation_digest: Option<String>,
    pub closed_at: Option<DateTime<Utc>>,
    /// True when this idempotency key was seen before: this is the first request's bill.
    pub replayed: bool,
}

fn line_dto(l: bills::Line) -> BillLineDto {
    BillLineDto {
        id: l.id,
        kind: l.kind,
        item_id: l.item_id,
        name: l.name,
        category: l.category,
        quantity: l.quantity,
        unit_price_fen: l.unit_price,
        amount_fen: l.amount,
        discount_fen: l.discount,
        coupon_fen: l.coupon,
        points_offset_fen: l.points_offset,
        net_fen: l.net,
        count_card_id: l.count_card_id,
        recognised_fen: l.recognised,
        points_earned: l.points_earned,
        points_redeemed: l.points_redeemed,
        staff: l.staff.into_iter().map(|s| StaffShareDto { staff_id: s.staff_id, share_bp: s.share_bp }).collect(),
        refunded_quantity: l.refunded_quantity,
        refunded_fen: l.refunded,
        detail: l.detail,
    }
}

impl From<Bill> for BillDto {
    fn from(b: Bill) -> Self {
        Self {
            id: b.id,
            store_id: b.store_id,
            member_id: b.member_id,
            status: b.status,
            subtotal_fen: b.subtotal,
            discount_fen: b.discount,
            coupon_fen: b.coupon,
            coupons: b.coupons.into_iter().map(BillCouponDto::from).collect(),
            points_used: b.points_used,
            points_offset_fen: b.points_offset,
            total_fen: b.total,
            change_fen: b.change,
            points_earned: b.points_earned,
            refunded_fen: b.refunded,
            level_id: b.level_id,
            note: b.note,
            lines: b.lines.into_iter().map(line_dto).collect(),
            tenders: b
                .tenders
                .into_iter()
                .map(|t| TenderDto {
                    kind: t.kind,
                    amount_fen: t.amount,
                    tendered_fen: t.tendered,
                    change_fen: t.change,
                    principal_fen: t.principal,
                    bonus_fen: t.bonus,
                    refunded_fen: t.refunded,
                })
                .collect(),
            entry_id: b.entry_id,
            created_by: b.created_by,
            created_at: b.created_at,
            settled_at: b.settled_at,
            member_confirmed_at: b.member_confirmed_at,
            confirmation_digest: b.confirmation_digest,
            closed_at: b.closed_at,
            replayed: b.replayed,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct PriceStepDto {
    /// `subtotal`, `level_discount`, `coupon`, `points_offset` or `total`.
    pub step: String,
    /// Signed: discounts are negative.
    pub amount_fen: Fen,
    pub explanation: String,
}

#[derive(Serialize, ToSchema)]
pub struct AllergyMatchDto {
    pub substance: String,
    pub severity: String,
    pub note: Option<String>,
    pub service_item_id: i64,
    pub service_name: String,
}

impl From<service::members::allergies::AllergyMatch> for AllergyMatchDto {
    fn from(a: service::members::allergies::AllergyMatch) -> Self {
        Self {
            substance: a.substance,
            severity: a.severity,
            note: a.note,
            service_item_id: a.service_item_id,
            service_name: a.service_name,
        }
    }
}

/// What a bill will cost and why. Rounding: half up to the fen per line; bill-wide amounts (points offset,
/// points earned) spread over lines by largest remainder.
#[derive(Serialize, ToSchema)]
pub struct QuoteDto {
    pub lines: Vec<BillLineDto>,
    pub steps: Vec<PriceStepDto>,
    pub subtotal_fen: Fen,
    pub discount_fen: Fen,
    pub coupon_fen: Fen,
    /// Points used for the offset.
    pub points_used: Points,
    pub points_offset_fen: Fen,
    /// Points the gift lines cost (taken before the offset).
    pub points_redeemed: Points,
    pub total_fen: Fen,
    pub points_earned: Points,
    pub points_available: Points,
    /// The most points this bill can use.
    pub points_max: Points,
    pub level_id: Option<i64>,
    pub level_name: Option<String>,
    /// The member's allergy notes that match the services' substances: tell the technician.
    pub allergies: Vec<AllergyMatchDto>,
    pub confirm_threshold_fen: Option<Fen>,
    /// Of the member's usable coupons, the one that takes the most off this bill, and how much.
    pub best_coupon_id: Option<i64>,
    pub best_coupon_fen: Option<Fen>,
}

impl From<Quote> for QuoteDto {
    fn from(q: Quote) -> Self {
        Self {
            lines: q.lines.into_iter().map(line_dto).collect(),
            steps: q
                .steps
                .into_iter()
                .map(|s| PriceStepDto { step: s.step.to_owned(), amount_fen: s.amount, explanation: s.explanation })
                .collect(),
            subtotal_fen: q.subtotal,
            discount_fen: q.discount,
            coupon_fen: q.coupon,
            points_used: q.points_used,
            points_offset_fen: q.points_offset,
            points_redeemed: q.points_redeemed,
            total_fen: q.total,
            points_earned: q.points_earned,
            points_available: q.points_available,
            points_max: q.points_max,
            level_id: q.level.as_ref().map(|(id, _)| *id),
            level_name: q.level.map(|(_, name)| name),
            allergies: q.allergies.into_iter().map(AllergyMatchDto::from).collect(),
            confirm_threshold_fen: q.confirm_threshold_fen,
            best_coupon_id: q.best_coupon.map(|(id, _)| id),
            best_coupon_fen: q.best_coupon.map(|(_, fen)| fen),
        }
    }
}

/// Price a bill without writing anything: every step explained, points available, allergy matches.
#[utoipa::path(tag = "checkout", request_body = BillDraftRequest, responses((status = 200, body = QuoteDto), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/bills/preview")]
async fn preview_bill(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    body: Body<BillDraftRequest>,
) -> ApiResult<web::Json<QuoteDto>> {
    Ok(web::Json(bills::preview(&ctx, &me, body.into_inner().into()).await?.into()))
}

/// Settle a bill (or park it with `park: true`): one transaction writes the bill, its lines and tenders, stock,
/// count cards, points, commission and a balanced ledger entry, or nothing. 201 when done now, 200 when the key
/// was seen before.
#[utoipa::path(tag = "checkout", request_body = CreateBillRequest, responses((status = 201, body = BillDto), (status = 200, body = BillDto, description = "replayed"), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/bills")]
async fn create_bill(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    body: Body<CreateBillRequest>,
) -> ApiResult<HttpResponse> {
    let b = body.into_inner();
    let draft: BillDraft = BillDraftRequest {
        store_id: b.store_id,
        member_id: b.member_id,
        lines: b.lines,
        points: b.points,
        coupon_ids: b.coupon_ids,
        note: b.note,
    }
    .into();
    let input = SettleInput {
        draft,
        tenders: tenders(b.tenders),
        idempotency_key: b.idempotency_key,
        member_code: b.member_code,
    };
    let bill = bills::create(&ctx, &me, input, b.park).await?;
    Ok(if bill.replayed { HttpResponse::Ok() } else { HttpResponse::Created() }.json(BillDto::from(bill)))
}

#[derive(Deserialize, IntoParams)]
pub struct BillQuery {
    pub store_id: i64,
    /// `parked` lists the bills to resume.
    pub status: Option<BillStatus>,
    pub before_id: Option<i64>,
    /// 1–200, default 20.
    pub limit: Option<u64>,
}

/// A store's bills, newest first; `status=parked` lists the bills to resume.
#[utoipa::path(tag = "checkout", params(BillQuery), responses((status = 200, body = Vec<BillDto>), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/bills")]
async fn list_bills(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    q: web::Query<BillQuery>,
) -> ApiResult<web::Json<Vec<BillDto>>> {
    let q = q.into_inner();
    let page = Page::parse(q.before_id, q.limit, 20)?;
    let found = bills::list(&ctx, &me, q.store_id, q.status, page).await?;
    Ok(web::Json(found.into_iter().map(BillDto::from).collect()))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MemberBillsQuery {
    pub before_id: Option<i64>,
    /// 1–200, default 20.
    pub limit: Option<u64>,
}

/// A member's bills at my stores (every store for merchant-wide staff), newest first: their history at the desk.
#[utoipa::path(tag = "checkout", params(("id" = i64, Path), MemberBillsQuery), responses((status = 200, body = Vec<BillDto>), (status = 404, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/members/{id}/bills")]
async fn list_member_bills(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
    q: web::Query<MemberBillsQuery>,
) -> ApiResult<web::Json<Vec<BillDto>>> {
    let page = Page::parse(q.before_id, q.limit, 20)?;
    let found = bills::of_member(&ctx, &me, id.into_inner(), page).await?;
    Ok(web::Json(found.into_iter().map(BillDto::from).collect()))
}

/// One bill with its lines, tenders and commission shares.
#[utoipa::path(tag = "checkout", params(("id" = i64, Path)), responses((status = 200, body = BillDto), (status = 404, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/bills/{id}")]
async fn get_bill(ctx: web::Data<AppContext>, Staff(me): Staff, id: web::Path<i64>) -> ApiResult<web::Json<BillDto>> {
    Ok(web::Json(bills::get(&ctx, &me, id.into_inner()).await?.into()))
}

/// Replace a parked bill's content (resuming with changes).
#[utoipa::path(tag = "checkout", params(("id" = i64, Path)), request_body = BillDraftRequest, responses((status = 200, body = BillDto), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[put("/bills/{id}")]
async fn update_parked_bill(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
    body: Body<BillDraftRequest>,
) -> ApiResult<web::Json<BillDto>> {
    Ok(web::Json(bills::update_parked(&ctx, &me, id.into_inner(), body.into_inner().into()).await?.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettleParkedRequest {
    pub tenders: Vec<TenderRequest>,
    pub member_code: Option<String>,
}

/// Settle a parked bill. Repeating it with the same tenders returns the settlement.
#[utoipa::path(tag = "checkout", params(("id" = i64, Path)), request_body = SettleParkedRequest, responses((status = 200, body = BillDto), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/bills/{id}/settle")]
async fn settle_parked_bill(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
    body: Body<SettleParkedRequest>,
) -> ApiResult<web::Json<BillDto>> {
    let b = body.into_inner();
    let input = SettleParkedInput { tenders: tenders(b.tenders), member_code: b.member_code };
    Ok(web::Json(bills::settle_parked(&ctx, &me, id.into_inner(), input).await?.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonRequest {
    pub reason: String,
}

/// Void a parked bill (nothing was settled, nothing moves). Audited.
#[utoipa::path(tag = "checkout", params(("id" = i64, Path)), request_body = ReasonRequest, responses((status = 200, body = BillDto), (status = 409, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/bills/{id}/void")]
async fn void_bill(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
    body: Body<ReasonRequest>,
) -> ApiResult<web::Json<BillDto>> {
    Ok(web::Json(bills::void(&ctx, &me, id.into_inner(), &body.reason).await?.into()))
}

#[derive(Serialize, ToSchema)]
pub struct ReceiptCardDto {
    pub name: String,
    pub sessions_left: i64,
}

/// The data of a bill's printed receipt.
#[derive(Serialize, ToSchema)]
pub struct ReceiptDto {
    pub store_name: String,
    pub cashier: String,
    /// How the member is named on paper: the masked real name (张*), else the nickname.
    pub member_nickname: Option<String>,
    /// The member's level after the bill, and their balances as the bill left them (not as they are now).
    pub member_level: Option<String>,
    pub stored_value_fen: Option<Fen>,
    pub points_available: Option<Points>,
    pub count_cards: Vec<ReceiptCardDto>,
    pub bill: BillDto,
}

impl From<Receipt> for ReceiptDto {
    fn from(r: Receipt) -> Self {
        Self {
            store_name: r.store_name,
            cashier: r.cashier,
            member_nickname: r.member_nickname,
            member_level: r.member_level,
            stored_value_fen: r.stored_value_fen,
            points_available: r.points_available,
            count_cards: r
                .count_cards
                .into_iter()
                .map(|(name, sessions_left)| ReceiptCardDto { name, sessions_left })
                .collect(),
            bill: r.bill.into(),
        }
    }
}

/// The receipt of a settled bill: the bill and the balances it left, as printed.
#[utoipa::path(tag = "checkout", params(("id" = i64, Path)), responses((status = 200, body = ReceiptDto), (status = 404, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/bills/{id}/receipt")]
async fn get_bill_receipt(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
) -> ApiResult<web::Json<ReceiptDto>> {
    Ok(web::Json(bills::receipt(&ctx, &me, id.into_inner()).await?.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundLineRequest {
    pub line_id: i64,
    pub quantity: i32,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundRequest {
    pub lines: Vec<RefundLineRequest>,
    pub reason: String,
    pub idempotency_key: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReverseRequest {
    pub reason: String,
    pub idempotency_key: String,
}

#[derive(Serialize, ToSchema)]
pub struct RefundTenderDto {
    pub kind: TenderKind,
    pub amount_fen: Fen,
    pub principal_fen: Fen,
    pub bonus_fen: Fen,
}

#[derive(Serialize, ToSchema)]
pub struct RefundLineDto {
    pub line_id: i64,
    pub quantity: i32,
    pub amount_fen: Fen,
}

#[derive(Serialize, ToSchema)]
pub struct RefundDto {
    pub id: i64,
    pub bill_id: i64,
    /// `refund` or `reversal`.
    pub kind: String,
    /// Money paid back.
    pub amount_fen: Fen,
    pub reason: String,
    pub tenders: Vec<RefundTenderDto>,
    pub lines: Vec<RefundLineDto>,
    pub entry_id: Option<i64>,
    pub replayed: bool,
    /// The bill afterwards.
    pub bill: BillDto,
}

impl From<Refund> for RefundDto {
    fn from(r: Refund) -> Self {
        Self {
            id: r.id,
            bill_id: r.bill_id,
            kind: r.kind,
            amount_fen: r.amount,
            reason: r.reason,
            tenders: r
                .tenders
                .into_iter()
                .map(|t| RefundTenderDto {
                    kind: t.kind,
                    amount_fen: t.amount,
                    principal_fen: t.principal,
                    bonus_fen: t.bonus,
                })
                .collect(),
            lines: r
                .lines
                .into_iter()
                .map(|(line_id, quantity, amount_fen)| RefundLineDto { line_id, quantity, amount_fen })
                .collect(),
            entry_id: r.entry_id,
            replayed: r.replayed,
            bill: r.bill.into(),
        }
    }
}

/// Refund some units of some lines; every effect goes back in proportion. Audited.
#[utoipa::path(tag = "checkout", params(("id" = i64, Path)), request_body = RefundRequest, responses((status = 201, body = RefundDto), (status = 200, body = RefundDto, description = "replayed"), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/bills/{id}/refunds")]
async fn refund_bill(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
    body: Body<RefundRequest>,
) -> ApiResult<HttpResponse> {
    let b = body.into_inner();
    let input = RefundInput {
        lines: b.lines.into_iter().map(|l| RefundLineInput { line_id: l.line_id, quantity: l.quantity }).collect(),
        reason: b.reason,
        idempotency_key: b.idempotency_key,
    };
    let done = refunds::refund(&ctx, &me, id.into_inner(), input).await?;
    Ok(if done.replayed { HttpResponse::Ok() } else { HttpResponse::Created() }.json(RefundDto::from(done)))
}

/// Reverse a settled bill (反结账): refund everything left and mark it reversed. Audited.
#[utoipa::path(tag = "checkout", params(("id" = i64, Path)), request_body = ReverseRequest, responses((status = 201, body = RefundDto), (status = 200, body = RefundDto, description = "replayed"), (status = 409, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/bills/{id}/reverse")]
async fn reverse_bill(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
    body: Body<ReverseRequest>,
) -> ApiResult<HttpResponse> {
    let b = body.into_inner();
    let done = refunds::reverse(&ctx, &me, id.into_inner(), &b.reason, &b.idempotency_key).await?;
    Ok(if done.replayed { HttpResponse::Ok() } else { HttpResponse::Created() }.json(RefundDto::from(done)))
}
