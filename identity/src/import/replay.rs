//! The pure step of a checkout import (rules layer, [`plan_import`]): checkouts replayed as
//! `identify` would have answered them in time order.

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::request::IgnoredReason;
use crate::screen::{Localized, TenantState};

use super::batch::Batch;
use super::input::{Checkout, OnError};
use super::plan::ImportPlan;
use super::refusals::{Origins, refuse_limits, rejection};
use super::report::{ImportReport, REJECTED_SHOWN, Rejected};

/// How often (in checkouts planned) the plan gives back the memory of the checkouts it took.
const RELEASE_EVERY: usize = 1 << 20;

/// Plans the import of `checkouts` into an empty tenant whose settings are `state`: each is
/// read as `identify` would read it (blocked and suppressed values left out, the phone in the
/// region's form), then the rows and customers are computed in one pass in time order (ties in
/// the order given).
///
/// # Errors
/// [`Error::Conflict`] when the tenant has per-customer caps (which make the result depend on
/// every earlier answer: lift them, import, set them again); [`Error::InvalidInput`] naming
/// [`Field::Checkouts`](crate::Field::Checkouts) when a checkout is refused under [`OnError::Abort`].
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

#[cfg(test)]
mod tests {
    use time::OffsetDateTime;

    use super::*;
    use crate::error::Field;
    use crate::request::IdentifyRequest;

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
            region: Some(crate::region::PhoneRegion::parse("IN").unwrap()),
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
            limits: crate::limits::Limits::new(Some(3), None).unwrap(),
            ..TenantState::default()
        };
        let err = plan_import(Vec::new(), &state, OnError::Abort).unwrap_err();
        assert!(matches!(err, Error::Conflict { .. }), "{err}");
    }
}
