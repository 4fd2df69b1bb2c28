//! The SQLite store's [`Steps`]: the storage primitives of one transaction, in SQLite's SQL
//! (lists travel as JSON arrays, read with `json_each`).

use std::collections::BTreeSet;

use async_trait::async_trait;
use sqlx::SqliteConnection;
use time::OffsetDateTime;

use crate::blocked::BlockedValue;
use crate::contact::{Contact, ContactId, Link};
use crate::customer::CustomerRecord;
use crate::erase::{Erasure, PlannedErase, of_kind};
use crate::erasure::{ErasedRow, ErasureRecord};
use crate::error::{Error, Result};
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
use crate::verify::{StoredIdentifier, stored_identifiers};

use super::erase_steps::{EraseJob, pairs_with_rows};
use super::records::{self, NewValues};
use super::{counters, erase, events, import, json, settings};

/// The customer (primary) of tenant `?1`'s visible row `?2`.
const CUSTOMER_OF: &str = "\
SELECT coalesce(linked_id, id) FROM contact
WHERE tenant_id = ?1 AND id = ?2 AND deleted_at IS NULL";

/// The visible rows of tenant `?1`'s customer `?2`, found by id and by `linked_id` (see
/// `plans_tests.rs`).
const ROWS_OF: &str = "\
SELECT id, email, phone_number, linked_id, link_precedence, created_at, updated_at FROM contact
WHERE (id = ?2 OR linked_id = ?2) AND +tenant_id = ?1 AND deleted_at IS NULL";

/// Tenant `?1`'s pairs with a row in the JSON array `?2`.
const PAIRS_OF: &str = concat!(
    "SELECT a_id, b_id FROM identity_kept_apart ",
    pairs_with_rows!()
);

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

/// The events of tenant `?1`'s customers in the JSON array `?2`.
const OF_CUSTOMERS: &str = "\
SELECT id AS seq, customer_id AS customer, kind, contact_id AS contact, contact_ids AS contacts,
       email, phone, pattern, via, at, kept_ids AS kept
FROM identity_event
WHERE tenant_id = ?1 AND customer_id IN (SELECT value FROM json_each(?2)) ORDER BY id";

/// The events of tenant `?1` itself.
const OF_TENANT: &str = "\
SELECT id AS seq, customer_id AS customer, kind, contact_id AS contact, contact_ids AS contacts,
       email, phone, pattern, via, at, kept_ids AS kept
FROM identity_event WHERE tenant_id = ?1 AND customer_id IS NULL ORDER BY id";

/// The identifiers of tenant `?1` named in the JSON array `?2` of `[kind, value]` pairs that
/// name customer `?3`, pointed at `?4`.
const RENAME: &str = "\
UPDATE identity_identifier SET customer_id = ?4
WHERE tenant_id = ?1 AND customer_id = ?3
  AND (kind, value) IN (SELECT r.value ->> 0, r.value ->> 1 FROM json_each(?2) AS r)";

/// As [`RENAME`], deleted.
const UNNAME: &str = "\
DELETE FROM identity_identifier
WHERE tenant_id = ?1 AND customer_id = ?3
  AND (kind, value) IN (SELECT r.value ->> 0, r.value ->> 1 FROM json_each(?2) AS r)";

const ADD_PAIRS: &str = "\
INSERT OR IGNORE INTO identity_kept_apart (tenant_id, a_id, b_id, created_at)
SELECT ?1, r.value ->> 0, r.value ->> 1, ?3 FROM json_each(?2) AS r";

/// The values in JSON arrays `?3` (emails) and `?4` (phones) that visible rows of tenant `?1`
/// outside customer `?2` hold, with their customers.
const HELD_ELSEWHERE: &str = "\
SELECT 'email', email, coalesce(linked_id, id) FROM contact
WHERE tenant_id = ?1 AND deleted_at IS NULL AND coalesce(linked_id, id) <> ?2
  AND email IN (SELECT value FROM json_each(?3))
UNION
SELECT 'phone', phone_number, coalesce(linked_id, id) FROM contact
WHERE tenant_id = ?1 AND deleted_at IS NULL AND coalesce(linked_id, id) <> ?2
  AND phone_number IN (SELECT value FROM json_each(?4))";

/// The soft-deleted rows an erase of the rows `?2` deletes with them (those that link to
/// them or carry a value that goes: `?3` emails, `?4` phones), for its record.
const DELETED_ROWS: &str = "\
SELECT id, created_at FROM contact WHERE tenant_id = ?1 AND deleted_at IS NOT NULL
  AND (linked_id IN (SELECT value FROM json_each(?2))
       OR email IN (SELECT value FROM json_each(?3))
       OR phone_number IN (SELECT value FROM json_each(?4)))";

/// This module's statements that reach one request's or customer's rows by their keys, whose
/// plans `plans_tests.rs` checks (a statement added here that does so belongs in the list).
/// Not [`DELETED_ROWS`]: the soft-deleted rows have no index (each of the tenant's indexes
/// holds its visible rows), and an erase reads them once.
#[cfg(test)]
pub(super) const BY_KEY: &[(&str, &str)] = &[
    ("CUSTOMER_OF", CUSTOMER_OF),
    ("ROWS_OF", ROWS_OF),
    ("PAIRS_OF", PAIRS_OF),
    ("OF_CUSTOMERS", OF_CUSTOMERS),
    ("RENAME", RENAME),
    ("UNNAME", UNNAME),
    ("HELD_ELSEWHERE", HELD_ELSEWHERE),
];

/// One transaction's steps on a SQLite connection.
pub(super) struct SqliteSteps<'c>(pub &'c mut SqliteConnection);

/// The customer of tenant `tenant`'s visible row `customer`, and its visible rows.
pub(super) async fn customer_rows(
    tx: &mut SqliteConnection,
    tenant: &TenantId,
    customer: ContactId,
) -> Result<(ContactId, Vec<Contact>)> {
    operations::customer_rows(&mut SqliteSteps(tx), tenant, customer)
        .await
        .map_err(|f| f.into_error("reading a customer's rows"))
}

/// Splits `asked` off the customer of row `customer` in the caller's write transaction (see
/// [`operations::split`]).
pub(super) async fn split(
    tx: &mut SqliteConnection,
    tenant: &TenantId,
    customer: ContactId,
    asked: &[ContactId],
    block_shared: bool,
) -> Result<Split> {
    operations::split(&mut SqliteSteps(tx), tenant, customer, asked, block_shared)
        .await
        .map_err(|f| f.into_error("splitting a customer"))
}

/// Erases the customer of row `customer` in the caller's write transaction, whole, for
/// reapplying an erasure: the receipt, and the record when it erased now (none when it was
/// erased before). The record is not kept: the caller keeps the original erase's instead.
pub(super) async fn erase(
    tx: &mut SqliteConnection,
    tenant: &TenantId,
    customer: ContactId,
    suppress: bool,
) -> Result<(Erasure, Option<ErasureRecord>)> {
    let (receipt, record) =
        operations::erase(&mut SqliteSteps(&mut *tx), tenant, customer, suppress)
            .await
            .map_err(|f| f.into_error("erasing a customer"))?;
    if let Some(record) = &record {
        sqlx::query(erase::FORGET_RECORD)
            .bind(tenant.as_str())
            .bind(record.customer_id.get())
            .execute(&mut *tx)
            .await
            .map_err(failed("erasing a customer"))?;
    }
    Ok((receipt, record))
}

fn failed(operation: &'static str) -> impl Fn(sqlx::Error) -> Error {
    move |e| Error::store(operation, e)
}

fn pairs_json(keys: &[Key]) -> String {
    let pairs: Vec<(&str, &str)> = keys.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    json(&pairs)
}

#[async_trait]
impl Steps for SqliteSteps<'_> {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
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
            .await
            .map_err(failed("reading a customer's rows"))?;
        Ok(primary.map(ContactId::new))
    }

    async fn erased_from(
        &mut self,
        tenant: &TenantId,
        id: ContactId,
    ) -> Outcome<Option<ContactId>> {
        let customer: Option<i64> = sqlx::query_scalar(
            "SELECT customer_id FROM identity_erasure WHERE tenant_id = ?1 AND contact_id = ?2",
        )
        .bind(tenant.as_str())
        .bind(id.get())
        .fetch_optional(&mut *self.0)
        .await
        .map_err(failed("reading history"))?;
        Ok(customer.map(ContactId::new))
    }

    async fn rows_of(&mut self, tenant: &TenantId, primary: ContactId) -> Outcome<Vec<Contact>> {
        let rows: Vec<ContactRow> = sqlx::query_as(ROWS_OF)
            .bind(tenant.as_str())
            .bind(primary.get())
            .fetch_all(&mut *self.0)
            .await
            .map_err(failed("reading a customer's rows"))?;
        Ok(decode_rows(rows)?)
    }

    async fn kept_apart_pairs(
        &mut self,
        tenant: &TenantId,
        ids: &[ContactId],
    ) -> Outcome<Vec<(ContactId, ContactId)>> {
        let pairs: Vec<(i64, i64)> = sqlx::query_as(PAIRS_OF)
            .bind(tenant.as_str())
            .bind(json(ids))
            .fetch_all(&mut *self.0)
            .await
            .map_err(failed("splitting a customer"))?;
        Ok(pairs
            .into_iter()
            .map(|(a, b)| (ContactId::new(a), ContactId::new(b)))
            .collect())
    }

    async fn tenant_state(&mut self, tenant: &TenantId) -> Outcome<TenantState> {
        Ok(settings::state(&mut *self.0, tenant).await?)
    }

    async fn held_by_several(
        &mut self,
        tenant: &TenantId,
        value: Option<&str>,
    ) -> Outcome<Vec<Key>> {
        let rows: Vec<(String, String)> = sqlx::query_as(HELD_BY_SEVERAL)
            .bind(tenant.as_str())
            .bind(value)
            .fetch_all(&mut *self.0)
            .await
            .map_err(failed("changing the blocked list"))?;
        Ok(rows
            .into_iter()
            .map(|(kind, value)| (IdentifierKind::stored(&kind), value))
            .collect())
    }

    async fn has_rows(&mut self, tenant: &TenantId) -> Outcome<bool> {
        Ok(
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM contact WHERE tenant_id = ?1)")
                .bind(tenant.as_str())
                .fetch_one(&mut *self.0)
                .await
                .map_err(failed("reading tenant settings"))?,
        )
    }

    async fn customer_events(
        &mut self,
        tenant: &TenantId,
        customers: &[ContactId],
    ) -> Outcome<Vec<HistoryEvent>> {
        let rows = sqlx::query_as(OF_CUSTOMERS)
            .bind(tenant.as_str())
            .bind(json(customers));
        let rows = rows.fetch_all(&mut *self.0).await;
        Ok(StoredEvent::decode_all(
            rows.map_err(failed("reading history"))?,
        )?)
    }

    async fn tenant_events(&mut self, tenant: &TenantId) -> Outcome<Vec<HistoryEvent>> {
        let rows = sqlx::query_as(OF_TENANT).bind(tenant.as_str());
        let rows = rows.fetch_all(&mut *self.0).await;
        Ok(StoredEvent::decode_all(
            rows.map_err(failed("reading history"))?,
        )?)
    }

    async fn pruned_before(&mut self, tenant: &TenantId) -> Outcome<Option<OffsetDateTime>> {
        let at: Option<Option<OffsetDateTime>> = sqlx::query_scalar(
            "SELECT pruned_before FROM identity_feed_floor WHERE tenant_id = ?1",
        )
        .bind(tenant.as_str())
        .fetch_optional(&mut *self.0)
        .await
        .map_err(failed("reading history"))?;
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
        Ok(erase::receipt(&mut *self.0, tenant, id).await?)
    }

    async fn held_elsewhere(
        &mut self,
        tenant: &TenantId,
        primary: ContactId,
        values: &BTreeSet<Key>,
    ) -> Outcome<Vec<StoredIdentifier>> {
        let held: Vec<(String, String, i64)> = sqlx::query_as(HELD_ELSEWHERE)
            .bind(tenant.as_str())
            .bind(primary.get())
            .bind(json(&of_kind(values, IdentifierKind::Email)))
            .bind(json(&of_kind(values, IdentifierKind::Phone)))
            .fetch_all(&mut *self.0)
            .await
            .map_err(failed("erasing a customer"))?;
        Ok(stored_identifiers(held))
    }

    async fn secret(&mut self) -> Outcome<Secret> {
        Ok(erase::secret(&mut *self.0, OffsetDateTime::now_utc()).await?)
    }

    async fn deleted_rows(
        &mut self,
        tenant: &TenantId,
        erased: &[ContactId],
        gone: &[Key],
    ) -> Outcome<Vec<ErasedRow>> {
        let deleted: Vec<(i64, OffsetDateTime)> = sqlx::query_as(DELETED_ROWS)
            .bind(tenant.as_str())
            .bind(json(erased))
            .bind(json(&of_kind(gone, IdentifierKind::Email)))
            .bind(json(&of_kind(gone, IdentifierKind::Phone)))
            .fetch_all(&mut *self.0)
            .await
            .map_err(failed("erasing a customer"))?;
        Ok(deleted
            .into_iter()
            .map(|(id, at)| ErasedRow::new(ContactId::new(id), Some(at)))
            .collect())
    }

    async fn apply_erase(&mut self, tenant: &TenantId, erase: &PlannedErase) -> Outcome<()> {
        // all of it in this transaction (a large erase outside reapply runs as a job instead)
        Ok(EraseJob::of(erase)
            .work(&mut *self.0, tenant, usize::MAX)
            .await?)
    }

    async fn count_rows(&mut self, tenant: &TenantId) -> Outcome<i64> {
        let count = sqlx::query_scalar("SELECT count(*) FROM contact WHERE tenant_id = ?1")
            .bind(tenant.as_str())
            .fetch_one(&mut *self.0)
            .await;
        Ok(count.map_err(failed("importing contacts"))?)
    }

    async fn ids_given_out(&mut self) -> Outcome<i64> {
        let next: i64 = sqlx::query_scalar(counters::NEXT_ID)
            .fetch_one(&mut *self.0)
            .await
            .map_err(failed("importing contacts"))?;
        Ok(next - 1)
    }

    async fn draw_ids(&mut self, n: usize) -> Outcome<Vec<ContactId>> {
        let given = self.ids_given_out().await?;
        let ids: Vec<ContactId> = (1..=n as i64).map(|k| ContactId::new(given + k)).collect();
        import::reserve(&mut *self.0, given + n as i64).await?;
        Ok(ids)
    }

    async fn next_blocked_version(&mut self, tenant: &TenantId, version: i64) -> Outcome<()> {
        let now = OffsetDateTime::now_utc();
        Ok(settings::next_version(&mut *self.0, tenant, version, now).await?)
    }

    async fn write_blocked(
        &mut self,
        tenant: &TenantId,
        entry: &BlockedValue,
        add: bool,
    ) -> Outcome<()> {
        let statement = if add {
            "INSERT INTO identity_blocked (tenant_id, kind, pattern, value, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)"
        } else {
            "DELETE FROM identity_blocked
             WHERE tenant_id = ?1 AND kind = ?2 AND pattern = ?3 AND value = ?4
               AND ?5 IS NOT NULL"
        };
        sqlx::query(statement)
            .bind(tenant.as_str())
            .bind(entry.kind().as_str())
            .bind(entry.is_pattern())
            .bind(entry.text())
            .bind(OffsetDateTime::now_utc())
            .execute(&mut *self.0)
            .await
            .map_err(failed("changing the blocked list"))?;
        Ok(())
    }

    async fn write_limits(&mut self, tenant: &TenantId, limits: Limits) -> Outcome<()> {
        sqlx::query(
            "UPDATE identity_tenant_settings SET max_emails = ?2, max_phones = ?3
             WHERE tenant_id = ?1",
        )
        .bind(tenant.as_str())
        .bind(limits.emails.map(i64::from))
        .bind(limits.phones.map(i64::from))
        .execute(&mut *self.0)
        .await
        .map_err(failed("changing tenant settings"))?;
        Ok(())
    }

    async fn write_phone_region(
        &mut self,
        tenant: &TenantId,
        region: Option<PhoneRegion>,
    ) -> Outcome<()> {
        sqlx::query(
            "INSERT INTO identity_tenant_settings (tenant_id, phone_region, updated_at)
             VALUES (?1, ?2, ?3)
             ON CONFLICT (tenant_id) DO UPDATE
             SET phone_region = excluded.phone_region, updated_at = excluded.updated_at",
        )
        .bind(tenant.as_str())
        .bind(region.as_ref().map(PhoneRegion::as_str))
        .bind(OffsetDateTime::now_utc())
        .execute(&mut *self.0)
        .await
        .map_err(failed("changing tenant settings"))?;
        Ok(())
    }

    async fn relink(
        &mut self,
        tenant: &TenantId,
        relinks: &[(ContactId, Link)],
        at: OffsetDateTime,
    ) -> Outcome<()> {
        for (id, link) in relinks {
            records::relink(&mut *self.0, tenant, &[*id], *link, at).await?;
        }
        Ok(())
    }

    async fn replace_customer(
        &mut self,
        tenant: &TenantId,
        _primary: ContactId,
        records: &[CustomerRecord],
    ) -> Outcome<()> {
        // a record is kept by its primary: the replaced customer's is overwritten, as its
        // primary leads one of the parts
        for record in records {
            let none = NewValues::Some(None, None);
            records::store(&mut *self.0, tenant, record.clone(), none).await?;
        }
        Ok(())
    }

    async fn rename_identifiers(
        &mut self,
        tenant: &TenantId,
        keys: &[Key],
        from: ContactId,
        to: ContactId,
    ) -> Outcome<()> {
        sqlx::query(RENAME)
            .bind(tenant.as_str())
            .bind(pairs_json(keys))
            .bind(from.get())
            .bind(to.get())
            .execute(&mut *self.0)
            .await
            .map_err(failed("splitting a customer"))?;
        Ok(())
    }

    async fn drop_identifiers(
        &mut self,
        tenant: &TenantId,
        keys: &[Key],
        owner: ContactId,
    ) -> Outcome<()> {
        sqlx::query(UNNAME)
            .bind(tenant.as_str())
            .bind(pairs_json(keys))
            .bind(owner.get())
            .execute(&mut *self.0)
            .await
            .map_err(failed("splitting a customer"))?;
        Ok(())
    }

    async fn keep_apart(
        &mut self,
        tenant: &TenantId,
        pairs: &[(ContactId, ContactId)],
        at: OffsetDateTime,
    ) -> Outcome<()> {
        let pairs: Vec<(i64, i64)> = pairs.iter().map(|(a, b)| (a.get(), b.get())).collect();
        sqlx::query(ADD_PAIRS)
            .bind(tenant.as_str())
            .bind(json(&pairs))
            .bind(at)
            .execute(&mut *self.0)
            .await
            .map_err(failed("splitting a customer"))?;
        Ok(())
    }

    async fn record(
        &mut self,
        tenant: &TenantId,
        customer: Option<ContactId>,
        change: &Change,
        at: OffsetDateTime,
    ) -> Outcome<()> {
        Ok(events::record(&mut *self.0, tenant, customer, change, at).await?)
    }
}
