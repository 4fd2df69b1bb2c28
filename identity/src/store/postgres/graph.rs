//! The PostgreSQL side of the identity graph: the read, the write of a plan, the repair of
//! changes made outside the library, rebuild and the reads of verify. The SQL functions they call
//! live in `migrations/postgres/*_baseline.sql`.

use std::sync::Arc;

use sqlx::postgres::PgRow;
use sqlx::{Executor, PgConnection, Postgres, Row};

use crate::contact::{Contact, ContactId, Email, Phone};
use crate::customer::CustomerRecord;
use crate::derive::{Derived, derive_screened};
use crate::limits::Limits;
use crate::plan::{AddRow, Matched, Plan};
use crate::request::{ConsolidatedContact, IdentifyRequest};
use crate::store::closure::{Closure, Frontier, PendingRow};
use crate::store::record_cache::{Held, RecordCache};
use crate::store::{ContactRow, RecordText, decode_rows};
use crate::tenant::TenantId;
use crate::verify::{StoredIdentifier, stored_identifiers};

use super::records::{self, Appended, Lists};
use crate::store::Outcome;

// each read ends with the tenant's phone region and blocked-list version as stored
const READ: &str = "SELECT * FROM identity_read_known($1, $2, $3, $4, $5)";
const READ_INLINE: &str = "SELECT * FROM identity_read_known_inline($1, $2, $3, $4, $5)";
const LOCK: &str = "SELECT * FROM identity_lock($1, $2, $3)";
// each write names the region and the blocked-list version its request was read under ($2, $3)
const NEW_CUSTOMER: &str = "SELECT identity_new_customer($1, $2, $3, $4, $5)";
const ADD_ROW: &str = "SELECT * FROM identity_add_row($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
// a plan that counted the customer's values against a cap holds only for the record it read
const ADD_ROW_EXACT: &str =
    "SELECT * FROM identity_add_row_exact($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
// a merge names the request that joins the two customers last ($15, $16), for its history
const MERGE: &str = "SELECT identity_merge($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, \
                     $13, $14, $15, $16)";

const SELECT_ALL: &str = "\
SELECT id, email, phone_number, linked_id, link_precedence, created_at, updated_at
FROM contact WHERE tenant_id = $1 AND deleted_at IS NULL ORDER BY id";

const STEP_ROWS: &str = "\
SELECT id, email, phone_number, linked_id, link_precedence, created_at, updated_at FROM contact
WHERE tenant_id = $4 AND deleted_at IS NULL
  AND (id = ANY($1) OR linked_id = ANY($1) OR email = ANY($2) OR phone_number = ANY($3))";

const STEP_OWNERS: &str = "\
SELECT customer_id FROM identity_identifier
WHERE tenant_id = $3
  AND ((kind = 'email' AND value = ANY($1)) OR (kind = 'phone' AND value = ANY($2)))";

/// The tenant's graph lock, which every write of the tenant takes alone (the SQL write functions
/// in their prologue, the store's own transactions through this).
const LOCK_GRAPH: &str = "\
SELECT identity_lock_tenant($1)";

/// Takes tenant `tenant`'s graph lock alone for the caller's transaction (no write of the
/// tenant runs until it ends), marking the transaction's writes to `contact` the library's own.
pub(crate) async fn lock(tx: &mut PgConnection, tenant: &TenantId) -> Outcome<()> {
    sqlx::query(LOCK_GRAPH)
        .bind(tenant.as_str())
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Removes applied changes of tenant `$2` from the journal (`$1`: these ids; NULL: all) and
/// from the count every read checks.
const FORGET_PENDING: &str = "\
WITH gone AS (
    DELETE FROM identity_pending WHERE tenant_id = $2 AND ($1::bigint[] IS NULL OR id = ANY($1))
    RETURNING 1
)
UPDATE identity_tenant
SET pending = pending - (SELECT count(*) FROM gone), updated_at = statement_timestamp()
WHERE tenant_id = $2";

/// The tenants whose records wait for changes made outside the library.
const PENDING_TENANTS: &str = "SELECT tenant_id FROM identity_tenant WHERE pending > 0";

const RELINK: &str = "\
UPDATE contact AS c
SET linked_id = r.linked_id,
    link_precedence = CASE WHEN r.linked_id IS NULL THEN 'primary' ELSE 'secondary' END,
    updated_at = statement_timestamp()
FROM unnest($1::bigint[], $2::bigint[]) AS r(id, linked_id)
WHERE c.tenant_id = $3 AND c.id = r.id";

const INSERT_RECORDS: &str = "\
INSERT INTO identity_customer (tenant_id, primary_id, version, base_version, created_at,
    last_row_at, emails, email_rows, phones, phone_rows, primary_has_email, primary_has_phone,
    secondary_ids)
SELECT $11, p, v, v, c, l, string_to_array(e, E'\\n'), string_to_array(er, ',')::bigint[],
       string_to_array(ph, E'\\n'), string_to_array(pr, ',')::bigint[], he, hp,
       string_to_array(s, ',')::bigint[]
FROM (SELECT nextval('identity_version_seq') AS v, *
      FROM unnest($1::bigint[], $2::timestamptz[], $3::timestamptz[], $4::text[], $5::text[],
                  $6::text[], $7::text[], $8::boolean[], $9::boolean[], $10::text[])
           AS r(p, c, l, e, er, ph, pr, he, hp, s)) AS numbered";

const INSERT_IDENTIFIERS: &str = "\
INSERT INTO identity_identifier (tenant_id, kind, value, customer_id)
SELECT $4, * FROM unnest($1::text[], $2::text[], $3::bigint[])";

/// What a read found.
pub(crate) struct Read {
    pub matched: Matched,
    pub pending: bool,
    /// The tenant's phone region as stored.
    pub region: Option<String>,
    /// The version of the tenant's blocked list as stored.
    pub blocked_version: i64,
}

/// The settings a write's request was read under, which its SQL function checks are still the
/// tenant's.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stamp<'a> {
    /// The phone region's code (`None`: none).
    pub region: Option<&'a str>,
    /// The blocked list's version.
    pub blocked: i64,
    /// The caps the plan counted against.
    pub limits: Limits,
}

/// The statement that reads a request's customers. The first two answer the same row (one
/// query, see `migrations/postgres/*_read_known_inlined.sql`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadWith {
    /// `identity_read_known_inline`, a SQL function that PostgreSQL inlines into the prepared
    /// statement: the query's plan is cached with it (one server, a direct connection).
    Inlined,
    /// `identity_read_known`, PL/pgSQL: Citus runs its statements on the tenant's node, and
    /// through a transaction-mode pooler (nothing prepared) its plan is kept per server
    /// connection.
    Function,
    /// `identity_lock`: the records locked until the end of the caller's transaction.
    Lock,
}

impl ReadWith {
    /// The unlocked read for a store on Citus (`citus`) or behind a transaction-mode pooler
    /// (`pooled`), or on one server directly.
    pub(crate) fn unlocked(citus: bool, pooled: bool) -> Self {
        if citus || pooled {
            ReadWith::Function
        } else {
            ReadWith::Inlined
        }
    }
}

/// Reads the request's customers with `with`. Unlocked, records `cache` holds in their current
/// version come from it; the others come in full and are kept there.
pub(crate) async fn read<'e, E>(
    executor: E,
    tenant: &TenantId,
    request: &IdentifyRequest,
    with: ReadWith,
    cache: &RecordCache,
) -> Outcome<Read>
where
    E: Executor<'e, Database = Postgres>,
{
    let locked = with == ReadWith::Lock;
    // the locked read (rare: after a stale plan) takes no shortcut
    let held = if locked {
        Vec::new()
    } else {
        cache.held_for(tenant, request)
    };
    let query = sqlx::query(match with {
        ReadWith::Inlined => READ_INLINE,
        ReadWith::Function => READ,
        ReadWith::Lock => LOCK,
    })
    .bind(tenant.as_str())
    .bind(request.email().map(Email::as_str))
    .bind(request.phone_number().map(Phone::as_str));
    let query = if locked {
        query
    } else {
        let versions: Vec<i64> = held.iter().map(|h| h.record.version).collect();
        let bases: Vec<i64> = held.iter().map(|h| h.base.version).collect();
        query.bind(versions).bind(bases)
    };
    let row: PgRow = query.fetch_one(executor).await?;
    let mut held = held;
    decode_read(&row, tenant, &mut held, cache)
}

/// What one row of `identity_read_row` says (from `identity_read_known`, `identity_lock` or a
/// row of `identity_read_batch`), its lists taken from `held` where the row left them out.
/// Records that came in full are kept in `cache`, and every record of the row joins `held`
/// (a later row of the same batch leaves out what this one sent).
pub(crate) fn decode_read(
    row: &PgRow,
    tenant: &TenantId,
    held: &mut Vec<Held>,
    cache: &RecordCache,
) -> Outcome<Read> {
    let owner = |i: usize| -> sqlx::Result<Option<ContactId>> {
        Ok(row.try_get::<Option<i64>, _>(i)?.map(ContactId::new))
    };
    let (email_owner, phone_owner) = (owner(1)?, owner(2)?);
    let mut found = Vec::new();
    // the email owner's record in the first block, the phone owner's (when another) in the next
    for (owner, at) in [(email_owner, 3), (phone_owner, 3 + records::BLOCK)] {
        let Some(owner) = owner else { continue };
        // no record: Matched::new reports it
        let Some((record, sent)) = records::decode(row, at, owner, held)? else {
            continue;
        };
        if sent {
            cache.keep(tenant, record.clone());
            held.push(record.clone());
        }
        found.push(Arc::unwrap_or_clone(record.record));
    }
    Ok(Read {
        matched: Matched::new(email_owner, phone_owner, found)?,
        pending: row.try_get::<Option<bool>, _>(0)?.unwrap_or(false),
        region: row.try_get(row.len() - 2)?,
        blocked_version: row.try_get::<Option<i64>, _>(row.len() - 1)?.unwrap_or(0),
    })
}

/// The outcome of writing a plan.
pub(crate) enum Written {
    /// Written; the answer.
    Done(ConsolidatedContact),
    /// What the plan was made from changed: nothing written, plan again.
    Stale,
    /// Changes made outside the library wait: nothing written, repair first.
    Pending,
    /// The tenant's phone region or blocked list is not the one the request was read under:
    /// nothing written, read the request again under the current ones.
    Settings,
}

/// What the merge function answers when a split keeps the two customers apart (and the plan
/// is current): nothing written, the plan's withheld answer stands.
const KEPT_APART: i64 = -4;

pub(crate) fn status(code: i64) -> Option<Written> {
    match code {
        -1 => Some(Written::Stale),
        -2 => Some(Written::Pending),
        -3 => Some(Written::Settings),
        _ => None,
    }
}

/// Writes a plan (not `Unchanged`) for `request` with one call of its SQL function, which
/// records its event, and keeps the record it leaves in `cache` when it can tell what that
/// record is. `stamp`: the settings the plan's request was read under, which the function checks
/// are still the tenant's.
pub(crate) async fn write<'e, E>(
    executor: E,
    tenant: &TenantId,
    stamp: Stamp<'_>,
    request: &IdentifyRequest,
    plan: Plan,
    cache: &RecordCache,
) -> Outcome<Written>
where
    E: Executor<'e, Database = Postgres>,
{
    match plan {
        Plan::Unchanged(answer) => Ok(Written::Done(answer)),
        Plan::NewCustomer(new) => {
            let code: i64 = sqlx::query_scalar(NEW_CUSTOMER)
                .bind(tenant.as_str())
                .bind(stamp.region)
                .bind(stamp.blocked)
                .bind(new.email.as_ref().map(Email::as_str))
                .bind(new.phone_number.as_ref().map(Phone::as_str))
                .fetch_one(executor)
                .await?;
            Ok(status(code).unwrap_or_else(|| Written::Done(new.answer(ContactId::new(code)))))
        }
        Plan::AddRow(add) => add_row(executor, tenant, stamp, add, cache).await,
        Plan::Merge(merge) => {
            let m = &merge.merged;
            let code: i64 = sqlx::query_scalar(MERGE)
                .bind(tenant.as_str())
                .bind(stamp.region)
                .bind(stamp.blocked)
                .bind(m.primary.get())
                .bind(merge.kept_version)
                .bind(merge.absorbed.get())
                .bind(merge.absorbed_version)
                .bind(merge.relink.iter().map(|id| id.get()).collect::<Vec<_>>())
                .bind(m.emails.iter().map(Email::as_str).collect::<Vec<_>>())
                .bind(m.email_rows.iter().map(|id| id.get()).collect::<Vec<_>>())
                .bind(
                    m.phone_numbers
                        .iter()
                        .map(Phone::as_str)
                        .collect::<Vec<_>>(),
                )
                .bind(m.phone_rows.iter().map(|id| id.get()).collect::<Vec<_>>())
                .bind(
                    m.secondary_ids
                        .iter()
                        .map(|id| id.get())
                        .collect::<Vec<_>>(),
                )
                .bind(m.last_row_at)
                .bind(request.email().map(Email::as_str))
                .bind(request.phone_number().map(Phone::as_str))
                .fetch_one(executor)
                .await?;
            if code == KEPT_APART {
                return Ok(Written::Done(merge.withheld));
            }
            if let Some(outcome) = status(code) {
                return Ok(outcome);
            }
            // the merged record is all base, at the version the merge answers
            let merged = CustomerRecord {
                version: code,
                ..merge.merged
            };
            let answer = merged.answer();
            cache.keep(tenant, Held::whole(merged));
            Ok(Written::Done(answer))
        }
    }
}

/// Appends a secondary row (`identity_add_row`): one round trip. When the customer changed since
/// the read, the answer is the record as it is now: its tail as sent, on the base held (or sent
/// when the held one is not the current). Under a cap on the value added the record must be the
/// one read (`identity_add_row_exact`), else the plan is stale.
async fn add_row<'e, E>(
    executor: E,
    tenant: &TenantId,
    stamp: Stamp<'_>,
    add: AddRow,
    cache: &RecordCache,
) -> Outcome<Written>
where
    E: Executor<'e, Database = Postgres>,
{
    let held_base = cache.base_of(add.customer.primary);
    let capped = is_capped(&add, stamp.limits);
    let row: PgRow = sqlx::query(if capped { ADD_ROW_EXACT } else { ADD_ROW })
        .bind(tenant.as_str())
        .bind(stamp.region)
        .bind(stamp.blocked)
        .bind(add.customer.primary.get())
        .bind(add.customer.version)
        .bind(held_base.as_ref().map_or(-1, |b| b.version))
        .bind(add.email.as_ref().map(Email::as_str))
        .bind(add.phone_number.as_ref().map(Phone::as_str))
        .bind(add.new_email().is_some())
        .bind(add.new_phone().is_some())
        .fetch_one(executor)
        .await?;
    appended(&row, 0, tenant, add, held_base, cache)
}

/// Whether `add` counts the customer's values against a cap of `limits`: then it holds only for
/// the record it read (`identity_add_row_exact`).
pub(crate) fn is_capped(add: &AddRow, limits: Limits) -> bool {
    (add.new_email().is_some() && limits.emails.is_some())
        || (add.new_phone().is_some() && limits.phones.is_some())
}

/// What an appending write answered (`identity_append_row`'s columns from `at` in `row`): the
/// outcome, with the record it left kept in `cache` when it can tell what that record is.
pub(crate) fn appended(
    row: &PgRow,
    at: usize,
    tenant: &TenantId,
    add: AddRow,
    held_base: Option<Arc<CustomerRecord>>,
    cache: &RecordCache,
) -> Outcome<Written> {
    let code: i64 = row.try_get(at)?;
    if let Some(outcome) = status(code) {
        return Ok(outcome);
    }
    let id = ContactId::new(code);
    let changed = row.try_get::<Option<bool>, _>(at + 1)?.unwrap_or(false);
    let appended = Appended {
        version: row.try_get(at + 2)?,
        base_version: row.try_get(at + 3)?,
        on_base: row.try_get::<Option<i64>, _>(at + 4)?.unwrap_or(-1),
        last_row_at: row.try_get(at + 5)?,
    };
    let held = if changed {
        let tail = Lists::at(row, at + 11)?.unwrap_or_default();
        let base_lists = Lists::at(row, at + 6)?;
        records::after_append(&add.customer, &appended, base_lists, held_base, tail)?
    } else {
        // the record as read plus the new row is what the database holds now
        let mut record = add.into_record(id, appended.last_row_at);
        record.version = appended.version;
        if appended.base_version == appended.version {
            Held::whole(record) // the append folded the tail into the base
        } else if let Some(base) = held_base.filter(|b| b.version == appended.base_version) {
            Held {
                record: Arc::new(record),
                base,
            }
        } else {
            return Ok(Written::Done(record.answer())); // not worth keeping without its base
        }
    };
    let answer = held.record.answer();
    cache.keep(tenant, held);
    Ok(Written::Done(answer))
}

/// Walks from `frontier` to every connected row of `tenant` (one query pair per step).
pub(crate) async fn closure(
    conn: &mut PgConnection,
    tenant: &TenantId,
    mut frontier: Frontier,
) -> Outcome<Closure> {
    while let Some(s) = frontier.next_step() {
        let rows: Vec<ContactRow> = sqlx::query_as(STEP_ROWS)
            .bind(&s.ids)
            .bind(&s.emails)
            .bind(&s.phones)
            .bind(tenant.as_str())
            .fetch_all(&mut *conn)
            .await?;
        let owners: Vec<i64> = sqlx::query_scalar(STEP_OWNERS)
            .bind(&s.emails)
            .bind(&s.phones)
            .bind(tenant.as_str())
            .fetch_all(&mut *conn)
            .await?;
        frontier.absorb(decode_rows(rows)?, owners);
    }
    Ok(frontier.finish())
}

/// Every visible row of `tenant`, by id.
pub(crate) async fn all_rows<'e, E>(executor: E, tenant: &TenantId) -> Outcome<Vec<Contact>>
where
    E: Executor<'e, Database = Postgres>,
{
    let rows: Vec<ContactRow> = sqlx::query_as(SELECT_ALL)
        .bind(tenant.as_str())
        .fetch_all(executor)
        .await?;
    Ok(decode_rows(rows)?)
}

/// The tenants whose records wait for changes made outside the library (a tenant id written by
/// hand that the library cannot name is left for verify to report).
pub(crate) async fn pending_tenants<'e, E>(executor: E) -> Outcome<Vec<TenantId>>
where
    E: Executor<'e, Database = Postgres>,
{
    let tenants: Vec<String> = sqlx::query_scalar(PENDING_TENANTS)
        .fetch_all(executor)
        .await?;
    Ok(tenants
        .iter()
        .filter_map(|t| TenantId::parse(t).ok())
        .collect())
}

/// More pending changes than this are applied by a rebuild rather than one walk.
const REPAIR_LIMIT: i64 = 10_000;

/// Applies the changes made outside the library to `tenant` (or rebuilds it) in the caller's
/// transaction, holding the tenant's graph lock alone. `Ok(None)` when nothing waited.
pub(crate) async fn repair(tx: &mut PgConnection, tenant: &TenantId) -> Outcome<Option<Derived>> {
    lock(&mut *tx, tenant).await?;
    repair_locked(tx, tenant).await
}

/// As [`repair`], in a transaction that holds the tenant's graph lock already.
pub(crate) async fn repair_locked(
    tx: &mut PgConnection,
    tenant: &TenantId,
) -> Outcome<Option<Derived>> {
    let entries: Vec<PendingRow> = sqlx::query_as(
        "SELECT id, contact_id, old_linked_id, new_linked_id, old_email, new_email, old_phone, new_phone
         FROM identity_pending WHERE tenant_id = $2 ORDER BY id LIMIT $1",
    )
    .bind(REPAIR_LIMIT + 1)
    .bind(tenant.as_str())
    .fetch_all(&mut *tx)
    .await?;
    if entries.is_empty() {
        return Ok(None);
    }
    let frontier = Frontier::from_pending(&entries);
    let Some(frontier) = frontier.filter(|_| entries.len() as i64 <= REPAIR_LIMIT) else {
        return rebuild_locked(tx, tenant).await.map(Some);
    };
    let closure = closure(tx, tenant, frontier).await?;
    let derived = screened(tx, tenant, &closure.rows).await?;
    sqlx::query("DELETE FROM identity_customer WHERE tenant_id = $2 AND primary_id = ANY($1)")
        .bind(&closure.ids)
        .bind(tenant.as_str())
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "DELETE FROM identity_identifier WHERE tenant_id = $4 AND (customer_id = ANY($1)
            OR (kind = 'email' AND value = ANY($2)) OR (kind = 'phone' AND value = ANY($3)))",
    )
    .bind(&closure.ids)
    .bind(&closure.emails)
    .bind(&closure.phones)
    .bind(tenant.as_str())
    .execute(&mut *tx)
    .await?;
    write_derived(tx, tenant, &derived).await?;
    // last, as the triggers of other writers do: rows first, then the count
    sqlx::query(FORGET_PENDING)
        .bind(entries.iter().map(|e| e.0).collect::<Vec<_>>())
        .bind(tenant.as_str())
        .execute(&mut *tx)
        .await?;
    Ok(Some(derived))
}

/// Recomputes every derived record of `tenant` in the caller's transaction, holding the
/// tenant's graph lock alone.
pub(crate) async fn rebuild(tx: &mut PgConnection, tenant: &TenantId) -> Outcome<Derived> {
    lock(&mut *tx, tenant).await?;
    rebuild_locked(tx, tenant).await
}

async fn rebuild_locked(tx: &mut PgConnection, tenant: &TenantId) -> Outcome<Derived> {
    let rows = all_rows(&mut *tx, tenant).await?;
    let derived = screened(tx, tenant, &rows).await?;
    for delete in [
        "DELETE FROM identity_identifier WHERE tenant_id = $1",
        "DELETE FROM identity_customer WHERE tenant_id = $1",
    ] {
        sqlx::query(delete)
            .bind(tenant.as_str())
            .execute(&mut *tx)
            .await?;
    }
    write_derived(tx, tenant, &derived).await?;
    // last, as the triggers of other writers do: rows first, then the count
    sqlx::query(FORGET_PENDING)
        .bind(None::<Vec<i64>>)
        .bind(tenant.as_str())
        .execute(&mut *tx)
        .await?;
    Ok(derived)
}

/// The customers `rows` define, under the tenant's blocked list.
async fn screened(tx: &mut PgConnection, tenant: &TenantId, rows: &[Contact]) -> Outcome<Derived> {
    let blocked = super::settings::state(&mut *tx, tenant).await?.blocked;
    Ok(derive_screened(rows, &|kind, value| {
        blocked.blocks(kind, value)
    }))
}

/// Writes a derivation: relinks, then records and identifiers, in batches.
pub(crate) async fn write_derived(
    tx: &mut PgConnection,
    tenant: &TenantId,
    derived: &Derived,
) -> Outcome<()> {
    relink_rows(tx, tenant, &derived.relinks).await?;
    for batch in derived.customers.chunks(BATCH) {
        insert_records(tx, tenant, batch).await?;
    }
    for batch in derived.identifiers().chunks(BATCH) {
        let kinds: Vec<&str> = batch.iter().map(|(kind, ..)| kind.as_str()).collect();
        let values: Vec<&str> = batch.iter().map(|(_, value, _)| *value).collect();
        let owners: Vec<i64> = batch.iter().map(|(.., owner)| owner.get()).collect();
        sqlx::query(INSERT_IDENTIFIERS)
            .bind(kinds)
            .bind(values)
            .bind(owners)
            .bind(tenant.as_str())
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// Rows per statement of a derivation's writes.
const BATCH: usize = 5_000;

/// Sets the links of rows (no event: the caller records what the change means).
pub(crate) async fn relink_rows(
    tx: &mut PgConnection,
    tenant: &TenantId,
    relinks: &[(ContactId, crate::contact::Link)],
) -> Outcome<()> {
    for batch in relinks.chunks(BATCH) {
        let ids: Vec<i64> = batch.iter().map(|(id, _)| id.get()).collect();
        let links: Vec<Option<i64>> = batch
            .iter()
            .map(|(_, link)| link.linked_id().map(ContactId::get))
            .collect();
        sqlx::query(RELINK)
            .bind(ids)
            .bind(links)
            .bind(tenant.as_str())
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// Inserts customer records (new versions; every list in the base).
pub(crate) async fn insert_records(
    tx: &mut PgConnection,
    tenant: &TenantId,
    batch: &[CustomerRecord],
) -> Outcome<()> {
    let texts: Vec<RecordText> = batch.iter().map(RecordText::of).collect();
    let column = |f: fn(&RecordText) -> &str| texts.iter().map(f).collect::<Vec<&str>>();
    sqlx::query(INSERT_RECORDS)
        .bind(batch.iter().map(|c| c.primary.get()).collect::<Vec<_>>())
        .bind(batch.iter().map(|c| c.created_at).collect::<Vec<_>>())
        .bind(batch.iter().map(|c| c.last_row_at).collect::<Vec<_>>())
        .bind(column(|t| &t.emails))
        .bind(column(|t| &t.email_rows))
        .bind(column(|t| &t.phones))
        .bind(column(|t| &t.phone_rows))
        .bind(
            batch
                .iter()
                .map(|c| c.primary_has_email)
                .collect::<Vec<_>>(),
        )
        .bind(
            batch
                .iter()
                .map(|c| c.primary_has_phone)
                .collect::<Vec<_>>(),
        )
        .bind(column(|t| &t.secondary_ids))
        .bind(tenant.as_str())
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Everything `verify` compares: rows, records, identifiers and the number of pending changes.
pub(crate) async fn everything(
    conn: &mut PgConnection,
    tenant: &TenantId,
) -> Outcome<(
    Vec<Contact>,
    Vec<CustomerRecord>,
    Vec<StoredIdentifier>,
    u64,
)> {
    let rows = all_rows(&mut *conn, tenant).await?;
    let stored: Vec<PgRow> = sqlx::query(
        "SELECT primary_id, version, base_version, created_at, last_row_at, primary_has_email,
                primary_has_phone, emails, email_rows, phones, phone_rows, secondary_ids,
                tail_emails, tail_email_rows, tail_phones, tail_phone_rows, tail_secondary_ids
         FROM identity_customer WHERE tenant_id = $1",
    )
    .bind(tenant.as_str())
    .fetch_all(&mut *conn)
    .await?;
    let mut found = Vec::with_capacity(stored.len());
    for row in &stored {
        let primary = ContactId::new(row.try_get(0)?);
        if let Some((held, _)) = records::decode(row, 1, primary, &[])? {
            found.push(Arc::unwrap_or_clone(held.record));
        }
    }
    let identifiers: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT kind, value, customer_id FROM identity_identifier WHERE tenant_id = $1",
    )
    .bind(tenant.as_str())
    .fetch_all(&mut *conn)
    .await?;
    let identifiers = stored_identifiers(identifiers);
    let pending: i64 =
        sqlx::query_scalar("SELECT count(*) FROM identity_pending WHERE tenant_id = $1")
            .bind(tenant.as_str())
            .fetch_one(&mut *conn)
            .await?;
    Ok((
        rows,
        found,
        identifiers,
        u64::try_from(pending).unwrap_or(0),
    ))
}
