//! Importing history in one batch into an empty tenant: years of checkouts, replayed as
//! `identify` would have answered them in time order ([`crate::Identity::import`]), or an
//! existing deployment's contact table, whose rows keep their ids ([`crate::Identity::import_table`]).
//!
//! [`plan_import`] is the pure step for checkouts: checkouts and the tenant's settings in, the
//! rows to write (each with its primary) and an [`ImportReport`] out. A value's first checkout
//! decides which checkouts become rows (a checkout becomes a row exactly when it carries a
//! value no earlier checkout carried); a union-find over every checkout's email and phone,
//! including checkouts that insert nothing, gives the customers; the oldest row of each is its
//! primary. A table's rows are planned by `table_plan.rs` under their own ids. The stores load
//! the rows (COPY on PostgreSQL, one transaction on SQLite) and build the derived records at
//! the end, in the same transaction.

use std::collections::HashMap;

use time::OffsetDateTime;

use crate::contact::Contact;
use crate::derive::{Derived, derive_screened};
use crate::error::{Error, Field, Result};
use crate::request::IdentifyRequest;
use crate::request::IgnoredReason;
use crate::screen::{Localized, TenantState};

mod batch;
mod changes;
mod customers;
mod plan;
mod records;
mod report;
mod table;
mod table_plan;
mod table_rows;
mod when;
mod wire;

use batch::Batch;
pub use changes::{ChangedCustomer, CustomerChange, MovedRow, RowFate, TableOutcome};
pub(crate) use customers::ImportedCustomers;
pub use plan::{ImportPlan, PlannedRow};
pub use records::checkout_from_json;
pub use report::{ImportReport, REJECTED_SHOWN, Rejected};
pub(crate) use table::quoted;
pub use table::{Column, Preset, TableSource};
pub use table_rows::{TableRow, table_row_from_json};
pub use when::parse_time;

pub use crate::store::postgres::source::{TableRead, read_table};

/// How often (in checkouts planned) the plan gives back the memory of the checkouts it took.
const RELEASE_EVERY: usize = 1 << 20;

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

/// The derived records of imported rows (`contacts`: the rows of [`ImportPlan::finish`])
/// under the tenant's settings `state`.
///
/// # Errors
/// [`Error::Internal`] when the derivation would relink a row: the plan and [`crate::derive()`], two
/// computations of the same customers, disagree (a bug; nothing is written).
pub(crate) fn derive_imported(contacts: &[Contact], state: &TenantState) -> Result<Derived> {
    let derived = derive_screened(contacts, &|kind, value| state.blocked.blocks(kind, value));
    if !derived.relinks.is_empty() {
        return Err(Error::Internal {
            reason: "an import planned rows that their derivation relinks",
        });
    }
    Ok(derived)
}

/// The refusal of an import into a tenant that has `rows` contact rows (deleted ones included).
pub(crate) fn refuse_not_empty(tenant: &crate::TenantId, rows: u64) -> Error {
    Error::Conflict {
        reason: format!(
            "tenant {tenant} already has {}: import fills an empty tenant only (import into \
             another tenant or a new database)",
            count(rows, "contact row")
        ),
    }
}

/// The refusal of an import into a tenant with per-customer caps, which make the result depend
/// on every earlier answer.
pub(crate) fn refuse_limits(state: &TenantState) -> Result<()> {
    if state.limits != crate::limits::Limits::none() {
        return Err(Error::Conflict {
            reason: "the tenant has per-customer limits, under which an import would depend on \
                     every earlier answer: lift them, import, then set them again"
                .to_owned(),
        });
    }
    Ok(())
}

/// The refusal of a table import that keeps its ids (lowest `lowest`) into a store that has
/// given out ids up to `given`.
pub(crate) fn refuse_taken_ids(lowest: u64, given: i64) -> Error {
    Error::Conflict {
        reason: format!(
            "the table's ids start at {lowest}, but this store has given out ids up to {given} \
             (ids are unique across tenants): import into a new database to keep the table's \
             ids, or renumber its rows (the report then maps every id to its new one)"
        ),
    }
}

/// Plans an import of `batch` into an empty tenant whose settings are `state`.
///
/// # Errors
/// As [`plan_import`] and [`table_plan::plan_table`].
pub(crate) fn plan(
    batch: ImportBatch,
    state: &TenantState,
    options: ImportOptions,
) -> Result<ImportPlan> {
    match batch {
        ImportBatch::Checkouts(checkouts) => plan_import(checkouts, state, options.on_error),
        ImportBatch::Table(rows) => table_plan::plan_table(rows, state, options),
    }
}

/// Plans the import of `checkouts` into an empty tenant whose settings are `state`: each is
/// read as `identify` would read it (blocked and suppressed values left out, the phone in the
/// region's form), then the rows and customers are computed in one pass in time order (ties in
/// the order given).
///
/// # Errors
/// [`Error::Conflict`] when the tenant has per-customer caps (which make the result depend on
/// every earlier answer: lift them, import, set them again); [`Error::InvalidInput`] naming
/// [`Field::Checkouts`] when a checkout is refused under [`OnError::Abort`].
pub(crate) fn plan_import(
    mut checkouts: Vec<Checkout>,
    state: &TenantState,
    on_error: OnError,
) -> Result<ImportPlan> {
    refuse_limits(state)?;
    if !checkouts.is_sorted_by_key(|c| c.at) {
        checkouts.sort_by_key(|c| c.at); // stable: ties keep the order given
    }
    // taken from the end, so that the memory of the checkouts planned goes back as the plan
    // grows (at 10 million checkouts, both at once were most of the import's peak)
    checkouts.reverse();
    let mut report = ImportReport {
        checkouts: checkouts.len() as u64,
        ..ImportReport::default()
    };
    let mut ignored: HashMap<IgnoredReason, u64> = HashMap::new();
    let mut batch = Batch::default();
    while let Some(checkout) = checkouts.pop() {
        if checkouts.len().is_multiple_of(RELEASE_EVERY) {
            checkouts.shrink_to_fit();
        }
        let local = match Localized::noting(&checkout.request, state, Vec::new()) {
            Ok(local) => local,
            Err((Error::BlockedValue { .. }, left_out)) => {
                report.ignored_checkouts += 1;
                for i in left_out {
                    *ignored.entry(i.reason).or_default() += 1;
                }
                continue;
            }
            Err((e, _)) => {
                report.rejected += 1;
                if report.first_rejected.len() < REJECTED_SHOWN {
                    report.first_rejected.push(Rejected {
                        origin: checkout.origin,
                        reason: e.to_string(),
                    });
                }
                continue;
            }
        };
        for i in &local.ignored {
            *ignored.entry(i.reason).or_default() += 1;
        }
        // in UTC, as every store writes times (SQLite compares them as text)
        let at = checkout.at.to_offset(time::UtcOffset::UTC);
        batch.add(local.request, at);
    }
    if on_error == OnError::Abort && report.rejected > 0 {
        return Err(rejection(&report, Origins::Records));
    }
    report.ignored = [IgnoredReason::Blocked, IgnoredReason::Suppressed]
        .into_iter()
        .filter_map(|r| ignored.get(&r).map(|n| (r, *n)))
        .collect();
    Ok(batch.finish(report))
}

/// What the origins of an import's refusals are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origins {
    /// Records by index (or a file's lines, which the command line names itself).
    Records,
    /// A table's rows by id.
    TableIds,
}

/// The error of an import aborted on refused checkouts: the first ones and the count.
pub(crate) fn rejection(report: &ImportReport, origins: Origins) -> Error {
    let (field, what, thing) = match origins {
        Origins::Records => (Field::Checkouts, "record", "checkout"),
        Origins::TableIds => (Field::Table, "row", "row"),
    };
    let shown: Vec<String> = report
        .first_rejected
        .iter()
        .map(|r| format!("{what} {}: {}", r.origin, r.reason))
        .collect();
    let more = report.rejected - shown.len() as u64;
    let tail = if more > 0 {
        format!(" (and {more} more)")
    } else {
        String::new()
    };
    Error::invalid(
        field,
        format!(
            "{} refused, nothing imported: {}{tail}",
            count(report.rejected, thing),
            shown.join("; ")
        ),
    )
}

/// "1 checkout", "3 checkouts".
fn count(n: u64, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checkout(email: Option<&str>, phone: Option<&str>, at: i64) -> Checkout {
        let request = IdentifyRequest::parse(email, phone).unwrap();
        let at = OffsetDateTime::from_unix_timestamp(1_700_000_000 + at).unwrap();
        Checkout::new(request, at, u64::try_from(at.unix_timestamp()).unwrap())
    }

    fn plan(checkouts: Vec<Checkout>) -> ImportPlan {
        plan_import(checkouts, &TenantState::default(), OnError::Abort).unwrap()
    }

    #[test]
    fn a_checkout_that_carries_only_known_values_writes_no_row_but_still_merges() {
        let p = plan(vec![
            checkout(Some("a@x.io"), Some("1"), 0),
            checkout(Some("b@x.io"), Some("2"), 1),
            checkout(Some("a@x.io"), Some("2"), 2), // joins the two, inserts nothing
            checkout(Some("a@x.io"), None, 3),
        ]);
        assert_eq!(p.rows.len(), 2);
        assert_eq!(p.rows[1].primary, Some(0));
        assert_eq!((p.report.customers, p.report.merges), (1, 1));
        assert_eq!(p.report.largest_customer, 2);
    }

    #[test]
    fn checkouts_are_taken_in_time_order_with_ties_in_the_order_given() {
        let p = plan(vec![
            checkout(Some("late@x.io"), Some("1"), 9),
            checkout(Some("tie-1@x.io"), None, 5),
            checkout(Some("tie-2@x.io"), Some("1"), 5),
        ]);
        let emails: Vec<&str> = p
            .rows
            .iter()
            .map(|r| r.email.as_ref().unwrap().as_str())
            .collect();
        assert_eq!(emails, ["tie-1@x.io", "tie-2@x.io", "late@x.io"]);
        assert_eq!(p.rows[2].primary, Some(1), "the phone's first row leads");
    }

    #[test]
    fn blocked_values_are_left_out_and_counted() {
        let p = plan(vec![
            checkout(Some("a@x.io"), Some("0000000"), 0), // a default placeholder phone
            checkout(None, Some("0000000"), 1),           // nothing left
            checkout(Some("b@x.io"), Some("0000000"), 2),
        ]);
        assert_eq!(p.rows.len(), 2);
        assert!(p.rows.iter().all(|r| r.phone_number.is_none()));
        assert_eq!(p.report.customers, 2, "a blocked value joins nothing");
        assert_eq!(p.report.ignored_checkouts, 1);
        assert_eq!(p.report.ignored_for(IgnoredReason::Blocked), 3);
    }

    #[test]
    fn a_number_the_region_refuses_aborts_or_is_skipped() {
        let state = TenantState {
            region: Some(crate::PhoneRegion::parse("IN").unwrap()),
            ..TenantState::default()
        };
        let given = || {
            vec![
                checkout(Some("a@x.io"), Some("098765 43210"), 0),
                checkout(Some("b@x.io"), Some("12"), 1),
            ]
        };
        let err = plan_import(given(), &state, OnError::Abort).unwrap_err();
        assert!(
            matches!(&err, Error::InvalidInput { field: Field::Checkouts, reason }
                if reason.starts_with("1 checkout refused, nothing imported: record 1700000001: invalid phone number")),
            "{err}"
        );
        let p = plan_import(given(), &state, OnError::Skip).unwrap();
        assert_eq!((p.report.rows, p.report.rejected), (1, 1));
        assert_eq!(
            p.rows[0].phone_number.as_ref().unwrap().as_str(),
            "+919876543210"
        );
        assert_eq!(p.report.first_rejected[0].origin, 1_700_000_001);
    }

    #[test]
    fn a_tenant_with_limits_is_refused() {
        let state = TenantState {
            limits: crate::Limits::new(Some(3), None).unwrap(),
            ..TenantState::default()
        };
        let err = plan_import(Vec::new(), &state, OnError::Abort).unwrap_err();
        assert!(matches!(err, Error::Conflict { .. }), "{err}");
    }
}
