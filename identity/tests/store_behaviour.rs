//! Store behaviour beyond the vectors: soft-deleted rows, lookup, close, migrations, URLs and
//! the errors they give.

use identity_testkit as common;

use identity::{ContactId, ContactStore, Error, IdentifyRequest, Identity, PgStore, TenantId};

fn req(email: Option<&str>, phone: Option<&str>) -> IdentifyRequest {
    IdentifyRequest::parse(email, phone).unwrap()
}

/// The id of the row `answer` added last (its newest secondary).
fn newest(answer: &identity::ConsolidatedContact) -> ContactId {
    *answer.secondary_contact_ids.last().unwrap()
}

async fn soft_deleted_rows_are_invisible(identity: Identity, delete: impl AsyncFn(i64)) {
    let one = identity.identify(Some("a@x.io"), Some("1")).await.unwrap();
    let one = one.primary_contact_id;
    let two = newest(&identity.identify(Some("b@x.io"), Some("1")).await.unwrap());
    let three = newest(&identity.identify(Some("c@x.io"), Some("1")).await.unwrap());
    delete(one.get()).await;
    // the deleted primary's email is unknown now: a new customer
    let fresh = identity.identify(Some("a@x.io"), None).await.unwrap();
    let four = fresh.primary_contact_id;
    assert!(four > three, "{four} after {three}");
    assert_eq!(fresh.secondary_contact_ids, vec![]);
    // its orphaned secondaries form a customer led by their oldest row, promoted on the next write
    let orphans = identity.lookup(None, Some("1")).await.unwrap().unwrap();
    assert_eq!(orphans.primary_contact_id, two);
    assert_eq!(orphans.secondary_contact_ids, vec![three]);
    let merged = identity.identify(Some("a@x.io"), Some("1")).await.unwrap();
    assert_eq!(merged.primary_contact_id, two, "row 2 is older than row 4");
    assert_eq!(merged.secondary_contact_ids, vec![three, four]);
    let rows = identity.all_contacts().await.unwrap();
    assert!(
        rows.iter().all(|c| c.id != one),
        "deleted rows are never returned"
    );
    common::assert_invariants(&rows);
}

#[tokio::test]
async fn soft_deleted_rows_are_invisible_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("soft.db").display());
    let identity = identity::connect(&url).await.unwrap();
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    soft_deleted_rows_are_invisible(identity, async |id| {
        sqlx::query("UPDATE contact SET deleted_at = '2026-01-01T00:00:00Z' WHERE id = ?")
            .bind(id)
            .execute(&pool)
            .await
            .unwrap();
    })
    .await;
}

#[tokio::test]
async fn soft_deleted_rows_are_invisible_on_postgres() {
    let db = common::TestDb::create().await;
    let identity = identity::connect(db.url()).await.unwrap();
    let pool = db.pool().await;
    let handle = identity.clone();
    soft_deleted_rows_are_invisible(identity, async |id| {
        sqlx::query("UPDATE contact SET deleted_at = now() WHERE id = $1")
            .bind(id)
            .execute(&pool)
            .await
            .unwrap();
        // Citus has no triggers noting hand edits: a rebuild follows one (docs/scaling.md)
        if common::citus_workers().is_some() {
            handle.rebuild().await.unwrap();
        }
    })
    .await;
}

async fn lookup_writes_nothing_and_close_refuses_further_calls(identity: Identity) {
    assert_eq!(
        identity.lookup(Some("nobody@x.io"), None).await.unwrap(),
        None
    );
    let one = identity.identify(Some("a@x.io"), Some("1")).await.unwrap();
    let two = identity.identify(Some("b@x.io"), Some("2")).await.unwrap();
    let preview = identity
        .lookup(Some("a@x.io"), Some("2"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(preview.primary_contact_id, one.primary_contact_id);
    assert_eq!(
        preview.secondary_contact_ids,
        vec![two.primary_contact_id],
        "lookup shows the merge identify would do"
    );
    let rows = identity.all_contacts().await.unwrap();
    assert!(
        rows.iter().all(|c| c.linked_id().is_none()),
        "but lookup did not write it"
    );
    assert!(matches!(
        identity.lookup(Some("bad"), None).await,
        Err(Error::InvalidInput { .. })
    ));
    identity.close().await;
    let err = identity.identify(Some("a@x.io"), None).await.unwrap_err();
    assert!(matches!(err, Error::Closed), "{err:?}");
    assert_eq!(err.to_string(), "store is closed");
}

#[tokio::test]
async fn lookup_and_close_on_memory() {
    lookup_writes_nothing_and_close_refuses_further_calls(
        identity::connect("memory:").await.unwrap(),
    )
    .await;
}

#[tokio::test]
async fn lookup_and_close_on_sqlite() {
    lookup_writes_nothing_and_close_refuses_further_calls(
        identity::connect("sqlite::memory:").await.unwrap(),
    )
    .await;
}

#[tokio::test]
async fn lookup_and_close_on_postgres() {
    let db = common::TestDb::create().await;
    lookup_writes_nothing_and_close_refuses_further_calls(
        identity::connect(db.url()).await.unwrap(),
    )
    .await;
}

#[tokio::test]
async fn sqlite_file_is_created_and_reopened_with_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested-ok.db");
    let url = format!("sqlite:{}", path.display());
    let first = identity::connect(&url).await.unwrap();
    assert!(path.exists(), "connect creates the file");
    first.identify(Some("a@x.io"), None).await.unwrap();
    first.close().await;
    let again = identity::connect(&url).await.unwrap(); // migrations run again: idempotent
    assert_eq!(
        again
            .lookup(Some("a@x.io"), None)
            .await
            .unwrap()
            .unwrap()
            .primary_contact_id,
        ContactId::new(1)
    );
}

#[tokio::test]
async fn sqlite_in_a_missing_directory_is_a_store_error() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("no/such/dir/x.db").display());
    let err = identity::connect(&url).await.unwrap_err();
    assert!(
        matches!(err, Error::Store { .. } | Error::Unavailable { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("sqlite"), "{err}");
}

#[tokio::test]
async fn postgres_migrations_are_idempotent_and_concurrent_safe() {
    let db = common::TestDb::create().await;
    let (a, b, c) = tokio::join!(
        identity::connect(db.url()),
        identity::connect(db.url()),
        identity::connect(db.url())
    );
    for result in [a, b, c] {
        result.unwrap();
    }
    let store = PgStore::from_pool(db.pool().await);
    store.migrate().await.unwrap();
    // the migrations wrote no row: the first identify makes the first customer
    let tenant = TenantId::default();
    let first = store
        .identify(&tenant, &req(Some("a@x.io"), None))
        .await
        .unwrap();
    let rows = store.all_contacts(&tenant).await.unwrap();
    assert_eq!(
        rows.iter().map(|c| c.id).collect::<Vec<_>>(),
        [first.primary_contact_id]
    );
}

#[tokio::test]
async fn urls_without_a_store_are_clear_errors_that_never_echo_passwords() {
    for (url, expected) in [
        (
            "mysql://root:hunter2@db/shop",
            "unsupported database url scheme `mysql`",
        ),
        ("hunter2", "invalid database url: missing scheme"),
        ("", "invalid database url: the url is empty"),
        (
            "postgres://user:hunter2@[::1:5432/db",
            "invalid database url",
        ),
    ] {
        let err = identity::connect(url).await.unwrap_err();
        let text = err.chain();
        assert!(text.starts_with(expected), "{url}: {text}");
        assert!(!text.contains("hunter2"), "{url}: {text}");
    }
}

#[tokio::test]
async fn unreachable_postgres_is_unavailable_and_hides_the_password() {
    let options =
        identity::ConnectOptions::default().acquire_timeout(std::time::Duration::from_secs(2));
    // port 1 on loopback: nothing listens there
    let err = Identity::connect_with("postgres://shop:hunter2@127.0.0.1:1/shop", &options)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unavailable { .. }), "{err:?}");
    assert!(err.is_transient());
    let text = err.chain();
    assert!(
        text.starts_with("database unavailable while connecting to postgres"),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "{text}");
    assert!(
        !format!("{err:?}").contains("hunter2"),
        "debug output leaks: {err:?}"
    );
}

#[tokio::test]
async fn sqlite_migrations_from_several_pools_at_once_succeed() {
    for round in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}",
            dir.path().join(format!("race{round}.db")).display()
        );
        let results = futures_join_all((0..6).map(|_| {
            let url = url.clone();
            async move { identity::connect(&url).await.map(drop) }
        }))
        .await;
        for r in results {
            r.unwrap();
        }
    }
}

async fn futures_join_all<F: std::future::Future + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send,
{
    let mut set = tokio::task::JoinSet::new();
    for f in futures {
        set.spawn(f);
    }
    set.join_all().await
}

#[tokio::test]
async fn scheme_spelling_and_surrounding_whitespace_do_not_matter() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = std::env::current_dir().unwrap();
    let identity = identity::connect("  SQLite::memory: ").await.unwrap();
    identity.identify(Some("a@x.io"), None).await.unwrap();
    assert!(
        !cwd.join("SQLite::memory:").exists(),
        "no file named after the url"
    );
    let file = dir.path().join("upper.db");
    identity::connect(&format!("SQLITE:{}", file.display()))
        .await
        .unwrap();
    assert!(file.exists());
    identity::connect("MEMORY:").await.unwrap();
}

/// Rows stamped in the future (a clock that stepped back since) must not make a new secondary
/// older than its primary.
async fn new_rows_are_never_older_than_their_customer(
    identity: Identity,
    push_into_future: impl AsyncFn(i64),
) {
    identity.identify(Some("a@x.io"), Some("1")).await.unwrap();
    push_into_future(1).await;
    identity.identify(Some("b@x.io"), Some("1")).await.unwrap();
    let rows = identity.all_contacts().await.unwrap();
    assert!(rows[1].created_at >= rows[0].created_at, "{rows:?}");
    common::assert_invariants(&rows);
}

#[tokio::test]
async fn new_rows_are_never_older_than_their_customer_on_postgres() {
    let db = common::TestDb::create().await;
    let pool = db.pool().await;
    new_rows_are_never_older_than_their_customer(
        identity::connect(db.url()).await.unwrap(),
        async |id| {
            sqlx::query("UPDATE contact SET created_at = now() + interval '1 hour' WHERE id = $1")
                .bind(id)
                .execute(&pool)
                .await
                .unwrap();
        },
    )
    .await;
    common::assert_sql_invariants(&pool).await;
    let err = sqlx::query("UPDATE contact SET created_at = 'infinity'")
        .execute(&pool)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("contact_created_at_in_range"),
        "{err}"
    );
}

#[tokio::test]
async fn new_rows_are_never_older_than_their_customer_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("clock.db").display());
    let identity = identity::connect(&url).await.unwrap();
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    new_rows_are_never_older_than_their_customer(identity, async |id| {
        let future = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
        sqlx::query("UPDATE contact SET created_at = ? WHERE id = ?")
            .bind(future)
            .bind(id)
            .execute(&pool)
            .await
            .unwrap();
    })
    .await;
}

#[tokio::test]
async fn rows_that_are_not_normalized_are_reported_not_reinterpreted() {
    let db = common::TestDb::create().await;
    let identity = identity::connect(db.url()).await.unwrap();
    let one = identity.identify(Some("a@x.io"), Some("1")).await.unwrap();
    let one = one.primary_contact_id;
    let pool = db.pool().await;
    sqlx::query("UPDATE contact SET email = 'A@X.IO' WHERE id = $1")
        .bind(one.get())
        .execute(&pool)
        .await
        .unwrap();
    // Citus has no triggers noting hand edits: the rebuild that follows one finds it
    let err = match common::citus_workers() {
        None => identity.lookup(None, Some("1")).await.unwrap_err(),
        Some(_) => identity.rebuild().await.unwrap_err(),
    };
    assert_eq!(
        err.to_string(),
        format!("corrupt contact row {one}: email is not normalized")
    );
}

/// `Identity::stats` after a concurrent storm of overlapping identifies, on every backend: every
/// request answered is counted once, each row was inserted by a created or a linked identify,
/// and each customer made by a created one and taken away by a merge (a merge joins values two
/// customers hold already, so it inserts no row).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn identify_outcomes_add_up_to_the_rows_and_customers_a_concurrent_storm_wrote() {
    use identity::IdentifyOutcome::{Created, Failed, Known, Linked, Merged, Refused};
    for store in common::every_backend().await {
        let backend = store.identity.store().backend();
        let requests = common::Workload::requests(33, 6, 800, 10);
        let per_worker: Vec<Vec<IdentifyRequest>> =
            requests.chunks(100).map(<[_]>::to_vec).collect();
        let failures = common::hammer(&store.identity, per_worker).await;
        assert!(failures.is_empty(), "{backend}: {failures:?}");
        let stats = store.identity.stats();
        let rows = common::assert_sound_after_storm(&store).await;
        let customers = common::customers_by_link(&rows).len() as u64;
        let n = |o| stats.identified(o);
        assert_eq!(
            n(Created) + n(Linked) + n(Merged) + n(Known),
            requests.len() as u64,
            "{backend}: {stats:?}"
        );
        assert_eq!(
            n(Created) + n(Linked),
            rows.len() as u64,
            "{backend}: {stats:?}"
        );
        assert_eq!(n(Created) - n(Merged), customers, "{backend}: {stats:?}");
        assert!(n(Merged) > 0, "{backend}: the storm merges customers");
        assert_eq!((n(Refused), n(Failed)), (0, 0), "{backend}");
        assert!(stats.contention.is_empty(), "{backend}: {stats:?}");
        assert!(stats.identify_errors.is_empty(), "{backend}: {stats:?}");
        let pool = stats.pool;
        assert!(
            pool.max >= 1 && pool.in_use + pool.idle <= pool.max,
            "{backend}: {pool:?}"
        );
    }
}
