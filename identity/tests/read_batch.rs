//! `identity_read_batch` (a batch of reads in one query, migrations
//! `*_read_batch_one_query.sql` and `*_read_batch_first_meeting.sql`), and the same query as
//! the store's own statement (`store/postgres/read_batch.rs`), answer what reading each request
//! alone with `identity_read_known` answers, row for row and column for column, when each read
//! holds what the caller holds plus every record and base an earlier row sent (the contract
//! `store/postgres/reads.rs` decodes by).

use identity_testkit as common;

use identity_testkit::TestDb;

/// A row as text, with the versions and bases it names (email's customer, phone's).
type Row = (String, Option<i64>, Option<i64>, Option<i64>, Option<i64>);

const ROW: &str = "r::text, r.e_version, r.e_base_version, r.p_version, r.p_base_version";

/// The loop the batch replaces: each request read alone, holding what the rows before it sent.
async fn read_alone(
    pool: &sqlx::PgPool,
    requests: &[(Option<String>, Option<String>)],
    held: &(Vec<i64>, Vec<i64>),
) -> Vec<String> {
    let (mut versions, mut bases) = held.clone();
    let mut rows = Vec::new();
    for (email, phone) in requests {
        let (text, e_version, e_base, p_version, p_base): Row =
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {ROW} FROM identity_read_known('default', $1, $2, $3, $4) AS r"
            )))
            .bind(email)
            .bind(phone)
            .bind(&versions)
            .bind(&bases)
            .fetch_one(pool)
            .await
            .unwrap();
        for (version, base) in [(e_version, e_base), (p_version, p_base)] {
            if let (Some(version), Some(base)) = (version, base)
                && !versions.contains(&version)
            {
                versions.push(version);
                bases.push(base);
            }
        }
        rows.push(text);
    }
    rows
}

async fn read_batch(
    pool: &sqlx::PgPool,
    requests: &[(Option<String>, Option<String>)],
    held: &(Vec<i64>, Vec<i64>),
) -> Vec<String> {
    let (emails, phones): (Vec<Option<String>>, Vec<Option<String>>) =
        requests.iter().cloned().unzip();
    sqlx::query_scalar("SELECT r::text FROM identity_read_batch('default', $1, $2, $3, $4) AS r")
        .bind(emails)
        .bind(phones)
        .bind(&held.0)
        .bind(&held.1)
        .fetch_all(pool)
        .await
        .unwrap()
}

/// The same batch as the store sends it on one server over direct connections: its own
/// statement, the requests bound one by one.
async fn read_inline(
    pool: &sqlx::PgPool,
    requests: &[(Option<String>, Option<String>)],
    held: &(Vec<i64>, Vec<i64>),
) -> Vec<String> {
    let statement = identity::store::postgres::read_batch_statement(requests.len());
    let slots = requests.len().next_power_of_two();
    let mut query = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT q::text FROM ({statement}) AS q"
    )))
    .bind("default")
    .bind(&held.0)
    .bind(&held.1)
    .bind(i32::try_from(requests.len()).unwrap());
    for slot in 0..slots {
        let (email, phone) = requests.get(slot).cloned().unwrap_or_default();
        query = query.bind(email).bind(phone);
    }
    query.fetch_all(pool).await.unwrap()
}

/// A small deterministic generator (the batches are the same on every run).
struct Draw(u64);

impl Draw {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

#[tokio::test]
async fn a_batch_answers_each_request_as_its_read_alone_would() {
    let db = TestDb::create().await;
    let identity = identity::connect(db.url()).await.unwrap();
    // a customer of 45 rows (its tail folded into the base at the 32nd, 13 rows of tail since),
    // one of 3 rows (all tail), two joined by a merge (all base), and five of one row
    let mut checkouts: Vec<(String, String)> = Vec::new();
    checkouts.extend((0..45).map(|row| (format!("large{row}@batch.io"), "5550100".into())));
    checkouts.extend((0..3).map(|row| (format!("small{row}@batch.io"), "5550200".into())));
    for (email, phone) in [("x", "5550301"), ("y", "5550302"), ("x", "5550302")] {
        checkouts.push((format!("{email}@batch.io"), phone.into()));
    }
    checkouts.extend((0..5).map(|k| (format!("one{k}@batch.io"), format!("555040{k}"))));
    for (email, phone) in &checkouts {
        identity.identify(Some(email), Some(phone)).await.unwrap();
    }
    // another tenant holding some of the same values, which no read of the default tenant meets
    let other = identity.tenant("other-shop").unwrap();
    for (email, phone) in checkouts.iter().step_by(7) {
        other.identify(Some(email), Some(phone)).await.unwrap();
    }
    let pool = db.pool().await;
    let stored: Vec<(String, String)> = sqlx::query_as(
        "SELECT kind, value FROM identity_identifier WHERE tenant_id = 'default'
             ORDER BY kind, value",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let values = |kind: &str| -> Vec<Option<String>> {
        let mut found: Vec<Option<String>> = stored
            .iter()
            .filter(|(k, _)| k == kind)
            .map(|(_, v)| Some(v.clone()))
            .collect();
        found.push(None);
        found.push(Some(format!("unknown-{kind}")));
        found
    };
    let (emails, phones) = (values("email"), values("phone"));
    let records: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT version, base_version FROM identity_customer WHERE tenant_id = 'default'
             ORDER BY primary_id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(
        records.iter().any(|(version, base)| version != base),
        "a record with a tail"
    );
    // what the caller holds: nothing; every record; every base but no record (tails sent);
    // every other record
    let held_sets: Vec<(Vec<i64>, Vec<i64>)> = vec![
        (Vec::new(), Vec::new()),
        records.iter().copied().unzip(),
        (Vec::new(), records.iter().map(|r| r.1).collect()),
        records.iter().step_by(2).copied().unzip(),
    ];
    let mut draw = Draw(31);
    let mut rows_compared = 0;
    for batch in 0..240 {
        let size = 1 + draw.below(10);
        let requests: Vec<(Option<String>, Option<String>)> = (0..size)
            .map(|_| {
                (
                    emails[draw.below(emails.len())].clone(),
                    phones[draw.below(phones.len())].clone(),
                )
            })
            .collect();
        let held = &held_sets[batch % held_sets.len()];
        let alone = read_alone(&pool, &requests, held).await;
        let together = read_batch(&pool, &requests, held).await;
        assert_eq!(together, alone, "batch {batch}: {requests:?}");
        let inline = read_inline(&pool, &requests, held).await;
        assert_eq!(
            inline, alone,
            "batch {batch}, its own statement: {requests:?}"
        );
        rows_compared += alone.len();
    }
    assert!(rows_compared > 1_000);
    common::assert_sql_invariants(&pool).await;
    identity.close().await;
}
