//! Refunds of money that came through WeChat Pay or Alipay go back through the provider.
//!
//! A bill refund that returns part of a WeChat Pay or Alipay tender writes, in its own transaction, the ledger
//! movement (the store's WeChat Pay / Alipay account is credited) and a `payment_refunds` row (`processing`) with
//! its own refund number. After commit the provider is asked to refund under that number; asking again is
//! harmless (the number makes it idempotent), so a failure is retried by the reconciliation sweep. The provider's
//! answer or its `REFUND.*` notification closes the row exactly once (a guarded `processing →` update).

use chrono::Utc;
use rand::Rng;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::json;

use entity::{payment_refunds, payments};

use super::{PAID, Provider, credentials, record_exception};
use crate::domain::Fen;
use crate::{AppContext, Conflict, Error, Result};

pub const PROCESSING: &str = "processing";
pub const SUCCEEDED: &str = "succeeded";
pub const ABNORMAL: &str = "abnormal";

fn new_out_refund_no() -> String {
    let random: u64 = rand::thread_rng().gen_range(0..1_000_000_000_000);
    format!("RF{}{random:012}", Utc::now().format("%Y%m%d%H%M%S"))
}

/// Inside a bill refund's transaction: queues `amount` of the bill's `provider` payment to go back.
pub(crate) async fn queue_into(
    txn: &impl ConnectionTrait,
    merchant_id: i64,
    bill_id: i64,
    provider: Provider,
    amount: i64,
    bill_refund_id: i64,
    reason: &str,
) -> Result<()> {
    let payment = payments::Entity::find()
        .filter(payments::Column::MerchantId.eq(merchant_id))
        .filter(payments::Column::BillId.eq(bill_id))
        .filter(payments::Column::Provider.eq(provider.as_str()))
        .filter(payments::Column::Status.eq(PAID))
        .one(txn)
        .await?
        .ok_or(Error::Conflict(Conflict::BillState))?;
    payment_refunds::ActiveModel {
        merchant_id: Set(merchant_id),
        payment_id: Set(payment.id),
        out_refund_no: Set(new_out_refund_no()),
        amount_fen: Set(amount),
        reason: Set(reason.chars().take(80).collect()),
        status: Set(PROCESSING.to_owned()),
        provider_refund_no: Set(None),
        bill_refund_id: Set(Some(bill_refund_id)),
        created_at: Set(Utc::now()),
        finished_at: Set(None),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok(())
}

/// Closes a processing refund once: `succeeded` adds it to the payment's refunded total.
async fn finish(
    conn: &impl ConnectionTrait,
    refund: &payment_refunds::Model,
    status: &str,
    provider_refund_no: Option<String>,
) -> Result<bool> {
    let now = Utc::now();
    let mut update = payment_refunds::Entity::update_many()
        .col_expr(payment_refunds::Column::Status, Expr::value(status))
        .col_expr(payment_refunds::Column::FinishedAt, Expr::value(now))
        .filter(payment_refunds::Column::Id.eq(refund.id))
        .filter(payment_refunds::Column::Status.eq(PROCESSING));
    if let Some(no) = provider_refund_no {
        update = update.col_expr(payment_refunds::Column::ProviderRefundNo, Expr::value(no));
    }
    let done = update.exec(conn).await?.rows_affected == 1;
    if done && status == SUCCEEDED {
        payments::Entity::update_many()
            .col_expr(payments::Column::RefundedFen, Expr::col(payments::Column::RefundedFen).add(refund.amount_fen))
            .col_expr(payments::Column::UpdatedAt, Expr::value(now))
            .filter(payments::Column::Id.eq(refund.payment_id))
            .exec(conn)
            .await?;
    }
    Ok(done)
}

/// Acts on what the provider says about a refund (its answer, a query, a notification).
pub(crate) async fn settle(
    ctx: &AppContext,
    refund: &payment_refunds::Model,
    state: &str,
    provider_no: Option<String>,
) -> Result<()> {
    match state {
        "SUCCESS" => {
            finish(&ctx.db, refund, SUCCEEDED, provider_no).await?;
        }
        // The money did not reach the customer (a closed card, say): the merchant must pay it out another way.
        "CLOSED" | "ABNORMAL" if finish(&ctx.db, refund, ABNORMAL, provider_no.clone()).await? => {
            record_exception(
                &ctx.db,
                refund.merchant_id,
                Some(refund.payment_id),
                "refund",
                "refund_failed",
                &refund.out_refund_no,
                json!({ "state": state, "amount_fen": refund.amount_fen }),
            )
            .await?;
        }
        _ => {}
    }
    Ok(())
}

/// Asks the provider to make one processing refund (idempotent on its number) and records the answer.
pub async fn submit(ctx: &AppContext, refund: &payment_refunds::Model) -> Result<()> {
    if refund.status != PROCESSING {
        return Ok(());
    }
    let payment =
        payments::Entity::find_by_id(refund.payment_id).one(&ctx.db).await?.ok_or(Error::NotFound("payment"))?;
    let merchant = crate::foundation::merchants::get(ctx, payment.merchant_id).await?;
    match Provider::parse(&payment.provider) {
        Some(Provider::WechatPay) => {
            let account = credentials::wechatpay(ctx, &merchant).await?;
            let request = crate::integrations::wechatpay::RefundRequest {
                out_trade_no: &payment.out_trade_no,
                out_refund_no: &refund.out_refund_no,
                reason: &refund.reason,
                notify_url: &ctx.public_url("/callbacks/wechatpay"),
                refund: refund.amount_fen,
                total: payment.amount_fen,
            };
            let answer = ctx.wechatpay.refund(&account.merchant(), &request).await?;
            settle(ctx, refund, &answer.status, answer.refund_id).await
        }
        Some(Provider::Alipay) => {
            let account = credentials::alipay(ctx, &merchant).await?;
            let answer = ctx
                .alipay
                .trade_refund(
                    &account.keys(),
                    &payment.out_trade_no,
                    &refund.out_refund_no,
                    Fen::new(refund.amount_fen),
                    &refund.reason,
                )
                .await?;
            // Alipay refunds synchronously: a 10000 answer (fund_change Y, or N for a repeat) means refunded.
            settle(ctx, refund, "SUCCESS", answer.trade_no).await
        }
        None => Err(Error::Internal(anyhow::anyhow!("payment {} has provider {}", payment.id, payment.provider))),
    }
}

/// Submits the refunds a bill refund queued. A failure leaves them processing for the sweep.
pub async fn submit_for_bill_refund(ctx: &AppContext, bill_refund_id: i64) {
    let queued = payment_refunds::Entity::find()
        .filter(payment_refunds::Column::BillRefundId.eq(bill_refund_id))
        .filter(payment_refunds::Column::Status.eq(PROCESSING))
        .all(&ctx.db)
        .await;
    for refund in queued.unwrap_or_default() {
        if let Err(error) = submit(ctx, &refund).await {
            tracing::warn!(refund = refund.id, %error, "provider refund not made yet; the sweep retries it");
        }
    }
}

/// The sweep's part: every refund still processing is submitted again (or, for WeChat Pay, asked about).
pub async fn sweep_processing(ctx: &AppContext) -> Result<u32> {
    let processing = payment_refunds::Entity::find()
        .filter(payment_refunds::Column::Status.eq(PROCESSING))
        .order_by_asc(payment_refunds::Column::Id)
        .limit(200)
        .all(&ctx.db)
        .await?;
    let mut done = 0;
    for refund in processing {
        match submit(ctx, &refund).await {
            Ok(()) => done += 1,
            Err(error) => tracing::warn!(refund = refund.id, %error, "refund still processing"),
        }
    }
    Ok(done)
}

/// A `REFUND.*` notification's resource, already verified and decrypted.
pub(crate) async fn notified(
    ctx: &AppContext,
    merchant_id: i64,
    resource: &crate::integrations::wechatpay::Refund,
) -> Result<()> {
    let refund = payment_refunds::Entity::find()
        .filter(payment_refunds::Column::MerchantId.eq(merchant_id))
        .filter(payment_refunds::Column::OutRefundNo.eq(&resource.out_refund_no))
        .one(&ctx.db)
        .await?
        .ok_or(Error::NotFound("refund"))?;
    if let Some(amount) = &resource.amount
        && amount.refund != refund.amount_fen
    {
        return Err(Error::NotificationRejected("wrong_amount"));
    }
    settle(ctx, &refund, &resource.status, resource.refund_id.clone()).await
}
