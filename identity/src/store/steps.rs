//! [`Steps`]: the storage primitives of one transaction (store layer). Each backend implements
//! them with its own SQL; the operations written once over them (`operations.rs`: split,
//! settings, history, erase, import) decide what to read and write, in which order, so a step added to
//! one operation reaches every backend.
//!
//! A write step runs inside the caller's write transaction, with the tenant's other writes held
//! off (SQLite's write lock, PostgreSQL's tenant lock); a read step sees the transaction's
//! snapshot.

use std::collections::BTreeSet;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::blocked::BlockedValue;
use crate::contact::{Contact, ContactId, Link};
use crate::customer::CustomerRecord;
use crate::erase::{Erasure, PlannedErase};
use crate::erasure::ErasedRow;
use crate::feed::stored::{FeedBounds, StoredFeedRow};
use crate::history::{Change, HistoryEvent};
use crate::identifier::IdentifierKind;
use crate::limits::Limits;
use crate::region::PhoneRegion;
use crate::screen::TenantState;
use crate::suppress::Secret;
use crate::tenant::TenantId;
use crate::verify::StoredIdentifier;

use super::Outcome;

/// A value as an identifier names it: its kind and its text.
pub(crate) type Key = (IdentifierKind, String);

/// The storage primitives one transaction offers, for one tenant at a time.
#[async_trait]
pub(crate) trait Steps: Send {
    /// The time the transaction writes as "now".
    fn now(&self) -> OffsetDateTime;

    // ------------------------------------------------------------------ reads

    /// The customer (primary) of the tenant's visible row `id`.
    async fn customer_of(&mut self, tenant: &TenantId, id: ContactId)
    -> Outcome<Option<ContactId>>;

    /// The customer an erase took the tenant's row `id` from.
    async fn erased_from(&mut self, tenant: &TenantId, id: ContactId)
    -> Outcome<Option<ContactId>>;

    /// The visible rows of the tenant's customer `primary`.
    async fn rows_of(&mut self, tenant: &TenantId, primary: ContactId) -> Outcome<Vec<Contact>>;

    /// The kept-apart pairs of the tenant with a row among `ids`.
    async fn kept_apart_pairs(
        &mut self,
        tenant: &TenantId,
        ids: &[ContactId],
    ) -> Outcome<Vec<(ContactId, ContactId)>>;

    /// The tenant's settings as stored.
    async fn tenant_state(&mut self, tenant: &TenantId) -> Outcome<TenantState>;

    /// The tenant's values (equal to `value`, when given) held by more than one customer.
    async fn held_by_several(
        &mut self,
        tenant: &TenantId,
        value: Option<&str>,
    ) -> Outcome<Vec<Key>>;

    /// Whether the tenant has contact rows, deleted ones included.
    async fn has_rows(&mut self, tenant: &TenantId) -> Outcome<bool>;

    /// The events of these customers of the tenant, in the order they were recorded.
    async fn customer_events(
        &mut self,
        tenant: &TenantId,
        customers: &[ContactId],
    ) -> Outcome<Vec<HistoryEvent>>;

    /// The tenant's own events (its settings' changes), in the order they were recorded.
    async fn tenant_events(&mut self, tenant: &TenantId) -> Outcome<Vec<HistoryEvent>>;

    /// When retention last pruned the tenant's events: the time before which they went.
    async fn pruned_before(&mut self, tenant: &TenantId) -> Outcome<Option<OffsetDateTime>>;

    /// The tenant's feed bounds and its feed events after position `after`, at most `limit`,
    /// in position order, in one snapshot.
    async fn feed_events(
        &mut self,
        tenant: &TenantId,
        after: u64,
        limit: usize,
    ) -> Outcome<(FeedBounds, Vec<StoredFeedRow>)>;

    /// The receipt of the erase that took the tenant's row `id`, if one did.
    async fn receipt(&mut self, tenant: &TenantId, id: ContactId) -> Outcome<Option<Erasure>>;

    /// The values among `values` that visible rows of the tenant outside customer `primary`
    /// hold, with those rows' customers.
    async fn held_elsewhere(
        &mut self,
        tenant: &TenantId,
        primary: ContactId,
        values: &BTreeSet<Key>,
    ) -> Outcome<Vec<StoredIdentifier>>;

    /// The store's suppression secret, made now when it has none (the first one made wins).
    async fn secret(&mut self) -> Outcome<Secret>;

    /// The tenant's soft-deleted rows an erase of the rows `erased` removes with them (those
    /// that link to them or carry a value in `gone`), with their times of creation.
    async fn deleted_rows(
        &mut self,
        tenant: &TenantId,
        erased: &[ContactId],
        gone: &[Key],
    ) -> Outcome<Vec<ErasedRow>>;

    /// How many contact rows the tenant has, deleted ones included.
    async fn count_rows(&mut self, tenant: &TenantId) -> Outcome<i64>;

    /// The highest contact id the store's sequence gave out (0 when none).
    async fn ids_given_out(&mut self) -> Outcome<i64>;

    // ------------------------------------------------------------------ writes

    /// Draws `n` new contact ids from the store's sequence, ascending (no other writer gets
    /// them).
    async fn draw_ids(&mut self, n: usize) -> Outcome<Vec<ContactId>>;

    /// Writes an erase: deletes the rows (and the soft-deleted rows of its record), the
    /// customer's record, identifiers and kept-apart pairs, names the values it shared with one
    /// other customer after that one, scrubs the history of its lineage, records the erase's
    /// event, keeps its receipts and, when asked, suppresses its values.
    async fn apply_erase(&mut self, tenant: &TenantId, erase: &PlannedErase) -> Outcome<()>;

    /// Moves the tenant's blocked list (and with it the caps and suppressed values) from
    /// `version` to the next: a tenant's first change copies the defaults to its own entries.
    async fn next_blocked_version(&mut self, tenant: &TenantId, version: i64) -> Outcome<()>;

    /// Adds (`add`) or removes one entry of the tenant's own blocked list.
    async fn write_blocked(
        &mut self,
        tenant: &TenantId,
        entry: &BlockedValue,
        add: bool,
    ) -> Outcome<()>;

    /// Sets the tenant's caps.
    async fn write_limits(&mut self, tenant: &TenantId, limits: Limits) -> Outcome<()>;

    /// Sets (`None`: clears) the tenant's phone region.
    async fn write_phone_region(
        &mut self,
        tenant: &TenantId,
        region: Option<PhoneRegion>,
    ) -> Outcome<()>;

    /// Points each row at its new link.
    async fn relink(
        &mut self,
        tenant: &TenantId,
        relinks: &[(ContactId, Link)],
        at: OffsetDateTime,
    ) -> Outcome<()>;

    /// Replaces the record of customer `primary` with `records` (versions 0: the store numbers
    /// them).
    async fn replace_customer(
        &mut self,
        tenant: &TenantId,
        primary: ContactId,
        records: &[CustomerRecord],
    ) -> Outcome<()>;

    /// Points the identifiers of `keys` that name `from` at `to`.
    async fn rename_identifiers(
        &mut self,
        tenant: &TenantId,
        keys: &[Key],
        from: ContactId,
        to: ContactId,
    ) -> Outcome<()>;

    /// Drops the identifiers of `keys` that name `owner`.
    async fn drop_identifiers(
        &mut self,
        tenant: &TenantId,
        keys: &[Key],
        owner: ContactId,
    ) -> Outcome<()>;

    /// Adds pairs of rows whose customers must never merge.
    async fn keep_apart(
        &mut self,
        tenant: &TenantId,
        pairs: &[(ContactId, ContactId)],
        at: OffsetDateTime,
    ) -> Outcome<()>;

    /// Appends `change` of `customer` (`None`: of the tenant itself) to the history.
    async fn record(
        &mut self,
        tenant: &TenantId,
        customer: Option<ContactId>,
        change: &Change,
        at: OffsetDateTime,
    ) -> Outcome<()>;
}
