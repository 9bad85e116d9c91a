//! Automations through the real server: one run a day however often the job ticks, the members each trigger picks
//! (joined lately, birthday near, a coupon about to end), a cooldown before the same member is reached again, a
//! member kept in one group across every run, pause, resume and end, and bad input refused.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Duration, Utc};
use reqwest::StatusCode;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use service::domain::Role;
use service::marketing::assignment::{Unit, bucket};
use service::marketing::automations::start_in_zone;
use service::marketing::campaigns::run_due;

use crate::support::{STAFF, TestApp, assert_error, ok};

/// `count` members at the desk tagged `autotest` (phones from `first`), and a segment of everyone so tagged.
async fn tagged(app: &TestApp, first: usize, count: usize) -> Vec<i64> {
    let cashier = app.token(Role::Cashier).await;
    let mut ids = Vec::new();
    for n in first..first + count {
        let body = json!({ "phone": format!("1390002{n:04}"), "tags": ["autotest"] });
        ids.push(app.staff_created(&cashier, "/members", body).await["id"].as_i64().unwrap());
    }
    ids
}

async fn segment(app: &TestApp, marketing: &str) -> i64 {
    let rule = json!({ "combine": "all", "criteria": [{ "kind": "tags", "tags": ["autotest"] }] });
    app.staff_created(marketing, "/segments", json!({ "name": "自动化测试", "rule": rule })).await["id"]
        .as_i64()
        .unwrap()
}

async fn coupon(app: &TestApp, marketing: &str, name: &str, valid_days: i64) -> i64 {
    let body = json!({ "name": name, "kind": "amount", "value_fen": 1000, "valid_days": valid_days });
    app.staff_created(marketing, "/coupon-templates", body).await["id"].as_i64().unwrap()
}

async fn zone(app: &TestApp) -> String {
    entity::merchants::Entity::find_by_id(app.seed.merchant_id).one(&app.ctx.db).await.unwrap().unwrap().timezone
}

/// The runs (campaigns) of an automation, oldest first.
async fn runs(app: &TestApp, automation: i64) -> Vec<entity::campaigns::Model> {
    let mut runs = entity::campaigns::Entity::find()
        .filter(entity::campaigns::Column::AutomationId.eq(automation))
        .all(&app.ctx.db)
        .await
        .unwrap();
    runs.sort_by_key(|r| r.id);
    runs
}

/// Each member of a run's audience: their bucket and whether they are in the control group.
async fn groups(app: &TestApp, campaign: i64) -> BTreeMap<i64, (i32, bool)> {
    entity::campaign_members::Entity::find()
        .filter(entity::campaign_members::Column::CampaignId.eq(campaign))
        .all(&app.ctx.db)
        .await
        .unwrap()
        .into_iter()
        .map(|row| (row.member_id, (row.bucket, row.in_control)))
        .collect()
}

#[tokio::test]
async fn an_automation_runs_once_a_day_for_whom_its_trigger_picks_and_each_member_keeps_one_group() {
    let app = TestApp::spawn().await;
    let marketing = app.token(Role::Marketing).await;
    let first = tagged(&app, 0, 200).await;
    let segment = segment(&app, &marketing).await;
    let template = coupon(&app, &marketing, "欢迎礼 10 元", 30).await;
    let zone = zone(&app).await;
    let body = json!({
        "name": "欢迎新会员", "trigger": "welcome", "segment_id": segment, "coupon_template_id": template,
        "message_title": "欢迎加入", "message_body": "送您 10 元新人券，回复或在“我的”中可关闭营销消息。", "control_bp": 2000,
    });
    let welcome = app.staff_created(&marketing, "/automations", body).await;
    let id = welcome["id"].as_i64().unwrap();
    assert_eq!((welcome["status"].as_str(), welcome["days"].as_u64()), (Some("active"), Some(3)));
    assert_eq!(welcome["cooldown_days"].as_u64(), Some(36_500), "a welcome reaches a member once ever by default");

    // However often the daily job ticks, and on however many replicas, a day has one run.
    let now = Utc::now();
    let started = start_in_zone(&app.ctx, &zone, now).await.unwrap();
    assert_eq!((started.runs, started.already), (1, 0));
    let again = start_in_zone(&app.ctx, &zone, now).await.unwrap();
    assert_eq!((again.runs, again.already), (0, 1));
    run_due(&app.ctx, now).await.unwrap();
    let day_one = runs(&app, id).await;
    assert_eq!(day_one.len(), 1);
    let run = &day_one[0];
    assert_eq!((run.status.as_str(), run.kind.as_str()), ("done", "automation"));
    let assigned = groups(&app, run.id).await;
    assert_eq!(assigned.keys().copied().collect::<Vec<_>>(), first, "the segment's members who joined lately");
    // 20% of 200 is 40 with a standard deviation of about 5.7: within four of them (17–63).
    let control: BTreeSet<i64> = assigned.iter().filter(|(_, (_, c))| *c).map(|(m, _)| *m).collect();
    assert!((17..=63).contains(&control.len()), "control {} of 200", control.len());
    // Assigned within the automation, by the merchant's salt: the bucket is the hash, the group follows from it.
    let salt = entity::merchants::Entity::find_by_id(app.seed.merchant_id)
        .one(&app.ctx.db)
        .await
        .unwrap()
        .unwrap()
        .assignment_salt
        .expect("a salt");
    for (member, (recorded, in_control)) in &assigned {
        assert_eq!(bucket(&salt, Unit::Automation(id), *member), *recorded);
        assert_eq!(*recorded < 2000, *in_control);
    }
    let holders: BTreeSet<i64> = entity::member_coupons::Entity::find()
        .filter(entity::member_coupons::Column::TemplateId.eq(template))
        .all(&app.ctx.db)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.member_id)
        .collect();
    let treatment: BTreeSet<i64> = assigned.keys().filter(|m| !control.contains(m)).copied().collect();
    assert_eq!(holders, treatment, "the control group gets no coupon");

    // The next day: members who joined since are reached; those reached already are not (once ever).
    let newcomers = tagged(&app, 200, 10).await;
    let tomorrow = now + Duration::days(1);
    assert_eq!(start_in_zone(&app.ctx, &zone, tomorrow).await.unwrap().runs, 1);
    run_due(&app.ctx, tomorrow).await.unwrap();
    let both = runs(&app, id).await;
    assert_eq!(both.len(), 2);
    assert_eq!(groups(&app, both[1].id).await.keys().copied().collect::<Vec<_>>(), newcomers);
    let read = app.staff_ok(&marketing, &format!("/automations/{id}")).await;
    assert_eq!((read["runs"].as_i64(), read["audience"].as_i64()), (Some(2), Some(210)));
    assert_eq!(read["last_occasion"], both[1].occasion.clone().unwrap());
    // Its runs are campaigns, listed with the others and naming their automation.
    let listed = app.staff_ok(&marketing, "/campaigns").await;
    let of_it = listed.as_array().unwrap().iter().filter(|c| c["automation_id"] == id).count();
    assert_eq!(of_it, 2);

    // A recurring automation reaches its whole segment every so many days, each member in the same group each time.
    let body = json!({
        "name": "每日关怀", "trigger": "recurring", "days": 1, "segment_id": segment, "control_bp": 3000,
        "message_title": "今日关怀", "message_body": "本店今日有空位，回复或在“我的”中可关闭营销消息。",
    });
    let daily = app.staff_created(&marketing, "/automations", body).await["id"].as_i64().unwrap();
    let body = json!({
        "name": "每周关怀", "trigger": "recurring", "segment_id": segment,
        "message_title": "本周关怀", "message_body": "本周有空位，回复或在“我的”中可关闭营销消息。",
    });
    let weekly = app.staff_created(&marketing, "/automations", body).await["id"].as_i64().unwrap();
    for day in [2, 3] {
        start_in_zone(&app.ctx, &zone, now + Duration::days(day)).await.unwrap();
        run_due(&app.ctx, now + Duration::days(day)).await.unwrap();
    }
    let daily_runs = runs(&app, daily).await;
    assert_eq!(daily_runs.len(), 2);
    assert_eq!(runs(&app, weekly).await.len(), 1, "a weekly automation waits seven days after its last run");
    let (a, b) = (groups(&app, daily_runs[0].id).await, groups(&app, daily_runs[1].id).await);
    assert_eq!(a.len(), 210);
    assert_eq!(a, b, "every member in the same group on every run");
}

#[tokio::test]
async fn triggers_pick_a_birthday_near_and_a_coupon_about_to_end() {
    let app = TestApp::spawn().await;
    let marketing = app.token(Role::Marketing).await;
    let manager = app.token(Role::Manager).await;
    let members = tagged(&app, 0, 4).await;
    let segment = segment(&app, &marketing).await;
    let zone = zone(&app).await;
    let tz: chrono_tz::Tz = zone.parse().unwrap();
    let today = Utc::now().with_timezone(&tz).date_naive();
    let birthday = |days: i64| (today + Duration::days(days)).with_year(1990).unwrap_or(today).to_string();
    for (member, days) in [(members[0], 2), (members[1], 20)] {
        ok(app.patch(&format!("{STAFF}/members/{member}"), &manager, json!({ "birthday": birthday(days) })).await);
    }
    // A coupon ending in two days for the third member, one ending in a month for the fourth.
    for (member, valid_days, name) in [(members[2], 2, "两天后到期"), (members[3], 30, "一个月后到期")] {
        let template = coupon(&app, &marketing, name, valid_days).await;
        let grants = format!("{STAFF}/coupon-templates/{template}/grants");
        let body = json!({ "member_ids": [member], "idempotency_key": format!("auto-grant-{member}") });
        ok(app.post(&grants, &marketing, body).await);
    }
    let message = |name: &str, trigger: &str| {
        json!({ "name": name, "trigger": trigger, "segment_id": segment, "control_bp": 0,
            "message_title": name, "message_body": "回复或在“我的”中可关闭营销消息。" })
    };
    let birthdays = app.staff_created(&marketing, "/automations", message("生日关怀", "birthday")).await;
    let expiring = app.staff_created(&marketing, "/automations", message("券快到期", "coupon_expiring")).await;
    let now = Utc::now();
    assert_eq!(start_in_zone(&app.ctx, &zone, now).await.unwrap().runs, 2);
    run_due(&app.ctx, now).await.unwrap();
    let audience = |automation: &Value| {
        let id = automation["id"].as_i64().unwrap();
        let app = &app;
        async move {
            let runs = runs(app, id).await;
            groups(app, runs[0].id).await.keys().copied().collect::<Vec<_>>()
        }
    };
    assert_eq!(audience(&birthdays).await, [members[0]], "a birthday within three days, not one in twenty");
    assert_eq!(audience(&expiring).await, [members[2]], "a coupon ending within three days, not one in a month");
    // The next day the same birthday is not reached again (the cooldown).
    let tomorrow = now + Duration::days(1);
    start_in_zone(&app.ctx, &zone, tomorrow).await.unwrap();
    run_due(&app.ctx, tomorrow).await.unwrap();
    let id = birthdays["id"].as_i64().unwrap();
    let second = runs(&app, id).await;
    assert_eq!(second.len(), 2);
    assert!(groups(&app, second[1].id).await.is_empty());
}

#[tokio::test]
async fn paused_automations_do_not_run_ended_ones_skip_what_was_not_sent_and_bad_input_changes_nothing() {
    let app = TestApp::spawn().await;
    let marketing = app.token(Role::Marketing).await;
    tagged(&app, 0, 30).await;
    let segment = segment(&app, &marketing).await;
    let zone = zone(&app).await;
    let body = json!({
        "name": "每日关怀", "trigger": "recurring", "days": 1, "segment_id": segment, "control_bp": 0,
        "message_title": "今日关怀", "message_body": "回复或在“我的”中可关闭营销消息。",
    });
    let id = app.staff_created(&marketing, "/automations", body).await["id"].as_i64().unwrap();
    let path = |action: &str| format!("{STAFF}/automations/{id}/{action}");
    let paused = ok(app.post(&path("pause"), &marketing, json!({})).await);
    assert_eq!(paused["status"], "paused");
    let now = Utc::now();
    assert_eq!(start_in_zone(&app.ctx, &zone, now).await.unwrap().runs, 0, "a paused automation does not run");
    assert_error(&app.post(&path("pause"), &marketing, json!({})).await, StatusCode::CONFLICT, "automation_state");
    assert_eq!(ok(app.post(&path("resume"), &marketing, json!({})).await)["status"], "active");
    assert_eq!(start_in_zone(&app.ctx, &zone, now).await.unwrap().runs, 1);
    run_due(&app.ctx, now).await.unwrap();
    // Its segment cannot be deleted while it lives.
    let segment_path = format!("{STAFF}/segments/{segment}");
    assert_error(&app.delete(&segment_path, &marketing).await, StatusCode::CONFLICT, "used_by_campaign");

    // Paused once today's run was made but before it ran: the run is called off, saying why.
    let later = now + Duration::days(1);
    assert_eq!(start_in_zone(&app.ctx, &zone, later).await.unwrap().runs, 1);
    ok(app.post(&path("pause"), &marketing, json!({})).await);
    run_due(&app.ctx, later).await.unwrap();
    let called_off = runs(&app, id).await.pop().unwrap();
    assert_eq!((called_off.status.as_str(), called_off.failure.as_deref()), ("cancelled", Some("automation_paused")));
    assert!(groups(&app, called_off.id).await.is_empty(), "nobody assigned, nothing planned");
    ok(app.post(&path("resume"), &marketing, json!({})).await);

    // Ended before the dispatcher came by: its messages are skipped, saying why, and it runs no more.
    let ended = ok(app.post(&path("end"), &marketing, json!({})).await);
    assert_eq!(ended["status"], "ended");
    let run = runs(&app, id).await.remove(0);
    assert!(run.stopped_at.is_some(), "its runs are stopped");
    let sends = entity::marketing_sends::Entity::find()
        .filter(entity::marketing_sends::Column::CampaignId.eq(run.id))
        .all(&app.ctx.db)
        .await
        .unwrap();
    assert_eq!(sends.len(), 30);
    assert!(sends.iter().all(|s| s.status == "skipped" && s.reason.as_deref() == Some("campaign_stopped")));
    assert_eq!(start_in_zone(&app.ctx, &zone, now + Duration::days(1)).await.unwrap().runs, 0);
    for action in ["pause", "resume", "end"] {
        assert_error(&app.post(&path(action), &marketing, json!({})).await, StatusCode::CONFLICT, "automation_state");
    }
    assert_eq!(app.delete(&segment_path, &marketing).await.0, StatusCode::NO_CONTENT, "free once it ended");

    // Bad input: a clear 4xx, and nothing written.
    let before = app.count("marketing_automations").await;
    let claimable = app
        .staff_created(
            &marketing,
            "/coupon-templates",
            json!({ "name": "可领取", "kind": "amount", "value_fen": 500, "valid_days": 7, "claimable": true }),
        )
        .await["id"]
        .clone();
    let base = json!({ "name": "召回", "trigger": "win_back", "message_title": "想您了", "message_body": "回T退订" });
    let with = |changes: Value| {
        let mut body = base.clone();
        for (key, value) in changes.as_object().unwrap() {
            if value.is_null() {
                body.as_object_mut().unwrap().remove(key);
            } else {
                body[key] = value.clone();
            }
        }
        body
    };
    // Checked by the service: 422 naming the field.
    let refused = [
        (with(json!({ "days": 3 })), "days"),
        (with(json!({ "days": 1000 })), "days"),
        (with(json!({ "trigger": "low_balance", "days": 7 })), "days"),
        (with(json!({ "threshold": 150 })), "threshold"),
        (with(json!({ "trigger": "rebook", "threshold": 100 })), "threshold"),
        (with(json!({ "trigger": "recurring" })), "segment_id"),
        (with(json!({ "segment_id": 999_999 })), "segment_id"),
        (with(json!({ "coupon_template_id": claimable })), "coupon_template_id"),
        (with(json!({ "message_title": null, "message_body": null })), "coupon_template_id"),
        (with(json!({ "message_body": null })), "message_body"),
        (with(json!({ "control_bp": 6000 })), "control_bp"),
        (with(json!({ "cooldown_days": 4000 })), "cooldown_days"),
        (with(json!({ "name": "一个名字长得放不下日期的自动营销活动再长一点" })), "name"),
    ];
    for (body, field) in refused {
        let answer = app.post(&format!("{STAFF}/automations"), &marketing, body.clone()).await;
        assert_error(&answer, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
        let message = answer.1["message"].as_str().unwrap();
        assert!(message.starts_with(&format!("{field}:")), "{body}: {field} named in {message}");
    }
    // Not the request's shape: refused before the service reads it.
    for (body, named) in
        [(with(json!({ "trigger": "lottery" })), "lottery"), (with(json!({ "channel": "wechat" })), "channel")]
    {
        let answer = app.post(&format!("{STAFF}/automations"), &marketing, body.clone()).await;
        assert_error(&answer, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
        assert!(answer.1["message"].as_str().unwrap().contains(named), "{named} named in {}", answer.1);
    }
    assert_eq!(app.count("marketing_automations").await, before);
    let cashier = app.token(Role::Cashier).await;
    assert_error(&app.post(&format!("{STAFF}/automations"), &cashier, base).await, StatusCode::FORBIDDEN, "forbidden");
    assert_error(
        &app.get(&format!("{STAFF}/automations/999999"), &marketing).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
}
