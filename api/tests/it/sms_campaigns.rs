//! Campaigns that send SMS, through the real server and the sandbox's fakes of Aliyun and Tencent Cloud SMS (which
//! check our signatures, push or hold receipts, and take members' replies): only members who said yes get one, each
//! once, inside the sending hours and under the weekly cap; a lost answer is looked up, never blindly retried; a
//! reply "T" opts the member out; the send log accounts for every member; bad input changes nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc};
use reqwest::StatusCode;
use sandbox::SmsProvider;
use sea_orm::EntityTrait;
use serde_json::{Value, json};

use service::domain::Role;
use service::marketing::campaigns::run_due;
use service::marketing::sends::{dispatch_due, pull_due};

use crate::support::{STAFF, TestApp, assert_error, ok};

const MINI: &str = "/api/mini/v1";
const KEY_ID: &str = "LTAI5tTestKey";
const SECRET: &str = "TestSecretForSms";
const SIGN: &str = "悦己美发";

/// The merchant's SMS account, set by the owner through the api and known to the fake, with its pushes pointed
/// back at the api; and one approved template recorded by the marketing manager. Returns the template id.
async fn sms_account(app: &TestApp, provider: SmsProvider, weekly_cap: i32) -> i64 {
    let owner = app.token(Role::Owner).await;
    let marketing = app.token(Role::Marketing).await;
    let (name, app_id, template) = match provider {
        SmsProvider::Aliyun => ("aliyun", None, ("SMS_100001", "${name}您好，送您${coupon}，${days}天内有效，回T退订")),
        SmsProvider::Tencent => ("tencent", Some("1400000001"), ("100001", "{1}您好，送您{2}，{3}天内有效，回TD退订")),
    };
    app.fake.register_sms_account(provider, KEY_ID, SECRET, app_id, &[SIGN], &[template]);
    let body = json!({
        "provider": name, "access_key_id": KEY_ID, "secret": SECRET, "app_id": app_id, "sign_name": SIGN,
        // All day: the hours are tested on their own, at a time the test chooses.
        "weekly_cap": weekly_cap, "sms_from_min": 0, "sms_until_min": 1440,
    });
    let settings = ok(app.put(&format!("{STAFF}/sms/account"), &owner, body).await);
    assert!(settings["account"].get("secret").is_none(), "the secret is never shown: {settings}");
    if provider == SmsProvider::Aliyun {
        let url = |key: &str| settings["account"][key].as_str().expect("a push URL").to_owned();
        app.fake.set_aliyun_sms_callbacks(&url("report_url"), &url("reply_url"));
    }
    let body =
        json!({ "name": "到店礼", "code": template.0, "body": template.1, "variables": ["name", "coupon", "days"] });
    let recorded = app.staff_created(&marketing, "/sms/templates", body).await;
    assert!(recorded["preview"].as_str().unwrap().starts_with("【悦己美发】王女士您好"), "{recorded}");
    recorded["id"].as_i64().unwrap()
}

/// Members at the desk tagged `tag`, with phones `1370000NNNN` from `first`; each `consenting` one said yes to
/// marketing at the desk (recorded by the cashier at their request). Returns (member id, phone) and the segment.
async fn members(app: &TestApp, tag: &str, first: usize, count: usize, consenting: usize) -> (Vec<(i64, String)>, i64) {
    let cashier = app.token(Role::Cashier).await;
    let marketing = app.token(Role::Marketing).await;
    let mut made = Vec::new();
    for n in first..first + count {
        let phone = format!("1370000{n:04}");
        let body = json!({ "phone": phone, "name": "王芳", "gender": "female", "tags": [tag] });
        let id = app.staff_created(&cashier, "/members", body).await["id"].as_i64().unwrap();
        if n - first < consenting {
            let body = json!({ "purpose": "marketing", "granted": true });
            let consent = app.staff_created(&cashier, &format!("/members/{id}/consents"), body).await;
            assert_eq!((consent["channel"].as_str(), consent["recorded_by"].is_i64()), (Some("desk"), true));
        }
        made.push((id, phone));
    }
    let rule = json!({ "combine": "all", "criteria": [{ "kind": "tags", "tags": [tag] }] });
    let segment = app.staff_created(&marketing, "/segments", json!({ "name": tag, "rule": rule })).await;
    (made, segment["id"].as_i64().unwrap())
}

async fn coupon_template(app: &TestApp) -> i64 {
    let marketing = app.token(Role::Marketing).await;
    let body = json!({ "name": "满100减20券", "kind": "amount", "value_fen": 2000, "valid_days": 30 });
    app.staff_created(&marketing, "/coupon-templates", body).await["id"].as_i64().unwrap()
}

/// Schedules and runs a campaign with an SMS (and the coupon it names); returns its id.
async fn run_campaign(app: &TestApp, segment: i64, sms_template: i64, coupon: i64, control_bp: i32) -> i64 {
    let marketing = app.token(Role::Marketing).await;
    let body = json!({
        "name": "老客短信", "segment_id": segment, "coupon_template_id": coupon, "sms_template_id": sms_template,
        "control_bp": control_bp, "run_at": Utc::now(),
    });
    let id = app.staff_created(&marketing, "/campaigns", body).await["id"].as_i64().unwrap();
    assert_eq!(run_due(&app.ctx, Utc::now()).await.unwrap().campaigns, 1);
    id
}

/// The send log of a campaign: member → (status, reason).
async fn log(app: &TestApp, campaign: i64) -> BTreeMap<i64, (String, Option<String>)> {
    let marketing = app.token(Role::Marketing).await;
    let rows = app.staff_ok(&marketing, &format!("/campaigns/{campaign}/sends?channel=sms&limit=200")).await;
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let reason = r["reason"].as_str().map(str::to_owned);
            (r["member_id"].as_i64().unwrap(), (r["status"].as_str().unwrap().to_owned(), reason))
        })
        .collect()
}

fn sent_to(app: &TestApp) -> Vec<String> {
    app.fake.sms_sent().into_iter().map(|s| s.phone).collect()
}

#[tokio::test]
async fn an_sms_campaign_reaches_members_who_said_yes_once_and_every_send_is_accounted_for() {
    let app = TestApp::spawn().await;
    let template = sms_account(&app, SmsProvider::Aliyun, 3).await;
    let coupon = coupon_template(&app).await;
    // 40 members, 30 of them said yes; 20% control group.
    let (made, segment) = members(&app, "smsyes", 0, 40, 30).await;
    let consenting: BTreeSet<i64> = made[..30].iter().map(|(id, _)| *id).collect();
    let phone_of: BTreeMap<i64, String> = made.iter().cloned().collect();
    let campaign = run_campaign(&app, segment, template, coupon, 2000).await;
    let control: BTreeSet<i64> = entity::campaign_members::Entity::find()
        .all(&app.ctx.db)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.campaign_id == campaign && m.in_control)
        .map(|m| m.member_id)
        .collect();
    assert!(!control.is_empty() && control.len() < 20, "control {}", control.len());

    let done = dispatch_due(&app.ctx, Utc::now()).await.unwrap();
    let expected: BTreeSet<i64> = consenting.difference(&control).copied().collect();
    assert_eq!(done.sent, u64::try_from(expected.len()).unwrap(), "{done:?}");
    // The provider got one message per consenting treatment member, with the signature and the values filled in.
    let sent = app.fake.sms_sent();
    let phones: Vec<String> = sent.iter().map(|s| s.phone.clone()).collect();
    let wanted: BTreeSet<String> = expected.iter().map(|id| phone_of[id].clone()).collect();
    assert_eq!(phones.len(), wanted.len(), "each member once");
    assert_eq!(phones.iter().cloned().collect::<BTreeSet<_>>(), wanted);
    assert!(control.iter().all(|id| !phones.contains(&phone_of[id])), "the control group gets no SMS");
    assert_eq!(sent[0].content, "【悦己美发】王女士您好，送您满100减20券，30天内有效，回T退订");
    assert_eq!(sent[0].key.as_deref().map(|k| k.starts_with(&format!("hy{campaign}-"))), Some(true));

    // Aliyun pushes the receipts to the api: every sent message becomes delivered.
    assert!(app.fake.wait_for_notifications(StdDuration::from_secs(10)).await);
    let rows = log(&app, campaign).await;
    let treatment: BTreeSet<i64> = made.iter().map(|(id, _)| *id).filter(|id| !control.contains(id)).collect();
    assert_eq!(rows.keys().copied().collect::<BTreeSet<_>>(), treatment, "one row per treatment member");
    for (member, (status, reason)) in &rows {
        if expected.contains(member) {
            assert_eq!(status, "delivered", "member {member}");
        } else {
            assert_eq!((status.as_str(), reason.as_deref()), ("skipped", Some("no_consent")), "member {member}");
        }
    }
    // Ticking again sends nothing more.
    assert_eq!(dispatch_due(&app.ctx, Utc::now()).await.unwrap().sent, 0);
    assert_eq!(app.fake.sms_sent().len(), wanted.len());

    // A member replies "T": recorded as their SMS opt-out, with how it came.
    let (replier, replier_phone) =
        made.iter().find(|(id, _)| expected.contains(id)).cloned().expect("a member who got one");
    app.fake.sms_reply(SmsProvider::Aliyun, SIGN, &replier_phone, "T");
    assert!(app.fake.wait_for_notifications(StdDuration::from_secs(10)).await);
    let cashier = app.token(Role::Cashier).await;
    let record = app.staff_ok(&cashier, &format!("/members/{replier}/consents")).await;
    let last = record.as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["purpose"].as_str(), last["granted"].as_bool(), last["channel"].as_str()),
        (Some("sms"), Some(false), Some("sms_reply"))
    );

    // The next campaign: the replier is skipped as opted out; someone who withdraws after planning is skipped too.
    let campaign2 = run_campaign(&app, segment, template, coupon, 0).await;
    let withdrawer = *expected.iter().find(|id| **id != replier).unwrap();
    let body = json!({ "purpose": "marketing", "granted": false });
    app.staff_created(&cashier, &format!("/members/{withdrawer}/consents"), body).await;
    dispatch_due(&app.ctx, Utc::now()).await.unwrap();
    let rows = log(&app, campaign2).await;
    assert_eq!(rows[&replier], ("skipped".to_owned(), Some("sms_opted_out".to_owned())));
    assert_eq!(rows[&withdrawer], ("skipped".to_owned(), Some("no_consent".to_owned())));
    let twice: Vec<String> = sent_to(&app).into_iter().filter(|p| *p == replier_phone).collect();
    assert_eq!(twice.len(), 1, "the replier got the first message only");

    // Per member: what marketing sent them, across campaigns.
    let marketing = app.token(Role::Marketing).await;
    let theirs = app.staff_ok(&marketing, &format!("/members/{replier}/marketing-sends")).await;
    assert_eq!(theirs.as_array().unwrap().len(), 2);
    assert!(theirs[0]["phone"].as_str().unwrap().contains("****"), "the log shows numbers masked");
}

#[tokio::test]
async fn the_weekly_cap_and_the_sending_hours_hold_at_the_moment_of_sending() {
    let app = TestApp::spawn().await;
    let template = sms_account(&app, SmsProvider::Aliyun, 1).await;
    let coupon = coupon_template(&app).await;
    let (made, segment) = members(&app, "smscap", 100, 3, 3).await;
    let first = run_campaign(&app, segment, template, coupon, 0).await;
    dispatch_due(&app.ctx, Utc::now()).await.unwrap();
    assert!(log(&app, first).await.values().all(|(s, _)| s == "sent" || s == "delivered"));
    // A cap of one a week: the second campaign is skipped for all of them.
    let second = run_campaign(&app, segment, template, coupon, 0).await;
    dispatch_due(&app.ctx, Utc::now()).await.unwrap();
    assert!(log(&app, second).await.values().all(|(s, r)| s == "skipped" && r.as_deref() == Some("weekly_cap")));

    // Hours 08:00–21:00 (Shanghai) and a cap of five. Dispatched at 22:30: held until 08:00, then sent.
    let owner = app.token(Role::Owner).await;
    let body = json!({
        "provider": "aliyun", "access_key_id": KEY_ID, "sign_name": SIGN, "weekly_cap": 5,
        "sms_from_min": 480, "sms_until_min": 1260,
    });
    ok(app.put(&format!("{STAFF}/sms/account"), &owner, body).await);
    let third = run_campaign(&app, segment, template, coupon, 0).await;
    let shanghai = chrono_tz::Asia::Shanghai;
    let day = (Utc::now() + Duration::days(1)).with_timezone(&shanghai).date_naive();
    let at = |h, m| -> DateTime<Utc> {
        shanghai.from_local_datetime(&day.and_time(NaiveTime::from_hms_opt(h, m, 0).unwrap())).unwrap().to_utc()
    };
    let before = app.fake.sms_sent().len();
    let late = dispatch_due(&app.ctx, at(22, 30)).await.unwrap();
    assert_eq!((late.sent, late.held), (0, 3));
    let marketing = app.token(Role::Marketing).await;
    let held = app.staff_ok(&marketing, &format!("/campaigns/{third}/sends")).await;
    let opens = at(8, 0) + Duration::days(1);
    for row in held.as_array().unwrap() {
        assert_eq!((row["status"].as_str(), row["reason"].as_str()), (Some("queued"), Some("quiet_hours")));
        assert_eq!(row["not_before"].as_str().map(|t| t.parse::<DateTime<Utc>>().unwrap()), Some(opens));
    }
    assert_eq!(dispatch_due(&app.ctx, opens - Duration::minutes(1)).await.unwrap().sent, 0, "not before 08:00");
    assert_eq!(dispatch_due(&app.ctx, opens).await.unwrap().sent, 3);
    assert_eq!(app.fake.sms_sent().len(), before + 3);

    // A campaign stopped while its messages wait for the hours: they are skipped, none goes.
    let fourth = run_campaign(&app, segment, template, coupon, 0).await;
    assert_eq!(dispatch_due(&app.ctx, at(22, 30)).await.unwrap().held, 3);
    let stopped = ok(app.post(&format!("{STAFF}/campaigns/{fourth}/stop"), &marketing, json!({})).await);
    assert_eq!(stopped["status"], "done");
    assert_eq!(dispatch_due(&app.ctx, opens).await.unwrap().sent, 0);
    let rows = log(&app, fourth).await;
    assert_eq!(rows.len(), made.len());
    assert!(rows.values().all(|(s, r)| s == "skipped" && r.as_deref() == Some("campaign_stopped")), "{rows:?}");
    assert_eq!(app.fake.sms_sent().len(), before + 3);
    // One not run yet cannot be stopped (it is cancelled).
    let body = json!({ "name": "明天", "segment_id": segment, "sms_template_id": template, "coupon_template_id": coupon, "run_at": Utc::now() + Duration::days(1) });
    let tomorrow = app.staff_created(&marketing, "/campaigns", body).await["id"].as_i64().unwrap();
    let answer = app.post(&format!("{STAFF}/campaigns/{tomorrow}/stop"), &marketing, json!({})).await;
    assert_error(&answer, StatusCode::CONFLICT, "campaign_state");
}

#[tokio::test]
async fn a_send_whose_answer_was_lost_is_looked_up_and_each_member_gets_exactly_one() {
    let app = TestApp::spawn().await;
    let template = sms_account(&app, SmsProvider::Aliyun, 3).await;
    let coupon = coupon_template(&app).await;
    let (made, segment) = members(&app, "smslost", 200, 4, 4).await;
    let campaign = run_campaign(&app, segment, template, coupon, 0).await;
    // The provider takes the first message but answers too late: the dispatcher dies waiting (its future is
    // dropped, as a killed process would leave it), with the rest of its batch claimed and not handed over. No
    // receipt reaches us (the push goes nowhere), so only asking the provider can tell whether it went.
    app.fake.set_aliyun_sms_callbacks("http://127.0.0.1:9/report", "http://127.0.0.1:9/reply");
    app.fake.answer_sms_late(1, StdDuration::from_secs(5));
    let killed = tokio::time::timeout(StdDuration::from_secs(2), dispatch_due(&app.ctx, Utc::now())).await;
    assert!(killed.is_err(), "the dispatcher was stopped mid-send");
    assert_eq!(app.fake.sms_sent().len(), 1, "the provider took one message");
    let statuses: BTreeSet<String> = log(&app, campaign).await.into_values().map(|(s, _)| s).collect();
    assert_eq!(statuses, BTreeSet::from(["sending".to_owned()]));

    // A restart before the claim lapses does nothing with them.
    assert_eq!(dispatch_due(&app.ctx, Utc::now()).await.unwrap().sent, 0);
    // After it lapses: the one handed over is looked up (Aliyun lists it) and counts as sent; the others go.
    let later = Utc::now() + Duration::minutes(3);
    let first = dispatch_due(&app.ctx, later).await.unwrap();
    assert_eq!((first.resolved, first.sent), (1, 3), "{first:?}");
    let done = dispatch_due(&app.ctx, later).await.unwrap();
    assert_eq!((done.sent, done.resolved), (0, 0), "{done:?}");
    let phones = sent_to(&app);
    for (_, phone) in &made {
        assert_eq!(phones.iter().filter(|p| *p == phone).count(), 1, "{phone} got exactly one");
    }
    let rows = log(&app, campaign).await;
    let looked_up = made.first().map(|(id, _)| rows[id].0.clone());
    assert_eq!(looked_up.as_deref(), Some("delivered"), "found at the provider, delivered: {rows:?}");
    assert!(rows.values().all(|(s, _)| s == "sent" || s == "delivered"), "{rows:?}");
}

#[tokio::test]
async fn tencent_receipts_and_replies_are_pulled_and_a_td_opts_out() {
    let app = TestApp::spawn().await;
    let template = sms_account(&app, SmsProvider::Tencent, 3).await;
    let coupon = coupon_template(&app).await;
    let (made, segment) = members(&app, "smstc", 300, 3, 3).await;
    app.fake.fail_sms_to(&made[2].1);
    let campaign = run_campaign(&app, segment, template, coupon, 0).await;
    assert_eq!(dispatch_due(&app.ctx, Utc::now()).await.unwrap().sent, 3);
    let sent = app.fake.sms_sent();
    assert_eq!(sent[0].params.iter().map(|(_, v)| v.as_str()).collect::<Vec<_>>(), ["王女士", "满100减20券", "30"]);
    // Receipts wait at Tencent until pulled.
    assert!(log(&app, campaign).await.values().all(|(s, _)| s == "sent"));
    app.fake.sms_reply(SmsProvider::Tencent, SIGN, &made[0].1, "TD");
    let pulled = pull_due(&app.ctx, Utc::now()).await.unwrap();
    assert_eq!((pulled["receipts"].as_u64(), pulled["opted_out"].as_u64()), (Some(3), Some(1)), "{pulled}");
    let rows = log(&app, campaign).await;
    assert_eq!(rows[&made[0].0].0, "delivered");
    assert_eq!(rows[&made[2].0], ("failed".to_owned(), Some("MK:0001".to_owned())));
    let cashier = app.token(Role::Cashier).await;
    let record = app.staff_ok(&cashier, &format!("/members/{}/consents", made[0].0)).await;
    assert_eq!(record.as_array().unwrap().last().unwrap()["channel"], "sms_reply");
    // Pulled once: nothing more arrives.
    let again = pull_due(&app.ctx, Utc::now()).await.unwrap();
    assert_eq!((again["receipts"].as_u64(), again["opted_out"].as_u64()), (Some(0), Some(0)));
}

#[tokio::test]
async fn members_choose_per_purpose_in_the_app_and_a_refusal_of_personalised_marketing_is_honoured() {
    let app = TestApp::spawn().await;
    let template = sms_account(&app, SmsProvider::Aliyun, 3).await;
    let coupon = coupon_template(&app).await;
    let (token, member) = app.member_token("sms-app-member").await;
    let answers = ok(app.get(&format!("{MINI}/me/consents"), &token).await);
    let purposes: Vec<&str> = answers.as_array().unwrap().iter().map(|a| a["purpose"].as_str().unwrap()).collect();
    assert_eq!(purposes, ["marketing", "sms", "personalised"]);
    assert!(answers.as_array().unwrap().iter().all(|a| a["answer"].is_null() && a["wording"].is_string()));
    ok(app.put(&format!("{MINI}/me/consents/marketing"), &token, json!({ "granted": true })).await);
    let answers = ok(app.put(&format!("{MINI}/me/consents/personalised"), &token, json!({ "granted": false })).await);
    assert_eq!(answers[2]["answer"]["granted"], false);
    assert_error(
        &app.put(&format!("{MINI}/me/consents/fax"), &token, json!({ "granted": true })).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );

    let cashier = app.token(Role::Cashier).await;
    ok(app.put(&format!("{STAFF}/members/{member}/tags"), &cashier, json!({ "tags": ["smsapp"] })).await);
    let marketing = app.token(Role::Marketing).await;
    let rule = json!({ "combine": "all", "criteria": [{ "kind": "tags", "tags": ["smsapp"] }] });
    let segment = app.staff_created(&marketing, "/segments", json!({ "name": "app", "rule": rule })).await["id"]
        .as_i64()
        .unwrap();
    let campaign = run_campaign(&app, segment, template, coupon, 0).await;
    dispatch_due(&app.ctx, Utc::now()).await.unwrap();
    let rows = log(&app, campaign).await;
    assert_eq!(rows[&member], ("skipped".to_owned(), Some("personalisation_refused".to_owned())));
}

#[tokio::test]
async fn bad_sms_input_gets_a_clear_error_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let owner = app.token(Role::Owner).await;
    let marketing = app.token(Role::Marketing).await;
    let put = |body: Value| {
        let app = &app;
        let owner = owner.clone();
        async move { app.put(&format!("{STAFF}/sms/account"), &owner, body).await }
    };
    // No account yet: a template cannot be recorded.
    let body = json!({ "name": "x", "code": "SMS_1", "body": "您好，回T退订", "variables": [] });
    assert_error(
        &app.post(&format!("{STAFF}/sms/templates"), &marketing, body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    );
    for (body, field) in [
        (json!({ "provider": "huawei", "access_key_id": "k", "secret": "s", "sign_name": "悦己" }), "provider"),
        (json!({ "provider": "aliyun", "access_key_id": "k", "sign_name": "悦己" }), "secret"),
        (json!({ "provider": "tencent", "access_key_id": "k", "secret": "s", "sign_name": "悦己" }), "app_id"),
        (json!({ "provider": "aliyun", "access_key_id": "k", "secret": "s", "sign_name": "【悦己】" }), "sign_name"),
        (
            json!({ "provider": "aliyun", "access_key_id": "k", "secret": "s", "sign_name": "悦己", "sms_from_min": 1300, "sms_until_min": 480 }),
            "sms_until_min",
        ),
        (
            json!({ "provider": "aliyun", "access_key_id": "k", "secret": "s", "sign_name": "悦己", "weekly_cap": 0 }),
            "weekly_cap",
        ),
    ] {
        let answer = put(body).await;
        assert_error(&answer, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
        assert!(answer.1["message"].as_str().unwrap().starts_with(field), "{field}: {}", answer.1);
    }
    let unknown =
        put(json!({ "provider": "aliyun", "access_key_id": "k", "secret": "s", "sign_name": "悦己", "extra": 1 }))
            .await;
    assert_error(&unknown, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    // Marketing may record templates, not set the account (it holds a secret).
    let body = json!({ "provider": "aliyun", "access_key_id": "k", "secret": "s", "sign_name": "悦己" });
    assert_eq!(app.put(&format!("{STAFF}/sms/account"), &marketing, body).await.0, StatusCode::FORBIDDEN);
    assert_eq!(app.count("sms_accounts").await, 0);

    let template = sms_account(&app, SmsProvider::Aliyun, 3).await;
    for (body, field) in [
        (json!({ "name": "x", "code": "SMS_2", "body": "${name}您好，新品上市", "variables": ["name"] }), "body"),
        (json!({ "name": "x", "code": "SMS_3", "body": "${name}您好，回T退订", "variables": [] }), "variables"),
        (json!({ "name": "x", "code": "SMS_4", "body": "您好，回T退订", "variables": ["balance"] }), "variables"),
        (json!({ "name": "x", "code": "SMS 5", "body": "您好，回T退订", "variables": [] }), "code"),
    ] {
        let answer = app.post(&format!("{STAFF}/sms/templates"), &marketing, body).await;
        assert_error(&answer, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
        assert!(answer.1["message"].as_str().unwrap().starts_with(field), "{field}: {}", answer.1);
    }
    assert_eq!(app.count("sms_templates").await, 1);
    // A campaign whose SMS names a coupon must carry one; another merchant's template is not ours.
    let (_, segment) = members(&app, "smsbad", 400, 1, 1).await;
    let body = json!({ "name": "x", "segment_id": segment, "sms_template_id": template, "run_at": Utc::now() });
    let answer = app.post(&format!("{STAFF}/campaigns"), &marketing, body).await;
    assert_error(&answer, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    let body = json!({ "name": "x", "segment_id": segment, "sms_template_id": template + 1000, "run_at": Utc::now() });
    assert_error(
        &app.post(&format!("{STAFF}/campaigns"), &marketing, body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    );
    assert_eq!(app.count("campaigns").await, 0);
    // Pushes: an unknown token is not found; a body that is no push is refused; neither changes anything.
    let client = reqwest::Client::new();
    let answer = client.post(app.url("/callbacks/sms/aliyun/nosuchtoken/report")).body("[]").send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::NOT_FOUND);
    let settings = app.staff_ok(&marketing, "/sms/account").await;
    let report = settings["account"]["report_url"].as_str().unwrap().to_owned();
    let answer = client.post(&report).body("{\"not\":\"a list\"}").send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // A test send to a staff phone arrives, and only there.
    let tested = app
        .staff_posted(&marketing, &format!("/sms/templates/{template}/test"), json!({ "phone": "13912345678" }))
        .await;
    assert_eq!(tested["sent"], true, "{tested}");
    assert_eq!(sent_to(&app), ["13912345678"]);
    let answer =
        app.post(&format!("{STAFF}/sms/templates/{template}/test"), &marketing, json!({ "phone": "123" })).await;
    assert_error(&answer, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    assert_eq!(app.count("marketing_sends").await, 0);
}
