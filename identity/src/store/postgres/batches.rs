//! Per-tenant queues that turn the concurrent calls of a moment into batches, for the store's
//! group commit (`coalesce.rs`) and its shared reads (`reads.rs`).
//!
//! A call queues its job under its tenant. When fewer than the queue's limit of the tenant's
//! batches are being sent, the call starts a task ([`Batches::push`] says so) that takes
//! whatever waits, batch after batch ([`Batches::next`]), until nothing does. Whatever arrives
//! while every task is busy waits for the next batch: a lone call goes at once (no timer), and
//! under load batches grow by themselves.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use sqlx::postgres::PgRow;

use crate::store::{Failure, Outcome};
use crate::tenant::TenantId;

/// The tenants' queues of jobs `J`.
#[derive(Debug)]
pub(crate) struct Batches<J> {
    queues: Mutex<HashMap<TenantId, Queue<J>>>,
    /// The most tasks sending one tenant's batches at once.
    in_flight: usize,
    /// The most jobs in one batch.
    max_batch: usize,
}

/// One tenant's jobs waiting, and how many tasks are sending its batches.
#[derive(Debug)]
struct Queue<J> {
    waiting: Vec<J>,
    sending: usize,
}

impl<J> Batches<J> {
    /// Queues with at most `in_flight` batches of a tenant being sent at once, each of at most
    /// `max_batch` jobs (both at least one).
    pub(crate) fn new(in_flight: usize, max_batch: usize) -> Self {
        Batches {
            queues: Mutex::new(HashMap::new()),
            in_flight: in_flight.max(1),
            max_batch: max_batch.max(1),
        }
    }

    /// Queues `job` under `tenant`. `true`: the caller must start a task that sends the
    /// tenant's batches (`next` until it answers `None`, holding a [`Batches::sender`]).
    pub(crate) fn push(&self, tenant: &TenantId, job: J) -> bool {
        let mut queues = self.queues.lock().unwrap_or_else(PoisonError::into_inner);
        let queue = queues.entry(tenant.clone()).or_insert_with(|| Queue {
            waiting: Vec::new(),
            sending: 0,
        });
        queue.waiting.push(job);
        let start = queue.sending < self.in_flight;
        if start {
            queue.sending += 1;
        }
        start
    }

    /// The tenant's next batch, in the order its jobs came; `None` when none waits, and the
    /// task asking is then counted out.
    pub(crate) fn next(&self, tenant: &TenantId) -> Option<Vec<J>> {
        let mut queues = self.queues.lock().unwrap_or_else(PoisonError::into_inner);
        let queue = queues.get_mut(tenant)?;
        if queue.waiting.is_empty() {
            queue.sending -= 1;
            if queue.sending == 0 {
                queues.remove(tenant);
            }
            return None;
        }
        let take = queue.waiting.len().min(self.max_batch);
        Some(queue.waiting.drain(..take).collect())
    }

    /// A guard for a sending task: should the task end before `next` answered `None` (a
    /// panic), it counts the task out, and the tenant's queue goes with the last task (its jobs
    /// are dropped, so their callers hear nothing and the next call starts a new task).
    pub(crate) fn sender<'a>(&'a self, tenant: &'a TenantId) -> Sender<'a, J> {
        Sender {
            batches: self,
            tenant,
            done: false,
        }
    }
}

/// See [`Batches::sender`].
pub(crate) struct Sender<'a, J> {
    batches: &'a Batches<J>,
    tenant: &'a TenantId,
    done: bool,
}

impl<J> Sender<'_, J> {
    /// The tenant's next batch (see [`Batches::next`]); after `None` the guard has nothing
    /// left to do.
    pub(crate) fn next(&mut self) -> Option<Vec<J>> {
        let batch = self.batches.next(self.tenant);
        self.done = batch.is_none();
        batch
    }

    /// Gives this task's place to another that goes on sending (which holds a sender of its
    /// own): the count stays as it is.
    pub(crate) fn hand_over(mut self) {
        self.done = true;
    }
}

impl<J> Drop for Sender<'_, J> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let mut queues = self
            .batches
            .queues
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(queue) = queues.get_mut(self.tenant) {
            queue.sending = queue.sending.saturating_sub(1);
            if queue.sending == 0 {
                queues.remove(self.tenant);
            }
        }
    }
}

/// Answers each job of a batch from what the batch's one call came back with: its rows, one
/// per job in order (`from_row`), or a broken connection, which every caller hears as such and
/// answers by trying again from its read. After a failure of the call as a whole (or another
/// number of rows) nothing is answered: the jobs come back, for the caller to do each alone, so
/// each meets only its own fate. `reply` hands a job its outcome.
pub(super) fn answer_each<J, A>(
    batch: Vec<J>,
    outcome: Outcome<Vec<PgRow>>,
    mut from_row: impl FnMut(&J, &PgRow) -> Outcome<A>,
    reply: impl Fn(J, Outcome<A>),
) -> Vec<J> {
    match outcome {
        Ok(rows) if rows.len() == batch.len() => {
            for (job, row) in batch.into_iter().zip(rows) {
                let answer = from_row(&job, &row);
                reply(job, answer);
            }
            Vec::new()
        }
        Err(Failure::Sql(e)) if is_broken(&e) => {
            for job in batch {
                reply(job, Err(lost_connection()));
            }
            Vec::new()
        }
        _ => batch,
    }
}

/// Whether the connection broke (a batch of writes may or may not have committed).
fn is_broken(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => matches!(
            db.code().as_deref(),
            Some("57P01" | "57P02" | "57P03" | "57P05")
        ),
        _ => false,
    }
}

/// What a call whose batch lost its connection (or whose sender ended without answering)
/// answers: a broken connection, which identify tries again from its read.
pub(super) fn lost_connection() -> Failure {
    Failure::Sql(sqlx::Error::Io(std::io::Error::new(
        std::io::ErrorKind::ConnectionAborted,
        "the connection of a batch broke",
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(name: &str) -> TenantId {
        TenantId::parse(name).unwrap()
    }

    #[test]
    fn a_lone_job_starts_a_task_and_later_ones_wait_for_a_free_one() {
        let batches = Batches::new(2, 3);
        let a = tenant("a");
        assert!(batches.push(&a, 1));
        assert!(batches.push(&a, 2));
        assert!(!batches.push(&a, 3), "two tasks send already");
        for job in 4..=6 {
            assert!(!batches.push(&a, job));
        }
        // another tenant has its own tasks
        assert!(batches.push(&tenant("b"), 1));
        assert_eq!(
            batches.next(&a),
            Some(vec![1, 2, 3]),
            "at most three, in order"
        );
        assert_eq!(batches.next(&a), Some(vec![4, 5, 6]));
        assert_eq!(batches.next(&a), None, "the first task counts out");
        assert!(batches.push(&a, 7), "one place is free again");
        assert!(!batches.push(&a, 8), "and taken");
        assert_eq!(batches.next(&a), Some(vec![7, 8]));
        assert_eq!(batches.next(&a), None, "one task counts out");
        assert_eq!(batches.next(&a), None, "the other too, and the queue goes");
        assert!(batches.push(&a, 9), "no task sends: this job starts one");
        assert!(batches.push(&a, 10), "and a second place is free");
        assert!(!batches.push(&a, 11));
    }

    #[test]
    fn a_task_that_ends_early_is_counted_out_and_the_last_one_drops_the_queue() {
        let batches = Batches::new(1, 10);
        let a = tenant("a");
        assert!(batches.push(&a, 1));
        {
            let mut sender = batches.sender(&a);
            assert_eq!(sender.next(), Some(vec![1]));
            assert!(!batches.push(&a, 2));
            // dropped here without having seen `None`: as after a panic
        }
        assert!(
            batches.push(&a, 3),
            "the queue went with its task: a new task starts"
        );
        let mut sender = batches.sender(&a);
        assert_eq!(
            sender.next(),
            Some(vec![3]),
            "the waiting job went with the queue"
        );
        assert_eq!(sender.next(), None);
        drop(sender);
        assert!(batches.push(&a, 4), "counted out once, not twice");
        assert!(!batches.push(&a, 5));
    }

    #[test]
    fn a_task_handed_over_keeps_its_place_for_the_one_that_goes_on() {
        let batches = Batches::new(1, 1);
        let a = tenant("a");
        assert!(batches.push(&a, 1));
        assert!(!batches.push(&a, 2));
        let mut first = batches.sender(&a);
        assert_eq!(first.next(), Some(vec![1]));
        first.hand_over();
        assert!(!batches.push(&a, 3), "the place is still taken");
        let mut second = batches.sender(&a);
        assert_eq!(second.next(), Some(vec![2]));
        assert_eq!(second.next(), Some(vec![3]));
        assert_eq!(second.next(), None);
        drop(second);
        assert!(batches.push(&a, 4), "the one place is free again");
    }
}
