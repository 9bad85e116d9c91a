//! The print queue (`print_jobs`), an outbox: what prints is queued in the transaction of what it prints, once
//! per subject, and the store's bridges are woken to fetch it. What later events change (balances, points, sessions
//! left, the member's level) is captured with the job as [`Stated`], so a slip printed late or again is true to its
//! moment; the layout is applied when it is printed (`store::receipts`); delivering it is the bridge's
//! (`store::bridge`). This module imports no feature module, so every feature can queue.

use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait, QueryTrait};
use serde::{Deserialize, Serialize};

use entity::print_jobs;

use crate::domain::{Fen, Points};
use crate::ledger::deferred::{Check, Deferred};
use crate::{AppContext, Result};

/// What a slip states about the member as of the moment its subject was written (their name is read when printed,
/// so an anonymised member is not printed by name). A part left out is not printed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stated {
    /// The member's level after this (a bill or recharge can raise it; a refund can lower it).
    pub level: Option<String>,
    pub stored_value: Option<Fen>,
    pub points_available: Option<Points>,
    /// The count cards this touched, by name, with the sessions left.
    pub count_cards: Vec<(String, i64)>,
}

impl Stated {
    fn to_json(&self) -> Result<String> {
        Ok(serde_json::to_string(self).map_err(anyhow::Error::from)?)
    }

    /// The statement a job was queued with (none on jobs queued before statements were kept, or of kinds that
    /// state nothing that changes).
    pub fn of(job: &print_jobs::Model) -> Result<Option<Stated>> {
        let Some(text) = &job.stated else { return Ok(None) };
        let stated = serde_json::from_str(text)
            .map_err(|e| anyhow::anyhow!("print job {} has a statement that cannot be read: {e}", job.id))?;
        Ok(Some(stated))
    }
}

/// What a print job prints; a printer may be given some kinds only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobKind {
    Bill,
    Recharge,
    /// The slip a member signs for count-card sessions used.
    CountCardSlip,
    /// Printed at check-in for the station: who, what, with whom, allergy warnings.
    AppointmentTicket,
    /// 交班: a cashier's takings at handover.
    Handover,
    /// A refund or a reversal (反结账) of a bill: what went back and how.
    Refund,
    /// 退卡: a stored-value card or a count card paid back and closed.
    CardRefund,
    /// Asked for by staff to try a printer.
    TestPage,
}

impl JobKind {
    pub const ALL: [JobKind; 8] = [
        JobKind::Bill,
        JobKind::Recharge,
        JobKind::CountCardSlip,
        JobKind::AppointmentTicket,
        JobKind::Handover,
        JobKind::Refund,
        JobKind::CardRefund,
        JobKind::TestPage,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Bill => "bill_receipt",
            JobKind::Recharge => "recharge_receipt",
            JobKind::CountCardSlip => "count_card_slip",
            JobKind::AppointmentTicket => "appointment_ticket",
            JobKind::Handover => "handover_summary",
            JobKind::Refund => "refund_receipt",
            JobKind::CardRefund => "card_refund_slip",
            JobKind::TestPage => "test_page",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == value)
    }

    pub fn names() -> Vec<&'static str> {
        Self::ALL.iter().map(|kind| kind.as_str()).collect()
    }
}

/// What to print, and where.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Job<'a> {
    pub(crate) merchant_id: i64,
    pub(crate) store_id: i64,
    pub(crate) kind: JobKind,
    pub(crate) subject_id: i64,
    pub(crate) stated: Option<&'a Stated>,
}

/// Queues one job on `conn` (the transaction of what it prints); queuing the same subject again changes nothing.
pub(crate) async fn queue_into(conn: &impl ConnectionTrait, job: Job<'_>) -> Result<()> {
    let mut deferred = Deferred::new();
    queue_deferred(&mut deferred, job)?;
    deferred.flush(conn).await
}

/// [`queue_into`] as a deferred write.
pub(crate) fn queue_deferred(deferred: &mut Deferred, job: Job<'_>) -> Result<()> {
    let Job { merchant_id, store_id, kind, subject_id, stated } = job;
    let stated = stated.map(Stated::to_json).transpose()?;
    let job = print_jobs::Entity::insert(print_jobs::ActiveModel {
        merchant_id: Set(merchant_id),
        store_id: Set(store_id),
        kind: Set(kind.as_str().to_owned()),
        subject_id: Set(subject_id),
        status: Set("queued".to_owned()),
        created_at: Set(Utc::now()),
        printed_at: Set(None),
        printer_id: Set(None),
        copy: Set(0),
        hold_reason: Set(None),
        received_at: Set(None),
        requested_by: Set(None),
        stated: Set(stated),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::columns([print_jobs::Column::Kind, print_jobs::Column::SubjectId, print_jobs::Column::Copy])
            .do_nothing()
            .to_owned(),
    );
    deferred.push(job.into_query(), Check::Any);
    Ok(())
}

/// Wakes the connections of a store's bridges (on any replica) to look for new jobs: call it after the commit
/// that queued them.
pub async fn announce(ctx: &AppContext, store_id: i64) {
    if let Err(error) = ctx.shared.publish(&channel(store_id), "jobs").await {
        tracing::warn!(%error, store_id, "could not announce print jobs");
    }
}

/// The pub/sub channel a store's bridge connections listen on.
pub fn channel(store_id: i64) -> String {
    format!("bridge:store:{store_id}")
}
