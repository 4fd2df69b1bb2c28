//! Group commit on PostgreSQL (`store/postgres/coalesce.rs`): concurrent writes of one tenant
//! share one statement and one commit, each answered as it would have been alone, and one
//! write's trouble is no other's. Commits are counted by the transaction ids (`xmin`) of the rows
//! the writes left: one per transaction that wrote them.

use identity_testkit as common;

use std::time::Duration;

use identity::{ConnectOptions, ConsolidatedContact, Identity};
use identity_testkit::{GraphLock, TestDb};
use sqlx::PgPool;

const BURST: usize = 32;

/// A fresh database, an admin pool on it and a store of 8 connections.
async fn fresh() -> (TestDb, PgPool, Identity) {
    let db = TestDb::create().await;
    let admin = db.pool().await;
    let options = ConnectOptions::default()
        .max_connections(8)
        .acquire_timeout(Duration::from_secs(30));
    let identity = Identity::connect_with(db.url(), &options).await.unwrap();
    (db, admin, identity)
}

/// The invariants in SQL, and a `verify` that finds nothing.
async fn assert_sound(admin: &PgPool, identity: &Identity) {
    common::assert_sql_invariants(admin).await;
    common::assert_verified(identity).await;
}

/// Holds the default tenant's graph lock while `first` starts writing (so its batch waits on the
/// lock) and `rest` read and queue behind it; then lets them all go. Their answers, in order.
async fn burst(
    identity: &Identity,
    admin: &PgPool,
    first: (String, String),
    rest: Vec<(String, String)>,
) -> Vec<identity::Result<ConsolidatedContact>> {
    let lock = GraphLock::take(admin).await;
    let send = |(email, phone): (String, String)| {
        let identity = identity.clone();
        tokio::spawn(async move { identity.identify(Some(&email), Some(&phone)).await })
    };
    let mut calls = vec![send(first)];
    common::wait_until(
        "the first batch to wait",
        Duration::from_secs(10),
        async || common::writers_waiting(admin).await == 1,
    )
    .await;
    calls.extend(rest.into_iter().map(send));
    // the others read (no lock) and join the queue behind the waiting batch
    common::wait_until("the others to queue", Duration::from_secs(10), async || {
        common::busy_backends(admin).await == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    lock.release().await;
    let mut answers = Vec::new();
    for call in calls {
        answers.push(call.await.unwrap());
    }
    answers
}

/// How many transactions wrote the rows, records, identifiers and events of the customers whose
/// emails match `pattern`.
async fn transactions(admin: &PgPool, pattern: &str) -> [i64; 4] {
    let count = |sql: &'static str| async move {
        sqlx::query_scalar::<_, i64>(sql)
            .bind(pattern)
            .fetch_one(admin)
            .await
            .unwrap()
    };
    [
        count("SELECT count(DISTINCT xmin::text) FROM contact WHERE email LIKE $1").await,
        count(
            "SELECT count(DISTINCT c.xmin::text) FROM identity_customer AS c
             JOIN contact AS r ON r.tenant_id = c.tenant_id AND r.id = c.primary_id
             WHERE r.email LIKE $1",
        )
        .await,
        count(
            "SELECT count(DISTINCT xmin::text) FROM identity_identifier
             WHERE kind = 'email' AND value LIKE $1",
        )
        .await,
        count("SELECT count(DISTINCT xmin::text) FROM identity_event WHERE email LIKE $1").await,
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_new_customers_costs_one_commit() {
    let (_db, admin, identity) = fresh().await;
    let request = |i: usize| (format!("burst{i}@x.io"), format!("700{i:04}"));
    let answers = burst(
        &identity,
        &admin,
        request(0),
        (1..BURST).map(request).collect(),
    )
    .await;

    let mut primaries = Vec::new();
    for (i, answer) in answers.into_iter().enumerate() {
        let answer = answer.unwrap();
        let (email, phone) = request(i);
        // what the request would have got alone: a new customer of its own values
        assert_eq!(answer.emails.len(), 1);
        assert_eq!(answer.emails[0].as_str(), email);
        assert_eq!(answer.phone_numbers[0].as_str(), phone);
        assert!(answer.secondary_contact_ids.is_empty());
        assert_eq!(
            identity.lookup(Some(&email), None).await.unwrap(),
            Some(answer.clone())
        );
        primaries.push(answer.primary_contact_id);
    }
    primaries.sort_unstable();
    primaries.dedup();
    assert_eq!(primaries.len(), BURST);
    // the first alone (its batch waited on the lock), the others in one transaction (a third
    // at most, should a request have read only after the lock was let go: not 32); each
    // customer's row, record, identifiers and event in the same one
    let [rows, records, identifiers, events] = transactions(&admin, "burst%").await;
    assert!(
        rows <= 3,
        "{BURST} new customers written in {rows} transactions"
    );
    assert_eq!((records, identifiers, events), (rows, rows, rows));
    assert_sound(&admin, &identity).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stale_write_in_a_batch_is_planned_again_and_the_others_commit() {
    let (_db, admin, identity) = fresh().await;
    // two requests of the same new email in one batch: the first creates the customer, the
    // second finds its email claimed (stale), writes nothing in the batch and is planned again:
    // a new row for that customer, as if it had come after
    let mut rest = vec![
        ("twin@x.io".to_owned(), "7100".to_owned()),
        ("twin@x.io".to_owned(), "7200".to_owned()),
    ];
    rest.extend((0..8).map(|i| (format!("other{i}@x.io"), format!("730{i}"))));
    let answers = burst(
        &identity,
        &admin,
        ("first@x.io".into(), "7000".into()),
        rest,
    )
    .await;
    let answers: Vec<ConsolidatedContact> = answers.into_iter().map(Result::unwrap).collect();
    let (a, b) = (&answers[1], &answers[2]);
    assert_eq!(a.primary_contact_id, b.primary_contact_id);
    let mut phones = [a.phone_numbers.len(), b.phone_numbers.len()];
    phones.sort_unstable();
    assert_eq!(
        phones,
        [1, 2],
        "one twin answered first, the other after it"
    );
    let last = if a.phone_numbers.len() == 2 { a } else { b };
    assert_eq!(last.secondary_contact_ids.len(), 1);
    for (answer, i) in answers[3..].iter().zip(0..) {
        assert_eq!(answer.emails[0].as_str(), format!("other{i}@x.io"));
        assert!(answer.secondary_contact_ids.is_empty());
    }
    // the others went in one batch with the twins
    let [others, ..] = transactions(&admin, "other%").await;
    assert_eq!(others, 1, "the batch committed the others");
    assert_sound(&admin, &identity).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_batch_that_fails_is_written_one_by_one_and_fails_only_its_culprit() {
    let (_db, admin, identity) = fresh().await;
    // a rule of the shop's own, outside the library: this email is refused by the database
    // (Citus takes a trigger on a distributed table when told it is the user's own risk)
    let mut conn = admin.acquire().await.unwrap();
    if common::citus_workers().is_some() {
        sqlx::raw_sql("SET citus.enable_unsafe_triggers = on")
            .execute(&mut *conn)
            .await
            .unwrap();
    }
    sqlx::raw_sql(
        "CREATE FUNCTION refuse_culprit() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
             IF NEW.email = 'culprit@x.io' THEN
                 RAISE EXCEPTION 'refused by the shop';
             END IF;
             RETURN NEW;
         END $$",
    )
    .execute(&mut *conn)
    .await
    .unwrap();
    // a statement of its own: Citus sends each to the workers as one
    sqlx::raw_sql(
        "CREATE TRIGGER refuse_culprit BEFORE INSERT ON contact FOR EACH ROW
             EXECUTE FUNCTION refuse_culprit()",
    )
    .execute(&mut *conn)
    .await
    .unwrap();
    drop(conn);
    let mut rest: Vec<(String, String)> = (0..6)
        .map(|i| (format!("fine{i}@x.io"), format!("740{i}")))
        .collect();
    rest.insert(3, ("culprit@x.io".into(), "7499".into()));
    let answers = burst(
        &identity,
        &admin,
        ("first@x.io".into(), "7000".into()),
        rest,
    )
    .await;
    for (i, answer) in answers.iter().enumerate() {
        if i == 4 {
            let e = answer.as_ref().unwrap_err();
            assert!(
                matches!(e, identity::Error::Store { .. }),
                "the culprit fails: {e:?}"
            );
        } else {
            assert!(answer.is_ok(), "request {i}: {:?}", answer.as_ref().err());
        }
    }
    assert_eq!(
        identity.lookup(Some("culprit@x.io"), None).await.unwrap(),
        None
    );
    for i in 0..6 {
        let email = format!("fine{i}@x.io");
        assert!(identity.lookup(Some(&email), None).await.unwrap().is_some());
    }
    assert_sound(&admin, &identity).await;
}

/// SQLite: the writes of a burst share one write transaction. A table of the test's own counts
/// the store's write transactions: each ends by clearing its writer mark (`identity_writer`),
/// which a trigger notes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_new_customers_shares_one_sqlite_transaction() {
    use sqlx::Connection;
    let (dir, store, identity) = common::sqlite::file_store().await;
    let url = format!("sqlite://{}", dir.path().join("identity.db").display());
    let mut blocker = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::raw_sql(
        "CREATE TABLE test_commits (id INTEGER PRIMARY KEY);
         CREATE TRIGGER test_count_commits AFTER UPDATE ON identity_writer
         WHEN NEW.active = 0 BEGIN INSERT INTO test_commits (id) VALUES (NULL); END;",
    )
    .execute(&mut blocker)
    .await
    .unwrap();
    // another writer holds the database: the first batch waits for it, the rest queue
    sqlx::raw_sql("BEGIN IMMEDIATE")
        .execute(&mut blocker)
        .await
        .unwrap();
    let request = |i: usize| (format!("burst{i}@x.io"), format!("700{i:04}"));
    let send = |(email, phone): (String, String)| {
        let identity = identity.clone();
        tokio::spawn(async move { identity.identify(Some(&email), Some(&phone)).await })
    };
    let mut calls = vec![send(request(0))];
    tokio::time::sleep(Duration::from_millis(100)).await;
    calls.extend((1..BURST).map(|i| send(request(i))));
    tokio::time::sleep(Duration::from_millis(300)).await;
    sqlx::raw_sql("COMMIT").execute(&mut blocker).await.unwrap();
    for (i, call) in calls.into_iter().enumerate() {
        let answer = call.await.unwrap().unwrap();
        let (email, phone) = request(i);
        assert_eq!(answer.emails[0].as_str(), email);
        assert_eq!(answer.phone_numbers[0].as_str(), phone);
        assert!(answer.secondary_contact_ids.is_empty());
    }
    let commits: i64 = sqlx::query_scalar("SELECT count(*) FROM test_commits")
        .fetch_one(&mut blocker)
        .await
        .unwrap();
    assert!(
        (1..=3).contains(&commits),
        "{BURST} new customers written in {commits} transactions"
    );
    blocker.close().await.unwrap();
    common::assert_verified(&identity).await;
    common::assert_invariants(&identity.all_contacts().await.unwrap());
    drop(store);
}

/// SQLite: a batch meets changes made outside the library (a hand edit noted by the triggers)
/// and applies them before it plans any write of the tenant, so every write of the burst is
/// answered from the graph as edited, in the batch's transaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sqlite_batch_applies_changes_made_outside_before_planning() {
    use sqlx::Connection;
    let (dir, store, identity) = common::sqlite::file_store().await;
    let url = format!("sqlite://{}", dir.path().join("identity.db").display());
    let before = identity
        .identify(Some("old@x.io"), Some("5550001"))
        .await
        .unwrap();
    let mut editor = sqlx::SqliteConnection::connect(&url).await.unwrap();
    // the edit stays uncommitted while the burst queues: its batch waits for it
    sqlx::raw_sql(
        "BEGIN IMMEDIATE;
         UPDATE contact SET email = 'moved@x.io' WHERE email = 'old@x.io';",
    )
    .execute(&mut editor)
    .await
    .unwrap();
    let send = |email: String, phone: String| {
        let identity = identity.clone();
        tokio::spawn(async move { identity.identify(Some(&email), Some(&phone)).await })
    };
    let mut calls = vec![send("moved@x.io".into(), "5550002".into())];
    tokio::time::sleep(Duration::from_millis(100)).await;
    calls.push(send("old@x.io".into(), "5550003".into()));
    calls.extend((4..BURST).map(|i| send(format!("new{i}@x.io"), format!("555{i:04}"))));
    tokio::time::sleep(Duration::from_millis(300)).await;
    sqlx::raw_sql("COMMIT").execute(&mut editor).await.unwrap();
    let mut answers = Vec::new();
    for call in calls {
        answers.push(call.await.unwrap().unwrap());
    }
    // the moved email is the old customer's: the new phone joins it
    let joined = &answers[0];
    assert_eq!(joined.primary_contact_id, before.primary_contact_id);
    let emails: Vec<&str> = joined.emails.iter().map(|e| e.as_str()).collect();
    assert_eq!(emails, ["moved@x.io"]);
    assert_eq!(joined.phone_numbers.len(), 2);
    // the old email left the customer with the edit: it starts a new one
    let fresh = &answers[1];
    assert_ne!(fresh.primary_contact_id, before.primary_contact_id);
    assert!(fresh.secondary_contact_ids.is_empty());
    for answer in &answers[2..] {
        assert!(answer.secondary_contact_ids.is_empty());
        assert_eq!(answer.emails.len(), 1);
    }
    let pending: i64 = sqlx::query_scalar("SELECT count(*) FROM identity_pending")
        .fetch_one(&mut editor)
        .await
        .unwrap();
    assert_eq!(pending, 0, "the edit was applied and its note cleared");
    editor.close().await.unwrap();
    common::assert_verified(&identity).await;
    common::assert_invariants(&identity.all_contacts().await.unwrap());
    drop(store);
}

/// SQLite: each write of a batch reads what the writes before it in the batch wrote (the read
/// rides at the end of the previous write's script), across a new row, a new customer, a merge
/// and a fold (the read carried before a fold is read again). The batch's answers are the ones
/// the same writes get one at a time on another database.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_write_of_a_sqlite_batch_sees_the_ones_before_it() {
    use sqlx::Connection;
    let (dir, store, identity) = common::sqlite::file_store().await;
    let (_alone_dir, alone_store, alone) = common::sqlite::file_store().await;
    // a customer whose tail the chain's first new row folds (32 entries: a quarter of its rows
    // below that)
    let mut seed = vec![("x0@chain.io".to_owned(), "7400".to_owned())];
    seed.extend((1..32).map(|i| (format!("x{i}@chain.io"), "7400".to_owned())));
    for (email, phone) in &seed {
        identity.identify(Some(email), Some(phone)).await.unwrap();
        alone.identify(Some(email), Some(phone)).await.unwrap();
    }
    let chain: Vec<(&str, &str)> = vec![
        ("x32@chain.io", "7400"), // folds x's tail
        ("x32@chain.io", "7500"), // a new phone through the email the fold's write added
        ("a@chain.io", "7100"),   // a new customer
        ("b@chain.io", "7100"),   // a row of it
        ("b@chain.io", "7200"),   // through the email the write before added
        ("c@chain.io", "7300"),   // another new customer
        ("a@chain.io", "7300"),   // merges it into a's
        ("x1@chain.io", "7200"),  // merges a's customer into x's
        ("c@chain.io", "7600"),   // a row of the customer two merges made
    ];
    let url = format!("sqlite://{}", dir.path().join("identity.db").display());
    let mut blocker = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::raw_sql("BEGIN IMMEDIATE")
        .execute(&mut blocker)
        .await
        .unwrap();
    let send = |(email, phone): (&str, &str)| {
        let (identity, email, phone) = (identity.clone(), email.to_owned(), phone.to_owned());
        tokio::spawn(async move { identity.identify(Some(&email), Some(&phone)).await })
    };
    // the first write waits for the database; the chain queues behind it, in order
    let first = send(("first@chain.io", "7000"));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut calls = Vec::new();
    for step in &chain {
        calls.push(send(*step));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    sqlx::raw_sql("COMMIT").execute(&mut blocker).await.unwrap();
    first.await.unwrap().unwrap();
    alone
        .identify(Some("first@chain.io"), Some("7000"))
        .await
        .unwrap();
    for ((email, phone), call) in chain.iter().zip(calls) {
        let batched = call.await.unwrap().unwrap();
        let one_at_a_time = alone.identify(Some(email), Some(phone)).await.unwrap();
        assert_eq!(batched, one_at_a_time, "{email} {phone}");
    }
    let last = alone
        .identify(Some("c@chain.io"), Some("7600"))
        .await
        .unwrap();
    assert_eq!(
        last.emails.len(),
        33 + 3,
        "x0..x32, a, b, c in one customer"
    );
    blocker.close().await.unwrap();
    common::assert_verified(&identity).await;
    common::assert_invariants(&identity.all_contacts().await.unwrap());
    drop((store, alone_store));
}
