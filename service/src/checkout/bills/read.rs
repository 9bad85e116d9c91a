//! Bills as read back: lines, tenders and the price as settled or parked.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use entity::{bill_lines, bill_tenders, bills};

use super::input::BillDraft;
use super::preview::quote_lines;
use super::resolve::resolve;
use crate::commission::StaffShare;
use crate::coupons::redeem::UsedCoupon;
use crate::domain::{BillStatus, Fen, IdempotencyKey, LineKind, Page, Permission, Points, TenderKind};
use crate::foundation::principal::StaffPrincipal;
use crate::members::auth::MemberPrincipal;
use crate::{AppContext, Conflict, Error, Result};

#[derive(Clone, Debug)]
pub struct Line {
    pub id: i64,
    pub kind: LineKind,
    pub item_id: i64,
    pub name: String,
    pub category: String,
    pub quantity: i32,
    pub unit_price: Fen,
    pub amount: Fen,
    pub discount: Fen,
    /// This line's share of the bill's coupons.
    pub coupon: Fen,
    pub points_offset: Fen,
    pub net: Fen,
    pub count_card_id: Option<i64>,
    pub recognised: Fen,
    pub points_earned: Points,
    /// Gifts: the points the line cost.
    pub points_redeemed: Points,
    pub staff: Vec<StaffShare>,
    pub refunded_quantity: i32,
    pub refunded: Fen,
    pub detail: serde_json::Value,
}

#[derive(Clone, Debug)]
pub struct Tender {
    pub kind: TenderKind,
    pub amount: Fen,
    pub tendered: Fen,
    pub change: Fen,
    pub principal: Fen,
    pub bonus: Fen,
    pub refunded: Fen,
}

#[derive(Clone, Debug)]
pub struct Bill {
    pub id: i64,
    pub store_id: i64,
    pub member_id: Option<i64>,
    pub status: BillStatus,
    pub subtotal: Fen,
    pub discount: Fen,
    /// What the bill's coupons took off, all together.
    pub coupon: Fen,
    /// The member's coupons the bill used (or holds while parked), each with what it took off, in the order they
    /// applied.
    pub coupons: Vec<UsedCoupon>,
    pub points_used: Points,
    pub points_offset: Fen,
    pub total: Fen,
    pub change: Fen,
    pub points_earned: Points,
    pub refunded: Fen,
    pub level_id: Option<i64>,
    pub note: String,
    pub lines: Vec<Line>,
    pub tenders: Vec<Tender>,
    pub entry_id: Option<i64>,
    pub created_by: i64,
    pub created_at: DateTime<Utc>,
    pub settled_at: Option<DateTime<Utc>>,
    pub member_confirmed_at: Option<DateTime<Utc>>,
    /// A parked bill as it stands now: what the member names when they confirm it in the mini-program.
    pub confirmation_digest: Option<String>,
    pub closed_at: Option<DateTime<Utc>>,
    /// A parked bill's draft, to resume.
    pub draft: Option<BillDraft>,
    /// True when the idempotency key had been seen and this is the first settlement's bill.
    pub replayed: bool,
}

pub(crate) fn to_line(row: bill_lines::Model) -> Result<Line> {
    Ok(Line {
        id: row.id,
        kind: LineKind::stored(&row.kind)?,
        item_id: row.item_id,
        name: row.name,
        category: row.category,
        quantity: row.quantity,
        unit_price: Fen::new(row.unit_price_fen),
        amount: Fen::new(row.amount_fen),
        discount: Fen::new(row.discount_fen),
        coupon: Fen::new(row.coupon_fen),
        points_offset: Fen::new(row.points_offset_fen),
        net: Fen::new(row.net_fen),
        count_card_id: row.count_card_id,
        recognised: Fen::new(row.recognised_fen),
        points_earned: Points::new(row.points_earned),
        points_redeemed: Points::new(row.points_redeemed),
        staff: crate::domain::stored_json("a line's staff shares", &row.staff)?,
        refunded_quantity: row.refunded_quantity,
        refunded: Fen::new(row.refunded_fen),
        detail: crate::domain::stored_json("a line's detail", &row.detail)?,
    })
}

pub(crate) async fn load(conn: &impl ConnectionTrait, merchant_id: i64, bill_id: i64, replayed: bool) -> Result<Bill> {
    let row = bills::Entity::find_by_id(bill_id)
        .filter(bills::Column::MerchantId.eq(merchant_id))
        .one(conn)
        .await?
        .ok_or(Error::NotFound("bill"))?;
    let lines = bill_lines::Entity::find()
        .filter(bill_lines::Column::BillId.eq(bill_id))
        .order_by_asc(bill_lines::Column::Id)
        .all(conn)
        .await?;
    let tenders = bill_tenders::Entity::find()
        .filter(bill_tenders::Column::BillId.eq(bill_id))
        .order_by_asc(bill_tenders::Column::Id)
        .all(conn)
        .await?;
    let coupons = crate::coupons::redeem::of_bills(conn, &[bill_id]).await?.remove(&bill_id).unwrap_or_default();
    to_bill(row, lines, tenders, coupons, replayed)
}

pub(super) fn to_bill(
    row: bills::Model,
    lines: Vec<bill_lines::Model>,
    tenders: Vec<bill_tenders::Model>,
    coupons: Vec<UsedCoupon>,
    replayed: bool,
) -> Result<Bill> {
    let status = BillStatus::stored(&row.status)?;
    // A kept bill (parked, or being paid by a wallet code) holds its draft; one that cannot be read fails loudly.
    let draft = if matches!(status, BillStatus::Parked | BillStatus::Paying) {
        Some(crate::domain::stored_json("a kept bill's draft", &row.request)?)
    } else {
        None
    };
    Ok(Bill {
        id: row.id,
        store_id: row.store_id,
        member_id: row.member_id,
        status,
        subtotal: Fen::new(row.subtotal_fen),
        discount: Fen::new(row.discount_fen),
        coupon: Fen::new(row.coupon_fen),
        coupons,
        points_used: Points::new(row.points_used),
        points_offset: Fen::new(row.points_offset_fen),
        total: Fen::new(row.total_fen),
        change: Fen::new(row.change_fen),
        points_earned: Points::new(row.points_earned),
        refunded: Fen::new(row.refunded_fen),
        level_id: row.level_id,
        note: row.note,
        lines: lines.into_iter().map(to_line).collect::<Result<_>>()?,
        tenders: tenders
            .into_iter()
            .map(|t| {
                Ok(Tender {
                    kind: TenderKind::stored(&t.kind)?,
                    amount: Fen::new(t.amount_fen),
                    tendered: Fen::new(t.tendered_fen),
                    change: Fen::new(t.change_fen),
                    principal: Fen::new(t.principal_fen),
                    bonus: Fen::new(t.bonus_fen),
                    refunded: Fen::new(t.refunded_fen),
                })
            })
            .collect::<Result<_>>()?,
        entry_id: row.entry_id,
        created_by: row.created_by,
        created_at: row.created_at,
        settled_at: row.settled_at,
        member_confirmed_at: row.member_confirmed_at,
        confirmation_digest: (row.status == "parked")
            .then(|| super::consent::confirmation_digest(row.id, &row.request, Fen::new(row.total_fen))),
        closed_at: row.closed_at,
        draft,
        replayed,
    })
}

/// A bill as people see it: a parked bill (or one being paid by a wallet code) keeps its draft, not lines, until it
/// is settled, so its lines are the draft priced now (what settling it would charge). A draft that no longer prices (an item withdrawn since) shows
/// no lines; resuming it says why.
pub(super) async fn load_shown(ctx: &AppContext, merchant_id: i64, bill_id: i64) -> Result<Bill> {
    let mut bill = load(&ctx.db, merchant_id, bill_id, false).await?;
    let kept = matches!(bill.status, BillStatus::Parked | BillStatus::Paying);
    if let Some(draft) = bill.draft.as_ref().filter(|_| kept && bill.lines.is_empty()) {
        let priced = async {
            let resolved = resolve(ctx, &ctx.db, merchant_id, draft, true).await?;
            let priced = resolved.price(draft.points)?;
            Ok::<_, Error>(quote_lines(&resolved, &priced))
        };
        match priced.await {
            Ok(lines) => bill.lines = lines,
            Err(error @ Error::Internal(_)) => return Err(error),
            Err(error) => tracing::info!(bill_id, %error, "a parked bill's draft no longer prices"),
        }
    }
    Ok(bill)
}

/// A bill of a store in the principal's scope.
pub async fn get(ctx: &AppContext, principal: &StaffPrincipal, bill_id: i64) -> Result<Bill> {
    principal.require(Permission::Checkout)?;
    let bill = load_shown(ctx, principal.merchant_id, bill_id).await?;
    if !principal.can_access_store(bill.store_id) {
        return Err(Error::NotFound("bill"));
    }
    Ok(bill)
}

/// Bills of a store, newest first, optionally only one status (the parked list to resume from).
pub async fn list(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    store_id: i64,
    status: Option<BillStatus>,
    page: Page,
) -> Result<Vec<Bill>> {
    principal.require(Permission::Checkout)?;
    // Another merchant's store is not found, rather than a store with no bills.
    crate::foundation::stores::in_scope(&ctx.db, principal, store_id).await?;
    let mut query = bills::Entity::find()
        .filter(bills::Column::MerchantId.eq(principal.merchant_id))
        .filter(bills::Column::StoreId.eq(store_id));
    if let Some(status) = status {
        query = query.filter(bills::Column::Status.eq(status.as_str()));
    }
    if let Some(before) = page.before_id {
        query = query.filter(bills::Column::Id.lt(before));
    }
    let rows = query.order_by_desc(bills::Column::Id).limit(page.limit).all(&ctx.db).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.push(load_shown(ctx, principal.merchant_id, row.id).await?);
    }
    Ok(out)
}

/// A member's bills at the stores the staff member works at (every store for merchant-wide staff), newest first:
/// the history on their profile. Another merchant's member is not found.
pub async fn of_member(ctx: &AppContext, principal: &StaffPrincipal, member_id: i64, page: Page) -> Result<Vec<Bill>> {
    principal.require(Permission::Checkout)?;
    crate::members::row(&ctx.db, principal.merchant_id, member_id).await?;
    let stores = match &principal.stores {
        crate::foundation::principal::StoreScope::Only(stores) => Some(stores.as_slice()),
        crate::foundation::principal::StoreScope::All => None,
    };
    member_bills(ctx, principal.merchant_id, member_id, stores, None, page).await
}

/// The member's own settled (and reversed) bills at every store, newest first: their history in the app. Parked
/// bills wait in their own list until they are settled.
pub async fn mine(ctx: &AppContext, me: &MemberPrincipal, page: Page) -> Result<Vec<Bill>> {
    let statuses = [BillStatus::Settled, BillStatus::Reversed];
    member_bills(ctx, me.merchant_id, me.member_id, None, Some(&statuses), page).await
}

async fn member_bills(
    ctx: &AppContext,
    merchant_id: i64,
    member_id: i64,
    stores: Option<&[i64]>,
    statuses: Option<&[BillStatus]>,
    page: Page,
) -> Result<Vec<Bill>> {
    let mut query = bills::Entity::find()
        .filter(bills::Column::MerchantId.eq(merchant_id))
        .filter(bills::Column::MemberId.eq(member_id));
    if let Some(stores) = stores {
        query = query.filter(bills::Column::StoreId.is_in(stores.iter().copied()));
    }
    if let Some(statuses) = statuses {
        query = query.filter(bills::Column::Status.is_in(statuses.iter().map(|s| s.as_str())));
    }
    if let Some(before) = page.before_id {
        query = query.filter(bills::Column::Id.lt(before));
    }
    let rows = query.order_by_desc(bills::Column::Id).limit(page.limit).all(&ctx.db).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.push(load_shown(ctx, merchant_id, row.id).await?);
    }
    Ok(out)
}

pub(super) async fn replay(
    ctx: &AppContext,
    merchant_id: i64,
    key: &IdempotencyKey,
    fingerprint: &str,
) -> Result<Option<Bill>> {
    let Some(row) = bills::Entity::find()
        .filter(bills::Column::MerchantId.eq(merchant_id))
        .filter(bills::Column::IdempotencyKey.eq(key.as_str()))
        .one(&ctx.db)
        .await?
    else {
        return Ok(None);
    };
    if row.fingerprint != fingerprint {
        return Err(Error::Conflict(Conflict::IdempotencyKeyReused));
    }
    Ok(Some(load(&ctx.db, merchant_id, row.id, true).await?))
}

pub(super) async fn parked_row(ctx: &AppContext, principal: &StaffPrincipal, bill_id: i64) -> Result<bills::Model> {
    let row = bills::Entity::find_by_id(bill_id)
        .filter(bills::Column::MerchantId.eq(principal.merchant_id))
        .one(&ctx.db)
        .await?
        .filter(|row| principal.can_access_store(row.store_id))
        .ok_or(Error::NotFound("bill"))?;
    Ok(row)
}
