//! Points (积分): earned on what members actually pay, spent as an offset at checkout, given and taken by hand
//! with a reason.
//!
//! A member's points live in two places that always agree (`verify-ledger` checks it): the ledger account
//! `member:<id>:points`, and lots (`points_lots`), each with its own expiry. Spending takes from the
//! earliest-expiring lots first; a lot past its expiry is spent by nobody and is written off by [`expire_member`]
//! (run before every spend, and by the expiry job for everyone). Every movement is a journal entry in the point
//! unit against the store's `points_issued` mirror.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QueryTrait, TransactionTrait,
};
use serde_json::json;

use entity::points_lots;

use crate::audit::{self, Actor, Event};
use crate::auth::StaffPrincipal;
use crate::deferred::{Check, Deferred};
use crate::domain::{IdempotencyKey, Permission, fingerprint};
use crate::ledger::{self, Account, AccountKind, BalanceMoves, Cause, Draft};
use crate::{AppContext, Conflict, Error, Result};

/// At most this many points move in one request.
pub const MAX_POINTS: i64 = 100_000_000;

fn member_points(member_id: i64) -> Account {
    Account::member(member_id, AccountKind::Points)
}

fn issued(store_id: i64) -> Account {
    Account::store(store_id, AccountKind::PointsIssued)
}

/// The accounts points earned at `store_id` by `member_id` move between.
pub(crate) fn earn_accounts(store_id: i64, member_id: i64) -> [Account; 2] {
    [member_points(member_id), issued(store_id)]
}

#[derive(Clone, Debug)]
pub struct Lot {
    pub id: i64,
    pub points: i64,
    pub remaining: i64,
    pub expires_at: DateTime<Utc>,
    pub source: String,
    pub bill_id: Option<i64>,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct Points {
    pub member_id: i64,
    /// Points that can be spent now.
    pub available: i64,
    /// Lots with points left, earliest expiry first.
    pub lots: Vec<Lot>,
}

/// Takes the row locks of a member's lots for the rest of the transaction, so two spends of one member queue
/// instead of both reading the same lots.
async fn lock_lots(conn: &impl ConnectionTrait, member_id: i64) -> Result<()> {
    points_lots::Entity::update_many()
        .col_expr(points_lots::Column::Remaining, Expr::col(points_lots::Column::Remaining))
        .filter(points_lots::Column::MemberId.eq(member_id))
        .filter(points_lots::Column::Remaining.gt(0))
        .exec(conn)
        .await?;
    Ok(())
}

async fn live_lots(conn: &impl ConnectionTrait, member_id: i64) -> Result<Vec<points_lots::Model>> {
    Ok(points_lots::Entity::find()
        .filter(points_lots::Column::MemberId.eq(member_id))
        .filter(points_lots::Column::Remaining.gt(0))
        .order_by_asc(points_lots::Column::ExpiresAt)
        .order_by_asc(points_lots::Column::Id)
        .all(conn)
        .await?)
}

/// Points a member can spend at `now` (outside a transaction this is a snapshot, rechecked at spending).
pub(crate) async fn available(conn: &impl ConnectionTrait, member_id: i64, now: DateTime<Utc>) -> Result<i64> {
    Ok(live_lots(conn, member_id).await?.iter().filter(|lot| lot.expires_at > now).map(|lot| lot.remaining).sum())
}

/// Takes `points` from lots in `order`, each with a guarded update; returns how many were taken (less than asked
/// only when the lots run out).
async fn take_from_lots(conn: &impl ConnectionTrait, lots: &[points_lots::Model], points: i64) -> Result<i64> {
    let mut left = points;
    for lot in lots {
        if left == 0 {
            break;
        }
        let take = std::cmp::min(lot.remaining, left);
        let updated = points_lots::Entity::update_many()
            .col_expr(points_lots::Column::Remaining, Expr::col(points_lots::Column::Remaining).sub(take))
            .filter(points_lots::Column::Id.eq(lot.id))
            .filter(points_lots::Column::Remaining.gte(take))
            .exec(conn)
            .await?;
        if updated.rows_affected != 1 {
            return Err(Error::Conflict(Conflict::InsufficientBalance));
        }
        left -= take;
    }
    Ok(points - left)
}

/// Writes off the member's lots that expired by `now`, as one entry caused by the expiry job. Its balance moves
/// are left to the caller, to apply with its own as the last statement of its transaction (the store's points
/// account is shared by every bill of the store: locking it here, mid-transaction, could deadlock with them).
async fn expire_member(
    conn: &impl ConnectionTrait,
    merchant_id: i64,
    store_id: i64,
    member_id: i64,
    now: DateTime<Utc>,
) -> Result<Option<BalanceMoves>> {
    let expired: Vec<points_lots::Model> =
        live_lots(conn, member_id).await?.into_iter().filter(|lot| lot.expires_at <= now).collect();
    if expired.is_empty() {
        return Ok(None);
    }
    let points = take_from_lots(conn, &expired, expired.iter().map(|lot| lot.remaining).sum()).await?;
    let mut draft = Draft::new(merchant_id, "points_expiry", Cause::Job("points-expiry"));
    draft.store_id = Some(store_id);
    draft.member_id = Some(member_id);
    draft.memo = "积分过期".to_owned();
    draft.debit(member_points(member_id), points).credit(issued(store_id), points);
    let (_, moves) = ledger::post_deferred(conn, &draft).await?;
    Ok(Some(moves))
}

/// Inside a settlement: spends `points` from the member's unexpired lots, earliest expiry first, and adds the
/// lines to `draft`. Fails with [`Conflict::InsufficientBalance`] when they hold less. Lots that expired are
/// written off first, in an entry of their own whose balance moves are returned for the caller to merge into its
/// own ([`BalanceMoves::merge`]).
pub(crate) async fn spend_into(
    conn: &impl ConnectionTrait,
    merchant_id: i64,
    store_id: i64,
    member_id: i64,
    points: i64,
    now: DateTime<Utc>,
    draft: &mut Draft,
) -> Result<Option<BalanceMoves>> {
    if points == 0 {
        return Ok(None);
    }
    lock_lots(conn, member_id).await?;
    let expiry = expire_member(conn, merchant_id, store_id, member_id, now).await?;
    let lots = live_lots(conn, member_id).await?;
    if lots.iter().map(|lot| lot.remaining).sum::<i64>() < points {
        return Err(Error::Conflict(Conflict::InsufficientBalance));
    }
    take_from_lots(conn, &lots, points).await?;
    draft.debit(member_points(member_id), points).credit(issued(store_id), points);
    Ok(expiry)
}

/// Inside a refund, a recharge or an adjustment: gives the member a new lot of points (a settlement defers it with
/// [`grant_deferred`]).
pub(crate) async fn grant_into(
    conn: &impl ConnectionTrait,
    lot: NewLot<'_>,
    now: DateTime<Utc>,
    draft: &mut Draft,
) -> Result<()> {
    let mut deferred = Deferred::new();
    grant_deferred(&mut deferred, lot, now, draft);
    deferred.flush(conn).await
}

/// A new lot of `points` for a member, valid for `validity_days`.
pub(crate) struct NewLot<'a> {
    pub merchant_id: i64,
    pub store_id: i64,
    pub member_id: i64,
    pub points: i64,
    pub source: &'a str,
    pub bill_id: Option<i64>,
    pub validity_days: i32,
}

/// [`grant_into`] as a deferred write: nothing in the transaction reads a new lot back.
pub(crate) fn grant_deferred(deferred: &mut Deferred, lot: NewLot<'_>, now: DateTime<Utc>, draft: &mut Draft) {
    if lot.points == 0 {
        return;
    }
    let insert = points_lots::Entity::insert(points_lots::ActiveModel {
        merchant_id: Set(lot.merchant_id),
        member_id: Set(lot.member_id),
        points: Set(lot.points),
        remaining: Set(lot.points),
        expires_at: Set(now + Duration::days(i64::from(lot.validity_days))),
        source: Set(lot.source.to_owned()),
        bill_id: Set(lot.bill_id),
        created_at: Set(now),
        ..Default::default()
    });
    deferred.push(insert.into_query(), Check::Any);
    draft.debit(issued(lot.store_id), lot.points).credit(member_points(lot.member_id), lot.points);
}

/// Inside a refund: takes back up to `points` the member earned on `bill_id`, from that bill's lot first and then
/// from the latest-expiring lots. Points the member has already spent elsewhere are not clawed back beyond what
/// they hold; returns what was taken.
pub(crate) async fn claw_back_into(
    conn: &impl ConnectionTrait,
    store_id: i64,
    member_id: i64,
    bill_id: i64,
    points: i64,
    draft: &mut Draft,
) -> Result<i64> {
    if points == 0 {
        return Ok(0);
    }
    lock_lots(conn, member_id).await?;
    let mut lots = live_lots(conn, member_id).await?;
    lots.sort_by_key(|lot| (lot.bill_id != Some(bill_id), std::cmp::Reverse(lot.expires_at)));
    let available: i64 = lots.iter().map(|lot| lot.remaining).sum();
    let taken = take_from_lots(conn, &lots, std::cmp::min(points, available)).await?;
    draft.debit(member_points(member_id), taken).credit(issued(store_id), taken);
    Ok(taken)
}

fn to_lot(row: points_lots::Model) -> Lot {
    Lot {
        id: row.id,
        points: row.points,
        remaining: row.remaining,
        expires_at: row.expires_at,
        source: row.source,
        bill_id: row.bill_id,
        created_at: row.created_at,
    }
}

async fn view(conn: &impl ConnectionTrait, member_id: i64, now: DateTime<Utc>) -> Result<Points> {
    let lots: Vec<Lot> =
        live_lots(conn, member_id).await?.into_iter().filter(|lot| lot.expires_at > now).map(to_lot).collect();
    Ok(Points { member_id, available: lots.iter().map(|lot| lot.remaining).sum(), lots })
}

/// A member's points, for staff who may read members.
pub async fn get(ctx: &AppContext, principal: &StaffPrincipal, member_id: i64) -> Result<Points> {
    principal.require(Permission::MemberRead)?;
    crate::members::row(&ctx.db, principal.merchant_id, member_id).await?;
    view(&ctx.db, member_id, ctx.now()).await
}

/// The member's own points, for the mini-program.
pub async fn own(ctx: &AppContext, member_id: i64) -> Result<Points> {
    view(&ctx.db, member_id, ctx.now()).await
}

pub struct AdjustInput {
    pub store_id: i64,
    /// Positive gives, negative takes.
    pub points: i64,
    pub reason: String,
    pub idempotency_key: String,
}

/// A manual adjustment with a reason: a goodwill gift or a correction. Audited.
pub async fn adjust(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    member_id: i64,
    input: AdjustInput,
) -> Result<Points> {
    principal.require(Permission::Refund)?;
    let key = IdempotencyKey::parse(&input.idempotency_key).map_err(|m| Error::invalid("idempotency_key", m))?;
    if input.points == 0 || input.points.abs() > MAX_POINTS {
        return Err(Error::invalid("points", "must be non-zero and at most 100,000,000 either way"));
    }
    let reason = audit::reason(&input.reason)?;
    let merchant_id = principal.merchant_id;
    let store_id = input.store_id;
    let fingerprint = fingerprint(&json!(["points_adjust", member_id, store_id, input.points, reason]));
    ledger::once(&ctx.db, merchant_id, key.as_str(), &fingerprint, || async {
        crate::stores::require_open(&ctx.db, principal, store_id).await?;
        let settings = crate::merchants::loyalty_settings(&ctx.db, merchant_id).await?;
        let txn = ctx.db.begin().await?;
        crate::members::live_row(&txn, merchant_id, member_id).await?;
        let now = ctx.now();
        let mut draft = Draft::new(merchant_id, "points_adjust", Cause::Staff(principal.staff_id));
        draft.store_id = Some(store_id);
        draft.member_id = Some(member_id);
        draft.idempotency_key = Some(key.as_str().to_owned());
        draft.fingerprint = Some(fingerprint.clone());
        draft.memo = format!("积分调整: {reason}");
        let expiry = if input.points > 0 {
            let days = settings.points_validity_days;
            let lot = NewLot {
                merchant_id,
                store_id,
                member_id,
                points: input.points,
                source: "adjust",
                bill_id: None,
                validity_days: days,
            };
            grant_into(&txn, lot, now, &mut draft).await?;
            None
        } else {
            spend_into(&txn, merchant_id, store_id, member_id, -input.points, now, &mut draft).await?
        };
        let (entry_id, mut moves) = ledger::post_deferred(&txn, &draft).await?;
        if let Some(expiry) = expiry {
            moves.merge(expiry);
        }
        moves.apply(&txn).await?;
        audit::record(
            &txn,
            Event {
                merchant_id: Some(merchant_id),
                actor: Actor::Staff(principal.staff_id),
                action: "points.adjusted",
                target: Some(("member", member_id)),
                detail: json!({ "points": input.points, "reason": reason, "entry_id": entry_id }),
                ip: None,
            },
        )
        .await?;
        txn.commit().await?;
        Ok(entry_id)
    })
    .await?;
    view(&ctx.db, member_id, ctx.now()).await
}
