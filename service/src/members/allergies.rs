//! Allergy and contraindication notes (过敏/禁忌), sealed at rest, and the guard that matches them against the
//! substances of the services on a bill or a booking.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, TransactionTrait,
};
use serde_json::json;

use entity::member_allergies;

use super::{live, row};
use crate::domain::{Permission, Severity};
use crate::foundation::audit::{self, Actor, Event};
use crate::foundation::principal::StaffPrincipal;
use crate::foundation::vault::Field;
pub use crate::loyalty::levels::Level;
use crate::{AppContext, Error, Result};

#[derive(Clone, Debug)]
pub struct Allergy {
    pub id: i64,
    pub substance: String,
    pub severity: Severity,
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
}

pub(super) fn open_allergy(ctx: &AppContext, row: member_allergies::Model) -> Result<Allergy> {
    Ok(Allergy {
        id: row.id,
        substance: ctx.vault.open(Field::AllergySubstance, &row.substance_sealed)?,
        severity: Severity::from_db(&row.severity),
        note: ctx.vault.open_opt(Field::AllergyNote, row.note_sealed.as_deref())?,
        created_at: row.created_at,
    })
}

/// A member's allergy notes, opened: checkout matches them against the substances of the services on a bill.
pub(crate) async fn allergies_of(ctx: &AppContext, member_id: i64) -> Result<Vec<Allergy>> {
    member_allergies::Entity::find()
        .filter(member_allergies::Column::MemberId.eq(member_id))
        .order_by_asc(member_allergies::Column::Id)
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|row| open_allergy(ctx, row))
        .collect()
}

pub async fn add_allergy(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    member_id: i64,
    substance: &str,
    severity: Severity,
    note: Option<&str>,
) -> Result<Allergy> {
    principal.require(Permission::MemberWrite)?;
    let substance = substance.trim();
    if substance.is_empty() || substance.chars().count() > 60 {
        return Err(Error::invalid("substance", "must be 1–60 characters"));
    }
    let note = note.map(str::trim).filter(|n| !n.is_empty());
    if note.is_some_and(|n| n.chars().count() > 500) {
        return Err(Error::invalid("note", "must be at most 500 characters"));
    }
    let txn = ctx.db.begin().await?;
    live(&row(&txn, principal.merchant_id, member_id).await?)?;
    let row = member_allergies::ActiveModel {
        merchant_id: Set(principal.merchant_id),
        member_id: Set(member_id),
        substance_sealed: Set(ctx.vault.seal(Field::AllergySubstance, substance)),
        severity: Set(severity.as_str().to_owned()),
        note_sealed: Set(note.map(|n| ctx.vault.seal(Field::AllergyNote, n))),
        created_by: Set(principal.staff_id),
        created_at: Set(ctx.now()),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        Event {
            merchant_id: Some(principal.merchant_id),
            actor: Actor::Staff(principal.staff_id),
            action: "member.allergy_added",
            target: Some(("member", member_id)),
            detail: json!({ "allergy_id": row.id, "severity": severity.as_str() }),
            ip: None,
        },
    )
    .await?;
    txn.commit().await?;
    open_allergy(ctx, row)
}

pub async fn remove_allergy(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    member_id: i64,
    allergy_id: i64,
) -> Result<()> {
    principal.require(Permission::MemberWrite)?;
    row(&ctx.db, principal.merchant_id, member_id).await?;
    let txn = ctx.db.begin().await?;
    let deleted = member_allergies::Entity::delete_many()
        .filter(member_allergies::Column::Id.eq(allergy_id))
        .filter(member_allergies::Column::MemberId.eq(member_id))
        .filter(member_allergies::Column::MerchantId.eq(principal.merchant_id))
        .exec(&txn)
        .await?;
    if deleted.rows_affected == 0 {
        return Err(Error::NotFound("allergy note"));
    }
    audit::record(
        &txn,
        Event {
            merchant_id: Some(principal.merchant_id),
            actor: Actor::Staff(principal.staff_id),
            action: "member.allergy_removed",
            target: Some(("member", member_id)),
            detail: json!({ "allergy_id": allergy_id }),
            ip: None,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

#[derive(Clone, Debug)]
pub struct AllergyMatch {
    pub substance: String,
    pub severity: String,
    pub note: Option<String>,
    pub service_item_id: i64,
    pub service_name: String,
}

/// The member's allergy notes that match the substances of these services (`(item id, name, substances)`).
pub(crate) async fn matching_allergies(
    ctx: &AppContext,
    member_id: i64,
    services: &[(i64, &str, &[String])],
) -> Result<Vec<AllergyMatch>> {
    if services.iter().all(|(_, _, substances)| substances.is_empty()) {
        return Ok(Vec::new());
    }
    let allergies = crate::members::allergies::allergies_of(ctx, member_id).await?;
    let mut found = Vec::new();
    for allergy in &allergies {
        let substance = allergy.substance.trim().to_lowercase();
        for (item_id, name, substances) in services {
            if substances.iter().any(|s| {
                let s = s.trim().to_lowercase();
                !s.is_empty() && (s.contains(&substance) || substance.contains(&s))
            }) {
                found.push(AllergyMatch {
                    substance: allergy.substance.clone(),
                    severity: allergy.severity.as_str().to_owned(),
                    note: allergy.note.clone(),
                    service_item_id: *item_id,
                    service_name: (*name).to_owned(),
                });
            }
        }
    }
    Ok(found)
}
