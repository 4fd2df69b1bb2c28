//! What the load is sent to: the core directly (memory, SQLite, PostgreSQL) or the HTTP
//! service over loopback; and how each is set up and seeded.

use std::time::Duration;

use identity::import::{ImportOptions, TableRow};
use identity::{ConnectOptions, Identity};

use crate::hot::Regulars;
use crate::mix::Op;
use crate::workload::Workload;

/// A backend under load.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// `memory:`: an in-memory SQLite database.
    Memory,
    /// A SQLite file in a temporary directory.
    Sqlite,
    /// A fresh PostgreSQL database.
    Postgres,
    /// The HTTP service (in this process, on loopback) on a fresh PostgreSQL database.
    Http,
    /// A fresh PostgreSQL database through PgBouncer in transaction mode (`pgbouncer=true`;
    /// Debian's `pgbouncer`, started by the bench with as many server connections as clients).
    Pgbouncer,
}

/// The HTTP service under load: its URLs are parsed once, not per request (the load generator
/// shares the cores with what it measures).
#[derive(Clone)]
pub struct Http {
    /// `POST /identify`.
    pub identify: reqwest::Url,
    /// `GET /readyz`.
    pub readyz: reqwest::Url,
    /// The client, one pool of connections for every worker.
    pub client: reqwest::Client,
}

/// The body of `POST /identify`, serialized as it stands (no JSON value built per request).
#[derive(serde::Serialize)]
struct IdentifyBody<'a> {
    email: Option<&'a str>,
    #[serde(rename = "phoneNumber")]
    phone_number: Option<&'a str>,
}

/// A ready target; `cleanup` removes what setting it up created.
pub struct Target {
    /// The core handle (for HTTP: the service's own handle).
    pub identity: Identity,
    /// For HTTP: the service and a client.
    pub http: Option<Http>,
    /// For PostgreSQL-backed targets: the database URL.
    pub database_url: Option<String>,
    cleanup: Cleanup,
}

enum Cleanup {
    Nothing,
    TempDir(#[allow(dead_code)] std::path::PathBuf),
    Database {
        admin_url: String,
        name: String,
        server: Option<tokio::task::JoinHandle<()>>,
        pooler: Option<identity_testkit::pooler::PgBouncer>,
    },
}

/// A fresh database on the server of `admin_url`; returns (its URL, its name).
pub async fn create_database(admin_url: &str, tag: &str) -> Result<(String, String), String> {
    let name = format!("identity_bench_{tag}_{}", std::process::id());
    let admin = sqlx::PgPool::connect(admin_url)
        .await
        .map_err(|e| format!("cannot reach PostgreSQL: {e}"))?;
    let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
    sqlx::raw_sql(sqlx::AssertSqlSafe(drop))
        .execute(&admin)
        .await
        .map_err(|e| e.to_string())?;
    let create = format!("CREATE DATABASE {name}");
    sqlx::raw_sql(sqlx::AssertSqlSafe(create))
        .execute(&admin)
        .await
        .map_err(|e| e.to_string())?;
    admin.close().await;
    let url = identity_testkit::with_database(admin_url, &name);
    // on a Citus cluster (IDENTITY_TEST_CITUS_WORKERS, as scripts/test-citus sets it): the
    // database on every node, distributed by the library when it migrates
    if let Some(workers) = identity_testkit::citus_workers() {
        identity_testkit::citus_database(&url, &name, &workers).await;
    }
    Ok((url, name))
}

/// Drops a database made by [`create_database`] (on a Citus cluster's every node).
pub async fn drop_database(admin_url: &str, name: &str) {
    let mut servers = vec![admin_url.to_owned()];
    for worker in identity_testkit::citus_workers().unwrap_or_default() {
        servers.push(identity_testkit::at_host(admin_url, &worker));
    }
    for server in servers {
        if let Ok(admin) = sqlx::PgPool::connect(&server).await {
            let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&admin)
                .await;
            admin.close().await;
        }
    }
}

/// Runs bulk-load statements, each with its `$n` arguments, on one connection with triggers off
/// (`session_replication_role = replica`), as an import would; the caller then builds the
/// derived records with `rebuild`.
pub async fn bulk_load(database_url: &str, statements: &[(&str, &[i64])]) -> Result<(), String> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(database_url)
        .await
        .map_err(|e| e.to_string())?;
    sqlx::raw_sql("SET session_replication_role = replica")
        .execute(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
    for (sql, arguments) in statements {
        let mut query = sqlx::query(sqlx::AssertSqlSafe(*sql));
        for argument in *arguments {
            query = query.bind(*argument);
        }
        query.execute(&mut conn).await.map_err(|e| e.to_string())?;
    }
    sqlx::raw_sql("ANALYZE contact")
        .execute(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
    conn.close().await.map_err(|e| e.to_string())
}

/// Imports `n` one-row customers (the regulars' bystanders) into `identity`'s empty tenant.
async fn import_bystanders(identity: &Identity, n: u64) -> Result<(), String> {
    if n == 0 {
        return Ok(());
    }
    let at = time::OffsetDateTime::now_utc();
    let rows = (0..n)
        .map(|i| {
            TableRow::new(i + 1)
                .email(crate::hot::bystander_email(i))
                .phone_number(crate::hot::bystander_phone(i))
                .created_at(at)
        })
        .collect();
    identity
        .import_table(rows, ImportOptions::default())
        .await
        .map(drop)
        .map_err(|e| e.chain())
}

/// Seeds PostgreSQL with the hot mix's regulars in bulk, after their bystanders: each regular's
/// first row is its primary, every other row a secondary with a new email and the regular's
/// phone.
pub async fn seed_regulars(
    identity: &Identity,
    database_url: &str,
    regulars: &Regulars,
) -> Result<(), String> {
    let count = i64::try_from(regulars.count).map_err(|e| e.to_string())?;
    let rows = i64::try_from(regulars.seeded_rows).map_err(|e| e.to_string())?;
    let bystanders = i64::try_from(regulars.bystanders).map_err(|e| e.to_string())?;
    bulk_load(
        database_url,
        &[
            // as `crate::hot::bystander_email` and `bystander_phone` name them
            (
                "INSERT INTO contact (email, phone_number, link_precedence)
                 SELECT 'b' || i || '@bystander.test', '8' || lpad(i::text, 7, '0'), 'primary'
                 FROM generate_series(0, $1 - 1) AS i ORDER BY i",
                &[bystanders],
            ),
            (
                "INSERT INTO contact (email, phone_number, link_precedence)
                 SELECT 'r' || r || '.e0@hot.test', '9' || lpad(r::text, 7, '0'), 'primary'
                 FROM generate_series(0, $1 - 1) AS r ORDER BY r",
                &[count],
            ),
            (
                "INSERT INTO contact (email, phone_number, linked_id, link_precedence)
                 SELECT 'r' || r || '.e' || k || '@hot.test', '9' || lpad(r::text, 7, '0'), p.id,
                        'secondary'
                 FROM generate_series(1, $2 - 1) AS k CROSS JOIN generate_series(0, $1 - 1) AS r
                 JOIN contact AS p ON p.email = 'r' || r || '.e0@hot.test'
                 ORDER BY k, r",
                &[count, rows],
            ),
        ],
    )
    .await?;
    identity.rebuild().await.map(drop).map_err(|e| e.chain())
}

/// Seeds PostgreSQL in bulk, the way an import would: every customer a single primary row,
/// oldest first; then builds the derived records.
pub async fn seed_postgres(
    identity: &Identity,
    database_url: &str,
    rows: u64,
) -> Result<(), String> {
    bulk_load(
        database_url,
        &[(
            "INSERT INTO contact (email, phone_number, link_precedence)
             SELECT 'c' || i || '@seed.test', '1' || lpad(i::text, 9, '0'), 'primary'
             FROM generate_series(0, $1 - 1) AS i",
            &[i64::try_from(rows).map_err(|e| e.to_string())?],
        )],
    )
    .await?;
    identity.rebuild().await.map(drop).map_err(|e| e.chain())
}

/// The HTTP service on `identity` (whose database is `url`), in this process on a free loopback
/// port, with `flags`: its base URL and its task.
pub async fn start_service(
    identity: &Identity,
    url: &str,
    flags: &[&str],
) -> Result<(String, tokio::task::JoinHandle<()>), String> {
    let mut argv = vec!["identity-server", "--database-url", url];
    argv.extend_from_slice(flags);
    let config = <identity_server::Config as clap::Parser>::try_parse_from(argv)
        .map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(|e| e.to_string())?;
    let base = format!(
        "http://{}",
        listener.local_addr().map_err(|e| e.to_string())?
    );
    let app = identity_server::router(identity.clone(), &config).map_err(|e| e.to_string())?;
    let server = tokio::spawn(identity_server::listen::serve(
        listener,
        app,
        config.connection_limits(),
        std::future::pending(),
    ));
    Ok((base, server))
}

impl Target {
    /// Sets up and seeds `backend` with `data`; `connections` sizes the PostgreSQL pool.
    pub async fn setup(
        backend: Backend,
        workload: &Workload,
        admin_url: &str,
        connections: u32,
    ) -> Result<Target, String> {
        let options = ConnectOptions::default()
            .max_connections(connections)
            .acquire_timeout(Duration::from_secs(30));
        let connect = |url: String| {
            let options = options.clone();
            async move {
                Identity::connect_with(&url, &options)
                    .await
                    .map_err(|e| e.chain())
            }
        };
        match backend {
            Backend::Memory | Backend::Sqlite => {
                let (url, cleanup) = if backend == Backend::Memory {
                    ("memory:".to_owned(), Cleanup::Nothing)
                } else {
                    let dir =
                        std::env::temp_dir().join(format!("identity-bench-{}", std::process::id()));
                    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
                    (
                        format!("sqlite://{}", dir.join("bench.db").display()),
                        Cleanup::TempDir(dir),
                    )
                };
                let identity = connect(url).await?;
                if let Workload::Hot(regulars) = workload {
                    import_bystanders(&identity, regulars.bystanders).await?;
                }
                for (email, phone) in workload.rows() {
                    identity
                        .identify(Some(&email), Some(&phone))
                        .await
                        .map_err(|e| e.chain())?;
                }
                Ok(Target {
                    identity,
                    http: None,
                    database_url: None,
                    cleanup,
                })
            }
            Backend::Postgres | Backend::Http | Backend::Pgbouncer => {
                let tag = match backend {
                    Backend::Http => "http",
                    Backend::Pgbouncer => "pgbouncer",
                    _ => "pg",
                };
                let (url, name) = create_database(admin_url, tag).await?;
                // seeded directly (a bulk load); the load goes through the pooler
                let pooler = (backend == Backend::Pgbouncer)
                    .then(|| identity_testkit::pooler::PgBouncer::start(admin_url, connections));
                let identity = match &pooler {
                    Some(pooler) => connect(pooler.url_for(&url)).await?,
                    None => connect(url.clone()).await?,
                };
                match workload {
                    Workload::Default(data) => {
                        seed_postgres(&identity, &url, data.customers + 2 * data.merge_pairs)
                            .await?;
                    }
                    Workload::Hot(regulars) => seed_regulars(&identity, &url, regulars).await?,
                }
                let (http, server) = if backend == Backend::Http {
                    let flags = [
                        "--concurrency-limit",
                        "4096",
                        "--request-timeout-ms",
                        "60000",
                    ];
                    let (base, server) = start_service(&identity, &url, &flags).await?;
                    let client = reqwest::Client::builder()
                        .pool_max_idle_per_host(1024)
                        .build()
                        .map_err(|e| e.to_string())?;
                    let url = |path: &str| {
                        reqwest::Url::parse(&format!("{base}/{path}")).map_err(|e| e.to_string())
                    };
                    let http = Http {
                        identify: url("identify")?,
                        readyz: url("readyz")?,
                        client,
                    };
                    (Some(http), Some(server))
                } else {
                    (None, None)
                };
                Ok(Target {
                    identity,
                    http,
                    database_url: Some(url),
                    cleanup: Cleanup::Database {
                        admin_url: admin_url.to_owned(),
                        name,
                        server,
                        pooler,
                    },
                })
            }
        }
    }

    /// Sends one operation.
    pub async fn send(&self, op: &Op) -> Result<(), String> {
        match &self.http {
            None => self
                .identity
                .identify(op.email.as_deref(), op.phone.as_deref())
                .await
                .map(drop)
                .map_err(|e| e.chain()),
            Some(Http {
                identify, client, ..
            }) => {
                let body = IdentifyBody {
                    email: op.email.as_deref(),
                    phone_number: op.phone.as_deref(),
                };
                let response = client
                    .post(identify.clone())
                    .json(&body)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                if response.status().is_success() {
                    response.bytes().await.map(drop).map_err(|e| e.to_string())
                } else {
                    Err(format!(
                        "HTTP {}: {}",
                        response.status(),
                        response.text().await.unwrap_or_default()
                    ))
                }
            }
        }
    }

    /// Removes what setup created.
    pub async fn cleanup(self) {
        self.identity.close().await;
        match self.cleanup {
            Cleanup::Nothing => {}
            Cleanup::TempDir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Database {
                admin_url,
                name,
                server,
                pooler,
            } => {
                if let Some(server) = server {
                    server.abort();
                }
                drop(pooler);
                drop_database(&admin_url, &name).await;
            }
        }
    }
}
