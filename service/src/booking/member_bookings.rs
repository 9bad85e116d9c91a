//! A member's bookings as lists: their own in the mini-program (upcoming or past), and their history at the desk
//! (at the stores the staff member works at).

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use entity::bookings;

use super::bookings::{Booker, Booking, view};
use crate::domain::Permission;
use crate::foundation::principal::{StaffPrincipal, StoreScope};
use crate::members::auth::MemberPrincipal;
use crate::{AppContext, Result};

/// The member's bookings: upcoming (live, soonest first) or past (newest first).
pub async fn mine(ctx: &AppContext, principal: &MemberPrincipal, upcoming: bool) -> Result<Vec<Booking>> {
    let mut query = bookings::Entity::find()
        .filter(bookings::Column::MerchantId.eq(principal.merchant_id))
        .filter(bookings::Column::MemberId.eq(principal.member_id));
    query = if upcoming {
        query
            .filter(bookings::Column::Status.is_in(["booked", "confirmed", "arrived"]))
            .order_by_asc(bookings::Column::StartsAt)
    } else {
        query
            .filter(bookings::Column::Status.is_in(["completed", "cancelled", "no_show"]))
            .order_by_desc(bookings::Column::StartsAt)
    };
    let rows = query.limit(50).all(&ctx.db).await?;
    let mut found = Vec::with_capacity(rows.len());
    for row in rows {
        found.push(view(ctx, row, Booker::Member(principal), false).await?);
    }
    Ok(found)
}

/// A member's bookings at the stores the staff member works at (every store for merchant-wide staff), newest first.
pub async fn of_member(ctx: &AppContext, principal: &StaffPrincipal, member_id: i64) -> Result<Vec<Booking>> {
    principal.require(Permission::BookingRead)?;
    crate::members::row(&ctx.db, principal.merchant_id, member_id).await?;
    let mut query = bookings::Entity::find()
        .filter(bookings::Column::MerchantId.eq(principal.merchant_id))
        .filter(bookings::Column::MemberId.eq(member_id));
    if let StoreScope::Only(stores) = &principal.stores {
        query = query.filter(bookings::Column::StoreId.is_in(stores.clone()));
    }
    let rows = query.order_by_desc(bookings::Column::StartsAt).limit(50).all(&ctx.db).await?;
    let mut found = Vec::with_capacity(rows.len());
    for row in rows {
        found.push(view(ctx, row, Booker::Staff(principal), false).await?);
    }
    Ok(found)
}
