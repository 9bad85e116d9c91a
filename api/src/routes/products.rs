//! Retail products (商品) and their stock at each store: receipts (入库), counts (盘点), movements.

use actix_web::{HttpResponse, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use service::AppContext;
use service::domain::{Fen, Page, Points};
use service::store::products::{
    self, CountInput, Product, ProductInput, ProductQuery, ReceiptInput, StockChange, StockLevel, StockMovement,
};

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Body, Staff};

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(list_products)
        .service(create_product)
        .service(update_product)
        .service(list_stock)
        .service(receive_stock)
        .service(count_stock)
        .service(list_stock_movements);
}

#[derive(Serialize, ToSchema)]
pub struct ProductDto {
    pub id: i64,
    /// Unique per merchant.
    #[schema(example = "OIL-001")]
    pub sku: String,
    /// EAN/UPC, 8–14 digits.
    #[schema(example = "6901234567892")]
    pub barcode: Option<String>,
    pub name: String,
    pub category: String,
    /// Price in fen.
    pub price_fen: Fen,
    /// Redeemable for this many points a unit (积分兑换, a `gift` line at checkout); null: not a gift.
    pub points_price: Option<Points>,
    pub active: bool,
}

impl From<Product> for ProductDto {
    fn from(p: Product) -> Self {
        Self {
            id: p.id,
            sku: p.sku,
            barcode: p.barcode,
            name: p.name,
            category: p.category,
            price_fen: p.price_fen,
            points_price: p.points_price,
            active: p.active,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductRequest {
    /// 1–40 characters without spaces, unique per merchant (409 `sku_taken` otherwise).
    pub sku: Option<String>,
    /// 8–14 digits, or null for none.
    #[serde(default, deserialize_with = "crate::extract::explicit_null")]
    #[schema(value_type = Option<String>)]
    pub barcode: Option<Option<String>>,
    pub name: Option<String>,
    pub category: Option<String>,
    /// 0 to 100,000,000 fen.
    pub price_fen: Option<Fen>,
    /// 1–100,000,000 points a unit, or null for not a gift.
    #[serde(default, deserialize_with = "crate::extract::explicit_null")]
    #[schema(value_type = Option<i64>)]
    pub points_price: Option<Option<i64>>,
    pub active: Option<bool>,
}

impl From<ProductRequest> for ProductInput {
    fn from(r: ProductRequest) -> Self {
        Self {
            sku: r.sku,
            barcode: r.barcode,
            name: r.name,
            category: r.category,
            price_fen: r.price_fen,
            points_price: r.points_price,
            active: r.active,
        }
    }
}

#[derive(Deserialize, IntoParams)]
pub struct ProductListQuery {
    /// Part of the SKU, barcode or name (case-insensitive).
    pub q: Option<String>,
    /// Exactly this barcode, as a scanner reads it.
    pub barcode: Option<String>,
}

/// One product's stock at the store.
#[derive(Serialize, ToSchema)]
pub struct StockLevelDto {
    pub product_id: i64,
    pub sku: String,
    pub name: String,
    pub category: String,
    pub active: bool,
    /// Units on hand; 0 where stock never moved.
    pub on_hand: i64,
    pub updated_at: Option<DateTime<Utc>>,
}

impl From<StockLevel> for StockLevelDto {
    fn from(s: StockLevel) -> Self {
        Self {
            product_id: s.product.id,
            sku: s.product.sku,
            name: s.product.name,
            category: s.product.category,
            active: s.product.active,
            on_hand: s.on_hand,
            updated_at: s.updated_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct StockMovementDto {
    pub id: i64,
    pub product_id: i64,
    /// Signed units: a sale is negative.
    pub delta: i64,
    /// `sale`, `refund`, `receive` or `adjust`.
    pub reason: String,
    pub memo: String,
    pub bill_id: Option<i64>,
    pub staff_id: Option<i64>,
    pub created_at: DateTime<Utc>,
}

impl From<StockMovement> for StockMovementDto {
    fn from(m: StockMovement) -> Self {
        Self {
            id: m.id,
            product_id: m.product_id,
            delta: m.delta,
            reason: m.reason,
            memo: m.memo,
            bill_id: m.bill_id,
            staff_id: m.staff_id,
            created_at: m.created_at,
        }
    }
}

/// What a receipt or count recorded, and the stock afterwards.
#[derive(Serialize, ToSchema)]
pub struct StockChangeDto {
    pub movement: StockMovementDto,
    pub on_hand: i64,
}

impl From<StockChange> for StockChangeDto {
    fn from(c: StockChange) -> Self {
        Self { movement: c.movement.into(), on_hand: c.on_hand }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StockReceiptRequest {
    pub product_id: i64,
    /// Units received, 1–1,000,000.
    pub quantity: i64,
    /// Supplier, delivery note...; at most 200 characters.
    pub memo: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StockCountRequest {
    pub product_id: i64,
    /// Units on the shelf, 0–1,000,000; the difference from the books is recorded as an `adjust` movement.
    pub counted: i64,
    pub memo: Option<String>,
}

#[derive(Deserialize, IntoParams)]
pub struct MovementQuery {
    /// Only this product's movements.
    pub product_id: Option<i64>,
    /// Movements older than this id (the last one of the previous page).
    pub before_id: Option<i64>,
    /// 1–200, default 50.
    pub limit: Option<u64>,
}

/// Retail products by SKU, inactive ones included, at most 500 (desk staff and catalog managers).
#[utoipa::path(tag = "products", params(ProductListQuery), responses((status = 200, body = Vec<ProductDto>), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/products")]
async fn list_products(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    query: web::Query<ProductListQuery>,
) -> ApiResult<web::Json<Vec<ProductDto>>> {
    let q = query.into_inner();
    let found = products::list(&ctx, &me, ProductQuery { q: q.q, barcode: q.barcode }).await?;
    Ok(web::Json(found.into_iter().map(ProductDto::from).collect()))
}

/// Adds a retail product.
#[utoipa::path(tag = "products", request_body = ProductRequest, responses((status = 201, body = ProductDto), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/products")]
async fn create_product(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    body: Body<ProductRequest>,
) -> ApiResult<HttpResponse> {
    let product = products::create(&ctx, &me, body.into_inner().into()).await?;
    Ok(HttpResponse::Created().json(ProductDto::from(product)))
}

/// Changes a retail product: its name, SKU, barcode, price, points price or whether it is sold.
#[utoipa::path(tag = "products", params(("id" = i64, Path)), request_body = ProductRequest, responses((status = 200, body = ProductDto), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[patch("/products/{id}")]
async fn update_product(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
    body: Body<ProductRequest>,
) -> ApiResult<web::Json<ProductDto>> {
    Ok(web::Json(products::update(&ctx, &me, id.into_inner(), body.into_inner().into()).await?.into()))
}

/// Every product with what the store has on hand.
#[utoipa::path(tag = "products", params(("store_id" = i64, Path)), responses((status = 200, body = Vec<StockLevelDto>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/stores/{store_id}/stock")]
async fn list_stock(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    store_id: web::Path<i64>,
) -> ApiResult<web::Json<Vec<StockLevelDto>>> {
    let levels = products::stock(&ctx, &me, store_id.into_inner()).await?;
    Ok(web::Json(levels.into_iter().map(StockLevelDto::from).collect()))
}

/// Goods received (入库).
#[utoipa::path(tag = "products", params(("store_id" = i64, Path)), request_body = StockReceiptRequest, responses((status = 201, body = StockChangeDto), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/stores/{store_id}/stock/receipts")]
async fn receive_stock(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    store_id: web::Path<i64>,
    body: Body<StockReceiptRequest>,
) -> ApiResult<HttpResponse> {
    let b = body.into_inner();
    let input = ReceiptInput { product_id: b.product_id, quantity: b.quantity, memo: b.memo };
    let change = products::receive(&ctx, &me, store_id.into_inner(), input).await?;
    Ok(HttpResponse::Created().json(StockChangeDto::from(change)))
}

/// A stock count (盘点): sets on hand to what was counted and records the difference.
#[utoipa::path(tag = "products", params(("store_id" = i64, Path)), request_body = StockCountRequest, responses((status = 201, body = StockChangeDto), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/stores/{store_id}/stock/counts")]
async fn count_stock(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    store_id: web::Path<i64>,
    body: Body<StockCountRequest>,
) -> ApiResult<HttpResponse> {
    let b = body.into_inner();
    let input = CountInput { product_id: b.product_id, counted: b.counted, memo: b.memo };
    let change = products::count(&ctx, &me, store_id.into_inner(), input).await?;
    Ok(HttpResponse::Created().json(StockChangeDto::from(change)))
}

/// The store's stock movements, newest first.
#[utoipa::path(tag = "products", params(("store_id" = i64, Path), MovementQuery), responses((status = 200, body = Vec<StockMovementDto>), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/stores/{store_id}/stock/movements")]
async fn list_stock_movements(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    store_id: web::Path<i64>,
    query: web::Query<MovementQuery>,
) -> ApiResult<web::Json<Vec<StockMovementDto>>> {
    let q = query.into_inner();
    let page = Page::parse(q.before_id, q.limit, 50)?;
    let found = products::movements(&ctx, &me, store_id.into_inner(), q.product_id, page).await?;
    Ok(web::Json(found.into_iter().map(StockMovementDto::from).collect()))
}
