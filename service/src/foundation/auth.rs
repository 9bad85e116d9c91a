//! Staff sign-in and sessions.
//!
//! Passwords are argon2id PHC strings. A session is an opaque random bearer token; only its SHA-256 is stored, so
//! revoking is an UPDATE and a leaked table grants nothing. Deactivating a staff member or changing a password
//! ends their sessions. Sign-in is rate-limited per account (failures) and per client IP (attempts).

use std::sync::OnceLock;
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, JoinType, QueryFilter, QuerySelect,
    RelationDef,
};
use serde_json::json;

use entity::{staff, staff_sessions, staff_stores};

use crate::domain::{Password, Role, SessionToken};
use crate::foundation::audit::{self, Actor, Event};
use crate::foundation::principal::{StaffPrincipal, StoreScope};
use crate::foundation::sessions::{self, Change};
use crate::{AppContext, Error, Result};

pub struct SignedIn {
    pub token: SessionToken,
    pub expires_at: DateTime<Utc>,
    pub principal: StaffPrincipal,
}

fn argon2() -> Argon2<'static> {
    // argon2id v19, m = 19 MiB, t = 2, p = 1: the OWASP baseline.
    Argon2::default()
}

/// Hashes on the blocking pool: argon2 is deliberately slow and must not stall the async workers.
pub async fn hash_password(password: &Password) -> Result<String> {
    let plain = password.expose().to_owned();
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        argon2().hash_password(plain.as_bytes(), &salt).map(|hash| hash.to_string())
    })
    .await
    .map_err(|e| Error::Internal(e.into()))?
    .map_err(|e| Error::Internal(anyhow::anyhow!("hashing a password: {e}")))
}

async fn verify_password(plain: String, phc: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&phc).is_ok_and(|hash| argon2().verify_password(plain.as_bytes(), &hash).is_ok())
    })
    .await
    .unwrap_or(false)
}

/// A real hash to verify against when the username is unknown, so the answer takes as long as for a known one.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        argon2().hash_password(b"decoy password, never matches", &salt).map(|h| h.to_string()).unwrap_or_default()
    })
}

/// Where sign-in attempts are counted: the shared state, so that every replica counts together; or, while it does
/// not answer (Redis down at scale), this process. Each replica then allows its own share of attempts (the
/// password hash still makes each guess slow), which is better than every member of staff locked out of the
/// counter while settlements and reads go on without Redis.
struct Limits<'a> {
    ctx: &'a AppContext,
}

impl Limits<'_> {
    fn local() -> &'static crate::foundation::shared::InProcessShared {
        static LOCAL: OnceLock<crate::foundation::shared::InProcessShared> = OnceLock::new();
        LOCAL.get_or_init(Default::default)
    }

    fn fall_back(error: &anyhow::Error) {
        tracing::warn!(%error, "shared state does not answer: sign-in attempts are counted in this process");
    }

    async fn hit(&self, key: &str, window: Duration) -> Result<(u64, Duration)> {
        use crate::foundation::shared::SharedState;
        match self.ctx.shared.hit(key, window).await {
            Ok(counted) => Ok(counted),
            Err(error) => {
                Self::fall_back(&error);
                Ok(Self::local().hit(key, window).await?)
            }
        }
    }

    async fn count(&self, key: &str) -> Result<u32> {
        use crate::foundation::shared::SharedState;
        let value = match self.ctx.shared.get(key).await {
            Ok(value) => value,
            Err(error) => {
                Self::fall_back(&error);
                Self::local().get(key).await?
            }
        };
        Ok(value.and_then(|n| n.parse::<u32>().ok()).unwrap_or(0))
    }

    async fn forget(&self, key: &str) -> Result<()> {
        use crate::foundation::shared::SharedState;
        if let Err(error) = self.ctx.shared.delete(key).await {
            Self::fall_back(&error);
        }
        Ok(Self::local().delete(key).await?)
    }
}

pub async fn sign_in(ctx: &AppContext, username: &str, password: &str, ip: Option<&str>) -> Result<SignedIn> {
    let limits = Limits { ctx };
    let auth = &ctx.settings.auth;
    let window = Duration::from_secs(auth.sign_in_window_secs);
    let username = username.trim().to_ascii_lowercase();
    if username.is_empty() || username.len() > 64 || password.is_empty() || password.len() > 1024 {
        return Err(Error::InvalidCredentials);
    }
    if let Some(ip) = ip {
        let (attempts, left) = limits.hit(&format!("signin:ip:{ip}"), window).await?;
        if attempts > u64::from(auth.sign_in_attempts_per_ip) {
            return Err(Error::RateLimited { retry_after_secs: left.as_secs().max(1) });
        }
    }
    let failures_key = format!("signin:fail:{username}");
    let failures = limits.count(&failures_key).await?;
    if failures >= auth.sign_in_failures_per_account {
        return Err(Error::RateLimited { retry_after_secs: auth.sign_in_window_secs });
    }

    let found = staff::Entity::find().filter(staff::Column::Username.eq(&username)).one(&ctx.db).await?;
    let phc = found.as_ref().map_or_else(|| decoy_hash().to_owned(), |s| s.password_hash.clone());
    let matches = verify_password(password.to_owned(), phc).await;
    let member = match found {
        Some(member) if matches && member.active => member,
        other => {
            limits.hit(&failures_key, window).await?;
            audit::record(
                &ctx.db,
                Event {
                    merchant_id: other.as_ref().map(|s| s.merchant_id),
                    actor: other.as_ref().map_or(Actor::System, |s| Actor::Staff(s.id)),
                    action: "staff.sign_in_failed",
                    target: other.as_ref().map(|s| ("staff", s.id)),
                    detail: json!({ "reason": match &other {
                        None => "unknown_username",
                        Some(s) if !s.active => "inactive",
                        Some(_) => "wrong_password",
                    }}),
                    ip,
                },
            )
            .await?;
            return Err(Error::InvalidCredentials);
        }
    };
    limits.forget(&failures_key).await?;

    let token = SessionToken::generate(SessionToken::STAFF_PREFIX);
    let now = ctx.now();
    let expires_at = now + chrono::Duration::hours(auth.staff_session_hours);
    let session = staff_sessions::Entity::insert(staff_sessions::ActiveModel {
        token_hash: Set(token.hash()),
        staff_id: Set(member.id),
        merchant_id: Set(member.merchant_id),
        created_at: Set(now),
        expires_at: Set(expires_at),
        revoked_at: Set(None),
        ..Default::default()
    })
    .exec(&ctx.db)
    .await?;
    audit::record(
        &ctx.db,
        Event {
            merchant_id: Some(member.merchant_id),
            actor: Actor::Staff(member.id),
            action: "staff.signed_in",
            target: Some(("staff", member.id)),
            detail: json!({ "session_id": session.last_insert_id }),
            ip,
        },
    )
    .await?;
    let principal = principal_for(ctx, member, session.last_insert_id).await?;
    Ok(SignedIn { token, expires_at, principal })
}

/// The principal of a staff member for work done in their name outside any session (the demo's history, written
/// at start-up): session 0, which no sign-out ends.
pub async fn acting_as(ctx: &AppContext, staff_id: i64) -> Result<StaffPrincipal> {
    let member = staff::Entity::find_by_id(staff_id)
        .one(&ctx.db)
        .await?
        .ok_or_else(|| anyhow::anyhow!("staff {staff_id} not found"))?;
    principal_for(ctx, member, 0).await
}

async fn principal_for(ctx: &AppContext, member: staff::Model, session_id: i64) -> Result<StaffPrincipal> {
    let stores = if member.all_stores { Vec::new() } else { store_ids(&ctx.db, member.id).await? };
    principal(member, session_id, stores)
}

/// The principal of `member` signed in as `session_id`; `stores` are the stores they work at (ignored when they work
/// at all of them).
fn principal(member: staff::Model, session_id: i64, mut stores: Vec<i64>) -> Result<StaffPrincipal> {
    let role = Role::parse(&member.role).ok_or_else(|| anyhow::anyhow!("staff {} has unknown role", member.id))?;
    stores.sort_unstable();
    stores.dedup();
    Ok(StaffPrincipal {
        staff_id: member.id,
        merchant_id: member.merchant_id,
        session_id,
        username: member.username,
        display_name: member.display_name,
        role,
        stores: if member.all_stores { StoreScope::All } else { StoreScope::Only(stores) },
        may_reprint: member.may_reprint,
    })
}

pub(crate) async fn store_ids(conn: &impl ConnectionTrait, staff_id: i64) -> Result<Vec<i64>> {
    let mut ids: Vec<i64> = staff_stores::Entity::find()
        .filter(staff_stores::Column::StaffId.eq(staff_id))
        .all(conn)
        .await?
        .into_iter()
        .map(|row| row.store_id)
        .collect();
    ids.sort_unstable();
    Ok(ids)
}

/// Resolves a presented bearer token to its principal; anything unknown, expired or revoked is `Unauthenticated`.
/// Every staff request starts here: a session seen lately costs nothing ([`sessions`]); otherwise the session, its
/// staff member and their stores come in one query, a row per store (one row, without a store, for staff who work
/// at all stores or none yet).
pub async fn authenticate(ctx: &AppContext, presented: &str) -> Result<StaffPrincipal> {
    let token = SessionToken::parse(SessionToken::STAFF_PREFIX, presented).ok_or(Error::Unauthenticated)?;
    let token_hash = token.hash();
    if let Some(principal) = ctx.sessions.get(&token_hash, ctx.now()) {
        return Ok(principal);
    }
    let ticket = ctx.sessions.ticket();
    let of_staff = staff_sessions::Entity::belongs_to(staff::Entity)
        .from(staff_sessions::Column::StaffId)
        .to(staff::Column::Id)
        .into();
    let staff_of_store: RelationDef = staff_stores::Entity::belongs_to(staff::Entity)
        .from(staff_stores::Column::StaffId)
        .to(staff::Column::Id)
        .into();
    let stores_of_staff = staff_of_store.rev();
    let rows: Vec<(SessionRow, Option<staff::Model>)> = staff_sessions::Entity::find()
        .join(JoinType::InnerJoin, of_staff)
        .join(JoinType::LeftJoin, stores_of_staff)
        .select_also(staff::Entity)
        // `select_also` prefixes the session's columns with `A_` (and the staff member's with `B_`): the store id
        // joins the session's side.
        .column_as(Expr::col((staff_stores::Entity, staff_stores::Column::StoreId)), "A_store_id")
        .filter(staff_sessions::Column::TokenHash.eq(&token_hash))
        .into_model::<SessionRow, staff::Model>()
        .all(&ctx.db)
        .await?;
    let stores: Vec<i64> = rows.iter().filter_map(|(row, _)| row.store_id).collect();
    let Some((session, Some(member))) = rows.into_iter().next() else {
        return Err(Error::Unauthenticated);
    };
    if session.revoked_at.is_some() || session.expires_at <= ctx.now() || !member.active {
        return Err(Error::Unauthenticated);
    }
    let principal = principal(member, session.id, stores)?;
    ctx.sessions.keep(ticket, token_hash, &principal, session.expires_at);
    Ok(principal)
}

/// What authentication reads of a session, with one of its staff member's stores.
#[derive(FromQueryResult)]
struct SessionRow {
    id: i64,
    expires_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
    store_id: Option<i64>,
}

pub async fn sign_out(ctx: &AppContext, principal: &StaffPrincipal) -> Result<()> {
    staff_sessions::Entity::update_many()
        .col_expr(staff_sessions::Column::RevokedAt, Expr::value(ctx.now()))
        .filter(staff_sessions::Column::Id.eq(principal.session_id))
        .filter(staff_sessions::Column::RevokedAt.is_null())
        .exec(&ctx.db)
        .await?;
    sessions::forget(ctx, Change::Session(principal.session_id)).await;
    Ok(())
}

/// Ends every live session of `staff_id` except `keep` (the one that asked, when staff change their own password).
pub(crate) async fn revoke_sessions(conn: &impl ConnectionTrait, staff_id: i64, keep: Option<i64>) -> Result<u64> {
    let mut update = staff_sessions::Entity::update_many()
        .col_expr(staff_sessions::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(staff_sessions::Column::StaffId.eq(staff_id))
        .filter(staff_sessions::Column::RevokedAt.is_null());
    if let Some(keep) = keep {
        update = update.filter(staff_sessions::Column::Id.ne(keep));
    }
    Ok(update.exec(conn).await?.rows_affected)
}

/// Staff change their own password: the current one must match; every other session ends.
pub async fn change_own_password(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    current: &str,
    new: &str,
    ip: Option<&str>,
) -> Result<()> {
    let new = Password::parse(new).map_err(|m| Error::invalid("new_password", m))?;
    let member = staff::Entity::find_by_id(principal.staff_id).one(&ctx.db).await?.ok_or(Error::Unauthenticated)?;
    if !verify_password(current.to_owned(), member.password_hash).await {
        return Err(Error::InvalidCredentials);
    }
    let hash = hash_password(&new).await?;
    let txn = sea_orm::TransactionTrait::begin(&ctx.db).await?;
    staff::Entity::update_many()
        .col_expr(staff::Column::PasswordHash, Expr::value(hash))
        .col_expr(staff::Column::UpdatedAt, Expr::value(ctx.now()))
        .filter(staff::Column::Id.eq(principal.staff_id))
        .exec(&txn)
        .await?;
    let ended = revoke_sessions(&txn, principal.staff_id, Some(principal.session_id)).await?;
    audit::record(
        &txn,
        Event {
            merchant_id: Some(principal.merchant_id),
            actor: Actor::Staff(principal.staff_id),
            action: "staff.password_changed",
            target: Some(("staff", principal.staff_id)),
            detail: json!({ "sessions_ended": ended }),
            ip,
        },
    )
    .await?;
    txn.commit().await?;
    sessions::forget(ctx, Change::Staff(principal.staff_id)).await;
    Ok(())
}
