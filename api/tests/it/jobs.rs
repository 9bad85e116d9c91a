//! The job scheduler against the real database (and Redis when configured): each tick once across schedulers,
//! one catch-up run after downtime, retries with backoff, history for staff, `jobs run`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{DateTime, Duration, Timelike, Utc};
use reqwest::StatusCode;

use jobs::{Job, Scheduler};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use service::domain::Role;

use crate::support::TestApp;

/// An hourly job that counts its runs, failing the first `fail_first` of them.
fn counting_job(name: &'static str, runs: Arc<AtomicU32>, fail_first: u32) -> Job {
    Job::new(name, "0 0 * * * *", chrono_tz::Asia::Shanghai, move |_, _| {
        let runs = runs.clone();
        async move {
            let n = runs.fetch_add(1, Ordering::SeqCst) + 1;
            if n <= fail_first {
                anyhow::bail!("failing on purpose, run {n}");
            }
            Ok(serde_json::json!({ "run": n }))
        }
    })
    .unwrap()
}

fn next_hour(after: DateTime<Utc>) -> DateTime<Utc> {
    let floor = after.with_minute(0).and_then(|t| t.with_second(0)).and_then(|t| t.with_nanosecond(0)).unwrap();
    floor + Duration::hours(1)
}

async fn runs_of(app: &TestApp, job: &str) -> i64 {
    app.count(&format!("job_runs WHERE job = '{job}'")).await
}

#[tokio::test]
async fn two_schedulers_run_each_tick_once() {
    let app = TestApp::spawn().await;
    let runs = Arc::new(AtomicU32::new(0));
    let one = Scheduler::new(app.ctx.clone(), vec![counting_job("test.once", runs.clone(), 0)]).with_holder("one");
    let two = Scheduler::new(app.ctx.clone(), vec![counting_job("test.once", runs.clone(), 0)]).with_holder("two");
    let tick = next_hour(Utc::now());
    let (a, b) = tokio::join!(one.tick(tick + Duration::seconds(1)), two.tick(tick + Duration::seconds(1)));
    let ran = a.unwrap().ran.len() + b.unwrap().ran.len();
    assert_eq!((ran, runs.load(Ordering::SeqCst)), (1, 1));
    assert_eq!(runs_of(&app, "test.once").await, 1);
    // The same instant again, from either: nothing more.
    assert!(one.tick(tick + Duration::seconds(2)).await.unwrap().ran.is_empty());
    assert!(two.tick(tick + Duration::seconds(2)).await.unwrap().ran.is_empty());
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn after_downtime_a_missed_tick_runs_once_and_failures_are_retried_with_backoff() {
    let app = TestApp::spawn().await;
    let runs = Arc::new(AtomicU32::new(0));
    let scheduler = Scheduler::new(app.ctx.clone(), vec![counting_job("test.flaky", runs.clone(), 1)]);
    // The first tick's run fails: it is retried after its backoff, not before.
    let first = next_hour(Utc::now());
    let pass = scheduler.tick(first + Duration::seconds(1)).await.unwrap();
    assert_eq!(pass.ran, vec!["test.flaky"]);
    assert_eq!(app.count("job_runs WHERE job = 'test.flaky' AND status = 'retrying'").await, 1);
    assert!(scheduler.tick(first + Duration::seconds(5)).await.unwrap().retried.is_empty(), "not before its backoff");
    let pass = scheduler.tick(first + Duration::seconds(40)).await.unwrap();
    assert_eq!(pass.retried, vec!["test.flaky"]);
    assert_eq!(app.count("job_runs WHERE job = 'test.flaky' AND status = 'succeeded' AND attempt = 2").await, 1);

    // Then down for five and a half hours: one run, for the latest tick, not one per missed hour.
    let pass = scheduler.tick(first + Duration::minutes(330)).await.unwrap();
    assert_eq!(pass.ran, vec!["test.flaky"]);
    assert!(scheduler.tick(first + Duration::minutes(331)).await.unwrap().ran.is_empty());
    assert_eq!(runs_of(&app, "test.flaky").await, 2);
    let latest = first + Duration::hours(5);
    let caught_up = entity::job_runs::Entity::find()
        .filter(entity::job_runs::Column::Job.eq("test.flaky"))
        .filter(entity::job_runs::Column::TickAt.eq(latest))
        .one(&app.ctx.db)
        .await
        .unwrap();
    assert!(caught_up.is_some_and(|run| run.status == "succeeded"));
    assert_eq!(runs.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn jobs_run_now_and_staff_see_the_history() {
    let app = TestApp::spawn().await;
    let scheduler = Scheduler::new(app.ctx.clone(), jobs::standard_jobs().unwrap());
    let run = scheduler.run_now("payments.sweep_pending").await.unwrap();
    assert_eq!(run.status, "succeeded", "{:?}", run.error);
    assert!(scheduler.run_now("no.such.job").await.is_err());

    let owner = app.token(Role::Owner).await;
    let (status, runs) = app.get("/api/staff/v1/jobs/runs", &owner).await;
    assert_eq!(status, StatusCode::OK, "{runs}");
    assert_eq!(runs[0]["job"], "payments.sweep_pending");
    assert_eq!(runs[0]["status"], "succeeded");
    assert_eq!(runs[0]["attempt"], 1);
    assert!(runs[0]["finished_at"].is_string(), "{runs}");
    let cashier = app.token(Role::Cashier).await;
    let (status, _) = app.get("/api/staff/v1/jobs/runs", &cashier).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn staff_see_when_jobs_ran_but_not_what_they_counted_or_failed_on_across_merchants() {
    let app = TestApp::spawn().await;
    // A job serves every merchant: its counts and errors can be about any of them.
    let job = Job::new("test.all_merchants", "0 0 * * * *", chrono_tz::Asia::Shanghai, |_, _| async {
        anyhow::bail!("merchant 4242: WeChat Pay refused refund R-secret")
    })
    .unwrap();
    let scheduler = Scheduler::new(app.ctx.clone(), vec![job]);
    let run = scheduler.run_now("test.all_merchants").await.unwrap();
    assert_eq!(run.status, "retrying");
    assert!(run.error.as_deref().is_some_and(|e| e.contains("R-secret")), "operators keep the error: {run:?}");
    let kept = jobs::recent_runs(&app.ctx, 10).await.unwrap();
    assert!(kept.iter().any(|r| r.error.as_deref().is_some_and(|e| e.contains("R-secret"))));

    let owner = app.token(Role::Owner).await;
    let (status, runs) = app.get("/api/staff/v1/jobs/runs", &owner).await;
    assert_eq!(status, StatusCode::OK, "{runs}");
    assert_eq!(runs[0]["job"], "test.all_merchants");
    assert_eq!(runs[0]["status"], "retrying");
    assert!(runs[0]["next_attempt_at"].is_string(), "{runs}");
    assert!(runs[0].get("error").is_none() && runs[0].get("counts").is_none(), "{runs}");
    assert!(!runs.to_string().contains("R-secret"), "{runs}");
}

#[tokio::test]
async fn a_stopped_scheduler_lets_the_run_under_way_finish() {
    let app = TestApp::spawn().await;
    let started = Arc::new(AtomicU32::new(0));
    let finished = Arc::new(AtomicU32::new(0));
    let slow = {
        let (started, finished) = (started.clone(), finished.clone());
        Job::new("test.slow", "* * * * * *", chrono_tz::Asia::Shanghai, move |_, _| {
            let (started, finished) = (started.clone(), finished.clone());
            async move {
                started.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
                finished.fetch_add(1, Ordering::SeqCst);
                Ok(serde_json::json!({}))
            }
        })
        .unwrap()
    };
    // Asked to stop as soon as the job has started.
    let shutdown = {
        let started = started.clone();
        async move {
            while started.load(Ordering::SeqCst) == 0 {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    };
    let scheduler = Scheduler::new(app.ctx.clone(), vec![slow]);
    tokio::time::timeout(std::time::Duration::from_secs(20), scheduler.run_until(shutdown))
        .await
        .expect("the scheduler stops");
    assert_eq!((started.load(Ordering::SeqCst), finished.load(Ordering::SeqCst)), (1, 1), "finished, not cut short");
    let runs = entity::job_runs::Entity::find()
        .filter(entity::job_runs::Column::Job.eq("test.slow"))
        .all(&app.ctx.db)
        .await
        .unwrap();
    assert_eq!(runs.iter().map(|r| r.status.as_str()).collect::<Vec<_>>(), ["succeeded"]);
}

/// The counts a job run recorded.
fn counts(run: &entity::job_runs::Model) -> serde_json::Value {
    serde_json::from_str(&run.counts).unwrap()
}

async fn available(app: &TestApp, token: &str, member: i64) -> serde_json::Value {
    app.staff_ok(token, &format!("/members/{member}/points")).await["available"].clone()
}

#[tokio::test]
async fn the_nightly_expiry_writes_off_expired_points_for_everyone_once() {
    use sea_orm::ConnectionTrait;

    let app = TestApp::spawn().await;
    let owner = app.token(Role::Owner).await;
    let store = app.seed.store_ids[0];
    let give = |member: i64, points: i64, key: &'static str| {
        let body =
            serde_json::json!({ "store_id": store, "points": points, "reason": "开业礼", "idempotency_key": key });
        let (app, owner) = (&app, owner.clone());
        async move { app.staff_posted(&owner, &format!("/members/{member}/points/adjustments"), body).await }
    };
    let new_member = |phone: &'static str| {
        let (app, owner) = (&app, owner.clone());
        async move {
            app.staff_created(&owner, "/members", serde_json::json!({ "phone": phone })).await["id"].as_i64().unwrap()
        }
    };
    let (lapsed, keeper) = (new_member("13900006601").await, new_member("13900006602").await);
    give(lapsed, 300, "exp-job-0001").await;
    give(keeper, 200, "exp-job-0002").await;
    let sql = format!("UPDATE points_lots SET expires_at = '2020-01-01 00:00:00+00:00' WHERE member_id = {lapsed}");
    app.ctx.db.execute_unprepared(&sql).await.unwrap();
    assert_eq!(available(&app, &owner, lapsed).await, 0, "expired points are not spendable");
    assert_eq!(
        app.account_balance(&format!("member:{lapsed}:points")).await,
        300,
        "but still a liability until written off"
    );

    let scheduler = Scheduler::new(app.ctx.clone(), vec![]).with_zoned(jobs::zoned_jobs().unwrap());
    let name = "points.expire@Asia/Shanghai";
    let run = scheduler.run_now(name).await.unwrap();
    assert_eq!(run.status, "succeeded", "{:?}", run.error);
    assert_eq!(counts(&run), serde_json::json!({ "members": 1, "points": 300 }));
    assert_eq!(
        app.account_balance(&format!("member:{lapsed}:points")).await,
        0,
        "the liability is true the morning after"
    );
    assert_eq!(app.account_balance(&format!("member:{keeper}:points")).await, 200);
    assert_eq!(available(&app, &owner, keeper).await, 200);
    assert_eq!(app.count(&format!("journal_entries WHERE kind = 'points_expiry' AND member_id = {lapsed}")).await, 1);

    // Run again: nothing left to write off.
    let again = scheduler.run_now(name).await.unwrap();
    assert_eq!(counts(&again), serde_json::json!({ "members": 0, "points": 0 }));
    assert_eq!(app.count("journal_entries WHERE kind = 'points_expiry'").await, 1);
    assert!(service::ledger::verify(&app.ctx.db, None).await.unwrap().is_empty(), "the ledger agrees with itself");
}

#[tokio::test]
async fn the_yearly_review_moves_levels_down_by_the_annual_policy_once() {
    let app = TestApp::spawn().await;
    let owner = app.token(Role::Owner).await;
    let levels = app.staff_ok(&owner, "/member-levels").await;
    let silver = levels[1]["id"].as_i64().unwrap();
    let member = app.staff_created(&owner, "/members", serde_json::json!({ "phone": "13900006701" })).await;
    let member = member["id"].as_i64().unwrap();
    let set = serde_json::json!({ "level_id": silver, "reason": "老店迁移" });
    let (status, body) = app.put(&format!("/api/staff/v1/members/{member}/level"), &owner, set).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let level_of = || async { app.staff_ok(&owner, &format!("/members/{member}")).await["level"]["id"].as_i64() };

    let scheduler = Scheduler::new(app.ctx.clone(), jobs::standard_jobs().unwrap());
    let run = scheduler.run_now("levels.review_yearly").await.unwrap();
    assert_eq!(counts(&run)["merchants"], 0, "levels never go down under the default policy");
    assert_eq!(level_of().await, Some(silver));

    let annual = serde_json::json!({ "level_downgrade": "annual" });
    let (status, _) = app.patch("/api/staff/v1/merchant/loyalty", &owner, annual).await;
    assert_eq!(status, StatusCode::OK);
    let run = scheduler.run_now("levels.review_yearly").await.unwrap();
    assert_eq!(run.status, "succeeded", "{:?}", run.error);
    assert_eq!(counts(&run)["merchants"], 1);
    assert!(counts(&run)["moved_down"].as_u64().unwrap() >= 1, "{}", run.counts);
    assert_eq!(level_of().await, Some(levels[0]["id"].as_i64().unwrap()), "nothing spent reaches 银卡");
    let again = scheduler.run_now("levels.review_yearly").await.unwrap();
    assert_eq!(counts(&again)["moved_down"], 0, "a second run moves nobody");
    let log = app.staff_ok(&owner, "/audit-log?limit=50").await;
    let moved =
        log.as_array().unwrap().iter().find(|e| e["action"] == "member.level_changed" && e["target_id"] == member);
    assert_eq!(moved.unwrap()["detail"]["cause"], serde_json::json!({ "review": true }));
    assert_eq!(moved.unwrap()["actor_kind"], "system");
}

#[tokio::test]
async fn expired_cards_become_breakage_only_by_the_merchants_policy_and_once() {
    use sea_orm::ConnectionTrait;

    let app = TestApp::spawn().await;
    let owner = app.token(Role::Owner).await;
    let store = app.seed.store_ids[0];
    let ann = app.staff_created(&owner, "/members", serde_json::json!({ "phone": "13900006801" })).await;
    let ann = ann["id"].as_i64().unwrap();
    let recharge = serde_json::json!({ "store_id": store, "amount_fen": 10_000, "tender": "cash", "idempotency_key": "brk-recharge-1" });
    app.staff_posted(&owner, &format!("/members/{ann}/stored-value/recharges"), recharge).await;
    let service = app.staff_ok(&owner, "/services").await[0]["id"].as_i64().unwrap();
    let product = serde_json::json!({ "name": "护理5次卡", "price_fen": 50_000, "sessions": 5, "validity_days": 90, "service_item_ids": [service] });
    let product = app.staff_posted(&owner, "/card-products", product).await["id"].as_i64().unwrap();
    let sale = serde_json::json!({ "store_id": store, "member_id": ann, "idempotency_key": "brk-bill-0001", "lines": [{ "kind": "card_sale", "item_id": product }], "tenders": [{ "kind": "cash", "amount_fen": 50_000 }] });
    let sold = app.staff_posted(&owner, "/bills", sale).await;
    let card = sold["lines"][0]["detail"]["count_card_id"].as_i64().unwrap();
    for table in ["stored_value_cards", "count_cards"] {
        let sql = format!("UPDATE {table} SET expires_at = '2020-01-01 00:00:00+00:00' WHERE member_id = {ann}");
        app.ctx.db.execute_unprepared(&sql).await.unwrap();
    }
    let scheduler = Scheduler::new(app.ctx.clone(), vec![]).with_zoned(jobs::zoned_jobs().unwrap());
    let name = "cards.recognise_breakage@Asia/Shanghai";
    let run = scheduler.run_now(name).await.unwrap();
    assert_eq!(run.status, "succeeded", "{:?}", run.error);
    assert_eq!(counts(&run)["fen"], 0, "by default expired value stays owed to the member");
    assert_eq!(app.account_balance(&format!("member:{ann}:sv_principal")).await, 10_000);

    let policy = serde_json::json!({ "breakage_policy": "at_expiry" });
    let (status, settings) = app.patch("/api/staff/v1/merchant/loyalty", &owner, policy).await;
    assert_eq!((status, &settings["breakage_policy"]), (StatusCode::OK, &serde_json::json!("at_expiry")));
    let bad = serde_json::json!({ "breakage_policy": "whenever" });
    assert_eq!(app.patch("/api/staff/v1/merchant/loyalty", &owner, bad).await.0, StatusCode::UNPROCESSABLE_ENTITY);

    let run = scheduler.run_now(name).await.unwrap();
    assert_eq!(run.status, "succeeded", "{:?}", run.error);
    assert_eq!(counts(&run), serde_json::json!({ "stored_value_cards": 1, "count_cards": 1, "fen": 60_000 }));
    assert_eq!(app.account_balance(&format!("store:{store}:breakage")).await, 60_000);
    assert_eq!(app.account_balance(&format!("member:{ann}:sv_principal")).await, 0);
    assert_eq!(app.account_balance(&format!("card:{card}:deferred")).await, 0);
    assert_eq!(app.account_balance(&format!("card:{card}:sessions")).await, 0);
    let read = app.staff_ok(&owner, &format!("/count-cards/{card}")).await;
    assert_eq!(read["status"], "expired", "{read}");

    let again = scheduler.run_now(name).await.unwrap();
    assert_eq!(counts(&again), serde_json::json!({ "stored_value_cards": 0, "count_cards": 0, "fen": 0 }));
    assert_eq!(app.count("journal_entries WHERE kind = 'card_breakage'").await, 2);
    assert!(service::ledger::verify(&app.ctx.db, None).await.unwrap().is_empty(), "the ledger agrees with itself");
}

#[tokio::test]
async fn members_who_asked_hear_once_of_points_about_to_expire() {
    use sea_orm::ConnectionTrait;

    let app = TestApp::spawn().await;
    let owner = app.token(Role::Owner).await;
    let template = serde_json::json!({
        "template_id": "points-expiring-tpl", "page": "pages/points/index",
        "fields": { "number1": "points", "thing2": "expires_on", "thing3": "note" },
    });
    let (status, set) = app.put("/api/staff/v1/merchant/points-expiry-notice", &owner, template).await;
    assert_eq!(status, StatusCode::OK, "{set}");
    let bad = serde_json::json!({ "template_id": "x", "fields": { "thing1": "services" } });
    assert_eq!(
        app.put("/api/staff/v1/merchant/points-expiry-notice", &owner, bad).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    // Two WeChat members with points expiring in three days: one accepted the notice in the mini-program.
    let member = |openid: &'static str, accept: bool| {
        let app = &app;
        async move {
            let code = app.fake.wechat_login_code(crate::support::WECHAT_APPID, openid, None);
            let body = serde_json::json!({ "appid": crate::support::WECHAT_APPID, "code": code });
            let (_, session) = app.call(reqwest::Method::POST, "/api/mini/v1/sessions/wechat", None, Some(body)).await;
            let token = session["token"].as_str().unwrap().to_owned();
            let templates = app.get("/api/mini/v1/subscriptions/templates", &token).await.1;
            assert!(templates.to_string().contains("points-expiring-tpl"), "{templates}");
            if accept {
                app.fake.grant_subscription(crate::support::WECHAT_APPID, openid, "points-expiring-tpl");
                let answers = serde_json::json!({ "answers": { "points-expiring-tpl": "accept" } });
                let (status, _) = app.post("/api/mini/v1/me/subscriptions", &token, answers).await;
                assert_eq!(status, StatusCode::OK);
            }
            app.get("/api/mini/v1/me", &token).await.1["id"].as_i64().unwrap()
        }
    };
    let (asked, silent) = (member("openid-points-1", true).await, member("openid-points-2", false).await);
    let store = app.seed.store_ids[0];
    for (who, key) in [(asked, "notice-give-1"), (silent, "notice-give-2")] {
        let body = serde_json::json!({ "store_id": store, "points": 120, "reason": "开业礼", "idempotency_key": key });
        app.staff_posted(&owner, &format!("/members/{who}/points/adjustments"), body).await;
    }
    let soon = (chrono::Utc::now() + Duration::days(3)).format("%Y-%m-%d %H:%M:%S+00:00");
    let sql = format!("UPDATE points_lots SET expires_at = '{soon}' WHERE member_id IN ({asked}, {silent})");
    app.ctx.db.execute_unprepared(&sql).await.unwrap();

    let scheduler = jobs::standard_scheduler(app.ctx.clone()).unwrap();
    let name = "points.notify_expiring@Asia/Shanghai";
    let run = scheduler.run_now(name).await.unwrap();
    assert_eq!(run.status, "succeeded", "{:?}", run.error);
    assert_eq!(counts(&run), serde_json::json!({ "queued": 1, "refused": 0 }), "only the member who asked");
    // Run again: the same expiry is not announced twice.
    assert_eq!(counts(&scheduler.run_now(name).await.unwrap())["queued"], 0);
    assert_eq!(app.count("notification_outbox WHERE purpose = 'points_expiring'").await, 1);

    // The outbox delivers it as a subscribe message on the merchant's template.
    let run = scheduler.run_now("reminders.send").await.unwrap();
    assert_eq!(run.status, "succeeded", "{:?}", run.error);
    let sent = app.fake.subscribe_messages();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!((sent[0].touser.as_str(), sent[0].template_id.as_str()), ("openid-points-1", "points-expiring-tpl"));
    let field = |key: &str| sent[0].data.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()).unwrap();
    assert_eq!(field("number1"), "120");
    assert!(field("thing3").contains("120积分"), "{:?}", sent[0].data);
}
