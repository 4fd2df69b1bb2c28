//! Connections that stay with the store between calls. sqlx's pool pings every connection that
//! goes back to it (`PoolConnection`'s release runs a round trip before the connection may serve
//! again), so with the pool alone a returning customer cost its read and that ping. The store
//! instead keeps the connections its calls are done with here, still checked out of the pool,
//! and hands them to the next call as they are: a call's round trips are its own. PostgreSQL's
//! store takes every call's connection here; SQLite's takes identify's reads (on SQLite the
//! ping is a call to the connection's worker thread and back); their other work takes
//! connections from the pool itself, which always has one not kept here.
//!
//! Calls wait for a lane here, not in the pool (whose waiters would never see a connection kept
//! here): at most as many lanes as the pool has connections, each a kept connection or, when
//! none is kept, one from the pool, which then has one to give.
//!
//! A connection goes back into the pool (and is pinged there) only when a call ends in an error
//! ([`Lane`]'s drop, so a broken connection is never handed out again), when more than all but
//! one of the pool's connections are kept here (so code that takes a connection from the pool
//! itself, such as migrations, finds one), or when the store closes.

use std::ops::{Deref, DerefMut};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::pool::PoolConnection;
use sqlx::{Database, Pool};
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::stats::PoolStats;

/// The connections the store keeps between calls, over its pool.
#[derive(Debug)]
pub(crate) struct Lanes<DB: Database> {
    pool: Pool<DB>,
    /// One permit per lane that may be out at once: the pool's size.
    lanes: Semaphore,
    idle: Mutex<Vec<PoolConnection<DB>>>,
    /// The most kept at once: all but one of the pool's connections (one when the pool has one),
    /// or none ([`Lanes::passing`]).
    keep: usize,
    /// Calls waiting for a lane now.
    waiting: AtomicU32,
}

impl<DB: Database> Lanes<DB> {
    /// Lanes over `pool`.
    pub(crate) fn new(pool: Pool<DB>) -> Self {
        let max = pool.options().get_max_connections() as usize;
        Self::keeping(pool, max.saturating_sub(1).max(1))
    }

    /// Lanes over `pool` that keep no connection: each goes back to the pool (an in-memory
    /// SQLite database, whose one connection its writes take from the pool too).
    pub(crate) fn passing(pool: Pool<DB>) -> Self {
        Self::keeping(pool, 0)
    }

    fn keeping(pool: Pool<DB>, keep: usize) -> Self {
        let max = pool.options().get_max_connections() as usize;
        Lanes {
            pool,
            lanes: Semaphore::new(max),
            idle: Mutex::new(Vec::new()),
            keep,
            waiting: AtomicU32::new(0),
        }
    }

    /// A connection: one kept here, else one from the pool. Waits for a lane up to the pool's
    /// acquire timeout ([`sqlx::Error::PoolTimedOut`]).
    pub(crate) async fn acquire(&self) -> sqlx::Result<Lane<'_, DB>> {
        let waited = self.pool.options().get_acquire_timeout();
        let waiting = Waiting::enter(&self.waiting);
        let permit = tokio::time::timeout(waited, self.lanes.acquire()).await;
        drop(waiting);
        let permit = match permit {
            Ok(Ok(permit)) => permit,
            Ok(Err(_)) => return Err(sqlx::Error::PoolClosed),
            Err(_) => return Err(sqlx::Error::PoolTimedOut),
        };
        let kept = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match kept {
            Some(conn) => conn,
            None => self.pool.acquire().await?,
        };
        Ok(Lane {
            conn: Some(conn),
            lanes: self,
            _permit: permit,
        })
    }

    /// The pool's connections now: a kept one is idle, though the pool counts it as lent.
    pub(crate) fn stats(&self) -> PoolStats {
        let kept = self.idle.lock().unwrap_or_else(|p| p.into_inner()).len();
        let idle = u32::try_from(self.pool.num_idle() + kept).unwrap_or(u32::MAX);
        PoolStats {
            max: self.pool.options().get_max_connections(),
            in_use: self.pool.size().saturating_sub(idle),
            idle,
            waiting: Some(self.waiting.load(Ordering::Relaxed)),
        }
    }

    /// Gives every kept connection back to the pool (before the pool closes, or before code
    /// that uses the pool itself needs all of its connections).
    pub(crate) fn drain(&self) {
        let kept = std::mem::take(&mut *self.idle.lock().unwrap_or_else(|p| p.into_inner()));
        drop(kept);
    }

    /// Gives every kept connection back and refuses new lanes (the store closes).
    pub(crate) fn close(&self) {
        self.lanes.close();
        self.drain();
    }

    fn keep(&self, conn: PoolConnection<DB>) {
        if self.pool.is_closed() || self.lanes.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < self.keep {
            idle.push(conn);
        }
    }
}

impl<DB: Database> Drop for Lanes<DB> {
    /// Kept connections go back to the pool, which needs a Tokio runtime to take them (it
    /// spawns a task); a store dropped outside one (a binding's handle collected on its host's
    /// thread) detaches them instead, closing each as it drops.
    fn drop(&mut self) {
        let kept = std::mem::take(self.idle.get_mut().unwrap_or_else(|p| p.into_inner()));
        if tokio::runtime::Handle::try_current().is_ok() {
            drop(kept);
        } else {
            for conn in kept {
                drop(conn.detach());
            }
        }
    }
}

/// One call waiting for a lane, counted while it waits (also when its wait is cancelled).
struct Waiting<'a>(&'a AtomicU32);

impl<'a> Waiting<'a> {
    fn enter(count: &'a AtomicU32) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        Waiting(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A connection lent to one call. [`Lane::release`] keeps it for the next call; dropped
/// without release (the call failed) it goes back to the pool, which tests it.
pub(crate) struct Lane<'a, DB: Database> {
    conn: Option<PoolConnection<DB>>,
    lanes: &'a Lanes<DB>,
    /// Given back after the connection (fields drop in order).
    _permit: SemaphorePermit<'a>,
}

impl<DB: Database> Lane<'_, DB> {
    /// The call is done and the connection sound: kept for the next call, no round trip.
    pub(crate) fn release(mut self) {
        if let Some(conn) = self.conn.take() {
            self.lanes.keep(conn);
        }
    }
}

impl<DB: Database> Deref for Lane<'_, DB> {
    type Target = DB::Connection;

    fn deref(&self) -> &DB::Connection {
        self.conn
            .as_deref()
            .expect("a lane holds its connection until dropped")
    }
}

impl<DB: Database> DerefMut for Lane<'_, DB> {
    fn deref_mut(&mut self) -> &mut DB::Connection {
        self.conn
            .as_deref_mut()
            .expect("a lane holds its connection until dropped")
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
    use sqlx::{Sqlite, SqlitePool};

    use super::Lanes;

    async fn pool(dir: &tempfile::TempDir) -> SqlitePool {
        let options = SqliteConnectOptions::new()
            .filename(dir.path().join("lanes.db"))
            .create_if_missing(true);
        SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await
            .unwrap()
    }

    /// Waits until the pool holds `idle` idle connections (a connection dropped goes back on a
    /// task of its own); whether it did within a second.
    async fn settles(pool: &SqlitePool, idle: usize) -> bool {
        for _ in 0..100 {
            if pool.num_idle() == idle {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }

    /// A released connection stays out of the pool (which would ping it) and is the next
    /// call's, as it was (a temporary table lives on its connection only); one dropped without
    /// release (a call that failed) goes back to the pool.
    #[tokio::test]
    async fn a_released_connection_is_kept_for_the_next_call() {
        let dir = tempfile::tempdir().unwrap();
        let pool = pool(&dir).await;
        let lanes: Lanes<Sqlite> = Lanes::new(pool.clone());
        let mut lane = lanes.acquire().await.unwrap();
        sqlx::raw_sql("CREATE TEMP TABLE mark (x INTEGER)")
            .execute(&mut *lane)
            .await
            .unwrap();
        lane.release();
        assert!(
            settles(&pool, 0).await,
            "the kept connection stays out of the pool"
        );
        assert_eq!(pool.size(), 1);
        assert_eq!(lanes.stats().idle, 1, "counted idle all the same");
        let mut lane = lanes.acquire().await.unwrap();
        let marks: i64 = sqlx::query_scalar("SELECT count(*) FROM temp.mark")
            .fetch_one(&mut *lane)
            .await
            .unwrap();
        assert_eq!(marks, 0, "the same connection, its table still there");
        drop(lane);
        assert!(
            settles(&pool, 1).await,
            "a connection not released goes back"
        );
        lanes.close();
        pool.close().await;
    }

    /// Lanes that keep nothing give every connection back to the pool.
    #[tokio::test]
    async fn passing_lanes_keep_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let pool = pool(&dir).await;
        let lanes: Lanes<Sqlite> = Lanes::passing(pool.clone());
        let lane = lanes.acquire().await.unwrap();
        lane.release();
        assert!(settles(&pool, 1).await, "back in the pool");
        lanes.close();
        pool.close().await;
    }
}
