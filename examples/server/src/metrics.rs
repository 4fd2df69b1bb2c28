//! `GET /metrics`: the Prometheus text format (version 0.0.4), written by the official
//! `prometheus-client` crate. Two parts: the request histogram, observed by the request log
//! as each request is answered, and at each scrape the core's numbers
//! ([`identity::Identity::stats`], counted in memory, and [`identity::Identity::feed_stats`], one
//! short read of the database).
//!
//! No label carries an email, a phone number, a path's id or any other value a client chooses:
//! the route is the declared one (`/admin/customers/{id}/split`) and absent for a path no route
//! matched; an unknown method is `_OTHER` (as OpenTelemetry names it); the tenant is a label
//! only with `--metrics-tenant-label`.

use std::sync::Arc;

use axum::http::Method;
use identity::{FeedStats, IdentifyOutcome, Stats};
use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;
use time::OffsetDateTime;

/// A metric's labels: names and values, in order.
type Labels = Vec<(&'static str, String)>;

/// The bucket bounds OpenTelemetry gives `http.server.request.duration`, in seconds.
const BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

fn request_histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

/// The service's metrics: shared by the request log (which observes) and `GET /metrics`.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    requests: Family<Labels, Histogram, fn() -> Histogram>,
    tenant_label: bool,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("tenant_label", &self.inner.tenant_label)
            .finish_non_exhaustive()
    }
}

impl Metrics {
    /// The metrics, with the tenant as a label of the per-tenant series when `tenant_label`.
    #[must_use]
    pub fn new(tenant_label: bool) -> Self {
        let mut registry = Registry::default();
        let requests = Family::<Labels, Histogram, fn() -> Histogram>::new_with_constructor(
            request_histogram as fn() -> Histogram,
        );
        registry.register_with_unit(
            "http_server_request_duration",
            "Duration of HTTP server requests, from arrival to answer",
            prometheus_client::registry::Unit::Seconds,
            requests.clone(),
        );
        Metrics {
            inner: Arc::new(Inner {
                registry,
                requests,
                tenant_label,
            }),
        }
    }

    /// Observes one answered request: its declared route (`None` when no route matched), its
    /// method, its status, its tenant (once authorized) and its duration.
    pub fn observe(
        &self,
        route: Option<&str>,
        method: &Method,
        status: u16,
        tenant: Option<&str>,
        seconds: f64,
    ) {
        let mut labels: Labels = Vec::with_capacity(4);
        if let Some(route) = route {
            labels.push(("http_route", route.to_owned()));
        }
        labels.push(("http_request_method", method_label(method).to_owned()));
        labels.push(("http_response_status_code", status.to_string()));
        if self.inner.tenant_label {
            labels.push(("tenant", tenant.unwrap_or("").to_owned()));
        }
        self.inner.requests.get_or_create(&labels).observe(seconds);
    }

    /// The exposition: the request histogram, then the core's numbers now (the database's
    /// part left out, and `identity_database_up` 0, when the read fails).
    pub async fn render(&self, identity: &identity::Identity) -> String {
        let stats = identity.stats();
        let feed = match identity.feed_stats().await {
            Ok(feed) => Some(feed),
            Err(e) => {
                tracing::warn!(error = %e.chain(), "metrics: the database's numbers could not be read");
                None
            }
        };
        let now = OffsetDateTime::now_utc();
        let snapshot = snapshot(&stats, feed.as_ref(), now, self.inner.tenant_label);
        let mut text = String::new();
        // writing into a String cannot fail
        let _ = prometheus_text::encode(&mut text, &self.inner.registry);
        let _ = prometheus_text::encode(&mut text, &snapshot);
        text
    }

    /// The exposition's content type: `text/plain; version=0.0.4; charset=utf-8`.
    pub const CONTENT_TYPE: &'static str = prometheus_text::CONTENT_TYPE;
}

/// The method as a label: one of HTTP's own, else `_OTHER` (a client may send any token).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::CONNECT => "CONNECT",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::PATCH => "PATCH",
        _ => "_OTHER",
    }
}

/// A counter family holding `values`, each under its labels.
fn counters(values: impl IntoIterator<Item = (Labels, u64)>) -> Family<Labels, Counter> {
    let family = Family::<Labels, Counter>::default();
    for (labels, value) in values {
        family.get_or_create(&labels).inc_by(value);
    }
    family
}

/// A gauge family holding `values`, each under its labels.
fn gauges(values: impl IntoIterator<Item = (Labels, i64)>) -> Family<Labels, Gauge> {
    let family = Family::<Labels, Gauge>::default();
    for (labels, value) in values {
        family.get_or_create(&labels).set(value);
    }
    family
}

fn label(name: &'static str, value: impl Into<String>) -> Labels {
    vec![(name, value.into())]
}

fn gauge_of(value: impl Into<i64>) -> Gauge {
    let gauge: Gauge = Gauge::default();
    gauge.set(value.into());
    gauge
}

/// The core's numbers at one scrape, as a registry of their own.
fn snapshot(
    stats: &Stats,
    feed: Option<&FeedStats>,
    now: OffsetDateTime,
    tenant_label: bool,
) -> Registry {
    let mut registry = Registry::with_prefix("identity");
    registry.register(
        "identify",
        "Identifies answered, by outcome (created, linked, merged, known, refused, failed)",
        counters(
            IdentifyOutcome::ALL
                .iter()
                .map(|o| (label("outcome", o.as_str()), stats.identified(*o))),
        ),
    );
    registry.register(
        "identify_errors",
        "Identifies refused or failed, by the error's kind (its code)",
        counters(
            stats
                .identify_errors
                .iter()
                .map(|(kind, n)| (label("kind", kind.code()), *n)),
        ),
    );
    registry.register(
        "store_retries",
        "Attempts made again after a conflict with concurrent writes, a busy database or a \
         broken connection, by operation",
        counters(
            stats
                .retries
                .iter()
                .map(|(call, n)| (label("operation", *call), *n)),
        ),
    );
    registry.register(
        "store_contention",
        "Calls refused because concurrent writes won every attempt, by operation",
        counters(
            stats
                .contention
                .iter()
                .map(|(call, n)| (label("operation", *call), *n)),
        ),
    );
    registry.register(
        "pool_connections",
        "Database connections now, by state (in_use, idle)",
        gauges([
            (label("state", "in_use"), i64::from(stats.pool.in_use)),
            (label("state", "idle"), i64::from(stats.pool.idle)),
        ]),
    );
    registry.register(
        "pool_max_connections",
        "The most database connections the pool opens",
        gauge_of(stats.pool.max),
    );
    if let Some(waiting) = stats.pool.waiting {
        registry.register(
            "pool_waiting",
            "Calls waiting for a database connection now",
            gauge_of(waiting),
        );
    }
    registry.register(
        "webhook_deliveries",
        "Webhook deliveries this process attempted, by outcome (succeeded: a 2xx answer)",
        counters([
            (
                label("outcome", "succeeded"),
                stats.webhook_deliveries_succeeded,
            ),
            (label("outcome", "failed"), stats.webhook_deliveries_failed),
        ]),
    );
    registry.register(
        "database_up",
        "Whether this scrape could read the database's numbers (1) or not (0)",
        gauge_of(feed.is_some()),
    );
    if let Some(feed) = feed {
        register_feed(&mut registry, feed, now, tenant_label);
    }
    registry
}

/// The database's numbers: the feed's size and each webhook endpoint's backlog.
fn register_feed(registry: &mut Registry, feed: &FeedStats, now: OffsetDateTime, tenant: bool) {
    let written = Counter::<u64>::default();
    written.inc_by(feed.events_written);
    registry.register(
        "feed_events_written",
        "Events written to the change feed over every tenant (the database's count: every \
         instance on it reports the same)",
        written,
    );
    let endpoint = |w: &identity::WebhookBacklog| {
        let mut labels = label("webhook_id", w.id.get().to_string());
        if tenant {
            labels.push(("tenant", w.tenant.as_str().to_owned()));
        }
        labels
    };
    let ages = Family::<Labels, Gauge<f64, AtomicU64>>::default();
    for w in &feed.webhooks {
        let age = w
            .oldest_undelivered_at
            .map_or(0.0, |at| (now - at).as_seconds_f64().max(0.0));
        ages.get_or_create(&endpoint(w)).set(age);
    }
    registry.register_with_unit(
        "webhook_oldest_undelivered_age",
        "Age of the oldest event a webhook endpoint has not been sent yet (0 when up to date)",
        prometheus_client::registry::Unit::Seconds,
        ages,
    );
    registry.register(
        "webhook_undelivered_events",
        "Events of the endpoint's tenant after its cursor",
        gauges(feed.webhooks.iter().map(|w| {
            (
                endpoint(w),
                i64::try_from(w.undelivered).unwrap_or(i64::MAX),
            )
        })),
    );
    registry.register(
        "webhook_failing",
        "Whether a webhook endpoint is failing (1: given up on until a replay) or active (0)",
        gauges(feed.webhooks.iter().map(|w| {
            (
                endpoint(w),
                i64::from(w.state == identity::webhook::WebhookState::Failing),
            )
        })),
    );
}
