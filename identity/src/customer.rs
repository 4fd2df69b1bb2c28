//! The derived record of one customer ([`CustomerRecord`]): everything its answer needs, kept
//! beside the `contact` rows so that a returning customer is answered without reading its rows.

use serde::Serialize;
use time::OffsetDateTime;

use crate::contact::{Contact, ContactId, Email, Phone};
use crate::request::ConsolidatedContact;
use crate::shared_list::SharedList;

/// A customer as its rows show it ([`crate::Identity::customer`]): its primary's id and every
/// visible row, by id. Its wire shape is `{"customerId": 1, "rows": [...]}`, each row as
/// `GET /admin/contacts` writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Customer {
    /// The customer's primary row (its oldest).
    pub customer_id: ContactId,
    /// Its visible rows, by id, the primary among them.
    pub rows: Vec<Contact>,
}

impl Customer {
    /// The customer whose primary is `customer_id`, with its `rows`.
    #[must_use]
    pub fn new(customer_id: ContactId, rows: Vec<Contact>) -> Self {
        Customer { customer_id, rows }
    }
}

/// What the stores keep per customer, in the same transaction as the rows it derives from.
///
/// Values are in answer order: the primary row's first (if it has one), then by the id of the
/// first row that carries them. Each value is kept with that row id, which is what lets two
/// records be merged without reading their rows.
///
/// ```
/// use identity::{ContactId, CustomerRecord, Email};
/// let at = time::OffsetDateTime::UNIX_EPOCH;
/// let mut record = CustomerRecord::new(ContactId::new(1), Some(&Email::parse("a@x.io")?), None, at);
/// record.add_row(ContactId::new(2), Some(&Email::parse("b@x.io")?), None, at);
/// let answer = record.answer();
/// assert_eq!(answer.emails.len(), 2);
/// assert_eq!(answer.secondary_contact_ids, vec![ContactId::new(2)]);
/// # Ok::<(), identity::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerRecord {
    /// The customer's primary row (its oldest).
    pub primary: ContactId,
    /// The primary's `created_at`: the customer's age when two customers merge.
    pub created_at: OffsetDateTime,
    /// The newest `created_at` of its rows: a new row is stamped no earlier, so the primary
    /// stays the oldest row even if the clock steps back.
    pub last_row_at: OffsetDateTime,
    /// Distinct emails in answer order.
    pub emails: SharedList<Email>,
    /// For each of `emails`, the first (lowest id) row that carries it.
    pub email_rows: SharedList<ContactId>,
    /// Distinct phone numbers in answer order.
    pub phone_numbers: SharedList<Phone>,
    /// For each of `phone_numbers`, the first row that carries it.
    pub phone_rows: SharedList<ContactId>,
    /// Whether the primary row has an email: then it is `emails[0]`.
    pub primary_has_email: bool,
    /// Whether the primary row has a phone number: then it is `phone_numbers[0]`.
    pub primary_has_phone: bool,
    /// Every secondary row, ascending.
    pub secondary_ids: SharedList<ContactId>,
    /// Changes on every write of the record (never reused): the PostgreSQL store applies a
    /// merge planned from a record only if its version is still the same.
    pub version: i64,
}

impl CustomerRecord {
    /// The record of a new customer: its primary row alone.
    #[must_use]
    pub fn new(
        primary: ContactId,
        email: Option<&Email>,
        phone: Option<&Phone>,
        created_at: OffsetDateTime,
    ) -> Self {
        let firsts = |present: bool| -> SharedList<ContactId> {
            std::iter::once(primary).filter(|_| present).collect()
        };
        CustomerRecord {
            primary,
            created_at,
            last_row_at: created_at,
            emails: email.cloned().into_iter().collect(),
            email_rows: firsts(email.is_some()),
            phone_numbers: phone.cloned().into_iter().collect(),
            phone_rows: firsts(phone.is_some()),
            primary_has_email: email.is_some(),
            primary_has_phone: phone.is_some(),
            secondary_ids: SharedList::new(),
            version: 0,
        }
    }

    /// How many rows the customer has.
    #[must_use]
    pub fn row_count(&self) -> usize {
        self.secondary_ids.len() + 1
    }

    /// Whether the customer has this email.
    #[must_use]
    pub fn has_email(&self, email: &Email) -> bool {
        self.emails.contains(email)
    }

    /// Whether the customer has this phone number.
    #[must_use]
    pub fn has_phone(&self, phone: &Phone) -> bool {
        self.phone_numbers.contains(phone)
    }

    /// The emails, each with its first row.
    pub fn emails_with_rows(&self) -> impl Iterator<Item = (&Email, ContactId)> {
        self.emails.iter().zip(self.email_rows.iter().copied())
    }

    /// The phone numbers, each with its first row.
    pub fn phones_with_rows(&self) -> impl Iterator<Item = (&Phone, ContactId)> {
        self.phone_numbers
            .iter()
            .zip(self.phone_rows.iter().copied())
    }

    /// Adds a secondary row with a higher id than every row of the customer (a row just
    /// inserted): its values that are new go last. Scans the lists for the values; see
    /// [`CustomerRecord::append_row`] when it is known which are new.
    pub fn add_row(
        &mut self,
        id: ContactId,
        email: Option<&Email>,
        phone: Option<&Phone>,
        created_at: OffsetDateTime,
    ) {
        let email = email.filter(|e| !self.has_email(e)).cloned();
        let phone = phone.filter(|p| !self.has_phone(p)).cloned();
        self.append_row(id, email, phone, created_at);
    }

    /// Adds a secondary row with a higher id than every row of the customer, carrying
    /// `new_email` and `new_phone`, values the customer does not hold yet (its values that it
    /// holds already are left out). O(1) amortized at any size, even while answers share the
    /// lists.
    pub fn append_row(
        &mut self,
        id: ContactId,
        new_email: Option<Email>,
        new_phone: Option<Phone>,
        created_at: OffsetDateTime,
    ) {
        if let Some(e) = new_email {
            self.emails.push(e);
            self.email_rows.push(id);
        }
        if let Some(p) = new_phone {
            self.phone_numbers.push(p);
            self.phone_rows.push(id);
        }
        self.secondary_ids.push(id);
        self.last_row_at = self.last_row_at.max(created_at);
    }

    /// The record of the customer that `self` (the older) and `absorbed` form together.
    #[must_use]
    pub fn merged_with(&self, absorbed: &CustomerRecord) -> CustomerRecord {
        let mut secondary_ids: Vec<ContactId> = self
            .secondary_ids
            .iter()
            .chain(&absorbed.secondary_ids)
            .copied()
            .chain(std::iter::once(absorbed.primary))
            .collect();
        secondary_ids.sort_unstable();
        let (emails, email_rows) = merge_values(
            self.primary_has_email,
            self.emails_with_rows(),
            absorbed.emails_with_rows(),
        );
        let (phone_numbers, phone_rows) = merge_values(
            self.primary_has_phone,
            self.phones_with_rows(),
            absorbed.phones_with_rows(),
        );
        CustomerRecord {
            primary: self.primary,
            created_at: self.created_at,
            last_row_at: self.last_row_at.max(absorbed.last_row_at),
            emails,
            email_rows,
            phone_numbers,
            phone_rows,
            primary_has_email: self.primary_has_email,
            primary_has_phone: self.primary_has_phone,
            secondary_ids: secondary_ids.into(),
            version: self.version,
        }
    }

    /// The part of this (merged) customer made of `rows`, whose primary was `primary`: the
    /// values whose first row is one of them, and the rest of them as secondaries. Of a record
    /// that `kept.merged_with(&absorbed)` made, with `absorbed`'s rows, it is `absorbed`'s
    /// lists, so `kept` merged with it is that record again (a SQLite merge entry carries it).
    #[must_use]
    pub(crate) fn part(&self, primary: ContactId, rows: &[ContactId]) -> CustomerRecord {
        let rows: std::collections::HashSet<ContactId> = rows.iter().copied().collect();
        let (emails, email_rows): (Vec<Email>, Vec<ContactId>) = self
            .emails_with_rows()
            .filter(|(_, first)| rows.contains(first))
            .map(|(email, first)| (email.clone(), first))
            .unzip();
        let (phone_numbers, phone_rows): (Vec<Phone>, Vec<ContactId>) = self
            .phones_with_rows()
            .filter(|(_, first)| rows.contains(first))
            .map(|(phone, first)| (phone.clone(), first))
            .unzip();
        let mut secondary_ids: Vec<ContactId> =
            rows.iter().copied().filter(|id| *id != primary).collect();
        secondary_ids.sort_unstable();
        CustomerRecord {
            primary,
            created_at: self.created_at,
            last_row_at: self.last_row_at,
            primary_has_email: email_rows.first() == Some(&primary),
            primary_has_phone: phone_rows.first() == Some(&primary),
            emails: emails.into(),
            email_rows: email_rows.into(),
            phone_numbers: phone_numbers.into(),
            phone_rows: phone_rows.into(),
            secondary_ids: secondary_ids.into(),
            version: 0,
        }
    }

    /// The answer: the record without the row ids and timestamps. O(1): the answer shares the
    /// record's lists.
    #[must_use]
    pub fn answer(&self) -> ConsolidatedContact {
        ConsolidatedContact {
            primary_contact_id: self.primary,
            emails: self.emails.clone(),
            phone_numbers: self.phone_numbers.clone(),
            secondary_contact_ids: self.secondary_ids.clone(),
            ignored: Vec::new(),
        }
    }
}

/// Both lists in answer order for the kept primary: its row's value first (when `led`, it is
/// the first of `kept`), then every other value by first row. A value belongs to one customer
/// only, so no value appears in both lists.
fn merge_values<'a, T: Clone + 'a>(
    led: bool,
    kept: impl Iterator<Item = (&'a T, ContactId)>,
    absorbed: impl Iterator<Item = (&'a T, ContactId)>,
) -> (SharedList<T>, SharedList<ContactId>) {
    let mut kept = kept.peekable();
    let lead = if led { kept.next() } else { None };
    let mut others: Vec<(&T, ContactId)> = kept.chain(absorbed).collect();
    others.sort_by_key(|(_, first)| *first);
    let (values, rows): (Vec<T>, Vec<ContactId>) = lead
        .into_iter()
        .chain(others)
        .map(|(value, first)| (value.clone(), first))
        .unzip();
    (values.into(), rows.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(seconds).unwrap()
    }

    fn email(s: &str) -> Email {
        Email::parse(s).unwrap()
    }

    fn id(n: i64) -> ContactId {
        ContactId::new(n)
    }

    #[test]
    fn merged_values_keep_the_kept_primary_first_then_first_row_order() {
        // customer 2 (older, primary row 2 with z@), customer 1 (newer primary row 1 with a@):
        // created_at, not ids, decide the primary, so ids interleave
        let mut kept = CustomerRecord::new(id(2), Some(&email("z@x.io")), None, at(0));
        kept.add_row(id(5), Some(&email("m@x.io")), None, at(5));
        let mut absorbed = CustomerRecord::new(id(1), Some(&email("a@x.io")), None, at(3));
        absorbed.add_row(id(7), Some(&email("q@x.io")), None, at(7));
        let merged = kept.merged_with(&absorbed);
        let emails: Vec<&str> = merged.emails.iter().map(Email::as_str).collect();
        assert_eq!(emails, ["z@x.io", "a@x.io", "m@x.io", "q@x.io"]);
        assert_eq!(merged.email_rows, vec![id(2), id(1), id(5), id(7)]);
        assert_eq!(merged.secondary_ids, vec![id(1), id(5), id(7)]);
        assert_eq!(merged.last_row_at, at(7));
        assert_eq!(merged.created_at, at(0));
        assert_eq!(merged.row_count(), 4);
    }

    #[test]
    fn the_absorbed_part_of_a_merged_record_merges_into_the_same_record() {
        let mut kept = CustomerRecord::new(id(2), Some(&email("z@x.io")), None, at(0));
        kept.add_row(
            id(5),
            Some(&email("m@x.io")),
            Some(&Phone::parse("55").unwrap()),
            at(5),
        );
        let mut absorbed = CustomerRecord::new(id(1), Some(&email("a@x.io")), None, at(3));
        absorbed.add_row(
            id(7),
            Some(&email("q@x.io")),
            Some(&Phone::parse("77").unwrap()),
            at(7),
        );
        absorbed.add_row(id(9), Some(&email("a@x.io")), None, at(8));
        let merged = kept.merged_with(&absorbed);
        let part = merged.part(id(1), &[id(1), id(7), id(9)]);
        let emails: Vec<&str> = part.emails.iter().map(Email::as_str).collect();
        assert_eq!(emails, ["a@x.io", "q@x.io"]);
        assert_eq!(part.email_rows, vec![id(1), id(7)]);
        assert_eq!(part.phone_rows, vec![id(7)]);
        assert_eq!(part.secondary_ids, vec![id(7), id(9)]);
        let again = kept.merged_with(&part);
        assert_eq!(again, merged);
    }

    #[test]
    fn a_primary_without_a_value_leaves_the_order_to_row_ids() {
        let mut kept = CustomerRecord::new(id(1), None, Some(&Phone::parse("1").unwrap()), at(0));
        kept.add_row(id(4), Some(&email("d@x.io")), None, at(4));
        let absorbed = CustomerRecord::new(id(2), Some(&email("b@x.io")), None, at(1));
        let merged = kept.merged_with(&absorbed);
        let emails: Vec<&str> = merged.emails.iter().map(Email::as_str).collect();
        assert_eq!(emails, ["b@x.io", "d@x.io"]);
        assert_eq!(merged.email_rows, vec![id(2), id(4)]);
        assert_eq!(merged.phone_rows, vec![id(1)]);
    }

    #[test]
    fn adding_a_known_value_adds_only_the_row() {
        let mut record = CustomerRecord::new(id(1), Some(&email("a@x.io")), None, at(0));
        record.add_row(id(2), Some(&email("a@x.io")), None, at(1));
        assert_eq!(record.emails.len(), 1);
        assert_eq!(record.secondary_ids, vec![id(2)]);
        assert!(record.has_email(&email("a@x.io")));
    }

    #[test]
    fn the_answer_shares_the_records_lists() {
        let mut record = CustomerRecord::new(id(1), Some(&email("a@x.io")), None, at(0));
        record.add_row(id(2), Some(&email("b@x.io")), None, at(1));
        let answer = record.answer();
        assert!(answer.emails.shares_with(&record.emails));
        assert!(
            answer
                .secondary_contact_ids
                .shares_with(&record.secondary_ids)
        );
        // a row added later changes the record, never an answer already given
        record.add_row(id(3), Some(&email("c@x.io")), None, at(2));
        assert_eq!(answer.emails.len(), 2);
        assert_eq!(record.emails.len(), 3);
    }
}
