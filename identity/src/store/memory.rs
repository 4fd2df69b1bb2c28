//! [`MemoryStore`]: rows in a vector behind a mutex, for tests and prototyping.

use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::contact::{Contact, ContactId, LinkPrecedence};
use crate::error::{Error, Result};
use crate::reconcile::{Plan, reconcile};
use crate::request::{ConsolidatedContact, IdentifyRequest};
use crate::store::ContactStore;

/// An in-process store. Every identify runs under one mutex, so it is trivially serializable.
/// Nothing survives the process.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use identity::{ContactStore, IdentifyRequest, MemoryStore};
/// let store = MemoryStore::new();
/// let req = IdentifyRequest::parse(Some("doc@hillvalley.edu"), Some("123456"))?;
/// assert_eq!(store.identify(&req).await?.primary_contact_id.0, 1);
/// # Ok::<(), identity::Error>(()) }).unwrap();
/// ```
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// All rows, by id (ids are dense from 1, so row `id` is at index `id - 1`).
    rows: Vec<Row>,
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

    /// Marks a row deleted (`deleted_at` set): it is never matched or returned again.
    /// Returns whether a visible row with that id existed.
    pub fn soft_delete(&self, id: ContactId) -> bool {
        let Ok(mut state) = self.lock() else {
            return false;
        };
        match state.row_mut(id).filter(|r| !r.deleted) {
            Some(row) => {
                row.deleted = true;
                true
            }
            None => false,
        }
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

impl State {
    fn row_mut(&mut self, id: ContactId) -> Option<&mut Row> {
        let index = usize::try_from(id.0.checked_sub(1)?).ok()?;
        self.rows.get_mut(index)
    }

    /// Every visible row of every customer with a row matching the request.
    fn cluster_rows(&self, request: &IdentifyRequest) -> Vec<Contact> {
        let visible = || self.rows.iter().filter(|r| !r.deleted).map(|r| &r.contact);
        let roots = crate::reconcile::touched_roots(request, visible());
        visible()
            .filter(|c| roots.contains(&c.root()))
            .cloned()
            .collect()
    }

    fn now(&self) -> OffsetDateTime {
        // never older than the newest row, so "oldest" agrees with insertion order
        let newest = self.rows.last().map(|r| r.contact.created_at);
        let now = OffsetDateTime::now_utc();
        newest.map_or(now, |n| n.max(now))
    }
}

#[async_trait]
impl ContactStore for MemoryStore {
    async fn migrate(&self) -> Result<()> {
        self.lock().map(drop)
    }

    async fn identify(&self, request: &IdentifyRequest) -> Result<ConsolidatedContact> {
        let mut state = self.lock()?;
        let rows = state.cluster_rows(request);
        let writes = match reconcile(request, &rows) {
            Plan::Unchanged(answer) => return Ok(answer),
            Plan::Write(writes) => writes,
        };
        let now = state.now();
        if let Some(merge) = &writes.merge {
            for id in merge.updated_ids() {
                if let Some(row) = state.row_mut(id) {
                    let is_primary = id == merge.primary;
                    row.contact.linked_id = (!is_primary).then_some(merge.primary);
                    row.contact.link_precedence = if is_primary {
                        LinkPrecedence::Primary
                    } else {
                        LinkPrecedence::Secondary
                    };
                    row.contact.updated_at = now;
                }
            }
        }
        let inserted = writes.insert.as_ref().map(|new| {
            let now = new.not_before.map_or(now, |t| t.max(now));
            let id = ContactId(i64::try_from(state.rows.len()).unwrap_or(i64::MAX - 1) + 1);
            state.rows.push(Row {
                contact: Contact {
                    id,
                    email: new.email.clone(),
                    phone_number: new.phone_number.clone(),
                    linked_id: new.linked_id,
                    link_precedence: new.link_precedence,
                    created_at: now,
                    updated_at: now,
                },
                deleted: false,
            });
            id
        });
        writes.answer(inserted).ok_or(Error::Internal {
            reason: "a new customer was planned but no row was inserted",
        })
    }

    async fn lookup(&self, request: &IdentifyRequest) -> Result<Option<ConsolidatedContact>> {
        let state = self.lock()?;
        Ok(reconcile(request, &state.cluster_rows(request)).preview())
    }

    async fn all_contacts(&self) -> Result<Vec<Contact>> {
        let state = self.lock()?;
        Ok(state
            .rows
            .iter()
            .filter(|r| !r.deleted)
            .map(|r| r.contact.clone())
            .collect())
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
