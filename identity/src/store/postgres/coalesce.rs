//! Group commit: concurrent writes of one tenant share one round trip and one commit.
//!
//! A write that `identify` planned outside any transaction (a new customer, or a new row for a
//! known customer) joins its tenant's queue (`batches.rs`). When no batch of the tenant is being
//! written, a task starts that takes everything queued (up to [`MAX_BATCH`]) and sends it as one
//! call of `identity_write_batch`: one statement, so one transaction and one WAL flush for the
//! burst. Whatever arrives meanwhile waits for the next batch, which the same task sends as soon
//! as the first is answered: a lone write goes at once (no timer), and under load batches grow
//! by themselves. The function writes the items in order, each as it would alone (the same checks
//! and answers as `identity_new_customer` and `identity_add_row`, each seeing the items before
//! it), so a stale item answers -1 and writes nothing while the others commit.
//!
//! When the batch as a whole fails (a deadlock, a serialization failure, an error of one of its
//! writes), its items are written one by one, each its own call, so one request's trouble is no
//! other's. A write whose caller stopped waiting before the batch was sent is left out of it.
//! When the connection breaks, each caller is told so and tries again from its read, as after
//! any broken connection (identify is idempotent).

use std::sync::Arc;

use sqlx::Postgres;
use sqlx::postgres::PgRow;
use tokio::sync::oneshot;

use crate::contact::{ContactId, Email, Phone};
use crate::customer::CustomerRecord;
use crate::limits::Limits;
use crate::plan::Plan;
use crate::request::IdentifyRequest;
use crate::store::record_cache::RecordCache;
use crate::tenant::TenantId;

use super::batches::{Batches, answer_each, lost_connection};
use super::graph::{self, Stamp, Written};
use crate::store::Outcome;
use crate::store::lanes::Lanes;

/// The most writes one batch carries.
pub(crate) const MAX_BATCH: usize = 64;

/// The most batches of one tenant being written at once. One: a second batch in flight (written
/// while the first waits for its WAL flush) measured the same throughput on the benchmark
/// machine for 22% more PostgreSQL CPU per write (smaller batches); see BENCHMARKS.md.
pub(crate) const MAX_IN_FLIGHT: usize = 1;

const WRITE_BATCH: &str = "SELECT * FROM identity_write_batch($1, $2, $3, $4, $5, $6, $7, $8, \
                           $9, $10, $11)";

/// A write waiting in its tenant's queue: what it needs to be sent, and where its answer goes.
struct Job {
    region: Option<String>,
    blocked: i64,
    limits: Limits,
    /// The request, for a write that falls back to its own call.
    request: IdentifyRequest,
    plan: Plan,
    /// For a new row: the base of the customer's record held when it was queued.
    held_base: Option<Arc<CustomerRecord>>,
    answer: oneshot::Sender<Outcome<Written>>,
}

/// The store's write queues, one per tenant with writes waiting or being written.
#[derive(Debug)]
pub(crate) struct Coalescer {
    lanes: Arc<Lanes<Postgres>>,
    cache: Arc<RecordCache>,
    queues: Batches<Job>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job").finish_non_exhaustive()
    }
}

/// Whether a plan is written through the queue: the common writes, each a row appended.
pub(crate) fn coalesces(plan: &Plan) -> bool {
    matches!(plan, Plan::NewCustomer(_) | Plan::AddRow(_))
}

impl Coalescer {
    /// Queues over `lanes`, keeping written records in `cache`.
    pub(crate) fn new(lanes: Arc<Lanes<Postgres>>, cache: Arc<RecordCache>) -> Self {
        Coalescer {
            lanes,
            cache,
            queues: Batches::new(MAX_IN_FLIGHT, MAX_BATCH),
        }
    }

    /// Writes `plan` (one that [`coalesces`]) of `request`, read under `stamp`, with the
    /// tenant's other writes of the moment; the outcome it would have had alone.
    pub(crate) async fn write(
        self: &Arc<Self>,
        tenant: &TenantId,
        stamp: Stamp<'_>,
        request: &IdentifyRequest,
        plan: Plan,
    ) -> Outcome<Written> {
        let held_base = match &plan {
            Plan::AddRow(add) => self.cache.base_of(add.customer.primary),
            _ => None,
        };
        let (answer, answered) = oneshot::channel();
        let job = Job {
            region: stamp.region.map(str::to_owned),
            blocked: stamp.blocked,
            limits: stamp.limits,
            request: request.clone(),
            plan,
            held_base,
            answer,
        };
        // a task per batch in flight: while they are all busy, this write waits for the first
        // of them to come back, with whatever else arrives meanwhile
        let start = self.queues.push(tenant, job);
        if start {
            tokio::spawn(Arc::clone(self).drain(tenant.clone()));
        }
        match answered.await {
            Ok(outcome) => outcome,
            // the task ended without answering (it panicked): nothing is known of the write,
            // so the caller reads again, as after a broken connection
            Err(_) => Err(lost_connection()),
        }
    }

    /// Sends the tenant's queued writes, batch after batch, until none wait.
    async fn drain(self: Arc<Self>, tenant: TenantId) {
        let mut sender = self.queues.sender(&tenant);
        while let Some(batch) = sender.next() {
            self.send(&tenant, batch).await;
        }
    }

    /// Writes one batch and answers each of its writes.
    async fn send(&self, tenant: &TenantId, mut batch: Vec<Job>) {
        let outcome: Outcome<Vec<PgRow>> = async {
            let mut lane = self.lanes.acquire().await?;
            // a caller that stopped waiting before its write was sent (a cancelled call, a
            // request past its timeout) has it left out: nothing of it is written
            batch.retain(|job| !job.answer.is_closed());
            if batch.is_empty() {
                lane.release();
                return Ok(Vec::new());
            }
            let rows = batch_query(tenant, &batch).fetch_all(&mut *lane).await?;
            lane.release();
            Ok(rows)
        }
        .await;
        let failed = answer_each(
            batch,
            outcome,
            |job, row| self.answer(tenant, &job.plan, job.held_base.clone(), row),
            |job, written| {
                let _ = job.answer.send(written);
            },
        );
        for job in failed {
            let written = self.alone(tenant, &job).await;
            let _ = job.answer.send(written);
        }
    }

    /// The outcome of `plan` from its row of the batch's answer (item, then the columns of
    /// `identity_append_row`).
    fn answer(
        &self,
        tenant: &TenantId,
        plan: &Plan,
        held_base: Option<Arc<CustomerRecord>>,
        row: &PgRow,
    ) -> Outcome<Written> {
        use sqlx::Row;
        match plan {
            Plan::NewCustomer(new) => {
                let code: i64 = row.try_get(1)?;
                Ok(graph::status(code)
                    .unwrap_or_else(|| Written::Done(new.answer(ContactId::new(code)))))
            }
            Plan::AddRow(add) => {
                graph::appended(row, 1, tenant, add.clone(), held_base, &self.cache)
            }
            // never queued (see `coalesces`)
            _ => Ok(Written::Stale),
        }
    }

    /// Writes `job` with its own call, as an unqueued write would.
    async fn alone(&self, tenant: &TenantId, job: &Job) -> Outcome<Written> {
        let mut lane = self.lanes.acquire().await?;
        let stamp = Stamp {
            region: job.region.as_deref(),
            blocked: job.blocked,
            limits: job.limits,
        };
        let written = graph::write(
            &mut *lane,
            tenant,
            stamp,
            &job.request,
            job.plan.clone(),
            &self.cache,
        )
        .await?;
        lane.release();
        Ok(written)
    }
}

/// The batch's one statement: a column per argument of `identity_write_batch`, a row per job.
fn batch_query<'q>(
    tenant: &'q TenantId,
    batch: &[Job],
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    let mut kinds: Vec<i16> = Vec::with_capacity(batch.len());
    let mut regions: Vec<Option<String>> = Vec::with_capacity(batch.len());
    let mut blocked: Vec<i64> = Vec::with_capacity(batch.len());
    let mut customers: Vec<Option<i64>> = Vec::with_capacity(batch.len());
    let mut versions: Vec<Option<i64>> = Vec::with_capacity(batch.len());
    let mut bases: Vec<Option<i64>> = Vec::with_capacity(batch.len());
    let mut emails: Vec<Option<String>> = Vec::with_capacity(batch.len());
    let mut phones: Vec<Option<String>> = Vec::with_capacity(batch.len());
    let mut new_emails: Vec<bool> = Vec::with_capacity(batch.len());
    let mut new_phones: Vec<bool> = Vec::with_capacity(batch.len());
    for job in batch {
        regions.push(job.region.clone());
        blocked.push(job.blocked);
        match &job.plan {
            Plan::AddRow(add) => {
                kinds.push(if graph::is_capped(add, job.limits) {
                    2
                } else {
                    1
                });
                customers.push(Some(add.customer.primary.get()));
                versions.push(Some(add.customer.version));
                bases.push(Some(job.held_base.as_ref().map_or(-1, |b| b.version)));
                emails.push(add.email.as_ref().map(|e| Email::as_str(e).to_owned()));
                phones.push(
                    add.phone_number
                        .as_ref()
                        .map(|p| Phone::as_str(p).to_owned()),
                );
                new_emails.push(add.new_email().is_some());
                new_phones.push(add.new_phone().is_some());
            }
            plan => {
                let (email, phone) = match plan {
                    Plan::NewCustomer(new) => (new.email.as_ref(), new.phone_number.as_ref()),
                    _ => (None, None),
                };
                kinds.push(0);
                customers.push(None);
                versions.push(None);
                bases.push(None);
                emails.push(email.map(|e| e.as_str().to_owned()));
                phones.push(phone.map(|p| p.as_str().to_owned()));
                new_emails.push(email.is_some());
                new_phones.push(phone.is_some());
            }
        }
    }
    sqlx::query(WRITE_BATCH)
        .bind(tenant.as_str())
        .bind(kinds)
        .bind(regions)
        .bind(blocked)
        .bind(customers)
        .bind(versions)
        .bind(bases)
        .bind(emails)
        .bind(phones)
        .bind(new_emails)
        .bind(new_phones)
}
