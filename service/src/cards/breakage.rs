//! Breakage (沉淀): value left on a stored-value or count card past its expiry. By the merchant's `breakage_policy`
//! it stays owed to the member (`never`, the default: whether expired prepaid value may be kept at all is a legal
//! question for the merchant) or the nightly job recognises it as income when the card expires (`at_expiry`), as
//! ledger entries against the store's `breakage` account that the liability reports read.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait};

use entity::{count_cards, members, merchants, stored_value_cards};

use crate::foundation::stores::Keeping;
use crate::{AppContext, Result};

/// What one run of the breakage job recognised.
#[derive(Clone, Copy, Debug, Default)]
pub struct Recognised {
    pub stored_value_cards: u64,
    pub count_cards: u64,
    pub fen: i64,
}

/// Cards looked at per read; each is handled in a transaction of its own.
const BATCH: u64 = 500;

/// The breakage job in one time zone, at `now`: every card of an `at_expiry` merchant expired by `now` whose value
/// is kept at a store in `timezone` (a count card: the store that sold it; stored value: the member's keeping
/// store). A second run finds the cards closed and recognises nothing.
pub async fn recognise_in_zone(ctx: &AppContext, timezone: &str, now: DateTime<Utc>) -> Result<Recognised> {
    let mut done = Recognised::default();
    let keeping = Keeping::in_zone(&ctx.db, timezone).await?;
    let merchants: Vec<i64> = merchants::Entity::find()
        .select_only()
        .column(merchants::Column::Id)
        .filter(merchants::Column::BreakagePolicy.eq("at_expiry"))
        .into_tuple()
        .all(&ctx.db)
        .await?;
    if keeping.is_empty() || merchants.is_empty() {
        return Ok(done);
    }

    let mut after = 0_i64;
    loop {
        let cards = count_cards::Entity::find()
            .filter(count_cards::Column::MerchantId.is_in(merchants.clone()))
            .filter(count_cards::Column::Status.eq("active"))
            .filter(count_cards::Column::ExpiresAt.lte(now))
            .filter(count_cards::Column::Id.gt(after))
            .order_by_asc(count_cards::Column::Id)
            .limit(BATCH)
            .all(&ctx.db)
            .await?;
        let Some(last) = cards.last() else { break };
        after = last.id;
        for card in cards.iter().filter(|card| keeping.has(card.store_id)) {
            let txn = ctx.db.begin().await?;
            if let Some(fen) = super::count_cards::recognise_breakage(&txn, card.merchant_id, card.id, now).await? {
                done.count_cards += 1;
                done.fen += fen;
            }
            txn.commit().await?;
        }
    }

    let mut after = 0_i64;
    loop {
        let cards = stored_value_cards::Entity::find()
            .filter(stored_value_cards::Column::MerchantId.is_in(merchants.clone()))
            .filter(stored_value_cards::Column::Status.ne("closed"))
            .filter(stored_value_cards::Column::ExpiresAt.lte(now))
            .filter(stored_value_cards::Column::Id.gt(after))
            .order_by_asc(stored_value_cards::Column::Id)
            .limit(BATCH)
            .all(&ctx.db)
            .await?;
        let Some(last) = cards.last() else { break };
        after = last.id;
        let ids: Vec<i64> = cards.iter().map(|card| card.member_id).collect();
        let holders = members::Entity::find().filter(members::Column::Id.is_in(ids)).all(&ctx.db).await?;
        for card in &cards {
            let Some(store_id) = holders.iter().find(|m| m.id == card.member_id).and_then(|m| keeping.store_of(m))
            else {
                continue;
            };
            let txn = ctx.db.begin().await?;
            let recognised =
                super::stored_value::recognise_breakage(&txn, card.merchant_id, store_id, card, now).await?;
            if let Some(fen) = recognised {
                done.stored_value_cards += 1;
                done.fen += fen;
            }
            txn.commit().await?;
        }
    }
    Ok(done)
}
