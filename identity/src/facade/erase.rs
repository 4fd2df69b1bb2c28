//! Erasing a customer through the handle (facade layer), listing the tenant's erasures, and
//! applying them again after a restore.

use super::connect::Identity;
use crate::contact::ContactId;
use crate::erasure::{Erasure, ErasureRecord};
use crate::error::{Error, Field, Result};
use crate::reapply::ReapplyReport;

impl Identity {
    /// Erases the customer that row `customer` belongs to (the right to be forgotten): every
    /// row of it is hard-deleted with its derived records and kept-apart pairs, and its emails
    /// and phone numbers are removed from history (ids, kinds and times stay; an `erased` event
    /// ends it). Soft-deleted rows that link to its rows or carry its values go too. A value
    /// another customer still holds (a blocked one) or that is an entry of the blocked list
    /// stays, as that customer's or the tenant's.
    ///
    /// With `suppress`, its values are kept as keyed hashes (HMAC-SHA256 under a secret the
    /// store makes for itself), and a later request carrying one treats it as blocked
    /// ([`crate::IgnoredReason::Suppressed`]). The erase waits for the tenant's writes in
    /// flight: an identify of the same customer sees it entirely before or entirely after.
    ///
    /// Erasing again by any former row id answers the first receipt and changes nothing.
    ///
    /// The store keeps the erase's record ([`crate::Identity::erasures`]) and, when the handle
    /// has an erasure log ([`crate::ConnectOptions::erasure_log`]), appends it there and
    /// flushes it to disk before committing. On SQLite the erased values are gone from the
    /// database's files, not only from its tables, when this returns (free space is zeroed,
    /// the write-ahead log copied into the main file and emptied).
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use identity::ContactId;
    /// let identity = identity::connect("memory:").await?;
    /// identity.identify(Some("doc@hillvalley.edu"), Some("555")).await?;
    /// identity.identify(Some("emmett@hillvalley.edu"), Some("555")).await?;
    /// let receipt = identity.erase(ContactId::new(2), true).await?;
    /// assert_eq!(receipt.contact_ids, [ContactId::new(1), ContactId::new(2)]);
    /// assert_eq!(identity.erase(ContactId::new(1), false).await?, receipt); // a no-op
    /// // a suppressed value is ignored, as a blocked one is
    /// let c = identity.identify(Some("marty@hillvalley.edu"), Some("555")).await?;
    /// assert_eq!(c.ignored[0].reason.as_str(), "suppressed");
    /// # Ok::<(), identity::Error>(()) }).unwrap();
    /// ```
    ///
    /// # Errors
    /// [`crate::Error::NotFound`] when the tenant has no visible row `customer` and erased
    /// none with that id; [`crate::Error::ErasureLog`] when the record cannot be appended;
    /// otherwise as [`crate::ContactStore::erase`]. Nothing changes on an error, except on
    /// SQLite when readers keep the erased values in the files past the commit
    /// ([`crate::Error::Unavailable`]: erasing again clears them).
    pub async fn erase(&self, customer: ContactId, suppress: bool) -> Result<Erasure> {
        self.store()
            .erase(self.tenant_id(), customer, suppress, self.erasure_log())
            .await
    }

    /// Every erase of the tenant as the database records it ([`ErasureRecord`]: receipts, the
    /// rows deleted, the digests suppressed; no personal data), oldest first. Erases made
    /// before this version are listed from their receipts (rows known by id alone, no
    /// digests). Keep them outside the database, with [`crate::ConnectOptions::erasure_log`]
    /// or by exporting them, to apply them again after restoring an older backup.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let identity = identity::connect("memory:").await?;
    /// identity.identify(Some("doc@hillvalley.edu"), None).await?;
    /// let receipt = identity.erase(identity::ContactId::new(1), true).await?;
    /// let records = identity.erasures().await?;
    /// assert_eq!(records[0].receipt(), receipt);
    /// assert_eq!(records[0].digests.len(), 1);
    /// # Ok::<(), identity::Error>(()) }).unwrap();
    /// ```
    ///
    /// # Errors
    /// As [`crate::ContactStore::erasures`].
    pub async fn erasures(&self) -> Result<Vec<ErasureRecord>> {
        self.store().erasures(self.tenant_id()).await
    }

    /// Applies erasures again, to a database restored from a backup taken before them: for
    /// each record whose erase the database does not hold, the rows it names that the database
    /// holds (by id and time of creation) are erased as `erase` would erase them (with their
    /// records, kept-apart pairs and history values; a customer that holds other rows too has
    /// the record's rows split off first), the original receipt is stored for every id of the
    /// record, its digests join the tenant's suppressed values, and the id sequence moves past
    /// every id it names. Records the database holds already change nothing, so applying a
    /// whole log again is safe. All records in one transaction: an error changes nothing.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use identity::ContactId;
    /// let dir = tempfile::tempdir().unwrap();
    /// let url = |name: &str| format!("sqlite://{}", dir.path().join(name).display());
    /// let live = identity::connect(&url("live.db")).await?;
    /// live.identify(Some("doc@hillvalley.edu"), Some("555")).await?;
    /// live.backup_to(dir.path().join("backup.db"), false).await?;
    /// live.erase(ContactId::new(1), true).await?;
    /// let log = live.erasures().await?; // or ErasureLog::read of the handle's log file
    ///
    /// let restored = identity::connect(&url("backup.db")).await?; // Doc is back
    /// let report = restored.reapply_erasures(&log).await?;
    /// assert_eq!((report.applied, report.erased_ids.clone()), (1, vec![ContactId::new(1)]));
    /// assert!(restored.all_contacts().await?.is_empty());
    /// let again = restored.identify(Some("doc@hillvalley.edu"), None).await; // suppressed
    /// assert!(matches!(again, Err(identity::Error::BlockedValue { .. })));
    /// # Ok::<(), identity::Error>(()) }).unwrap();
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming [`Field::Erasures`] for a record of another tenant;
    /// [`Error::Conflict`] when a record's digests were taken under another suppression secret
    /// than the database's (a backup restored without its `identity_secret`); otherwise as
    /// [`crate::ContactStore::reapply_erasures`]. Nothing changes on an error.
    pub async fn reapply_erasures(&self, records: &[ErasureRecord]) -> Result<ReapplyReport> {
        if let Some((n, other)) = records
            .iter()
            .enumerate()
            .find(|(_, r)| r.tenant_id != *self.tenant_id())
        {
            return Err(Error::invalid(
                Field::Erasures,
                format!(
                    "record {n} is an erasure of tenant {}, and this handle acts for {}",
                    other.tenant_id,
                    self.tenant_id()
                ),
            ));
        }
        self.store()
            .reapply_erasures(self.tenant_id(), records)
            .await
    }
}
