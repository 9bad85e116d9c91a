//! What booking works from: a store's opening hours, closed days and booking settings; staff members' weekly shifts
//! and their exceptions (leave, extra shifts); which services each staff member may do; rooms and beds. Times are
//! local wall-clock minutes from midnight; the store's zone turns them into instants.

use chrono::NaiveDate;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    TransactionTrait,
};
use serde_json::json;

use entity::{
    resources, service_items, staff, staff_shift_exceptions, staff_shifts, staff_skills, staff_stores, store_closures,
    store_hours, stores,
};

use crate::domain::{Fen, Permission};
use crate::foundation::audit;
use crate::foundation::principal::StaffPrincipal;
use crate::{AppContext, Error, Result};

/// A local window on one ISO weekday (1 = Monday), minutes from midnight, `from_min < to_min ≤ 1440`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WeeklyWindow {
    pub weekday: i32,
    pub from_min: i32,
    pub to_min: i32,
}

/// Who "anyone" gets when a member does not choose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AnyonePolicy {
    /// The free staff member with the fewest booked minutes that day.
    LeastBusy,
    /// 轮钟: the free staff member who was given an "anyone" booking longest ago.
    Rotation,
    /// The member's usual staff member when free, otherwise the least busy.
    Usual,
}

impl AnyonePolicy {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "least_busy" => Some(Self::LeastBusy),
            "rotation" => Some(Self::Rotation),
            "usual" => Some(Self::Usual),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::LeastBusy => "least_busy",
            Self::Rotation => "rotation",
            Self::Usual => "usual",
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct BookingSettingsInput {
    pub granularity_min: Option<i32>,
    pub cutoff_min: Option<i32>,
    pub horizon_days: Option<i32>,
    pub anyone_policy: Option<String>,
    pub member_reminder_min: Option<i32>,
    pub staff_reminder_min: Option<i32>,
}

#[derive(Clone, Debug)]
pub struct Exception {
    pub id: i64,
    pub staff_id: i64,
    pub day: NaiveDate,
    /// `leave` or `extra`.
    pub kind: String,
    /// None: the whole day (leave only).
    pub window: Option<(i32, i32)>,
    pub note: String,
}

#[derive(Clone, Debug)]
pub struct Skill {
    pub service_item_id: i64,
    pub price_fen: Option<Fen>,
    pub duration_min: Option<i32>,
}

#[derive(Clone, Debug)]
pub struct Resource {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub capacity: i32,
    pub active: bool,
}

/// Everything about a store's schedule, for the console.
#[derive(Clone, Debug)]
pub struct Schedule {
    pub store: stores::Model,
    pub hours: Vec<WeeklyWindow>,
    pub closures: Vec<(NaiveDate, String)>,
    pub shifts: Vec<(i64, WeeklyWindow)>,
    pub exceptions: Vec<Exception>,
    pub resources: Vec<Resource>,
}

fn window(field: &'static str, from_min: i32, to_min: i32) -> Result<(i32, i32)> {
    if !(0..1440).contains(&from_min) || !(1..=1440).contains(&to_min) || from_min >= to_min {
        return Err(Error::invalid(field, "times are minutes from local midnight, 0 ≤ from < to ≤ 1440"));
    }
    Ok((from_min, to_min))
}

/// Checks a week of windows: valid weekdays and times, no two overlapping on one day.
fn week(field: &'static str, windows: &[WeeklyWindow]) -> Result<Vec<WeeklyWindow>> {
    if windows.len() > 70 {
        return Err(Error::invalid(field, "at most 70 windows"));
    }
    let mut sorted = windows.to_vec();
    for w in &sorted {
        if !(1..=7).contains(&w.weekday) {
            return Err(Error::invalid(field, "weekday is 1 (Monday) to 7 (Sunday)"));
        }
        window(field, w.from_min, w.to_min)?;
    }
    sorted.sort_by_key(|w| (w.weekday, w.from_min));
    if sorted.windows(2).any(|p| p[0].weekday == p[1].weekday && p[1].from_min < p[0].to_min) {
        return Err(Error::invalid(field, "windows on the same day must not overlap"));
    }
    Ok(sorted)
}

/// A store of the principal's scope, for schedule work.
async fn store(ctx: &AppContext, principal: &StaffPrincipal, store_id: i64) -> Result<stores::Model> {
    crate::foundation::stores::get(ctx, principal, store_id).await
}

/// The staff member, active and working at the store.
pub(crate) async fn staff_at_store(
    conn: &impl ConnectionTrait,
    merchant_id: i64,
    staff_id: i64,
    store_id: i64,
) -> Result<staff::Model> {
    let member = staff::Entity::find_by_id(staff_id)
        .filter(staff::Column::MerchantId.eq(merchant_id))
        .filter(staff::Column::Active.eq(true))
        .one(conn)
        .await?
        .ok_or_else(|| Error::invalid("staff_id", "no such staff member"))?;
    if member.all_stores {
        return Ok(member);
    }
    let assigned = staff_stores::Entity::find_by_id((staff_id, store_id)).one(conn).await?.is_some();
    if assigned { Ok(member) } else { Err(Error::invalid("staff_id", "this staff member does not work at this store")) }
}

pub async fn get(ctx: &AppContext, principal: &StaffPrincipal, store_id: i64) -> Result<Schedule> {
    principal.require(Permission::BookingRead)?;
    let store = store(ctx, principal, store_id).await?;
    let hours = store_hours::Entity::find()
        .filter(store_hours::Column::StoreId.eq(store_id))
        .order_by_asc(store_hours::Column::Weekday)
        .order_by_asc(store_hours::Column::OpensMin)
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|h| WeeklyWindow { weekday: h.weekday, from_min: h.opens_min, to_min: h.closes_min })
        .collect();
    let today = super::calendar::Calendar::new(&store.timezone).today(ctx.now());
    let closures = store_closures::Entity::find()
        .filter(store_closures::Column::StoreId.eq(store_id))
        .filter(store_closures::Column::Day.gte(today))
        .order_by_asc(store_closures::Column::Day)
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|c| (c.day, c.reason))
        .collect();
    let shifts = staff_shifts::Entity::find()
        .filter(staff_shifts::Column::StoreId.eq(store_id))
        .order_by_asc(staff_shifts::Column::StaffId)
        .order_by_asc(staff_shifts::Column::Weekday)
        .order_by_asc(staff_shifts::Column::StartsMin)
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|s| (s.staff_id, WeeklyWindow { weekday: s.weekday, from_min: s.starts_min, to_min: s.ends_min }))
        .collect();
    let exceptions = staff_shift_exceptions::Entity::find()
        .filter(staff_shift_exceptions::Column::StoreId.eq(store_id))
        .filter(staff_shift_exceptions::Column::Day.gte(today))
        .order_by_asc(staff_shift_exceptions::Column::Day)
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(to_exception)
        .collect();
    let resources = resources::Entity::find()
        .filter(resources::Column::StoreId.eq(store_id))
        .order_by_asc(resources::Column::Id)
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(to_resource)
        .collect();
    Ok(Schedule { store, hours, closures, shifts, exceptions, resources })
}

fn to_exception(e: staff_shift_exceptions::Model) -> Exception {
    let window = e.starts_min.zip(e.ends_min);
    Exception { id: e.id, staff_id: e.staff_id, day: e.day, kind: e.kind, window, note: e.note }
}

fn to_resource(r: resources::Model) -> Resource {
    Resource { id: r.id, name: r.name, kind: r.kind, capacity: r.capacity, active: r.active }
}

/// Replaces the store's weekly opening hours.
pub async fn set_hours(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    store_id: i64,
    hours: &[WeeklyWindow],
) -> Result<Vec<WeeklyWindow>> {
    principal.require(Permission::ScheduleManage)?;
    store(ctx, principal, store_id).await?;
    let hours = week("hours", hours)?;
    let txn = ctx.db.begin().await?;
    store_hours::Entity::delete_many().filter(store_hours::Column::StoreId.eq(store_id)).exec(&txn).await?;
    for w in &hours {
        store_hours::ActiveModel {
            merchant_id: Set(principal.merchant_id),
            store_id: Set(store_id),
            weekday: Set(w.weekday),
            opens_min: Set(w.from_min),
            closes_min: Set(w.to_min),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
    }
    audit::by_staff(&txn, principal, "schedule.hours_set", ("store", store_id), json!({ "windows": hours.len() }))
        .await?;
    txn.commit().await?;
    Ok(hours)
}

pub async fn update_settings(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    store_id: i64,
    input: BookingSettingsInput,
) -> Result<stores::Model> {
    principal.require(Permission::ScheduleManage)?;
    let row = store(ctx, principal, store_id).await?;
    let mut active: stores::ActiveModel = row.into();
    if let Some(minutes) = input.granularity_min {
        if ![5, 10, 15, 20, 30, 60].contains(&minutes) {
            return Err(Error::invalid("granularity_min", "must be 5, 10, 15, 20, 30 or 60"));
        }
        active.booking_granularity_min = Set(minutes);
    }
    if let Some(minutes) = input.cutoff_min {
        if !(0..=10_080).contains(&minutes) {
            return Err(Error::invalid("cutoff_min", "must be 0 to 10080 minutes (a week)"));
        }
        active.booking_cutoff_min = Set(minutes);
    }
    if let Some(days) = input.horizon_days {
        if !(1..=365).contains(&days) {
            return Err(Error::invalid("horizon_days", "must be 1 to 365 days"));
        }
        active.booking_horizon_days = Set(days);
    }
    if let Some(policy) = input.anyone_policy {
        let policy = AnyonePolicy::parse(&policy)
            .ok_or_else(|| Error::invalid("anyone_policy", "must be least_busy, rotation or usual"))?;
        active.booking_anyone_policy = Set(policy.as_str().to_owned());
    }
    for (field, value, column) in [
        ("member_reminder_min", input.member_reminder_min, &mut active.member_reminder_min),
        ("staff_reminder_min", input.staff_reminder_min, &mut active.staff_reminder_min),
    ] {
        if let Some(minutes) = value {
            if !(0..=10_080).contains(&minutes) {
                return Err(Error::invalid(field, "must be 0 (off) to 10080 minutes (a week)"));
            }
            *column = Set(minutes);
        }
    }
    let txn = ctx.db.begin().await?;
    let store = active.update(&txn).await?;
    audit::by_staff(&txn, principal, "schedule.booking_settings_updated", ("store", store_id), json!({})).await?;
    crate::foundation::merchants::config_changed(&txn, principal.merchant_id).await?;
    txn.commit().await?;
    Ok(store)
}

pub async fn add_closure(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    store_id: i64,
    day: NaiveDate,
    reason: &str,
) -> Result<()> {
    principal.require(Permission::ScheduleManage)?;
    store(ctx, principal, store_id).await?;
    let reason = crate::domain::label("reason", reason)?;
    let txn = ctx.db.begin().await?;
    store_closures::Entity::delete_many()
        .filter(store_closures::Column::StoreId.eq(store_id))
        .filter(store_closures::Column::Day.eq(day))
        .exec(&txn)
        .await?;
    store_closures::ActiveModel {
        merchant_id: Set(principal.merchant_id),
        store_id: Set(store_id),
        day: Set(day),
        reason: Set(reason),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    audit::by_staff(&txn, principal, "schedule.closure_added", ("store", store_id), json!({ "day": day.to_string() }))
        .await?;
    txn.commit().await?;
    Ok(())
}

pub async fn remove_closure(ctx: &AppContext, principal: &StaffPrincipal, store_id: i64, day: NaiveDate) -> Result<()> {
    principal.require(Permission::ScheduleManage)?;
    store(ctx, principal, store_id).await?;
    let txn = ctx.db.begin().await?;
    let removed = store_closures::Entity::delete_many()
        .filter(store_closures::Column::StoreId.eq(store_id))
        .filter(store_closures::Column::Day.eq(day))
        .exec(&txn)
        .await?;
    if removed.rows_affected == 0 {
        return Err(Error::NotFound("closure"));
    }
    audit::by_staff(
        &txn,
        principal,
        "schedule.closure_removed",
        ("store", store_id),
        json!({ "day": day.to_string() }),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

/// Replaces a staff member's weekly shifts at the store.
pub async fn set_shifts(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    store_id: i64,
    staff_id: i64,
    shifts: &[WeeklyWindow],
) -> Result<Vec<WeeklyWindow>> {
    principal.require(Permission::ScheduleManage)?;
    store(ctx, principal, store_id).await?;
    staff_at_store(&ctx.db, principal.merchant_id, staff_id, store_id).await?;
    let shifts = week("shifts", shifts)?;
    let txn = ctx.db.begin().await?;
    staff_shifts::Entity::delete_many()
        .filter(staff_shifts::Column::StoreId.eq(store_id))
        .filter(staff_shifts::Column::StaffId.eq(staff_id))
        .exec(&txn)
        .await?;
    for w in &shifts {
        staff_shifts::ActiveModel {
            merchant_id: Set(principal.merchant_id),
            store_id: Set(store_id),
            staff_id: Set(staff_id),
            weekday: Set(w.weekday),
            starts_min: Set(w.from_min),
            ends_min: Set(w.to_min),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
    }
    audit::by_staff(&txn, principal, "schedule.shifts_set", ("staff", staff_id), json!({ "store_id": store_id }))
        .await?;
    txn.commit().await?;
    Ok(shifts)
}

/// The hours of an exception, written `HH:MM`: both or neither (leave without hours is the whole day).
pub fn clock_window(from: Option<&str>, to: Option<&str>) -> Result<Option<(i32, i32)>> {
    match (from, to) {
        (Some(from), Some(to)) => {
            Ok(Some((super::calendar::parse_clock("from", from)?, super::calendar::parse_clock("to", to)?)))
        }
        (None, None) => Ok(None),
        _ => Err(Error::invalid("to", "give both from and to, or neither")),
    }
}

pub struct ExceptionInput {
    pub staff_id: i64,
    pub day: NaiveDate,
    pub kind: String,
    pub window: Option<(i32, i32)>,
    pub note: String,
}

/// Leave (all day, or a window) or an extra shift on one local day.
pub async fn add_exception(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    store_id: i64,
    input: ExceptionInput,
) -> Result<Exception> {
    principal.require(Permission::ScheduleManage)?;
    store(ctx, principal, store_id).await?;
    staff_at_store(&ctx.db, principal.merchant_id, input.staff_id, store_id).await?;
    let window = input.window.map(|(from, to)| window("window", from, to)).transpose()?;
    match (input.kind.as_str(), window) {
        ("leave", _) | ("extra", Some(_)) => {}
        ("extra", None) => return Err(Error::invalid("window", "an extra shift needs its times")),
        _ => return Err(Error::invalid("kind", "must be leave or extra")),
    }
    let note = input.note.trim().chars().take(200).collect::<String>();
    let txn = ctx.db.begin().await?;
    let row = staff_shift_exceptions::ActiveModel {
        merchant_id: Set(principal.merchant_id),
        store_id: Set(store_id),
        staff_id: Set(input.staff_id),
        day: Set(input.day),
        kind: Set(input.kind.clone()),
        starts_min: Set(window.map(|w| w.0)),
        ends_min: Set(window.map(|w| w.1)),
        note: Set(note),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    audit::by_staff(
        &txn,
        principal,
        "schedule.exception_added",
        ("staff", input.staff_id),
        json!({ "store_id": store_id, "day": input.day.to_string(), "kind": input.kind }),
    )
    .await?;
    txn.commit().await?;
    Ok(to_exception(row))
}

pub async fn remove_exception(ctx: &AppContext, principal: &StaffPrincipal, exception_id: i64) -> Result<()> {
    principal.require(Permission::ScheduleManage)?;
    let row = staff_shift_exceptions::Entity::find_by_id(exception_id)
        .filter(staff_shift_exceptions::Column::MerchantId.eq(principal.merchant_id))
        .one(&ctx.db)
        .await?
        .filter(|row| principal.can_access_store(row.store_id))
        .ok_or(Error::NotFound("shift exception"))?;
    let txn = ctx.db.begin().await?;
    staff_shift_exceptions::Entity::delete_by_id(row.id).exec(&txn).await?;
    audit::by_staff(&txn, principal, "schedule.exception_removed", ("staff", row.staff_id), json!({ "id": row.id }))
        .await?;
    txn.commit().await?;
    Ok(())
}

pub async fn skills(ctx: &AppContext, principal: &StaffPrincipal, staff_id: i64) -> Result<Vec<Skill>> {
    principal.require(Permission::BookingRead)?;
    crate::foundation::staff::visible_to(&ctx.db, principal, staff_id).await?;
    Ok(staff_skills::Entity::find()
        .filter(staff_skills::Column::MerchantId.eq(principal.merchant_id))
        .filter(staff_skills::Column::StaffId.eq(staff_id))
        .order_by_asc(staff_skills::Column::ServiceItemId)
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|s| Skill {
            service_item_id: s.service_item_id,
            price_fen: s.price_fen.map(Fen::new),
            duration_min: s.duration_min,
        })
        .collect())
}

/// Replaces the services a staff member may do (merchant-wide).
pub async fn set_skills(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    staff_id: i64,
    skills: &[Skill],
) -> Result<Vec<Skill>> {
    principal.require(Permission::ScheduleManage)?;
    crate::foundation::staff::in_scope_of(&ctx.db, principal, staff_id).await?;
    if skills.len() > 200 {
        return Err(Error::invalid("skills", "at most 200 services"));
    }
    let ids: Vec<i64> = skills.iter().map(|s| s.service_item_id).collect();
    let known = service_items::Entity::find()
        .filter(service_items::Column::MerchantId.eq(principal.merchant_id))
        .filter(service_items::Column::Id.is_in(ids.clone()))
        .all(&ctx.db)
        .await?;
    let mut seen = std::collections::BTreeSet::new();
    for skill in skills {
        if !known.iter().any(|k| k.id == skill.service_item_id) {
            return Err(Error::invalid("skills", format!("no service {}", skill.service_item_id)));
        }
        if !seen.insert(skill.service_item_id) {
            return Err(Error::invalid("skills", "each service once"));
        }
        if skill.price_fen.is_some_and(|p| !(Fen::ZERO..=Fen::MAX_AMOUNT).contains(&p)) {
            return Err(Error::invalid("price_fen", "must be 0 to ￥1,000,000 (in fen)"));
        }
        if skill.duration_min.is_some_and(|d| !(5..=600).contains(&d)) {
            return Err(Error::invalid("duration_min", "must be 5–600 minutes"));
        }
    }
    let txn = ctx.db.begin().await?;
    staff_skills::Entity::delete_many().filter(staff_skills::Column::StaffId.eq(staff_id)).exec(&txn).await?;
    for skill in skills {
        staff_skills::ActiveModel {
            staff_id: Set(staff_id),
            service_item_id: Set(skill.service_item_id),
            merchant_id: Set(principal.merchant_id),
            price_fen: Set(skill.price_fen.map(|v| v.get())),
            duration_min: Set(skill.duration_min),
        }
        .insert(&txn)
        .await?;
    }
    audit::by_staff(&txn, principal, "schedule.skills_set", ("staff", staff_id), json!({ "services": ids })).await?;
    txn.commit().await?;
    Ok(skills.to_vec())
}

pub async fn add_resource(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    store_id: i64,
    name: &str,
    kind: &str,
    capacity: i32,
) -> Result<Resource> {
    principal.require(Permission::ScheduleManage)?;
    store(ctx, principal, store_id).await?;
    if !(1..=100).contains(&capacity) {
        return Err(Error::invalid("capacity", "must be 1–100"));
    }
    let txn = ctx.db.begin().await?;
    let row = resources::ActiveModel {
        merchant_id: Set(principal.merchant_id),
        store_id: Set(store_id),
        name: Set(crate::domain::label("name", name)?),
        kind: Set(crate::foundation::catalog::resource_kind(kind)?),
        capacity: Set(capacity),
        active: Set(true),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    audit::by_staff(&txn, principal, "schedule.resource_added", ("resource", row.id), json!({ "store_id": store_id }))
        .await?;
    txn.commit().await?;
    Ok(to_resource(row))
}

pub async fn update_resource(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    resource_id: i64,
    name: Option<String>,
    capacity: Option<i32>,
    active: Option<bool>,
) -> Result<Resource> {
    principal.require(Permission::ScheduleManage)?;
    let row = resources::Entity::find_by_id(resource_id)
        .filter(resources::Column::MerchantId.eq(principal.merchant_id))
        .one(&ctx.db)
        .await?
        .filter(|row| principal.can_access_store(row.store_id))
        .ok_or(Error::NotFound("resource"))?;
    let mut model: resources::ActiveModel = row.into();
    if let Some(name) = name {
        model.name = Set(crate::domain::label("name", &name)?);
    }
    if let Some(capacity) = capacity {
        if !(1..=100).contains(&capacity) {
            return Err(Error::invalid("capacity", "must be 1–100"));
        }
        model.capacity = Set(capacity);
    }
    if let Some(flag) = active {
        model.active = Set(flag);
    }
    let txn = ctx.db.begin().await?;
    let row = model.update(&txn).await?;
    audit::by_staff(&txn, principal, "schedule.resource_updated", ("resource", row.id), json!({})).await?;
    txn.commit().await?;
    Ok(to_resource(row))
}
