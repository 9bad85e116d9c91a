//! One member with everything their view shows, found by phone or by id: the desk's look-up (the most frequent
//! request at the counter), a member's page, the member's own view in the app.
//!
//! On PostgreSQL every statement is a round trip and costs the server a parse, bind and execute of its own, so the
//! member, their tags, allergy notes, consents and level come in one statement, the related rows as JSON the
//! server builds. On SQLite the view is still read as lists read it ([`Related::of`]): measured, each of those
//! statements costs the api a hop to sqlx's SQLite thread, so the same one statement (with SQLite's own JSON
//! functions) would help there too; not done yet.

use sea_orm::{ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, QueryFilter, Statement};
use serde::de::DeserializeOwned;

use entity::{marketing_consents, member_allergies, member_levels, members};

use super::{Related, consents};
use crate::{AppContext, Error, Result};

/// How the member is found.
pub(super) enum Key {
    /// The blind index of their phone number.
    Phone(String),
    Id(i64),
}

/// The merchant's member and what their view shows, or `NotFound`.
pub(super) async fn one(ctx: &AppContext, merchant_id: i64, key: Key) -> Result<(members::Model, Related)> {
    if ctx.db.get_database_backend() == DbBackend::Postgres {
        return together(ctx, merchant_id, key).await;
    }
    let row = match key {
        Key::Id(id) => super::row(&ctx.db, merchant_id, id).await?,
        Key::Phone(index) => members::Entity::find()
            .filter(sea_orm::ColumnTrait::eq(&members::Column::MerchantId, merchant_id))
            .filter(sea_orm::ColumnTrait::eq(&members::Column::PhoneIndex, index))
            .one(&ctx.db)
            .await?
            .ok_or(Error::NotFound("member"))?,
    };
    let related = Related::of(&ctx.db, std::slice::from_ref(&row), true).await?;
    Ok((row, related))
}

/// The member's row and, as JSON, the rows [`Related::of`] reads: the same rows in the same order.
macro_rules! together {
    ($found_by:literal) => {
        concat!(
            "SELECT m.*, ",
            "(SELECT json_agg(t.tag ORDER BY t.tag) FROM member_tags t WHERE t.member_id = m.id)::text AS related_tags, ",
            "(SELECT json_agg(a ORDER BY a.id) FROM member_allergies a WHERE a.member_id = m.id)::text ",
            "AS related_allergies, ",
            "(SELECT json_agg(c ORDER BY c.id) FROM marketing_consents c ",
            "WHERE c.merchant_id = m.merchant_id AND c.member_id = m.id)::text AS related_consents, ",
            "(SELECT row_to_json(l) FROM member_levels l WHERE l.id = m.level_id)::text AS related_level ",
            "FROM members m WHERE m.merchant_id = $1 AND ",
            $found_by
        )
    };
}

async fn together(ctx: &AppContext, merchant_id: i64, key: Key) -> Result<(members::Model, Related)> {
    let (sql, value) = match key {
        Key::Phone(index) => (together!("m.phone_index = $2"), sea_orm::Value::from(index)),
        Key::Id(id) => (together!("m.id = $2"), id.into()),
    };
    let found = ctx
        .db
        .query_one_raw(Statement::from_sql_and_values(DbBackend::Postgres, sql, [merchant_id.into(), value]))
        .await?
        .ok_or(Error::NotFound("member"))?;
    let row = members::Model::from_query_result(&found, "")?;
    let tags: Vec<String> = json(&found, "related_tags")?;
    let allergies: Vec<member_allergies::Model> = json(&found, "related_allergies")?;
    let consents: Vec<marketing_consents::Model> = json(&found, "related_consents")?;
    let level: Option<member_levels::Model> = json(&found, "related_level")?;
    let mut related = Related::default();
    if !tags.is_empty() {
        related.tags.insert(row.id, tags);
    }
    if !allergies.is_empty() {
        related.allergies.insert(row.id, allergies);
    }
    related.consents = consents::marketing_in_force(consents);
    related.levels = level.into_iter().map(|level| (level.id, level)).collect();
    Ok((row, related))
}

/// A JSON column of the statement above; NULL (no rows) is the empty value.
fn json<T: DeserializeOwned + Default>(row: &sea_orm::QueryResult, column: &str) -> Result<T> {
    match row.try_get::<Option<String>>("", column)? {
        Some(text) => serde_json::from_str(&text)
            .map_err(|e| Error::Internal(anyhow::anyhow!("reading {column} of a member: {e}"))),
        None => Ok(T::default()),
    }
}
