//! The one error type of the crate: every fallible function returns [`Result`].

mod driver;
mod field;
mod kind;
mod refusal;
mod tls;

pub use driver::DriverFault;
pub use field::Field;
pub use kind::ErrorKind;
pub use refusal::StorageRefusal;

/// The database driver's error, kept as an [`Error`]'s source without making the driver part of
/// this crate's API.
pub type DriverError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in this crate.
///
/// Messages are lowercase, name the field or entity, and never contain SQL text or credentials.
/// The underlying database error, when there is one, is kept as the [`std::error::Error::source`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The caller's input broke the contract; nothing was read or written.
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        /// Which field was wrong.
        field: Field,
        /// Why, in a few lowercase words.
        reason: String,
    },
    /// A database URL could not be understood; the message never repeats a password.
    #[error("invalid database url: {reason}")]
    InvalidUrl {
        /// Why, in a few lowercase words.
        reason: String,
    },
    /// A database URL names a scheme that no store handles.
    #[error(
        "unsupported database url scheme `{scheme}`: expected postgres://, postgresql://, sqlite: or memory:"
    )]
    UnsupportedScheme {
        /// The scheme that was given (the text before the first `:`).
        scheme: String,
    },
    /// The call is valid but the data as it stands forbids it (for example changing the phone
    /// region of a tenant that already has contacts); nothing was changed.
    #[error("conflict: {reason}")]
    Conflict {
        /// What stands in the way, in lowercase words.
        reason: String,
    },
    /// Every value of the request is on the tenant's blocked list ([`crate::BlockedValue`]), so
    /// nothing was left to link; nothing was read or written.
    #[error("blocked value: {}", blocked_fields(fields))]
    BlockedValue {
        /// The request's fields that were blocked ([`Field::Email`], [`Field::PhoneNumber`]).
        fields: Vec<Field>,
    },
    /// The tenant has no such entity (for example no visible contact row with the id asked
    /// about); nothing was read beyond that or written.
    #[error("{entity} {id} not found")]
    NotFound {
        /// What was looked for, in lowercase words (`contact`).
        entity: &'static str,
        /// Its id.
        id: i64,
    },
    /// A feed cursor points before the oldest event retention kept: the events after it are
    /// gone. Read on from `oldest` (or from the start) and reconcile what was missed.
    #[error("cursor expired: the events after it were pruned; the oldest cursor kept is {oldest}")]
    CursorExpired {
        /// The oldest cursor the feed still answers from.
        oldest: String,
    },
    /// The store was closed with `close()`; it accepts no more calls.
    #[error("store is closed")]
    Closed,
    /// The database could not be reached or had no free connection in time; retrying later may work.
    #[error("database unavailable while {operation}")]
    Unavailable {
        /// What the store was doing.
        operation: &'static str,
        /// The driver's error.
        #[source]
        source: DriverError,
    },
    /// The database answered with an error.
    #[error("database error while {operation}")]
    Store {
        /// What the store was doing.
        operation: &'static str,
        /// The driver's error.
        #[source]
        source: DriverError,
    },
    /// Concurrent requests kept changing the same customers; the request was retried and gave up.
    #[error(
        "gave up after {attempts} attempts because concurrent requests kept changing the same contacts"
    )]
    Contention {
        /// How many times the request was tried.
        attempts: u32,
    },
    /// A stored row breaks the data model (for example an unparseable email); nothing was written.
    #[error("corrupt contact row {id}: {reason}")]
    CorruptRow {
        /// The row's id.
        id: i64,
        /// What is wrong with it.
        reason: String,
    },
    /// The derived records (identifiers, customers) disagree with each other, which only a hand
    /// edit of those tables can cause; nothing was written. `rebuild` recomputes them.
    #[error("corrupt identity graph: {reason}; rebuild recomputes it")]
    CorruptGraph {
        /// What disagrees.
        reason: String,
    },
    /// The erasure log file ([`crate::ErasureLog`]) could not be opened, read or appended to;
    /// an erase that could not append its record was not committed.
    #[error("erasure log {path} {action}")]
    ErasureLog {
        /// The file.
        path: String,
        /// What failed, in lowercase words (`cannot be appended to`).
        action: &'static str,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A bug in this crate (an invariant it relies on did not hold); nothing was committed.
    #[error("internal error: {reason}")]
    Internal {
        /// What went wrong.
        reason: &'static str,
    },
}

/// "the email is blocked", "the email and the phone number are blocked".
fn blocked_fields(fields: &[Field]) -> String {
    let names: Vec<String> = fields.iter().map(|f| format!("the {f}")).collect();
    let verb = if names.len() > 1 { "are" } else { "is" };
    format!("{} {verb} blocked", names.join(" and "))
}

impl Error {
    /// Builds an [`Error::InvalidInput`].
    pub(crate) fn invalid(field: Field, reason: impl Into<String>) -> Self {
        Error::InvalidInput {
            field,
            reason: reason.into(),
        }
    }

    /// Wraps a driver error, telling "unreachable or exhausted" apart from "answered with an error".
    pub(crate) fn store(operation: &'static str, source: sqlx::Error) -> Self {
        Self::store_at(operation, source, None)
    }

    /// As [`Error::store`], naming `place` (such as `127.0.0.1:5432`) when a connection could
    /// not be made.
    pub(crate) fn store_at(
        operation: &'static str,
        source: sqlx::Error,
        place: Option<&str>,
    ) -> Self {
        let unavailable = match &source {
            sqlx::Error::PoolClosed => return Error::Closed,
            // unreachable, exhausted, or a connection that broke mid-conversation (a server going
            // away during the handshake shows up as a protocol error): retrying later may work
            sqlx::Error::PoolTimedOut
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::WorkerCrashed => true,
            // storage that refuses writes (full, read-only, failing); PostgreSQL's admin shutdown,
            // cannot connect now, too many connections, a statement timeout
            sqlx::Error::Database(db) => {
                driver::storage_refusal(db.as_ref()).is_some()
                    || db.code().is_some_and(|c| {
                        c.starts_with("57P")
                            || c.starts_with("08")
                            || matches!(c.as_ref(), "53300" | "57014")
                    })
            }
            _ => false,
        };
        let source: DriverError = Box::new(DriverFault::new(source, place));
        if unavailable {
            Error::Unavailable { operation, source }
        } else {
            Error::Store { operation, source }
        }
    }

    /// The error's kind: what the caller can do about it ([`ErrorKind`], the one table of
    /// kinds and codes every binding and the HTTP service map).
    ///
    /// ```
    /// let err = identity::Error::Contention { attempts: 3 };
    /// assert_eq!(err.kind(), identity::ErrorKind::Contention);
    /// ```
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidInput { .. }
            | Error::InvalidUrl { .. }
            | Error::UnsupportedScheme { .. } => ErrorKind::InvalidInput,
            Error::Conflict { .. } => ErrorKind::Conflict,
            Error::BlockedValue { .. } => ErrorKind::BlockedValue,
            Error::NotFound { .. } => ErrorKind::NotFound,
            Error::Closed => ErrorKind::Closed,
            Error::CursorExpired { .. } => ErrorKind::Expired,
            Error::Unavailable { .. } => ErrorKind::Unavailable,
            Error::Contention { .. } => ErrorKind::Contention,
            Error::Store { .. } | Error::ErasureLog { .. } => ErrorKind::Store,
            Error::CorruptRow { .. } | Error::CorruptGraph { .. } => ErrorKind::CorruptData,
            Error::Internal { .. } => ErrorKind::Internal,
        }
    }

    /// The stable code of the error's kind, the same in every binding and on the HTTP service
    /// ([`ErrorKind::code`]).
    #[must_use]
    pub fn code(&self) -> &'static str {
        self.kind().code()
    }

    /// The message followed by every cause, `: `-separated: what a log or a binding shows.
    /// Like the message itself it never contains credentials.
    ///
    /// ```
    /// let err = identity::Email::parse("nope").unwrap_err();
    /// assert_eq!(err.chain(), "invalid email: must contain exactly one '@'");
    /// ```
    #[must_use]
    pub fn chain(&self) -> String {
        let mut text = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            // a driver error is described once, in plain words: its own chain repeats itself
            if cause.is::<DriverFault>() {
                break;
            }
            source = cause.source();
        }
        text
    }

    /// True for [`Error::InvalidInput`]: the caller's mistake, not the store's.
    #[must_use]
    pub fn is_invalid_input(&self) -> bool {
        matches!(self, Error::InvalidInput { .. })
    }

    /// True when retrying the same call later may succeed (database unreachable, contention).
    #[must_use]
    pub fn is_transient(&self) -> bool {
        self.kind().is_transient()
    }

    /// Why the database's storage refused the call, when that is why it is
    /// [`Error::Unavailable`]: full, read-only or failing; `None` for every other error.
    ///
    /// ```
    /// let err = identity::Error::Contention { attempts: 3 };
    /// assert_eq!(err.storage_refusal(), None);
    /// ```
    #[must_use]
    pub fn storage_refusal(&self) -> Option<StorageRefusal> {
        match self {
            Error::Unavailable { source, .. } => source
                .downcast_ref::<DriverFault>()
                .and_then(DriverFault::storage_refusal),
            _ => None,
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broken_connections_are_unavailable_not_store_errors() {
        let io = || std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "eof");
        for source in [
            sqlx::Error::PoolTimedOut,
            sqlx::Error::Io(io()),
            sqlx::Error::Protocol("unexpected response from SSLRequest: 0x00".into()),
            sqlx::Error::WorkerCrashed,
        ] {
            let e = Error::store("reading contacts", source);
            assert!(
                matches!(e, Error::Unavailable { .. }) && e.is_transient(),
                "{e:?}"
            );
        }
        assert!(matches!(
            Error::store("x", sqlx::Error::PoolClosed),
            Error::Closed
        ));
        let other = Error::store("x", sqlx::Error::RowNotFound);
        assert!(matches!(other, Error::Store { .. }) && !other.is_transient());
        assert_eq!(
            other.chain(),
            "database error while x: no rows returned by a query that expected to return at least one row"
        );
    }
}
