//! What a bill's printed receipt shows.

use std::collections::BTreeSet;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use entity::{print_jobs, staff, stores};

use super::read::{Bill, get};
use crate::domain::{Fen, Points};
use crate::foundation::principal::StaffPrincipal;
use crate::store::print_queue::{JobKind, Stated};
use crate::{AppContext, Error, Result};

/// Everything a printed receipt shows, in the store's words.
#[derive(Clone, Debug)]
pub struct Receipt {
    pub store_name: String,
    pub bill: Bill,
    pub cashier: String,
    /// How the member is named on paper: the masked real name, else the nickname.
    pub member_nickname: Option<String>,
    /// The member after the bill: level, stored value, points available and each count card used or sold, as the
    /// settlement left them.
    pub member_level: Option<String>,
    pub stored_value_fen: Option<Fen>,
    pub points_available: Option<Points>,
    pub count_cards: Vec<(String, i64)>,
}

/// The receipt as printed: with what the settlement stated about the member.
pub async fn receipt(ctx: &AppContext, principal: &StaffPrincipal, bill_id: i64) -> Result<Receipt> {
    let bill = get(ctx, principal, bill_id).await?;
    let first_print = print_jobs::Entity::find()
        .filter(print_jobs::Column::Kind.eq(JobKind::Bill.as_str()))
        .filter(print_jobs::Column::SubjectId.eq(bill_id))
        .filter(print_jobs::Column::Copy.eq(0))
        .one(&ctx.db)
        .await?;
    let stated = match &first_print {
        Some(job) => Stated::of(job)?,
        None => None,
    };
    receipt_of(ctx, principal.merchant_id, bill, stated).await
}

/// The receipt of a bill already read in its merchant's scope (the printer's queue reads it without a principal),
/// stating what `stated` says about the member; without it (a bill queued before statements were kept), what the
/// member holds now.
pub(crate) async fn receipt_of(
    ctx: &AppContext,
    merchant_id: i64,
    bill: Bill,
    stated: Option<Stated>,
) -> Result<Receipt> {
    let store = stores::Entity::find_by_id(bill.store_id).one(&ctx.db).await?.ok_or(Error::NotFound("store"))?;
    let cashier = staff::Entity::find_by_id(bill.created_by).one(&ctx.db).await?.map(|s| s.display_name);
    let mut receipt = Receipt {
        store_name: store.name,
        cashier: cashier.unwrap_or_default(),
        member_nickname: None,
        member_level: None,
        stored_value_fen: None,
        points_available: None,
        count_cards: Vec::new(),
        bill,
    };
    let Some(member_id) = receipt.bill.member_id else { return Ok(receipt) };
    let member = crate::members::row(&ctx.db, merchant_id, member_id).await?;
    receipt.member_nickname = Some(crate::members::label(ctx, &member, false)?);
    let stated = match stated {
        Some(stated) => stated,
        None => {
            let cards: Vec<i64> = receipt
                .bill
                .lines
                .iter()
                .filter_map(|l| l.count_card_id.or_else(|| l.detail.get("count_card_id").and_then(|v| v.as_i64())))
                .collect::<BTreeSet<i64>>()
                .into_iter()
                .collect();
            crate::cards::statement(&ctx.db, merchant_id, member_id, &cards, ctx.now()).await?
        }
    };
    receipt.member_level = stated.level;
    receipt.stored_value_fen = stated.stored_value;
    receipt.points_available = stated.points_available;
    receipt.count_cards = stated.count_cards;
    Ok(receipt)
}
