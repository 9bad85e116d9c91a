//! Campaigns through the real server: the audience fixed when it runs, a control group that receives nothing, a
//! stable assignment, every send counted, members who refused marketing skipped, runs once however often the job
//! ticks (and taken over when a run died), and bad input refused.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Duration, Utc};
use reqwest::StatusCode;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use service::domain::Role;
use service::marketing::assignment::{Unit, bucket};
use service::marketing::campaigns::run_due;
use service::marketing::sends::dispatch_due;

use crate::support::{STAFF, TestApp, assert_error, ok};

const MINI: &str = "/api/mini/v1";

/// `count` members at the desk and `refusing` in the app who said no to marketing messages, all tagged `camptest`,
/// a segment of them and a coupon template a campaign may carry. Returns (segment id, template id, refusing members
/// with their tokens).
async fn audience(app: &TestApp, count: usize, refusing: usize) -> (i64, i64, Vec<(i64, String)>) {
    let cashier = app.token(Role::Cashier).await;
    let marketing = app.token(Role::Marketing).await;
    for n in 0..count {
        let body = json!({ "phone": format!("1390001{n:04}"), "tags": ["camptest"] });
        app.staff_created(&cashier, "/members", body).await;
    }
    let mut refused = Vec::new();
    for n in 0..refusing {
        let (token, member) = app.member_token(&format!("camp-refuser-{n}")).await;
        ok(app.put(&format!("{MINI}/me/marketing-consent"), &token, json!({ "granted": false })).await);
        ok(app.put(&format!("{STAFF}/members/{member}/tags"), &cashier, json!({ "tags": ["camptest"] })).await);
        refused.push((member, token));
    }
    let rule = json!({ "combine": "all", "criteria": [{ "kind": "tags", "tags": ["camptest"] }] });
    let segment = app.staff_created(&marketing, "/segments", json!({ "name": "活动测试", "rule": rule })).await;
    let template = app
        .staff_created(
            &marketing,
            "/coupon-templates",
            json!({ "name": "活动 20 元", "kind": "amount", "value_fen": 2000, "valid_days": 30 }),
        )
        .await;
    (segment["id"].as_i64().unwrap(), template["id"].as_i64().unwrap(), refused)
}

/// Each member of the campaign's audience and whether they are in its control group.
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
async fn the_control_group_receives_nothing_and_every_send_is_counted() {
    let app = TestApp::spawn().await;
    let marketing = app.token(Role::Marketing).await;
    let (segment, template, refused) = audience(&app, 300, 5).await;
    let body = json!({
        "name": "老客回馈", "segment_id": segment, "coupon_template_id": template, "control_bp": 2000,
        "message_title": "送您 20 元", "message_body": "本周到店消费立减 20 元，回复或在“我的”中可关闭营销消息。",
        "run_at": Utc::now(),
    });
    let campaign = app.staff_created(&marketing, "/campaigns", body).await;
    let id = campaign["id"].as_i64().unwrap();
    assert_eq!(campaign["status"], "scheduled");

    let runs = run_due(&app.ctx, Utc::now()).await.unwrap();
    assert_eq!((runs.campaigns, runs.members), (1, 305));
    // The messages are planned by the run and decided and sent by the dispatcher.
    let dispatched = dispatch_due(&app.ctx, Utc::now()).await.unwrap();
    let read = app.staff_ok(&marketing, &format!("/campaigns/{id}")).await;
    assert_eq!((read["status"].as_str(), read["audience"].as_i64()), (Some("done"), Some(305)));

    let assigned = groups(&app, id).await;
    let control: BTreeSet<i64> = assigned.iter().filter(|(_, (_, c))| *c).map(|(m, _)| *m).collect();
    let treatment: BTreeSet<i64> = assigned.iter().filter(|(_, (_, c))| !*c).map(|(m, _)| *m).collect();
    // 20% of 305 is 61, with a standard deviation of about 7: four of them either way.
    assert!((33..=89).contains(&control.len()), "control {} of 305", control.len());
    assert_eq!(read["control"].as_i64(), i64::try_from(control.len()).ok());

    // Coupons: one to each member of the treatment group, none to the control group.
    let holders: BTreeSet<i64> = entity::member_coupons::Entity::find()
        .filter(entity::member_coupons::Column::TemplateId.eq(template))
        .all(&app.ctx.db)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.member_id)
        .collect();
    assert_eq!(holders, treatment, "the treatment group and no one else holds the campaign's coupon");
    assert_eq!(read["coupons_issued"].as_i64(), i64::try_from(treatment.len()).ok());
    // Messages: the treatment group, less those who said no to marketing messages.
    let refusers: BTreeSet<i64> = refused.iter().map(|(m, _)| *m).collect();
    let messaged: BTreeSet<i64> = entity::member_inbox::Entity::find()
        .filter(entity::member_inbox::Column::CampaignId.eq(id))
        .all(&app.ctx.db)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.member_id)
        .collect();
    let expected: BTreeSet<i64> = treatment.difference(&refusers).copied().collect();
    assert_eq!(messaged, expected);
    assert!(refusers.iter().any(|m| treatment.contains(m)), "a refuser in the treatment group is skipped");
    assert_eq!(read["messages"].as_i64(), i64::try_from(expected.len()).ok());
    assert_eq!(dispatched.sent, u64::try_from(expected.len()).unwrap());
    // The send log accounts for each member of the treatment group: sent, or skipped saying why.
    let skipped = app.staff_ok(&marketing, &format!("/campaigns/{id}/sends?status=skipped&limit=200")).await;
    let skipped: BTreeMap<i64, String> = skipped
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["member_id"].as_i64().unwrap(), s["reason"].as_str().unwrap().to_owned()))
        .collect();
    let refusers_treated: BTreeSet<i64> = refusers.intersection(&treatment).copied().collect();
    assert_eq!(skipped.keys().copied().collect::<BTreeSet<_>>(), refusers_treated);
    assert!(skipped.values().all(|r| r == "no_consent"), "{skipped:?}");
    let in_app = read["sends"].as_array().unwrap();
    let count = |status: &str| {
        in_app
            .iter()
            .find(|c| c["channel"] == "in_app" && c["status"] == status)
            .map_or(0, |c| c["count"].as_i64().unwrap())
    };
    assert_eq!(
        (count("sent"), count("skipped")),
        (i64::try_from(expected.len()).unwrap(), i64::try_from(refusers_treated.len()).unwrap())
    );
    assert_eq!(dispatch_due(&app.ctx, Utc::now()).await.unwrap().sent, 0, "nothing is sent twice");

    // The assignment is the hash of the merchant's salt, the campaign and the member: the same on any rerun.
    let salt = entity::merchants::Entity::find_by_id(app.seed.merchant_id)
        .one(&app.ctx.db)
        .await
        .unwrap()
        .unwrap()
        .assignment_salt
        .expect("a salt");
    for (member, (recorded, in_control)) in &assigned {
        assert_eq!(bucket(&salt, Unit::Campaign(id), *member), *recorded);
        assert_eq!(*recorded < 2000, *in_control);
    }
    // The job ticking again sends nothing more.
    assert_eq!(run_due(&app.ctx, Utc::now()).await.unwrap().campaigns, 0);
    assert_eq!(groups(&app, id).await, assigned);

    // A refuser in the app sees no message; a treatment member who answered nothing would (checked through a
    // refuser's own inbox staying empty, and reading someone else's message being not found).
    let (refuser, token) = &refused[0];
    let inbox = ok(app.get(&format!("{MINI}/me/inbox"), token).await);
    assert_eq!(inbox.as_array().unwrap().len(), 0, "member {refuser}");
    let someone_elses = entity::member_inbox::Entity::find().one(&app.ctx.db).await.unwrap().unwrap();
    assert_error(
        &app.post(&format!("{MINI}/me/inbox/{}/read", someone_elses.id), token, json!({})).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    app.assert_ledger_balanced().await;
}

#[tokio::test]
async fn a_member_reads_the_campaigns_message_in_the_app() {
    let app = TestApp::spawn().await;
    let marketing = app.token(Role::Marketing).await;
    let cashier = app.token(Role::Cashier).await;
    let (token, member) = app.member_token("camp-reader").await;
    ok(app.put(&format!("{STAFF}/members/{member}/tags"), &cashier, json!({ "tags": ["camptest"] })).await);
    let (segment, _, _) = audience(&app, 0, 0).await;
    // No control group: the one member is in the treatment group.
    let body = json!({
        "name": "新品通知", "segment_id": segment, "control_bp": 0,
        "message_title": "新品上市", "message_body": "头皮护理新品本周体验价。", "run_at": Utc::now(),
    });
    app.staff_created(&marketing, "/campaigns", body).await;
    run_due(&app.ctx, Utc::now()).await.unwrap();
    dispatch_due(&app.ctx, Utc::now()).await.unwrap();
    let inbox = ok(app.get(&format!("{MINI}/me/inbox"), &token).await);
    assert_eq!((inbox[0]["title"].as_str(), inbox[0]["read_at"].is_null()), (Some("新品上市"), true));
    let answer = app.post(&format!("{MINI}/me/inbox/{}/read", inbox[0]["id"]), &token, json!({})).await;
    assert_eq!(answer.0, StatusCode::NO_CONTENT);
    assert!(!ok(app.get(&format!("{MINI}/me/inbox"), &token).await)[0]["read_at"].is_null());
}

#[tokio::test]
async fn a_campaign_runs_once_is_taken_over_when_a_run_died_and_can_be_called_off_before() {
    let app = TestApp::spawn().await;
    let marketing = app.token(Role::Marketing).await;
    let (segment, template, _) = audience(&app, 3, 0).await;
    let schedule = |name: &str, run_at: chrono::DateTime<Utc>| json!({ "name": name, "segment_id": segment, "coupon_template_id": template, "run_at": run_at });
    let later =
        app.staff_created(&marketing, "/campaigns", schedule("明天的活动", Utc::now() + Duration::days(1))).await;
    let later_path = format!("{STAFF}/campaigns/{}/cancel", later["id"]);
    assert_eq!(ok(app.post(&later_path, &marketing, json!({})).await)["status"], "cancelled");
    assert_error(&app.post(&later_path, &marketing, json!({})).await, StatusCode::CONFLICT, "campaign_state");

    // A run that died holds the campaign until its claim lapses; then the next tick takes it over.
    let now = app.staff_created(&marketing, "/campaigns", schedule("马上", Utc::now())).await;
    let id = now["id"].as_i64().unwrap();
    let hold = |until: chrono::DateTime<Utc>| {
        entity::campaigns::Entity::update_many()
            .col_expr(entity::campaigns::Column::Status, Expr::value("running"))
            .col_expr(entity::campaigns::Column::ClaimedUntil, Expr::value(Some(until)))
            .filter(entity::campaigns::Column::Id.eq(id))
            .exec(&app.ctx.db)
    };
    hold(Utc::now() + Duration::minutes(5)).await.unwrap();
    assert_eq!(
        run_due(&app.ctx, Utc::now()).await.unwrap().campaigns,
        0,
        "held by a live run; the cancelled one never runs"
    );
    hold(Utc::now() - Duration::minutes(1)).await.unwrap();
    let runs = run_due(&app.ctx, Utc::now()).await.unwrap();
    assert_eq!((runs.campaigns, runs.members), (1, 3));
    let read = app.staff_ok(&marketing, &format!("/campaigns/{id}")).await;
    assert_eq!(read["status"], "done");
    assert_error(
        &app.post(&format!("{STAFF}/campaigns/{id}/cancel"), &marketing, json!({})).await,
        StatusCode::CONFLICT,
        "campaign_state",
    );
    let cancelled = app.staff_ok(&marketing, &format!("/campaigns/{}", later["id"])).await;
    assert_eq!((cancelled["status"].as_str(), cancelled["audience"].as_i64()), (Some("cancelled"), Some(0)));
}

#[tokio::test]
async fn a_paused_campaign_neither_runs_nor_sends_until_resumed() {
    let app = TestApp::spawn().await;
    let marketing = app.token(Role::Marketing).await;
    let (segment, _, _) = audience(&app, 20, 0).await;
    let body = json!({
        "name": "暂停测试", "segment_id": segment, "control_bp": 0,
        "message_title": "本周特惠", "message_body": "回复或在“我的”中可关闭营销消息。", "run_at": Utc::now(),
    });
    let id = app.staff_created(&marketing, "/campaigns", body).await["id"].as_i64().unwrap();
    let path = |action: &str| format!("{STAFF}/campaigns/{id}/{action}");
    // Paused before its time: it does not run when the time comes.
    let paused = ok(app.post(&path("pause"), &marketing, json!({})).await);
    assert!(paused["paused_at"].is_string());
    assert_eq!(run_due(&app.ctx, Utc::now()).await.unwrap().campaigns, 0);
    assert_error(&app.post(&path("pause"), &marketing, json!({})).await, StatusCode::CONFLICT, "campaign_state");
    assert!(ok(app.post(&path("resume"), &marketing, json!({})).await)["paused_at"].is_null());
    assert_eq!(run_due(&app.ctx, Utc::now()).await.unwrap().campaigns, 1, "resumed, its time has passed: it runs");

    // Paused after it ran: its messages wait, and go once it resumes.
    ok(app.post(&path("pause"), &marketing, json!({})).await);
    // A message a dispatcher put back as queued meanwhile (quiet hours, a lapsed claim) is held, not sent.
    let requeue = |status: &'static str| {
        entity::marketing_sends::Entity::update_many()
            .col_expr(entity::marketing_sends::Column::Status, Expr::value("queued"))
            .filter(entity::marketing_sends::Column::CampaignId.eq(id))
            .filter(entity::marketing_sends::Column::Status.eq(status))
            .exec(&app.ctx.db)
    };
    let one = entity::marketing_sends::Entity::find()
        .filter(entity::marketing_sends::Column::CampaignId.eq(id))
        .one(&app.ctx.db)
        .await
        .unwrap()
        .unwrap();
    entity::marketing_sends::Entity::update_many()
        .col_expr(entity::marketing_sends::Column::Status, Expr::value("queued"))
        .filter(entity::marketing_sends::Column::Id.eq(one.id))
        .exec(&app.ctx.db)
        .await
        .unwrap();
    assert_eq!(dispatch_due(&app.ctx, Utc::now()).await.unwrap().sent, 0);
    let waiting = app.staff_ok(&marketing, &format!("/campaigns/{id}/sends?status=paused&limit=200")).await;
    assert_eq!(waiting.as_array().unwrap().len(), 20);
    ok(app.post(&path("resume"), &marketing, json!({})).await);
    let sent = dispatch_due(&app.ctx, Utc::now()).await.unwrap().sent;
    assert_eq!(sent, 20);
    assert_error(&app.post(&path("resume"), &marketing, json!({})).await, StatusCode::CONFLICT, "campaign_state");

    // Stopped: a message put back as queued afterwards is skipped when the dispatcher comes to it.
    ok(app.post(&path("stop"), &marketing, json!({})).await);
    requeue("sent").await.unwrap();
    let dispatched = dispatch_due(&app.ctx, Utc::now()).await.unwrap();
    assert_eq!((dispatched.sent, dispatched.skipped), (0, 20));
    let skipped = app.staff_ok(&marketing, &format!("/campaigns/{id}/sends?status=skipped&limit=200")).await;
    assert!(skipped.as_array().unwrap().iter().all(|s| s["reason"] == "campaign_stopped"));
}

#[tokio::test]
async fn the_merchant_wide_control_group_is_in_the_control_group_of_every_campaign() {
    let app = TestApp::spawn().await;
    let marketing = app.token(Role::Marketing).await;
    let owner = app.token(Role::Owner).await;
    let (segment, _, _) = audience(&app, 150, 0).await;
    let path = format!("{STAFF}/marketing/holdout");
    assert_error(&app.put(&path, &marketing, json!({ "holdout_bp": 1000 })).await, StatusCode::FORBIDDEN, "forbidden");
    assert_error(
        &app.put(&path, &owner, json!({ "holdout_bp": 2500 })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    );
    assert_eq!(ok(app.get(&path, &marketing).await)["holdout_bp"], 0, "refused, nothing changed");
    assert_eq!(ok(app.put(&path, &owner, json!({ "holdout_bp": 2000 })).await)["holdout_bp"], 2000);
    let (mut controls, mut ids) = (Vec::new(), Vec::new());
    for name in ["第一场", "第二场"] {
        let body = json!({
            "name": name, "segment_id": segment, "control_bp": 0,
            "message_title": name, "message_body": "回复或在“我的”中可关闭营销消息。", "run_at": Utc::now(),
        });
        let id = app.staff_created(&marketing, "/campaigns", body).await["id"].as_i64().unwrap();
        run_due(&app.ctx, Utc::now()).await.unwrap();
        let control: BTreeSet<i64> =
            groups(&app, id).await.into_iter().filter(|(_, (_, c))| *c).map(|(m, _)| m).collect();
        controls.push(control);
        ids.push(id);
    }
    let salt = entity::merchants::Entity::find_by_id(app.seed.merchant_id)
        .one(&app.ctx.db)
        .await
        .unwrap()
        .unwrap()
        .assignment_salt
        .expect("a salt");
    let members: BTreeSet<i64> = groups(&app, ids[0]).await.keys().copied().collect();
    let held_out: BTreeSet<i64> = members.iter().copied().filter(|m| bucket(&salt, Unit::Holdout, *m) < 2000).collect();
    // 20% of 150 is 30, with a standard deviation of about 4.9: within four of them (11–49).
    assert!((11..=49).contains(&held_out.len()), "held out {} of 150", held_out.len());
    assert_eq!(controls[0], held_out, "with no control share of its own, the control group is the merchant's");
    assert_eq!(controls[1], held_out, "the same members in every campaign");
}

#[tokio::test]
async fn campaigns_that_cannot_be_run_are_refused_and_nothing_is_written() {
    let app = TestApp::spawn().await;
    let marketing = app.token(Role::Marketing).await;
    let (segment, template, _) = audience(&app, 1, 0).await;
    let claimable = app
        .staff_created(
            &marketing,
            "/coupon-templates",
            json!({ "name": "可领取券", "kind": "amount", "value_fen": 500, "valid_days": 30, "claimable": true }),
        )
        .await["id"]
        .clone();
    let on_join = app
        .staff_created(
            &marketing,
            "/coupon-templates",
            json!({ "name": "入会礼", "kind": "amount", "value_fen": 500, "valid_days": 30, "on_join": true }),
        )
        .await["id"]
        .clone();
    let (_, other_owner) = app.other_merchant().await;
    let rule = json!({ "combine": "all", "criteria": [{ "kind": "never_visited" }] });
    let theirs =
        app.staff_created(&other_owner, "/segments", json!({ "name": "他们的", "rule": rule })).await["id"].clone();
    let now = Utc::now();
    let base = json!({ "name": "活动", "segment_id": segment, "coupon_template_id": template, "run_at": now });
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
    let bad = [
        with(json!({ "coupon_template_id": claimable })),
        with(json!({ "coupon_template_id": on_join })),
        with(json!({ "coupon_template_id": null })),
        with(json!({ "control_bp": 6000 })),
        with(json!({ "segment_id": theirs })),
        with(json!({ "run_at": now - Duration::days(1) })),
        with(json!({ "message_title": "只有标题" })),
        with(json!({ "name": "" })),
        with(json!({ "channel": "sms" })),
    ];
    for body in bad {
        let answer = app.post(&format!("{STAFF}/campaigns"), &marketing, body.clone()).await;
        assert!(
            answer.0 == StatusCode::UNPROCESSABLE_ENTITY || answer.0 == StatusCode::BAD_REQUEST,
            "{body}: {answer:?}"
        );
    }
    assert_eq!(app.count("campaigns").await, 0);
    let cashier = app.token(Role::Cashier).await;
    assert_error(&app.post(&format!("{STAFF}/campaigns"), &cashier, base).await, StatusCode::FORBIDDEN, "forbidden");
    assert_error(&app.get(&format!("{STAFF}/campaigns/999999"), &marketing).await, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn what_a_campaign_uses_stays_and_a_campaign_whose_segment_is_gone_gives_up_alone() {
    let app = TestApp::spawn().await;
    let marketing = app.token(Role::Marketing).await;
    let (segment, template, _) = audience(&app, 2, 0).await;
    let tomorrow = Utc::now() + Duration::days(1);
    let body = json!({ "name": "明天", "segment_id": segment, "coupon_template_id": template, "run_at": tomorrow });
    app.staff_created(&marketing, "/campaigns", body).await;
    // Its segment cannot be deleted, nor its coupon made claimable (the control group would claim it).
    let path = format!("{STAFF}/segments/{segment}");
    assert_error(&app.delete(&path, &marketing).await, StatusCode::CONFLICT, "used_by_campaign");
    let path = format!("{STAFF}/coupon-templates/{template}");
    assert_error(
        &app.patch(&path, &marketing, json!({ "claimable": true })).await,
        StatusCode::CONFLICT,
        "used_by_campaign",
    );

    // A segment gone all the same (removed under it): that campaign gives up saying why; the next one runs.
    let rule = json!({ "combine": "all", "criteria": [{ "kind": "tags", "tags": ["camptest"] }] });
    let doomed =
        app.staff_created(&marketing, "/segments", json!({ "name": "将被删除", "rule": rule })).await["id"].clone();
    let first = app
        .staff_created(&marketing, "/campaigns", json!({ "name": "先", "segment_id": doomed, "message_title": "先", "message_body": "先", "run_at": Utc::now() }))
        .await;
    let second = app
        .staff_created(&marketing, "/campaigns", json!({ "name": "后", "segment_id": segment, "control_bp": 0, "message_title": "后", "message_body": "后", "run_at": Utc::now() }))
        .await;
    entity::segments::Entity::delete_by_id(doomed.as_i64().unwrap()).exec(&app.ctx.db).await.unwrap();
    let runs = run_due(&app.ctx, Utc::now()).await.unwrap();
    assert_eq!((runs.campaigns, runs.messages), (1, 2));
    let failed = app.staff_ok(&marketing, &format!("/campaigns/{}", first["id"])).await;
    assert_eq!(failed["status"], "failed");
    assert!(failed["failure"].as_str().is_some_and(|f| f.contains("segment")), "{failed}");
    assert_eq!(app.staff_ok(&marketing, &format!("/campaigns/{}", second["id"])).await["status"], "done");
    assert_eq!(run_due(&app.ctx, Utc::now()).await.unwrap().campaigns, 0, "a campaign that gave up is not retried");
}
