//! Provider notifications. Nothing in a body is read before its signature has verified over the raw bytes; then
//! the payment it names must be ours, at this merchant, for this amount, app and merchant account.

use std::collections::BTreeMap;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;

use entity::payments;

use super::credentials::{self, WechatPayAccount};
use super::{Applied, Paid, apply_paid, record_exception};
use crate::domain::Fen;
use crate::integrations::wechatpay::{Notification, Rejection, SignatureHeaders, Transaction};
use crate::{AppContext, Conflict, Error, Result};

fn rejected(rejection: Rejection) -> Error {
    Error::NotificationRejected(rejection.code())
}

async fn payment_of(ctx: &AppContext, merchant_id: i64, out_trade_no: &str) -> Result<payments::Model> {
    payments::Entity::find()
        .filter(payments::Column::MerchantId.eq(merchant_id))
        .filter(payments::Column::OutTradeNo.eq(out_trade_no))
        .one(&ctx.db)
        .await?
        .ok_or(Error::NotFound("payment"))
}

/// Checks a WeChat Pay transaction against the payment we created, and says what was paid.
pub(crate) fn wechat_paid(account: &WechatPayAccount, payment: &payments::Model, tx: &Transaction) -> Result<Paid> {
    let mismatch = |what: &'static str| Error::NotificationRejected(what);
    if tx.mchid != account.credentials.mchid {
        return Err(mismatch("wrong_mchid"));
    }
    if tx.appid != account.appid {
        return Err(mismatch("wrong_appid"));
    }
    if tx.out_trade_no != payment.out_trade_no {
        return Err(mismatch("wrong_order"));
    }
    let amount = tx.amount.as_ref().ok_or(mismatch("no_amount"))?;
    if amount.currency.as_deref().is_some_and(|c| c != "CNY") {
        return Err(mismatch("wrong_currency"));
    }
    let transaction_id = tx.transaction_id.clone().filter(|t| !t.is_empty()).ok_or(mismatch("no_transaction_id"))?;
    Ok(Paid {
        provider_trade_no: transaction_id,
        amount_fen: Fen::new(amount.total),
        payer: tx.payer.as_ref().and_then(|p| p.openid.clone()),
    })
}

/// A WeChat Pay notification (`POST /callbacks/wechatpay`). `Ok` means "acknowledge" (HTTP 204); any error is
/// answered with a 4xx/5xx and WeChat Pay sends it again later.
pub async fn wechatpay(ctx: &AppContext, headers: &SignatureHeaders, body: &[u8]) -> Result<Applied> {
    let serial = headers.serial.as_deref().ok_or(rejected(Rejection::MissingHeader("Wechatpay-Serial")))?;
    let candidates = credentials::merchants_for_serial(&ctx.db, serial).await?;
    if candidates.is_empty() {
        return Err(rejected(Rejection::UnknownSerial));
    }
    let now = chrono::Utc::now().timestamp();
    let mut verified = None;
    let mut last = Rejection::UnknownSerial;
    for merchant_id in candidates {
        let merchant = crate::foundation::merchants::get(ctx, merchant_id).await?;
        let account = credentials::wechatpay(ctx, &merchant).await?;
        match account.platform.verify(headers, body, now) {
            Ok(()) => {
                verified = Some(account);
                break;
            }
            Err(rejection) => last = rejection,
        }
    }
    let account = verified.ok_or(rejected(last))?;
    let notification: Notification = serde_json::from_slice(body).map_err(|_| rejected(Rejection::BadResource))?;
    if notification.resource.algorithm != "AEAD_AES_256_GCM" {
        return Err(rejected(Rejection::BadResource));
    }
    let plaintext = account.credentials.decrypt(&notification.resource).map_err(rejected)?;
    match notification.event_type.as_str() {
        "TRANSACTION.SUCCESS" => {
            let tx: Transaction = serde_json::from_slice(&plaintext).map_err(|_| rejected(Rejection::BadResource))?;
            let payment = payment_of(ctx, account.merchant_id, &tx.out_trade_no).await?;
            if tx.trade_state != "SUCCESS" {
                return Err(Error::NotificationRejected("not_a_success"));
            }
            let paid = match wechat_paid(&account, &payment, &tx) {
                Ok(paid) => paid,
                Err(error) => {
                    // Genuinely from WeChat Pay, yet not about our payment as we made it: someone must look.
                    record_exception(
                        &ctx.db,
                        account.merchant_id,
                        Some(payment.id),
                        "wechatpay",
                        "notification_mismatch",
                        &notification.id,
                        json!({ "error": error.to_string(), "out_trade_no": tx.out_trade_no }),
                    )
                    .await?;
                    return Err(error);
                }
            };
            match apply_paid(ctx, &payment, &paid).await {
                Err(Error::Conflict(Conflict::PaymentMismatch)) => Err(Error::NotificationRejected("wrong_amount")),
                other => other,
            }
        }
        "REFUND.SUCCESS" | "REFUND.ABNORMAL" | "REFUND.CLOSED" => {
            let refund: crate::integrations::wechatpay::Refund =
                serde_json::from_slice(&plaintext).map_err(|_| rejected(Rejection::BadResource))?;
            super::refunds::notified(ctx, account.merchant_id, &refund).await?;
            Ok(Applied::Now)
        }
        _ => Err(Error::NotificationRejected("unsupported_event")),
    }
}

/// An Alipay notification (`POST /callbacks/alipay`, a form). `Ok` means answer `success`.
pub async fn alipay(ctx: &AppContext, fields: &BTreeMap<String, String>) -> Result<Option<Applied>> {
    let app_id = fields.get("app_id").ok_or(Error::NotificationRejected("missing_app_id"))?;
    let merchant = match crate::foundation::merchants::by_appid(ctx, "alipay", app_id).await {
        Ok(merchant) => merchant,
        Err(Error::NotFound(_)) => return Err(Error::NotificationRejected("unknown_app_id")),
        Err(e) => return Err(e),
    };
    let account = credentials::alipay(ctx, &merchant).await?;
    if !crate::integrations::alipay::verify_notification(fields, &account.alipay_public_key) {
        return Err(rejected(Rejection::BadSignature));
    }
    let field = |name: &'static str| fields.get(name).map(String::as_str).filter(|v| !v.is_empty());
    let out_trade_no = field("out_trade_no").ok_or(Error::NotificationRejected("missing_out_trade_no"))?;
    let payment = payment_of(ctx, merchant.id, out_trade_no).await?;
    let mismatch = |what: &'static str| async move {
        record_exception(
            &ctx.db,
            merchant.id,
            Some(payment.id),
            "alipay",
            "notification_mismatch",
            field("notify_id").unwrap_or(out_trade_no),
            json!({ "error": what, "out_trade_no": out_trade_no }),
        )
        .await?;
        Err::<Option<Applied>, Error>(Error::NotificationRejected(what))
    };
    if let (Some(expected), Some(seller)) = (&account.seller_id, field("seller_id"))
        && expected != seller
    {
        return mismatch("wrong_seller").await;
    }
    match field("trade_status") {
        Some("TRADE_SUCCESS" | "TRADE_FINISHED") => {
            let Some(amount) = field("total_amount").and_then(|a| Fen::parse_yuan(a).ok()) else {
                return mismatch("bad_amount").await;
            };
            let Some(trade_no) = field("trade_no") else { return mismatch("no_trade_no").await };
            let paid = Paid {
                provider_trade_no: trade_no.to_owned(),
                amount_fen: amount,
                payer: field("buyer_open_id").or(field("buyer_id")).map(str::to_owned),
            };
            match apply_paid(ctx, &payment, &paid).await {
                Err(Error::Conflict(Conflict::PaymentMismatch)) => Err(Error::NotificationRejected("wrong_amount")),
                other => other.map(Some),
            }
        }
        // Unpaid or closed: nothing to apply; the reconciliation sweep closes our side when it expires.
        Some("WAIT_BUYER_PAY" | "TRADE_CLOSED") => Ok(None),
        _ => Err(Error::NotificationRejected("unknown_trade_status")),
    }
}
