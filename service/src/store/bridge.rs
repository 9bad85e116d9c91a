//! The store bridge, our side: bridge devices (a token each, shown once, revocable), the store's printers and which
//! kinds of job go to which, the print queue as a bridge sees it (each job rendered for its printer, acknowledged
//! when spooled and when printed, held while the printer says why), reprints and test pages, and the cashier
//! scanner's codes pushed to whoever watches that counter.
//!
//! Exactly once: a job is `printed` only when its bridge says the printer took every byte; until then it is sent
//! again on every (re)connection, and the bridge, which remembers what it printed, acknowledges a repeat without
//! printing it. A reprint is an explicit new copy.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
    QuerySelect, TransactionTrait,
};
use serde_json::json;

use bridge_wire::{PrinterState, PrinterStatus};
use entity::{bridge_devices, print_jobs, printers};

use crate::domain::{Permission, SessionToken};
use crate::foundation::principal::StaffPrincipal;
use crate::store::escpos::{Paper, Profile};
use crate::store::print_queue::{JobKind, announce};
use crate::{AppContext, Error, Result};

pub const DEVICE_PREFIX: &str = "hyd_";

/// A device counts as online when heard from this recently (it sends a heartbeat every 15 s).
const ONLINE_WITHIN_SECS: i64 = 45;

/// Jobs older than this are not printed automatically.
const STALE_AFTER_HOURS: i64 = 24;

/// The bridge on the other end of a connection.
#[derive(Clone, Copy, Debug)]
pub struct BridgePrincipal {
    pub device_id: i64,
    pub merchant_id: i64,
    pub store_id: i64,
}

#[derive(Clone, Debug)]
pub struct Device {
    pub row: bridge_devices::Model,
    pub online: bool,
}

fn device_view(row: bridge_devices::Model, now: DateTime<Utc>) -> Device {
    let online = row.revoked_at.is_none()
        && row.last_seen_at.is_some_and(|seen| now - seen < Duration::seconds(ONLINE_WITHIN_SECS));
    Device { row, online }
}

// ---------------------------------------------------------------------------------------------------------------
// Devices

/// Registers a bridge for a store. The token is returned this once; only its hash is kept.
pub async fn create_device(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    store_id: i64,
    name: &str,
) -> Result<(Device, SessionToken)> {
    principal.require(Permission::StoreManage)?;
    crate::foundation::stores::get(ctx, principal, store_id).await?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 40 {
        return Err(Error::invalid("name", "1–40 characters"));
    }
    let token = SessionToken::generate(DEVICE_PREFIX);
    let hint: String = token.expose().chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
    let now = ctx.now();
    let txn = ctx.db.begin().await?;
    let row = bridge_devices::ActiveModel {
        merchant_id: Set(principal.merchant_id),
        store_id: Set(store_id),
        name: Set(name.to_owned()),
        token_hash: Set(token.hash()),
        token_hint: Set(hint),
        revoked_at: Set(None),
        last_seen_at: Set(None),
        version: Set(None),
        created_by: Set(principal.staff_id),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    crate::foundation::audit::by_staff(
        &txn,
        principal,
        "bridge.device_created",
        ("bridge_device", row.id),
        json!({ "store_id": store_id, "name": row.name }),
    )
    .await?;
    txn.commit().await?;
    Ok((device_view(row, now), token))
}

/// The store's bridge devices. Cashiers may list them: checkout picks the counter's device to follow its scans.
pub async fn list_devices(ctx: &AppContext, principal: &StaffPrincipal, store_id: i64) -> Result<Vec<Device>> {
    principal.require(Permission::Checkout)?;
    crate::foundation::stores::get(ctx, principal, store_id).await?;
    let now = ctx.now();
    Ok(bridge_devices::Entity::find()
        .filter(bridge_devices::Column::StoreId.eq(store_id))
        .order_by_asc(bridge_devices::Column::Id)
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|row| device_view(row, now))
        .collect())
}

async fn own_device(ctx: &AppContext, principal: &StaffPrincipal, device_id: i64) -> Result<bridge_devices::Model> {
    let row = bridge_devices::Entity::find_by_id(device_id)
        .filter(bridge_devices::Column::MerchantId.eq(principal.merchant_id))
        .one(&ctx.db)
        .await?
        .ok_or(Error::NotFound("device"))?;
    if !principal.can_access_store(row.store_id) {
        return Err(Error::NotFound("device"));
    }
    Ok(row)
}

/// Revokes a device's token: its next request or message is refused and its connection is closed.
pub async fn revoke_device(ctx: &AppContext, principal: &StaffPrincipal, device_id: i64) -> Result<Device> {
    principal.require(Permission::StoreManage)?;
    let row = own_device(ctx, principal, device_id).await?;
    let now = ctx.now();
    let txn = ctx.db.begin().await?;
    let revoked = bridge_devices::Entity::update_many()
        .col_expr(bridge_devices::Column::RevokedAt, Expr::value(Some(now)))
        .filter(bridge_devices::Column::Id.eq(row.id))
        .filter(bridge_devices::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?;
    // Revoking a revoked device changes nothing and records nothing.
    if revoked.rows_affected == 1 {
        let detail = json!({ "store_id": row.store_id, "name": row.name });
        crate::foundation::audit::by_staff(&txn, principal, "bridge.device_revoked", ("bridge_device", row.id), detail)
            .await?;
    }
    txn.commit().await?;
    let row = own_device(ctx, principal, device_id).await?;
    Ok(device_view(row, now))
}

/// The bridge presenting `token`, if it is a live device's.
pub async fn authenticate(ctx: &AppContext, token: &str) -> Result<BridgePrincipal> {
    let token = SessionToken::parse(DEVICE_PREFIX, token).ok_or(Error::Unauthenticated)?;
    let row = bridge_devices::Entity::find()
        .filter(bridge_devices::Column::TokenHash.eq(token.hash()))
        .filter(bridge_devices::Column::RevokedAt.is_null())
        .one(&ctx.db)
        .await?
        .ok_or(Error::Unauthenticated)?;
    Ok(BridgePrincipal { device_id: row.id, merchant_id: row.merchant_id, store_id: row.store_id })
}

/// Still live? Checked on every message, so a revoked device is cut off at once.
pub async fn still_valid(ctx: &AppContext, bridge: &BridgePrincipal) -> Result<bool> {
    Ok(bridge_devices::Entity::find_by_id(bridge.device_id)
        .filter(bridge_devices::Column::RevokedAt.is_null())
        .one(&ctx.db)
        .await?
        .is_some())
}

/// Records that the device was heard from, and its printers' states.
pub async fn heartbeat(
    ctx: &AppContext,
    bridge: &BridgePrincipal,
    version: Option<&str>,
    statuses: &[PrinterStatus],
) -> Result<()> {
    let now = ctx.now();
    let mut update = bridge_devices::Entity::update_many()
        .col_expr(bridge_devices::Column::LastSeenAt, Expr::value(Some(now)))
        .filter(bridge_devices::Column::Id.eq(bridge.device_id));
    if let Some(version) = version {
        update = update.col_expr(bridge_devices::Column::Version, Expr::value(Some(version.to_owned())));
    }
    update.exec(&ctx.db).await?;
    for status in statuses {
        printers::Entity::update_many()
            .col_expr(printers::Column::State, Expr::value(status.state.as_str()))
            .col_expr(printers::Column::StateAt, Expr::value(Some(now)))
            .filter(printers::Column::Id.eq(status.id))
            .filter(printers::Column::StoreId.eq(bridge.store_id))
            .exec(&ctx.db)
            .await?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------------------------
// Printers

#[derive(Clone, Debug, Default)]
pub struct PrinterInput {
    pub name: Option<String>,
    pub address: Option<String>,
    pub paper_mm: Option<i32>,
    pub native_qr: Option<bool>,
    pub drawer: Option<bool>,
    pub kinds: Option<Vec<String>>,
    pub active: Option<bool>,
}

#[derive(Clone, Debug)]
pub struct Printer {
    pub row: printers::Model,
    pub kinds: Vec<String>,
}

fn printer_view(row: printers::Model) -> Printer {
    let kinds = serde_json::from_str(&row.kinds).unwrap_or_default();
    Printer { row, kinds }
}

pub fn profile_of(row: &printers::Model) -> Profile {
    Profile { paper: Paper::parse(row.paper_mm).unwrap_or(Paper::Mm80), native_qr: row.native_qr, drawer: row.drawer }
}

fn apply(active: &mut printers::ActiveModel, input: PrinterInput) -> Result<()> {
    if let Some(name) = input.name {
        let name = name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 40 {
            return Err(Error::invalid("name", "1–40 characters"));
        }
        active.name = Set(name);
    }
    if let Some(address) = input.address {
        let address = address.trim().to_owned();
        let ok = address.rsplit_once(':').is_some_and(|(host, port)| {
            !host.is_empty() && host.len() <= 253 && port.parse::<u16>().is_ok_and(|p| p > 0)
        });
        if !ok {
            return Err(Error::invalid("address", "host:port on the store's network, such as 192.168.1.50:9100"));
        }
        active.address = Set(address);
    }
    if let Some(mm) = input.paper_mm {
        Paper::parse(mm).ok_or_else(|| Error::invalid("paper_mm", "58 or 80"))?;
        active.paper_mm = Set(mm);
    }
    if let Some(native) = input.native_qr {
        active.native_qr = Set(native);
    }
    if let Some(drawer) = input.drawer {
        active.drawer = Set(drawer);
    }
    if let Some(kinds) = input.kinds {
        if let Some(bad) = kinds.iter().find(|k| JobKind::parse(k).is_none()) {
            return Err(Error::invalid("kinds", format!("{bad} is not a job kind ({})", JobKind::names().join(", "))));
        }
        active.kinds = Set(serde_json::to_string(&kinds).map_err(anyhow::Error::from)?);
    }
    if let Some(flag) = input.active {
        active.active = Set(flag);
    }
    Ok(())
}

pub async fn create_printer(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    store_id: i64,
    input: PrinterInput,
) -> Result<Printer> {
    principal.require(Permission::StoreManage)?;
    crate::foundation::stores::get(ctx, principal, store_id).await?;
    if input.name.is_none() || input.address.is_none() {
        return Err(Error::invalid("body", "name and address are required"));
    }
    let mut active = printers::ActiveModel {
        merchant_id: Set(principal.merchant_id),
        store_id: Set(store_id),
        paper_mm: Set(80),
        native_qr: Set(true),
        drawer: Set(false),
        kinds: Set("[]".to_owned()),
        active: Set(true),
        state: Set("unknown".to_owned()),
        state_at: Set(None),
        created_at: Set(ctx.now()),
        ..Default::default()
    };
    apply(&mut active, input)?;
    let txn = ctx.db.begin().await?;
    let row = active.insert(&txn).await?;
    let detail = crate::foundation::audit::created(&row);
    crate::foundation::audit::by_staff(&txn, principal, "bridge.printer_added", ("printer", row.id), detail).await?;
    txn.commit().await?;
    Ok(printer_view(row))
}

async fn own_printer(ctx: &AppContext, principal: &StaffPrincipal, printer_id: i64) -> Result<printers::Model> {
    let row = printers::Entity::find_by_id(printer_id)
        .filter(printers::Column::MerchantId.eq(principal.merchant_id))
        .one(&ctx.db)
        .await?
        .ok_or(Error::NotFound("printer"))?;
    if !principal.can_access_store(row.store_id) {
        return Err(Error::NotFound("printer"));
    }
    Ok(row)
}

pub async fn update_printer(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    printer_id: i64,
    input: PrinterInput,
) -> Result<Printer> {
    principal.require(Permission::StoreManage)?;
    let before = own_printer(ctx, principal, printer_id).await?;
    let mut active = before.clone().into_active_model();
    apply(&mut active, input)?;
    let txn = ctx.db.begin().await?;
    let row = active.update(&txn).await?;
    // The printer's reported state is the bridge's, not a change anyone made.
    let mut detail = crate::foundation::audit::changes(&before, &row);
    if let Some(fields) = detail.as_object_mut() {
        fields.retain(|field, _| !["state", "state_at"].contains(&field.as_str()));
    }
    crate::foundation::audit::by_staff(&txn, principal, "bridge.printer_changed", ("printer", row.id), detail).await?;
    txn.commit().await?;
    announce(ctx, row.store_id).await;
    Ok(printer_view(row))
}

pub async fn list_printers(ctx: &AppContext, principal: &StaffPrincipal, store_id: i64) -> Result<Vec<Printer>> {
    principal.require(Permission::Checkout)?;
    crate::foundation::stores::get(ctx, principal, store_id).await?;
    Ok(store_printers(ctx, store_id, false).await?.into_iter().map(printer_view).collect())
}

async fn store_printers(ctx: &AppContext, store_id: i64, only_active: bool) -> Result<Vec<printers::Model>> {
    let mut query = printers::Entity::find().filter(printers::Column::StoreId.eq(store_id));
    if only_active {
        query = query.filter(printers::Column::Active.eq(true));
    }
    Ok(query.order_by_asc(printers::Column::Id).all(&ctx.db).await?)
}

/// The printers a bridge drives.
pub async fn printers_for(ctx: &AppContext, bridge: &BridgePrincipal) -> Result<Vec<bridge_wire::Printer>> {
    Ok(store_printers(ctx, bridge.store_id, true)
        .await?
        .into_iter()
        .map(|p| bridge_wire::Printer { id: p.id, name: p.name, address: p.address })
        .collect())
}

/// Where a job of `kind` goes: the first active printer that names the kind, else the first that names none.
fn route<'a>(printers: &'a [printers::Model], kind: &str, pinned: Option<i64>) -> Option<&'a printers::Model> {
    if let Some(id) = pinned {
        return printers.iter().find(|p| p.id == id);
    }
    let kinds = |p: &printers::Model| serde_json::from_str::<Vec<String>>(&p.kinds).unwrap_or_default();
    printers
        .iter()
        .find(|p| kinds(p).iter().any(|k| k == kind))
        .or_else(|| printers.iter().find(|p| kinds(p).is_empty()))
}

// ---------------------------------------------------------------------------------------------------------------
// The queue

/// The jobs of the bridge's store not yet printed, oldest first, each rendered for its printer, leaving out `skip`
/// (sent moments ago on this connection). A job with no printer to go to waits.
pub async fn outstanding(
    ctx: &AppContext,
    bridge: &BridgePrincipal,
    skip: &std::collections::HashSet<i64>,
    limit: u64,
) -> Result<Vec<bridge_wire::ToBridge>> {
    let printers = store_printers(ctx, bridge.store_id, true).await?;
    if printers.is_empty() {
        return Ok(Vec::new());
    }
    let jobs = print_jobs::Entity::find()
        .filter(print_jobs::Column::StoreId.eq(bridge.store_id))
        .filter(print_jobs::Column::Status.is_in(["queued", "sent", "held"]))
        // A receipt a day old is no use to the customer it was for (a printer added later does not print the
        // backlog); staff can still reprint it.
        .filter(print_jobs::Column::CreatedAt.gt(ctx.now() - Duration::hours(STALE_AFTER_HOURS)))
        .order_by_asc(print_jobs::Column::Id)
        .limit(limit)
        .all(&ctx.db)
        .await?;
    let mut messages = Vec::with_capacity(jobs.len());
    for job in jobs.into_iter().filter(|j| !skip.contains(&j.id)) {
        let pinned = if job.kind == "test_page" { Some(job.subject_id) } else { job.printer_id };
        let Some(printer) = route(&printers, &job.kind, pinned) else { continue };
        let bytes = match crate::store::receipts::render(ctx, &job, profile_of(printer), &printer.name).await {
            Ok(bytes) => bytes,
            Err(error) => {
                // A job that cannot be rendered would block its printer's queue: fail it, visibly.
                tracing::warn!(job = job.id, %error, "print job cannot be rendered");
                print_jobs::Entity::update_many()
                    .col_expr(print_jobs::Column::Status, Expr::value("failed"))
                    .col_expr(print_jobs::Column::HoldReason, Expr::value(Some(format!("{error}"))))
                    .filter(print_jobs::Column::Id.eq(job.id))
                    .exec(&ctx.db)
                    .await?;
                continue;
            }
        };
        if job.printer_id != Some(printer.id) {
            print_jobs::Entity::update_many()
                .col_expr(print_jobs::Column::PrinterId, Expr::value(Some(printer.id)))
                .filter(print_jobs::Column::Id.eq(job.id))
                .exec(&ctx.db)
                .await?;
        }
        use base64::Engine;
        messages.push(bridge_wire::ToBridge::Job {
            id: job.id,
            printer_id: printer.id,
            kind: job.kind,
            data: base64::engine::general_purpose::STANDARD.encode(bytes),
        });
    }
    Ok(messages)
}

/// The bridge spooled the job.
pub async fn received(ctx: &AppContext, bridge: &BridgePrincipal, job_id: i64) -> Result<()> {
    print_jobs::Entity::update_many()
        .col_expr(print_jobs::Column::Status, Expr::value("sent"))
        .col_expr(print_jobs::Column::ReceivedAt, Expr::value(Some(ctx.now())))
        .filter(print_jobs::Column::Id.eq(job_id))
        .filter(print_jobs::Column::StoreId.eq(bridge.store_id))
        .filter(print_jobs::Column::Status.eq("queued"))
        .exec(&ctx.db)
        .await?;
    Ok(())
}

/// The printer took the job. Final: a later "held" or "received" for it changes nothing.
pub async fn printed(ctx: &AppContext, bridge: &BridgePrincipal, job_id: i64) -> Result<()> {
    print_jobs::Entity::update_many()
        .col_expr(print_jobs::Column::Status, Expr::value("printed"))
        .col_expr(print_jobs::Column::PrintedAt, Expr::value(Some(ctx.now())))
        .col_expr(print_jobs::Column::HoldReason, Expr::value(Option::<String>::None))
        .filter(print_jobs::Column::Id.eq(job_id))
        .filter(print_jobs::Column::StoreId.eq(bridge.store_id))
        .filter(print_jobs::Column::Status.is_in(["queued", "sent", "held"]))
        .exec(&ctx.db)
        .await?;
    Ok(())
}

/// The printer holds the job (no paper, cover open, not answering): staff see why.
pub async fn held(ctx: &AppContext, bridge: &BridgePrincipal, job_id: i64, state: PrinterState) -> Result<()> {
    print_jobs::Entity::update_many()
        .col_expr(print_jobs::Column::Status, Expr::value("held"))
        .col_expr(print_jobs::Column::HoldReason, Expr::value(Some(state.as_str())))
        .filter(print_jobs::Column::Id.eq(job_id))
        .filter(print_jobs::Column::StoreId.eq(bridge.store_id))
        .filter(print_jobs::Column::Status.is_in(["queued", "sent", "held"]))
        .exec(&ctx.db)
        .await?;
    Ok(())
}

pub async fn list_jobs(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    store_id: i64,
    status: Option<&str>,
) -> Result<Vec<print_jobs::Model>> {
    principal.require(Permission::Checkout)?;
    crate::foundation::stores::get(ctx, principal, store_id).await?;
    let mut query = print_jobs::Entity::find().filter(print_jobs::Column::StoreId.eq(store_id));
    if let Some(status) = status {
        query = query.filter(print_jobs::Column::Status.eq(status));
    }
    Ok(query.order_by_desc(print_jobs::Column::Id).limit(200).all(&ctx.db).await?)
}

async fn next_copy(ctx: &AppContext, kind: &str, subject_id: i64) -> Result<i32> {
    let copies: Option<i32> = print_jobs::Entity::find()
        .select_only()
        .column_as(print_jobs::Column::Copy.max(), "copy")
        .filter(print_jobs::Column::Kind.eq(kind))
        .filter(print_jobs::Column::SubjectId.eq(subject_id))
        .into_tuple()
        .one(&ctx.db)
        .await?
        .flatten();
    Ok(copies.map_or(0, |c| c + 1))
}

/// A job queued by hand: a reprint of another job's subject (audited) or a test page.
struct ByHand<'a> {
    store_id: i64,
    kind: &'a str,
    subject_id: i64,
    printer_id: Option<i64>,
    /// What the first print stated, for a reprint.
    stated: Option<String>,
    reprint_of: Option<i64>,
}

async fn insert_copy(ctx: &AppContext, principal: &StaffPrincipal, job: ByHand<'_>) -> Result<print_jobs::Model> {
    let ByHand { store_id, kind, subject_id, printer_id, stated, reprint_of } = job;
    // Two staff pressing "reprint" at once: one gets the copy number, the other tries the next.
    for _ in 0..5 {
        let copy = next_copy(ctx, kind, subject_id).await?;
        let txn = ctx.db.begin().await?;
        let inserted = print_jobs::ActiveModel {
            merchant_id: Set(principal.merchant_id),
            store_id: Set(store_id),
            kind: Set(kind.to_owned()),
            subject_id: Set(subject_id),
            status: Set("queued".to_owned()),
            created_at: Set(ctx.now()),
            printed_at: Set(None),
            printer_id: Set(printer_id),
            copy: Set(copy),
            hold_reason: Set(None),
            received_at: Set(None),
            requested_by: Set(Some(principal.staff_id)),
            stated: Set(stated.clone()),
            ..Default::default()
        }
        .insert(&txn)
        .await;
        match inserted {
            Ok(row) => {
                if let Some(original) = reprint_of {
                    let detail = json!({ "of": original, "kind": kind, "copy": copy });
                    crate::foundation::audit::by_staff(
                        &txn,
                        principal,
                        "bridge.reprint",
                        ("print_job", row.id),
                        detail,
                    )
                    .await?;
                }
                txn.commit().await?;
                announce(ctx, store_id).await;
                return Ok(row);
            }
            Err(e) if matches!(e.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_))) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::Internal(anyhow::anyhow!("no copy number for {kind} {subject_id}")))
}

/// Prints a job's subject again, as a new copy (audited).
pub async fn reprint(ctx: &AppContext, principal: &StaffPrincipal, job_id: i64) -> Result<print_jobs::Model> {
    principal.require(Permission::Reprint)?;
    let job = print_jobs::Entity::find_by_id(job_id)
        .filter(print_jobs::Column::MerchantId.eq(principal.merchant_id))
        .one(&ctx.db)
        .await?
        .filter(|j| principal.can_access_store(j.store_id))
        .ok_or(Error::NotFound("print job"))?;
    let pinned = (job.kind == "test_page").then_some(job.subject_id);
    // The copy states what the first print stated: a reprint is of that moment, not of now.
    let copy = ByHand {
        store_id: job.store_id,
        kind: &job.kind,
        subject_id: job.subject_id,
        printer_id: pinned,
        stated: job.stated.clone(),
        reprint_of: Some(job.id),
    };
    insert_copy(ctx, principal, copy).await
}

/// A test page on one printer.
pub async fn test_page(ctx: &AppContext, principal: &StaffPrincipal, printer_id: i64) -> Result<print_jobs::Model> {
    principal.require(Permission::Checkout)?;
    let printer = own_printer(ctx, principal, printer_id).await?;
    let page = ByHand {
        store_id: printer.store_id,
        kind: "test_page",
        subject_id: printer.id,
        printer_id: Some(printer.id),
        stated: None,
        reprint_of: None,
    };
    insert_copy(ctx, principal, page).await
}

// ---------------------------------------------------------------------------------------------------------------
// Scans

/// What the counter's scanner read, as pushed to whoever watches the counter's device.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Scan {
    pub device_id: i64,
    /// `wechat_pay_code`, `alipay_code`, `member_code`, `product_barcode` or `unknown`.
    pub kind: String,
    pub code: String,
    pub at: DateTime<Utc>,
}

pub fn scan_channel(device_id: i64) -> String {
    format!("bridge:scans:{device_id}")
}

/// Classifies a scan and pushes it to the device's watchers (on any replica).
pub async fn scanned(ctx: &AppContext, bridge: &BridgePrincipal, code: &str) -> Result<Scan> {
    let code: String = code.trim().chars().take(128).collect();
    if code.is_empty() {
        return Err(Error::invalid("code", "empty scan"));
    }
    let kind = crate::domain::classify_scan(&code).map_or("unknown", |k| k.as_str());
    let scan = Scan { device_id: bridge.device_id, kind: kind.to_owned(), code, at: ctx.now() };
    let text = serde_json::to_string(&scan).map_err(anyhow::Error::from)?;
    ctx.shared.publish(&scan_channel(bridge.device_id), &text).await.map_err(Error::Internal)?;
    Ok(scan)
}

/// A cashier watching a counter's scans: the device must be at a store of theirs.
pub async fn watch_scans(
    ctx: &AppContext,
    principal: &StaffPrincipal,
    device_id: i64,
) -> Result<tokio::sync::mpsc::Receiver<String>> {
    principal.require(Permission::Checkout)?;
    let device = own_device(ctx, principal, device_id).await?;
    ctx.shared.subscribe(&scan_channel(device.id)).await.map_err(Error::Internal)
}
