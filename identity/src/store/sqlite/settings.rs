//! The SQLite side of tenant settings (`identity_tenant_settings`, `identity_blocked`): reading
//! them, and moving the blocked list to its next version. The changes themselves are the
//! operations of `operations.rs`, over the steps of `steps.rs`.

use sqlx::{Executor, Sqlite, SqliteConnection};
use time::OffsetDateTime;

use crate::blocked::{BlockList, BlockedValue};
use crate::error::{Error, Result};
use crate::identifier::IdentifierKind;
use crate::limits::Limits;
use crate::region::stored_region;
use crate::screen::TenantState;
use crate::suppress::{Secret, Suppressed, stored_digest};
use crate::tenant::TenantId;

/// The tenant's region, its blocked-list version and the list's entries (the defaults, tenant
/// `*`, while the version is 0), one row with NULL entry columns when the list is empty, each
/// with the caps; then a row per suppressed value (its kind, digest, and the store's secret),
/// without a version.
const STATE: &str = "\
SELECT s.phone_region, coalesce(s.blocked_version, 0), b.kind, b.pattern, b.value, NULL, NULL,
       s.max_emails, s.max_phones
FROM (SELECT ?1 AS tenant_id) AS t
LEFT JOIN identity_tenant_settings AS s ON s.tenant_id = t.tenant_id
LEFT JOIN identity_blocked AS b
    ON b.tenant_id = CASE WHEN coalesce(s.blocked_version, 0) = 0 THEN '*' ELSE t.tenant_id END
UNION ALL
SELECT NULL, NULL, x.kind, NULL, NULL, x.digest, k.secret, NULL, NULL
FROM identity_suppressed AS x CROSS JOIN identity_secret AS k WHERE x.tenant_id = ?1";

type StateRow = (
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<bool>,
    Option<String>,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Option<i64>,
    Option<i64>,
);

/// The tenant's settings as stored: what its requests are read under.
pub(crate) async fn state<'e, E>(executor: E, tenant: &TenantId) -> Result<TenantState>
where
    E: Executor<'e, Database = Sqlite>,
{
    let rows: Vec<StateRow> = sqlx::query_as(STATE)
        .bind(tenant.as_str())
        .fetch_all(executor)
        .await
        .map_err(|e| Error::store("reading tenant settings", e))?;
    let (listed, suppressed): (Vec<StateRow>, Vec<StateRow>) =
        rows.into_iter().partition(|row| row.5.is_none());
    let (region, version, limits) = match listed.first() {
        Some(row) => (
            row.0.clone(),
            row.1.unwrap_or(0),
            Limits::new(row.7, row.8)?,
        ),
        None => (None, 0, Limits::none()),
    };
    let entries = listed
        .iter()
        .filter_map(|(_, _, kind, pattern, value, ..)| {
            Some((kind.as_ref()?, *pattern, value.as_ref()?))
        })
        .map(|(kind, pattern, value)| BlockedValue::stored(kind, pattern.unwrap_or(false), value))
        .collect::<Result<Vec<_>>>()?;
    let suppressed = suppressed
        .iter()
        .map(|(_, _, kind, _, _, digest, secret, ..)| {
            let kind = IdentifierKind::stored(kind.as_deref().unwrap_or(""));
            let digest = stored_digest(digest.as_deref().unwrap_or_default())?;
            Ok((kind, digest, secret.as_deref().unwrap_or_default()))
        })
        .collect::<Result<Vec<_>>>()?;
    let set = match suppressed.first() {
        None => None,
        Some((.., secret)) => Some(Suppressed::new(
            Secret::from_stored(secret)?,
            suppressed.iter().map(|(kind, digest, _)| (*kind, *digest)),
        )),
    };
    Ok(TenantState {
        region: stored_region(region.as_deref())?,
        blocked: BlockList::stored(version, entries, set)?,
        limits,
    })
}

/// Moves the tenant's blocked list (and suppressed values) from `version` to the next, in the
/// caller's write transaction: a tenant's first change copies the defaults to its own rows.
pub(super) async fn next_version(
    tx: &mut SqliteConnection,
    tenant: &TenantId,
    version: i64,
    now: OffsetDateTime,
) -> Result<()> {
    let failed = |e| Error::store("changing the blocked list", e);
    if version == 0 {
        sqlx::query(
            "INSERT INTO identity_blocked (tenant_id, kind, pattern, value, created_at)
             SELECT ?1, kind, pattern, value, created_at FROM identity_blocked WHERE tenant_id = '*'",
        )
        .bind(tenant.as_str())
        .execute(&mut *tx)
        .await
        .map_err(failed)?;
    }
    sqlx::query(
        "INSERT INTO identity_tenant_settings (tenant_id, blocked_version, updated_at)
         VALUES (?1, ?2, ?3)
         ON CONFLICT (tenant_id) DO UPDATE
         SET blocked_version = excluded.blocked_version, updated_at = excluded.updated_at",
    )
    .bind(tenant.as_str())
    .bind(version + 1)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(failed)?;
    Ok(())
}
