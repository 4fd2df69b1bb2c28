//! Accepting connections, with the limits a public listener needs: a deadline for each request
//! head (which also closes kept-alive connections left idle), a cap on open connections (more
//! wait in the kernel's backlog), and backing off, logged once, when the process runs out of
//! file descriptors instead of spinning on failed accepts.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// What the listener enforces on every connection.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// How long a connection may go without sending a complete request head: after it opens
    /// and between requests when kept alive. It is then closed.
    pub header_timeout: Duration,
    /// Most connections open at once.
    pub max_open: usize,
}

/// Serves `app` on `listener` until `shutdown` resolves, then stops accepting, lets in-flight
/// requests finish and closes idle connections.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send,
) {
    let open = Arc::new(Semaphore::new(limits.max_open));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let mut failing = AcceptFailures::default();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = accept(&listener, &open, &mut failing) => accepted,
        };
        let (stream, permit) = accepted;
        let _ = stream.set_nodelay(true);
        let service = app
            .clone()
            .map_request(|request: hyper::Request<Incoming>| request.map(Body::new));
        let connection = graceful
            .watch(http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service)));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// The next connection once fewer than the cap are open; accept failures that are about the
/// process (out of descriptors or memory) are waited out, ever longer up to a second.
async fn accept(
    listener: &TcpListener,
    open: &Arc<Semaphore>,
    failing: &mut AcceptFailures,
) -> (tokio::net::TcpStream, tokio::sync::OwnedSemaphorePermit) {
    let permit = Arc::clone(open)
        .acquire_owned()
        .await
        .expect("the connection semaphore is never closed");
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                failing.recovered();
                return (stream, permit);
            }
            // the peer gave up before we took it: nothing to wait out
            Err(e) if is_connection_error(&e) => {}
            Err(e) => tokio::time::sleep(failing.failed(&e)).await,
        }
    }
}

fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Failed accepts, logged at most once every 30 s with how many failed since (a process out of
/// descriptors fails every accept, and flaps as connections close), and once when they stop.
#[derive(Debug, Default)]
struct AcceptFailures {
    /// Failures in a row.
    run: u32,
    /// Failures since the last line, and when it was logged.
    unlogged: u64,
    logged_at: Option<Instant>,
    /// This run's start was logged: its end is too.
    run_logged: bool,
}

impl AcceptFailures {
    const QUIET: Duration = Duration::from_secs(30);

    /// How long to wait after one more failure: 20 ms, doubling, at most a second.
    fn failed(&mut self, e: &io::Error) -> Duration {
        self.unlogged += 1;
        if self.logged_at.is_none_or(|at| at.elapsed() >= Self::QUIET) {
            tracing::error!(
                error = %e,
                failed = self.unlogged,
                "cannot accept connections; backing off until descriptors free up \
                 (raise the open-files limit, ulimit -n, or lower --max-open-connections)"
            );
            self.unlogged = 0;
            self.logged_at = Some(Instant::now());
            self.run_logged = true;
        }
        self.run = self.run.saturating_add(1);
        Duration::from_millis(10 << self.run.min(7)).min(Duration::from_secs(1))
    }

    fn recovered(&mut self) {
        if self.run_logged {
            tracing::warn!(failed = self.run, "accepting connections again");
        }
        self.run = 0;
        self.run_logged = false;
    }
}

/// The default cap on open connections: what the soft open-files limit leaves after the
/// database pool and some spare descriptors (logs, SQLite files), at most 10,000.
#[must_use]
pub fn default_max_open(database_connections: u32) -> usize {
    const SPARE: u64 = 64;
    const MOST: u64 = 10_000;
    let reserved = u64::from(database_connections) + SPARE;
    let limit = open_files_limit().unwrap_or(MOST + reserved);
    let cap = limit.saturating_sub(reserved).clamp(1, MOST);
    usize::try_from(cap).unwrap_or(usize::MAX)
}

/// The soft limit on open files, where the platform has one.
fn open_files_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        rustix::process::getrlimit(rustix::process::Resource::Nofile).current
    }
    #[cfg(not(unix))]
    {
        None
    }
}
