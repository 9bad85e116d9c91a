//! The member API behind the WeChat/Alipay mini-program.

use actix_web::{HttpResponse, delete, get, patch, post, put, web};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use service::AppContext;
use service::domain::Gender;
use service::foundation::audit::Actor;
use service::members::auth::MemberSignedIn;
use service::members::{MemberInput, consents};

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Body, Member};
use crate::routes::catalog::ServiceItemDto;
use crate::routes::count_cards::CountCardDto;
use crate::routes::members::{AllergyDto, AllergyRequest, ConsentDto, MemberDto};
use crate::routes::points::PointsDto;
use crate::routes::stores::StoreDto;
use crate::routes::visits::MemberBillDto;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(create_wechat_session)
        .service(create_alipay_session)
        .service(create_sandbox_session)
        .service(delete_member_session)
        .service(get_my_profile)
        .service(update_my_profile)
        .service(bind_my_phone)
        .service(get_my_member_code)
        .service(export_my_data)
        .service(request_my_deletion)
        .service(list_open_stores)
        .service(list_menu_services)
        .service(get_my_points)
        .service(list_my_count_cards)
        .service(list_my_bills_to_confirm)
        .service(confirm_my_bill)
        .service(get_my_marketing_consent)
        .service(answer_my_marketing_consent)
        .service(report_my_allergy)
        .service(withdraw_my_allergy);
}

#[derive(Serialize, ToSchema)]
pub struct MemberSessionResponse {
    /// Bearer token for `Authorization: Bearer …`.
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub member_id: i64,
    pub merchant_id: i64,
    /// True when this sign-in registered the member.
    pub created: bool,
}

impl From<MemberSignedIn> for MemberSessionResponse {
    fn from(s: MemberSignedIn) -> Self {
        Self {
            token: s.token.expose().to_owned(),
            expires_at: s.expires_at,
            member_id: s.member_id,
            merchant_id: s.merchant_id,
            created: s.created,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WechatSignIn {
    /// The mini-program's appid (identifies the merchant).
    pub appid: String,
    /// The code from `wx.login`.
    pub code: String,
}

/// Sign in with WeChat (`code2Session`); registers the member on first sign-in.
#[utoipa::path(tag = "member sessions", request_body = WechatSignIn, responses((status = 200, body = MemberSessionResponse), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 502, body = ErrorBody)))]
#[post("/sessions/wechat")]
async fn create_wechat_session(
    ctx: web::Data<AppContext>,
    body: Body<WechatSignIn>,
) -> ApiResult<web::Json<MemberSessionResponse>> {
    Ok(web::Json(service::members::auth::sign_in_wechat(&ctx, &body.appid, &body.code).await?.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlipaySignIn {
    pub appid: String,
    /// The authCode from `my.getAuthCode`.
    pub auth_code: String,
}

/// Sign in with Alipay (`alipay.system.oauth.token`).
#[utoipa::path(tag = "member sessions", request_body = AlipaySignIn, responses((status = 200, body = MemberSessionResponse), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 502, body = ErrorBody)))]
#[post("/sessions/alipay")]
async fn create_alipay_session(
    ctx: web::Data<AppContext>,
    body: Body<AlipaySignIn>,
) -> ApiResult<web::Json<MemberSessionResponse>> {
    Ok(web::Json(service::members::auth::sign_in_alipay(&ctx, &body.appid, &body.auth_code).await?.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SandboxSignIn {
    pub merchant_id: i64,
    /// Any name: the same name is the same member.
    #[schema(example = "alice")]
    pub user: String,
}

/// Development only: sign in as a sandbox user, no WeChat needed (refused in production).
#[utoipa::path(tag = "member sessions", request_body = SandboxSignIn, responses((status = 200, body = MemberSessionResponse), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[post("/sessions/sandbox")]
async fn create_sandbox_session(
    ctx: web::Data<AppContext>,
    body: Body<SandboxSignIn>,
) -> ApiResult<web::Json<MemberSessionResponse>> {
    Ok(web::Json(service::members::auth::sign_in_sandbox(&ctx, body.merchant_id, &body.user).await?.into()))
}

/// Signs the member out: the session token stops working.
#[utoipa::path(tag = "member sessions", responses((status = 204), (status = 401, body = ErrorBody)), security(("member_token" = [])))]
#[delete("/sessions/current")]
async fn delete_member_session(ctx: web::Data<AppContext>, Member(me): Member) -> ApiResult<HttpResponse> {
    service::members::auth::sign_out(&ctx, &me).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// My profile.
#[utoipa::path(tag = "me", responses((status = 200, body = MemberDto), (status = 401, body = ErrorBody)), security(("member_token" = [])))]
#[get("/me")]
async fn get_my_profile(ctx: web::Data<AppContext>, Member(me): Member) -> ApiResult<web::Json<MemberDto>> {
    Ok(web::Json(service::members::own(&ctx, me.merchant_id, me.member_id).await?.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileRequest {
    pub nickname: Option<String>,
    pub name: Option<String>,
    pub gender: Option<Gender>,
    pub birthday: Option<NaiveDate>,
    #[schema(value_type = Option<Object>)]
    pub preferences: Option<serde_json::Value>,
}

/// Changes the signed-in member's nickname, name, gender, birthday or preferences.
#[utoipa::path(tag = "me", request_body = ProfileRequest, responses((status = 200, body = MemberDto), (status = 422, body = ErrorBody)), security(("member_token" = [])))]
#[patch("/me")]
async fn update_my_profile(
    ctx: web::Data<AppContext>,
    Member(me): Member,
    body: Body<ProfileRequest>,
) -> ApiResult<web::Json<MemberDto>> {
    let b = body.into_inner();
    let input = MemberInput {
        nickname: b.nickname,
        name: b.name,
        gender: b.gender,
        birthday: b.birthday,
        preferences: b.preferences,
        ..MemberInput::default()
    };
    Ok(web::Json(service::members::update_own(&ctx, me.merchant_id, me.member_id, input).await?.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BindPhoneRequest {
    /// The code from a `button open-type="getPhoneNumber"` tap.
    pub code: String,
}

/// Bind my phone number from WeChat. If the store already registered me by that number, my WeChat account joins
/// that membership.
#[utoipa::path(tag = "me", request_body = BindPhoneRequest, responses((status = 200, body = MemberDto), (status = 400, body = ErrorBody), (status = 409, body = ErrorBody)), security(("member_token" = [])))]
#[post("/me/phone")]
async fn bind_my_phone(
    ctx: web::Data<AppContext>,
    Member(me): Member,
    body: Body<BindPhoneRequest>,
) -> ApiResult<web::Json<MemberDto>> {
    let member_id = service::members::auth::bind_phone_wechat(&ctx, &me, &body.code).await?;
    Ok(web::Json(service::members::own(&ctx, me.merchant_id, member_id).await?.into()))
}

#[derive(Serialize, ToSchema)]
pub struct MemberCodeDto {
    /// Show as a QR code; staff scan it to open the member.
    #[schema(example = "HYAEAAAAAAAAAAAKGR2VEWAAN3BR5B6L6CSO4")]
    pub code: String,
    pub expires_at: DateTime<Utc>,
    /// Fetch a new code after this many seconds.
    pub refresh_after_secs: i64,
}

/// My dynamic member code (valid 30–60 s).
#[utoipa::path(tag = "me", responses((status = 200, body = MemberCodeDto), (status = 401, body = ErrorBody)), security(("member_token" = [])))]
#[get("/me/member-code")]
async fn get_my_member_code(ctx: web::Data<AppContext>, Member(me): Member) -> ApiResult<web::Json<MemberCodeDto>> {
    let (code, expires_at) = service::members::auth::issue_member_code(&ctx, &me).await?;
    Ok(web::Json(MemberCodeDto {
        code: code.as_str().to_owned(),
        expires_at,
        refresh_after_secs: ctx.settings.auth.member_code_ttl_secs / 2,
    }))
}

/// Everything held about me, as JSON.
#[utoipa::path(tag = "me", responses((status = 200, body = Object)), security(("member_token" = [])))]
#[get("/me/export")]
async fn export_my_data(ctx: web::Data<AppContext>, Member(me): Member) -> ApiResult<web::Json<serde_json::Value>> {
    Ok(web::Json(service::members::privacy::export(&ctx, me.merchant_id, me.member_id).await?))
}

/// Delete my personal data. My sessions end; money records are kept anonymously.
#[utoipa::path(tag = "me", responses((status = 204), (status = 409, body = ErrorBody)), security(("member_token" = [])))]
#[post("/me/deletion")]
async fn request_my_deletion(ctx: web::Data<AppContext>, Member(me): Member) -> ApiResult<HttpResponse> {
    service::members::privacy::anonymise(&ctx, me.merchant_id, me.member_id, Actor::Member(me.member_id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The merchant's open stores.
#[utoipa::path(tag = "me", responses((status = 200, body = Vec<StoreDto>)), security(("member_token" = [])))]
#[get("/stores")]
async fn list_open_stores(ctx: web::Data<AppContext>, Member(me): Member) -> ApiResult<web::Json<Vec<StoreDto>>> {
    Ok(web::Json(
        service::foundation::stores::list_open(&ctx, me.merchant_id).await?.into_iter().map(StoreDto::from).collect(),
    ))
}

/// The service menu (active items).
#[utoipa::path(tag = "me", responses((status = 200, body = Vec<ServiceItemDto>)), security(("member_token" = [])))]
#[get("/services")]
async fn list_menu_services(
    ctx: web::Data<AppContext>,
    Member(me): Member,
) -> ApiResult<web::Json<Vec<ServiceItemDto>>> {
    Ok(web::Json(
        service::foundation::catalog::list(&ctx, me.merchant_id, true)
            .await?
            .into_iter()
            .map(ServiceItemDto::from)
            .collect(),
    ))
}

/// My points and when they expire.
#[utoipa::path(tag = "me", responses((status = 200, body = PointsDto)), security(("member_token" = [])))]
#[get("/me/points")]
async fn get_my_points(ctx: web::Data<AppContext>, Member(me): Member) -> ApiResult<web::Json<PointsDto>> {
    Ok(web::Json(service::loyalty::points::own(&ctx, me.member_id).await?.into()))
}

/// My count cards (次卡) and their sessions left.
#[utoipa::path(tag = "me", responses((status = 200, body = Vec<CountCardDto>)), security(("member_token" = [])))]
#[get("/me/count-cards")]
async fn list_my_count_cards(
    ctx: web::Data<AppContext>,
    Member(me): Member,
) -> ApiResult<web::Json<Vec<CountCardDto>>> {
    let cards = service::cards::count_cards::own(&ctx, me.merchant_id, me.member_id).await?;
    Ok(web::Json(cards.into_iter().map(Into::into).collect()))
}

/// Bills the store parked for me to confirm (a large stored-value or count-card debit).
#[utoipa::path(tag = "me", responses((status = 200, body = Vec<MemberBillDto>)), security(("member_token" = [])))]
#[get("/me/bills/to-confirm")]
async fn list_my_bills_to_confirm(
    ctx: web::Data<AppContext>,
    Member(me): Member,
) -> ApiResult<web::Json<Vec<MemberBillDto>>> {
    let bills = service::checkout::bills::pending_confirmations(&ctx, me.merchant_id, me.member_id).await?;
    Ok(web::Json(bills.into_iter().map(Into::into).collect()))
}

/// What the member saw when they confirmed.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmBillRequest {
    /// The bill's `confirmation_digest` as it was shown to me.
    pub confirmation_digest: String,
}

/// Confirm a parked bill of mine as I was shown it: the cashier can then settle it once with my stored value or
/// count cards. If the bill changed since I opened it, nothing is confirmed (`bill_changed`): I look at it again.
#[utoipa::path(tag = "me", params(("id" = i64, Path)), request_body = ConfirmBillRequest, responses((status = 200, body = MemberBillDto), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "The bill changed since I opened it (`bill_changed`), or is no longer parked (`bill_state`).")), security(("member_token" = [])))]
#[post("/me/bills/{id}/confirm")]
async fn confirm_my_bill(
    ctx: web::Data<AppContext>,
    Member(me): Member,
    id: web::Path<i64>,
    body: Body<ConfirmBillRequest>,
) -> ApiResult<web::Json<MemberBillDto>> {
    let digest = &body.confirmation_digest;
    let bill = service::checkout::bills::confirm_by_member(&ctx, me.merchant_id, me.member_id, id.into_inner(), digest)
        .await?;
    Ok(web::Json(bill.into()))
}

#[derive(Serialize, ToSchema)]
pub struct MarketingConsentDto {
    /// The sentence to show next to the switch; it is kept with the answer.
    pub wording: String,
    /// My answer in force; absent when I was never asked (no messages are sent).
    pub answer: Option<ConsentDto>,
}

impl MarketingConsentDto {
    fn of(answer: Option<service::members::Consent>) -> Self {
        Self { wording: consents::MARKETING_WORDING.to_owned(), answer: answer.map(ConsentDto::from) }
    }
}

/// Whether I receive marketing messages, and the wording I am asked with.
#[utoipa::path(tag = "me", responses((status = 200, body = MarketingConsentDto)), security(("member_token" = [])))]
#[get("/me/marketing-consent")]
async fn get_my_marketing_consent(
    ctx: web::Data<AppContext>,
    Member(me): Member,
) -> ApiResult<web::Json<MarketingConsentDto>> {
    Ok(web::Json(MarketingConsentDto::of(consents::mine(&ctx, &me).await?)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MarketingConsentRequest {
    pub granted: bool,
}

/// Agree to or withdraw from marketing messages; kept with when, through which app and the wording shown.
#[utoipa::path(tag = "me", request_body = MarketingConsentRequest, responses((status = 200, body = MarketingConsentDto)), security(("member_token" = [])))]
#[put("/me/marketing-consent")]
async fn answer_my_marketing_consent(
    ctx: web::Data<AppContext>,
    Member(me): Member,
    body: Body<MarketingConsentRequest>,
) -> ApiResult<web::Json<MarketingConsentDto>> {
    let answer = consents::answer_marketing(&ctx, &me, body.granted).await?;
    Ok(web::Json(MarketingConsentDto::of(Some(answer))))
}

/// Tell the store of an allergy or contraindication; staff see it at the desk and when they book my services.
#[utoipa::path(tag = "me", request_body = AllergyRequest, responses((status = 201, body = AllergyDto), (status = 422, body = ErrorBody)), security(("member_token" = [])))]
#[post("/me/allergies")]
async fn report_my_allergy(
    ctx: web::Data<AppContext>,
    Member(me): Member,
    body: Body<AllergyRequest>,
) -> ApiResult<HttpResponse> {
    let allergy =
        service::members::allergies::report_own(&ctx, &me, &body.substance, body.severity, body.note.as_deref())
            .await?;
    Ok(HttpResponse::Created().json(AllergyDto::from(allergy)))
}

/// Withdraw a note I told in the app (notes the store recorded stay; ask the store about those).
#[utoipa::path(tag = "me", params(("id" = i64, Path)), responses((status = 204), (status = 404, body = ErrorBody)), security(("member_token" = [])))]
#[delete("/me/allergies/{id}")]
async fn withdraw_my_allergy(
    ctx: web::Data<AppContext>,
    Member(me): Member,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    service::members::allergies::withdraw_own(&ctx, &me, id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}
