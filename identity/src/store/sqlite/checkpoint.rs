//! Clearing the write-ahead log after an erase, so that its values leave the database's files
//! and not only its tables: `secure_delete` zeroes what the erase deletes, but in WAL mode the
//! zeroed pages go to the log while the main file keeps the old ones, and the log keeps the
//! frames of earlier writes that carried the values, until a checkpoint copies the log into the
//! main file and truncates it.

use sqlx::{SqliteConnection, SqlitePool};

use crate::error::{DriverError, Error, Result};
use crate::store::backoff;

use super::{BUSY_TIMEOUT_MS, is_busy};

/// What the store was doing, for errors.
const OPERATION: &str = "clearing erased values from the database files";

/// How long one checkpoint waits in SQLite's busy handler, in milliseconds, for readers that
/// still use the log and for writers of other processes (the connection's `busy_timeout`
/// meanwhile; its usual 10 s afterwards).
const WAIT_MS: u32 = 4_000;

/// How long checkpoints are tried, in all: a checkpoint started while another connection runs
/// one (another process's erase, or a commit's automatic checkpoint) fails at once without
/// waiting in the busy handler, so the attempts are bounded by time, not counted.
const TRY_FOR: std::time::Duration = std::time::Duration::from_millis(2 * WAIT_MS as u64);

/// Copies every frame of the write-ahead log into the main file and truncates the log to zero
/// bytes (`PRAGMA wal_checkpoint(TRUNCATE)`); the caller holds this process's writers back.
///
/// # Errors
/// [`Error::Unavailable`] (retryable) when readers of an older snapshot or other processes'
/// writers keep the log in use for [`TRY_FOR`]: the values are gone from the tables but
/// may remain in the files until a checkpoint succeeds (erasing again retries it).
pub(super) async fn clear_log(pool: &SqlitePool, in_memory: bool) -> Result<()> {
    if in_memory {
        return Ok(());
    }
    let mut conn = pool
        .acquire()
        .await
        .map_err(|e| Error::store(OPERATION, e))?;
    let set_wait = async |conn: &mut SqliteConnection, ms: u32| {
        sqlx::query(sqlx::AssertSqlSafe(format!("PRAGMA busy_timeout = {ms}")))
            .execute(&mut *conn)
            .await
            .map(drop)
            .map_err(|e| Error::store(OPERATION, e))
    };
    set_wait(&mut conn, WAIT_MS).await?;
    let mut cleared = false;
    let deadline = std::time::Instant::now() + TRY_FOR;
    for attempt in 1.. {
        let done = sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(TRUNCATE)")
            .fetch_one(&mut *conn)
            .await;
        match done {
            Ok((0, _, _)) => {
                cleared = true;
                break;
            }
            Ok(_) => {}
            Err(e) if is_busy(&e) => {}
            Err(e) => return Err(Error::store(OPERATION, e)),
        }
        if std::time::Instant::now() >= deadline {
            break;
        }
        backoff(attempt).await;
    }
    set_wait(&mut conn, BUSY_TIMEOUT_MS).await?;
    if cleared {
        return Ok(());
    }
    let source: DriverError = format!(
        "the write-ahead log stayed in use by other connections for {} s of checkpoints (a long \
         read or another process): the erase committed, and erasing again clears the files \
         once they finish",
        TRY_FOR.as_secs()
    )
    .into();
    Err(Error::Unavailable {
        operation: OPERATION,
        source,
    })
}
