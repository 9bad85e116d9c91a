use actix_web::{get, patch, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use service::AppContext;
use service::merchants::ChannelSettings;

use crate::error::{ApiResult, ErrorBody};
use crate::extract::Staff;

pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(get_merchant).service(update_merchant);
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

#[utoipa::path(tag = "merchant", responses((status = 200, body = MerchantDto)), security(("staff_token" = [])))]
#[get("/merchant")]
async fn get_merchant(ctx: web::Data<AppContext>, Staff(me): Staff) -> ApiResult<web::Json<MerchantDto>> {
    Ok(web::Json(service::merchants::get(&ctx, me.merchant_id).await?.into()))
}

/// Rename the brand or configure its mini-program credentials (owners).
#[utoipa::path(tag = "merchant", request_body = UpdateMerchantRequest, responses((status = 200, body = MerchantDto), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[patch("/merchant")]
async fn update_merchant(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    body: web::Json<UpdateMerchantRequest>,
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
    Ok(web::Json(service::merchants::update(&ctx, &me, input).await?.into()))
}
