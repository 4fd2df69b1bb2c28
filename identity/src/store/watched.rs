//! [`Watched`]: the store an [`crate::Identity`] holds, which remembers that the storage refused
//! a write (full, read-only, failing: [`crate::Error::storage_refusal`]) so that `ping`, the
//! readiness check, reports it until a probe write commits again.
//!
//! The rule: a write refused by the storage notes why; while a refusal is noted, every `ping`
//! first tries [`ContactStore::probe_write`] and fails with its error until one commits, which
//! clears the note. A ping alone cannot tell (a full disk still answers `SELECT 1`), and a
//! successful call cannot either (an identify of a known customer writes nothing); waiting for
//! traffic would never end once a load balancer, told "not ready", sends none.

use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;

use crate::blocked::BlockedValue;
use crate::contact::{Contact, ContactId};
use crate::derive::RebuildReport;
use crate::erase::Erasure;
use crate::erasure::ErasureRecord;
use crate::erasure_log::ErasureLog;
use crate::error::{Result, StorageRefusal};
use crate::feed::{Cursor, FeedPage, PruneReport};
use crate::history::History;
use crate::import::{ImportBatch, ImportOptions, ImportReport};
use crate::limits::Limits;
use crate::reapply::ReapplyReport;
use crate::region::PhoneRegion;
use crate::request::{ConsolidatedContact, IdentifyRequest};
use crate::settings::TenantSettings;
use crate::split::Split;
use crate::stats::{CALL, CallNotes, Counters, FeedStats, IDENTIFY, PoolStats};
use crate::store::ContactStore;
use crate::store::feed_signal::FeedSignal;
use crate::tenant::TenantId;
use crate::verify::VerifyReport;

/// A store and the storage refusal its last refused write met, if no probe has committed since.
#[derive(Debug)]
pub(crate) struct Watched {
    inner: Arc<dyn ContactStore>,
    refused: Mutex<Option<StorageRefusal>>,
    /// Woken by every write that may have recorded events.
    signal: Arc<FeedSignal>,
    /// What the calls through it did, for [`crate::Identity::stats`].
    counters: Arc<Counters>,
}

impl Watched {
    /// Watches `inner`, with nothing refused yet, waking `signal`'s feed readers after writes
    /// and counting its calls in `counters`.
    pub(crate) fn new(
        inner: Arc<dyn ContactStore>,
        signal: Arc<FeedSignal>,
        counters: Arc<Counters>,
    ) -> Self {
        Watched {
            inner,
            refused: Mutex::new(None),
            signal,
            counters,
        }
    }

    /// Runs `work`, the store's part of the call named `call`, counting its retries, its
    /// contention and (for an identify) its outcome.
    async fn counted<T>(
        &self,
        call: &'static str,
        work: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        let notes = Arc::new(CallNotes::default());
        let result = CALL.scope(Arc::clone(&notes), work).await;
        self.counters.call(call, &notes, &result);
        result
    }

    /// `result` as [`Watched::noted`] leaves it, the tenant's feed readers woken when it is a
    /// success (the write may have recorded events; an identify of a known customer wakes
    /// them for nothing, and they look once more).
    fn written<T>(&self, tenant: &TenantId, result: Result<T>) -> Result<T> {
        if result.is_ok() {
            self.signal.wake(tenant);
        }
        self.noted(result)
    }

    /// `result` as it is, noting a storage refusal it carries.
    fn noted<T>(&self, result: Result<T>) -> Result<T> {
        if let Err(e) = &result
            && let Some(refusal) = e.storage_refusal()
        {
            *self.lock() = Some(refusal);
        }
        result
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<StorageRefusal>> {
        self.refused.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl ContactStore for Watched {
    async fn migrate(&self) -> Result<()> {
        self.noted(self.inner.migrate().await)
    }

    async fn identify(
        &self,
        tenant: &TenantId,
        request: &IdentifyRequest,
    ) -> Result<ConsolidatedContact> {
        let identified = self.counted(IDENTIFY, self.inner.identify(tenant, request));
        self.written(tenant, identified.await)
    }

    async fn lookup(
        &self,
        tenant: &TenantId,
        request: &IdentifyRequest,
    ) -> Result<Option<ConsolidatedContact>> {
        self.inner.lookup(tenant, request).await
    }

    async fn settings(&self, tenant: &TenantId) -> Result<TenantSettings> {
        self.inner.settings(tenant).await
    }

    async fn set_phone_region(
        &self,
        tenant: &TenantId,
        region: Option<PhoneRegion>,
    ) -> Result<TenantSettings> {
        let set = self.counted(
            "set_phone_region",
            self.inner.set_phone_region(tenant, region),
        );
        self.noted(set.await)
    }

    async fn set_limits(&self, tenant: &TenantId, limits: Limits) -> Result<TenantSettings> {
        let set = self.counted("set_limits", self.inner.set_limits(tenant, limits));
        self.noted(set.await)
    }

    async fn blocked_values(&self, tenant: &TenantId) -> Result<Vec<BlockedValue>> {
        self.inner.blocked_values(tenant).await
    }

    async fn block(&self, tenant: &TenantId, entry: &BlockedValue) -> Result<bool> {
        self.noted(self.counted("block", self.inner.block(tenant, entry)).await)
    }

    async fn unblock(&self, tenant: &TenantId, entry: &BlockedValue) -> Result<bool> {
        self.noted(
            self.counted("unblock", self.inner.unblock(tenant, entry))
                .await,
        )
    }

    async fn history(&self, tenant: &TenantId, id: ContactId) -> Result<History> {
        self.inner.history(tenant, id).await
    }

    async fn events(
        &self,
        tenant: &TenantId,
        after: Option<Cursor>,
        limit: usize,
    ) -> Result<FeedPage> {
        self.inner.events(tenant, after, limit).await
    }

    fn webhooks(&self) -> &dyn crate::store::webhooks::WebhookStore {
        self.inner.webhooks()
    }

    async fn prune_events(&self, before: time::OffsetDateTime) -> Result<PruneReport> {
        self.noted(self.inner.prune_events(before).await)
    }

    async fn split(
        &self,
        tenant: &TenantId,
        customer: ContactId,
        contact_ids: &[ContactId],
        block_shared: bool,
    ) -> Result<Split> {
        let split = self
            .inner
            .split(tenant, customer, contact_ids, block_shared);
        self.written(tenant, self.counted("split", split).await)
    }

    async fn erase(
        &self,
        tenant: &TenantId,
        customer: ContactId,
        suppress: bool,
        log: Option<&ErasureLog>,
    ) -> Result<Erasure> {
        let erase = self.inner.erase(tenant, customer, suppress, log);
        self.written(tenant, self.counted("erase", erase).await)
    }

    fn job_progress(&self, tenant: &TenantId) -> Option<crate::progress::JobProgress> {
        self.inner.job_progress(tenant)
    }

    async fn erasures(&self, tenant: &TenantId) -> Result<Vec<ErasureRecord>> {
        self.inner.erasures(tenant).await
    }

    async fn reapply_erasures(
        &self,
        tenant: &TenantId,
        records: &[ErasureRecord],
    ) -> Result<ReapplyReport> {
        let reapply = self.inner.reapply_erasures(tenant, records);
        self.written(tenant, self.counted("reapply_erasures", reapply).await)
    }

    async fn backup_to(&self, path: &std::path::Path, overwrite: bool) -> Result<()> {
        self.noted(self.inner.backup_to(path, overwrite).await)
    }

    async fn import(
        &self,
        tenant: &TenantId,
        batch: ImportBatch,
        options: ImportOptions,
    ) -> Result<ImportReport> {
        let import = self.inner.import(tenant, batch, options);
        self.written(tenant, self.counted("import", import).await)
    }

    async fn foreign_tables(&self) -> Result<Vec<String>> {
        self.inner.foreign_tables().await
    }

    async fn customer(
        &self,
        tenant: &TenantId,
        id: ContactId,
    ) -> Result<(ContactId, Vec<Contact>)> {
        self.inner.customer(tenant, id).await
    }

    async fn all_contacts(&self, tenant: &TenantId) -> Result<Vec<Contact>> {
        self.inner.all_contacts(tenant).await
    }

    async fn verify(&self, tenant: &TenantId) -> Result<VerifyReport> {
        self.inner.verify(tenant).await
    }

    async fn rebuild(&self, tenant: &TenantId) -> Result<RebuildReport> {
        self.noted(self.inner.rebuild(tenant).await)
    }

    /// The database answers, and when a write was refused, a probe write commits now.
    async fn ping(&self) -> Result<()> {
        self.inner.ping().await?;
        if self.lock().is_none() {
            return Ok(());
        }
        self.probe_write().await
    }

    /// Probes, clearing a noted refusal when the write commits and noting the one it meets.
    async fn probe_write(&self) -> Result<()> {
        let probe = self.noted(self.inner.probe_write().await);
        if probe.is_ok() {
            *self.lock() = None;
        }
        probe
    }

    async fn close(&self) {
        self.inner.close().await;
    }

    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    fn pool_stats(&self) -> PoolStats {
        self.inner.pool_stats()
    }

    async fn feed_stats(&self) -> Result<FeedStats> {
        self.inner.feed_stats().await
    }
}
