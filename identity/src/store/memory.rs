//! [`MemoryStore`]: rows, identifiers and customer records behind one mutex, for tests and
//! prototypes. Indexed like the SQL stores, so a call costs the same at any number of rows.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::contact::{Contact, ContactId, Email, Link, Phone};
use crate::customer::CustomerRecord;
use crate::derive::{RebuildReport, derive};
use crate::error::{Error, Result};
use crate::plan::{Matched, Plan, plan};
use crate::request::{ConsolidatedContact, IdentifyRequest};
use crate::store::{ContactStore, Frontier};
use crate::verify::{IdentifierKind, StoredIdentifier, VerifyReport, verify};

/// An in-process store. Every call runs under one mutex, so it is trivially serializable.
/// Nothing survives the process.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use identity::{ContactStore, IdentifyRequest, MemoryStore};
/// let store = MemoryStore::new();
/// let req = IdentifyRequest::parse(Some("doc@hillvalley.edu"), Some("123456"))?;
/// assert_eq!(store.identify(&req).await?.primary_contact_id.get(), 1);
/// # Ok::<(), identity::Error>(()) }).unwrap();
/// ```
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

type Key = (IdentifierKind, String);

#[derive(Debug, Default)]
struct State {
    /// All rows, by id (ids are dense from 1, so row `id` is at index `id - 1`).
    rows: Vec<Row>,
    identifiers: HashMap<Key, ContactId>,
    customers: HashMap<ContactId, CustomerRecord>,
    versions: i64,
    closed: bool,
}

#[derive(Debug, Clone)]
struct Row {
    contact: Contact,
    deleted: bool,
}

impl MemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Marks a row deleted (`deleted_at` set): it is never matched or returned again, and its
    /// customer is recomputed at once (a deleted primary's oldest remaining row leads).
    /// Returns whether a visible row with that id existed.
    pub fn soft_delete(&self, id: ContactId) -> bool {
        let Ok(mut state) = self.lock() else {
            return false;
        };
        let Some(row) = state.row_mut(id).filter(|r| !r.deleted) else {
            return false;
        };
        row.deleted = true;
        let gone = row.contact.clone();
        let mut frontier = Frontier::default();
        frontier.add_id(Some(gone.id.get()));
        frontier.add_id(gone.linked_id().map(ContactId::get));
        frontier.add_values(
            gone.email.as_ref().map(Email::as_str),
            gone.phone_number.as_ref().map(Phone::as_str),
        );
        while let Some(step) = frontier.next_step() {
            let (rows, owners) = state.step(&step);
            frontier.absorb(rows, owners);
        }
        let closure = frontier.finish();
        let ids: BTreeSet<ContactId> = closure.ids.iter().copied().map(ContactId::new).collect();
        state.replace(&closure.rows, |c| ids.contains(&c));
        true
    }

    fn lock(&self) -> Result<MutexGuard<'_, State>> {
        // A panic while holding the lock cannot leave half a write: writes below are applied
        // only after the plan is complete, so a poisoned state is still consistent.
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.closed {
            return Err(Error::Closed);
        }
        Ok(state)
    }
}

fn email_key(e: &Email) -> Key {
    (IdentifierKind::Email, e.as_str().to_owned())
}

fn phone_key(p: &Phone) -> Key {
    (IdentifierKind::Phone, p.as_str().to_owned())
}

impl State {
    fn row_mut(&mut self, id: ContactId) -> Option<&mut Row> {
        let index = usize::try_from(id.get().checked_sub(1)?).ok()?;
        self.rows.get_mut(index)
    }

    fn visible(&self) -> impl Iterator<Item = &Contact> {
        self.rows.iter().filter(|r| !r.deleted).map(|r| &r.contact)
    }

    /// The owners of the request's values and their records.
    fn matched(&self, request: &IdentifyRequest) -> Result<Matched> {
        let email = request
            .email()
            .and_then(|e| self.identifiers.get(&email_key(e)).copied());
        let phone = request
            .phone_number()
            .and_then(|p| self.identifiers.get(&phone_key(p)).copied());
        let records = email
            .iter()
            .chain(&phone)
            .filter_map(|id| self.customers.get(id).cloned())
            .collect();
        Matched::new(email, phone, records)
    }

    fn now(&self) -> OffsetDateTime {
        // never older than the newest row, so "oldest" agrees with insertion order
        let newest = self.rows.last().map(|r| r.contact.created_at);
        let now = OffsetDateTime::now_utc();
        newest.map_or(now, |n| n.max(now))
    }

    fn insert_row(
        &mut self,
        email: Option<&Email>,
        phone: Option<&Phone>,
        link: Link,
        at: OffsetDateTime,
    ) -> ContactId {
        let id = ContactId::new(i64::try_from(self.rows.len()).unwrap_or(i64::MAX - 1) + 1);
        self.rows.push(Row {
            contact: Contact {
                id,
                email: email.cloned(),
                phone_number: phone.cloned(),
                link,
                created_at: at,
                updated_at: at,
            },
            deleted: false,
        });
        id
    }

    /// Keeps `record` (a new version), its identifiers unchanged: see [`State::name`].
    fn store(&mut self, mut record: CustomerRecord) -> ConsolidatedContact {
        self.versions += 1;
        record.version = self.versions;
        let answer = record.answer();
        self.customers.insert(record.primary, record);
        answer
    }

    /// Points the identifiers of `emails` and `phones` at `customer`.
    fn name<'v>(
        &mut self,
        customer: ContactId,
        emails: impl IntoIterator<Item = &'v Email>,
        phones: impl IntoIterator<Item = &'v Phone>,
    ) {
        for e in emails {
            self.identifiers.insert(email_key(e), customer);
        }
        for p in phones {
            self.identifiers.insert(phone_key(p), customer);
        }
    }

    /// Writes a plan; the answer once written. Only the identifiers that change are written,
    /// so adding a row costs the same at any customer size.
    fn apply(&mut self, plan: Plan) -> ConsolidatedContact {
        let now = self.now();
        match plan {
            Plan::Unchanged(answer) => answer,
            Plan::NewCustomer(new) => {
                let id = self.insert_row(
                    new.email.as_ref(),
                    new.phone_number.as_ref(),
                    Link::Primary,
                    now,
                );
                self.name(id, &new.email, &new.phone_number);
                self.store(new.record(id, now))
            }
            Plan::AddRow(add) => {
                let at = now.max(add.not_before());
                let link = Link::SecondaryOf(add.customer.primary);
                let id = self.insert_row(add.email.as_ref(), add.phone_number.as_ref(), link, at);
                self.name(add.customer.primary, add.new_email(), add.new_phone());
                self.store(add.into_record(id, at))
            }
            Plan::Merge(merge) => {
                let kept = merge.merged.primary;
                for id in &merge.relink {
                    if let Some(row) = self.row_mut(*id) {
                        row.contact.link = Link::SecondaryOf(kept);
                        row.contact.updated_at = now;
                    }
                }
                self.customers.remove(&merge.absorbed);
                let m = &merge.merged;
                // O(n + m), as a merge may be
                let (emails, phones) = (m.emails.clone(), m.phone_numbers.clone());
                self.name(kept, &emails, &phones);
                self.store(merge.merged)
            }
        }
    }

    /// The visible rows a closure step asks for, and the owners of its values.
    fn step(&self, step: &crate::store::closure::Step) -> (Vec<Contact>, Vec<i64>) {
        let ids: BTreeSet<i64> = step.ids.iter().copied().collect();
        let rows = self
            .visible()
            .filter(|c| {
                ids.contains(&c.id.get())
                    || c.linked_id().is_some_and(|l| ids.contains(&l.get()))
                    || c.email
                        .as_ref()
                        .is_some_and(|e| step.emails.iter().any(|s| s == e.as_str()))
                    || c.phone_number
                        .as_ref()
                        .is_some_and(|p| step.phones.iter().any(|s| s == p.as_str()))
            })
            .cloned()
            .collect();
        let emails = step
            .emails
            .iter()
            .map(|e| (IdentifierKind::Email, e.clone()));
        let phones = step
            .phones
            .iter()
            .map(|p| (IdentifierKind::Phone, p.clone()));
        let owners = emails
            .chain(phones)
            .filter_map(|k| self.identifiers.get(&k).map(|id| id.get()))
            .collect();
        (rows, owners)
    }

    /// Replaces the derived records of `rows` (a closure) and of every customer `stale` names
    /// with what the rows define, and repairs their links; what it derived.
    fn replace(&mut self, rows: &[Contact], stale: impl Fn(ContactId) -> bool) -> RebuildReport {
        let derived = derive(rows);
        let report = RebuildReport::of(&derived);
        let now = self.now();
        for (id, link) in &derived.relinks {
            if let Some(row) = self.row_mut(*id) {
                row.contact.link = *link;
                row.contact.updated_at = now;
            }
        }
        let values: BTreeSet<Key> = rows
            .iter()
            .flat_map(|c| {
                let e = c.email.as_ref().map(email_key);
                e.into_iter().chain(c.phone_number.as_ref().map(phone_key))
            })
            .collect();
        self.customers.retain(|id, _| !stale(*id));
        self.identifiers
            .retain(|key, owner| !stale(*owner) && !values.contains(key));
        for record in derived.customers {
            let (emails, phones) = (record.emails.clone(), record.phone_numbers.clone());
            self.name(record.primary, &emails, &phones);
            self.store(record);
        }
        report
    }

    fn stored_identifiers(&self) -> Vec<StoredIdentifier> {
        self.identifiers
            .iter()
            .map(|((kind, value), owner)| (*kind, value.clone(), *owner))
            .collect()
    }
}

#[async_trait]
impl ContactStore for MemoryStore {
    async fn migrate(&self) -> Result<()> {
        self.lock().map(drop)
    }

    async fn identify(&self, request: &IdentifyRequest) -> Result<ConsolidatedContact> {
        let mut state = self.lock()?;
        let matched = state.matched(request)?;
        Ok(state.apply(plan(request, matched)))
    }

    async fn lookup(&self, request: &IdentifyRequest) -> Result<Option<ConsolidatedContact>> {
        let state = self.lock()?;
        Ok(plan(request, state.matched(request)?).preview())
    }

    async fn all_contacts(&self) -> Result<Vec<Contact>> {
        let state = self.lock()?;
        Ok(state.visible().cloned().collect())
    }

    async fn verify(&self) -> Result<VerifyReport> {
        let state = self.lock()?;
        let rows: Vec<Contact> = state.visible().cloned().collect();
        let records: Vec<CustomerRecord> = state.customers.values().cloned().collect();
        Ok(verify(&rows, &records, &state.stored_identifiers(), 0))
    }

    async fn rebuild(&self) -> Result<RebuildReport> {
        let mut state = self.lock()?;
        let rows: Vec<Contact> = state.visible().cloned().collect();
        state.customers.clear();
        state.identifiers.clear();
        Ok(state.replace(&rows, |_| true))
    }

    async fn ping(&self) -> Result<()> {
        self.lock().map(drop)
    }

    async fn close(&self) {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).closed = true;
    }

    fn backend(&self) -> &'static str {
        "memory"
    }
}
