//! The pure identify step: from a request and the records of the customers that hold its values
//! to what to write and what to answer. No I/O; every store runs exactly this.

use std::collections::HashSet;

use time::OffsetDateTime;

use crate::contact::{ContactId, Email, Phone};
use crate::customer::CustomerRecord;
use crate::error::{Error, Field, Result};
use crate::history::Change;
use crate::history::stored::{kinds, via_text};
use crate::limits::Limits;
use crate::request::{ConsolidatedContact, IdentifyRequest};
use crate::request::{Ignored, IgnoredReason};

/// What a store read for a request: which customer holds the request's email, which holds its
/// phone, and those customers' records. Built only through [`Matched::new`], which checks that
/// every owner comes with its record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    email_owner: Option<ContactId>,
    phone_owner: Option<ContactId>,
    customers: Vec<CustomerRecord>,
}

impl Matched {
    /// Nothing known: neither value belongs to a customer.
    #[must_use]
    pub fn nothing() -> Self {
        Matched {
            email_owner: None,
            phone_owner: None,
            customers: Vec::new(),
        }
    }

    /// The owners of the request's email and phone (by primary id) and their records (extra
    /// records are dropped).
    ///
    /// # Errors
    /// [`Error::CorruptGraph`] when an owner has no record: the derived records disagree with
    /// each other (someone edited them by hand); `rebuild` recomputes them.
    pub fn new(
        email_owner: Option<ContactId>,
        phone_owner: Option<ContactId>,
        mut customers: Vec<CustomerRecord>,
    ) -> Result<Self> {
        customers.retain(|c| Some(c.primary) == email_owner || Some(c.primary) == phone_owner);
        customers.dedup_by_key(|c| c.primary);
        for owner in email_owner.iter().chain(&phone_owner) {
            if !customers.iter().any(|c| c.primary == *owner) {
                return Err(Error::CorruptGraph {
                    reason: format!("an identifier names customer {owner}, which has no record"),
                });
            }
        }
        Ok(Matched {
            email_owner,
            phone_owner,
            customers,
        })
    }

    fn take(&mut self, owner: ContactId) -> CustomerRecord {
        let at = self
            .customers
            .iter()
            .position(|c| c.primary == owner)
            .expect("Matched::new checked that every owner has a record");
        self.customers.swap_remove(at)
    }
}

/// A new customer: insert a primary row with the request's values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCustomer {
    /// The request's email.
    pub email: Option<Email>,
    /// The request's phone number.
    pub phone_number: Option<Phone>,
}

impl NewCustomer {
    /// The answer once the new row is `id`.
    #[must_use]
    pub fn answer(&self, id: ContactId) -> ConsolidatedContact {
        self.record(id, OffsetDateTime::UNIX_EPOCH).answer()
    }

    /// The new customer's record once its row is `id`, stamped `created_at`.
    #[must_use]
    pub fn record(&self, id: ContactId, created_at: OffsetDateTime) -> CustomerRecord {
        CustomerRecord::new(
            id,
            self.email.as_ref(),
            self.phone_number.as_ref(),
            created_at,
        )
    }

    /// The history event of the customer's first row, `id`.
    pub(crate) fn event(&self, id: ContactId) -> Change {
        Change::Created {
            contact: id,
            email: self.email.clone(),
            phone_number: self.phone_number.clone(),
            via: Vec::new(),
        }
    }
}

/// A new value for a known customer: insert a secondary row with the request's values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddRow {
    /// The customer's record as read.
    pub customer: CustomerRecord,
    /// The request's email.
    pub email: Option<Email>,
    /// The request's phone number.
    pub phone_number: Option<Phone>,
    /// Whether the customer holds the request's email already (its identifier names the
    /// customer); otherwise a request's email is new to every customer.
    pub email_held: bool,
    /// Whether the customer holds the request's phone number already.
    pub phone_held: bool,
}

impl AddRow {
    /// The request's email when it is new to every customer (its identifier is to be created).
    #[must_use]
    pub fn new_email(&self) -> Option<&Email> {
        self.email.as_ref().filter(|_| !self.email_held)
    }

    /// The request's phone number when it is new to every customer.
    #[must_use]
    pub fn new_phone(&self) -> Option<&Phone> {
        self.phone_number.as_ref().filter(|_| !self.phone_held)
    }

    /// The earliest `created_at` the new row may have: the customer's newest row's.
    #[must_use]
    pub fn not_before(&self) -> OffsetDateTime {
        self.customer.last_row_at
    }

    /// The answer once the new row is `id`.
    #[must_use]
    pub fn answer(self, id: ContactId) -> ConsolidatedContact {
        let at = self.not_before();
        self.into_record(id, at).answer()
    }

    /// The customer's record once the row `id`, stamped `created_at`, is added.
    #[must_use]
    pub fn into_record(self, id: ContactId, created_at: OffsetDateTime) -> CustomerRecord {
        let (email, phone) = (self.new_email().cloned(), self.new_phone().cloned());
        let mut record = self.customer;
        record.append_row(id, email, phone, created_at);
        record
    }

    /// The history event of the row `id` it adds, with the values the customer held already.
    pub(crate) fn event(&self, id: ContactId) -> Change {
        let via = via_text(
            self.email.is_some() && self.email_held,
            self.phone_number.is_some() && self.phone_held,
        );
        Change::Created {
            contact: id,
            email: self.email.clone(),
            phone_number: self.phone_number.clone(),
            via: kinds(via),
        }
    }
}

/// Two customers joined by the request: the newer one's rows all become secondaries of the
/// older one's primary. Never inserts (both values are known already).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merge {
    /// The version of the kept (older) customer's record the plan was made from.
    pub kept_version: i64,
    /// The absorbed (newer) customer's primary.
    pub absorbed: ContactId,
    /// The version of the absorbed customer's record the plan was made from.
    pub absorbed_version: i64,
    /// The rows to relink to the kept primary: the absorbed primary and its secondaries,
    /// ascending.
    pub relink: Vec<ContactId>,
    /// The record of the merged customer (its version is the kept one's until stored).
    pub merged: CustomerRecord,
    /// The answer when the two customers are kept apart ([`crate::Identity::split`]): the
    /// customer of the request's email as read, saying that the phone number was left out.
    pub withheld: ConsolidatedContact,
}

impl Merge {
    /// The history event of the merge, which `request` made.
    pub(crate) fn event(&self, request: &IdentifyRequest) -> Change {
        Change::Merged {
            absorbed: self.absorbed,
            relinked: self.relink.clone(),
            email: request.email().cloned(),
            phone_number: request.phone_number().cloned(),
        }
    }
}

/// The outcome of [`plan`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Nothing to write: the request is already fully known. Carries the answer.
    Unchanged(ConsolidatedContact),
    /// Insert a primary row.
    NewCustomer(NewCustomer),
    /// Insert a secondary row into a known customer.
    AddRow(AddRow),
    /// Join two customers.
    Merge(Merge),
}

impl Plan {
    /// The answer a read-only `lookup` gives: the customer as identify would merge it, without
    /// the row identify would insert. `None` when nothing matches the request.
    #[must_use]
    pub fn preview(self) -> Option<ConsolidatedContact> {
        match self {
            Plan::Unchanged(answer) => Some(answer),
            Plan::NewCustomer(_) => None,
            Plan::AddRow(add) => Some(add.customer.answer()),
            Plan::Merge(merge) => Some(merge.merged.answer()),
        }
    }
}

/// The identify step, without caps ([`plan_within`] with [`Limits::none`]).
///
/// ```
/// use identity::{plan, IdentifyRequest, Matched, Plan};
/// let req = IdentifyRequest::parse(Some("doc@hillvalley.edu"), None)?;
/// assert!(matches!(plan(&req, Matched::nothing()), Plan::NewCustomer(_)));
/// # Ok::<(), identity::Error>(())
/// ```
#[must_use]
pub fn plan(request: &IdentifyRequest, matched: Matched) -> Plan {
    plan_within(request, matched, Limits::none())
}

/// The identify step under a tenant's per-customer caps: a new value that would give its
/// customer more distinct emails or phone numbers than `limits` allow is left out, and a merge
/// whose customer would pass a cap is withheld (the email's customer answers); either way the
/// answer is [`Plan::Unchanged`], its `ignored` naming the value with
/// [`IgnoredReason::Limit`].
#[must_use]
pub fn plan_within(request: &IdentifyRequest, mut matched: Matched, limits: Limits) -> Plan {
    let owners = (matched.email_owner, matched.phone_owner);
    match owners {
        (None, None) => Plan::NewCustomer(NewCustomer {
            email: request.email().cloned(),
            phone_number: request.phone_number().cloned(),
        }),
        (Some(a), Some(b)) if a != b => {
            let (a, b) = (matched.take(a), matched.take(b));
            let withheld = a.answer().with_ignored(&[Ignored {
                field: Field::PhoneNumber,
                reason: IgnoredReason::KeptApart,
            }]);
            let merged_size = |a: &CustomerRecord, b: &CustomerRecord| {
                let emails = a
                    .emails
                    .iter()
                    .chain(b.emails.iter())
                    .collect::<HashSet<_>>();
                let phones = a.phone_numbers.iter().chain(b.phone_numbers.iter());
                (emails.len(), phones.collect::<HashSet<_>>().len())
            };
            // counted only under a cap: a merge without one costs what it did
            if limits != Limits::none() && {
                let (emails, phones) = merged_size(&a, &b);
                limits.exceeded(emails, phones)
            } {
                let limited = Ignored {
                    field: Field::PhoneNumber,
                    reason: IgnoredReason::Limit,
                };
                return Plan::Unchanged(a.answer().with_ignored(&[limited]));
            }
            let age = |c: &CustomerRecord| (c.created_at, c.primary);
            let (kept, absorbed) = if age(&a) <= age(&b) { (a, b) } else { (b, a) };
            let mut relink = absorbed.secondary_ids.to_vec();
            relink.push(absorbed.primary);
            relink.sort_unstable();
            Plan::Merge(Merge {
                kept_version: kept.version,
                absorbed: absorbed.primary,
                absorbed_version: absorbed.version,
                relink,
                merged: kept.merged_with(&absorbed),
                withheld,
            })
        }
        (Some(owner), _) | (None, Some(owner)) => {
            let add = AddRow {
                customer: matched.take(owner),
                email: request.email().cloned(),
                phone_number: request.phone_number().cloned(),
                email_held: owners.0.is_some(),
                phone_held: owners.1.is_some(),
            };
            // every value the request carries has an owner, and all are this customer: known
            // (by the identifiers, without scanning the customer's lists)
            let known = |value: bool, owner: Option<ContactId>| !value || owner.is_some();
            if known(request.email().is_some(), owners.0)
                && known(request.phone_number().is_some(), owners.1)
            {
                return Plan::Unchanged(add.customer.answer());
            }
            // one value is new (the other is the customer's): past a cap, it is left out and
            // the request is known
            let (emails, phones) = (
                add.customer.emails.len() + usize::from(add.new_email().is_some()),
                add.customer.phone_numbers.len() + usize::from(add.new_phone().is_some()),
            );
            if limits.exceeded(emails, phones) {
                let field = match add.new_email() {
                    Some(_) => Field::Email,
                    None => Field::PhoneNumber,
                };
                let limited = Ignored {
                    field,
                    reason: IgnoredReason::Limit,
                };
                return Plan::Unchanged(add.customer.answer().with_ignored(&[limited]));
            }
            Plan::AddRow(add)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(seconds).unwrap()
    }

    fn id(n: i64) -> ContactId {
        ContactId::new(n)
    }

    /// A one-row customer.
    fn customer(primary: i64, email: &str, phone: &str, age: i64) -> CustomerRecord {
        let mut c = CustomerRecord::new(
            id(primary),
            Some(&Email::parse(email).unwrap()),
            Some(&Phone::parse(phone).unwrap()),
            at(age),
        );
        c.version = primary * 10;
        c
    }

    fn req(email: Option<&str>, phone: Option<&str>) -> IdentifyRequest {
        IdentifyRequest::parse(email, phone).unwrap()
    }

    fn matched(email: Option<i64>, phone: Option<i64>, records: Vec<CustomerRecord>) -> Matched {
        Matched::new(email.map(id), phone.map(id), records).unwrap()
    }

    #[test]
    fn unknown_values_start_a_new_customer() {
        let Plan::NewCustomer(new) = plan(&req(Some("doc@x.io"), Some("1")), Matched::nothing())
        else {
            panic!("expected a new customer");
        };
        let answer = new.record(id(9), at(0)).answer();
        assert_eq!(answer.primary_contact_id, id(9));
        assert_eq!(answer.emails[0].as_str(), "doc@x.io");
        assert_eq!(answer.secondary_contact_ids, vec![]);
    }

    #[test]
    fn known_values_of_one_customer_change_nothing() {
        let c = customer(1, "a@x.io", "1", 0);
        for (e, p, request) in [
            (Some(1), Some(1), req(Some("A@x.io "), Some("1"))),
            (Some(1), None, req(Some("a@x.io"), None)),
            (None, Some(1), req(None, Some("1"))),
        ] {
            let plan = plan(&request, matched(e, p, vec![c.clone()]));
            assert_eq!(plan, Plan::Unchanged(c.answer()), "{request:?}");
        }
    }

    #[test]
    fn a_new_value_for_a_known_customer_adds_a_secondary_after_its_newest_row() {
        let mut c = customer(1, "lorraine@x.io", "123456", 0);
        c.last_row_at = at(50);
        let Plan::AddRow(add) = plan(
            &req(Some("mcfly@x.io"), Some("123456")),
            matched(None, Some(1), vec![c]),
        ) else {
            panic!("expected a new row");
        };
        assert_eq!(add.new_email().unwrap().as_str(), "mcfly@x.io");
        assert_eq!(add.new_phone(), None);
        assert_eq!(add.not_before(), at(50));
        let answer = add.into_record(id(23), at(60)).answer();
        let emails: Vec<&str> = answer.emails.iter().map(Email::as_str).collect();
        assert_eq!(emails, ["lorraine@x.io", "mcfly@x.io"]);
        assert_eq!(answer.phone_numbers.len(), 1);
        assert_eq!(answer.secondary_contact_ids, vec![id(23)]);
    }

    #[test]
    fn joining_two_customers_keeps_the_older_and_relinks_all_of_the_newer() {
        let george = customer(11, "george@x.io", "919191", 0);
        let mut biff = customer(27, "biff@x.io", "717171", 5);
        biff.add_row(id(30), None, Some(&Phone::parse("2").unwrap()), at(6));
        let Plan::Merge(merge) = plan(
            &req(Some("george@x.io"), Some("717171")),
            matched(Some(11), Some(27), vec![biff, george]),
        ) else {
            panic!("expected a merge");
        };
        assert_eq!(merge.absorbed, id(27));
        assert_eq!((merge.kept_version, merge.absorbed_version), (110, 270));
        assert_eq!(merge.relink, vec![id(27), id(30)]);
        let answer = merge.merged.answer();
        assert_eq!(answer.primary_contact_id, id(11));
        let phones: Vec<&str> = answer.phone_numbers.iter().map(Phone::as_str).collect();
        assert_eq!(phones, ["919191", "717171", "2"]);
        assert_eq!(answer.secondary_contact_ids, vec![id(27), id(30)]);
    }

    #[test]
    fn the_oldest_by_created_at_wins_over_the_lower_id() {
        let Plan::Merge(merge) = plan(
            &req(Some("a@x.io"), Some("2")),
            matched(
                Some(1),
                Some(2),
                vec![
                    customer(1, "a@x.io", "1", 50),
                    customer(2, "b@x.io", "2", 10),
                ],
            ),
        ) else {
            panic!("expected a merge");
        };
        assert_eq!(merge.merged.primary, id(2));
        assert_eq!(merge.relink, vec![id(1)]);
    }

    #[test]
    fn preview_shows_the_merge_but_not_the_insert() {
        let c = customer(1, "a@x.io", "1", 0);
        let preview = plan(
            &req(Some("a@x.io"), Some("5")),
            matched(Some(1), None, vec![c]),
        )
        .preview()
        .unwrap();
        assert_eq!(preview.phone_numbers.len(), 1);
        assert_eq!(
            plan(&req(Some("n@x.io"), None), Matched::nothing()).preview(),
            None
        );
    }

    #[test]
    fn caps_leave_a_new_value_out_and_withhold_a_merge() {
        let limits = Limits::new(Some(1), Some(2)).unwrap();
        let c = customer(1, "a@x.io", "1", 0);
        // a second phone fits, a second email does not
        let fits = plan_within(
            &req(Some("a@x.io"), Some("2")),
            matched(Some(1), None, vec![c.clone()]),
            limits,
        );
        assert!(matches!(fits, Plan::AddRow(_)), "{fits:?}");
        let Plan::Unchanged(answer) = plan_within(
            &req(Some("b@x.io"), Some("1")),
            matched(None, Some(1), vec![c.clone()]),
            limits,
        ) else {
            panic!("expected the new email left out");
        };
        assert_eq!(answer.primary_contact_id, id(1));
        assert_eq!(answer.emails.len(), 1);
        assert_eq!(
            answer.ignored,
            vec![Ignored {
                field: Field::Email,
                reason: IgnoredReason::Limit
            }]
        );
        // a merge past the email cap: the email's customer answers, the phone left out
        let other = customer(2, "b@x.io", "2", 5);
        let Plan::Unchanged(answer) = plan_within(
            &req(Some("b@x.io"), Some("1")),
            matched(Some(2), Some(1), vec![c.clone(), other.clone()]),
            limits,
        ) else {
            panic!("expected the merge withheld");
        };
        assert_eq!(answer.primary_contact_id, id(2));
        assert_eq!(
            answer.ignored[0],
            Ignored {
                field: Field::PhoneNumber,
                reason: IgnoredReason::Limit
            }
        );
        // without caps the same requests write
        assert!(matches!(
            plan(
                &req(Some("b@x.io"), Some("1")),
                matched(Some(2), Some(1), vec![c, other])
            ),
            Plan::Merge(_)
        ));
    }

    #[test]
    fn an_owner_without_a_record_is_a_corrupt_graph() {
        let err = Matched::new(Some(id(4)), None, vec![customer(1, "a@x.io", "1", 0)]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "corrupt identity graph: an identifier names customer 4, which has no record; rebuild recomputes it"
        );
    }
}
