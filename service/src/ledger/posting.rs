//! One entry being written inside one transaction: the context every `*_into` helper of cards, loyalty and
//! stock takes, instead of the transaction, merchant, store, member, bill, time and draft one by one.

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;

use super::deferred::Deferred;
use super::{BalanceMoves, Cause, Draft};
use crate::{Error, Result};

/// Where and when an entry is written, and the [`Draft`] its lines go to. A settlement, a refund or a recharge makes
/// one, lets each helper add its lines and rows through it, and posts it last.
pub struct Posting<'t, C> {
    /// The caller's transaction: every helper's rows commit with the entry or not at all.
    pub conn: &'t C,
    /// The one time of everything this posting writes.
    pub now: DateTime<Utc>,
    store_id: i64,
    pub draft: Draft,
}

impl<'t, C: ConnectionTrait> Posting<'t, C> {
    /// A posting of a new `kind` entry at `store_id`, for `member_id` and `bill_id` when it is theirs.
    pub fn new(
        conn: &'t C,
        now: DateTime<Utc>,
        merchant_id: i64,
        store_id: i64,
        kind: &'static str,
        cause: Cause,
    ) -> Self {
        let mut draft = Draft::new(merchant_id, kind, cause);
        draft.store_id = Some(store_id);
        Self { conn, now, store_id, draft }
    }

    /// The entry is the member's (their cards, points and spend move).
    pub fn for_member(mut self, member_id: Option<i64>) -> Self {
        self.draft.member_id = member_id;
        self
    }

    /// The entry is the bill's.
    pub fn for_bill(mut self, bill_id: i64) -> Self {
        self.draft.bill_id = Some(bill_id);
        self
    }

    /// The entry's memo, as the journal shows it.
    pub fn memo(mut self, memo: impl Into<String>) -> Self {
        self.draft.memo = memo.into();
        self
    }

    pub fn merchant_id(&self) -> i64 {
        self.draft.merchant_id
    }

    pub fn store_id(&self) -> i64 {
        self.store_id
    }

    pub fn bill_id(&self) -> Option<i64> {
        self.draft.bill_id
    }

    /// The member whose value moves; helpers that move a member's value are only called on a member's entry.
    pub fn member_id(&self) -> Result<i64> {
        self.draft.member_id.ok_or_else(|| Error::Internal(anyhow::anyhow!("a member's value posted without a member")))
    }

    /// Posts the entry now, balance moves included. Returns its id.
    pub async fn post(&self) -> Result<i64> {
        super::post(self.conn, &self.draft).await
    }

    /// Inserts the entry now and adds its lines to `tail`; the caller applies the balance moves last.
    pub async fn post_into(&self, tail: &mut Deferred) -> Result<(i64, BalanceMoves)> {
        super::post_into(self.conn, &self.draft, tail).await
    }
}
