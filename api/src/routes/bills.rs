//! Checkout (结账): settle a bill with any mix of stored value, cash and bank card; read it back for the receipt.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use service::AppContext;
use service::bills::{self, Bill, BillInput, LineInput, TenderInput};

use crate::error::{ApiResult, ErrorBody};
use crate::extract::Staff;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(settle).service(get_bill);
}

#[derive(Deserialize, ToSchema)]
pub struct BillLineRequest {
    pub service_item_id: i64,
    /// 1–99; default 1.
    #[serde(default = "one")]
    pub quantity: i32,
}

fn one() -> i32 {
    1
}

#[derive(Deserialize, ToSchema)]
pub struct TenderRequest {
    /// `stored_value`, `cash` or `bank_card`.
    pub kind: String,
    pub amount_fen: i64,
    /// Cash only: what the customer handed over; the difference is given back as change.
    pub tendered_fen: Option<i64>,
}

#[derive(Deserialize, ToSchema)]
pub struct SettleBillRequest {
    pub store_id: i64,
    pub member_id: Option<i64>,
    pub lines: Vec<BillLineRequest>,
    /// Must add up to the bill's total exactly.
    pub tenders: Vec<TenderRequest>,
    /// Chosen by the client, 8–64 characters; retrying with the same key never settles twice.
    pub idempotency_key: String,
}

#[derive(Serialize, ToSchema)]
pub struct BillLineDto {
    /// `service`.
    pub kind: String,
    pub item_id: i64,
    pub name: String,
    pub category: String,
    pub quantity: i32,
    pub unit_price_fen: i64,
    pub amount_fen: i64,
}

#[derive(Serialize, ToSchema)]
pub struct TenderDto {
    pub kind: String,
    pub amount_fen: i64,
    pub tendered_fen: i64,
    pub change_fen: i64,
}

/// A bill with everything its receipt shows.
#[derive(Serialize, ToSchema)]
pub struct BillDto {
    pub id: i64,
    pub store_id: i64,
    pub member_id: Option<i64>,
    /// `settled`.
    pub status: String,
    pub subtotal_fen: i64,
    pub total_fen: i64,
    pub change_fen: i64,
    pub lines: Vec<BillLineDto>,
    pub tenders: Vec<TenderDto>,
    /// The ledger entry that settled it.
    pub entry_id: Option<i64>,
    pub created_by: i64,
    pub created_at: DateTime<Utc>,
    pub settled_at: Option<DateTime<Utc>>,
    /// True when this idempotency key was seen before: this is the first settlement's bill.
    pub replayed: bool,
}

impl From<Bill> for BillDto {
    fn from(b: Bill) -> Self {
        Self {
            id: b.id,
            store_id: b.store_id,
            member_id: b.member_id,
            status: b.status,
            subtotal_fen: b.subtotal,
            total_fen: b.total,
            change_fen: b.change,
            lines: b
                .lines
                .into_iter()
                .map(|l| BillLineDto {
                    kind: l.kind,
                    item_id: l.item_id,
                    name: l.name,
                    category: l.category,
                    quantity: l.quantity,
                    unit_price_fen: l.unit_price,
                    amount_fen: l.amount,
                })
                .collect(),
            tenders: b
                .tenders
                .into_iter()
                .map(|t| TenderDto {
                    kind: t.kind,
                    amount_fen: t.amount,
                    tendered_fen: t.tendered,
                    change_fen: t.change,
                })
                .collect(),
            entry_id: b.entry_id,
            created_by: b.created_by,
            created_at: b.created_at,
            settled_at: b.settled_at,
            replayed: b.replayed,
        }
    }
}

/// Settle a bill: one transaction writes the bill, its tenders and a balanced ledger entry, or nothing.
/// 201 when settled now, 200 when the key was seen before.
#[utoipa::path(tag = "checkout", request_body = SettleBillRequest, responses((status = 201, body = BillDto), (status = 200, body = BillDto, description = "replayed"), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/bills")]
async fn settle(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    body: web::Json<SettleBillRequest>,
) -> ApiResult<HttpResponse> {
    let b = body.into_inner();
    let input = BillInput {
        store_id: b.store_id,
        member_id: b.member_id,
        lines: b
            .lines
            .into_iter()
            .map(|l| LineInput { service_item_id: l.service_item_id, quantity: l.quantity })
            .collect(),
        tenders: b
            .tenders
            .into_iter()
            .map(|t| TenderInput { kind: t.kind, amount_fen: t.amount_fen, tendered_fen: t.tendered_fen })
            .collect(),
        idempotency_key: b.idempotency_key,
    };
    let bill = bills::settle(&ctx, &me, input).await?;
    Ok(if bill.replayed { HttpResponse::Ok() } else { HttpResponse::Created() }.json(BillDto::from(bill)))
}

#[utoipa::path(tag = "checkout", params(("id" = i64, Path)), responses((status = 200, body = BillDto), (status = 404, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/bills/{id}")]
async fn get_bill(ctx: web::Data<AppContext>, Staff(me): Staff, id: web::Path<i64>) -> ApiResult<web::Json<BillDto>> {
    Ok(web::Json(bills::get(&ctx, &me, id.into_inner()).await?.into()))
}
