//! On a Citus cluster, the rows live in shards on the workers (and reference tables' copies on
//! every node): a scan of "every table" for a value reads each shard where it is, and names
//! the table it belongs to.

use sqlx::PgPool;

/// Local tables of the coordinator: neither distributed nor a reference table.
const LOCAL_TABLES: &str = "\
SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class AS c
JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'm')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast', 'citus', 'columnar',
                        'columnar_internal')
  AND NOT EXISTS (SELECT 1 FROM pg_dist_partition AS p WHERE p.logicalrelid = c.oid)";

/// Every placement of every shard: its table, the shard's name (Citus names a shard after its
/// table and id), and the node holding it.
const PLACEMENTS: &str = "\
SELECT format('%I.%I', n.nspname, c.relname), format('%I.%I', n.nspname, c.relname || '_' || s.shardid),
       s.nodename::text, s.nodeport
FROM citus_shards AS s
JOIN pg_class AS c ON c.oid = s.table_name
JOIN pg_namespace AS n ON n.oid = c.relnamespace";

/// Which of `values` a row of `relation` (on `pool`'s server) holds in any column.
async fn holding(pool: &PgPool, relation: &str, values: &[String]) -> Vec<String> {
    let sql = format!(
        "SELECT v FROM unnest($1::text[]) AS v
         WHERE EXISTS (SELECT 1 FROM {relation} AS t WHERE strpos(t::text, v) > 0)"
    );
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(values)
        .fetch_all(pool)
        .await
        .unwrap()
}

/// As [`crate::tables_holding`] on a Citus cluster whose coordinator `pool` reaches: every
/// local table of the coordinator and every placement of every shard, each hit named by its
/// table (`value in public.contact`).
pub async fn tables_holding(pool: &PgPool, values: &[String]) -> Vec<String> {
    let local: Vec<String> = sqlx::query_scalar(LOCAL_TABLES)
        .fetch_all(pool)
        .await
        .unwrap();
    let placements: Vec<(String, String, String, i32)> =
        sqlx::query_as(PLACEMENTS).fetch_all(pool).await.unwrap();
    assert!(
        placements.len() >= 10,
        "the scan reads every shard: {placements:?}"
    );
    let mut found = Vec::new();
    for table in local {
        let hits = holding(pool, &table, values).await;
        found.extend(hits.into_iter().map(|v| format!("{v} in {table}")));
    }
    // one pool per node, not a connection per shard
    let mut nodes: std::collections::BTreeMap<String, PgPool> = std::collections::BTreeMap::new();
    for (table, shard, host, port) in placements {
        let at = format!("{host}:{port}");
        if !nodes.contains_key(&at) {
            nodes.insert(at.clone(), crate::on_worker(pool, &at).await);
        }
        let hits = holding(&nodes[&at], &shard, values).await;
        found.extend(hits.into_iter().map(|v| format!("{v} in {table}")));
    }
    for node in nodes.into_values() {
        node.close().await;
    }
    found.sort();
    found.dedup();
    found
}
