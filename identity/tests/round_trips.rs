//! Round trips per identify on PostgreSQL, counted at the wire by a proxy: a returning customer
//! costs exactly one (no BEGIN/COMMIT, no second query); any write costs two. sqlx's liveness
//! ping when a connection goes back to the pool (after the answer) is counted apart.

use std::time::Duration;

use identity::{Identity, PgStore};
use identity_testkit::wire::RoundTripCounter;
use identity_testkit::{TestDb, wait_until};

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
    // one connection, warmed up on every path, so no statement needs preparing while counting;
    // its pool is ours, to see when the connection is back after its release ping
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .test_before_acquire(false)
        .connect(&counter.url(db.url()))
        .await
        .unwrap();
    let identity = Identity::from_store(PgStore::from_pool(pool.clone()));
    let back_in_the_pool = async || {
        wait_until(
            "the connection back in the pool",
            Duration::from_secs(5),
            async || pool.num_idle() == 1,
        )
        .await;
    };
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
    back_in_the_pool().await; // after the warm-up's last ping
    counter.take_pings();
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
    // the only other traffic: at most one release ping per checkout, after its answer
    back_in_the_pool().await;
    let pings = counter.take_pings();
    assert!(
        pings <= round_trips + 1,
        "{pings} pings for {} round trips",
        round_trips + 1
    );
}
