//! `cargo run --release -p bench -- bookings`: slot search and booking through the HTTP API on PostgreSQL.
//!
//! 1. A fresh PostgreSQL database with the demo merchant; the release api starts on it.
//! 2. Through the staff API, a store of 30 technicians: open 09:00–21:00, each on a 9-hour shift six days in seven,
//!    doing a cut (45 min), a colour (120 min, developing from 30 to 75 minutes in) and a massage (60 min, on one of
//!    four beds). The desk then books about 60% of every shift over the next 7 days.
//! 3. Slot search as a member sees it: "anyone" for a cut over 7 days, a chosen technician, and a colour then a cut
//!    in sequence. Prints p50 and p99 per search.
//! 4. 16 members book at once, each a random start from the search ("anyone"): bookings/s, p50, p99, conflicts, and
//!    a check that no technician holds two bookings at once.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rand::Rng;
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};

use crate::{CASHIER_PASSWORD, percentile_ms};

pub struct Options<'a> {
    pub server: &'a str,
    pub database: &'a str,
    pub searches: usize,
    pub concurrency: usize,
    pub duration: Duration,
    pub api: &'a Path,
}

const STAFF: usize = 30;

struct Api {
    client: reqwest::Client,
    base: String,
}

impl Api {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut request = self.client.request(method, format!("{}{path}", self.base)).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    async fn ok(&self, method: reqwest::Method, path: &str, token: &str, body: Option<Value>) -> anyhow::Result<Value> {
        let (status, answer) = self.send(method, path, token, body).await?;
        if !(200..300).contains(&status) {
            bail!("{path}: {status} {answer}");
        }
        Ok(answer)
    }
}

fn every_day(from: &str, to: &str, off: Option<u32>) -> Value {
    let days: Vec<Value> =
        (1..=7).filter(|d| Some(*d) != off).map(|d| json!({ "weekday": d, "from": from, "to": to })).collect();
    json!({ "windows": days })
}

fn id(value: &Value) -> anyhow::Result<i64> {
    value["id"].as_i64().with_context(|| format!("no id in {value}"))
}

pub async fn bench_bookings(options: Options<'_>) -> anyhow::Result<()> {
    if !options.api.exists() {
        bail!("{} not found: run `cargo build --release -p api` first", options.api.display());
    }
    let admin = Database::connect(format!("{}/postgres", options.server.trim_end_matches('/'))).await?;
    admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", options.database)).await?;
    admin.execute_unprepared(&format!("CREATE DATABASE {}", options.database)).await?;
    admin.close().await?;
    let url = format!("{}/{}", options.server.trim_end_matches('/'), options.database);
    let ctx = crate::bills::context(&url).await?;
    let seed = service::demo::seed(&ctx, &|_| CASHIER_PASSWORD.to_owned()).await?.context("fresh database seeded")?;
    let port = crate::free_port()?;
    let child = crate::spawn_api(&options.api.to_path_buf(), &url, port, 16)?;
    let api = Api {
        client: reqwest::Client::builder().pool_max_idle_per_host(64).build()?,
        base: format!("http://127.0.0.1:{port}"),
    };
    crate::wait_ready(&api.client, &api.base).await?;
    let owner: Value = api
        .client
        .post(format!("{}/api/staff/v1/sessions", api.base))
        .json(&json!({ "username": "demo-owner", "password": CASHIER_PASSWORD }))
        .send()
        .await?
        .json()
        .await?;
    let owner = owner["token"].as_str().context("owner sign-in")?.to_owned();
    let post = reqwest::Method::POST;
    let put = reqwest::Method::PUT;
    let staff_api = |path: &str| format!("/api/staff/v1{path}");

    // The store, its menu and its people.
    let started = Instant::now();
    let store = id(&api
        .ok(post.clone(), &staff_api("/stores"), &owner, Some(json!({ "name": "基准店", "timezone": "Asia/Shanghai" })))
        .await?)?;
    api.ok(put.clone(), &staff_api(&format!("/stores/{store}/hours")), &owner, Some(every_day("09:00", "21:00", None)))
        .await?;
    let service = |name: &str, minutes: i32, extra: Value| {
        let mut body = json!({ "category": "基准", "name": name, "duration_min": minutes, "price_fen": 10_000 });
        if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            body.extend(extra.clone());
        }
        body
    };
    let cut =
        id(&api.ok(post.clone(), &staff_api("/services"), &owner, Some(service("基准剪发", 45, json!({})))).await?)?;
    let colour_body =
        service("基准染发", 120, json!({ "buffer_min": 10, "processing": { "offset_min": 30, "length_min": 45 } }));
    let colour = id(&api.ok(post.clone(), &staff_api("/services"), &owner, Some(colour_body)).await?)?;
    let massage_body = service("基准按摩", 60, json!({ "resource_kind": "massage_bed" }));
    let massage = id(&api.ok(post.clone(), &staff_api("/services"), &owner, Some(massage_body)).await?)?;
    for bed in 1..=4 {
        let body = json!({ "name": format!("按摩床{bed}"), "kind": "massage_bed", "capacity": 1 });
        api.ok(post.clone(), &staff_api(&format!("/stores/{store}/resources")), &owner, Some(body)).await?;
    }
    let mut staff = Vec::new();
    for i in 0..STAFF {
        let body = json!({
            "username": format!("bench-tech-{i:02}"), "display_name": format!("技师{i:02}"), "role": "technician",
            "password": "bench-technician-password", "store_ids": [store],
        });
        let person = id(&api.ok(post.clone(), &staff_api("/staff"), &owner, Some(body)).await?)?;
        let (from, to) = if i % 2 == 0 { ("09:00", "18:00") } else { ("12:00", "21:00") };
        let off = u32::try_from(i % 7 + 1)?;
        let shifts = every_day(from, to, Some(off));
        api.ok(put.clone(), &staff_api(&format!("/stores/{store}/staff/{person}/shifts")), &owner, Some(shifts))
            .await?;
        let skills = json!({ "skills": [{ "service_item_id": cut }, { "service_item_id": colour }, { "service_item_id": massage }] });
        api.ok(put.clone(), &staff_api(&format!("/staff/{person}/skills")), &owner, Some(skills)).await?;
        staff.push((person, from == "09:00", off));
    }
    let mut members = Vec::new();
    for i in 0..200 {
        let session: Value = api
            .client
            .post(format!("{}/api/mini/v1/sessions/sandbox", api.base))
            .json(&json!({ "merchant_id": seed.merchant_id, "user": format!("bench-booker-{i}") }))
            .send()
            .await?
            .json()
            .await?;
        let token = session["token"].as_str().context("member sign-in")?.to_owned();
        members.push((token, session["member_id"].as_i64().context("member id")?));
    }

    // About 60% of every shift booked at the desk, tomorrow on.
    let zone = chrono_tz::Asia::Shanghai;
    let today = chrono::Utc::now().with_timezone(&zone).date_naive();
    let mut rng = rand::thread_rng();
    let mut desk = Vec::new();
    for (person, early, off) in &staff {
        for d in 1..=7 {
            let day = today + chrono::Duration::days(d);
            if chrono::Datelike::weekday(&day).number_from_monday() == *off {
                continue;
            }
            let (mut at, end) = if *early { (9 * 60, 18 * 60) } else { (12 * 60, 21 * 60) };
            while at < end {
                let (item, minutes) = [(cut, 45), (colour, 130), (massage, 60)][rng.gen_range(0..3)];
                if at + minutes > end {
                    break;
                }
                if rng.gen_bool(0.6) {
                    let local = day.and_hms_opt(at / 60, at % 60, 0).context("time")?;
                    let starts_at = local.and_local_timezone(zone).single().context("local time")?.to_utc();
                    let member = members[rng.gen_range(0..members.len())].1;
                    desk.push(json!({
                        "store_id": store, "member_id": member, "service_ids": [item], "starts_at": starts_at,
                        "staff_id": person,
                    }));
                }
                at += minutes + 15 * rng.gen_range(0..3);
            }
        }
    }
    let mut made = 0;
    for chunk in desk.chunks(16) {
        let answers = futures_util::future::join_all(
            chunk.iter().map(|b| api.send(post.clone(), "/api/staff/v1/bookings", &owner, Some(b.clone()))),
        )
        .await;
        made += answers.into_iter().filter(|a| a.as_ref().is_ok_and(|(s, _)| *s == 201)).count();
    }
    println!(
        "store: {STAFF} technicians, 7 days, {made} bookings at the desk ({} asked; beds refuse some), set up in {:.1} s",
        desk.len(),
        started.elapsed().as_secs_f64()
    );

    // Slot search as members see it.
    let from = today + chrono::Duration::days(1);
    let token = &members[0].0;
    let searches = [
        ("anyone, a cut, 7 days", format!("service_ids={cut}&from={from}&days=7")),
        ("one technician, a cut, 7 days", format!("service_ids={cut}&from={from}&days=7&staff_id={}", staff[0].0)),
        ("anyone, colour then cut, 7 days", format!("service_ids={colour},{cut}&from={from}&days=7")),
        ("anyone, a massage (beds), 7 days", format!("service_ids={massage}&from={from}&days=7")),
    ];
    let mut offered = Vec::new();
    for (label, query) in &searches {
        let path = format!("/api/mini/v1/stores/{store}/slots?{query}");
        let mut latencies = Vec::with_capacity(options.searches);
        let mut slots = 0;
        for _ in 0..options.searches {
            let at = Instant::now();
            let answer = api.ok(reqwest::Method::GET, &path, token, None).await?;
            latencies.push(at.elapsed());
            slots = answer["slots"].as_array().map_or(0, Vec::len);
            if offered.is_empty() {
                offered = answer["slots"].as_array().cloned().unwrap_or_default();
            }
        }
        latencies.sort();
        println!(
            "slot search, {label}: {slots} starts; p50 {:.2} ms, p99 {:.2} ms ({} searches)",
            percentile_ms(&latencies, 0.50),
            percentile_ms(&latencies, 0.99),
            options.searches
        );
    }

    // 16 members booking at once.
    let starts: Arc<Vec<String>> =
        Arc::new(offered.iter().filter_map(|s| s["starts_at"].as_str().map(str::to_owned)).collect());
    if starts.is_empty() {
        bail!("no free slots to book");
    }
    let api = Arc::new(api);
    let members = Arc::new(members);
    let deadline = Instant::now() + options.duration;
    let began = Instant::now();
    let workers = (0..options.concurrency).map(|w| {
        let (api, members, starts) = (api.clone(), members.clone(), starts.clone());
        tokio::spawn(async move {
            let mut latencies = Vec::new();
            let (mut conflicts, mut errors) = (0_usize, 0_usize);
            let mut n = 0;
            while Instant::now() < deadline {
                n += 1;
                let (token, _) = &members[(w * 7919 + n * 31) % members.len()];
                let starts_at = &starts[rand::thread_rng().gen_range(0..starts.len())];
                let body = json!({ "store_id": store, "service_ids": [cut], "starts_at": starts_at });
                let at = Instant::now();
                match api.send(reqwest::Method::POST, "/api/mini/v1/me/bookings", token, Some(body)).await {
                    Ok((201, _)) => latencies.push(at.elapsed()),
                    Ok((200 | 409, _)) => conflicts += 1,
                    _ => errors += 1,
                }
            }
            (latencies, conflicts, errors)
        })
    });
    let mut latencies = Vec::new();
    let (mut conflicts, mut errors) = (0, 0);
    for worker in futures_util::future::join_all(workers).await {
        let (l, c, e) = worker?;
        latencies.extend(l);
        conflicts += c;
        errors += e;
    }
    let elapsed = began.elapsed();
    latencies.sort();
    println!(
        "booking, {} concurrent members: {:.0} bookings/s ({} made, {conflicts} refused as taken or repeated, {errors} errors in {:.1} s); p50 {:.2} ms, p99 {:.2} ms",
        options.concurrency,
        crate::notifications::rate(latencies.len(), elapsed),
        latencies.len(),
        elapsed.as_secs_f64(),
        percentile_ms(&latencies, 0.50),
        percentile_ms(&latencies, 0.99)
    );
    let overlaps = crate::scalar(
        &ctx.db,
        "SELECT COUNT(*) AS n FROM booking_holds a JOIN booking_holds b ON a.staff_id = b.staff_id AND a.id < b.id \
         AND a.starts_at < b.ends_at AND b.starts_at < a.ends_at",
        vec![],
    )
    .await?;
    println!("technicians holding two bookings at once: {overlaps}");
    if let Some(pid) = child.id() {
        let (rss, peak) = crate::memory_of(pid)?;
        println!("api memory: {} MiB resident, {} MiB peak", rss / 1024, peak / 1024);
    }
    if overlaps > 0 {
        bail!("double booking found");
    }
    Ok(())
}
