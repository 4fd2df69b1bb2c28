//! The pure reconcile step: from a request and the rows of the customers it touches to the
//! writes to make and the answer to give. No I/O; every store runs exactly this.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use time::OffsetDateTime;

use crate::contact::{Contact, ContactId, Email, LinkPrecedence, Phone};
use crate::request::{ConsolidatedContact, IdentifyRequest};

/// A row to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewContact {
    /// The request's email.
    pub email: Option<Email>,
    /// The request's phone number.
    pub phone_number: Option<Phone>,
    /// The primary to link to; `None` inserts a new primary.
    pub linked_id: Option<ContactId>,
    /// `Primary` exactly when `linked_id` is `None`.
    pub link_precedence: LinkPrecedence,
    /// The newest `created_at` of the customer it joins: stores stamp the row no earlier than
    /// this, so the primary stays the oldest row even if the clock steps back.
    pub not_before: Option<OffsetDateTime>,
}

/// Rows to make secondaries of `primary` (and `primary` itself to make primary if it is not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merge {
    /// The surviving primary: the oldest primary (by `created_at`, then id) of the merged customers.
    pub primary: ContactId,
    /// Whether `primary` is stored as a secondary today and must be promoted (only when its own
    /// primary row was deleted).
    pub promote_primary: bool,
    /// Rows whose `linked_id` must become `primary`, ascending; never contains `primary`.
    pub relink: Vec<ContactId>,
}

impl Merge {
    /// Every row the merge updates: `relink` plus `primary` when it is promoted, ascending.
    #[must_use]
    pub fn updated_ids(&self) -> Vec<ContactId> {
        let mut ids = self.relink.clone();
        if self.promote_primary {
            ids.push(self.primary);
            ids.sort_unstable();
        }
        ids
    }
}

/// What the store must write, and how to answer once it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Writes {
    /// Relinking to apply first, if the request joins customers (or repairs one).
    pub merge: Option<Merge>,
    /// The row to insert, if the request carries something new.
    pub insert: Option<NewContact>,
    /// The customer's primary; `None` when the inserted row starts a new customer.
    primary: Option<ContactId>,
    /// The customer's rows after `merge`, without the inserted row.
    members: Vec<Contact>,
}

impl Writes {
    /// The answer once the writes are done; `inserted` is the id the store gave the new row.
    ///
    /// Returns `None` only on misuse: the plan starts a new customer and `inserted` is `None`.
    /// If `inserted` is given although nothing was to be inserted, it is ignored.
    #[must_use]
    pub fn answer(&self, inserted: Option<ContactId>) -> Option<ConsolidatedContact> {
        let new_row = self.insert.as_ref().zip(inserted);
        let primary = self.primary.or(new_row.map(|(_, id)| id))?;
        Some(consolidate(primary, &self.members, new_row))
    }
}

/// The outcome of [`reconcile`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Nothing to write: the request is already fully known. Carries the answer.
    Unchanged(ConsolidatedContact),
    /// Something to write.
    Write(Writes),
}

impl Plan {
    /// Whether the store can answer without writing.
    #[must_use]
    pub fn is_read_only(&self) -> bool {
        matches!(self, Plan::Unchanged(_))
    }

    /// The answer a read-only `lookup` gives: the customer as identify would merge it, without
    /// the row identify would insert. `None` when nothing matches the request.
    #[must_use]
    pub fn preview(&self) -> Option<ConsolidatedContact> {
        match self {
            Plan::Unchanged(answer) => Some(answer.clone()),
            Plan::Write(w) => w.answer(None),
        }
    }
}

/// The reconcile step.
///
/// `rows` must contain every visible row of every customer that has a row matching the
/// request's email or phone (extra rows of other customers are ignored; duplicates are fine).
/// Rows are grouped by `linked_id.unwrap_or(id)`: the stores keep that flat.
///
/// ```
/// use identity::{reconcile, IdentifyRequest, Plan};
/// let req = IdentifyRequest::parse(Some("doc@hillvalley.edu"), None)?;
/// let Plan::Write(writes) = reconcile(&req, &[]) else { unreachable!() };
/// assert!(writes.insert.is_some()); // nothing known: insert a primary
/// # Ok::<(), identity::Error>(())
/// ```
#[must_use]
pub fn reconcile(request: &IdentifyRequest, rows: &[Contact]) -> Plan {
    let mut by_id: BTreeMap<ContactId, &Contact> = BTreeMap::new();
    for row in rows {
        by_id.insert(row.id, row);
    }
    let touched = touched_roots(request, by_id.values().copied());
    let members: Vec<&Contact> = by_id
        .values()
        .copied()
        .filter(|c| touched.contains(&c.root()))
        .collect();

    // Each customer's primary is its row stored as primary; a customer whose primary row is gone
    // (soft-deleted) is represented by its oldest remaining row, which gets promoted if it wins.
    let age = |c: &&Contact| (c.created_at, c.id);
    let primary = touched
        .iter()
        .filter_map(|root| {
            by_id
                .get(root)
                .copied()
                .filter(|c| c.is_primary())
                .or_else(|| {
                    members
                        .iter()
                        .copied()
                        .filter(|c| c.root() == *root)
                        .min_by_key(age)
                })
        })
        .min_by_key(age);
    // No customer matches (every touched customer has a member: the matching row itself).
    let Some(primary) = primary else {
        return Plan::Write(Writes {
            merge: None,
            insert: Some(NewContact {
                email: request.email().cloned(),
                phone_number: request.phone_number().cloned(),
                linked_id: None,
                link_precedence: LinkPrecedence::Primary,
                not_before: None,
            }),
            primary: None,
            members: Vec::new(),
        });
    };

    let relink: Vec<ContactId> = members
        .iter()
        .filter(|c| {
            c.id != primary.id
                && (c.linked_id != Some(primary.id)
                    || c.link_precedence != LinkPrecedence::Secondary)
        })
        .map(|c| c.id)
        .collect();
    let promote_primary = !primary.is_primary();
    let merged: Vec<Contact> = members
        .iter()
        .map(|c| {
            let mut c = (*c).clone();
            if c.id == primary.id {
                c.linked_id = None;
                c.link_precedence = LinkPrecedence::Primary;
            } else {
                c.linked_id = Some(primary.id);
                c.link_precedence = LinkPrecedence::Secondary;
            }
            c
        })
        .collect();

    let new_email = request
        .email()
        .is_some_and(|e| !merged.iter().any(|c| c.email.as_ref() == Some(e)));
    let new_phone = request
        .phone_number()
        .is_some_and(|p| !merged.iter().any(|c| c.phone_number.as_ref() == Some(p)));
    let insert = (new_email || new_phone).then(|| NewContact {
        email: request.email().cloned(),
        phone_number: request.phone_number().cloned(),
        linked_id: Some(primary.id),
        link_precedence: LinkPrecedence::Secondary,
        not_before: merged.iter().map(|c| c.created_at).max(),
    });
    let merge = (promote_primary || !relink.is_empty()).then_some(Merge {
        primary: primary.id,
        promote_primary,
        relink,
    });

    if merge.is_none() && insert.is_none() {
        return Plan::Unchanged(consolidate(primary.id, &merged, None));
    }
    Plan::Write(Writes {
        merge,
        insert,
        primary: Some(primary.id),
        members: merged,
    })
}

/// The customers (by primary id, `linked_id.unwrap_or(id)`) that have a row matching the
/// request's email or phone. Stores lock exactly these before writing.
pub fn touched_roots<'a>(
    request: &IdentifyRequest,
    rows: impl IntoIterator<Item = &'a Contact>,
) -> BTreeSet<ContactId> {
    let matches = |c: &Contact| {
        (request.email().is_some() && c.email.as_ref() == request.email())
            || (request.phone_number().is_some()
                && c.phone_number.as_ref() == request.phone_number())
    };
    rows.into_iter()
        .filter(|c| matches(c))
        .map(Contact::root)
        .collect()
}

/// Builds the answer: the primary's values first, then by row id, then the inserted row.
fn consolidate(
    primary: ContactId,
    members: &[Contact],
    inserted: Option<(&NewContact, ContactId)>,
) -> ConsolidatedContact {
    let mut rows: Vec<(ContactId, Option<&Email>, Option<&Phone>)> = members
        .iter()
        .map(|c| (c.id, c.email.as_ref(), c.phone_number.as_ref()))
        .collect();
    if let Some((row, id)) = inserted {
        rows.push((id, row.email.as_ref(), row.phone_number.as_ref()));
    }
    rows.sort_by_key(|(id, _, _)| (*id != primary, *id));

    // distinct, in order; a set keeps this linear for customers of thousands of rows
    let mut emails: Vec<Email> = Vec::new();
    let mut phone_numbers: Vec<Phone> = Vec::new();
    let mut seen_emails: HashSet<&Email> = HashSet::new();
    let mut seen_phones: HashSet<&Phone> = HashSet::new();
    for (_, email, phone) in &rows {
        if let Some(e) = email.filter(|e| seen_emails.insert(e)) {
            emails.push(e.clone());
        }
        if let Some(p) = phone.filter(|p| seen_phones.insert(p)) {
            phone_numbers.push(p.clone());
        }
    }
    let mut secondary_contact_ids: Vec<ContactId> = rows
        .iter()
        .map(|(id, _, _)| *id)
        .filter(|id| *id != primary)
        .collect();
    secondary_contact_ids.sort_unstable();
    ConsolidatedContact {
        primary_contact_id: primary,
        emails,
        phone_numbers,
        secondary_contact_ids,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A row created `age` seconds after the epoch; `linked` makes it a secondary.
    fn row(
        id: i64,
        email: Option<&str>,
        phone: Option<&str>,
        linked: Option<i64>,
        age: i64,
    ) -> Contact {
        let at = OffsetDateTime::from_unix_timestamp(age).unwrap();
        Contact {
            id: ContactId(id),
            email: email.map(|e| Email::parse(e).unwrap()),
            phone_number: phone.map(|p| Phone::parse(p).unwrap()),
            linked_id: linked.map(ContactId),
            link_precedence: if linked.is_some() {
                LinkPrecedence::Secondary
            } else {
                LinkPrecedence::Primary
            },
            created_at: at,
            updated_at: at,
        }
    }

    fn req(email: Option<&str>, phone: Option<&str>) -> IdentifyRequest {
        IdentifyRequest::parse(email, phone).unwrap()
    }

    fn ids(v: &[i64]) -> Vec<ContactId> {
        v.iter().copied().map(ContactId).collect()
    }

    fn writes(plan: Plan) -> Writes {
        match plan {
            Plan::Write(w) => w,
            Plan::Unchanged(a) => panic!("expected writes, got unchanged {a:?}"),
        }
    }

    #[test]
    fn unknown_request_inserts_a_primary_answered_alone() {
        let w = writes(reconcile(&req(Some("doc@x.io"), Some("1")), &[]));
        assert_eq!(w.merge, None);
        let new = w.insert.clone().unwrap();
        assert_eq!(
            (new.linked_id, new.link_precedence),
            (None, LinkPrecedence::Primary)
        );
        let answer = w.answer(Some(ContactId(9))).unwrap();
        assert_eq!(answer.primary_contact_id, ContactId(9));
        assert_eq!(answer.secondary_contact_ids, vec![]);
        assert_eq!(w.answer(None), None, "a new customer needs the inserted id");
    }

    #[test]
    fn known_email_and_phone_is_read_only_and_idempotent() {
        let rows = [
            row(1, Some("a@x.io"), Some("1"), None, 0),
            row(2, Some("b@x.io"), Some("1"), Some(1), 1),
        ];
        let Plan::Unchanged(answer) = reconcile(&req(Some("B@x.io "), Some("1")), &rows) else {
            panic!("expected read-only");
        };
        assert_eq!(answer.primary_contact_id, ContactId(1));
        assert_eq!(answer.secondary_contact_ids, ids(&[2]));
    }

    #[test]
    fn new_email_with_known_phone_inserts_secondary_of_the_primary() {
        let rows = [row(1, Some("lorraine@x.io"), Some("123456"), None, 0)];
        let w = writes(reconcile(&req(Some("mcfly@x.io"), Some("123456")), &rows));
        assert_eq!(w.merge, None);
        let new = w.insert.clone().unwrap();
        assert_eq!(new.linked_id, Some(ContactId(1)));
        let answer = w.answer(Some(ContactId(23))).unwrap();
        let emails: Vec<&str> = answer.emails.iter().map(Email::as_str).collect();
        assert_eq!(emails, ["lorraine@x.io", "mcfly@x.io"]);
        assert_eq!(answer.phone_numbers.len(), 1);
        assert_eq!(answer.secondary_contact_ids, ids(&[23]));
    }

    #[test]
    fn joining_two_primaries_demotes_the_newer_without_inserting() {
        let rows = [
            row(11, Some("george@x.io"), Some("919191"), None, 0),
            row(27, Some("biff@x.io"), Some("717171"), None, 5),
        ];
        let w = writes(reconcile(&req(Some("george@x.io"), Some("717171")), &rows));
        assert_eq!(w.insert, None);
        assert_eq!(
            w.merge,
            Some(Merge {
                primary: ContactId(11),
                promote_primary: false,
                relink: ids(&[27])
            })
        );
        let answer = w.answer(None).unwrap();
        assert_eq!(answer.primary_contact_id, ContactId(11));
        let phones: Vec<&str> = answer.phone_numbers.iter().map(Phone::as_str).collect();
        assert_eq!(phones, ["919191", "717171"]);
        assert_eq!(answer.secondary_contact_ids, ids(&[27]));
    }

    #[test]
    fn demoted_primary_brings_its_secondaries_along() {
        let rows = [
            row(1, Some("a@x.io"), Some("1"), None, 0),
            row(2, Some("b@x.io"), Some("2"), None, 1),
            row(3, Some("c@x.io"), Some("2"), Some(2), 2),
            row(4, Some("d@x.io"), Some("2"), Some(2), 3),
        ];
        let w = writes(reconcile(&req(Some("a@x.io"), Some("2")), &rows));
        assert_eq!(w.merge.as_ref().unwrap().relink, ids(&[2, 3, 4]));
        assert_eq!(
            w.answer(None).unwrap().secondary_contact_ids,
            ids(&[2, 3, 4])
        );
    }

    #[test]
    fn merge_through_secondaries_of_both_customers() {
        let rows = [
            row(1, Some("a@x.io"), Some("1"), None, 0),
            row(2, Some("b@x.io"), Some("1"), Some(1), 1),
            row(3, Some("c@x.io"), Some("3"), None, 2),
            row(4, Some("d@x.io"), Some("3"), Some(3), 3),
        ];
        let w = writes(reconcile(&req(Some("d@x.io"), Some("1")), &rows));
        assert_eq!(w.merge.as_ref().unwrap().relink, ids(&[3, 4]));
        assert_eq!(w.insert, None);
    }

    #[test]
    fn oldest_by_created_at_wins_over_lower_id() {
        let rows = [
            row(1, Some("a@x.io"), None, None, 50),
            row(2, None, Some("2"), None, 10),
        ];
        let w = writes(reconcile(&req(Some("a@x.io"), Some("2")), &rows));
        assert_eq!(w.merge.as_ref().unwrap().primary, ContactId(2));
        let answer = w.answer(None).unwrap();
        assert_eq!(answer.primary_contact_id, ContactId(2));
        assert_eq!(answer.secondary_contact_ids, ids(&[1]));
    }

    #[test]
    fn primary_values_come_first_then_row_order() {
        let rows = [
            row(1, Some("z@x.io"), None, Some(3), 20),
            row(2, Some("y@x.io"), Some("9"), Some(3), 30),
            row(3, Some("m@x.io"), Some("5"), None, 10),
        ];
        let Plan::Unchanged(answer) = reconcile(&req(Some("z@x.io"), None), &rows) else {
            panic!("expected read-only");
        };
        let emails: Vec<&str> = answer.emails.iter().map(Email::as_str).collect();
        assert_eq!(emails, ["m@x.io", "z@x.io", "y@x.io"]);
        let phones: Vec<&str> = answer.phone_numbers.iter().map(Phone::as_str).collect();
        assert_eq!(phones, ["5", "9"]);
    }

    #[test]
    fn single_field_request_matching_anything_inserts_nothing() {
        let rows = [row(1, Some("a@x.io"), Some("1"), None, 0)];
        assert!(reconcile(&req(None, Some("1")), &rows).is_read_only());
        assert!(reconcile(&req(Some("a@x.io"), None), &rows).is_read_only());
    }

    #[test]
    fn customer_without_visible_primary_promotes_its_oldest_row() {
        // row 1 (the primary) was soft-deleted: only its secondaries are visible
        let rows = [
            row(2, Some("b@x.io"), None, Some(1), 5),
            row(3, Some("c@x.io"), None, Some(1), 2),
        ];
        let w = writes(reconcile(&req(Some("b@x.io"), None), &rows));
        let merge = w.merge.clone().unwrap();
        assert_eq!((merge.primary, merge.promote_primary), (ContactId(3), true));
        assert_eq!(merge.updated_ids(), ids(&[2, 3]));
        assert_eq!(w.answer(None).unwrap().primary_contact_id, ContactId(3));
    }

    #[test]
    fn unrelated_and_duplicate_rows_are_ignored() {
        let a = row(1, Some("a@x.io"), None, None, 0);
        let rows = [a.clone(), a, row(5, Some("other@x.io"), Some("7"), None, 0)];
        let Plan::Unchanged(answer) = reconcile(&req(Some("a@x.io"), None), &rows) else {
            panic!("expected read-only");
        };
        assert_eq!(answer.secondary_contact_ids, vec![]);
        assert_eq!(answer.emails.len(), 1);
    }

    #[test]
    fn preview_is_none_for_unknown_and_excludes_the_insert() {
        assert_eq!(reconcile(&req(Some("a@x.io"), None), &[]).preview(), None);
        let rows = [row(1, Some("a@x.io"), None, None, 0)];
        let preview = reconcile(&req(Some("a@x.io"), Some("5")), &rows)
            .preview()
            .unwrap();
        assert_eq!(preview.phone_numbers, vec![]);
        assert_eq!(preview.primary_contact_id, ContactId(1));
    }
}
