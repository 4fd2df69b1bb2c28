//! Backups while serving ([`Identity::backup_to`]): a consistent copy of a SQLite database in
//! one new file (facade layer; the crate root re-exports this module as `identity::backup`).
//! PostgreSQL is backed up with its own tools (`pg_dump`; docs/operations.md).

use std::path::Path;

use super::connect::Identity;
use crate::error::Result;

impl Identity {
    /// Writes a consistent copy of the whole store (every tenant, the suppression secret and
    /// the erasure records included) to a new file at `path`, while the store serves: SQLite's
    /// `VACUUM INTO`, a snapshot of one read transaction that writers do not wait for,
    /// written beside `path` and moved there when complete. The copy holds no free pages, so
    /// nothing erased before it survives in it. Copying the database file itself is not a
    /// backup: in WAL mode the latest changes are in `-wal` until a checkpoint.
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// let dir = tempfile::tempdir().unwrap();
    /// let live = identity::connect(&format!("sqlite://{}/live.db", dir.path().display())).await?;
    /// live.identify(Some("doc@hillvalley.edu"), None).await?;
    /// let copy = dir.path().join("copy.db");
    /// live.backup_to(&copy, false).await?;
    /// let restored = identity::connect(&format!("sqlite://{}", copy.display())).await?;
    /// assert!(restored.lookup(Some("doc@hillvalley.edu"), None).await?.is_some());
    /// assert!(live.backup_to(&copy, false).await.is_err()); // it exists: not overwritten
    /// # Ok::<(), identity::Error>(()) }).unwrap();
    /// ```
    ///
    /// # Errors
    /// [`crate::Error::Conflict`] when `path` exists and `overwrite` is not set, or for a store
    /// this cannot copy (PostgreSQL, memory); [`crate::Error::Store`] when writing fails
    /// (nothing is left at `path` then).
    pub async fn backup_to(&self, path: impl AsRef<Path>, overwrite: bool) -> Result<()> {
        self.store().backup_to(path.as_ref(), overwrite).await
    }
}
