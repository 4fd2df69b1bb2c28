//! Import, begun once for every backend: the tenant must be empty and under the settings the
//! plan was made with; the planned rows take their ids (a table's own, checked against the ids
//! given out, or drawn from the store's sequence). Loading them stays one step per backend
//! (PostgreSQL's COPY in the same transaction; SQLite's bounded loader, which may span
//! transactions for a large import). Planning itself is pure (`crate::import::plan`), run by
//! the caller outside any write.

use crate::contact::{Contact, ContactId};
use crate::error::Error;
use crate::import::{ImportPlan, ImportReport, refuse_not_empty, refuse_taken_ids};
use crate::screen::TenantState;
use crate::store::Outcome;
use crate::store::steps::Steps;
use crate::tenant::TenantId;

/// What an import's transaction does after [`begin_import`].
pub(crate) enum Begun {
    /// A dry run: the report, with the ids the rows would take; nothing to write.
    Dry(ImportReport),
    /// The rows to load with their ids, the report, and a table's own ids (lowest, highest),
    /// which the store's sequence must continue above.
    Load {
        rows: Vec<Contact>,
        report: ImportReport,
        kept: Option<(u64, u64)>,
    },
}

/// The tenant's settings to plan an import under, once it is found empty.
///
/// # Errors
/// [`crate::Error::Conflict`] when the tenant has contact rows, deleted ones included.
pub(crate) async fn import_settings<S: Steps + ?Sized>(
    steps: &mut S,
    tenant: &TenantId,
) -> Outcome<TenantState> {
    let existing = steps.count_rows(tenant).await?;
    if existing > 0 {
        return Err(refuse_not_empty(tenant, existing.unsigned_abs()).into());
    }
    steps.tenant_state(tenant).await
}

/// Begins writing `plan` (made under `planned`) in the caller's write transaction, which holds
/// the tenant's writes off: checks the tenant again and gives the rows their ids.
///
/// # Errors
/// [`crate::Error::Conflict`] when the tenant has rows now, its settings changed since the plan
/// was made, or a table's ids are taken; the plan's own refusals.
pub(crate) async fn begin_import<S: Steps + ?Sized>(
    steps: &mut S,
    tenant: &TenantId,
    plan: ImportPlan,
    planned: &TenantState,
    dry_run: bool,
) -> Outcome<Begun> {
    let state = import_settings(steps, tenant).await?;
    if state.region != planned.region
        || state.blocked.version != planned.blocked.version
        || state.limits != planned.limits
    {
        return Err(Error::Conflict {
            reason: format!(
                "tenant {tenant}'s settings changed while the import was planned: import again"
            ),
        }
        .into());
    }
    let given = steps.ids_given_out().await?;
    let kept = plan
        .kept_ids()
        .map(|(ids, lowest, highest)| (ids.to_vec(), lowest, highest));
    if let Some((_, lowest, _)) = &kept
        && i64::try_from(*lowest).is_ok_and(|lowest| lowest <= given)
    {
        return Err(refuse_taken_ids(*lowest, given).into());
    }
    let ids = match &kept {
        Some((ids, ..)) => ids.clone(),
        // the ids the rows would take if nothing else drew any meanwhile
        None if dry_run => (1..=plan.rows.len() as i64)
            .map(|k| ContactId::new(given + k))
            .collect(),
        None => steps.draw_ids(plan.rows.len()).await?,
    };
    if dry_run {
        return Ok(Begun::Dry(plan.finish(&ids, false)?.1));
    }
    let (rows, report) = plan.finish(&ids, !ids.is_empty())?;
    Ok(Begun::Load {
        rows,
        report,
        kept: kept.map(|(_, lowest, highest)| (lowest, highest)),
    })
}
