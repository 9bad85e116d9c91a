//! Settlement: a new bill at once, a parked bill, or a bill whose payment code was paid; each in one transaction,
//! under an idempotency key.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, TransactionTrait,
};
use serde_json::json;

use entity::bills;

use super::consent::{Consent, check_consent, confirmed_in_app, member_debit, record_on};
use super::input::{BillDraft, SettleInput, SettleParkedInput, TenderInput};
use super::park::with_price;
use super::posting::{By, Settlement, write_settlement};
use super::read::{Bill, load, parked_row, replay};
use super::resolve::{Resolved, resolve};
use super::tenders::{CheckedTender, check_cover, check_tenders};
use crate::checkout::pricing::Priced;
use crate::domain::{Fen, IdempotencyKey, Permission, TenderKind, fingerprint};
use crate::error::is_unique_violation;
use crate::foundation::principal::StaffPrincipal;
use crate::{AppContext, Conflict, Error, Result};

pub(super) fn bill_fingerprint(draft: &BillDraft, tenders: &[TenderInput]) -> String {
    fingerprint(&json!(["bill", draft, tenders]))
}

/// A new bill: parked (its tenders come when it is settled) or settled at once.
pub async fn create(ctx: &AppContext, principal: &StaffPrincipal, input: SettleInput, park: bool) -> Result<Bill> {
    if !park {
        return settle(ctx, principal, input).await;
    }
    if !input.tenders.is_empty() {
        return Err(Error::invalid("tenders", "a parked bill takes its tenders when it is settled"));
    }
    super::park::park(ctx, principal, input.draft, &input.idempotency_key).await
}

/// Settles a new bill in one transaction. The same idempotency key with the same bill returns the first
/// settlement; with another bill it is refused.
pub async fn settle(ctx: &AppContext, principal: &StaffPrincipal, input: SettleInput) -> Result<Bill> {
    principal.require(Permission::Checkout)?;
    let key = IdempotencyKey::parse(&input.idempotency_key).map_err(|m| Error::invalid("idempotency_key", m))?;
    let merchant_id = principal.merchant_id;
    let fingerprint = bill_fingerprint(&input.draft, &input.tenders);
    // A retry is answered by the first settlement: found when its insert meets the first bill's key, or when its
    // checks fail (the store may have closed since). First tries, nearly all of them, skip the look-up.
    let (tenders, resolved, priced, consent) = match check_settlement(ctx, principal, &input).await {
        Ok(checked) => checked,
        Err(err) => return replay(ctx, merchant_id, &key, &fingerprint).await?.ok_or(err),
    };

    let now = ctx.now();
    let txn = ctx.db.begin().await?;
    let inserted = bills::ActiveModel {
        merchant_id: Set(merchant_id),
        store_id: Set(input.draft.store_id),
        member_id: Set(input.draft.member_id),
        status: Set("settled".to_owned()),
        subtotal_fen: Set(priced.subtotal.get()),
        total_fen: Set(priced.total.get()),
        change_fen: Set(0),
        idempotency_key: Set(key.as_str().to_owned()),
        fingerprint: Set(fingerprint.clone()),
        entry_id: Set(None),
        created_by: Set(principal.staff_id),
        created_at: Set(now),
        settled_at: Set(Some(now)),
        discount_fen: Set(priced.discount.get()),
        points_used: Set(priced.points_used.get()),
        points_offset_fen: Set(priced.points_offset.get()),
        points_earned: Set(priced.points_earned.get()),
        refunded_fen: Set(0),
        level_id: Set(resolved.level.as_ref().map(|l| l.id)),
        note: Set(input.draft.note.trim().to_owned()),
        request: Set("{}".to_owned()),
        member_confirmed_at: Set(consent.confirmed_at(None, now)),
        member_confirmed_digest: Set(None),
        member_debit_fen: Set(consent.debit.get()),
        closed_at: Set(None),
        closed_by: Set(None),
        coupon_fen: Set(priced.coupon.get()),
        ..Default::default()
    }
    .insert(&txn)
    .await;
    let row = match inserted {
        Ok(row) => row,
        Err(err) if is_unique_violation(&err) => {
            drop(txn);
            return replay(ctx, merchant_id, &key, &fingerprint).await?.ok_or(Error::Database(err));
        }
        Err(err) => return Err(err.into()),
    };
    consent.spend(&txn, row.id, Some(principal.staff_id)).await?;
    let written = write_settlement(
        &txn,
        Settlement {
            by: By::staff(principal),
            bill_id: row.id,
            resolved: &resolved,
            priced: &priced,
            tenders: &tenders,
        },
        now,
    )
    .await?;
    consent.still_within(&txn, &resolved, now).await?;
    txn.commit().await?;
    // The receipt is queued: wake the store's bridge now rather than at its next look.
    crate::store::print_queue::announce(ctx, row.store_id).await;
    written.into_bill(row)
}

/// Everything a new bill must pass before its transaction starts: its store, tenders, lines, price, cover and
/// the member's consent to a large debit.
pub(super) async fn check_settlement(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    input: &SettleInput,
) -> Result<(Vec<CheckedTender>, Resolved, Priced, Consent)> {
    let tenders = check_tenders(&input.tenders, input.draft.member_id)?;
    let resolved = resolve(ctx, &ctx.db, principal.merchant_id, &input.draft, false).await?;
    resolved.require_open(principal)?;
    let priced = resolved.price(input.draft.points)?;
    check_cover(&tenders, &resolved, &priced)?;
    let consent =
        check_consent(ctx, principal.merchant_id, &resolved, &tenders, input.member_code.as_deref(), false).await?;
    Ok((tenders, resolved, priced, consent))
}

/// The guarded `from → settled` update of a kept bill, with the price as settled: whoever runs it first settles.
pub(super) fn claim_for_settlement(
    bill_id: i64,
    from: &str,
    fingerprint: &str,
    resolved: &Resolved,
    priced: &Priced,
    now: DateTime<Utc>,
) -> sea_orm::UpdateMany<bills::Entity> {
    with_price(bills::Entity::update_many(), resolved, priced)
        .col_expr(bills::Column::Status, Expr::value("settled"))
        .col_expr(bills::Column::Fingerprint, Expr::value(fingerprint))
        .col_expr(bills::Column::SettledAt, Expr::value(Some(now)))
        .filter(bills::Column::Id.eq(bill_id))
        .filter(bills::Column::Status.eq(from))
}

/// Settles a parked bill with its kept draft. Settling it again with the same tenders returns the settlement;
/// a voided or otherwise settled bill is refused.
pub async fn settle_parked(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    bill_id: i64,
    input: SettleParkedInput,
) -> Result<Bill> {
    principal.require(Permission::Checkout)?;
    let row = parked_row(ctx, principal, bill_id).await?;
    let draft: BillDraft = match row.status.as_str() {
        "parked" => serde_json::from_str(&row.request).map_err(anyhow::Error::from)?,
        "settled" => {
            // A bill settled at once keeps no draft: it was never parked, so this cannot be a retry of settling it.
            let kept = serde_json::from_str::<BillDraft>(&row.request).ok();
            if kept.is_some_and(|draft| row.fingerprint == bill_fingerprint(&draft, &input.tenders)) {
                return load(&ctx.db, principal.merchant_id, bill_id, true).await;
            }
            return Err(Error::Conflict(Conflict::BillState));
        }
        _ => return Err(Error::Conflict(Conflict::BillState)),
    };
    let tenders = check_tenders(&input.tenders, draft.member_id)?;
    let resolved = resolve(ctx, &ctx.db, principal.merchant_id, &draft, false).await?;
    let priced = resolved.price(draft.points)?;
    check_cover(&tenders, &resolved, &priced)?;
    let in_app = confirmed_in_app(&row, priced.total);
    let code = input.member_code.as_deref();
    let consent = check_consent(ctx, principal.merchant_id, &resolved, &tenders, code, in_app).await?;
    let now = ctx.now();
    let txn = ctx.db.begin().await?;
    let fingerprint = bill_fingerprint(&draft, &input.tenders);
    let claim = claim_for_settlement(bill_id, "parked", &fingerprint, &resolved, &priced, now);
    let claimed = record_on(claim, consent.debit, consent.confirmed_at(row.member_confirmed_at, now))
        .exec_with_returning(&txn)
        .await?
        .pop();
    let Some(row) = claimed else {
        drop(txn);
        // A concurrent twin settled it first: the same tenders are a replay.
        return Box::pin(settle_parked(ctx, principal, bill_id, input)).await;
    };
    consent.spend(&txn, bill_id, Some(principal.staff_id)).await?;
    let written = write_settlement(
        &txn,
        Settlement { by: By::staff(principal), bill_id, resolved: &resolved, priced: &priced, tenders: &tenders },
        now,
    )
    .await?;
    consent.still_within(&txn, &resolved, now).await?;
    txn.commit().await?;
    crate::store::print_queue::announce(ctx, row.store_id).await;
    written.into_bill(row)
}

/// A payment made for a held bill: what the bill is settled with.
pub(crate) struct PaidBill<'a> {
    pub(crate) merchant_id: i64,
    pub(crate) bill_id: i64,
    /// The cashier who took the code; none when the member paid in the app.
    pub(crate) staff_id: Option<i64>,
    /// The bill's other tenders, given when the payment started.
    pub(crate) tenders: &'a [TenderInput],
    /// WeChat Pay or Alipay.
    pub(crate) kind: TenderKind,
    pub(crate) paid: Fen,
}

/// Inside the transaction that marks a payment paid: settles the bill it was held for, with its other tenders
/// and the paid amount as a WeChat Pay or Alipay tender. Returns the settlement's journal entry.
pub(crate) async fn settle_paid(ctx: &AppContext, txn: &DatabaseTransaction, payment: PaidBill<'_>) -> Result<i64> {
    let PaidBill { merchant_id, bill_id, staff_id, tenders, kind, paid } = payment;
    let row = bills::Entity::find_by_id(bill_id)
        .filter(bills::Column::MerchantId.eq(merchant_id))
        .one(txn)
        .await?
        .ok_or(Error::NotFound("bill"))?;
    if row.status != "paying" {
        return Err(Error::Conflict(Conflict::BillState));
    }
    let draft: BillDraft = serde_json::from_str(&row.request).map_err(anyhow::Error::from)?;
    let mut checked = check_tenders(tenders, draft.member_id)?;
    checked.push(CheckedTender::exact(kind, paid));
    let resolved = resolve(ctx, txn, merchant_id, &draft, false).await?;
    let priced = resolved.price(draft.points)?;
    check_cover(&checked, &resolved, &priced)?;
    let mut all_tenders = tenders.to_vec();
    all_tenders.push(TenderInput { kind, amount_fen: paid, tendered_fen: None });
    let now = ctx.now();
    let fingerprint = bill_fingerprint(&draft, &all_tenders);
    // The member's consent was checked, and a consenting code spent, when the payment started.
    let claim = claim_for_settlement(bill_id, "paying", &fingerprint, &resolved, &priced, now);
    let claimed = record_on(claim, member_debit(&resolved, &checked), row.member_confirmed_at).exec(txn).await?;
    if claimed.rows_affected != 1 {
        return Err(Error::Conflict(Conflict::BillState));
    }
    // The cashier who took the code, or (a member paying in the app) the one who parked the bill.
    let staff_id = staff_id.unwrap_or(row.created_by);
    let written = write_settlement(
        txn,
        Settlement {
            by: By { merchant_id, staff_id },
            bill_id,
            resolved: &resolved,
            priced: &priced,
            tenders: &checked,
        },
        now,
    )
    .await?;
    Ok(written.entry_id)
}
