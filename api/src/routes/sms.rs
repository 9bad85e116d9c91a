//! Marketing by SMS and every send accounted for: the merchant's SMS account and approved templates (with a test
//! send), the send log per campaign and per member, members' consent records, the member's own consent switches,
//! and the receipts and replies Aliyun pushes.

use actix_web::{HttpResponse, get, post, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use service::AppContext;
use service::domain::{ConsentPurpose, SendChannel, SendStatus};
use service::marketing::sends::{self, LogFilter, Pushed, SendView};
use service::marketing::sms::{self, Limits, SmsAccount, SmsAccountInput, SmsTemplate, TemplateInput};
use service::members::consents::{self, Consent};

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Body, Member, Staff};
use crate::routes::members::ConsentDto;

pub fn staff_routes(cfg: &mut ServiceConfig) {
    cfg.service(get_sms_account)
        .service(set_sms_account)
        .service(list_sms_templates)
        .service(create_sms_template)
        .service(archive_sms_template)
        .service(test_sms_template)
        .service(list_campaign_sends)
        .service(list_member_sends)
        .service(list_member_consents)
        .service(record_member_consent);
}

pub fn mini_routes(cfg: &mut ServiceConfig) {
    cfg.service(list_my_consents).service(answer_my_consent);
}

pub fn callback_routes(cfg: &mut ServiceConfig) {
    cfg.service(receive_aliyun_sms_push);
}

#[derive(Serialize, ToSchema)]
pub struct SmsAccountDto {
    /// `aliyun` or `tencent`.
    pub provider: String,
    pub access_key_id: String,
    /// Tencent's SmsSdkAppId.
    pub app_id: Option<String>,
    /// The approved signature, without its brackets.
    pub sign_name: String,
    pub price_fen: i64,
    /// Aliyun: where to point its receipt and reply pushes (its console, 通用设置 → HTTP批量推送).
    pub report_url: Option<String>,
    pub reply_url: Option<String>,
    pub updated_at: DateTime<Utc>,
}

impl From<SmsAccount> for SmsAccountDto {
    fn from(a: SmsAccount) -> Self {
        Self {
            provider: a.provider,
            access_key_id: a.access_key_id,
            app_id: a.app_id,
            sign_name: a.sign_name,
            price_fen: a.price_fen,
            report_url: a.report_url,
            reply_url: a.reply_url,
            updated_at: a.updated_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct MarketingLimitsDto {
    /// Marketing messages a member receives at most per 7 days, across channels.
    pub weekly_cap: i32,
    /// Marketing SMS arrive between these minutes after midnight, in the member's store's zone.
    pub sms_from_min: i32,
    pub sms_until_min: i32,
}

impl From<Limits> for MarketingLimitsDto {
    fn from(l: Limits) -> Self {
        Self { weekly_cap: l.weekly_cap, sms_from_min: l.sms_from_min, sms_until_min: l.sms_until_min }
    }
}

#[derive(Serialize, ToSchema)]
pub struct SmsSettingsDto {
    /// None until the owner sets one.
    pub account: Option<SmsAccountDto>,
    pub limits: MarketingLimitsDto,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SmsAccountRequest {
    /// `aliyun` or `tencent`.
    pub provider: String,
    pub access_key_id: String,
    /// The AccessKey secret / SecretKey; leave out to keep the one set.
    #[serde(default)]
    pub secret: Option<String>,
    /// Tencent's SmsSdkAppId (required for Tencent).
    #[serde(default)]
    pub app_id: Option<String>,
    /// The approved signature, without brackets.
    pub sign_name: String,
    /// What one message costs, in fen (default 5).
    #[serde(default = "default_price")]
    pub price_fen: i64,
    /// 1–14 (default 3).
    #[serde(default = "default_cap")]
    pub weekly_cap: i32,
    /// Default 480 (08:00) and 1260 (21:00).
    #[serde(default = "default_from")]
    pub sms_from_min: i32,
    #[serde(default = "default_until")]
    pub sms_until_min: i32,
}

fn default_price() -> i64 {
    5
}
fn default_cap() -> i32 {
    3
}
fn default_from() -> i32 {
    8 * 60
}
fn default_until() -> i32 {
    21 * 60
}

/// The merchant's SMS account (never its secret) and the limits on marketing messages.
#[utoipa::path(tag = "marketing", responses((status = 200, body = SmsSettingsDto), (status = 403, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/sms/account")]
async fn get_sms_account(ctx: web::Data<AppContext>, Staff(me): Staff) -> ApiResult<web::Json<SmsSettingsDto>> {
    let (account, limits) = sms::account(&ctx, &me).await?;
    Ok(web::Json(SmsSettingsDto { account: account.map(Into::into), limits: limits.into() }))
}

/// Set the merchant's SMS account, sending hours and weekly cap (owners).
#[utoipa::path(tag = "marketing", request_body = SmsAccountRequest, responses((status = 200, body = SmsSettingsDto), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[put("/sms/account")]
async fn set_sms_account(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    body: Body<SmsAccountRequest>,
) -> ApiResult<web::Json<SmsSettingsDto>> {
    let r = body.into_inner();
    let input = SmsAccountInput {
        provider: r.provider,
        access_key_id: r.access_key_id,
        secret: r.secret,
        app_id: r.app_id,
        sign_name: r.sign_name,
        price_fen: r.price_fen,
        weekly_cap: r.weekly_cap,
        sms_from_min: r.sms_from_min,
        sms_until_min: r.sms_until_min,
    };
    sms::set_account(&ctx, &me, input).await?;
    let (account, limits) = sms::account(&ctx, &me).await?;
    Ok(web::Json(SmsSettingsDto { account: account.map(Into::into), limits: limits.into() }))
}

#[derive(Serialize, ToSchema)]
pub struct SmsTemplateDto {
    pub id: i64,
    pub name: String,
    /// The provider's template code (SMS_… / a Tencent template id).
    pub code: String,
    /// The approved text in the provider's syntax.
    pub body: String,
    /// Which of our values fill the variables, in order: `name`, `store`, `coupon`, `days`.
    pub variables: Vec<String>,
    /// The message as a member reads it, signature first, with sample values.
    pub preview: String,
    pub length: usize,
    /// Parts the provider bills (70 characters in one, 67 a part beyond).
    pub parts: usize,
    pub archived: bool,
    pub created_at: DateTime<Utc>,
}

impl From<SmsTemplate> for SmsTemplateDto {
    fn from(t: SmsTemplate) -> Self {
        Self {
            id: t.id,
            name: t.name,
            code: t.code,
            body: t.body,
            variables: t.variables,
            preview: t.preview,
            length: t.length,
            parts: t.parts,
            archived: t.archived,
            created_at: t.created_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SmsTemplateRequest {
    pub name: String,
    pub code: String,
    /// As approved, with the unsubscribe words (回T退订 / 回TD退订) and without the signature.
    pub body: String,
    #[serde(default)]
    pub variables: Vec<String>,
}

/// The SMS templates recorded for the merchant, newest first.
#[utoipa::path(tag = "marketing", responses((status = 200, body = Vec<SmsTemplateDto>), (status = 403, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/sms/templates")]
async fn list_sms_templates(ctx: web::Data<AppContext>, Staff(me): Staff) -> ApiResult<web::Json<Vec<SmsTemplateDto>>> {
    Ok(web::Json(sms::templates(&ctx, &me).await?.into_iter().map(Into::into).collect()))
}

/// Record a template the provider approved.
#[utoipa::path(tag = "marketing", request_body = SmsTemplateRequest, responses((status = 201, body = SmsTemplateDto), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/sms/templates")]
async fn create_sms_template(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    body: Body<SmsTemplateRequest>,
) -> ApiResult<HttpResponse> {
    let r = body.into_inner();
    let input = TemplateInput { name: r.name, code: r.code, body: r.body, variables: r.variables };
    Ok(HttpResponse::Created().json(SmsTemplateDto::from(sms::create_template(&ctx, &me, input).await?)))
}

/// Take a template out of the pickers (campaigns that carry it still send it).
#[utoipa::path(tag = "marketing", params(("id" = i64, Path)), responses((status = 200, body = SmsTemplateDto), (status = 404, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/sms/templates/{id}/archive")]
async fn archive_sms_template(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
) -> ApiResult<web::Json<SmsTemplateDto>> {
    Ok(web::Json(sms::archive_template(&ctx, &me, id.into_inner()).await?.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestSendRequest {
    /// A staff phone (11 digits).
    pub phone: String,
}

#[derive(Serialize, ToSchema)]
pub struct TestSendDto {
    /// The text sent, with sample values.
    pub text: String,
    pub sent: bool,
    pub provider_id: Option<String>,
    /// The provider's code and words when it refused.
    pub error_code: Option<String>,
    pub error_message: Option<String>,
}

/// Send a template once to a staff phone, with sample values.
#[utoipa::path(tag = "marketing", params(("id" = i64, Path)), request_body = TestSendRequest, responses((status = 200, body = TestSendDto), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/sms/templates/{id}/test")]
async fn test_sms_template(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
    body: Body<TestSendRequest>,
) -> ApiResult<web::Json<TestSendDto>> {
    let sent = sms::test_send(&ctx, &me, id.into_inner(), &body.into_inner().phone).await?;
    let (error_code, error_message) = sent.error.unzip();
    Ok(web::Json(TestSendDto {
        text: sent.text,
        sent: sent.provider_id.is_some(),
        provider_id: sent.provider_id,
        error_code,
        error_message,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct SendDto {
    pub id: i64,
    pub campaign_id: i64,
    pub campaign_name: String,
    pub member_id: i64,
    /// Masked.
    pub phone: Option<String>,
    pub channel: SendChannel,
    pub status: SendStatus,
    /// Why it was skipped, held or failed: `no_consent`, `sms_opted_out`, `personalisation_refused`, `weekly_cap`,
    /// `quiet_hours` (held until the hours open), `no_phone`, `no_sms_account`, `member_gone`, `throttled`,
    /// `answer_lost` (looked up before any retry), or the provider's or carrier's code.
    pub reason: Option<String>,
    pub detail: Option<String>,
    pub attempts: i32,
    pub planned_at: DateTime<Utc>,
    /// Not sent before this time.
    pub not_before: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
}

impl From<SendView> for SendDto {
    fn from(s: SendView) -> Self {
        Self {
            id: s.id,
            campaign_id: s.campaign_id,
            campaign_name: s.campaign_name,
            member_id: s.member_id,
            phone: s.phone,
            channel: s.channel,
            status: s.status,
            reason: s.reason,
            detail: s.detail,
            attempts: s.attempts,
            planned_at: s.planned_at,
            not_before: s.not_before,
            sent_at: s.sent_at,
            delivered_at: s.delivered_at,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SendQuery {
    pub channel: Option<SendChannel>,
    pub status: Option<SendStatus>,
    /// Rows older than this id (the last id of the previous page).
    pub before_id: Option<i64>,
    /// 1–200, default 50.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
}

impl SendQuery {
    fn filter(self, campaign_id: Option<i64>, member_id: Option<i64>) -> Result<LogFilter, service::Error> {
        let limit = self.limit.unwrap_or(50);
        if !(1..=200).contains(&limit) {
            return Err(service::Error::invalid("limit", "must be 1–200"));
        }
        Ok(LogFilter {
            campaign_id,
            member_id,
            channel: self.channel,
            status: self.status,
            before_id: self.before_id,
            limit,
        })
    }
}

/// A campaign's send log: each member's message per channel and where it stands, newest first.
#[utoipa::path(tag = "marketing", params(("id" = i64, Path), SendQuery), responses((status = 200, body = Vec<SendDto>), (status = 403, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/campaigns/{id}/sends")]
async fn list_campaign_sends(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
    query: web::Query<SendQuery>,
) -> ApiResult<web::Json<Vec<SendDto>>> {
    let filter = query.into_inner().filter(Some(id.into_inner()), None)?;
    Ok(web::Json(sends::log(&ctx, &me, filter).await?.into_iter().map(Into::into).collect()))
}

/// What marketing sent one member, across campaigns, newest first.
#[utoipa::path(tag = "marketing", params(("id" = i64, Path), SendQuery), responses((status = 200, body = Vec<SendDto>), (status = 403, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/members/{id}/marketing-sends")]
async fn list_member_sends(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
    query: web::Query<SendQuery>,
) -> ApiResult<web::Json<Vec<SendDto>>> {
    let filter = query.into_inner().filter(None, Some(id.into_inner()))?;
    Ok(web::Json(sends::log(&ctx, &me, filter).await?.into_iter().map(Into::into).collect()))
}

/// A member's consent record: every answer, oldest first, never overwritten.
#[utoipa::path(tag = "members", params(("id" = i64, Path)), responses((status = 200, body = Vec<ConsentDto>), (status = 404, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/members/{id}/consents")]
async fn list_member_consents(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
) -> ApiResult<web::Json<Vec<ConsentDto>>> {
    Ok(web::Json(consents::record_of(&ctx, &me, id.into_inner()).await?.into_iter().map(Into::into).collect()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentRequest {
    pub purpose: ConsentPurpose,
    pub granted: bool,
}

/// Record an answer the member gave staff (at the desk, on the phone); who recorded it is kept.
#[utoipa::path(tag = "members", params(("id" = i64, Path)), request_body = ConsentRequest, responses((status = 201, body = ConsentDto), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/members/{id}/consents")]
async fn record_member_consent(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
    body: Body<ConsentRequest>,
) -> ApiResult<HttpResponse> {
    let r = body.into_inner();
    let consent = consents::record_for_member(&ctx, &me, id.into_inner(), r.purpose, r.granted).await?;
    Ok(HttpResponse::Created().json(ConsentDto::from(consent)))
}

#[derive(Serialize, ToSchema)]
pub struct MyConsentDto {
    pub purpose: ConsentPurpose,
    /// The sentence the switch shows.
    pub wording: String,
    /// My answer in force; none when never asked.
    pub answer: Option<ConsentDto>,
}

fn my_consents(mut answers: std::collections::HashMap<ConsentPurpose, Consent>) -> Vec<MyConsentDto> {
    ConsentPurpose::ALL
        .iter()
        .map(|&purpose| MyConsentDto {
            purpose,
            wording: consents::wording(purpose).to_owned(),
            answer: answers.remove(&purpose).map(Into::into),
        })
        .collect()
}

/// My answers about marketing: at all, by SMS, and personalised.
#[utoipa::path(tag = "me", responses((status = 200, body = Vec<MyConsentDto>)), security(("member_token" = [])))]
#[get("/me/consents")]
async fn list_my_consents(ctx: web::Data<AppContext>, Member(me): Member) -> ApiResult<web::Json<Vec<MyConsentDto>>> {
    Ok(web::Json(my_consents(consents::mine_all(&ctx, &me).await?)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MyConsentRequest {
    pub granted: bool,
}

/// Answer one of them (as easily withdrawn as given).
#[utoipa::path(tag = "me", params(("purpose" = ConsentPurpose, Path)), request_body = MyConsentRequest, responses((status = 200, body = Vec<MyConsentDto>), (status = 404, body = ErrorBody)), security(("member_token" = [])))]
#[put("/me/consents/{purpose}")]
async fn answer_my_consent(
    ctx: web::Data<AppContext>,
    Member(me): Member,
    purpose: web::Path<String>,
    body: Body<MyConsentRequest>,
) -> ApiResult<web::Json<Vec<MyConsentDto>>> {
    let purpose = ConsentPurpose::parse(&purpose.into_inner()).ok_or(service::Error::NotFound("consent purpose"))?;
    consents::answer(&ctx, &me, purpose, body.into_inner().granted).await?;
    Ok(web::Json(my_consents(consents::mine_all(&ctx, &me).await?)))
}

/// Aliyun's HTTP push of delivery receipts (`report`) and members' replies (`reply`) for the account the token
/// names. Answered `{"code":0}` when taken; anything else makes Aliyun push again.
#[utoipa::path(tag = "callbacks", params(("token" = String, Path), ("kind" = String, Path)), request_body(content = String, content_type = "application/json"), responses((status = 200, body = Object), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/callbacks/sms/aliyun/{token}/{kind}")]
async fn receive_aliyun_sms_push(
    ctx: web::Data<AppContext>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> ApiResult<HttpResponse> {
    let (token, kind) = path.into_inner();
    let kind = match kind.as_str() {
        "report" => Pushed::Report,
        "reply" => Pushed::Reply,
        _ => return Err(service::Error::NotFound("push kind").into()),
    };
    sends::pushed(&ctx, &token, kind, &body).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "code": 0, "msg": "成功" })))
}
