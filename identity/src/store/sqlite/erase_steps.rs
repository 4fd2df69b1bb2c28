//! An erase as steps of bounded size ([`EraseJob`]): what the erase of one customer deletes,
//! scrubs and records, planned once (`erase.rs`) and worked off a budget of rows at a time. A
//! small erase runs every phase in its one transaction; a large one keeps the job in
//! `identity_tenant_job` and runs a step per write transaction (`jobs.rs`), so SQLite's one
//! writer serves other tenants between steps.

use serde::{Deserialize, Serialize};
use sqlx::SqliteConnection;
use time::OffsetDateTime;

use crate::contact::ContactId;
use crate::erase::{Erasure, PlannedErase};
use crate::erasure::ErasureRecord;
use crate::error::{Error, Result};
use crate::history::Change;
use crate::identifier::IdentifierKind;
use crate::suppress::hex;
use crate::tenant::TenantId;

use super::json;
use super::{events, settings};

/// The soft-deleted rows that link to the rows `?2` or carry a value that goes (`?3` emails,
/// `?4` phones).
const DELETE_DELETED_ROWS: &str = "\
DELETE FROM contact WHERE tenant_id = ?1 AND deleted_at IS NOT NULL
  AND (linked_id IN (SELECT value FROM json_each(?2))
       OR email IN (SELECT value FROM json_each(?3))
       OR phone_number IN (SELECT value FROM json_each(?4)))";

// A step's rows and identifiers are found by their keys (`+` keeps SQLite from scanning the
// tenant's or the customer's index instead, once per step: quadratic in the customer's size).

/// The rows `?2`.
const DELETE_ROWS: &str = "\
DELETE FROM contact WHERE id IN (SELECT value FROM json_each(?2)) AND +tenant_id = ?1";

/// The identifiers of customer `?2` for the values `?3` (`[kind, value]` pairs).
const DELETE_IDENTIFIERS: &str = "\
DELETE FROM identity_identifier
WHERE (tenant_id, kind, value) IN (SELECT ?1, r.value ->> 0, r.value ->> 1 FROM json_each(?3) AS r)
  AND +customer_id = ?2";

/// Scrubs up to `?5` events of the customers reached from the erased rows `?2` by merges and
/// splits ([`crate::erase::lineage`]): every value of an event of an erased customer or row,
/// and the values that go (`?3` emails, `?4` phones) elsewhere. Only events with something to
/// scrub are taken, so a step that changes fewer than `?5` was the last.
const SCRUB: &str = "\
WITH RECURSIVE reached(c) AS (
    SELECT value FROM json_each(?2)
    UNION
    -- CROSS JOIN keeps this order: one index search per customer reached (the other way
    -- round, SQLite scanned the tenant's events once per customer: 3.7 s at 5,000 rows)
    SELECT e.contact_id FROM reached CROSS JOIN identity_event AS e
    WHERE e.tenant_id = ?1 AND e.customer_id = reached.c
      AND e.kind IN ('merged', 'split_off', 'split_from') AND e.contact_id IS NOT NULL
)
UPDATE identity_event SET
    email = CASE WHEN whole OR email IN (SELECT value FROM json_each(?3)) THEN NULL ELSE email END,
    phone = CASE WHEN whole OR phone IN (SELECT value FROM json_each(?4)) THEN NULL ELSE phone END
FROM (SELECT id AS event_id, whole
      FROM (SELECT e.id, e.email, e.phone,
                   (e.customer_id IN (SELECT value FROM json_each(?2))
                    OR (e.kind IN ('created', 'existing')
                        AND e.contact_id IN (SELECT value FROM json_each(?2)))) AS whole
            FROM identity_event AS e
            WHERE e.tenant_id = ?1 AND e.customer_id IN (SELECT c FROM reached)
              AND (e.email IS NOT NULL OR e.phone IS NOT NULL))
      WHERE whole OR email IN (SELECT value FROM json_each(?3))
         OR phone IN (SELECT value FROM json_each(?4))
      LIMIT ?5) AS s
WHERE identity_event.id = s.event_id";

/// The receipts of the rows `?2` (a JSON array).
const ADD_RECEIPTS: &str = "\
INSERT INTO identity_erasure (tenant_id, contact_id, customer_id, suppressed, erased_at)
SELECT ?1, value, ?3, ?4, ?5 FROM json_each(?2)";

/// The digests `?2` (a JSON array of `[kind, hex digest]`).
const ADD_DIGESTS: &str = "\
INSERT OR IGNORE INTO identity_suppressed (tenant_id, kind, digest, created_at)
SELECT ?1, r.value ->> 0, unhex(r.value ->> 1), ?3 FROM json_each(?2) AS r";

/// Identifiers for the values only one other customer holds now (`[kind, value, customer]`).
const NAME: &str = "\
INSERT INTO identity_identifier (tenant_id, kind, value, customer_id)
SELECT ?1, r.value ->> 0, r.value ->> 1, r.value ->> 2 FROM json_each(?2) AS r WHERE true
ON CONFLICT (tenant_id, kind, value) DO UPDATE SET customer_id = excluded.customer_id";

const DELETE_RECORD: &str =
    "DELETE FROM identity_customer WHERE tenant_id = ?1 AND primary_id = ?2";

/// The condition on `identity_kept_apart` that takes tenant `?1`'s pairs with a row in the
/// JSON array `?2`, each found by its row (through the key or the `b_id` index; with the two
/// terms joined by `OR`, SQLite read every pair of the tenant).
macro_rules! pairs_with_rows {
    () => {
        "WHERE rowid IN (
    SELECT rowid FROM identity_kept_apart
    WHERE tenant_id = ?1 AND a_id IN (SELECT value FROM json_each(?2))
    UNION ALL
    SELECT rowid FROM identity_kept_apart
    WHERE tenant_id = ?1 AND b_id IN (SELECT value FROM json_each(?2)))"
    };
}
pub(super) use pairs_with_rows;

/// Tenant `?1`'s pairs with a row in the JSON array `?2`.
const DELETE_PAIRS: &str = concat!("DELETE FROM identity_kept_apart ", pairs_with_rows!());

/// The erase's record (the erasure log, without personal data).
const ADD_RECORD: &str = "\
INSERT OR IGNORE INTO identity_erasure_record (tenant_id, customer_id, erased_at, record)
VALUES (?1, ?2, ?3, ?4)";

/// This module's statements that reach one request's or customer's rows by their keys, whose
/// plans `plans_tests.rs` checks (a statement added here that does so belongs in the list).
/// Not [`DELETE_DELETED_ROWS`]: the soft-deleted rows have no index.
#[cfg(test)]
pub(super) const BY_KEY: &[(&str, &str)] = &[
    ("DELETE_ROWS", DELETE_ROWS),
    ("DELETE_IDENTIFIERS", DELETE_IDENTIFIERS),
    ("SCRUB", SCRUB),
    ("DELETE_RECORD", DELETE_RECORD),
    ("DELETE_PAIRS", DELETE_PAIRS),
];

/// Where an erase is: the phases run in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Phase {
    /// Soft-deleted rows that link to the rows or carry values that go: one statement.
    DeletedRows,
    /// The rows, secondaries first (they link to the primary).
    Rows,
    /// The customer's identifiers (its record stays to the end: a read that finds an
    /// identifier finds the whole customer, one that does not waits for the erase to write).
    Identifiers,
    /// The history's values.
    Events,
    /// A receipt per row.
    Receipts,
    /// The suppression digests.
    Digests,
    /// Names, the record, kept-apart pairs, the `erased` event, the blocked list's version.
    Finish,
    /// Nothing left.
    Done,
}

/// Where an erase got to: what a step writes instead of the whole plan.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Position {
    phase: Phase,
    offset: usize,
    worked: usize,
}

/// Everything an erase writes, and how far it got.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct EraseJob {
    primary: i64,
    /// The rows, the primary last.
    ids: Vec<i64>,
    /// Every value of the customer, `[kind, value]`.
    values: Vec<(String, String)>,
    gone_emails: Vec<String>,
    gone_phones: Vec<String>,
    named: Vec<(String, String, i64)>,
    /// `[kind, hex digest]`.
    digests: Vec<(String, String)>,
    suppress: bool,
    #[serde(with = "time::serde::rfc3339")]
    at: OffsetDateTime,
    /// The blocked list's version when planned (the tenant's other writes wait meanwhile).
    blocked_version: i64,
    /// The erase's record (the erasure log's line), kept by the last phase.
    record: ErasureRecord,
    phase: Phase,
    offset: usize,
    /// Items worked off so far (for progress; a job noted before it was counted starts at 0).
    #[serde(default)]
    worked: usize,
}

impl EraseJob {
    /// The job that writes the planned erase `erase`.
    pub(super) fn of(erase: &PlannedErase) -> Self {
        let PlannedErase {
            plan,
            values,
            at,
            blocked_version,
            record,
        } = erase;
        let (at, blocked_version, record) = (*at, *blocked_version, record.clone());
        let primary = plan.customer.get();
        let mut ids: Vec<i64> = plan.erased.iter().map(|id| id.get()).collect();
        ids.retain(|id| *id != primary);
        ids.push(primary);
        let gone_of =
            |kind| -> Vec<String> { plan.gone_of(kind).into_iter().map(str::to_owned).collect() };
        EraseJob {
            primary,
            ids,
            values: values
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), v.clone()))
                .collect(),
            gone_emails: gone_of(IdentifierKind::Email),
            gone_phones: gone_of(IdentifierKind::Phone),
            named: plan
                .named
                .iter()
                .map(|(k, v, c)| (k.as_str().to_owned(), v.clone(), c.get()))
                .collect(),
            digests: plan
                .digests
                .iter()
                .map(|(k, d)| (k.as_str().to_owned(), hex(d)))
                .collect(),
            suppress: plan.suppress,
            at,
            blocked_version,
            record,
            phase: Phase::DeletedRows,
            offset: 0,
            worked: 0,
        }
    }

    /// Rows, values and digests the job touches: what decides whether it runs in steps.
    pub(super) fn size(&self) -> usize {
        self.ids.len() + self.values.len() + self.digests.len()
    }

    /// The erase's record.
    pub(super) fn record(&self) -> &ErasureRecord {
        &self.record
    }

    /// Where the job got to in its plan, as a step records it (the plan is written once).
    pub(super) fn position(&self) -> String {
        let at = Position {
            phase: self.phase,
            offset: self.offset,
            worked: self.worked,
        };
        serde_json::to_string(&at).unwrap_or_default()
    }

    /// Moves the job (read back from its plan) to the `position` its last step recorded.
    pub(super) fn resume(&mut self, position: &str) -> std::result::Result<(), ()> {
        let at: Position = serde_json::from_str(position).map_err(drop)?;
        (self.phase, self.offset, self.worked) = (at.phase, at.offset, at.worked);
        Ok(())
    }

    /// Items worked off so far, of [`EraseJob::size`] (all of them once done).
    pub(super) fn done(&self) -> usize {
        match self.is_done() {
            true => self.size(),
            false => self.worked.min(self.size()),
        }
    }

    /// Whether nothing is left.
    pub(super) fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// The receipt the erase answers.
    pub(super) fn receipt(&self) -> Erasure {
        let mut ids: Vec<ContactId> = self.ids.iter().copied().map(ContactId::new).collect();
        ids.sort_unstable();
        Erasure {
            customer_id: ContactId::new(self.primary),
            contact_ids: ids,
            erased_at: self.at,
            suppressed: self.suppress,
        }
    }

    /// Works off up to `budget` rows, values, events or digests in the caller's write
    /// transaction; `usize::MAX` runs every phase.
    pub(super) async fn work(
        &mut self,
        tx: &mut SqliteConnection,
        tenant: &TenantId,
        budget: usize,
    ) -> Result<()> {
        let mut left = budget;
        while left > 0 && !self.is_done() {
            let done = self.step(tx, tenant, left).await?;
            self.worked = self.worked.saturating_add(done);
            left = left.saturating_sub(done.max(1));
        }
        Ok(())
    }

    /// One piece of the current phase, at most `most` items; how many it did.
    async fn step(
        &mut self,
        tx: &mut SqliteConnection,
        tenant: &TenantId,
        most: usize,
    ) -> Result<usize> {
        let ids = json(&self.ids);
        let (gone_emails, gone_phones) = (json(&self.gone_emails), json(&self.gone_phones));
        let did = match self.phase {
            Phase::DeletedRows => {
                run(
                    tx,
                    DELETE_DELETED_ROWS,
                    tenant,
                    &[&ids, &gone_emails, &gone_phones],
                )
                .await?;
                self.next();
                1
            }
            Phase::Rows => self.slice(tx, tenant, most, Slice::Rows).await?,
            Phase::Identifiers => self.slice(tx, tenant, most, Slice::Identifiers).await?,
            Phase::Events => {
                let changed = sqlx::query(SCRUB)
                    .bind(tenant.as_str())
                    .bind(&ids)
                    .bind(&gone_emails)
                    .bind(&gone_phones)
                    .bind(i64::try_from(most).unwrap_or(i64::MAX))
                    .execute(&mut *tx)
                    .await
                    .map_err(failed)?
                    .rows_affected();
                let changed = usize::try_from(changed).unwrap_or(usize::MAX);
                if changed < most {
                    self.next();
                }
                changed
            }
            Phase::Receipts => self.slice(tx, tenant, most, Slice::Receipts).await?,
            Phase::Digests => self.slice(tx, tenant, most, Slice::Digests).await?,
            Phase::Finish => {
                self.finish(tx, tenant, &ids).await?;
                self.next();
                1
            }
            Phase::Done => 0,
        };
        Ok(did)
    }

    /// The next `most` items of a list phase; moves on when the list is worked off.
    async fn slice(
        &mut self,
        tx: &mut SqliteConnection,
        tenant: &TenantId,
        most: usize,
        which: Slice,
    ) -> Result<usize> {
        let len = match which {
            Slice::Rows | Slice::Receipts => self.ids.len(),
            Slice::Identifiers => self.values.len(),
            Slice::Digests => self.digests.len(),
        };
        let end = self.offset.saturating_add(most).min(len);
        let (from, to) = (self.offset, end);
        let query = match which {
            Slice::Rows => sqlx::query(DELETE_ROWS)
                .bind(tenant.as_str())
                .bind(json(&self.ids[from..to])),
            Slice::Identifiers => sqlx::query(DELETE_IDENTIFIERS)
                .bind(tenant.as_str())
                .bind(self.primary)
                .bind(json(&self.values[from..to])),
            Slice::Receipts => sqlx::query(ADD_RECEIPTS)
                .bind(tenant.as_str())
                .bind(json(&self.ids[from..to]))
                .bind(self.primary)
                .bind(self.suppress)
                .bind(self.at),
            Slice::Digests => {
                if to > from {
                    insert_digests(&mut *tx, tenant, &self.digests[from..to], self.at).await?;
                }
                self.offset = end;
                if end >= len {
                    self.next();
                }
                return Ok(to - from);
            }
        };
        if to > from {
            query.execute(&mut *tx).await.map_err(failed)?;
        }
        self.offset = end;
        if end >= len {
            self.next();
        }
        Ok(to - from)
    }

    /// The last phase: names, the record, pairs, the `erased` event, the list's version.
    async fn finish(&self, tx: &mut SqliteConnection, tenant: &TenantId, ids: &str) -> Result<()> {
        if !self.named.is_empty() {
            run(tx, NAME, tenant, &[&json(&self.named)]).await?;
        }
        sqlx::query(DELETE_RECORD)
            .bind(tenant.as_str())
            .bind(self.primary)
            .execute(&mut *tx)
            .await
            .map_err(failed)?;
        run(tx, DELETE_PAIRS, tenant, &[ids]).await?;
        let mut erased: Vec<ContactId> = self.ids.iter().copied().map(ContactId::new).collect();
        erased.sort_unstable();
        let change = Change::Erased { erased };
        events::record(
            tx,
            tenant,
            Some(ContactId::new(self.primary)),
            &change,
            self.at,
        )
        .await?;
        if !self.digests.is_empty() {
            settings::next_version(&mut *tx, tenant, self.blocked_version, self.at).await?;
        }
        keep_record(tx, &self.record).await
    }

    fn next(&mut self) {
        self.offset = 0;
        self.phase = match self.phase {
            Phase::DeletedRows => Phase::Rows,
            Phase::Rows => Phase::Identifiers,
            Phase::Identifiers => Phase::Events,
            Phase::Events => Phase::Receipts,
            Phase::Receipts => Phase::Digests,
            Phase::Digests => Phase::Finish,
            Phase::Finish | Phase::Done => Phase::Done,
        };
    }
}

/// A list the job works off in slices.
#[derive(Clone, Copy)]
enum Slice {
    Rows,
    Identifiers,
    Receipts,
    Digests,
}

/// Keeps `record` in the database, beside its receipts.
pub(super) async fn keep_record(tx: &mut SqliteConnection, record: &ErasureRecord) -> Result<()> {
    sqlx::query(ADD_RECORD)
        .bind(record.tenant_id.as_str())
        .bind(record.customer_id.get())
        .bind(record.erased_at)
        .bind(record.to_line())
        .execute(&mut *tx)
        .await
        .map(drop)
        .map_err(failed)
}

/// Runs `statement` with the tenant as `?1` and `params` as `?2`...
async fn run(
    tx: &mut SqliteConnection,
    statement: &'static str,
    tenant: &TenantId,
    params: &[&str],
) -> Result<()> {
    let mut query = sqlx::query(statement).bind(tenant.as_str());
    for p in params {
        query = query.bind(*p);
    }
    query.execute(&mut *tx).await.map(drop).map_err(failed)
}

pub(super) fn failed(e: sqlx::Error) -> Error {
    Error::store("erasing a customer", e)
}

/// Adds suppression digests (`[kind, hex digest]`) to the tenant's, stamped `at`.
pub(super) async fn insert_digests(
    tx: &mut SqliteConnection,
    tenant: &TenantId,
    digests: &[(String, String)],
    at: OffsetDateTime,
) -> Result<()> {
    sqlx::query(ADD_DIGESTS)
        .bind(tenant.as_str())
        .bind(json(digests))
        .bind(at)
        .execute(&mut *tx)
        .await
        .map(drop)
        .map_err(failed)
}
