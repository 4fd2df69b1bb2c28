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
/// store's secret (NULL when it has none), and its caps: one call.
const STATE: &str = "SELECT * FROM identity_tenant_state($1)";

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
