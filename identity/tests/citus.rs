//! On a Citus cluster (a coordinator and two workers: `scripts/test-citus` starts one and runs
//! this binary; the test command leaves it out): the schema distributed by tenant, each
//! identify run on its tenant's worker alone, and a storm of concurrent identifies over tenants
//! that share every value leaving every invariant whole, checked in SQL through the coordinator;
//! imports keeping and drawing ids at once, and a tenant moved to the other worker mid-storm.

use std::collections::BTreeMap;

use identity::{IdentifyRequest, TenantId};
use identity_testkit as common;
use sqlx::PgPool;

/// The workers, or a failure that says how to run these tests.
fn workers() -> Vec<String> {
    common::citus_workers().expect(
        "these tests run on a Citus cluster: run scripts/test-citus (it sets \
         IDENTITY_TEST_CITUS_WORKERS and DATABASE_URL to the coordinator)",
    )
}

/// The port of the worker holding `tenant`'s shard of `contact`.
async fn worker_of(pool: &PgPool, tenant: &str) -> i32 {
    sqlx::query_scalar(
        "SELECT s.nodeport FROM citus_shards AS s
         WHERE s.shardid = get_shard_id_for_distribution_column('contact', $1)",
    )
    .bind(tenant)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// Tenants `shop-0`, `shop-1`, ... grouped by the worker that holds them.
async fn tenants_by_worker(pool: &PgPool, count: usize) -> BTreeMap<i32, Vec<String>> {
    let mut by_worker: BTreeMap<i32, Vec<String>> = BTreeMap::new();
    for i in 0..count {
        let tenant = format!("shop-{i}");
        by_worker
            .entry(worker_of(pool, &tenant).await)
            .or_default()
            .push(tenant);
    }
    by_worker
}

/// How many times each worker ran `function` in the test's database (track_functions).
async fn calls_on_workers(db: &common::TestDb, function: &str) -> BTreeMap<i32, i64> {
    let mut calls = BTreeMap::new();
    for worker in workers() {
        let url = common::at_host(db.url(), &worker);
        let pool = PgPool::connect(&url).await.unwrap();
        let n: Option<i64> = sqlx::query_scalar(
            "SELECT sum(calls)::bigint FROM pg_stat_user_functions WHERE funcname = $1",
        )
        .bind(function)
        .fetch_one(&pool)
        .await
        .unwrap();
        pool.close().await;
        let port = worker.rsplit(':').next().unwrap().parse().unwrap();
        calls.insert(port, n.unwrap_or(0));
    }
    calls
}

#[tokio::test]
async fn every_table_is_distributed_by_tenant_or_copied_to_every_node() {
    workers();
    let db = common::TestDb::create().await;
    identity::connect(db.url()).await.unwrap().close().await;
    let pool = db.pool().await;
    let tables: Vec<(String, String, Option<String>, i32)> = sqlx::query_as(
        "SELECT t.table_name::text, t.citus_table_type, t.distribution_column, t.colocation_id
         FROM citus_tables AS t ORDER BY 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let local: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class AS c
         WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'
           AND c.relname <> '_sqlx_migrations'
           AND NOT EXISTS (SELECT 1 FROM pg_dist_partition AS p WHERE p.logicalrelid = c.oid)",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(
        local.is_empty(),
        "tables left on the coordinator: {local:?}"
    );
    let contact = tables.iter().find(|t| t.0 == "contact").unwrap().3;
    let mut reference = Vec::new();
    for (name, kind, column, colocation) in &tables {
        if kind == "reference" {
            reference.push(name.as_str());
            continue;
        }
        assert_eq!(kind, "distributed", "{name}");
        assert_eq!(column.as_deref(), Some("tenant_id"), "{name}");
        assert_eq!(
            *colocation, contact,
            "{name} is not co-located with contact"
        );
    }
    assert_eq!(
        reference,
        [
            "identity_blocked_default",
            "identity_probe",
            "identity_secret"
        ]
    );
    assert!(tables.len() >= 17, "{tables:?}");
    let undistributed: Vec<String> = sqlx::query_scalar(
        "SELECT p.oid::regprocedure::text FROM pg_proc AS p
         WHERE p.pronamespace = current_schema()::regnamespace AND p.proargnames[1] = 'p_tenant'
           AND NOT EXISTS (SELECT 1 FROM pg_dist_object AS o
                           WHERE o.classid = 'pg_proc'::regclass AND o.objid = p.oid
                             AND o.distribution_argument_index = 0)",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(undistributed.is_empty(), "{undistributed:?}");
    // distributing again finds nothing to do
    identity::connect(db.url()).await.unwrap().close().await;
}

#[tokio::test]
async fn an_identify_runs_on_its_tenants_worker_alone() {
    let workers = workers();
    let db = common::TestDb::create().await;
    for worker in &workers {
        let server = common::at_host(&common::admin_url(), worker);
        db.set_on(&server, "track_functions = 'pl'").await;
    }
    let identity = identity::connect(db.url()).await.unwrap();
    let pool = db.pool().await;
    let by_worker = tenants_by_worker(&pool, 16).await;
    assert_eq!(
        by_worker.len(),
        2,
        "16 tenants all on one worker: {by_worker:?}"
    );
    let (&a_port, a_tenants) = by_worker.iter().next().unwrap();
    let (&b_port, _) = by_worker.iter().nth(1).unwrap();
    let tenant = TenantId::parse(&a_tenants[0]).unwrap();
    let shop = identity.for_tenant(tenant.clone());
    for i in 0..5 {
        let request =
            IdentifyRequest::parse(Some(&format!("c{i}@example.com")), Some("5550001")).unwrap();
        shop.identify_request(&request).await.unwrap();
        // known now: a read alone
        shop.identify_request(&request).await.unwrap();
    }
    // known checkouts at once: reads shared in batches (`identity_read_batch`), on that worker too
    let burst: Vec<_> = (0..32)
        .map(|i| {
            let shop = shop.clone();
            tokio::spawn(async move {
                let email = format!("c{}@example.com", i % 5);
                shop.identify(Some(&email), Some("5550001")).await.unwrap()
            })
        })
        .collect();
    for call in burst {
        call.await.unwrap();
    }
    // a worker's backend reports its counts when it ends, and it ends with the coordinator's
    // backend that opened it: close the store's connections, then wait for the counts
    identity.close().await;
    let mut waited = 0;
    let (reads, writes, shared) = loop {
        let reads = calls_on_workers(&db, "identity_read_known").await;
        let writes = calls_on_workers(&db, "identity_write_batch").await;
        let shared = calls_on_workers(&db, "identity_read_batch").await;
        if (reads[&a_port] >= 10 && shared[&a_port] >= 1) || waited == 100 {
            break (reads, writes, shared);
        }
        waited += 1;
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(
        reads[&a_port] >= 10,
        "reads on the tenant's worker: {reads:?}"
    );
    assert_eq!(
        reads[&b_port], 0,
        "the other worker read for the tenant: {reads:?}"
    );
    assert!(
        shared[&a_port] >= 1 && shared[&b_port] == 0,
        "shared reads on the tenant's worker only: {shared:?}"
    );
    assert!(writes[&a_port] >= 1, "{writes:?}");
    assert_eq!(
        writes[&b_port], 0,
        "the other worker wrote for the tenant: {writes:?}"
    );
    // the rows live in the tenant's shard on that worker
    let on_worker = PgPool::connect(&common::at_host(
        db.url(),
        &workers
            .iter()
            .find(|w| w.ends_with(&format!(":{a_port}")))
            .unwrap()
            .clone(),
    ))
    .await
    .unwrap();
    let shard: String = sqlx::query_scalar(
        "SELECT shard_name::text FROM citus_shards
         WHERE shardid = get_shard_id_for_distribution_column('contact', $1)",
    )
    .bind(tenant.as_str())
    .fetch_one(&pool)
    .await
    .unwrap();
    let rows: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM {shard} WHERE tenant_id = $1"
    )))
    .bind(tenant.as_str())
    .fetch_one(&on_worker)
    .await
    .unwrap();
    assert_eq!(rows, 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_storm_over_tenants_on_both_workers_keeps_every_invariant() {
    workers();
    let db = common::TestDb::create().await;
    let identity = identity::connect(db.url()).await.unwrap();
    let pool = db.pool().await;
    let by_worker = tenants_by_worker(&pool, 8).await;
    let tenants: Vec<String> = by_worker.values().map(|t| t[0].clone()).collect();
    assert_eq!(tenants.len(), 2);
    // 8 clients over 2 tenants (one per worker), every request's values drawn from one small
    // pool shared by both tenants: new customers, new rows and merges all race
    let mut tasks = tokio::task::JoinSet::new();
    for client in 0..8u64 {
        let shop = identity.for_tenant(TenantId::parse(&tenants[(client % 2) as usize]).unwrap());
        tasks.spawn(async move {
            let mut failures = Vec::new();
            for i in 0..60u64 {
                let n = (client * 31 + i * 17) % 24;
                let email = format!("p{}@example.com", n % 12);
                let phone = format!("555{:04}", (n * 7) % 10);
                let request = match i % 3 {
                    0 => IdentifyRequest::parse(Some(&email), None),
                    1 => IdentifyRequest::parse(None, Some(&phone)),
                    _ => IdentifyRequest::parse(Some(&email), Some(&phone)),
                }
                .unwrap();
                match shop.identify_request(&request).await {
                    Ok(answer) => common::assert_answer_covers(&request, &answer),
                    Err(e) => failures.push(format!("{request:?}: {e:?}")),
                }
            }
            failures
        });
    }
    let mut failures = Vec::new();
    while let Some(done) = tasks.join_next().await {
        failures.extend(done.unwrap());
    }
    assert!(failures.is_empty(), "{failures:?}");
    for tenant in &tenants {
        let shop = identity.for_tenant(TenantId::parse(tenant).unwrap());
        let rows = shop.all_contacts().await.unwrap();
        assert!(rows.len() > 10, "{tenant}: {} rows", rows.len());
        common::assert_invariants(&rows);
        common::assert_verified(&shop).await;
    }
    common::assert_sql_invariants(&pool).await;
    identity.close().await;
}

/// A table of `n` one-row customers under ids `from`, `from + 1`, ...
fn table(from: u64, n: u64) -> Vec<identity::import::TableRow> {
    let at = time::OffsetDateTime::UNIX_EPOCH;
    (0..n)
        .map(|k| {
            identity::import::TableRow::new(from + k)
                .email(format!("t{}@table.io", from + k))
                .created_at(at)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn imports_keep_ids_unique_while_workers_draw_their_own() {
    use identity::import::{Checkout, ImportOptions};
    workers();
    let db = common::TestDb::create().await;
    let identity = identity::connect(db.url()).await.unwrap();
    let pool = db.pool().await;
    let keep = ImportOptions::default();

    // a table whose ids reach the workers' ranges is refused, and writes nothing
    let shop = identity.tenant("shop-far").unwrap();
    let err = shop
        .import_table(table((1 << 48) - 1, 2), keep)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, identity::Error::Conflict { reason }
            if reason.contains("workers draw new ids from 281474976710656 up: renumber")),
        "{err}"
    );
    assert!(shop.all_contacts().await.unwrap().is_empty());

    // at once: tables keeping their ids (each above the last, 1,000 apart), imports drawing
    // ids on the coordinator, identifies drawing on the workers, every one its own tenant
    let mut tasks = tokio::task::JoinSet::new();
    for k in 0..4u64 {
        let tables = identity.tenant(&format!("table-{k}")).unwrap();
        tasks.spawn(async move {
            match tables.import_table(table(1_000 * (k + 1), 50), keep).await {
                Ok(report) => assert!(report.table.unwrap().ids_kept),
                // a drawing import that committed first gave out ids as high: refused whole
                Err(identity::Error::Conflict { reason }) => {
                    assert!(reason.contains("has given out ids up to"), "{reason}");
                    assert!(tables.all_contacts().await.unwrap().is_empty());
                }
                Err(e) => panic!("{e:?}"),
            }
        });
        let drawn = identity.tenant(&format!("drawn-{k}")).unwrap();
        tasks.spawn(async move {
            let checkouts = (0..300)
                .map(|i| {
                    let email = format!("d{i}@drawn.io");
                    let request = IdentifyRequest::parse(Some(&email), None).unwrap();
                    Checkout::new(request, time::OffsetDateTime::UNIX_EPOCH, i)
                })
                .collect();
            drawn.import(checkouts, keep).await.unwrap();
        });
        let live = identity.tenant(&format!("live-{k}")).unwrap();
        tasks.spawn(async move {
            for i in 0..30 {
                let email = format!("l{i}@live.io");
                live.identify(Some(&email), None).await.unwrap();
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    let (rows, ids): (i64, i64) =
        sqlx::query_as("SELECT count(*), count(DISTINCT id) FROM contact")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(rows, ids, "an id given twice");
    assert!(rows >= 4 * 300 + 4 * 30, "{rows} rows");
    // live rows in the workers' ranges; after the imports, new ones drawn on the coordinator
    // go above every kept table id
    let live_low: i64 =
        sqlx::query_scalar("SELECT min(id) FROM contact WHERE tenant_id LIKE 'live-%'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(live_low > 1 << 48, "{live_low}");
    let kept_high: Option<i64> =
        sqlx::query_scalar("SELECT max(id) FROM contact WHERE tenant_id LIKE 'table-%'")
            .fetch_one(&pool)
            .await
            .unwrap();
    let after = identity.tenant("after").unwrap();
    let checkout = Checkout::new(
        IdentifyRequest::parse(Some("after@drawn.io"), None).unwrap(),
        time::OffsetDateTime::UNIX_EPOCH,
        0,
    );
    after.import(vec![checkout], keep).await.unwrap();
    let next = after.all_contacts().await.unwrap()[0].id.get();
    assert!(next > kept_high.unwrap_or(0), "{next} after {kept_high:?}");
    for tenant in [
        "table-0", "table-1", "table-2", "table-3", "drawn-0", "live-0", "after",
    ] {
        common::assert_verified(&identity.tenant(tenant).unwrap()).await;
    }
    common::assert_sql_invariants(&pool).await;
    identity.close().await;
}

/// Citus's own move of a tenant's shard group to the other worker (`block_writes`: writes to
/// the moving shards wait for the switch) while four clients identify over one small pool of
/// values: no request fails, the tenant stays whole, its hand-edit triggers moved along, and
/// its new ids come from the new worker's range.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tenant_moved_to_the_other_worker_while_identifies_run_stays_whole() {
    let workers = workers();
    let db = common::TestDb::create().await;
    let identity = identity::connect(db.url()).await.unwrap();
    let pool = db.pool().await;
    let tenant = "shop-0";
    let shop = identity.for_tenant(TenantId::parse(tenant).unwrap());
    shop.identify(Some("first@x.io"), Some("5550000"))
        .await
        .unwrap();
    let from = worker_of(&pool, tenant).await;
    let to = workers
        .iter()
        .map(|w| w.rsplit(':').next().unwrap().parse::<i32>().unwrap())
        .find(|port| *port != from)
        .expect("another worker");
    let shard: i64 =
        sqlx::query_scalar("SELECT get_shard_id_for_distribution_column('contact', $1)")
            .bind(tenant)
            .fetch_one(&pool)
            .await
            .unwrap();

    let done = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for client in 0..4u64 {
        let (shop, done) = (shop.clone(), done.clone());
        tasks.spawn(async move {
            let mut failures = Vec::new();
            for i in 0..200u64 {
                let n = (client * 31 + i * 17) % 24;
                let email = format!("p{}@example.com", n % 12);
                let phone = format!("555{:04}", (n * 7) % 10);
                // every fourth request a new email on a known phone: writes throughout
                let email = match i % 4 {
                    0 => format!("c{client}.{i}@example.com"),
                    _ => email,
                };
                let request = IdentifyRequest::parse(Some(&email), Some(&phone)).unwrap();
                match shop.identify_request(&request).await {
                    Ok(answer) => common::assert_answer_covers(&request, &answer),
                    Err(e) => failures.push(format!("{request:?}: {}", e.chain())),
                }
                done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            failures
        });
    }
    let done_by = || done.load(std::sync::atomic::Ordering::Relaxed);
    while done_by() < 50 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(
        done_by() < 700,
        "the clients still run when the move starts"
    );
    sqlx::query(
        "SELECT citus_move_shard_placement($1, '127.0.0.1', $2, '127.0.0.1', $3,
                                           shard_transfer_mode := 'block_writes')",
    )
    .bind(shard)
    .bind(from)
    .bind(to)
    .execute(&pool)
    .await
    .expect("citus moves the shard group");
    assert!(
        done_by() < 800,
        "the move ended while the clients still ran"
    );
    let mut failures = Vec::new();
    while let Some(done) = tasks.join_next().await {
        failures.extend(done.unwrap());
    }
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(worker_of(&pool, tenant).await, to, "moved");

    let rows = shop.all_contacts().await.unwrap();
    common::assert_invariants(&rows);
    common::assert_verified(&shop).await;
    // new rows draw on the new worker, from its range: above every id the tenant had
    let group: i64 = sqlx::query_scalar(
        "SELECT groupid::bigint FROM pg_dist_node WHERE nodeport = $1 AND noderole = 'primary'",
    )
    .bind(to)
    .fetch_one(&pool)
    .await
    .unwrap();
    let new = shop
        .identify(Some("after-the-move@x.io"), None)
        .await
        .unwrap()
        .primary_contact_id;
    assert_eq!(new.get() >> 48, group, "{new:?} drawn on the new worker");
    assert!(rows.iter().all(|r| r.id != new));
    // the triggers that note hand edits moved with the shard
    sqlx::query("UPDATE contact SET email = 'edited@x.io' WHERE tenant_id = $1 AND id = $2")
        .bind(tenant)
        .bind(new.get())
        .execute(&pool)
        .await
        .unwrap();
    assert!(
        !shop.verify().await.unwrap().is_clean(),
        "the hand edit waits to be applied"
    );
    let edited = shop.identify(Some("edited@x.io"), None).await.unwrap();
    assert_eq!(edited.primary_contact_id, new);
    common::assert_verified(&shop).await;
    common::assert_sql_invariants(&pool).await;
    identity.close().await;
}
