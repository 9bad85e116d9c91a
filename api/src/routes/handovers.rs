//! Shift handover (交班): a cashier's takings per payment method since their last handover; and the store's day at a
//! glance, the console's first page.

use std::collections::BTreeMap;

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use service::AppContext;
use service::domain::Fen;
use service::store::handover::{Handover, HandoverInput};
use service::store::today::{Day, Today};

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Body, Staff};

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(preview_handover).service(create_handover).service(list_handovers).service(get_store_day);
}

#[derive(Serialize, ToSchema)]
pub struct HandoverDto {
    /// 0 for a preview (not handed over yet).
    pub id: i64,
    pub store_id: i64,
    pub staff_id: i64,
    pub staff_name: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Payment method (`cash`, `bank_card`, `wechat_pay`, `alipay`) → net fen taken, refunds deducted.
    pub takings: BTreeMap<String, i64>,
    /// What was done: entry kind (`sale`, `recharge`, `refund`, `card_refund`, …) → how many.
    pub entries: BTreeMap<String, u64>,
    pub total_fen: Fen,
    /// The float the shift started with (what my previous handover today left in the drawer).
    pub opening_float_fen: Fen,
    /// What the drawer should hold: the opening float plus the shift's net cash.
    pub expected_cash_fen: Fen,
    /// Recorded handovers: the cash counted, the float left for the next shift, and counted − expected (over when
    /// positive, short when negative). Null in a preview.
    pub cash_counted_fen: Option<Fen>,
    pub float_fen: Option<Fen>,
    pub over_short_fen: Option<Fen>,
}

/// The cashier's count at the handover.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HandoverRequest {
    /// The cash counted in the drawer.
    pub cash_counted_fen: Fen,
    /// Left in the drawer for the next shift (备用金), at most the cash counted; default 0.
    pub float_fen: Option<Fen>,
}

impl From<Handover> for HandoverDto {
    fn from(h: Handover) -> Self {
        Self {
            id: h.id,
            store_id: h.store_id,
            staff_id: h.staff_id,
            staff_name: h.staff_name,
            from: h.from,
            to: h.to,
            takings: h.takings,
            entries: h.entries,
            total_fen: Fen::new(h.total),
            opening_float_fen: h.opening_float,
            expected_cash_fen: h.expected_cash,
            cash_counted_fen: h.cash_counted,
            float_fen: h.float,
            over_short_fen: h.over_short,
        }
    }
}

/// My shift so far (from my last handover, or the start of the store's day).
#[utoipa::path(tag = "checkout", params(("id" = i64, Path)), responses((status = 200, body = HandoverDto), (status = 404, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/stores/{id}/handovers/current")]
async fn preview_handover(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
) -> ApiResult<web::Json<HandoverDto>> {
    Ok(web::Json(service::store::handover::preview(&ctx, &me, id.into_inner()).await?.into()))
}

/// Hands over (交班): records my shift so far with the cash I counted, and prints its summary with the over/short.
#[utoipa::path(tag = "checkout", params(("id" = i64, Path)), request_body = HandoverRequest, responses((status = 201, body = HandoverDto), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "Nothing was taken or done since my last handover (`nothing_to_hand_over`)")), security(("staff_token" = [])))]
#[post("/stores/{id}/handovers")]
async fn create_handover(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
    body: Body<HandoverRequest>,
) -> ApiResult<HttpResponse> {
    let input = HandoverInput { cash_counted: body.cash_counted_fen, float: body.float_fen.unwrap_or(Fen::ZERO) };
    let handover = service::store::handover::hand_over(&ctx, &me, id.into_inner(), input).await?;
    Ok(HttpResponse::Created().json(HandoverDto::from(handover)))
}

/// The store's latest handovers (everyone's for managers, my own otherwise).
#[utoipa::path(tag = "checkout", params(("id" = i64, Path)), responses((status = 200, body = Vec<HandoverDto>), (status = 404, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/stores/{id}/handovers")]
async fn list_handovers(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
) -> ApiResult<web::Json<Vec<HandoverDto>>> {
    let found = service::store::handover::list(&ctx, &me, id.into_inner()).await?;
    Ok(web::Json(found.into_iter().map(HandoverDto::from).collect()))
}

/// A store's day so far and its last 30 days, by the store's local days.
#[derive(Serialize, ToSchema)]
pub struct TodayDto {
    pub date: NaiveDate,
    pub timezone: String,
    /// Payment method (`cash`, `bank_card`, `wechat_pay`, `alipay`) → net fen taken today (sales, recharges,
    /// refunds), every method listed.
    pub takings: BTreeMap<String, i64>,
    pub takings_fen: Fen,
    /// Bills settled today.
    pub bills: u64,
    /// Parked bills waiting now.
    pub parked: u64,
    /// Today's bookings, cancelled ones left out.
    pub bookings: u64,
    /// Members of this home store registered today.
    pub new_members: u64,
    /// The last 30 days, oldest first, today last.
    pub days: Vec<DayDto>,
}

#[derive(Serialize, ToSchema)]
pub struct DayDto {
    pub date: NaiveDate,
    pub takings_fen: Fen,
    pub bills: u64,
}

impl From<Today> for TodayDto {
    fn from(t: Today) -> Self {
        Self {
            date: t.date,
            timezone: t.timezone,
            takings_fen: Fen::new(t.takings.values().sum()),
            takings: t.takings,
            bills: t.bills,
            parked: t.parked,
            bookings: t.bookings,
            new_members: t.new_members,
            days: t
                .days
                .into_iter()
                .map(|d: Day| DayDto { date: d.date, takings_fen: Fen::new(d.takings), bills: d.bills })
                .collect(),
        }
    }
}

/// The store's day at a glance: today's takings by method, bills, bookings and new members, and the last 30 days.
#[utoipa::path(tag = "checkout", params(("id" = i64, Path)), responses((status = 200, body = TodayDto), (status = 404, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/stores/{id}/today")]
async fn get_store_day(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
) -> ApiResult<web::Json<TodayDto>> {
    Ok(web::Json(service::store::today::summary(&ctx, &me, id.into_inner()).await?.into()))
}
