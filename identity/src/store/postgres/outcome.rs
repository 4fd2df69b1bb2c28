//! What the PostgreSQL store's steps return ([`Outcome`]): a driver error stays apart from a
//! domain error, so that the caller decides which driver errors to retry (store layer).

use crate::error::Error;

/// A failure inside the store: from the driver (maybe retryable: the caller decides) or from the
/// domain (final).
pub(crate) enum Failure {
    Sql(sqlx::Error),
    Domain(Error),
}

impl From<sqlx::Error> for Failure {
    fn from(e: sqlx::Error) -> Self {
        Failure::Sql(e)
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Domain(e)
    }
}

/// What the PostgreSQL store's steps return.
pub(crate) type Outcome<T> = std::result::Result<T, Failure>;
