//! Split: undo a wrong merge. [`Identity::split`](crate::Identity::split) moves some rows of a
//! customer into a new customer, kept apart from it from then on. The pure part lives here: from
//! the customer's rows and the ids asked for to what the stores write ([`SplitPlan`]), and the
//! kept-apart rule every merge checks ([`kept_apart`]).

use std::collections::{BTreeSet, HashSet};

use serde::Serialize;

use crate::blocked::{BlockList, BlockedValue};
use crate::contact::{Contact, ContactId, Link};
use crate::derive::{Derived, derive_screened};
use crate::error::{Error, Field, Result};
use crate::identifier::IdentifierKind;
use crate::request::ConsolidatedContact;

/// What a split did: the customer as it stays, the new customer, and the entries it added to
/// the tenant's blocked list (the values the two shared, when the caller asked to block them).
///
/// On the wire: `{"customer": {...}, "newCustomer": {...}, "blocked": [...]}`, each customer in
/// the shape of identify's `contact`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Split {
    /// The customer that keeps its primary, with the rows that stay.
    pub customer: ConsolidatedContact,
    /// The new customer: the rows moved, led by the oldest of them.
    pub new_customer: ConsolidatedContact,
    /// The entries added to the blocked list by this split (empty unless values were shared).
    pub blocked: Vec<BlockedValue>,
}

impl Split {
    /// The primary of the part that holds `row`.
    pub(crate) fn primary_holding(&self, row: ContactId) -> ContactId {
        let moved = &self.new_customer;
        if moved.primary_contact_id == row || moved.secondary_contact_ids.contains(&row) {
            moved.primary_contact_id
        } else {
            self.customer.primary_contact_id
        }
    }
}

/// What a store writes for a split, in one transaction with the tenant's other writes waiting.
#[derive(Debug, Clone)]
pub(crate) struct SplitPlan {
    /// The customer's primary, which stays.
    pub customer: ContactId,
    /// The new customer's primary: the oldest moved row.
    pub new_customer: ContactId,
    /// The rows that move, ascending.
    pub moved: Vec<ContactId>,
    /// Entries to add to the blocked list first: the values both parts hold.
    pub block: Vec<BlockedValue>,
    /// The relinks (the moved rows) and the two customers' records (versions 0).
    pub derived: Derived,
    /// Pairs of rows whose customers must never merge, to add: the two parts, and each part
    /// with every customer the split customer was kept apart from.
    pub apart: Vec<(ContactId, ContactId)>,
    /// Values only the new customer holds: their identifiers (naming the customer) move to it.
    pub renamed: Vec<(IdentifierKind, String)>,
    /// Values both parts hold (blocked): their identifiers go, as no request matches them.
    pub unnamed: Vec<(IdentifierKind, String)>,
}

impl SplitPlan {
    /// Plans splitting `asked` off the customer led by `primary`, whose visible rows are `rows`.
    /// When `asked` holds the primary, the other rows are the ones that move: the customer
    /// keeps its primary, and the two parts are the ones asked for either way. `blocked` is the
    /// tenant's list; `pairs` the kept-apart pairs with a row among `rows`.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming [`Field::ContactIds`] when `asked` is empty, names a row
    /// that is not the customer's, or names every row; [`Error::Conflict`] listing the values
    /// both parts hold, unless `block_shared`; [`Error::Internal`] if the parts do not come
    /// out as two customers.
    pub(crate) fn new(
        rows: &[Contact],
        primary: ContactId,
        asked: &[ContactId],
        block_shared: bool,
        blocked: &BlockList,
        pairs: &[(ContactId, ContactId)],
    ) -> Result<Self> {
        let invalid = |reason: String| Error::invalid(Field::ContactIds, reason);
        if asked.is_empty() {
            return Err(invalid("name at least one row to move".into()));
        }
        let all: BTreeSet<ContactId> = rows.iter().map(|c| c.id).collect();
        if let Some(stranger) = asked.iter().find(|id| !all.contains(id)) {
            return Err(invalid(format!(
                "contact {stranger} is not a row of customer {primary}"
            )));
        }
        let mut moved: BTreeSet<ContactId> = asked.iter().copied().collect();
        if moved.contains(&primary) {
            moved = all.difference(&moved).copied().collect();
        }
        if moved.is_empty() {
            return Err(invalid(format!(
                "names every row of customer {primary}: nothing would stay"
            )));
        }
        let shared = shared_values(rows, &moved, blocked);
        if !shared.is_empty() && !block_shared {
            let list: Vec<String> = shared.iter().map(|(k, v)| format!("{k} {v}")).collect();
            return Err(Error::Conflict {
                reason: format!(
                    "the rows to move share {} with the rows that stay; block them as part of \
                     the split, or move other rows",
                    list.join(", ")
                ),
            });
        }
        let block = shared
            .iter()
            .map(|(kind, value)| BlockedValue::stored(kind.as_str(), false, value))
            .collect::<Result<Vec<_>>>()?;
        let new_customer = rows
            .iter()
            .filter(|c| moved.contains(&c.id))
            .min_by_key(|c| c.age())
            .map(|c| c.id)
            .ok_or(Error::Internal {
                reason: "a split moves at least one row",
            })?;
        let mut after: Vec<Contact> = rows.to_vec();
        let mut relinks = Vec::new();
        for c in after.iter_mut().filter(|c| moved.contains(&c.id)) {
            let link = if c.id == new_customer {
                Link::Primary
            } else {
                Link::SecondaryOf(new_customer)
            };
            if c.link != link {
                relinks.push((c.id, link));
                c.link = link;
            }
        }
        let newly: HashSet<(IdentifierKind, &str)> =
            shared.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let screen =
            |kind, value: &str| newly.contains(&(kind, value)) || blocked.blocks(kind, value);
        let derived = derive_screened(&after, &screen);
        let primaries: Vec<ContactId> = derived.customers.iter().map(|c| c.primary).collect();
        if !derived.relinks.is_empty() || primaries.len() != 2 || !primaries.contains(&primary) {
            return Err(Error::Internal {
                reason: "a split did not leave two customers",
            });
        }
        let mut apart = vec![(primary, new_customer)];
        for &(a, b) in pairs {
            for (mine, theirs) in [(a, b), (b, a)] {
                if all.contains(&mine) && !all.contains(&theirs) {
                    let other_part = if moved.contains(&mine) {
                        primary
                    } else {
                        new_customer
                    };
                    apart.push((other_part, theirs));
                }
            }
        }
        let values_of = |id| -> BTreeSet<(IdentifierKind, String)> {
            derived
                .customers
                .iter()
                .filter(|c| c.primary == id)
                .flat_map(|c| {
                    let e = c
                        .emails
                        .iter()
                        .map(|e| (IdentifierKind::Email, e.as_str().to_owned()));
                    let p = c
                        .phone_numbers
                        .iter()
                        .map(|p| (IdentifierKind::Phone, p.as_str().to_owned()));
                    e.chain(p).collect::<Vec<_>>()
                })
                .collect()
        };
        let (staying, leaving) = (values_of(primary), values_of(new_customer));
        Ok(SplitPlan {
            renamed: leaving.difference(&staying).cloned().collect(),
            unnamed: leaving.intersection(&staying).cloned().collect(),
            customer: primary,
            new_customer,
            moved: moved.into_iter().collect(),
            block,
            derived: Derived {
                relinks,
                customers: derived.customers,
            },
            apart,
        })
    }

    /// The answer once the records are stored (in the order of `derived.customers`, with the
    /// versions the store gave them).
    pub(crate) fn answer(&self) -> Split {
        let answer_of = |id| {
            self.derived
                .customers
                .iter()
                .find(|c| c.primary == id)
                .map(crate::customer::CustomerRecord::answer)
        };
        Split {
            customer: answer_of(self.customer).unwrap_or_else(|| empty(self.customer)),
            new_customer: answer_of(self.new_customer).unwrap_or_else(|| empty(self.new_customer)),
            blocked: self.block.clone(),
        }
    }
}

fn empty(primary: ContactId) -> ConsolidatedContact {
    ConsolidatedContact {
        primary_contact_id: primary,
        emails: Vec::new().into(),
        phone_numbers: Vec::new().into(),
        secondary_contact_ids: Vec::new().into(),
        ignored: Vec::new(),
    }
}

/// The unblocked values held both by a row in `moved` and by a row not in it, sorted.
fn shared_values(
    rows: &[Contact],
    moved: &BTreeSet<ContactId>,
    blocked: &BlockList,
) -> Vec<(IdentifierKind, String)> {
    let values = |inside: bool| -> BTreeSet<(IdentifierKind, &str)> {
        rows.iter()
            .filter(|c| moved.contains(&c.id) == inside)
            .flat_map(|c| {
                let e = c
                    .email
                    .as_ref()
                    .map(|e| (IdentifierKind::Email, e.as_str()));
                e.into_iter().chain(
                    c.phone_number
                        .as_ref()
                        .map(|p| (IdentifierKind::Phone, p.as_str())),
                )
            })
            .collect()
    };
    let (leaving, staying) = (values(true), values(false));
    leaving
        .intersection(&staying)
        .filter(|(kind, value)| !blocked.blocks(*kind, value))
        .map(|(kind, value)| (*kind, (*value).to_owned()))
        .collect()
}

/// Refuses to remove `entry` from the blocked list when one of the values it blocks is held by
/// several customers (`shared`: the tenant's values held by more than one) and `after` (the
/// list without it) would not block it: the customers would share an unblocked value.
///
/// # Errors
/// [`Error::Conflict`] listing those values.
pub(crate) fn check_unblock(
    shared: &[(IdentifierKind, String)],
    entry: &BlockedValue,
    after: &BlockList,
) -> Result<()> {
    let freed: Vec<String> = shared
        .iter()
        .filter(|(kind, value)| {
            *kind == entry.kind() && entry.matches(value) && !after.blocks(*kind, value)
        })
        .map(|(kind, value)| format!("{kind} {value}"))
        .collect();
    if freed.is_empty() {
        return Ok(());
    }
    Err(Error::Conflict {
        reason: format!(
            "{} is held by customers a split keeps apart, so it stays blocked",
            freed.join(", ")
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contact::test_row as row;

    fn ids(v: &[i64]) -> Vec<ContactId> {
        v.iter().copied().map(ContactId::new).collect()
    }

    fn list() -> BlockList {
        BlockList::new(1, Vec::new()).unwrap()
    }

    /// Customer 1: rows 1 (a, 1), 2 (b, 2) joined by a request, 3 (b, 3) joined through b.
    fn customer() -> Vec<Contact> {
        vec![
            row(1, Some("a@x.io"), Some("1"), None, 0),
            row(2, Some("b@x.io"), Some("2"), Some(1), 1),
            row(3, Some("b@x.io"), Some("3"), Some(1), 2),
        ]
    }

    #[test]
    fn moved_rows_become_a_customer_led_by_their_oldest() {
        let plan = SplitPlan::new(
            &customer(),
            ContactId::new(1),
            &ids(&[3, 2]),
            false,
            &list(),
            &[],
        )
        .unwrap();
        assert_eq!(
            (plan.customer, plan.new_customer),
            (ContactId::new(1), ContactId::new(2))
        );
        assert_eq!(plan.moved, ids(&[2, 3]));
        assert_eq!(
            plan.derived.relinks,
            vec![
                (ContactId::new(2), Link::Primary),
                (ContactId::new(3), Link::SecondaryOf(ContactId::new(2)))
            ]
        );
        let split = plan.answer();
        assert_eq!(split.customer.secondary_contact_ids.len(), 0);
        assert_eq!(split.new_customer.secondary_contact_ids, ids(&[3]));
        assert_eq!(plan.apart, vec![(ContactId::new(1), ContactId::new(2))]);
    }

    #[test]
    fn naming_the_primary_moves_the_other_rows() {
        let plan = SplitPlan::new(
            &customer(),
            ContactId::new(1),
            &ids(&[1]),
            false,
            &list(),
            &[],
        )
        .unwrap();
        assert_eq!(plan.moved, ids(&[2, 3]));
        assert_eq!(plan.customer, ContactId::new(1));
    }

    #[test]
    fn shared_values_are_refused_listed_or_blocked() {
        let err = SplitPlan::new(
            &customer(),
            ContactId::new(1),
            &ids(&[3]),
            false,
            &list(),
            &[],
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "conflict: the rows to move share email b@x.io with the rows that stay; block them \
             as part of the split, or move other rows"
        );
        let plan = SplitPlan::new(
            &customer(),
            ContactId::new(1),
            &ids(&[3]),
            true,
            &list(),
            &[],
        )
        .unwrap();
        assert_eq!(plan.block, vec![BlockedValue::email("b@x.io").unwrap()]);
        assert_eq!(plan.derived.customers.len(), 2);
        // the blocked value has no identifier: neither customer is matched by it
        let values: Vec<&str> = plan.derived.identifiers().iter().map(|i| i.1).collect();
        assert!(!values.contains(&"b@x.io"), "{values:?}");
        // a value blocked already is not shared
        let blocked = BlockList::new(2, vec![BlockedValue::email("b@x.io").unwrap()]).unwrap();
        let plan = SplitPlan::new(
            &customer(),
            ContactId::new(1),
            &ids(&[3]),
            false,
            &blocked,
            &[],
        );
        assert!(plan.unwrap().block.is_empty());
    }

    #[test]
    fn bad_ids_are_invalid_input_naming_contact_ids() {
        for (asked, reason) in [
            (ids(&[]), "name at least one row to move"),
            (ids(&[9]), "contact 9 is not a row of customer 1"),
            (
                ids(&[1, 2, 3]),
                "names every row of customer 1: nothing would stay",
            ),
        ] {
            let err = SplitPlan::new(&customer(), ContactId::new(1), &asked, true, &list(), &[])
                .unwrap_err();
            assert!(
                matches!(&err, Error::InvalidInput { field: Field::ContactIds, reason: r } if r == reason),
                "{err:?}"
            );
        }
    }

    #[test]
    fn both_parts_inherit_what_the_customer_was_kept_apart_from() {
        // 1 was kept apart from 7 (a row of another customer) through row 3
        let plan = SplitPlan::new(
            &customer(),
            ContactId::new(1),
            &ids(&[2, 3]),
            false,
            &list(),
            &[(ContactId::new(3), ContactId::new(7))],
        )
        .unwrap();
        assert_eq!(
            plan.apart,
            vec![
                (ContactId::new(1), ContactId::new(2)),
                (ContactId::new(1), ContactId::new(7))
            ]
        );
    }
}
