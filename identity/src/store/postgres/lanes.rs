//! Connections that stay with the store between calls. sqlx's pool pings every connection that
//! goes back to it (`PoolConnection`'s release runs a round trip before the connection may serve
//! again), so with the pool alone a returning customer cost its read and that ping. The store
//! instead keeps the connections its calls are done with here, still checked out of the pool,
//! and hands them to the next call as they are: a call's round trips are its own.
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

use sqlx::Postgres;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnection, PgPool};
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::stats::PoolStats;

/// The connections the store keeps between calls, over its pool.
#[derive(Debug)]
pub(crate) struct Lanes {
    pool: PgPool,
    /// One permit per lane that may be out at once: the pool's size.
    lanes: Semaphore,
    idle: Mutex<Vec<PoolConnection<Postgres>>>,
    /// The most kept at once: all but one of the pool's connections (one when the pool has one).
    keep: usize,
    /// Calls waiting for a lane now.
    waiting: AtomicU32,
}

impl Lanes {
    /// Lanes over `pool`.
    pub(crate) fn new(pool: PgPool) -> Self {
        let max = pool.options().get_max_connections() as usize;
        Lanes {
            pool,
            lanes: Semaphore::new(max),
            idle: Mutex::new(Vec::new()),
            keep: max.saturating_sub(1).max(1),
            waiting: AtomicU32::new(0),
        }
    }

    /// A connection: one kept here, else one from the pool. Waits for a lane up to the pool's
    /// acquire timeout ([`sqlx::Error::PoolTimedOut`]).
    pub(crate) async fn acquire(&self) -> sqlx::Result<Lane<'_>> {
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

    fn keep(&self, conn: PoolConnection<Postgres>) {
        if self.pool.is_closed() || self.lanes.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < self.keep {
            idle.push(conn);
        }
    }
}

impl Drop for Lanes {
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
pub(crate) struct Lane<'a> {
    conn: Option<PoolConnection<Postgres>>,
    lanes: &'a Lanes,
    /// Given back after the connection (fields drop in order).
    _permit: SemaphorePermit<'a>,
}

impl Lane<'_> {
    /// The call is done and the connection sound: kept for the next call, no round trip.
    pub(crate) fn release(mut self) {
        if let Some(conn) = self.conn.take() {
            self.lanes.keep(conn);
        }
    }
}

impl Deref for Lane<'_> {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        self.conn
            .as_deref()
            .expect("a lane holds its connection until dropped")
    }
}

impl DerefMut for Lane<'_> {
    fn deref_mut(&mut self) -> &mut PgConnection {
        self.conn
            .as_deref_mut()
            .expect("a lane holds its connection until dropped")
    }
}
