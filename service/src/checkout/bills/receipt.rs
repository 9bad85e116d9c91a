//! What a bill's printed receipt shows.

use std::collections::BTreeSet;

use sea_orm::EntityTrait;

use entity::{staff, stores};

use super::read::{Bill, get};
use crate::cards::stored_value;
use crate::domain::{Fen, Points};
use crate::foundation::principal::StaffPrincipal;
use crate::{AppContext, Error, Result};

/// Everything a printed receipt shows, in the store's words.
#[derive(Clone, Debug)]
pub struct Receipt {
    pub store_name: String,
    pub bill: Bill,
    pub cashier: String,
    /// How the member is named on paper: the masked real name, else the nickname.
    pub member_nickname: Option<String>,
    /// Balances after the bill: stored value, points available, and each count card used or sold.
    pub stored_value_fen: Option<Fen>,
    pub points_available: Option<Points>,
    pub count_cards: Vec<(String, i64)>,
}

pub async fn receipt(ctx: &AppContext, principal: &StaffPrincipal, bill_id: i64) -> Result<Receipt> {
    let bill = get(ctx, principal, bill_id).await?;
    receipt_of(ctx, principal.merchant_id, bill).await
}

/// The receipt of a bill already read in its merchant's scope (the printer's queue reads it without a principal).
pub(crate) async fn receipt_of(ctx: &AppContext, merchant_id: i64, bill: Bill) -> Result<Receipt> {
    let store = stores::Entity::find_by_id(bill.store_id).one(&ctx.db).await?.ok_or(Error::NotFound("store"))?;
    let cashier = staff::Entity::find_by_id(bill.created_by).one(&ctx.db).await?.map(|s| s.display_name);
    let (nickname, stored, points, cards) = match bill.member_id {
        Some(member_id) => {
            let member = crate::members::row(&ctx.db, merchant_id, member_id).await?;
            let card = stored_value::own(ctx, merchant_id, member_id).await?;
            let points = crate::loyalty::points::available(&ctx.db, member_id, ctx.now()).await?;
            let card_ids: BTreeSet<i64> = bill
                .lines
                .iter()
                .filter_map(|l| l.count_card_id.or_else(|| l.detail.get("count_card_id").and_then(|v| v.as_i64())))
                .collect();
            let mut cards = Vec::new();
            for card in crate::cards::count_cards::own(ctx, merchant_id, member_id).await? {
                if card_ids.contains(&card.id) {
                    cards.push((card.name, card.sessions_left));
                }
            }
            (Some(crate::members::label(ctx, &member, false)?), Some(card.balance()), Some(points), cards)
        }
        None => (None, None, None, Vec::new()),
    };
    Ok(Receipt {
        store_name: store.name,
        bill,
        cashier: cashier.unwrap_or_default(),
        member_nickname: nickname,
        stored_value_fen: stored,
        points_available: points,
        count_cards: cards,
    })
}
