//! `jobProgress()`: how far the tenant's long write in this process has got, read without I/O
//! (so it answers at once while an `importTableRows()` or `erase()` promise is pending).

use napi::bindgen_prelude::{Env, Result};
use napi_derive::napi;

use crate::Identity;

/// A long write that runs in steps, and how far it got.
#[napi(object)]
pub struct JobProgress {
    /// `'import'` or `'erase'`.
    #[napi(ts_type = "'import' | 'erase'")]
    pub kind: String,
    /// Items written so far (committed steps).
    pub done: f64,
    /// Items to write in all (for an import: rows, history events, customer records and
    /// identifiers; for an erase: rows, values and digests).
    pub total: f64,
}

impl From<identity::JobProgress> for JobProgress {
    fn from(p: identity::JobProgress) -> Self {
        JobProgress {
            kind: p.kind.as_str().to_owned(),
            // counts of items held in memory: far below 2^53
            done: p.done as f64,
            total: p.total as f64,
        }
    }
}

#[napi]
impl Identity {
    /// How far the tenant's long write in this process has got: an import or erase too large
    /// for one transaction runs in steps (on SQLite, more than a few thousand rows), and this
    /// answers `{ kind, done, total }` while one runs, `null` otherwise (PostgreSQL writes in
    /// one transaction). Synchronous: no I/O. Throws `CLOSED` after
    /// `close()`.
    #[napi(ts_return_type = "JobProgress | null")]
    pub fn job_progress(&self, env: Env) -> Result<Option<JobProgress>> {
        let inner = self.usable().map_err(|f| f.into_js(&env))?;
        Ok(inner.job_progress().map(JobProgress::from))
    }
}
