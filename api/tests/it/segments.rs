//! Segments through the real server: each criterion chooses exactly the members it should on both databases, rules
//! join criteria with AND and OR, saved segments take coupons, and bad rules change nothing.

use std::collections::BTreeSet;

use chrono::{Datelike, Duration, Timelike, Utc};
use reqwest::StatusCode;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use service::domain::Role;

use crate::support::{STAFF, TestApp, assert_error, ok};

/// Four members tagged `segtest`, with visits (settled washes) this many days ago:
/// - `regular`: 60, 40 and 20 days ago (every 20 days, last 20 days ago);
/// - `lapsed`: 100 days ago, paying two bills at once (one visit);
/// - `never`: never;
/// - `overdue`: 100 and 70 days ago (every 30 days, waiting 70).
struct Cast {
    regular: i64,
    lapsed: i64,
    never: i64,
    overdue: i64,
    wash_price: i64,
}

async fn cast(app: &TestApp) -> Cast {
    let cashier = app.token(Role::Cashier).await;
    let services = app.staff_ok(&cashier, "/services").await;
    let wash = services.as_array().unwrap().iter().find(|s| s["name"] == "洗剪吹").unwrap().clone();
    let (wash_id, wash_price) = (wash["id"].as_i64().unwrap(), wash["price_fen"].as_i64().unwrap());
    let mut ids = Vec::new();
    for (index, phone) in ["13900005001", "13900005002", "13900005003", "13900005004"].iter().enumerate() {
        let body = json!({ "phone": phone, "name": format!("人群{index}"), "tags": ["segtest"] });
        ids.push(app.staff_created(&cashier, "/members", body).await["id"].as_i64().unwrap());
    }
    let visits: [(i64, &[i64]); 3] = [(ids[0], &[60, 40, 20]), (ids[1], &[100, 100]), (ids[3], &[100, 70])];
    let now = Utc::now();
    for (member, days) in visits {
        for (n, days_ago) in days.iter().enumerate() {
            let body = json!({
                "store_id": app.seed.store_ids[0], "member_id": member, "idempotency_key": format!("seg-{member}-{n}"),
                "lines": [{ "item_id": wash_id }], "tenders": [{ "kind": "cash", "amount_fen": wash_price }],
            });
            let bill = app.staff_posted(&cashier, "/bills", body).await;
            // History: the visit happened that long ago.
            entity::bills::Entity::update_many()
                .col_expr(entity::bills::Column::SettledAt, Expr::value(Some(now - Duration::days(*days_ago))))
                .filter(entity::bills::Column::Id.eq(bill["id"].as_i64().unwrap()))
                .exec(&app.ctx.db)
                .await
                .unwrap();
        }
    }
    Cast { regular: ids[0], lapsed: ids[1], never: ids[2], overdue: ids[3], wash_price }
}

/// The members of the cast a criterion chooses (ANDed with the cast's tag).
async fn chosen(app: &TestApp, token: &str, criterion: Value) -> BTreeSet<i64> {
    let rule = json!({ "combine": "all", "criteria": [{ "kind": "tags", "tags": ["segtest"] }, criterion] });
    counted(app, token, rule).await
}

async fn counted(app: &TestApp, token: &str, rule: Value) -> BTreeSet<i64> {
    let answer = app.staff_posted(token, "/segments/preview", json!({ "rule": rule })).await;
    let sample: BTreeSet<i64> =
        answer["sample"].as_array().unwrap().iter().map(|m| m["id"].as_i64().unwrap()).collect();
    assert_eq!(
        answer["count"].as_u64(),
        u64::try_from(sample.len()).ok(),
        "the sample is all of a small segment: {answer}"
    );
    sample
}

#[tokio::test]
async fn each_criterion_chooses_exactly_its_members() {
    let app = TestApp::spawn().await;
    let marketing = app.token(Role::Marketing).await;
    let c = cast(&app).await;
    let set = |ids: &[i64]| ids.iter().copied().collect::<BTreeSet<i64>>();

    assert_eq!(chosen(&app, &marketing, json!({ "kind": "last_visit", "min_days": 90 })).await, set(&[c.lapsed]));
    assert_eq!(
        chosen(&app, &marketing, json!({ "kind": "last_visit", "min_days": 60 })).await,
        set(&[c.lapsed, c.overdue])
    );
    assert_eq!(chosen(&app, &marketing, json!({ "kind": "last_visit", "max_days": 30 })).await, set(&[c.regular]));
    assert_eq!(chosen(&app, &marketing, json!({ "kind": "never_visited" })).await, set(&[c.never]));
    // Their own rhythm: waiting 70 days on a 30-day habit is overdue at 150%; 20 days on a 20-day habit is not (it
    // is at 90%).
    assert_eq!(chosen(&app, &marketing, json!({ "kind": "overdue", "percent": 150 })).await, set(&[c.overdue]));
    assert_eq!(
        chosen(&app, &marketing, json!({ "kind": "overdue", "percent": 90 })).await,
        set(&[c.regular, c.overdue])
    );
    assert_eq!(chosen(&app, &marketing, json!({ "kind": "visits", "days": 90, "min": 2 })).await, set(&[c.regular]));
    // "At most none" in the last 90 days holds those who never came too.
    assert_eq!(
        chosen(&app, &marketing, json!({ "kind": "visits", "days": 90, "max": 0 })).await,
        set(&[c.lapsed, c.never])
    );
    let three_washes = 3 * c.wash_price;
    assert_eq!(
        chosen(&app, &marketing, json!({ "kind": "spend", "days": 365, "min_fen": three_washes })).await,
        set(&[c.regular])
    );
    assert_eq!(
        chosen(&app, &marketing, json!({ "kind": "spend", "days": 365, "max_fen": c.wash_price })).await,
        set(&[c.never])
    );
    assert_eq!(
        chosen(&app, &marketing, json!({ "kind": "bought_category", "categories": ["美发"], "days": 365 })).await,
        set(&[c.regular, c.lapsed, c.overdue])
    );
    assert_eq!(
        chosen(&app, &marketing, json!({ "kind": "bought_category", "categories": ["美甲"], "days": 365 })).await,
        set(&[])
    );
    let store = app.seed.store_ids[0];
    assert_eq!(
        chosen(&app, &marketing, json!({ "kind": "store", "store_ids": [store], "by": "last_visit" })).await,
        set(&[c.regular, c.lapsed, c.overdue])
    );
    assert_eq!(chosen(&app, &marketing, json!({ "kind": "marketing_consent", "granted": true })).await, set(&[]));
    assert_eq!(
        chosen(&app, &marketing, json!({ "kind": "marketing_consent", "granted": false })).await,
        set(&[c.regular, c.lapsed, c.never, c.overdue])
    );

    // AND of the tag with (never came OR overdue on their own rhythm).
    let rule = json!({
        "combine": "all",
        "criteria": [{ "kind": "tags", "tags": ["segtest"] }],
        "groups": [{ "combine": "any", "criteria": [{ "kind": "never_visited" }, { "kind": "overdue", "percent": 150 }] }],
    });
    assert_eq!(counted(&app, &marketing, rule).await, set(&[c.never, c.overdue]));
}

/// A birthday within N days counts on the merchant's calendar: the merchant is put in a zone whose date is not UTC's
/// at this hour (a day behind or ahead), so a window read on UTC's date would choose other members.
#[tokio::test]
async fn birthdays_within_days_count_from_today_on_the_merchants_calendar() {
    let app = TestApp::spawn().await;
    let marketing = app.token(Role::Marketing).await;
    let manager = app.token(Role::Manager).await;
    let c = cast(&app).await;
    let now = Utc::now();
    let zone = if now.hour() < 10 { "Pacific/Honolulu" } else { "Pacific/Kiritimati" };
    let sql = format!("UPDATE merchants SET timezone = '{zone}' WHERE id = {}", app.seed.merchant_id);
    app.ctx.db.execute_unprepared(&sql).await.unwrap();
    let tz: chrono_tz::Tz = zone.parse().unwrap();
    let today = now.with_timezone(&tz).date_naive();
    assert_ne!(today, now.date_naive(), "the zone's date is not UTC's");
    // Born in a leap year, so 29 February (a day away from today) can be written too.
    let birthday = |days: i64| (today + Duration::days(days)).with_year(1996).unwrap().to_string();
    for (member, days) in [(c.regular, 0), (c.lapsed, 3), (c.never, 4), (c.overdue, -1)] {
        ok(app.patch(&format!("{STAFF}/members/{member}"), &manager, json!({ "birthday": birthday(days) })).await);
    }
    let set = |ids: &[i64]| ids.iter().copied().collect::<BTreeSet<i64>>();
    let within = |days: u32| chosen(&app, &marketing, json!({ "kind": "birthday", "within_days": days }));
    assert_eq!(within(0).await, set(&[c.regular]), "today only");
    assert_eq!(within(3).await, set(&[c.regular, c.lapsed]));
    assert_eq!(within(90).await, set(&[c.regular, c.lapsed, c.never]), "yesterday's is a year away");
}

#[tokio::test]
async fn rfm_scores_are_quintiles_of_the_merchants_members_the_same_as_counted_apart() {
    let app = TestApp::spawn().await;
    let marketing = app.token(Role::Marketing).await;
    let c = cast(&app).await;
    // The scores computed here from the bills, as a second opinion: each member's latest visit, bills and paid in the
    // last 365 days, then 1 + ⌊5 × (members below theirs) ÷ members⌋ per figure.
    let since = Utc::now() - Duration::days(365);
    let bills = entity::bills::Entity::find()
        .filter(entity::bills::Column::MerchantId.eq(app.seed.merchant_id))
        .filter(entity::bills::Column::Status.eq("settled"))
        .filter(entity::bills::Column::MemberId.is_not_null())
        .filter(entity::bills::Column::SettledAt.gte(since))
        .all(&app.ctx.db)
        .await
        .unwrap();
    let mut figures: std::collections::BTreeMap<i64, [i64; 3]> = Default::default();
    for bill in &bills {
        let at = bill.settled_at.unwrap().timestamp();
        let entry = figures.entry(bill.member_id.unwrap()).or_insert([at, 0, 0]);
        entry[0] = entry[0].max(at);
        entry[1] += 1;
        entry[2] += bill.total_fen - bill.refunded_fen;
    }
    let total = i64::try_from(figures.len()).unwrap();
    // Figure 0: the latest visit; 1: bills; 2: paid.
    let score = |member: i64, figure: usize| -> Option<i64> {
        let mine = figures.get(&member)?[figure];
        let below = i64::try_from(figures.values().filter(|f| f[figure] < mine).count()).unwrap();
        Some(5 * below / total + 1)
    };
    let cast = [c.regular, c.lapsed, c.never, c.overdue];
    for (figure, name) in ["recency", "frequency", "monetary"].into_iter().enumerate() {
        for s in 1..=5 {
            let expected: BTreeSet<i64> = cast.iter().copied().filter(|m| score(*m, figure) == Some(s)).collect();
            let criterion = json!({ "kind": "rfm", "days": 365, name: [s] });
            assert_eq!(chosen(&app, &marketing, criterion).await, expected, "{name} {s}");
        }
    }
    // The regular, three visits and the latest 20 days ago, scores above the lapsed on recency and frequency; the
    // member who never came has no scores at all.
    let (r, f) = (|m| score(m, 0).unwrap(), |m| score(m, 1).unwrap());
    assert!(r(c.regular) > r(c.lapsed) && f(c.regular) > f(c.lapsed));
    let any = json!({ "kind": "rfm", "days": 365, "recency": [1, 2, 3, 4, 5] });
    assert_eq!(chosen(&app, &marketing, any).await, [c.regular, c.lapsed, c.overdue].into_iter().collect());
    // Lists together: each must hold.
    let top = json!({ "kind": "rfm", "days": 365, "recency": [r(c.regular)], "frequency": [f(c.regular)] });
    assert!(chosen(&app, &marketing, top).await.contains(&c.regular));
    for bad in [json!({ "kind": "rfm", "days": 365 }), json!({ "kind": "rfm", "days": 365, "recency": [6] })] {
        let rule = json!({ "combine": "all", "criteria": [bad] });
        assert_error(
            &app.post(&format!("{STAFF}/segments/preview"), &marketing, json!({ "rule": rule })).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        );
    }
}

#[tokio::test]
async fn stored_value_count_cards_and_answers_per_purpose_choose_their_members() {
    let app = TestApp::spawn().await;
    let marketing = app.token(Role::Marketing).await;
    let owner = app.token(Role::Owner).await;
    let c = cast(&app).await;
    let set = |ids: &[i64]| ids.iter().copied().collect::<BTreeSet<i64>>();
    let store = app.seed.store_ids[0];
    // The regular holds ￥500 of stored value, the lapsed member ￥50; the others never held any.
    for (member, amount) in [(c.regular, 50_000), (c.lapsed, 5_000)] {
        let body = json!({ "amount_fen": amount, "store_id": store, "tender": "cash", "idempotency_key": format!("seg-sv-{member}") });
        app.staff_posted(&owner, &format!("/members/{member}/stored-value/recharges"), body).await;
    }
    assert_eq!(chosen(&app, &marketing, json!({ "kind": "stored_value", "min_fen": 10_000 })).await, set(&[c.regular]));
    assert_eq!(chosen(&app, &marketing, json!({ "kind": "stored_value", "max_fen": 10_000 })).await, set(&[c.lapsed]));
    // The overdue member buys a ten-session card valid a year.
    let products = app.staff_ok(&owner, "/card-products").await;
    let card = products.as_array().unwrap().iter().find(|p| p["name"] == "洗护10次卡").unwrap().clone();
    let sale = json!({
        "store_id": store, "member_id": c.overdue, "idempotency_key": "seg-card-sale",
        "lines": [{ "kind": "card_sale", "item_id": card["id"] }],
        "tenders": [{ "kind": "cash", "amount_fen": card["price_fen"] }],
    });
    app.staff_posted(&owner, "/bills", sale).await;
    let card_rule = |max: Option<u32>, days: Option<u32>| json!({ "kind": "count_card", "max_sessions": max, "expires_within_days": days });
    assert_eq!(chosen(&app, &marketing, card_rule(Some(10), None)).await, set(&[c.overdue]));
    assert_eq!(chosen(&app, &marketing, card_rule(Some(9), None)).await, set(&[]));
    assert_eq!(chosen(&app, &marketing, card_rule(None, Some(400))).await, set(&[c.overdue]));
    assert_eq!(chosen(&app, &marketing, card_rule(Some(10), Some(30))).await, set(&[]));
    // Answers per purpose: a yes to marketing is no yes to SMS.
    let cashier = app.token(Role::Cashier).await;
    let answer = |member: i64, purpose: &str, granted: bool| {
        let (app, cashier) = (&app, cashier.clone());
        let body = json!({ "purpose": purpose, "granted": granted });
        async move { app.staff_created(&cashier, &format!("/members/{member}/consents"), body).await }
    };
    answer(c.regular, "marketing", true).await;
    answer(c.lapsed, "sms", true).await;
    let consent =
        |purpose: &str, granted: bool| json!({ "kind": "marketing_consent", "purpose": purpose, "granted": granted });
    assert_eq!(chosen(&app, &marketing, consent("marketing", true)).await, set(&[c.regular]));
    assert_eq!(chosen(&app, &marketing, consent("sms", true)).await, set(&[c.lapsed]));
    assert_eq!(chosen(&app, &marketing, consent("sms", false)).await, set(&[c.regular, c.never, c.overdue]));
    // A criterion with nothing to judge by is refused.
    for criterion in [json!({ "kind": "stored_value" }), json!({ "kind": "count_card" }), card_rule(Some(0), None)] {
        let rule = json!({ "combine": "all", "criteria": [criterion] });
        let answer = app.post(&format!("{STAFF}/segments/preview"), &marketing, json!({ "rule": rule })).await;
        assert_error(&answer, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    }
}

#[tokio::test]
async fn a_saved_segment_is_counted_when_read_and_takes_a_coupon_grant() {
    let app = TestApp::spawn().await;
    let marketing = app.token(Role::Marketing).await;
    let c = cast(&app).await;
    let rule = json!({ "combine": "all", "criteria": [{ "kind": "tags", "tags": ["segtest"] }, { "kind": "last_visit", "min_days": 60 }] });
    let saved = app.staff_created(&marketing, "/segments", json!({ "name": "流失 60 天", "rule": rule })).await;
    let id = saved["id"].as_i64().unwrap();
    assert_error(
        &app.post(&format!("{STAFF}/segments"), &marketing, json!({ "name": " 流失 60 天 ", "rule": rule })).await,
        StatusCode::CONFLICT,
        "segment_name_taken",
    );
    let read = app.staff_ok(&marketing, &format!("/segments/{id}")).await;
    assert_eq!((read["count"].as_u64(), read["rule"]["criteria"][1]["min_days"].as_u64()), (Some(2), Some(60)));
    let listed = app.staff_ok(&marketing, "/segments").await;
    assert_eq!(listed.as_array().unwrap().len(), 1);

    // A coupon to everyone it holds now, once however often the grant is retried.
    let template = app
        .staff_created(
            &marketing,
            "/coupon-templates",
            json!({ "name": "回来看看 30 元", "kind": "amount", "value_fen": 3000, "valid_days": 30 }),
        )
        .await;
    let grant = json!({ "segment_id": id, "idempotency_key": "segment-grant-1" });
    let path = format!("{STAFF}/coupon-templates/{}/grants", template["id"]);
    let granted = ok(app.post(&path, &marketing, grant.clone()).await);
    assert_eq!(granted["issued"], 2);
    assert_eq!(ok(app.post(&path, &marketing, grant).await)["issued"], 0);
    for (member, holds) in [(c.lapsed, 1), (c.overdue, 1), (c.regular, 0), (c.never, 0)] {
        let held = app.staff_ok(&marketing, &format!("/members/{member}/coupons")).await;
        assert_eq!(held.as_array().unwrap().len(), holds, "member {member}");
    }

    // Changed to those who never came; then deleted.
    let never =
        json!({ "combine": "all", "criteria": [{ "kind": "tags", "tags": ["segtest"] }, { "kind": "never_visited" }] });
    let path = format!("{STAFF}/segments/{id}");
    ok(app.put(&path, &marketing, json!({ "name": "从未到店", "rule": never })).await);
    assert_eq!(app.staff_ok(&marketing, &format!("/segments/{id}")).await["count"], 1);
    assert_eq!(app.delete(&path, &marketing).await.0, StatusCode::NO_CONTENT);
    assert_error(&app.get(&path, &marketing).await, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn rules_that_cannot_be_read_are_refused_and_nothing_is_saved() {
    let app = TestApp::spawn().await;
    let marketing = app.token(Role::Marketing).await;
    let (_, other_owner) = app.other_merchant().await;
    let other_level = app.staff_ok(&other_owner, "/member-levels").await[0]["id"].clone();
    assert!(other_level.is_i64(), "the other merchant has a level of its own");
    let bad_rules = [
        json!({ "combine": "all", "criteria": [] }),
        json!({ "combine": "all", "criteria": [{ "kind": "zodiac", "sign": "leo" }] }),
        json!({ "combine": "all", "criteria": [{ "kind": "never_visited", "days": 3 }] }),
        json!({ "combine": "both", "criteria": [{ "kind": "never_visited" }] }),
        json!({ "combine": "all", "criteria": [{ "kind": "visits", "days": 0, "min": 1 }] }),
        json!({ "combine": "all", "criteria": [{ "kind": "visits", "days": 30 }] }),
        json!({ "combine": "all", "criteria": [{ "kind": "visits", "days": 30, "min": 0 }] }),
        json!({ "combine": "all", "criteria": [{ "kind": "spend", "days": 30, "min_fen": 0 }] }),
        json!({ "combine": "all", "criteria": [{ "kind": "spend", "days": 30, "min_fen": 500, "max_fen": 100 }] }),
        json!({ "combine": "all", "criteria": [{ "kind": "birth_month", "months": [13] }] }),
        json!({ "combine": "all", "criteria": [{ "kind": "birthday", "within_days": 91 }] }),
        json!({ "combine": "all", "criteria": [{ "kind": "birthday", "within_days": -1 }] }),
        json!({ "combine": "all", "criteria": [{ "kind": "birthday" }] }),
        json!({ "combine": "all", "criteria": [{ "kind": "overdue", "percent": 10 }] }),
        json!({ "combine": "all", "criteria": [{ "kind": "level", "level_ids": [other_level] }] }),
        json!({ "combine": "all", "criteria": [{ "kind": "store", "store_ids": [999_999], "by": "home" }] }),
        json!({ "combine": "all", "groups": [{ "combine": "any", "criteria": [] }] }),
    ];
    for rule in bad_rules {
        let answer = app.post(&format!("{STAFF}/segments/preview"), &marketing, json!({ "rule": rule })).await;
        assert!(
            answer.0 == StatusCode::UNPROCESSABLE_ENTITY || answer.0 == StatusCode::BAD_REQUEST,
            "{rule}: {answer:?}"
        );
        assert!(answer.1["code"].is_string(), "{answer:?}");
        let answer =
            app.post(&format!("{STAFF}/segments"), &marketing, json!({ "name": "坏规则", "rule": rule })).await;
        assert!(answer.0.is_client_error(), "{rule}: {answer:?}");
    }
    let fine = json!({ "combine": "all", "criteria": [{ "kind": "never_visited" }] });
    let answer = app.post(&format!("{STAFF}/segments"), &marketing, json!({ "name": "", "rule": fine })).await;
    assert_error(&answer, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    assert_eq!(app.count("segments").await, 0);
    // Another merchant's segment is not found; a cashier may not build segments.
    let theirs = app.staff_created(&other_owner, "/segments", json!({ "name": "他们的", "rule": fine })).await;
    assert_error(
        &app.get(&format!("{STAFF}/segments/{}", theirs["id"]), &marketing).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let cashier = app.token(Role::Cashier).await;
    assert_error(
        &app.post(&format!("{STAFF}/segments/preview"), &cashier, json!({ "rule": fine })).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
}
