//! The SQLite side of the identity graph: writing plans (a merge first checks the kept-apart
//! pairs a split left), repairs and rebuilds (reading a request's customers is `read.rs`). Every
//! function here runs on a connection the caller chose: the write transaction, or the pool for
//! reads.

use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};
use time::OffsetDateTime;

use crate::contact::{Contact, ContactId, Email, Link, Phone};
use crate::customer::CustomerRecord;
use crate::derive::{Derived, derive_screened};
use crate::error::{Error, Result};
use crate::plan::Plan;
use crate::request::{ConsolidatedContact, IdentifyRequest};
use crate::store::closure::{Closure, Frontier, PendingRow};
use crate::store::{ContactRow, RecordText, decode_rows};
use crate::tenant::TenantId;
use crate::verify::{StoredIdentifier, stored_identifiers};

use super::bases::Written;
use super::counters::{NEXT_BASE, NEXT_ID};
use super::events;
use super::json;
use super::script::Script;
use super::tails::{self, tail_of_c};

const SELECT_RECORDS: &str = concat!(
    "SELECT 'record', primary_id, version, created_at, last_row_at, emails, email_rows, phones,
       phone_rows, primary_has_email, primary_has_phone, secondary_ids, ",
    tail_of_c!(),
    ", base_seq
FROM identity_customer AS c WHERE tenant_id = ?1"
);

const UPSERT_RECORD: &str = "\
INSERT OR REPLACE INTO identity_customer (tenant_id, primary_id, version, created_at, last_row_at,
    emails, email_rows, phones, phone_rows, primary_has_email, primary_has_phone, secondary_ids,
    updated_at, base_seq)
VALUES (?13, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, (SELECT n FROM identity_base_seq))
RETURNING base_seq";

const INSERT_IDENTIFIER: &str = "\
INSERT OR REPLACE INTO identity_identifier (tenant_id, kind, value, customer_id)
VALUES (?4, ?1, ?2, ?3)";

/// A contact row with the id `?7` drawn for it ([`NewIds`]).
const INSERT_CONTACT: &str = "\
INSERT INTO contact (id, tenant_id, email, phone_number, linked_id, link_precedence, created_at,
    updated_at)
VALUES (?7, ?6, ?1, ?2, ?3, ?4, ?5, ?5)";

/// Removes customer `?1`'s record in tenant `?2` (a merge absorbed it).
const DELETE_RECORD: &str =
    "DELETE FROM identity_customer WHERE tenant_id = ?2 AND primary_id = ?1";

/// Moves the identifiers of customer `?1` in tenant `?3` to customer `?2`.
const MOVE_IDENTIFIERS: &str = "\
UPDATE identity_identifier SET customer_id = ?2 WHERE tenant_id = ?3 AND customer_id = ?1";

/// Relinks the rows of tenant `?4` in the JSON array `?1` as `?2` (primary id, or NULL for a
/// primary), found by their ids (`plans_tests.rs` checks).
const RELINK: &str = "\
UPDATE contact
SET linked_id = ?2, link_precedence = CASE WHEN ?2 IS NULL THEN 'primary' ELSE 'secondary' END,
    updated_at = ?3
WHERE id IN (SELECT value FROM json_each(?1)) AND +tenant_id = ?4 AND deleted_at IS NULL";

/// One step of a closure walk in tenant `?4`: visible rows by id, linked id, email or phone
/// (JSON arrays). One `SELECT` per key (with their terms joined by `OR`, SQLite searched every
/// row of the tenant instead; `plans_tests.rs` checks).
const STEP_ROWS: &str = "\
SELECT id, email, phone_number, linked_id, link_precedence, created_at, updated_at FROM contact
WHERE id IN (SELECT value FROM json_each(?1)) AND +tenant_id = ?4 AND deleted_at IS NULL
UNION
SELECT id, email, phone_number, linked_id, link_precedence, created_at, updated_at FROM contact
WHERE tenant_id = ?4 AND linked_id IN (SELECT value FROM json_each(?1)) AND deleted_at IS NULL
UNION
SELECT id, email, phone_number, linked_id, link_precedence, created_at, updated_at FROM contact
WHERE tenant_id = ?4 AND email IN (SELECT value FROM json_each(?2)) AND deleted_at IS NULL
UNION
SELECT id, email, phone_number, linked_id, link_precedence, created_at, updated_at FROM contact
WHERE tenant_id = ?4 AND phone_number IN (SELECT value FROM json_each(?3)) AND deleted_at IS NULL";

/// The customers of tenant `?3` that hold the emails `?1` and the phones `?2` (JSON arrays).
const STEP_OWNERS: &str = "\
SELECT customer_id FROM identity_identifier
WHERE tenant_id = ?3 AND kind = 'email' AND value IN (SELECT value FROM json_each(?1))
UNION ALL
SELECT customer_id FROM identity_identifier
WHERE tenant_id = ?3 AND kind = 'phone' AND value IN (SELECT value FROM json_each(?2))";

/// Removes the identifiers of tenant `?2`'s customers `?1` (a JSON array).
const FORGET_CUSTOMERS: &str = "\
DELETE FROM identity_identifier
WHERE tenant_id = ?2 AND customer_id IN (SELECT value FROM json_each(?1))";

/// Removes tenant `?3`'s identifiers of kind `?2` for the values `?1` (a JSON array).
const FORGET_VALUES: &str = "\
DELETE FROM identity_identifier
WHERE tenant_id = ?3 AND kind = ?2 AND value IN (SELECT value FROM json_each(?1))";

const SELECT_ALL: &str = "\
SELECT id, email, phone_number, linked_id, link_precedence, created_at, updated_at
FROM contact WHERE tenant_id = ?1 AND deleted_at IS NULL ORDER BY id";

/// Whether a pair of tenant `?1` has a row in customer `?2` and one in customer `?3`.
const KEPT_APART: &str = "\
SELECT EXISTS (
    SELECT 1 FROM identity_kept_apart AS k
    JOIN contact AS a ON a.id = k.a_id JOIN contact AS b ON b.id = k.b_id
    WHERE k.tenant_id = ?1
      AND ((coalesce(a.linked_id, a.id) = ?2 AND coalesce(b.linked_id, b.id) = ?3)
        OR (coalesce(a.linked_id, a.id) = ?3 AND coalesce(b.linked_id, b.id) = ?2)))";

/// This module's statements that reach one request's or customer's rows by their keys, whose
/// plans `plans_tests.rs` checks (a statement added here that does so belongs in the list).
/// Not [`KEPT_APART`]: it reads the tenant's pairs (one per split row pair, few), which is
/// cheaper than reaching them through the rows of two customers that may be large.
#[cfg(test)]
pub(super) const BY_KEY: &[(&str, &str)] = &[
    ("UPSERT_RECORD", UPSERT_RECORD),
    ("DELETE_RECORD", DELETE_RECORD),
    ("MOVE_IDENTIFIERS", MOVE_IDENTIFIERS),
    ("RELINK", RELINK),
    ("STEP_ROWS", STEP_ROWS),
    ("STEP_OWNERS", STEP_OWNERS),
    ("FORGET_CUSTOMERS", FORGET_CUSTOMERS),
    ("FORGET_VALUES", FORGET_VALUES),
];

/// A record row: (kinds, primary, version, created, last row, emails, email rows, phones,
/// phone rows, primary has email, primary has phone, secondary ids, tail, base number).
type RecordRow = (
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<OffsetDateTime>,
    Option<OffsetDateTime>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<bool>,
    Option<bool>,
    Option<String>,
    Option<String>,
    Option<i64>,
);

/// A record from its columns (lists included); `None` when the identifier's customer has no
/// record.
fn decode(row: RecordRow) -> Result<Option<CustomerRecord>> {
    let (_, Some(primary), Some(version), Some(created_at), Some(last_row_at), ..) = row else {
        return Ok(None);
    };
    let text = RecordText {
        emails: row.5.clone().unwrap_or_default(),
        email_rows: row.6.clone().unwrap_or_default(),
        phones: row.7.clone().unwrap_or_default(),
        phone_rows: row.8.clone().unwrap_or_default(),
        secondary_ids: row.11.clone().unwrap_or_default(),
    };
    let scalars = Scalars {
        primary: ContactId::new(primary),
        version,
        created_at,
        last_row_at,
        primary_has_email: row.9.unwrap_or(false),
        primary_has_phone: row.10.unwrap_or(false),
    };
    let mut record = scalars.base(text)?;
    tails::apply(&mut record, row.12.as_deref())?;
    Ok(Some(record))
}

/// A record's columns other than its lists (those of its base).
pub(super) struct Scalars {
    pub primary: ContactId,
    pub version: i64,
    pub created_at: OffsetDateTime,
    pub last_row_at: OffsetDateTime,
    pub primary_has_email: bool,
    pub primary_has_phone: bool,
}

impl Scalars {
    /// The record's base: these columns and its lists.
    pub(super) fn base(&self, text: RecordText) -> Result<CustomerRecord> {
        let mut base = CustomerRecord {
            last_row_at: self.last_row_at,
            primary_has_email: self.primary_has_email,
            primary_has_phone: self.primary_has_phone,
            version: self.version,
            ..CustomerRecord::new(self.primary, None, None, self.created_at)
        };
        text.parse_into(&mut base)?;
        Ok(base)
    }
}

/// The identifiers to create for a record: all of its values, or only some.
pub(super) enum NewValues {
    All,
    Some(Option<Email>, Option<Phone>),
}

/// Contact ids for the rows one write transaction inserts: the table's next id is read once,
/// then counted up (the transaction is the database's only writer), so inserting a row needs
/// no answer back before the rest of its write is sent. The ids are the ones AUTOINCREMENT
/// would have given, in the same order.
#[derive(Debug, Default)]
pub(super) struct NewIds(Option<i64>);

impl NewIds {
    /// Adds to `script` the query of the table's next id, which returns one row: read it with
    /// [`NewIds::from_row`], in the same transaction, before any row is inserted.
    pub(super) fn push_next(script: &mut Script) {
        script.push(NEXT_ID, |_| {});
    }

    /// The ids from the row that [`NewIds::push_next`] returned.
    pub(super) fn from_row(row: &SqliteRow) -> Result<NewIds> {
        let next = row
            .try_get(0)
            .map_err(|e| Error::store("writing contacts", e))?;
        Ok(NewIds(Some(next)))
    }

    /// The id of the next row inserted.
    async fn draw(&mut self, tx: &mut SqliteConnection) -> Result<ContactId> {
        let next = match self.0 {
            Some(next) => next,
            None => sqlx::query_scalar(NEXT_ID)
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| Error::store("writing contacts", e))?,
        };
        self.0 = Some(next + 1);
        Ok(ContactId::new(next))
    }
}

/// Writes a record (a new version) and the identifiers of its new values; its base number and
/// the record as written.
pub(super) async fn store(
    tx: &mut SqliteConnection,
    tenant: &TenantId,
    mut record: CustomerRecord,
    new: NewValues,
) -> Result<(i64, CustomerRecord)> {
    let mut script = Script::default();
    push_store(&mut script, tenant, &mut record, &new);
    let rows = written(script.run(tx).await)?;
    Ok((written(base_number(&rows))?, record))
}

/// The base number that the one record write ([`push_store`]) of a script's `rows` returned.
fn base_number(rows: &[SqliteRow]) -> sqlx::Result<i64> {
    match rows {
        [row] => row.try_get(0),
        _ => Err(sqlx::Error::RowNotFound),
    }
}

/// Adds to `script` the statements that write `record` as its next version (raised here) with
/// the identifiers of its `new` values, clearing its tail. Of them only the record's returns a
/// row: its base number ([`base_number`]).
fn push_store(
    script: &mut Script,
    tenant: &TenantId,
    record: &mut CustomerRecord,
    new: &NewValues,
) {
    record.version += 1;
    let text = RecordText::of(record);
    script.push(NEXT_BASE, |_| {});
    tails::push_clear(script, tenant, record.primary);
    script.push(UPSERT_RECORD, |v| {
        v.add(record.primary.get())
            .add(record.version)
            .add(record.created_at)
            .add(record.last_row_at)
            .add(text.emails)
            .add(text.email_rows)
            .add(text.phones)
            .add(text.phone_rows)
            .add(record.primary_has_email)
            .add(record.primary_has_phone)
            .add(text.secondary_ids)
            .add(OffsetDateTime::now_utc())
            .add(tenant.as_str());
    });
    match new {
        NewValues::All => {
            for email in &record.emails {
                push_identifier(script, tenant, record.primary, "email", email.as_str());
            }
            for phone in &record.phone_numbers {
                push_identifier(script, tenant, record.primary, "phone", phone.as_str());
            }
        }
        NewValues::Some(email, phone) => {
            push_identifiers(
                script,
                tenant,
                record.primary,
                email.as_ref(),
                phone.as_ref(),
            );
        }
    }
}

/// Adds to `script` the identifiers of `email` and `phone` (those given) for customer `primary`.
fn push_identifiers(
    script: &mut Script,
    tenant: &TenantId,
    primary: ContactId,
    email: Option<&Email>,
    phone: Option<&Phone>,
) {
    if let Some(email) = email {
        push_identifier(script, tenant, primary, "email", email.as_str());
    }
    if let Some(phone) = phone {
        push_identifier(script, tenant, primary, "phone", phone.as_str());
    }
}

/// Adds to `script` the identifier `value` of `kind` for customer `primary`.
fn push_identifier(
    script: &mut Script,
    tenant: &TenantId,
    primary: ContactId,
    kind: &'static str,
    value: &str,
) {
    script.push(INSERT_IDENTIFIER, |v| {
        v.add(kind)
            .add(value)
            .add(primary.get())
            .add(tenant.as_str());
    });
}

/// Adds to `script` the contact row `id`.
fn push_contact(script: &mut Script, tenant: &TenantId, id: ContactId, row: NewRow<'_>) {
    script.push(INSERT_CONTACT, |v| {
        v.add(row.email.map(Email::as_str))
            .add(row.phone.map(Phone::as_str))
            .add(row.link.linked_id().map(ContactId::get))
            .add(row.link.precedence())
            .add(row.at)
            .add(tenant.as_str())
            .add(id.get());
    });
}

/// A contact row to insert.
struct NewRow<'a> {
    email: Option<&'a Email>,
    phone: Option<&'a Phone>,
    link: Link,
    at: OffsetDateTime,
}

/// A script's outcome as the library reports a failed write.
fn written<T>(outcome: sqlx::Result<T>) -> Result<T> {
    outcome.map_err(|e| Error::store("writing a customer record", e))
}

pub(super) async fn relink(
    tx: &mut SqliteConnection,
    tenant: &TenantId,
    ids: &[ContactId],
    link: Link,
    at: OffsetDateTime,
) -> Result<()> {
    let mut script = Script::default();
    push_relink(&mut script, tenant, ids, link, at);
    script
        .run(tx)
        .await
        .map(drop)
        .map_err(|e| Error::store("writing contacts", e))
}

/// Adds to `script` the relinking of rows `ids` as `link`.
fn push_relink(
    script: &mut Script,
    tenant: &TenantId,
    ids: &[ContactId],
    link: Link,
    at: OffsetDateTime,
) {
    script.push(RELINK, |v| {
        v.add(json(ids))
            .add(link.linked_id().map(ContactId::get))
            .add(at)
            .add(tenant.as_str());
    });
}

/// Statements added at the end of a write's script: the read of the write after it in a
/// batch (`read::push`), or the batch's last statements.
pub(super) type NextRead<'a> = &'a (dyn Fn(&mut Script) + Sync);

/// What follows a write's own statements in its script.
#[derive(Clone, Copy)]
pub(super) enum Then<'a> {
    /// Nothing: the write is alone.
    Nothing,
    /// More of the transaction: the read of the write after it in a batch, or statements of
    /// the batch's own.
    More(NextRead<'a>),
    /// The transaction's last statements, its `COMMIT` among them: nothing of the write may
    /// follow the script, so an addition whose tail is long enough to be folded leaves that to
    /// the customer's next addition (a longer tail costs a read nothing, `read.rs`).
    End(NextRead<'a>),
}

/// Writes a plan for `request` of `tenant`, and its event, inside the caller's write
/// transaction (whose new rows take their ids from `ids`, and which notes the bases it writes
/// in `bases`). Each plan's rows, event and record go to SQLite as one [`Script`], ended by
/// `then`: the read of the next write of a batch, so that write needs no call of its own to
/// read, or the batch's end. The answer once written, and the rows of what `then` added when
/// it ran after everything this write wrote (`None` for [`Then::Nothing`], when no script ran,
/// or when more was written after it: a fold, which the caller then reads again).
pub(crate) async fn apply(
    tx: &mut SqliteConnection,
    tenant: &TenantId,
    request: &IdentifyRequest,
    plan: Plan,
    ids: &mut NewIds,
    bases: &mut Written,
    then: Then<'_>,
) -> Result<(ConsolidatedContact, Option<Vec<SqliteRow>>)> {
    let now = OffsetDateTime::now_utc();
    let mut script = Script::default();
    match plan {
        Plan::Unchanged(answer) => Ok((answer, None)),
        Plan::NewCustomer(new) => {
            let id = ids.draw(tx).await?;
            let row = NewRow {
                email: new.email.as_ref(),
                phone: new.phone_number.as_ref(),
                link: Link::Primary,
                at: now,
            };
            push_contact(&mut script, tenant, id, row);
            events::push(&mut script, tenant, Some(id), &new.event(id), now);
            let mut record = new.record(id, now);
            push_store(&mut script, tenant, &mut record, &NewValues::All);
            let (rows, carried) = run_carrying(script, tx, then).await?;
            Ok((noted(bases, written(base_number(&rows))?, record), carried))
        }
        Plan::AddRow(add) => {
            let id = ids.draw(tx).await?;
            let at = now.max(add.not_before());
            let row = NewRow {
                email: add.email.as_ref(),
                phone: add.phone_number.as_ref(),
                link: Link::SecondaryOf(add.customer.primary),
                at,
            };
            push_contact(&mut script, tenant, id, row);
            events::push(
                &mut script,
                tenant,
                Some(add.customer.primary),
                &add.event(id),
                at,
            );
            let (email, phone) = (add.new_email().cloned(), add.new_phone().cloned());
            let mut record = add.into_record(id, at);
            record.version += 1;
            tails::push_append(
                &mut script,
                &record,
                tenant,
                id,
                email.as_ref(),
                phone.as_ref(),
            );
            push_identifiers(
                &mut script,
                tenant,
                record.primary,
                email.as_ref(),
                phone.as_ref(),
            );
            let (rows, carried) = run_carrying(script, tx, then).await?;
            appended(tx, tenant, record, &rows, carried, then, bases).await
        }
        Plan::Merge(merge) => {
            if kept_apart(tx, tenant, merge.merged.primary, merge.absorbed).await? {
                return Ok((merge.withheld, None));
            }
            let kept = merge.merged.primary;
            push_relink(
                &mut script,
                tenant,
                &merge.relink,
                Link::SecondaryOf(kept),
                now,
            );
            let absorbed = merge.absorbed.get();
            script.push(DELETE_RECORD, |v| {
                v.add(absorbed).add(tenant.as_str());
            });
            script.push(MOVE_IDENTIFIERS, |v| {
                v.add(absorbed).add(kept.get()).add(tenant.as_str());
            });
            events::push(&mut script, tenant, Some(kept), &merge.event(request), now);
            // the absorbed customer's lists go to the kept record's tail, not the merged
            // record whole: a large customer's join writes what the small one brings
            let part = merge.merged.part(merge.absorbed, &merge.relink);
            let mut record = merge.merged;
            record.version += 1;
            tails::push_merge(&mut script, &record, tenant, &part);
            let (rows, carried) = run_carrying(script, tx, then).await?;
            appended(tx, tenant, record, &rows, carried, then, bases).await
        }
    }
}

/// The outcome of a write whose script added `record`'s newest tail entry (a row or a merge;
/// `rows` its statement's, `carried` what `then` added): the answer, once the record is noted
/// in `bases`. An entry that makes the tail [`tails::fold_at`] entries long is followed by the
/// record written whole (its new base), unless the script committed.
async fn appended(
    tx: &mut SqliteConnection,
    tenant: &TenantId,
    mut record: CustomerRecord,
    rows: &[SqliteRow],
    carried: Option<Vec<SqliteRow>>,
    then: Then<'_>,
    bases: &mut Written,
) -> Result<(ConsolidatedContact, Option<Vec<SqliteRow>>)> {
    let (length, base) = written(tails::appended(rows))?;
    if length >= tails::fold_at(&record) && !matches!(then, Then::End(_)) {
        // the entry that makes the tail long enough writes the record whole (its values are
        // named); the carried read ran before it
        record.version -= 1; // store raises it
        let (seq, record) = store(tx, tenant, record, NewValues::Some(None, None)).await?;
        return Ok((noted(bases, seq, record), None));
    }
    // the record in hand is its base with the tail applied up to this entry: held, the next
    // read of the customer (in this batch, or anywhere once it commits) fetches no tail entry
    match base {
        Some(seq) => Ok((noted(bases, seq, record), carried)),
        None => Ok((record.answer(), carried)),
    }
}

/// Runs a plan's `script`, which returns one row of its own, with `then` after it: that row,
/// and the rows of what `then` added (`None` for nothing).
async fn run_carrying(
    mut script: Script,
    tx: &mut SqliteConnection,
    then: Then<'_>,
) -> Result<(Vec<SqliteRow>, Option<Vec<SqliteRow>>)> {
    let (Then::More(push) | Then::End(push)) = then else {
        return Ok((written(script.run(tx).await)?, None));
    };
    push(&mut script);
    let mut rows = written(script.run(tx).await)?;
    let carried = rows.split_off(rows.len().min(1));
    Ok((rows, Some(carried)))
}

/// The answer of `record`, written as base `seq` (or as that base with tail entries), once
/// noted in `bases`.
fn noted(bases: &mut Written, seq: i64, record: CustomerRecord) -> ConsolidatedContact {
    let answer = record.answer();
    bases.note(seq, record);
    answer
}

/// Whether customers `x` and `y` of `tenant` are kept apart by a split.
pub(super) async fn kept_apart(
    conn: &mut SqliteConnection,
    tenant: &TenantId,
    x: ContactId,
    y: ContactId,
) -> Result<bool> {
    sqlx::query_scalar(KEPT_APART)
        .bind(tenant.as_str())
        .bind(x.get())
        .bind(y.get())
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| Error::store("reading customers", e))
}

/// Walks from `frontier` to every connected row of `tenant` (one query pair per step).
pub(crate) async fn closure(
    conn: &mut SqliteConnection,
    tenant: &TenantId,
    mut frontier: Frontier,
) -> Result<Closure> {
    while let Some(s) = frontier.next_step() {
        let rows: Vec<ContactRow> = sqlx::query_as(STEP_ROWS)
            .bind(json(&s.ids))
            .bind(json(&s.emails))
            .bind(json(&s.phones))
            .bind(tenant.as_str())
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| Error::store("reading contacts", e))?;
        let owners: Vec<i64> = sqlx::query_scalar(STEP_OWNERS)
            .bind(json(&s.emails))
            .bind(json(&s.phones))
            .bind(tenant.as_str())
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| Error::store("reading customers", e))?;
        frontier.absorb(decode_rows(rows)?, owners);
    }
    Ok(frontier.finish())
}

/// Every visible row of `tenant`, by id.
pub(crate) async fn all_rows(
    conn: &mut SqliteConnection,
    tenant: &TenantId,
) -> Result<Vec<Contact>> {
    let rows: Vec<ContactRow> = sqlx::query_as(SELECT_ALL)
        .bind(tenant.as_str())
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| Error::store("reading contacts", e))?;
    decode_rows(rows)
}

/// The tenants whose records wait for changes made outside the library.
pub(crate) async fn pending_tenants(conn: &mut SqliteConnection) -> Result<Vec<TenantId>> {
    let tenants: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT tenant_id FROM identity_pending")
            .fetch_all(&mut *conn)
            .await
            .map_err(|e| Error::store("reading pending changes", e))?;
    // a tenant id written by hand that the library cannot name is left for verify to report
    Ok(tenants
        .iter()
        .filter_map(|t| TenantId::parse(t).ok())
        .collect())
}

/// Applies every change made outside the library to `tenant`'s derived records (repairing rows
/// that break the model), inside the caller's write transaction. `Ok(None)` when nothing waited.
pub(crate) async fn repair(
    tx: &mut SqliteConnection,
    tenant: &TenantId,
) -> Result<Option<Derived>> {
    let entries: Vec<PendingRow> = sqlx::query_as(
        "SELECT id, contact_id, old_linked_id, new_linked_id, old_email, new_email, old_phone, new_phone
         FROM identity_pending WHERE tenant_id = ?1 ORDER BY id",
    )
    .bind(tenant.as_str())
    .fetch_all(&mut *tx)
    .await
    .map_err(|e| Error::store("reading pending changes", e))?;
    if entries.is_empty() {
        return Ok(None);
    }
    let Some(frontier) = Frontier::from_pending(&entries) else {
        return rebuild(tx, tenant).await.map(Some);
    };
    let closure = closure(tx, tenant, frontier).await?;
    let derived = screened(tx, tenant, &closure.rows).await?;
    let write = async {
        sqlx::query(
            "DELETE FROM identity_customer
             WHERE tenant_id = ?2 AND primary_id IN (SELECT value FROM json_each(?1))",
        )
        .bind(json(&closure.ids))
        .bind(tenant.as_str())
        .execute(&mut *tx)
        .await?;
        let mut script = Script::default();
        script.push(FORGET_CUSTOMERS, |v| {
            v.add(json(&closure.ids)).add(tenant.as_str());
        });
        script.push(FORGET_VALUES, |v| {
            v.add(json(&closure.emails))
                .add("email")
                .add(tenant.as_str());
        });
        script.push(FORGET_VALUES, |v| {
            v.add(json(&closure.phones))
                .add("phone")
                .add(tenant.as_str());
        });
        script.run(&mut *tx).await?;
        sqlx::query("DELETE FROM identity_pending WHERE tenant_id = ?2 AND id <= ?1")
            .bind(entries.last().map_or(0, |e| e.0))
            .bind(tenant.as_str())
            .execute(&mut *tx)
            .await
    };
    write
        .await
        .map_err(|e| Error::store("repairing customer records", e))?;
    write_derived(tx, tenant, &derived).await?;
    Ok(Some(derived))
}

/// Recomputes every derived record of `tenant`, inside the caller's write transaction.
pub(crate) async fn rebuild(tx: &mut SqliteConnection, tenant: &TenantId) -> Result<Derived> {
    let rows = all_rows(tx, tenant).await?;
    let derived = screened(tx, tenant, &rows).await?;
    for delete in [
        "DELETE FROM identity_customer WHERE tenant_id = ?1",
        "DELETE FROM identity_identifier WHERE tenant_id = ?1",
        "DELETE FROM identity_pending WHERE tenant_id = ?1",
    ] {
        sqlx::query(delete)
            .bind(tenant.as_str())
            .execute(&mut *tx)
            .await
            .map_err(|e| Error::store("rebuilding customer records", e))?;
    }
    write_derived(tx, tenant, &derived).await?;
    Ok(derived)
}

/// The customers `rows` define, under the tenant's blocked list.
async fn screened(
    tx: &mut SqliteConnection,
    tenant: &TenantId,
    rows: &[Contact],
) -> Result<Derived> {
    let blocked = super::settings::state(&mut *tx, tenant).await?.blocked;
    Ok(derive_screened(rows, &|kind, value| {
        blocked.blocks(kind, value)
    }))
}

/// Writes a derivation's relinks, records and identifiers.
async fn write_derived(
    tx: &mut SqliteConnection,
    tenant: &TenantId,
    derived: &Derived,
) -> Result<()> {
    let now = OffsetDateTime::now_utc();
    for (id, link) in &derived.relinks {
        relink(tx, tenant, &[*id], *link, now).await?;
    }
    for record in &derived.customers {
        store(tx, tenant, record.clone(), NewValues::Some(None, None)).await?;
    }
    for (kind, value, owner) in derived.identifiers() {
        sqlx::query(INSERT_IDENTIFIER)
            .bind(kind.as_str())
            .bind(value)
            .bind(owner.get())
            .bind(tenant.as_str())
            .execute(&mut *tx)
            .await
            .map_err(|e| Error::store("writing a customer record", e))?;
    }
    Ok(())
}

/// Everything `verify` compares: rows, records, identifiers and the number of pending changes.
pub(crate) async fn everything(
    conn: &mut SqliteConnection,
    tenant: &TenantId,
) -> Result<(
    Vec<Contact>,
    Vec<CustomerRecord>,
    Vec<StoredIdentifier>,
    u64,
)> {
    let rows = all_rows(conn, tenant).await?;
    let fail = |e| Error::store("reading customer records", e);
    let records: Vec<RecordRow> = sqlx::query_as(SELECT_RECORDS)
        .bind(tenant.as_str())
        .fetch_all(&mut *conn)
        .await
        .map_err(fail)?;
    let records = records
        .into_iter()
        .filter_map(|r| decode(r).transpose())
        .collect::<Result<Vec<_>>>()?;
    let identifiers: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT kind, value, customer_id FROM identity_identifier WHERE tenant_id = ?1",
    )
    .bind(tenant.as_str())
    .fetch_all(&mut *conn)
    .await
    .map_err(fail)?;
    let identifiers = stored_identifiers(identifiers);
    let pending: i64 =
        sqlx::query_scalar("SELECT count(*) FROM identity_pending WHERE tenant_id = ?1")
            .bind(tenant.as_str())
            .fetch_one(&mut *conn)
            .await
            .map_err(fail)?;
    Ok((
        rows,
        records,
        identifiers,
        u64::try_from(pending).unwrap_or(0),
    ))
}
