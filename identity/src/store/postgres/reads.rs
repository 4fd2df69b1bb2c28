//! Shared reads: the concurrent reads of one tenant share one round trip.
//!
//! Every identify and lookup starts with a read of its request's customers, outside any
//! transaction. A read joins its tenant's queue (`batches.rs`); when fewer than
//! [`Reads::in_flight`] of the tenant's batches are being read, the caller reads what waits
//! itself, its own request among it: alone with `identity_read_known` when nothing else
//! waits (a lone read costs what it always did: one round trip, no task, no wake-up), else all
//! at once with one call of `identity_read_batch`, which answers each request's row as
//! `identity_read_known` would have alone, all under one snapshot (on one server over direct
//! connections, its query as a prepared statement of its own: `read_batch.rs`; the read alone
//! is inlined there too). Whatever queued meanwhile
//! goes on in a task of its own. So under load PostgreSQL parses, plans, wakes and answers once
//! per batch instead of once per request, and the store's tasks wait on fewer round trips.
//!
//! A read holds no lock and changes nothing, so reading requests together changes no answer:
//! each row is what a read of that request alone at that snapshot finds (the records the cache
//! holds for any of them are left out for all of them: versions are never reused). When the
//! batch fails as a whole, each request is read alone; when the connection breaks, each caller
//! is told so and tries again, as after any broken connection.

use std::sync::Arc;

use sqlx::Postgres;
use sqlx::postgres::PgRow;
use tokio::sync::oneshot;

use crate::request::IdentifyRequest;
use crate::store::Outcome;
use crate::store::record_cache::{Held, RecordCache};
use crate::tenant::TenantId;

use super::batches::{Batches, answer_each, lost_connection};
use super::graph::{self, Read, ReadWith};
use super::read_batch;
use crate::store::lanes::Lanes;

/// The most requests one read batch carries.
const MAX_BATCH: usize = read_batch::MAX_BATCH;

/// A read waiting in its tenant's queue.
struct Job {
    request: IdentifyRequest,
    answer: oneshot::Sender<Outcome<Read>>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job").finish_non_exhaustive()
    }
}

/// The store's read queues, one per tenant with reads waiting or being read.
#[derive(Debug)]
pub(crate) struct Reads {
    lanes: Arc<Lanes<Postgres>>,
    cache: Arc<RecordCache>,
    queues: Batches<Job>,
    /// How a read alone is sent (never `Lock`); `Inlined`: a batch too (`read_batch.rs`).
    with: ReadWith,
}

impl Reads {
    /// The most batches of one tenant being read at once, for a pool of `connections`: an
    /// eighth of them, at least two. Each batch is read by one server process, so this is how
    /// many of the server's cores one tenant's reads use at once; more, and batches stay small
    /// (the round trips shared come back). Measured on two cores with 16 connections (see
    /// BENCHMARKS.md): two did best over HTTP, four and eight less well than two.
    pub(crate) fn in_flight(connections: u32) -> usize {
        (connections as usize / 8).max(2)
    }

    /// Queues over `lanes`, keeping the records read in `cache`, each read alone sent `with`.
    pub(crate) fn new(
        lanes: Arc<Lanes<Postgres>>,
        cache: Arc<RecordCache>,
        connections: u32,
        with: ReadWith,
    ) -> Self {
        Reads {
            lanes,
            cache,
            queues: Batches::new(Self::in_flight(connections), MAX_BATCH),
            with,
        }
    }

    /// Reads `request`'s customers without locking, with the tenant's other reads of the
    /// moment; what `graph::read` would have read alone.
    pub(crate) async fn read(
        self: &Arc<Self>,
        tenant: &TenantId,
        request: &IdentifyRequest,
    ) -> Outcome<Read> {
        let (answer, answered) = oneshot::channel();
        let job = Job {
            request: request.clone(),
            answer,
        };
        if self.queues.push(tenant, job) {
            // this caller reads the first batch (its own request is in it unless a full batch
            // waited before it); what came meanwhile goes on in a task of its own
            let mut sender = self.queues.sender(tenant);
            if let Some(batch) = sender.next() {
                self.send(tenant, batch).await;
                if let Some(rest) = sender.next() {
                    sender.hand_over();
                    tokio::spawn(Arc::clone(self).drain(tenant.clone(), rest));
                }
            }
        }
        match answered.await {
            Ok(outcome) => outcome,
            // whoever read the batch stopped before answering (its caller was cancelled, or it
            // panicked): nothing was changed, so the caller reads again
            Err(_) => Err(lost_connection()),
        }
    }

    /// Reads `first`, then the tenant's queued reads batch after batch until none wait.
    async fn drain(self: Arc<Self>, tenant: TenantId, first: Vec<Job>) {
        let mut sender = self.queues.sender(&tenant);
        self.send(&tenant, first).await;
        while let Some(batch) = sender.next() {
            self.send(&tenant, batch).await;
        }
    }

    /// Reads one batch and answers each of its reads.
    async fn send(&self, tenant: &TenantId, mut batch: Vec<Job>) {
        // a caller that stopped waiting has nothing read for it
        batch.retain(|job| !job.answer.is_closed());
        if let [job] = &mut batch[..] {
            let read = self.alone(tenant, &job.request).await;
            if let Some(job) = batch.pop() {
                let _ = job.answer.send(read);
            }
            return;
        }
        if batch.is_empty() {
            return;
        }
        let mut held = self.held_for(tenant, &batch);
        let outcome: Outcome<Vec<PgRow>> = async {
            let mut lane = self.lanes.acquire().await?;
            let requests: Vec<&IdentifyRequest> = batch.iter().map(|j| &j.request).collect();
            let rows = read_batch::query(tenant, &requests, &held, self.with)
                .fetch_all(&mut *lane)
                .await?;
            lane.release();
            Ok(rows)
        }
        .await;
        let failed = answer_each(
            batch,
            outcome,
            // in order: a row leaves out the lists an earlier row of the batch sent
            |_, row| graph::decode_read(row, tenant, &mut held, &self.cache),
            |job, read| {
                let _ = job.answer.send(read);
            },
        );
        for job in failed {
            let read = self.alone(tenant, &job.request).await;
            let _ = job.answer.send(read);
        }
    }

    /// The records the cache holds for any of the batch's requests, each once.
    fn held_for(&self, tenant: &TenantId, batch: &[Job]) -> Vec<Held> {
        let mut held: Vec<Held> = Vec::new();
        for job in batch {
            for h in self.cache.held_for(tenant, &job.request) {
                if !held.iter().any(|k| Arc::ptr_eq(&k.record, &h.record)) {
                    held.push(h);
                }
            }
        }
        held
    }

    /// Reads `request` with its own call, as an unshared read would.
    async fn alone(&self, tenant: &TenantId, request: &IdentifyRequest) -> Outcome<Read> {
        let mut lane = self.lanes.acquire().await?;
        let read = graph::read(&mut *lane, tenant, request, self.with, &self.cache).await?;
        lane.release();
        Ok(read)
    }
}
