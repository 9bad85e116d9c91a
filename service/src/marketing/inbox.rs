//! A member's in-app inbox: what campaigns said to them, newest first; unread ones pop up once when the app opens.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use entity::member_inbox;

use crate::members::auth::MemberPrincipal;
use crate::{AppContext, Error, Result};

#[derive(Clone, Debug)]
pub struct InboxMessage {
    pub id: i64,
    pub title: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

/// My latest 50 messages, newest first.
pub async fn mine(ctx: &AppContext, me: &MemberPrincipal) -> Result<Vec<InboxMessage>> {
    Ok(member_inbox::Entity::find()
        .filter(member_inbox::Column::MerchantId.eq(me.merchant_id))
        .filter(member_inbox::Column::MemberId.eq(me.member_id))
        .order_by_desc(member_inbox::Column::Id)
        .limit(50)
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|row| InboxMessage {
            id: row.id,
            title: row.title,
            body: row.body,
            created_at: row.created_at,
            read_at: row.read_at,
        })
        .collect())
}

/// Marks one of my messages read (again is fine); another member's is not found.
pub async fn read(ctx: &AppContext, me: &MemberPrincipal, id: i64) -> Result<()> {
    let mine = member_inbox::Entity::find_by_id(id)
        .filter(member_inbox::Column::MerchantId.eq(me.merchant_id))
        .filter(member_inbox::Column::MemberId.eq(me.member_id))
        .one(&ctx.db)
        .await?
        .ok_or(Error::NotFound("message"))?;
    if mine.read_at.is_none() {
        member_inbox::Entity::update_many()
            .col_expr(member_inbox::Column::ReadAt, Expr::value(Some(ctx.now())))
            .filter(member_inbox::Column::Id.eq(id))
            .filter(member_inbox::Column::ReadAt.is_null())
            .exec(&ctx.db)
            .await?;
    }
    Ok(())
}
