//! Staff notes on a member, and tags.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    TransactionTrait,
};

use entity::{member_notes, member_tags};

use super::{live, row};
use crate::domain::{Permission, Tag};
use crate::foundation::principal::StaffPrincipal;
use crate::foundation::vault::Field;
pub use crate::loyalty::levels::Level;
use crate::{AppContext, Error, Result};

pub(super) fn parse_tags(tags: &[String]) -> Result<Vec<Tag>> {
    if tags.len() > 30 {
        return Err(Error::invalid("tags", "at most 30 tags"));
    }
    let mut parsed: Vec<Tag> =
        tags.iter().map(|t| Tag::parse(t).map_err(|m| Error::invalid("tags", m))).collect::<Result<_>>()?;
    parsed.sort();
    parsed.dedup();
    Ok(parsed)
}

pub(super) async fn write_tags(
    conn: &impl ConnectionTrait,
    merchant_id: i64,
    member_id: i64,
    tags: &[Tag],
) -> Result<()> {
    member_tags::Entity::delete_many().filter(member_tags::Column::MemberId.eq(member_id)).exec(conn).await?;
    if !tags.is_empty() {
        member_tags::Entity::insert_many(tags.iter().map(|tag| member_tags::ActiveModel {
            member_id: Set(member_id),
            tag: Set(tag.as_str().to_owned()),
            merchant_id: Set(merchant_id),
        }))
        .exec(conn)
        .await?;
    }
    Ok(())
}

/// Replaces the member's tags with `tags`.
pub async fn set_tags(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    member_id: i64,
    tags: Vec<String>,
) -> Result<Vec<String>> {
    principal.require(Permission::MemberWrite)?;
    let tags = parse_tags(&tags)?;
    let txn = ctx.db.begin().await?;
    live(&row(&txn, principal.merchant_id, member_id).await?)?;
    write_tags(&txn, principal.merchant_id, member_id, &tags).await?;
    txn.commit().await?;
    Ok(tags.into_iter().map(Tag::into_string).collect())
}

pub struct Note {
    pub id: i64,
    pub staff_id: i64,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

pub async fn list_notes(ctx: &AppContext, principal: &StaffPrincipal, member_id: i64) -> Result<Vec<Note>> {
    principal.require(Permission::MemberRead)?;
    row(&ctx.db, principal.merchant_id, member_id).await?;
    notes_of(ctx, member_id).await
}

/// A member's notes, newest first, opened.
pub(crate) async fn notes_of(ctx: &AppContext, member_id: i64) -> Result<Vec<Note>> {
    member_notes::Entity::find()
        .filter(member_notes::Column::MemberId.eq(member_id))
        .order_by_desc(member_notes::Column::Id)
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|n| Ok(Note { id: n.id, staff_id: n.staff_id, body: body_of(ctx, &n)?, created_at: n.created_at }))
        .collect()
}

/// The note's text: sealed, or plain in a row written before sealing.
fn body_of(ctx: &AppContext, note: &member_notes::Model) -> Result<String> {
    Ok(ctx.vault.open_opt(Field::MemberNote, note.body_sealed.as_deref())?.unwrap_or_else(|| note.body.clone()))
}

/// Seals notes written before sealing and empties their plain text. Idempotent.
pub(crate) async fn seal_plain(ctx: &AppContext) -> Result<u64> {
    use sea_orm::QuerySelect;
    let mut sealed = 0;
    loop {
        let rows =
            member_notes::Entity::find().filter(member_notes::Column::Body.ne("")).limit(500).all(&ctx.db).await?;
        if rows.is_empty() {
            break;
        }
        for note in rows {
            let body = body_of(ctx, &note)?;
            let mut active: member_notes::ActiveModel = note.into();
            active.body_sealed = Set(Some(ctx.vault.seal(Field::MemberNote, &body)));
            active.body = Set(String::new());
            active.update(&ctx.db).await?;
            sealed += 1;
        }
    }
    Ok(sealed)
}

pub async fn add_note(ctx: &AppContext, principal: &StaffPrincipal, member_id: i64, body: &str) -> Result<Note> {
    principal.require(Permission::MemberWrite)?;
    let body = body.trim();
    if body.is_empty() || body.chars().count() > 2000 {
        return Err(Error::invalid("body", "must be 1–2000 characters"));
    }
    live(&row(&ctx.db, principal.merchant_id, member_id).await?)?;
    let note = member_notes::ActiveModel {
        merchant_id: Set(principal.merchant_id),
        member_id: Set(member_id),
        staff_id: Set(principal.staff_id),
        body: Set(String::new()),
        body_sealed: Set(Some(ctx.vault.seal(Field::MemberNote, body))),
        created_at: Set(ctx.now()),
        ..Default::default()
    }
    .insert(&ctx.db)
    .await?;
    Ok(Note { id: note.id, staff_id: note.staff_id, body: body.to_owned(), created_at: note.created_at })
}
