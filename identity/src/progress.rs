//! How far a long write of a tenant has got ([`JobProgress`]): what an operator watching an
//! import or an erase of many rows sees while it runs.

use serde::Serialize;

/// What kind of long write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum JobKind {
    /// An import ([`crate::Identity::import`], [`crate::Identity::import_table`]).
    Import,
    /// An erase ([`crate::Identity::erase`]).
    Erase,
}

impl JobKind {
    /// Its wire name: `import` or `erase`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Import => "import",
            JobKind::Erase => "erase",
        }
    }
}

/// A long write of the tenant that this process runs in steps, and how far it got: `done` of
/// `total` items (for an import: rows, history events, customer records and identifiers; for an
/// erase: rows, values and digests). On the wire: `{"kind": "import", "done": 4000, "total":
/// 64000}`.
///
/// Only writes too large for one transaction run in steps: on SQLite, whose single writer
/// serves every tenant, an import or erase of more than a few thousand items. PostgreSQL
/// writes in one transaction, which has no progress to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct JobProgress {
    /// The kind of write.
    pub kind: JobKind,
    /// Items written so far (committed steps).
    pub done: u64,
    /// Items to write in all.
    pub total: u64,
}

impl JobProgress {
    /// `done` of `total` items of a write of `kind` (`done` is capped at `total`).
    #[must_use]
    pub fn new(kind: JobKind, done: u64, total: u64) -> Self {
        JobProgress {
            kind,
            done: done.min(total),
            total,
        }
    }

    /// The share done, from 0.0 to 1.0 (1.0 for a write of nothing).
    ///
    /// ```
    /// use identity::progress::{JobKind, JobProgress};
    /// assert_eq!(JobProgress::new(JobKind::Import, 1, 4).fraction(), 0.25);
    /// ```
    #[must_use]
    pub fn fraction(&self) -> f64 {
        if self.total == 0 {
            1.0
        } else {
            self.done as f64 / self.total as f64
        }
    }
}
