//! Allergy and contraindication notes (过敏/禁忌), sealed at rest, and the guard that matches them against the
//! substances of the services on a bill or a booking.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    TransactionTrait,
};
use serde_json::json;

use entity::member_allergies;

use super::auth::MemberPrincipal;
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
    /// Told by the member in the app (they may withdraw it), rather than recorded at the desk.
    pub by_member: bool,
    pub created_at: DateTime<Utc>,
}

/// `reported_by` of a note the member told in the app.
const REPORTED_BY_MEMBER: &str = "member";

/// The most notes a member tells in the app: each one is shown at the desk and checked against every service.
const MAX_TOLD_BY_MEMBER: u64 = 20;

pub(super) fn open_allergy(ctx: &AppContext, row: member_allergies::Model) -> Result<Allergy> {
    Ok(Allergy {
        id: row.id,
        substance: ctx.vault.open(Field::AllergySubstance, &row.substance_sealed)?,
        severity: Severity::from_db(&row.severity),
        note: ctx.vault.open_opt(Field::AllergyNote, row.note_sealed.as_deref())?,
        by_member: row.reported_by == REPORTED_BY_MEMBER,
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
    let note = AllergyInput::parse(substance, severity, note)?;
    insert(ctx, principal.merchant_id, member_id, note, By::Staff(principal.staff_id)).await
}

/// The member tells the store of an allergy or contraindication in the app; the desk sees it like its own notes.
pub async fn report_own(
    ctx: &AppContext,
    me: &MemberPrincipal,
    substance: &str,
    severity: Severity,
    note: Option<&str>,
) -> Result<Allergy> {
    let note = AllergyInput::parse(substance, severity, note)?;
    insert(ctx, me.merchant_id, me.member_id, note, By::Member(me.member_id)).await
}

struct AllergyInput<'a> {
    substance: &'a str,
    severity: Severity,
    note: Option<&'a str>,
}

impl<'a> AllergyInput<'a> {
    fn parse(substance: &'a str, severity: Severity, note: Option<&'a str>) -> Result<Self> {
        let substance = substance.trim();
        if substance.is_empty() || substance.chars().count() > 60 {
            return Err(Error::invalid("substance", "must be 1–60 characters"));
        }
        let note = note.map(str::trim).filter(|n| !n.is_empty());
        if note.is_some_and(|n| n.chars().count() > 500) {
            return Err(Error::invalid("note", "must be at most 500 characters"));
        }
        Ok(Self { substance, severity, note })
    }
}

/// Who writes a note: a staff member at the desk, or the member in the app.
#[derive(Clone, Copy)]
enum By {
    Staff(i64),
    Member(i64),
}

async fn insert(
    ctx: &AppContext,
    merchant_id: i64,
    member_id: i64,
    input: AllergyInput<'_>,
    by: By,
) -> Result<Allergy> {
    let (reported_by, created_by, actor) = match by {
        By::Staff(id) => ("staff", id, Actor::Staff(id)),
        By::Member(id) => (REPORTED_BY_MEMBER, id, Actor::Member(id)),
    };
    let txn = ctx.db.begin().await?;
    live(&row(&txn, merchant_id, member_id).await?)?;
    if reported_by == REPORTED_BY_MEMBER {
        let told = member_allergies::Entity::find()
            .filter(member_allergies::Column::MemberId.eq(member_id))
            .filter(member_allergies::Column::ReportedBy.eq(REPORTED_BY_MEMBER))
            .count(&txn)
            .await?;
        if told >= MAX_TOLD_BY_MEMBER {
            return Err(Error::invalid("substance", "at most 20 notes can be told in the app; ask the store"));
        }
    }
    let row = member_allergies::ActiveModel {
        merchant_id: Set(merchant_id),
        member_id: Set(member_id),
        substance_sealed: Set(ctx.vault.seal(Field::AllergySubstance, input.substance)),
        severity: Set(input.severity.as_str().to_owned()),
        note_sealed: Set(input.note.map(|n| ctx.vault.seal(Field::AllergyNote, n))),
        created_by: Set(created_by),
        reported_by: Set(reported_by.to_owned()),
        created_at: Set(ctx.now()),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        Event {
            merchant_id: Some(merchant_id),
            actor,
            action: "member.allergy_added",
            target: Some(("member", member_id)),
            detail: json!({ "allergy_id": row.id, "severity": input.severity.as_str(), "reported_by": reported_by }),
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
    delete(ctx, principal.merchant_id, member_id, allergy_id, By::Staff(principal.staff_id)).await
}

/// The member withdraws a note they told in the app. Notes the desk recorded stay: only staff remove those.
pub async fn withdraw_own(ctx: &AppContext, me: &MemberPrincipal, allergy_id: i64) -> Result<()> {
    delete(ctx, me.merchant_id, me.member_id, allergy_id, By::Member(me.member_id)).await
}

async fn delete(ctx: &AppContext, merchant_id: i64, member_id: i64, allergy_id: i64, by: By) -> Result<()> {
    let mut query = member_allergies::Entity::delete_many()
        .filter(member_allergies::Column::Id.eq(allergy_id))
        .filter(member_allergies::Column::MemberId.eq(member_id))
        .filter(member_allergies::Column::MerchantId.eq(merchant_id));
    let actor = match by {
        By::Staff(id) => Actor::Staff(id),
        By::Member(id) => {
            query = query.filter(member_allergies::Column::ReportedBy.eq(REPORTED_BY_MEMBER));
            Actor::Member(id)
        }
    };
    let txn = ctx.db.begin().await?;
    if query.exec(&txn).await?.rows_affected == 0 {
        return Err(Error::NotFound("allergy note"));
    }
    audit::record(
        &txn,
        Event {
            merchant_id: Some(merchant_id),
            actor,
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
