//! Payments through WeChat Pay and Alipay.
//!
//! A payment row is written **before** the provider hears of it, so any notification or query answer finds it. It
//! moves `pending → paid` exactly once: a guarded `UPDATE … WHERE status IN ('pending', 'closed')` in the same
//! transaction as its ledger entry, which also carries the idempotency key `payment:<out_trade_no>`. Duplicate and
//! concurrent notifications, a query racing a notification, a replica racing another: all but one find nothing to
//! update and change nothing. The client's word ("paid" in the mini-program) is never evidence; only a verified
//! notification or our own query is.

pub mod counter;
pub mod credentials;
pub mod exceptions;
pub mod mini;
pub mod notify;
pub mod reconcile;
pub mod refunds;

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};
use serde_json::json;

use entity::{payment_exceptions, payments};

use crate::cards::stored_value::RechargeTerms;
use crate::domain::{Fen, Permission};
use crate::foundation::principal::StaffPrincipal;
use crate::ledger::posting::Posting;
use crate::ledger::{Account, AccountKind, Cause};
use crate::{AppContext, Conflict, Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provider {
    WechatPay,
    Alipay,
}

impl Provider {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "wechatpay" => Some(Provider::WechatPay),
            "alipay" => Some(Provider::Alipay),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::WechatPay => "wechatpay",
            Provider::Alipay => "alipay",
        }
    }

    /// The bill tender its money settles as.
    pub fn tender(self) -> crate::domain::TenderKind {
        match self {
            Provider::WechatPay => crate::domain::TenderKind::WechatPay,
            Provider::Alipay => crate::domain::TenderKind::Alipay,
        }
    }

    /// The provider a wallet tender came through (none for cash, bank card or stored value).
    pub fn of_tender(kind: crate::domain::TenderKind) -> Option<Self> {
        match kind {
            crate::domain::TenderKind::WechatPay => Some(Provider::WechatPay),
            crate::domain::TenderKind::Alipay => Some(Provider::Alipay),
            _ => None,
        }
    }

    /// The store account its takings land in.
    pub fn account(self, store_id: i64) -> Account {
        match self {
            Provider::WechatPay => Account::store(store_id, AccountKind::WechatPay),
            Provider::Alipay => Account::store(store_id, AccountKind::Alipay),
        }
    }
}

pub const PENDING: &str = "pending";
pub const PAID: &str = "paid";
pub const CLOSED: &str = "closed";
pub const FAILED: &str = "failed";

/// A payment as callers see it.
#[derive(Clone, Debug)]
pub struct Payment {
    pub id: i64,
    pub provider: String,
    pub method: String,
    pub purpose: String,
    pub store_id: i64,
    pub member_id: Option<i64>,
    pub bill_id: Option<i64>,
    pub plan_id: Option<i64>,
    pub out_trade_no: String,
    pub amount_fen: Fen,
    pub description: String,
    pub status: String,
    pub provider_trade_no: Option<String>,
    pub failure: Option<String>,
    pub journal_entry_id: Option<i64>,
    pub refunded_fen: Fen,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub paid_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
}

impl From<payments::Model> for Payment {
    fn from(row: payments::Model) -> Self {
        Self {
            id: row.id,
            provider: row.provider,
            method: row.method,
            purpose: row.purpose,
            store_id: row.store_id,
            member_id: row.member_id,
            bill_id: row.bill_id,
            plan_id: row.plan_id,
            out_trade_no: row.out_trade_no,
            amount_fen: Fen::new(row.amount_fen),
            description: row.description,
            status: row.status,
            provider_trade_no: row.provider_trade_no,
            failure: row.failure,
            journal_entry_id: row.journal_entry_id,
            refunded_fen: Fen::new(row.refunded_fen),
            created_at: row.created_at,
            expires_at: row.expires_at,
            paid_at: row.paid_at,
            closed_at: row.closed_at,
        }
    }
}

/// Our order number: `HY`, the UTC time to the second, 12 random digits (28 characters of `[0-9A-Z]`, within
/// both providers' 32-character, alphanumeric rules).
fn new_out_trade_no(now: DateTime<Utc>) -> String {
    let random: u64 = rand::thread_rng().gen_range(0..1_000_000_000_000);
    format!("HY{}{random:012}", now.format("%Y%m%d%H%M%S"))
}

async fn reload(conn: &impl ConnectionTrait, id: i64) -> Result<payments::Model> {
    payments::Entity::find_by_id(id).one(conn).await?.ok_or(Error::NotFound("payment"))
}

/// The payment will not happen: mark it failed (if still pending) and park its bill again.
async fn fail_here(conn: &impl ConnectionTrait, payment: &payments::Model, failure: &str) -> Result<()> {
    let now = Utc::now();
    let failed = payments::Entity::update_many()
        .col_expr(payments::Column::Status, Expr::value(FAILED))
        .col_expr(payments::Column::Failure, Expr::value(failure.chars().take(200).collect::<String>()))
        .col_expr(payments::Column::ClosedAt, Expr::value(now))
        .col_expr(payments::Column::UpdatedAt, Expr::value(now))
        .filter(payments::Column::Id.eq(payment.id))
        .filter(payments::Column::Status.eq(PENDING))
        .exec(conn)
        .await?;
    if failed.rows_affected == 1
        && let Some(bill_id) = payment.bill_id
    {
        crate::checkout::bills::release_payment_hold(conn, bill_id).await?;
    }
    Ok(())
}

/// What a verified notification or query says was paid.
#[derive(Clone, Debug)]
pub struct Paid {
    pub provider_trade_no: String,
    pub amount_fen: Fen,
    pub payer: Option<String>,
}

/// Whether applying changed anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    Now,
    /// Someone (a duplicate, a concurrent notification, a query) applied it before.
    Already,
}

/// Records something that does not add up, once per (kind, reference).
pub(crate) async fn record_exception(
    conn: &impl ConnectionTrait,
    merchant_id: i64,
    payment_id: Option<i64>,
    provider: &str,
    kind: &str,
    reference: &str,
    detail: serde_json::Value,
) -> Result<()> {
    let store_id = match payment_id {
        Some(id) => payments::Entity::find_by_id(id).one(conn).await?.map(|p| p.store_id),
        None => None,
    };
    let inserted = payment_exceptions::ActiveModel {
        merchant_id: Set(merchant_id),
        payment_id: Set(payment_id),
        store_id: Set(store_id),
        provider: Set(provider.to_owned()),
        kind: Set(kind.to_owned()),
        reference: Set(reference.to_owned()),
        detail: Set(detail.to_string()),
        found_at: Set(Utc::now()),
        resolved_at: Set(None),
        resolved_by: Set(None),
        resolution: Set(None),
        ..Default::default()
    }
    .insert(conn)
    .await;
    match inserted {
        Ok(_) => Ok(()),
        Err(e) if crate::error::is_unique_violation(&e) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Applies a verified payment exactly once: marks it paid and posts its effects in one transaction.
pub(crate) async fn apply_paid(ctx: &AppContext, payment: &payments::Model, paid: &Paid) -> Result<Applied> {
    if paid.amount_fen != Fen::new(payment.amount_fen) {
        record_exception(
            &ctx.db,
            payment.merchant_id,
            Some(payment.id),
            &payment.provider,
            "amount_mismatch",
            &payment.out_trade_no,
            json!({ "expected_fen": payment.amount_fen, "paid_fen": paid.amount_fen, "trade_no": paid.provider_trade_no }),
        )
        .await?;
        return Err(Error::Conflict(Conflict::PaymentMismatch));
    }
    let provider = Provider::parse(&payment.provider)
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("payment {} has provider {}", payment.id, payment.provider)))?;
    let txn = ctx.db.begin().await?;
    let now = Utc::now();
    let claimed = payments::Entity::update_many()
        .col_expr(payments::Column::Status, Expr::value(PAID))
        .col_expr(payments::Column::ProviderTradeNo, Expr::value(paid.provider_trade_no.clone()))
        .col_expr(payments::Column::PaidAt, Expr::value(now))
        .col_expr(payments::Column::UpdatedAt, Expr::value(now))
        .filter(payments::Column::Id.eq(payment.id))
        .filter(payments::Column::Status.is_in([PENDING, CLOSED, FAILED]))
        .exec(&txn)
        .await?;
    if claimed.rows_affected == 0 {
        return Ok(Applied::Already);
    }
    if payment.status != PENDING {
        // We had given up on it, but the money arrived: it is applied all the same, and staff should know.
        record_exception(
            &txn,
            payment.merchant_id,
            Some(payment.id),
            &payment.provider,
            "paid_after_close",
            &payment.out_trade_no,
            json!({ "status_was": payment.status, "trade_no": paid.provider_trade_no }),
        )
        .await?;
    }
    let entry_id = match payment.purpose.as_str() {
        "recharge" => {
            let member_id = payment
                .member_id
                .ok_or_else(|| Error::Internal(anyhow::anyhow!("recharge payment {} has no member", payment.id)))?;
            let terms = RechargeTerms::as_paid(&txn, payment.merchant_id, payment.plan_id, payment.amount_fen).await?;
            let at = (payment.merchant_id, payment.store_id);
            let mut posting = Posting::new(&txn, ctx.now(), at.0, at.1, "recharge", Cause::Job("payments"))
                .for_member(Some(member_id));
            posting.draft.idempotency_key = Some(format!("payment:{}", payment.out_trade_no));
            terms.post_paid(posting, provider.account(payment.store_id)).await?
        }
        "bill" => {
            let bill_id = payment
                .bill_id
                .ok_or_else(|| Error::Internal(anyhow::anyhow!("bill payment {} has no bill", payment.id)))?;
            let tenders: Vec<crate::checkout::bills::TenderInput> =
                serde_json::from_str(&payment.other_tenders).map_err(anyhow::Error::from)?;
            let kind = provider.tender();
            let paid_bill = crate::checkout::bills::PaidBill {
                merchant_id: payment.merchant_id,
                bill_id,
                staff_id: payment.created_by,
                tenders: &tenders,
                kind,
                paid: paid.amount_fen,
            };
            crate::checkout::bills::settle_paid(ctx, &txn, paid_bill).await?
        }
        other => return Err(Error::Internal(anyhow::anyhow!("payment purpose {other} is not applied here"))),
    };
    payments::Entity::update_many()
        .col_expr(payments::Column::JournalEntryId, Expr::value(entry_id))
        .filter(payments::Column::Id.eq(payment.id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    tracing::info!(payment = payment.id, provider = %payment.provider, amount = payment.amount_fen, "payment applied");
    Ok(Applied::Now)
}

/// Marks a pending payment closed (the provider will not take money for it any more).
async fn mark_closed(conn: &impl ConnectionTrait, id: i64) -> Result<bool> {
    let now = Utc::now();
    let closed = payments::Entity::update_many()
        .col_expr(payments::Column::Status, Expr::value(CLOSED))
        .col_expr(payments::Column::ClosedAt, Expr::value(now))
        .col_expr(payments::Column::UpdatedAt, Expr::value(now))
        .filter(payments::Column::Id.eq(id))
        .filter(payments::Column::Status.eq(PENDING))
        .exec(conn)
        .await?;
    Ok(closed.rows_affected == 1)
}

/// Applies a payment the provider says is paid: code payments through `counter` (which gives the money back if
/// the bill can no longer settle), the rest directly.
async fn settle(ctx: &AppContext, payment: &payments::Model, paid: &Paid) -> Result<Applied> {
    if payment.method == "code" {
        counter::settle_or_reverse(ctx, payment, paid).await
    } else {
        apply_paid(ctx, payment, paid).await
    }
}

/// The provider will not take money for this payment any more: close ours, and park its bill again.
async fn close_here(ctx: &AppContext, payment: &payments::Model) -> Result<()> {
    if mark_closed(&ctx.db, payment.id).await?
        && let Some(bill_id) = payment.bill_id
    {
        crate::checkout::bills::release_payment_hold(&ctx.db, bill_id).await?;
    }
    Ok(())
}

/// What asking the provider about a payment found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Synced {
    Paid(Applied),
    StillPending,
    Closed,
    Unchanged,
}

/// What the provider says about an order.
enum Found {
    Paid(Paid),
    /// Closed, reversed or failed there: it will never be paid.
    Gone,
    /// Not paid (yet), or unknown there (an order the payer never opened).
    Unpaid,
}

async fn ask_provider(
    ctx: &AppContext,
    payment: &payments::Model,
    merchant: &entity::merchants::Model,
) -> Result<Found> {
    match Provider::parse(&payment.provider) {
        Some(Provider::WechatPay) => {
            let account = credentials::wechatpay(ctx, merchant).await?;
            let found = match account.v2().filter(|_| payment.method == "code") {
                Some(v2) => ctx.wechatpay_v2.query(&v2, &payment.out_trade_no).await?,
                None => ctx.wechatpay.query(&account.merchant(), &payment.out_trade_no).await?,
            };
            Ok(match found {
                Some(tx) if tx.trade_state == "SUCCESS" || tx.trade_state == "REFUND" => {
                    Found::Paid(notify::wechat_paid(&account, payment, &tx)?)
                }
                Some(tx) if matches!(tx.trade_state.as_str(), "CLOSED" | "REVOKED" | "PAYERROR") => Found::Gone,
                _ => Found::Unpaid,
            })
        }
        Some(Provider::Alipay) => {
            let account = credentials::alipay(ctx, merchant).await?;
            Ok(match ctx.alipay.trade_query(&account.keys(), &payment.out_trade_no).await? {
                Some(trade) if matches!(trade.trade_status.as_deref(), Some("TRADE_SUCCESS" | "TRADE_FINISHED")) => {
                    let amount = Fen::parse_yuan(&trade.total_amount)
                        .map_err(|m| Error::unavailable("alipay", anyhow::anyhow!("total_amount: {m}")))?;
                    Found::Paid(Paid {
                        provider_trade_no: trade.trade_no,
                        amount_fen: amount,
                        payer: trade.buyer_open_id.or(trade.buyer_user_id),
                    })
                }
                Some(trade) if trade.trade_status.as_deref() == Some("TRADE_CLOSED") => Found::Gone,
                _ => Found::Unpaid,
            })
        }
        None => Err(Error::Internal(anyhow::anyhow!("payment {} has provider {}", payment.id, payment.provider))),
    }
}

/// Makes sure the provider will not take money for an order we give up on: a payment code is reversed (refunded
/// if it was paid after all), a mini-program order closed.
async fn give_up(ctx: &AppContext, payment: &payments::Model, merchant: &entity::merchants::Model) -> Result<()> {
    if payment.method == "code" {
        return counter::reverse(ctx, payment).await;
    }
    match Provider::parse(&payment.provider) {
        Some(Provider::WechatPay) => {
            let account = credentials::wechatpay(ctx, merchant).await?;
            ctx.wechatpay.close(&account.merchant(), &payment.out_trade_no).await.or_else(|e| match e {
                Error::ProviderRejected { code, .. } if code == "ORDER_NOT_EXIST" => Ok(()),
                e => Err(e),
            })
        }
        Some(Provider::Alipay) => {
            let account = credentials::alipay(ctx, merchant).await?;
            ctx.alipay.trade_close(&account.keys(), &payment.out_trade_no).await
        }
        None => Err(Error::Internal(anyhow::anyhow!("payment {} has provider {}", payment.id, payment.provider))),
    }
}

/// Asks the provider about a pending payment and acts on the answer: applies it if paid; closes it (at the provider
/// first) when it has expired unpaid. The answer is authoritative: it came back over a verified channel.
pub async fn sync(ctx: &AppContext, payment: &payments::Model) -> Result<Synced> {
    if payment.status != PENDING {
        return Ok(Synced::Unchanged);
    }
    let merchant = crate::foundation::merchants::get(ctx, payment.merchant_id).await?;
    match ask_provider(ctx, payment, &merchant).await? {
        Found::Paid(paid) => Ok(Synced::Paid(settle(ctx, payment, &paid).await?)),
        Found::Gone => {
            close_here(ctx, payment).await?;
            Ok(Synced::Closed)
        }
        Found::Unpaid if Utc::now() >= payment.expires_at => {
            give_up(ctx, payment, &merchant).await?;
            close_here(ctx, payment).await?;
            // The customer paid between the question and the reversal, and another look (the watcher, the sweep, the
            // cashier's) settled it here meanwhile: the provider has given the money back while the bill stands
            // settled. Rare, and not ours to undo quietly: staff see it.
            let now = reload(&ctx.db, payment.id).await?;
            if now.status == PAID {
                let detail = serde_json::json!({ "bill_id": now.bill_id, "amount_fen": now.amount_fen });
                let provider = payment.provider.as_str();
                record_exception(
                    &ctx.db,
                    now.merchant_id,
                    Some(now.id),
                    provider,
                    "reversed_after_paid",
                    &now.out_trade_no,
                    detail,
                )
                .await?;
            }
            Ok(Synced::Closed)
        }
        Found::Unpaid => Ok(Synced::StillPending),
    }
}

/// A payment as it stands, a pending one asked about at the provider first. The provider being away must not hide
/// the payment: it is then shown as we know it.
async fn refreshed(ctx: &AppContext, row: &payments::Model) -> Result<Payment> {
    if row.status == PENDING {
        match sync(ctx, row).await {
            Ok(_) | Err(Error::ProviderUnavailable { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(reload(&ctx.db, row.id).await?.into())
}

/// Payments of the merchant, newest first, for staff.
pub async fn list(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    status: Option<&str>,
    limit: u64,
) -> Result<Vec<Payment>> {
    principal.require(Permission::Checkout)?;
    let mut query = payments::Entity::find().filter(payments::Column::MerchantId.eq(principal.merchant_id));
    if let crate::foundation::principal::StoreScope::Only(stores) = &principal.stores {
        query = query.filter(payments::Column::StoreId.is_in(stores.clone()));
    }
    if let Some(status) = status {
        if ![PENDING, PAID, CLOSED, FAILED].contains(&status) {
            return Err(Error::invalid("status", "must be pending, paid, closed or failed"));
        }
        query = query.filter(payments::Column::Status.eq(status));
    }
    let rows = query.order_by_desc(payments::Column::Id).limit(limit.clamp(1, 200)).all(&ctx.db).await?;
    Ok(rows.into_iter().map(Payment::from).collect())
}

/// Counts of one reconciliation sweep.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SweepCounts {
    pub checked: u32,
    pub paid: u32,
    pub closed: u32,
    pub errors: u32,
    /// Provider refunds still processing that were submitted again.
    pub refunds: u32,
}

/// The reconciliation sweep: every payment pending longer than `payments.query_after_secs` is asked about, and
/// settled or closed by the answer. Idempotent: run it as often as you like, from as many processes as you like.
pub async fn sweep_pending(ctx: &AppContext) -> Result<SweepCounts> {
    let before = Utc::now() - Duration::seconds(ctx.settings.payments.query_after_secs);
    let pending = payments::Entity::find()
        .filter(payments::Column::Status.eq(PENDING))
        .filter(payments::Column::CreatedAt.lt(before))
        .order_by_asc(payments::Column::Id)
        .limit(500)
        .all(&ctx.db)
        .await?;
    let mut counts = SweepCounts::default();
    for payment in pending {
        counts.checked += 1;
        match sync(ctx, &payment).await {
            Ok(Synced::Paid(_)) => counts.paid += 1,
            Ok(Synced::Closed) => counts.closed += 1,
            Ok(_) => {}
            Err(error) => {
                counts.errors += 1;
                tracing::warn!(payment = payment.id, %error, "reconciliation could not settle a pending payment");
            }
        }
    }
    counts.refunds = refunds::sweep_processing(ctx).await?;
    Ok(counts)
}
