//! Importing history in one batch: years of checkouts, or an older deployment's table, into an
//! empty tenant, with the result that replaying them one by one through `identify` in time order
//! would give (the same rows with ids in time order, the same customers, the same primaries).
//!
//! [`plan_import`] is the pure step: checkouts and the tenant's settings in, the rows to write
//! (each with its primary) and an [`ImportReport`] out. A value's first checkout decides which
//! checkouts become rows (a checkout becomes a row exactly when it carries a value no earlier
//! checkout carried); a union-find over every checkout's email and phone, including checkouts
//! that insert nothing, gives the customers; the oldest row of each is its primary. The stores
//! load the rows (COPY on PostgreSQL, one transaction on SQLite) and build the derived records
//! at the end, in the same transaction.

use std::collections::HashMap;

use time::OffsetDateTime;

use crate::blocked::IgnoredReason;
use crate::contact::{Contact, ContactId, Email, Link, Phone};
use crate::derive::{Derived, derive_screened};
use crate::error::{Error, Field, Result};
use crate::request::IdentifyRequest;
use crate::store::{Localized, TenantState};

mod batch;
mod customers;
mod records;
mod table;
mod when;
mod wire;

use batch::Batch;
pub(crate) use customers::ImportedCustomers;
pub use records::checkout_from_json;
pub(crate) use table::quoted;
pub use table::{Column, Preset, TableSource};
pub use when::parse_time;

pub use crate::store::postgres::source::{TableRead, read_table};

/// How often (in checkouts planned) the plan gives back the memory of the checkouts it took.
const RELEASE_EVERY: usize = 1 << 20;

/// How many rejected checkouts an [`ImportReport`] lists (all are counted).
pub const REJECTED_SHOWN: usize = 10;

/// One historical checkout: what `identify` would have been asked, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkout {
    /// The checkout's email and phone number, parsed.
    pub request: IdentifyRequest,
    /// When it happened: the row it becomes is created at this time.
    pub at: OffsetDateTime,
    /// Where it came from, for messages (a line number, a row id): reports name it.
    pub origin: u64,
    /// For a row of an existing table: how that table linked it.
    pub table_link: TableLink,
}

impl Checkout {
    /// A checkout of `request` at `at`, named `origin` in reports.
    #[must_use]
    pub fn new(request: IdentifyRequest, at: OffsetDateTime, origin: u64) -> Self {
        Checkout {
            request,
            at,
            origin,
            table_link: TableLink::NotATable,
        }
    }

    /// The same checkout, a row that an existing table linked as `link` (its origin is the
    /// row's id there).
    #[must_use]
    pub fn linked(mut self, link: TableLink) -> Self {
        self.table_link = link;
        self
    }
}

/// How an existing deployment's table linked the row a checkout comes from. Rows it linked stay
/// one customer even when they share no value (the old service merged them on a request that
/// inserted no row); its mistakes (two primaries of one customer, a chain of links) are repaired
/// and counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum TableLink {
    /// The checkout is not a table's row (a file's record, a replayed request).
    #[default]
    NotATable,
    /// The table marked the row primary.
    Primary,
    /// The table linked the row to the row with this id (the [`Checkout::origin`] of its
    /// checkout).
    SecondaryOf(u64),
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

/// Settings of one import; the defaults abort on the first refused checkout and write.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImportOptions {
    /// What a refused checkout does (default [`OnError::Abort`]).
    pub on_error: OnError,
    /// Plan and report without writing anything (default `false`).
    pub dry_run: bool,
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
}

/// A checkout an import left out, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// The checkout's [`Checkout::origin`].
    pub origin: u64,
    /// Why, as the error's message (`invalid phone number: ...`).
    pub reason: String,
}

/// What an import did (or, with [`ImportOptions::dry_run`], would do). Serialized with serde it
/// has the wire shape the HTTP service answers (`largestCustomer`, `firstRejected`, ...).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImportReport {
    /// Checkouts given.
    pub checkouts: u64,
    /// Rows written: checkouts that carried a value no earlier checkout carried.
    pub rows: u64,
    /// Customers those rows form.
    pub customers: u64,
    /// Checkouts that joined two customers that had rows already (a merge online), and links of
    /// a table that joined customers sharing no value.
    pub merges: u64,
    /// Rows of the largest customer.
    pub largest_customer: u64,
    /// Values left out, by reason (blocked, suppressed), in the order of [`IgnoredReason`].
    pub ignored: Vec<(IgnoredReason, u64)>,
    /// Checkouts with nothing left once their ignored values were left out (online, a
    /// `blocked_value` error that writes nothing).
    pub ignored_checkouts: u64,
    /// Checkouts refused (left out under [`OnError::Skip`]): malformed records of
    /// [`crate::Identity::import_records`], and numbers the tenant's phone region refuses.
    pub rejected: u64,
    /// The first [`REJECTED_SHOWN`] of them: malformed records in the order given, then the
    /// region's refusals in time order.
    pub first_rejected: Vec<Rejected>,
    /// Rows a table marked primary although an older primary of the same customer exists
    /// (duplicate primaries, from races of the old service), now secondaries.
    pub repaired_primaries: u64,
    /// Rows a table linked to a secondary or to a row that is not there (chains), now linked to
    /// their customer's primary.
    pub repaired_chains: u64,
    /// The ids of the first and the last row written (ids follow time order).
    pub ids: Option<(ContactId, ContactId)>,
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

/// One row an import writes, in time order: its values, its primary (an index among the rows;
/// `None`: it is a primary) and when it was created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedRow {
    /// The row's email (screened: never a blocked value).
    pub email: Option<Email>,
    /// The row's phone number (in the tenant's region's form, when it has one).
    pub phone_number: Option<Phone>,
    /// The index of its customer's primary among the planned rows; `None` for a primary.
    pub primary: Option<usize>,
    /// The checkout's time.
    pub at: OffsetDateTime,
}

/// The pure import step's result: the rows to write, in time order, and the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportPlan {
    /// Every row to write; the ids given to them must ascend in this order.
    pub rows: Vec<PlannedRow>,
    /// What the import does (`written` is `false`: the store sets it).
    pub report: ImportReport,
}

impl ImportPlan {
    /// The planned rows as contact rows, given their ids (ascending, one per row); the rows'
    /// values move into them (an import of millions holds them once).
    ///
    /// # Errors
    /// [`Error::Internal`] when `ids` has the wrong length.
    pub fn into_contacts(self, ids: &[ContactId]) -> Result<Vec<Contact>> {
        if ids.len() != self.rows.len() {
            return Err(Error::Internal {
                reason: "an import was given ids for another number of rows",
            });
        }
        Ok(self
            .rows
            .into_iter()
            .zip(ids)
            .map(|(row, id)| Contact {
                id: *id,
                email: row.email,
                phone_number: row.phone_number,
                link: row
                    .primary
                    .map_or(Link::Primary, |p| Link::SecondaryOf(ids[p])),
                created_at: row.at,
                updated_at: row.at,
            })
            .collect())
    }
}

/// The derived records of imported rows (`contacts`: [`ImportPlan::into_contacts`]) under the
/// tenant's settings `state`.
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
    if state.limits != crate::limits::Limits::none() {
        return Err(Error::Conflict {
            reason: "the tenant has per-customer limits, under which an import would depend on \
                     every earlier answer: lift them, import, then set them again"
                .to_owned(),
        });
    }
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
    // a table's rows: where each landed, and how the table linked it
    let mut table: HashMap<u64, (Option<usize>, TableLink)> = HashMap::new();
    while let Some(checkout) = checkouts.pop() {
        if checkouts.len().is_multiple_of(RELEASE_EVERY) {
            checkouts.shrink_to_fit();
        }
        let table_row = checkout.table_link != TableLink::NotATable;
        if table_row {
            table.insert(checkout.origin, (None, checkout.table_link));
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
        let node = batch.add(local.request, at);
        if table_row {
            table.insert(checkout.origin, (Some(node), checkout.table_link));
        }
    }
    if on_error == OnError::Abort && report.rejected > 0 {
        return Err(rejection(&report));
    }
    let primaries = batch.keep_table_links(&table, &mut report);
    report.ignored = [IgnoredReason::Blocked, IgnoredReason::Suppressed]
        .into_iter()
        .filter_map(|r| ignored.get(&r).map(|n| (r, *n)))
        .collect();
    Ok(batch.finish(report, &primaries))
}

/// The error of an import aborted on refused checkouts: the first ones and the count.
fn rejection(report: &ImportReport) -> Error {
    let shown: Vec<String> = report
        .first_rejected
        .iter()
        .map(|r| format!("record {}: {}", r.origin, r.reason))
        .collect();
    let more = report.rejected - shown.len() as u64;
    let tail = if more > 0 {
        format!(" (and {more} more)")
    } else {
        String::new()
    };
    Error::invalid(
        Field::Checkouts,
        format!(
            "{} refused, nothing imported: {}{tail}",
            count(report.rejected, "checkout"),
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

impl crate::Identity {
    /// Imports historical checkouts into the handle's tenant, which must have no contact rows:
    /// the rows, customers and primaries that replaying them one by one through
    /// [`crate::Identity::identify`] in time order would give (ties in the order given), each
    /// row created at its checkout's time, written in one transaction with the derived records
    /// and a history event (`existing`) per row. Blocked and suppressed values are left out and
    /// phone numbers read in the tenant's phone region, as online.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use identity::import::{Checkout, ImportOptions};
    /// use identity::IdentifyRequest;
    /// use time::OffsetDateTime;
    ///
    /// let identity = identity::connect("sqlite::memory:").await?;
    /// let at = |unix| OffsetDateTime::from_unix_timestamp(unix).unwrap();
    /// let checkouts = vec![
    ///     Checkout::new(IdentifyRequest::parse(Some("doc@hillvalley.edu"), Some("5550101"))?,
    ///                   at(1_551_434_400), 1),
    ///     Checkout::new(IdentifyRequest::parse(Some("emmett@hillvalley.edu"), Some("5550101"))?,
    ///                   at(1_593_887_400), 2),
    /// ];
    /// let report = identity.import(checkouts, ImportOptions::default()).await?;
    /// assert_eq!((report.rows, report.customers), (2, 1));
    /// let c = identity.lookup(Some("emmett@hillvalley.edu"), None).await?.unwrap();
    /// assert_eq!(c.emails.len(), 2);
    /// assert!(identity.verify().await?.is_clean());
    /// # Ok::<(), identity::Error>(()) }).unwrap();
    /// ```
    ///
    /// # Errors
    /// [`Error::Conflict`] when the tenant has rows or per-customer limits;
    /// [`Error::InvalidInput`] naming [`Field::Checkouts`] when the tenant's phone region refuses
    /// a checkout under [`OnError::Abort`]; otherwise as [`crate::ContactStore::identify`].
    /// Nothing is written when an error is returned.
    pub async fn import(
        &self,
        checkouts: Vec<Checkout>,
        options: ImportOptions,
    ) -> Result<ImportReport> {
        self.store()
            .import(self.tenant_id(), checkouts, options)
            .await
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

    #[test]
    fn a_tables_links_join_customers_and_its_damage_is_counted() {
        let row = |id: u64, e: &str, p: &str, link: TableLink| {
            let mut c = checkout(Some(e), Some(p), id as i64).linked(link);
            c.origin = id; // a table row's origin is its id
            c
        };
        let p = plan(vec![
            row(1, "a@x.io", "1", TableLink::Primary),
            row(2, "a@x.io", "1", TableLink::Primary), // a duplicate primary, no row
            row(3, "b@x.io", "2", TableLink::SecondaryOf(1)), // shares nothing: kept by the link
            row(4, "c@x.io", "3", TableLink::SecondaryOf(3)), // a chain
            row(5, "d@x.io", "4", TableLink::SecondaryOf(99)), // to a row that is not there
        ]);
        assert_eq!((p.report.rows, p.report.customers), (4, 2));
        assert_eq!(p.report.repaired_primaries, 1);
        assert_eq!(p.report.repaired_chains, 2);
        assert_eq!(p.rows[2].primary, Some(0));
        assert_eq!(p.rows[3].primary, None, "a link to nothing joins nothing");
    }

    #[test]
    fn planned_rows_become_contacts_linked_to_their_primary() {
        let p = plan(vec![
            checkout(Some("a@x.io"), Some("1"), 0),
            checkout(Some("b@x.io"), Some("1"), 1),
        ]);
        let ids = [ContactId::new(7), ContactId::new(9)];
        assert!(p.clone().into_contacts(&ids[..1]).is_err());
        let rows = p.into_contacts(&ids).unwrap();
        assert_eq!(rows[1].link, Link::SecondaryOf(ContactId::new(7)));
    }
}
