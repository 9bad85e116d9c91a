//! A member's history in the app (bills with their lines, the stored-value statement, points movements) and their
//! ratings of a visit; staff read a store's ratings per technician.

use actix_web::{get, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use service::AppContext;
use service::checkout::bills::Bill;
use service::checkout::ratings::{self, RatingInput, StoreRatings, Visit};
use service::domain::{BillStatus, Fen, LineKind, Page, Points, TenderKind};
use service::loyalty::points::PointsMovement;

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Body, Member, Staff};
use crate::routes::bills::BillCouponDto;
use crate::routes::stored_value::StatementLineDto;

pub fn mini_routes(cfg: &mut ServiceConfig) {
    cfg.service(list_my_bills)
        .service(list_my_stored_value_entries)
        .service(list_my_points_entries)
        .service(get_my_visit_ratings)
        .service(rate_my_visit);
}

pub fn staff_routes(cfg: &mut ServiceConfig) {
    cfg.service(get_store_ratings);
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// Older than this id (the last one of the previous page).
    pub before_id: Option<i64>,
    /// 1–200, default 20.
    pub limit: Option<u64>,
}

impl HistoryQuery {
    fn page(&self) -> Result<Page, service::Error> {
        Page::parse(self.before_id, self.limit, 20)
    }
}

/// A line of my bill: what I bought and paid, not how the store shares it out.
#[derive(Serialize, ToSchema)]
pub struct MemberBillLineDto {
    pub id: i64,
    pub kind: LineKind,
    pub name: String,
    pub quantity: i32,
    pub unit_price_fen: Fen,
    pub amount_fen: Fen,
    /// My level's discount on the line.
    pub discount_fen: Fen,
    /// The line's share of my coupon.
    pub coupon_fen: Fen,
    pub points_offset_fen: Fen,
    /// What I paid for it (0 when a count card's sessions paid).
    pub net_fen: Fen,
    pub by_count_card: bool,
    pub refunded_quantity: i32,
    pub refunded_fen: Fen,
}

#[derive(Serialize, ToSchema)]
pub struct MemberTenderDto {
    pub kind: TenderKind,
    pub amount_fen: Fen,
    pub refunded_fen: Fen,
}

/// A bill as its member sees it: lines, price steps and how it was paid; the store's own notes, commission
/// shares and who rang it up stay with staff.
#[derive(Serialize, ToSchema)]
pub struct MemberBillDto {
    pub id: i64,
    pub store_id: i64,
    pub status: BillStatus,
    pub subtotal_fen: Fen,
    pub discount_fen: Fen,
    /// What my coupons took off, all together.
    pub coupon_fen: Fen,
    /// My coupons on the bill, each with what it took off.
    pub coupons: Vec<BillCouponDto>,
    pub points_used: Points,
    pub points_offset_fen: Fen,
    pub total_fen: Fen,
    pub refunded_fen: Fen,
    pub points_earned: Points,
    pub lines: Vec<MemberBillLineDto>,
    pub tenders: Vec<MemberTenderDto>,
    pub created_at: DateTime<Utc>,
    pub settled_at: Option<DateTime<Utc>>,
    /// A parked bill: what I name when I confirm it as shown.
    pub confirmation_digest: Option<String>,
}

impl From<Bill> for MemberBillDto {
    fn from(b: Bill) -> Self {
        Self {
            id: b.id,
            store_id: b.store_id,
            status: b.status,
            subtotal_fen: b.subtotal,
            discount_fen: b.discount,
            coupon_fen: b.coupon,
            coupons: b.coupons.into_iter().map(BillCouponDto::from).collect(),
            points_used: b.points_used,
            points_offset_fen: b.points_offset,
            total_fen: b.total,
            refunded_fen: b.refunded,
            points_earned: b.points_earned,
            lines: b
                .lines
                .into_iter()
                .map(|l| MemberBillLineDto {
                    id: l.id,
                    kind: l.kind,
                    name: l.name,
                    quantity: l.quantity,
                    unit_price_fen: l.unit_price,
                    amount_fen: l.amount,
                    discount_fen: l.discount,
                    coupon_fen: l.coupon,
                    points_offset_fen: l.points_offset,
                    net_fen: l.net,
                    by_count_card: l.count_card_id.is_some(),
                    refunded_quantity: l.refunded_quantity,
                    refunded_fen: l.refunded,
                })
                .collect(),
            tenders: b
                .tenders
                .into_iter()
                .map(|t| MemberTenderDto { kind: t.kind, amount_fen: t.amount, refunded_fen: t.refunded })
                .collect(),
            created_at: b.created_at,
            settled_at: b.settled_at,
            confirmation_digest: b.confirmation_digest,
        }
    }
}

/// My settled (and reversed) bills with their lines, newest first.
#[utoipa::path(tag = "me", params(HistoryQuery), responses((status = 200, body = Vec<MemberBillDto>), (status = 422, body = ErrorBody)), security(("member_token" = [])))]
#[get("/me/bills")]
async fn list_my_bills(
    ctx: web::Data<AppContext>,
    Member(me): Member,
    q: web::Query<HistoryQuery>,
) -> ApiResult<web::Json<Vec<MemberBillDto>>> {
    let found = service::checkout::bills::mine(&ctx, &me, q.page()?).await?;
    Ok(web::Json(found.into_iter().map(MemberBillDto::from).collect()))
}

/// My stored-value statement, newest first (`before_id` is an entry id).
#[utoipa::path(tag = "me", params(HistoryQuery), responses((status = 200, body = Vec<StatementLineDto>), (status = 422, body = ErrorBody)), security(("member_token" = [])))]
#[get("/me/stored-value/entries")]
async fn list_my_stored_value_entries(
    ctx: web::Data<AppContext>,
    Member(me): Member,
    q: web::Query<HistoryQuery>,
) -> ApiResult<web::Json<Vec<StatementLineDto>>> {
    let lines = service::cards::stored_value::my_statement(&ctx, me.merchant_id, me.member_id, q.page()?).await?;
    Ok(web::Json(lines.into_iter().map(StatementLineDto::from).collect()))
}

#[derive(Serialize, ToSchema)]
pub struct PointsMovementDto {
    pub entry_id: i64,
    /// `bill` (earned or spent on a bill), `points_expiry`, `points_adjustment`, `refund`, ...
    pub kind: String,
    pub memo: String,
    pub bill_id: Option<i64>,
    /// Positive when points came in.
    pub delta: Points,
    pub created_at: DateTime<Utc>,
}

impl From<PointsMovement> for PointsMovementDto {
    fn from(m: PointsMovement) -> Self {
        Self {
            entry_id: m.entry_id,
            kind: m.kind,
            memo: m.memo,
            bill_id: m.bill_id,
            delta: m.delta,
            created_at: m.created_at,
        }
    }
}

/// My points movements, newest first (`before_id` is an entry id); what expires when is in `/me/points`.
#[utoipa::path(tag = "me", params(HistoryQuery), responses((status = 200, body = Vec<PointsMovementDto>), (status = 422, body = ErrorBody)), security(("member_token" = [])))]
#[get("/me/points/entries")]
async fn list_my_points_entries(
    ctx: web::Data<AppContext>,
    Member(me): Member,
    q: web::Query<HistoryQuery>,
) -> ApiResult<web::Json<Vec<PointsMovementDto>>> {
    let moves = service::loyalty::points::my_statement(&ctx, me.merchant_id, me.member_id, q.page()?).await?;
    Ok(web::Json(moves.into_iter().map(PointsMovementDto::from).collect()))
}

#[derive(Serialize, ToSchema)]
pub struct RatingDto {
    /// 1–5.
    pub stars: i32,
    pub comment: Option<String>,
    pub rated_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct VisitTechnicianDto {
    pub staff_id: i64,
    pub name: String,
    pub title: String,
    pub photo_url: Option<String>,
    /// What I gave them; absent until I rate.
    pub rating: Option<RatingDto>,
}

#[derive(Serialize, ToSchema)]
pub struct VisitRatingsDto {
    pub bill_id: i64,
    /// False when the visit can no longer be rated (not settled, or more than 30 days ago).
    pub open: bool,
    pub technicians: Vec<VisitTechnicianDto>,
}

impl From<Visit> for VisitRatingsDto {
    fn from(v: Visit) -> Self {
        Self {
            bill_id: v.bill_id,
            open: v.open,
            technicians: v
                .technicians
                .into_iter()
                .map(|t| VisitTechnicianDto {
                    staff_id: t.staff_id,
                    name: t.name,
                    title: t.title,
                    photo_url: t.photo_url,
                    rating: t.rating.map(|r| RatingDto { stars: r.stars, comment: r.comment, rated_at: r.rated_at }),
                })
                .collect(),
        }
    }
}

/// The technicians who worked on a bill of mine, and my rating of each.
#[utoipa::path(tag = "me", params(("id" = i64, Path)), responses((status = 200, body = VisitRatingsDto), (status = 404, body = ErrorBody)), security(("member_token" = [])))]
#[get("/me/bills/{id}/ratings")]
async fn get_my_visit_ratings(
    ctx: web::Data<AppContext>,
    Member(me): Member,
    id: web::Path<i64>,
) -> ApiResult<web::Json<VisitRatingsDto>> {
    Ok(web::Json(ratings::of_my_bill(&ctx, &me, id.into_inner()).await?.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TechnicianRatingRequest {
    pub staff_id: i64,
    /// 1–5.
    pub stars: i32,
    /// At most 300 characters.
    pub comment: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RateVisitRequest {
    /// One or more of the visit's technicians, each once.
    pub ratings: Vec<TechnicianRatingRequest>,
}

/// Rate the technicians of a settled visit of mine (1–5 and a comment each), once per technician, within 30 days.
#[utoipa::path(tag = "me", params(("id" = i64, Path)), request_body = RateVisitRequest, responses((status = 200, body = VisitRatingsDto), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "Rated already (`already_rated`), or not a settled visit of the last 30 days (`not_rateable`)."), (status = 422, body = ErrorBody)), security(("member_token" = [])))]
#[post("/me/bills/{id}/ratings")]
async fn rate_my_visit(
    ctx: web::Data<AppContext>,
    Member(me): Member,
    id: web::Path<i64>,
    body: Body<RateVisitRequest>,
) -> ApiResult<web::Json<VisitRatingsDto>> {
    let inputs = body
        .into_inner()
        .ratings
        .into_iter()
        .map(|r| RatingInput { staff_id: r.staff_id, stars: r.stars, comment: r.comment })
        .collect();
    Ok(web::Json(ratings::rate(&ctx, &me, id.into_inner(), inputs).await?.into()))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RatingsQuery {
    /// First local day.
    pub from: NaiveDate,
    /// Last local day, included (at most a year after `from`).
    pub to: NaiveDate,
}

#[derive(Serialize, ToSchema)]
pub struct StaffRatingsDto {
    pub staff_id: i64,
    pub name: String,
    pub count: u32,
    /// The mean in hundredths of a star (4.67 → 467).
    pub average_centi: u32,
    /// How many ratings of 1, 2, 3, 4 and 5 stars.
    pub histogram: Vec<u32>,
}

#[derive(Serialize, ToSchema)]
pub struct RatingCommentDto {
    pub staff_id: i64,
    pub bill_id: i64,
    pub stars: i32,
    pub comment: String,
    pub rated_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct StoreRatingsDto {
    /// Best average first.
    pub staff: Vec<StaffRatingsDto>,
    /// The latest 50 comments, newest first.
    pub comments: Vec<RatingCommentDto>,
}

impl From<StoreRatings> for StoreRatingsDto {
    fn from(r: StoreRatings) -> Self {
        Self {
            staff: r
                .staff
                .into_iter()
                .map(|s| StaffRatingsDto {
                    staff_id: s.staff_id,
                    name: s.name,
                    count: s.count,
                    average_centi: s.average_centi,
                    histogram: s.histogram.to_vec(),
                })
                .collect(),
            comments: r
                .comments
                .into_iter()
                .map(|c| RatingCommentDto {
                    staff_id: c.staff_id,
                    bill_id: c.bill_id,
                    stars: c.stars,
                    comment: c.comment,
                    rated_at: c.rated_at,
                })
                .collect(),
        }
    }
}

/// Members' ratings of a store's technicians over a period (the staff performance view).
#[utoipa::path(tag = "reports", params(("id" = i64, Path), RatingsQuery), responses((status = 200, body = StoreRatingsDto), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/stores/{id}/ratings")]
async fn get_store_ratings(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
    q: web::Query<RatingsQuery>,
) -> ApiResult<web::Json<StoreRatingsDto>> {
    Ok(web::Json(ratings::of_store(&ctx, &me, id.into_inner(), q.from, q.to).await?.into()))
}
