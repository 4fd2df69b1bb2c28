//! Reading another deployment's contact table over a PostgreSQL URL (the import's source), and
//! noticing such a table beside an empty store (so a service does not silently take over a
//! database that holds another implementation's customers).

use std::collections::HashSet;

use sqlx::{Connection, PgConnection, Row};
use time::OffsetDateTime;

use crate::error::{Error, Field, Result};
use crate::import::{TableRow, TableSource, quoted};

/// Rows fetched per round trip from the source's cursor.
const FETCH: usize = 20_000;

/// What reading a source table gave.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct TableRead {
    /// Every row, by id: soft-deleted ones with their id and link only.
    pub rows: Vec<TableRow>,
    /// Rows not soft-deleted.
    pub visible: u64,
    /// Whether the table has the link column (without it, rows join by shared values only).
    pub has_links: bool,
    /// Whether the table has the soft-delete column (without it, every row is visible).
    pub has_deleted_at: bool,
}

/// Reads every row of `source` in the database `url` names, in one read-only snapshot, for
/// [`crate::Identity::import_table`]: soft-deleted rows too (their ids are reserved, and rows
/// linked through them stay one customer), without their values.
///
/// # Errors
/// [`Error::InvalidInput`] naming [`Field::Table`] when the table or one of its required
/// columns (id, email, phone number, creation time) is not there; [`Error::InvalidUrl`],
/// [`Error::UnsupportedScheme`] for a URL that is not `postgres://`; the database's errors.
pub async fn read_table(url: &str, source: &TableSource) -> Result<TableRead> {
    let scheme = url
        .trim()
        .split(':')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    if scheme != "postgres" && scheme != "postgresql" {
        return Err(Error::UnsupportedScheme { scheme });
    }
    let fail = |e| Error::store("reading the source table", e);
    let mut conn = PgConnection::connect(url.trim()).await.map_err(fail)?;
    let columns = columns_of(&mut conn, source).await?;
    let has = |name: &str| columns.contains(name);
    for (name, flag) in [
        (&source.id, "id"),
        (&source.email, "email"),
        (&source.phone_number, "phone number"),
        (&source.created_at, "creation time"),
    ] {
        if !has(name) {
            let mut found: Vec<&String> = columns.iter().collect();
            found.sort();
            let found: Vec<&str> = found.iter().map(|s| s.as_str()).collect();
            return Err(Error::invalid(
                Field::Table,
                format!(
                    "table {} has no {flag} column {name:?}; its columns are {}",
                    source.table,
                    found.join(", ")
                ),
            ));
        }
    }
    let mut read = TableRead {
        has_links: has(&source.linked_id),
        has_deleted_at: has(&source.deleted_at),
        ..TableRead::default()
    };
    let linked = if read.has_links {
        format!("{}::bigint", quoted(&source.linked_id))
    } else {
        "NULL::bigint".to_owned()
    };
    let deleted = if read.has_deleted_at {
        format!("{} IS NOT NULL", quoted(&source.deleted_at))
    } else {
        "false".to_owned()
    };
    let (schema, table) = source.schema_and_table();
    let table = match schema {
        Some(schema) => format!("{}.{}", quoted(schema), quoted(table)),
        None => quoted(table),
    };
    let (id, created) = (quoted(&source.id), quoted(&source.created_at));
    let select = format!(
        "DECLARE identity_source NO SCROLL CURSOR FOR \
         SELECT {id}::bigint, CASE WHEN {deleted} THEN NULL ELSE {}::text END, \
                CASE WHEN {deleted} THEN NULL ELSE {}::text END, {linked}, \
                {created}::timestamptz, {deleted} \
         FROM {table} ORDER BY {id}",
        quoted(&source.email),
        quoted(&source.phone_number),
    );
    let mut tx = conn.begin().await.map_err(fail)?;
    for statement in [
        "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY",
        "SET LOCAL TIME ZONE 'UTC'",
        select.as_str(),
    ] {
        // identifiers are quoted whole (`quoted`), the rest is literal
        sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_owned()))
            .execute(&mut *tx)
            .await
            .map_err(fail)?;
    }
    let fetch = format!("FETCH {FETCH} FROM identity_source");
    loop {
        // the extended protocol: binary values (the simple one's text times do not decode)
        let rows = sqlx::query(sqlx::AssertSqlSafe(fetch.clone()))
            .fetch_all(&mut *tx)
            .await
            .map_err(fail)?;
        if rows.is_empty() {
            break;
        }
        for row in rows {
            let id: i64 = row.try_get(0).map_err(fail)?;
            let email: Option<String> = row.try_get(1).map_err(fail)?;
            let phone: Option<String> = row.try_get(2).map_err(fail)?;
            let linked: Option<i64> = row.try_get(3).map_err(fail)?;
            let at: Option<OffsetDateTime> = row.try_get(4).map_err(fail)?;
            let deleted: bool = row.try_get(5).map_err(fail)?;
            let id = u64::try_from(id).map_err(|_| {
                Error::invalid(
                    Field::Table,
                    format!(
                        "table {} has a row with id {id}: ids must be positive",
                        source.table
                    ),
                )
            })?;
            read.visible += u64::from(!deleted);
            read.rows.push(TableRow {
                id,
                email,
                phone_number: phone,
                // a link to a row id that cannot exist links to nothing there
                linked_id: linked.and_then(|l| u64::try_from(l).ok()),
                created_at: at,
                deleted,
            });
        }
    }
    tx.commit().await.map_err(fail)?;
    conn.close().await.map_err(fail)?;
    Ok(read)
}

/// The columns of the source table; an error naming it when there is no such table.
async fn columns_of(conn: &mut PgConnection, source: &TableSource) -> Result<HashSet<String>> {
    let (schema, table) = source.schema_and_table();
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT column_name::text FROM information_schema.columns
         WHERE table_schema = coalesce($1, current_schema()) AND table_name = $2",
    )
    .bind(schema)
    .bind(table)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| Error::store("reading the source table", e))?;
    if names.is_empty() {
        return Err(Error::invalid(
            Field::Table,
            format!(
                "no table {} in the source database (names are exact: \"Contact\" is not contact)",
                source.table
            ),
        ));
    }
    Ok(names.into_iter().collect())
}

/// The tables of another implementation of the task that hold rows while this store's
/// `contact` holds none (or is not there yet): `"Contact"` (Prisma), `"Contacts"` (Sequelize),
/// or a `contact` with camelCase columns (TypeORM, which this store's own table would collide
/// with). Reads the catalog only; safe before migrating.
pub(crate) async fn foreign_tables(conn: &mut PgConnection) -> Result<Vec<String>> {
    let fail = |e| Error::store("reading the database catalog", e);
    let candidates: Vec<String> = sqlx::query_scalar(
        "SELECT t.table_name::text FROM information_schema.tables AS t
         WHERE t.table_schema = current_schema() AND t.table_type = 'BASE TABLE'
           AND t.table_name IN ('Contact', 'Contacts', 'contact')
           AND EXISTS (SELECT 1 FROM information_schema.columns AS c
                       WHERE c.table_schema = t.table_schema AND c.table_name = t.table_name
                         AND c.column_name = 'email')
           AND EXISTS (SELECT 1 FROM information_schema.columns AS c
                       WHERE c.table_schema = t.table_schema AND c.table_name = t.table_name
                         AND (c.column_name = 'phoneNumber'
                              OR (t.table_name <> 'contact' AND c.column_name = 'phone_number')))
         ORDER BY 1",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(fail)?;
    if candidates.is_empty() {
        return Ok(candidates);
    }
    let own_rows: bool = sqlx::query_scalar(
        "SELECT to_regclass('contact') IS NOT NULL AND EXISTS (
             SELECT 1 FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = 'contact'
               AND column_name = 'link_precedence')",
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(fail)?;
    if own_rows {
        let any: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM contact)")
            .fetch_one(&mut *conn)
            .await
            .map_err(fail)?;
        if any {
            return Ok(Vec::new());
        }
    }
    let mut found = Vec::new();
    for table in candidates {
        let sql = format!("SELECT EXISTS (SELECT 1 FROM {})", quoted(&table));
        let rows: bool = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(&mut *conn)
            .await
            .map_err(fail)?;
        if rows {
            found.push(table);
        }
    }
    Ok(found)
}
