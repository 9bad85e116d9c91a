//! The audit log: who did what to whom, append-only, written in the transaction of the change it records. Sign-ins
//! (failed ones too); every change to staff, roles, permissions and members' personal data; prices and the catalog
//! (services, products, count-card products, recharge plans: created, and each change as old and new values);
//! parked bills (parked, edited, voided), refunds and reversals; levels; the store's bridges and printers and every
//! reprint. Details never hold personal data.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::Value;

use entity::audit_log;

use crate::domain::{Page, Permission};
use crate::foundation::principal::StaffPrincipal;
use crate::{AppContext, Result};

#[derive(Clone, Copy, Debug)]
pub enum Actor {
    Staff(i64),
    Member(i64),
    System,
}

pub struct Event<'a> {
    pub merchant_id: Option<i64>,
    pub actor: Actor,
    pub action: &'a str,
    pub target: Option<(&'a str, i64)>,
    pub detail: Value,
    pub ip: Option<&'a str>,
}

/// The reason staff give for an audited action (a refund, a transfer, an adjustment): 1–200 characters, trimmed.
pub(crate) fn reason(value: &str) -> Result<String> {
    let trimmed = value.trim();
    if trimmed.is_empty() || trimmed.chars().count() > 200 {
        return Err(crate::Error::invalid("reason", "must be 1–200 characters"));
    }
    Ok(trimmed.to_owned())
}

/// Appends what a staff member did to `target` (kind, id), on `conn` (the transaction making the change).
pub(crate) async fn by_staff(
    conn: &impl ConnectionTrait,
    principal: &StaffPrincipal,
    action: &str,
    target: (&str, i64),
    detail: Value,
) -> Result<()> {
    record(
        conn,
        Event {
            merchant_id: Some(principal.merchant_id),
            actor: Actor::Staff(principal.staff_id),
            action,
            target: Some(target),
            detail,
            ip: None,
        },
    )
    .await
}

/// Appends one event on `conn` (pass the transaction that makes the change, so both commit or neither).
pub async fn record(conn: &impl ConnectionTrait, event: Event<'_>) -> Result<()> {
    let (actor_kind, actor_id) = match event.actor {
        Actor::Staff(id) => ("staff", Some(id)),
        Actor::Member(id) => ("member", Some(id)),
        Actor::System => ("system", None),
    };
    audit_log::Entity::insert(audit_log::ActiveModel {
        merchant_id: Set(event.merchant_id),
        actor_kind: Set(actor_kind.to_owned()),
        actor_id: Set(actor_id),
        action: Set(event.action.to_owned()),
        target_kind: Set(event.target.map(|(kind, _)| kind.to_owned())),
        target_id: Set(event.target.map(|(_, id)| id)),
        detail: Set(event.detail.to_string()),
        ip: Set(event.ip.map(str::to_owned)),
        created_at: Set(Utc::now()),
        ..Default::default()
    })
    .exec(conn)
    .await?;
    Ok(())
}

pub struct AuditEntry {
    pub id: i64,
    pub actor_kind: String,
    pub actor_id: Option<i64>,
    pub action: String,
    pub target_kind: Option<String>,
    pub target_id: Option<i64>,
    pub detail: Value,
    pub ip: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// The merchant's log, newest first, one page at a time.
pub async fn list(ctx: &AppContext, principal: &StaffPrincipal, page: Page) -> Result<Vec<AuditEntry>> {
    principal.require(Permission::AuditRead)?;
    let mut query = audit_log::Entity::find().filter(audit_log::Column::MerchantId.eq(principal.merchant_id));
    // Store-scoped staff read what the staff of their stores did; merchant-wide staff read everything.
    if let crate::foundation::principal::StoreScope::Only(stores) = &principal.stores {
        let colleagues: Vec<i64> = entity::staff_stores::Entity::find()
            .filter(entity::staff_stores::Column::MerchantId.eq(principal.merchant_id))
            .filter(entity::staff_stores::Column::StoreId.is_in(stores.clone()))
            .all(&ctx.db)
            .await?
            .into_iter()
            .map(|row| row.staff_id)
            .collect();
        query =
            query.filter(audit_log::Column::ActorKind.eq("staff")).filter(audit_log::Column::ActorId.is_in(colleagues));
    }
    if let Some(before) = page.before_id {
        query = query.filter(audit_log::Column::Id.lt(before));
    }
    let rows = query.order_by_desc(audit_log::Column::Id).limit(page.limit).all(&ctx.db).await?;
    Ok(rows
        .into_iter()
        .map(|row| AuditEntry {
            id: row.id,
            actor_kind: row.actor_kind,
            actor_id: row.actor_id,
            action: row.action,
            target_kind: row.target_kind,
            target_id: row.target_id,
            detail: serde_json::from_str(&row.detail).unwrap_or(Value::Null),
            ip: row.ip,
            created_at: row.created_at,
        })
        .collect())
}

/// What a change did to a row, for its audit entry: `{field: [before, after]}` for every field that differs
/// (timestamps of the change itself left out).
pub(crate) fn changes<T: serde::Serialize>(before: &T, after: &T) -> Value {
    let (Ok(Value::Object(before)), Ok(Value::Object(after))) =
        (serde_json::to_value(before), serde_json::to_value(after))
    else {
        return Value::Null;
    };
    let mut changed = serde_json::Map::new();
    for (field, new) in after {
        let old = before.get(&field).cloned().unwrap_or(Value::Null);
        if old != new && field != "updated_at" {
            changed.insert(field, Value::Array(vec![old, new]));
        }
    }
    Value::Object(changed)
}

/// A row as it was created, for its audit entry (ids and timestamps left out).
pub(crate) fn created<T: serde::Serialize>(row: &T) -> Value {
    let Ok(Value::Object(mut fields)) = serde_json::to_value(row) else { return Value::Null };
    for noise in ["id", "merchant_id", "created_at", "updated_at"] {
        fields.remove(noise);
    }
    Value::Object(fields)
}
