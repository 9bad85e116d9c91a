//! Appointments through the real server: schedules, slot search, booking under concurrency, the lifecycle,
//! time zones with daylight saving, check-in to a bill, the day board, and reminders through the outbox.

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, Utc};
use reqwest::StatusCode;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter,
};
use serde_json::{Value, json};

use service::domain::Role;

use crate::support::{MINI, STAFF, TestApp, WECHAT_APPID, assert_error, ok};

const MY_BOOKINGS: &str = "/api/mini/v1/me/bookings";

/// A store set up through the schedule API, in a zone where it is about 10:00 now, so that "today" has hours left
/// whatever the time of the run: open 08:00–22:00 every day, three stylists on shift all day.
struct Salon {
    store: i64,
    owner: String,
    /// Hours east of UTC.
    offset: i32,
    today: NaiveDate,
    stylists: Vec<i64>,
    /// 60 minutes, no extras.
    cut: i64,
    /// 120 minutes; the colour develops from 30 to 90 minutes in; 10 minutes clean-up.
    colour: i64,
    /// 60 minutes on a massage bed (one at this store).
    massage: i64,
}

impl Salon {
    /// `hh:mm` local on `days` after today, as UTC.
    fn at(&self, days: i64, hh: u32, mm: u32) -> DateTime<Utc> {
        let zone = FixedOffset::east_opt(self.offset * 3600).unwrap();
        (self.today + Duration::days(days)).and_hms_opt(hh, mm, 0).unwrap().and_local_timezone(zone).unwrap().to_utc()
    }
}

fn every_day(from: &str, to: &str) -> Value {
    json!({ "windows": (1..=7).map(|d| json!({ "weekday": d, "from": from, "to": to })).collect::<Vec<_>>() })
}

async fn salon(app: &TestApp) -> Salon {
    let owner = app.token(Role::Owner).await;
    // Local time about 10:xx: hours east of UTC in -12..=14.
    let hour = i32::try_from(chrono::Timelike::hour(&Utc::now())).unwrap();
    let mut offset = 10 - hour;
    if offset < -12 {
        offset += 24;
    }
    let zone = match offset {
        0 => "Etc/GMT".to_owned(),
        o if o > 0 => format!("Etc/GMT-{o}"),
        o => format!("Etc/GMT+{}", -o),
    };
    let store = ok(app
        .post(
            &format!("{STAFF}/stores"),
            &owner,
            json!({ "name": "预约测试店", "address": "测试路 1 号", "phone": "021-1", "timezone": zone }),
        )
        .await)["id"]
        .as_i64()
        .unwrap();
    ok(app.put(&format!("{STAFF}/stores/{store}/hours"), &owner, every_day("08:00", "22:00")).await);
    let service = |name: &str, minutes: i32, extra: Value| {
        let mut body = json!({ "category": "美发", "name": name, "duration_min": minutes, "price_fen": 10_000 });
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        body
    };
    let cut = ok(app.post(&format!("{STAFF}/services"), &owner, service("预约剪发", 60, json!({}))).await)["id"]
        .as_i64()
        .unwrap();
    let colour_body = service(
        "预约染发",
        120,
        json!({ "buffer_min": 10, "processing": { "offset_min": 30, "length_min": 60 }, "substances": ["PPD"] }),
    );
    let colour = ok(app.post(&format!("{STAFF}/services"), &owner, colour_body).await)["id"].as_i64().unwrap();
    let massage_body = service("预约按摩", 60, json!({ "resource_kind": "massage_bed" }));
    let massage = ok(app.post(&format!("{STAFF}/services"), &owner, massage_body).await)["id"].as_i64().unwrap();
    ok(app
        .post(
            &format!("{STAFF}/stores/{store}/resources"),
            &owner,
            json!({ "name": "按摩床", "kind": "massage_bed", "capacity": 1 }),
        )
        .await);
    let mut stylists = Vec::new();
    for name in ["stylist-a", "stylist-b", "stylist-c"] {
        let body = json!({ "username": name, "display_name": name, "role": "technician", "password": "stylist-password-1", "store_ids": [store] });
        let id = ok(app.post(&format!("{STAFF}/staff"), &owner, body).await)["id"].as_i64().unwrap();
        ok(app.put(&format!("{STAFF}/stores/{store}/staff/{id}/shifts"), &owner, every_day("08:00", "22:00")).await);
        let skills = json!({ "skills": [{ "service_item_id": cut }, { "service_item_id": colour }, { "service_item_id": massage }] });
        ok(app.put(&format!("{STAFF}/staff/{id}/skills"), &owner, skills).await);
        stylists.push(id);
    }
    let today = (Utc::now() + Duration::hours(i64::from(offset))).date_naive();
    Salon { store, owner, offset, today, stylists, cut, colour, massage }
}

fn booking(salon: &Salon, service: i64, at: DateTime<Utc>, staff: Option<i64>) -> Value {
    json!({ "store_id": salon.store, "service_ids": [service], "starts_at": at, "staff_id": staff })
}

/// Slot search for one staff member (or anyone) on a day: the local starts.
async fn slots(app: &TestApp, token: &str, path: &str, query: &str) -> Vec<Value> {
    ok(app.get(&format!("{path}?{query}"), token).await)["slots"].as_array().unwrap().clone()
}

/// A member signed in through WeChat (so reminders can reach them), with the subscription answer `accept` for the
/// demo's reminder template recorded when `subscribe`.
async fn wechat_member(app: &TestApp, openid: &str, subscribe: bool) -> String {
    let code = app.fake.wechat_login_code(WECHAT_APPID, openid, None);
    let body = json!({ "appid": WECHAT_APPID, "code": code });
    let session = ok(app.call(reqwest::Method::POST, &format!("{MINI}/sessions/wechat"), None, Some(body)).await);
    let token = session["token"].as_str().unwrap().to_owned();
    if subscribe {
        let answers = json!({ "answers": { service::demo::DEMO_REMINDER_TEMPLATE: "accept" } });
        ok(app.post(&format!("{MINI}/me/subscriptions"), &token, answers).await);
    }
    token
}

#[tokio::test]
async fn a_member_finds_a_slot_books_is_reminded_and_is_checked_in() {
    let app = TestApp::spawn().await;
    let salon = salon(&app).await;
    let openid = "o-booker-1";
    let member = wechat_member(&app, openid, false).await;

    // Free starts for the stylist tomorrow: every 15 minutes from 08:00 to 21:00 for a 60-minute cut.
    let path = format!("{MINI}/stores/{}/slots", salon.store);
    let query = format!(
        "service_ids={}&staff_id={}&from={}&days=1",
        salon.cut,
        salon.stylists[0],
        salon.today + Duration::days(1)
    );
    let tomorrow = slots(&app, &member, &path, &query).await;
    assert_eq!(tomorrow.len(), (21 - 8) * 4 + 1);
    assert_eq!(tomorrow[0]["starts_at"], json!(salon.at(1, 8, 0)));
    assert!(
        tomorrow[0]["local_starts_at"].as_str().unwrap().ends_with(&format!("T08:00:00{}", fmt_offset(salon.offset)))
    );

    // The app asks for a reminder subscription; the member accepts.
    let templates = ok(app.get(&format!("{MINI}/subscriptions/templates"), &member).await);
    let template = templates[0]["template_id"].as_str().unwrap().to_owned();
    app.fake.grant_subscription(WECHAT_APPID, openid, &template);
    let open = ok(app
        .post(&format!("{MINI}/me/subscriptions"), &member, json!({ "answers": { template.clone(): "accept" } }))
        .await);
    assert_eq!(open[0]["remaining"], 1);

    // Book today at 12:00 with anyone.
    let (status, booked) =
        app.post(&format!("{MINI}/me/bookings"), &member, booking(&salon, salon.cut, salon.at(0, 12, 0), None)).await;
    assert_eq!(status, StatusCode::CREATED, "{booked}");
    assert_eq!(booked["status"], "booked");
    assert_eq!(booked["assigned_by"], "least_busy");
    assert_eq!(booked["ends_at"], json!(salon.at(0, 13, 0)));
    let id = booked["id"].as_i64().unwrap();
    let mine = ok(app.get(&format!("{MINI}/me/bookings"), &member).await);
    assert_eq!(mine.as_array().unwrap().len(), 1);
    assert!(mine[0]["member"].is_null() && mine[0]["member_record"].is_null(), "members see no staff notes");

    // The reminder job: the member's reminder is due two hours before; the booking was made yesterday.
    let staff_id = booked["staff_id"].as_i64().unwrap();
    ok(app
        .put(&format!("{STAFF}/staff/{staff_id}/notify-phone"), &salon.owner, json!({ "phone": "13900000001" }))
        .await);
    ok(app
        .patch(
            &format!("{STAFF}/stores/{}/booking-settings", salon.store),
            &salon.owner,
            json!({ "staff_reminder_min": 180 }),
        )
        .await);
    backdate_booking(&app, id, Duration::days(1)).await;
    let scheduler = jobs::standard_scheduler(app.ctx.clone()).unwrap();
    let run = scheduler.run_now("reminders.send").await.unwrap();
    assert_eq!(run.status, "succeeded", "{:?}", run.error);
    let sent = app.fake.subscribe_messages();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].touser, openid);
    assert_eq!(sent[0].template_id, template);
    let field = |key: &str| sent[0].data.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()).unwrap();
    assert_eq!(field("thing1"), "预约剪发");
    assert!(field("time2").ends_with("12:00"), "{:?}", sent[0].data);
    let outbox = ok(app.get(&format!("{STAFF}/notifications?booking_id={id}"), &salon.owner).await);
    let statuses: Vec<(&str, &str)> = outbox
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["channel"].as_str().unwrap(), n["status"].as_str().unwrap()))
        .collect();
    assert_eq!(statuses.len(), 2, "{outbox}");
    assert!(statuses.contains(&("wechat_subscribe", "sent")) && statuses.contains(&("sms", "logged")), "{outbox}");
    // The subscription is used up, and the next run sends nothing again.
    let rerun = scheduler.run_now("reminders.send").await.unwrap();
    assert_eq!(rerun.status, "succeeded");
    assert_eq!(app.fake.subscribe_messages().len(), 1);
    assert_eq!(app.count("notification_outbox").await, 2);
    // A manager of another store reads none of these messages, asked by the booking or not.
    let elsewhere = app.token(Role::Manager).await;
    let theirs = ok(app.get(&format!("{STAFF}/notifications?booking_id={id}"), &elsewhere).await);
    assert_eq!(theirs, json!([]));
    let all_theirs = ok(app.get(&format!("{STAFF}/notifications"), &elsewhere).await);
    assert!(all_theirs.as_array().unwrap().iter().all(|n| n["booking_id"] != id), "{all_theirs}");

    // At the desk: the day board shows it; check-in opens a parked bill with the stylist.
    let board = ok(app.get(&format!("{STAFF}/stores/{}/day-board", salon.store), &salon.owner).await);
    assert_eq!(board["date"], json!(salon.today));
    let column = board["columns"].as_array().unwrap().iter().find(|c| c["staff_id"] == staff_id).unwrap().clone();
    assert_eq!(column["bookings"][0]["id"], id);
    assert!(column["bookings"][0]["member"].is_string());
    let arrived = ok(app.post(&format!("{STAFF}/bookings/{id}/check-in"), &salon.owner, json!({})).await);
    assert_eq!(arrived["status"], "arrived");
    let bill_id = arrived["bill_id"].as_i64().unwrap();
    let bill = ok(app.get(&format!("{STAFF}/bills/{bill_id}"), &salon.owner).await);
    assert_eq!(bill["status"], "parked");
    assert_eq!(
        (bill["subtotal_fen"].as_i64(), bill["note"].as_str()),
        (Some(10_000), Some(format!("预约 #{id}").as_str())),
        "{bill}"
    );
    // Checking in twice (a double click) opens no second bill.
    let bills = app.count("bills").await;
    let again = ok(app.post(&format!("{STAFF}/bookings/{id}/check-in"), &salon.owner, json!({})).await);
    assert_eq!((again["bill_id"].as_i64(), again["duplicate"].as_bool()), (Some(bill_id), Some(true)));
    assert_eq!(app.count("bills").await, bills);
    let done = ok(app.post(&format!("{STAFF}/bookings/{id}/complete"), &salon.owner, json!({})).await);
    assert_eq!(done["status"], "completed");
}

fn fmt_offset(offset: i32) -> String {
    if offset == 0 {
        "+00:00".to_owned()
    } else {
        format!("{}{:02}:00", if offset > 0 { '+' } else { '-' }, offset.abs())
    }
}

async fn backdate_booking(app: &TestApp, id: i64, by: Duration) {
    let row = entity::bookings::Entity::find_by_id(id).one(&app.ctx.db).await.unwrap().unwrap();
    let created = row.created_at - by;
    let mut active = row.into_active_model();
    active.created_at = Set(created);
    active.update(&app.ctx.db).await.unwrap();
}

#[tokio::test]
async fn fifty_concurrent_requests_for_one_stylist_and_time_make_exactly_one_booking() {
    let app = TestApp::spawn().await;
    let salon = salon(&app).await;
    let mut members = Vec::new();
    for i in 0..50 {
        members.push(app.member_token(&format!("racer-{i}")).await.0);
    }
    let body = booking(&salon, salon.cut, salon.at(1, 15, 0), Some(salon.stylists[1]));
    let answers =
        futures_util::future::join_all(members.iter().map(|token| app.post(MY_BOOKINGS, token, body.clone()))).await;
    let made = answers.iter().filter(|(status, _)| *status == StatusCode::CREATED).count();
    assert_eq!(made, 1, "{:?}", answers.iter().map(|a| a.0).collect::<Vec<_>>());
    for answer in answers.iter().filter(|(status, _)| *status != StatusCode::CREATED) {
        assert_error(answer, StatusCode::CONFLICT, "slot_taken");
    }
    assert_eq!(app.count("bookings").await, 1);
    // The same for "anyone" against the three stylists: exactly three bookings at 16:00.
    let anyone = booking(&salon, salon.cut, salon.at(1, 16, 0), None);
    let answers = futures_util::future::join_all(
        members.iter().take(20).map(|token| app.post(MY_BOOKINGS, token, anyone.clone())),
    )
    .await;
    let made: Vec<i64> = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::CREATED)
        .map(|(_, b)| b["staff_id"].as_i64().unwrap())
        .collect();
    assert_eq!(made.len(), 3, "one per stylist");
    let mut staff = made.clone();
    staff.sort_unstable();
    staff.dedup();
    assert_eq!(staff.len(), 3, "never two at once with one stylist");
}

#[tokio::test]
async fn a_second_tap_is_the_same_booking() {
    let app = TestApp::spawn().await;
    let salon = salon(&app).await;
    let (member, _) = app.member_token("double-tapper").await;
    let body = booking(&salon, salon.cut, salon.at(1, 9, 0), None);
    let (a, b) =
        tokio::join!(app.post(MY_BOOKINGS, &member, body.clone()), app.post(MY_BOOKINGS, &member, body.clone()));
    assert_eq!(a.1["id"], b.1["id"], "{} {}", a.1, b.1);
    assert!(a.0.is_success() && b.0.is_success(), "{} {}", a.1, b.1);
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::CREATED]);
    assert!(a.1["duplicate"] != b.1["duplicate"]);
    assert_eq!(app.count("bookings").await, 1);

    // With an idempotency key: the retry is the same booking; the key on another booking is refused.
    let mut keyed = booking(&salon, salon.cut, salon.at(1, 11, 0), None);
    keyed["idempotency_key"] = json!("tap-0000002");
    let first = app.post(&format!("{MINI}/me/bookings"), &member, keyed.clone()).await;
    assert_eq!(first.0, StatusCode::CREATED);
    let again = app.post(&format!("{MINI}/me/bookings"), &member, keyed.clone()).await;
    assert_eq!((again.0, &again.1["id"]), (StatusCode::OK, &first.1["id"]));
    keyed["starts_at"] = json!(salon.at(1, 12, 0));
    assert_error(
        &app.post(&format!("{MINI}/me/bookings"), &member, keyed).await,
        StatusCode::CONFLICT,
        "idempotency_key_reused",
    );
    assert_eq!(app.count("bookings").await, 2);
}

#[tokio::test]
async fn bad_input_gets_a_clear_error_and_books_nothing() {
    let app = TestApp::spawn().await;
    let salon = salon(&app).await;
    let (member, _) = app.member_token("careless").await;
    let post = |body: Value| {
        let member = member.clone();
        let app = &app;
        async move { app.post(&format!("{MINI}/me/bookings"), &member, body).await }
    };
    let invalid = StatusCode::UNPROCESSABLE_ENTITY;
    // A slot in the past.
    assert_error(&post(booking(&salon, salon.cut, salon.at(-1, 12, 0), None)).await, invalid, "invalid_input");
    // Off the 15-minute grid, and not a whole minute.
    assert_error(&post(booking(&salon, salon.cut, salon.at(1, 12, 7), None)).await, invalid, "invalid_input");
    let seconds = salon.at(1, 12, 0) + Duration::seconds(30);
    assert_error(&post(booking(&salon, salon.cut, seconds, None)).await, invalid, "invalid_input");
    // A service the stylist can't do: the demo's perm is not among their skills.
    let (_, services) = app.get(&format!("{STAFF}/services"), &salon.owner).await;
    let perm = services.as_array().unwrap().iter().find(|s| s["name"] == "烫发").unwrap()["id"].as_i64().unwrap();
    let refused = post(booking(&salon, perm, salon.at(1, 12, 0), Some(salon.stylists[0]))).await;
    assert_error(&refused, invalid, "invalid_input");
    assert!(refused.1["message"].as_str().unwrap().contains("烫发"), "{}", refused.1);
    // ... nor anyone here.
    assert_error(&post(booking(&salon, perm, salon.at(1, 12, 0), None)).await, invalid, "invalid_input");
    // A closed day.
    let closed = salon.today + Duration::days(2);
    assert_eq!(
        app.post(
            &format!("{STAFF}/stores/{}/closures", salon.store),
            &salon.owner,
            json!({ "date": closed, "reason": "盘点" })
        )
        .await
        .0,
        StatusCode::NO_CONTENT
    );
    let on_closed = post(booking(&salon, salon.cut, salon.at(2, 12, 0), None)).await;
    assert_error(&on_closed, invalid, "invalid_input");
    assert!(on_closed.1["message"].as_str().unwrap().contains("closed"), "{}", on_closed.1);
    let query = format!("service_ids={}&from={closed}&days=1", salon.cut);
    assert!(slots(&app, &member, &format!("{MINI}/stores/{}/slots", salon.store), &query).await.is_empty());
    // Another store's staff member: the demo's 小美 works at 徐家汇店.
    let (_, staff) = app.get(&format!("{STAFF}/staff"), &salon.owner).await;
    let elsewhere =
        staff.as_array().unwrap().iter().find(|s| s["username"] == "demo-tech3").unwrap()["id"].as_i64().unwrap();
    assert_error(
        &post(booking(&salon, salon.cut, salon.at(1, 12, 0), Some(elsewhere))).await,
        invalid,
        "invalid_input",
    );
    // Outside opening hours; an unknown service; another merchant's store; too far ahead.
    assert_error(&post(booking(&salon, salon.cut, salon.at(1, 21, 30), None)).await, invalid, "invalid_input");
    assert_error(&post(booking(&salon, 999_999, salon.at(1, 12, 0), None)).await, invalid, "invalid_input");
    let (_, other_owner) = app.other_merchant().await;
    let other_store = ok(app.post(&format!("{STAFF}/stores"), &other_owner, json!({ "name": "别家店" })).await)["id"]
        .as_i64()
        .unwrap();
    let mut foreign = booking(&salon, salon.cut, salon.at(1, 12, 0), None);
    foreign["store_id"] = json!(other_store);
    assert_error(&post(foreign).await, invalid, "invalid_input");
    assert_error(&post(booking(&salon, salon.cut, salon.at(40, 12, 0), None)).await, invalid, "invalid_input");
    // Bad schedule input changes nothing either.
    let bad_hours = json!({ "windows": [{ "weekday": 1, "from": "10:00", "to": "09:00" }] });
    assert_error(
        &app.put(&format!("{STAFF}/stores/{}/hours", salon.store), &salon.owner, bad_hours).await,
        invalid,
        "invalid_input",
    );
    let overlapping = json!({ "windows": [{ "weekday": 1, "from": "10:00", "to": "14:00" }, { "weekday": 1, "from": "13:00", "to": "18:00" }] });
    assert_error(
        &app.put(&format!("{STAFF}/stores/{}/hours", salon.store), &salon.owner, overlapping).await,
        invalid,
        "invalid_input",
    );
    let garbled = json!({ "windows": [{ "weekday": 1, "from": "25:00", "to": "26:00" }] });
    assert_error(
        &app.put(&format!("{STAFF}/stores/{}/hours", salon.store), &salon.owner, garbled).await,
        invalid,
        "invalid_input",
    );
    let technician = app.token(Role::Technician).await;
    assert_error(
        &app.put(&format!("{STAFF}/stores/{}/hours", salon.store), &technician, every_day("09:00", "10:00")).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    let schedule = ok(app.get(&format!("{STAFF}/stores/{}/schedule", salon.store), &salon.owner).await);
    assert_eq!(schedule["hours"].as_array().unwrap().len(), 7);
    assert_eq!(schedule["hours"][0]["from"], "08:00");
    assert_eq!(app.count("bookings").await, 0);
    assert_eq!(app.count("booking_holds").await, 0);
}

#[tokio::test]
async fn anyone_is_assigned_by_the_store_policy() {
    let app = TestApp::spawn().await;
    let salon = salon(&app).await;
    let (member, member_id) = app.member_token("regular").await;
    let store_path = format!("{STAFF}/stores/{}", salon.store);
    // Least busy: stylist a has two bookings tomorrow, b one, c none → c, then b ...
    let desk = |at: DateTime<Utc>, staff: i64| {
        let mut body = booking(&salon, salon.cut, at, Some(staff));
        body["member_id"] = json!(member_id);
        body
    };
    for (at, staff) in [(salon.at(1, 8, 0), 0), (salon.at(1, 9, 0), 0), (salon.at(1, 10, 0), 1)] {
        ok(app.post(&format!("{STAFF}/bookings"), &salon.owner, desk(at, salon.stylists[staff])).await);
    }
    let query = format!("service_ids={}&from={}&days=1", salon.cut, salon.today + Duration::days(1));
    let offered = slots(&app, &member, &format!("{MINI}/stores/{}/slots", salon.store), &query).await;
    let at_noon = offered.iter().find(|s| s["starts_at"] == json!(salon.at(1, 12, 0))).unwrap();
    assert_eq!(
        (at_noon["staff_id"].as_i64().unwrap(), at_noon["assigned_by"].as_str().unwrap()),
        (salon.stylists[2], "least_busy")
    );

    // Rotation (轮钟): "anyone" bookings go round the stylists in turn (chosen ones take no turn).
    ok(app
        .patch(&format!("{store_path}/booking-settings"), &salon.owner, json!({ "anyone_policy": "rotation" }))
        .await);
    let mut turns = Vec::new();
    for i in 0..2 {
        let (token, _) = app.member_token(&format!("walk-in-{i}")).await;
        let b = ok(app.post(MY_BOOKINGS, &token, booking(&salon, salon.cut, salon.at(1, 13, 0), None)).await);
        turns.push(b["staff_id"].as_i64().unwrap());
    }
    assert_eq!(turns, [salon.stylists[0], salon.stylists[1]]);
    let offered = slots(&app, &member, &format!("{MINI}/stores/{}/slots", salon.store), &query).await;
    let at_noon = offered.iter().find(|s| s["starts_at"] == json!(salon.at(1, 12, 0))).unwrap();
    assert_eq!(
        (at_noon["staff_id"].as_i64().unwrap(), at_noon["assigned_by"].as_str().unwrap()),
        (salon.stylists[2], "rotation")
    );

    // The member's usual stylist: the one they were booked with most (a).
    ok(app.patch(&format!("{store_path}/booking-settings"), &salon.owner, json!({ "anyone_policy": "usual" })).await);
    let booked = ok(app
        .post(&format!("{MINI}/me/bookings"), &member, booking(&salon, salon.cut, salon.at(1, 14, 0), None))
        .await);
    assert_eq!(
        (booked["staff_id"].as_i64().unwrap(), booked["assigned_by"].as_str().unwrap()),
        (salon.stylists[0], "usual")
    );
    assert_error(
        &app.patch(&format!("{store_path}/booking-settings"), &salon.owner, json!({ "anyone_policy": "random" })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    );
}

#[tokio::test]
async fn a_colour_developing_frees_the_stylist_and_beds_limit_massages() {
    let app = TestApp::spawn().await;
    let salon = salon(&app).await;
    let (member, member_id) = app.member_token("colour").await;
    let stylist = salon.stylists[0];
    ok(app
        .post(&format!("{MINI}/me/bookings"), &member, booking(&salon, salon.colour, salon.at(1, 10, 0), Some(stylist)))
        .await);
    // 10:00–12:00 colour, developing 10:30–11:30: a 30-minute slot fits only inside the developing time... a cut
    // is 60 minutes, so exactly 10:30 fits (10:30–11:30), 10:15 and 10:45 do not.
    let query = format!("service_ids={}&staff_id={stylist}&from={}&days=1", salon.cut, salon.today + Duration::days(1));
    let offered: Vec<Value> = slots(&app, &member, &format!("{MINI}/stores/{}/slots", salon.store), &query)
        .await
        .into_iter()
        .map(|s| s["starts_at"].clone())
        .collect();
    assert!(offered.contains(&json!(salon.at(1, 10, 30))));
    for taken in [salon.at(1, 10, 0), salon.at(1, 10, 15), salon.at(1, 10, 45), salon.at(1, 11, 45)] {
        assert!(!offered.contains(&json!(taken)), "{taken} offered");
    }
    // 12:00–12:10 is clean-up: the next start is 12:15.
    assert!(offered.contains(&json!(salon.at(1, 12, 15))) && !offered.contains(&json!(salon.at(1, 12, 0))));
    let (other, _) = app.member_token("squeezed-in").await;
    let squeezed = app
        .post(&format!("{MINI}/me/bookings"), &other, booking(&salon, salon.cut, salon.at(1, 10, 30), Some(stylist)))
        .await;
    assert_eq!(squeezed.0, StatusCode::CREATED, "{}", squeezed.1);

    // One massage bed: two massages at once with two free stylists still make one booking.
    let (third, _) = app.member_token("massage").await;
    ok(app
        .post(
            &format!("{MINI}/me/bookings"),
            &third,
            booking(&salon, salon.massage, salon.at(1, 15, 0), Some(salon.stylists[1])),
        )
        .await);
    let mut desk = booking(&salon, salon.massage, salon.at(1, 15, 30), Some(salon.stylists[2]));
    desk["member_id"] = json!(member_id);
    assert_error(&app.post(&format!("{STAFF}/bookings"), &salon.owner, desk).await, StatusCode::CONFLICT, "slot_taken");
    let query = format!("service_ids={}&from={}&days=1", salon.massage, salon.today + Duration::days(1));
    let beds: Vec<Value> = slots(&app, &member, &format!("{MINI}/stores/{}/slots", salon.store), &query)
        .await
        .into_iter()
        .map(|s| s["starts_at"].clone())
        .collect();
    assert!(!beds.contains(&json!(salon.at(1, 15, 30))) && beds.contains(&json!(salon.at(1, 16, 0))));
    // A second bed makes room.
    ok(app
        .post(
            &format!("{STAFF}/stores/{}/resources", salon.store),
            &salon.owner,
            json!({ "name": "二号床", "kind": "massage_bed", "capacity": 1 }),
        )
        .await);
    let mut desk = booking(&salon, salon.massage, salon.at(1, 15, 30), Some(salon.stylists[2]));
    desk["member_id"] = json!(member_id);
    assert_eq!(app.post(&format!("{STAFF}/bookings"), &salon.owner, desk).await.0, StatusCode::CREATED);
}

#[tokio::test]
async fn leave_and_extra_shifts_change_what_is_offered() {
    let app = TestApp::spawn().await;
    let salon = salon(&app).await;
    let stylist = salon.stylists[0];
    let day = salon.today + Duration::days(1);
    let query = format!("service_ids={}&staff_id={stylist}&from={day}&days=1", salon.cut);
    let path = format!("{STAFF}/stores/{}/slots", salon.store);
    let leave =
        json!({ "staff_id": stylist, "date": day, "kind": "leave", "from": "12:00", "to": "15:00", "note": "看牙" });
    let exception =
        ok(app.post(&format!("{STAFF}/stores/{}/shift-exceptions", salon.store), &salon.owner, leave).await);
    let offered: Vec<Value> =
        slots(&app, &salon.owner, &path, &query).await.into_iter().map(|s| s["starts_at"].clone()).collect();
    assert!(offered.contains(&json!(salon.at(1, 11, 0))) && !offered.contains(&json!(salon.at(1, 11, 15))));
    assert!(!offered.contains(&json!(salon.at(1, 14, 0))) && offered.contains(&json!(salon.at(1, 15, 0))));
    let board = ok(app
        .get(&format!("{STAFF}/stores/{}/day-board?date={day}&staff_id={stylist}", salon.store), &salon.owner)
        .await);
    assert_eq!(board["columns"].as_array().unwrap().len(), 1);
    assert_eq!(board["columns"][0]["leave"].as_array().unwrap().len(), 1);
    let id = exception["id"].as_i64().unwrap();
    assert_eq!(app.delete(&format!("{STAFF}/shift-exceptions/{id}"), &salon.owner).await.0, StatusCode::NO_CONTENT);
    let whole_day = json!({ "staff_id": stylist, "date": day, "kind": "leave" });
    ok(app.post(&format!("{STAFF}/stores/{}/shift-exceptions", salon.store), &salon.owner, whole_day).await);
    assert!(slots(&app, &salon.owner, &path, &query).await.is_empty());
}

#[tokio::test]
async fn a_store_in_a_daylight_saving_zone_keeps_real_durations() {
    let app = TestApp::spawn().await;
    let salon = salon(&app).await;
    let store = salon.store;
    ok(app.patch(&format!("{STAFF}/stores/{store}"), &salon.owner, json!({ "timezone": "America/New_York" })).await);
    ok(app.put(&format!("{STAFF}/stores/{store}/hours"), &salon.owner, every_day("00:00", "06:00")).await);
    ok(app
        .patch(&format!("{STAFF}/stores/{store}/booking-settings"), &salon.owner, json!({ "granularity_min": 30 }))
        .await);
    let stylist = salon.stylists[0];
    ok(app
        .put(&format!("{STAFF}/stores/{store}/staff/{stylist}/shifts"), &salon.owner, every_day("00:00", "06:00"))
        .await);
    let count = |day: &str| {
        let query = format!("service_ids={}&staff_id={stylist}&from={day}&days=1", salon.cut);
        let path = format!("{STAFF}/stores/{store}/slots");
        let owner = salon.owner.clone();
        let app = &app;
        async move { slots(app, &owner, &path, &query).await }
    };
    // 00:00–06:00 local is 5 real hours on the spring-forward day, 6 on a plain day, 7 when clocks fall back.
    let spring = count("2027-03-14").await;
    let plain = count("2027-03-21").await;
    let autumn = count("2027-11-07").await;
    assert_eq!((spring.len(), plain.len(), autumn.len()), (9, 11, 13));
    assert_eq!(spring[0]["local_starts_at"], "2027-03-14T00:00:00-05:00");
    assert_eq!(spring.last().unwrap()["local_starts_at"], "2027-03-14T05:00:00-04:00");
    let instants: Vec<DateTime<Utc>> =
        autumn.iter().map(|s| s["starts_at"].as_str().unwrap().parse().unwrap()).collect();
    assert!(instants.windows(2).all(|w| w[1] - w[0] == Duration::minutes(30)), "real half hours through the repeat");
    // A booking across the change lasts its real hour.
    let (_, member_id) = app.member_token("night-owl").await;
    let at: DateTime<Utc> = "2027-03-14T06:30:00Z".parse().unwrap(); // 01:30 EST
    let mut body = json!({ "store_id": store, "member_id": member_id, "service_ids": [salon.cut], "starts_at": at, "staff_id": stylist });
    let booked = ok(app.post(&format!("{STAFF}/bookings"), &salon.owner, body.clone()).await);
    assert_eq!(booked["local_starts_at"], "2027-03-14T01:30:00-05:00");
    assert_eq!(booked["local_ends_at"], "2027-03-14T03:30:00-04:00");
    // Half an hour into it (03:00 EDT, one real half hour after 01:30 EST) the stylist is still busy.
    let (_, other) = app.member_token("night-owl-2").await;
    body["member_id"] = json!(other);
    body["starts_at"] = json!("2027-03-14T03:00:00-04:00");
    assert_error(&app.post(&format!("{STAFF}/bookings"), &salon.owner, body).await, StatusCode::CONFLICT, "slot_taken");
}

#[tokio::test]
async fn cancelling_late_and_not_coming_count_against_the_member() {
    let app = TestApp::spawn().await;
    let salon = salon(&app).await;
    let (member, member_id) = app.member_token("flaky").await;
    // Within the two-hour cutoff: a late cancellation; the member can no longer move it.
    let soon = ok(app
        .post(&format!("{MINI}/me/bookings"), &member, booking(&salon, salon.cut, salon.at(0, 11, 45), None))
        .await);
    let soon_id = soon["id"].as_i64().unwrap();
    assert_error(
        &app.post(
            &format!("{MINI}/me/bookings/{soon_id}/reschedule"),
            &member,
            json!({ "starts_at": salon.at(0, 15, 0) }),
        )
        .await,
        StatusCode::CONFLICT,
        "booking_cutoff_passed",
    );
    let cancelled =
        ok(app.post(&format!("{MINI}/me/bookings/{soon_id}/cancel"), &member, json!({ "reason": "临时有事" })).await);
    assert_eq!(
        (cancelled["status"].as_str().unwrap(), cancelled["late_cancel"].as_bool().unwrap()),
        ("cancelled", true)
    );
    assert_error(
        &app.post(&format!("{MINI}/me/bookings/{soon_id}/cancel"), &member, json!({})).await,
        StatusCode::CONFLICT,
        "booking_state",
    );
    // Outside it: moved freely (once more to a taken time is refused), cancelled without counting.
    let later = ok(app
        .post(&format!("{MINI}/me/bookings"), &member, booking(&salon, salon.cut, salon.at(1, 12, 0), None))
        .await);
    let later_id = later["id"].as_i64().unwrap();
    let moved = ok(app
        .post(&format!("{MINI}/me/bookings/{later_id}/reschedule"), &member, json!({ "starts_at": salon.at(1, 13, 0) }))
        .await);
    assert_eq!((moved["starts_at"].clone(), moved["reschedules"].as_i64().unwrap()), (json!(salon.at(1, 13, 0)), 1));
    let mut blocker = booking(&salon, salon.cut, salon.at(1, 16, 0), Some(moved["staff_id"].as_i64().unwrap()));
    blocker["member_id"] = json!(member_id);
    ok(app.post(&format!("{STAFF}/bookings"), &salon.owner, blocker).await);
    assert_error(
        &app.post(
            &format!("{MINI}/me/bookings/{later_id}/reschedule"),
            &member,
            json!({ "starts_at": salon.at(1, 16, 30) }),
        )
        .await,
        StatusCode::CONFLICT,
        "slot_taken",
    );
    let fine = ok(app.post(&format!("{MINI}/me/bookings/{later_id}/cancel"), &member, json!({})).await);
    assert_eq!(fine["late_cancel"], false);
    // A booking not yet started cannot be a no-show; the nightly close marks yesterday's live bookings.
    let today_booking = ok(app
        .post(&format!("{MINI}/me/bookings"), &member, booking(&salon, salon.cut, salon.at(0, 18, 0), None))
        .await);
    let today_id = today_booking["id"].as_i64().unwrap();
    assert_error(
        &app.post(&format!("{STAFF}/bookings/{today_id}/no-show"), &salon.owner, json!({})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    );
    shift_booking(&app, today_id, Duration::days(-1)).await;
    let scheduler = jobs::standard_scheduler(app.ctx.clone()).unwrap();
    let names: Vec<String> = scheduler.jobs().await.unwrap().into_iter().map(|j| j.name).collect();
    let zoned = names
        .iter()
        .find(|n| n.starts_with("bookings.close_day@Etc/"))
        .expect("a close job in the salon's zone")
        .clone();
    assert!(names.contains(&"bookings.close_day@Asia/Shanghai".to_owned()), "{names:?}");
    // The job closes the local day before its tick: yesterday, where the booking now is.
    let run = scheduler.run_now(&zoned).await.unwrap();
    assert_eq!(run.status, "succeeded", "{:?}", run.error);
    let closed = ok(app.get(&format!("{STAFF}/bookings/{today_id}"), &salon.owner).await);
    assert_eq!(closed["status"], "no_show", "{closed} after {}", run.counts);
    // The desk sees the record on the member's next booking.
    let mut next = booking(&salon, salon.cut, salon.at(2, 12, 0), None);
    next["member_id"] = json!(member_id);
    let seen = ok(app.post(&format!("{STAFF}/bookings"), &salon.owner, next).await);
    assert_eq!(seen["member_record"], json!({ "no_shows": 1, "late_cancellations": 1 }));
}

/// Moves a booking (and its items and holds) by `by`: time passing, for the nightly close.
async fn shift_booking(app: &TestApp, id: i64, by: Duration) {
    let row = entity::bookings::Entity::find_by_id(id).one(&app.ctx.db).await.unwrap().unwrap();
    let (starts, ends) = (row.starts_at + by, row.ends_at + by);
    let mut active = row.into_active_model();
    active.starts_at = Set(starts);
    active.ends_at = Set(ends);
    active.created_at = Set(starts - Duration::days(1));
    active.update(&app.ctx.db).await.unwrap();
}

#[tokio::test]
async fn allergies_show_at_booking_and_check_in() {
    let app = TestApp::spawn().await;
    let salon = salon(&app).await;
    let (_, found) =
        app.post(&format!("{STAFF}/members/lookup"), &salon.owner, json!({ "query": "13800000002" })).await;
    let member_id = found["id"].as_i64().unwrap();
    let mut body = booking(&salon, salon.colour, salon.at(0, 13, 0), None);
    body["member_id"] = json!(member_id);
    let booked = ok(app.post(&format!("{STAFF}/bookings"), &salon.owner, body).await);
    assert_eq!(booked["status"], "confirmed", "desk bookings need no confirmation");
    assert_eq!(booked["allergies"][0]["substance"], "PPD", "{booked}");
    let id = booked["id"].as_i64().unwrap();
    let arrived = ok(app.post(&format!("{STAFF}/bookings/{id}/check-in"), &salon.owner, json!({})).await);
    assert_eq!(arrived["allergies"][0]["severity"], "severe");
    // The station's ticket prints at check-in, with the warning in bold.
    let ticket = crate::bridge::printed_lines(&app, "appointment_ticket", id).await;
    assert!(ticket.iter().any(|l| l.contains("预约服务单")), "{ticket:?}");
    assert!(ticket.iter().any(|l| l == "[bold] 预约染发：PPD（severe）"), "{ticket:?}");
    assert!(ticket.iter().any(|l| l.starts_with("顾客") && l.ends_with("王*")), "{ticket:?}");
    let bill = ok(app.get(&format!("{STAFF}/bills/{}", arrived["bill_id"]), &salon.owner).await);
    assert_eq!(bill["member_id"], member_id);
    // A booking for another day cannot be checked in today.
    let mut tomorrow = booking(&salon, salon.cut, salon.at(1, 13, 0), None);
    tomorrow["member_id"] = json!(member_id);
    let later = ok(app.post(&format!("{STAFF}/bookings"), &salon.owner, tomorrow).await);
    assert_error(
        &app.post(&format!("{STAFF}/bookings/{}/check-in", later["id"]), &salon.owner, json!({})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    );
    // Another merchant sees none of it.
    let (_, other_owner) = app.other_merchant().await;
    assert_error(&app.get(&format!("{STAFF}/bookings/{id}"), &other_owner).await, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn reminder_refusals_are_recorded_once_and_sms_takes_over() {
    let app = TestApp::spawn().await;
    let salon = salon(&app).await;
    // It is 10:xx at the salon: remind five hours ahead, so every booking from 12:00 on is due now.
    let early = json!({ "member_reminder_min": 300 });
    ok(app.patch(&format!("{STAFF}/stores/{}/booking-settings", salon.store), &salon.owner, early).await);
    let ctx = &app.ctx;
    // WeChat members: one whose acceptance WeChat never saw (43101), one with a template field WeChat would refuse.
    let mut booked = Vec::new();
    for (i, openid) in (0_u32..).zip(["o-refused", "o-no-sub"]) {
        let token = wechat_member(&app, openid, i == 0).await;
        let at = salon.at(0, 12, i * 15);
        let b = ok(app.post(&format!("{MINI}/me/bookings"), &token, booking(&salon, salon.cut, at, None)).await);
        booked.push(b["id"].as_i64().unwrap());
    }
    // A desk booking for a member with a phone and no WeChat: SMS.
    let (_, found) =
        app.post(&format!("{STAFF}/members/lookup"), &salon.owner, json!({ "query": "13800000004" })).await;
    let mut desk = booking(&salon, salon.cut, salon.at(0, 12, 30), None);
    desk["member_id"] = found["id"].clone();
    booked.push(ok(app.post(&format!("{STAFF}/bookings"), &salon.owner, desk).await)["id"].as_i64().unwrap());
    for id in &booked {
        backdate_booking(&app, *id, Duration::days(1)).await;
    }
    let now = Utc::now();
    let decided = service::booking::reminders::enqueue_due(ctx, now).await.unwrap();
    assert_eq!(
        decided.queued, 2,
        "{decided:?}: the refused one and the SMS; the member with no subscription has no phone"
    );
    let delivered = service::notifications::outbox::deliver_due(ctx, now, 100).await.unwrap();
    // The SMS went to the embedded default's log channel: logged, not sent (no phone got it).
    assert_eq!((delivered.sent, delivered.logged, delivered.failed), (0, 1, 1), "{delivered:?}");
    let outbox = ok(app.get(&format!("{STAFF}/notifications?booking_id={}", booked[0]), &salon.owner).await);
    assert_eq!(
        (outbox[0]["status"].as_str(), outbox[0]["error_code"].as_str()),
        (Some("failed"), Some("43101")),
        "{outbox}"
    );
    assert_eq!(outbox[0]["attempts"], 1);
    // No retry storm: later runs leave it alone and write nothing new.
    for minutes in [1, 5, 30] {
        service::booking::reminders::enqueue_due(ctx, now + Duration::minutes(minutes)).await.unwrap();
        let again =
            service::notifications::outbox::deliver_due(ctx, now + Duration::minutes(minutes), 100).await.unwrap();
        assert_eq!(again, service::notifications::outbox::Delivered::default());
    }
    let none = ok(app.get(&format!("{STAFF}/notifications?booking_id={}", booked[1]), &salon.owner).await);
    assert_eq!(none[0]["status"], "skipped", "{none}");
    let sms = ok(app.get(&format!("{STAFF}/notifications?booking_id={}", booked[2]), &salon.owner).await);
    assert_eq!((sms[0]["channel"].as_str(), sms[0]["status"].as_str()), (Some("sms"), Some("logged")), "{sms}");
    assert!(app.fake.subscribe_messages().is_empty());

    // A template whose field WeChat would refuse: recorded as a field-rule failure, nothing sent.
    let bad = json!({ "template_id": service::demo::DEMO_REMINDER_TEMPLATE, "fields": { "number1": "services" } });
    ok(app.put(&format!("{STAFF}/merchant/booking-reminder"), &salon.owner, bad).await);
    let token = wechat_member(&app, "o-field", true).await;
    let b = ok(app
        .post(&format!("{MINI}/me/bookings"), &token, booking(&salon, salon.cut, salon.at(0, 14, 0), None))
        .await);
    let id = b["id"].as_i64().unwrap();
    backdate_booking(&app, id, Duration::days(1)).await;
    service::booking::reminders::enqueue_due(ctx, Utc::now()).await.unwrap();
    let rule = ok(app.get(&format!("{STAFF}/notifications?booking_id={id}"), &salon.owner).await);
    assert_eq!(
        (rule[0]["status"].as_str(), rule[0]["error_code"].as_str()),
        (Some("failed"), Some("field_rule")),
        "{rule}"
    );
    // An unknown source in a template is refused when it is set.
    let unknown = json!({ "template_id": "t", "fields": { "thing1": "weather" } });
    assert_error(
        &app.put(&format!("{STAFF}/merchant/booking-reminder"), &salon.owner, unknown).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    );
}

#[tokio::test]
async fn a_reminder_run_killed_mid_send_sends_each_message_once() {
    let app = TestApp::spawn().await;
    let salon = salon(&app).await;
    // It is 10:xx at the salon: remind five hours ahead, so every booking from 12:00 on is due now.
    let early = json!({ "member_reminder_min": 300 });
    ok(app.patch(&format!("{STAFF}/stores/{}/booking-settings", salon.store), &salon.owner, early).await);
    let ctx = app.ctx.clone();
    let mut ids = Vec::new();
    for i in 0..3u32 {
        let openid = format!("o-kill-{i}");
        app.fake.grant_subscription(WECHAT_APPID, &openid, service::demo::DEMO_REMINDER_TEMPLATE);
        let token = wechat_member(&app, &openid, true).await;
        let b = ok(app
            .post(&format!("{MINI}/me/bookings"), &token, booking(&salon, salon.cut, salon.at(0, 12, i * 15), None))
            .await);
        ids.push(b["id"].as_i64().unwrap());
    }
    for id in &ids {
        backdate_booking(&app, *id, Duration::days(1)).await;
    }
    let now = Utc::now();
    service::booking::reminders::enqueue_due(&ctx, now).await.unwrap();
    // WeChat answers slowly; the run is killed while the first message is in flight.
    app.fake.set_subscribe_delay(std::time::Duration::from_secs(3));
    let sends_before = app.fake.calls("subscribe_send");
    let run = tokio::spawn({
        let ctx = ctx.clone();
        async move { service::notifications::outbox::deliver_due(&ctx, now, 100).await }
    });
    // Killed once the first message is claimed and WeChat has it (and holds the answer for 3 s).
    for _ in 0..150 {
        let sending = entity::notification_outbox::Entity::find()
            .filter(entity::notification_outbox::Column::Status.eq("sending"))
            .count(&ctx.db)
            .await
            .unwrap();
        if sending == 1 && app.fake.calls("subscribe_send") > sends_before {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    run.abort();
    assert!(run.await.unwrap_err().is_cancelled());
    app.fake.set_subscribe_delay(std::time::Duration::ZERO);
    // A restarted run right away leaves the claimed message alone (its claim has not run out)...
    let restarted = service::notifications::outbox::deliver_due(&ctx, now + Duration::seconds(1), 100).await.unwrap();
    assert_eq!(restarted.sent, 2, "{restarted:?}");
    // ... and sends it once its claim has run out.
    let claim = Duration::seconds(ctx.settings.notifications.claim_secs + 1);
    let later = service::notifications::outbox::deliver_due(&ctx, now + claim, 100).await.unwrap();
    assert_eq!(later.sent, 1, "{later:?}");
    assert_eq!(service::notifications::outbox::deliver_due(&ctx, now + claim * 2, 100).await.unwrap().sent, 0);
    let mut recipients: Vec<String> = app.fake.subscribe_messages().into_iter().map(|m| m.touser).collect();
    recipients.sort();
    assert_eq!(recipients, ["o-kill-0", "o-kill-1", "o-kill-2"], "each message exactly once");
    let sent = entity::notification_outbox::Entity::find()
        .filter(entity::notification_outbox::Column::Status.eq("sent"))
        .all(&ctx.db)
        .await
        .unwrap();
    assert_eq!(sent.len(), 3);
}

#[tokio::test]
async fn a_members_export_holds_everything_held_about_them() {
    let app = TestApp::spawn().await;
    let salon = salon(&app).await;
    let owner = &salon.owner;
    let token = wechat_member(&app, "export-openid", true).await;
    let member = ok(app.get(&format!("{MINI}/me"), &token).await)["id"].as_i64().unwrap();
    ok(app.post(MY_BOOKINGS, &token, booking(&salon, salon.cut, salon.at(1, 12, 0), None)).await);
    let recharge = json!({ "store_id": salon.store, "amount_fen": 20_000, "tender": "cash", "idempotency_key": "export-recharge-1" });
    ok(app.post(&format!("{STAFF}/members/{member}/stored-value/recharges"), owner, recharge).await);
    let card = json!({ "name": "剪发3次卡", "price_fen": 30_000, "sessions": 3, "service_item_ids": [salon.cut] });
    let card = ok(app.post(&format!("{STAFF}/card-products"), owner, card).await)["id"].as_i64().unwrap();
    let bill = json!({
        "store_id": salon.store, "member_id": member, "idempotency_key": "export-bill-1",
        "lines": [{ "item_id": salon.cut }, { "kind": "card_sale", "item_id": card }],
        "tenders": [{ "kind": "stored_value", "amount_fen": 10_000 }, { "kind": "cash", "amount_fen": 30_000 }],
    });
    let settled = ok(app.post(&format!("{STAFF}/bills"), owner, bill).await);
    let plans = ok(app.get(&format!("{STAFF}/recharge-plans"), owner).await);
    let plan = plans[0]["id"].as_i64().unwrap();
    let started =
        json!({ "provider": "wechatpay", "store_id": salon.store, "plan_id": plan, "idempotency_key": "export-pay-1" });
    ok(app.post("/api/mini/v1/me/payments/recharges", &token, started).await);

    let export = ok(app.get(&format!("{STAFF}/members/{member}/export"), owner).await);
    let bills = export["bills"].as_array().unwrap();
    assert_eq!(bills.len(), 1, "{export}");
    assert_eq!(
        (bills[0]["total_fen"].clone(), bills[0]["lines"].as_array().unwrap().len()),
        (settled["total_fen"].clone(), 2)
    );
    assert_eq!(bills[0]["lines"][0]["name"], "预约剪发");
    assert_eq!(export["bookings"][0]["services"], json!(["预约剪发"]), "{export}");
    assert_eq!(export["stored_value"]["principal_fen"], 10_000, "{export}");
    let movements: Vec<&str> =
        export["stored_value"]["entries"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(movements.len(), 2, "the recharge and the bill: {movements:?}");
    assert!(export["points_lots"][0]["points"].as_i64().unwrap() > 0, "{export}");
    assert_eq!(export["count_cards"][0]["sessions_left"], 3, "{export}");
    assert_eq!(export["payments"][0]["provider"], "wechatpay", "{export}");
    let consents = &export["consents"]["message_subscriptions"];
    assert_eq!(consents[0]["template_id"], service::demo::DEMO_REMINDER_TEMPLATE, "{export}");
    // The member asks for it in the mini-program: the same document.
    let own = ok(app.get("/api/mini/v1/me/export", &token).await);
    assert_eq!((own["bills"].clone(), own["payments"].clone()), (export["bills"].clone(), export["payments"].clone()));

    // Refunds with their reasons, and which card's session paid a line, are in it too.
    let line = settled["lines"][0]["id"].clone();
    let refund = json!({ "lines": [{ "line_id": line, "quantity": 1 }], "reason": "剪得不满意", "idempotency_key": "export-refund-1" });
    ok(app.post(&format!("{STAFF}/bills/{}/refunds", settled["id"]), owner, refund).await);
    let held = ok(app.get(&format!("{STAFF}/members/{member}/count-cards"), owner).await)[0]["id"].clone();
    let session = json!({
        "store_id": salon.store, "member_id": member, "idempotency_key": "export-session-1",
        "lines": [{ "item_id": salon.cut, "count_card_id": held }], "tenders": [],
    });
    ok(app.post(&format!("{STAFF}/bills"), owner, session).await);
    let export = ok(app.get(&format!("{STAFF}/members/{member}/export"), owner).await);
    let bills = export["bills"].as_array().unwrap();
    assert_eq!(
        (bills[0]["refunds"][0]["reason"].as_str(), bills[0]["refunds"][0]["kind"].as_str()),
        (Some("剪得不满意"), Some("refund")),
        "{export}"
    );
    assert_eq!(bills[1]["lines"][0]["count_card_id"], held, "{export}");
    assert_eq!(export["count_cards"][0]["sessions_left"], 2, "{export}");
}

#[tokio::test]
async fn anonymising_a_member_cancels_their_bookings_ahead_and_forgets_their_messages() {
    let app = TestApp::spawn().await;
    let salon = salon(&app).await;
    let openid = "o-forget-me";
    let member = wechat_member(&app, openid, false).await;
    let (stylist, at) = (salon.stylists[0], salon.at(1, 12, 0));
    let booked =
        ok(app.post(&format!("{MINI}/me/bookings"), &member, booking(&salon, salon.cut, at, Some(stylist))).await);
    let (id, member_id) = (booked["id"].as_i64().unwrap(), booked["member_id"].as_i64().unwrap());
    // Someone else cannot have that stylist then.
    let other = wechat_member(&app, "o-next-in-line", false).await;
    let same = booking(&salon, salon.cut, at, Some(stylist));
    assert_error(
        &app.post(&format!("{MINI}/me/bookings"), &other, same.clone()).await,
        StatusCode::CONFLICT,
        "slot_taken",
    );
    // A reminder waiting to go to them, holding their openid.
    let now = Utc::now();
    entity::notification_outbox::ActiveModel {
        merchant_id: Set(app.seed.merchant_id),
        channel: Set("wechat_subscribe".into()),
        purpose: Set("member_reminder".into()),
        booking_id: Set(Some(id)),
        recipient: Set(format!("member:{member_id}")),
        dedupe_key: Set(format!("test-forget-{id}")),
        payload: Set(json!({ "touser": openid, "template_id": "t", "page": null, "data": [] }).to_string()),
        status: Set("pending".into()),
        attempts: Set(0),
        next_attempt_at: Set(now + Duration::hours(1)),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&app.ctx.db)
    .await
    .unwrap();
    // And one to the stylist about the booking, naming the member.
    entity::notification_outbox::ActiveModel {
        merchant_id: Set(app.seed.merchant_id),
        channel: Set("sms".into()),
        purpose: Set("staff_reminder".into()),
        booking_id: Set(Some(id)),
        recipient: Set(format!("staff:{stylist}")),
        dedupe_key: Set(format!("test-forget-staff-{id}")),
        payload: Set(json!({ "text": "明天 12:00 走查会员 剪发" }).to_string()),
        status: Set("pending".into()),
        attempts: Set(0),
        next_attempt_at: Set(now + Duration::hours(1)),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&app.ctx.db)
    .await
    .unwrap();

    let (status, _) = app.post(&format!("{STAFF}/members/{member_id}/anonymise"), &salon.owner, json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // The booking ahead is cancelled (not counted as a late cancellation) and its time is free again.
    let gone = ok(app.get(&format!("{STAFF}/bookings/{id}"), &salon.owner).await);
    assert_eq!((gone["status"].as_str(), gone["late_cancel"].as_bool()), (Some("cancelled"), Some(false)), "{gone}");
    assert_eq!(app.post(&format!("{MINI}/me/bookings"), &other, same).await.0, StatusCode::CREATED);
    // No message keeps their openid, and the one not sent will not be.
    let messages = entity::notification_outbox::Entity::find()
        .filter(entity::notification_outbox::Column::Recipient.eq(format!("member:{member_id}")))
        .all(&app.ctx.db)
        .await
        .unwrap();
    assert!(!messages.is_empty());
    for message in &messages {
        assert!(!message.payload.contains(openid), "{message:?}");
        assert_eq!((message.status.as_str(), message.error_code.as_deref()), ("skipped", Some("member_anonymised")));
    }
    // The stylist's reminder about the cancelled booking is withdrawn and keeps no text about the member.
    let to_staff = entity::notification_outbox::Entity::find()
        .filter(entity::notification_outbox::Column::Recipient.eq(format!("staff:{stylist}")))
        .one(&app.ctx.db)
        .await
        .unwrap()
        .expect("the staff reminder");
    assert_eq!((to_staff.status.as_str(), to_staff.payload.as_str()), ("skipped", "{}"), "{to_staff:?}");
    // And the anonymisation says what it cancelled.
    let log = ok(app.get(&format!("{STAFF}/audit-log?limit=10"), &salon.owner).await);
    let entry = log.as_array().unwrap().iter().find(|e| e["action"] == "member.anonymised").expect("audited");
    assert_eq!(entry["detail"]["bookings_cancelled"], json!([id]));
}
