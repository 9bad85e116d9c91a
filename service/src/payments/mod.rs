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

use entity::{member_identities, payment_exceptions, payments, stores};

use crate::auth::StaffPrincipal;
use crate::domain::{Fen, IdempotencyKey, Permission};
use crate::ledger::{Account, AccountKind, Cause, Draft};
use crate::member_auth::MemberPrincipal;
use crate::stored_value::RechargeTerms;
use crate::wechatpay::RequestPayment;
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
    pub fn tender(self) -> crate::bills::TenderKind {
        match self {
            Provider::WechatPay => crate::bills::TenderKind::WechatPay,
            Provider::Alipay => crate::bills::TenderKind::Alipay,
        }
    }

    /// The provider a wallet tender came through (none for cash, bank card or stored value).
    pub fn of_tender(kind: crate::bills::TenderKind) -> Option<Self> {
        match kind {
            crate::bills::TenderKind::WechatPay => Some(Provider::WechatPay),
            crate::bills::TenderKind::Alipay => Some(Provider::Alipay),
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
    pub amount_fen: i64,
    pub description: String,
    pub status: String,
    pub provider_trade_no: Option<String>,
    pub failure: Option<String>,
    pub journal_entry_id: Option<i64>,
    pub refunded_fen: i64,
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
            amount_fen: row.amount_fen,
            description: row.description,
            status: row.status,
            provider_trade_no: row.provider_trade_no,
            failure: row.failure,
            journal_entry_id: row.journal_entry_id,
            refunded_fen: row.refunded_fen,
            created_at: row.created_at,
            expires_at: row.expires_at,
            paid_at: row.paid_at,
            closed_at: row.closed_at,
        }
    }
}

/// A member's recharge in the mini-program.
pub struct RechargeInput {
    pub provider: String,
    pub store_id: i64,
    pub plan_id: Option<i64>,
    pub amount_fen: Option<i64>,
    pub idempotency_key: String,
}

/// What the mini-program needs to open the provider's payment sheet.
pub struct MiniPayment {
    pub payment: Payment,
    /// `wx.requestPayment` parameters (WeChat Pay).
    pub wechat: Option<RequestPayment>,
    /// `my.tradePay({ tradeNO })` (Alipay).
    pub alipay_trade_no: Option<String>,
}

/// Our order number: `HY`, the UTC time to the second, 12 random digits (28 characters of `[0-9A-Z]`, within
/// both providers' 32-character, alphanumeric rules).
fn new_out_trade_no(now: DateTime<Utc>) -> String {
    let random: u64 = rand::thread_rng().gen_range(0..1_000_000_000_000);
    format!("HY{}{random:012}", now.format("%Y%m%d%H%M%S"))
}

/// The member's openid at the provider: their identity there, or (sandbox only) their sandbox identity, so the
/// embedded default can pay without WeChat.
async fn payer_id(ctx: &AppContext, member: &MemberPrincipal, provider: Provider) -> Result<String> {
    let identities = member_identities::Entity::find()
        .filter(member_identities::Column::MerchantId.eq(member.merchant_id))
        .filter(member_identities::Column::MemberId.eq(member.member_id))
        .all(&ctx.db)
        .await?;
    let wanted = match provider {
        Provider::WechatPay => "wechat",
        Provider::Alipay => "alipay",
    };
    let found = identities
        .iter()
        .find(|i| i.provider == wanted)
        .or_else(|| identities.iter().find(|i| i.provider == "sandbox" && ctx.settings.sandbox.enabled));
    found.map(|i| i.subject.clone()).ok_or(Error::invalid(
        "provider",
        match provider {
            Provider::WechatPay => "sign in with WeChat to pay with WeChat Pay",
            Provider::Alipay => "sign in with Alipay to pay with Alipay",
        },
    ))
}

async fn open_store(conn: &impl ConnectionTrait, merchant_id: i64, store_id: i64) -> Result<stores::Model> {
    stores::Entity::find_by_id(store_id)
        .filter(stores::Column::MerchantId.eq(merchant_id))
        .filter(stores::Column::Active.eq(true))
        .one(conn)
        .await?
        .ok_or(Error::NotFound("store"))
}

/// Starts a recharge the member pays in the mini-program. Retrying with the same idempotency key returns the same
/// order (and fresh payment-sheet parameters for it) while it is pending.
pub async fn start_recharge(ctx: &AppContext, member: &MemberPrincipal, input: RechargeInput) -> Result<MiniPayment> {
    let provider = parse_provider(&input.provider)?;
    let key = IdempotencyKey::parse(&input.idempotency_key).map_err(|m| Error::invalid("idempotency_key", m))?;
    let merchant_id = member.merchant_id;
    let terms = RechargeTerms::resolve(&ctx.db, merchant_id, input.plan_id, input.amount_fen).await?;
    open_store(&ctx.db, merchant_id, input.store_id).await?;
    let merchant = crate::merchants::get(ctx, merchant_id).await?;
    let order = MiniOrder {
        purpose: "recharge",
        store_id: input.store_id,
        bill_id: None,
        plan_id: terms.plan_id,
        amount: terms.pay,
        description: format!("{} {}", merchant.name, terms.memo()),
    };
    start_mini(ctx, member, provider, &key, &merchant, order).await
}

/// Starts the member's payment of a bill the store parked for them (the whole bill, in the mini-program). The bill
/// is held while they pay; it settles when the provider confirms, and is parked again if the order expires.
pub async fn start_bill_payment(
    ctx: &AppContext,
    member: &MemberPrincipal,
    bill_id: i64,
    provider: &str,
    idempotency_key: &str,
) -> Result<MiniPayment> {
    let provider = parse_provider(provider)?;
    let key = IdempotencyKey::parse(idempotency_key).map_err(|m| Error::invalid("idempotency_key", m))?;
    let kind = provider.tender();
    let merchant = crate::merchants::get(ctx, member.merchant_id).await?;
    let existing = payments::Entity::find()
        .filter(payments::Column::MerchantId.eq(member.merchant_id))
        .filter(payments::Column::IdempotencyKey.eq(key.as_str()))
        .one(&ctx.db)
        .await?;
    // A retry of a payment that is holding the bill: the bill is `paying` now, so answer from the payment.
    let (store_id, amount) = match existing.filter(|p| p.bill_id == Some(bill_id)) {
        Some(payment) => (payment.store_id, payment.amount_fen),
        None => {
            let (bill, share) =
                crate::bills::member_share(ctx, member.merchant_id, member.member_id, bill_id, kind).await?;
            (bill.store_id, share)
        }
    };
    let order = MiniOrder {
        purpose: "bill",
        store_id,
        bill_id: Some(bill_id),
        plan_id: None,
        amount,
        description: format!("{} 结账 #{bill_id}", merchant.name),
    };
    start_mini(ctx, member, provider, &key, &merchant, order).await
}

fn parse_provider(value: &str) -> Result<Provider> {
    Provider::parse(value).ok_or_else(|| Error::invalid("provider", "must be wechatpay or alipay"))
}

/// What a member pays for in the mini-program.
struct MiniOrder {
    purpose: &'static str,
    store_id: i64,
    bill_id: Option<i64>,
    plan_id: Option<i64>,
    amount: i64,
    description: String,
}

/// Writes (or finds, for a retry) the payment row, then opens the order at the provider.
async fn start_mini(
    ctx: &AppContext,
    member: &MemberPrincipal,
    provider: Provider,
    key: &IdempotencyKey,
    merchant: &entity::merchants::Model,
    order: MiniOrder,
) -> Result<MiniPayment> {
    let merchant_id = member.merchant_id;
    let payer = payer_id(ctx, member, provider).await?;
    // Load the account first: a merchant without one gets `Disabled` before anything is written.
    let wechatpay = match provider {
        Provider::WechatPay => Some(credentials::wechatpay(ctx, merchant).await?),
        Provider::Alipay => None,
    };
    let alipay = match provider {
        Provider::Alipay => Some(credentials::alipay(ctx, merchant).await?),
        Provider::WechatPay => None,
    };

    let existing = payments::Entity::find()
        .filter(payments::Column::MerchantId.eq(merchant_id))
        .filter(payments::Column::IdempotencyKey.eq(key.as_str()))
        .one(&ctx.db)
        .await?;
    let row = match existing {
        Some(row) => {
            let same = row.member_id == Some(member.member_id)
                && row.provider == provider.as_str()
                && row.purpose == order.purpose
                && row.store_id == order.store_id
                && row.bill_id == order.bill_id
                && row.plan_id == order.plan_id
                && row.amount_fen == order.amount;
            if !same {
                return Err(Error::Conflict(Conflict::IdempotencyKeyReused));
            }
            if row.status != PENDING {
                return Ok(MiniPayment { payment: row.into(), wechat: None, alipay_trade_no: None });
            }
            row
        }
        None => {
            let now = Utc::now();
            let txn = ctx.db.begin().await?;
            if let Some(bill_id) = order.bill_id {
                crate::bills::hold_for_payment(&txn, bill_id).await?;
            }
            let inserted = payments::ActiveModel {
                merchant_id: Set(merchant_id),
                store_id: Set(order.store_id),
                member_id: Set(Some(member.member_id)),
                provider: Set(provider.as_str().to_owned()),
                method: Set("mini".to_owned()),
                purpose: Set(order.purpose.to_owned()),
                bill_id: Set(order.bill_id),
                plan_id: Set(order.plan_id),
                other_tenders: Set("[]".to_owned()),
                out_trade_no: Set(new_out_trade_no(now)),
                amount_fen: Set(order.amount),
                description: Set(order.description.clone()),
                status: Set(PENDING.to_owned()),
                provider_trade_no: Set(None),
                payer: Set(Some(payer.clone())),
                failure: Set(None),
                idempotency_key: Set(Some(key.as_str().to_owned())),
                journal_entry_id: Set(None),
                refunded_fen: Set(0),
                created_by: Set(None),
                created_at: Set(now),
                expires_at: Set(now + Duration::seconds(ctx.settings.payments.order_ttl_secs)),
                paid_at: Set(None),
                closed_at: Set(None),
                updated_at: Set(now),
                ..Default::default()
            }
            .insert(&txn)
            .await;
            match inserted {
                Ok(row) => {
                    txn.commit().await?;
                    row
                }
                // A concurrent tap with the same key won the insert: answer as its retry (which finds that row).
                Err(e) if crate::error::is_unique_violation(&e) => {
                    drop(txn);
                    return Box::pin(start_mini(ctx, member, provider, key, merchant, order)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    };

    let outcome = match (&wechatpay, &alipay) {
        (Some(account), _) => {
            let time_expire = row.expires_at.with_timezone(&chrono_tz::Asia::Shanghai).to_rfc3339();
            let order = crate::wechatpay::JsapiOrder {
                appid: &account.appid,
                description: &row.description,
                out_trade_no: &row.out_trade_no,
                notify_url: &ctx.public_url("/callbacks/wechatpay"),
                total: row.amount_fen,
                openid: &payer,
                time_expire: &time_expire,
            };
            ctx.wechatpay.jsapi_prepay(&account.merchant(), &order).await.map(|prepay_id| {
                let params = crate::wechatpay::request_payment(
                    &account.credentials,
                    &account.appid,
                    &prepay_id,
                    Utc::now().timestamp(),
                    &crate::wechatpay::nonce(),
                );
                (Some(params), None)
            })
        }
        (None, Some(account)) => match &row.provider_trade_no {
            Some(trade_no) => Ok((None, Some(trade_no.clone()))),
            None => {
                let order = crate::alipay::TradeOrder {
                    out_trade_no: &row.out_trade_no,
                    total: Fen::new(row.amount_fen),
                    subject: &row.description,
                    buyer_open_id: &payer,
                };
                let created =
                    ctx.alipay.trade_create(&account.keys(), &order, &ctx.public_url("/callbacks/alipay")).await;
                match created {
                    Ok(trade_no) => {
                        payments::Entity::update_many()
                            .col_expr(payments::Column::ProviderTradeNo, Expr::value(trade_no.clone()))
                            .filter(payments::Column::Id.eq(row.id))
                            .exec(&ctx.db)
                            .await?;
                        Ok((None, Some(trade_no)))
                    }
                    Err(e) => Err(e),
                }
            }
        },
        (None, None) => Err(Error::Internal(anyhow::anyhow!("no payment account loaded"))),
    };
    match outcome {
        Ok((wechat, alipay_trade_no)) => {
            let row = reload(&ctx.db, row.id).await?;
            Ok(MiniPayment { payment: row.into(), wechat, alipay_trade_no })
        }
        Err(error) => {
            // Refused by the provider (not merely unreachable): this order can never be paid.
            if matches!(error, Error::ProviderRejected { .. }) {
                fail_here(&ctx.db, &row, &error.to_string()).await?;
            }
            Err(error)
        }
    }
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
        crate::bills::release_payment_hold(conn, bill_id).await?;
    }
    Ok(())
}

/// What a verified notification or query says was paid.
#[derive(Clone, Debug)]
pub struct Paid {
    pub provider_trade_no: String,
    pub amount_fen: i64,
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
    let inserted = payment_exceptions::ActiveModel {
        merchant_id: Set(merchant_id),
        payment_id: Set(payment_id),
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
    if paid.amount_fen != payment.amount_fen {
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
            let mut draft = Draft::new(payment.merchant_id, "recharge", Cause::Job("payments"));
            draft.idempotency_key = Some(format!("payment:{}", payment.out_trade_no));
            terms.post_paid(&txn, payment.store_id, member_id, provider.account(payment.store_id), draft).await?
        }
        "bill" => {
            let bill_id = payment
                .bill_id
                .ok_or_else(|| Error::Internal(anyhow::anyhow!("bill payment {} has no bill", payment.id)))?;
            let tenders: Vec<crate::bills::TenderInput> =
                serde_json::from_str(&payment.other_tenders).map_err(anyhow::Error::from)?;
            let kind = provider.tender();
            crate::bills::settle_paid(
                ctx,
                &txn,
                payment.merchant_id,
                payment.created_by,
                bill_id,
                &tenders,
                kind,
                paid.amount_fen,
            )
            .await?
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
        crate::bills::release_payment_hold(&ctx.db, bill_id).await?;
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
                        amount_fen: amount.get(),
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
    let merchant = crate::merchants::get(ctx, payment.merchant_id).await?;
    match ask_provider(ctx, payment, &merchant).await? {
        Found::Paid(paid) => Ok(Synced::Paid(settle(ctx, payment, &paid).await?)),
        Found::Gone => {
            close_here(ctx, payment).await?;
            Ok(Synced::Closed)
        }
        Found::Unpaid if Utc::now() >= payment.expires_at => {
            give_up(ctx, payment, &merchant).await?;
            close_here(ctx, payment).await?;
            Ok(Synced::Closed)
        }
        Found::Unpaid => Ok(Synced::StillPending),
    }
}

/// The member's own payment; a pending one is first checked with the provider (so the mini-program can show
/// "paid" as soon as the provider says so, without trusting its own success callback).
pub async fn get_for_member(ctx: &AppContext, member: &MemberPrincipal, payment_id: i64) -> Result<Payment> {
    let row = payments::Entity::find_by_id(payment_id)
        .filter(payments::Column::MerchantId.eq(member.merchant_id))
        .filter(payments::Column::MemberId.eq(member.member_id))
        .one(&ctx.db)
        .await?
        .ok_or(Error::NotFound("payment"))?;
    refreshed(ctx, &row).await
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
