//! `identity`: one command for the service and its data. `identity serve` runs the HTTP
//! service (the flags and environment of `identity-server`); `import` loads years of checkouts
//! into an empty tenant; `verify`, `rebuild` and `export` check, repair and dump a tenant;
//! `backup` copies a SQLite database and `erasures` exports and re-applies erasures.
#![forbid(unsafe_code)]

mod backup;
mod import;
mod maintain;
mod progress;
mod read;
mod source;
mod table;
mod target;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Customer identity reconciliation: serve POST /identify, import history, verify, export.
#[derive(Debug, Parser)]
#[command(name = "identity", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve POST /identify (and the admin routes) over HTTP.
    Serve(Box<identity_server::Config>),
    /// Import historical checkouts (CSV or JSON Lines files, or an existing deployment's
    /// table) into an empty tenant.
    Import(Box<import::ImportArgs>),
    /// Bring the database's schema up to this build (on a database with the citus extension:
    /// distribute it by tenant). Every command and the service do it when they connect.
    Migrate(maintain::MigrateArgs),
    /// Check a tenant's rows against the invariants and its derived records against the rows.
    Verify(maintain::VerifyArgs),
    /// Recompute a tenant's derived records from its rows, repairing rows that break the model.
    Rebuild(maintain::RebuildArgs),
    /// Write a tenant's customers as JSON Lines, one consolidated customer per line.
    Export(maintain::ExportArgs),
    /// Copy a SQLite database while it serves, into a file that restores it (every tenant and
    /// the suppression secret).
    Backup(backup::BackupArgs),
    /// Export a tenant's erasure records, or apply them again after restoring a backup.
    Erasures(backup::ErasuresArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    let outcome = match Cli::parse().command {
        Command::Serve(config) => return serve(*config).await,
        Command::Import(args) => import::run(*args).await,
        Command::Migrate(args) => maintain::migrate(args).await,
        Command::Verify(args) => maintain::verify(args).await,
        Command::Rebuild(args) => maintain::rebuild(args).await,
        Command::Export(args) => maintain::export(args).await,
        Command::Backup(args) => backup::backup(args).await,
        Command::Erasures(args) => backup::erasures(args).await,
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: identity_server::Config) -> ExitCode {
    // kept to the end: dropping it writes out the log lines still queued
    let _log = identity_server::telemetry::init(config.log_format);
    match identity_server::run(config, identity_server::shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %target::describe(&e), "identity serve failed");
            ExitCode::FAILURE
        }
    }
}
