//! Scale scenarios on PostgreSQL: returning-customer latency at 10 thousand and at 1 million
//! contacts, and merging two customers of 1,000 rows each.

use std::time::{Duration, Instant};

use identity::{ConnectOptions, Identity};
use identity_testkit::wire::RoundTripCounter;

use crate::mix::{Dataset, Generator, Kind};
use crate::target::{create_database, drop_database, seed_postgres};

/// p50 latency (ms) of sequential returning-customer identifies over `contacts` seeded rows.
pub async fn returning_p50(admin_url: &str, contacts: u64, samples: u64) -> Result<f64, String> {
    let (url, name) = create_database(admin_url, "scale").await?;
    let result = async {
        let identity = Identity::connect(&url).await.map_err(|e| e.chain())?;
        seed_postgres(&url, contacts).await?;
        let data = Dataset::new(contacts, 0);
        let mut generator = Generator::new(11, 0, data);
        let mut latencies = Vec::with_capacity(usize::try_from(samples).unwrap_or(0));
        for i in 0..samples + 200 {
            let op = generator.op(Kind::Returning);
            let began = Instant::now();
            identity
                .identify(op.email.as_deref(), op.phone.as_deref())
                .await
                .map_err(|e| e.chain())?;
            if i >= 200 {
                latencies.push(began.elapsed()); // after 200 warm-up calls
            }
        }
        identity.close().await;
        latencies.sort();
        Ok(latencies[latencies.len() / 2].as_secs_f64() * 1000.0)
    }
    .await;
    drop_database(admin_url, &name).await;
    result
}

/// Merges of two customers of `size` rows each: (median time, round trips per merge).
pub async fn merge_large(
    admin_url: &str,
    size: u64,
    merges: u64,
) -> Result<(Duration, f64), String> {
    let (url, name) = create_database(admin_url, "merge").await?;
    let result = async {
        Identity::connect(&url).await.map_err(|e| e.chain())?.close().await; // migrate
        let pool = sqlx::PgPool::connect(&url).await.map_err(|e| e.to_string())?;
        for m in 0..merges * 2 {
            // a customer of `size` rows: one primary, the rest linked to it
            sqlx::query(
                "WITH p AS (
                     INSERT INTO contact (email, phone_number, link_precedence)
                     VALUES ('m' || $1 || '-0@big.test', '7' || $1 || '00000', 'primary') RETURNING id)
                 INSERT INTO contact (email, phone_number, linked_id, link_precedence)
                 SELECT 'm' || $1 || '-' || i || '@big.test', '7' || $1 || lpad(i::text, 5, '0'), p.id, 'secondary'
                 FROM p, generate_series(1, $2 - 1) AS i",
            )
            .bind(i64::try_from(m).map_err(|e| e.to_string())?)
            .bind(i64::try_from(size).map_err(|e| e.to_string())?)
            .execute(&pool)
            .await
            .map_err(|e| e.to_string())?;
        }
        sqlx::raw_sql("ANALYZE contact").execute(&pool).await.map_err(|e| e.to_string())?;
        pool.close().await;

        let counter = RoundTripCounter::start(&url).await;
        let options = ConnectOptions::default().max_connections(1).migrate(false);
        let identity = Identity::connect_with(&counter.url(&url), &options).await.map_err(|e| e.chain())?;
        // warm up the statements on the one connection with a small merge
        identity.identify(Some("w1@x.io"), Some("1")).await.map_err(|e| e.chain())?;
        identity.identify(Some("w2@x.io"), Some("2")).await.map_err(|e| e.chain())?;
        identity.identify(Some("w1@x.io"), Some("2")).await.map_err(|e| e.chain())?;
        let mut times = Vec::new();
        counter.take();
        for k in 0..merges {
            let (a, b) = (2 * k, 2 * k + 1);
            // a secondary's email of the first customer, a secondary's phone of the second
            let email = format!("m{a}-7@big.test");
            let phone = format!("7{b}00007");
            let began = Instant::now();
            let merged = identity.identify(Some(&email), Some(&phone)).await.map_err(|e| e.chain())?;
            times.push(began.elapsed());
            let rows = merged.secondary_contact_ids.len() as u64 + 1;
            if rows != 2 * size {
                return Err(format!("merge {k} produced a customer of {rows} rows, expected {}", 2 * size));
            }
        }
        let round_trips = counter.take() as f64 / merges as f64;
        identity.close().await;
        times.sort();
        Ok((times[times.len() / 2], round_trips))
    }
    .await;
    drop_database(admin_url, &name).await;
    result
}
