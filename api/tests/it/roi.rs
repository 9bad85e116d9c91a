//! A campaign's report through the real server on both databases: each group's visits, recognised revenue and
//! recharges over the horizon, counted from the ledger everyone as assigned (a bill before the run, a reversed bill
//! and recharge cash are not revenue), the campaign's costs, and the intervals the statistics give for those counts.

use std::collections::BTreeMap;

use chrono::{Duration, Utc};
use reqwest::StatusCode;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use service::domain::Role;
use service::marketing::campaigns::run_due;
use service::marketing::roi::stats::{self, Moments};
use service::marketing::sends::dispatch_due;

use crate::support::{STAFF, TestApp, assert_error, ok};

const MEMBERS: usize = 24;

/// Small test amounts and counts as real numbers.
fn real(value: i64) -> f64 {
    f64::from(i32::try_from(value).unwrap())
}

fn close(value: &Value, expected: f64) -> bool {
    value.as_f64().is_some_and(|v| (v - expected).abs() <= 1e-6 * expected.abs().max(1.0))
}

#[tokio::test]
async fn a_report_counts_each_group_from_the_ledger_as_assigned_and_measures_the_lift_with_its_interval() {
    let app = TestApp::spawn().await;
    let marketing = app.token(Role::Marketing).await;
    let cashier = app.token(Role::Cashier).await;
    let owner = app.token(Role::Owner).await;
    let store = app.seed.store_ids[0];
    let services = app.staff_ok(&cashier, "/services").await;
    let wash = services.as_array().unwrap().iter().find(|s| s["name"] == "洗剪吹").unwrap().clone();
    let (wash_id, wash_fen) = (wash["id"].as_i64().unwrap(), wash["price_fen"].as_i64().unwrap());

    let mut members = Vec::new();
    for n in 0..MEMBERS {
        let home = app.seed.store_ids[n % 2];
        let body = json!({ "phone": format!("1390003{n:04}"), "tags": ["roitest"], "home_store_id": home });
        members.push(app.staff_created(&owner, "/members", body).await["id"].as_i64().unwrap());
    }
    let bill = |member: i64, key: String, coupons: Vec<i64>| {
        json!({
            "store_id": store, "member_id": member, "idempotency_key": key, "coupon_ids": coupons,
            "lines": [{ "item_id": wash_id }], "tenders": [{ "kind": "cash", "amount_fen": wash_fen }],
        })
    };
    // Before the campaign: a visit that is not the campaign's.
    let before = app.staff_posted(&cashier, "/bills", bill(members[0], "roi-before".into(), vec![])).await;
    let rule = json!({ "combine": "all", "criteria": [{ "kind": "tags", "tags": ["roitest"] }] });
    let segment = app.staff_created(&marketing, "/segments", json!({ "name": "效果测试", "rule": rule })).await;
    let template = json!({ "name": "回馈 10 元", "kind": "amount", "value_fen": 1000, "valid_days": 30 });
    let template = app.staff_created(&marketing, "/coupon-templates", template).await["id"].as_i64().unwrap();
    let body = json!({
        "name": "效果测试活动", "segment_id": segment["id"], "coupon_template_id": template, "control_bp": 5000,
        "message_title": "回馈 10 元", "message_body": "到店立减 10 元，回复或在“我的”中可关闭营销消息。",
        "horizon_days": 14, "run_at": Utc::now(),
    });
    let campaign = app.staff_created(&marketing, "/campaigns", body).await;
    let id = campaign["id"].as_i64().unwrap();
    assert_eq!(campaign["horizon_days"], 14);
    let report_path = format!("/campaigns/{id}/report");
    let waiting = app.staff_ok(&marketing, &report_path).await;
    assert_eq!((waiting["verdict"].as_str(), waiting["from"].is_null()), (Some("not_enough_data"), true));
    // The bill before the run was settled a moment before it started.
    entity::bills::Entity::update_many()
        .col_expr(entity::bills::Column::SettledAt, Expr::value(Some(Utc::now() - Duration::minutes(1))))
        .filter(entity::bills::Column::Id.eq(before["id"].as_i64().unwrap()))
        .exec(&app.ctx.db)
        .await
        .unwrap();
    entity::journal_entries::Entity::update_many()
        .col_expr(entity::journal_entries::Column::CreatedAt, Expr::value(Utc::now() - Duration::minutes(1)))
        .filter(entity::journal_entries::Column::BillId.eq(before["id"].as_i64().unwrap()))
        .exec(&app.ctx.db)
        .await
        .unwrap();
    run_due(&app.ctx, Utc::now()).await.unwrap();
    dispatch_due(&app.ctx, Utc::now()).await.unwrap();

    let groups: BTreeMap<i64, bool> = entity::campaign_members::Entity::find()
        .filter(entity::campaign_members::Column::CampaignId.eq(id))
        .all(&app.ctx.db)
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.member_id, m.in_control))
        .collect();
    let treated: Vec<i64> = groups.iter().filter(|(_, c)| !**c).map(|(m, _)| *m).collect();
    let control: Vec<i64> = groups.iter().filter(|(_, c)| **c).map(|(m, _)| *m).collect();
    assert!(treated.len() >= 4 && control.len() >= 3, "a usable split of 24: {} / {}", treated.len(), control.len());

    // Treatment: three visits, the first with the campaign's coupon (￥10 off); the fourth recharges ￥500 at the
    // desk (not revenue). Control: two visits, one of them reversed (no visit, no revenue).
    let coupon_of = |member: i64| {
        let app = &app;
        async move {
            entity::member_coupons::Entity::find()
                .filter(entity::member_coupons::Column::MemberId.eq(member))
                .filter(entity::member_coupons::Column::TemplateId.eq(template))
                .one(&app.ctx.db)
                .await
                .unwrap()
                .unwrap()
                .id
        }
    };
    let with_coupon = json!({
        "store_id": store, "member_id": treated[0], "idempotency_key": "roi-bill-t0", "coupon_ids": [coupon_of(treated[0]).await],
        "lines": [{ "item_id": wash_id }], "tenders": [{ "kind": "cash", "amount_fen": wash_fen - 1000 }],
    });
    app.staff_posted(&cashier, "/bills", with_coupon).await;
    for (n, member) in treated[1..3].iter().enumerate() {
        app.staff_posted(&cashier, "/bills", bill(*member, format!("roi-bill-t{}", n + 1), vec![])).await;
    }
    let recharge =
        json!({ "store_id": store, "amount_fen": 50_000, "tender": "cash", "idempotency_key": "roi-recharge" });
    ok(app.post(&format!("{STAFF}/members/{}/stored-value/recharges", treated[3]), &owner, recharge).await);
    app.staff_posted(&cashier, "/bills", bill(control[0], "roi-bill-c0".into(), vec![])).await;
    let reversed = app.staff_posted(&cashier, "/bills", bill(control[1], "roi-bill-c1".into(), vec![])).await;
    let reverse = json!({ "reason": "开错单", "idempotency_key": "roi-reverse" });
    app.staff_created(&owner, &format!("/bills/{}/reverse", reversed["id"]), reverse).await;

    let read = app.staff_ok(&marketing, &report_path).await;
    let (nt, nc) = (u64::try_from(treated.len()).unwrap(), u64::try_from(control.len()).unwrap());
    assert_eq!(read["horizon_days"], 14);
    assert_eq!(read["provisional"], true, "the horizon has not ended");
    let t = &read["treatment"];
    let c = &read["control"];
    assert_eq!((t["members"].as_u64(), c["members"].as_u64()), (Some(nt), Some(nc)));
    assert_eq!((t["visitors"].as_u64(), t["bills"].as_u64()), (Some(3), Some(3)));
    assert_eq!((c["visitors"].as_u64(), c["bills"].as_u64()), (Some(1), Some(1)), "the reversed bill is no visit");
    assert_eq!(t["revenue_fen"].as_i64(), Some(3 * wash_fen - 1000), "net of the coupon");
    assert_eq!(c["revenue_fen"].as_i64(), Some(wash_fen), "the reversed bill took its revenue back");
    assert_eq!((t["recharge_fen"].as_i64(), c["recharge_fen"].as_i64()), (Some(50_000), Some(0)));
    assert!(close(&t["average_bill_fen"], (real(3 * wash_fen - 1000) / 3.0).round()), "whole fen");
    assert_eq!(read["cost"]["coupon_fen"], 1000);
    assert_eq!(read["cost"]["total_fen"], 1000);

    // The intervals are the statistics' own for these counts and amounts.
    let lift = stats::newcombe(3, nt, 1, nc).unwrap();
    let v = &read["visit_rate_lift"];
    assert!(close(&v["estimate"], lift.estimate) && close(&v["low"], lift.low) && close(&v["high"], lift.high), "{v}");
    let money = |amounts: &[i64], n: usize| {
        Moments::of(amounts.iter().map(|a| real(*a)).chain(std::iter::repeat_n(0.0, n - amounts.len())))
    };
    let t_money = money(&[wash_fen - 1000, wash_fen, wash_fen], treated.len());
    let c_money = money(&[wash_fen], control.len());
    let (revenue, _) = stats::welch(&t_money, &c_money).unwrap();
    let r = &read["revenue_lift_fen"];
    assert!(
        close(&r["low"], revenue.low.round()) && close(&r["high"], revenue.high.round()),
        "{r} against {revenue:?}"
    );
    let net = stats::net_return(revenue, nt, 1000.0);
    assert!(close(&read["net_fen"]["estimate"], net.net.estimate.round()), "{}", read["net_fen"]);
    assert!(close(&read["roi"]["high"], net.roi.unwrap().high));
    let expected = match stats::verdict(&net.net) {
        stats::Verdict::Positive => "positive",
        stats::Verdict::Negative => "negative",
        stats::Verdict::Inconclusive => "inconclusive",
    };
    assert_eq!(read["verdict"], expected);
    assert_eq!(expected, "inconclusive", "two dozen members cannot tell");
    let pooled = 4.0 / real(i64::try_from(nt + nc).unwrap());
    let detectable = stats::detectable_rate_difference(pooled, nt, nc).unwrap();
    assert!(close(&read["detectable_visit_rate"], detectable));

    // Attribution, as others report it: the treatment group was each sent the in-app message; three came within
    // three days (the recharge is no visit).
    let attribution = &read["attribution"];
    assert_eq!(
        (attribution["days"].as_i64(), attribution["recipients"].as_u64()),
        (Some(3), Some(nt)),
        "{attribution}"
    );
    assert_eq!(
        (attribution["visitors"].as_u64(), attribution["revenue_fen"].as_i64()),
        (Some(3), Some(3 * wash_fen - 1000))
    );

    // Per home store (members alternate between the two): each store's groups are its own members'.
    let stores = read["stores"].as_array().unwrap();
    assert_eq!(stores.len(), 2, "{stores:?}");
    for (index, store) in app.seed.store_ids.iter().take(2).enumerate() {
        let line = stores.iter().find(|s| s["store_id"] == *store).unwrap();
        let of_store = |control: bool| {
            let ids: Vec<i64> = members.iter().enumerate().filter(|(n, _)| n % 2 == index).map(|(_, m)| *m).collect();
            u64::try_from(ids.iter().filter(|m| groups[*m] == control).count()).unwrap()
        };
        assert_eq!(line["treatment"]["members"].as_u64(), Some(of_store(false)), "{line}");
        assert_eq!(line["control"]["members"].as_u64(), Some(of_store(true)), "{line}");
        assert!(line["store_name"].is_string());
    }
    let revenue: i64 = stores.iter().map(|s| s["treatment"]["revenue_fen"].as_i64().unwrap()).sum();
    assert_eq!(Some(revenue), t["revenue_fen"].as_i64(), "the stores add up to the whole");

    // Day by day: all of it on the first day.
    let daily = read["daily"].as_array().unwrap();
    assert_eq!(daily.len(), 1, "{daily:?}");
    assert!(close(&daily[0]["treatment_fen"], (real(3 * wash_fen - 1000) / real(i64::try_from(nt).unwrap())).round()));
    assert!(close(&daily[0]["control_fen"], (real(wash_fen) / real(i64::try_from(nc).unwrap())).round()));

    // The same report as a workbook: the campaign, the verdict and the groups' sizes in it, two sheets.
    let export = format!("{STAFF}/campaigns/{id}/report/export");
    let response = app.client.get(app.url(&export)).bearer_auth(&marketing).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let header = |name: &str| response.headers()[name].to_str().unwrap().to_owned();
    assert_eq!(header("content-type"), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
    assert!(header("content-disposition").starts_with("attachment"), "{}", header("content-disposition"));
    let mut book = zip::ZipArchive::new(std::io::Cursor::new(response.bytes().await.unwrap())).unwrap();
    let mut part = |name: &str| {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut book.by_name(name).unwrap(), &mut text).unwrap();
        text
    };
    let strings = part("xl/sharedStrings.xml");
    assert!(strings.contains("效果测试活动") && strings.contains("尚无定论"), "{strings}");
    let summary = part("xl/worksheets/sheet1.xml");
    assert!(summary.contains(&format!("<v>{nt}</v>")) && summary.contains(&format!("<v>{nc}</v>")), "{summary}");
    assert!(part("xl/worksheets/sheet2.xml").contains("<v>1</v>"), "the first day on the daily sheet");
    assert_error(&app.get(&export, &cashier).await, StatusCode::FORBIDDEN, "forbidden");

    // Another merchant's campaign is not found; a cashier may not read reports; a horizon outside 7–90 is refused.
    let (_, other_owner) = app.other_merchant().await;
    assert_error(
        &app.get(&format!("{STAFF}/campaigns/{id}/report"), &other_owner).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &app.get(&format!("{STAFF}/campaigns/{id}/report"), &cashier).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    for horizon in [6, 91] {
        let body = json!({ "name": "坏的观察期", "segment_id": segment["id"], "coupon_template_id": template,
            "horizon_days": horizon, "run_at": Utc::now() });
        assert_error(
            &app.post(&format!("{STAFF}/campaigns"), &marketing, body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        );
    }
}

/// Before launch: a segment of 20 members, 5 of whom came within the horizon, split half and half, detects only a
/// difference of about half of all members; bad plans are refused.
#[tokio::test]
async fn before_launch_the_detectable_effect_follows_the_segments_size_rate_and_control_share() {
    let app = TestApp::spawn().await;
    let marketing = app.token(Role::Marketing).await;
    let cashier = app.token(Role::Cashier).await;
    let services = app.staff_ok(&cashier, "/services").await;
    let wash = services.as_array().unwrap().iter().find(|s| s["name"] == "洗剪吹").unwrap().clone();
    let mut members = Vec::new();
    for n in 0..20 {
        let body = json!({ "phone": format!("1390004{n:04}"), "tags": ["powertest"] });
        members.push(app.staff_created(&cashier, "/members", body).await["id"].as_i64().unwrap());
    }
    for member in &members[..5] {
        let body = json!({
            "store_id": app.seed.store_ids[0], "member_id": member, "idempotency_key": format!("power-bill-{member}"),
            "lines": [{ "item_id": wash["id"] }], "tenders": [{ "kind": "cash", "amount_fen": wash["price_fen"] }],
        });
        app.staff_posted(&cashier, "/bills", body).await;
    }
    let rule = json!({ "combine": "all", "criteria": [{ "kind": "tags", "tags": ["powertest"] }] });
    let segment =
        app.staff_created(&marketing, "/segments", json!({ "name": "规模测试", "rule": rule })).await["id"].clone();
    let plan = |control_bp: i64| json!({ "segment_id": segment, "control_bp": control_bp, "horizon_days": 30 });
    let half = app.staff_posted(&marketing, "/campaigns/detectable-effect", plan(5000)).await;
    assert_eq!(
        (half["audience"].as_u64(), half["treated"].as_u64(), half["control"].as_u64()),
        (Some(20), Some(10), Some(10))
    );
    assert!(close(&half["base_visit_rate"], 0.25));
    assert!(close(&half["detectable_visit_rate"], stats::detectable_rate_difference(0.25, 10, 10).unwrap()));
    // A smaller control group detects less.
    let tenth = app.staff_posted(&marketing, "/campaigns/detectable-effect", plan(1000)).await;
    assert_eq!((tenth["treated"].as_u64(), tenth["control"].as_u64()), (Some(18), Some(2)));
    assert!(tenth["detectable_visit_rate"].as_f64() > half["detectable_visit_rate"].as_f64());

    let (_, other_owner) = app.other_merchant().await;
    let theirs =
        app.staff_created(&other_owner, "/segments", json!({ "name": "他们的", "rule": rule })).await["id"].clone();
    for bad in [
        json!({ "segment_id": segment, "control_bp": 6000 }),
        json!({ "segment_id": segment, "horizon_days": 5 }),
        json!({ "segment_id": theirs }),
    ] {
        let answer = app.post(&format!("{STAFF}/campaigns/detectable-effect"), &marketing, bad).await;
        assert_error(&answer, StatusCode::UNPROCESSABLE_ENTITY, "invalid_input");
    }
    let unknown = json!({ "segment_id": segment, "budget": 100 });
    assert!(app.post(&format!("{STAFF}/campaigns/detectable-effect"), &marketing, unknown).await.0.is_client_error());
    assert_error(
        &app.post(&format!("{STAFF}/campaigns/detectable-effect"), &cashier, plan(1000)).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
}

/// The report read from the kept results (brought forward by the job a day at a time, the slice since added on
/// read) is the report computed from every bill and ledger line of the horizon, wherever the slices are cut: a
/// reversal days after its bill, a coupon bill, a recharge, a bill before the campaign, messages sent; and runners
/// racing over the same campaign never count a slice twice.
#[tokio::test]
async fn kept_results_give_the_report_computed_from_nothing_wherever_the_slices_are_cut() {
    use service::marketing::roi::{report, results};

    let app = TestApp::spawn().await;
    let marketing = app.token(Role::Marketing).await;
    let cashier = app.token(Role::Cashier).await;
    let owner = app.token(Role::Owner).await;
    let store = app.seed.store_ids[0];
    let services = app.staff_ok(&cashier, "/services").await;
    let wash = services.as_array().unwrap().iter().find(|s| s["name"] == "洗剪吹").unwrap().clone();
    let (wash_id, wash_fen) = (wash["id"].as_i64().unwrap(), wash["price_fen"].as_i64().unwrap());
    let mut members = Vec::new();
    for n in 0..30 {
        let body = json!({ "phone": format!("1390005{n:04}"), "tags": ["keptroi"], "home_store_id": app.seed.store_ids[n % 2] });
        members.push(app.staff_created(&owner, "/members", body).await["id"].as_i64().unwrap());
    }
    let rule = json!({ "combine": "all", "criteria": [{ "kind": "tags", "tags": ["keptroi"] }] });
    let segment = app.staff_created(&marketing, "/segments", json!({ "name": "汇总测试", "rule": rule })).await;
    let template = json!({ "name": "回馈 10 元", "kind": "amount", "value_fen": 1000, "valid_days": 30 });
    let template = app.staff_created(&marketing, "/coupon-templates", template).await["id"].as_i64().unwrap();
    let body = json!({
        "name": "汇总测试活动", "segment_id": segment["id"], "coupon_template_id": template, "control_bp": 4000,
        "message_title": "回馈 10 元", "message_body": "到店立减 10 元，回复或在“我的”中可关闭营销消息。",
        "horizon_days": 14, "run_at": Utc::now(),
    });
    let id = app.staff_created(&marketing, "/campaigns", body).await["id"].as_i64().unwrap();
    run_due(&app.ctx, Utc::now()).await.unwrap();
    dispatch_due(&app.ctx, Utc::now()).await.unwrap();
    let groups: BTreeMap<i64, bool> = entity::campaign_members::Entity::find()
        .filter(entity::campaign_members::Column::CampaignId.eq(id))
        .all(&app.ctx.db)
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.member_id, m.in_control))
        .collect();
    let treated: Vec<i64> = groups.iter().filter(|(_, c)| !**c).map(|(m, _)| *m).collect();
    let control: Vec<i64> = groups.iter().filter(|(_, c)| **c).map(|(m, _)| *m).collect();
    assert!(treated.len() >= 5 && control.len() >= 3, "a usable split: {} / {}", treated.len(), control.len());

    // The campaign ran six days ago; its messages went an hour after.
    let start = Utc::now() - Duration::days(6);
    entity::campaigns::Entity::update_many()
        .col_expr(entity::campaigns::Column::StartedAt, Expr::value(Some(start)))
        .filter(entity::campaigns::Column::Id.eq(id))
        .exec(&app.ctx.db)
        .await
        .unwrap();
    entity::marketing_sends::Entity::update_many()
        .col_expr(entity::marketing_sends::Column::SentAt, Expr::value(Some(start + Duration::hours(1))))
        .filter(entity::marketing_sends::Column::CampaignId.eq(id))
        .exec(&app.ctx.db)
        .await
        .unwrap();
    // Activity moved to the moment it stands for: the bill (or the member's recharge) and its ledger entries.
    let moved_to = |entries: sea_orm::Condition, bill: Option<i64>, at: chrono::DateTime<Utc>| {
        let app = &app;
        async move {
            if let Some(bill) = bill {
                entity::bills::Entity::update_many()
                    .col_expr(entity::bills::Column::SettledAt, Expr::value(Some(at)))
                    .col_expr(entity::bills::Column::CreatedAt, Expr::value(at))
                    .filter(entity::bills::Column::Id.eq(bill))
                    .exec(&app.ctx.db)
                    .await
                    .unwrap();
            }
            entity::journal_entries::Entity::update_many()
                .col_expr(entity::journal_entries::Column::CreatedAt, Expr::value(at))
                .filter(entries)
                .exec(&app.ctx.db)
                .await
                .unwrap();
        }
    };
    let settle = |member: i64, key: &str, coupons: Vec<i64>, at: chrono::DateTime<Utc>| {
        let (app, cashier) = (&app, &cashier);
        let off = if coupons.is_empty() { 0 } else { 1000 };
        let body = json!({
            "store_id": store, "member_id": member, "idempotency_key": key, "coupon_ids": coupons,
            "lines": [{ "item_id": wash_id }], "tenders": [{ "kind": "cash", "amount_fen": wash_fen - off }],
        });
        async move {
            let bill = app.staff_posted(cashier, "/bills", body).await["id"].as_i64().unwrap();
            let entries = sea_orm::Condition::all()
                .add(entity::journal_entries::Column::BillId.eq(bill))
                .add(entity::journal_entries::Column::Kind.eq("sale"));
            moved_to(entries, Some(bill), at).await;
            bill
        }
    };
    let coupon = entity::member_coupons::Entity::find()
        .filter(entity::member_coupons::Column::MemberId.eq(treated[0]))
        .filter(entity::member_coupons::Column::TemplateId.eq(template))
        .one(&app.ctx.db)
        .await
        .unwrap()
        .unwrap()
        .id;
    settle(treated[0], "kept-before", vec![], start - Duration::days(1)).await;
    settle(treated[0], "kept-t0-coupon", vec![coupon], start + Duration::hours(2)).await;
    settle(treated[0], "kept-t0-later", vec![], start + Duration::days(4)).await;
    settle(treated[1], "kept-t1-bill", vec![], start + Duration::days(1)).await;
    settle(control[0], "kept-c0-bill", vec![], start + Duration::hours(36)).await;
    let reversed = settle(control[1], "kept-c1-bill", vec![], start + Duration::days(2)).await;
    let reverse = json!({ "reason": "开错单", "idempotency_key": "kept-reverse" });
    app.staff_created(&owner, &format!("/bills/{reversed}/reverse"), reverse).await;
    let reversal = sea_orm::Condition::all()
        .add(entity::journal_entries::Column::BillId.eq(reversed))
        .add(entity::journal_entries::Column::Kind.eq("reversal"));
    moved_to(reversal, None, start + Duration::days(3)).await;
    let recharge =
        json!({ "store_id": store, "amount_fen": 30_000, "tender": "cash", "idempotency_key": "kept-recharge" });
    ok(app.post(&format!("{STAFF}/members/{}/stored-value/recharges", treated[2]), &owner, recharge).await);
    let recharged = sea_orm::Condition::all()
        .add(entity::journal_entries::Column::MemberId.eq(treated[2]))
        .add(entity::journal_entries::Column::Kind.eq("recharge"));
    moved_to(recharged, None, start + Duration::days(2)).await;

    let merchant = app.seed.merchant_id;
    let report_path = format!("/campaigns/{id}/report");
    let recomputed = || async {
        let report = report::campaign_recomputed(&app.ctx, merchant, id).await.unwrap();
        // Through text, as the answer comes: the parser reads a few real numbers a unit in the last place off.
        let text = serde_json::to_string(&api::routes::campaign_report::CampaignReportDto::from(report)).unwrap();
        serde_json::from_str::<Value>(&text).unwrap()
    };
    let kept_until =
        || async { entity::campaigns::Entity::find_by_id(id).one(&app.ctx.db).await.unwrap().unwrap().results_until };

    // Nothing kept yet: the first read brings the results forward a day at a time, up to a few minutes ago.
    assert_eq!(kept_until().await, None);
    let expected = recomputed().await;
    assert_eq!(expected["treatment"]["bills"], 3, "the bill before the run is not the campaign's: {expected}");
    assert_eq!(expected["control"]["bills"], 1, "the reversal days later took its visit back");
    assert_eq!(expected["treatment"]["recharge_fen"], 30_000);
    assert_eq!(expected["cost"]["coupon_fen"], 1000);
    // Every treated member was sent the message: the coupon bill and the next day's bill came within three days of
    // it, the fourth day's bill did not.
    assert_eq!(expected["attribution"]["revenue_fen"], 2 * wash_fen - 1000, "{}", expected["attribution"]);
    assert_eq!(app.staff_ok(&marketing, &report_path).await, expected);
    let until = kept_until().await.unwrap();
    assert!(until > Utc::now() - Duration::minutes(20) && until <= Utc::now() - results::SETTLING, "{until}");
    let kept: Vec<entity::campaign_members::Model> = entity::campaign_members::Entity::find()
        .filter(entity::campaign_members::Column::CampaignId.eq(id))
        .filter(entity::campaign_members::Column::MemberId.eq(treated[0]))
        .all(&app.ctx.db)
        .await
        .unwrap();
    assert_eq!(
        (kept[0].bills, kept[0].revenue_fen, kept[0].attributed_fen),
        (2, 2 * wash_fen - 1000, wash_fen - 1000),
        "the member's own outcome is kept"
    );

    // New activity a moment ago is in the slice added on read, not yet kept.
    settle(treated[3], "kept-t3-now", vec![], Utc::now() - Duration::minutes(1)).await;
    let expected = recomputed().await;
    assert_eq!(expected["treatment"]["bills"], 4);
    assert_eq!(app.staff_ok(&marketing, &report_path).await, expected);
    let kept_bills = |member: i64| {
        let app = &app;
        async move {
            entity::campaign_members::Entity::find()
                .filter(entity::campaign_members::Column::CampaignId.eq(id))
                .filter(entity::campaign_members::Column::MemberId.eq(member))
                .one(&app.ctx.db)
                .await
                .unwrap()
                .unwrap()
                .bills
        }
    };
    assert_eq!(kept_bills(treated[3]).await, 0, "a bill of the settling minutes is read, not kept");

    // Two runners racing an hour later: the slice is applied once.
    let later = Utc::now() + Duration::hours(1);
    let budget = std::time::Duration::from_secs(30);
    let (a, b) = tokio::join!(
        results::bring_all_up_to_date(&app.ctx, later, budget),
        results::bring_all_up_to_date(&app.ctx, later, budget)
    );
    assert_eq!(a.unwrap() + b.unwrap(), 1, "one step between them");
    assert!(kept_until().await.unwrap() > Utc::now(), "kept past the new bill");
    assert_eq!(kept_bills(treated[3]).await, 1);
    assert_eq!(app.staff_ok(&marketing, &report_path).await, expected);
    let rows = entity::campaign_results::Entity::find()
        .filter(entity::campaign_results::Column::CampaignId.eq(id))
        .all(&app.ctx.db)
        .await
        .unwrap();
    assert_eq!(rows.iter().map(|r| r.bills).sum::<i64>(), 5, "four treatment visits and one control, kept");
}

/// The embedded default's finished demo campaign: written once at start-up, settled through checkout, and its
/// report a real computation over that history (the same as computed from nothing).
#[tokio::test]
async fn the_demo_merchant_has_a_finished_campaign_whose_report_is_computed_over_its_history() {
    use service::demo::showcase::finished_campaign;

    let app = TestApp::spawn().await;
    let merchant = app.seed.merchant_id;
    let id = finished_campaign(&app.ctx, merchant).await.unwrap().expect("written the first time");
    assert_eq!(finished_campaign(&app.ctx, merchant).await.unwrap(), None, "and only once");
    // The named job keeps its results: the 14 days of its horizon, a day a step, and nothing more on a second run.
    let scheduler = jobs::standard_scheduler(app.ctx.clone()).unwrap();
    let run = scheduler.run_now("campaigns.results").await.unwrap();
    assert_eq!(run.status, "succeeded", "{:?}", run.error);
    assert_eq!(serde_json::from_str::<Value>(&run.counts).unwrap()["steps"], 14, "{}", run.counts);
    let campaign = entity::campaigns::Entity::find_by_id(id).one(&app.ctx.db).await.unwrap().unwrap();
    let until = campaign.started_at.unwrap() + Duration::days(14);
    assert_eq!(campaign.results_until.map(|at| at.timestamp_micros()), Some(until.timestamp_micros()));
    let again = scheduler.run_now("campaigns.results").await.unwrap();
    assert_eq!(serde_json::from_str::<Value>(&again.counts).unwrap()["steps"], 0, "{}", again.counts);
    let marketing = app.token(Role::Marketing).await;
    let read = app.staff_ok(&marketing, &format!("/campaigns/{id}/report")).await;
    let (t, c) = (&read["treatment"], &read["control"]);
    assert_eq!(read["provisional"], false, "the horizon has ended: {read}");
    assert_eq!(t["members"].as_u64().unwrap() + c["members"].as_u64().unwrap(), 240);
    assert!(t["bills"].as_u64().unwrap() > 20 && c["bills"].as_u64().unwrap() > 5, "{t} {c}");
    assert!(t["revenue_fen"].as_i64().unwrap() > 0 && read["revenue_lift_fen"]["estimate"].is_i64());
    assert_ne!(read["verdict"], "not_enough_data");
    assert_eq!(read["daily"].as_array().unwrap().len(), 14);
    assert_eq!(read["stores"].as_array().unwrap().len(), 2);
    assert_eq!(read["attribution"]["recipients"], t["members"], "every treated member got the message");
    let recomputed = service::marketing::roi::report::campaign_recomputed(&app.ctx, merchant, id).await.unwrap();
    assert_eq!(Some(recomputed.treatment.bills), t["bills"].as_u64());
    assert_eq!(Some(recomputed.control.revenue_fen), c["revenue_fen"].as_i64());
    // The list's verdict, from the kept results, is the report's.
    let verdicts = app.staff_ok(&marketing, "/campaign-verdicts").await;
    let listed = verdicts.as_array().unwrap().iter().find(|v| v["campaign_id"] == id).cloned().unwrap();
    assert_eq!((&listed["verdict"], &listed["provisional"]), (&read["verdict"], &json!(false)));
    let cashier = app.token(Role::Cashier).await;
    assert_error(&app.get(&format!("{STAFF}/campaign-verdicts"), &cashier).await, StatusCode::FORBIDDEN, "forbidden");
    let campaigns = app.staff_ok(&marketing, "/campaigns").await;
    let listed =
        campaigns["items"].as_array().or(campaigns.as_array()).unwrap().iter().find(|c| c["id"] == id).cloned();
    assert_eq!(listed.unwrap()["status"], "done");
}
