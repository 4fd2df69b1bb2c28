//! What a store's steps return ([`Outcome`]): a driver error stays apart from a domain error,
//! so that the caller decides which driver errors to retry (store layer).

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

/// What a store's steps return.
pub(crate) type Outcome<T> = std::result::Result<T, Failure>;

impl Failure {
    /// The error to answer with once no retry is left: a driver error as a store error of
    /// `operation`.
    pub(crate) fn into_error(self, operation: &'static str) -> Error {
        match self {
            Failure::Sql(e) => Error::store(operation, e),
            Failure::Domain(e) => e,
        }
    }
}
