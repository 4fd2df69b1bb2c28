//! `identity-server`: the drop-in `POST /identify` service, a thin shell over
//! [`identity::Identity`] (axum, tokio, tower). See the README's "HTTP service" section.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod admin;
pub mod api_error;
pub mod app;
pub mod blocked;
pub mod config;
pub mod erase;
pub mod handlers;
pub mod history;
pub mod mask;
pub mod settings;
pub mod split;
pub mod telemetry;
pub mod tenancy;

use std::future::Future;

pub use app::router;
pub use config::{Config, LogFormat};

/// Connects to the configured database (running migrations) with the configured pool settings.
///
/// # Errors
/// The core's connection or migration error.
pub async fn connect(config: &Config) -> identity::Result<identity::Identity> {
    let options = identity::ConnectOptions::default()
        .max_connections(config.max_connections)
        .acquire_timeout(config.acquire_timeout());
    identity::Identity::connect_with(&config.database_url, &options).await
}

/// Why the service could not run.
#[derive(Debug)]
pub enum RunError {
    /// The database could not be opened or migrated.
    Database(identity::Error),
    /// The address could not be bound, or serving failed.
    Io(std::io::Error),
    /// The configuration contradicts itself.
    Config(String),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Database(e) => write!(f, "{e}"),
            RunError::Io(e) => write!(f, "cannot serve: {e}"),
            RunError::Config(e) => write!(f, "invalid configuration: {e}"),
        }
    }
}

impl std::error::Error for RunError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RunError::Database(e) => e.source(),
            RunError::Io(e) => Some(e),
            RunError::Config(_) => None,
        }
    }
}

/// Runs the service until `shutdown` resolves, then finishes in-flight requests and closes the
/// database pool.
///
/// # Errors
/// [`RunError`] when start-up fails or the listener breaks.
pub async fn run(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    tracing::info!(database = %identity::connect::redact_url(&config.database_url), "starting");
    config.tenant_tokens().map_err(RunError::Config)?;
    let identity = connect(&config).await.map_err(RunError::Database)?;
    let listener = tokio::net::TcpListener::bind((config.host.as_str(), config.port))
        .await
        .map_err(RunError::Io)?;
    let addr = listener.local_addr().map_err(RunError::Io)?;
    tracing::info!(
        backend = identity.store().backend(),
        "listening on http://{addr}"
    );
    let tokens = config.tenant_tokens().map_err(RunError::Config)?;
    if tokens.is_empty() {
        tracing::info!(
            "no tenant tokens: a request acts for the tenant X-Tenant-Id names (trusted networks only)"
        );
    } else {
        tracing::info!(tokens = tokens.len(), "tenant tokens required");
    }
    let app = router(identity.clone(), &config)?;
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    tracing::info!("shutting down: closing the database pool");
    identity.close().await;
    served.map_err(RunError::Io)
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("signal received: finishing in-flight requests");
}
