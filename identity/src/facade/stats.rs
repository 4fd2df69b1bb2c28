//! The handle's numbers for an operator's metrics: [`Identity::stats`] (what its calls did,
//! from counters in memory) and [`Identity::feed_stats`] (the feed and the webhook backlogs,
//! read from the database).

use crate::Identity;
use crate::error::{ErrorKind, Result};
use crate::stats::{FeedStats, Stats};

impl Identity {
    /// What the calls through this handle, and every handle made from the same `connect`, did
    /// since it was opened: identifies by outcome and by error kind, retries and contention by
    /// call, webhook deliveries, and the connection pool now. Counted in memory: no I/O.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use identity::IdentifyOutcome;
    /// let identity = identity::connect("memory:").await?;
    /// identity.identify(Some("doc@hillvalley.edu"), None).await?;
    /// identity.identify(Some("doc@hillvalley.edu"), Some("555-0100")).await?;
    /// identity.identify(Some("doc@hillvalley.edu"), None).await?;
    /// assert!(identity.identify(Some("nope"), None).await.is_err());
    /// let stats = identity.stats();
    /// assert_eq!(stats.identified(IdentifyOutcome::Created), 1);
    /// assert_eq!(stats.identified(IdentifyOutcome::Linked), 1);
    /// assert_eq!(stats.identified(IdentifyOutcome::Known), 1);
    /// assert_eq!(stats.identified(IdentifyOutcome::Refused), 1);
    /// # Ok::<(), identity::Error>(()) }).unwrap();
    /// ```
    #[must_use]
    pub fn stats(&self) -> Stats {
        self.counters.snapshot(self.store().pool_stats())
    }

    /// Counts an identify refused with an error of kind `kind` before it reached the store,
    /// for a caller that reads requests itself (the HTTP service reads its JSON bodies, the
    /// bindings their arguments) and calls [`Identity::identify_request`] with the ones that
    /// parse: [`Identity::stats`] then counts every identify asked for.
    /// [`Identity::identify`] counts its own.
    pub fn count_refused_identify(&self, kind: ErrorKind) {
        self.counters.refused_identify(kind);
    }

    /// The change feed's size and every webhook endpoint's backlog, over every tenant of the
    /// store (not only this handle's): one short read of the database.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let identity = identity::connect("memory:").await?;
    /// identity.identify(Some("doc@hillvalley.edu"), None).await?;
    /// identity.tenant("shop-b")?.identify(Some("doc@hillvalley.edu"), None).await?;
    /// let feed = identity.feed_stats().await?;
    /// assert_eq!(feed.events_written, 2); // one contact.created in each tenant
    /// assert!(feed.webhooks.is_empty());
    /// # Ok::<(), identity::Error>(()) }).unwrap();
    /// ```
    ///
    /// # Errors
    /// As [`crate::ContactStore::events`].
    pub async fn feed_stats(&self) -> Result<FeedStats> {
        self.store().feed_stats().await
    }
}
