//! Payments: members recharging in the mini-program, staff looking at payments and configuring WeChat Pay, and the
//! providers' notification callbacks.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, get, post, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use service::AppContext;
use service::domain::{Fen, Page};
use service::integrations::wechatpay::SignatureHeaders;
use service::payments::Payment;
use service::payments::mini::MiniPayment;

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Body, Member, Staff};

pub fn mini_routes(cfg: &mut ServiceConfig) {
    cfg.service(list_offered_recharge_plans)
        .service(get_my_stored_value)
        .service(start_my_recharge)
        .service(pay_my_bill)
        .service(get_my_payment);
}

pub fn staff_routes(cfg: &mut ServiceConfig) {
    cfg.service(list_payments)
        .service(get_payment)
        .service(pay_bill_by_code)
        .service(cancel_code_payment)
        .service(classify_scan)
        .service(list_payment_exceptions)
        .service(resolve_payment_exception)
        .service(list_reconciliations)
        .service(run_reconciliation)
        .service(get_wechatpay_settings)
        .service(set_wechatpay_settings);
}

pub fn callback_routes(cfg: &mut ServiceConfig) {
    cfg.service(receive_wechatpay_callback).service(receive_alipay_callback);
}

#[derive(Serialize, ToSchema)]
pub struct PaymentDto {
    pub id: i64,
    /// `wechatpay` or `alipay`.
    pub provider: String,
    /// `mini` (paid in the mini-program) or `code` (a payment code scanned at the counter).
    pub method: String,
    /// `recharge` or `bill`.
    pub purpose: String,
    pub store_id: i64,
    pub member_id: Option<i64>,
    pub bill_id: Option<i64>,
    pub plan_id: Option<i64>,
    pub out_trade_no: String,
    pub amount_fen: Fen,
    pub description: String,
    /// `pending`, `paid`, `closed` or `failed`.
    pub status: String,
    /// The provider's transaction id once paid.
    pub provider_trade_no: Option<String>,
    pub failure: Option<String>,
    pub refunded_fen: Fen,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub paid_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
}

impl From<Payment> for PaymentDto {
    fn from(p: Payment) -> Self {
        Self {
            id: p.id,
            provider: p.provider,
            method: p.method,
            purpose: p.purpose,
            store_id: p.store_id,
            member_id: p.member_id,
            bill_id: p.bill_id,
            plan_id: p.plan_id,
            out_trade_no: p.out_trade_no,
            amount_fen: p.amount_fen,
            description: p.description,
            status: p.status,
            provider_trade_no: p.provider_trade_no,
            failure: p.failure,
            refunded_fen: p.refunded_fen,
            created_at: p.created_at,
            expires_at: p.expires_at,
            paid_at: p.paid_at,
            closed_at: p.closed_at,
        }
    }
}

/// `wx.requestPayment` parameters, exactly as the mini-program passes them.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WechatPayParams {
    pub time_stamp: String,
    pub nonce_str: String,
    pub package: String,
    pub sign_type: String,
    pub pay_sign: String,
}

#[derive(Serialize, ToSchema)]
pub struct MiniPaymentDto {
    pub payment: PaymentDto,
    /// For `wx.requestPayment` (WeChat Pay). Absent when the payment is no longer pending.
    pub wechat: Option<WechatPayParams>,
    /// For `my.tradePay({ tradeNO })` (Alipay).
    pub alipay_trade_no: Option<String>,
    /// Development only (the sandbox is on): the sandbox's page where this order is paid or declined, which the
    /// H5 build opens instead of a wallet.
    pub sandbox_page: Option<String>,
}

impl MiniPaymentDto {
    fn answer(ctx: &AppContext, payment: MiniPayment) -> Self {
        let sandbox = &ctx.settings.sandbox;
        Self { sandbox_page: sandbox.enabled.then(|| format!("http://{}/sandbox", sandbox.listen)), ..payment.into() }
    }
}

impl From<MiniPayment> for MiniPaymentDto {
    fn from(m: MiniPayment) -> Self {
        Self {
            payment: m.payment.into(),
            wechat: m.wechat.map(|w| WechatPayParams {
                time_stamp: w.time_stamp,
                nonce_str: w.nonce_str,
                package: w.package,
                sign_type: w.sign_type,
                pay_sign: w.pay_sign,
            }),
            alipay_trade_no: m.alipay_trade_no,
            sandbox_page: None,
        }
    }
}

/// The recharge plans on offer (充X送Y), cheapest first.
#[utoipa::path(tag = "me", responses((status = 200, body = Vec<crate::routes::stored_value::RechargePlanDto>)), security(("member_token" = [])))]
#[get("/recharge-plans")]
async fn list_offered_recharge_plans(
    ctx: web::Data<AppContext>,
    Member(me): Member,
) -> ApiResult<web::Json<Vec<crate::routes::stored_value::RechargePlanDto>>> {
    let plans = service::cards::recharge_plans::offered_plans(&ctx, me.merchant_id).await?;
    Ok(web::Json(plans.into_iter().map(Into::into).collect()))
}

/// My stored-value card: principal, bonus, balance and expiry.
#[utoipa::path(tag = "me", responses((status = 200, body = crate::routes::stored_value::CardDto)), security(("member_token" = [])))]
#[get("/me/stored-value")]
async fn get_my_stored_value(
    ctx: web::Data<AppContext>,
    Member(me): Member,
) -> ApiResult<web::Json<crate::routes::stored_value::CardDto>> {
    Ok(web::Json(service::cards::stored_value::own(&ctx, me.merchant_id, me.member_id).await?.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRechargeRequest {
    /// `wechatpay` or `alipay`.
    pub provider: String,
    /// The store the money goes to.
    pub store_id: i64,
    /// A recharge plan, or
    pub plan_id: Option<i64>,
    /// a plain amount without bonus.
    pub amount_fen: Option<Fen>,
    /// The same key returns the same order (the member tapping twice).
    pub idempotency_key: String,
}

/// Start a recharge paid in the mini-program. Open the payment sheet with the returned parameters; the card is
/// credited when the provider confirms the payment (never on the mini-program's word), then poll the payment.
#[utoipa::path(tag = "me", request_body = StartRechargeRequest, responses((status = 200, body = MiniPaymentDto), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)), security(("member_token" = [])))]
#[post("/me/payments/recharges")]
async fn start_my_recharge(
    ctx: web::Data<AppContext>,
    Member(me): Member,
    body: Body<StartRechargeRequest>,
) -> ApiResult<web::Json<MiniPaymentDto>> {
    let body = body.into_inner();
    let input = service::payments::mini::RechargeInput {
        provider: body.provider,
        store_id: body.store_id,
        plan_id: body.plan_id,
        amount_fen: body.amount_fen,
        idempotency_key: body.idempotency_key,
    };
    let payment = service::payments::mini::start_recharge(&ctx, &me, input).await?;
    Ok(web::Json(MiniPaymentDto::answer(&ctx, payment)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayBillRequest {
    /// `wechatpay` or `alipay`.
    pub provider: String,
    /// The same key returns the same order (the member tapping twice).
    pub idempotency_key: String,
}

/// Pay a bill the store parked for me (see `/me/bills/to-confirm`), in full. The bill is held while I pay and
/// settles when the provider confirms the payment; if the order expires unpaid it is parked again.
#[utoipa::path(tag = "me", params(("id" = i64, Path)), request_body = PayBillRequest, responses((status = 200, body = MiniPaymentDto), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), security(("member_token" = [])))]
#[post("/me/bills/{id}/payments")]
async fn pay_my_bill(
    ctx: web::Data<AppContext>,
    Member(me): Member,
    id: web::Path<i64>,
    body: Body<PayBillRequest>,
) -> ApiResult<web::Json<MiniPaymentDto>> {
    let payment =
        service::payments::mini::start_bill_payment(&ctx, &me, id.into_inner(), &body.provider, &body.idempotency_key)
            .await?;
    Ok(web::Json(MiniPaymentDto::answer(&ctx, payment)))
}

/// One of my payments. A pending one is checked with the provider first.
#[utoipa::path(tag = "me", params(("id" = i64, Path)), responses((status = 200, body = PaymentDto), (status = 404, body = ErrorBody)), security(("member_token" = [])))]
#[get("/me/payments/{id}")]
async fn get_my_payment(
    ctx: web::Data<AppContext>,
    Member(me): Member,
    id: web::Path<i64>,
) -> ApiResult<web::Json<PaymentDto>> {
    Ok(web::Json(service::payments::mini::get_for_member(&ctx, &me, id.into_inner()).await?.into()))
}

#[derive(Deserialize, IntoParams)]
pub struct PaymentsQuery {
    /// `pending`, `paid`, `closed` or `failed`.
    pub status: Option<String>,
    /// 1–200, default 50.
    pub limit: Option<u64>,
}

/// The merchant's payments, newest first.
#[utoipa::path(tag = "payments", params(PaymentsQuery), responses((status = 200, body = Vec<PaymentDto>)), security(("staff_token" = [])))]
#[get("/payments")]
async fn list_payments(
    ctx: web::Data<AppContext>,
    Staff(principal): Staff,
    query: web::Query<PaymentsQuery>,
) -> ApiResult<web::Json<Vec<PaymentDto>>> {
    let page = Page::parse(None, query.limit, 50)?;
    let rows = service::payments::list(&ctx, &principal, query.status.as_deref(), page.limit).await?;
    Ok(web::Json(rows.into_iter().map(Into::into).collect()))
}

/// One payment; a pending one is asked about at the provider first (the cashier's "waiting for the customer").
#[utoipa::path(tag = "payments", params(("id" = i64, Path)), responses((status = 200, body = PaymentDto), (status = 404, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/payments/{id}")]
async fn get_payment(
    ctx: web::Data<AppContext>,
    Staff(principal): Staff,
    id: web::Path<i64>,
) -> ApiResult<web::Json<PaymentDto>> {
    Ok(web::Json(service::payments::counter::get(&ctx, &principal, id.into_inner()).await?.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentCodeRequest {
    /// What the scanner read from the customer's WeChat or Alipay payment code.
    pub auth_code: String,
    /// The bill's other tenders (stored value, cash, bank card); the code pays the rest.
    #[serde(default)]
    pub tenders: Vec<crate::routes::bills::TenderRequest>,
    /// A fresh member code, when a large stored-value tender needs the member's confirmation.
    pub member_code: Option<String>,
    /// The same key returns the same payment (a double scan, a lost answer).
    pub idempotency_key: String,
}

/// Pay a parked bill with a customer's payment code. Answers the payment: `paid` (the bill is settled),
/// `pending` (the customer is confirming in their wallet: poll `GET /payments/{id}`; it is reversed if not
/// confirmed in time), or an error (the bill stays parked). Anything but a WeChat or Alipay payment code is refused.
#[utoipa::path(tag = "checkout", params(("id" = i64, Path)), request_body = PaymentCodeRequest, responses((status = 200, body = PaymentDto), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/bills/{id}/payment-code")]
async fn pay_bill_by_code(
    ctx: web::Data<AppContext>,
    Staff(principal): Staff,
    id: web::Path<i64>,
    body: Body<PaymentCodeRequest>,
) -> ApiResult<web::Json<PaymentDto>> {
    let body = body.into_inner();
    let input = service::payments::counter::CodePayInput {
        auth_code: body.auth_code,
        tenders: crate::routes::bills::tenders(body.tenders),
        member_code: body.member_code,
        idempotency_key: body.idempotency_key,
    };
    Ok(web::Json(service::payments::counter::pay_bill(&ctx, &principal, id.into_inner(), input).await?.into()))
}

/// Stop waiting for a customer confirming a payment code in their wallet. Asked about first: if they confirmed
/// meanwhile, the answer is the payment `paid` (the bill is settled); otherwise it is reversed at the provider and
/// answered `closed`, and the bill is parked again. A payment no longer pending is answered as it stands.
#[utoipa::path(tag = "checkout", params(("id" = i64, Path)), responses((status = 200, body = PaymentDto), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 502, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/payments/{id}/cancel")]
async fn cancel_code_payment(
    ctx: web::Data<AppContext>,
    Staff(principal): Staff,
    id: web::Path<i64>,
) -> ApiResult<web::Json<PaymentDto>> {
    Ok(web::Json(service::payments::counter::cancel(&ctx, &principal, id.into_inner()).await?.into()))
}

/// What staff see of the WeChat Pay configuration: never a secret.
#[derive(Serialize, ToSchema)]
pub struct WechatPaySettingsDto {
    pub mchid: Option<String>,
    pub serial: Option<String>,
    pub private_key_set: bool,
    pub apiv3_key_set: bool,
    /// The serials WeChat Pay may sign with: `PUB_KEY_ID_…` and platform certificate serials.
    pub platform_serials: Vec<String>,
    /// Which API charges payment codes: `v3` (codepay) or `v2` (micropay, the fallback).
    pub code_api: String,
    pub v2_key_set: bool,
    pub merchant_certificate_set: bool,
}

impl From<service::payments::credentials::WechatPayStatus> for WechatPaySettingsDto {
    fn from(s: service::payments::credentials::WechatPayStatus) -> Self {
        Self {
            mchid: s.mchid,
            serial: s.serial,
            private_key_set: s.private_key_set,
            apiv3_key_set: s.apiv3_key_set,
            platform_serials: s.platform_serials,
            code_api: s.code_api,
            v2_key_set: s.v2_key_set,
            merchant_certificate_set: s.merchant_certificate_set,
        }
    }
}

/// Every field optional; secrets are write-only.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WechatPaySettingsRequest {
    pub mchid: Option<String>,
    /// The merchant API certificate serial.
    pub serial: Option<String>,
    /// `apiclient_key.pem`.
    pub private_key: Option<String>,
    pub apiv3_key: Option<String>,
    /// `PUB_KEY_ID_…`, with `public_key`.
    pub public_key_id: Option<String>,
    /// `pub_key.pem`.
    pub public_key: Option<String>,
    /// A platform certificate (PEM) to trust beside the public key.
    pub platform_certificate: Option<String>,
    /// `v3` (codepay, the default) or `v2` (micropay, for accounts whose payment codes are v2 only).
    pub code_api: Option<String>,
    /// The APIv2 key (32 characters), needed for `v2`.
    pub v2_key: Option<String>,
    /// `apiclient_cert.pem`: the TLS client certificate v2 `reverse` needs.
    pub merchant_certificate: Option<String>,
}

/// The merchant's WeChat Pay account, without its secrets.
#[utoipa::path(tag = "merchant", responses((status = 200, body = WechatPaySettingsDto), (status = 403, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/merchant/wechatpay")]
async fn get_wechatpay_settings(
    ctx: web::Data<AppContext>,
    Staff(principal): Staff,
) -> ApiResult<web::Json<WechatPaySettingsDto>> {
    Ok(web::Json(service::payments::credentials::wechatpay_status(&ctx, &principal).await?.into()))
}

/// Set WeChat Pay credentials (owner). Secrets are sealed at rest and never returned.
#[utoipa::path(tag = "merchant", request_body = WechatPaySettingsRequest, responses((status = 200, body = WechatPaySettingsDto), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[put("/merchant/wechatpay")]
async fn set_wechatpay_settings(
    ctx: web::Data<AppContext>,
    Staff(principal): Staff,
    body: Body<WechatPaySettingsRequest>,
) -> ApiResult<web::Json<WechatPaySettingsDto>> {
    let body = body.into_inner();
    let input = service::payments::credentials::WechatPayInput {
        mchid: body.mchid,
        serial: body.serial,
        private_key: body.private_key,
        apiv3_key: body.apiv3_key,
        public_key_id: body.public_key_id,
        public_key: body.public_key,
        platform_certificate: body.platform_certificate,
        code_api: body.code_api,
        v2_key: body.v2_key,
        merchant_certificate: body.merchant_certificate,
    };
    Ok(web::Json(service::payments::credentials::set_wechatpay(&ctx, &principal, input).await?.into()))
}

/// WeChat Pay notifications. Verified over the raw body before anything is parsed; answered 204 when applied (or
/// already applied), otherwise 4xx/5xx with `{code, message}` so WeChat Pay sends it again.
#[utoipa::path(tag = "callbacks", request_body(content = String, content_type = "application/json"), responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[post("/callbacks/wechatpay")]
async fn receive_wechatpay_callback(
    ctx: web::Data<AppContext>,
    request: HttpRequest,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let headers = SignatureHeaders::from_pairs(
        request.headers().iter().filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?))),
    );
    service::payments::notify::wechatpay(&ctx, &headers, &body).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Alipay notifications (a form). Answered with exactly `success` when applied (or already applied, or nothing to
/// apply); anything else makes Alipay send it again.
#[utoipa::path(tag = "callbacks", request_body(content = String, content_type = "application/x-www-form-urlencoded"), responses((status = 200, content_type = "text/plain", body = String), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[post("/callbacks/alipay")]
async fn receive_alipay_callback(
    ctx: web::Data<AppContext>,
    form: web::Form<BTreeMap<String, String>>,
) -> ApiResult<HttpResponse> {
    service::payments::notify::alipay(&ctx, &form).await?;
    Ok(HttpResponse::Ok().content_type("text/plain").body("success"))
}

#[derive(Serialize, ToSchema)]
pub struct PaymentExceptionDto {
    pub id: i64,
    pub payment_id: Option<i64>,
    /// The store of the payment it is about (store-scoped staff see only theirs); none when about no known payment.
    pub store_id: Option<i64>,
    /// `wechatpay`, `alipay` or `refund`.
    pub provider: String,
    /// `missing_here`, `missing_there`, `amount_mismatch`, `refund_missing_here`, `refund_missing_there`,
    /// `notification_mismatch`, `paid_after_close`, `reversed_unsettleable`, `refund_failed` or `unreadable_row`
    /// (a row of the provider's bill that does not parse).
    pub kind: String,
    /// The order, refund or notification number it is about.
    pub reference: String,
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    pub found_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<i64>,
    pub resolution: Option<String>,
}

impl From<service::payments::exceptions::PaymentException> for PaymentExceptionDto {
    fn from(e: service::payments::exceptions::PaymentException) -> Self {
        Self {
            id: e.id,
            payment_id: e.payment_id,
            store_id: e.store_id,
            provider: e.provider,
            kind: e.kind,
            reference: e.reference,
            detail: e.detail,
            found_at: e.found_at,
            resolved_at: e.resolved_at,
            resolved_by: e.resolved_by,
            resolution: e.resolution,
        }
    }
}

#[derive(Deserialize, IntoParams)]
pub struct ExceptionsQuery {
    /// Only those not resolved yet.
    pub open: Option<bool>,
}

/// What reconciliation and the callbacks found that does not add up, newest first.
#[utoipa::path(tag = "payments", params(ExceptionsQuery), responses((status = 200, body = Vec<PaymentExceptionDto>), (status = 403, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/payment-exceptions")]
async fn list_payment_exceptions(
    ctx: web::Data<AppContext>,
    Staff(principal): Staff,
    query: web::Query<ExceptionsQuery>,
) -> ApiResult<web::Json<Vec<PaymentExceptionDto>>> {
    let rows = service::payments::exceptions::list(&ctx, &principal, query.open.unwrap_or(false)).await?;
    Ok(web::Json(rows.into_iter().map(Into::into).collect()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    /// What was done about it (1–200 characters); audited.
    pub resolution: String,
}

/// Mark an exception resolved.
#[utoipa::path(tag = "payments", params(("id" = i64, Path)), request_body = ResolveRequest, responses((status = 200, body = PaymentExceptionDto), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/payment-exceptions/{id}/resolve")]
async fn resolve_payment_exception(
    ctx: web::Data<AppContext>,
    Staff(principal): Staff,
    id: web::Path<i64>,
    body: Body<ResolveRequest>,
) -> ApiResult<web::Json<PaymentExceptionDto>> {
    let resolved = service::payments::exceptions::resolve(&ctx, &principal, id.into_inner(), &body.resolution).await?;
    Ok(web::Json(resolved.into()))
}

/// One local day's reconciliation with one provider.
#[derive(Serialize, ToSchema)]
pub struct ReconciliationDto {
    /// `wechatpay` or `alipay`.
    pub provider: String,
    /// The merchant's local day, `YYYY-MM-DD`.
    pub day: chrono::NaiveDate,
    /// `matched`, `differences` (listed as payment exceptions) or `failed` (see `error`).
    pub status: String,
    /// Rows in the provider's bill.
    pub provider_rows: i32,
    /// Our payments paid that day with this provider.
    pub our_payments: i32,
    pub our_paid_fen: Fen,
    pub their_paid_fen: Fen,
    pub our_refunded_fen: Fen,
    pub their_refunded_fen: Fen,
    /// Differences written to the payment exceptions list.
    pub exceptions: i32,
    pub error: Option<String>,
    pub ran_at: DateTime<Utc>,
}

impl From<service::payments::reconcile::Reconciliation> for ReconciliationDto {
    fn from(r: service::payments::reconcile::Reconciliation) -> Self {
        Self {
            provider: r.provider,
            day: r.day,
            status: r.status,
            provider_rows: r.provider_rows,
            our_payments: r.our_payments,
            our_paid_fen: r.our_paid,
            their_paid_fen: r.their_paid,
            our_refunded_fen: r.our_refunded,
            their_refunded_fen: r.their_refunded,
            exceptions: r.exceptions,
            error: r.error,
            ran_at: r.ran_at,
        }
    }
}

#[derive(Deserialize, IntoParams)]
pub struct ReconciliationsQuery {
    /// First local day, `YYYY-MM-DD`.
    pub from: chrono::NaiveDate,
    /// Last local day (included), at most a year after `from`.
    pub to: chrono::NaiveDate,
}

/// Each day's comparison of the providers' bills with our payments, newest day first (merchant-wide staff with the
/// refund permission).
#[utoipa::path(tag = "payments", params(ReconciliationsQuery), responses((status = 200, body = Vec<ReconciliationDto>), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/reconciliations")]
async fn list_reconciliations(
    ctx: web::Data<AppContext>,
    Staff(principal): Staff,
    query: web::Query<ReconciliationsQuery>,
) -> ApiResult<web::Json<Vec<ReconciliationDto>>> {
    let rows = service::payments::reconcile::list(&ctx, &principal, query.from, query.to).await?;
    Ok(web::Json(rows.into_iter().map(Into::into).collect()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunReconciliationRequest {
    /// A past local day within the last 90 days, `YYYY-MM-DD`.
    pub day: chrono::NaiveDate,
}

/// Reconcile a past day again, now, with every provider the merchant uses (after a provider was down at the daily
/// run, say); the answer is that day's reconciliations.
#[utoipa::path(tag = "payments", request_body = RunReconciliationRequest, responses((status = 200, body = Vec<ReconciliationDto>), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/reconciliations")]
async fn run_reconciliation(
    ctx: web::Data<AppContext>,
    Staff(principal): Staff,
    body: Body<RunReconciliationRequest>,
) -> ApiResult<web::Json<Vec<ReconciliationDto>>> {
    let rows = service::payments::reconcile::run(&ctx, &principal, body.day).await?;
    Ok(web::Json(rows.into_iter().map(Into::into).collect()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanRequest {
    /// What the scanner read.
    pub code: String,
}

#[derive(Serialize, ToSchema)]
pub struct ScanDto {
    /// `wechat_pay_code`, `alipay_code`, `member_code` or `product_barcode`.
    pub kind: String,
}

/// What a scan is, by its shape: a WeChat or Alipay payment code, a member code, or a product barcode. Anything
/// else is refused (422) with a message saying so.
#[utoipa::path(tag = "checkout", request_body = ScanRequest, responses((status = 200, body = ScanDto), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/scans/classify")]
async fn classify_scan(Staff(_staff): Staff, body: Body<ScanRequest>) -> ApiResult<web::Json<ScanDto>> {
    let kind = service::payments::counter::classify(&body.code)?;
    Ok(web::Json(ScanDto { kind: kind.as_str().to_owned() }))
}
