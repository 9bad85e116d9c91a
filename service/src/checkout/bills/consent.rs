//! The member's consent to a large debit of their stored value or count-card sessions, when the merchant sets a
//! threshold (`confirm_threshold_fen`).
//!
//! Consent is what the member saw, once:
//! - In the mini-program the member confirms a parked bill by its digest (its draft and total as shown to them).
//!   A settlement honours that confirmation only while the bill still has that digest, so a bill raised after the
//!   member opened it is not confirmed.
//! - At the counter a fresh member code is consent to one bill, once. A code already scanned to identify the member,
//!   or given for another bill, is refused: showing the card is not agreeing to any number of debits for a minute.
//! - The threshold counts per member per store day across bills: debits settled today without consent add up, so
//!   splitting a debit into small bills does not avoid it.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;

use entity::bills;

use super::resolve::Resolved;
use super::tenders::CheckedTender;
use crate::booking::calendar::{Calendar, from_minutes};
use crate::domain::{Fen, TenderKind, fingerprint};
use crate::members::code::CodeUse;
use crate::{AppContext, Conflict, Error, Result};

/// What a settlement takes from the member, and how they agreed to it.
pub(super) struct Consent {
    /// Stored value and count-card value the settlement debits.
    pub(super) debit: Fen,
    pub(super) given: Given,
}

pub(super) enum Given {
    /// Under the threshold (or no threshold set): nothing to agree to.
    NotNeeded,
    /// Confirmed in the mini-program, for the bill as it is now.
    InApp,
    /// A fresh member code, to be spent with the settlement.
    Code(CodeUse),
}

impl Consent {
    /// When the member agreed to this debit, as the settled bill records it (a bill with none counts towards the
    /// day's unconfirmed debits): `confirmed_before` is the kept bill's in-app confirmation.
    pub(super) fn confirmed_at(
        &self,
        confirmed_before: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        match self.given {
            Given::NotNeeded => None,
            Given::InApp => confirmed_before,
            Given::Code(_) => Some(now),
        }
    }

    /// Spends the consenting member code on `bill_id`, inside the settlement's transaction: a code spent before
    /// (to identify the member, or on another bill) refuses the settlement.
    /// Inside the settlement's transaction, once it holds the member's row (its spend total is updated there): the
    /// day's debits without consent, this bill's included, are still within the threshold. Two small bills settled
    /// at once for one member each pass the look before the transaction; the second to get the row sees the first
    /// here and is refused.
    pub(super) async fn still_within(
        &self,
        txn: &impl ConnectionTrait,
        resolved: &Resolved,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let (Given::NotNeeded, Some(threshold), Some(member_id)) =
            (&self.given, resolved.settings.confirm_threshold_fen, resolved.member_id())
        else {
            return Ok(());
        };
        if self.debit == Fen::ZERO || unconfirmed_today(txn, resolved, member_id, now).await? <= threshold {
            Ok(())
        } else {
            Err(Error::Conflict(Conflict::MemberConfirmationRequired))
        }
    }

    pub(super) async fn spend(&self, conn: &impl ConnectionTrait, bill_id: i64, staff_id: Option<i64>) -> Result<()> {
        match &self.given {
            Given::Code(code) => code.record(conn, "consent", Some(bill_id), staff_id).await,
            Given::NotNeeded | Given::InApp => Ok(()),
        }
    }
}

/// The stored value and count-card value this settlement takes from the member.
pub(super) fn member_debit(resolved: &Resolved, tenders: &[CheckedTender]) -> Fen {
    let stored: Fen = tenders.iter().filter(|t| t.kind == TenderKind::StoredValue).map(|t| t.amount).sum();
    let sessions: Fen = resolved
        .lines
        .iter()
        .filter_map(|line| {
            let card = line.count_card.as_ref()?;
            let per_session =
                card.price_fen * i64::from(line.quantity) / i64::from(std::cmp::max(card.sessions_total, 1));
            Some(Fen::new(per_session))
        })
        .sum();
    stored + sessions
}

/// What the member confirms in the mini-program: the parked bill's draft (its lines, staff and points) and the
/// total they were shown. Any edit, or a price that moved since, gives another digest.
pub fn confirmation_digest(bill_id: i64, request: &str, total: Fen) -> String {
    fingerprint(&json!(["member-confirmation", bill_id, request, total.get()]))
}

/// Checks the member's consent to this settlement's debit. `confirmed_in_app` is true when the member confirmed
/// the bill as it is now (see [`confirmation_digest`]).
pub(super) async fn check_consent(
    ctx: &AppContext,
    merchant_id: i64,
    resolved: &Resolved,
    tenders: &[CheckedTender],
    member_code: Option<&str>,
    confirmed_in_app: bool,
) -> Result<Consent> {
    let debit = member_debit(resolved, tenders);
    let not_needed = Consent { debit, given: Given::NotNeeded };
    let (Some(threshold), Some(member_id)) = (resolved.settings.confirm_threshold_fen, resolved.member_id()) else {
        return Ok(not_needed);
    };
    if debit == Fen::ZERO {
        return Ok(not_needed);
    }
    if confirmed_in_app {
        return Ok(Consent { debit, given: Given::InApp });
    }
    if debit <= threshold && unconfirmed_today(&ctx.db, resolved, member_id, ctx.now()).await? + debit <= threshold {
        return Ok(not_needed);
    }
    let Some(code) = member_code else { return Err(Error::Conflict(Conflict::MemberConfirmationRequired)) };
    let claims = crate::members::code::verify_member_code(ctx, code)?;
    if claims.member_id != member_id {
        return Err(Error::invalid("member_code", "this member code belongs to another member"));
    }
    Ok(Consent { debit, given: Given::Code(CodeUse::new(ctx, merchant_id, code, claims)) })
}

/// Whether the member confirmed this kept bill in the mini-program as it is priced now.
pub(super) fn confirmed_in_app(row: &bills::Model, total: Fen) -> bool {
    row.member_confirmed_digest.as_deref() == Some(confirmation_digest(row.id, &row.request, total).as_str())
}

/// Records on a settling bill what it took from the member and when they agreed to it.
pub(super) fn record_on(
    update: sea_orm::UpdateMany<bills::Entity>,
    debit: Fen,
    confirmed_at: Option<DateTime<Utc>>,
) -> sea_orm::UpdateMany<bills::Entity> {
    update
        .col_expr(bills::Column::MemberDebitFen, Expr::value(debit.get()))
        .col_expr(bills::Column::MemberConfirmedAt, Expr::value(confirmed_at))
}

/// What the member's stored value and count cards gave today (the store's day) on bills settled without consent.
async fn unconfirmed_today(
    conn: &impl ConnectionTrait,
    resolved: &Resolved,
    member_id: i64,
    now: DateTime<Utc>,
) -> Result<Fen> {
    let timezone = resolved.reference.stores.get(&resolved.store_id).map_or("Asia/Shanghai", |s| s.timezone.as_str());
    let calendar = Calendar::new(timezone);
    let day_start = from_minutes(calendar.day(calendar.today(now)).start);
    let statement = Statement::from_sql_and_values(
        conn.get_database_backend(),
        "SELECT CAST(COALESCE(SUM(member_debit_fen), 0) AS BIGINT) AS total FROM bills \
         WHERE member_id = $1 AND settled_at >= $2 AND status = 'settled' AND member_confirmed_at IS NULL",
        [member_id.into(), day_start.into()],
    );
    let total: i64 = match conn.query_one_raw(statement).await? {
        Some(row) => row.try_get("", "total")?,
        None => 0,
    };
    Ok(Fen::new(total))
}
