//! Helpers shared by the workspace's integration tests: a fresh PostgreSQL database per test,
//! the invariant checks (in Rust over rows and in SQL), a deterministic request workload with its
//! union-find model, and running one test in a second OS process. Not published.

pub mod bytes;
pub mod cluster;
pub mod feed;
pub mod imports;
pub mod legacy;
pub mod pooler;
pub mod replay;
pub mod shards;
pub mod sqlite;
pub mod vector_ids;
pub mod webhook_steps;
pub mod wire;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU32, Ordering};

use futures_util::stream::{self, StreamExt};
use identity::{Contact, ContactId, IdentifyRequest};
use sqlx::postgres::PgPool;

/// The server the PostgreSQL tests use: `DATABASE_URL`, else the usual local one.
pub fn admin_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A database created for one test and dropped (with its connections) when this is dropped.
pub struct TestDb {
    name: String,
    url: String,
}

impl TestDb {
    /// Creates an empty database on the server at [`admin_url`].
    pub async fn create() -> TestDb {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "identity_test_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos()
        );
        let admin = PgPool::connect(&admin_url()).await.unwrap_or_else(|e| {
            panic!(
                "PostgreSQL tests need a server: set DATABASE_URL or run scripts/test, which starts one ({e})"
            )
        });
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await
            .expect("create test database");
        admin.close().await;
        let url = with_database(&admin_url(), &name);
        if let Some(workers) = citus_workers() {
            citus_database(&url, &name, &workers).await;
        }
        TestDb { name, url }
    }

    /// The name of the test database.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The URL of the test database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Sets `setting` (`name = value`) for the test database's later sessions on `server`, an
    /// admin URL: [`admin_url`], or a Citus worker's ([`at_host`]).
    pub async fn set_on(&self, server: &str, setting: &str) {
        let admin = PgPool::connect(server).await.expect("connect as admin");
        let sql = format!("ALTER DATABASE {} SET {setting}", self.name);
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&admin)
            .await
            .expect("set on the test database");
        admin.close().await;
    }

    /// A pool on the test database, for assertions in SQL.
    pub async fn pool(&self) -> PgPool {
        PgPool::connect(&self.url)
            .await
            .expect("connect to test database")
    }
}

/// Drops the database, blocking the thread until PostgreSQL has: `DROP DATABASE` waits on
/// every backend of the server, so a test running several databases' work on one thread keeps
/// each until all of that work is done (a backend in the middle of a `COPY` whose client is
/// this thread would never let the drop finish).
impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs outside any async context we can rely on: use a private runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let mut servers = vec![admin_url()];
                for worker in citus_workers().unwrap_or_default() {
                    servers.push(at_host(&admin_url(), &worker));
                }
                for server in servers {
                    if let Ok(admin) = PgPool::connect(&server).await {
                        let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                            .execute(&admin)
                            .await;
                        admin.close().await;
                    }
                }
            });
        })
        .join();
    }
}

/// The Citus workers the tests run on (`IDENTITY_TEST_CITUS_WORKERS`, `host:port` each, comma
/// separated; `DATABASE_URL` then names the coordinator): set by `scripts/test-citus`.
pub fn citus_workers() -> Option<Vec<String>> {
    let workers = std::env::var("IDENTITY_TEST_CITUS_WORKERS").ok()?;
    let workers: Vec<String> = workers
        .split(',')
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect();
    (!workers.is_empty()).then_some(workers)
}

/// Makes the database `name` (at `url`, on the coordinator) a Citus cluster's: the same
/// database on every worker, the extension on every node, the workers registered.
pub async fn citus_database(url: &str, name: &str, workers: &[String]) {
    for worker in workers {
        let admin = PgPool::connect(&at_host(&admin_url(), worker))
            .await
            .expect("connect to a Citus worker");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await
            .expect("create the test database on a worker");
        admin.close().await;
        let node = PgPool::connect(&with_database(&at_host(&admin_url(), worker), name))
            .await
            .expect("connect to the worker's test database");
        sqlx::raw_sql("CREATE EXTENSION citus")
            .execute(&node)
            .await
            .expect("citus on a worker");
        node.close().await;
    }
    let coordinator = PgPool::connect(url)
        .await
        .expect("connect to the coordinator");
    sqlx::raw_sql("CREATE EXTENSION citus")
        .execute(&coordinator)
        .await
        .expect("citus on the coordinator");
    let (host, port) = host_port(url);
    sqlx::query("SELECT citus_set_coordinator_host($1, $2)")
        .bind(host)
        .bind(port)
        .execute(&coordinator)
        .await
        .expect("register the coordinator");
    for worker in workers {
        let (host, port) = host_port(&format!("postgres://{worker}/"));
        // registering syncs the metadata to the worker over a connection that a test database
        // created at the same moment can break: try again (registering twice is a no-op)
        let mut tries = 0;
        loop {
            let added = sqlx::query("SELECT citus_add_node($1, $2)")
                .bind(&host)
                .bind(port)
                .execute(&coordinator)
                .await;
            match added {
                Ok(_) => break,
                Err(e) if tries < 10 => {
                    tries += 1;
                    eprintln!("registering {worker} again after: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                }
                Err(e) => panic!("register a worker: {e}"),
            }
        }
    }
    coordinator.close().await;
}

/// The host and port of a URL's authority (after any user).
fn host_port(url: &str) -> (String, i32) {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap();
    let host_port = authority.rsplit('@').next().unwrap();
    let (host, port) = host_port.rsplit_once(':').unwrap_or((host_port, "5432"));
    (host.to_owned(), port.parse().expect("a port number"))
}

/// `url` with its host and port replaced by `host_port` (user, database and parameters kept).
pub fn at_host(url: &str, host_port: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("url with ://");
    let (authority, tail) = rest.split_once('/').unwrap_or((rest, ""));
    let user = authority.rsplit_once('@').map(|(u, _)| format!("{u}@"));
    format!("{scheme}://{}{host_port}/{tail}", user.unwrap_or_default())
}

/// `url` with its database name replaced by `database` (query parameters kept).
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let (scheme, rest) = base.split_once("://").expect("url with ://");
    let authority = rest.split('/').next().unwrap();
    let mut out = format!("{scheme}://{authority}/{database}");
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// Checks I1-I3 over every visible row; panics with the broken invariant.
///
/// I1 every customer has exactly one primary, its oldest row; I2 every secondary links
/// directly to a primary; I3 no email or phone belongs to two customers.
pub fn assert_invariants(rows: &[Contact]) {
    assert_invariants_blocking(rows, &[]);
}

/// [`assert_invariants`], with I3 read as "no unblocked value in two customers": a value one of
/// `blocked` matches may be in several (a split that blocked the values its parts shared).
pub fn assert_invariants_blocking(rows: &[Contact], blocked: &[identity::BlockedValue]) {
    let is_blocked = |key: &str| {
        let (kind, value) = key.split_at(2);
        blocked
            .iter()
            .any(|b| (b.kind().as_str().starts_with(&kind[..1])) && b.matches(value))
    };
    let by_id: BTreeMap<ContactId, &Contact> = rows.iter().map(|c| (c.id, c)).collect();
    let mut groups: BTreeMap<ContactId, Vec<&Contact>> = BTreeMap::new();
    for c in rows {
        if let Some(parent) = c.linked_id() {
            let p = by_id
                .get(&parent)
                .unwrap_or_else(|| panic!("I2: row {} links to missing {parent}", c.id));
            assert!(
                p.is_primary(),
                "I2: row {} links to secondary {}",
                c.id,
                p.id
            );
        } else {
            assert!(
                c.is_primary(),
                "row {} has no link but is not primary",
                c.id
            );
        }
        groups.entry(c.root()).or_default().push(c);
    }
    for (root, members) in &groups {
        let oldest = members.iter().min_by_key(|c| (c.created_at, c.id)).unwrap();
        assert_eq!(
            oldest.id, *root,
            "I1: customer {root} is not led by its oldest row"
        );
    }
    let mut owner: HashMap<String, ContactId> = HashMap::new();
    for c in rows {
        let keys = c
            .email
            .iter()
            .map(|e| format!("e:{e}"))
            .chain(c.phone_number.iter().map(|p| format!("p:{p}")));
        for key in keys {
            let prev = *owner.entry(key.clone()).or_insert(c.root());
            // the blocked list is asked only of a value found in two customers
            assert!(
                prev == c.root() || is_blocked(&key),
                "I3: {key} belongs to customers {prev} and {}",
                c.root()
            );
        }
    }
}

/// The customers the rows' links say: each primary with its rows (itself included).
pub fn customers_by_link(rows: &[Contact]) -> BTreeMap<ContactId, BTreeSet<ContactId>> {
    let mut out: BTreeMap<ContactId, BTreeSet<ContactId>> = BTreeMap::new();
    for c in rows {
        out.entry(c.root()).or_default().insert(c.id);
    }
    out
}

/// The same invariants, plus I4 (no redundant row), checked in SQL. Returns violation counts by
/// name; all must be zero.
pub async fn sql_violations(pool: &PgPool) -> BTreeMap<&'static str, i64> {
    // every check holds within each tenant: the same value in two tenants is two customers
    const CHECKS: [(&str, &str); 6] = [
        (
            "I2 secondary not linked to a visible primary of its tenant",
            "SELECT count(*) FROM contact s
             LEFT JOIN contact p ON p.tenant_id = s.tenant_id AND p.id = s.linked_id
             WHERE s.deleted_at IS NULL AND s.linked_id IS NOT NULL
               AND (p.id IS NULL OR p.deleted_at IS NOT NULL OR p.linked_id IS NOT NULL
                    OR p.link_precedence <> 'primary')",
        ),
        (
            "I1 secondary older than its primary",
            "SELECT count(*) FROM contact s
             JOIN contact p ON p.tenant_id = s.tenant_id AND p.id = s.linked_id
             WHERE s.deleted_at IS NULL AND (s.created_at, s.id) < (p.created_at, p.id)",
        ),
        (
            "I3 email in two customers",
            "SELECT count(*) FROM (SELECT 1 FROM contact c WHERE deleted_at IS NULL AND email IS NOT NULL
             AND NOT EXISTS (SELECT 1 FROM identity_blocked b WHERE b.tenant_id = c.tenant_id
                             AND b.kind = 'email' AND NOT b.pattern AND b.value = c.email)
             GROUP BY tenant_id, email HAVING count(DISTINCT coalesce(linked_id, id)) > 1) x",
        ),
        (
            "I3 phone in two customers",
            "SELECT count(*) FROM (SELECT 1 FROM contact c WHERE deleted_at IS NULL
             AND phone_number IS NOT NULL
             AND NOT EXISTS (SELECT 1 FROM identity_blocked b WHERE b.tenant_id = c.tenant_id
                             AND b.kind = 'phone' AND NOT b.pattern AND b.value = c.phone_number)
             GROUP BY tenant_id, phone_number
             HAVING count(DISTINCT coalesce(linked_id, id)) > 1) x",
        ),
        (
            "I4 row that adds no new email or phone",
            "SELECT count(*) FROM contact r WHERE r.deleted_at IS NULL
               AND (r.email IS NULL OR EXISTS (SELECT 1 FROM contact o WHERE o.deleted_at IS NULL
                    AND o.tenant_id = r.tenant_id AND o.id < r.id AND o.email = r.email
                    AND coalesce(o.linked_id, o.id) = coalesce(r.linked_id, r.id)))
               AND (r.phone_number IS NULL OR EXISTS (SELECT 1 FROM contact o
                    WHERE o.deleted_at IS NULL AND o.tenant_id = r.tenant_id AND o.id < r.id
                      AND o.phone_number = r.phone_number
                      AND coalesce(o.linked_id, o.id) = coalesce(r.linked_id, r.id)))",
        ),
        (
            "derived record or identifier of one tenant naming another tenant's row",
            "SELECT (SELECT count(*) FROM identity_customer c WHERE NOT EXISTS (SELECT 1 FROM contact p
                     WHERE p.tenant_id = c.tenant_id AND p.id = c.primary_id))
                  + (SELECT count(*) FROM identity_identifier i WHERE NOT EXISTS (SELECT 1 FROM contact p
                     WHERE p.tenant_id = i.tenant_id AND p.id = i.customer_id))",
        ),
    ];
    let mut out = BTreeMap::new();
    for (name, sql) in CHECKS {
        let n: i64 = sqlx::query_scalar(sql).fetch_one(pool).await.expect(name);
        out.insert(name, n);
    }
    out
}

/// A fresh, migrated, empty store of one backend, with what keeps its data alive.
pub struct FreshStore {
    /// The handle (default tenant).
    pub identity: identity::Identity,
    /// The URL a second store (another process, in effect) opens the same data with; `None`
    /// for `memory:` (a private in-memory SQLite database), whose data lives in this handle alone.
    pub url: Option<String>,
    /// The PostgreSQL database, dropped with this.
    pub db: Option<TestDb>,
    /// The PgBouncer the store connects through, stopped with this.
    pub pooler: Option<pooler::PgBouncer>,
    _dir: tempfile::TempDir,
}

impl FreshStore {
    /// A fresh PostgreSQL database reached through PgBouncer in transaction mode
    /// (`pgbouncer=true`), with 8 server connections for the store's 16 (so they are shared),
    /// waiting up to a minute for one, for storms.
    pub async fn through_pgbouncer() -> FreshStore {
        let db = TestDb::create().await;
        let pooler = pooler::PgBouncer::start(&admin_url(), 8);
        let url = pooler.url_for(db.url());
        let options = identity::ConnectOptions::default()
            .max_connections(16)
            .acquire_timeout(std::time::Duration::from_secs(60));
        let identity = identity::Identity::connect_with(&url, &options)
            .await
            .unwrap();
        FreshStore {
            identity,
            url: Some(url),
            db: Some(db),
            pooler: Some(pooler),
            _dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A second handle on the same data with its own caches and settings hints, as another
    /// process would have (for `memory:`, whose data lives in its handle, the same one).
    pub async fn second_handle(&self) -> identity::Identity {
        match &self.url {
            Some(url) => identity::connect(url).await.unwrap(),
            None => self.identity.clone(),
        }
    }

    /// The handle storm worker `worker` uses: this store's and `second`, in turn.
    pub fn handle_for(&self, second: &identity::Identity, worker: u64) -> identity::Identity {
        if worker.is_multiple_of(2) {
            self.identity.clone()
        } else {
            second.clone()
        }
    }
}

/// One fresh store of each kind: `memory:` (in-memory SQLite), a SQLite file, a PostgreSQL database (pools of 16
/// connections, waiting up to a minute for one, for storms).
pub async fn every_backend() -> Vec<FreshStore> {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}", dir.path().join("store.db").display());
    let db = TestDb::create().await;
    let options = identity::ConnectOptions::default()
        .max_connections(16)
        .acquire_timeout(std::time::Duration::from_secs(60));
    let pg = identity::Identity::connect_with(db.url(), &options)
        .await
        .unwrap();
    vec![
        FreshStore {
            identity: identity::connect("memory:").await.unwrap(),
            url: None,
            db: None,
            pooler: None,
            _dir: tempfile::tempdir().unwrap(),
        },
        FreshStore {
            identity: identity::connect(&sqlite).await.unwrap(),
            url: Some(sqlite),
            db: None,
            pooler: None,
            _dir: dir,
        },
        FreshStore {
            identity: pg,
            url: Some(db.url().to_owned()),
            db: Some(db),
            pooler: None,
            _dir: tempfile::tempdir().unwrap(),
        },
    ]
}

/// What every governance storm ends with on `store`'s default tenant: I1-I4 over its visible
/// rows (I3 read as "no unblocked value in two customers"), in SQL too on PostgreSQL, a clean
/// `verify`, and every customer's history explaining exactly its rows. Answers the rows.
pub async fn assert_sound_after_storm(store: &FreshStore) -> Vec<Contact> {
    let backend = store.identity.store().backend();
    let rows = store.identity.all_contacts().await.unwrap();
    let list = store.identity.blocked_values().await.unwrap();
    assert_invariants_blocking(&rows, &list);
    if let Some(db) = &store.db {
        assert_sql_invariants(&db.pool().await).await;
    }
    assert_verified(&store.identity).await;
    // every customer's history, eight reads at a time (a table import leaves a thousand)
    let customers = customers_by_link(&rows);
    let histories: Vec<_> = stream::iter(&customers)
        .map(|(primary, members)| async move {
            let history = store.identity.history(*primary).await.unwrap();
            (primary, members, history)
        })
        .buffer_unordered(8)
        .collect()
        .await;
    for (primary, members, history) in histories {
        assert_eq!(&history.rows(), members, "{backend}: customer {primary}");
    }
    feed::assert_feed_rebuilds(&store.identity).await;
    rows
}

/// Every `value in schema.table` where a row of a table of the database (any schema but the
/// system's) holds one of `values` in any column, read as the row's text (on Citus, every shard: [`shards`]).
pub async fn tables_holding(pool: &PgPool, values: &[String]) -> Vec<String> {
    if citus_workers().is_some() {
        return shards::tables_holding(pool, values).await;
    }
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class AS c
         JOIN pg_namespace AS n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p', 'm')
           AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert!(tables.len() >= 10, "the scan reads every table: {tables:?}");
    let mut found = Vec::new();
    for table in tables {
        let sql = format!(
            "SELECT v FROM unnest($1::text[]) AS v
             WHERE EXISTS (SELECT 1 FROM {table} AS t WHERE strpos(t::text, v) > 0)"
        );
        let hits: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(values)
            .fetch_all(pool)
            .await
            .unwrap();
        found.extend(hits.into_iter().map(|v| format!("{v} in {table}")));
    }
    found
}

/// Polls `condition` every 10 ms until it holds; panics naming `what` after `within`.
pub async fn wait_until(
    what: &str,
    within: std::time::Duration,
    mut condition: impl AsyncFnMut() -> bool,
) {
    let deadline = std::time::Instant::now() + within;
    while !condition().await {
        assert!(
            std::time::Instant::now() < deadline,
            "waited {within:?} for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// Holds a tenant's identity graph lock (the one its repair and rebuild take alone) on its own
/// connection, so every write of that tenant waits in `identity_begin_write` until dropped.
/// On Citus the lock is taken on the worker that holds the tenant, where its writes take it.
pub struct GraphLock {
    conn: sqlx::pool::PoolConnection<sqlx::Postgres>,
}

impl GraphLock {
    /// Takes the default tenant's lock on `pool`'s database.
    pub async fn take(pool: &PgPool) -> GraphLock {
        Self::take_for(pool, "default").await
    }

    /// Takes `tenant`'s lock on `pool`'s database (on Citus, on its worker's).
    pub async fn take_for(pool: &PgPool, tenant: &str) -> GraphLock {
        let pool = match citus_workers() {
            Some(_) => tenants_worker(pool, tenant).await,
            None => pool.clone(),
        };
        let mut conn = pool.acquire().await.expect("a connection for the lock");
        sqlx::query("SELECT pg_advisory_lock(hashtextextended('identity:graph:' || $1, 0))")
            .bind(tenant)
            .execute(&mut *conn)
            .await
            .expect("take the graph lock");
        GraphLock { conn }
    }

    /// Lets the waiting writes go on.
    pub async fn release(mut self) {
        sqlx::query("SELECT pg_advisory_unlock_all()")
            .execute(&mut *self.conn)
            .await
            .expect("release the graph lock");
    }
}

/// How many of the store's backends (application `identity`) wait on an advisory lock; on
/// Citus, how many of the workers' backends for the database do (the calls the coordinator
/// sent there, which take the tenants' locks).
pub async fn writers_waiting(pool: &PgPool) -> i64 {
    let Some(workers) = citus_workers() else {
        return store_backends(pool, "wait_event = 'advisory'").await;
    };
    let mut waiting = 0;
    for worker in workers {
        let there = on_worker(pool, &worker).await;
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event = 'advisory'",
        )
        .fetch_one(&there)
        .await
        .unwrap();
        there.close().await;
        waiting += n;
    }
    waiting
}

/// A pool on the same database as `pool` (a coordinator's) on the Citus worker `worker`
/// (`host:port`).
pub async fn on_worker(pool: &PgPool, worker: &str) -> PgPool {
    let options = pool.connect_options();
    let (host, port) = worker.rsplit_once(':').expect("a worker as host:port");
    let options = (*options)
        .clone()
        .host(host)
        .port(port.parse().expect("a worker's port"));
    PgPool::connect_with(options)
        .await
        .expect("connect to a Citus worker")
}

/// A pool on the Citus worker that holds `tenant`'s rows, for `pool`'s database on the
/// coordinator.
pub async fn tenants_worker(pool: &PgPool, tenant: &str) -> PgPool {
    let (host, port): (String, i32) = sqlx::query_as(
        "SELECT s.nodename::text, s.nodeport FROM citus_shards AS s
         WHERE s.shardid = get_shard_id_for_distribution_column('contact', $1)",
    )
    .bind(tenant)
    .fetch_one(pool)
    .await
    .expect("the tenant's worker");
    on_worker(pool, &format!("{host}:{port}")).await
}

/// How many of the store's backends run a statement (waiting on a lock counts).
pub async fn busy_backends(pool: &PgPool) -> i64 {
    store_backends(pool, "state = 'active'").await
}

/// How many of the store's backends on `pool`'s database meet `condition` (fixed SQL).
async fn store_backends(pool: &PgPool, condition: &'static str) -> i64 {
    let sql = format!(
        "SELECT count(*) FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = 'identity' AND {condition}"
    );
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .fetch_one(pool)
        .await
        .expect("read pg_stat_activity")
}

/// A row as the oracle reads it: id, email, phone, linked id.
type OracleRow = (i64, Option<String>, Option<String>, Option<i64>);

/// Every visible row of `tenant`, read directly (not through a store), by id.
pub async fn visible_rows(pool: &PgPool, tenant: &str) -> Vec<Contact> {
    let ids: Vec<OracleRow> = sqlx::query_as(
        "SELECT id, email, phone_number, linked_id FROM contact
         WHERE tenant_id = $1 AND deleted_at IS NULL ORDER BY id",
    )
    .bind(tenant)
    .fetch_all(pool)
    .await
    .expect("read contact rows");
    let at = time::OffsetDateTime::UNIX_EPOCH;
    ids.into_iter()
        .map(|(id, email, phone, linked)| Contact {
            id: ContactId::new(id),
            email: email.map(|e| identity::Email::parse(&e).expect("stored email parses")),
            phone_number: phone.map(|p| identity::Phone::parse(&p).expect("stored phone parses")),
            link: linked.map_or(identity::Link::Primary, |l| {
                identity::Link::SecondaryOf(ContactId::new(l))
            }),
            created_at: at,
            updated_at: at,
        })
        .collect()
}

/// Panics unless `verify` finds nothing: the rows keep I1-I4 and the derived records match them.
pub async fn assert_verified(identity: &identity::Identity) {
    let report = identity.verify().await.expect("verify runs");
    assert!(report.is_clean(), "verify: {report}");
}

/// Panics unless every SQL invariant holds.
pub async fn assert_sql_invariants(pool: &PgPool) {
    let violations = sql_violations(pool).await;
    assert!(
        violations.values().all(|n| *n == 0),
        "invariants broken: {violations:?}"
    );
}

/// A deterministic stream of requests (xorshift; no dependency): 70% both values, 15% email
/// only, 15% phone only. Identifiers come from a small pool per namespace, so callers that
/// walk through the same namespaces at the same time collide on purpose.
pub struct Workload {
    state: u64,
    identifiers: u64,
}

impl Workload {
    /// A stream for `seed`, drawing from `identifiers` emails and as many phones per namespace.
    pub fn new(seed: u64, identifiers: u64) -> Self {
        Workload {
            state: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
            identifiers,
        }
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.state = x;
        x
    }

    /// The next request in `namespace`, as (email, phone) raw strings.
    pub fn next_raw(&mut self, namespace: u64) -> (Option<String>, Option<String>) {
        let kind = self.next_u64() % 100;
        let email = format!(
            "c{}.n{namespace}@shop.test",
            self.next_u64() % self.identifiers
        );
        let phone = format!("{namespace}555{:03}", self.next_u64() % self.identifiers);
        match kind {
            0..=69 => (Some(email), Some(phone)),
            70..=84 => (Some(email), None),
            _ => (None, Some(phone)),
        }
    }

    /// The next request in `namespace`, parsed.
    pub fn next_request(&mut self, namespace: u64) -> IdentifyRequest {
        let (e, p) = self.next_raw(namespace);
        IdentifyRequest::parse(e.as_deref(), p.as_deref()).unwrap()
    }

    /// The `count` requests a worker with this seed sends: `per_namespace` in each namespace
    /// in turn, so concurrent workers meet in every namespace.
    pub fn requests(
        seed: u64,
        identifiers: u64,
        count: u64,
        per_namespace: u64,
    ) -> Vec<IdentifyRequest> {
        let mut w = Workload::new(seed, identifiers);
        (0..count)
            .map(|i| w.next_request(i / per_namespace))
            .collect()
    }
}

/// Union-find over identifiers: the customers a set of requests must end up as.
#[derive(Default)]
pub struct Model {
    parent: HashMap<String, String>,
}

impl Model {
    fn find(&mut self, x: &str) -> String {
        let p = self
            .parent
            .entry(x.to_owned())
            .or_insert_with(|| x.to_owned())
            .clone();
        if p == x {
            return p;
        }
        let root = self.find(&p);
        self.parent.insert(x.to_owned(), root.clone());
        root
    }

    /// Records that a request joined these identifiers.
    pub fn add(&mut self, request: &IdentifyRequest) {
        let keys = identifier_keys(
            request.email().map(|e| e.as_str()),
            request.phone_number().map(|p| p.as_str()),
        );
        let first = self.find(&keys[0]);
        for k in &keys[1..] {
            let r = self.find(k);
            if r != first {
                self.parent.insert(r, first.clone());
            }
        }
    }

    /// The customers as sets of identifiers.
    pub fn customers(&mut self) -> BTreeSet<BTreeSet<String>> {
        let keys: Vec<String> = self.parent.keys().cloned().collect();
        let mut groups: HashMap<String, BTreeSet<String>> = HashMap::new();
        for k in keys {
            let r = self.find(&k);
            groups.entry(r).or_default().insert(k);
        }
        groups.into_values().collect()
    }
}

fn identifier_keys(email: Option<&str>, phone: Option<&str>) -> Vec<String> {
    email
        .map(|e| format!("e:{e}"))
        .into_iter()
        .chain(phone.map(|p| format!("p:{p}")))
        .collect()
}

/// The customers stored in `rows`, as sets of identifiers (grouped by primary).
pub fn stored_customers(rows: &[Contact]) -> BTreeSet<BTreeSet<String>> {
    let mut groups: BTreeMap<ContactId, BTreeSet<String>> = BTreeMap::new();
    for c in rows {
        groups.entry(c.root()).or_default().extend(identifier_keys(
            c.email.as_ref().map(|e| e.as_str()),
            c.phone_number.as_ref().map(|p| p.as_str()),
        ));
    }
    groups.into_values().collect()
}

/// Panics unless an answer is well-formed and covers the request's own values.
pub fn assert_answer_covers(request: &IdentifyRequest, answer: &identity::ConsolidatedContact) {
    if let Some(e) = request.email() {
        assert!(answer.emails.contains(e), "answer {answer:?} lacks {e}");
    }
    if let Some(p) = request.phone_number() {
        assert!(
            answer.phone_numbers.contains(p),
            "answer {answer:?} lacks {p}"
        );
    }
    assert!(
        !answer
            .secondary_contact_ids
            .contains(&answer.primary_contact_id)
    );
    assert!(
        answer
            .secondary_contact_ids
            .to_vec()
            .is_sorted_by(|a, b| a < b),
        "{answer:?}"
    );
}

/// Sends each worker's requests from its own task, all sharing `identity`; checks every answer
/// covers its request and returns the failures as text.
pub async fn hammer(
    identity: &identity::Identity,
    per_worker: Vec<Vec<IdentifyRequest>>,
) -> Vec<String> {
    let mut tasks = tokio::task::JoinSet::new();
    for requests in per_worker {
        let identity = identity.clone();
        tasks.spawn(async move {
            let mut failures = Vec::new();
            for request in requests {
                match identity.identify_request(&request).await {
                    Ok(answer) => assert_answer_covers(&request, &answer),
                    Err(e) => failures.push(format!("{request:?}: {e}")),
                }
            }
            failures
        });
    }
    let mut failures = Vec::new();
    while let Some(result) = tasks.join_next().await {
        failures.extend(result.unwrap());
    }
    failures
}

/// Rounds of outside meddling in [`identify_while_meddling`].
pub const MEDDLING_ROUNDS: u64 = 40;

/// 8 workers identify over small overlapping pools of values while another task meddles for
/// [`MEDDLING_ROUNDS`] rounds: each round `delete` soft-deletes a row in SQL (answering the rows
/// it changed) and every fourth round rebuilds. Asserts that every identify succeeded and that
/// the meddling happened (at least a quarter of the deletes, one rebuild).
pub async fn identify_while_meddling<D, F>(
    identity: &identity::Identity,
    identifiers: u64,
    per_namespace: u64,
    mut delete: D,
) where
    D: FnMut() -> F + Send + 'static,
    F: std::future::Future<Output = u64> + Send,
{
    let meddler = tokio::spawn({
        let identity = identity.clone();
        async move {
            let (mut deletes, mut rebuilds) = (0u64, 0u64);
            for round in 0..MEDDLING_ROUNDS {
                deletes += delete().await;
                if round % 4 == 3 {
                    identity.rebuild().await.unwrap();
                    rebuilds += 1;
                }
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
            (deletes, rebuilds)
        }
    });
    let per_worker: Vec<Vec<IdentifyRequest>> = (1..=8)
        .map(|seed| Workload::requests(seed, identifiers, 150, per_namespace))
        .collect();
    let failures = hammer(identity, per_worker).await;
    let (deletes, rebuilds) = meddler.await.unwrap();
    assert!(failures.is_empty(), "{failures:?}");
    assert!(
        deletes >= MEDDLING_ROUNDS / 4 && rebuilds > 0,
        "{deletes} deletes, {rebuilds} rebuilds"
    );
}

/// Checks that the stored customers are the union-find of `requests`.
pub fn assert_customers_match<'a>(
    rows: &[Contact],
    requests: impl IntoIterator<Item = &'a IdentifyRequest>,
) {
    let mut model = Model::default();
    for request in requests {
        model.add(request);
    }
    assert_eq!(stored_customers(rows), model.customers());
}

/// Runs one test of the current test binary in a new OS process, with extra environment.
pub fn spawn_test_process(test: &str, env: &[(&str, &str)]) -> tokio::process::Child {
    let mut command = tokio::process::Command::new(std::env::current_exe().unwrap());
    command.args([test, "--exact", "--nocapture", "--test-threads=1"]);
    for (key, value) in env {
        command.env(key, value);
    }
    command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn the child test process")
}

/// Waits for a process from [`spawn_test_process`]; panics with its output unless its test passed.
pub async fn assert_test_process_passed(child: tokio::process::Child) {
    let output = tokio::time::timeout(
        std::time::Duration::from_secs(300),
        child.wait_with_output(),
    )
    .await
    .expect("child test process finishes within 5 minutes")
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "child test process failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The workspace's language-neutral cases, `tests/vectors/*.json`, sorted by name.
pub fn vector_files() -> Vec<std::path::PathBuf> {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors");
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 10,
        "expected the vector files, found {files:?}"
    );
    files
}

/// Takes the times out of `rows` (a list of rows in the wire shape, as `GET /admin/contacts`
/// writes them), checking first that each row has them as strings: no vector can know them.
pub fn drop_row_times(rows: &mut serde_json::Value, at: &str) {
    for row in rows.as_array_mut().expect("a list of rows") {
        let row = row.as_object_mut().expect("a row is an object");
        for time in ["createdAt", "updatedAt"] {
            assert!(
                row.remove(time).is_some_and(|t| t.is_string()),
                "{at}: no {time}"
            );
        }
    }
}
