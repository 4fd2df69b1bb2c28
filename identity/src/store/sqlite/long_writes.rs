//! SQLite's long writes in steps (see `jobs.rs`): starting a write transaction only once the
//! tenant has no job running (waiting for it, or taking over one without progress), and running
//! an erase, an import or the undoing of an import a step per transaction.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::erase::Erasure;
use crate::erasure_log::ErasureLog;
use crate::error::{Error, Result};
use crate::progress::{JobKind, JobProgress};
use crate::store::{MAX_ATTEMPTS, backoff, contention};
use crate::tenant::TenantId;

use super::erase_steps::EraseJob;
use super::import::{Loader, undo};
use super::jobs::{self, Job, STEP, WAIT};
use super::{SqliteStore, WriteTx, records, set_writer};

/// How often a call waiting for its tenant's job looks again.
const POLL: Duration = Duration::from_millis(20);

/// How far each tenant's long write run by this process has got, as its steps commit.
#[derive(Debug, Default)]
pub(super) struct Progress(Mutex<HashMap<TenantId, JobProgress>>);

impl Progress {
    /// The tenant's, if it runs one.
    pub(super) fn of(&self, tenant: &TenantId) -> Option<JobProgress> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(tenant)
            .copied()
    }

    /// Notes that `done` of `total` items of the tenant's write of `kind` are committed; the
    /// returned guard forgets the write when dropped (done, failed or taken over).
    fn note<'a>(
        &'a self,
        tenant: &'a TenantId,
        kind: JobKind,
        done: usize,
        total: usize,
    ) -> Noted<'a> {
        let noted = Noted {
            progress: self,
            tenant,
            kind,
            total,
        };
        noted.set(done);
        noted
    }
}

/// A write whose progress is noted, until dropped.
struct Noted<'a> {
    progress: &'a Progress,
    tenant: &'a TenantId,
    kind: JobKind,
    total: usize,
}

impl Noted<'_> {
    fn set(&self, done: usize) {
        let now = JobProgress::new(self.kind, done as u64, self.total as u64);
        let mut all = self.progress.0.lock().unwrap_or_else(|p| p.into_inner());
        all.insert(self.tenant.clone(), now);
    }
}

impl Drop for Noted<'_> {
    fn drop(&mut self) {
        let mut all = self.progress.0.lock().unwrap_or_else(|p| p.into_inner());
        all.remove(self.tenant);
    }
}

impl SqliteStore {
    /// Starts a write transaction (`BEGIN IMMEDIATE`); `Ok(None)` when the database is busy
    /// (another process writes). For a `tenant`, only once it has no job running (waiting up
    /// to [`WAIT`] for one), and with its changes made outside the library applied first when
    /// `repair`.
    pub(super) async fn begin(
        &self,
        tenant: Option<&TenantId>,
        repair: bool,
    ) -> Result<Option<WriteTx>> {
        let started = Instant::now();
        loop {
            let Some(mut tx) = self.begin_immediate().await? else {
                return Ok(None);
            };
            if let Some(tenant) = tenant
                && let Some(job) = jobs::of(&mut tx, tenant).await?
            {
                drop(tx);
                self.wait_out(tenant, &job, started).await?;
                continue;
            }
            set_writer(&mut tx, true).await?;
            if let (Some(tenant), true) = (tenant, repair) {
                records::repair(&mut tx, tenant).await?;
            }
            return Ok(Some(WriteTx { tx }));
        }
    }

    /// Waits while `tenant` has a job: a moment when it makes progress, the job itself when it
    /// made none for [`jobs::STALE`] (finished or undone), an error after [`WAIT`].
    pub(super) async fn wait_out(
        &self,
        tenant: &TenantId,
        job: &Job,
        started: Instant,
    ) -> Result<()> {
        if job.is_stale() {
            // boxed: taking over starts write transactions, which may wait in turn
            return Box::pin(self.take_over(tenant, job)).await;
        }
        if started.elapsed() > WAIT {
            return Err(jobs::still_busy(tenant, job));
        }
        tokio::time::sleep(POLL).await;
        Ok(())
    }

    /// Waits until `tenant` has no job (see [`SqliteStore::wait_out`]).
    pub(super) async fn wait_for_tenant(&self, tenant: &TenantId) -> Result<()> {
        let started = Instant::now();
        loop {
            let mut conn = self
                .pool
                .acquire()
                .await
                .map_err(|e| Error::store("reading a tenant's job", e))?;
            let Some(job) = jobs::of(&mut conn, tenant).await? else {
                return Ok(());
            };
            drop(conn);
            self.wait_out(tenant, &job, started).await?;
        }
    }

    /// Runs a job whose process stopped making progress: finishes an erase, undoes an import.
    async fn take_over(&self, tenant: &TenantId, job: &Job) -> Result<()> {
        let owner = jobs::new_owner();
        let taken = loop {
            if let Some(mut write) = self.begin(None, false).await? {
                let taken = jobs::take_over(&mut write.tx, tenant, job.owner, owner).await?;
                if write.commit().await? {
                    break taken;
                }
            }
            tokio::time::sleep(POLL).await;
        };
        if !taken {
            return Ok(()); // another call took it over, or it moved on
        }
        match job.kind.as_str() {
            "erase" => {
                let unreadable = || Error::CorruptGraph {
                    reason: format!("tenant {tenant}'s unfinished erase cannot be read"),
                };
                let mut conn = self
                    .pool
                    .acquire()
                    .await
                    .map_err(|e| Error::store("reading a tenant's job", e))?;
                let (plan, position) = jobs::plan_of(&mut conn, tenant)
                    .await?
                    .ok_or_else(unreadable)?;
                drop(conn);
                let mut erase: EraseJob = serde_json::from_str(&plan).map_err(|_| unreadable())?;
                if let Some(position) = position {
                    erase.resume(&position).map_err(|()| unreadable())?;
                }
                // no erasure log file here: the record is kept in the database
                self.run_erase(tenant, owner, erase, None).await.map(drop)
            }
            _ => self.run_undo(tenant, owner).await,
        }
    }

    /// Runs the erase `job` (started, owned by `owner`) a step per transaction; its receipt.
    /// Before the last step commits, its record goes to `log`; after, the files are cleared of
    /// what it deleted.
    pub(super) async fn run_erase(
        &self,
        tenant: &TenantId,
        owner: i64,
        mut job: EraseJob,
        log: Option<&ErasureLog>,
    ) -> Result<Erasure> {
        let noted = self
            .progress
            .note(tenant, JobKind::Erase, job.done(), job.size());
        while !job.is_done() {
            let write = self.step_write().await?;
            let mut write = write;
            job.work(&mut write.tx, tenant, STEP).await?;
            let still_ours = if job.is_done() {
                jobs::end(&mut write.tx, tenant, owner).await?
            } else {
                jobs::advance(&mut write.tx, tenant, owner, &job.position()).await?
            };
            if !still_ours {
                // another call took the erase over: it ends it
                drop(write);
                self.wait_for_tenant(tenant).await?;
                return Ok(job.receipt());
            }
            if !job.is_done() {
                self.commit_step(write).await?;
                noted.set(job.done());
                continue;
            }
            if let Some(log) = log {
                log.append(job.record())?; // on disk before the erase commits
            }
            let Some(turn) = write.commit_holding().await? else {
                return Err(Error::Contention { attempts: 1 });
            };
            // the values are gone from the tables; now from the files
            super::checkpoint::clear_log(&self.pool, self.in_memory).await?;
            drop(turn);
        }
        Ok(job.receipt())
    }

    /// Loads an import (started, owned by `owner`) a step per transaction; undoes what it
    /// wrote when a step fails.
    pub(super) async fn run_import(
        &self,
        tenant: &TenantId,
        owner: i64,
        mut loader: Loader,
    ) -> Result<()> {
        let noted = self
            .progress
            .note(tenant, JobKind::Import, 0, loader.size());
        let loaded: Result<()> = async {
            while !loader.is_done() {
                let mut write = self.step_write().await?;
                loader.work(&mut write.tx, tenant, STEP).await?;
                let still_ours = if loader.is_done() {
                    jobs::end(&mut write.tx, tenant, owner).await?
                } else {
                    jobs::advance(&mut write.tx, tenant, owner, "{}").await?
                };
                if !still_ours {
                    return Err(Error::Conflict {
                        reason: format!(
                            "tenant {tenant}'s import made no progress for {} s and was undone \
                             by another call: import again",
                            jobs::STALE.as_secs()
                        ),
                    });
                }
                self.commit_step(write).await?;
                noted.set(loader.done());
            }
            Ok(())
        }
        .await;
        if let Err(e) = loaded {
            if !matches!(e, Error::Conflict { .. }) {
                // nothing of a failed import stays (the tenant was empty)
                let _ = self.run_undo(tenant, owner).await;
            }
            return Err(e);
        }
        Ok(())
    }

    /// Takes a tenant's half-loaded import away a step per transaction, then ends its job.
    async fn run_undo(&self, tenant: &TenantId, owner: i64) -> Result<()> {
        loop {
            let mut write = self.step_write().await?;
            let done = undo(&mut write.tx, tenant, STEP).await?;
            if done {
                jobs::end(&mut write.tx, tenant, owner).await?;
            }
            self.commit_step(write).await?;
            if done {
                return Ok(());
            }
        }
    }

    /// A write transaction for a job's step (the job's tenant waits for it, not it for itself).
    async fn step_write(&self) -> Result<WriteTx> {
        for attempt in 1..=MAX_ATTEMPTS {
            if let Some(write) = self.begin(None, false).await? {
                return Ok(write);
            }
            backoff(attempt).await;
        }
        Err(contention())
    }

    /// Commits a job's step.
    async fn commit_step(&self, write: WriteTx) -> Result<()> {
        if write.commit().await? {
            Ok(())
        } else {
            Err(Error::Contention { attempts: 1 })
        }
    }
}
