//! Citus: the schema distributed by tenant. When the database has the `citus` extension,
//! `migrate` ends by distributing every table with a `tenant_id` (co-located with `contact`),
//! copying the tables of no tenant to every node, and distributing the SQL functions by their
//! `p_tenant`, so that each call runs on the node that holds its tenant (`citus.sql`); then
//! each worker's sequences start above what a restored dump holds in its range
//! (`citus_ranges.sql`).

use sqlx::{PgConnection, PgPool};

use crate::error::{Error, Result};

const DISTRIBUTE: &str = include_str!("citus.sql");

const RANGES: &str = include_str!("citus_ranges.sql");

const INSTALLED: &str = "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')";

/// Whether the database has the citus extension.
pub(crate) async fn installed(pool: &PgPool) -> Result<bool> {
    sqlx::query_scalar(INSTALLED)
        .fetch_one(pool)
        .await
        .map_err(|e| Error::store("migrating the schema", e))
}

/// [`installed`], on one connection.
pub(crate) async fn installed_on(conn: &mut PgConnection) -> sqlx::Result<bool> {
    sqlx::query_scalar(INSTALLED).fetch_one(conn).await
}

/// Distributes what is not distributed yet (nothing when everything is). Each step is skipped
/// when done, so a caller may run it again after a failure (a broken connection to a worker).
pub(crate) async fn distribute(pool: &PgPool) -> sqlx::Result<()> {
    sqlx::raw_sql(DISTRIBUTE).execute(pool).await?;
    // after the distribution committed: the workers' own connections see what it made
    sqlx::raw_sql(RANGES).execute(pool).await.map(drop)
}
