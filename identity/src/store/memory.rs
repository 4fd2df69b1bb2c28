//! [`MemoryStore`]: rows, identifiers and customer records behind one mutex, for tests and
//! prototypes. Indexed like the SQL stores, so a call costs the same at any number of rows.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::blocked::{BlockList, BlockedValue};
use crate::contact::{Contact, ContactId, Email, Link, Phone};
use crate::customer::CustomerRecord;
use crate::derive::{RebuildReport, derive_screened};
use crate::erase::Erasure;
use crate::erasure::ErasureRecord;
use crate::erasure_log::ErasureLog;
use crate::error::{Error, Result};
use crate::history::History;
use crate::identifier::IdentifierKind;
use crate::import::{ImportBatch, ImportOptions, ImportReport};
use crate::limits::Limits;
use crate::plan::{Matched, Plan};
use crate::reapply::ReapplyReport;
use crate::region::PhoneRegion;
use crate::request::{ConsolidatedContact, IdentifyRequest};
use crate::screen::{Localized, TenantState};
use crate::settings::TenantSettings;
use crate::split::Split;
use crate::store::{ContactStore, Frontier, operations};
use crate::tenant::TenantId;
use crate::verify::{StoredIdentifier, VerifyReport, verify};

mod erase;
mod events;
mod import;
mod reapply;
mod split;
mod steps;

/// An in-process store. Every call runs under one mutex, so it is trivially serializable.
/// Nothing survives the process. Tenants share the rows (ids are dense across them) and each has
/// its own identifiers and records.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use identity::{ContactStore, IdentifyRequest, MemoryStore};
/// let store = MemoryStore::new();
/// let req = IdentifyRequest::parse(Some("doc@hillvalley.edu"), Some("123456"))?;
/// let tenant = identity::TenantId::default();
/// assert_eq!(store.identify(&tenant, &req).await?.primary_contact_id.get(), 1);
/// # Ok::<(), identity::Error>(()) }).unwrap();
/// ```
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

type Key = (IdentifierKind, String);

#[derive(Debug, Default, Clone)]
struct State {
    /// All rows of every tenant, by id.
    rows: BTreeMap<ContactId, Row>,
    /// The highest id given out: the next row takes the one after (ids are never reused).
    last_id: i64,
    /// Each tenant's derived records.
    graphs: HashMap<TenantId, Graph>,
    /// The phone region of each tenant that has one.
    regions: HashMap<TenantId, PhoneRegion>,
    /// The caps of each tenant that has any.
    limits: HashMap<TenantId, Limits>,
    /// The blocked list of each tenant that changed it (the others have the defaults).
    blocked: HashMap<TenantId, Arc<BlockList>>,
    /// Every tenant's history.
    events: events::EventLog,
    /// Each tenant's pairs of rows whose customers a split keeps apart.
    apart: HashMap<TenantId, Vec<(ContactId, ContactId)>>,
    /// The receipt of every row erased, by tenant and row (one receipt shared by its rows:
    /// a copy per row made erasing a large customer quadratic).
    erasures: HashMap<(TenantId, ContactId), Arc<Erasure>>,
    /// The record of every erase, in order.
    records: Vec<ErasureRecord>,
    /// The key of suppression digests, made by the first erase that suppresses.
    secret: Option<[u8; 32]>,
    versions: i64,
    closed: bool,
}

/// One tenant's identifiers and customer records.
#[derive(Debug, Default, Clone)]
struct Graph {
    identifiers: HashMap<Key, ContactId>,
    customers: HashMap<ContactId, CustomerRecord>,
}

#[derive(Debug, Clone)]
struct Row {
    tenant: TenantId,
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
        let (tenant, gone) = (row.tenant.clone(), row.contact.clone());
        let mut frontier = Frontier::default();
        frontier.add_id(Some(gone.id.get()));
        frontier.add_id(gone.linked_id().map(ContactId::get));
        frontier.add_values(
            gone.email.as_ref().map(Email::as_str),
            gone.phone_number.as_ref().map(Phone::as_str),
        );
        while let Some(step) = frontier.next_step() {
            let (rows, owners) = state.step(&tenant, &step);
            frontier.absorb(rows, owners);
        }
        let closure = frontier.finish();
        let ids: BTreeSet<ContactId> = closure.ids.iter().copied().map(ContactId::new).collect();
        state.replace(&tenant, &closure.rows, |c| ids.contains(&c));
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
        self.rows.get_mut(&id)
    }

    fn row(&self, id: ContactId) -> Option<&Row> {
        self.rows.get(&id)
    }

    /// The customer (primary) of the tenant's visible row `id`.
    fn customer_of(&self, tenant: &TenantId, id: ContactId) -> Option<ContactId> {
        let row = self.row(id).filter(|r| !r.deleted && r.tenant == *tenant)?;
        Some(row.contact.root())
    }

    /// The tenant's visible rows.
    fn visible<'s>(&'s self, tenant: &'s TenantId) -> impl Iterator<Item = &'s Contact> + 's {
        self.rows
            .values()
            .filter(move |r| !r.deleted && r.tenant == *tenant)
            .map(|r| &r.contact)
    }

    /// The tenant's derived records, created empty on first use.
    fn graph(&mut self, tenant: &TenantId) -> &mut Graph {
        self.graphs.entry(tenant.clone()).or_default()
    }

    /// The owners of the request's values and their records.
    fn matched(&self, tenant: &TenantId, request: &IdentifyRequest) -> Result<Matched> {
        let Some(graph) = self.graphs.get(tenant) else {
            return Matched::new(None, None, Vec::new());
        };
        let email = request
            .email()
            .and_then(|e| graph.identifiers.get(&email_key(e)).copied());
        let phone = request
            .phone_number()
            .and_then(|p| graph.identifiers.get(&phone_key(p)).copied());
        let records = email
            .iter()
            .chain(&phone)
            .filter_map(|id| graph.customers.get(id).cloned())
            .collect();
        Matched::new(email, phone, records)
    }

    fn now(&self) -> OffsetDateTime {
        // never older than the newest row, so "oldest" agrees with insertion order
        let newest = self.rows.values().next_back().map(|r| r.contact.created_at);
        let now = OffsetDateTime::now_utc();
        newest.map_or(now, |n| n.max(now))
    }

    fn insert_row(
        &mut self,
        tenant: &TenantId,
        email: Option<&Email>,
        phone: Option<&Phone>,
        link: Link,
        at: OffsetDateTime,
    ) -> ContactId {
        self.last_id += 1;
        let id = ContactId::new(self.last_id);
        self.rows.insert(
            id,
            Row {
                tenant: tenant.clone(),
                contact: Contact {
                    id,
                    email: email.cloned(),
                    phone_number: phone.cloned(),
                    link,
                    created_at: at,
                    updated_at: at,
                },
                deleted: false,
            },
        );
        id
    }

    /// Keeps `record` (a new version), its identifiers unchanged: see [`State::name`].
    fn store(&mut self, tenant: &TenantId, mut record: CustomerRecord) -> ConsolidatedContact {
        self.versions += 1;
        record.version = self.versions;
        let answer = record.answer();
        self.graph(tenant).customers.insert(record.primary, record);
        answer
    }

    /// Points the identifiers of `emails` and `phones` at `customer`.
    fn name<'v>(
        &mut self,
        tenant: &TenantId,
        customer: ContactId,
        emails: impl IntoIterator<Item = &'v Email>,
        phones: impl IntoIterator<Item = &'v Phone>,
    ) {
        let graph = self.graph(tenant);
        for e in emails {
            graph.identifiers.insert(email_key(e), customer);
        }
        for p in phones {
            graph.identifiers.insert(phone_key(p), customer);
        }
    }

    /// Writes a plan for `request`, and its event; the answer once written. Only the
    /// identifiers that change are written, so adding a row costs the same at any customer size.
    fn apply(
        &mut self,
        tenant: &TenantId,
        request: &IdentifyRequest,
        plan: Plan,
    ) -> ConsolidatedContact {
        let now = self.now();
        match plan {
            Plan::Unchanged(answer) => answer,
            Plan::NewCustomer(new) => {
                let id = self.insert_row(
                    tenant,
                    new.email.as_ref(),
                    new.phone_number.as_ref(),
                    Link::Primary,
                    now,
                );
                self.name(tenant, id, &new.email, &new.phone_number);
                self.events.record(tenant, Some(id), new.event(id), now);
                self.store(tenant, new.record(id, now))
            }
            Plan::AddRow(add) => {
                let at = now.max(add.not_before());
                let link = Link::SecondaryOf(add.customer.primary);
                let id = self.insert_row(
                    tenant,
                    add.email.as_ref(),
                    add.phone_number.as_ref(),
                    link,
                    at,
                );
                self.name(
                    tenant,
                    add.customer.primary,
                    add.new_email(),
                    add.new_phone(),
                );
                let change = add.event(id);
                self.events
                    .record(tenant, Some(add.customer.primary), change, at);
                self.store(tenant, add.into_record(id, at))
            }
            Plan::Merge(merge) => {
                let kept = merge.merged.primary;
                for id in &merge.relink {
                    if let Some(row) = self.row_mut(*id) {
                        row.contact.link = Link::SecondaryOf(kept);
                        row.contact.updated_at = now;
                    }
                }
                self.graph(tenant).customers.remove(&merge.absorbed);
                self.events
                    .record(tenant, Some(kept), merge.event(request), now);
                let m = &merge.merged;
                // the absorbed customer's identifiers name the kept one (a value no identifier
                // names, blocked and held by several customers, stays so); O(n + m), as a
                // merge may be
                let keys = m.emails.iter().map(email_key);
                let keys: Vec<Key> = keys.chain(m.phone_numbers.iter().map(phone_key)).collect();
                let graph = self.graph(tenant);
                for key in keys {
                    if let Some(owner) = graph.identifiers.get_mut(&key)
                        && *owner == merge.absorbed
                    {
                        *owner = kept;
                    }
                }
                self.store(tenant, merge.merged)
            }
        }
    }

    /// The visible rows a closure step asks for, and the owners of its values.
    fn step(
        &self,
        tenant: &TenantId,
        step: &crate::store::closure::Step,
    ) -> (Vec<Contact>, Vec<i64>) {
        let ids: BTreeSet<i64> = step.ids.iter().copied().collect();
        let rows = self
            .visible(tenant)
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
        let owners = match self.graphs.get(tenant) {
            Some(graph) => emails
                .chain(phones)
                .filter_map(|k| graph.identifiers.get(&k).map(|id| id.get()))
                .collect(),
            None => Vec::new(),
        };
        (rows, owners)
    }

    /// Replaces the derived records of `rows` (a closure) and of every customer `stale` names
    /// with what the rows define, and repairs their links; what it derived.
    fn replace(
        &mut self,
        tenant: &TenantId,
        rows: &[Contact],
        stale: impl Fn(ContactId) -> bool,
    ) -> RebuildReport {
        let blocked = self.tenant_state(tenant).blocked;
        let derived = derive_screened(rows, &|kind, value| blocked.blocks(kind, value));
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
        let graph = self.graph(tenant);
        graph.customers.retain(|id, _| !stale(*id));
        graph
            .identifiers
            .retain(|key, owner| !stale(*owner) && !values.contains(key));
        let named: Vec<(Key, ContactId)> = derived
            .identifiers()
            .into_iter()
            .map(|(kind, value, owner)| ((kind, value.to_owned()), owner))
            .collect();
        self.graph(tenant).identifiers.extend(named);
        for record in derived.customers {
            self.store(tenant, record);
        }
        report
    }
}

impl State {
    /// What `tenant`'s requests are read under.
    fn tenant_state(&self, tenant: &TenantId) -> TenantState {
        TenantState {
            region: self.regions.get(tenant).copied(),
            blocked: self
                .blocked
                .get(tenant)
                .cloned()
                .unwrap_or_else(BlockList::defaults),
            limits: self.limits.get(tenant).copied().unwrap_or_default(),
        }
    }
}

impl Graph {
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

    async fn identify(
        &self,
        tenant: &TenantId,
        request: &IdentifyRequest,
    ) -> Result<ConsolidatedContact> {
        let mut state = self.lock()?;
        let local = Localized::new(request, &state.tenant_state(tenant))?;
        let matched = state.matched(tenant, &local.request)?;
        let answer = match local.plan(matched) {
            Plan::Merge(m) if state.kept_apart(tenant, m.merged.primary, m.absorbed) => m.withheld,
            plan => state.apply(tenant, &local.request, plan),
        };
        Ok(answer.with_ignored(&local.ignored))
    }

    async fn lookup(
        &self,
        tenant: &TenantId,
        request: &IdentifyRequest,
    ) -> Result<Option<ConsolidatedContact>> {
        let state = self.lock()?;
        let local = Localized::new(request, &state.tenant_state(tenant))?;
        let answer = match local.plan(state.matched(tenant, &local.request)?) {
            Plan::Merge(m) if state.kept_apart(tenant, m.merged.primary, m.absorbed) => {
                Some(m.withheld)
            }
            plan => plan.preview(),
        };
        Ok(answer.map(|a| a.with_ignored(&local.ignored)))
    }

    async fn settings(&self, tenant: &TenantId) -> Result<TenantSettings> {
        Ok(self.lock()?.tenant_state(tenant).settings())
    }

    async fn set_phone_region(
        &self,
        tenant: &TenantId,
        region: Option<PhoneRegion>,
    ) -> Result<TenantSettings> {
        let mut state = self.lock()?;
        let mut tx = steps::MemorySteps(&mut state);
        let change = operations::set_phone_region(&mut tx, tenant, region);
        steps::at_once(change, "changing tenant settings")?;
        Ok(state.tenant_state(tenant).settings())
    }

    async fn set_limits(&self, tenant: &TenantId, limits: Limits) -> Result<TenantSettings> {
        let mut state = self.lock()?;
        let mut tx = steps::MemorySteps(&mut state);
        let change = operations::set_limits(&mut tx, tenant, limits);
        steps::at_once(change, "changing tenant settings")?;
        Ok(state.tenant_state(tenant).settings())
    }

    async fn blocked_values(&self, tenant: &TenantId) -> Result<Vec<BlockedValue>> {
        let state = self.lock()?;
        Ok(state.tenant_state(tenant).blocked.entries().to_vec())
    }

    async fn block(&self, tenant: &TenantId, entry: &BlockedValue) -> Result<bool> {
        let mut state = self.lock()?;
        let mut tx = steps::MemorySteps(&mut state);
        let change = operations::change_blocked(&mut tx, tenant, entry, true);
        steps::at_once(change, "changing the blocked list")
    }

    async fn unblock(&self, tenant: &TenantId, entry: &BlockedValue) -> Result<bool> {
        let mut state = self.lock()?;
        let mut tx = steps::MemorySteps(&mut state);
        let change = operations::change_blocked(&mut tx, tenant, entry, false);
        steps::at_once(change, "changing the blocked list")
    }

    async fn history(&self, tenant: &TenantId, id: ContactId) -> Result<History> {
        let mut state = self.lock()?;
        let mut tx = steps::MemorySteps(&mut state);
        let read = operations::history(&mut tx, tenant, id);
        steps::at_once(read, "reading history")
    }

    async fn split(
        &self,
        tenant: &TenantId,
        customer: ContactId,
        contact_ids: &[ContactId],
        block_shared: bool,
    ) -> Result<Split> {
        self.lock()?
            .split(tenant, customer, contact_ids, block_shared)
    }

    async fn erase(
        &self,
        tenant: &TenantId,
        customer: ContactId,
        suppress: bool,
        log: Option<&ErasureLog>,
    ) -> Result<Erasure> {
        let mut state = self.lock()?;
        let before = log.map(|_| state.clone());
        let (receipt, record) = state.erase(tenant, customer, suppress)?;
        if let (Some(log), Some(record)) = (log, &record)
            && let Err(e) = log.append(record)
        {
            // as a rollback: the erase did not happen
            *state = before.unwrap_or_default();
            return Err(e);
        }
        Ok(receipt)
    }

    fn job_progress(&self, _tenant: &TenantId) -> Option<crate::progress::JobProgress> {
        None // its imports and erases are one transaction each: nothing in between to show
    }

    async fn erasures(&self, tenant: &TenantId) -> Result<Vec<ErasureRecord>> {
        let state = self.lock()?;
        let mut records: Vec<ErasureRecord> = state
            .records
            .iter()
            .filter(|r| r.tenant_id == *tenant)
            .cloned()
            .collect();
        // oldest first, as the other stores answer (a reapplied record keeps its time)
        records.sort_by_key(|r| (r.erased_at, r.customer_id));
        Ok(records)
    }

    async fn reapply_erasures(
        &self,
        tenant: &TenantId,
        records: &[ErasureRecord],
    ) -> Result<ReapplyReport> {
        let mut state = self.lock()?;
        let before = state.clone();
        let outcome = state.reapply(tenant, records);
        if outcome.is_err() {
            *state = before; // as a rollback: nothing changes on an error
        }
        outcome
    }

    async fn import(
        &self,
        tenant: &TenantId,
        batch: ImportBatch,
        options: ImportOptions,
    ) -> Result<ImportReport> {
        self.lock()?.import(tenant, batch, options)
    }

    async fn all_contacts(&self, tenant: &TenantId) -> Result<Vec<Contact>> {
        let state = self.lock()?;
        Ok(state.visible(tenant).cloned().collect())
    }

    async fn verify(&self, tenant: &TenantId) -> Result<VerifyReport> {
        let state = self.lock()?;
        let rows: Vec<Contact> = state.visible(tenant).cloned().collect();
        let (records, identifiers) = match state.graphs.get(tenant) {
            Some(graph) => (
                graph.customers.values().cloned().collect(),
                graph.stored_identifiers(),
            ),
            None => (Vec::new(), Vec::new()),
        };
        let region = state.regions.get(tenant).copied();
        let blocked = state.tenant_state(tenant).blocked;
        let blocked = |kind, value: &str| blocked.blocks(kind, value);
        Ok(verify(&rows, &records, &identifiers, 0, region, &blocked))
    }

    async fn rebuild(&self, tenant: &TenantId) -> Result<RebuildReport> {
        let mut state = self.lock()?;
        let rows: Vec<Contact> = state.visible(tenant).cloned().collect();
        state.graphs.remove(tenant);
        Ok(state.replace(tenant, &rows, |_| true))
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
