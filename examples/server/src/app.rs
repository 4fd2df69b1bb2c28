//! The router and its layers: request ids, the request log (one event per request), body limit,
//! and for the database routes a concurrency limit with load shedding and a request timeout
//! (overload answers 503).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::error_handling::HandleErrorLayer;
use axum::extract::{DefaultBodyLimit, FromRequest, State};
use axum::http::{HeaderValue, Request, Response, header};
use axum::middleware::{self, Next};
use axum::response::IntoResponse;
use axum::routing::{delete, get, post, put};
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::{BoxError, ServiceBuilder};
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};

use crate::RunError;
use crate::admin;
use crate::api_error::{
    ApiError, BODY_LIMIT, IMPORT_BODY_LIMIT, SPLIT_BODY_LIMIT, unreadable_body,
};
use crate::blocked;
use crate::config::Config;
use crate::erase;
use crate::erasures;
use crate::events;
use crate::export;
use crate::handlers::{self, AppState};
use crate::history;
use crate::import;
use crate::metrics::Metrics;
use crate::request_log;
use crate::settings;
use crate::split;
use crate::webhooks;
use crate::whoami;

/// Builds the service's router around a connected core handle ([`routers`]' service, which
/// serves `GET /metrics` too unless `--metrics-addr` moves it).
///
/// # Errors
/// [`RunError::Config`] when the tokens are invalid ([`Config::credentials`]).
pub fn router(identity: identity::Identity, config: &Config) -> Result<Router, RunError> {
    Ok(routers(identity, config)?.service)
}

/// The service's routers: every route, and with `--metrics-addr` a second one that serves
/// only `GET /metrics` (which the first then does not).
#[derive(Debug)]
pub struct Routers {
    /// The service.
    pub service: Router,
    /// `GET /metrics` alone, when `--metrics-addr` gives it an address of its own.
    pub metrics: Option<Router>,
}

/// Builds the service's routers around a connected core handle.
///
/// # Errors
/// [`RunError::Config`] when the tokens are invalid ([`Config::credentials`]).
pub fn routers(identity: identity::Identity, config: &Config) -> Result<Routers, RunError> {
    let credentials = config.credentials().map_err(RunError::Config)?;
    let metrics = Metrics::new(config.metrics_tenant_label);
    let state = AppState {
        identity,
        legacy_key: config.legacy_key,
        log_unmasked: config.log_unmasked,
        admin_token: credentials.admin,
        tenant_tokens: credentials.tenants,
        events_max_wait: config.events_max_wait(),
        metrics: metrics.clone(),
        rendered: std::sync::Arc::default(),
    };
    let scrape = get(handlers::metrics);
    let metrics_alone = config.metrics_addr.map(|_| {
        Router::new()
            .route("/metrics", scrape.clone())
            .with_state(state.clone())
    });
    let guarded = Router::new()
        .route("/identify", post(handlers::identify))
        // the path some deployments of the task use; the same route
        .route("/api/identify", post(handlers::identify))
        .route("/contacts", get(handlers::contacts))
        .route("/settings", get(settings::get).put(settings::put))
        .route("/settings/limits", put(settings::put_limits))
        .layer(
            ServiceBuilder::new()
                // before a slot is taken: a slow sender must not hold one while it trickles
                .layer(middleware::from_fn_with_state(
                    config.body_timeout(),
                    read_body_first,
                ))
                .layer(HandleErrorLayer::new(overload_error))
                .load_shed()
                // one limit for all these routes (the per-route layer would give each its own)
                .layer(GlobalConcurrencyLimitLayer::new(config.concurrency_limit))
                .timeout(config.request_timeout()),
        );
    let mut router = Router::new();
    if metrics_alone.is_none() {
        router = router.route("/metrics", scrape);
    }
    let router = router
        .route("/events", get(events::events))
        .route("/healthz", get(handlers::healthz))
        .route("/readyz", get(handlers::readyz))
        .route("/openapi.json", get(handlers::openapi))
        .route("/admin/verify", get(admin::verify))
        .route("/admin/rebuild", post(admin::rebuild))
        .route("/admin/job", get(admin::job))
        .route("/admin/whoami", get(whoami::whoami))
        .route(
            "/admin/blocked",
            get(blocked::list)
                .post(blocked::add)
                .delete(blocked::remove),
        )
        .route("/admin/contacts/{id}/history", get(history::history))
        .route("/admin/customers/{id}", get(history::customer))
        .route(
            "/admin/customers/{id}/split",
            post(split::split).layer(DefaultBodyLimit::max(SPLIT_BODY_LIMIT)),
        )
        .route("/admin/customers/{id}/erase", post(erase::erase))
        .route(
            "/admin/import",
            post(import::import).layer(DefaultBodyLimit::max(IMPORT_BODY_LIMIT)),
        )
        .route("/admin/export", get(export::export))
        .route("/admin/erasures", get(erasures::list))
        .route(
            "/admin/erasures/reapply",
            post(erasures::reapply).layer(DefaultBodyLimit::max(IMPORT_BODY_LIMIT)),
        )
        .route("/admin/backup", get(erasures::backup))
        .route("/admin/contacts", get(export::contacts))
        .route(
            "/admin/webhooks",
            get(webhooks::list).post(webhooks::create),
        )
        .route("/admin/webhooks/{id}", delete(webhooks::delete))
        .route("/admin/webhooks/{id}/deliveries", get(webhooks::deliveries))
        .route("/admin/webhooks/{id}/replay", post(webhooks::replay))
        .merge(guarded)
        .merge(crate::console::routes())
        .fallback(handlers::not_found)
        .method_not_allowed_fallback(handlers::method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::x_request_id(RequestCounter::default()))
                // after routing (the route is known), around everything that answers
                .layer(middleware::from_fn_with_state(metrics, request_log::record))
                .layer(PropagateRequestIdLayer::x_request_id()),
        );
    Ok(Routers {
        service: router,
        metrics: metrics_alone,
    })
}

/// Reads the whole body, within `within`, before the request goes on to wait for a slot: 408
/// `body_timeout` (and the connection closed) when it does not arrive in time, 413 or 400 as
/// the handlers would answer when it cannot be read.
async fn read_body_first(
    State(within): State<Duration>,
    request: Request<Body>,
    next: Next,
) -> Response<Body> {
    let (parts, body) = request.into_parts();
    // the route's body limit travels in the request's extensions
    let mut reading = Request::new(body);
    *reading.extensions_mut() = parts.extensions.clone();
    match tokio::time::timeout(within, Bytes::from_request(reading, &())).await {
        Ok(Ok(bytes)) => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
        Ok(Err(rejection)) => unreadable_body(&rejection, BODY_LIMIT).into_response(),
        Err(_) => {
            let mut response = ApiError::BodyTimeout(within).into_response();
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            response
        }
    }
}

/// Load shedding and timeouts become 503s.
async fn overload_error(error: BoxError) -> ApiError {
    if error.is::<tower::timeout::error::Elapsed>() {
        ApiError::Timeout
    } else {
        ApiError::Overloaded
    }
}

/// Request ids `<process start in hex>-<counter>`: unique per process, ordered, no dependency.
#[derive(Clone, Debug)]
struct RequestCounter {
    prefix: Arc<str>,
    next: Arc<AtomicU64>,
}

impl Default for RequestCounter {
    fn default() -> Self {
        let start = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        RequestCounter {
            prefix: format!("{:x}", start & 0xffff_ffff).into(),
            next: Arc::new(AtomicU64::new(1)),
        }
    }
}

impl MakeRequestId for RequestCounter {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<RequestId> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        HeaderValue::from_str(&format!("{}-{n}", self.prefix))
            .ok()
            .map(RequestId::new)
    }
}
