//! `verify`: checks the `contact` rows against the invariants I1-I4 and the derived records
//! against what [`crate::derive()`] computes from those rows, and reports every difference.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use crate::contact::{Contact, ContactId};
use crate::customer::CustomerRecord;
use crate::derive::{Derived, derive_screened};
use crate::identifier::Blocked;
use crate::region::PhoneRegion;

pub use crate::identifier::IdentifierKind;

/// One difference `verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// I1: a customer's primary is not its oldest row.
    PrimaryNotOldest {
        /// The stored primary.
        customer: ContactId,
        /// Its oldest row.
        oldest: ContactId,
    },
    /// I2: a secondary links to a row that is missing, deleted or itself a secondary.
    BrokenLink {
        /// The secondary.
        row: ContactId,
        /// What it links to.
        to: ContactId,
    },
    /// I3: one value in rows of two customers (by their stored links).
    SharedValue {
        /// Email or phone.
        kind: IdentifierKind,
        /// The value.
        value: String,
        /// The customers (by stored primary id) that have it.
        customers: Vec<ContactId>,
    },
    /// I4: a row whose email and phone both appear in older rows (it adds nothing).
    RedundantRow {
        /// The row.
        row: ContactId,
    },
    /// A customer the rows define has no record.
    MissingCustomer {
        /// Its primary.
        customer: ContactId,
    },
    /// A record that no customer of the rows matches.
    UnexpectedCustomer {
        /// The record's primary.
        customer: ContactId,
    },
    /// A record that disagrees with its customer's rows.
    WrongCustomer {
        /// Its primary.
        customer: ContactId,
        /// Which part disagrees.
        part: &'static str,
    },
    /// A value of the rows that has no identifier, or one naming the wrong customer.
    WrongIdentifier {
        /// Email or phone.
        kind: IdentifierKind,
        /// The value.
        value: String,
        /// The customer the rows say (`None`: no visible row has the value).
        expected: Option<ContactId>,
        /// The customer the identifier names (`None`: there is no identifier).
        stored: Option<ContactId>,
    },
    /// Changes made to `contact` outside the library that the derived records do not show yet;
    /// the next identify (or `rebuild`) applies them.
    PendingChanges {
        /// How many rows were changed.
        count: u64,
    },
    /// A row of a tenant with a phone region whose phone is not the E.164 form of a number
    /// valid there (written by hand, not through the library).
    PhoneNotInRegion {
        /// The row.
        row: ContactId,
        /// Its phone as stored.
        phone: String,
        /// The tenant's region.
        region: PhoneRegion,
    },
}

impl Problem {
    /// A stable snake_case name of the problem's kind, the same in every binding and on the
    /// HTTP service: `primary_not_oldest`, `broken_link`, `shared_value`, `redundant_row`,
    /// `missing_customer`, `unexpected_customer`, `wrong_customer`, `wrong_identifier`,
    /// `pending_changes`, `phone_not_in_region`.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Problem::PrimaryNotOldest { .. } => "primary_not_oldest",
            Problem::BrokenLink { .. } => "broken_link",
            Problem::SharedValue { .. } => "shared_value",
            Problem::RedundantRow { .. } => "redundant_row",
            Problem::MissingCustomer { .. } => "missing_customer",
            Problem::UnexpectedCustomer { .. } => "unexpected_customer",
            Problem::WrongCustomer { .. } => "wrong_customer",
            Problem::WrongIdentifier { .. } => "wrong_identifier",
            Problem::PendingChanges { .. } => "pending_changes",
            Problem::PhoneNotInRegion { .. } => "phone_not_in_region",
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::PrimaryNotOldest { customer, oldest } => write!(
                f,
                "I1: customer {customer} is led by row {customer}, but its oldest row is {oldest}"
            ),
            Problem::BrokenLink { row, to } => write!(
                f,
                "I2: row {row} links to {to}, which is not a visible primary"
            ),
            Problem::SharedValue {
                kind,
                value,
                customers,
            } => {
                let list: Vec<String> = customers.iter().map(ToString::to_string).collect();
                write!(
                    f,
                    "I3: {kind} {value:?} belongs to customers {}",
                    list.join(", ")
                )
            }
            Problem::RedundantRow { row } => write!(
                f,
                "I4: row {row} adds no email or phone that an older row lacks"
            ),
            Problem::MissingCustomer { customer } => {
                write!(f, "customer {customer} has no record")
            }
            Problem::UnexpectedCustomer { customer } => write!(
                f,
                "the record of customer {customer} matches no customer of the rows"
            ),
            Problem::WrongCustomer { customer, part } => {
                write!(f, "the record of customer {customer} has the wrong {part}")
            }
            Problem::WrongIdentifier {
                kind,
                value,
                expected,
                stored,
            } => {
                let name = |c: &Option<ContactId>| {
                    c.map_or_else(|| "none".to_owned(), |c| format!("customer {c}"))
                };
                write!(
                    f,
                    "identifier {kind} {value:?} names {}, the rows say {}",
                    name(stored),
                    name(expected)
                )
            }
            Problem::PendingChanges { count } => write!(
                f,
                "{count} change(s) made to contact outside the library are not applied yet"
            ),
            Problem::PhoneNotInRegion { row, phone, region } => write!(
                f,
                "row {row} has phone {phone:?}, not the E.164 form of a valid number in the \
                 tenant's region {region}"
            ),
        }
    }
}

/// What `verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct VerifyReport {
    /// Visible `contact` rows read.
    pub rows: u64,
    /// Customer records read.
    pub customers: u64,
    /// Every difference, invariants first.
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    /// Whether nothing was found.
    #[must_use]
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} rows, {} customers: {} problem(s)",
            self.rows,
            self.customers,
            self.problems.len()
        )?;
        for p in &self.problems {
            write!(f, "\n  {p}")?;
        }
        Ok(())
    }
}

/// A stored identifier: (kind, value, the customer it names).
pub type StoredIdentifier = (IdentifierKind, String, ContactId);

/// Reads identifiers as the SQL stores select them: (`kind`, `value`, `customer_id`). The kind
/// column is checked to be `email` or `phone`; anything else reads as a phone, which verify
/// then reports as an identifier no row has.
pub(crate) fn stored_identifiers(rows: Vec<(String, String, i64)>) -> Vec<StoredIdentifier> {
    rows.into_iter()
        .map(|(kind, value, owner)| (IdentifierKind::stored(&kind), value, ContactId::new(owner)))
        .collect()
}

/// Compares everything; `rows` are all visible rows, the others all stored derived records.
pub(crate) fn verify(
    rows: &[Contact],
    records: &[CustomerRecord],
    identifiers: &[StoredIdentifier],
    pending: u64,
    region: Option<PhoneRegion>,
    blocked: Blocked<'_>,
) -> VerifyReport {
    let mut problems = invariants(rows, blocked);
    if let Some(region) = region {
        outside_region(rows, region, &mut problems);
    }
    let expected = derive_screened(rows, blocked);
    compare_records(&expected.customers, records, &mut problems);
    compare_identifiers(&expected, identifiers, &mut problems);
    if pending > 0 {
        problems.push(Problem::PendingChanges { count: pending });
    }
    VerifyReport {
        rows: rows.len() as u64,
        customers: records.len() as u64,
        problems,
    }
}

/// The rows whose phone is not what reading it in `region` gives (the library stores no other).
fn outside_region(rows: &[Contact], region: PhoneRegion, problems: &mut Vec<Problem>) {
    for c in rows {
        let Some(phone) = &c.phone_number else {
            continue;
        };
        if phone.in_region(region).ok().as_ref() != Some(phone) {
            problems.push(Problem::PhoneNotInRegion {
                row: c.id,
                phone: phone.as_str().to_owned(),
                region,
            });
        }
    }
}

/// I1-I4 over the rows as stored (a blocked value may be in two customers: I3 and I4 let it).
fn invariants(rows: &[Contact], blocked: Blocked<'_>) -> Vec<Problem> {
    let mut problems = Vec::new();
    let by_id: HashMap<ContactId, &Contact> = rows.iter().map(|c| (c.id, c)).collect();
    let mut oldest: BTreeMap<ContactId, &Contact> = BTreeMap::new();
    for c in rows {
        if let Some(to) = c.linked_id()
            && !by_id.get(&to).is_some_and(|p| p.is_primary())
        {
            problems.push(Problem::BrokenLink { row: c.id, to });
        }
        let entry = oldest.entry(c.root()).or_insert(c);
        if c.age() < entry.age() {
            *entry = c;
        }
    }
    for (customer, c) in oldest {
        // a group whose root is no visible primary is reported as a broken link above
        if c.id != customer && by_id.get(&customer).is_some_and(|p| p.is_primary()) {
            problems.push(Problem::PrimaryNotOldest {
                customer,
                oldest: c.id,
            });
        }
    }
    let mut owners: BTreeMap<(IdentifierKind, &str), Vec<ContactId>> = BTreeMap::new();
    let mut sorted: Vec<&Contact> = rows.iter().collect();
    sorted.sort_by_key(|c| c.id);
    for c in &sorted {
        let mut adds_something = false;
        for key in values(c) {
            let list = owners.entry(key).or_default();
            // a blocked value in two customers is new to each
            adds_something |=
                list.is_empty() || (!list.contains(&c.root()) && blocked(key.0, key.1));
            if !list.contains(&c.root()) {
                list.push(c.root());
            }
        }
        if !adds_something {
            problems.push(Problem::RedundantRow { row: c.id });
        }
    }
    for ((kind, value), mut customers) in owners {
        if customers.len() > 1 && !blocked(kind, value) {
            customers.sort_unstable();
            problems.push(Problem::SharedValue {
                kind,
                value: value.to_owned(),
                customers,
            });
        }
    }
    problems
}

fn values(c: &Contact) -> impl Iterator<Item = (IdentifierKind, &str)> {
    let email = c
        .email
        .as_ref()
        .map(|e| (IdentifierKind::Email, e.as_str()));
    let phone = c
        .phone_number
        .as_ref()
        .map(|p| (IdentifierKind::Phone, p.as_str()));
    email.into_iter().chain(phone)
}

fn compare_records(
    expected: &[CustomerRecord],
    stored: &[CustomerRecord],
    problems: &mut Vec<Problem>,
) {
    let stored_by: HashMap<ContactId, &CustomerRecord> =
        stored.iter().map(|c| (c.primary, c)).collect();
    let expected_by: HashMap<ContactId, &CustomerRecord> =
        expected.iter().map(|c| (c.primary, c)).collect();
    for e in expected {
        let Some(s) = stored_by.get(&e.primary) else {
            problems.push(Problem::MissingCustomer {
                customer: e.primary,
            });
            continue;
        };
        let part = if (&s.emails, &s.email_rows, s.primary_has_email)
            != (&e.emails, &e.email_rows, e.primary_has_email)
        {
            Some("emails")
        } else if (&s.phone_numbers, &s.phone_rows, s.primary_has_phone)
            != (&e.phone_numbers, &e.phone_rows, e.primary_has_phone)
        {
            Some("phone numbers")
        } else if s.secondary_ids != e.secondary_ids {
            Some("secondary ids")
        } else if (s.created_at, s.last_row_at) != (e.created_at, e.last_row_at) {
            Some("timestamps")
        } else {
            None
        };
        if let Some(part) = part {
            problems.push(Problem::WrongCustomer {
                customer: e.primary,
                part,
            });
        }
    }
    let mut unexpected: Vec<ContactId> = stored
        .iter()
        .map(|s| s.primary)
        .filter(|p| !expected_by.contains_key(p))
        .collect();
    unexpected.sort_unstable();
    problems.extend(
        unexpected
            .into_iter()
            .map(|customer| Problem::UnexpectedCustomer { customer }),
    );
}

fn compare_identifiers(
    expected: &Derived,
    stored: &[StoredIdentifier],
    problems: &mut Vec<Problem>,
) {
    let want: BTreeMap<(IdentifierKind, &str), ContactId> = expected
        .identifiers()
        .into_iter()
        .map(|(kind, value, owner)| ((kind, value), owner))
        .collect();
    let have: BTreeMap<(IdentifierKind, &str), ContactId> = stored
        .iter()
        .map(|(kind, value, customer)| ((*kind, value.as_str()), *customer))
        .collect();
    let keys: std::collections::BTreeSet<&(IdentifierKind, &str)> =
        want.keys().chain(have.keys()).collect();
    for key in keys {
        let (expected, stored) = (want.get(key).copied(), have.get(key).copied());
        if expected != stored {
            problems.push(Problem::WrongIdentifier {
                kind: key.0,
                value: key.1.to_owned(),
                expected,
                stored,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::OffsetDateTime;

    fn row(id: i64, email: Option<&str>, phone: Option<&str>, linked: Option<i64>) -> Contact {
        crate::contact::test_row(id, email, phone, linked, id)
    }

    fn stored_identifiers(records: &[CustomerRecord]) -> Vec<StoredIdentifier> {
        records
            .iter()
            .flat_map(|c| {
                let emails = c
                    .emails
                    .iter()
                    .map(|e| (IdentifierKind::Email, e.to_string(), c.primary));
                let phones = c
                    .phone_numbers
                    .iter()
                    .map(|p| (IdentifierKind::Phone, p.to_string(), c.primary));
                emails.chain(phones).collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn derived_records_of_well_formed_rows_verify_clean() {
        let rows = [
            row(1, Some("a@x.io"), Some("1"), None),
            row(2, Some("b@x.io"), Some("1"), Some(1)),
        ];
        let records = crate::derive::derive(&rows).customers;
        let report = verify(
            &rows,
            &records,
            &stored_identifiers(&records),
            0,
            None,
            &|_, _| false,
        );
        assert!(report.is_clean(), "{report}");
        assert_eq!((report.rows, report.customers), (2, 1));
    }

    #[test]
    fn every_kind_of_difference_is_reported() {
        let rows = [
            row(1, Some("a@x.io"), Some("1"), None),
            row(2, Some("b@x.io"), None, Some(1)),
            row(3, Some("c@x.io"), None, Some(2)), // I2: links to a secondary
            row(4, Some("a@x.io"), Some("1"), None), // I3 and I4
        ];
        let good = crate::derive::derive(&rows).customers;
        let mut records = good.clone();
        records[0].secondary_ids = records[0].secondary_ids.from_index(1);
        let mut identifiers = stored_identifiers(&good);
        identifiers.retain(|(_, v, _)| v != "c@x.io");
        let report = verify(&rows, &records, &identifiers, 2, None, &|_, _| false);
        let codes: std::collections::BTreeSet<&str> =
            report.problems.iter().map(Problem::code).collect();
        assert_eq!(
            codes.into_iter().collect::<Vec<_>>(),
            [
                "broken_link",
                "pending_changes",
                "redundant_row",
                "shared_value",
                "wrong_customer",
                "wrong_identifier"
            ]
        );
        let text = report.to_string();
        for expected in [
            "I2: row 3 links to 2",
            "I3: email \"a@x.io\" belongs to customers 1, 4",
            "I4: row 4 adds no email",
            "the record of customer 1 has the wrong secondary ids",
            "identifier email \"c@x.io\" names none, the rows say customer 1",
            "2 change(s) made to contact outside the library",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in\n{text}");
        }
    }

    #[test]
    fn a_primary_that_is_not_the_oldest_is_reported() {
        let mut rows = [
            row(1, Some("a@x.io"), None, None),
            row(2, Some("b@x.io"), None, Some(1)),
        ];
        rows[1].created_at = OffsetDateTime::UNIX_EPOCH;
        let report = verify(&rows, &[], &[], 0, None, &|_, _| false);
        assert!(report.problems.contains(&Problem::PrimaryNotOldest {
            customer: ContactId::new(1),
            oldest: ContactId::new(2)
        }));
    }
}
