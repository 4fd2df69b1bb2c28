//! Noticing another implementation's contact table in a SQLite file (Prisma's `Contact`, which
//! SQLite's case-insensitive names make the same table as this store's `contact`, or
//! Sequelize's `Contacts`) before migrating over it.

use sqlx::SqlitePool;

use crate::error::{Error, Result};
use crate::import::quoted;

/// The tables of another implementation that hold rows while this store holds none.
pub(super) async fn foreign_tables(pool: &SqlitePool) -> Result<Vec<String>> {
    let fail = |e| Error::store("reading the database catalog", e);
    let candidates: Vec<String> = sqlx::query_scalar(
        "SELECT m.name FROM sqlite_master AS m
         WHERE m.type = 'table' AND lower(m.name) IN ('contact', 'contacts')
           AND EXISTS (SELECT 1 FROM pragma_table_info(m.name) WHERE name = 'email')
           AND EXISTS (SELECT 1 FROM pragma_table_info(m.name)
                       WHERE name = 'phoneNumber'
                          OR (lower(m.name) = 'contacts' AND name = 'phone_number'))
         ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .map_err(fail)?;
    let own_rows: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master AS m WHERE m.type = 'table' AND m.name = 'contact'
                          AND EXISTS (SELECT 1 FROM pragma_table_info('contact')
                                      WHERE name = 'link_precedence'))",
    )
    .fetch_one(pool)
    .await
    .map_err(fail)?;
    if own_rows {
        let any: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM contact)")
            .fetch_one(pool)
            .await
            .map_err(fail)?;
        if any {
            return Ok(Vec::new());
        }
    }
    let mut found = Vec::new();
    for table in candidates {
        let sql = format!("SELECT EXISTS (SELECT 1 FROM {})", quoted(&table));
        // the table's name is quoted whole
        let rows: bool = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(pool)
            .await
            .map_err(fail)?;
        if rows {
            found.push(table);
        }
    }
    Ok(found)
}
