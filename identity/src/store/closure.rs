//! Finding every row that a change (or a request) can affect, for the SQL stores' repair and
//! their read-only fallback: the rows connected to some seeds through links and shared values,
//! walked breadth-first one query per step. The queries are the stores'; the walk is here.

use std::collections::{BTreeMap, BTreeSet};

use crate::contact::{Contact, ContactId, Email, Phone};
use crate::derive::derive;
use crate::error::Result;
use crate::plan::Matched;
use crate::request::{ConsolidatedContact, IdentifyRequest};

use crate::screen::Localized;

/// The walk's state: what is known, and what was already asked for.
#[derive(Debug, Default)]
pub(crate) struct Frontier {
    ids: BTreeSet<i64>,
    emails: BTreeSet<String>,
    phones: BTreeSet<String>,
    asked_ids: BTreeSet<i64>,
    asked_emails: BTreeSet<String>,
    asked_phones: BTreeSet<String>,
    rows: BTreeMap<ContactId, Contact>,
}

/// One step's question: the visible rows with any of these ids or linked ids, or any of these
/// values, and the customers the identifiers of these values name.
#[derive(Debug)]
pub(crate) struct Step {
    pub ids: Vec<i64>,
    pub emails: Vec<String>,
    pub phones: Vec<String>,
}

/// A change noted in `identity_pending`, as the SQL stores select it: (entry id, contact id,
/// old and new linked ids, old and new email, old and new phone). No contact id means
/// "everything" (a truncate, or an upgrade's existing rows).
pub(crate) type PendingRow = (
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// What the walk found.
#[derive(Debug)]
pub(crate) struct Closure {
    /// Every visible row connected to the seeds.
    pub rows: Vec<Contact>,
    /// Every id met (rows, link targets, identifier owners, seeds): the derived records keyed
    /// by these are the ones to replace.
    pub ids: Vec<i64>,
    /// Every email met: their identifiers are the ones to replace.
    pub emails: Vec<String>,
    /// Every phone met.
    pub phones: Vec<String>,
}

impl Frontier {
    /// Starts from a request's values.
    pub fn from_request(request: &IdentifyRequest) -> Self {
        let mut f = Frontier::default();
        f.add_values(
            request.email().map(Email::as_str),
            request.phone_number().map(Phone::as_str),
        );
        f
    }

    /// Starts from noted changes: the changed rows, their old and new links and values. `None`
    /// when one of them means "everything": then a rebuild applies them.
    pub fn from_pending(entries: &[PendingRow]) -> Option<Self> {
        let mut f = Frontier::default();
        for (_, id, old_link, new_link, old_email, new_email, old_phone, new_phone) in entries {
            id.as_ref()?;
            f.add_id(*id);
            f.add_id(*old_link);
            f.add_id(*new_link);
            f.add_values(old_email.as_deref(), old_phone.as_deref());
            f.add_values(new_email.as_deref(), new_phone.as_deref());
        }
        Some(f)
    }

    /// Adds a row id (or a link target) to start from.
    pub fn add_id(&mut self, id: Option<i64>) {
        self.ids.extend(id);
    }

    /// Adds values to start from.
    pub fn add_values(&mut self, email: Option<&str>, phone: Option<&str>) {
        self.emails.extend(email.map(str::to_owned));
        self.phones.extend(phone.map(str::to_owned));
    }

    /// The next question, or `None` when everything met was asked about.
    pub fn next_step(&mut self) -> Option<Step> {
        let ids: Vec<i64> = self.ids.difference(&self.asked_ids).copied().collect();
        let emails: Vec<String> = self
            .emails
            .difference(&self.asked_emails)
            .cloned()
            .collect();
        let phones: Vec<String> = self
            .phones
            .difference(&self.asked_phones)
            .cloned()
            .collect();
        if ids.is_empty() && emails.is_empty() && phones.is_empty() {
            return None;
        }
        self.asked_ids.extend(&ids);
        self.asked_emails.extend(emails.iter().cloned());
        self.asked_phones.extend(phones.iter().cloned());
        Some(Step {
            ids,
            emails,
            phones,
        })
    }

    /// Takes a step's answer: the rows found and the customers the identifiers named.
    pub fn absorb(&mut self, rows: Vec<Contact>, owners: Vec<i64>) {
        self.ids.extend(owners);
        for row in rows {
            self.ids.insert(row.id.get());
            self.add_id(row.linked_id().map(ContactId::get));
            self.add_values(
                row.email.as_ref().map(Email::as_str),
                row.phone_number.as_ref().map(Phone::as_str),
            );
            self.rows.insert(row.id, row);
        }
    }

    /// Everything met.
    pub fn finish(self) -> Closure {
        Closure {
            rows: self.rows.into_values().collect(),
            ids: self.ids.into_iter().collect(),
            emails: self.emails.into_iter().collect(),
            phones: self.phones.into_iter().collect(),
        }
    }
}

/// What `lookup` answers from rows alone (while changes made outside the library wait to be
/// applied to the records): the customers the rows define, then the identify step's preview.
pub(crate) fn preview_from_rows(
    local: &Localized,
    rows: &[Contact],
) -> Result<Option<ConsolidatedContact>> {
    let request = &local.request;
    let customers = derive(rows).customers;
    let owner = |has: &dyn Fn(&crate::customer::CustomerRecord) -> bool| {
        customers.iter().find(|c| has(c)).map(|c| c.primary)
    };
    let email_owner = request.email().and_then(|e| owner(&|c| c.has_email(e)));
    let phone_owner = request
        .phone_number()
        .and_then(|p| owner(&|c| c.has_phone(p)));
    let matched = Matched::new(email_owner, phone_owner, customers)?;
    Ok(local.plan(matched).preview())
}
