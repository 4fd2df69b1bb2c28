//! Applying erasures again, to a database restored from a backup older than them
//! ([`Identity::reapply_erasures`](crate::Identity::reapply_erasures)): the pure part, which rows
//! of a record the database holds and how to erase exactly those ([`ReapplyPlan`]), and the report
//! ([`ReapplyReport`]).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use time::OffsetDateTime;

use crate::contact::ContactId;
use crate::erasure::ErasureRecord;
use crate::error::{Error, Result};

/// What [`Identity::reapply_erasures`](crate::Identity::reapply_erasures) did. On the wire:
/// `{"records", "applied", "alreadyErased", "erasedIds", "reusedIds", "suppressed"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ReapplyReport {
    /// Records given.
    pub records: usize,
    /// Records applied now: the database did not hold their erase.
    pub applied: usize,
    /// Records whose erase the database holds already (its receipt is there): left alone.
    pub already_erased: usize,
    /// The rows deleted now, ascending.
    pub erased_ids: Vec<ContactId>,
    /// Ids of the records that the database gives to other rows (created at another time:
    /// taken again after the backup was restored), ascending; those rows are left alone.
    pub reused_ids: Vec<ContactId>,
    /// The digests of the applied records, now among the tenant's suppressed values.
    pub suppressed: usize,
}

impl ReapplyReport {
    /// Adds what one record's plan did.
    pub(crate) fn add(&mut self, plan: &ReapplyPlan, erased_now: &[ContactId], digests: usize) {
        self.applied += 1;
        self.erased_ids.extend(erased_now);
        self.erased_ids.extend(&plan.deleted);
        self.reused_ids.extend(&plan.reused);
        self.suppressed += digests;
    }

    /// Sorts the id lists (the report is complete).
    pub(crate) fn finish(mut self) -> Self {
        self.erased_ids.sort();
        self.erased_ids.dedup();
        self.reused_ids.sort();
        self.reused_ids.dedup();
        self
    }
}

/// A row of the tenant with an id a record names, as the database holds it now.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HeldRow {
    /// Its id.
    pub id: ContactId,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// Its customer's primary, or `None` when it is marked deleted.
    pub customer: Option<ContactId>,
}

impl HeldRow {
    /// A row as the SQL stores select it: (id, created at, customer or `None`).
    pub(crate) fn stored((id, created_at, customer): (i64, OffsetDateTime, Option<i64>)) -> Self {
        HeldRow {
            id: ContactId::new(id),
            created_at,
            customer: customer.map(ContactId::new),
        }
    }
}

/// How a store erases one customer's share of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// Every visible row of the customer of this row is the record's: erase it whole.
    Erase(ContactId),
    /// The customer led by `customer` holds rows the record does not name (split off it after
    /// the backup): split the record's `rows` off it (blocking the values the parts share,
    /// as that split had to), then erase their part.
    SplitOff {
        /// The customer's primary.
        customer: ContactId,
        /// The record's rows in it, ascending.
        rows: Vec<ContactId>,
    },
}

/// What a store does for one record that the database does not hold the erase of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReapplyPlan {
    /// The erases, one per customer holding visible rows of the record.
    pub steps: Vec<Step>,
    /// Rows of the record that other programs marked deleted: hard-deleted.
    pub deleted: Vec<ContactId>,
    /// Ids of the record held by other rows: left alone.
    pub reused: Vec<ContactId>,
    /// The receipt rows to store (the record's `contactIds` but the reused ones), so that
    /// erasing by any of them answers the original receipt.
    pub receipts: Vec<ContactId>,
}

impl ReapplyPlan {
    /// Plans `record` against `held`, the tenant's rows with the ids of the record's rows, and
    /// `members`, the visible rows of each customer that holds one of them.
    pub(crate) fn new(
        record: &ErasureRecord,
        held: &[HeldRow],
        members: &BTreeMap<ContactId, BTreeSet<ContactId>>,
    ) -> Self {
        let mut reused = Vec::new();
        let mut deleted = Vec::new();
        let mut by_customer: BTreeMap<ContactId, BTreeSet<ContactId>> = BTreeMap::new();
        for row in &record.rows {
            let Some(now) = held.iter().find(|h| h.id == row.id) else {
                continue; // created after the backup: not in this database
            };
            if row.created_at.is_some_and(|at| at != now.created_at) {
                reused.push(row.id);
                continue;
            }
            match now.customer {
                Some(customer) => {
                    by_customer.entry(customer).or_default().insert(row.id);
                }
                None => deleted.push(row.id),
            }
        }
        let steps = by_customer
            .into_iter()
            .map(|(customer, rows)| match members.get(&customer) {
                Some(all) if !all.is_subset(&rows) => Step::SplitOff {
                    customer,
                    rows: rows.into_iter().collect(),
                },
                _ => Step::Erase(customer),
            })
            .collect();
        let receipts = record
            .contact_ids
            .iter()
            .copied()
            .filter(|id| !reused.contains(id))
            .collect();
        ReapplyPlan {
            steps,
            deleted,
            reused,
            receipts,
        }
    }

    /// The highest id the records name: the store's id sequence moves past it, so that no row
    /// created after this is given an id a record (or the log) names.
    pub(crate) fn highest_id(records: &[ErasureRecord]) -> i64 {
        records
            .iter()
            .flat_map(|r| {
                r.rows
                    .iter()
                    .map(|r| r.id)
                    .chain(r.contact_ids.iter().copied())
            })
            .map(ContactId::get)
            .max()
            .unwrap_or(0)
    }
}

/// Refuses the first record whose digests were taken under another secret than the store's
/// (fingerprint `ours`).
pub(crate) fn same_secret(records: &[ErasureRecord], ours: &str) -> Result<()> {
    let Some(record) = records
        .iter()
        .find(|r| !r.digests.is_empty() && r.secret.as_deref() != Some(ours))
    else {
        return Ok(());
    };
    Err(Error::Conflict {
        reason: format!(
            "the digests of the erasure of customer {} were taken under the suppression secret \
             {}, and this database's is {ours}: restore the identity_secret table from a backup \
             of this store (see docs/operations.md)",
            record.customer_id,
            record.secret.as_deref().unwrap_or("-")
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::erase::Erasure;
    use crate::erasure::ErasedRow;
    use crate::tenant::TenantId;

    fn id(n: i64) -> ContactId {
        ContactId::new(n)
    }

    fn at(s: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(s).unwrap()
    }

    #[test]
    fn a_plan_erases_whole_customers_splits_shared_ones_and_leaves_reused_ids() {
        let receipt = Erasure {
            customer_id: id(1),
            contact_ids: vec![id(1), id(2), id(4), id(9)],
            erased_at: at(100),
            suppressed: false,
        };
        let rows = [
            (1, Some(1)),
            (2, Some(2)),
            (4, None),
            (5, Some(5)),
            (9, Some(9)),
        ]
        .map(|(n, t)| ErasedRow::new(id(n), t.map(at)))
        .to_vec();
        let record = ErasureRecord::new(&TenantId::default(), &receipt, rows, vec![], None);
        // 1 leads a customer of 1 and 3; 2 is alone; 4 has no time in the record (known by id
        // alone); 5 is marked deleted; 9 was created at another time: taken again
        let held = [
            (1, 1, Some(1)),
            (2, 2, Some(2)),
            (4, 40, Some(4)),
            (5, 5, None),
            (9, 90, Some(9)),
        ]
        .map(|(n, t, c)| HeldRow {
            id: id(n),
            created_at: at(t),
            customer: c.map(id),
        });
        let members = BTreeMap::from([
            (id(1), BTreeSet::from([id(1), id(3)])),
            (id(2), BTreeSet::from([id(2)])),
            (id(4), BTreeSet::from([id(4)])),
        ]);
        let plan = ReapplyPlan::new(&record, &held, &members);
        assert_eq!(
            plan.steps,
            [
                Step::SplitOff {
                    customer: id(1),
                    rows: vec![id(1)]
                },
                Step::Erase(id(2)),
                Step::Erase(id(4)),
            ]
        );
        assert_eq!(plan.deleted, [id(5)]);
        assert_eq!(plan.reused, [id(9)]);
        assert_eq!(plan.receipts, [id(1), id(2), id(4)]);
        assert_eq!(ReapplyPlan::highest_id(std::slice::from_ref(&record)), 9);
    }
}
