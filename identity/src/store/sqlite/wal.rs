//! Checkpoints off the writer's path. SQLite's automatic checkpoint runs inside the commit that
//! takes the write-ahead log past 1,000 pages: that commit copies the log into the main file
//! and syncs both, while every write queued behind it waits. Under the regulars mix that was
//! 40% of the writer's time (a commit of 20-30 ms every few dozen batches), and it is what a
//! large customer's record rewrite costs most: its pages go to the log, and then to the file.
//!
//! The writer's connection has the automatic checkpoint off. Every [`EVERY`] write
//! transactions, a task checkpoints in the background on a pooled connection (`PASSIVE`:
//! copying what no reader still needs, alongside the writer, which goes on appending). The log
//! starts again from its beginning only when a write begins with every frame copied, which a
//! background checkpoint never sees while writes go on: so once the log has grown past
//! [`RESTART_AT`] frames, the writer copies the few frames written since the last background
//! checkpoint itself, between two write transactions, and the next write restarts the log.
//! Should a background checkpoint take long (syncing a busy disk), the writer waits for it
//! after [`WAIT_AFTER`] transactions, so the log stays bounded.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, Ordering};
use std::time::Duration;

use sqlx::{SqliteConnection, SqliteExecutor, SqlitePool};

/// Write transactions begun between two background checkpoints.
const EVERY: u32 = 16;

/// Write transactions begun while one background checkpoint runs (a slow disk's sync) after
/// which the writer waits for it, so that the log cannot grow without bound meanwhile.
const WAIT_AFTER: u32 = 16 * EVERY;

/// Frames in the log past which the writer finishes a checkpoint itself so that the log starts
/// again: 8,192 (32 MiB at SQLite's default 4 KiB pages).
const RESTART_AT: i64 = 8_192;

/// How often a writer waiting for a background checkpoint looks again.
const POLL: Duration = Duration::from_millis(1);

/// The checkpointing state of one store's log.
#[derive(Debug)]
pub(super) struct Wal {
    /// Write transactions begun since the last background checkpoint started.
    begun: AtomicU32,
    /// A background checkpoint runs.
    running: AtomicBool,
    /// The log is past [`Wal::restart_at`]: the writer finishes the checkpoint before its next
    /// write transaction.
    restart: AtomicBool,
    /// [`RESTART_AT`], lower in tests.
    restart_at: AtomicI64,
    /// [`WAIT_AFTER`], lower in tests.
    wait_after: AtomicU32,
}

impl Default for Wal {
    fn default() -> Self {
        Wal {
            begun: AtomicU32::new(0),
            running: AtomicBool::new(false),
            restart: AtomicBool::new(false),
            restart_at: AtomicI64::new(RESTART_AT),
            wait_after: AtomicU32::new(WAIT_AFTER),
        }
    }
}

impl Wal {
    /// Run by the writer in its turn, on its connection, before each write transaction:
    /// finishes a checkpoint when the log is due to restart, and starts a background one every
    /// [`EVERY`] transactions (on a connection of `pool`).
    pub(super) async fn before_write(
        self: &Arc<Self>,
        conn: &mut SqliteConnection,
        pool: &SqlitePool,
    ) {
        let begun = self.begun.fetch_add(1, Ordering::Relaxed) + 1;
        if begun >= self.wait_after.load(Ordering::Relaxed) {
            // the background checkpoint takes long (a sync on a busy disk): the writer waits
            // for it rather than let the log grow on
            while self.running.load(Ordering::Acquire) {
                tokio::time::sleep(POLL).await;
            }
        }
        if self.restart.swap(false, Ordering::AcqRel) && checkpoint(&mut *conn).await.is_none() {
            // a checkpoint of another connection runs (a background one, another process's):
            // before the next write, then
            self.restart.store(true, Ordering::Release);
        }
        if begun < EVERY || self.running.swap(true, Ordering::AcqRel) {
            return;
        }
        self.begun.store(0, Ordering::Relaxed);
        let running = Running(Arc::clone(self));
        let pool = pool.clone();
        tokio::spawn(async move {
            let wal = &running.0;
            if let Some(frames) = checkpoint(&pool).await
                && frames >= wal.restart_at.load(Ordering::Relaxed)
            {
                wal.restart.store(true, Ordering::Release);
            }
        });
    }

    /// Lowers [`RESTART_AT`] and [`WAIT_AFTER`] (for tests that fill the log quickly).
    #[cfg(test)]
    pub(super) fn lower_limits(&self, restart_at: i64, wait_after: u32) {
        self.restart_at.store(restart_at, Ordering::Relaxed);
        self.wait_after.store(wait_after, Ordering::Relaxed);
    }
}

/// A background checkpoint running: over when dropped (also when its task never ran to the end).
struct Running(Arc<Wal>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.running.store(false, Ordering::Release);
    }
}

/// A `PASSIVE` checkpoint on `conn`: the frames in the log, or `None` when it could not run
/// (another connection's checkpoint runs; the store closes).
async fn checkpoint<'e>(conn: impl SqliteExecutor<'e>) -> Option<i64> {
    let done: sqlx::Result<(i64, i64, i64)> = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_one(conn)
        .await;
    match done {
        Ok((0, frames, _)) => Some(frames),
        _ => None,
    }
}
