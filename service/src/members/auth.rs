//! Members signing in from the mini-program, their sessions, phone binding and the dynamic member code.
//!
//! A member belongs to one merchant: the same WeChat user at two merchants is two members. The identity
//! (provider, subject) is unique per merchant; the first sign-in creates the member. WeChat's `session_key` is
//! sealed in the identity row and never leaves the server.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    TransactionTrait,
};
use serde_json::json;

use entity::{member_allergies, member_identities, member_notes, member_sessions, member_tags, members, merchants};

use crate::domain::{MemberCode, MemberCodeClaims, PhoneNumber, SessionToken};
use crate::error::is_unique_violation;
use crate::foundation::audit::{self, Actor, Event};
use crate::foundation::vault::Field;
use crate::members::{NewMemberRow, PHONE_INDEX, insert_row};
use crate::{AppContext, Conflict, Error, Result};

#[derive(Clone, Debug)]
pub struct MemberPrincipal {
    pub member_id: i64,
    pub merchant_id: i64,
    pub session_id: i64,
    pub identity_id: i64,
}

pub struct MemberSignedIn {
    pub token: SessionToken,
    pub expires_at: DateTime<Utc>,
    pub member_id: i64,
    pub merchant_id: i64,
    /// True when this sign-in created the member.
    pub created: bool,
}

struct Identity<'a> {
    provider: &'static str,
    subject: &'a str,
    unionid: Option<&'a str>,
    session_key: Option<&'a str>,
}

pub async fn sign_in_wechat(ctx: &AppContext, appid: &str, code: &str) -> Result<MemberSignedIn> {
    if code.is_empty() || code.len() > 128 {
        return Err(Error::invalid("code", "must be the code from wx.login"));
    }
    let merchant = crate::foundation::merchants::by_appid(ctx, "wechat", appid).await?;
    let secret = wechat_secret(ctx, &merchant)?;
    let session = ctx.wechat.code2session(appid, &secret, code).await?;
    let identity = Identity {
        provider: "wechat",
        subject: &session.openid,
        unionid: session.unionid.as_deref(),
        session_key: Some(&session.session_key),
    };
    sign_in(ctx, merchant.id, identity).await
}

pub async fn sign_in_alipay(ctx: &AppContext, appid: &str, auth_code: &str) -> Result<MemberSignedIn> {
    if auth_code.is_empty() || auth_code.len() > 128 {
        return Err(Error::invalid("auth_code", "must be the authCode from my.getAuthCode"));
    }
    let merchant = crate::foundation::merchants::by_appid(ctx, "alipay", appid).await?;
    let (Some(sealed_key), Some(public_pem)) = (&merchant.alipay_private_key_sealed, &merchant.alipay_public_key)
    else {
        return Err(Error::Disabled("Alipay sign-in for this merchant"));
    };
    let private_key =
        crate::integrations::signing::parse_private_key(&ctx.vault.open(Field::AlipayPrivateKey, sealed_key)?)?;
    let public_key = crate::integrations::signing::parse_public_key(public_pem)?;
    let keys = crate::integrations::alipay::AppKeys {
        app_id: appid,
        private_key: &private_key,
        alipay_public_key: &public_key,
    };
    let token = ctx.alipay.oauth_token(&keys, auth_code).await?;
    sign_in(
        ctx,
        merchant.id,
        Identity { provider: "alipay", subject: &token.subject, unionid: None, session_key: None },
    )
    .await
}

/// Development and tests only: sign in as a named sandbox user of a merchant, no WeChat needed.
pub async fn sign_in_sandbox(ctx: &AppContext, merchant_id: i64, user: &str) -> Result<MemberSignedIn> {
    if !ctx.settings.sandbox.enabled {
        return Err(Error::Disabled("sandbox sign-in"));
    }
    if user.is_empty() || user.len() > 40 || !user.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(Error::invalid("user", "must be 1–40 letters, digits, '_' or '-'"));
    }
    crate::foundation::merchants::get(ctx, merchant_id).await?;
    sign_in(ctx, merchant_id, Identity { provider: "sandbox", subject: user, unionid: None, session_key: None }).await
}

fn wechat_secret(ctx: &AppContext, merchant: &merchants::Model) -> Result<String> {
    let sealed = merchant.wechat_secret_sealed.as_deref().ok_or(Error::Disabled("WeChat sign-in for this merchant"))?;
    Ok(ctx.vault.open(Field::WechatAppSecret, sealed)?)
}

async fn sign_in(ctx: &AppContext, merchant_id: i64, identity: Identity<'_>) -> Result<MemberSignedIn> {
    // Two first sign-ins of one person can race; the unique (merchant, provider, subject) index picks one winner and
    // the loser simply finds the winner's identity on its second pass.
    for _ in 0..2 {
        match sign_in_once(ctx, merchant_id, &identity).await {
            Err(Error::Database(e)) if is_unique_violation(&e) => continue,
            other => return other,
        }
    }
    sign_in_once(ctx, merchant_id, &identity).await
}

async fn sign_in_once(ctx: &AppContext, merchant_id: i64, identity: &Identity<'_>) -> Result<MemberSignedIn> {
    let now = ctx.now();
    let txn = ctx.db.begin().await?;
    let existing = member_identities::Entity::find()
        .filter(member_identities::Column::MerchantId.eq(merchant_id))
        .filter(member_identities::Column::Provider.eq(identity.provider))
        .filter(member_identities::Column::Subject.eq(identity.subject))
        .one(&txn)
        .await?;
    let sealed_key = identity.session_key.map(|k| ctx.vault.seal(Field::WechatSessionKey, k));
    let (identity_row, created) = match existing {
        Some(row) => {
            let mut active: member_identities::ActiveModel = row.into();
            if sealed_key.is_some() {
                active.session_key_sealed = Set(sealed_key);
            }
            if let Some(unionid) = identity.unionid {
                active.unionid = Set(Some(unionid.to_owned()));
            }
            active.updated_at = Set(now);
            (active.update(&txn).await?, false)
        }
        None => {
            let member = insert_row(
                ctx,
                &txn,
                NewMemberRow { merchant_id, source: identity.provider, nickname: String::new(), phone: None },
            )
            .await?;
            let row = member_identities::ActiveModel {
                merchant_id: Set(merchant_id),
                member_id: Set(member.id),
                provider: Set(identity.provider.to_owned()),
                subject: Set(identity.subject.to_owned()),
                unionid: Set(identity.unionid.map(str::to_owned)),
                session_key_sealed: Set(sealed_key),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
            .insert(&txn)
            .await?;
            audit::record(
                &txn,
                Event {
                    merchant_id: Some(merchant_id),
                    actor: Actor::Member(member.id),
                    action: "member.created",
                    target: Some(("member", member.id)),
                    detail: json!({ "source": identity.provider }),
                    ip: None,
                },
            )
            .await?;
            (row, true)
        }
    };
    let token = SessionToken::generate(SessionToken::MEMBER_PREFIX);
    let expires_at = now + chrono::Duration::days(ctx.settings.auth.member_session_days);
    member_sessions::ActiveModel {
        token_hash: Set(token.hash()),
        member_id: Set(identity_row.member_id),
        merchant_id: Set(merchant_id),
        identity_id: Set(identity_row.id),
        created_at: Set(now),
        expires_at: Set(expires_at),
        revoked_at: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    if created {
        crate::coupons::issue::welcome(ctx, merchant_id, identity_row.member_id).await;
    }
    Ok(MemberSignedIn { token, expires_at, member_id: identity_row.member_id, merchant_id, created })
}

pub async fn authenticate(ctx: &AppContext, presented: &str) -> Result<MemberPrincipal> {
    let token = SessionToken::parse(SessionToken::MEMBER_PREFIX, presented).ok_or(Error::Unauthenticated)?;
    let session = member_sessions::Entity::find()
        .filter(member_sessions::Column::TokenHash.eq(token.hash()))
        .one(&ctx.db)
        .await?
        .ok_or(Error::Unauthenticated)?;
    if session.revoked_at.is_some() || session.expires_at <= ctx.now() {
        return Err(Error::Unauthenticated);
    }
    Ok(MemberPrincipal {
        member_id: session.member_id,
        merchant_id: session.merchant_id,
        session_id: session.id,
        identity_id: session.identity_id,
    })
}

pub async fn sign_out(ctx: &AppContext, principal: &MemberPrincipal) -> Result<()> {
    member_sessions::Entity::update_many()
        .col_expr(member_sessions::Column::RevokedAt, Expr::value(ctx.now()))
        .filter(member_sessions::Column::Id.eq(principal.session_id))
        .exec(&ctx.db)
        .await?;
    Ok(())
}

/// An access token for the merchant's mini-program, from the shared cache or `stable_token`.
pub(crate) async fn access_token(
    ctx: &AppContext,
    merchant: &merchants::Model,
    appid: &str,
    fresh: bool,
) -> Result<String> {
    let key = format!("wechat:access_token:{appid}");
    if !fresh && let Some(token) = ctx.shared.get(&key).await? {
        return Ok(token);
    }
    let secret = wechat_secret(ctx, merchant)?;
    let (token, expires_in) = ctx.wechat.stable_access_token(appid, &secret).await?;
    // WeChat pre-refreshes 5 minutes before expiry: stop using ours by then.
    let ttl = u64::try_from(expires_in - 300).unwrap_or(0).max(60);
    ctx.shared.set(&key, &token, Duration::from_secs(ttl)).await?;
    Ok(token)
}

/// Binds the phone number from WeChat's `getPhoneNumber` button. When a desk-created member already has that
/// number, the fresh mini-program member is folded into it: the WeChat identity moves over, so the member sees the
/// card the store opened for them.
pub async fn bind_phone_wechat(ctx: &AppContext, principal: &MemberPrincipal, code: &str) -> Result<i64> {
    if code.is_empty() || code.len() > 128 {
        return Err(Error::invalid("code", "must be the code from the getPhoneNumber button"));
    }
    let identity = member_identities::Entity::find_by_id(principal.identity_id)
        .one(&ctx.db)
        .await?
        .filter(|i| i.provider == "wechat")
        .ok_or_else(|| Error::invalid("code", "phone binding needs a WeChat sign-in"))?;
    let merchant = crate::foundation::merchants::get(ctx, principal.merchant_id).await?;
    let appid = merchant.wechat_appid.clone().ok_or(Error::Disabled("WeChat for this merchant"))?;
    let token = access_token(ctx, &merchant, &appid, false).await?;
    let number = match ctx.wechat.phone_number(&token, code, &identity.subject).await {
        // 40001 / 42001: our cached token was invalidated or expired early; fetch a fresh one once.
        Err(Error::ProviderRejected { code: c, .. }) if c == "40001" || c == "42001" => {
            let token = access_token(ctx, &merchant, &appid, true).await?;
            ctx.wechat.phone_number(&token, code, &identity.subject).await?
        }
        other => other?,
    };
    let phone = PhoneNumber::parse(&number).map_err(|m| Error::invalid("phone", m))?;
    bind_phone(ctx, principal, &phone).await
}

/// Sets the member's phone, or merges into the member who already has it. Returns the member id now signed in.
pub(crate) async fn bind_phone(ctx: &AppContext, principal: &MemberPrincipal, phone: &PhoneNumber) -> Result<i64> {
    let txn = ctx.db.begin().await?;
    let me = crate::members::row(&txn, principal.merchant_id, principal.member_id).await?;
    let index = ctx.vault.blind_index(PHONE_INDEX, phone.as_str());
    if me.phone_index.as_deref() == Some(index.as_str()) {
        return Ok(me.id);
    }
    if me.phone_index.is_some() {
        return Err(Error::Conflict(Conflict::PhoneAlreadyBound));
    }
    let holder = members::Entity::find()
        .filter(members::Column::MerchantId.eq(principal.merchant_id))
        .filter(members::Column::PhoneIndex.eq(&index))
        .one(&txn)
        .await?;
    let member_id = match holder {
        None => {
            let mut active: members::ActiveModel = me.into();
            active.phone_sealed = Set(Some(ctx.vault.seal(Field::MemberPhone, phone.as_str())));
            active.phone_index = Set(Some(index));
            active.updated_at = Set(ctx.now());
            active.update(&txn).await?;
            principal.member_id
        }
        Some(holder) => {
            let holder_has_same_provider = member_identities::Entity::find()
                .filter(member_identities::Column::MemberId.eq(holder.id))
                .filter(member_identities::Column::Provider.eq("wechat"))
                .count(&txn)
                .await?
                > 0;
            if holder.anonymised_at.is_some() || holder_has_same_provider || !is_fresh(&txn, &me).await? {
                return Err(Error::Conflict(Conflict::PhoneTaken));
            }
            merge_into(&txn, &me, &holder).await?;
            audit::record(
                &txn,
                Event {
                    merchant_id: Some(principal.merchant_id),
                    actor: Actor::Member(holder.id),
                    action: "member.merged",
                    target: Some(("member", holder.id)),
                    detail: json!({ "merged_member_id": me.id }),
                    ip: None,
                },
            )
            .await?;
            holder.id
        }
    };
    txn.commit().await?;
    Ok(member_id)
}

/// A member created by a sign-in a moment ago that holds nothing a store would miss.
async fn is_fresh(conn: &impl ConnectionTrait, member: &members::Model) -> Result<bool> {
    let notes = member_notes::Entity::find().filter(member_notes::Column::MemberId.eq(member.id)).count(conn).await?;
    let allergies =
        member_allergies::Entity::find().filter(member_allergies::Column::MemberId.eq(member.id)).count(conn).await?;
    Ok(member.source != "desk" && member.total_spend_fen == 0 && notes == 0 && allergies == 0)
}

async fn merge_into(conn: &impl ConnectionTrait, from: &members::Model, into: &members::Model) -> Result<()> {
    member_identities::Entity::update_many()
        .col_expr(member_identities::Column::MemberId, Expr::value(into.id))
        .filter(member_identities::Column::MemberId.eq(from.id))
        .exec(conn)
        .await?;
    member_sessions::Entity::update_many()
        .col_expr(member_sessions::Column::MemberId, Expr::value(into.id))
        .filter(member_sessions::Column::MemberId.eq(from.id))
        .exec(conn)
        .await?;
    member_tags::Entity::delete_many().filter(member_tags::Column::MemberId.eq(from.id)).exec(conn).await?;
    if into.nickname.is_empty() && !from.nickname.is_empty() {
        members::Entity::update_many()
            .col_expr(members::Column::Nickname, Expr::value(from.nickname.clone()))
            .filter(members::Column::Id.eq(into.id))
            .exec(conn)
            .await?;
    }
    members::Entity::delete_by_id(from.id).exec(conn).await?;
    Ok(())
}

/// A fresh member code for the member's QR screen, valid for `auth.member_code_ttl_secs`.
pub async fn issue_member_code(ctx: &AppContext, principal: &MemberPrincipal) -> Result<(MemberCode, DateTime<Utc>)> {
    let member = crate::members::row(&ctx.db, principal.merchant_id, principal.member_id).await?;
    if member.anonymised_at.is_some() {
        return Err(Error::Conflict(Conflict::MemberAnonymised));
    }
    let expires_at = ctx.now() + chrono::Duration::seconds(ctx.settings.auth.member_code_ttl_secs);
    let code = MemberCode::issue(
        ctx.vault.member_code_key(),
        MemberCodeClaims { member_id: principal.member_id, expires_at: expires_at.timestamp() },
    )
    .map_err(|_| anyhow::anyhow!("member id out of range for a member code"))?;
    Ok((code, expires_at))
}
