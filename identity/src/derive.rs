//! The pure repair step: from `contact` rows to the customers the contract defines and their
//! records, plus the relinks that make the rows say so. `rebuild` runs it on the whole table,
//! the repair of changes made outside the library on the rows they touched, `verify` compares
//! its result with what is stored.

use std::collections::{HashMap, HashSet};

use crate::contact::{Contact, ContactId, Link};
use crate::customer::CustomerRecord;
use crate::identifier::IdentifierKind;
use crate::shared_list::SharedList;
use crate::union_find::DisjointSets;

/// What [`derive`] found: the relinks to write and every customer's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Derived {
    /// Rows whose stored link must change, with the link they must get, by id.
    pub relinks: Vec<(ContactId, Link)>,
    /// One record per customer, by primary id (versions are 0: stores assign them).
    pub customers: Vec<CustomerRecord>,
}

impl Derived {
    /// The identifiers the customers define: each value held by exactly one customer, with it,
    /// in the order of the customers (so a customer's identifiers are stored side by side). A
    /// value held by several (a blocked value that no longer joins rows, see
    /// [`derive_screened`]) has none: it is never matched.
    #[must_use]
    pub fn identifiers(&self) -> Vec<(IdentifierKind, &str, ContactId)> {
        let mut holders: HashMap<(IdentifierKind, &str), u32> = HashMap::new();
        for c in &self.customers {
            for key in values(c) {
                *holders.entry(key).or_default() += 1;
            }
        }
        self.customers
            .iter()
            .flat_map(|c| values(c).into_iter().map(move |key| (key, c.primary)))
            .filter(|(key, _)| holders.get(key) == Some(&1))
            .map(|((kind, value), owner)| (kind, value, owner))
            .collect()
    }
}

/// A customer's values, emails first, each with its kind.
fn values(c: &CustomerRecord) -> Vec<(IdentifierKind, &str)> {
    let emails = c.emails.iter().map(|e| (IdentifierKind::Email, e.as_str()));
    let phones = c
        .phone_numbers
        .iter()
        .map(|p| (IdentifierKind::Phone, p.as_str()));
    emails.chain(phones).collect()
}

/// What `rebuild` did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RebuildReport {
    /// Visible `contact` rows read.
    pub rows: u64,
    /// Customer records written.
    pub customers: u64,
    /// Rows whose link was repaired (they broke the model: chains, two primaries sharing a
    /// value, a deleted primary), by id.
    pub relinked: Vec<ContactId>,
}

impl RebuildReport {
    /// What rebuilding into `derived` did: its rows are those of its customers.
    pub(crate) fn of(derived: &Derived) -> Self {
        let rows: usize = derived
            .customers
            .iter()
            .map(CustomerRecord::row_count)
            .sum();
        RebuildReport {
            rows: rows as u64,
            customers: derived.customers.len() as u64,
            relinked: derived.relinks.iter().map(|(id, _)| *id).collect(),
        }
    }
}

/// Groups rows into customers the way the contract defines them and says how to store them.
///
/// Rows are one customer when they share an email or a phone number, or are linked (a row and
/// the row its `linked_id` names, even when that row is deleted: the secondaries of a deleted
/// primary stay one customer). Each customer's primary is its oldest row (`created_at`, then
/// id); every other row links directly to it. So rows written by hand that break the model (a
/// secondary linked to another secondary, two primaries sharing an email, a deleted primary)
/// come out as the customer identify would have built.
///
/// `rows` must be closed under those relations (every row linked to or sharing a value with a
/// given row is given too); duplicates are ignored.
///
/// ```
/// use identity::{derive, ContactId};
/// assert!(derive(&[]).customers.is_empty());
/// ```
#[must_use]
pub fn derive(rows: &[Contact]) -> Derived {
    derive_screened(rows, &|_, _| false)
}

/// [`derive`], where a value `blocked` names (a value on the tenant's blocked list) does not
/// join rows: a blocked value is never matched, so two customers may both hold it (a split that
/// blocked the values its two parts shared leaves them so). Links still join.
#[must_use]
pub fn derive_screened(
    rows: &[Contact],
    blocked: &dyn Fn(IdentifierKind, &str) -> bool,
) -> Derived {
    let mut rows: Vec<&Contact> = rows.iter().collect();
    rows.sort_by_key(|c| c.id);
    rows.dedup_by_key(|c| c.id);

    let mut sets = DisjointSets::default();
    // each value's first row, and whether the value joins rows (`None`: not looked up yet)
    let mut email_at: HashMap<&str, (usize, Option<bool>)> = HashMap::new();
    let mut phone_at: HashMap<&str, (usize, Option<bool>)> = HashMap::new();

    let index: HashMap<ContactId, usize> =
        rows.iter().enumerate().map(|(i, c)| (c.id, i)).collect();
    // link targets that are not among the rows (deleted) get nodes of their own
    let mut absent: HashMap<ContactId, usize> = HashMap::new();
    sets.grow(rows.len());
    for (i, c) in rows.iter().enumerate() {
        if let Some(to) = c.linked_id() {
            let j = match index.get(&to) {
                Some(j) => *j,
                None => *absent.entry(to).or_insert_with(|| sets.add()),
            };
            sets.union(i, j);
        }
        // a value is looked up in the list only when a second row carries it
        if let Some(e) = &c.email {
            let first = first_row(&mut email_at, e.as_str(), i, IdentifierKind::Email, blocked);
            sets.union(i, first);
        }
        if let Some(p) = &c.phone_number {
            let first = first_row(&mut phone_at, p.as_str(), i, IdentifierKind::Phone, blocked);
            sets.union(i, first);
        }
    }

    let mut groups: HashMap<usize, Vec<&Contact>> = HashMap::new();
    for (i, c) in rows.iter().enumerate() {
        groups.entry(sets.find(i)).or_default().push(c);
    }
    let mut relinks = Vec::new();
    let mut customers = Vec::with_capacity(groups.len());
    for members in groups.into_values() {
        let primary = members
            .iter()
            .min_by_key(|c| c.age())
            .expect("a group has a member");
        for c in &members {
            let link = if c.id == primary.id {
                Link::Primary
            } else {
                Link::SecondaryOf(primary.id)
            };
            if c.link != link {
                relinks.push((c.id, link));
            }
        }
        customers.push(record_of(primary, &members));
    }
    relinks.sort_by_key(|(id, _)| *id);
    customers.sort_by_key(|c| c.primary);
    Derived { relinks, customers }
}

/// The row `value` joins row `i` to: its first row, or `i` itself when the value is blocked.
fn first_row<'r>(
    at: &mut HashMap<&'r str, (usize, Option<bool>)>,
    value: &'r str,
    i: usize,
    kind: IdentifierKind,
    blocked: &dyn Fn(IdentifierKind, &str) -> bool,
) -> usize {
    let (first, joins) = at.entry(value).or_insert((i, None));
    if *first == i || *joins.get_or_insert_with(|| !blocked(kind, value)) {
        *first
    } else {
        i
    }
}

/// The record of one customer; `members` ascending by id, `primary` among them. Linear: each
/// value's first row is the first member (lowest id) that carries it.
pub(crate) fn record_of(primary: &Contact, members: &[&Contact]) -> CustomerRecord {
    let mut record = CustomerRecord::new(primary.id, None, None, primary.created_at);
    (record.emails, record.email_rows) =
        first_rows(members, |c| c.email.as_ref(), primary.email.as_ref());
    (record.phone_numbers, record.phone_rows) = first_rows(
        members,
        |c| c.phone_number.as_ref(),
        primary.phone_number.as_ref(),
    );
    record.primary_has_email = primary.email.is_some();
    record.primary_has_phone = primary.phone_number.is_some();
    record.secondary_ids = members
        .iter()
        .map(|c| c.id)
        .filter(|id| *id != primary.id)
        .collect();
    record.last_row_at = members
        .iter()
        .map(|c| c.created_at)
        .max()
        .unwrap_or(primary.created_at);
    record
}

/// Each distinct value with its first row, in answer order: `lead` (the primary row's value)
/// first, then by first row.
fn first_rows<T: Clone + Eq + std::hash::Hash>(
    members: &[&Contact],
    value: impl Fn(&Contact) -> Option<&T>,
    lead: Option<&T>,
) -> (SharedList<T>, SharedList<ContactId>) {
    let mut seen: HashSet<&T> = HashSet::new();
    let mut out: Vec<(T, ContactId)> = Vec::new();
    for c in members {
        if let Some(v) = value(c)
            && seen.insert(v)
        {
            out.push((v.clone(), c.id));
        }
    }
    if let Some(at) = lead.and_then(|l| out.iter().position(|(v, _)| v == l)) {
        let first = out.remove(at);
        out.insert(0, first);
    }
    let (values, rows): (Vec<T>, Vec<ContactId>) = out.into_iter().unzip();
    (values.into(), rows.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contact::test_row as row;
    use crate::contact::{Email, Phone};

    fn ids(v: &[i64]) -> Vec<ContactId> {
        v.iter().copied().map(ContactId::new).collect()
    }

    #[test]
    fn well_formed_rows_need_no_relink_and_give_their_answer() {
        let rows = [
            row(1, Some("a@x.io"), Some("1"), None, 0),
            row(2, Some("b@x.io"), Some("1"), Some(1), 1),
            row(3, Some("c@x.io"), Some("3"), None, 2),
        ];
        let d = derive(&rows);
        assert_eq!(d.relinks, vec![]);
        assert_eq!(d.customers.len(), 2);
        let first = d.customers[0].answer();
        assert_eq!(first.primary_contact_id, ContactId::new(1));
        assert_eq!(first.secondary_contact_ids, ids(&[2]));
        assert_eq!(first.emails.len(), 2);
        assert_eq!(d.customers[0].last_row_at, rows[1].created_at);
    }

    #[test]
    fn a_chained_secondary_is_relinked_to_the_top() {
        // 3 -> 2 -> 1: written by hand; 3 belongs to customer 1, not to a customer of its own
        let rows = [
            row(1, Some("a@x.io"), None, None, 0),
            row(2, Some("b@x.io"), None, Some(1), 1),
            row(3, Some("c@x.io"), None, Some(2), 2),
        ];
        let d = derive(&rows);
        assert_eq!(
            d.relinks,
            vec![(ContactId::new(3), Link::SecondaryOf(ContactId::new(1)))]
        );
        assert_eq!(d.customers.len(), 1);
        assert_eq!(d.customers[0].secondary_ids, ids(&[2, 3]));
    }

    #[test]
    fn two_primaries_sharing_a_value_become_one_customer_led_by_the_older() {
        let rows = [
            row(1, Some("a@x.io"), Some("1"), None, 10),
            row(2, Some("b@x.io"), Some("1"), None, 5),
        ];
        let d = derive(&rows);
        assert_eq!(
            d.relinks,
            vec![(ContactId::new(1), Link::SecondaryOf(ContactId::new(2)))]
        );
        let c = &d.customers[0];
        assert_eq!(c.primary, ContactId::new(2));
        let emails: Vec<&str> = c.emails.iter().map(Email::as_str).collect();
        assert_eq!(emails, ["b@x.io", "a@x.io"], "the primary's email first");
        assert_eq!(c.email_rows, vec![ContactId::new(2), ContactId::new(1)]);
        // the phone's first row is row 1, although the primary (row 2) carries it too
        assert_eq!(c.phone_numbers, vec![Phone::parse("1").unwrap()]);
        assert_eq!(c.phone_rows, vec![ContactId::new(1)]);
    }

    #[test]
    fn secondaries_of_a_deleted_primary_stay_together_led_by_their_oldest() {
        let rows = [
            row(2, Some("b@x.io"), None, Some(1), 5),
            row(3, Some("c@x.io"), None, Some(1), 2),
        ];
        let d = derive(&rows);
        assert_eq!(
            d.relinks,
            vec![
                (ContactId::new(2), Link::SecondaryOf(ContactId::new(3))),
                (ContactId::new(3), Link::Primary)
            ]
        );
        assert_eq!(d.customers[0].primary, ContactId::new(3));
    }

    #[test]
    fn rows_linked_without_a_shared_value_stay_one_customer() {
        // the row that joined them was deleted: a merge is never undone by a deletion
        let rows = [
            row(1, Some("a@x.io"), Some("1"), None, 0),
            row(3, Some("c@x.io"), Some("3"), Some(1), 2),
        ];
        let d = derive(&rows);
        assert_eq!(d.relinks, vec![]);
        assert_eq!(d.customers.len(), 1);
    }
}
