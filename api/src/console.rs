//! The front ends the api serves itself, in both shapes (one binary, or any number of replicas): the staff console
//! at `/console/`, and in development (with the sandbox) the member app's H5 build at `/m/`. Their built assets
//! (`console/dist`, `miniapp/dist/build/h5`, committed; CI rebuilds them and fails on a difference) are embedded in
//! release builds and read from disk in debug builds, so a newcomer needs only Rust to see them.
//!
//! Answers are compressed when the browser accepts it. Hashed assets (`assets/…`) are cached for a year; `index.html` is revalidated on every load (ETag), so a new
//! release reaches browsers at once. Any other path without a file extension is a page of the app (a deep link)
//! and answers `index.html`; a missing file answers the api's JSON 404 like every other miss.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use rust_embed::{Embed, RustEmbed};

use crate::error::ApiError;

#[derive(Embed)]
#[folder = "../console/dist/"]
#[allow_missing = true]
struct Console;

#[derive(Embed)]
#[folder = "../miniapp/dist/build/h5/"]
#[allow_missing = true]
struct MemberApp;

/// `with_member_app`: serve `/m/` too (development: it signs members in through the sandbox).
pub fn routes(cfg: &mut web::ServiceConfig, with_member_app: bool) {
    // Compressed on the way out (a store's PC may sit behind a slow line); the api's JSON is left as it is.
    let compress = actix_web::middleware::Compress::default;
    cfg.route("/console", web::get().to(|| redirect("/console/")))
        .service(web::scope("/console").wrap(compress()).route("/{path:.*}", web::get().to(serve::<Console>)));
    if with_member_app {
        cfg.route("/m", web::get().to(|| redirect("/m/")))
            .service(web::scope("/m").wrap(compress()).route("/{path:.*}", web::get().to(serve::<MemberApp>)));
    }
}

async fn redirect(to: &'static str) -> HttpResponse {
    HttpResponse::PermanentRedirect().insert_header((header::LOCATION, to)).finish()
}

async fn serve<Assets: RustEmbed>(req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    let path = path.into_inner();
    let found = (!path.is_empty()).then(|| Assets::get(&path)).flatten();
    let (file, immutable) = match found {
        Some(file) => (file, path.starts_with("assets/")),
        None if is_file_name(&path) => return not_found(),
        None => match Assets::get("index.html") {
            Some(index) => (index, false),
            None => {
                return ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "not_built",
                    "this front end is not built: see the README (console/, miniapp/)",
                )
                .error_response();
            }
        },
    };
    let etag = format!("\"{}\"", hex(&file.metadata.sha256_hash()[..16]));
    let cache = if immutable { "public, max-age=31536000, immutable" } else { "no-cache" };
    let fresh = req.headers().get(header::IF_NONE_MATCH).is_some_and(|tag| tag.as_bytes() == etag.as_bytes());
    let mut response = if fresh { HttpResponse::NotModified() } else { HttpResponse::Ok() };
    response.insert_header((header::ETAG, etag)).insert_header((header::CACHE_CONTROL, cache));
    if fresh {
        return response.finish();
    }
    let content_type =
        HeaderValue::from_str(file.metadata.mimetype()).unwrap_or(HeaderValue::from_static("application/octet-stream"));
    response.insert_header((header::CONTENT_TYPE, content_type)).body(file.data.into_owned())
}

/// `assets/app.js`, `favicon.ico`: a file, not a page of the app.
fn is_file_name(path: &str) -> bool {
    path.rsplit('/').next().is_some_and(|last| last.contains('.'))
}

fn not_found() -> HttpResponse {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such file").error_response()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
