//! The dynamic member code (会员码) a member shows at the desk, verified statelessly by whoever scans it (it is
//! issued to the signed-in member by `auth::issue_member_code`), and spent: a code scanned to identify the member or
//! given as consent to a bill is recorded, so it is consent to one bill, once (see `checkout::bills::consent`).

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use sha2::{Digest, Sha256};

use entity::member_code_uses;

use crate::domain::{MemberCode, MemberCodeClaims, MemberCodeError};
use crate::error::is_unique_violation;
use crate::{AppContext, Conflict, Error, Result};

/// Who a member code names, if it is genuine and unexpired.
pub fn verify_member_code(ctx: &AppContext, input: &str) -> Result<MemberCodeClaims> {
    MemberCode::verify(ctx.vault.member_code_key(), input, ctx.now().timestamp()).map_err(|e| match e {
        MemberCodeError::Invalid => Error::MemberCodeInvalid,
        MemberCodeError::Expired => Error::MemberCodeExpired,
    })
}

/// One use of a member code.
pub(crate) struct CodeUse {
    pub(crate) merchant_id: i64,
    pub(crate) member_id: i64,
    digest: String,
    expires_at: DateTime<Utc>,
    used_at: DateTime<Utc>,
}

impl CodeUse {
    pub(crate) fn new(ctx: &AppContext, merchant_id: i64, code: &str, claims: crate::domain::MemberCodeClaims) -> Self {
        Self {
            merchant_id,
            member_id: claims.member_id,
            digest: hex::encode(Sha256::digest(code.trim().as_bytes())),
            expires_at: DateTime::from_timestamp(claims.expires_at, 0).unwrap_or_default(),
            used_at: ctx.now(),
        }
    }

    /// Records the use. A code used before is `member_code_used`.
    pub(crate) async fn record(
        &self,
        conn: &impl ConnectionTrait,
        purpose: &str,
        bill_id: Option<i64>,
        staff_id: Option<i64>,
    ) -> Result<()> {
        let row = member_code_uses::ActiveModel {
            merchant_id: Set(self.merchant_id),
            member_id: Set(self.member_id),
            code_digest: Set(self.digest.clone()),
            purpose: Set(purpose.to_owned()),
            bill_id: Set(bill_id),
            staff_id: Set(staff_id),
            used_at: Set(self.used_at),
            expires_at: Set(self.expires_at),
            ..Default::default()
        };
        match row.insert(conn).await {
            Ok(_) => Ok(()),
            Err(err) if is_unique_violation(&err) => Err(Error::Conflict(Conflict::MemberCodeUsed)),
            Err(err) => Err(err.into()),
        }
    }
}

/// Forgets the uses of codes that expired a while ago: an expired code is refused before its use is looked at, so
/// the record has done its work. The margin covers replicas whose clocks differ by a little.
pub async fn forget_expired_uses(ctx: &AppContext) -> Result<u64> {
    let cutoff = ctx.now() - chrono::Duration::minutes(5);
    let deleted = member_code_uses::Entity::delete_many()
        .filter(member_code_uses::Column::ExpiresAt.lt(cutoff))
        .exec(&ctx.db)
        .await?;
    Ok(deleted.rows_affected)
}
