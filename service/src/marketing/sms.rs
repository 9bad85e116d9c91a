//! A merchant's SMS: its provider account (set by the owner, secret sealed, never shown again) with the approved
//! signature (【签名】) every message starts with, the hours marketing SMS may arrive and the weekly cap across
//! channels; and the templates the provider approved, which campaigns send.
//!
//! A marketing template must carry the unsubscribe words (Aliyun "回T退订", Tencent "TD"/"T"/"N"): the provider
//! refuses one without, and the law wants every marketing message to say how to refuse. Its variables are filled
//! from what we know, in the provider's syntax: Aliyun names them (`${name}`), Tencent numbers them (`{1}`).

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::json;

use entity::{merchants, sms_accounts, sms_templates};

use super::checked_text;
use crate::domain::Permission;
use crate::foundation::audit;
use crate::foundation::principal::StaffPrincipal;
use crate::foundation::vault::Field;
use crate::integrations::sms::{Account, Provider};
use crate::{AppContext, Error, Result};

/// The values a template may use, with what a preview shows for each.
pub const VALUES: [(&str, &str); 4] =
    [("name", "王女士"), ("store", "悦发沙龙"), ("coupon", "满100减20券"), ("days", "30")];

/// One message's length limit before it is split (the signature counts); longer ones go in parts of 67.
const SINGLE: usize = 70;
const PART: usize = 67;

#[derive(Clone, Debug)]
pub struct SmsAccountInput {
    pub provider: String,
    pub access_key_id: String,
    /// None keeps the secret already set.
    pub secret: Option<String>,
    pub app_id: Option<String>,
    pub sign_name: String,
    pub price_fen: i64,
    pub weekly_cap: i32,
    /// Minutes after midnight, in the member's store's zone.
    pub sms_from_min: i32,
    pub sms_until_min: i32,
}

/// The account as staff see it: never the secret.
#[derive(Clone, Debug)]
pub struct SmsAccount {
    pub provider: String,
    pub access_key_id: String,
    pub app_id: Option<String>,
    pub sign_name: String,
    pub price_fen: i64,
    /// Where Aliyun pushes receipts and replies (set them in its console); Tencent's are pulled.
    pub report_url: Option<String>,
    pub reply_url: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// Limits that hold for every marketing message of the merchant.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub weekly_cap: i32,
    pub sms_from_min: i32,
    pub sms_until_min: i32,
}

fn view(ctx: &AppContext, row: sms_accounts::Model) -> SmsAccount {
    let aliyun = row.provider == Provider::Aliyun.as_str();
    let url =
        |kind: &str| aliyun.then(|| ctx.public_url(&format!("/callbacks/sms/aliyun/{}/{kind}", row.callback_token)));
    SmsAccount {
        report_url: url("report"),
        reply_url: url("reply"),
        provider: row.provider,
        access_key_id: row.access_key_id,
        app_id: row.app_id,
        sign_name: row.sign_name,
        price_fen: row.price_fen,
        updated_at: row.updated_at,
    }
}

pub(crate) async fn account_row(conn: &impl ConnectionTrait, merchant_id: i64) -> Result<Option<sms_accounts::Model>> {
    Ok(sms_accounts::Entity::find().filter(sms_accounts::Column::MerchantId.eq(merchant_id)).one(conn).await?)
}

/// The merchant's limits on marketing messages.
pub(crate) async fn limits(conn: &impl ConnectionTrait, merchant_id: i64) -> Result<Limits> {
    let merchant = merchants::Entity::find_by_id(merchant_id).one(conn).await?.ok_or(Error::NotFound("merchant"))?;
    Ok(Limits {
        weekly_cap: merchant.marketing_weekly_cap,
        sms_from_min: merchant.sms_from_min,
        sms_until_min: merchant.sms_until_min,
    })
}

/// An account row opened for sending: the secret unsealed.
pub(crate) struct OpenAccount {
    pub row: sms_accounts::Model,
    pub provider: Provider,
    pub secret: zeroize::Zeroizing<String>,
}

impl OpenAccount {
    pub fn open(ctx: &AppContext, row: sms_accounts::Model) -> Result<Self> {
        let provider = Provider::parse(&row.provider)
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("unknown SMS provider {}", row.provider)))?;
        let secret = zeroize::Zeroizing::new(ctx.vault.open(Field::SmsSecret, &row.secret_sealed)?);
        Ok(Self { row, provider, secret })
    }

    pub fn account(&self) -> Account<'_> {
        Account {
            provider: self.provider,
            access_key_id: &self.row.access_key_id,
            secret: self.secret.as_str(),
            app_id: self.row.app_id.as_deref(),
            sign_name: &self.row.sign_name,
        }
    }
}

pub async fn account(ctx: &AppContext, principal: &StaffPrincipal) -> Result<(Option<SmsAccount>, Limits)> {
    principal.require_merchant_wide(Permission::CouponManage)?;
    let row = account_row(&ctx.db, principal.merchant_id).await?;
    Ok((row.map(|row| view(ctx, row)), limits(&ctx.db, principal.merchant_id).await?))
}

/// Sets the merchant's SMS account and limits (the owner: it holds a secret, and the limits protect members).
pub async fn set_account(ctx: &AppContext, principal: &StaffPrincipal, input: SmsAccountInput) -> Result<SmsAccount> {
    principal.require_merchant_wide(Permission::MerchantManage)?;
    let merchant_id = principal.merchant_id;
    let provider =
        Provider::parse(&input.provider).ok_or_else(|| Error::invalid("provider", "must be aliyun or tencent"))?;
    let key_id = input.access_key_id.trim();
    if key_id.is_empty() || key_id.len() > 128 || !key_id.chars().all(|c| c.is_ascii_graphic()) {
        return Err(Error::invalid("access_key_id", "must be 1–128 printable ASCII characters"));
    }
    let app_id = input.app_id.as_deref().map(str::trim).filter(|a| !a.is_empty()).map(str::to_owned);
    if provider == Provider::Tencent && app_id.as_deref().is_none_or(|a| !a.chars().all(|c| c.is_ascii_digit())) {
        return Err(Error::invalid("app_id", "Tencent Cloud SMS needs the SmsSdkAppId (digits)"));
    }
    let sign_name = checked_text("sign_name", &input.sign_name, 20)?;
    if sign_name.contains(['【', '】', '[', ']']) {
        return Err(Error::invalid("sign_name", "the signature without its brackets: 悦发沙龙, not 【悦发沙龙】"));
    }
    if !(0..=100_000).contains(&input.price_fen) {
        return Err(Error::invalid("price_fen", "must be 0–100000 fen"));
    }
    if !(1..=14).contains(&input.weekly_cap) {
        return Err(Error::invalid("weekly_cap", "must be 1–14 messages a week"));
    }
    if !(0..1440).contains(&input.sms_from_min)
        || !(1..=1440).contains(&input.sms_until_min)
        || input.sms_from_min >= input.sms_until_min
    {
        return Err(Error::invalid("sms_until_min", "the sending hours must be a window within one day"));
    }
    let existing = account_row(&ctx.db, merchant_id).await?;
    let secret = match (input.secret.as_deref().map(str::trim), &existing) {
        (Some(secret), _) if !secret.is_empty() && secret.len() <= 256 => ctx.vault.seal(Field::SmsSecret, secret),
        (None, Some(row)) => row.secret_sealed.clone(),
        _ => return Err(Error::invalid("secret", "the account's secret (1–256 characters) is needed")),
    };
    let now = ctx.now();
    let txn = sea_orm::TransactionTrait::begin(&ctx.db).await?;
    let row = match existing {
        Some(row) => {
            let mut active: sms_accounts::ActiveModel = row.into();
            active.provider = Set(provider.as_str().to_owned());
            active.access_key_id = Set(key_id.to_owned());
            active.secret_sealed = Set(secret);
            active.app_id = Set(app_id);
            active.sign_name = Set(sign_name);
            active.price_fen = Set(input.price_fen);
            active.updated_at = Set(now);
            active.update(&txn).await?
        }
        None => {
            sms_accounts::ActiveModel {
                merchant_id: Set(merchant_id),
                provider: Set(provider.as_str().to_owned()),
                access_key_id: Set(key_id.to_owned()),
                secret_sealed: Set(secret),
                app_id: Set(app_id),
                sign_name: Set(sign_name),
                callback_token: Set(hex::encode(rand::random::<[u8; 16]>())),
                price_fen: Set(input.price_fen),
                updated_at: Set(now),
                ..Default::default()
            }
            .insert(&txn)
            .await?
        }
    };
    merchants::Entity::update_many()
        .col_expr(merchants::Column::MarketingWeeklyCap, sea_orm::sea_query::Expr::value(input.weekly_cap))
        .col_expr(merchants::Column::SmsFromMin, sea_orm::sea_query::Expr::value(input.sms_from_min))
        .col_expr(merchants::Column::SmsUntilMin, sea_orm::sea_query::Expr::value(input.sms_until_min))
        .filter(merchants::Column::Id.eq(merchant_id))
        .exec(&txn)
        .await?;
    let detail = json!({
        "provider": row.provider, "sign_name": row.sign_name, "weekly_cap": input.weekly_cap,
        "sms_from_min": input.sms_from_min, "sms_until_min": input.sms_until_min,
    });
    audit::by_staff(&txn, principal, "sms.account_set", ("merchant", merchant_id), detail).await?;
    txn.commit().await?;
    Ok(view(ctx, row))
}

#[derive(Clone, Debug)]
pub struct TemplateInput {
    pub name: String,
    pub code: String,
    pub body: String,
    pub variables: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct SmsTemplate {
    pub id: i64,
    pub name: String,
    pub code: String,
    pub body: String,
    pub variables: Vec<String>,
    /// The message as a member would read it, signature first, with sample values.
    pub preview: String,
    /// Characters, and the parts the provider bills (70 in one, 67 a part beyond).
    pub length: usize,
    pub parts: usize,
    pub archived: bool,
    pub created_at: DateTime<Utc>,
}

/// The template's text with `values` filled in, in the provider's syntax.
pub(crate) fn fill(provider: Provider, body: &str, variables: &[String], values: &[(String, String)]) -> String {
    let mut text = body.to_owned();
    for (position, name) in variables.iter().enumerate() {
        let value = values.iter().find(|(n, _)| n == name).map_or("", |(_, v)| v.as_str());
        let placeholder = match provider {
            Provider::Aliyun => format!("${{{name}}}"),
            Provider::Tencent => format!("{{{}}}", position + 1),
        };
        text = text.replace(&placeholder, value);
    }
    text
}

/// Characters and billed parts of a message.
pub fn parts(text: &str) -> (usize, usize) {
    let length = text.chars().count();
    (length, if length <= SINGLE { 1 } else { length.div_ceil(PART) })
}

fn to_template(row: sms_templates::Model, provider: Provider, sign_name: &str) -> Result<SmsTemplate> {
    let variables: Vec<String> =
        serde_json::from_str(&row.variables).map_err(|e| Error::Internal(anyhow::anyhow!("variables: {e}")))?;
    let samples: Vec<(String, String)> = VALUES.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect();
    let preview = format!("【{sign_name}】{}", fill(provider, &row.body, &variables, &samples));
    let (length, parts) = parts(&preview);
    Ok(SmsTemplate {
        id: row.id,
        name: row.name,
        code: row.code,
        body: row.body,
        variables,
        preview,
        length,
        parts,
        archived: row.archived,
        created_at: row.created_at,
    })
}

/// Checks a template's text against its provider's syntax and the law's unsubscribe words.
fn checked_body(provider: Provider, body: &str, variables: &[String]) -> Result<String> {
    let body = checked_text("body", body, 500)?;
    if !body.contains("退订") && !body.contains("拒收") {
        return Err(Error::invalid(
            "body",
            "a marketing SMS must say how to refuse: end it with 回T退订 (Aliyun) or 回TD退订 (Tencent)",
        ));
    }
    if body.contains("【") {
        return Err(Error::invalid("body", "the signature is added by the provider: leave 【…】 out of the text"));
    }
    for (position, name) in variables.iter().enumerate() {
        if !VALUES.iter().any(|(known, _)| known == name) {
            return Err(Error::invalid(
                "variables",
                format!("{name} is not a value we fill (name, store, coupon, days)"),
            ));
        }
        if variables[..position].contains(name) {
            return Err(Error::invalid("variables", format!("{name} is named twice")));
        }
        let placeholder = match provider {
            Provider::Aliyun => format!("${{{name}}}"),
            Provider::Tencent => format!("{{{}}}", position + 1),
        };
        if !body.contains(&placeholder) {
            return Err(Error::invalid("body", format!("the text has no {placeholder} for {name}")));
        }
    }
    // Every placeholder in the text must be filled, or the provider refuses the message.
    let extra = match provider {
        Provider::Aliyun => body.matches("${").count() != variables.len(),
        Provider::Tencent => body.contains(&format!("{{{}}}", variables.len() + 1)),
    };
    if extra {
        return Err(Error::invalid("variables", "the text has a variable that is not filled"));
    }
    Ok(body)
}

async fn provider_of(ctx: &AppContext, merchant_id: i64) -> Result<(Provider, String)> {
    let account = account_row(&ctx.db, merchant_id).await?.ok_or_else(|| {
        Error::invalid("sms", "set the merchant's SMS account first (provider, key and approved signature)")
    })?;
    let provider = Provider::parse(&account.provider)
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("unknown SMS provider {}", account.provider)))?;
    Ok((provider, account.sign_name))
}

/// Records a template the provider approved (staff who manage marketing).
pub async fn create_template(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    input: TemplateInput,
) -> Result<SmsTemplate> {
    principal.require_merchant_wide(Permission::CouponManage)?;
    let merchant_id = principal.merchant_id;
    let name = checked_text("name", &input.name, 30)?;
    let code = input.code.trim();
    if code.is_empty() || code.len() > 40 || !code.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(Error::invalid("code", "the provider's template code: 1–40 letters, digits or _"));
    }
    let (provider, sign_name) = provider_of(ctx, merchant_id).await?;
    let body = checked_body(provider, &input.body, &input.variables)?;
    let taken = sms_templates::Entity::find()
        .filter(sms_templates::Column::MerchantId.eq(merchant_id))
        .filter(sms_templates::Column::Code.eq(code))
        .one(&ctx.db)
        .await?;
    if taken.is_some() {
        return Err(Error::invalid("code", "a template with this code is recorded already"));
    }
    let row = sms_templates::ActiveModel {
        merchant_id: Set(merchant_id),
        name: Set(name),
        code: Set(code.to_owned()),
        body: Set(body),
        variables: Set(json!(input.variables).to_string()),
        archived: Set(false),
        created_by: Set(principal.staff_id),
        created_at: Set(ctx.now()),
        ..Default::default()
    }
    .insert(&ctx.db)
    .await?;
    audit::by_staff(&ctx.db, principal, "sms.template_recorded", ("sms_template", row.id), json!({ "code": code }))
        .await?;
    to_template(row, provider, &sign_name)
}

pub async fn templates(ctx: &AppContext, principal: &StaffPrincipal) -> Result<Vec<SmsTemplate>> {
    principal.require_merchant_wide(Permission::CouponManage)?;
    let Some(account) = account_row(&ctx.db, principal.merchant_id).await? else { return Ok(Vec::new()) };
    let provider = Provider::parse(&account.provider)
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("unknown SMS provider {}", account.provider)))?;
    sms_templates::Entity::find()
        .filter(sms_templates::Column::MerchantId.eq(principal.merchant_id))
        .order_by_desc(sms_templates::Column::Id)
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|row| to_template(row, provider, &account.sign_name))
        .collect()
}

/// A template of the merchant (any staff-facing check: it exists, it is the merchant's).
pub(crate) async fn template_row(
    conn: &impl ConnectionTrait,
    merchant_id: i64,
    id: i64,
) -> Result<sms_templates::Model> {
    sms_templates::Entity::find_by_id(id)
        .filter(sms_templates::Column::MerchantId.eq(merchant_id))
        .one(conn)
        .await?
        .ok_or(Error::NotFound("sms_template"))
}

pub(crate) fn variables_of(row: &sms_templates::Model) -> Result<Vec<String>> {
    serde_json::from_str(&row.variables).map_err(|e| Error::Internal(anyhow::anyhow!("variables: {e}")))
}

/// Takes a template out of the pickers; campaigns that carry it still send it.
pub async fn archive_template(ctx: &AppContext, principal: &StaffPrincipal, id: i64) -> Result<SmsTemplate> {
    principal.require_merchant_wide(Permission::CouponManage)?;
    let row = template_row(&ctx.db, principal.merchant_id, id).await?;
    let (provider, sign_name) = provider_of(ctx, principal.merchant_id).await?;
    let mut active: sms_templates::ActiveModel = row.into();
    active.archived = Set(true);
    let row = active.update(&ctx.db).await?;
    audit::by_staff(&ctx.db, principal, "sms.template_archived", ("sms_template", id), json!({})).await?;
    to_template(row, provider, &sign_name)
}

/// What a test send did.
#[derive(Clone, Debug)]
pub struct TestSend {
    pub text: String,
    /// The provider's id for it, when it took it; else its code and words.
    pub provider_id: Option<String>,
    pub error: Option<(String, String)>,
}

/// Sends a template once, with sample values, to a staff phone: to see it arrive before a campaign carries it.
/// Nothing is recorded in the send log (it reaches no member), but the test is audited.
pub async fn test_send(ctx: &AppContext, principal: &StaffPrincipal, id: i64, phone: &str) -> Result<TestSend> {
    principal.require_merchant_wide(Permission::CouponManage)?;
    let phone = crate::domain::PhoneNumber::parse(phone).map_err(|why| Error::invalid("phone", why))?;
    let row = template_row(&ctx.db, principal.merchant_id, id).await?;
    let account = account_row(&ctx.db, principal.merchant_id)
        .await?
        .ok_or_else(|| Error::invalid("sms", "set the merchant's SMS account first"))?;
    let account = OpenAccount::open(ctx, account)?;
    let variables = variables_of(&row)?;
    let samples: Vec<(String, String)> = variables
        .iter()
        .filter_map(|n| VALUES.iter().find(|(k, _)| k == n).map(|(k, v)| ((*k).to_owned(), (*v).to_owned())))
        .collect();
    let text = format!("【{}】{}", account.row.sign_name, fill(account.provider, &row.body, &variables, &samples));
    let key = format!("test-{}", hex::encode(rand::random::<[u8; 8]>()));
    let message =
        crate::integrations::sms::Message { phone: &phone, template_code: &row.code, params: &samples, key: &key };
    let (provider_id, error) = match ctx.sms_providers.send(&account.account(), &message, ctx.now()).await {
        Ok(id) => (Some(id), None),
        Err(crate::integrations::sms::SendError::Refused { code, message })
        | Err(crate::integrations::sms::SendError::NotSent { code, message }) => (None, Some((code, message))),
        Err(crate::integrations::sms::SendError::Unknown(why)) => (None, Some(("unknown".to_owned(), why))),
    };
    let detail = json!({ "to": phone.masked(), "sent": provider_id.is_some() });
    audit::by_staff(&ctx.db, principal, "sms.test_sent", ("sms_template", id), detail).await?;
    Ok(TestSend { text, provider_id, error })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn templates_follow_their_provider_syntax_and_carry_the_unsubscribe_words() {
        let aliyun = "${name}您好，送您${coupon}，${days}天内有效，回T退订";
        assert!(checked_body(Provider::Aliyun, aliyun, &names(&["name", "coupon", "days"])).is_ok());
        // A variable in the text that nothing fills, or one named that the text lacks.
        assert!(checked_body(Provider::Aliyun, aliyun, &names(&["name", "coupon"])).is_err());
        assert!(checked_body(Provider::Aliyun, aliyun, &names(&["name", "coupon", "days", "store"])).is_err());
        assert!(checked_body(Provider::Aliyun, "${name}您好，新品上市", &names(&["name"])).is_err());
        let tencent = "{1}您好，送您{2}，回TD退订";
        assert!(checked_body(Provider::Tencent, tencent, &names(&["name", "coupon"])).is_ok());
        assert!(checked_body(Provider::Tencent, tencent, &names(&["name"])).is_err());
        assert!(checked_body(Provider::Tencent, tencent, &names(&["name", "balance"])).is_err());
        assert!(checked_body(Provider::Tencent, "【悦发】{1}您好，回TD退订", &names(&["name"])).is_err());
    }

    #[test]
    fn values_fill_in_the_provider_syntax_and_length_counts_parts() {
        let values = vec![("name".to_owned(), "王女士".to_owned()), ("coupon".to_owned(), "20元券".to_owned())];
        let vars = names(&["name", "coupon"]);
        assert_eq!(fill(Provider::Aliyun, "${name}：${coupon}，回T退订", &vars, &values), "王女士：20元券，回T退订");
        assert_eq!(fill(Provider::Tencent, "{1}：{2}，回TD退订", &vars, &values), "王女士：20元券，回TD退订");
        assert_eq!(parts(&"字".repeat(70)), (70, 1));
        assert_eq!(parts(&"字".repeat(71)), (71, 2));
        assert_eq!(parts(&"字".repeat(135)), (135, 3));
    }
}
