//! Redemption codes (兑换码): random and single use, handed out on paper, by a partner or in a message; a member
//! who types one receives its template's coupon. Generating a batch takes its stock (and budget) at once, so every
//! code handed out can be honoured; a batch is keyed by its request, so a retried request returns the same codes.
//! Redeeming is one guarded update (`member_id IS NULL`) in the transaction that issues the coupon: two members
//! racing for one code get one coupon between them. Wrong guesses are counted per member and stopped after a few.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, TransactionTrait};
use serde_json::json;

use entity::coupon_codes;

use super::issue::{Issue, active, insert, take_stock, timezone, window};
use super::templates::row as template_row;
use super::{MemberCoupon, to_coupon};
use crate::domain::{CouponSource, IdempotencyKey, Permission};
use crate::error::is_unique_violation;
use crate::foundation::audit;
use crate::foundation::principal::StaffPrincipal;
use crate::members::auth::MemberPrincipal;
use crate::{AppContext, Conflict, Error, Result};

/// 32 symbols without 0/O and 1/I, which are misread on paper: 12 of them carry 60 bits, far beyond guessing.
const ALPHABET: &[u8; 32] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
const CODE_LEN: usize = 12;
/// The most codes one request generates.
pub const MAX_BATCH: i64 = 10_000;
/// Wrong codes a member may type in an hour.
const WRONG_PER_HOUR: u64 = 10;
/// Rows per insert statement (nine values each, well inside every backend's limit).
const INSERT_CHUNK: usize = 500;

/// One code as staff see it.
#[derive(Clone, Debug)]
pub struct Code {
    /// Grouped for reading aloud and typing: `ABCD-EFGH-JKLM`.
    pub code: String,
    pub member_id: Option<i64>,
    pub redeemed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

fn random_code() -> String {
    let mut rng = rand::thread_rng();
    (0..CODE_LEN).map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())])).collect()
}

fn grouped(code: &str) -> String {
    code.as_bytes().chunks(4).map(|part| String::from_utf8_lossy(part).into_owned()).collect::<Vec<_>>().join("-")
}

/// What the member typed, as stored: upper case, separators and spaces dropped; `None` when it cannot be a code.
fn normalised(typed: &str) -> Option<String> {
    let code: String =
        typed.chars().filter(|c| !matches!(c, '-' | ' ' | '\u{3000}')).map(|c| c.to_ascii_uppercase()).collect();
    (code.len() == CODE_LEN && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

fn to_code(row: coupon_codes::Model) -> Code {
    Code {
        code: grouped(&row.code),
        member_id: row.member_id,
        redeemed_at: row.redeemed_at,
        created_at: row.created_at,
    }
}

async fn batch(conn: &impl ConnectionTrait, template_id: i64, key: &str) -> Result<Vec<coupon_codes::Model>> {
    Ok(coupon_codes::Entity::find()
        .filter(coupon_codes::Column::TemplateId.eq(template_id))
        .filter(coupon_codes::Column::BatchKey.eq(key))
        .order_by_asc(coupon_codes::Column::BatchSeq)
        .all(conn)
        .await?)
}

/// Generates `count` codes for the template, taking their stock. Asked again with the same key, returns the same
/// codes and takes nothing more.
pub async fn generate(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    template_id: i64,
    count: i64,
    key: &str,
) -> Result<Vec<Code>> {
    principal.require_merchant_wide(Permission::CouponManage)?;
    let key = IdempotencyKey::parse(key).map_err(|m| Error::invalid("idempotency_key", m))?;
    if !(1..=MAX_BATCH).contains(&count) {
        return Err(Error::invalid("count", "generates 1 to 10,000 codes"));
    }
    let template = template_row(&ctx.db, principal.merchant_id, template_id).await?;
    let same = |rows: Vec<coupon_codes::Model>| {
        if i64::try_from(rows.len()).ok() == Some(count) {
            Ok(rows.into_iter().map(to_code).collect())
        } else {
            Err(Error::Conflict(Conflict::IdempotencyKeyReused))
        }
    };
    let had = batch(&ctx.db, template.id, key.as_str()).await?;
    if !had.is_empty() {
        return same(had);
    }
    active(&template)?;
    let now = ctx.now();
    // A code that collides with one issued before (one in 2^60 per pair), or the same request racing itself,
    // fails the insert: try once more with fresh codes, after looking for the racing request's batch.
    for _ in 0..2 {
        let txn = ctx.db.begin().await?;
        take_stock(&txn, &template, count).await?;
        let rows: Vec<coupon_codes::ActiveModel> = (1..=count)
            .map(|seq| coupon_codes::ActiveModel {
                merchant_id: Set(template.merchant_id),
                template_id: Set(template.id),
                code: Set(random_code()),
                batch_key: Set(key.as_str().to_owned()),
                batch_seq: Set(i32::try_from(seq).unwrap_or(i32::MAX)),
                member_id: Set(None),
                coupon_id: Set(None),
                redeemed_at: Set(None),
                created_at: Set(now),
                ..Default::default()
            })
            .collect();
        let mut failed = None;
        for chunk in rows.chunks(INSERT_CHUNK) {
            if let Err(error) = coupon_codes::Entity::insert_many(chunk.to_vec()).exec(&txn).await {
                failed = Some(error);
                break;
            }
        }
        match failed {
            None => {
                let detail = json!({ "count": count, "key": key.as_str() });
                audit::by_staff(&txn, principal, "coupon.codes_generated", ("coupon_template", template.id), detail)
                    .await?;
                txn.commit().await?;
                return same(batch(&ctx.db, template.id, key.as_str()).await?);
            }
            Some(error) if is_unique_violation(&error) => {
                txn.rollback().await?;
                let raced = batch(&ctx.db, template.id, key.as_str()).await?;
                if !raced.is_empty() {
                    return same(raced);
                }
            }
            Some(error) => return Err(error.into()),
        }
    }
    Err(Error::Internal(anyhow::anyhow!("redemption codes collided twice")))
}

/// The template's codes, oldest first, and who redeemed them: for staff who manage coupons (the codes are what a
/// member would type, so the desk does not see them).
pub async fn list(ctx: &AppContext, principal: &StaffPrincipal, template_id: i64) -> Result<Vec<Code>> {
    principal.require_merchant_wide(Permission::CouponManage)?;
    let template = template_row(&ctx.db, principal.merchant_id, template_id).await?;
    Ok(coupon_codes::Entity::find()
        .filter(coupon_codes::Column::TemplateId.eq(template.id))
        .order_by_asc(coupon_codes::Column::Id)
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(to_code)
        .collect())
}

/// The member redeems a code they were given: its template's coupon is theirs, once.
pub async fn redeem(ctx: &AppContext, me: &MemberPrincipal, typed: &str) -> Result<MemberCoupon> {
    let wrong_key = format!("coupon-code:wrong:{}:{}", me.merchant_id, me.member_id);
    let wrong: u64 = ctx.shared.get(&wrong_key).await?.and_then(|n| n.parse().ok()).unwrap_or(0);
    if wrong >= WRONG_PER_HOUR {
        return Err(Error::RateLimited { retry_after_secs: 3_600 });
    }
    let found = match normalised(typed) {
        Some(code) => {
            coupon_codes::Entity::find()
                .filter(coupon_codes::Column::MerchantId.eq(me.merchant_id))
                .filter(coupon_codes::Column::Code.eq(code))
                .one(&ctx.db)
                .await?
        }
        None => None,
    };
    let Some(code) = found else {
        ctx.shared.hit(&wrong_key, Duration::from_secs(3_600)).await?;
        return Err(Error::NotFound("redemption code"));
    };
    if code.member_id.is_some() {
        return Err(Error::Conflict(Conflict::CouponCodeUsed));
    }
    let template = template_row(&ctx.db, me.merchant_id, code.template_id).await?;
    active(&template)?;
    let member = crate::members::row(&ctx.db, me.merchant_id, me.member_id).await?;
    crate::members::live(&member)?;
    let zone = timezone(&ctx.db, me.merchant_id).await?;
    let now = ctx.now();
    let txn = ctx.db.begin().await?;
    let taken = coupon_codes::Entity::update_many()
        .col_expr(coupon_codes::Column::MemberId, sea_orm::sea_query::Expr::value(me.member_id))
        .col_expr(coupon_codes::Column::RedeemedAt, sea_orm::sea_query::Expr::value(now))
        .filter(coupon_codes::Column::Id.eq(code.id))
        .filter(coupon_codes::Column::MemberId.is_null())
        .exec(&txn)
        .await?;
    if taken.rows_affected != 1 {
        return Err(Error::Conflict(Conflict::CouponCodeUsed));
    }
    let issue = Issue {
        member_id: me.member_id,
        source: CouponSource::Code,
        source_key: Some(format!("code:{}", code.id)),
        claim_no: None,
        window: window(&template, &zone, now),
        template: &template,
    };
    let coupon = insert(&txn, issue, now).await?;
    coupon_codes::Entity::update_many()
        .col_expr(coupon_codes::Column::CouponId, sea_orm::sea_query::Expr::value(coupon.id))
        .filter(coupon_codes::Column::Id.eq(code.id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    to_coupon(coupon, now)
}

#[cfg(test)]
mod tests {
    use super::{grouped, normalised, random_code};

    #[test]
    fn a_code_is_typed_back_whatever_its_case_and_separators() {
        let code = random_code();
        assert_eq!(code.len(), 12);
        assert_eq!(normalised(&grouped(&code).to_lowercase()).as_deref(), Some(code.as_str()));
        assert_eq!(normalised("ABCD EFGH JKLM").as_deref(), Some("ABCDEFGHJKLM"));
        // 0, O, 1 and I are not in the alphabet: such a code was mistyped, and is refused without a lookup.
        assert_eq!(normalised("ABCD-EFGH-JKL0"), None);
        assert_eq!(normalised("ABCD-EFGH"), None);
    }
}
