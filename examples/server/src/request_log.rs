//! The request log: one event per request, emitted when its answer is ready, with its status,
//! latency and tenant, inside a `request` span that holds its id, method and route. A route adds
//! its own fields by answering a [`Note`]; a field that costs work to write (a masked email) is
//! written only when the event is enabled, so nothing is built when INFO is filtered out.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponseParts, Response, ResponseParts};
use identity::TenantId;
use tracing::Instrument;

use crate::metrics::Metrics;

/// The request's tenant, once an authorization extractor (`auth.rs`) has decided it: put in the
/// request's extensions by [`record`], shared with the extractor.
#[derive(Clone, Debug, Default)]
pub struct RequestLog {
    tenant: Arc<OnceLock<TenantId>>,
}

impl RequestLog {
    /// Names the tenant the request acts for (the first one named counts).
    pub fn set_tenant(&self, tenant: &TenantId) {
        let _ = self.tenant.set(tenant.clone());
    }

    fn tenant(&self) -> Option<&str> {
        self.tenant.get().map(TenantId::as_str)
    }
}

/// What the log knows of every answered request, handed to a route's [`Note`].
#[derive(Debug)]
pub struct Answered<'a> {
    /// The answer's HTTP status.
    pub status: u16,
    /// From the request's arrival to its answer, in microseconds.
    pub latency_us: u64,
    /// The tenant it acted for, once authorized.
    pub tenant: Option<&'a str>,
}

/// A route's own fields for its request's event: a function that emits the event (with
/// [`answered!`]) given what every request's event says. Answer it beside the body, as
/// `Ok((note, Json(body)))`; a request answered without one logs `answered`.
#[derive(Clone)]
pub struct Note(Arc<dyn Fn(&Answered<'_>) + Send + Sync>);

impl Note {
    /// A note that emits its event with `emit`.
    pub fn new(emit: impl Fn(&Answered<'_>) + Send + Sync + 'static) -> Self {
        Note(Arc::new(emit))
    }
}

impl std::fmt::Debug for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Note")
    }
}

impl IntoResponseParts for Note {
    type Error = std::convert::Infallible;

    fn into_response_parts(self, mut res: ResponseParts) -> Result<ResponseParts, Self::Error> {
        res.extensions_mut().insert(self);
        Ok(res)
    }
}

/// Emits a request's one event at `$level` with the fields every event has (`status`,
/// `latency_us`, `tenant`; the span adds `id`, `method`, `route`) and the route's own fields
/// and message, as `tracing::event!` takes them.
macro_rules! answered {
    ($level:expr, $answered:expr, $($fields:tt)+) => {
        ::tracing::event!(
            $level,
            status = $answered.status,
            latency_us = $answered.latency_us,
            tenant = $answered.tenant,
            $($fields)+
        )
    };
}
pub(crate) use answered;

/// The middleware: runs the request inside its span, then emits its one event (the route's
/// [`Note`], or `answered`).
/// The request is observed in `metrics` too.
pub async fn record(State(metrics): State<Metrics>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let log = RequestLog::default();
    request.extensions_mut().insert(log.clone());
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    // the route as declared (`/admin/customers/{id}/split`), or the path of an unknown one; never
    // the query, which may carry emails and phone numbers
    let matched = request.extensions().get::<MatchedPath>().cloned();
    let route = match &matched {
        Some(matched) => matched.as_str(),
        None => request.uri().path(),
    };
    let method = request.method().clone();
    let span = tracing::info_span!("request", id, method = %method, route);
    let mut response = next.run(request).instrument(span.clone()).await;
    let note = response.extensions_mut().remove::<Note>();
    let elapsed = started.elapsed();
    let answered = Answered {
        status: response.status().as_u16(),
        latency_us: u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
        tenant: log.tenant(),
    };
    metrics.observe(
        matched.as_ref().map(MatchedPath::as_str),
        &method,
        answered.status,
        answered.tenant,
        elapsed.as_secs_f64(),
    );
    let _in_span = span.enter();
    match note {
        Some(Note(emit)) => emit(&answered),
        None => answered!(tracing::Level::INFO, answered, "answered"),
    }
    response
}

#[cfg(test)]
mod tests {
    use std::fmt;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use axum::Router;
    use axum::body::Body;
    use axum::extract::Request;
    use axum::routing::get;
    use tower::ServiceExt;
    use tracing::Level;
    use tracing_subscriber::fmt::MakeWriter;

    use super::{Note, record};

    /// Log lines, written into memory.
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl MakeWriter<'_> for Lines {
        type Writer = Lines;

        fn make_writer(&self) -> Lines {
            self.clone()
        }
    }

    /// A field that counts how often it is written, as a masked email would be built.
    struct Costly(Arc<AtomicUsize>);

    impl fmt::Display for Costly {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            self.0.fetch_add(1, Ordering::SeqCst);
            f.write_str("built")
        }
    }

    /// Sends a noted request, a plain one and one to no route through the request log, with
    /// events up to `level` enabled: the log, and how often the costly field was built.
    async fn three_requests(level: Level) -> (String, usize) {
        let lines = Lines::default();
        let built = Arc::new(AtomicUsize::new(0));
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(level)
            .with_ansi(false)
            .with_writer(lines.clone())
            .finish();
        let _default = tracing::subscriber::set_default(subscriber);
        let counter = built.clone();
        let noted = move || {
            let counter = counter.clone();
            async move {
                let note = Note::new(move |a| {
                    answered!(Level::INFO, a, costly = %Costly(counter.clone()), "noted");
                });
                (note, "ok")
            }
        };
        let app = Router::new()
            .route("/noted/{id}", get(noted))
            .route("/plain", get(|| async { "ok" }))
            .layer(axum::middleware::from_fn_with_state(
                crate::metrics::Metrics::new(false),
                record,
            ));
        for uri in ["/noted/7", "/plain", "/missing?email=doc@x.io"] {
            let request = Request::get(uri).body(Body::empty()).unwrap();
            app.clone().oneshot(request).await.unwrap();
        }
        let log = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        (log, built.load(Ordering::SeqCst))
    }

    #[tokio::test]
    async fn each_request_is_one_event_and_its_costly_fields_are_built_only_when_enabled() {
        let (log, built) = three_requests(Level::INFO).await;
        let lines: Vec<&str> = log.lines().collect();
        assert_eq!(lines.len(), 3, "one line per request: {log}");
        for (line, route, status, message) in [
            (lines[0], "/noted/{id}", 200, "noted"),
            (lines[1], "/plain", 200, "answered"),
            (lines[2], "/missing", 404, "answered"),
        ] {
            assert!(line.contains(&format!("route=\"{route}\"")), "{line}");
            assert!(line.contains(&format!("status={status}")), "{line}");
            assert!(
                line.contains("latency_us=") && line.contains(message),
                "{line}"
            );
        }
        assert!(lines[0].contains("costly=built"), "{log}");
        assert!(
            !log.contains("doc@x.io"),
            "the query is never logged: {log}"
        );
        assert_eq!(built, 1);

        let (log, built) = three_requests(Level::WARN).await;
        assert_eq!((log.as_str(), built), ("", 0), "nothing built below WARN");
    }
}
