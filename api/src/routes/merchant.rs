use actix_web::{get, patch, put, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use service::AppContext;
use service::domain::Fen;
use service::foundation::merchants::{ChannelSettings, LoyaltyInput, LoyaltySettings};

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Body, Staff};
use crate::routes::schedules::ReminderTemplateDto;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(get_merchant)
        .service(update_merchant)
        .service(get_loyalty_settings)
        .service(update_loyalty_settings)
        .service(get_points_expiry_notice)
        .service(set_points_expiry_notice);
}

/// The merchant (brand). Secrets are never returned, only whether they are configured.
#[derive(Serialize, ToSchema)]
pub struct MerchantDto {
    pub id: i64,
    pub name: String,
    pub code: String,
    pub timezone: String,
    pub wechat_appid: Option<String>,
    pub wechat_secret_configured: bool,
    pub alipay_appid: Option<String>,
    pub alipay_keys_configured: bool,
    /// How a stored-value debit splits between principal and bonus.
    #[schema(example = "proportional")]
    pub sv_split_rule: String,
}

impl From<entity::merchants::Model> for MerchantDto {
    fn from(m: entity::merchants::Model) -> Self {
        Self {
            id: m.id,
            name: m.name,
            code: m.code,
            timezone: m.timezone,
            wechat_appid: m.wechat_appid,
            wechat_secret_configured: m.wechat_secret_sealed.is_some(),
            alipay_appid: m.alipay_appid,
            alipay_keys_configured: m.alipay_private_key_sealed.is_some() && m.alipay_public_key.is_some(),
            sv_split_rule: m.sv_split_rule,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMerchantRequest {
    pub name: Option<String>,
    pub timezone: Option<String>,
    pub wechat_appid: Option<String>,
    /// The mini-program AppSecret; stored sealed, never returned.
    pub wechat_secret: Option<String>,
    pub alipay_appid: Option<String>,
    /// The Alipay application private key (PEM); stored sealed, never returned.
    pub alipay_private_key: Option<String>,
    /// Alipay's public key (PEM).
    pub alipay_public_key: Option<String>,
    /// `proportional` (default), `principal_first` or `bonus_first`.
    pub sv_split_rule: Option<String>,
}

/// The signed-in staff member's merchant and its settings.
#[utoipa::path(tag = "merchant", responses((status = 200, body = MerchantDto)), security(("staff_token" = [])))]
#[get("/merchant")]
async fn get_merchant(ctx: web::Data<AppContext>, Staff(me): Staff) -> ApiResult<web::Json<MerchantDto>> {
    Ok(web::Json(service::foundation::merchants::get(&ctx, me.merchant_id).await?.into()))
}

/// Rename the brand or configure its mini-program credentials (owners).
#[utoipa::path(tag = "merchant", request_body = UpdateMerchantRequest, responses((status = 200, body = MerchantDto), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[patch("/merchant")]
async fn update_merchant(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    body: Body<UpdateMerchantRequest>,
) -> ApiResult<web::Json<MerchantDto>> {
    let b = body.into_inner();
    let input = ChannelSettings {
        name: b.name,
        timezone: b.timezone,
        wechat_appid: b.wechat_appid,
        wechat_secret: b.wechat_secret,
        alipay_appid: b.alipay_appid,
        alipay_private_key: b.alipay_private_key,
        alipay_public_key: b.alipay_public_key,
        sv_split_rule: b.sv_split_rule,
    };
    Ok(web::Json(service::foundation::merchants::update(&ctx, &me, input).await?.into()))
}

/// How the merchant runs points, levels and member confirmation.
#[derive(Serialize, ToSchema)]
pub struct LoyaltySettingsDto {
    /// Points earned per whole yuan actually paid.
    pub points_per_yuan: i32,
    /// Points that make ￥1 of offset at checkout; 0: redemption is off.
    pub points_per_yuan_offset: i32,
    /// Days earned points stay valid.
    pub points_validity_days: i32,
    /// Item categories that earn no points.
    pub points_excluded_categories: Vec<String>,
    /// What level thresholds count: `spend` or `recharge`.
    #[schema(example = "spend")]
    pub level_basis: String,
    /// `never`, or `annual` (a member whose last 12 months fall below their level moves down).
    #[schema(example = "never")]
    pub level_downgrade: String,
    /// Stored-value or count-card debits above this (fen) need the member's confirmation; null: never.
    pub confirm_threshold_fen: Option<Fen>,
    /// What becomes of value left on an expired stored-value or count card: `never` (it stays owed to the member)
    /// or `at_expiry` (recognised as breakage income by the nightly job).
    #[schema(example = "never")]
    pub breakage_policy: String,
}

impl From<LoyaltySettings> for LoyaltySettingsDto {
    fn from(s: LoyaltySettings) -> Self {
        Self {
            points_per_yuan: s.points_per_yuan,
            points_per_yuan_offset: s.points_per_yuan_offset,
            points_validity_days: s.points_validity_days,
            points_excluded_categories: s.points_excluded_categories,
            level_basis: s.level_basis,
            level_downgrade: s.level_downgrade,
            confirm_threshold_fen: s.confirm_threshold_fen,
            breakage_policy: s.breakage_policy,
        }
    }
}

/// Fields left out stay as they are.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateLoyaltyRequest {
    /// 0–100.
    pub points_per_yuan: Option<i32>,
    /// 0–100000; 0 turns redemption off.
    pub points_per_yuan_offset: Option<i32>,
    /// 1–3650.
    pub points_validity_days: Option<i32>,
    /// At most 50 categories of 1–40 characters.
    pub points_excluded_categories: Option<Vec<String>>,
    /// `spend` or `recharge`.
    pub level_basis: Option<String>,
    /// `never` or `annual`.
    pub level_downgrade: Option<String>,
    /// 0 to 100,000,000 fen, or null to turn member confirmation off.
    #[serde(default, deserialize_with = "crate::extract::explicit_null")]
    #[schema(value_type = Option<i64>)]
    pub confirm_threshold_fen: Option<Option<i64>>,
    /// `never` or `at_expiry`.
    pub breakage_policy: Option<String>,
}

/// The merchant's points rule: how points are earned, offset and expire.
#[utoipa::path(tag = "merchant", responses((status = 200, body = LoyaltySettingsDto)), security(("staff_token" = [])))]
#[get("/merchant/loyalty")]
async fn get_loyalty_settings(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
) -> ApiResult<web::Json<LoyaltySettingsDto>> {
    Ok(web::Json(service::foundation::merchants::loyalty(&ctx, &me).await?.into()))
}

/// Change the points, level and confirmation settings (owners; audited).
#[utoipa::path(tag = "merchant", request_body = UpdateLoyaltyRequest, responses((status = 200, body = LoyaltySettingsDto), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[patch("/merchant/loyalty")]
async fn update_loyalty_settings(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    body: Body<UpdateLoyaltyRequest>,
) -> ApiResult<web::Json<LoyaltySettingsDto>> {
    let b = body.into_inner();
    let input = LoyaltyInput {
        points_per_yuan: b.points_per_yuan,
        points_per_yuan_offset: b.points_per_yuan_offset,
        points_validity_days: b.points_validity_days,
        points_excluded_categories: b.points_excluded_categories,
        level_basis: b.level_basis,
        level_downgrade: b.level_downgrade,
        confirm_threshold_fen: b.confirm_threshold_fen,
        breakage_policy: b.breakage_policy,
    };
    Ok(web::Json(service::foundation::merchants::update_loyalty(&ctx, &me, input).await?.into()))
}

/// The WeChat subscribe-message template of the "points expiring soon" notice, if one is set. Its fields are
/// filled from `points` (expiring), `expires_on`, `available`, `member` or `note`.
#[utoipa::path(tag = "merchant", responses((status = 200, body = Option<ReminderTemplateDto>)), security(("staff_token" = [])))]
#[get("/merchant/points-expiry-notice")]
async fn get_points_expiry_notice(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
) -> ApiResult<web::Json<Option<ReminderTemplateDto>>> {
    let merchant = service::foundation::merchants::get(&ctx, me.merchant_id).await?;
    Ok(web::Json(service::booking::reminders::points_template_of(&merchant).map(ReminderTemplateDto::from)))
}

/// Sets the template of the "points expiring soon" notice (owners); null stops the notice. Members who accept it in
/// the mini-program hear, 7 days ahead, of points about to expire.
#[utoipa::path(tag = "merchant", request_body = Option<ReminderTemplateDto>, responses((status = 200, body = Option<ReminderTemplateDto>), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[put("/merchant/points-expiry-notice")]
async fn set_points_expiry_notice(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    body: Body<Option<ReminderTemplateDto>>,
) -> ApiResult<web::Json<Option<ReminderTemplateDto>>> {
    let template = body.into_inner().map(ReminderTemplateDto::into_template);
    let set = service::booking::reminders::set_points_template(&ctx, &me, template).await?;
    Ok(web::Json(set.map(ReminderTemplateDto::from)))
}
