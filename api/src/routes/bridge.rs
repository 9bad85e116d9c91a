//! The store bridge: devices and printers for staff, the print queue and reprints, the counter's scans as
//! server-sent events, and the bridge's own WebSocket.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use bridge_wire::{FromBridge, ToBridge};
use service::AppContext;
use service::store::bridge::{BridgePrincipal, Device, Printer, PrinterInput};

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Body, Bridge, Staff};

pub fn staff_routes(cfg: &mut ServiceConfig) {
    cfg.service(create_bridge_device)
        .service(list_bridge_devices)
        .service(revoke_bridge_device)
        .service(list_printers)
        .service(create_printer)
        .service(update_printer)
        .service(print_test_page)
        .service(list_print_jobs)
        .service(reprint_print_job)
        .service(watch_bridge_scans);
}

pub fn bridge_routes(cfg: &mut ServiceConfig) {
    cfg.service(connect_bridge);
}

// ---------------------------------------------------------------------------------------------------------------
// Devices

#[derive(Serialize, ToSchema)]
pub struct DeviceDto {
    pub id: i64,
    pub store_id: i64,
    pub name: String,
    /// The token's last characters.
    pub token_hint: String,
    /// Heard from in the last 45 seconds.
    pub online: bool,
    pub last_seen_at: Option<DateTime<Utc>>,
    /// The bridge's version, as it reported it.
    pub version: Option<String>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<Device> for DeviceDto {
    fn from(d: Device) -> Self {
        Self {
            id: d.row.id,
            store_id: d.row.store_id,
            name: d.row.name,
            token_hint: d.row.token_hint,
            online: d.online,
            last_seen_at: d.row.last_seen_at,
            version: d.row.version,
            revoked_at: d.row.revoked_at,
            created_at: d.row.created_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceRequest {
    /// What staff call it: 前台电脑.
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct NewDeviceDto {
    pub device: DeviceDto,
    /// Put this in the bridge's configuration. Shown only now.
    pub token: String,
}

/// Registers a store bridge; the token is shown once (managers).
#[utoipa::path(tag = "store bridge", params(("id" = i64, Path)), request_body = DeviceRequest, responses((status = 201, body = NewDeviceDto), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/stores/{id}/bridge-devices")]
async fn create_bridge_device(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
    body: Body<DeviceRequest>,
) -> ApiResult<HttpResponse> {
    let (device, token) = service::store::bridge::create_device(&ctx, &me, id.into_inner(), &body.name).await?;
    Ok(HttpResponse::Created().json(NewDeviceDto { device: device.into(), token: token.expose().to_owned() }))
}

/// A store's bridges and whether each is online.
#[utoipa::path(tag = "store bridge", params(("id" = i64, Path)), responses((status = 200, body = Vec<DeviceDto>), (status = 403, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/stores/{id}/bridge-devices")]
async fn list_bridge_devices(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
) -> ApiResult<web::Json<Vec<DeviceDto>>> {
    let devices = service::store::bridge::list_devices(&ctx, &me, id.into_inner()).await?;
    Ok(web::Json(devices.into_iter().map(DeviceDto::from).collect()))
}

/// Revokes a bridge's token: it is disconnected and refused from now on.
#[utoipa::path(tag = "store bridge", params(("id" = i64, Path)), responses((status = 200, body = DeviceDto), (status = 404, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/bridge-devices/{id}/revoke")]
async fn revoke_bridge_device(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
) -> ApiResult<web::Json<DeviceDto>> {
    Ok(web::Json(service::store::bridge::revoke_device(&ctx, &me, id.into_inner()).await?.into()))
}

// ---------------------------------------------------------------------------------------------------------------
// Printers

#[derive(Serialize, ToSchema)]
pub struct PrinterDto {
    pub id: i64,
    pub store_id: i64,
    pub name: String,
    /// `host:port` on the store's network.
    pub address: String,
    /// 58 or 80.
    pub paper_mm: i32,
    /// Prints QR codes natively (`GS ( k`); otherwise they are sent as images.
    pub native_qr: bool,
    /// A cash drawer hangs off it (kicked when a bill takes cash).
    pub drawer: bool,
    /// Job kinds routed here (`bill_receipt`, `recharge_receipt`, `count_card_slip`, `refund_receipt`,
    /// `appointment_ticket`, `handover_summary`, `test_page`); empty takes the rest.
    pub kinds: Vec<String>,
    pub active: bool,
    /// `ok`, `paper_out`, `cover_open`, `offline` or `unknown`, as the bridge last saw it.
    pub state: String,
    pub state_at: Option<DateTime<Utc>>,
}

impl From<Printer> for PrinterDto {
    fn from(p: Printer) -> Self {
        Self {
            id: p.row.id,
            store_id: p.row.store_id,
            name: p.row.name,
            address: p.row.address,
            paper_mm: p.row.paper_mm,
            native_qr: p.row.native_qr,
            drawer: p.row.drawer,
            kinds: p.kinds,
            active: p.row.active,
            state: p.row.state,
            state_at: p.row.state_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PrinterRequest {
    pub name: Option<String>,
    pub address: Option<String>,
    pub paper_mm: Option<i32>,
    pub native_qr: Option<bool>,
    pub drawer: Option<bool>,
    pub kinds: Option<Vec<String>>,
    pub active: Option<bool>,
}

impl From<PrinterRequest> for PrinterInput {
    fn from(r: PrinterRequest) -> Self {
        Self {
            name: r.name,
            address: r.address,
            paper_mm: r.paper_mm,
            native_qr: r.native_qr,
            drawer: r.drawer,
            kinds: r.kinds,
            active: r.active,
        }
    }
}

/// A store's printers and the bridge each is attached to.
#[utoipa::path(tag = "store bridge", params(("id" = i64, Path)), responses((status = 200, body = Vec<PrinterDto>), (status = 404, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/stores/{id}/printers")]
async fn list_printers(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
) -> ApiResult<web::Json<Vec<PrinterDto>>> {
    let printers = service::store::bridge::list_printers(&ctx, &me, id.into_inner()).await?;
    Ok(web::Json(printers.into_iter().map(PrinterDto::from).collect()))
}

/// Adds a printer the store's bridge drives (managers).
#[utoipa::path(tag = "store bridge", params(("id" = i64, Path)), request_body = PrinterRequest, responses((status = 201, body = PrinterDto), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/stores/{id}/printers")]
async fn create_printer(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
    body: Body<PrinterRequest>,
) -> ApiResult<HttpResponse> {
    let printer = service::store::bridge::create_printer(&ctx, &me, id.into_inner(), body.into_inner().into()).await?;
    Ok(HttpResponse::Created().json(PrinterDto::from(printer)))
}

/// Changes a printer: its name, address, paper width, what it prints, its cash drawer, or takes it out of use.
#[utoipa::path(tag = "store bridge", params(("id" = i64, Path)), request_body = PrinterRequest, responses((status = 200, body = PrinterDto), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)), security(("staff_token" = [])))]
#[patch("/printers/{id}")]
async fn update_printer(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
    body: Body<PrinterRequest>,
) -> ApiResult<web::Json<PrinterDto>> {
    Ok(web::Json(
        service::store::bridge::update_printer(&ctx, &me, id.into_inner(), body.into_inner().into()).await?.into(),
    ))
}

// ---------------------------------------------------------------------------------------------------------------
// The queue

#[derive(Serialize, ToSchema)]
pub struct PrintJobDto {
    pub id: i64,
    pub store_id: i64,
    /// `bill_receipt`, `recharge_receipt`, `count_card_slip`, `refund_receipt`, `appointment_ticket`,
    /// `handover_summary` or `test_page`.
    pub kind: String,
    /// The bill, the recharge's ledger entry, or the printer (test page).
    pub subject_id: i64,
    /// 0 for the first print; each reprint is the next copy.
    pub copy: i32,
    /// `queued`, `sent` (spooled by the bridge), `printed`, `held` or `failed`.
    pub status: String,
    /// Why it is held: `paper_out`, `cover_open`, `offline`.
    pub hold_reason: Option<String>,
    pub printer_id: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub received_at: Option<DateTime<Utc>>,
    pub printed_at: Option<DateTime<Utc>>,
}

impl From<entity::print_jobs::Model> for PrintJobDto {
    fn from(j: entity::print_jobs::Model) -> Self {
        Self {
            id: j.id,
            store_id: j.store_id,
            kind: j.kind,
            subject_id: j.subject_id,
            copy: j.copy,
            status: j.status,
            hold_reason: j.hold_reason,
            printer_id: j.printer_id,
            created_at: j.created_at,
            received_at: j.received_at,
            printed_at: j.printed_at,
        }
    }
}

#[derive(Deserialize, IntoParams)]
pub struct PrintJobQuery {
    pub status: Option<String>,
}

/// The store's print queue, newest first (the latest 200).
#[utoipa::path(tag = "store bridge", params(("id" = i64, Path), PrintJobQuery), responses((status = 200, body = Vec<PrintJobDto>), (status = 404, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/stores/{id}/print-jobs")]
async fn list_print_jobs(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
    query: web::Query<PrintJobQuery>,
) -> ApiResult<web::Json<Vec<PrintJobDto>>> {
    let jobs = service::store::bridge::list_jobs(&ctx, &me, id.into_inner(), query.status.as_deref()).await?;
    Ok(web::Json(jobs.into_iter().map(PrintJobDto::from).collect()))
}

/// Prints a job's receipt again, as a new copy.
#[utoipa::path(tag = "store bridge", params(("id" = i64, Path)), responses((status = 201, body = PrintJobDto), (status = 404, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/print-jobs/{id}/reprint")]
async fn reprint_print_job(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let job = service::store::bridge::reprint(&ctx, &me, id.into_inner()).await?;
    Ok(HttpResponse::Created().json(PrintJobDto::from(job)))
}

/// Queues a test page on a printer.
#[utoipa::path(tag = "store bridge", params(("id" = i64, Path)), responses((status = 201, body = PrintJobDto), (status = 404, body = ErrorBody)), security(("staff_token" = [])))]
#[post("/printers/{id}/test-page")]
async fn print_test_page(ctx: web::Data<AppContext>, Staff(me): Staff, id: web::Path<i64>) -> ApiResult<HttpResponse> {
    let job = service::store::bridge::test_page(&ctx, &me, id.into_inner()).await?;
    Ok(HttpResponse::Created().json(PrintJobDto::from(job)))
}

// ---------------------------------------------------------------------------------------------------------------
// Scans

/// The counter's scans as server-sent events (`event: scan`, `data: {"device_id", "kind", "code", "at"}`), for the
/// checkout open at that counter. `kind` is `wechat_pay_code`, `alipay_code`, `member_code`, `product_barcode` or
/// `unknown`.
#[utoipa::path(tag = "store bridge", params(("id" = i64, Path)), responses((status = 200, content_type = "text/event-stream", body = String), (status = 404, body = ErrorBody)), security(("staff_token" = [])))]
#[get("/bridge-devices/{id}/scans")]
async fn watch_bridge_scans(
    ctx: web::Data<AppContext>,
    Staff(me): Staff,
    id: web::Path<i64>,
) -> ApiResult<HttpResponse> {
    let receiver = service::store::bridge::watch_scans(&ctx, &me, id.into_inner()).await?;
    let events = futures_util::stream::unfold(receiver, |mut receiver| async move {
        let message = receiver.recv().await?;
        let event = web::Bytes::from(format!("event: scan\ndata: {message}\n\n"));
        Some((Ok::<_, actix_web::Error>(event), receiver))
    });
    // A comment first, so clients see the stream open before the first scan.
    let opening = futures_util::stream::once(async { Ok(web::Bytes::from_static(b": watching\n\n")) });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("cache-control", "no-cache"))
        .insert_header(("x-accel-buffering", "no"))
        .streaming(opening.chain(events)))
}

// ---------------------------------------------------------------------------------------------------------------
// The bridge's connection

/// A job not acknowledged within this is sent again on the same connection.
const RESEND_AFTER: Duration = Duration::from_secs(30);
/// A bridge silent this long is dropped (it heartbeats every 15 s).
const SILENT_LIMIT: Duration = Duration::from_secs(60);

/// The store bridge's WebSocket (`Authorization: Bearer hyd_…`). Messages are the JSON of `bridge-wire`: printers and
/// jobs to the bridge; hello, received, printed, held, heartbeat and scan from it.
#[utoipa::path(tag = "store bridge", responses((status = 101, description = "switching to the bridge protocol"), (status = 401, body = ErrorBody)), security(("device_token" = [])))]
#[get("/bridge/v1/connect")]
async fn connect_bridge(
    ctx: web::Data<AppContext>,
    Bridge(bridge): Bridge,
    req: HttpRequest,
    body: web::Payload,
) -> ApiResult<HttpResponse> {
    let (response, session, stream) = actix_ws::handle(&req, body)
        .map_err(|_| ApiError::bad_request("not_a_websocket", "connect with a WebSocket upgrade"))?;
    actix_web::rt::spawn(serve(ctx.into_inner(), bridge, session, stream));
    Ok(response)
}

async fn send(session: &mut actix_ws::Session, message: &ToBridge) -> bool {
    match serde_json::to_string(message) {
        Ok(text) => session.text(text).await.is_ok(),
        Err(_) => false,
    }
}

async fn serve(
    ctx: std::sync::Arc<AppContext>,
    bridge: BridgePrincipal,
    mut session: actix_ws::Session,
    mut stream: actix_ws::MessageStream,
) {
    let ctx = ctx.as_ref();
    let mut wake = match ctx.shared.subscribe(&service::store::print_queue::channel(bridge.store_id)).await {
        Ok(receiver) => Some(receiver),
        Err(error) => {
            tracing::warn!(%error, "bridge connection without wake-ups; polling only");
            None
        }
    };
    let mut sent: HashMap<i64, Instant> = HashMap::new();
    let mut heard = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    let mut printers = Vec::new();
    // Look at the queue on connecting, when woken (a job queued on any replica) and every tick; not on every
    // acknowledgement.
    let mut refresh = true;
    let close = loop {
        if std::mem::take(&mut refresh) && !push(ctx, &bridge, &mut session, &mut printers, &mut sent).await {
            break None;
        }
        tokio::select! {
            message = stream.next() => {
                let Some(Ok(message)) = message else { break None };
                heard = Instant::now();
                match message {
                    actix_ws::Message::Text(text) => {
                        match serde_json::from_str::<FromBridge>(&text) {
                            Ok(message) => {
                                if let FromBridge::Printed { id } = &message {
                                    sent.remove(id);
                                }
                                if let Err(error) = handle(ctx, &bridge, message).await {
                                    tracing::warn!(%error, "bridge message not applied");
                                }
                            }
                            Err(error) => tracing::info!(%error, "bridge sent something we do not understand"),
                        }
                    }
                    actix_ws::Message::Ping(bytes) if session.pong(&bytes).await.is_err() => break None,
                    actix_ws::Message::Close(_) => break None,
                    _ => {}
                }
            }
            woken = async {
                match wake.as_mut() {
                    Some(receiver) => receiver.recv().await,
                    None => std::future::pending().await,
                }
            } => {
                if woken.is_none() {
                    wake = None;
                }
                refresh = true;
            }
            _ = tick.tick() => {
                refresh = true;
                if heard.elapsed() > SILENT_LIMIT {
                    break Some("silent");
                }
                // A revoked device is cut off within a tick; one we cannot check is cut off too (it reconnects,
                // and is let in again only when its token checks out).
                match service::store::bridge::still_valid(ctx, &bridge).await {
                    Ok(true) => {}
                    Ok(false) => break Some("revoked"),
                    Err(error) => {
                        tracing::warn!(%error, "bridge: cannot check the device; closing its connection");
                        break Some("unverified");
                    }
                }
            }
        }
    };
    let reason =
        close.map(|why| actix_ws::CloseReason { code: actix_ws::CloseCode::Policy, description: Some(why.to_owned()) });
    let _ = session.close(reason).await;
}

/// Sends the printers when they changed, then the jobs not printed and not sent moments ago. False when the
/// connection is gone.
async fn push(
    ctx: &AppContext,
    bridge: &BridgePrincipal,
    session: &mut actix_ws::Session,
    printers: &mut Vec<bridge_wire::Printer>,
    sent: &mut HashMap<i64, Instant>,
) -> bool {
    match service::store::bridge::printers_for(ctx, bridge).await {
        Ok(now) if now != *printers => {
            if !send(session, &ToBridge::Printers { printers: now.clone() }).await {
                return false;
            }
            *printers = now;
        }
        Ok(_) => {}
        Err(error) => tracing::warn!(%error, "bridge: reading printers"),
    }
    let recent: HashSet<i64> = sent.iter().filter(|(_, at)| at.elapsed() < RESEND_AFTER).map(|(id, _)| *id).collect();
    match service::store::bridge::outstanding(ctx, bridge, &recent, 100).await {
        Ok(jobs) => {
            for job in jobs {
                if let ToBridge::Job { id, .. } = &job {
                    sent.insert(*id, Instant::now());
                }
                if !send(session, &job).await {
                    return false;
                }
            }
        }
        Err(error) => tracing::warn!(%error, "bridge: reading the queue"),
    }
    true
}

async fn handle(ctx: &AppContext, bridge: &BridgePrincipal, message: FromBridge) -> service::Result<()> {
    match message {
        FromBridge::Hello { bridge: version, .. } => {
            service::store::bridge::heartbeat(ctx, bridge, Some(&version), &[]).await
        }
        FromBridge::Received { id } => service::store::bridge::received(ctx, bridge, id).await,
        FromBridge::Printed { id } => service::store::bridge::printed(ctx, bridge, id).await,
        FromBridge::Held { id, state } => service::store::bridge::held(ctx, bridge, id, state).await,
        FromBridge::Heartbeat { printers } => service::store::bridge::heartbeat(ctx, bridge, None, &printers).await,
        FromBridge::Scan { code } => service::store::bridge::scanned(ctx, bridge, &code).await.map(|_| ()),
    }
}
