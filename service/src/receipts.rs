//! Receipts queued for the store's printer, in the transaction of what they print (an outbox): a settlement queues
//! its bill receipt, a recharge its recharge receipt. Printing them is the store bridge's job.

use chrono::Utc;
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};

use entity::print_jobs;

use crate::Result;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReceiptKind {
    Bill,
    Recharge,
}

impl ReceiptKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ReceiptKind::Bill => "bill_receipt",
            ReceiptKind::Recharge => "recharge_receipt",
        }
    }
}

/// Queues one receipt; queuing the same subject again changes nothing.
pub(crate) async fn queue_into(
    conn: &impl ConnectionTrait,
    merchant_id: i64,
    store_id: i64,
    kind: ReceiptKind,
    subject_id: i64,
) -> Result<()> {
    print_jobs::Entity::insert(print_jobs::ActiveModel {
        merchant_id: Set(merchant_id),
        store_id: Set(store_id),
        kind: Set(kind.as_str().to_owned()),
        subject_id: Set(subject_id),
        status: Set("queued".to_owned()),
        created_at: Set(Utc::now()),
        printed_at: Set(None),
        ..Default::default()
    })
    .on_conflict_do_nothing_on([print_jobs::Column::Kind, print_jobs::Column::SubjectId])
    .exec(conn)
    .await?;
    Ok(())
}
