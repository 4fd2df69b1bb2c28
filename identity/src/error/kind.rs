//! The kinds of error: the one table of what a caller can do about an error, with the stable
//! code every binding and the HTTP service use for it.

use std::fmt;

/// What kind of [`Error`](super::Error) happened: what the caller can do about it.
///
/// Exhaustive on purpose (unlike [`Error`](super::Error)): the Python and Node bindings and
/// the HTTP service each match it without a catch-all arm, so a kind added here fails to
/// compile until every surface maps it. Its [`code`](ErrorKind::code) is the same everywhere
/// (Node upper-cases it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorKind {
    /// The caller's input broke the contract (or a URL or scheme was not one the library
    /// takes); nothing was read or written.
    InvalidInput,
    /// The call is valid but the data forbids it; nothing was changed.
    Conflict,
    /// Every value of the request is blocked; nothing was written.
    BlockedValue,
    /// The tenant has no such entity; nothing was changed.
    NotFound,
    /// The handle was closed.
    Closed,
    /// What was asked for existed once but is gone for good (a feed cursor older than the
    /// events retention kept); ask again from what is left.
    Expired,
    /// The database could not be reached, had no free connection in time, or refuses writes
    /// for now; retryable.
    Unavailable,
    /// Concurrent requests kept changing the same customers; retryable.
    Contention,
    /// The database (or the erasure log's file) answered with an error.
    Store,
    /// Stored rows or derived records break the data model (edited by hand).
    CorruptData,
    /// A bug in the library.
    Internal,
}

impl ErrorKind {
    /// Every kind, in declaration order: what the bindings', the service's and the documents'
    /// tables are checked against.
    pub const ALL: [ErrorKind; 11] = [
        ErrorKind::InvalidInput,
        ErrorKind::Conflict,
        ErrorKind::BlockedValue,
        ErrorKind::NotFound,
        ErrorKind::Closed,
        ErrorKind::Expired,
        ErrorKind::Unavailable,
        ErrorKind::Contention,
        ErrorKind::Store,
        ErrorKind::CorruptData,
        ErrorKind::Internal,
    ];

    /// The kind's stable code: `invalid_input`, `conflict`, `blocked_value`, `not_found`,
    /// `closed`, `expired`, `unavailable`, `contention`, `store`, `corrupt_data` or `internal`.
    ///
    /// ```
    /// use identity::ErrorKind;
    /// assert_eq!(ErrorKind::CorruptData.code(), "corrupt_data");
    /// ```
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::Conflict => "conflict",
            ErrorKind::BlockedValue => "blocked_value",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Closed => "closed",
            ErrorKind::Expired => "expired",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Contention => "contention",
            ErrorKind::Store => "store",
            ErrorKind::CorruptData => "corrupt_data",
            ErrorKind::Internal => "internal",
        }
    }

    /// Whether retrying the same call later may succeed.
    #[must_use]
    pub const fn is_transient(self) -> bool {
        matches!(self, ErrorKind::Unavailable | ErrorKind::Contention)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_code() {
        let codes: std::collections::BTreeSet<&str> =
            ErrorKind::ALL.iter().map(|k| k.code()).collect();
        assert_eq!(codes.len(), ErrorKind::ALL.len());
    }
}
