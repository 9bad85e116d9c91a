//! The payment exceptions list: what reconciliation or a callback found that does not add up, for staff with the
//! refund permission to look into and mark resolved (with what they did, audited).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait};
use serde_json::json;

use entity::payment_exceptions;

use crate::domain::Permission;
use crate::foundation::audit::{self, Actor, Event};
use crate::foundation::principal::{StaffPrincipal, StoreScope};
use crate::{AppContext, Conflict, Error, Result};

#[derive(Clone, Debug)]
pub struct PaymentException {
    pub id: i64,
    pub payment_id: Option<i64>,
    pub store_id: Option<i64>,
    pub provider: String,
    pub kind: String,
    pub reference: String,
    pub detail: serde_json::Value,
    pub found_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<i64>,
    pub resolution: Option<String>,
}

impl From<payment_exceptions::Model> for PaymentException {
    fn from(row: payment_exceptions::Model) -> Self {
        Self {
            id: row.id,
            payment_id: row.payment_id,
            store_id: row.store_id,
            provider: row.provider,
            kind: row.kind,
            reference: row.reference,
            detail: serde_json::from_str(&row.detail).unwrap_or(serde_json::Value::Null),
            found_at: row.found_at,
            resolved_at: row.resolved_at,
            resolved_by: row.resolved_by,
            resolution: row.resolution,
        }
    }
}

/// Open exceptions (or all), newest first.
pub async fn list(ctx: &AppContext, principal: &StaffPrincipal, open_only: bool) -> Result<Vec<PaymentException>> {
    principal.require(Permission::Refund)?;
    let mut query =
        payment_exceptions::Entity::find().filter(payment_exceptions::Column::MerchantId.eq(principal.merchant_id));
    // Store-scoped staff see their stores' exceptions; those about no known payment are for merchant-wide staff.
    if let StoreScope::Only(stores) = &principal.stores {
        query = query.filter(payment_exceptions::Column::StoreId.is_in(stores.clone()));
    }
    if open_only {
        query = query.filter(payment_exceptions::Column::ResolvedAt.is_null());
    }
    let rows = query.order_by_desc(payment_exceptions::Column::Id).limit(500).all(&ctx.db).await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// Marks an exception resolved with what was done about it. Resolving twice is refused.
pub async fn resolve(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    id: i64,
    resolution: &str,
) -> Result<PaymentException> {
    principal.require(Permission::Refund)?;
    let resolution = audit::reason(resolution)?;
    let row = payment_exceptions::Entity::find_by_id(id)
        .filter(payment_exceptions::Column::MerchantId.eq(principal.merchant_id))
        .one(&ctx.db)
        .await?
        .filter(|row| match &principal.stores {
            StoreScope::All => true,
            StoreScope::Only(stores) => row.store_id.is_some_and(|store| stores.contains(&store)),
        })
        .ok_or(Error::NotFound("payment exception"))?;
    let txn = ctx.db.begin().await?;
    let updated = payment_exceptions::Entity::update_many()
        .col_expr(payment_exceptions::Column::ResolvedAt, Expr::value(Utc::now()))
        .col_expr(payment_exceptions::Column::ResolvedBy, Expr::value(principal.staff_id))
        .col_expr(payment_exceptions::Column::Resolution, Expr::value(resolution.clone()))
        .filter(payment_exceptions::Column::Id.eq(row.id))
        .filter(payment_exceptions::Column::ResolvedAt.is_null())
        .exec(&txn)
        .await?;
    if updated.rows_affected != 1 {
        return Err(Error::Conflict(Conflict::AlreadyResolved));
    }
    audit::record(
        &txn,
        Event {
            merchant_id: Some(principal.merchant_id),
            actor: Actor::Staff(principal.staff_id),
            action: "payment_exception.resolved",
            target: Some(("payment_exception", row.id)),
            detail: json!({ "kind": row.kind, "reference": row.reference, "resolution": resolution }),
            ip: None,
        },
    )
    .await?;
    txn.commit().await?;
    let row =
        payment_exceptions::Entity::find_by_id(id).one(&ctx.db).await?.ok_or(Error::NotFound("payment exception"))?;
    Ok(row.into())
}
