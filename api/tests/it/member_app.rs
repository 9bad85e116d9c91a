//! What the member app reads and tells beyond the card: history, ratings of a visit, consent to marketing
//! messages, allergy notes, and the technicians to choose from.

use reqwest::StatusCode;
use serde_json::{Value, json};

use service::domain::Role;

use crate::support::{STAFF, TestApp, assert_error, ok};

const MINI: &str = "/api/mini/v1";

/// The demo staff member's id by username.
async fn staff_id(app: &TestApp, owner: &str, username: &str) -> i64 {
    let staff = app.staff_ok(owner, "/staff").await;
    staff.as_array().unwrap().iter().find(|s| s["username"] == username).unwrap()["id"].as_i64().unwrap()
}

async fn service_id(app: &TestApp, token: &str, name: &str) -> (i64, i64) {
    let menu = ok(app.get(&format!("{MINI}/services"), token).await);
    let item = menu.as_array().unwrap().iter().find(|s| s["name"] == name).unwrap().clone();
    (item["id"].as_i64().unwrap(), item["price_fen"].as_i64().unwrap())
}

/// A bill the cashier settles in cash for the member, with `tech` on its one service line.
async fn settled_visit(app: &TestApp, member_id: i64, item: (i64, i64), tech: i64, key: &str) -> Value {
    let cashier = app.token(Role::Cashier).await;
    let body = json!({
        "store_id": app.seed.store_ids[0], "member_id": member_id, "idempotency_key": key,
        "lines": [{ "kind": "service", "item_id": item.0, "staff": [{ "staff_id": tech }] }],
        "tenders": [{ "kind": "cash", "amount_fen": item.1 }],
    });
    app.staff_posted(&cashier, "/bills", body).await
}

#[tokio::test]
async fn members_see_their_bills_statement_and_points_and_only_theirs() {
    let app = TestApp::spawn().await;
    let owner = app.token(Role::Owner).await;
    let (token, member) = app.member_token("hist").await;
    let (other, _) = app.member_token("someone-else").await;
    let tech = staff_id(&app, &owner, "demo-tech").await;
    let wash = service_id(&app, &token, "洗剪吹").await;
    let cashier = app.token(Role::Cashier).await;
    let recharge = json!({ "amount_fen": 50_000, "store_id": app.seed.store_ids[0], "tender": "cash", "idempotency_key": "hist-recharge-1" });
    app.staff_posted(&cashier, &format!("/members/{member}/stored-value/recharges"), recharge).await;
    let bill = settled_visit(&app, member, wash, tech, "hist-visit-1").await;

    let bills = ok(app.get(&format!("{MINI}/me/bills"), &token).await);
    assert_eq!(bills.as_array().unwrap().len(), 1);
    assert_eq!(bills[0]["id"], bill["id"]);
    assert_eq!(bills[0]["lines"][0]["name"], "洗剪吹");
    assert!(ok(app.get(&format!("{MINI}/me/bills"), &other).await).as_array().unwrap().is_empty());

    let statement = ok(app.get(&format!("{MINI}/me/stored-value/entries"), &token).await);
    assert_eq!(statement[0]["principal_delta_fen"], 50_000);
    let points = ok(app.get(&format!("{MINI}/me/points/entries"), &token).await);
    let earned = bill["points_earned"].as_i64().unwrap();
    assert!(earned > 0);
    assert_eq!(points[0]["delta"], earned);
    assert_eq!(points[0]["bill_id"], bill["id"]);
    // Paging: one at a time, and past the last one nothing.
    let first = ok(app.get(&format!("{MINI}/me/points/entries?limit=1"), &token).await);
    let before = first[0]["entry_id"].as_i64().unwrap();
    let rest = ok(app.get(&format!("{MINI}/me/points/entries?before_id={before}"), &token).await);
    assert!(rest.as_array().unwrap().iter().all(|m| m["entry_id"].as_i64().unwrap() < before));
    assert_error(
        &app.get(&format!("{MINI}/me/bills?limit=0"), &token).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    );
}

#[tokio::test]
async fn a_visit_is_rated_once_per_technician_and_shows_in_the_store_figures() {
    let app = TestApp::spawn().await;
    let owner = app.token(Role::Owner).await;
    let (token, member) = app.member_token("rater").await;
    let (stranger, _) = app.member_token("stranger").await;
    let tech = staff_id(&app, &owner, "demo-tech").await;
    let other_tech = staff_id(&app, &owner, "demo-tech2").await;
    let wash = service_id(&app, &token, "洗剪吹").await;
    let bill = settled_visit(&app, member, wash, tech, "rate-visit-1").await;
    let path = format!("{MINI}/me/bills/{}/ratings", bill["id"]);

    let visit = ok(app.get(&path, &token).await);
    assert_eq!(visit["open"], true);
    assert_eq!(visit["technicians"][0]["staff_id"], tech);
    assert_eq!(visit["technicians"][0]["title"], "首席发型师");
    assert!(visit["technicians"][0]["rating"].is_null());

    // Refusals change nothing.
    let rating =
        |staff: i64, stars: i64| json!({ "ratings": [{ "staff_id": staff, "stars": stars, "comment": "很细心" }] });
    assert_error(&app.post(&path, &token, rating(tech, 6)).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    assert_error(
        &app.post(&path, &token, rating(other_tech, 5)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    );
    assert_error(&app.post(&path, &stranger, rating(tech, 5)).await, StatusCode::NOT_FOUND, "not_found");
    assert_error(
        &app.post(&path, &token, json!({ "ratings": [] })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    );
    assert_eq!(app.count("visit_ratings").await, 0);

    let rated = ok(app.post(&path, &token, rating(tech, 4)).await);
    assert_eq!(rated["technicians"][0]["rating"]["stars"], 4);
    assert_error(&app.post(&path, &token, rating(tech, 5)).await, StatusCode::CONFLICT, "already_rated");
    assert_eq!(app.count("visit_ratings").await, 1);

    // A second visit, rated 5: the store's figure is their mean.
    let second = settled_visit(&app, member, wash, tech, "rate-visit-2").await;
    ok(app
        .post(
            &format!("{MINI}/me/bills/{}/ratings", second["id"]),
            &token,
            json!({ "ratings": [{ "staff_id": tech, "stars": 5 }] }),
        )
        .await);
    let store = app.seed.store_ids[0];
    let today = chrono::Utc::now().date_naive();
    let span = format!("from={}&to={}", today - chrono::Duration::days(1), today + chrono::Duration::days(1));
    let figures = app.staff_ok(&owner, &format!("/stores/{store}/ratings?{span}")).await;
    assert_eq!(figures["staff"][0]["staff_id"], tech, "{figures}");
    assert_eq!(figures["staff"][0]["count"], 2);
    assert_eq!(figures["staff"][0]["average_centi"], 450);
    assert_eq!(figures["staff"][0]["histogram"], json!([0, 0, 0, 1, 1]));
    assert_eq!(figures["comments"][0]["comment"], "很细心");
    // A period at the calendar's edge is refused, never overflowed.
    let edge = format!("/stores/{store}/ratings?from=%2B262142-12-30&to=%2B262142-12-31");
    assert_error(&app.get(&format!("{STAFF}{edge}"), &owner).await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    // Cashiers do not read colleagues' performance.
    let cashier = app.token(Role::Cashier).await;
    assert_error(
        &app.get(&format!("{STAFF}/stores/{store}/ratings?{span}"), &cashier).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );

    // A parked bill is not a visit yet.
    let parked = json!({ "store_id": store, "member_id": member, "park": true, "idempotency_key": "rate-parked-1", "lines": [{ "item_id": wash.0, "staff": [{ "staff_id": tech }] }] });
    let parked = app.staff_posted(&cashier, "/bills", parked).await;
    let parked_path = format!("{MINI}/me/bills/{}/ratings", parked["id"]);
    assert_eq!(ok(app.get(&parked_path, &token).await)["open"], false);
    assert_error(&app.post(&parked_path, &token, rating(tech, 5)).await, StatusCode::CONFLICT, "not_rateable");
}

#[tokio::test]
async fn consent_to_marketing_is_kept_with_when_and_how() {
    let app = TestApp::spawn().await;
    let (token, member) = app.member_token("consenter").await;
    let path = format!("{MINI}/me/marketing-consent");
    let asked = ok(app.get(&path, &token).await);
    assert!(asked["answer"].is_null());
    assert!(asked["wording"].as_str().unwrap().contains("优惠活动"));

    let yes = ok(app.put(&path, &token, json!({ "granted": true })).await);
    assert_eq!((yes["answer"]["granted"].as_bool(), yes["answer"]["channel"].as_str()), (Some(true), Some("sandbox")));
    assert_eq!(yes["answer"]["wording"], asked["wording"]);
    // The same answer again records nothing new.
    ok(app.put(&path, &token, json!({ "granted": true })).await);
    assert_eq!(app.count("marketing_consents").await, 1);
    assert_error(
        &app.put(&path, &token, json!({ "granted": "yes" })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    );

    let manager = app.token(Role::Manager).await;
    let profile = app.staff_ok(&manager, &format!("/members/{member}")).await;
    assert_eq!(profile["marketing_consent"]["granted"], true);

    ok(app.put(&path, &token, json!({ "granted": false })).await);
    let profile = app.staff_ok(&manager, &format!("/members/{member}")).await;
    assert_eq!(profile["marketing_consent"]["granted"], false);
    let export = ok(app.get(&format!("{MINI}/me/export"), &token).await);
    let answers = export["consents"]["marketing_messages"].as_array().unwrap();
    assert_eq!(answers.iter().map(|a| a["granted"].as_bool().unwrap()).collect::<Vec<_>>(), [true, false]);
}

#[tokio::test]
async fn members_tell_allergies_and_withdraw_only_their_own() {
    let app = TestApp::spawn().await;
    let (token, member) = app.member_token("allergic").await;
    let manager = app.token(Role::Manager).await;
    let desk = app
        .staff_created(
            &manager,
            &format!("/members/{member}/allergies"),
            json!({ "substance": "PPD", "severity": "severe" }),
        )
        .await;
    let (status, told) = app
        .post(
            &format!("{MINI}/me/allergies"),
            &token,
            json!({ "substance": "芦荟", "severity": "mild", "note": "起红疹" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{told}");
    assert_eq!(told["by_member"], true);
    assert_error(
        &app.post(&format!("{MINI}/me/allergies"), &token, json!({ "substance": " ", "severity": "mild" })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    );
    let profile = app.staff_ok(&manager, &format!("/members/{member}")).await;
    let by_member: Vec<bool> =
        profile["allergies"].as_array().unwrap().iter().map(|a| a["by_member"].as_bool().unwrap()).collect();
    assert_eq!(by_member, [false, true]);

    // What the desk recorded stays; what the member told goes.
    assert_error(
        &app.delete(&format!("{MINI}/me/allergies/{}", desk["id"]), &token).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let (other, _) = app.member_token("not-allergic").await;
    assert_error(
        &app.delete(&format!("{MINI}/me/allergies/{}", told["id"]), &other).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_eq!(app.delete(&format!("{MINI}/me/allergies/{}", told["id"]), &token).await.0, StatusCode::NO_CONTENT);
    let me = ok(app.get(&format!("{MINI}/me"), &token).await);
    assert_eq!(me["allergies"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn members_choose_among_the_store_technicians_as_staff_present_them() {
    let app = TestApp::spawn().await;
    let owner = app.token(Role::Owner).await;
    let (token, _) = app.member_token("chooser").await;
    let store = app.seed.store_ids[0];
    let techs = ok(app.get(&format!("{MINI}/stores/{store}/technicians"), &token).await);
    let tony = techs.as_array().unwrap().iter().find(|t| t["name"] == "Tony 老师").unwrap().clone();
    assert_eq!(tony["title"], "首席发型师");
    assert!(!tony["service_names"].as_array().unwrap().is_empty());
    // 小美 works at the other store only.
    assert!(techs.as_array().unwrap().iter().all(|t| t["name"] != "小美"));
    assert_error(
        &app.get(&format!("{MINI}/stores/999999/technicians"), &token).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );

    let id = tony["staff_id"].as_i64().unwrap();
    let path = format!("{STAFF}/staff/{id}");
    assert_error(
        &app.patch(&path, &owner, json!({ "photo_url": "http://example.com/tony.jpg" })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    );
    let changed = ok(app
        .patch(&path, &owner, json!({ "title": "艺术总监", "photo_url": "https://img.example.com/tony.jpg" }))
        .await);
    assert_eq!(
        (changed["title"].as_str(), changed["photo_url"].as_str()),
        (Some("艺术总监"), Some("https://img.example.com/tony.jpg"))
    );
    let techs = ok(app.get(&format!("{MINI}/stores/{store}/technicians"), &token).await);
    let tony = techs.as_array().unwrap().iter().find(|t| t["staff_id"] == id).unwrap().clone();
    assert_eq!(tony["photo_url"], "https://img.example.com/tony.jpg");
    let removed = ok(app.patch(&path, &owner, json!({ "photo_url": "" })).await);
    assert!(removed["photo_url"].is_null());
}
