//! The store bridge end to end: the real api, the real bridge (in its own runtime, so killing it kills all of it),
//! fake LAN printers that record bytes, and a TCP proxy between bridge and api that can cut the connection.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use sandbox::printer::{FakePrinter, Sensors, decode};
use serde_json::{Value, json};

use sea_orm::EntityTrait;
use service::domain::{Fen, Role};
use service::store::escpos::{Paper, Profile};

use crate::support::{STAFF, TestApp, assert_error, ok};

/// The lines a queued job of `kind` for `subject` would print on a 58 mm printer with a cash drawer.
pub async fn printed_lines(app: &TestApp, kind: &str, subject: i64) -> Vec<String> {
    use sea_orm::{ColumnTrait, QueryFilter};
    let job = entity::print_jobs::Entity::find()
        .filter(entity::print_jobs::Column::Kind.eq(kind))
        .filter(entity::print_jobs::Column::SubjectId.eq(subject))
        .one(&app.ctx.db)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no {kind} job for {subject}"));
    let narrow = Profile { paper: Paper::Mm58, native_qr: true, drawer: true };
    decode(&service::store::receipts::render(&app.ctx, &job, narrow, "前台").await.unwrap())
}

#[tokio::test]
async fn handing_over_sums_the_cashiers_takings_per_method_and_prints_them() {
    let app = TestApp::spawn().await;
    let cashier = app.token(Role::Cashier).await;
    let manager = app.token(Role::Manager).await;
    let store = app.seed.store_ids[0];
    let (_, services) = app.get(&format!("{STAFF}/services"), &cashier).await;
    let wash = services.as_array().unwrap().iter().find(|s| s["name"] == "洗剪吹").unwrap()["id"].clone();
    // The demo's own recharges were taken today too: the day at a glance is checked against where it started.
    let before = ok(app.get(&format!("{STAFF}/stores/{store}/today"), &cashier).await);
    let cash_before = before["takings"]["cash"].as_i64().unwrap();
    for (key, tender) in [("handover-cash-01", "cash"), ("handover-card-01", "bank_card")] {
        let bill = json!({
            "store_id": store, "idempotency_key": key, "lines": [{ "kind": "service", "item_id": wash }],
            "tenders": [{ "kind": tender, "amount_fen": 6_800 }],
        });
        ok(app.post(&format!("{STAFF}/bills"), &cashier, bill).await);
    }
    let (_, member) = app.post(&format!("{STAFF}/members/lookup"), &cashier, json!({ "query": "13800000003" })).await;
    let recharge =
        json!({ "store_id": store, "amount_fen": 50_000, "tender": "cash", "idempotency_key": "handover-rc-01" });
    ok(app.post(&format!("{STAFF}/members/{}/stored-value/recharges", member["id"]), &cashier, recharge).await);
    let entry = {
        use sea_orm::{ColumnTrait, QueryFilter};
        entity::print_jobs::Entity::find()
            .filter(entity::print_jobs::Column::Kind.eq("recharge_receipt"))
            .one(&app.ctx.db)
            .await
            .unwrap()
            .expect("the recharge's receipt is queued")
            .subject_id
    };
    let receipt = printed_lines(&app, "recharge_receipt", entry).await;
    for (label, amount) in [("充值", "￥500.00"), ("现金", "￥500.00"), ("储值余额", "￥500.00")] {
        assert!(receipt.iter().any(|l| l.starts_with(label) && l.ends_with(amount)), "{label} {amount}: {receipt:?}");
    }
    assert!(receipt.iter().any(|l| l == "[drawer]"), "{receipt:?}");
    // Another cashier's takings are theirs: the manager's sale does not count.
    let other = json!({
        "store_id": store, "idempotency_key": "handover-mgr-01", "lines": [{ "kind": "service", "item_id": wash }],
        "tenders": [{ "kind": "cash", "amount_fen": 6_800 }],
    });
    ok(app.post(&format!("{STAFF}/bills"), &manager, other).await);

    let current = ok(app.get(&format!("{STAFF}/stores/{store}/handovers/current"), &cashier).await);
    assert_eq!(current["takings"], json!({ "alipay": 0, "bank_card": 6_800, "cash": 56_800, "wechat_pay": 0 }));
    assert_eq!((current["entries"]["sale"].as_u64(), current["entries"]["recharge"].as_u64()), (Some(2), Some(1)));
    assert_eq!(current["total_fen"], 63_600);
    // The cashier counts the drawer: ￥8.00 short of the ￥568.00 cash taken, and leaves ￥200.00 as float. Bad
    // counts are refused and record nothing.
    let handovers_path = format!("{STAFF}/stores/{store}/handovers");
    let hand_over = |body: Value| app.post(&handovers_path, &cashier, body);
    for bad in [json!({}), json!({ "cash_counted_fen": -1 }), json!({ "cash_counted_fen": 100, "float_fen": 200 })] {
        assert_error(&hand_over(bad).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    }
    assert_eq!(app.count("handovers").await, 0);
    let handed = hand_over(json!({ "cash_counted_fen": 56_000, "float_fen": 20_000 })).await;
    assert_eq!(handed.0, StatusCode::CREATED, "{}", handed.1);
    assert_eq!(handed.1["total_fen"], 63_600);
    let cash = |h: &Value, key: &str| h[key].as_i64();
    assert_eq!(
        (cash(&handed.1, "expected_cash_fen"), cash(&handed.1, "cash_counted_fen"), cash(&handed.1, "over_short_fen")),
        (Some(56_800), Some(56_000), Some(-800))
    );
    let lines = printed_lines(&app, "handover_summary", handed.1["id"].as_i64().unwrap()).await;
    assert!(lines.iter().any(|l| l.contains("交班小结")), "{lines:?}");
    assert!(lines.iter().any(|l| l.starts_with("现金") && l.ends_with("￥568.00")), "{lines:?}");
    assert!(lines.iter().any(|l| l.starts_with("[bold] 合计") && l.ends_with("￥636.00")), "{lines:?}");
    assert!(lines.iter().any(|l| l.starts_with("实点现金") && l.ends_with("￥560.00")), "{lines:?}");
    assert!(lines.iter().any(|l| l.starts_with("[bold] 长短款") && l.ends_with("短款 ￥8.00")), "{lines:?}");
    // The next shift starts where this one ended.
    let next = ok(app.get(&format!("{STAFF}/stores/{store}/handovers/current"), &cashier).await);
    assert_eq!((next["total_fen"].as_i64(), next["from"].clone()), (Some(0), handed.1["to"].clone()));
    // The next shift starts with the float left in the drawer.
    assert_eq!((cash(&next, "opening_float_fen"), cash(&next, "expected_cash_fen")), (Some(20_000), Some(20_000)));
    // Handing over again with nothing since is not a new shift: refused, nothing recorded or printed.
    let (handovers, jobs) = (app.count("handovers").await, app.count("print_jobs").await);
    let again = hand_over(json!({ "cash_counted_fen": 20_000, "float_fen": 20_000 })).await;
    assert_error(&again, StatusCode::CONFLICT, "nothing_to_hand_over");
    assert_eq!((app.count("handovers").await, app.count("print_jobs").await), (handovers, jobs));
    // The manager sees everyone's handovers; the cashier their own.
    assert_eq!(ok(app.get(&format!("{STAFF}/stores/{store}/handovers"), &manager).await).as_array().unwrap().len(), 1);
    ok(app.post(&format!("{STAFF}/stores/{store}/handovers"), &manager, json!({ "cash_counted_fen": 8_800 })).await);
    assert_eq!(ok(app.get(&format!("{STAFF}/stores/{store}/handovers"), &cashier).await).as_array().unwrap().len(), 1);
    assert_eq!(ok(app.get(&format!("{STAFF}/stores/{store}/handovers"), &manager).await).as_array().unwrap().len(), 2);
    // Not at a store outside the cashier's scope.
    let elsewhere = app.get(&format!("{STAFF}/stores/{}/handovers/current", app.seed.store_ids[1]), &cashier).await;
    assert_error(&elsewhere, StatusCode::NOT_FOUND, "not_found");

    // The store's day at a glance counts every cashier's takings (a handover moves no money), by local day.
    let parked =
        json!({ "store_id": store, "idempotency_key": "today-parked-1", "park": true, "lines": [{ "item_id": wash }] });
    ok(app.post(&format!("{STAFF}/bills"), &cashier, parked).await);
    let today = ok(app.get(&format!("{STAFF}/stores/{store}/today"), &cashier).await);
    let cash = cash_before + 63_600;
    assert_eq!(today["takings"], json!({ "alipay": 0, "bank_card": 6_800, "cash": cash, "wechat_pay": 0 }));
    assert_eq!(
        (today["takings_fen"].as_i64(), today["bills"].as_u64(), today["parked"].as_u64()),
        (Some(cash + 6_800), Some(3), Some(1))
    );
    let days = today["days"].as_array().unwrap();
    assert_eq!(days.len(), 30);
    assert_eq!(
        (days[29]["date"].clone(), days[29]["takings_fen"].as_i64(), days[29]["bills"].as_u64()),
        (today["date"].clone(), Some(cash + 6_800), Some(3))
    );
    assert!(days[..29].iter().all(|d| d["takings_fen"] == 0 && d["bills"] == 0), "{days:?}");
    let elsewhere = app.get(&format!("{STAFF}/stores/{}/today", app.seed.store_ids[1]), &cashier).await;
    assert_error(&elsewhere, StatusCode::NOT_FOUND, "not_found");

    // One more sale, then the handover button pressed twice at once: one shift recorded and printed, not two.
    let bill = json!({
        "store_id": store, "idempotency_key": "handover-cash-02", "lines": [{ "kind": "service", "item_id": wash }],
        "tenders": [{ "kind": "cash", "amount_fen": 6_800 }],
    });
    ok(app.post(&format!("{STAFF}/bills"), &cashier, bill).await);
    let (handovers, jobs) = (app.count("handovers").await, app.count("print_jobs").await);
    let path = format!("{STAFF}/stores/{store}/handovers");
    let twice = (0..2).map(|_| app.post(&path, &cashier, json!({ "cash_counted_fen": 26_800 })));
    let answers = futures_util::future::join_all(twice).await;
    let recorded = answers.iter().filter(|(status, _)| status.is_success()).count();
    let refused = answers.iter().filter(|(_, body)| body["code"] == "nothing_to_hand_over").count();
    assert_eq!((recorded, refused), (1, 1), "{answers:?}");
    assert_eq!((app.count("handovers").await, app.count("print_jobs").await), (handovers + 1, jobs + 1));
}

/// A bridge running in a runtime of its own: `kill` stops every task of it at once, as a killed process would.
struct BridgeProcess {
    runtime: Option<tokio::runtime::Runtime>,
}

impl BridgeProcess {
    fn start(api_url: &str, token: &str, spool: &Path, scanner: Option<String>) -> Self {
        Self::start_with(printer_bridge::Config {
            api_url: api_url.to_owned(),
            token: token.to_owned(),
            spool_dir: spool.to_path_buf(),
            scanner,
            log_file: None,
            scan_max_age_secs: 20,
        })
    }

    fn start_with(config: printer_bridge::Config) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        runtime.spawn(async move {
            let _ = printer_bridge::run(config).await;
        });
        Self { runtime: Some(runtime) }
    }

    fn kill(mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Drop for BridgeProcess {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// A TCP proxy standing for the network between store and cloud: `cut` drops every connection through it, and the
/// upstream can be changed (another api process on the same database).
struct Proxy {
    address: String,
    upstream: Arc<Mutex<String>>,
    connections: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(upstream: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        let upstream = Arc::new(Mutex::new(upstream.trim_start_matches("http://").to_owned()));
        let connections: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let (target, tasks) = (upstream.clone(), connections.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let target = target.lock().unwrap().clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                tasks.lock().unwrap().push(task);
            }
        });
        Self { address, upstream, connections }
    }

    fn cut(&self) {
        for task in self.connections.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    fn point_at(&self, upstream: &str) {
        *self.upstream.lock().unwrap() = upstream.trim_start_matches("http://").to_owned();
    }
}

fn spool_dir() -> PathBuf {
    std::env::temp_dir().join(format!("hy-spool-{:016x}", rand::random::<u64>()))
}

async fn add_printer(app: &TestApp, owner: &str, store: i64, printer: &FakePrinter, extra: Value) -> i64 {
    let mut body = json!({ "name": "前台", "address": printer.address, "paper_mm": 58 });
    body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    ok(app.post(&format!("{STAFF}/stores/{store}/printers"), owner, body).await)["id"].as_i64().unwrap()
}

async fn add_device(app: &TestApp, owner: &str, store: i64) -> (i64, String) {
    let device =
        ok(app.post(&format!("{STAFF}/stores/{store}/bridge-devices"), owner, json!({ "name": "前台电脑" })).await);
    (device["device"]["id"].as_i64().unwrap(), device["token"].as_str().unwrap().to_owned())
}

/// Waits up to 20 s for the store's jobs to satisfy `done`.
async fn wait_for_jobs(app: &TestApp, token: &str, store: i64, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    for _ in 0..200 {
        let jobs = ok(app.get(&format!("{STAFF}/stores/{store}/print-jobs"), token).await);
        let jobs = jobs.as_array().unwrap().clone();
        if done(&jobs) {
            return jobs;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("print jobs never got there: {:?}", ok(app.get(&format!("{STAFF}/stores/{store}/print-jobs"), token).await));
}

fn all_printed(jobs: &[Value], count: usize) -> bool {
    jobs.len() == count && jobs.iter().all(|j| j["status"] == "printed")
}

#[tokio::test]
async fn a_settled_bill_prints_a_gbk_receipt_through_the_running_bridge() {
    let app = TestApp::spawn().await;
    let owner = app.token(Role::Owner).await;
    let cashier = app.token(Role::Cashier).await;
    let store = app.seed.store_ids[0];
    let printer = FakePrinter::start().await.unwrap();
    add_printer(&app, &owner, store, &printer, json!({ "drawer": true, "native_qr": true, "kinds": ["bill_receipt"] }))
        .await;
    let (device, token) = add_device(&app, &owner, store).await;
    let spool = spool_dir();
    let bridge = BridgeProcess::start(&app.address, &token, &spool, None);

    // 张丽 (VIP) has a wash and blow-dry and pays cash with a ￥100 note.
    let (_, member) = app.post(&format!("{STAFF}/members/lookup"), &cashier, json!({ "query": "13800000001" })).await;
    let (_, services) = app.get(&format!("{STAFF}/services"), &cashier).await;
    let wash = services.as_array().unwrap().iter().find(|s| s["name"] == "洗剪吹").unwrap()["id"].clone();
    let lines = json!([{ "kind": "service", "item_id": wash }]);
    let preview = ok(app
        .post(
            &format!("{STAFF}/bills/preview"),
            &cashier,
            json!({ "store_id": store, "member_id": member["id"], "lines": lines }),
        )
        .await);
    let total = preview["total_fen"].as_i64().unwrap();
    let bill = json!({
        "store_id": store, "member_id": member["id"], "lines": lines, "idempotency_key": "print-bill-0001",
        "tenders": [{ "kind": "cash", "amount_fen": total, "tendered_fen": 10_000 }],
    });
    ok(app.post(&format!("{STAFF}/bills"), &cashier, bill).await);

    let jobs = wait_for_jobs(&app, &cashier, store, |jobs| all_printed(jobs, 1)).await;
    assert_eq!(jobs[0]["kind"], "bill_receipt");
    let tickets = printer.tickets();
    assert_eq!(tickets.len(), 1, "printed once");
    let text = tickets[0].clone();
    assert!(!text.windows(2).any(|w| w == [0xC2, 0xA5]), "never a UTF-8 ¥");
    assert!(text.windows(2).any(|w| w == [0xA3, 0xA4]), "the full-width ￥ in GBK");
    let lines: Vec<String> = decode(&text)
        .into_iter()
        .map(|line| match line.split_once("  ") {
            Some((label, _)) if label.starts_with("时间") => "时间  [local time]".to_owned(),
            _ => line,
        })
        .collect();
    insta::assert_snapshot!("bill_receipt_58mm", lines.join("\n"));
    // The same receipt for an 80 mm printer without native QR codes (drawn as an image), no drawer.
    let job = entity::print_jobs::Entity::find_by_id(jobs[0]["id"].as_i64().unwrap())
        .one(&app.ctx.db)
        .await
        .unwrap()
        .unwrap();
    let wide = Profile { paper: Paper::Mm80, native_qr: false, drawer: false };
    let bytes = service::store::receipts::render(&app.ctx, &job, wide, "后台").await.unwrap();
    let lines: Vec<String> = decode(&bytes)
        .into_iter()
        .map(|line| if line.starts_with("时间") { "时间  [local time]".to_owned() } else { line })
        .collect();
    insta::assert_snapshot!("bill_receipt_80mm_raster", lines.join("\n"));

    // Staff see the device online, with its printer's state.
    let devices = ok(app.get(&format!("{STAFF}/stores/{store}/bridge-devices"), &owner).await);
    assert_eq!((devices[0]["id"].as_i64(), devices[0]["online"].as_bool()), (Some(device), Some(true)));
    // Reprinting is explicit: a new copy, printed once more.
    let reprint_path = format!("{STAFF}/print-jobs/{}/reprint", jobs[0]["id"]);
    let technician = app.token(Role::Technician).await;
    let refused = app.post(&reprint_path, &technician, json!({})).await;
    assert_error(&refused, StatusCode::FORBIDDEN, "forbidden");
    assert!(refused.1["message"].as_str().unwrap().contains("`reprint` permission"), "{}", refused.1);
    // The owner decides per person: reprints withdrawn from this cashier, given to this technician. A manager may
    // not; the change holds at once, without signing in again, and is audited.
    let cashier_id = ok(app.get(&format!("{STAFF}/me"), &cashier).await)["id"].clone();
    let technician_id = ok(app.get(&format!("{STAFF}/me"), &technician).await)["id"].clone();
    let manager = app.token(Role::Manager).await;
    let by_manager =
        app.patch(&format!("{STAFF}/staff/{cashier_id}"), &manager, json!({ "reprint": "withdrawn" })).await;
    assert_error(&by_manager, StatusCode::FORBIDDEN, "forbidden");
    assert!(by_manager.1["message"].as_str().unwrap().contains("`merchant_manage`"), "{}", by_manager.1);
    let withdrawn =
        ok(app.patch(&format!("{STAFF}/staff/{cashier_id}"), &owner, json!({ "reprint": "withdrawn" })).await);
    assert_eq!((withdrawn["reprint"].as_str(), withdrawn["can_reprint"].as_bool()), (Some("withdrawn"), Some(false)));
    let me = ok(app.get(&format!("{STAFF}/me"), &cashier).await);
    assert!(!me["permissions"].as_array().unwrap().iter().any(|p| p == "reprint"), "{me}");
    assert_error(&app.post(&reprint_path, &cashier, json!({})).await, StatusCode::FORBIDDEN, "forbidden");
    let given = ok(app.patch(&format!("{STAFF}/staff/{technician_id}"), &owner, json!({ "reprint": "given" })).await);
    assert_eq!(given["can_reprint"], true);
    let reprint = ok(app.post(&reprint_path, &technician, json!({})).await);
    assert_eq!(reprint["copy"], 1);
    let log = ok(app.get(&format!("{STAFF}/audit-log?limit=20"), &owner).await);
    let grant = log
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "staff.updated" && e["target_id"] == cashier_id)
        .expect("the withdrawal is audited");
    assert_eq!(grant["detail"]["reprint"], json!({ "from": "role", "to": "withdrawn" }), "{grant}");
    // Back to what the role says.
    let back = ok(app.patch(&format!("{STAFF}/staff/{cashier_id}"), &owner, json!({ "reprint": "role" })).await);
    assert_eq!((back["reprint"].as_str(), back["can_reprint"].as_bool()), (Some("role"), Some(true)));
    wait_for_jobs(&app, &cashier, store, |jobs| all_printed(jobs, 2)).await;
    let tickets = printer.tickets();
    assert_eq!(tickets.len(), 2);
    // The copy says it is one, and does not open the drawer: a reprint takes no cash. (ESC p kicks the drawer.)
    let kicks = |bytes: &[u8]| bytes.windows(2).any(|w| w == [0x1B, b'p']);
    assert!(kicks(&tickets[0]), "the cash sale opened the drawer");
    assert!(!kicks(&tickets[1]), "the reprint must not open the drawer");
    let reprinted = decode(&tickets[1]);
    assert!(reprinted.first().is_some_and(|l| l.contains("重印 / reprint 1")), "{reprinted:?}");
    assert!(!decode(&tickets[0]).iter().any(|l| l.contains("重印")));
    // And it is in the audit log, by whom and of which job.
    let log = ok(app.get(&format!("{STAFF}/audit-log?limit=20"), &owner).await);
    let entry = log.as_array().unwrap().iter().find(|e| e["action"] == "bridge.reprint").expect("audited");
    assert_eq!(entry["detail"]["of"], jobs[0]["id"], "{entry}");
    bridge.kill();
    std::fs::remove_dir_all(&spool).ok();
}

#[tokio::test]
async fn a_bridge_killed_between_receiving_and_printing_prints_once_after_restart() {
    let app = TestApp::spawn().await;
    let owner = app.token(Role::Owner).await;
    let store = app.seed.store_ids[0];
    let printer = FakePrinter::start().await.unwrap();
    printer.set_sensors(Sensors { paper_out: true, cover_open: false });
    let printer_id = add_printer(&app, &owner, store, &printer, json!({})).await;
    let (_, token) = add_device(&app, &owner, store).await;
    let spool = spool_dir();
    let bridge = BridgeProcess::start(&app.address, &token, &spool, None);
    ok(app.post(&format!("{STAFF}/printers/{printer_id}/test-page"), &owner, json!({})).await);
    // Spooled, then held: the printer is out of paper, and staff see why.
    let jobs = wait_for_jobs(&app, &owner, store, |jobs| jobs.first().is_some_and(|j| j["status"] == "held")).await;
    assert_eq!(jobs[0]["hold_reason"], "paper_out");
    // The printer's own state arrives with the bridge's next heartbeat (every 15 s); the job says why already, and
    // the list shows the printer still in use, not dropped for being out of paper.
    let printers = ok(app.get(&format!("{STAFF}/stores/{store}/printers"), &owner).await);
    let listed = printers.as_array().unwrap().iter().find(|p| p["id"] == printer_id).expect("the printer is listed");
    assert_eq!(listed["active"], true);
    assert!(["unknown", "ok", "paper_out"].contains(&listed["state"].as_str().unwrap()), "{listed}");
    bridge.kill();
    // Paper in; the bridge starts again from its spool (and the api sends the job again): printed once.
    printer.set_sensors(Sensors::default());
    let bridge = BridgeProcess::start(&app.address, &token, &spool, None);
    wait_for_jobs(&app, &owner, store, |jobs| all_printed(jobs, 1)).await;
    // Nothing signals "no duplicate will come": give a late resend the time it would take to arrive.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(printer.tickets().len(), 1, "{:?}", printer.tickets().iter().map(|t| decode(t)).collect::<Vec<_>>());
    assert!(decode(&printer.tickets()[0]).iter().any(|l| l.contains("打印测试")));
    bridge.kill();
    std::fs::remove_dir_all(&spool).ok();
}

/// The job ids printed, in printing order (each test page names its job).
fn printed_ids(printer: &FakePrinter) -> Vec<i64> {
    printer
        .tickets()
        .iter()
        .filter_map(|t| decode(t).iter().find_map(|l| l.strip_prefix("作业").map(|rest| rest.trim().parse().unwrap())))
        .collect()
}

#[tokio::test]
async fn a_burst_of_100_jobs_prints_once_each_in_order_through_dropped_connections_and_an_api_restart() {
    let app = TestApp::spawn().await;
    let owner = app.token(Role::Owner).await;
    let store = app.seed.store_ids[0];
    let printer = FakePrinter::start().await.unwrap();
    // A slow printer, so the burst is still going when the network drops.
    printer.set_delay(Duration::from_millis(20));
    let printer_id = add_printer(&app, &owner, store, &printer, json!({ "native_qr": false })).await;
    let (_, token) = add_device(&app, &owner, store).await;
    let proxy = Proxy::start(&app.address).await;
    let spool = spool_dir();
    let bridge = BridgeProcess::start(&proxy.address, &token, &spool, None);
    let mut expected = Vec::new();
    for _ in 0..100 {
        let job = ok(app.post(&format!("{STAFF}/printers/{printer_id}/test-page"), &owner, json!({})).await);
        expected.push(job["id"].as_i64().unwrap());
    }
    // Cut the network twice while printing: once a few jobs are out, and again once more have followed...
    for printed in [5, 25] {
        for _ in 0..200 {
            if printer.tickets().len() >= printed {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        proxy.cut();
    }
    // ... then "restart" the api: a second api process on the same database takes over.
    let second = api::Application::from_context(app.ctx.clone()).unwrap();
    let second_address = format!("http://127.0.0.1:{}", second.port());
    tokio::spawn(second.run_until_stopped());
    proxy.point_at(&second_address);
    proxy.cut();
    wait_for_jobs(&app, &owner, store, |jobs| all_printed(jobs, 100)).await;
    // Nothing signals "no duplicate will come": give a late resend the time it would take to arrive.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(printed_ids(&printer), expected, "each job once, in order");
    bridge.kill();
    std::fs::remove_dir_all(&spool).ok();
}

#[tokio::test]
async fn a_revoked_token_is_refused() {
    let app = TestApp::spawn().await;
    let owner = app.token(Role::Owner).await;
    let store = app.seed.store_ids[0];
    let (device, token) = add_device(&app, &owner, store).await;
    let connect = |token: String| {
        let app = &app;
        async move {
            let response =
                app.client.get(app.url("/bridge/v1/connect")).bearer_auth(token).send().await.expect("request");
            let status = response.status();
            (status, response.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    // A valid token without a WebSocket upgrade: told to upgrade. Revoked: refused.
    assert_error(&connect(token.clone()).await, StatusCode::BAD_REQUEST, "not_a_websocket");
    let revoked = ok(app.post(&format!("{STAFF}/bridge-devices/{device}/revoke"), &owner, json!({})).await);
    assert!(revoked["revoked_at"].is_string());
    assert_error(&connect(token).await, StatusCode::UNAUTHORIZED, "unauthenticated");
    assert_error(&connect("hyd_not-a-token".to_owned()).await, StatusCode::UNAUTHORIZED, "unauthenticated");
    // Only managers register devices; the token is never shown again.
    let cashier = app.token(Role::Cashier).await;
    assert_error(
        &app.post(&format!("{STAFF}/stores/{store}/bridge-devices"), &cashier, json!({ "name": "x" })).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    let listed = ok(app.get(&format!("{STAFF}/stores/{store}/bridge-devices"), &owner).await);
    assert!(listed[0].get("token").is_none() && listed[0]["token_hint"].as_str().unwrap().len() == 4);
}

/// Reads server-sent events until one arrives or `wait` passes.
async fn next_scan(response: &mut reqwest::Response, wait: Duration) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + wait;
    let mut buffer = String::new();
    loop {
        let chunk = tokio::time::timeout_at(deadline, response.chunk()).await.ok()?.ok()??;
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        if let Some(data) = buffer.lines().find_map(|l| l.strip_prefix("data: ")) {
            return serde_json::from_str(data).ok();
        }
    }
}

#[tokio::test]
async fn a_scan_reaches_the_cashier_at_that_counter_and_no_other_store() {
    let app = TestApp::spawn().await;
    let owner = app.token(Role::Owner).await;
    let cashier = app.token(Role::Cashier).await;
    let (here, there) = (app.seed.store_ids[0], app.seed.store_ids[1]);
    let (counter, token) = add_device(&app, &owner, here).await;
    let (elsewhere, _) = add_device(&app, &owner, there).await;
    let watch = |device: i64, token: String| {
        let app = &app;
        async move {
            app.client
                .get(app.url(&format!("{STAFF}/bridge-devices/{device}/scans")))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
        }
    };
    let mut at_counter = watch(counter, cashier.clone()).await;
    assert_eq!(at_counter.status(), StatusCode::OK);
    let mut at_other_store = watch(elsewhere, owner.clone()).await;
    // The cashier works at the first store only: the other store's counter is not theirs to watch.
    assert_eq!(watch(elsewhere, cashier.clone()).await.status(), StatusCode::NOT_FOUND);
    // Wait for both streams to open before scanning.
    assert!(next_scan(&mut at_counter, Duration::from_millis(300)).await.is_none());

    let scans = spool_dir().with_extension("scans");
    std::fs::write(&scans, "134567890123456789\n").unwrap();
    let spool = spool_dir();
    let bridge = BridgeProcess::start(&app.address, &token, &spool, Some(scans.display().to_string()));
    let scan = next_scan(&mut at_counter, Duration::from_secs(10)).await.expect("the scan arrives");
    assert_eq!((scan["kind"].as_str(), scan["code"].as_str()), (Some("wechat_pay_code"), Some("134567890123456789")));
    assert_eq!(scan["device_id"], counter);
    assert!(next_scan(&mut at_other_store, Duration::from_secs(1)).await.is_none(), "no other store's counter");
    bridge.kill();
    std::fs::remove_dir_all(&spool).ok();
    std::fs::remove_file(&scans).ok();
}

#[tokio::test]
async fn a_scan_read_while_the_api_is_out_of_reach_is_dropped_when_stale_not_charged_late() {
    use std::io::Write;

    let app = TestApp::spawn().await;
    let owner = app.token(Role::Owner).await;
    let cashier = app.token(Role::Cashier).await;
    let store = app.seed.store_ids[0];
    let (counter, token) = add_device(&app, &owner, store).await;
    let mut at_counter = app
        .client
        .get(app.url(&format!("{STAFF}/bridge-devices/{counter}/scans")))
        .bearer_auth(&cashier)
        .send()
        .await
        .unwrap();
    assert!(next_scan(&mut at_counter, Duration::from_millis(300)).await.is_none());

    // The store's line to the cloud is down (nothing listens upstream) when the cashier scans a payment code.
    let proxy = Proxy::start("127.0.0.1:9").await;
    let scanner = spool_dir().with_extension("fifo");
    assert!(std::process::Command::new("mkfifo").arg(&scanner).status().unwrap().success());
    let spool = spool_dir();
    let bridge = BridgeProcess::start_with(printer_bridge::Config {
        api_url: proxy.address.clone(),
        token,
        spool_dir: spool.clone(),
        scanner: Some(scanner.display().to_string()),
        log_file: None,
        scan_max_age_secs: 1,
    });
    let path = scanner.clone();
    let mut scans =
        tokio::task::spawn_blocking(move || std::fs::OpenOptions::new().write(true).open(path)).await.unwrap().unwrap();
    writeln!(scans, "134567890123456789").unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // The line comes back: the bridge reconnects, and the code read 1.5 s ago (older than its 1 s) is not sent.
    proxy.point_at(&app.address);
    let mut online = false;
    for _ in 0..150 {
        let devices = ok(app.get(&format!("{STAFF}/stores/{store}/bridge-devices"), &owner).await);
        if devices.as_array().unwrap().iter().any(|d| d["id"] == counter && d["online"] == true) {
            online = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(online, "the bridge reconnects");
    assert!(next_scan(&mut at_counter, Duration::from_millis(1500)).await.is_none(), "the stale code is dropped");
    // A code scanned now goes through at once.
    writeln!(scans, "134567890123456780").unwrap();
    let scan = next_scan(&mut at_counter, Duration::from_secs(5)).await.expect("a fresh scan arrives");
    assert_eq!(scan["code"], "134567890123456780");
    bridge.kill();
    std::fs::remove_dir_all(&spool).ok();
    std::fs::remove_file(&scanner).ok();
}

#[tokio::test]
async fn a_bridge_whose_device_cannot_be_checked_is_cut_off() {
    use futures_util::StreamExt;
    use sea_orm::{ConnectionTrait, Statement};
    use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};
    let app = TestApp::spawn().await;
    let owner = app.token(Role::Owner).await;
    let store = app.seed.store_ids[0];
    let (_, token) = add_device(&app, &owner, store).await;
    let url = format!("{}/bridge/v1/connect", app.address.replacen("http", "ws", 1));
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.expect("the device connects");
    // The check that the device is still registered fails (here: its table is gone for a moment). Fail closed:
    // the connection is closed, not kept on the assumption that the device is still allowed.
    let backend = app.ctx.db.get_database_backend();
    let rename = |from: &str, to: &str| Statement::from_string(backend, format!("ALTER TABLE {from} RENAME TO {to}"));
    app.ctx.db.execute_raw(rename("bridge_devices", "bridge_devices_away")).await.unwrap();
    let closed = tokio::time::timeout(Duration::from_secs(15), async {
        while let Some(message) = socket.next().await {
            match message {
                Ok(Message::Close(frame)) => return frame.map(|f| f.reason.to_string()),
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
        None
    })
    .await;
    app.ctx.db.execute_raw(rename("bridge_devices_away", "bridge_devices")).await.unwrap();
    assert_eq!(closed.expect("the connection is closed within a few ticks").as_deref(), Some("unverified"));
}

/// The job of `kind` for `subject`, first print or a copy.
async fn job_of(app: &TestApp, kind: &str, subject: i64, copy: i32) -> entity::print_jobs::Model {
    use sea_orm::{ColumnTrait, QueryFilter};
    entity::print_jobs::Entity::find()
        .filter(entity::print_jobs::Column::Kind.eq(kind))
        .filter(entity::print_jobs::Column::SubjectId.eq(subject))
        .filter(entity::print_jobs::Column::Copy.eq(copy))
        .one(&app.ctx.db)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no {kind} job for {subject}, copy {copy}"))
}

#[tokio::test]
async fn slips_state_the_member_as_the_sale_left_them_however_late_they_print() {
    let app = TestApp::spawn().await;
    let cashier = app.token(Role::Cashier).await;
    let owner = app.token(Role::Owner).await;
    let store = app.seed.store_ids[0];
    let (_, services) = app.get(&format!("{STAFF}/services"), &cashier).await;
    let wash = services.as_array().unwrap().iter().find(|s| s["name"] == "洗剪吹").unwrap()["id"].clone();
    let member = app.new_member(&cashier, "13900007001").await;
    let has = |lines: &[String], label: &str, value: &str| {
        lines.iter().any(|l| l.trim_start_matches("[bold] ").starts_with(label) && l.ends_with(value))
    };

    // ￥550.00 recharged, then spent on two bills of ￥68.00 before anything prints.
    let recharge =
        json!({ "store_id": store, "amount_fen": 55_000, "tender": "cash", "idempotency_key": "stated-rc-01" });
    ok(app.post(&format!("{STAFF}/members/{member}/stored-value/recharges"), &cashier, recharge).await);
    let bill = |key: &str| {
        json!({
            "store_id": store, "member_id": member, "idempotency_key": key,
            "lines": [{ "kind": "service", "item_id": wash }], "tenders": [{ "kind": "stored_value", "amount_fen": 6_800 }],
        })
    };
    let first = ok(app.post(&format!("{STAFF}/bills"), &cashier, bill("stated-bill-01")).await)["id"].as_i64().unwrap();
    let second =
        ok(app.post(&format!("{STAFF}/bills"), &cashier, bill("stated-bill-02")).await)["id"].as_i64().unwrap();
    assert_eq!(app.stored_value(&cashier, member).await["balance_fen"], 41_400);

    let recharge_job = {
        use sea_orm::{ColumnTrait, QueryFilter};
        entity::print_jobs::Entity::find()
            .filter(entity::print_jobs::Column::Kind.eq("recharge_receipt"))
            .one(&app.ctx.db)
            .await
            .unwrap()
            .expect("the recharge's slip is queued")
    };
    let slip = printed_lines(&app, "recharge_receipt", recharge_job.subject_id).await;
    assert!(has(&slip, "储值余额", "￥550.00"), "the recharge slip states the card as the recharge left it: {slip:?}");
    let level = slip.iter().find(|l| l.starts_with("等级")).expect("the slip states the member's level").clone();
    let receipt = printed_lines(&app, "bill_receipt", first).await;
    assert!(has(&receipt, "储值余额", "￥482.00"), "{receipt:?}");
    assert!(receipt.contains(&level), "{receipt:?}");
    let answered = ok(app.get(&format!("{STAFF}/bills/{first}/receipt"), &cashier).await);
    assert_eq!(answered["stored_value_fen"], 48_200, "the receipt as printed: {answered}");

    // A reversal prints its own slip; the member's card is back to ￥482.00 after it.
    let reverse = json!({ "reason": "开错单", "idempotency_key": "stated-reverse-1" });
    let reversed = ok(app.post(&format!("{STAFF}/bills/{second}/reverse"), &owner, reverse).await);
    let refund_id = reversed["id"].as_i64().unwrap();
    let refund_slip = printed_lines(&app, "refund_receipt", refund_id).await;
    assert!(refund_slip.iter().any(|l| l.contains("反结账凭证")), "{refund_slip:?}");
    assert!(has(&refund_slip, "原单", &second.to_string()), "{refund_slip:?}");
    assert!(has(&refund_slip, "退回储值卡", "￥68.00"), "{refund_slip:?}");
    assert!(has(&refund_slip, "储值余额", "￥482.00"), "{refund_slip:?}");
    assert!(refund_slip.iter().any(|l| l.contains("原因：开错单")), "{refund_slip:?}");

    // Spent again; a reprint of the recharge slip still states that moment.
    ok(app.post(&format!("{STAFF}/bills"), &cashier, bill("stated-bill-03")).await);
    let reprint = ok(app.post(&format!("{STAFF}/print-jobs/{}/reprint", recharge_job.id), &cashier, json!({})).await);
    assert_eq!(reprint["copy"], 1);
    let copy = job_of(&app, "recharge_receipt", recharge_job.subject_id, 1).await;
    let narrow = Profile { paper: Paper::Mm58, native_qr: true, drawer: true };
    let copy = decode(&service::store::receipts::render(&app.ctx, &copy, narrow, "前台").await.unwrap());
    assert!(has(&copy, "储值余额", "￥550.00"), "{copy:?}");
    assert!(has(&printed_lines(&app, "refund_receipt", refund_id).await, "储值余额", "￥482.00"));

    // Points and sessions left are of the sale's moment too: a 10-session card sold, one session used, then more
    // used and more points earned before the slips print.
    let (_, products) = app.get(&format!("{STAFF}/card-products"), &cashier).await;
    let card_product = products.as_array().unwrap().iter().find(|p| p["name"] == "洗护10次卡").unwrap()["id"].clone();
    let cash = |key: &str, lines: Value, fen: i64| {
        json!({ "store_id": store, "member_id": member, "idempotency_key": key, "lines": lines,
                "tenders": if fen > 0 { json!([{ "kind": "cash", "amount_fen": fen }]) } else { json!([]) } })
    };
    let card_line = json!([{ "kind": "card_sale", "item_id": card_product }]);
    let priced = json!({ "store_id": store, "member_id": member, "lines": card_line });
    let price = ok(app.post(&format!("{STAFF}/bills/preview"), &cashier, priced).await)["total_fen"].as_i64().unwrap();
    let sale = cash("stated-card-01", card_line, price);
    ok(app.post(&format!("{STAFF}/bills"), &cashier, sale).await);
    let card = ok(app.get(&format!("{STAFF}/members/{member}/count-cards"), &cashier).await)[0]["id"].clone();
    let session = |key: &str| cash(key, json!([{ "item_id": wash, "count_card_id": card }]), 0);
    let used =
        ok(app.post(&format!("{STAFF}/bills"), &cashier, session("stated-use-01")).await)["id"].as_i64().unwrap();
    let points_then = ok(app.get(&format!("{STAFF}/members/{member}/points"), &cashier).await)["available"].clone();
    ok(app.post(&format!("{STAFF}/bills"), &cashier, session("stated-use-02")).await);
    let washed = json!({ "store_id": store, "member_id": member, "lines": [{ "item_id": wash }] });
    let price = ok(app.post(&format!("{STAFF}/bills/preview"), &cashier, washed).await)["total_fen"].as_i64().unwrap();
    ok(app
        .post(&format!("{STAFF}/bills"), &cashier, cash("stated-cash-01", json!([{ "item_id": wash }]), price))
        .await);
    let points_now = ok(app.get(&format!("{STAFF}/members/{member}/points"), &cashier).await)["available"].clone();
    assert_ne!(points_now, points_then, "the later bill earned points");
    let receipt = printed_lines(&app, "bill_receipt", used).await;
    assert!(has(&receipt, "洗护10次卡", "剩余9次"), "the card as the session left it, not 8 left: {receipt:?}");
    assert!(has(&receipt, "可用积分", &points_then.to_string()), "points as of the sale ({points_then}): {receipt:?}");

    // A partial refund prints its own slip: one line of two back to the card, the card as the refund left it.
    let two = json!({
        "store_id": store, "member_id": member, "idempotency_key": "stated-two-01",
        "lines": [{ "item_id": wash }, { "item_id": wash }], "tenders": [{ "kind": "stored_value", "amount_fen": 13_600 }],
    });
    let two = ok(app.post(&format!("{STAFF}/bills"), &cashier, two).await);
    let partial = json!({ "lines": [{ "line_id": two["lines"][0]["id"], "quantity": 1 }], "reason": "少做一项", "idempotency_key": "stated-part-01" });
    let partial = ok(app.post(&format!("{STAFF}/bills/{}/refunds", two["id"]), &owner, partial).await);
    let balance_then = Fen::new(app.stored_value(&cashier, member).await["balance_fen"].as_i64().unwrap()).to_string();
    ok(app.post(&format!("{STAFF}/bills"), &cashier, bill("stated-bill-05")).await);
    let slip = printed_lines(&app, "refund_receipt", partial["id"].as_i64().unwrap()).await;
    assert!(slip.iter().any(|l| l.contains("退款凭证")), "{slip:?}");
    assert!(has(&slip, "退回储值卡", "￥68.00"), "{slip:?}");
    assert!(has(&slip, "退款合计", "￥68.00"), "{slip:?}");
    assert!(has(&slip, "储值余额", &balance_then), "the card as the refund left it ({balance_then}): {slip:?}");
    assert!(slip.iter().any(|l| l.contains("原因：少做一项")), "{slip:?}");

    // 退卡 prints its slip too: the card paid back in cash (the drawer opens), closed at ￥0.00; and the count card
    // refunded, with no sessions left.
    let balance = app.stored_value(&cashier, member).await["balance_fen"].as_i64().unwrap();
    let back = json!({ "store_id": store, "tender": "cash", "reason": "搬家", "idempotency_key": "stated-sv-refund" });
    let refunded = ok(app.post(&format!("{STAFF}/members/{member}/stored-value/refund"), &owner, back).await);
    let entry = refunded["entry_id"].as_i64().unwrap();
    let slip = printed_lines(&app, "card_refund_slip", entry).await;
    assert!(slip.iter().any(|l| l.contains("退卡凭证")), "{slip:?}");
    assert!(has(&slip, "退回现金", &Fen::new(balance).to_string()), "{slip:?}");
    assert!(has(&slip, "储值余额", "￥0.00"), "{slip:?}");
    assert!(slip.iter().any(|l| l.contains("搬家")), "{slip:?}");
    let back =
        json!({ "store_id": store, "tender": "cash", "reason": "不想做了", "idempotency_key": "stated-cc-refund" });
    ok(app.post(&format!("{STAFF}/count-cards/{}/refund", card), &owner, back).await);
    let job = {
        use sea_orm::{ColumnTrait, QueryFilter, QueryOrder};
        entity::print_jobs::Entity::find()
            .filter(entity::print_jobs::Column::Kind.eq("card_refund_slip"))
            .order_by_desc(entity::print_jobs::Column::Id)
            .one(&app.ctx.db)
            .await
            .unwrap()
            .expect("the count card's slip")
    };
    let slip = printed_lines(&app, "card_refund_slip", job.subject_id).await;
    assert!(has(&slip, "洗护10次卡", "剩余0次"), "{slip:?}");
    assert!(slip.iter().any(|l| l.contains("不想做了")), "{slip:?}");
}
