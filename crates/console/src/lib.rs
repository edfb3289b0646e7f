//! The web console, served under `/console` by the same process as the API.
//!
//! Server-rendered shells and a little vanilla JavaScript, compiled into the binary: each page is
//! an HTML skeleton (navigation, headings, forms) rendered here, and ES modules that fill it from
//! the public REST API and the gateway with the signed-in token, polling to stay live. No build
//! step and no Node.js: what is in `assets/` is what the browser gets.
//!
//! The console has no private back door: it holds no secret and calls nothing the CLI cannot.

mod assets;
mod pages;

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

pub use pages::Page;

/// Where the console lives; `strata up` prints it.
pub const PATH: &str = "/console/";

/// Scripts and styles only from this origin, API calls only to it, and no framing: what the
/// pages show comes from the API (job names, logs, model output), so a slip in escaping cannot
/// run foreign code or leak the token elsewhere.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The console's routes: `/` and `/console` redirect to `/console/`, pages and assets below it.
/// No fallback, so it merges with the control plane's router and the gateway's.
pub fn router() -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to(PATH) }))
        .route("/console", get(|| async { Redirect::to(PATH) }))
        .route("/console/", get(|| async { page(None) }))
        .route("/console/{*path}", get(path))
}

async fn path(Path(path): Path<String>, headers: HeaderMap) -> Response {
    match path.strip_prefix("assets/") {
        Some(file) => asset(file, &headers),
        None => page(Some(&path)),
    }
}

fn page(path: Option<&str>) -> Response {
    let (status, html) = match Page::route(path.unwrap_or("")) {
        Some(p) => (StatusCode::OK, pages::render(&p)),
        None => (StatusCode::NOT_FOUND, pages::render_not_found()),
    };
    let mut response = (status, html).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

fn asset(file: &str, headers: &HeaderMap) -> Response {
    let Some(asset) = assets::find(file) else {
        return (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "no such console asset")
            .into_response();
    };
    // Revalidated on every load (assets change with the binary, and their URLs do not), so an
    // unchanged file costs a 304.
    let etag = HeaderValue::from_str(&asset.etag).unwrap_or(HeaderValue::from_static("\"0\""));
    let fresh = headers.get(header::IF_NONE_MATCH).is_some_and(|v| v.as_bytes() == etag.as_bytes());
    let common = [
        (header::ETAG, etag),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
    ];
    if fresh {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    (common, [(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type))], asset.body).into_response()
}

#[cfg(test)]
mod tests;
