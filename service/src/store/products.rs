//! Retail products (商品) sold over the counter, and their stock at each store.
//!
//! A store's stock of a product is one `product_stock` row, moved only by [`move_stock`] or a bill's
//! [`StockMoves`]: one guarded
//! `UPDATE … SET on_hand = on_hand + Δ WHERE … AND on_hand + Δ >= 0` and one `stock_movements` row in the same
//! transaction, so on hand is always the sum of the movements and never negative. A count (盘点) first touches the
//! row, so it queues behind sales and receipts of that product at that store and the difference it records is
//! exact when it commits.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait, TransactionTrait,
};

use entity::{product_stock, products, stock_movements, stores};

use crate::domain::{Fen, MAX_AMOUNT_FEN, Page, Permission, Points, label};
use crate::error::is_unique_violation;
use crate::foundation::principal::StaffPrincipal;
use crate::ledger::deferred::{Check, Deferred};
use crate::{AppContext, Conflict, Error, Result};

/// The most units one receipt or count may name.
pub const MAX_UNITS: i64 = 1_000_000;

#[derive(Clone, Debug)]
pub struct Product {
    pub id: i64,
    pub sku: String,
    pub barcode: Option<String>,
    pub name: String,
    pub category: String,
    pub price_fen: Fen,
    /// Redeemable for this many points a unit (积分兑换); `None`: not a gift.
    pub points_price: Option<Points>,
    pub active: bool,
}

fn to_product(row: products::Model) -> Product {
    Product {
        id: row.id,
        sku: row.sku,
        barcode: row.barcode,
        name: row.name,
        category: row.category,
        price_fen: Fen::new(row.price_fen),
        points_price: row.points_price.map(Points::new),
        active: row.active,
    }
}

#[derive(Default)]
pub struct ProductInput {
    pub sku: Option<String>,
    /// `Some(None)` removes the barcode.
    pub barcode: Option<Option<String>>,
    pub name: Option<String>,
    pub category: Option<String>,
    pub price_fen: Option<Fen>,
    /// `Some(None)`: no longer redeemable for points.
    pub points_price: Option<Option<i64>>,
    pub active: Option<bool>,
}

#[derive(Default)]
pub struct ProductQuery {
    /// Substring of the SKU, barcode or name (case-insensitive).
    pub q: Option<String>,
    /// Exactly this barcode (a scanner at the desk).
    pub barcode: Option<String>,
}

fn sku(value: &str) -> Result<String> {
    let trimmed = value.trim();
    if trimmed.is_empty()
        || trimmed.chars().count() > 40
        || trimmed.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(Error::invalid("sku", "must be 1–40 characters without spaces"));
    }
    Ok(trimmed.to_owned())
}

fn barcode(value: &str) -> Result<String> {
    let trimmed = value.trim();
    if !(8..=14).contains(&trimmed.len()) || !trimmed.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::invalid("barcode", "must be 8–14 digits (EAN-8, UPC, EAN-13, GTIN-14)"));
    }
    Ok(trimmed.to_owned())
}

fn price(fen: i64) -> Result<i64> {
    if !(0..=MAX_AMOUNT_FEN).contains(&fen) {
        return Err(Error::invalid("price_fen", "must be 0 to ￥1,000,000 (in fen)"));
    }
    Ok(fen)
}

fn apply(active: &mut products::ActiveModel, input: ProductInput) -> Result<()> {
    if let Some(value) = input.sku {
        active.sku = Set(sku(&value)?);
    }
    if let Some(value) = input.barcode {
        active.barcode = Set(value.as_deref().map(barcode).transpose()?);
    }
    if let Some(value) = input.name {
        active.name = Set(label("name", &value)?);
    }
    if let Some(value) = input.category {
        active.category = Set(label("category", &value)?);
    }
    if let Some(value) = input.price_fen {
        active.price_fen = Set(price(value.get())?);
    }
    if let Some(points) = input.points_price {
        if points.is_some_and(|p| !(1..=crate::domain::MAX_POINTS).contains(&p)) {
            return Err(Error::invalid("points_price", "must be 1–100,000,000 points, or null for not a gift"));
        }
        active.points_price = Set(points);
    }
    if let Some(flag) = input.active {
        active.active = Set(flag);
    }
    Ok(())
}

fn sku_taken(err: sea_orm::DbErr) -> Error {
    if is_unique_violation(&err) { Error::Conflict(Conflict::SkuTaken) } else { err.into() }
}

/// `%value%` for LIKE, with the pattern's own `%`, `_` and `\` escaped.
fn contains_pattern(value: &str) -> String {
    let mut pattern = String::with_capacity(value.len() + 2);
    pattern.push('%');
    for c in value.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// The merchant's products, by SKU; inactive ones included. For staff at the desk and catalog managers.
pub async fn list(ctx: &AppContext, principal: &StaffPrincipal, query: ProductQuery) -> Result<Vec<Product>> {
    if !principal.can(Permission::Checkout) && !principal.can(Permission::CatalogManage) {
        return Err(Error::NeedsEither(Permission::Checkout, Permission::CatalogManage));
    }
    let mut select = products::Entity::find().filter(products::Column::MerchantId.eq(principal.merchant_id));
    if let Some(code) = query.barcode.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        select = select.filter(products::Column::Barcode.eq(barcode(code)?));
    }
    if let Some(q) = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        if q.chars().count() > 40 {
            return Err(Error::invalid("q", "at most 40 characters"));
        }
        let pattern = contains_pattern(q);
        let like = |column: products::Column| {
            Expr::expr(Func::lower(Expr::col((products::Entity, column))))
                .like(LikeExpr::new(pattern.clone()).escape('\\'))
        };
        select = select.filter(
            sea_orm::Condition::any()
                .add(like(products::Column::Sku))
                .add(like(products::Column::Barcode))
                .add(like(products::Column::Name)),
        );
    }
    let rows = select.order_by_asc(products::Column::Sku).limit(500).all(&ctx.db).await?;
    Ok(rows.into_iter().map(to_product).collect())
}

pub async fn create(ctx: &AppContext, principal: &StaffPrincipal, input: ProductInput) -> Result<Product> {
    principal.require_merchant_wide(Permission::CatalogManage)?;
    for (field, present) in [
        ("sku", input.sku.is_some()),
        ("name", input.name.is_some()),
        ("category", input.category.is_some()),
        ("price_fen", input.price_fen.is_some()),
    ] {
        if !present {
            return Err(Error::invalid(field, "is required"));
        }
    }
    let mut active = products::ActiveModel {
        merchant_id: Set(principal.merchant_id),
        barcode: Set(None),
        points_price: Set(None),
        active: Set(true),
        created_at: Set(ctx.now()),
        ..Default::default()
    };
    apply(&mut active, input)?;
    let txn = ctx.db.begin().await?;
    let product = active.insert(&txn).await.map_err(sku_taken)?;
    let detail = crate::foundation::audit::created(&product);
    crate::foundation::audit::by_staff(&txn, principal, "product.created", ("product", product.id), detail).await?;
    crate::foundation::merchants::config_changed(&txn, principal.merchant_id).await?;
    txn.commit().await?;
    Ok(to_product(product))
}

async fn row(conn: &impl ConnectionTrait, merchant_id: i64, id: i64) -> Result<Option<products::Model>> {
    Ok(products::Entity::find_by_id(id).filter(products::Column::MerchantId.eq(merchant_id)).one(conn).await?)
}

pub async fn update(ctx: &AppContext, principal: &StaffPrincipal, id: i64, input: ProductInput) -> Result<Product> {
    principal.require_merchant_wide(Permission::CatalogManage)?;
    let found = row(&ctx.db, principal.merchant_id, id).await?.ok_or(Error::NotFound("product"))?;
    let before = found.clone();
    let mut active: products::ActiveModel = found.into();
    apply(&mut active, input)?;
    let txn = ctx.db.begin().await?;
    let product = active.update(&txn).await.map_err(sku_taken)?;
    let detail = crate::foundation::audit::changes(&before, &product);
    crate::foundation::audit::by_staff(&txn, principal, "product.updated", ("product", product.id), detail).await?;
    crate::foundation::merchants::config_changed(&txn, principal.merchant_id).await?;
    txn.commit().await?;
    Ok(to_product(product))
}

/// One product's stock at a store.
#[derive(Clone, Debug)]
pub struct StockLevel {
    pub product: Product,
    pub on_hand: i64,
    /// When the stock last moved (or was counted); none when it never did.
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Clone, Debug)]
pub struct StockMovement {
    pub id: i64,
    pub product_id: i64,
    /// Signed: a sale is negative.
    pub delta: i64,
    /// `sale`, `refund`, `receive` or `adjust`.
    pub reason: String,
    pub memo: String,
    pub bill_id: Option<i64>,
    pub staff_id: Option<i64>,
    pub created_at: DateTime<Utc>,
}

/// What a receipt or a count did: the movement it recorded and the stock afterwards.
#[derive(Clone, Debug)]
pub struct StockChange {
    pub movement: StockMovement,
    pub on_hand: i64,
}

/// A store of the principal's merchant and scope, named in the path: anything else is not found.
async fn store_in_scope(conn: &impl ConnectionTrait, principal: &StaffPrincipal, store_id: i64) -> Result<()> {
    principal.require_store(store_id)?;
    stores::Entity::find_by_id(store_id)
        .filter(stores::Column::MerchantId.eq(principal.merchant_id))
        .one(conn)
        .await?
        .ok_or(Error::NotFound("store"))?;
    Ok(())
}

fn may_read_stock(principal: &StaffPrincipal) -> Result<()> {
    if principal.can(Permission::StockManage) || principal.can(Permission::Checkout) {
        Ok(())
    } else {
        Err(Error::NeedsEither(Permission::StockManage, Permission::Checkout))
    }
}

/// Every product of the merchant with what the store has on hand (0 where stock never moved).
pub async fn stock(ctx: &AppContext, principal: &StaffPrincipal, store_id: i64) -> Result<Vec<StockLevel>> {
    may_read_stock(principal)?;
    store_in_scope(&ctx.db, principal, store_id).await?;
    let rows = products::Entity::find()
        .filter(products::Column::MerchantId.eq(principal.merchant_id))
        .order_by_asc(products::Column::Sku)
        .all(&ctx.db)
        .await?;
    let stock: std::collections::HashMap<i64, product_stock::Model> = product_stock::Entity::find()
        .filter(product_stock::Column::MerchantId.eq(principal.merchant_id))
        .filter(product_stock::Column::StoreId.eq(store_id))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|s| (s.product_id, s))
        .collect();
    Ok(rows
        .into_iter()
        .map(|p| {
            let level = stock.get(&p.id);
            StockLevel {
                on_hand: level.map_or(0, |s| s.on_hand),
                updated_at: level.map(|s| s.updated_at),
                product: to_product(p),
            }
        })
        .collect())
}

/// The store's stock movements, newest first; of one product when given.
pub async fn movements(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    store_id: i64,
    product_id: Option<i64>,
    page: Page,
) -> Result<Vec<StockMovement>> {
    may_read_stock(principal)?;
    store_in_scope(&ctx.db, principal, store_id).await?;
    let mut query = stock_movements::Entity::find()
        .filter(stock_movements::Column::MerchantId.eq(principal.merchant_id))
        .filter(stock_movements::Column::StoreId.eq(store_id));
    if let Some(product_id) = product_id {
        query = query.filter(stock_movements::Column::ProductId.eq(product_id));
    }
    if let Some(before) = page.before_id {
        query = query.filter(stock_movements::Column::Id.lt(before));
    }
    let rows = query.order_by_desc(stock_movements::Column::Id).limit(page.limit).all(&ctx.db).await?;
    Ok(rows.into_iter().map(to_movement).collect())
}

fn to_movement(row: stock_movements::Model) -> StockMovement {
    StockMovement {
        id: row.id,
        product_id: row.product_id,
        delta: row.delta,
        reason: row.reason,
        memo: row.memo,
        bill_id: row.bill_id,
        staff_id: row.staff_id,
        created_at: row.created_at,
    }
}

fn memo(value: Option<String>) -> Result<String> {
    let value = value.unwrap_or_default();
    let trimmed = value.trim();
    if trimmed.chars().count() > 200 || trimmed.chars().any(char::is_control) {
        return Err(Error::invalid("memo", "at most 200 characters, without control characters"));
    }
    Ok(trimmed.to_owned())
}

/// A product of the merchant named in a request body: a wrong one is a field error.
async fn body_product(conn: &impl ConnectionTrait, merchant_id: i64, product_id: i64) -> Result<products::Model> {
    row(conn, merchant_id, product_id).await?.ok_or_else(|| Error::invalid("product_id", "no such product"))
}

/// The stock row of a product at a store, created at 0 when missing.
async fn ensure_stock_row(conn: &impl ConnectionTrait, merchant_id: i64, store_id: i64, product_id: i64) -> Result<()> {
    product_stock::Entity::insert(product_stock::ActiveModel {
        merchant_id: Set(merchant_id),
        store_id: Set(store_id),
        product_id: Set(product_id),
        on_hand: Set(0),
        updated_at: Set(Utc::now()),
        ..Default::default()
    })
    .on_conflict_do_nothing_on([product_stock::Column::StoreId, product_stock::Column::ProductId])
    .exec(conn)
    .await?;
    Ok(())
}

async fn on_hand(conn: &impl ConnectionTrait, merchant_id: i64, store_id: i64, product_id: i64) -> Result<i64> {
    Ok(product_stock::Entity::find()
        .filter(product_stock::Column::MerchantId.eq(merchant_id))
        .filter(product_stock::Column::StoreId.eq(store_id))
        .filter(product_stock::Column::ProductId.eq(product_id))
        .one(conn)
        .await?
        .map_or(0, |s| s.on_hand))
}

/// One move of a store's stock of a product by `delta`, and why (`sale`, `refund`, `receive` or `adjust`).
pub(crate) struct Move<'a> {
    pub merchant_id: i64,
    pub store_id: i64,
    pub product_id: i64,
    pub delta: i64,
    pub reason: &'static str,
    pub bill_id: Option<i64>,
    pub staff_id: Option<i64>,
    pub memo: &'a str,
}

/// A bill's stock moves (a settlement's sales, a refund's returns), applied together at the end of its transaction.
///
/// A popular product's stock row at a store is shared by every cashier there, so a bill locks it as late as it can:
/// just before the store's ledger accounts, in product-id order (one lock order for every bill, so no deadlocks),
/// and holds it only until commit.
#[must_use = "apply the stock moves before committing"]
pub(crate) struct StockMoves {
    merchant_id: i64,
    store_id: i64,
    reason: &'static str,
    bill_id: i64,
    staff_id: i64,
    /// product id → units, in product-id order.
    moves: std::collections::BTreeMap<i64, i64>,
}

impl StockMoves {
    pub(crate) fn new(merchant_id: i64, store_id: i64, reason: &'static str, bill_id: i64, staff_id: i64) -> Self {
        Self { merchant_id, store_id, reason, bill_id, staff_id, moves: Default::default() }
    }

    pub(crate) fn add(&mut self, product_id: i64, delta: i64) {
        *self.moves.entry(product_id).or_default() += delta;
    }

    /// One `stock_movements` insert for all, then one guarded update per product. A sale of a product the store
    /// has no stock row for is out of stock; a return creates the row.
    pub(crate) async fn apply(self, conn: &impl ConnectionTrait) -> Result<()> {
        let mut deferred = Deferred::new();
        self.defer(conn, &mut deferred).await?;
        deferred.flush(conn).await
    }

    /// [`StockMoves::apply`] as deferred writes. A return's missing stock row is created now.
    pub(crate) async fn defer(self, conn: &impl ConnectionTrait, deferred: &mut Deferred) -> Result<()> {
        let moves: Vec<(i64, i64)> = self.moves.into_iter().filter(|(_, delta)| *delta != 0).collect();
        if moves.is_empty() {
            return Ok(());
        }
        let now = Utc::now();
        let movements = stock_movements::Entity::insert_many(moves.iter().map(|(product_id, delta)| {
            stock_movements::ActiveModel {
                merchant_id: Set(self.merchant_id),
                store_id: Set(self.store_id),
                product_id: Set(*product_id),
                delta: Set(*delta),
                reason: Set(self.reason.to_owned()),
                memo: Set(String::new()),
                bill_id: Set(Some(self.bill_id)),
                staff_id: Set(Some(self.staff_id)),
                created_at: Set(now),
                ..Default::default()
            }
        }));
        deferred.push(movements.into_query(), Check::Any);
        for (product_id, delta) in moves {
            if delta > 0 {
                ensure_stock_row(conn, self.merchant_id, self.store_id, product_id).await?;
            }
            push_shift(deferred, self.merchant_id, self.store_id, product_id, delta, now);
        }
        Ok(())
    }
}

/// The one guarded change of a stock row, on its own: see [`push_shift`].
async fn shift_on_hand(
    conn: &impl ConnectionTrait,
    merchant_id: i64,
    store_id: i64,
    product_id: i64,
    delta: i64,
    now: DateTime<Utc>,
) -> Result<()> {
    let mut deferred = Deferred::new();
    push_shift(&mut deferred, merchant_id, store_id, product_id, delta, now);
    deferred.flush(conn).await
}

/// The one guarded change of a stock row: `on_hand + delta`, refused with [`Conflict::OutOfStock`] below zero (or
/// when the store has no row for the product).
fn push_shift(
    deferred: &mut Deferred,
    merchant_id: i64,
    store_id: i64,
    product_id: i64,
    delta: i64,
    now: DateTime<Utc>,
) {
    let shift = product_stock::Entity::update_many()
        .col_expr(product_stock::Column::OnHand, Expr::col(product_stock::Column::OnHand).add(delta))
        .col_expr(product_stock::Column::UpdatedAt, Expr::value(now))
        .filter(product_stock::Column::MerchantId.eq(merchant_id))
        .filter(product_stock::Column::StoreId.eq(store_id))
        .filter(product_stock::Column::ProductId.eq(product_id))
        .filter(Expr::col(product_stock::Column::OnHand).add(delta).gte(0))
        .into_query();
    deferred.push(shift, Check::Exactly(1, Conflict::OutOfStock));
}

/// Moves stock and records the movement, for receipts and counts (a bill's go together, [`StockMoves`]). The caller
/// has checked that the product and store belong to the merchant. One guarded update, never read-then-write: fails
/// with [`Conflict::OutOfStock`] when the store has less on hand than `-delta`, and then nothing is written.
/// Returns the movement it wrote.
pub(crate) async fn move_stock(conn: &impl ConnectionTrait, m: Move<'_>) -> Result<StockMovement> {
    ensure_stock_row(conn, m.merchant_id, m.store_id, m.product_id).await?;
    let now = Utc::now();
    shift_on_hand(conn, m.merchant_id, m.store_id, m.product_id, m.delta, now).await?;
    let row = stock_movements::ActiveModel {
        merchant_id: Set(m.merchant_id),
        store_id: Set(m.store_id),
        product_id: Set(m.product_id),
        delta: Set(m.delta),
        reason: Set(m.reason.to_owned()),
        memo: Set(m.memo.to_owned()),
        bill_id: Set(m.bill_id),
        staff_id: Set(m.staff_id),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(to_movement(row))
}

pub struct ReceiptInput {
    pub product_id: i64,
    pub quantity: i64,
    pub memo: Option<String>,
}

/// Goods received (入库) at a store.
pub async fn receive(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    store_id: i64,
    input: ReceiptInput,
) -> Result<StockChange> {
    principal.require(Permission::StockManage)?;
    store_in_scope(&ctx.db, principal, store_id).await?;
    if !(1..=MAX_UNITS).contains(&input.quantity) {
        return Err(Error::invalid("quantity", "must be 1–1,000,000"));
    }
    let memo = memo(input.memo)?;
    body_product(&ctx.db, principal.merchant_id, input.product_id).await?;
    let merchant_id = principal.merchant_id;
    let txn = ctx.db.begin().await?;
    let movement = move_stock(
        &txn,
        Move {
            merchant_id,
            store_id,
            product_id: input.product_id,
            delta: input.quantity,
            reason: "receive",
            bill_id: None,
            staff_id: Some(principal.staff_id),
            memo: &memo,
        },
    )
    .await?;
    let on_hand = on_hand(&txn, merchant_id, store_id, input.product_id).await?;
    txn.commit().await?;
    Ok(StockChange { movement, on_hand })
}

pub struct CountInput {
    pub product_id: i64,
    pub counted: i64,
    pub memo: Option<String>,
}

/// A stock count (盘点): what is on the shelf now. The difference from the books is recorded as an `adjust`
/// movement (of 0 when they agree, so the count itself is on record).
pub async fn count(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    store_id: i64,
    input: CountInput,
) -> Result<StockChange> {
    principal.require(Permission::StockManage)?;
    store_in_scope(&ctx.db, principal, store_id).await?;
    if !(0..=MAX_UNITS).contains(&input.counted) {
        return Err(Error::invalid("counted", "must be 0–1,000,000"));
    }
    let memo = memo(input.memo)?;
    body_product(&ctx.db, principal.merchant_id, input.product_id).await?;
    let merchant_id = principal.merchant_id;
    let txn = ctx.db.begin().await?;
    ensure_stock_row(&txn, merchant_id, store_id, input.product_id).await?;
    // Touch the row first: sales and receipts of this product here wait until the count commits, so the difference
    // computed from what we read is still the difference when it is applied.
    product_stock::Entity::update_many()
        .col_expr(product_stock::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(product_stock::Column::MerchantId.eq(merchant_id))
        .filter(product_stock::Column::StoreId.eq(store_id))
        .filter(product_stock::Column::ProductId.eq(input.product_id))
        .exec(&txn)
        .await?;
    let booked = on_hand(&txn, merchant_id, store_id, input.product_id).await?;
    let movement = move_stock(
        &txn,
        Move {
            merchant_id,
            store_id,
            product_id: input.product_id,
            delta: input.counted - booked,
            reason: "adjust",
            bill_id: None,
            staff_id: Some(principal.staff_id),
            memo: &memo,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(StockChange { movement, on_hand: input.counted })
}

/// Demo data: a product with stock at some stores, received by the seeding job.
pub(crate) async fn seed_product(
    conn: &impl ConnectionTrait,
    merchant_id: i64,
    product: (&str, Option<&str>, &str, &str, i64, Option<i64>),
    stock: &[(i64, i64)],
) -> Result<i64> {
    let (sku, barcode, name, category, price_fen, points_price) = product;
    let row = products::ActiveModel {
        merchant_id: Set(merchant_id),
        sku: Set(sku.to_owned()),
        barcode: Set(barcode.map(str::to_owned)),
        name: Set(name.to_owned()),
        category: Set(category.to_owned()),
        price_fen: Set(price_fen),
        points_price: Set(points_price),
        active: Set(true),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    for (store_id, quantity) in stock {
        let receipt = Move {
            merchant_id,
            store_id: *store_id,
            product_id: row.id,
            delta: *quantity,
            reason: "receive",
            bill_id: None,
            staff_id: None,
            memo: "期初库存 (demo)",
        };
        move_stock(conn, receipt).await?;
    }
    Ok(row.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(contains_pattern("Ab"), "%ab%");
        assert_eq!(contains_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
    }

    #[test]
    fn barcodes_are_8_to_14_digits() {
        assert!(barcode("6901234567892").is_ok());
        assert!(barcode("12345678").is_ok());
        assert!(barcode("1234567").is_err());
        assert!(barcode("123456789012345").is_err());
        assert!(barcode("69012345678a").is_err());
    }
}
