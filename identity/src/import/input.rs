//! What an import is given (model layer): historical checkouts ([`Checkout`]) or a table's rows,
//! as one [`ImportBatch`], and the settings of the import ([`ImportOptions`], [`OnError`]).

use time::OffsetDateTime;

use crate::error::{Error, Field, Result};
use crate::request::IdentifyRequest;

use super::table_rows::TableRow;

/// One historical checkout: what `identify` would have been asked, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkout {
    /// The checkout's email and phone number, parsed.
    pub request: IdentifyRequest,
    /// When it happened: the row it becomes is created at this time.
    pub at: OffsetDateTime,
    /// Where it came from, for messages (a line number, a record's index): reports name it.
    pub origin: u64,
}

impl Checkout {
    /// A checkout of `request` at `at`, named `origin` in reports.
    #[must_use]
    pub fn new(request: IdentifyRequest, at: OffsetDateTime, origin: u64) -> Self {
        Checkout {
            request,
            at,
            origin,
        }
    }
}

/// What an import does with a checkout the tenant's settings refuse (a phone number that is
/// not valid in its phone region).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum OnError {
    /// Write nothing and fail with [`Error::InvalidInput`] naming the first refused checkouts.
    #[default]
    Abort,
    /// Leave refused checkouts out, count and list them in the report, import the rest.
    Skip,
}

impl OnError {
    /// Reads the wire spelling: `abort` or `skip`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming [`Field::OnError`] for anything else.
    pub fn parse(text: &str) -> Result<Self> {
        match text {
            "abort" => Ok(OnError::Abort),
            "skip" => Ok(OnError::Skip),
            other => Err(Error::invalid(
                Field::OnError,
                format!("must be \"abort\" or \"skip\", not {other:?}"),
            )),
        }
    }

    /// The wire spelling: `abort` or `skip`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            OnError::Abort => "abort",
            OnError::Skip => "skip",
        }
    }
}

/// Settings of one import; the defaults abort on the first refused checkout, keep a table's
/// ids, and write.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImportOptions {
    /// What a refused checkout does (default [`OnError::Abort`]).
    pub on_error: OnError,
    /// Plan and report without writing anything (default `false`).
    pub dry_run: bool,
    /// For a table import: number its rows anew (from the store's next id, in the table's id
    /// order) instead of keeping their ids, which needs a store that has given out no id as
    /// high as the table's lowest (default `false`). The report then lists every row's new id
    /// ([`TableOutcome::moved_rows`]).
    pub renumber: bool,
}

impl ImportOptions {
    /// Sets [`ImportOptions::on_error`].
    #[must_use]
    pub fn on_error(mut self, on_error: OnError) -> Self {
        self.on_error = on_error;
        self
    }

    /// Sets [`ImportOptions::dry_run`].
    #[must_use]
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// Sets [`ImportOptions::renumber`].
    #[must_use]
    pub fn renumber(mut self, renumber: bool) -> Self {
        self.renumber = renumber;
        self
    }
}

/// What an import loads.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ImportBatch {
    /// Checkouts, replayed as `identify` would have answered them in time order; rows get
    /// the store's next ids.
    Checkouts(Vec<Checkout>),
    /// An existing deployment's table: its rows keep their ids (unless
    /// [`ImportOptions::renumber`]).
    Table(Vec<TableRow>),
}
