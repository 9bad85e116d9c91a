//! Prepaid value a member holds: stored-value cards (储值), count cards (次卡/疗程卡) and the count-card products on
//! the menu.

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;

use crate::Result;
use crate::store::print_queue::Stated;

pub mod breakage;
pub mod card_products;
pub mod count_cards;
pub mod recharge_plans;
pub mod stored_value;

/// What a slip states about a member as of now in `conn`'s transaction, after what it prints moved their balances:
/// their level, stored value, points available and the sessions left on `count_card_ids`.
pub(crate) async fn statement(
    conn: &impl ConnectionTrait,
    merchant_id: i64,
    member_id: i64,
    count_card_ids: &[i64],
    now: DateTime<Utc>,
) -> Result<Stated> {
    let card = stored_value::card_in(conn, merchant_id, member_id).await?;
    Ok(Stated {
        level: crate::loyalty::levels::name_of_member(conn, merchant_id, member_id).await?,
        stored_value: Some(card.balance()),
        points_available: Some(crate::loyalty::points::available(conn, member_id, now).await?),
        count_cards: count_cards::sessions_left(conn, merchant_id, count_card_ids).await?,
    })
}
