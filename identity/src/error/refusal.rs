//! Why storage refuses writes: the lasting kind of [`super::Error::Unavailable`].

use std::fmt;

/// Why the database's storage refuses writes ([`Error::storage_refusal`]): the kind of
/// [`Error::Unavailable`] that lasts until space is freed or the database is writable again,
/// not a busy moment. Reads may still work meanwhile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StorageRefusal {
    /// The disk holding the database is full (SQLite `SQLITE_FULL`, also past its
    /// `max_page_count`; PostgreSQL `disk_full`, 53100).
    Full,
    /// The database is read-only (SQLite `SQLITE_READONLY`: the file's permissions, a read-only
    /// mount; PostgreSQL `read_only_sql_transaction`, 25006: a standby, a failover).
    ReadOnly,
    /// The disk failed a read or a write (SQLite `SQLITE_IOERR`).
    IoError,
}

impl fmt::Display for StorageRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StorageRefusal::Full => "storage full",
            StorageRefusal::ReadOnly => "storage read-only",
            StorageRefusal::IoError => "storage i/o error",
        })
    }
}
