use std::collections::BTreeSet;

use reqwest::StatusCode;
use sea_orm::EntityTrait;
use serde_json::json;
use service::domain::Role;

use crate::support::{TestApp, assert_error};

#[tokio::test]
async fn registering_a_member_at_the_desk_seals_personal_data() {
    let app = TestApp::spawn().await;
    let cashier = app.token(Role::Cashier).await;
    let body = json!({
        "phone": "+86 139-0000-1234",
        "name": "林 小 雨",
        "nickname": "雨",
        "gender": "female",
        "birthday": "1994-11-23",
        "home_store_id": app.seed.store_ids[0],
        "preferences": { "stylist": "Tony" },
        "tags": ["新客", "VIP", "VIP"],
    });
    let (status, member) = app.post("/api/staff/v1/members", &cashier, body).await;
    assert_eq!(status, StatusCode::CREATED, "{member}");
    assert_eq!(member["phone"], "13900001234");
    assert_eq!(member["tags"], json!(["VIP", "新客"]));
    assert_eq!(member["level"]["rank"], 0, "new members start at the base level");
    let id = member["id"].as_i64().unwrap();

    let row = entity::members::Entity::find_by_id(id).one(&app.ctx.db).await.unwrap().unwrap();
    let sealed = format!("{:?}{:?}", row.phone_sealed, row.name_sealed);
    assert!(!sealed.contains("1234") && !sealed.contains("小雨") && !sealed.contains("林"), "sealed at rest: {sealed}");
    assert!(row.phone_index.is_some_and(|i| !i.contains("1390000")));

    let again = app.post("/api/staff/v1/members", &cashier, json!({ "phone": "13900001234" })).await;
    assert_error(&again, StatusCode::CONFLICT, "phone_taken");
}

#[tokio::test]
async fn contact_details_are_masked_for_roles_that_do_not_need_them() {
    let app = TestApp::spawn().await;
    for (role, phone, name) in [
        (Role::Cashier, "13800000002", "王芳"),
        (Role::Owner, "13800000002", "王芳"),
        (Role::Technician, "138****0002", "王*"),
        (Role::Marketing, "138****0002", "王*"),
    ] {
        let token = app.token(role).await;
        let (status, member) =
            app.post("/api/staff/v1/members/lookup", &token, json!({ "query": "13800000002" })).await;
        assert_eq!(status, StatusCode::OK, "{role:?}");
        assert_eq!((member["phone"].as_str(), member["name"].as_str()), (Some(phone), Some(name)), "{role:?}");
        // Allergy notes are for everyone at the chair.
        assert_eq!(member["allergies"][0]["substance"], "PPD", "{role:?}");
    }
    let technician = app.token(Role::Technician).await;
    assert_error(
        &app.post("/api/staff/v1/members", &technician, json!({ "phone": "13912345678" })).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
}

#[tokio::test]
async fn search_filters_and_paginates() {
    let app = TestApp::spawn().await;
    let owner = app.token(Role::Owner).await;
    let ids = |page: &serde_json::Value| -> Vec<i64> {
        page["items"].as_array().unwrap().iter().map(|m| m["id"].as_i64().unwrap()).collect()
    };
    let names = |page: &serde_json::Value| -> BTreeSet<String> {
        page["items"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap().to_owned()).collect()
    };
    let get = |q: &str| {
        let path = format!("/api/staff/v1/members?{q}");
        let owner = owner.clone();
        let app = &app;
        async move { app.get(&path, &owner).await }
    };

    assert_eq!(names(&get("phone=13800000005").await.1), BTreeSet::from(["陈静".to_owned()]));
    assert_eq!(names(&get("name=%E5%88%98%E6%B4%8B").await.1), BTreeSet::from(["刘洋".to_owned()]));
    assert_eq!(names(&get("tag=VIP").await.1), BTreeSet::from(["张丽".into(), "陈静".into(), "黄磊".into()]));
    assert_eq!(names(&get("birthday_month=11").await.1), BTreeSet::from(["王芳".into(), "陈静".into()]));
    let (_, levels) = app.get("/api/staff/v1/member-levels", &owner).await;
    let gold = levels.as_array().unwrap().iter().find(|l| l["rank"] == 2).unwrap()["id"].as_i64().unwrap();
    assert_eq!(names(&get(&format!("level_id={gold}")).await.1), BTreeSet::from(["王芳".into(), "陈静".into()]));
    // Demo spend is 523 yuan × the member's position: 0, 523, 1046, ...
    assert_eq!(ids(&get("min_spend_fen=100000&max_spend_fen=160000").await.1).len(), 2);
    assert_error(&get("min_spend_fen=5&max_spend_fen=1").await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    assert_error(&get("birthday_month=13").await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    assert_error(&get("phone=12345").await, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");

    // Pages of 5 walk all 12 members, newest first, each exactly once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(c) => format!("limit=5&cursor={c}"),
            None => "limit=5".into(),
        };
        let (status, page) = get(&query).await;
        assert_eq!(status, StatusCode::OK);
        seen.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 12);
    assert!(seen.windows(2).all(|w| w[0] > w[1]), "newest first, no repeats: {seen:?}");
}

#[tokio::test]
async fn tags_notes_and_allergy_notes() {
    let app = TestApp::spawn().await;
    let cashier = app.token(Role::Cashier).await;
    let (_, member) = app.post("/api/staff/v1/members/lookup", &cashier, json!({ "query": "13800000003" })).await;
    let id = member["id"].as_i64().unwrap();
    let base = format!("/api/staff/v1/members/{id}");

    let (status, tags) = app.put(&format!("{base}/tags"), &cashier, json!({ "tags": [" 敏感肌 ", "VIP"] })).await;
    assert_eq!((status, tags["tags"].clone()), (StatusCode::OK, json!(["VIP", "敏感肌"])));
    assert_error(
        &app.put(&format!("{base}/tags"), &cashier, json!({ "tags": ["a,b"] })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    );

    assert_eq!(
        app.post(&format!("{base}/notes"), &cashier, json!({ "body": "喜欢安静，不要推销" })).await.0,
        StatusCode::CREATED
    );
    assert_error(
        &app.post(&format!("{base}/notes"), &cashier, json!({ "body": "  " })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    );
    let (_, notes) = app.get(&format!("{base}/notes"), &cashier).await;
    assert_eq!(notes.as_array().unwrap().len(), 1);

    let (status, allergy) = app
        .post(
            &format!("{base}/allergies"),
            &cashier,
            json!({ "substance": "果酸", "severity": "moderate", "note": "面部刺痛" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_error(
        &app.post(&format!("{base}/allergies"), &cashier, json!({ "substance": "x", "severity": "deadly" })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_input",
    );
    let (_, member) = app.get(&base, &cashier).await;
    assert_eq!(member["allergies"][0]["note"], "面部刺痛");
    let allergy_id = allergy["id"].as_i64().unwrap();
    assert_eq!(app.delete(&format!("{base}/allergies/{allergy_id}"), &cashier).await.0, StatusCode::NO_CONTENT);
    assert_error(
        &app.delete(&format!("{base}/allergies/{allergy_id}"), &cashier).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
}

#[tokio::test]
async fn export_and_anonymise_on_request() {
    let app = TestApp::spawn().await;
    let owner = app.token(Role::Owner).await;
    let cashier = app.token(Role::Cashier).await;
    let (_, member) = app.post("/api/staff/v1/members/lookup", &owner, json!({ "query": "13800000002" })).await;
    let id = member["id"].as_i64().unwrap();

    assert_error(
        &app.get(&format!("/api/staff/v1/members/{id}/export"), &cashier).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    let (status, export) = app.get(&format!("/api/staff/v1/members/{id}/export"), &owner).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(export["member"]["phone"], "13800000002");
    assert_eq!(export["allergies"][0]["substance"], "PPD");

    assert_eq!(
        app.post(&format!("/api/staff/v1/members/{id}/anonymise"), &owner, json!({})).await.0,
        StatusCode::NO_CONTENT
    );
    let (_, gone) = app.get(&format!("/api/staff/v1/members/{id}"), &owner).await;
    assert_eq!(gone["anonymised"], true);
    assert_eq!(gone["phone"], serde_json::Value::Null);
    assert_eq!(gone["name"], serde_json::Value::Null);
    assert_eq!(gone["allergies"], json!([]));
    assert_error(
        &app.post("/api/staff/v1/members/lookup", &owner, json!({ "query": "13800000002" })).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &app.patch(&format!("/api/staff/v1/members/{id}"), &owner, json!({ "nickname": "x" })).await,
        StatusCode::CONFLICT,
        "member_anonymised",
    );
    // The number is free again: the person may come back as a new member.
    assert_eq!(
        app.post("/api/staff/v1/members", &cashier, json!({ "phone": "13800000002" })).await.0,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn bad_member_input_is_refused_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let cashier = app.token(Role::Cashier).await;
    let (other_merchant, _) = app.other_merchant().await;
    use sea_orm::{ColumnTrait, QueryFilter};
    let foreign_level = entity::member_levels::Entity::find()
        .filter(entity::member_levels::Column::MerchantId.eq(other_merchant))
        .one(&app.ctx.db)
        .await
        .unwrap()
        .unwrap()
        .id;
    let before = (app.count("members").await, app.count("member_tags").await, app.count("audit_log").await);
    let cases = [
        json!({}),
        json!({ "phone": "" }),
        json!({ "phone": "12345678901" }),
        json!({ "phone": "1380000000x" }),
        json!({ "phone": "13911110000", "birthday": "2999-01-01" }),
        json!({ "phone": "13911110000", "birthday": "not-a-date" }),
        json!({ "phone": "13911110000", "gender": "robot" }),
        json!({ "phone": "13911110000", "preferences": [1, 2] }),
        json!({ "phone": "13911110000", "name": "" }),
        json!({ "phone": "13911110000", "nickname": "n".repeat(41) }),
        json!({ "phone": "13911110000", "tags": (0..31).map(|i| format!("t{i}")).collect::<Vec<_>>() }),
        json!({ "phone": "13911110000", "level_id": foreign_level }),
        json!({ "phone": "13911110000", "level_id": null }),
        json!({ "phone": "13911110000", "home_store_id": 424242 }),
        json!({ "phone": "13800000001" }),
    ];
    for case in cases {
        let (status, body) = app.post("/api/staff/v1/members", &cashier, case.clone()).await;
        assert!(status.is_client_error(), "{case} gave {status}: {body}");
        assert!(body["code"].is_string() && body["message"].is_string(), "{body}");
    }
    let after = (app.count("members").await, app.count("member_tags").await, app.count("audit_log").await);
    assert_eq!(before, after);
}

/// A member's home store is changed inside the update's transaction: on SQLite's single pooled connection, a check
/// that asked the pool for a second connection there answered 500 after the pool's timeout and stalled every other
/// request meanwhile.
#[tokio::test]
async fn moving_a_member_to_another_home_store_answers_at_once() {
    let app = TestApp::spawn().await;
    let manager = app.token(Role::Owner).await;
    let (status, member) = app.post("/api/staff/v1/members", &manager, json!({ "phone": "13900007711" })).await;
    assert_eq!(status, StatusCode::CREATED, "{member}");
    let path = format!("/api/staff/v1/members/{}", member["id"]);
    for store in [app.seed.store_ids[1], app.seed.store_ids[0]] {
        let started = std::time::Instant::now();
        let (status, moved) = app.patch(&path, &manager, json!({ "home_store_id": store })).await;
        assert_eq!(status, StatusCode::OK, "{moved}");
        assert_eq!(moved["home_store_id"], store);
        assert!(started.elapsed() < std::time::Duration::from_secs(2), "took {:?}", started.elapsed());
    }
    let missing = app.patch(&path, &manager, json!({ "home_store_id": 999_999 })).await;
    assert_error(&missing, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn notes_preferences_and_the_full_birthday_are_sealed_at_rest() {
    use sea_orm::ConnectionTrait;

    let app = TestApp::spawn().await;
    let cashier = app.token(Role::Cashier).await;
    let body = json!({ "phone": "13911112222", "birthday": "1990-05-17", "preferences": { "drink": "柠檬水" } });
    let (status, member) = app.post("/api/staff/v1/members", &cashier, body).await;
    assert_eq!(status, StatusCode::CREATED, "{member}");
    let id = member["id"].as_i64().unwrap();
    let base = format!("/api/staff/v1/members/{id}");
    assert_eq!(
        app.post(&format!("{base}/notes"), &cashier, json!({ "body": "怕冷，空调调高" })).await.0,
        StatusCode::CREATED
    );

    // At rest: nothing of it in plain, the birth month and day alone (never the year) kept for queries.
    let row = entity::members::Entity::find_by_id(id).one(&app.ctx.db).await.unwrap().unwrap();
    assert_eq!(
        (row.birthday, row.preferences.as_str(), row.birth_month, row.birth_day),
        (None, "{}", Some(5), Some(17))
    );
    let sealed = format!("{:?} {:?}", row.birthday_sealed, row.preferences_sealed);
    assert!(!sealed.contains("1990") && !sealed.contains("柠檬") && !sealed.contains("None"), "{sealed}");
    let notes = entity::member_notes::Entity::find().all(&app.ctx.db).await.unwrap();
    let note = notes.iter().find(|n| n.member_id == id).unwrap();
    assert!(note.body.is_empty() && note.body_sealed.as_deref().is_some_and(|s| !s.contains("空调")), "{note:?}");
    // Read through the api: opened.
    let (_, read) = app.get(&base, &cashier).await;
    assert_eq!(
        (read["birthday"].as_str(), read["preferences"]["drink"].as_str()),
        (Some("1990-05-17"), Some("柠檬水"))
    );
    let (_, listed) = app.get(&format!("{base}/notes"), &cashier).await;
    assert_eq!(listed[0]["body"], "怕冷，空调调高");
    let (_, may) = app.get("/api/staff/v1/members?birthday_month=5&limit=100", &cashier).await;
    assert!(may["items"].as_array().unwrap().iter().any(|m| m["id"] == id), "{may}");

    // Rows written in plain before sealing are sealed when the next process starts, and read the same.
    let plain = [
        format!(
            "UPDATE members SET birthday = '1985-01-02', birthday_sealed = NULL, preferences = '{{\"towel\":\"热\"}}', preferences_sealed = NULL WHERE id = {id}"
        ),
        format!("UPDATE member_notes SET body = '老客，慢慢聊', body_sealed = NULL WHERE member_id = {id}"),
    ];
    for sql in plain {
        app.ctx.db.execute_unprepared(&sql).await.unwrap();
    }
    app.replica().await;
    let row = entity::members::Entity::find_by_id(id).one(&app.ctx.db).await.unwrap().unwrap();
    assert_eq!((row.birthday, row.preferences.as_str()), (None, "{}"));
    assert!(row.birthday_sealed.is_some() && row.preferences_sealed.is_some());
    assert_eq!((row.birth_month, row.birth_day), (Some(1), Some(2)), "month and day follow the birthday sealed");
    // A row sealed before the birth day was kept beside the month is given it at the next start.
    app.ctx.db.execute_unprepared(&format!("UPDATE members SET birth_day = NULL WHERE id = {id}")).await.unwrap();
    app.replica().await;
    let row = entity::members::Entity::find_by_id(id).one(&app.ctx.db).await.unwrap().unwrap();
    assert_eq!((row.birth_month, row.birth_day), (Some(1), Some(2)));
    let note = entity::member_notes::Entity::find()
        .all(&app.ctx.db)
        .await
        .unwrap()
        .into_iter()
        .find(|n| n.member_id == id)
        .unwrap();
    assert!(note.body.is_empty() && note.body_sealed.is_some(), "{note:?}");
    let (_, read) = app.get(&base, &cashier).await;
    assert_eq!((read["birthday"].as_str(), read["preferences"]["towel"].as_str()), (Some("1985-01-02"), Some("热")));
    let (_, listed) = app.get(&format!("{base}/notes"), &cashier).await;
    assert_eq!(listed[0]["body"], "老客，慢慢聊");
}
