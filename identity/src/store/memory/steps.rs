//! The memory store's [`Steps`], over its state behind the store's mutex. Its steps never wait,
//! so an operation over them finishes in one poll ([`at_once`]), with the lock held and no
//! runtime involved. Its writes cannot fail: an operation that fails does so while reading or
//! planning, before its first write, as the operations check everything first.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::blocked::{BlockList, BlockedValue};
use crate::contact::{Contact, ContactId, Link};
use crate::customer::CustomerRecord;
use crate::erase::{Erasure, PlannedErase};
use crate::erasure::ErasedRow;
use crate::error::{Error, Result};
use crate::history::{Change, HistoryEvent};
use crate::limits::Limits;
use crate::region::PhoneRegion;
use crate::screen::TenantState;
use crate::split::{Split, held_by_several};
use crate::store::steps::{Key, Steps};
use crate::store::{Outcome, operations};
use crate::suppress::Secret;
use crate::tenant::TenantId;
use crate::verify::StoredIdentifier;

use super::State;

/// One operation's steps on the memory store's state.
pub(super) struct MemorySteps<'s>(pub &'s mut State);

/// Runs `operation` (over [`MemorySteps`]) to its end in one poll.
pub(super) fn at_once<T>(
    operation: impl Future<Output = Outcome<T>>,
    name: &'static str,
) -> Result<T> {
    let mut operation = std::pin::pin!(operation);
    match operation
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(outcome) => outcome.map_err(|f| f.into_error(name)),
        Poll::Pending => Err(Error::Internal {
            reason: "a memory store operation waited",
        }),
    }
}

#[async_trait]
impl Steps for MemorySteps<'_> {
    fn now(&self) -> OffsetDateTime {
        self.0.now()
    }

    async fn customer_of(
        &mut self,
        tenant: &TenantId,
        id: ContactId,
    ) -> Outcome<Option<ContactId>> {
        Ok(self.0.customer_of(tenant, id))
    }

    async fn erased_from(
        &mut self,
        tenant: &TenantId,
        id: ContactId,
    ) -> Outcome<Option<ContactId>> {
        Ok(self.0.erased_customer(tenant, id))
    }

    async fn rows_of(&mut self, tenant: &TenantId, primary: ContactId) -> Outcome<Vec<Contact>> {
        let rows = self.0.visible(tenant).filter(|c| c.root() == primary);
        Ok(rows.cloned().collect())
    }

    async fn kept_apart_pairs(
        &mut self,
        tenant: &TenantId,
        ids: &[ContactId],
    ) -> Outcome<Vec<(ContactId, ContactId)>> {
        let ids: BTreeSet<ContactId> = ids.iter().copied().collect();
        let pairs = self.0.apart.get(tenant).into_iter().flatten();
        Ok(pairs
            .filter(|(a, b)| ids.contains(a) || ids.contains(b))
            .copied()
            .collect())
    }

    async fn tenant_state(&mut self, tenant: &TenantId) -> Outcome<TenantState> {
        Ok(self.0.tenant_state(tenant))
    }

    async fn held_by_several(
        &mut self,
        tenant: &TenantId,
        value: Option<&str>,
    ) -> Outcome<Vec<Key>> {
        let rows: Vec<Contact> = self.0.visible(tenant).cloned().collect();
        let mut held = held_by_several(&rows);
        held.retain(|(_, v)| value.is_none_or(|value| v == value));
        Ok(held)
    }

    async fn has_rows(&mut self, tenant: &TenantId) -> Outcome<bool> {
        Ok(self.0.rows.values().any(|r| r.tenant == *tenant))
    }

    async fn customer_events(
        &mut self,
        tenant: &TenantId,
        customers: &[ContactId],
    ) -> Outcome<Vec<HistoryEvent>> {
        let wanted: Vec<Option<ContactId>> = customers.iter().copied().map(Some).collect();
        Ok(self.0.events.of(tenant, &wanted))
    }

    async fn tenant_events(&mut self, tenant: &TenantId) -> Outcome<Vec<HistoryEvent>> {
        Ok(self.0.events.of(tenant, &[None]))
    }

    async fn receipt(&mut self, tenant: &TenantId, id: ContactId) -> Outcome<Option<Erasure>> {
        Ok(self.0.receipt(tenant, id))
    }

    async fn held_elsewhere(
        &mut self,
        tenant: &TenantId,
        primary: ContactId,
        values: &BTreeSet<Key>,
    ) -> Outcome<Vec<StoredIdentifier>> {
        Ok(self.0.held_elsewhere(tenant, primary, values))
    }

    async fn secret(&mut self) -> Outcome<Secret> {
        Ok(self.0.secret()?)
    }

    async fn deleted_rows(
        &mut self,
        tenant: &TenantId,
        erased: &[ContactId],
        gone: &[Key],
    ) -> Outcome<Vec<ErasedRow>> {
        Ok(self.0.deleted_rows(tenant, erased, gone))
    }

    async fn apply_erase(&mut self, tenant: &TenantId, erase: &PlannedErase) -> Outcome<()> {
        Ok(self.0.apply_erase(tenant, erase)?)
    }

    async fn next_blocked_version(&mut self, tenant: &TenantId, _version: i64) -> Outcome<()> {
        let current = self.0.tenant_state(tenant).blocked;
        let next = current.successor(current.entries().to_vec())?;
        self.0.blocked.insert(tenant.clone(), Arc::new(next));
        Ok(())
    }

    async fn write_blocked(
        &mut self,
        tenant: &TenantId,
        entry: &BlockedValue,
        add: bool,
    ) -> Outcome<()> {
        let current = self.0.tenant_state(tenant).blocked;
        if let Some(entries) = current.changed(entry, add) {
            let suppressed = current.suppressed().cloned();
            let list = BlockList::stored(current.version, entries, suppressed)?;
            self.0.blocked.insert(tenant.clone(), list);
        }
        Ok(())
    }

    async fn write_limits(&mut self, tenant: &TenantId, limits: Limits) -> Outcome<()> {
        self.0.limits.insert(tenant.clone(), limits);
        Ok(())
    }

    async fn write_phone_region(
        &mut self,
        tenant: &TenantId,
        region: Option<PhoneRegion>,
    ) -> Outcome<()> {
        match region {
            Some(region) => self.0.regions.insert(tenant.clone(), region),
            None => self.0.regions.remove(tenant),
        };
        Ok(())
    }

    async fn relink(
        &mut self,
        _tenant: &TenantId,
        relinks: &[(ContactId, Link)],
        at: OffsetDateTime,
    ) -> Outcome<()> {
        for (id, link) in relinks {
            if let Some(row) = self.0.row_mut(*id) {
                row.contact.link = *link;
                row.contact.updated_at = at;
            }
        }
        Ok(())
    }

    async fn replace_customer(
        &mut self,
        tenant: &TenantId,
        primary: ContactId,
        records: &[CustomerRecord],
    ) -> Outcome<()> {
        self.0.graph(tenant).customers.remove(&primary);
        for record in records {
            self.0.store(tenant, record.clone());
        }
        Ok(())
    }

    async fn rename_identifiers(
        &mut self,
        tenant: &TenantId,
        keys: &[Key],
        from: ContactId,
        to: ContactId,
    ) -> Outcome<()> {
        let graph = self.0.graph(tenant);
        for key in keys {
            if let Some(owner) = graph.identifiers.get_mut(key)
                && *owner == from
            {
                *owner = to;
            }
        }
        Ok(())
    }

    async fn drop_identifiers(
        &mut self,
        tenant: &TenantId,
        keys: &[Key],
        owner: ContactId,
    ) -> Outcome<()> {
        let graph = self.0.graph(tenant);
        for key in keys {
            if graph.identifiers.get(key) == Some(&owner) {
                graph.identifiers.remove(key);
            }
        }
        Ok(())
    }

    async fn keep_apart(
        &mut self,
        tenant: &TenantId,
        pairs: &[(ContactId, ContactId)],
        _at: OffsetDateTime,
    ) -> Outcome<()> {
        let kept = self.0.apart.entry(tenant.clone()).or_default();
        kept.extend(pairs.iter().copied());
        Ok(())
    }

    async fn record(
        &mut self,
        tenant: &TenantId,
        customer: Option<ContactId>,
        change: &Change,
        at: OffsetDateTime,
    ) -> Outcome<()> {
        self.0.events.record(tenant, customer, change.clone(), at);
        Ok(())
    }
}

impl State {
    /// Splits `asked` off the customer of row `customer` (the operation of `operations.rs`).
    pub(super) fn split(
        &mut self,
        tenant: &TenantId,
        customer: ContactId,
        asked: &[ContactId],
        block_shared: bool,
    ) -> Result<Split> {
        let mut steps = MemorySteps(self);
        let split = operations::split(&mut steps, tenant, customer, asked, block_shared);
        at_once(split, "splitting a customer")
    }
}
