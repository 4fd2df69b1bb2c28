//! What an import did ([`ImportReport`]) and what it left out ([`Rejected`]). The wire shape is
//! in `wire.rs`.

use crate::contact::ContactId;
use crate::request::IgnoredReason;

use super::changes::TableOutcome;

/// How many rejected checkouts an [`ImportReport`] lists (all are counted).
pub const REJECTED_SHOWN: usize = 10;

/// A checkout (or a table's row) an import left out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// The checkout's [`super::Checkout::origin`] (a record's index, a file's line), or the
    /// table row's id.
    pub origin: u64,
    /// Why, as the error's message (`invalid phone number: ...`).
    pub reason: String,
}

/// What an import did (or, with [`super::ImportOptions::dry_run`], would do). Serialized with
/// serde it has the wire shape the HTTP service answers (`largestCustomer`, `firstRejected`,
/// ...).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImportReport {
    /// Checkouts given (for a table: its visible rows).
    pub checkouts: u64,
    /// Rows written: checkouts that carried a value no earlier checkout carried (for a table:
    /// rows carrying a value no row with a lower id carries).
    pub rows: u64,
    /// Customers those rows form.
    pub customers: u64,
    /// Checkouts that joined two customers that had rows already (a merge online); for a
    /// table, its customers merged into older ones.
    pub merges: u64,
    /// Rows of the largest customer.
    pub largest_customer: u64,
    /// Values left out, by reason (blocked, suppressed), in the order of [`IgnoredReason`].
    pub ignored: Vec<(IgnoredReason, u64)>,
    /// Checkouts with nothing left once their ignored values were left out (online, a
    /// `blocked_value` error that writes nothing).
    pub ignored_checkouts: u64,
    /// Checkouts that wrote no row because every value they carry was known already (they
    /// still join customers); for a table, rows folded into their customer.
    pub folded: u64,
    /// Checkouts refused (left out under [`super::OnError::Skip`]): malformed records of
    /// [`crate::Identity::import_records`], and numbers the tenant's phone region refuses.
    pub rejected: u64,
    /// The first [`REJECTED_SHOWN`] of them: malformed records in the order given, then the
    /// region's refusals in time order (for a table: by id).
    pub first_rejected: Vec<Rejected>,
    /// The ids of the first and the last row written.
    pub ids: Option<(ContactId, ContactId)>,
    /// For a table import ([`crate::Identity::import_table`]): deleted rows, repairs, and
    /// every table id whose meaning changed.
    pub table: Option<TableOutcome>,
    /// Whether anything was written (`false` for a dry run).
    pub written: bool,
}

impl ImportReport {
    /// How many values `reason` left out.
    #[must_use]
    pub fn ignored_for(&self, reason: IgnoredReason) -> u64 {
        self.ignored
            .iter()
            .find(|(r, _)| *r == reason)
            .map_or(0, |(_, n)| *n)
    }
}
