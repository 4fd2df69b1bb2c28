//! The PostgreSQL side of tenant settings (the `identity_tenant` row, `identity_blocked`):
//! reading them. The changes are the operations of `operations.rs`, over the steps of
//! `steps.rs`, each under the tenant's lock alone.

use sqlx::{Executor, Postgres};

use crate::blocked::{BlockList, BlockedValue};
use crate::error::Result;
use crate::identifier::IdentifierKind;
use crate::limits::Limits;
use crate::region::stored_region;
use crate::screen::TenantState;
use crate::suppress::{Secret, Suppressed, stored_digest};
use crate::tenant::TenantId;

use crate::store::Outcome;

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
