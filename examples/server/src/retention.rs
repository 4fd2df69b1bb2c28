//! Retention of the change feed: a task that prunes every tenant's events older than
//! `--events-retention-days` once at start-up and then every hour, as
//! [`identity::Identity::prune_events`] does (oldest first, in short chunks, so writers are
//! never held up for long). With several instances on one database each prunes; they delete the
//! same old events, and whichever comes second finds nothing left.

use std::time::Duration;

/// How often the task prunes.
pub const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Prunes `identity`'s events older than `retention` now and every [`PRUNE_EVERY`], until the
/// task is aborted. A failed round is logged and tried again at the next.
pub async fn prune_forever(identity: identity::Identity, retention: Duration) {
    let mut every = tokio::time::interval(PRUNE_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        match identity.prune_events(retention).await {
            Ok(report) if report.events > 0 => tracing::info!(
                events = report.events,
                tenants = report.tenants,
                "feed events pruned"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e.chain(), "pruning feed events failed"),
        }
    }
}
