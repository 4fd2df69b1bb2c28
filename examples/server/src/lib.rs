//! `identity-server`: the drop-in `POST /identify` service, a thin shell over
//! [`identity::Identity`] (axum, tokio, tower). See the README's "HTTP service" section.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod admin;
pub mod api_error;
pub mod app;
pub mod auth;
pub mod blocked;
pub mod body;
pub mod config;
pub mod console;
pub mod erase;
pub mod erasures;
pub mod events;
pub mod export;
pub mod handlers;
pub mod history;
pub mod import;
pub mod import_body;
pub mod listen;
pub mod mask;
pub mod metrics;
pub mod path_id;
pub mod rendered;
pub mod request_log;
pub mod retention;
pub mod settings;
pub mod split;
pub mod state;
pub mod syntax;
pub mod telemetry;
pub mod tenancy;
pub mod token;
pub mod values;
pub mod webhooks;
pub mod whoami;

use std::future::Future;

pub use app::{Routers, router, routers};
pub use config::{Config, LogFormat};

/// Connects to the configured database (running migrations) with the configured pool settings.
///
/// # Errors
/// The core's connection or migration error.
pub async fn connect(config: &Config) -> identity::Result<identity::Identity> {
    let identity = open(config).await?;
    identity.store().migrate().await?;
    Ok(identity)
}

/// Opens the configured database with the configured pool settings, without migrating.
async fn open(config: &Config) -> identity::Result<identity::Identity> {
    let mut options = identity::ConnectOptions::default()
        .max_connections(config.max_connections)
        .acquire_timeout(config.acquire_timeout())
        .migrate(false)
        .allow_private_webhooks(config.webhook_allow_private);
    if let Some(log) = &config.erasure_log {
        options = options.erasure_log(log);
    }
    identity::Identity::connect_with(&config.database_url, &options).await
}

/// Refuses a database that holds another implementation's customers while this store is empty
/// (unless `--allow-foreign-tables`): the message names the tables and the import command.
async fn refuse_foreign_tables(
    identity: &identity::Identity,
    config: &Config,
) -> Result<(), RunError> {
    if config.allow_foreign_tables {
        return Ok(());
    }
    let found = identity
        .store()
        .foreign_tables()
        .await
        .map_err(RunError::Database)?;
    let Some(table) = found.first() else {
        return Ok(());
    };
    let preset = match table.as_str() {
        "Contacts" => "sequelize",
        "contact" => "typeorm",
        _ => "prisma",
    };
    let into = if table == "contact" {
        " --database-url <another database>" // its table name is this store's own
    } else {
        ""
    };
    Err(RunError::Config(format!(
        "the database holds table \"{table}\" with the rows of another implementation, and this \
         store is empty: serving would start a second, unrelated set of customers from id 1. \
         Import them first with `identity import --from-table <this database url> --preset \
         {preset}{into}`, or start with --allow-foreign-tables"
    )))
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
            RunError::Database(e) => f.write_str(&e.chain()),
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
    let credentials = config.credentials().map_err(RunError::Config)?;
    let identity = open(&config).await.map_err(RunError::Database)?;
    refuse_foreign_tables(&identity, &config).await?;
    identity
        .store()
        .migrate()
        .await
        .map_err(RunError::Database)?;
    let listener = tokio::net::TcpListener::bind((config.host.as_str(), config.port))
        .await
        .map_err(RunError::Io)?;
    let addr = listener.local_addr().map_err(RunError::Io)?;
    tracing::info!(
        backend = identity.store().backend(),
        "listening on http://{addr}"
    );
    let tokens = &credentials.tenants;
    if tokens.is_empty() && !addr.ip().is_loopback() && !config.open {
        return Err(RunError::Config(format!(
            "no tenant tokens, and {addr} is not a loopback address: any caller that reaches it \
             could act for any tenant. Give --tenant-tokens or --tenant-tokens-file, or --open \
             (IDENTITY_OPEN=true) to serve a trusted network without them"
        )));
    }
    if tokens.is_empty() {
        tracing::info!(
            "no tenant tokens: a request acts for the tenant X-Tenant-Id names (trusted networks only)"
        );
    } else {
        tracing::info!(tokens = tokens.len(), "tenant tokens required");
    }
    let Routers {
        service: app,
        metrics,
    } = routers(identity.clone(), &config)?;
    let metrics_server = match (config.metrics_addr, metrics) {
        (Some(at), Some(metrics)) => {
            let listener = tokio::net::TcpListener::bind(at)
                .await
                .map_err(RunError::Io)?;
            let addr = listener.local_addr().map_err(RunError::Io)?;
            tracing::info!("metrics on http://{addr}/metrics");
            Some(tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, metrics).await {
                    tracing::warn!(error = %e, "the metrics listener stopped");
                }
            }))
        }
        _ => None,
    };
    let pruning = config
        .events_retention()
        .map(|retention| tokio::spawn(retention::prune_forever(identity.clone(), retention)));
    let transport =
        identity::HttpTransport::new(config.webhook_allow_private).map_err(RunError::Database)?;
    let sender = identity.deliver_webhooks(
        std::sync::Arc::new(transport),
        identity::SenderOptions::default().timeout(config.webhook_timeout()),
    );
    let limits = config.connection_limits();
    tracing::info!(
        max_open_connections = limits.max_open,
        header_timeout_ms = config.header_timeout_ms,
        "connection limits"
    );
    listen::serve(listener, app, limits, shutdown).await;
    if let Some(pruning) = pruning {
        pruning.abort();
    }
    if let Some(metrics_server) = metrics_server {
        metrics_server.abort();
    }
    // the deliveries in flight finish and are recorded, the leases are given back
    let stopping = config.webhook_timeout() + std::time::Duration::from_secs(1);
    if tokio::time::timeout(stopping, sender.stop()).await.is_err() {
        tracing::warn!("webhook deliveries still in flight at shutdown: sent again after restart");
    }
    tracing::info!("shutting down: closing the database pool");
    identity.close().await;
    Ok(())
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
