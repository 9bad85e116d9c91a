//! A store's day at a glance, the console's first page: today's takings per payment method, bills, bookings and new
//! members, and the last 30 days of takings and bills, all by the store's local days. A glance, not a report: takings
//! are read from the ledger's tender accounts like the handover's, so sales, desk recharges and refunds all count,
//! each net of what went back out.

use std::collections::BTreeMap;

use chrono::{Duration, NaiveDate};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect};

use entity::{bills, bookings, journal_entries, members};

use crate::booking::calendar::{Calendar, from_minutes};
use crate::domain::{BillStatus, Permission};
use crate::foundation::principal::StaffPrincipal;
use crate::store::handover::{TAKINGS, tender_lines};
use crate::{AppContext, Result};

/// Days the chart covers, today included.
pub const DAYS: i64 = 30;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Today {
    pub date: NaiveDate,
    pub timezone: String,
    /// Payment method → net fen taken today, every method listed.
    pub takings: BTreeMap<String, i64>,
    /// Bills settled today (later reversals included: they were takings of the day).
    pub bills: u64,
    /// Parked bills waiting at the store now.
    pub parked: u64,
    /// Today's bookings at the store, cancelled ones left out.
    pub bookings: u64,
    /// Members whose home store this is, registered today.
    pub new_members: u64,
    /// The last [`DAYS`] days, oldest first, today last.
    pub days: Vec<Day>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Day {
    pub date: NaiveDate,
    pub takings: i64,
    pub bills: u64,
}

pub async fn summary(ctx: &AppContext, principal: &StaffPrincipal, store_id: i64) -> Result<Today> {
    principal.require(Permission::Checkout)?;
    let store = crate::foundation::stores::in_scope(&ctx.db, principal, store_id).await?;
    let calendar = Calendar::new(&store.timezone);
    let today = calendar.today(ctx.now());
    let first = today - Duration::days(DAYS - 1);
    let since = from_minutes(calendar.day(first).start);
    let (today_from, today_to) = {
        let span = calendar.day(today);
        (from_minutes(span.start), from_minutes(span.end))
    };
    let merchant_id = principal.merchant_id;

    let mut days: BTreeMap<NaiveDate, Day> =
        (0..DAYS).map(|n| first + Duration::days(n)).map(|date| (date, Day { date, takings: 0, bills: 0 })).collect();
    let mut takings: BTreeMap<String, i64> = TAKINGS.iter().map(|k| ((*k).to_owned(), 0)).collect();

    let entries: BTreeMap<i64, NaiveDate> = journal_entries::Entity::find()
        .select_only()
        .column(journal_entries::Column::Id)
        .column(journal_entries::Column::CreatedAt)
        .filter(journal_entries::Column::MerchantId.eq(merchant_id))
        .filter(journal_entries::Column::StoreId.eq(store_id))
        .filter(journal_entries::Column::CreatedAt.gte(since))
        .into_tuple::<(i64, chrono::DateTime<chrono::Utc>)>()
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|(id, at)| (id, calendar.date_of(at)))
        .collect();
    let ids: Vec<i64> = entries.keys().copied().collect();
    for line in tender_lines(&ctx.db, merchant_id, store_id, &ids).await? {
        let Some(date) = entries.get(&line.entry_id) else { continue };
        if let Some(day) = days.get_mut(date) {
            day.takings += line.amount;
        }
        if *date == today {
            *takings.entry(line.kind).or_default() += line.amount;
        }
    }

    let settled: Vec<chrono::DateTime<chrono::Utc>> = bills::Entity::find()
        .select_only()
        .column(bills::Column::SettledAt)
        .filter(bills::Column::MerchantId.eq(merchant_id))
        .filter(bills::Column::StoreId.eq(store_id))
        .filter(bills::Column::SettledAt.gte(since))
        .into_tuple::<Option<chrono::DateTime<chrono::Utc>>>()
        .all(&ctx.db)
        .await?
        .into_iter()
        .flatten()
        .collect();
    for at in settled {
        if let Some(day) = days.get_mut(&calendar.date_of(at)) {
            day.bills += 1;
        }
    }
    let parked = bills::Entity::find()
        .filter(bills::Column::MerchantId.eq(merchant_id))
        .filter(bills::Column::StoreId.eq(store_id))
        .filter(bills::Column::Status.eq(BillStatus::Parked.as_str()))
        .count(&ctx.db)
        .await?;
    let bookings = bookings::Entity::find()
        .filter(bookings::Column::MerchantId.eq(merchant_id))
        .filter(bookings::Column::StoreId.eq(store_id))
        .filter(bookings::Column::StartsAt.gte(today_from))
        .filter(bookings::Column::StartsAt.lt(today_to))
        .filter(bookings::Column::Status.ne("cancelled"))
        .count(&ctx.db)
        .await?;
    let new_members = members::Entity::find()
        .filter(members::Column::MerchantId.eq(merchant_id))
        .filter(members::Column::HomeStoreId.eq(store_id))
        .filter(members::Column::CreatedAt.gte(today_from))
        .filter(members::Column::CreatedAt.lt(today_to))
        .count(&ctx.db)
        .await?;
    let bills_today = days.get(&today).map_or(0, |d| d.bills);
    Ok(Today {
        date: today,
        timezone: store.timezone,
        takings,
        bills: bills_today,
        parked,
        bookings,
        new_members,
        days: days.into_values().collect(),
    })
}
