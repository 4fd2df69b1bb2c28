//! Group commit on SQLite: the writes of identify that arrive together share one write
//! transaction. SQLite has one writer at a time anyway; what a write transaction costs beside
//! its rows (taking the in-process queue and `BEGIN IMMEDIATE`, marking the writer, applying
//! changes made outside the library, the commit) is paid once per batch instead of once per
//! write.
//!
//! A write that the fast read could not answer joins the store's queue. When no batch is being
//! written, a task starts that takes everything queued (up to [`MAX_BATCH`]) and writes it in
//! one transaction: each write read again under the write lock, planned and applied in order,
//! each seeing the ones before it, so each answer is the one it would have had alone, written
//! after them (each write's rows, event and record sent as one script, `script.rs`; the read of
//! each also says whether its tenant has a long write running or changes made outside the
//! library waiting, which are applied before anything of the tenant is planned). The read of
//! each write after the first rides at the end of the script of the one before it (SQLite runs
//! a script in order, so the read sees that write), so a write costs one call to SQLite's
//! worker thread, not two; when more was written after it (a fold) or its settings disagree,
//! the write reads again on its own. The first write's read rides in the script that begins
//! the transaction (`BEGIN IMMEDIATE`, the writer's mark, the table's next contact id), and
//! the last write's script takes the mark off and, in a batch of more than one write, commits
//! it, so a batch of n writes costs n + 1 calls (its begin and its writes; n + 2 for one write
//! alone, whose commit is a call of its own) where it cost n + 6. Whatever
//! arrives meanwhile waits for the next batch; a write whose caller stopped waiting before the
//! batch had the write lock is left out (nothing of it is written). When the batch cannot be
//! written whole (the database is busy with another process, a tenant has a long write
//! running, or one write fails), nothing of it is committed and each write goes alone, the way
//! it went before there were batches, so one request's trouble is no other's.

use std::sync::{Arc, Mutex, PoisonError};

use sqlx::sqlite::SqliteRow;
use tokio::sync::oneshot;

use crate::error::{Error, Result};
use crate::request::{ConsolidatedContact, IdentifyRequest};
use crate::screen::Localized;
use crate::tenant::TenantId;

use super::bases::{Held, Written};
use super::script::Script;
use super::{SqliteStore, WriteTx, push_writer_mark, read, records};

/// The most writes one transaction carries.
pub(super) const MAX_BATCH: usize = 64;

/// A write waiting in the queue.
struct Job {
    tenant: TenantId,
    request: IdentifyRequest,
    local: Localized,
    /// The answer (ignored values noted), or `None`: write alone.
    reply: oneshot::Sender<Option<Result<ConsolidatedContact>>>,
}

/// The store's write queue: `None` while no batch is being written, else the writes waiting
/// for the next one.
#[derive(Debug, Default)]
pub(super) struct Group {
    waiting: Mutex<Option<Vec<Job>>>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Writes `request` of `tenant` (read as `local`) with the other writes of the moment, in
    /// one transaction: its answer, or `None` when it must be written alone.
    pub(super) async fn write_grouped(
        &self,
        tenant: &TenantId,
        request: &IdentifyRequest,
        local: Localized,
    ) -> Option<Result<ConsolidatedContact>> {
        let (reply, answered) = oneshot::channel();
        let job = Job {
            tenant: tenant.clone(),
            request: request.clone(),
            local,
            reply,
        };
        let start = {
            let mut waiting = self
                .group
                .waiting
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            match waiting.as_mut() {
                Some(queue) => {
                    queue.push(job);
                    false
                }
                None => {
                    *waiting = Some(vec![job]);
                    true
                }
            }
        };
        if start {
            tokio::spawn(self.clone().drain_group());
        }
        // a task that ended without answering: write alone
        answered.await.ok().flatten()
    }

    /// Writes the queued writes, batch after batch, until none wait.
    async fn drain_group(self) {
        let group = Arc::clone(&self.group);
        // should this task end early, the queue goes with it (its writes go alone)
        let guard = Forget(&group);
        loop {
            let batch: Vec<Job> = {
                let mut waiting = group.waiting.lock().unwrap_or_else(PoisonError::into_inner);
                match waiting.as_mut() {
                    Some(queue) if !queue.is_empty() => {
                        let take = queue.len().min(MAX_BATCH);
                        queue.drain(..take).collect()
                    }
                    _ => {
                        *waiting = None;
                        break;
                    }
                }
            };
            self.write_batch(batch).await;
        }
        std::mem::forget(guard);
    }

    /// Writes one batch in one transaction and answers each of its writes.
    async fn write_batch(&self, mut batch: Vec<Job>) {
        let written = self.try_batch(&mut batch).await;
        match written {
            Ok(Some(answers)) => {
                for (job, answer) in batch.into_iter().zip(answers) {
                    let _ = job.reply.send(answer.map(Ok));
                }
            }
            _ => {
                for job in batch {
                    let _ = job.reply.send(None);
                }
            }
        }
    }

    /// The batch's answers once committed; `Ok(None)` when it cannot be written whole.
    async fn try_batch(
        &self,
        batch: &mut [Job],
    ) -> Result<Option<Vec<Option<ConsolidatedContact>>>> {
        let Some(first) = batch.first() else {
            return Ok(Some(Vec::new()));
        };
        let Some((mut write, mut ids, first_read)) = self.begin_batch(first).await? else {
            return Ok(None); // another process writes
        };
        let mut answers = Vec::with_capacity(batch.len());
        let mut written = Written::default();
        // the rows of this write's read, carried by the previous call
        let mut carried = Some(first_read);
        // whether the last write's script took the writer's mark off
        let mut unmarked = false;
        for k in 0..batch.len() {
            let (done, rest) = batch.split_at_mut(k + 1);
            let job = &mut done[k];
            let rows = carried.take();
            if job.reply.is_closed() {
                // its caller stopped waiting before the write lock was had: nothing written
                answers.push(None);
                continue;
            }
            // under the write lock the tenant's settings cannot change; the read also says
            // whether the tenant has a long write running or changes made outside the library
            // waiting to be applied (nothing of the batch is written for it before this read)
            let mut repaired = false;
            let mut first = match rows {
                Some(rows) => {
                    let held = Held::InWrite(&self.bases, &written);
                    read::carried(&mut write.tx, &job.tenant, &rows, held).await?
                }
                None => None,
            };
            let read = loop {
                let held = Held::InWrite(&self.bases, &written);
                let read = match first.take() {
                    Some(read)
                        if job
                            .local
                            .agrees(read.region.as_deref(), read.blocked_version) =>
                    {
                        read
                    }
                    _ => {
                        self.read_localized(
                            &mut write.tx,
                            &job.tenant,
                            &job.request,
                            &mut job.local,
                            held,
                        )
                        .await?
                    }
                };
                if read.job {
                    return Ok(None); // a long write of the tenant runs: wait for it alone
                }
                if !read.pending || repaired {
                    break read;
                }
                records::repair(&mut write.tx, &job.tenant).await?;
                repaired = true;
            };
            let plan = job.local.plan(read.matched);
            // the next write's read goes at the end of this one's script
            let next = rest
                .first()
                .map(|next| (next.tenant.clone(), next.local.request.clone()));
            let push_read = next.as_ref().map(|(tenant, request)| {
                move |script: &mut Script| read::push(script, tenant, request)
            });
            // the last write's script takes the writer's mark off instead, and commits the
            // batch when it has more than one write (one alone folds a tail it makes long
            // enough; see `records::Then::End`)
            let unmark = |script: &mut Script| push_writer_mark(script, false);
            let end = (k > 0).then(|| write.tx.end(unmark)).flatten();
            let then = match (&push_read, &end) {
                (Some(read), _) => records::Then::More(read),
                (None, Some(end)) => records::Then::End(&**end),
                (None, None) => records::Then::More(&unmark),
            };
            let (answer, rows) = records::apply(
                &mut write.tx,
                &job.tenant,
                &job.local.request,
                plan,
                &mut ids,
                &mut written,
                then,
            )
            .await?;
            // rows: `then` ran after everything the write wrote
            unmarked = next.is_none() && rows.is_some();
            if unmarked && end.is_some() {
                write.tx.ended();
            }
            carried = rows;
            answers.push(Some(answer.with_ignored(&job.local.ignored)));
        }
        let committed = if unmarked {
            write.commit_unmarked().await?.is_some()
        } else {
            write.commit().await?
        };
        if !committed {
            return Ok(None);
        }
        // what the batch wrote is now what every read finds
        self.bases.publish(written);
        Ok(Some(answers))
    }

    /// Starts a batch's write transaction (`BEGIN IMMEDIATE`), then in one call marks the
    /// writer, reads the table's next contact id and reads the `first` write: the transaction,
    /// the batch's ids and that read's rows; `None` when another process writes. (The batch
    /// waits for no tenant's long write: each write's read says whether its tenant has one.)
    async fn begin_batch(
        &self,
        first: &Job,
    ) -> Result<Option<(WriteTx, records::NewIds, Vec<SqliteRow>)>> {
        let begun = self
            .begin_in_script(|script| {
                push_writer_mark(script, true);
                records::NewIds::push_next(script);
                read::push(script, &first.tenant, &first.local.request);
            })
            .await?;
        let Some((tx, mut rows)) = begun else {
            return Ok(None);
        };
        let write = WriteTx { tx };
        if rows.is_empty() {
            let missing = sqlx::Error::RowNotFound;
            return Err(Error::store("starting a write", missing));
        }
        let ids = records::NewIds::from_row(&rows.remove(0))?;
        Ok(Some((write, ids, rows)))
    }
}

/// Empties the queue when the task writing it ends without doing so (a panic), so its writes
/// go alone and the next write starts a new task.
struct Forget<'a>(&'a Group);

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        let mut waiting = self
            .0
            .waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *waiting = None;
    }
}
