//! Payment codes at the counter (付款码): the cashier scans the code in the customer's wallet to pay a parked bill.
//!
//! The bill is checked as a settlement would check it, then held (`paying`: no edit, void or other settlement) and
//! a payment row written, all before the provider is called. The provider answers paid (the bill settles in the
//! payment's transaction), waiting for the customer (`USERPAYING` / `10003`: we query every
//! `payments.code_poll_interval_ms` and reverse after `payments.code_timeout_secs`, while the cashier sees the
//! payment pending), or refused (the bill is parked again). An answer we cannot read is treated as waiting: only a
//! query decides, and a reverse undoes whatever happened.

use std::time::Duration;

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};
use serde_json::json;

use entity::{bills, payments};

use super::credentials;
use super::{Applied, PENDING, Paid, Payment, Provider, apply_paid, fail_here, record_exception, reload};
use crate::checkout::bills::TenderInput;
use crate::domain::{Fen, IdempotencyKey, Permission, ScanKind, classify_scan};
use crate::foundation::principal::StaffPrincipal;
use crate::integrations::wechatpay::CodePayOutcome;
use crate::{AppContext, Conflict, Error, Result};

pub struct CodePayInput {
    /// What the scanner read from the customer's wallet.
    pub auth_code: String,
    /// The bill's other tenders (stored value, cash...); the code pays the rest.
    pub tenders: Vec<TenderInput>,
    pub member_code: Option<String>,
    pub idempotency_key: String,
}

fn provider_of(auth_code: &str) -> Result<Provider> {
    match classify_scan(auth_code) {
        Some(ScanKind::WechatPayCode) => Ok(Provider::WechatPay),
        Some(ScanKind::AlipayCode) => Ok(Provider::Alipay),
        Some(ScanKind::MemberCode) => {
            Err(Error::invalid("auth_code", "this is a member code, not a payment code: scan it as the member"))
        }
        Some(ScanKind::ProductBarcode) => {
            Err(Error::invalid("auth_code", "this is a product barcode, not a payment code: add it as a line"))
        }
        None => Err(Error::invalid(
            "auth_code",
            "not a WeChat Pay or Alipay payment code: ask the customer to refresh the code in their wallet",
        )),
    }
}

/// What a scan is; anything the counter does not know is refused with a message saying so.
pub fn classify(code: &str) -> Result<ScanKind> {
    classify_scan(code)
        .ok_or_else(|| Error::invalid("code", "not a payment code, member code or product barcode: scan again"))
}

/// Charges a customer's payment code for a parked bill. Returns the payment: `paid` (the bill is settled),
/// `pending` (the customer is confirming in their wallet: poll it), or an error (the bill stays parked).
pub async fn pay_bill(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    bill_id: i64,
    input: CodePayInput,
) -> Result<Payment> {
    principal.require(Permission::Checkout)?;
    let key = IdempotencyKey::parse(&input.idempotency_key).map_err(|m| Error::invalid("idempotency_key", m))?;
    let auth_code = input.auth_code.trim().to_owned();
    let provider = provider_of(&auth_code)?;
    let merchant_id = principal.merchant_id;
    if let Some(existing) = payments::Entity::find()
        .filter(payments::Column::MerchantId.eq(merchant_id))
        .filter(payments::Column::IdempotencyKey.eq(key.as_str()))
        .one(&ctx.db)
        .await?
    {
        // A retry of the same scan (a cashier's double click, a lost answer): report where that payment is.
        if existing.bill_id != Some(bill_id) || existing.method != "code" {
            return Err(Error::Conflict(Conflict::IdempotencyKeyReused));
        }
        return Ok(existing.into());
    }
    let (bill, share) = crate::checkout::bills::external_share(
        ctx,
        principal,
        bill_id,
        &input.tenders,
        provider.tender(),
        input.member_code.as_deref(),
    )
    .await?;
    let merchant = crate::foundation::merchants::get(ctx, merchant_id).await?;
    let (wechatpay, alipay) = match provider {
        Provider::WechatPay => (Some(credentials::wechatpay(ctx, &merchant).await?), None),
        Provider::Alipay => (None, Some(credentials::alipay(ctx, &merchant).await?)),
    };

    let order =
        CodeOrder { bill: &bill, share, provider, description: format!("{} 结账 #{}", merchant.name, bill.id) };
    let Some(payment) = record_code_order(ctx, principal, &key, &input, order).await? else {
        // A concurrent scan with the same key wrote it first: answer as its retry.
        return Box::pin(pay_bill(ctx, principal, bill_id, input)).await;
    };
    let outcome = match (&wechatpay, &alipay) {
        (Some(account), _) => charge_wechat(ctx, account, &payment, &auth_code).await,
        (None, Some(account)) => charge_alipay(ctx, account, &payment, &auth_code).await,
        (None, None) => Err(Error::Internal(anyhow::anyhow!("no payment account loaded"))),
    };
    match outcome {
        Ok(Some(paid)) => {
            settle_or_reverse(ctx, &payment, &paid).await?;
        }
        Ok(None) => {
            // Waiting for the customer (or for an answer): watch it in the background; the cashier polls.
            let ctx = ctx.clone();
            let id = payment.id;
            tokio::spawn(async move { watch(ctx, id).await });
        }
        Err(error) => {
            fail_here(&ctx.db, &payment, &error.to_string()).await?;
            return Err(error);
        }
    }
    Ok(reload(&ctx.db, payment.id).await?.into())
}

/// What a payment code is charged for: the bill's share left to the wallet.
struct CodeOrder<'a> {
    bill: &'a bills::Model,
    share: i64,
    provider: Provider,
    description: String,
}

/// Holds the bill and writes the payment row before the provider hears of the code. `None` when a concurrent
/// request with the same key wrote it first.
async fn record_code_order(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    key: &IdempotencyKey,
    input: &CodePayInput,
    order: CodeOrder<'_>,
) -> Result<Option<payments::Model>> {
    let CodeOrder { bill, share, provider, description } = order;
    let now = Utc::now();
    let timeout = chrono::Duration::seconds(i64::try_from(ctx.settings.payments.code_timeout_secs).unwrap_or(30));
    let txn = ctx.db.begin().await?;
    crate::checkout::bills::hold_for_payment(&txn, bill.id).await?;
    let inserted = payments::ActiveModel {
        merchant_id: Set(principal.merchant_id),
        store_id: Set(bill.store_id),
        member_id: Set(bill.member_id),
        provider: Set(provider.as_str().to_owned()),
        method: Set("code".to_owned()),
        purpose: Set("bill".to_owned()),
        bill_id: Set(Some(bill.id)),
        plan_id: Set(None),
        other_tenders: Set(serde_json::to_string(&input.tenders).map_err(anyhow::Error::from)?),
        out_trade_no: Set(super::new_out_trade_no(now)),
        amount_fen: Set(share),
        description: Set(description),
        status: Set(PENDING.to_owned()),
        provider_trade_no: Set(None),
        payer: Set(None),
        failure: Set(None),
        idempotency_key: Set(Some(key.as_str().to_owned())),
        journal_entry_id: Set(None),
        refunded_fen: Set(0),
        created_by: Set(Some(principal.staff_id)),
        created_at: Set(now),
        expires_at: Set(now + timeout),
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
            Ok(Some(row))
        }
        Err(e) if crate::error::is_unique_violation(&e) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Charges a WeChat payment code (v3 codepay, or the v2 micropay fallback). `Ok(None)`: the customer is still
/// confirming, or no answer came; the payment is watched.
async fn charge_wechat(
    ctx: &AppContext,
    account: &credentials::WechatPayAccount,
    payment: &payments::Model,
    auth_code: &str,
) -> Result<Option<Paid>> {
    let share = payment.amount_fen;
    let order = crate::integrations::wechatpay::CodePayOrder {
        appid: &account.appid,
        description: &payment.description,
        out_trade_no: &payment.out_trade_no,
        total: share,
        auth_code,
        store_id: &payment.store_id.to_string(),
    };
    let charged = match account.v2() {
        Some(v2) => {
            ctx.wechatpay_v2
                .micropay(&v2, &payment.description, &payment.out_trade_no, share, auth_code, order.store_id)
                .await
        }
        None => ctx.wechatpay.codepay(&account.merchant(), &order).await,
    };
    match charged {
        Ok(CodePayOutcome::Paid(tx)) => super::notify::wechat_paid(account, payment, &tx).map(Some),
        Ok(CodePayOutcome::UserPaying) => Ok(None),
        Ok(CodePayOutcome::Failed { code, message }) => {
            Err(Error::ProviderRejected { provider: "wechatpay", code, message })
        }
        Err(Error::ProviderUnavailable { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Charges an Alipay payment code. `Ok(None)`: the customer is still confirming, or no answer came.
async fn charge_alipay(
    ctx: &AppContext,
    account: &credentials::AlipayAccount,
    payment: &payments::Model,
    auth_code: &str,
) -> Result<Option<Paid>> {
    use crate::integrations::alipay::TradePayOutcome;
    let order = crate::integrations::alipay::TradeOrder {
        out_trade_no: &payment.out_trade_no,
        total: Fen::new(payment.amount_fen),
        subject: &payment.description,
        buyer_open_id: "",
    };
    match ctx.alipay.trade_pay(&account.keys(), &order, auth_code).await {
        Ok(TradePayOutcome::Paid(trade)) => match Fen::parse_yuan(&trade.total_amount) {
            Ok(amount) => Ok(Some(Paid {
                provider_trade_no: trade.trade_no,
                amount_fen: amount,
                payer: trade.buyer_open_id.or(trade.buyer_user_id),
            })),
            Err(_) => Ok(None),
        },
        Ok(TradePayOutcome::Waiting) => Ok(None),
        Ok(TradePayOutcome::Failed { code, message }) => {
            Err(Error::ProviderRejected { provider: "alipay", code, message })
        }
        Err(Error::ProviderUnavailable { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Applies a paid code payment; if its bill can no longer settle (a stored-value tender spent meanwhile, say),
/// gives the money back through the provider and parks the bill again, and tells staff.
pub(crate) async fn settle_or_reverse(ctx: &AppContext, payment: &payments::Model, paid: &Paid) -> Result<Applied> {
    match apply_paid(ctx, payment, paid).await {
        Ok(applied) => Ok(applied),
        Err(error) => {
            tracing::warn!(payment = payment.id, %error, "a paid code payment could not settle its bill; reversing");
            let reversed = reverse(ctx, payment).await;
            record_exception(
                &ctx.db,
                payment.merchant_id,
                Some(payment.id),
                &payment.provider,
                "reversed_unsettleable",
                &payment.out_trade_no,
                json!({ "error": error.to_string(), "reversed": reversed.is_ok() }),
            )
            .await?;
            if reversed.is_ok() {
                fail_here(&ctx.db, payment, &format!("reversed: {error}")).await?;
            }
            Err(error)
        }
    }
}

/// Reverses (撤销) a code payment at its provider: closes it if unpaid, refunds it if paid.
pub(crate) async fn reverse(ctx: &AppContext, payment: &payments::Model) -> Result<()> {
    let merchant = crate::foundation::merchants::get(ctx, payment.merchant_id).await?;
    match Provider::parse(&payment.provider) {
        Some(Provider::WechatPay) => {
            let account = credentials::wechatpay(ctx, &merchant).await?;
            match account.v2() {
                Some(v2) => ctx.wechatpay_v2.reverse(&v2, &payment.out_trade_no).await,
                None => ctx.wechatpay.reverse(&account.merchant(), &account.appid, &payment.out_trade_no).await,
            }
        }
        Some(Provider::Alipay) => {
            let account = credentials::alipay(ctx, &merchant).await?;
            ctx.alipay.trade_cancel(&account.keys(), &payment.out_trade_no).await
        }
        None => Err(Error::Internal(anyhow::anyhow!("payment {} has provider {}", payment.id, payment.provider))),
    }
}

/// Queries a waiting code payment until it is paid, refused or out of time (then reversed). Idempotent: the
/// reconciliation sweep does the same for any this process did not finish (a restart, say).
async fn watch(ctx: AppContext, payment_id: i64) {
    let interval = Duration::from_millis(ctx.settings.payments.code_poll_interval_ms);
    loop {
        tokio::time::sleep(interval).await;
        let payment = match reload(&ctx.db, payment_id).await {
            Ok(payment) if payment.status == PENDING => payment,
            Ok(_) => return,
            Err(error) => {
                tracing::warn!(payment = payment_id, %error, "watching a code payment");
                continue;
            }
        };
        match super::sync(&ctx, &payment).await {
            Ok(super::Synced::StillPending) => continue,
            Ok(_) => return,
            Err(error) => tracing::warn!(payment = payment_id, %error, "querying a code payment"),
        }
    }
}

/// A payment as the cashier sees it; a pending one is asked about first.
pub async fn get(ctx: &AppContext, principal: &StaffPrincipal, payment_id: i64) -> Result<Payment> {
    let row = visible(ctx, principal, payment_id).await?;
    super::refreshed(ctx, &row).await
}

async fn visible(ctx: &AppContext, principal: &StaffPrincipal, payment_id: i64) -> Result<payments::Model> {
    principal.require(Permission::Checkout)?;
    payments::Entity::find_by_id(payment_id)
        .filter(payments::Column::MerchantId.eq(principal.merchant_id))
        .one(&ctx.db)
        .await?
        .filter(|row| principal.can_access_store(row.store_id))
        .ok_or(Error::NotFound("payment"))
}

/// The cashier stops waiting for a customer who is confirming a payment code in their wallet (they changed their
/// mind, or will pay another way). The payment's time runs out now, and it goes the way of a timed-out one: asked
/// about first, so a customer who confirmed meanwhile has paid and the bill is settled; otherwise reversed at the
/// provider, closed here, and the bill parked again. Anything but a pending code payment is answered as it stands.
pub async fn cancel(ctx: &AppContext, principal: &StaffPrincipal, payment_id: i64) -> Result<Payment> {
    let row = visible(ctx, principal, payment_id).await?;
    if row.method != "code" {
        return Err(Error::Conflict(Conflict::NotACodePayment));
    }
    let now = Utc::now();
    let shortened = payments::Entity::update_many()
        .col_expr(payments::Column::ExpiresAt, sea_orm::sea_query::Expr::value(now))
        .filter(payments::Column::Id.eq(row.id))
        .filter(payments::Column::Status.eq(PENDING))
        .exec(&ctx.db)
        .await?;
    if shortened.rows_affected == 1 {
        crate::foundation::audit::record(
            &ctx.db,
            crate::foundation::audit::Event {
                merchant_id: Some(principal.merchant_id),
                actor: crate::foundation::audit::Actor::Staff(principal.staff_id),
                action: "payments.code_cancelled",
                target: Some(("payment", row.id)),
                detail: json!({ "bill_id": row.bill_id, "amount_fen": row.amount_fen }),
                ip: None,
            },
        )
        .await?;
        super::sync(ctx, &reload(&ctx.db, row.id).await?).await?;
    }
    Ok(reload(&ctx.db, row.id).await?.into())
}
