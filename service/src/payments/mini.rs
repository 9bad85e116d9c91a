//! Payments members start in the mini-program: a recharge by a plan or an amount, or a bill the store parked for
//! them. The payment row is written (and a bill held) before the provider hears of the order; the mini-program gets
//! what WeChat's `requestPayment` or Alipay's `tradePay` takes.

use chrono::{Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, TransactionTrait,
};

use entity::{member_identities, payments, stores};

use super::{PENDING, Payment, Provider, credentials, fail_here, new_out_trade_no, refreshed, reload};
use crate::cards::stored_value::RechargeTerms;
use crate::domain::{Fen, IdempotencyKey};
use crate::integrations::wechatpay::RequestPayment;
use crate::members::auth::MemberPrincipal;
use crate::{AppContext, Conflict, Error, Result};

/// A member's recharge in the mini-program.
pub struct RechargeInput {
    pub provider: String,
    pub store_id: i64,
    pub plan_id: Option<i64>,
    pub amount_fen: Option<Fen>,
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
    let terms = RechargeTerms::resolve(&ctx.db, merchant_id, input.plan_id, input.amount_fen.map(|v| v.get())).await?;
    open_store(&ctx.db, merchant_id, input.store_id).await?;
    let merchant = crate::foundation::merchants::get(ctx, merchant_id).await?;
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
    let merchant = crate::foundation::merchants::get(ctx, member.merchant_id).await?;
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
                crate::checkout::bills::member_share(ctx, member.merchant_id, member.member_id, bill_id, kind).await?;
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
    let row = match earlier_order(ctx, member, provider, key, &order).await? {
        Some(row) if row.status != PENDING => {
            return Ok(MiniPayment { payment: row.into(), wechat: None, alipay_trade_no: None });
        }
        Some(row) => row,
        None => match record_mini_order(ctx, member, provider, key, &order, &payer).await? {
            Some(row) => row,
            // A concurrent tap with the same key won the insert: answer as its retry (which finds that row).
            None => return Box::pin(start_mini(ctx, member, provider, key, merchant, order)).await,
        },
    };
    let outcome = match (&wechatpay, &alipay) {
        (Some(account), _) => wechat_prepay(ctx, account, &row, &payer).await.map(|params| (Some(params), None)),
        (None, Some(account)) => alipay_trade(ctx, account, &row, &payer).await.map(|trade_no| (None, Some(trade_no))),
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

/// The order this key already made, if any; the same key for another order is refused.
async fn earlier_order(
    ctx: &AppContext,
    member: &MemberPrincipal,
    provider: Provider,
    key: &IdempotencyKey,
    order: &MiniOrder,
) -> Result<Option<payments::Model>> {
    let Some(row) = payments::Entity::find()
        .filter(payments::Column::MerchantId.eq(member.merchant_id))
        .filter(payments::Column::IdempotencyKey.eq(key.as_str()))
        .one(&ctx.db)
        .await?
    else {
        return Ok(None);
    };
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
    Ok(Some(row))
}

/// Writes the payment row (holding the bill it pays, if any) before the provider hears of it. `None` when a
/// concurrent request with the same key wrote it first.
async fn record_mini_order(
    ctx: &AppContext,
    member: &MemberPrincipal,
    provider: Provider,
    key: &IdempotencyKey,
    order: &MiniOrder,
    payer: &str,
) -> Result<Option<payments::Model>> {
    let now = Utc::now();
    let txn = ctx.db.begin().await?;
    if let Some(bill_id) = order.bill_id {
        crate::checkout::bills::hold_for_payment(&txn, bill_id).await?;
    }
    let inserted = payments::ActiveModel {
        merchant_id: Set(member.merchant_id),
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
        payer: Set(Some(payer.to_owned())),
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
            Ok(Some(row))
        }
        Err(e) if crate::error::is_unique_violation(&e) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// WeChat Pay: a JSAPI prepay, and the parameters the mini-program's `requestPayment` takes.
async fn wechat_prepay(
    ctx: &AppContext,
    account: &credentials::WechatPayAccount,
    row: &payments::Model,
    payer: &str,
) -> Result<crate::integrations::wechatpay::RequestPayment> {
    let time_expire = row.expires_at.with_timezone(&chrono_tz::Asia::Shanghai).to_rfc3339();
    let order = crate::integrations::wechatpay::JsapiOrder {
        appid: &account.appid,
        description: &row.description,
        out_trade_no: &row.out_trade_no,
        notify_url: &ctx.public_url("/callbacks/wechatpay"),
        total: row.amount_fen,
        openid: payer,
        time_expire: &time_expire,
    };
    let prepay_id = ctx.wechatpay.jsapi_prepay(&account.merchant(), &order).await?;
    Ok(crate::integrations::wechatpay::request_payment(
        &account.credentials,
        &account.appid,
        &prepay_id,
        Utc::now().timestamp(),
        &crate::integrations::wechatpay::nonce(),
    ))
}

/// Alipay: the trade the mini-program's `tradePay` takes, created once and kept on the payment row.
async fn alipay_trade(
    ctx: &AppContext,
    account: &credentials::AlipayAccount,
    row: &payments::Model,
    payer: &str,
) -> Result<String> {
    if let Some(trade_no) = &row.provider_trade_no {
        return Ok(trade_no.clone());
    }
    let order = crate::integrations::alipay::TradeOrder {
        out_trade_no: &row.out_trade_no,
        total: Fen::new(row.amount_fen),
        subject: &row.description,
        buyer_open_id: payer,
    };
    let trade_no = ctx.alipay.trade_create(&account.keys(), &order, &ctx.public_url("/callbacks/alipay")).await?;
    payments::Entity::update_many()
        .col_expr(payments::Column::ProviderTradeNo, Expr::value(trade_no.clone()))
        .filter(payments::Column::Id.eq(row.id))
        .exec(&ctx.db)
        .await?;
    Ok(trade_no)
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
