//! A stored-value card's statement: its ledger movements, principal and bonus side by side, newest first.

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;

use super::card_row;
use crate::domain::{Fen, Page, Permission};
use crate::foundation::principal::StaffPrincipal;
use crate::ledger;
use crate::{AppContext, Result};

/// One line of a member's stored-value statement.
#[derive(Clone, Debug)]
pub struct StatementLine {
    pub entry_id: i64,
    pub kind: String,
    pub memo: String,
    pub bill_id: Option<i64>,
    pub principal_delta: Fen,
    pub bonus_delta: Fen,
    pub created_at: DateTime<Utc>,
}

/// The card's movements, newest first: one page of entries, `before_id` an entry id.
pub async fn statement(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    member_id: i64,
    page: Page,
) -> Result<Vec<StatementLine>> {
    principal.require(Permission::MemberRead)?;
    crate::members::row(&ctx.db, principal.merchant_id, member_id).await?;
    statement_lines(&ctx.db, principal.merchant_id, member_id, Some(page)).await
}

/// The member's own card movements, newest first (their statement in the app).
pub async fn my_statement(
    ctx: &AppContext,
    merchant_id: i64,
    member_id: i64,
    page: Page,
) -> Result<Vec<StatementLine>> {
    statement_lines(&ctx.db, merchant_id, member_id, Some(page)).await
}

/// The card's movements, newest first: one page, or (`None`) every one, for the member's export.
pub(crate) async fn statement_lines(
    conn: &impl ConnectionTrait,
    merchant_id: i64,
    member_id: i64,
    page: Option<Page>,
) -> Result<Vec<StatementLine>> {
    let Some(card) = card_row(conn, merchant_id, member_id).await? else {
        return Ok(Vec::new());
    };
    let accounts = [card.principal_account_id, card.bonus_account_id];
    Ok(ledger::statement::movements(conn, &accounts, page)
        .await?
        .into_iter()
        .map(|m| StatementLine {
            entry_id: m.entry_id,
            principal_delta: Fen::new(m.deltas[0]),
            bonus_delta: Fen::new(m.deltas[1]),
            kind: m.kind,
            memo: m.memo,
            bill_id: m.bill_id,
            created_at: m.created_at,
        })
        .collect())
}
