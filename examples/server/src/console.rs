//! `GET /console`: the support console, one HTML page, one script and one style sheet embedded
//! in the binary (no CDN, no build step). It calls the service's own routes (the support
//! routes, see `auth.rs`) with the admin token or a tenant's token, which it keeps in the tab's
//! session storage and sends only as a header. Served with a Content-Security-Policy that
//! allows nothing but these three files and calls to this origin (no inline script, no frames,
//! no forms posted elsewhere).

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::get;

const PAGE: &str = include_str!("console/index.html");
const SCRIPT: &str = include_str!("console/app.js");
const STYLE: &str = include_str!("console/app.css");

/// What the console's answers carry besides their type.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

fn answer(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    let headers: [(HeaderName, HeaderValue); 6] = [
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(POLICY),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
    ];
    (headers, body)
}

/// The console's routes: `/console`, `/console/app.js`, `/console/app.css`.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(
            "/console",
            get(|| async { answer("text/html; charset=utf-8", PAGE) }),
        )
        .route(
            "/console/app.js",
            get(|| async { answer("text/javascript; charset=utf-8", SCRIPT) }),
        )
        .route(
            "/console/app.css",
            get(|| async { answer("text/css; charset=utf-8", STYLE) }),
        )
}
