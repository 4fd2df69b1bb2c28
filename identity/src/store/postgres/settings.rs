//! The PostgreSQL side of tenant settings (the `identity_tenant` row, `identity_blocked`):
//! reading them, and changing the phone region (`identity_set_phone_region`) or the blocked list
//! (`identity_change_blocked`), each under the tenant's lock alone.

use sqlx::{Executor, Postgres};

use crate::blocked::{BlockList, BlockedValue};
use crate::error::Result;
use crate::identifier::IdentifierKind;
use crate::limits::Limits;
use crate::region::{PhoneRegion, refuse_change, stored_region};
use crate::screen::TenantState;
use crate::suppress::{Secret, Suppressed, stored_digest};
use crate::tenant::TenantId;

use super::outcome::Outcome;

type StateRow = (
    Option<String>,
    i64,
    Vec<String>,
    Vec<bool>,
    Vec<String>,
    Vec<String>,
    Vec<Vec<u8>>,
    Option<Vec<u8>>,
    Option<i64>,
    Option<i64>,
);

/// The tenant's region, blocked-list version and entries, its suppressed values with the
/// store's secret (NULL when it has none), and its caps.
const STATE: &str = "\
SELECT s.region, s.blocked_version, s.kinds, s.patterns, s.vals,
       coalesce(x.kinds, '{}'), coalesce(x.digests, '{}'),
       CASE WHEN x.kinds IS NOT NULL THEN (SELECT secret FROM identity_secret) END,
       t.max_emails, t.max_phones
FROM identity_tenant_settings($1) AS s
LEFT JOIN identity_tenant AS t ON t.tenant_id = $1,
     (SELECT array_agg(kind ORDER BY kind, digest) AS kinds,
             array_agg(digest ORDER BY kind, digest) AS digests
      FROM identity_suppressed WHERE tenant_id = $1) AS x";

/// The tenant's settings as stored: what its requests are read under.
pub(crate) async fn state<'e, E>(executor: E, tenant: &TenantId) -> Outcome<TenantState>
where
    E: Executor<'e, Database = Postgres>,
{
    let (region, version, kinds, patterns, values, suppressed, digests, secret, emails, phones): StateRow =
        sqlx::query_as(STATE)
            .bind(tenant.as_str())
            .fetch_one(executor)
            .await?;
    let entries = kinds
        .iter()
        .zip(&patterns)
        .zip(&values)
        .map(|((kind, pattern), value)| BlockedValue::stored(kind, *pattern, value))
        .collect::<Result<Vec<_>>>()?;
    let set = match secret {
        None => None,
        Some(secret) => {
            let digests = suppressed
                .iter()
                .zip(&digests)
                .map(|(kind, digest)| Ok((IdentifierKind::stored(kind), stored_digest(digest)?)))
                .collect::<Result<Vec<_>>>()?;
            Some(Suppressed::new(Secret::from_stored(&secret)?, digests))
        }
    };
    Ok(TenantState {
        region: stored_region(region.as_deref())?,
        blocked: BlockList::stored(version, entries, set)?,
        limits: Limits::new(emails, phones)?,
    })
}

/// Sets the tenant's caps under its lock alone (one statement, its own transaction).
pub(crate) async fn set_limits<'e, E>(executor: E, tenant: &TenantId, limits: Limits) -> Outcome<()>
where
    E: Executor<'e, Database = Postgres>,
{
    sqlx::query("SELECT identity_set_limits($1, $2, $3)")
        .bind(tenant.as_str())
        .bind(limits.emails.map(i64::from))
        .bind(limits.phones.map(i64::from))
        .execute(executor)
        .await?;
    Ok(())
}

/// Adds (`add`) or removes a blocked entry, already in the tenant's form (one statement, its
/// own transaction); whether the list changed.
pub(crate) async fn change_blocked<'e, E>(
    executor: E,
    tenant: &TenantId,
    entry: &BlockedValue,
    add: bool,
) -> Outcome<bool>
where
    E: Executor<'e, Database = Postgres>,
{
    Ok(
        sqlx::query_scalar("SELECT identity_change_blocked($1, $2, $3, $4, $5)")
            .bind(tenant.as_str())
            .bind(entry.kind().as_str())
            .bind(entry.is_pattern())
            .bind(entry.text())
            .bind(add)
            .fetch_one(executor)
            .await?,
    )
}

/// Sets the tenant's region (one statement, its own transaction); refused, with nothing
/// changed, when it would change and the tenant has rows.
pub(crate) async fn set_phone_region<'e, E>(
    executor: E,
    tenant: &TenantId,
    region: Option<PhoneRegion>,
) -> Outcome<()>
where
    E: Executor<'e, Database = Postgres>,
{
    let (outcome, current): (String, Option<String>) =
        sqlx::query_as("SELECT outcome, region FROM identity_set_phone_region($1, $2)")
            .bind(tenant.as_str())
            .bind(region.as_ref().map(PhoneRegion::as_str))
            .fetch_one(executor)
            .await?;
    if outcome == "has-rows" {
        let current = stored_region(current.as_deref())?;
        return Err(refuse_change(tenant, current, region).into());
    }
    Ok(())
}
