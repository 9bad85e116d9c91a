//! Granting coupons to many members at once: staff by a list, a filter or a saved segment, campaigns to their
//! treatment group. One `INSERT ... SELECT` per grant, keyed by its source, so a retried grant issues nothing twice;
//! stock is taken for all of them in the same transaction or the grant is refused.

use std::collections::BTreeSet;

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, TransactionTrait};
use serde_json::json;

use entity::{member_coupons, members};

use super::issue::{Issue, active, insert, take_stock, timezone, window};
use super::templates::row as template_row;
use crate::domain::{CouponSource, CouponStatus, IdempotencyKey, Permission};
use crate::error::is_unique_violation;
use crate::foundation::audit::{self, Actor};
use crate::foundation::principal::StaffPrincipal;
use crate::{AppContext, Conflict, Error, Result};

/// The most members one grant names.
const MAX_GRANT: usize = 10_000;

/// What a grant did.
#[derive(Clone, Debug)]
pub struct Granted {
    /// Coupons issued by this request.
    pub issued: u64,
    /// Members who had this grant's coupon already (the same key asked before).
    pub already: u64,
}

/// Staff grant a coupon to members, one each, under an idempotency key: asked again, it issues nothing new. All
/// or nothing: stock short for all of them refuses the grant.
pub async fn grant(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    template_id: i64,
    member_ids: &[i64],
    key: &str,
) -> Result<Granted> {
    principal.require_merchant_wide(Permission::CouponManage)?;
    let key = IdempotencyKey::parse(key).map_err(|m| Error::invalid("idempotency_key", m))?;
    let wanted: BTreeSet<i64> = member_ids.iter().copied().collect();
    if wanted.is_empty() || wanted.len() > MAX_GRANT {
        return Err(Error::invalid("member_ids", "names 1 to 10,000 members"));
    }
    let template = template_row(&ctx.db, principal.merchant_id, template_id).await?;
    active(&template)?;
    let live = members::Entity::find()
        .filter(members::Column::MerchantId.eq(principal.merchant_id))
        .filter(members::Column::Id.is_in(wanted.iter().copied()))
        .filter(members::Column::AnonymisedAt.is_null())
        .count(&ctx.db)
        .await?;
    if usize::try_from(live).ok() != Some(wanted.len()) {
        return Err(Error::invalid("member_ids", "names someone who is not a member of this merchant"));
    }
    let source_key = format!("grant:{}", key.as_str());
    let zone = timezone(&ctx.db, principal.merchant_id).await?;
    let now = ctx.now();
    // A concurrent request with the same key loses on the unique key: the second pass skips what the first issued.
    for _ in 0..2 {
        let had: BTreeSet<i64> = member_coupons::Entity::find()
            .filter(member_coupons::Column::TemplateId.eq(template.id))
            .filter(member_coupons::Column::SourceKey.eq(source_key.as_str()))
            .filter(member_coupons::Column::MemberId.is_in(wanted.iter().copied()))
            .all(&ctx.db)
            .await?
            .into_iter()
            .map(|c| c.member_id)
            .collect();
        let to_issue: Vec<i64> = wanted.difference(&had).copied().collect();
        let already = u64::try_from(had.len()).unwrap_or(u64::MAX);
        if to_issue.is_empty() {
            return Ok(Granted { issued: 0, already });
        }
        let txn = ctx.db.begin().await?;
        take_stock(&txn, &template, i64::try_from(to_issue.len()).unwrap_or(i64::MAX)).await?;
        let mut failed = None;
        for &member_id in &to_issue {
            let issue = Issue {
                member_id,
                source: CouponSource::Grant,
                source_key: Some(source_key.clone()),
                claim_no: None,
                window: window(&template, &zone, now),
                template: &template,
            };
            if let Err(error) = insert(&txn, issue, now).await {
                failed = Some(error);
                break;
            }
        }
        match failed {
            None => {
                let detail = json!({ "members": to_issue.len(), "key": key.as_str() });
                audit::by_staff(&txn, principal, "coupon.granted", ("coupon_template", template.id), detail).await?;
                txn.commit().await?;
                return Ok(Granted { issued: u64::try_from(to_issue.len()).unwrap_or(u64::MAX), already });
            }
            Some(Error::Database(error)) if is_unique_violation(&error) => txn.rollback().await?,
            Some(error) => return Err(error),
        }
    }
    Err(Error::Conflict(Conflict::IdempotencyKeyReused))
}

/// Staff grant a coupon to every member the member list's filters select (a campaign's drop), one each, under an
/// idempotency key, in one statement: `INSERT … SELECT` from the members, skipping any who hold this grant's
/// coupon already (a retry, or the same request racing itself), then the stock and budget for what was inserted,
/// taken by the guarded decrement. All or nothing: stock short for all of them refuses the grant.
pub async fn grant_matching(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    template_id: i64,
    query: &crate::members::MemberQuery,
    key: &str,
) -> Result<Granted> {
    principal.require_merchant_wide(Permission::CouponManage)?;
    let condition = crate::members::filter(ctx, principal.merchant_id, query)?;
    grant_where(ctx, Drop::by_staff(principal, template_id, key)?, condition).await
}

/// Staff grant a coupon to everyone a saved segment holds now, as [`grant_matching`] grants to a filtered list.
pub async fn grant_segment(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    template_id: i64,
    segment_id: i64,
    key: &str,
) -> Result<Granted> {
    principal.require_merchant_wide(Permission::CouponManage)?;
    let drop = Drop::by_staff(principal, template_id, key)?;
    let condition = crate::marketing::segments::members_of(ctx, principal.merchant_id, segment_id).await?;
    grant_where(ctx, drop, condition).await
}

/// One coupon of a template to many members at once: by whom, and what it is keyed by.
pub(crate) struct Drop {
    pub(crate) merchant_id: i64,
    pub(crate) template_id: i64,
    pub(crate) actor: Actor,
    pub(crate) source: CouponSource,
    /// What each coupon is keyed by (with its template and member): the same key again issues nothing.
    pub(crate) source_key: String,
}

impl Drop {
    fn by_staff(principal: &StaffPrincipal, template_id: i64, key: &str) -> Result<Self> {
        let key = IdempotencyKey::parse(key).map_err(|m| Error::invalid("idempotency_key", m))?;
        Ok(Self {
            merchant_id: principal.merchant_id,
            template_id,
            actor: Actor::Staff(principal.staff_id),
            source: CouponSource::Grant,
            source_key: format!("grant:{}", key.as_str()),
        })
    }
}

/// Issues `drop` to every member `condition` (on `members`) selects.
pub(crate) async fn grant_where(ctx: &AppContext, drop: Drop, condition: sea_orm::Condition) -> Result<Granted> {
    use member_coupons::Column as C;
    use sea_orm::sea_query::{OnConflict, Query};
    let template = template_row(&ctx.db, drop.merchant_id, drop.template_id).await?;
    active(&template)?;
    let source_key = drop.source_key;
    let zone = timezone(&ctx.db, drop.merchant_id).await?;
    let now = ctx.now();
    let (valid_from, valid_until) = window(&template, &zone, now);
    let t = &template;
    let select = Query::select()
        .expr(Expr::val(t.merchant_id))
        .expr(Expr::val(t.id))
        .column((members::Entity, members::Column::Id))
        .expr(Expr::val(t.name.clone()))
        .expr(Expr::val(t.kind.clone()))
        .expr(Expr::val(t.value_fen))
        .expr(Expr::val(t.rate_bp))
        .expr(Expr::val(t.cap_fen))
        .expr(Expr::val(t.threshold_fen))
        .expr(Expr::val(t.free_item_kind.clone()))
        .expr(Expr::val(t.free_item_id))
        .expr(Expr::val(t.scope.clone()))
        .expr(Expr::val(t.stacks_with_level))
        .expr(Expr::val(t.stacks_with_points))
        .expr(Expr::val(t.stacks_with_coupons))
        .expr(Expr::val(valid_from))
        .expr(Expr::val(valid_until))
        .expr(Expr::val(CouponStatus::Usable.as_str()))
        .expr(Expr::val(drop.source.as_str()))
        .expr(Expr::val(source_key.clone()))
        .expr(Expr::val(now))
        .from(members::Entity)
        .cond_where(condition)
        .and_where(Expr::col((members::Entity, members::Column::AnonymisedAt)).is_null())
        .take();
    let columns = [
        C::MerchantId,
        C::TemplateId,
        C::MemberId,
        C::Name,
        C::Kind,
        C::ValueFen,
        C::RateBp,
        C::CapFen,
        C::ThresholdFen,
        C::FreeItemKind,
        C::FreeItemId,
        C::Scope,
        C::StacksWithLevel,
        C::StacksWithPoints,
        C::StacksWithCoupons,
        C::ValidFrom,
        C::ValidUntil,
        C::Status,
        C::Source,
        C::SourceKey,
        C::CreatedAt,
    ];
    let insert = Query::insert()
        .into_table(member_coupons::Entity)
        .columns(columns)
        .select_from(select)
        .map_err(|e| Error::Internal(e.into()))?
        .on_conflict(OnConflict::columns([C::TemplateId, C::MemberId, C::SourceKey]).do_nothing().to_owned())
        .to_owned();
    let txn = ctx.db.begin().await?;
    let backend = txn.get_database_backend();
    let issued = txn.execute_raw(backend.build(&insert)).await?.rows_affected();
    if issued > 0 {
        take_stock(&txn, &template, i64::try_from(issued).unwrap_or(i64::MAX)).await?;
        let detail = json!({ "members": issued, "key": source_key, "by_filter": true });
        let event = audit::Event {
            merchant_id: Some(drop.merchant_id),
            actor: drop.actor,
            action: "coupon.granted",
            target: Some(("coupon_template", template.id)),
            detail,
            ip: None,
        };
        audit::record(&txn, event).await?;
    }
    txn.commit().await?;
    let holders = member_coupons::Entity::find()
        .filter(member_coupons::Column::TemplateId.eq(template.id))
        .filter(member_coupons::Column::SourceKey.eq(source_key.as_str()))
        .count(&ctx.db)
        .await?;
    Ok(Granted { issued, already: holders.saturating_sub(issued) })
}
