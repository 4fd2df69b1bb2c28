//! Citus: the schema distributed by tenant. When the database has the `citus` extension,
//! `migrate` ends by distributing every table with a `tenant_id` (co-located with `contact`),
//! copying the tables of no tenant to every node, and distributing the SQL functions by their
//! `p_tenant`, so that each call runs on the node that holds its tenant (`citus.sql`).

use sqlx::{Connection, PgConnection, PgPool};

use crate::error::{Error, Result};

const DISTRIBUTE: &str = include_str!("citus.sql");

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

/// A distributed function runs on its tenant's node, and the functions and triggers it calls
/// there read and write the same tenant's shards, on that node, in its transaction: a nesting
/// Citus refuses by default (for queries that could reach other nodes). The setting is the
/// database's, read by each session as it starts: set before the migrations open the
/// coordinator's connections to the workers.
///
/// Processes that connect at once each run it: one at a time (the lock of `citus.sql`), and
/// only when the database does not have the setting yet (two `ALTER DATABASE ... SET` at once
/// race on the catalog's unique index).
const NESTED: &str = "\
DO $nested$ BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('identity:citus:distribute', 0));
    IF NOT EXISTS (
        SELECT 1 FROM pg_db_role_setting AS s JOIN pg_database AS d ON d.oid = s.setdatabase
        WHERE d.datname = current_database() AND s.setrole = 0
          AND 'citus.allow_nested_distributed_execution=on' = ANY (s.setconfig)
    ) THEN
        EXECUTE format('ALTER DATABASE %I SET citus.allow_nested_distributed_execution = on',
                       current_database());
    END IF;
END $nested$";

/// Prepares the database's sessions for distributed functions (before the migrations), on a
/// connection of its own: the coordinator's session that sets it opens connections to the
/// workers that started before it, and they end with it.
pub(crate) async fn prepare(pool: &PgPool) -> Result<()> {
    let failed = |e| Error::store("distributing the schema on Citus", e);
    let mut own = PgConnection::connect_with(&pool.connect_options())
        .await
        .map_err(failed)?;
    let set = sqlx::raw_sql(NESTED).execute(&mut own).await;
    let _ = own.close().await;
    set.map_err(failed)?;
    Ok(())
}

/// Distributes what is not distributed yet (nothing when everything is).
pub(crate) async fn distribute(pool: &PgPool) -> Result<()> {
    sqlx::raw_sql(DISTRIBUTE)
        .execute(pool)
        .await
        .map_err(|e| Error::store("distributing the schema on Citus", e))?;
    Ok(())
}
