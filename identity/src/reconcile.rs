//! The pure reconcile step: from a request and the rows of the customers it touches to the
//! writes to make and the answer to give. No I/O; every store runs exactly this.

use std::collections::{BTreeMap, BTreeSet};

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
    let members: Vec<&Contact> = by_id.values().copied().filter(|c| touched.contains(&c.root())).collect();

    if members.is_empty() {
        return Plan::Write(Writes {
            merge: None,
            insert: Some(NewContact {
                email: request.email().cloned(),
                phone_number: request.phone_number().cloned(),
                linked_id: None,
                link_precedence: LinkPrecedence::Primary,
            }),
            primary: None,
            members: Vec::new(),
        });
    }

    // Each customer's primary is its row stored as primary; a customer whose primary row is gone
    // (soft-deleted) is represented by its oldest remaining row, which gets promoted if it wins.
    let age = |c: &&Contact| (c.created_at, c.id);
    let primary = touched
        .iter()
        .filter_map(|root| {
            by_id.get(root).copied().filter(|c| c.is_primary()).or_else(|| {
                members.iter().copied().filter(|c| c.root() == *root).min_by_key(age)
            })
        })
        .min_by_key(age)
        .expect("a touched customer has at least one member");

    let relink: Vec<ContactId> = members
        .iter()
        .filter(|c| {
            c.id != primary.id
                && (c.linked_id != Some(primary.id) || c.link_precedence != LinkPrecedence::Secondary)
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
    });
    let merge = (promote_primary || !relink.is_empty()).then(|| Merge {
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
    rows.into_iter().filter(|c| matches(c)).map(Contact::root).collect()
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

    let mut emails: Vec<Email> = Vec::new();
    let mut phone_numbers: Vec<Phone> = Vec::new();
    for (_, email, phone) in &rows {
        if let Some(e) = email.filter(|e| !emails.contains(e)) {
            emails.push(e.clone());
        }
        if let Some(p) = phone.filter(|p| !phone_numbers.contains(p)) {
            phone_numbers.push(p.clone());
        }
    }
    let mut secondary_contact_ids: Vec<ContactId> =
        rows.iter().map(|(id, _, _)| *id).filter(|id| *id != primary).collect();
    secondary_contact_ids.sort_unstable();
    ConsolidatedContact {
        primary_contact_id: primary,
        emails,
        phone_numbers,
        secondary_contact_ids,
    }
}
