//! Round trips per identify on PostgreSQL, counted at the wire by a proxy: a returning customer
//! costs exactly one (no BEGIN/COMMIT, no second query); any write costs two (its read, and its
//! write sent alone or in a batch with the tenant's other writes). And nothing else: the store
//! keeps its connections between calls (`store/lanes.rs`), so the liveness ping sqlx's pool
//! sends when a connection goes back to it never happens.

use std::time::Duration;

use identity::{Identity, PgStore};
use identity_testkit::TestDb;
use identity_testkit::wire::RoundTripCounter;

async fn identify(
    identity: &Identity,
    counter: &RoundTripCounter,
    email: Option<&str>,
    phone: Option<&str>,
) -> u64 {
    counter.take();
    identity.identify(email, phone).await.unwrap();
    counter.take()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_identify_path_costs_its_round_trip_budget() {
    let db = TestDb::create().await;
    identity::connect(db.url()).await.unwrap().close().await; // migrate without the proxy
    let counter = RoundTripCounter::start(db.url()).await;
    // one connection, warmed up on every path, so no statement needs preparing while counting
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .test_before_acquire(false)
        .connect(&counter.url(db.url()))
        .await
        .unwrap();
    let identity = Identity::from_store(PgStore::from_pool(pool.clone()));
    for (e, p) in [
        ("w1@x.io", "1"),
        ("w1@x.io", "1"),
        ("w2@x.io", "1"),
        ("w3@x.io", "3"),
        ("w1@x.io", "3"),
    ] {
        identity.identify(Some(e), Some(p)).await.unwrap();
    }
    identity.lookup(Some("w1@x.io"), None).await.unwrap();

    let cases = [
        ("new customer", Some("a@x.io"), Some("100"), 2),
        ("returning customer", Some("a@x.io"), Some("100"), 1),
        ("known email only", Some("a@x.io"), None, 1),
        ("known phone only", None, Some("100"), 1),
        (
            "new phone for a known customer",
            Some("a@x.io"),
            Some("101"),
            2,
        ),
        ("another customer", Some("b@x.io"), Some("200"), 2),
        ("merge of two customers", Some("a@x.io"), Some("200"), 2),
        ("returning after the merge", Some("b@x.io"), Some("101"), 1),
    ];
    // a ping would follow a call's answer: wait for the warm-up's, if any
    tokio::time::sleep(Duration::from_millis(300)).await;
    let warm_up_pings = counter.take_pings();
    let mut round_trips = 0;
    for (path, email, phone, budget) in cases {
        round_trips += budget;
        assert_eq!(
            identify(&identity, &counter, email, phone).await,
            budget,
            "{path}"
        );
    }
    counter.take();
    identity.lookup(Some("nobody@x.io"), None).await.unwrap();
    assert_eq!(counter.take(), 1, "lookup");
    // and no other traffic: no ping after any call (sqlx's pool pings each connection given
    // back to it, after the answer)
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        (warm_up_pings, counter.take_pings()),
        (0, 0),
        "pings after the warm-up's calls and after the {round_trips} round trips counted"
    );
    assert_eq!(pool.num_idle(), 0, "the connection stays with the store");
}

/// A returning customer's lists cross the wire once: the store keeps the record it read, and
/// while that version is current the database sends the version alone. A row added by another
/// process makes the next read bring the record's tail only (the rows added since its base);
/// a new base (every 32nd row added, or a merge) comes in full once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_returning_customer_is_sent_again_only_after_it_changed() {
    let db = TestDb::create().await;
    let other = identity::connect(db.url()).await.unwrap(); // migrates; another process
    for k in 0..300 {
        let email = format!("row{k}@big.io");
        other.identify(Some(&email), Some("555")).await.unwrap();
    }
    let counter = RoundTripCounter::start(db.url()).await;
    // one connection: each statement is described once on it, so the byte counts below do not
    // depend on which pooled connection a call happens to get
    let one = identity::ConnectOptions::default().max_connections(1);
    let identity = identity::Identity::connect_with(&counter.url(db.url()), &one)
        .await
        .unwrap();
    let received = async |email: &str| {
        counter.take_received();
        let answer = identity.identify(Some(email), Some("555")).await.unwrap();
        (counter.take_received(), answer)
    };
    // 300 emails, their 300 row ids and 299 secondary ids: well over 6 KB
    let (first, answer) = received("row7@big.io").await;
    assert_eq!(answer.emails.len(), 300);
    assert!(
        first > 6_000,
        "the first read brings the lists: {first} bytes"
    );
    // sqlx describes the read's 35 columns once more on the connection's second use (1.2 KB)
    let (_, same) = received("row7@big.io").await;
    assert_eq!(same, answer);
    let (again, same) = received("row7@big.io").await;
    assert_eq!(same, answer);
    assert!(again < 1_000, "then the version alone: {again} bytes");
    let (phone_only, same) = received_phone(&identity, &counter).await;
    assert_eq!(same, answer);
    assert!(
        phone_only < 1_000,
        "the phone's customer is held too: {phone_only} bytes"
    );

    other
        .identify(Some("new@big.io"), Some("555"))
        .await
        .unwrap();
    let (changed, answer) = received("row7@big.io").await;
    assert_eq!(
        answer,
        other
            .identify(Some("row7@big.io"), Some("555"))
            .await
            .unwrap(),
        "the other process's row is in the answer"
    );
    assert_eq!(answer.emails.len(), 301);
    assert!(
        changed < 2_000,
        "a row added elsewhere comes as the record's tail, on the base held: {changed} bytes"
    );
    let (again, _) = received("row7@big.io").await;
    assert!(again < 1_000, "and is held again: {again} bytes");

    // every 32nd row added folds the tail into the base: then the whole record comes once
    for k in 0..40 {
        let email = format!("more{k}@big.io");
        other.identify(Some(&email), Some("555")).await.unwrap();
    }
    let (folded, answer) = received("row7@big.io").await;
    assert_eq!(
        answer,
        other
            .identify(Some("row7@big.io"), Some("555"))
            .await
            .unwrap()
    );
    assert_eq!(answer.emails.len(), 341);
    assert!(folded > 6_000, "a new base comes in full: {folded} bytes");
    identity.close().await;
    other.close().await;
}

async fn received_phone(
    identity: &Identity,
    counter: &RoundTripCounter,
) -> (u64, identity::ConsolidatedContact) {
    counter.take_received();
    let answer = identity.identify(None, Some("555")).await.unwrap();
    (counter.take_received(), answer)
}
