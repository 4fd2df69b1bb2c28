//! The customers of imported rows, read off the rows instead of derived again: the plan already
//! linked every secondary to its customer's primary, so grouping the rows by that link (a
//! counting sort, a few bytes per row) gives each customer's members in id order, and the
//! record of each is [`crate::derive`]'s own `record_of` over them. (A table's rows keep their
//! ids, so a customer's primary, its oldest row, need not have its lowest id.) An import of millions of
//! rows builds one record at a time from these, and writes it, instead of holding them all. The
//! stores check the whole against [`crate::derive()`] with [`derive_imported`].

use crate::contact::{Contact, Link};
use crate::customer::CustomerRecord;
use crate::derive::{Derived, derive_screened, record_of};
use crate::error::{Error, Result};
use crate::screen::TenantState;

/// Imported rows grouped by customer, customers in order of their primary's id.
#[derive(Debug)]
pub(crate) struct ImportedCustomers {
    /// Row indexes, customer after customer, each customer's in id order.
    members: Vec<u32>,
    /// Where each customer's members start in `members` (one more entry: the end).
    starts: Vec<u32>,
    /// Each customer's primary, as a row index.
    primaries: Vec<u32>,
}

impl ImportedCustomers {
    /// Groups `rows` (the rows of [`super::ImportPlan::finish`]: ascending ids, each secondary
    /// linked to a primary among them).
    ///
    /// # Errors
    /// [`Error::Internal`] when a row links to a row that is not a primary among them (the
    /// plan made a chain: a bug; nothing is written).
    pub(crate) fn of(rows: &[Contact]) -> Result<Self> {
        let broken = || Error::Internal {
            reason: "an import planned a row linked to a row that is not a primary",
        };
        let index = |i: usize| u32::try_from(i).map_err(|_| broken());
        // customers numbered in order of their primary's id
        let mut number: Vec<u32> = vec![u32::MAX; rows.len()];
        let mut primaries: Vec<u32> = Vec::new();
        for (i, row) in rows.iter().enumerate() {
            if row.link == Link::Primary {
                number[i] = index(primaries.len())?;
                primaries.push(index(i)?);
            }
        }
        let mut customer_of: Vec<u32> = Vec::with_capacity(rows.len());
        let mut sizes: Vec<u32> = vec![0; primaries.len()];
        for (i, row) in rows.iter().enumerate() {
            let customer = match row.link {
                Link::Primary => number[i],
                Link::SecondaryOf(primary) => {
                    let j = rows
                        .binary_search_by_key(&primary, |r| r.id)
                        .map_err(|_| broken())?;
                    if rows[j].link != Link::Primary {
                        return Err(broken());
                    }
                    number[j]
                }
            };
            sizes[customer as usize] += 1;
            customer_of.push(customer);
        }
        let mut starts = Vec::with_capacity(sizes.len() + 1);
        let mut at = 0u32;
        for size in &sizes {
            starts.push(at);
            at += size;
        }
        starts.push(at);
        let mut next: Vec<u32> = starts[..sizes.len()].to_vec();
        let mut members = vec![0u32; rows.len()];
        for (i, customer) in customer_of.iter().enumerate() {
            let slot = &mut next[*customer as usize];
            members[*slot as usize] = index(i)?;
            *slot += 1;
        }
        Ok(ImportedCustomers {
            members,
            starts,
            primaries,
        })
    }

    /// How many customers.
    pub(crate) fn len(&self) -> usize {
        self.starts.len() - 1
    }

    /// The record of customer `c` (`0..len()`), as [`crate::derive()`] would build it.
    pub(crate) fn record(&self, rows: &[Contact], c: usize) -> CustomerRecord {
        let (from, to) = (self.starts[c] as usize, self.starts[c + 1] as usize);
        let members: Vec<&Contact> = self.members[from..to]
            .iter()
            .map(|i| &rows[*i as usize])
            .collect();
        record_of(&rows[self.primaries[c] as usize], &members)
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contact::ContactId;
    use crate::derive::derive;
    use crate::import::replay::plan_import;
    use crate::import::{Checkout, OnError};
    use proptest::prelude::*;

    fn rows_of(pairs: &[(u8, u8, bool, bool)]) -> Vec<Contact> {
        let checkouts: Vec<Checkout> = pairs
            .iter()
            .enumerate()
            .map(|(i, (e, p, has_e, has_p))| {
                let email = has_e.then(|| format!("c{e}@x.io"));
                let phone = (*has_p || !has_e).then(|| format!("555{p}"));
                let request =
                    crate::request::IdentifyRequest::parse(email.as_deref(), phone.as_deref())
                        .unwrap();
                let at = time::OffsetDateTime::from_unix_timestamp(1_700_000_000 + i as i64 / 3)
                    .unwrap();
                Checkout::new(request, at, i as u64)
            })
            .collect();
        let plan = plan_import(checkouts, &TenantState::default(), OnError::Abort).unwrap();
        let ids: Vec<ContactId> = (0..plan.rows.len() as i64)
            .map(|i| ContactId::new(10 + 2 * i))
            .collect();
        plan.finish(&ids, true).unwrap().0
    }

    proptest! {
        #[test]
        fn the_records_are_those_derive_builds(
            pairs in prop::collection::vec((0u8..12, 0u8..12, any::<bool>(), any::<bool>()), 0..80)
        ) {
            let rows = rows_of(&pairs);
            let grouped = ImportedCustomers::of(&rows).unwrap();
            let mut derived = derive(&rows);
            prop_assert!(derived.relinks.is_empty());
            derived.customers.sort_by_key(|c| c.primary);
            let ours: Vec<CustomerRecord> =
                (0..grouped.len()).map(|c| grouped.record(&rows, c)).collect();
            prop_assert_eq!(ours, derived.customers);
        }
    }

    #[test]
    fn a_link_to_a_secondary_or_to_nothing_is_refused() {
        let mut rows = rows_of(&[(1, 1, true, true), (2, 1, true, true), (3, 2, true, true)]);
        assert_eq!(rows.len(), 3);
        rows[2].link = Link::SecondaryOf(rows[1].id); // a chain
        assert!(matches!(
            ImportedCustomers::of(&rows),
            Err(Error::Internal { .. })
        ));
        rows[2].link = Link::SecondaryOf(ContactId::new(999));
        assert!(matches!(
            ImportedCustomers::of(&rows),
            Err(Error::Internal { .. })
        ));
    }
}
