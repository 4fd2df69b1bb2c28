//! `identity-server`: `cargo run --release -p identity-server` serves `POST /identify` on
//! 127.0.0.1:3000 with a SQLite file `identity.db`; `--help` lists every option.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let config = identity_server::Config::from_env();
    // kept to the end: dropping it writes out the log lines still queued
    let _log = identity_server::telemetry::init(config.log_format);
    match identity_server::run(config, identity_server::shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // the cause is part of the message, once, in plain words
            tracing::error!(error = %e, "identity-server failed");
            ExitCode::FAILURE
        }
    }
}
