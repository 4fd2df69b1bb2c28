//! The store a maintenance subcommand works on: one URL and one tenant, as the service's flags
//! and environment name them.

use clap::Args;

/// Where the data lives.
#[derive(Debug, Clone, Args)]
pub struct Database {
    /// Where contacts live: postgres://user:pass@host/db, sqlite:path (created on first run),
    /// or memory: (nothing persists).
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite:identity.db",
        hide_env_values = true
    )]
    pub database_url: String,
}

/// Where the data lives and whose it is.
#[derive(Debug, Clone, Args)]
pub struct Target {
    #[command(flatten)]
    pub database: Database,

    /// The tenant (shop) to act for.
    #[arg(long, env = "IDENTITY_TENANT", default_value = "default")]
    pub tenant: String,
}

impl Target {
    /// A handle on the tenant, the store migrated.
    pub async fn open(&self) -> Result<identity::Identity, String> {
        let identity = identity::connect(&self.database.database_url)
            .await
            .map_err(|e| describe(&e))?;
        identity.tenant(&self.tenant).map_err(|e| describe(&e))
    }
}

/// An error with its causes, each once: `database error while importing contacts: ...`.
pub fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        // a driver error is described once, in plain words: its own chain repeats itself
        if cause.is::<identity::error::DriverFault>() {
            break;
        }
        source = cause.source();
    }
    text
}
