//! Points (积分): earned on what members actually pay, spent as an offset at checkout, given and taken by hand
//! with a reason.
//!
//! A member's points live in two places that always agree (`verify-ledger` checks it): the ledger account
//! `member:<id>:points`, and lots (`points_lots`), each with its own expiry. Spending takes from the
//! earliest-expiring lots first; a lot past its expiry is spent by nobody and is written off by [`expire_member`]
//! (run before every spend, and every night by the expiry job, [`expire_in_zone`], for everyone). Every movement is a journal entry in the point
//! unit against the store's `points_issued` mirror.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
    TransactionTrait,
};
use serde_json::json;

use entity::points_lots;

use crate::domain::{IdempotencyKey, MAX_POINTS, Page, Permission, Points, fingerprint};
use crate::foundation::audit::{self, Actor, Event};
use crate::foundation::principal::StaffPrincipal;
use crate::ledger::deferred::{Check, Deferred};
use crate::ledger::posting::Posting;
use crate::ledger::{self, Account, AccountKind, BalanceMoves, Cause, Draft};
use crate::{AppContext, Conflict, Error, Result};

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
    pub points: Points,
    pub remaining: Points,
    pub expires_at: DateTime<Utc>,
    pub source: String,
    pub bill_id: Option<i64>,
    pub created_at: DateTime<Utc>,
}

/// A member's points: what they can spend now, and the lots it is made of.
#[derive(Clone, Debug)]
pub struct MemberPoints {
    pub member_id: i64,
    /// Points that can be spent now.
    pub available: Points,
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
pub(crate) async fn available(conn: &impl ConnectionTrait, member_id: i64, now: DateTime<Utc>) -> Result<Points> {
    Ok(live_lots(conn, member_id)
        .await?
        .iter()
        .filter(|lot| lot.expires_at > now)
        .map(|lot| Points::new(lot.remaining))
        .sum())
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

/// What one run of the expiry job wrote off.
#[derive(Clone, Copy, Debug, Default)]
pub struct Expired {
    pub members: u64,
    pub points: i64,
}

/// Members looked at per read; each is written off in a transaction of its own.
const EXPIRY_BATCH: u64 = 500;

/// The expiry job in one time zone: writes off every lot past its expiry at `now` held by members whose points are
/// kept at a store in `timezone` (their home store, else the merchant's first store, whose `points_issued` mirror
/// the write-off credits), one member per transaction. So the points liability is true every morning, not only
/// once a member next spends. A second run finds nothing left to write off.
pub async fn expire_in_zone(ctx: &AppContext, timezone: &str, now: DateTime<Utc>) -> Result<Expired> {
    use entity::members;

    let keeping = crate::foundation::stores::Keeping::in_zone(&ctx.db, timezone).await?;
    if keeping.is_empty() {
        return Ok(Expired::default());
    }
    let mut done = Expired::default();
    let mut after = 0_i64;
    loop {
        let holders: Vec<i64> = points_lots::Entity::find()
            .select_only()
            .column(points_lots::Column::MemberId)
            .distinct()
            .filter(points_lots::Column::Remaining.gt(0))
            .filter(points_lots::Column::ExpiresAt.lte(now))
            .filter(points_lots::Column::MemberId.gt(after))
            .order_by_asc(points_lots::Column::MemberId)
            .limit(EXPIRY_BATCH)
            .into_tuple()
            .all(&ctx.db)
            .await?;
        let Some(&last) = holders.last() else { break };
        after = last;
        let rows = members::Entity::find().filter(members::Column::Id.is_in(holders)).all(&ctx.db).await?;
        for member in rows {
            let Some(store_id) = keeping.store_of(&member) else { continue };
            let txn = ctx.db.begin().await?;
            lock_lots(&txn, member.id).await?;
            let before: i64 = live_lots(&txn, member.id).await?.iter().map(|lot| lot.remaining).sum();
            if let Some(moves) = expire_member(&txn, member.merchant_id, store_id, member.id, now).await? {
                moves.apply(&txn).await?;
                let after_expiry: i64 = live_lots(&txn, member.id).await?.iter().map(|lot| lot.remaining).sum();
                done.members += 1;
                done.points += before - after_expiry;
            }
            txn.commit().await?;
        }
    }
    Ok(done)
}

/// Inside a settlement: spends `points` from the member's unexpired lots, earliest expiry first, and adds the
/// lines to the posting. Fails with [`Conflict::InsufficientBalance`] when they hold less. Lots that expired are
/// written off first, in an entry of their own whose balance moves are returned for the caller to merge into its
/// own ([`BalanceMoves::merge`]).
pub(crate) async fn spend_into(
    posting: &mut Posting<'_, impl ConnectionTrait>,
    points: Points,
) -> Result<Option<BalanceMoves>> {
    if points == Points::ZERO {
        return Ok(None);
    }
    let (conn, merchant_id, store_id, member_id, now) =
        (posting.conn, posting.merchant_id(), posting.store_id(), posting.member_id()?, posting.now);
    lock_lots(conn, member_id).await?;
    let expiry = expire_member(conn, merchant_id, store_id, member_id, now).await?;
    let lots = live_lots(conn, member_id).await?;
    if lots.iter().map(|lot| lot.remaining).sum::<i64>() < points.get() {
        return Err(Error::Conflict(Conflict::InsufficientBalance));
    }
    take_from_lots(conn, &lots, points.get()).await?;
    posting.draft.debit(member_points(member_id), points).credit(issued(store_id), points);
    Ok(expiry)
}

/// Inside a refund, a recharge or an adjustment: gives the member a new lot of points (a settlement defers it with
/// [`grant_deferred`]).
pub(crate) async fn grant_into(posting: &mut Posting<'_, impl ConnectionTrait>, lot: NewLot<'_>) -> Result<()> {
    let mut deferred = Deferred::new();
    grant_deferred(posting, &mut deferred, lot)?;
    deferred.flush(posting.conn).await
}

/// A new lot of `points` for the posting's member (and bill, when it has one), valid for `validity_days`.
pub(crate) struct NewLot<'a> {
    pub points: Points,
    pub source: &'a str,
    pub validity_days: i32,
}

/// [`grant_into`] as a deferred write: nothing in the transaction reads a new lot back.
pub(crate) fn grant_deferred(
    posting: &mut Posting<'_, impl ConnectionTrait>,
    deferred: &mut Deferred,
    lot: NewLot<'_>,
) -> Result<()> {
    if lot.points == Points::ZERO {
        return Ok(());
    }
    let (member_id, now) = (posting.member_id()?, posting.now);
    let insert = points_lots::Entity::insert(points_lots::ActiveModel {
        merchant_id: Set(posting.merchant_id()),
        member_id: Set(member_id),
        points: Set(lot.points.get()),
        remaining: Set(lot.points.get()),
        expires_at: Set(now + Duration::days(i64::from(lot.validity_days))),
        source: Set(lot.source.to_owned()),
        bill_id: Set(posting.bill_id()),
        created_at: Set(now),
        ..Default::default()
    });
    deferred.push(insert.into_query(), Check::Any);
    let store_id = posting.store_id();
    posting.draft.debit(issued(store_id), lot.points).credit(member_points(member_id), lot.points);
    Ok(())
}

/// Inside a refund: takes back up to `points` the member earned on the posting's bill, from that bill's lot first
/// and then from the latest-expiring lots. Points the member has already spent elsewhere are not clawed back beyond
/// what they hold; returns what was taken.
pub(crate) async fn claw_back_into(posting: &mut Posting<'_, impl ConnectionTrait>, points: Points) -> Result<Points> {
    if points == Points::ZERO {
        return Ok(Points::ZERO);
    }
    let (conn, member_id, bill_id) = (posting.conn, posting.member_id()?, posting.bill_id());
    lock_lots(conn, member_id).await?;
    let mut lots = live_lots(conn, member_id).await?;
    lots.sort_by_key(|lot| (lot.bill_id != bill_id, std::cmp::Reverse(lot.expires_at)));
    let available: i64 = lots.iter().map(|lot| lot.remaining).sum();
    let taken = take_from_lots(conn, &lots, std::cmp::min(points.get(), available)).await?;
    let store_id = posting.store_id();
    posting.draft.debit(member_points(member_id), taken).credit(issued(store_id), taken);
    Ok(Points::new(taken))
}

fn to_lot(row: points_lots::Model) -> Lot {
    Lot {
        id: row.id,
        points: Points::new(row.points),
        remaining: Points::new(row.remaining),
        expires_at: row.expires_at,
        source: row.source,
        bill_id: row.bill_id,
        created_at: row.created_at,
    }
}

async fn view(conn: &impl ConnectionTrait, member_id: i64, now: DateTime<Utc>) -> Result<MemberPoints> {
    let lots: Vec<Lot> =
        live_lots(conn, member_id).await?.into_iter().filter(|lot| lot.expires_at > now).map(to_lot).collect();
    Ok(MemberPoints { member_id, available: lots.iter().map(|lot| lot.remaining).sum(), lots })
}

/// A member's points, for staff who may read members.
pub async fn get(ctx: &AppContext, principal: &StaffPrincipal, member_id: i64) -> Result<MemberPoints> {
    principal.require(Permission::MemberRead)?;
    crate::members::row(&ctx.db, principal.merchant_id, member_id).await?;
    view(&ctx.db, member_id, ctx.now()).await
}

/// The member's own points, for the mini-program.
pub async fn own(ctx: &AppContext, member_id: i64) -> Result<MemberPoints> {
    view(&ctx.db, member_id, ctx.now()).await
}

/// One movement of a member's points: earned, spent, expired, adjusted or given back.
#[derive(Clone, Debug)]
pub struct PointsMovement {
    pub entry_id: i64,
    pub kind: String,
    pub memo: String,
    pub bill_id: Option<i64>,
    /// Positive when points came in.
    pub delta: Points,
    pub created_at: DateTime<Utc>,
}

/// The member's own points movements, newest first (their history in the app); which lots expire when is in
/// [`own`].
pub async fn my_statement(
    ctx: &AppContext,
    merchant_id: i64,
    member_id: i64,
    page: Page,
) -> Result<Vec<PointsMovement>> {
    let ids = ledger::statement::account_ids(&ctx.db, merchant_id, &[member_points(member_id)]).await?;
    let ids: Vec<i64> = ids.into_iter().flatten().collect();
    Ok(ledger::statement::movements(&ctx.db, &ids, Some(page))
        .await?
        .into_iter()
        .map(|m| PointsMovement {
            entry_id: m.entry_id,
            kind: m.kind,
            memo: m.memo,
            bill_id: m.bill_id,
            delta: Points::new(m.deltas[0]),
            created_at: m.created_at,
        })
        .collect())
}

pub struct AdjustInput {
    pub store_id: i64,
    /// Positive gives, negative takes.
    pub points: Points,
    pub reason: String,
    pub idempotency_key: String,
}

/// A manual adjustment with a reason: a goodwill gift or a correction. Audited.
pub async fn adjust(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    member_id: i64,
    input: AdjustInput,
) -> Result<MemberPoints> {
    principal.require(Permission::Refund)?;
    let key = IdempotencyKey::parse(&input.idempotency_key).map_err(|m| Error::invalid("idempotency_key", m))?;
    if input.points == Points::ZERO || input.points.abs() > Points::new(MAX_POINTS) {
        return Err(Error::invalid("points", "must be non-zero and at most 100,000,000 either way"));
    }
    let reason = audit::reason(&input.reason)?;
    let merchant_id = principal.merchant_id;
    let store_id = input.store_id;
    let fingerprint = fingerprint(&json!(["points_adjust", member_id, store_id, input.points, reason]));
    ledger::once(&ctx.db, merchant_id, key.as_str(), &fingerprint, || async {
        let txn = ctx.db.begin().await?;
        // The member first: another merchant's member is not found, whatever store the request names.
        crate::members::live_row(&txn, merchant_id, member_id).await?;
        crate::foundation::stores::require_open(&txn, principal, store_id).await?;
        let settings = crate::foundation::merchants::loyalty_settings(&txn, merchant_id).await?;
        let cause = Cause::Staff(principal.staff_id);
        let mut posting = Posting::new(&txn, ctx.now(), merchant_id, store_id, "points_adjust", cause)
            .for_member(Some(member_id))
            .memo(format!("积分调整: {reason}"));
        posting.draft.idempotency_key = Some(key.as_str().to_owned());
        posting.draft.fingerprint = Some(fingerprint.clone());
        let expiry = if input.points > Points::ZERO {
            let lot = NewLot { points: input.points, source: "adjust", validity_days: settings.points_validity_days };
            grant_into(&mut posting, lot).await?;
            None
        } else {
            spend_into(&mut posting, Points::new((-input.points).get())).await?
        };
        let (entry_id, mut moves) = ledger::post_deferred(&txn, &posting.draft).await?;
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
