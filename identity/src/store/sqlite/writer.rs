//! The store's writer: the queue this process's write transactions take turns in and, for a
//! database file, a connection of the writer's own that each of them runs on.
//!
//! The writes went through the pool the readers use. sqlx pings a pooled connection as it
//! comes back (a call to the connection's worker thread, on a task of its own), and SQLite
//! drops a connection's page cache whenever another connection wrote since its last
//! transaction: each batch of writes started on whichever connection was free, with a cold
//! cache, and read the pages of the indexes it searched and changed again from the files. The
//! writer's own connection is the only one that writes, so its cache stays warm between
//! batches, and it never goes back to a pool, so no ping follows a commit.
//!
//! The writer's connection does not checkpoint the log as it commits; `wal.rs` does, beside it.
//!
//! An in-memory database has one connection, which holds the data: its writes use it through
//! the pool as before.
//!
//! A transaction ended without a commit (an error, a write that must wait, a caller that stopped
//! waiting) is rolled back as the driver's own transactions are: the rollback is queued on the
//! connection's worker as the transaction drops, ahead of anything the next writer sends. A
//! connection that still counts a transaction open when the next writer takes it (SQLite
//! rolled a failed write back by itself, so the queued rollback failed) is closed and a fresh
//! one opened.
//!
//! A batch of identify's writes (`group.rs`) begins its transaction with the first statement of
//! a script, the one that marks the writer and reads the batch's first write, and may commit it
//! with the last statement of its last write's script ([`ScriptedTx`]): every call is a hop to
//! the connection's worker thread and back, and `BEGIN IMMEDIATE` and `COMMIT` on their own
//! took a third of a batch's time. The driver does not count such a transaction, so the next
//! writer rolls back one that ended without its commit before anything else (closing the
//! connection, whose close rolls back, if that fails).

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use sqlx::sqlite::{Sqlite, SqliteConnectOptions, SqliteRow, SqliteTransactionManager};
use sqlx::{ConnectOptions, Connection, SqlSafeStr, SqliteConnection};
use sqlx_core::transaction::TransactionManager;
use tokio::sync::{OwnedMappedMutexGuard, OwnedMutexGuard};

use crate::error::{Error, Result};

use super::script::Script;
use super::wal::Wal;
use super::{SqliteStore, is_busy};

/// What the writers of one store share: the queue (the mutex around it) and, for a file, the
/// connection they write on.
#[derive(Debug)]
pub(super) struct Writer {
    /// How to open the writer's connection; `None` for an in-memory database.
    options: Option<SqliteConnectOptions>,
    /// The writer's connection, once the first write opened it.
    conn: Option<SqliteConnection>,
    /// When to checkpoint the log (a database file's).
    pub(super) wal: Arc<Wal>,
    /// The store closed: no connection is opened again.
    closed: bool,
    /// A [`ScriptedTx`] ended without its commit: roll back before the connection serves again.
    rollback_due: Arc<AtomicBool>,
}

impl Writer {
    /// The writer of a database opened with `options`; `None` for an in-memory one (its writes
    /// use the pool's one connection).
    pub(super) fn new(options: Option<SqliteConnectOptions>) -> Self {
        Writer {
            // checkpoints run beside the writer, not in its commits (`wal.rs`)
            options: options.map(|o| o.pragma("wal_autocheckpoint", "0")),
            conn: None,
            wal: Arc::default(),
            closed: false,
            rollback_due: Arc::default(),
        }
    }

    /// Closes the writer's connection (the store closes).
    pub(super) async fn close(&mut self) {
        self.closed = true;
        if let Some(conn) = self.conn.take() {
            let _ = conn.close().await;
        }
    }
}

/// An open `BEGIN IMMEDIATE` transaction: SQLite's write lock and this process's turn.
pub(super) enum Tx {
    /// On a pooled connection (an in-memory database).
    Pooled {
        tx: sqlx::Transaction<'static, Sqlite>,
        turn: OwnedMutexGuard<Writer>,
    },
    /// On the writer's connection, which the turn holds.
    Own(OwnTx),
    /// On the writer's connection, begun by a script.
    Scripted(ScriptedTx),
}

/// A transaction on the writer's connection begun by the first statement of a script
/// ([`SqliteStore::begin_in_script`]) and committed by the last statement of another
/// ([`Tx::end`]) or by [`Tx::commit`]. The driver does not count it as open: should it end
/// without its commit, the next writer rolls it back first.
pub(super) struct ScriptedTx {
    conn: OwnedMappedMutexGuard<Writer, SqliteConnection>,
    rollback_due: Arc<AtomicBool>,
    /// Not known to be committed.
    open: bool,
}

impl Drop for ScriptedTx {
    fn drop(&mut self) {
        if self.open {
            self.rollback_due.store(true, Ordering::Release);
        }
    }
}

/// The writer's connection while a transaction runs on it.
pub(super) struct OwnTx(OwnedMappedMutexGuard<Writer, SqliteConnection>);

impl Drop for OwnTx {
    /// Not committed: rolled back (queued ahead of whatever the next writer sends).
    fn drop(&mut self) {
        if self.0.is_in_transaction() {
            SqliteTransactionManager::start_rollback(&mut self.0);
        }
    }
}

/// The queue's turn, held after a commit by work that must follow it before any other write.
pub(super) struct Turn {
    _pooled: Option<OwnedMutexGuard<Writer>>,
    _own: Option<OwnTx>,
    _scripted: Option<ScriptedTx>,
}

/// Statements a caller adds to a script.
pub(super) type Statements<'a> = Box<dyn Fn(&mut Script) + Send + Sync + 'a>;

impl Tx {
    /// Commits and keeps the turn; a busy database is an error the caller tells apart with
    /// [`is_busy`] (nothing was written).
    pub(super) async fn commit(self) -> sqlx::Result<Turn> {
        match self {
            Tx::Pooled { tx, turn } => {
                tx.commit().await?;
                Ok(Turn {
                    _pooled: Some(turn),
                    _own: None,
                    _scripted: None,
                })
            }
            Tx::Own(mut own) => {
                SqliteTransactionManager::commit(&mut own.0).await?;
                Ok(Turn {
                    _pooled: None,
                    _own: Some(own),
                    _scripted: None,
                })
            }
            Tx::Scripted(mut tx) => {
                if tx.open {
                    sqlx::raw_sql("COMMIT").execute(&mut *tx.conn).await?;
                    tx.open = false;
                }
                Ok(Turn {
                    _pooled: None,
                    _own: None,
                    _scripted: Some(tx),
                })
            }
        }
    }

    /// Statements that end this transaction at the end of a script, after those `last` adds:
    /// its `COMMIT` when a script began it (`None` otherwise: the driver commits it). Once such
    /// a script ran whole, [`Tx::ended`] says so and [`Tx::commit`] sends nothing more.
    pub(super) fn end<'a>(
        &self,
        last: impl Fn(&mut Script) + Send + Sync + 'a,
    ) -> Option<Statements<'a>> {
        let Tx::Scripted(_) = self else {
            return None;
        };
        Some(Box::new(move |script: &mut Script| {
            last(script);
            script.push("COMMIT", |_| {});
        }))
    }

    /// The script with the statements of [`Tx::end`] ran whole: committed.
    pub(super) fn ended(&mut self) {
        if let Tx::Scripted(tx) = self {
            tx.open = false;
        }
    }
}

impl Deref for Tx {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        match self {
            Tx::Pooled { tx, .. } => tx,
            Tx::Own(own) => &own.0,
            Tx::Scripted(tx) => &tx.conn,
        }
    }
}

impl DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        match self {
            Tx::Pooled { tx, .. } => tx,
            Tx::Own(own) => &mut own.0,
            Tx::Scripted(tx) => &mut tx.conn,
        }
    }
}

impl SqliteStore {
    /// Waits for this process's turn to write and starts `BEGIN IMMEDIATE`; `Ok(None)` when
    /// the database is busy (another process writes).
    pub(super) async fn begin_immediate(&self) -> Result<Option<Tx>> {
        let fail = |e| Error::store("starting a write", e);
        let turn = self.writer.clone().lock_owned().await;
        let Some(options) = turn.options.clone() else {
            return match self.pool.begin_with("BEGIN IMMEDIATE").await {
                Ok(tx) => Ok(Some(Tx::Pooled { tx, turn })),
                Err(e) if is_busy(&e) => Ok(None),
                Err(e) => Err(fail(e)),
            };
        };
        let wal = Arc::clone(&turn.wal);
        let mut own = OwnTx(writer_connection(turn, &options).await?);
        wal.before_write(&mut own.0, &self.pool).await;
        let begin =
            SqliteTransactionManager::begin(&mut own.0, Some("BEGIN IMMEDIATE".into_sql_str()));
        match begin.await {
            Ok(()) => Ok(Some(Tx::Own(own))),
            Err(e) if is_busy(&e) => Ok(None),
            Err(e) => Err(fail(e)),
        }
    }

    /// Waits for this process's turn to write, then begins a transaction and runs the
    /// statements `first` adds in one call (`BEGIN IMMEDIATE` leads the script on a database
    /// file's connection; an in-memory one begins as [`SqliteStore::begin_immediate`] does):
    /// the transaction and the script's rows; `Ok(None)` when the database is busy.
    pub(super) async fn begin_in_script(
        &self,
        first: impl FnOnce(&mut Script),
    ) -> Result<Option<(Tx, Vec<SqliteRow>)>> {
        let fail = |e| Error::store("starting a write", e);
        let turn = self.writer.clone().lock_owned().await;
        let Some(options) = turn.options.clone() else {
            drop(turn);
            let Some(mut tx) = self.begin_immediate().await? else {
                return Ok(None);
            };
            let mut script = Script::default();
            first(&mut script);
            let rows = script.run(&mut tx).await.map_err(fail)?;
            return Ok(Some((tx, rows)));
        };
        let wal = Arc::clone(&turn.wal);
        let rollback_due = Arc::clone(&turn.rollback_due);
        let mut conn = writer_connection(turn, &options).await?;
        wal.before_write(&mut conn, &self.pool).await;
        let mut tx = ScriptedTx {
            conn,
            rollback_due,
            open: true,
        };
        let mut script = Script::default();
        script.push("BEGIN IMMEDIATE", |_| {});
        first(&mut script);
        match script.run(&mut tx.conn).await {
            Ok(rows) => Ok(Some((Tx::Scripted(tx), rows))),
            Err(e) if is_busy(&e) => Ok(None),
            Err(e) => Err(fail(e)),
        }
    }

    /// Runs `statement` (such as `PRAGMA query_only = 1`) on the connection this store writes
    /// on, between two writes. The connections of [`SqliteStore::pool`] serve reads; a
    /// database file's writes run on a connection of their own, which a setting made through
    /// the pool does not reach. (An in-memory database's one connection is the pool's.)
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use identity::{ContactStore, IdentifyRequest, SqliteStore, TenantId};
    /// let dir = tempfile::tempdir().unwrap();
    /// let store = SqliteStore::open_path(dir.path().join("shop.db")).await?;
    /// store.migrate().await?;
    /// store.on_writer_connection("PRAGMA query_only = 1").await?;
    /// let req = IdentifyRequest::parse(Some("doc@x.io"), None)?;
    /// assert!(store.identify(&TenantId::default(), &req).await.is_err());
    /// store.on_writer_connection("PRAGMA query_only = 0").await?;
    /// store.identify(&TenantId::default(), &req).await?;
    /// # Ok::<(), identity::Error>(()) }).unwrap();
    /// ```
    ///
    /// # Errors
    /// [`Error::Store`] when the statement fails.
    pub async fn on_writer_connection(&self, statement: &str) -> Result<()> {
        let fail = |e| Error::store("running a statement on the writer's connection", e);
        let turn = self.writer.clone().lock_owned().await;
        let query = sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_owned()));
        let Some(options) = turn.options.clone() else {
            return query.execute(&self.pool).await.map(drop).map_err(fail);
        };
        let mut conn = writer_connection(turn, &options).await?;
        query.execute(&mut *conn).await.map(drop).map_err(fail)
    }
}

/// The writer's connection, held by `turn`: the one it has when that can write again, else
/// one opened with `options` (the writer's).
async fn writer_connection(
    mut turn: OwnedMutexGuard<Writer>,
    options: &SqliteConnectOptions,
) -> Result<OwnedMappedMutexGuard<Writer, SqliteConnection>> {
    if turn.closed {
        return Err(Error::store("starting a write", sqlx::Error::PoolClosed));
    }
    let rollback_due = turn.rollback_due.swap(false, Ordering::AcqRel);
    let conn = match turn.conn.take() {
        Some(conn) if rollback_due => rolled_back(conn).await,
        Some(conn) => reusable(conn).await,
        None => None,
    };
    let conn = match conn {
        Some(conn) => conn,
        None => options
            .connect()
            .await
            .map_err(|e| Error::store("opening the sqlite database", e))?,
    };
    Ok(OwnedMutexGuard::map(turn, |writer| {
        writer.conn.insert(conn)
    }))
}

/// `conn` once the [`ScriptedTx`] it may still have open is rolled back (SQLite refuses a
/// `ROLLBACK` with no transaction open, the answer when the script that began one failed
/// before it, or SQLite rolled back by itself); else closed (which rolls back), and `None`.
async fn rolled_back(mut conn: SqliteConnection) -> Option<SqliteConnection> {
    match sqlx::raw_sql("ROLLBACK").execute(&mut conn).await {
        Ok(_) => reusable(conn).await,
        Err(e) if e.to_string().contains("no transaction is active") => reusable(conn).await,
        Err(_) => {
            let _ = conn.close().await;
            None
        }
    }
}

/// `conn` if it can write again: out of any transaction once the rollback a dropped one queued
/// has run (a ping waits for it); else closed, and `None`.
async fn reusable(mut conn: SqliteConnection) -> Option<SqliteConnection> {
    if conn.is_in_transaction() && conn.ping().await.is_err() {
        return None; // its worker is gone
    }
    if conn.is_in_transaction() {
        let _ = conn.close().await;
        return None;
    }
    Some(conn)
}
