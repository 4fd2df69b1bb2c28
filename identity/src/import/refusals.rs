//! What an import refuses, and how it says so (rules layer): a tenant with rows or caps, ids a
//! store gave out already, and refused checkouts or rows, named by their origin.

use crate::error::{Error, Field, Result};
use crate::screen::TenantState;

use super::report::ImportReport;

/// The refusal of an import into a tenant that has `rows` contact rows (deleted ones included).
pub(crate) fn refuse_not_empty(tenant: &crate::tenant::TenantId, rows: u64) -> Error {
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

/// The refusal, on Citus, of a table import that keeps its ids when its highest, `highest`, is
/// in the range the cluster's workers draw new ids from (2^48 and up).
pub(crate) fn refuse_worker_ids(highest: u64, workers_from: u64) -> Error {
    Error::Conflict {
        reason: format!(
            "the table's ids go up to {highest}, but on Citus the workers draw new ids from \
             {workers_from} up: renumber its rows (the report then maps every id to its new one)"
        ),
    }
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
