//! Structured logs with `tracing`: `RUST_LOG` filters (default `info`), text or JSON lines,
//! written to stderr by a worker thread, so a request never waits on a slow terminal or pipe.

use std::io::IsTerminal;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber (once; later calls install nothing), writing through a
/// non-blocking writer: a line is queued for the writer's thread, and when the queue is full
/// (128,000 lines the terminal or pipe has not taken) new lines are dropped rather than holding
/// up requests. Keep the guard until the process ends: dropping it writes out what is queued.
#[must_use = "dropping the guard stops the log writer"]
pub fn init(format: LogFormat) -> WorkerGuard {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .thread_name("identity-log")
        .finish(std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(writer);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    guard
}
