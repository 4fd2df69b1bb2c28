//! The database driver's errors in plain words: what [`super::Error::chain`] shows for an
//! unavailable or failing database, once, without the driver's own wording ("error returned from
//! database: ... at line 948") or debug text, and with the fix when there is an obvious one.

use std::fmt;

use super::refusal::StorageRefusal;

/// A driver error as a cause of [`super::Error::Unavailable`] or [`super::Error::Store`]: its
/// message is the plain description; the driver's error stays reachable as its source.
#[derive(Debug)]
pub struct DriverFault {
    text: String,
    refusal: Option<StorageRefusal>,
    inner: sqlx::Error,
}

impl DriverFault {
    /// Describes `inner`; `place` (such as `127.0.0.1:5432`) is named when a connection could
    /// not be made.
    pub(crate) fn new(inner: sqlx::Error, place: Option<&str>) -> Self {
        let refusal = match &inner {
            sqlx::Error::Database(db) => storage_refusal(db.as_ref()),
            _ => None,
        };
        DriverFault {
            text: describe(&inner, place),
            refusal,
            inner,
        }
    }

    /// Why the storage refused, when that is what the driver reported.
    #[must_use]
    pub fn storage_refusal(&self) -> Option<StorageRefusal> {
        self.refusal
    }
}

/// The storage refusal a database's error reports, if it is one: SQLite's full, read-only and
/// I/O error result codes (any extended code: the primary one is the low byte), PostgreSQL's
/// `disk_full` (53100) and `read_only_sql_transaction` (25006).
pub(super) fn storage_refusal(db: &dyn sqlx::error::DatabaseError) -> Option<StorageRefusal> {
    let code = db.code()?;
    if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        return match code.parse::<i32>().ok()? & 0xff {
            13 => Some(StorageRefusal::Full),
            8 => Some(StorageRefusal::ReadOnly),
            10 => Some(StorageRefusal::IoError),
            _ => None,
        };
    }
    match code.as_ref() {
        "53100" => Some(StorageRefusal::Full),
        "25006" => Some(StorageRefusal::ReadOnly),
        _ => None,
    }
}

impl fmt::Display for DriverFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::error::Error for DriverFault {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.inner)
    }
}

/// The plain description of a driver error.
fn describe(e: &sqlx::Error, place: Option<&str>) -> String {
    let at = place.map(|p| format!(" at {p}")).unwrap_or_default();
    if let Some(refusal) = super::tls::certificate_refusal(e, &at) {
        return refusal;
    }
    match e {
        sqlx::Error::Io(io) => match io.kind() {
            std::io::ErrorKind::ConnectionRefused => {
                format!("connection refused{at} (is the server running?)")
            }
            std::io::ErrorKind::TimedOut => format!("connecting{at} timed out"),
            std::io::ErrorKind::NotFound => format!("no such file or socket{at}"),
            std::io::ErrorKind::PermissionDenied => format!("permission denied{at}"),
            _ => format!("{}{at}", first_words(&io.to_string())),
        },
        sqlx::Error::PoolTimedOut => {
            "no connection became free in time (all are busy, or the server does not answer)"
                .to_owned()
        }
        sqlx::Error::PoolClosed => "the pool is closed".to_owned(),
        sqlx::Error::Tls(t) => format!("tls failed{at}: {t}"),
        sqlx::Error::Database(db) => match storage_refusal(db.as_ref()) {
            Some(refusal) if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() => {
                sqlite_storage(db.message(), refusal)
            }
            _ => database(db.message(), db.code().as_deref()),
        },
        sqlx::Error::Protocol(p) => format!("the server broke the protocol{at}: {p}"),
        sqlx::Error::WorkerCrashed => "the database worker thread crashed".to_owned(),
        other => first_words(&other.to_string()),
    }
}

/// A database's own error: its message (no position), with the fix for the common ones.
fn database(message: &str, code: Option<&str>) -> String {
    match code {
        // invalid_catalog_name: the database named in the URL
        Some("3D000") => match quoted_name(message) {
            Some(name) => format!("{message}: create it with createdb {name}"),
            None => message.to_owned(),
        },
        Some("28P01" | "28000") => format!("{message}: check the user and password in the url"),
        // read_only_sql_transaction: a standby, a failover in progress, or a database set
        // read-only (default_transaction_read_only)
        Some("25006") => format!(
            "{message}: the database is read-only for now (a replica, a failover in progress, or \
             default_transaction_read_only), so writes are unavailable"
        ),
        // disk_full: the server's disk (or the tablespace's) has no room left
        Some("53100") => format!(
            "{message}: the database server's disk is full, so writes are unavailable until \
             space is freed"
        ),
        // query_canceled: statement_timeout (or a cancel from outside)
        Some("57014") => format!("{message}: the database's statement_timeout ended it"),
        // PgBouncer refusing a startup setting: a pooler, which the url does not say
        _ if message.starts_with("unsupported startup parameter") => format!(
            "{message}: the url names a connection pooler (PgBouncer); add pgbouncer=true to it"
        ),
        _ => message.to_owned(),
    }
}

/// SQLite's message for storage that refuses writes, with what it means.
fn sqlite_storage(message: &str, refusal: StorageRefusal) -> String {
    let meaning = match refusal {
        StorageRefusal::Full => {
            "the disk holding the database is full, so writes are unavailable until space is freed"
        }
        StorageRefusal::ReadOnly => {
            "the database file cannot be written (its permissions, a read-only mount), so writes \
             are unavailable"
        }
        StorageRefusal::IoError => "the disk failed a read or a write",
    };
    format!("{message}: {meaning}")
}

/// `x` in `database "x" does not exist`.
fn quoted_name(message: &str) -> Option<&str> {
    let start = message.find('"')? + 1;
    let end = start + message[start..].find('"')?;
    Some(&message[start..end])
}

/// A driver message without its `(os error N)` tail, lowercase first.
fn first_words(text: &str) -> String {
    let text = text.split(" (os error").next().unwrap_or(text);
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_say_what_happened_where() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let fault = DriverFault::new(sqlx::Error::Io(refused), Some("127.0.0.1:5999"));
        assert_eq!(
            fault.to_string(),
            "connection refused at 127.0.0.1:5999 (is the server running?)"
        );
        let other = std::io::Error::other("Broken pipe (os error 32)");
        assert_eq!(
            DriverFault::new(sqlx::Error::Io(other), None).to_string(),
            "broken pipe"
        );
    }

    #[test]
    fn a_poolers_refusal_of_a_startup_setting_says_to_add_the_flag() {
        assert_eq!(
            database(
                "unsupported startup parameter: extra_float_digits",
                Some("08P01")
            ),
            "unsupported startup parameter: extra_float_digits: the url names a connection \
             pooler (PgBouncer); add pgbouncer=true to it"
        );
    }

    #[test]
    fn a_missing_database_names_the_command_that_creates_it() {
        assert_eq!(
            database("database \"shop\" does not exist", Some("3D000")),
            "database \"shop\" does not exist: create it with createdb shop"
        );
        assert_eq!(
            database("deadlock detected", Some("40P01")),
            "deadlock detected"
        );
    }

    #[test]
    fn read_only_databases_and_statement_timeouts_say_which() {
        let read_only = database(
            "cannot execute INSERT in a read-only transaction",
            Some("25006"),
        );
        assert!(
            read_only.contains("the database is read-only for now"),
            "{read_only}"
        );
        let timeout = database(
            "canceling statement due to statement timeout",
            Some("57014"),
        );
        assert!(timeout.ends_with("statement_timeout ended it"), "{timeout}");
        let full = database("could not extend file", Some("53100"));
        assert!(
            full.contains("the database server's disk is full"),
            "{full}"
        );
    }

    #[test]
    fn sqlite_storage_refusals_say_what_they_mean() {
        let full = sqlite_storage("database or disk is full", StorageRefusal::Full);
        assert_eq!(
            full,
            "database or disk is full: the disk holding the database is full, so writes are \
             unavailable until space is freed"
        );
        let read_only = sqlite_storage(
            "attempt to write a readonly database",
            StorageRefusal::ReadOnly,
        );
        assert!(read_only.contains("cannot be written"), "{read_only}");
    }
}
