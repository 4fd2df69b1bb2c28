//! Scale scenarios on PostgreSQL: returning customers of 1 to 10,000 rows; returning latency at
//! 10 thousand and at 1 million contacts, in one tenant and spread over many; merging two
//! customers of 1,000 rows each.

use std::time::{Duration, Instant};

use identity::{ConnectOptions, Identity};
use identity_testkit::wire::RoundTripCounter;

use crate::mix::{Rng, email, phone};
use crate::target::{bulk_load, create_database, drop_database};

/// p50 latency (ms) of sequential returning-customer identifies (a random customer's email and
/// phone per call) over `tenants` tenants of `per_tenant` single-row customers each, seeded in
/// bulk; `tenants = 1` is one tenant of that size. The same code path and data whatever the
/// split, so the figures of one run compare.
pub async fn returning_p50(
    admin_url: &str,
    tenants: u64,
    per_tenant: u64,
    samples: u64,
) -> Result<f64, String> {
    let (url, name) = create_database(admin_url, "scale").await?;
    let result = async {
        let identity = Identity::connect(&url).await.map_err(|e| e.chain())?;
        let (t, n) = (
            i64::try_from(tenants).map_err(|e| e.to_string())?,
            i64::try_from(per_tenant).map_err(|e| e.to_string())?,
        );
        bulk_load(
            &url,
            &[(
                "INSERT INTO contact (tenant_id, email, phone_number, link_precedence)
                 SELECT 'shop-' || (i / $2), 'c' || i || '@seed.test', '1' || lpad(i::text, 9, '0'),
                        'primary'
                 FROM generate_series(0, $1 * $2 - 1) AS i",
                &[t, n],
            )],
        )
        .await?;
        let handles: Vec<Identity> = (0..tenants)
            .map(|k| identity.tenant(&format!("shop-{k}")).map_err(|e| e.chain()))
            .collect::<Result<_, _>>()?;
        for handle in &handles {
            handle.rebuild().await.map_err(|e| e.chain())?;
        }
        let mut rng = Rng::new(13, 0);
        let mut latencies = Vec::with_capacity(usize::try_from(samples).unwrap_or(0));
        for i in 0..samples + 200 {
            let row = rng.below(tenants * per_tenant);
            let handle = &handles[usize::try_from(row / per_tenant).unwrap_or(0)];
            let (email, phone) = (email(row), phone(row));
            let began = Instant::now();
            handle
                .identify(Some(&email), Some(&phone))
                .await
                .map_err(|e| e.chain())?;
            if i >= 200 {
                latencies.push(began.elapsed()); // after 200 warm-up calls
            }
        }
        identity.close().await;
        Ok(median_ms(latencies))
    }
    .await;
    drop_database(admin_url, &name).await;
    result
}

fn median_ms(mut latencies: Vec<Duration>) -> f64 {
    latencies.sort();
    latencies[latencies.len() / 2].as_secs_f64() * 1000.0
}

/// What returning customers of one size cost.
pub struct SizeFigures {
    /// Rows per customer.
    pub rows: u64,
    /// p50 of sequential returning identifies, ms.
    pub p50_ms: f64,
    /// Returning identifies per second from `clients` concurrent clients.
    pub throughput: f64,
}

/// The email of row `k` of customer `c` among the customers of `size` rows.
fn size_email(size: u64, c: u64, k: u64) -> String {
    format!("s{size}c{c}e{k}@size.test")
}

/// That customer's phone number.
fn size_phone(size: u64, c: u64) -> String {
    format!("5{size:06}{c:04}")
}

/// Customers of each of `sizes` rows (one phone, an email per row) in one database; for each
/// size, the p50 of `samples` sequential returning identifies (a random row's email with the
/// phone) and the throughput of `clients` concurrent clients for `seconds`.
pub async fn customer_sizes(
    admin_url: &str,
    sizes: &[u64],
    samples: u64,
    clients: usize,
    seconds: f64,
) -> Result<Vec<SizeFigures>, String> {
    let (url, name) = create_database(admin_url, "sizes").await?;
    let result = async {
        let options = ConnectOptions::default()
            .max_connections(u32::try_from(clients).unwrap_or(16))
            .acquire_timeout(Duration::from_secs(30));
        let identity = Identity::connect_with(&url, &options)
            .await
            .map_err(|e| e.chain())?;
        for &size in sizes {
            let size = i64::try_from(size).map_err(|e| e.to_string())?;
            bulk_load(
                &url,
                &[
                    (
                        "INSERT INTO contact (email, phone_number, link_precedence)
                         SELECT 's' || $1 || 'c' || c || 'e0@size.test',
                                '5' || lpad($1::text, 6, '0') || lpad(c::text, 4, '0'), 'primary'
                         FROM generate_series(0, $2 - 1) AS c ORDER BY c",
                        &[size, copies(size)],
                    ),
                    (
                        "INSERT INTO contact (email, phone_number, linked_id, link_precedence)
                         SELECT 's' || $1 || 'c' || c || 'e' || k || '@size.test', p.phone_number,
                                p.id, 'secondary'
                         FROM generate_series(1, $1 - 1) AS k CROSS JOIN generate_series(0, $2 - 1) AS c
                         JOIN contact AS p ON p.email = 's' || $1 || 'c' || c || 'e0@size.test'
                         ORDER BY k, c",
                        &[size, copies(size)],
                    ),
                ],
            )
            .await?;
        }
        identity.rebuild().await.map_err(|e| e.chain())?;
        let mut figures = Vec::new();
        for &size in sizes {
            let customers = u64::try_from(copies(i64::try_from(size).unwrap_or(1))).unwrap_or(1);
            let op = move |rng: &mut Rng| {
                let c = rng.below(customers);
                (size_email(size, c, rng.below(size)), size_phone(size, c))
            };
            let mut rng = Rng::new(size, 0);
            let mut latencies = Vec::new();
            for i in 0..samples + 100 {
                let (email, phone) = op(&mut rng);
                let began = Instant::now();
                let answer = identity
                    .identify(Some(&email), Some(&phone))
                    .await
                    .map_err(|e| e.chain())?;
                if i >= 100 {
                    latencies.push(began.elapsed());
                }
                if answer.secondary_contact_ids.len() as u64 + 1 != size {
                    return Err(format!("a customer of {size} rows answered {answer:?}"));
                }
            }
            let deadline = Instant::now() + Duration::from_secs_f64(seconds);
            let mut tasks = tokio::task::JoinSet::new();
            for worker in 0..clients {
                let identity = identity.clone();
                tasks.spawn(async move {
                    let mut rng = Rng::new(size, worker as u64 + 1);
                    let mut done = 0u64;
                    while Instant::now() < deadline {
                        let (email, phone) = op(&mut rng);
                        identity.identify(Some(&email), Some(&phone)).await?;
                        done += 1;
                    }
                    Ok::<u64, identity::Error>(done)
                });
            }
            let began = Instant::now();
            let mut total = 0;
            for done in tasks.join_all().await {
                total += done.map_err(|e| e.chain())?;
            }
            figures.push(SizeFigures {
                rows: size,
                p50_ms: median_ms(latencies),
                throughput: total as f64 / began.elapsed().as_secs_f64().max(seconds),
            });
        }
        identity.close().await;
        Ok(figures)
    }
    .await;
    drop_database(admin_url, &name).await;
    result
}

/// How many customers of `size` rows to make: enough to spread the load, about 20,000 rows.
fn copies(size: i64) -> i64 {
    (20_000 / size).clamp(2, 200)
}

/// Merges of two customers of `size` rows each: (median time, round trips per merge).
pub async fn merge_large(
    admin_url: &str,
    size: u64,
    merges: u64,
) -> Result<(Duration, f64), String> {
    let (url, name) = create_database(admin_url, "merge").await?;
    let result = async {
        let identity = Identity::connect(&url).await.map_err(|e| e.chain())?;
        let size = i64::try_from(size).map_err(|e| e.to_string())?;
        let count = i64::try_from(merges * 2).map_err(|e| e.to_string())?;
        // customers of `size` rows: one primary, the rest linked to it
        bulk_load(
            &url,
            &[
                (
                    "INSERT INTO contact (email, phone_number, link_precedence)
                     SELECT 'm' || m || '-0@big.test', '7' || m || '00000', 'primary'
                     FROM generate_series(0, $1 - 1) AS m ORDER BY m",
                    &[count],
                ),
                (
                    "INSERT INTO contact (email, phone_number, linked_id, link_precedence)
                     SELECT 'm' || m || '-' || i || '@big.test', '7' || m || lpad(i::text, 5, '0'),
                            p.id, 'secondary'
                     FROM generate_series(0, $1 - 1) AS m CROSS JOIN generate_series(1, $2 - 1) AS i
                     JOIN contact AS p ON p.email = 'm' || m || '-0@big.test'
                     ORDER BY m, i",
                    &[count, size],
                ),
            ],
        )
        .await?;
        identity.rebuild().await.map_err(|e| e.chain())?;
        identity.close().await;

        let counter = RoundTripCounter::start(&url).await;
        let options = ConnectOptions::default().max_connections(1).migrate(false);
        let identity = Identity::connect_with(&counter.url(&url), &options)
            .await
            .map_err(|e| e.chain())?;
        // warm up the statements on the one connection with a small merge
        identity
            .identify(Some("w1@x.io"), Some("1"))
            .await
            .map_err(|e| e.chain())?;
        identity
            .identify(Some("w2@x.io"), Some("2"))
            .await
            .map_err(|e| e.chain())?;
        identity
            .identify(Some("w1@x.io"), Some("2"))
            .await
            .map_err(|e| e.chain())?;
        let mut times = Vec::new();
        counter.take();
        for k in 0..merges {
            let (a, b) = (2 * k, 2 * k + 1);
            // a secondary's email of the first customer, a secondary's phone of the second
            let email = format!("m{a}-7@big.test");
            let phone = format!("7{b}00007");
            let began = Instant::now();
            let merged = identity
                .identify(Some(&email), Some(&phone))
                .await
                .map_err(|e| e.chain())?;
            times.push(began.elapsed());
            let rows = merged.secondary_contact_ids.len() as i64 + 1;
            if rows != 2 * size {
                return Err(format!(
                    "merge {k} produced a customer of {rows} rows, expected {}",
                    2 * size
                ));
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
