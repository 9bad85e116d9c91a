//! The staff console is served by the api: the right types, long caching for hashed assets, revalidation for the
//! page, deep links that reload, and the api's JSON misses left alone.

use reqwest::StatusCode;
use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH, LOCATION};

use crate::support::TestApp;

#[tokio::test]
async fn the_console_is_served_with_caching_and_deep_links_reload() {
    let app = TestApp::spawn().await;
    let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let moved = no_redirects.get(app.url("/console")).send().await.unwrap();
    assert_eq!(moved.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(moved.headers()[LOCATION], "/console/");

    let page = app.client.get(app.url("/console/")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.headers()[CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
    assert_eq!(page.headers()[CACHE_CONTROL], "no-cache");
    let etag = page.headers()[ETAG].clone();
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"<div id="app">"#), "{html}");

    // The browser revalidates the page and gets 304 until it changes.
    let again = app.client.get(app.url("/console/")).header(IF_NONE_MATCH, etag).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);

    // A hashed asset the page names: cached for a year.
    let script = html.split(r#"src="/console/"#).nth(1).and_then(|rest| rest.split('"').next()).expect("a script");
    let asset = app.client.get(app.url(&format!("/console/{script}"))).send().await.unwrap();
    assert_eq!(asset.status(), StatusCode::OK);
    assert!(asset.headers()[CONTENT_TYPE].to_str().unwrap().contains("javascript"));
    assert_eq!(asset.headers()[CACHE_CONTROL], "public, max-age=31536000, immutable");
    let raw = asset.bytes().await.unwrap().len();
    let gzipped = app
        .client
        .get(app.url(&format!("/console/{script}")))
        .header(reqwest::header::ACCEPT_ENCODING, "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(gzipped.headers()[reqwest::header::CONTENT_ENCODING], "gzip");
    let sent = gzipped.bytes().await.unwrap().len();
    assert!(sent * 3 < raw * 2, "compressed: {sent} of {raw} bytes");

    // A deep link is the app's page; a missing file and a missing api route are JSON 404s.
    let deep = app.client.get(app.url("/console/members/12")).send().await.unwrap();
    assert_eq!(deep.status(), StatusCode::OK);
    assert_eq!(deep.text().await.unwrap(), html);
    for missing in ["/console/assets/missing-0000.js", "/api/staff/v1/nothing-here"] {
        let answer = app.client.get(app.url(missing)).send().await.unwrap();
        assert_eq!(answer.status(), StatusCode::NOT_FOUND, "{missing}");
        let body: serde_json::Value = answer.json().await.unwrap();
        assert_eq!(body["code"], "not_found", "{missing}");
    }
}

#[tokio::test]
async fn the_member_app_is_served_at_m_only_where_members_sign_in_through_the_sandbox() {
    let app = TestApp::spawn().await;
    let page = app.client.get(app.url("/m/")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"<div id="app">"#), "{html}");
    let deep = app.client.get(app.url("/m/pages/code/index")).send().await.unwrap();
    assert_eq!((deep.status(), deep.text().await.unwrap()), (StatusCode::OK, html));

    // Without the sandbox (production) there is no H5 sign-in, so no member app here either.
    let production = TestApp::spawn_with(crate::support::Options { sandbox: false, ..Default::default() }).await;
    let answer = production.client.get(production.url("/m/")).send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::NOT_FOUND);
    assert_eq!(production.client.get(production.url("/console/")).send().await.unwrap().status(), StatusCode::OK);
}
