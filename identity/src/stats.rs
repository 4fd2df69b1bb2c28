//! What a handle's calls did since it was opened ([`Stats`]: identify outcomes, retries,
//! contention, webhook deliveries, the connection pool) and what its database holds now
//! ([`FeedStats`]: the feed's size, each webhook endpoint's backlog): the numbers an operator's
//! metrics are made of. The HTTP service exposes them on `GET /metrics`; the bindings as
//! `stats()` and `feed_stats()`.
//!
//! The counters are the process's own (every handle made from one `connect` shares them), so
//! they start at zero with the process, as Prometheus expects of a counter. No count carries
//! an email, a phone number or any other value of a request.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use time::OffsetDateTime;

use crate::error::{Error, ErrorKind};
use crate::plan::Plan;
use crate::tenant::TenantId;
use crate::webhook::{WebhookId, WebhookState};

mod wire;

/// How an identify ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IdentifyOutcome {
    /// A new customer: its first row was inserted.
    Created,
    /// A new row was added to a known customer (a new email or phone number for it).
    Linked,
    /// Two customers became one (the request's values belonged to both).
    Merged,
    /// Nothing new: the request's values were all known, nothing was written.
    Known,
    /// Refused for the request or the data: invalid input, every value blocked, a limit
    /// reached (a conflict); nothing was written.
    Refused,
    /// Failed on the store's side: unavailable, contention, a store error; retryable or an
    /// operator's problem.
    Failed,
}

impl IdentifyOutcome {
    /// Every outcome, in declaration order.
    pub const ALL: [IdentifyOutcome; 6] = [
        IdentifyOutcome::Created,
        IdentifyOutcome::Linked,
        IdentifyOutcome::Merged,
        IdentifyOutcome::Known,
        IdentifyOutcome::Refused,
        IdentifyOutcome::Failed,
    ];

    /// The outcome's name: `created`, `linked`, `merged`, `known`, `refused` or `failed`.
    ///
    /// ```
    /// assert_eq!(identity::IdentifyOutcome::Merged.as_str(), "merged");
    /// ```
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            IdentifyOutcome::Created => "created",
            IdentifyOutcome::Linked => "linked",
            IdentifyOutcome::Merged => "merged",
            IdentifyOutcome::Known => "known",
            IdentifyOutcome::Refused => "refused",
            IdentifyOutcome::Failed => "failed",
        }
    }

    /// The outcome of writing `plan`.
    pub(crate) fn of(plan: &Plan) -> Self {
        match plan {
            Plan::Unchanged(_) => IdentifyOutcome::Known,
            Plan::NewCustomer(_) => IdentifyOutcome::Created,
            Plan::AddRow(_) => IdentifyOutcome::Linked,
            Plan::Merge(_) => IdentifyOutcome::Merged,
        }
    }

    /// The outcome of an identify that answered an error of kind `kind`.
    pub(crate) fn of_error(kind: ErrorKind) -> Self {
        match kind {
            ErrorKind::InvalidInput
            | ErrorKind::Conflict
            | ErrorKind::BlockedValue
            | ErrorKind::NotFound => IdentifyOutcome::Refused,
            _ => IdentifyOutcome::Failed,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The connections of a handle's pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolStats {
    /// The most connections the pool opens.
    pub max: u32,
    /// Connections lent to a call right now.
    pub in_use: u32,
    /// Open connections no call holds.
    pub idle: u32,
    /// Calls waiting for a connection right now; `None` where the store does not queue its
    /// callers itself (SQLite: its writers queue on the one write lock).
    pub waiting: Option<u32>,
}

/// What a handle's calls did since it was opened ([`crate::Identity::stats`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Stats {
    /// Identifies by outcome.
    pub identify: BTreeMap<IdentifyOutcome, u64>,
    /// Identifies refused or failed, by the error's kind.
    pub identify_errors: BTreeMap<ErrorKind, u64>,
    /// Attempts made again after a conflict with concurrent writes, a busy database or a
    /// broken connection, by the call that made them (`identify`, `split`, `erase`, ...).
    pub retries: BTreeMap<&'static str, u64>,
    /// Calls refused with [`Error::Contention`] (concurrent writes won every attempt), by call.
    pub contention: BTreeMap<&'static str, u64>,
    /// Webhook deliveries attempted by this process's senders: answered 2xx.
    pub webhook_deliveries_succeeded: u64,
    /// Webhook deliveries attempted by this process's senders: any other answer, or none.
    pub webhook_deliveries_failed: u64,
    /// The connection pool, now.
    pub pool: PoolStats,
}

impl Stats {
    /// The identifies that ended as `outcome`.
    #[must_use]
    pub fn identified(&self, outcome: IdentifyOutcome) -> u64 {
        self.identify.get(&outcome).copied().unwrap_or(0)
    }
}

/// What a handle's database holds now, over every tenant ([`crate::Identity::feed_stats`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct FeedStats {
    /// Events ever written to the change feed (every tenant's newest position, summed: the
    /// feed numbers each tenant's events 1, 2, 3, ... with no gap, and pruning keeps the
    /// count). The database's number: every process on it reports the same.
    pub events_written: u64,
    /// Every webhook endpoint, by id.
    pub webhooks: Vec<WebhookBacklog>,
}

/// How far a webhook endpoint is behind its tenant's feed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WebhookBacklog {
    /// The endpoint.
    pub id: WebhookId,
    /// Its tenant.
    pub tenant: TenantId,
    /// Active, or failing (given up on until a replay).
    pub state: WebhookState,
    /// Events of its tenant's feed after its cursor (of every type: the ones it does not take
    /// are passed over, not sent).
    pub undelivered: u64,
    /// When the oldest of them was written; `None` when it is up to date.
    pub oldest_undelivered_at: Option<OffsetDateTime>,
}

/// The counters behind [`Stats`], shared by every handle made from one `connect`.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    identify: [AtomicU64; 6],
    errors: Mutex<BTreeMap<ErrorKind, u64>>,
    retries: Mutex<BTreeMap<&'static str, u64>>,
    contention: Mutex<BTreeMap<&'static str, u64>>,
    delivered: AtomicU64,
    undelivered: AtomicU64,
}

impl Counters {
    /// Counts a call named `call` that made `notes`' retries and answered `result`; an
    /// identify is counted by its outcome too.
    pub(crate) fn call<T>(&self, call: &'static str, notes: &CallNotes, result: &Result<T, Error>) {
        let retries = notes.retries.load(Ordering::Relaxed);
        if retries > 0 {
            add(&self.retries, call, retries);
        }
        if let Err(e) = result
            && e.kind() == ErrorKind::Contention
        {
            add(&self.contention, call, 1);
        }
        if call != IDENTIFY {
            return;
        }
        match result {
            Ok(_) => {
                if let Some(outcome) = notes.planned() {
                    self.identify[outcome.index()].fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(e) => self.refused_identify(e.kind()),
        }
    }

    /// Counts an identify that answered an error of kind `kind`.
    pub(crate) fn refused_identify(&self, kind: ErrorKind) {
        add(&self.errors, kind, 1);
        let outcome = IdentifyOutcome::of_error(kind);
        self.identify[outcome.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a webhook delivery attempt.
    pub(crate) fn delivery(&self, succeeded: bool) {
        let counter = if succeeded {
            &self.delivered
        } else {
            &self.undelivered
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The counts so far, with the pool as it is.
    pub(crate) fn snapshot(&self, pool: PoolStats) -> Stats {
        Stats {
            identify: IdentifyOutcome::ALL
                .iter()
                .map(|o| (*o, self.identify[o.index()].load(Ordering::Relaxed)))
                .collect(),
            identify_errors: lock(&self.errors).clone(),
            retries: lock(&self.retries).clone(),
            contention: lock(&self.contention).clone(),
            webhook_deliveries_succeeded: self.delivered.load(Ordering::Relaxed),
            webhook_deliveries_failed: self.undelivered.load(Ordering::Relaxed),
            pool,
        }
    }
}

/// The name [`Counters::call`] counts identify outcomes under.
pub(crate) const IDENTIFY: &str = "identify";

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn add<K: Ord>(map: &Mutex<BTreeMap<K, u64>>, key: K, n: u64) {
    *lock(map).entry(key).or_insert(0) += n;
}

/// What one call noted while it ran: the retries it made and, for an identify, the last plan it
/// made (the one that committed when the call succeeds). Shared with the call's task through
/// [`CALL`], and with the request's screening ([`crate::screen::Localized`]), which a store may
/// hand to another task that writes a group of requests together.
#[derive(Debug, Default)]
pub(crate) struct CallNotes {
    retries: AtomicU64,
    planned: AtomicU8,
}

impl CallNotes {
    /// Notes that `plan` is the call's latest plan.
    pub(crate) fn planned_as(&self, plan: &Plan) {
        let n = IdentifyOutcome::of(plan).index() + 1;
        self.planned
            .store(u8::try_from(n).unwrap_or(0), Ordering::Relaxed);
    }

    fn planned(&self) -> Option<IdentifyOutcome> {
        match self.planned.load(Ordering::Relaxed) {
            0 => None,
            n => IdentifyOutcome::ALL.get(usize::from(n) - 1).copied(),
        }
    }
}

tokio::task_local! {
    /// The notes of the library call the current task is running, if one is counted.
    pub(crate) static CALL: Arc<CallNotes>;
}

/// The current call's notes, if it is counted.
pub(crate) fn current_call() -> Option<Arc<CallNotes>> {
    CALL.try_with(Arc::clone).ok()
}

/// Notes that the current call is trying again (after a conflict, a busy database or a broken
/// connection).
pub(crate) fn note_retry() {
    let _ = CALL.try_with(|notes| notes.retries.fetch_add(1, Ordering::Relaxed));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::NewCustomer;

    #[test]
    fn an_identify_counts_its_last_plan_or_its_error_and_every_call_its_retries() {
        let counters = Counters::default();
        let notes = CallNotes::default();
        let new = Plan::NewCustomer(NewCustomer {
            email: None,
            phone_number: None,
        });
        notes.planned_as(&new);
        notes.retries.fetch_add(2, Ordering::Relaxed);
        counters.call(IDENTIFY, &notes, &Ok(()));
        let contention = || Err(Error::Contention { attempts: 16 });
        counters.call::<()>("split", &CallNotes::default(), &contention());
        counters.call::<()>(IDENTIFY, &CallNotes::default(), &contention());
        let invalid = Err(Error::invalid(crate::error::Field::Email, "nope"));
        counters.call::<()>(IDENTIFY, &CallNotes::default(), &invalid);
        let stats = counters.snapshot(PoolStats::default());
        assert_eq!(stats.identified(IdentifyOutcome::Created), 1);
        assert_eq!(stats.identified(IdentifyOutcome::Failed), 1);
        assert_eq!(stats.identified(IdentifyOutcome::Refused), 1);
        assert_eq!(stats.identified(IdentifyOutcome::Known), 0);
        assert_eq!(stats.retries.get(IDENTIFY), Some(&2));
        assert_eq!(stats.contention.get("split"), Some(&1));
        assert_eq!(stats.contention.get(IDENTIFY), Some(&1));
        assert_eq!(
            stats.identify_errors.get(&ErrorKind::InvalidInput),
            Some(&1)
        );
        assert_eq!(stats.identify_errors.get(&ErrorKind::Contention), Some(&1));
        let wire = serde_json::to_value(&stats).unwrap();
        assert_eq!(wire["identify"]["created"], 1);
        assert_eq!(wire["identify"]["merged"], 0);
        assert_eq!(wire["identifyErrors"]["invalid_input"], 1);
        assert_eq!(wire["retries"]["identify"], 2);
        assert_eq!(wire["webhookDeliveries"]["failed"], 0);
        assert_eq!(wire["pool"]["waiting"], serde_json::Value::Null);
    }

    #[tokio::test]
    async fn retries_are_noted_only_inside_a_counted_call() {
        note_retry(); // outside any call: nothing to note, no panic
        let notes = Arc::new(CallNotes::default());
        CALL.scope(Arc::clone(&notes), async {
            note_retry();
            note_retry();
            assert!(current_call().is_some());
        })
        .await;
        assert_eq!(notes.retries.load(Ordering::Relaxed), 2);
        assert!(current_call().is_none());
    }
}
