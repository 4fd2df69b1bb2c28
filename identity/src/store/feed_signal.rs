//! [`FeedSignal`]: wakes the feed readers of a tenant that wait for new events in this process
//! when a write through the same handle returns, so a long poll answers at once instead of at
//! its next look. Writes made elsewhere (another process on the same database) are seen at
//! the next look ([`crate::feed::POLL_INTERVAL`]); no `NOTIFY` per write, which would serialize
//! every commit of the database on one lock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Notify;

use crate::tenant::TenantId;

/// The tenants with readers waiting, and how to wake them.
#[derive(Debug, Default)]
pub(crate) struct FeedSignal {
    waiting: Mutex<HashMap<TenantId, Arc<Notify>>>,
    /// Woken by a write of any tenant: what webhook senders wait on.
    any: Notify,
}

impl FeedSignal {
    /// Wakes the readers of `tenant` waiting now (a map lookup when none wait).
    pub(crate) fn wake(&self, tenant: &TenantId) {
        self.any.notify_waiters();
        let waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(notify) = waiting.get(tenant) {
            notify.notify_waiters();
        }
    }

    /// What a waiter for a write of any tenant waits on (a webhook sender).
    pub(crate) fn any(&self) -> &Notify {
        &self.any
    }

    /// What a reader of `tenant` waits on; [`FeedSignal::done`] when it stops waiting.
    pub(crate) fn listen(&self, tenant: &TenantId) -> Arc<Notify> {
        let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(waiting.entry(tenant.clone()).or_default())
    }

    /// A reader of `tenant` stopped waiting on `notify`: the tenant leaves the map with its
    /// last reader.
    pub(crate) fn done(&self, tenant: &TenantId, notify: Arc<Notify>) {
        let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        drop(notify);
        if waiting
            .get(tenant)
            .is_some_and(|n| Arc::strong_count(n) == 1)
        {
            waiting.remove(tenant);
        }
    }
}
