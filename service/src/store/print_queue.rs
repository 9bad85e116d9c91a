//! The print queue (`print_jobs`), an outbox: what prints is queued in the transaction of what it prints, once
//! per subject, and the store's bridges are woken to fetch it. What a job says is decided when it is printed
//! (`store::receipts`); delivering it is the bridge's (`store::bridge`). This module imports no
//! feature module, so every feature can queue.

use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait, QueryTrait};

use entity::print_jobs;

use crate::ledger::deferred::{Check, Deferred};
use crate::{AppContext, Result};

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
    /// Asked for by staff to try a printer.
    TestPage,
}

impl JobKind {
    pub const ALL: [JobKind; 6] = [
        JobKind::Bill,
        JobKind::Recharge,
        JobKind::CountCardSlip,
        JobKind::AppointmentTicket,
        JobKind::Handover,
        JobKind::TestPage,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Bill => "bill_receipt",
            JobKind::Recharge => "recharge_receipt",
            JobKind::CountCardSlip => "count_card_slip",
            JobKind::AppointmentTicket => "appointment_ticket",
            JobKind::Handover => "handover_summary",
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

/// Queues one job on `conn` (the transaction of what it prints); queuing the same subject again changes nothing.
pub(crate) async fn queue_into(
    conn: &impl ConnectionTrait,
    merchant_id: i64,
    store_id: i64,
    kind: JobKind,
    subject_id: i64,
) -> Result<()> {
    let mut deferred = Deferred::new();
    queue_deferred(&mut deferred, merchant_id, store_id, kind, subject_id);
    deferred.flush(conn).await
}

/// [`queue_into`] as a deferred write.
pub(crate) fn queue_deferred(deferred: &mut Deferred, merchant_id: i64, store_id: i64, kind: JobKind, subject_id: i64) {
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
        ..Default::default()
    })
    .on_conflict(
        OnConflict::columns([print_jobs::Column::Kind, print_jobs::Column::SubjectId, print_jobs::Column::Copy])
            .do_nothing()
            .to_owned(),
    );
    deferred.push(job.into_query(), Check::Any);
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
