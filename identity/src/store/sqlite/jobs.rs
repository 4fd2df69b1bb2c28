//! A tenant's long write in steps (`identity_tenant_job`): an erase or an import too large for
//! one transaction runs as several, each bounded, so that SQLite's one writer serves every
//! other tenant between them. While the job runs, the tenant's other calls wait for it (they
//! would see it half done); a job whose process died (no progress for [`STALE`]) is taken over
//! by the next call that waits for it: an erase finished, an import undone.

use std::time::Duration;

use sqlx::SqliteConnection;

use crate::error::{Error, Result};
use crate::tenant::TenantId;

/// Rows (or values, events, digests) a step of a job works off: tens of milliseconds.
pub(super) const STEP: usize = 4_000;

/// A job without progress for this long is taken for abandoned.
pub(super) const STALE: Duration = Duration::from_secs(30);

/// How long a call waits for another call's job of its tenant.
pub(super) const WAIT: Duration = Duration::from_secs(60);

/// A job as stored.
#[derive(Debug, Clone)]
pub(super) struct Job {
    /// `erase` or `import`.
    pub kind: String,
    /// Who runs it (a random number): a step checks it is still the runner's.
    pub owner: i64,
    /// Milliseconds since the job last moved on (by the database's clock).
    pub idle_ms: i64,
}

impl Job {
    /// Whether it made no progress for [`STALE`].
    pub(super) fn is_stale(&self) -> bool {
        self.idle_ms > i64::try_from(STALE.as_millis()).unwrap_or(i64::MAX)
    }
}

const NOW_MS: &str = "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)";

fn failed(e: sqlx::Error) -> Error {
    Error::store("tracking a tenant's job", e)
}

/// The tenant's job, if it has one.
pub(super) async fn of(conn: &mut SqliteConnection, tenant: &TenantId) -> Result<Option<Job>> {
    let sql = format!(
        "SELECT kind, owner, {NOW_MS} - progress_ms FROM identity_tenant_job \
         WHERE tenant_id = ?1"
    );
    let row: Option<(String, i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(tenant.as_str())
        .fetch_optional(&mut *conn)
        .await
        .map_err(failed)?;
    Ok(row.map(|(kind, owner, idle_ms)| Job {
        kind,
        owner,
        idle_ms,
    }))
}

/// The plan the tenant's job started with, and where its last step got to (`None`: no step
/// yet), for the call that takes it over.
pub(super) async fn plan_of(
    conn: &mut SqliteConnection,
    tenant: &TenantId,
) -> Result<Option<(String, Option<String>)>> {
    sqlx::query_as(
        "SELECT p.plan, j.position FROM identity_tenant_job AS j \
         JOIN identity_tenant_job_plan AS p USING (tenant_id) WHERE j.tenant_id = ?1",
    )
    .bind(tenant.as_str())
    .fetch_optional(&mut *conn)
    .await
    .map_err(failed)
}

/// Starts a job of `kind` for the tenant, owned by `owner`, with `plan` (written once, in a
/// row of its own: a step's progress rewrites only the job's small row).
pub(super) async fn start(
    tx: &mut SqliteConnection,
    tenant: &TenantId,
    kind: &str,
    owner: i64,
    plan: &str,
) -> Result<()> {
    let sql = format!(
        "INSERT INTO identity_tenant_job (tenant_id, kind, owner, started_ms, progress_ms, plan) \
         VALUES (?1, ?2, ?3, {NOW_MS}, {NOW_MS}, '')"
    );
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(tenant.as_str())
        .bind(kind)
        .bind(owner)
        .execute(&mut *tx)
        .await
        .map_err(failed)?;
    sqlx::query("INSERT INTO identity_tenant_job_plan (tenant_id, plan) VALUES (?1, ?2)")
        .bind(tenant.as_str())
        .bind(plan)
        .execute(&mut *tx)
        .await
        .map(drop)
        .map_err(failed)
}

/// Records the job's progress (`position`: where it got to in its plan, a few bytes; the plan
/// itself is written once, by [`start`]) when `owner` still runs it; whether it does (another
/// call took over a job it found without progress).
pub(super) async fn advance(
    tx: &mut SqliteConnection,
    tenant: &TenantId,
    owner: i64,
    position: &str,
) -> Result<bool> {
    let sql = format!(
        "UPDATE identity_tenant_job SET position = ?3, progress_ms = {NOW_MS} \
         WHERE tenant_id = ?1 AND owner = ?2"
    );
    let changed = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(tenant.as_str())
        .bind(owner)
        .bind(position)
        .execute(&mut *tx)
        .await
        .map_err(failed)?
        .rows_affected();
    Ok(changed == 1)
}

/// Takes over the tenant's job as `owner` (it was found without progress); whether it was
/// still the job found (`was`).
pub(super) async fn take_over(
    tx: &mut SqliteConnection,
    tenant: &TenantId,
    was: i64,
    owner: i64,
) -> Result<bool> {
    let sql = format!(
        "UPDATE identity_tenant_job SET owner = ?3, progress_ms = {NOW_MS} \
         WHERE tenant_id = ?1 AND owner = ?2"
    );
    let changed = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(tenant.as_str())
        .bind(was)
        .bind(owner)
        .execute(&mut *tx)
        .await
        .map_err(failed)?
        .rows_affected();
    Ok(changed == 1)
}

/// Ends the tenant's job run by `owner`; whether `owner` still ran it.
pub(super) async fn end(tx: &mut SqliteConnection, tenant: &TenantId, owner: i64) -> Result<bool> {
    let changed =
        sqlx::query("DELETE FROM identity_tenant_job WHERE tenant_id = ?1 AND owner = ?2")
            .bind(tenant.as_str())
            .bind(owner)
            .execute(&mut *tx)
            .await
            .map_err(failed)?
            .rows_affected();
    if changed == 1 {
        sqlx::query("DELETE FROM identity_tenant_job_plan WHERE tenant_id = ?1")
            .bind(tenant.as_str())
            .execute(&mut *tx)
            .await
            .map_err(failed)?;
    }
    Ok(changed == 1)
}

/// A random owner number.
pub(super) fn new_owner() -> i64 {
    let mut bytes = [0u8; 8];
    // a clock-derived fallback is unique enough among the calls of one tenant
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        bytes = (nanos as u64).to_le_bytes();
    }
    i64::from_le_bytes(bytes)
}

/// The error of a call that waited [`WAIT`] for its tenant's job.
pub(super) fn still_busy(tenant: &TenantId, job: &Job) -> Error {
    Error::Unavailable {
        operation: "waiting for the tenant's long write",
        source: Box::new(TenantBusy {
            text: format!(
                "tenant {tenant} has an {} running (it moved on {:.1} s ago); retry when it \
                 is done",
                job.kind,
                job.idle_ms as f64 / 1000.0
            ),
        }),
    }
}

/// Why a call gave up waiting: its tenant's job still runs.
#[derive(Debug)]
struct TenantBusy {
    text: String,
}

impl std::fmt::Display for TenantBusy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::error::Error for TenantBusy {}
