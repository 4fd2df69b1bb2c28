//! The change feed through the handle (facade layer): a page, a page waited for, a stream.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{self, Stream};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::connect::Identity;
use crate::error::Result;
use crate::feed::{self, Cursor, FeedEvent, FeedPage};

impl Identity {
    /// A page of the tenant's change feed: its events after `after` (from the oldest retained
    /// when `None`), at most `limit` (1 to [`feed::MAX_PAGE`]), oldest first, and the cursor to
    /// read on from. [`crate::feed`] says what the events are.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let identity = identity::connect("memory:").await?;
    /// identity.identify(Some("doc@hillvalley.edu"), None).await?;
    /// identity.identify(Some("doc@hillvalley.edu"), Some("555")).await?;
    /// let page = identity.events(None, 100).await?;
    /// let types: Vec<&str> = page.events.iter().map(|e| e.change.kind()).collect();
    /// assert_eq!(types, ["contact.created", "contact.linked"]);
    /// // later: what came after
    /// let later = identity.events(Some(page.next), 100).await?;
    /// assert!(later.events.is_empty());
    /// # Ok::<(), identity::Error>(()) }).unwrap();
    /// ```
    ///
    /// # Errors
    /// As [`crate::ContactStore::events`]: [`crate::Error::CursorExpired`] when retention
    /// pruned events after `after`, [`crate::Error::InvalidInput`] for a cursor past the feed's
    /// end or a bad `limit`.
    pub async fn events(&self, after: Option<Cursor>, limit: usize) -> Result<FeedPage> {
        self.store().events(self.tenant_id(), after, limit).await
    }

    /// [`Identity::events`], waiting up to `wait` (at most [`feed::MAX_WAIT`]) while there is
    /// nothing after `after`: a long poll. Answers as soon as an event is there (at once after
    /// a write through this handle or another made from it; within [`feed::POLL_INTERVAL`]
    /// after a write from another process), or an empty page when `wait` ran out.
    ///
    /// # Errors
    /// As [`Identity::events`]; [`crate::Error::InvalidInput`] naming [`crate::Field::Wait`]
    /// when `wait` is longer than [`feed::MAX_WAIT`].
    pub async fn events_wait(
        &self,
        after: Option<Cursor>,
        limit: usize,
        wait: Duration,
    ) -> Result<FeedPage> {
        let deadline = Instant::now() + feed::wait_time(wait)?;
        feed::page_size(limit)?;
        let listening = Listening::new(self);
        loop {
            let notified = listening.notify.notified();
            tokio::pin!(notified);
            // registered before the look: a write that lands after it still wakes this reader
            notified.as_mut().enable();
            let looked = Instant::now();
            let page = self.events(after, limit).await?;
            if !page.events.is_empty() || looked >= deadline {
                return Ok(page);
            }
            tokio::select! {
                () = &mut notified => {
                    tokio::time::sleep_until((looked + feed::MIN_LOOK).min(deadline)).await;
                }
                () = tokio::time::sleep_until((looked + feed::POLL_INTERVAL).min(deadline)) => {}
            }
            if Instant::now() >= deadline {
                // one last look, so an event that came as the wait ran out is not left for later
                return self.events(after, limit).await;
            }
        }
    }

    /// Follows the tenant's feed from after `after` (from the oldest retained when `None`):
    /// every event, in order, waiting for new ones for as long as the stream is polled.
    /// A transient error ([`crate::ErrorKind::is_transient`]) is yielded and the stream goes
    /// on from the same place; any other error is yielded and ends it.
    ///
    /// ```
    /// use futures_util::StreamExt;
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let identity = identity::connect("memory:").await?;
    /// identity.identify(Some("doc@hillvalley.edu"), None).await?;
    /// let mut feed = Box::pin(identity.feed(None));
    /// let first = feed.next().await.unwrap()?;
    /// assert_eq!(first.change.kind(), "contact.created");
    /// let writer = identity.clone();
    /// tokio::spawn(async move { writer.identify(None, Some("555")).await });
    /// let second = feed.next().await.unwrap()?; // waits for the write above
    /// assert_eq!(second.change.kind(), "contact.created");
    /// # Ok::<(), identity::Error>(()) }).unwrap();
    /// ```
    pub fn feed(&self, after: Option<Cursor>) -> impl Stream<Item = Result<FeedEvent>> + Send {
        let state = Following {
            identity: self.clone(),
            after,
            ready: VecDeque::new(),
            ended: false,
        };
        stream::unfold(state, |mut state| async move {
            if state.ended {
                return None;
            }
            loop {
                if let Some(event) = state.ready.pop_front() {
                    return Some((Ok(event), state));
                }
                let page = state
                    .identity
                    .events_wait(state.after, feed::DEFAULT_PAGE, feed::MAX_WAIT)
                    .await;
                match page {
                    Ok(page) => {
                        state.after = Some(page.next);
                        state.ready.extend(page.events);
                    }
                    Err(e) => {
                        state.ended = !e.kind().is_transient();
                        if !state.ended {
                            tokio::time::sleep(feed::POLL_INTERVAL).await;
                        }
                        return Some((Err(e), state));
                    }
                }
            }
        })
    }
}

impl Identity {
    /// Retention: deletes the feed events of every tenant of the store (not only the handle's)
    /// that are older than `older_than` ([`feed::DEFAULT_RETENTION`] is the service's default),
    /// oldest first, in chunks that never hold writers up for long. Cursors into what went are
    /// then [`crate::Error::CursorExpired`], and [`Identity::history`] tells the events that
    /// are left, saying since when ([`crate::History::pruned_before`]). Run it from a periodic
    /// job; the HTTP service does (`--events-retention-days`).
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let identity = identity::connect("memory:").await?;
    /// identity.identify(Some("doc@hillvalley.edu"), None).await?;
    /// let kept = identity.prune_events(identity::feed::DEFAULT_RETENTION).await?;
    /// assert_eq!(kept.events, 0); // nothing is 30 days old yet
    /// let all = identity.prune_events(std::time::Duration::ZERO).await?;
    /// assert_eq!((all.events, all.tenants), (1, 1));
    /// assert!(identity.events(None, 10).await?.events.is_empty());
    /// # Ok::<(), identity::Error>(()) }).unwrap();
    /// ```
    ///
    /// # Errors
    /// As [`crate::ContactStore::prune_events`].
    pub async fn prune_events(&self, older_than: Duration) -> Result<feed::PruneReport> {
        // an age beyond the calendar prunes nothing
        let age = time::Duration::try_from(older_than).unwrap_or(time::Duration::MAX);
        let now = time::OffsetDateTime::now_utc();
        let before = now
            .checked_sub(age)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        self.store().prune_events(before).await
    }
}

/// Where a stream from [`Identity::feed`] is.
struct Following {
    identity: Identity,
    after: Option<Cursor>,
    ready: VecDeque<FeedEvent>,
    ended: bool,
}

/// A reader waiting on its tenant's feed signal, which it leaves when dropped (also when the
/// wait is cancelled).
struct Listening<'a> {
    identity: &'a Identity,
    notify: Arc<Notify>,
}

impl<'a> Listening<'a> {
    fn new(identity: &'a Identity) -> Self {
        let notify = identity.signal().listen(identity.tenant_id());
        Listening { identity, notify }
    }
}

impl Drop for Listening<'_> {
    fn drop(&mut self) {
        let notify = std::mem::take(&mut self.notify);
        self.identity
            .signal()
            .done(self.identity.tenant_id(), notify);
    }
}
