//! The SQLite side of tenant settings (`identity_tenant_settings`, `identity_blocked`): reading
//! them, and changing the phone region or the blocked list inside a write transaction (an
//! unblock must not free a value several customers hold).

use sqlx::{Executor, Sqlite, SqliteConnection};
use time::OffsetDateTime;

use crate::blocked::{BlockList, BlockedValue};
use crate::error::{Error, Result};
use crate::history::Change;
use crate::identifier::IdentifierKind;
use crate::limits::Limits;
use crate::region::{PhoneRegion, refuse_change, stored_region};
use crate::screen::TenantState;
use crate::split::check_unblock;
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

/// The values of tenant `?1` (equal to `?2`, when given) held by more than one customer.
const HELD_BY_SEVERAL: &str = "\
SELECT 'email', email FROM contact
WHERE tenant_id = ?1 AND deleted_at IS NULL AND email IS NOT NULL AND (?2 IS NULL OR email = ?2)
GROUP BY email HAVING count(DISTINCT coalesce(linked_id, id)) > 1
UNION ALL
SELECT 'phone', phone_number FROM contact
WHERE tenant_id = ?1 AND deleted_at IS NULL AND phone_number IS NOT NULL
  AND (?2 IS NULL OR phone_number = ?2)
GROUP BY phone_number HAVING count(DISTINCT coalesce(linked_id, id)) > 1";

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

/// Adds (`add`) or removes a blocked entry in the caller's write transaction; whether the list
/// changed. A tenant's first change copies the defaults to its own rows.
pub(crate) async fn change_blocked(
    tx: &mut SqliteConnection,
    tenant: &TenantId,
    entry: &BlockedValue,
    add: bool,
) -> Result<bool> {
    let current = state(&mut *tx, tenant).await?;
    let entry = entry.clone().in_region(current.region);
    let Some(entries) = current.blocked.changed(&entry, add) else {
        return Ok(false);
    };
    if !add {
        let after = current.blocked.successor(entries)?;
        let shared = held_by_several(&mut *tx, tenant, &entry).await?;
        check_unblock(&shared, &entry, &after)?;
    }
    let failed = |e| Error::store("changing the blocked list", e);
    let now = OffsetDateTime::now_utc();
    next_version(&mut *tx, tenant, current.blocked.version, now).await?;
    let statement = if add {
        "INSERT INTO identity_blocked (tenant_id, kind, pattern, value, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)"
    } else {
        "DELETE FROM identity_blocked
         WHERE tenant_id = ?1 AND kind = ?2 AND pattern = ?3 AND value = ?4 AND ?5 IS NOT NULL"
    };
    sqlx::query(statement)
        .bind(tenant.as_str())
        .bind(entry.kind().as_str())
        .bind(entry.is_pattern())
        .bind(entry.text())
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(failed)?;
    let change = if add {
        Change::Blocked { entry }
    } else {
        Change::Unblocked { entry }
    };
    super::events::record(tx, tenant, None, &change, now).await?;
    Ok(true)
}

/// The values of `tenant` held by more than one customer that `entry` may block: the one value
/// of an exact entry, every value for a pattern (a scan of the tenant's rows).
async fn held_by_several(
    conn: &mut SqliteConnection,
    tenant: &TenantId,
    entry: &BlockedValue,
) -> Result<Vec<(IdentifierKind, String)>> {
    let rows: Vec<(String, String)> = sqlx::query_as(HELD_BY_SEVERAL)
        .bind(tenant.as_str())
        .bind(entry.value())
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| Error::store("changing the blocked list", e))?;
    Ok(rows
        .into_iter()
        .map(|(kind, value)| (IdentifierKind::stored(&kind), value))
        .collect())
}

/// Sets the tenant's caps in the caller's write transaction; whether they changed.
pub(crate) async fn set_limits(
    tx: &mut SqliteConnection,
    tenant: &TenantId,
    limits: Limits,
) -> Result<bool> {
    let current = state(&mut *tx, tenant).await?;
    if current.limits == limits {
        return Ok(false);
    }
    let now = OffsetDateTime::now_utc();
    next_version(&mut *tx, tenant, current.blocked.version, now).await?;
    sqlx::query(
        "UPDATE identity_tenant_settings SET max_emails = ?2, max_phones = ?3 WHERE tenant_id = ?1",
    )
    .bind(tenant.as_str())
    .bind(limits.emails.map(i64::from))
    .bind(limits.phones.map(i64::from))
    .execute(&mut *tx)
    .await
    .map_err(|e| Error::store("changing tenant settings", e))?;
    Ok(true)
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

/// The tenant's phone region as stored.
pub(crate) async fn phone_region<'e, E>(
    executor: E,
    tenant: &TenantId,
) -> Result<Option<PhoneRegion>>
where
    E: Executor<'e, Database = Sqlite>,
{
    let code: Option<Option<String>> = sqlx::query_scalar(
        "SELECT phone_region FROM identity_tenant_settings WHERE tenant_id = ?1",
    )
    .bind(tenant.as_str())
    .fetch_optional(executor)
    .await
    .map_err(|e| Error::store("reading tenant settings", e))?;
    stored_region(code.flatten().as_deref())
}

/// Sets the tenant's region in the caller's write transaction: refused (nothing written) when it
/// would change and the tenant has contact rows, deleted ones included.
pub(crate) async fn set_phone_region(
    tx: &mut SqliteConnection,
    tenant: &TenantId,
    region: Option<PhoneRegion>,
) -> Result<()> {
    let current = phone_region(&mut *tx, tenant).await?;
    if current == region {
        return Ok(());
    }
    let has_rows: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM contact WHERE tenant_id = ?1)")
            .bind(tenant.as_str())
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| Error::store("reading tenant settings", e))?;
    if has_rows {
        return Err(refuse_change(tenant, current, region));
    }
    sqlx::query(
        "INSERT INTO identity_tenant_settings (tenant_id, phone_region, updated_at)
         VALUES (?1, ?2, ?3)
         ON CONFLICT (tenant_id) DO UPDATE
         SET phone_region = excluded.phone_region, updated_at = excluded.updated_at",
    )
    .bind(tenant.as_str())
    .bind(region.as_ref().map(PhoneRegion::as_str))
    .bind(OffsetDateTime::now_utc())
    .execute(&mut *tx)
    .await
    .map(drop)
    .map_err(|e| Error::store("changing tenant settings", e))
}
