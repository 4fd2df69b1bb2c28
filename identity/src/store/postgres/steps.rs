//! The PostgreSQL store's [`Steps`]: the storage primitives of one transaction, in
//! PostgreSQL's SQL (lists travel as arrays). The caller holds the tenant's graph lock alone
//! for a write.

use std::collections::BTreeSet;

use async_trait::async_trait;
use sqlx::PgConnection;
use time::OffsetDateTime;

use crate::blocked::BlockedValue;
use crate::contact::{Contact, ContactId, Link};
use crate::customer::CustomerRecord;
use crate::erase::{Erasure, PlannedErase};
use crate::erasure::{ErasedRow, ErasureRecord};
use crate::feed::stored::{FeedBounds, StoredFeedRow};
use crate::history::stored::StoredEvent;
use crate::history::{Change, HistoryEvent};
use crate::identifier::IdentifierKind;
use crate::limits::Limits;
use crate::region::PhoneRegion;
use crate::screen::TenantState;
use crate::split::Split;
use crate::store::steps::{Key, Steps};
use crate::store::{ContactRow, Outcome, decode_rows, operations};
use crate::suppress::Secret;
use crate::tenant::TenantId;
use crate::verify::StoredIdentifier;

use super::{erase, events, graph, import, settings};

const CUSTOMER_OF: &str = "\
SELECT coalesce(linked_id, id) FROM contact
WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL";

const ROWS_OF: &str = "\
SELECT id, email, phone_number, linked_id, link_precedence, created_at, updated_at FROM contact
WHERE tenant_id = $1 AND deleted_at IS NULL AND (id = $2 OR linked_id = $2)";

const PAIRS_OF: &str = "\
SELECT a_id, b_id FROM identity_kept_apart
WHERE tenant_id = $1 AND (a_id = ANY($2) OR b_id = ANY($2))";

const ADD_PAIRS: &str = "\
INSERT INTO identity_kept_apart (tenant_id, a_id, b_id)
SELECT $1, * FROM unnest($2::bigint[], $3::bigint[]) ON CONFLICT DO NOTHING";

/// The values of tenant `$1` equal to `$2` held by more than one customer (by index).
const HELD_EXACT: &str = "\
SELECT 'email', email FROM contact
WHERE tenant_id = $1 AND deleted_at IS NULL AND email = $2
GROUP BY email HAVING count(DISTINCT coalesce(linked_id, id)) > 1
UNION ALL
SELECT 'phone', phone_number FROM contact
WHERE tenant_id = $1 AND deleted_at IS NULL AND phone_number = $2
GROUP BY phone_number HAVING count(DISTINCT coalesce(linked_id, id)) > 1";

/// Every value of tenant `$1` held by more than one customer (a scan of its rows).
const HELD_ANY: &str = "\
SELECT 'email', email FROM contact
WHERE tenant_id = $1 AND deleted_at IS NULL AND email IS NOT NULL
GROUP BY email HAVING count(DISTINCT coalesce(linked_id, id)) > 1
UNION ALL
SELECT 'phone', phone_number FROM contact
WHERE tenant_id = $1 AND deleted_at IS NULL AND phone_number IS NOT NULL
GROUP BY phone_number HAVING count(DISTINCT coalesce(linked_id, id)) > 1";

/// The events of tenant `$1`'s customers in `$2`, in the tenant's order (feed positions: event
/// ids are drawn per node on Citus, so they do not order a tenant's events there).
const OF_CUSTOMERS: &str = "\
SELECT position AS seq, customer_id AS customer, kind, contact_id AS contact,
       array_to_string(contact_ids, ',') AS contacts, email, phone, pattern, via, at,
       array_to_string(kept_ids, ',') AS kept
FROM identity_event WHERE tenant_id = $1 AND customer_id = ANY($2) ORDER BY position";

/// The events of tenant `$1` itself, in the tenant's order.
const OF_TENANT: &str = "\
SELECT position AS seq, customer_id AS customer, kind, contact_id AS contact,
       array_to_string(contact_ids, ',') AS contacts, email, phone, pattern, via, at,
       array_to_string(kept_ids, ',') AS kept
FROM identity_event WHERE tenant_id = $1 AND customer_id IS NULL ORDER BY position";

/// Tenant `$1`'s blocked list from version `$2` to the next: a tenant's first change copies the
/// defaults (`identity_blocked_default`) to its own entries.
const NEXT_VERSION: &str = "\
WITH copied AS (
    INSERT INTO identity_blocked (tenant_id, kind, pattern, value, created_at)
    SELECT $1, b.kind, b.pattern, b.value, b.created_at
    FROM identity_blocked_default AS b WHERE $2 = 0
)
INSERT INTO identity_tenant AS t (tenant_id, blocked_version, updated_at)
VALUES ($1, $2 + 1, clock_timestamp())
ON CONFLICT (tenant_id)
DO UPDATE SET blocked_version = excluded.blocked_version, updated_at = excluded.updated_at";

const RENAME: &str = "\
UPDATE identity_identifier AS i SET customer_id = $5
FROM unnest($2::text[], $3::text[]) AS v(kind, value)
WHERE i.tenant_id = $1 AND i.kind = v.kind AND i.value = v.value AND i.customer_id = $4";

const UNNAME: &str = "\
DELETE FROM identity_identifier AS i
USING unnest($2::text[], $3::text[]) AS v(kind, value)
WHERE i.tenant_id = $1 AND i.kind = v.kind AND i.value = v.value AND i.customer_id = $4";

/// One transaction's steps on a PostgreSQL connection.
pub(crate) struct PgSteps<'c>(pub &'c mut PgConnection);

/// The customer of tenant `tenant`'s visible row `customer`, and its visible rows.
pub(crate) async fn customer_rows(
    tx: &mut PgConnection,
    tenant: &TenantId,
    customer: ContactId,
) -> Outcome<(ContactId, Vec<Contact>)> {
    operations::customer_rows(&mut PgSteps(tx), tenant, customer).await
}

/// Splits `asked` off the customer of row `customer` in the caller's transaction, which holds
/// the tenant's graph lock alone with its pending changes applied (see [`operations::split`]).
pub(crate) async fn split(
    tx: &mut PgConnection,
    tenant: &TenantId,
    customer: ContactId,
    asked: &[ContactId],
    block_shared: bool,
) -> Outcome<Split> {
    operations::split(&mut PgSteps(tx), tenant, customer, asked, block_shared).await
}

/// Erases the customer of row `customer` whole in the caller's transaction, which holds the
/// tenant's graph lock alone with its pending changes applied (see [`operations::erase`]): its
/// receipt, and its record when it erased now (the caller keeps it).
pub(crate) async fn erase(
    tx: &mut PgConnection,
    tenant: &TenantId,
    customer: ContactId,
    suppress: bool,
) -> Outcome<(Erasure, Option<ErasureRecord>)> {
    operations::erase(&mut PgSteps(tx), tenant, customer, suppress).await
}

fn columns(values: &[Key]) -> (Vec<&str>, Vec<&str>) {
    values
        .iter()
        .map(|(kind, value)| (kind.as_str(), value.as_str()))
        .unzip()
}

#[async_trait]
impl Steps for PgSteps<'_> {
    fn now(&self) -> OffsetDateTime {
        // to the microsecond, as `timestamptz` keeps it: a time written and read back is equal
        let now = OffsetDateTime::now_utc();
        now.replace_nanosecond(now.nanosecond() / 1_000 * 1_000)
            .unwrap_or(now)
    }

    async fn customer_of(
        &mut self,
        tenant: &TenantId,
        id: ContactId,
    ) -> Outcome<Option<ContactId>> {
        let primary: Option<i64> = sqlx::query_scalar(CUSTOMER_OF)
            .bind(tenant.as_str())
            .bind(id.get())
            .fetch_optional(&mut *self.0)
            .await?;
        Ok(primary.map(ContactId::new))
    }

    async fn erased_from(
        &mut self,
        tenant: &TenantId,
        id: ContactId,
    ) -> Outcome<Option<ContactId>> {
        let customer: Option<i64> = sqlx::query_scalar(
            "SELECT customer_id FROM identity_erasure WHERE tenant_id = $1 AND contact_id = $2",
        )
        .bind(tenant.as_str())
        .bind(id.get())
        .fetch_optional(&mut *self.0)
        .await?;
        Ok(customer.map(ContactId::new))
    }

    async fn rows_of(&mut self, tenant: &TenantId, primary: ContactId) -> Outcome<Vec<Contact>> {
        let rows: Vec<ContactRow> = sqlx::query_as(ROWS_OF)
            .bind(tenant.as_str())
            .bind(primary.get())
            .fetch_all(&mut *self.0)
            .await?;
        Ok(decode_rows(rows)?)
    }

    async fn kept_apart_pairs(
        &mut self,
        tenant: &TenantId,
        ids: &[ContactId],
    ) -> Outcome<Vec<(ContactId, ContactId)>> {
        let ids: Vec<i64> = ids.iter().map(|c| c.get()).collect();
        let pairs: Vec<(i64, i64)> = sqlx::query_as(PAIRS_OF)
            .bind(tenant.as_str())
            .bind(&ids)
            .fetch_all(&mut *self.0)
            .await?;
        Ok(pairs
            .into_iter()
            .map(|(a, b)| (ContactId::new(a), ContactId::new(b)))
            .collect())
    }

    async fn tenant_state(&mut self, tenant: &TenantId) -> Outcome<TenantState> {
        settings::state(&mut *self.0, tenant).await
    }

    async fn held_by_several(
        &mut self,
        tenant: &TenantId,
        value: Option<&str>,
    ) -> Outcome<Vec<Key>> {
        let query = match value {
            Some(value) => sqlx::query_as(HELD_EXACT).bind(tenant.as_str()).bind(value),
            None => sqlx::query_as(HELD_ANY).bind(tenant.as_str()),
        };
        let held: Vec<(String, String)> = query.fetch_all(&mut *self.0).await?;
        Ok(held
            .into_iter()
            .map(|(kind, value)| (IdentifierKind::stored(&kind), value))
            .collect())
    }

    async fn has_rows(&mut self, tenant: &TenantId) -> Outcome<bool> {
        Ok(
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM contact WHERE tenant_id = $1)")
                .bind(tenant.as_str())
                .fetch_one(&mut *self.0)
                .await?,
        )
    }

    async fn customer_events(
        &mut self,
        tenant: &TenantId,
        customers: &[ContactId],
    ) -> Outcome<Vec<HistoryEvent>> {
        let ids: Vec<i64> = customers.iter().map(|c| c.get()).collect();
        let rows = sqlx::query_as(OF_CUSTOMERS).bind(tenant.as_str()).bind(ids);
        Ok(StoredEvent::decode_all(
            rows.fetch_all(&mut *self.0).await?,
        )?)
    }

    async fn tenant_events(&mut self, tenant: &TenantId) -> Outcome<Vec<HistoryEvent>> {
        let rows = sqlx::query_as(OF_TENANT).bind(tenant.as_str());
        Ok(StoredEvent::decode_all(
            rows.fetch_all(&mut *self.0).await?,
        )?)
    }

    async fn pruned_before(&mut self, tenant: &TenantId) -> Outcome<Option<OffsetDateTime>> {
        let at: Option<Option<OffsetDateTime>> = sqlx::query_scalar(
            "SELECT pruned_before FROM identity_feed_floor WHERE tenant_id = $1",
        )
        .bind(tenant.as_str())
        .fetch_optional(&mut *self.0)
        .await?;
        Ok(at.flatten())
    }

    async fn feed_events(
        &mut self,
        tenant: &TenantId,
        after: u64,
        limit: usize,
    ) -> Outcome<(FeedBounds, Vec<StoredFeedRow>)> {
        super::feed::page(&mut *self.0, tenant, after, limit).await
    }

    async fn receipt(&mut self, tenant: &TenantId, id: ContactId) -> Outcome<Option<Erasure>> {
        erase::receipt(&mut *self.0, tenant, id).await
    }

    async fn held_elsewhere(
        &mut self,
        tenant: &TenantId,
        primary: ContactId,
        values: &BTreeSet<Key>,
    ) -> Outcome<Vec<StoredIdentifier>> {
        erase::held_elsewhere(&mut *self.0, tenant, primary, values).await
    }

    async fn secret(&mut self) -> Outcome<Secret> {
        erase::secret(&mut *self.0).await
    }

    async fn deleted_rows(
        &mut self,
        tenant: &TenantId,
        erased: &[ContactId],
        gone: &[Key],
    ) -> Outcome<Vec<ErasedRow>> {
        erase::deleted_rows(&mut *self.0, tenant, erased, gone).await
    }

    async fn apply_erase(&mut self, tenant: &TenantId, planned: &PlannedErase) -> Outcome<()> {
        erase::apply(&mut *self.0, tenant, planned).await
    }

    async fn count_rows(&mut self, tenant: &TenantId) -> Outcome<i64> {
        Ok(
            sqlx::query_scalar("SELECT count(*) FROM contact WHERE tenant_id = $1")
                .bind(tenant.as_str())
                .fetch_one(&mut *self.0)
                .await?,
        )
    }

    async fn ids_given_out(&mut self) -> Outcome<i64> {
        import::ids_given_out(&mut *self.0).await
    }

    async fn draw_ids(&mut self, n: usize) -> Outcome<Vec<ContactId>> {
        import::draw_ids(&mut *self.0, n).await
    }

    async fn next_blocked_version(&mut self, tenant: &TenantId, version: i64) -> Outcome<()> {
        sqlx::query(NEXT_VERSION)
            .bind(tenant.as_str())
            .bind(version)
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    async fn write_blocked(
        &mut self,
        tenant: &TenantId,
        entry: &BlockedValue,
        add: bool,
    ) -> Outcome<()> {
        let statement = if add {
            "INSERT INTO identity_blocked (tenant_id, kind, pattern, value)
             VALUES ($1, $2, $3, $4)"
        } else {
            "DELETE FROM identity_blocked
             WHERE tenant_id = $1 AND kind = $2 AND pattern = $3 AND value = $4"
        };
        sqlx::query(statement)
            .bind(tenant.as_str())
            .bind(entry.kind().as_str())
            .bind(entry.is_pattern())
            .bind(entry.text())
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    async fn write_limits(&mut self, tenant: &TenantId, limits: Limits) -> Outcome<()> {
        sqlx::query(
            "UPDATE identity_tenant
             SET max_emails = $2, max_phones = $3, updated_at = statement_timestamp()
             WHERE tenant_id = $1",
        )
        .bind(tenant.as_str())
        .bind(limits.emails.map(i64::from))
        .bind(limits.phones.map(i64::from))
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    async fn write_phone_region(
        &mut self,
        tenant: &TenantId,
        region: Option<PhoneRegion>,
    ) -> Outcome<()> {
        sqlx::query(
            "INSERT INTO identity_tenant AS t (tenant_id, phone_region, updated_at)
             VALUES ($1, $2, clock_timestamp())
             ON CONFLICT (tenant_id)
             DO UPDATE SET phone_region = excluded.phone_region, updated_at = excluded.updated_at",
        )
        .bind(tenant.as_str())
        .bind(region.as_ref().map(PhoneRegion::as_str))
        .execute(&mut *self.0)
        .await?;
        Ok(())
    }

    async fn relink(
        &mut self,
        tenant: &TenantId,
        relinks: &[(ContactId, Link)],
        _at: OffsetDateTime,
    ) -> Outcome<()> {
        graph::relink_rows(&mut *self.0, tenant, relinks).await
    }

    async fn replace_customer(
        &mut self,
        tenant: &TenantId,
        primary: ContactId,
        records: &[CustomerRecord],
    ) -> Outcome<()> {
        sqlx::query("DELETE FROM identity_customer WHERE tenant_id = $1 AND primary_id = $2")
            .bind(tenant.as_str())
            .bind(primary.get())
            .execute(&mut *self.0)
            .await?;
        graph::insert_records(&mut *self.0, tenant, records).await
    }

    async fn rename_identifiers(
        &mut self,
        tenant: &TenantId,
        keys: &[Key],
        from: ContactId,
        to: ContactId,
    ) -> Outcome<()> {
        let (kinds, values) = columns(keys);
        sqlx::query(RENAME)
            .bind(tenant.as_str())
            .bind(kinds)
            .bind(values)
            .bind(from.get())
            .bind(to.get())
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    async fn drop_identifiers(
        &mut self,
        tenant: &TenantId,
        keys: &[Key],
        owner: ContactId,
    ) -> Outcome<()> {
        let (kinds, values) = columns(keys);
        sqlx::query(UNNAME)
            .bind(tenant.as_str())
            .bind(kinds)
            .bind(values)
            .bind(owner.get())
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    async fn keep_apart(
        &mut self,
        tenant: &TenantId,
        pairs: &[(ContactId, ContactId)],
        _at: OffsetDateTime,
    ) -> Outcome<()> {
        sqlx::query(ADD_PAIRS)
            .bind(tenant.as_str())
            .bind(pairs.iter().map(|(a, _)| a.get()).collect::<Vec<_>>())
            .bind(pairs.iter().map(|(_, b)| b.get()).collect::<Vec<_>>())
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    async fn record(
        &mut self,
        tenant: &TenantId,
        customer: Option<ContactId>,
        change: &Change,
        _at: OffsetDateTime,
    ) -> Outcome<()> {
        // the server's clock, as the write functions' events have
        events::record(&mut *self.0, tenant, customer, change).await
    }
}
