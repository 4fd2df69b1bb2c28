//! What the terminal shows while a subcommand waits: a spinner with a message, and for a long
//! write the share of it done so far ([`identity::Identity::job_progress`]).

use std::time::Duration;

use indicatif::ProgressBar;

/// A spinner on standard error saying `message`, ticking until cleared.
pub fn spinner(message: &str) -> ProgressBar {
    let spinner = ProgressBar::new_spinner().with_message(message.to_owned());
    spinner.enable_steady_tick(Duration::from_millis(120));
    spinner
}

/// Shows on `spinner`, after `message`, how far the tenant's long write has got, as its steps
/// commit (an import that runs in steps: SQLite, more than a few thousand rows), until the
/// returned task is aborted.
pub fn follow(
    identity: &identity::Identity,
    spinner: &ProgressBar,
    message: String,
) -> tokio::task::AbortHandle {
    let (identity, spinner) = (identity.clone(), spinner.clone());
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if let Some(p) = identity.job_progress() {
                spinner.set_message(format!(
                    "{message}: {} of {} items written ({:.0}%)",
                    p.done,
                    p.total,
                    100.0 * p.fraction()
                ));
            }
        }
    })
    .abort_handle()
}
