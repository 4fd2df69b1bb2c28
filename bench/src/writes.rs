//! `--writes`: what a write costs next to what the server can do, in one run. Four workloads
//! over the hot mix's regulars (known checkouts only, the regulars mix, brand-new customers
//! only, a new email on a known phone only) on PostgreSQL directly, over HTTP and on SQLite,
//! printed beside `GET /readyz` (HTTP and one round trip), `pgbench -S` and `pgbench -N`, with
//! PostgreSQL's CPU per request read from `/proc` (`crate::pg_cpu`), and this process's own (the
//! load generator and the library or service it drives: `own ms`, and both for `/readyz`, so
//! the gap between a line and `/readyz` shows on which side it is); with `--webhook`, with one
//! webhook endpoint delivered to while the load runs (`crate::webhook`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::hot::Regulars;
use crate::mix::Kind;
use crate::run::{Budget, Measured, rss_mib, run};
use crate::target::{Backend, Target};
use crate::workload::Workload;
use crate::{Args, pg_cpu, pgbench};

/// Customers of one size: (how many, rows each).
type Sized = (u64, u64);

/// The workloads, by name: one kind of checkout only, or the mix (`None`), over the regulars or
/// over customers of one size (`Some((customers, rows))`).
const WORKLOADS: [(&str, Option<Kind>, Option<Sized>); 9] = [
    ("known", Some(Kind::Returning), None),
    ("regulars", None, None),
    // the mix in a tenant that also holds 200,000 one-row customers: a write must cost what
    // it touches, not what the tenant holds
    ("regulars-200k-tenant", None, None),
    // the mix with its 1% of joins sent as known checkouts: no large customer forms
    ("regulars-nojoin", None, None),
    ("brand-new", Some(Kind::NewCustomer), None),
    ("grow", Some(Kind::NewValue), None),
    // a returning customer of 2,000 rows against one of a single row
    ("known-1row", Some(Kind::Returning), Some((2_000, 1))),
    ("known-2000rows", Some(Kind::Returning), Some((10, 2_000))),
    // the size the regulars' one customer reaches within a run (its joins merge them all):
    // what the mix's known checkouts cost at that size with nothing changing
    ("known-20000rows", Some(Kind::Returning), Some((1, 20_000))),
];

/// One workload's figures on one backend.
struct Row {
    backend: Backend,
    workload: &'static str,
    measured: Measured,
    /// PostgreSQL CPU per request, milliseconds.
    cpu_ms: Option<f64>,
    /// This process's CPU per request (the load generator and what it measures), milliseconds.
    own_ms: Option<f64>,
}

/// The `GET /readyz` line: requests per second, p99 ms, and CPU per request (PostgreSQL's,
/// this process's), milliseconds.
struct Readyz {
    rate: f64,
    p99: f64,
    cpu_ms: Option<f64>,
    own_ms: Option<f64>,
}

/// Runs every workload on every backend of `args.backends` that is PostgreSQL, HTTP or SQLite.
pub async fn run_all(args: &Args) -> Result<(), String> {
    let duration = Duration::from_secs_f64(args.duration);
    let regulars = if args.smoke {
        Regulars::new(20, 10)
    } else {
        Regulars::new(200, 100)
    };
    println!(
        "identity-bench --writes: {} clients, {} s per line, {} regulars of {} rows seeded per line, seed {}\n",
        args.concurrency, args.duration, regulars.count, regulars.seeded_rows, args.seed
    );
    let (select, write) = if args.no_pgbench {
        (None, None)
    } else {
        let select = pgbench::run(&args.database_url, args.concurrency, duration, "-S").await?;
        let write = pgbench::run(&args.database_url, args.concurrency, duration, "-N").await?;
        (Some(select), Some(write))
    };
    let connections = u32::try_from(args.concurrency).unwrap_or(16);
    let mut readyz = None;
    let mut rows = Vec::new();
    let backends = args.backends.iter().filter(|b| {
        matches!(
            b,
            Backend::Postgres | Backend::Http | Backend::Sqlite | Backend::Pgbouncer
        )
    });
    let chosen = WORKLOADS.iter().filter(|(name, _, _)| {
        args.workloads.is_empty() || args.workloads.iter().any(|w| w == name)
    });
    if let Some(unknown) = args
        .workloads
        .iter()
        .find(|w| !WORKLOADS.iter().any(|(name, _, _)| name == w))
    {
        let names: Vec<&str> = WORKLOADS.iter().map(|(name, _, _)| *name).collect();
        return Err(format!("no workload {unknown:?}: {}", names.join(", ")));
    }
    let chosen: Vec<_> = chosen.copied().collect();
    for &backend in backends {
        for &(workload, only, sized) in &chosen {
            let base = match sized {
                // smoke mode: a tenth of the rows
                Some((customers, rows)) if args.smoke => Regulars::new(customers, rows / 10 + 1),
                Some((customers, rows)) => Regulars::new(customers, rows),
                None => regulars.clone_fresh(),
            };
            let regulars = match only {
                Some(kind) => base.only(kind),
                None if workload == "regulars-nojoin" => base.without_joins(),
                None if workload == "regulars-200k-tenant" => {
                    base.with_bystanders(if args.smoke { 2_000 } else { 200_000 })
                }
                None => base,
            };
            let work = Workload::Hot(regulars);
            let target =
                Arc::new(Target::setup(backend, &work, &args.database_url, connections).await?);
            if backend == Backend::Http && readyz.is_none() {
                readyz = Some(load_readyz(&target, args.concurrency, duration).await?);
            }
            let endpoint = if args.webhook {
                Some(crate::webhook::attach(&target.identity).await?)
            } else {
                None
            };
            let (before, own_before) = (pg_cpu::seconds(), pg_cpu::own_seconds());
            let measured = run(
                target.clone(),
                &work,
                args.concurrency,
                Budget::Time(duration),
                args.seed,
            )
            .await;
            let (after, own_after) = (pg_cpu::seconds(), pg_cpu::own_seconds());
            let own_ms = pg_cpu::per_request(own_before, own_after, measured.ops);
            if let Some(endpoint) = endpoint {
                let said = endpoint.report(&target.identity).await;
                println!(
                    "{:<9} {workload} {said}",
                    format!("{backend:?}").to_lowercase()
                );
            }
            let cpu_ms = match backend {
                Backend::Postgres | Backend::Http | Backend::Pgbouncer => {
                    pg_cpu::per_request(before, after, measured.ops)
                }
                _ => None,
            };
            if let Some(e) = &measured.first_error {
                println!("{backend:?} {workload}: first error: {e}");
            }
            if workload == "regulars" || workload == "regulars-200k-tenant" {
                // the mix's joins make one large customer of the regulars: say how large
                let grown = crate::regulars_grown(&target).await?;
                println!(
                    "{:<9} {workload} {grown}",
                    format!("{backend:?}").to_lowercase()
                );
            }
            rows.push(Row {
                backend,
                workload,
                measured,
                cpu_ms,
                own_ms,
            });
            if let Ok(target) = Arc::try_unwrap(target) {
                target.cleanup().await;
            }
        }
    }
    print(&rows, readyz.as_ref(), select.as_ref(), write.as_ref());
    let brand_new = chosen.iter().any(|(name, _, _)| *name == "brand-new");
    if brand_new && args.backends.contains(&Backend::Postgres) {
        profile(args).await?;
    }
    let (rss, peak) = rss_mib();
    println!("RSS now {rss:.1} MiB, peak {peak:.1} MiB");
    let failed: u64 = rows.iter().map(|r| r.measured.errors).sum();
    if failed > 0 {
        return Err(format!("{failed} operations failed"));
    }
    Ok(())
}

/// `GET /readyz` (the service's answer after one round trip to the database) from `workers`
/// clients for `duration`.
async fn load_readyz(
    target: &Target,
    workers: usize,
    duration: Duration,
) -> Result<Readyz, String> {
    let Some(http) = target.http.clone() else {
        return Err("GET /readyz needs the HTTP target".to_owned());
    };
    let (cpu_before, own_before) = (pg_cpu::seconds(), pg_cpu::own_seconds());
    let deadline = Instant::now() + duration;
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..workers {
        let (url, client) = (http.readyz.clone(), http.client.clone());
        tasks.spawn(async move {
            let mut latency =
                Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds");
            while Instant::now() < deadline {
                let began = Instant::now();
                let response = client
                    .get(url.clone())
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                if !response.status().is_success() {
                    return Err(format!("GET /readyz: HTTP {}", response.status()));
                }
                response.bytes().await.map_err(|e| e.to_string())?;
                let micros = u64::try_from(began.elapsed().as_micros()).unwrap_or(u64::MAX);
                latency.saturating_record(micros.max(1));
            }
            Ok::<_, String>(latency)
        });
    }
    let mut all = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds");
    while let Some(joined) = tasks.join_next().await {
        let latency = joined.map_err(|e| e.to_string())??;
        all.add(&latency).map_err(|e| e.to_string())?;
    }
    let rate = all.len() as f64 / start.elapsed().as_secs_f64();
    let (cpu_after, own_after) = (pg_cpu::seconds(), pg_cpu::own_seconds());
    Ok(Readyz {
        rate,
        p99: all.value_at_quantile(0.99) as f64 / 1000.0,
        cpu_ms: pg_cpu::per_request(cpu_before, cpu_after, all.len()),
        own_ms: pg_cpu::per_request(own_before, own_after, all.len()),
    })
}

fn print(
    rows: &[Row],
    readyz: Option<&Readyz>,
    select: Option<&pgbench::Pgbench>,
    write: Option<&pgbench::Pgbench>,
) {
    let cpu = |c: Option<f64>| c.map_or("-".to_owned(), |c| format!("{c:.3}"));
    if let Some(r) = readyz {
        println!(
            "GET /readyz         {:>9.0} req/s  p99 {:.2} ms  CPU per request: PostgreSQL {} ms, this process {} ms",
            r.rate,
            r.p99,
            cpu(r.cpu_ms),
            cpu(r.own_ms)
        );
    }
    for (name, run) in [("pgbench -S", select), ("pgbench -N", write)] {
        if let Some(run) = run {
            println!(
                "{name}          {:>9.0} tps    PostgreSQL CPU {} ms per transaction",
                run.tps,
                cpu(run.cpu_ms)
            );
        }
    }
    println!(
        "\n{:<9} {:<20} {:>9} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>6}",
        "backend",
        "workload",
        "req/s",
        "p50 ms",
        "p99 ms",
        "/readyz",
        "/-N tps",
        "/known",
        "CPU ms",
        "/-N CPU",
        "own ms",
        "errors"
    );
    let ratio = |a: f64, b: Option<f64>| b.map_or("-".to_owned(), |b| format!("{:.2}", a / b));
    for row in rows {
        let rate = row.measured.throughput();
        let known = rows
            .iter()
            .find(|r| r.backend == row.backend && r.workload == "known")
            .map(|r| r.measured.throughput());
        let vs_readyz = match row.backend {
            Backend::Http => readyz.map(|r| r.rate),
            _ => None,
        };
        let vs_write = match row.backend {
            Backend::Postgres | Backend::Http | Backend::Pgbouncer => write.map(|w| w.tps),
            _ => None,
        };
        let cpu_ratio = match (row.cpu_ms, write.and_then(|w| w.cpu_ms)) {
            (Some(mine), Some(theirs)) => format!("{:.2}", mine / theirs),
            _ => "-".to_owned(),
        };
        println!(
            "{:<9} {:<20} {:>9.0} {:>8.2} {:>8.2} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>6}",
            format!("{:?}", row.backend).to_lowercase(),
            row.workload,
            rate,
            row.measured.ms(0.50),
            row.measured.ms(0.99),
            ratio(rate, vs_readyz),
            ratio(rate, vs_write),
            ratio(rate, known),
            cpu(row.cpu_ms),
            cpu_ratio,
            cpu(row.own_ms),
            row.measured.errors
        );
    }
    for backend in [
        Backend::Postgres,
        Backend::Http,
        Backend::Sqlite,
        Backend::Pgbouncer,
    ] {
        let rate = |name: &str| {
            rows.iter()
                .find(|r| r.backend == backend && r.workload == name)
                .map(|r| r.measured.throughput())
        };
        if let (Some(large), Some(small)) = (rate("known-2000rows"), rate("known-1row")) {
            println!(
                "{:<9} a returning 2,000-row customer / a 1-row one: {:.2}",
                format!("{backend:?}").to_lowercase(),
                large / small
            );
        }
    }
    println!();
}

/// Where a brand-new customer's time goes inside PostgreSQL: the library's SQL functions timed
/// by the server itself (`track_functions = 'pl'` on a database of its own), per call, after
/// `duration` of brand-new customers only from `workers` clients.
pub async fn profile(args: &Args) -> Result<(), String> {
    use crate::target::{create_database, drop_database};
    let (url, name) = create_database(&args.database_url, "profile").await?;
    let result = async {
        let admin = sqlx::PgPool::connect(&url)
            .await
            .map_err(|e| e.to_string())?;
        let alter = format!("ALTER DATABASE {name} SET track_functions = 'pl'");
        sqlx::raw_sql(sqlx::AssertSqlSafe(alter))
            .execute(&admin)
            .await
            .map_err(|e| e.to_string())?;
        let options = identity::ConnectOptions::default()
            .max_connections(u32::try_from(args.concurrency).unwrap_or(16));
        let identity = identity::Identity::connect_with(&url, &options)
            .await
            .map_err(|e| e.chain())?;
        let deadline = Instant::now() + Duration::from_secs_f64(args.duration);
        let mut tasks = tokio::task::JoinSet::new();
        for worker in 0..args.concurrency {
            let identity = identity.clone();
            tasks.spawn(async move {
                let mut n = 0u64;
                while Instant::now() < deadline {
                    n += 1;
                    let email = format!("p{worker}-{n}@profile.test");
                    let phone = format!("6{worker:03}{n:09}");
                    identity
                        .identify(Some(&email), Some(&phone))
                        .await
                        .map_err(|e| e.chain())?;
                }
                Ok::<u64, String>(n)
            });
        }
        let mut requests = 0;
        while let Some(joined) = tasks.join_next().await {
            requests += joined.map_err(|e| e.to_string())??;
        }
        identity.close().await; // its backends report their statistics as they exit
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let rows: Vec<(String, i64, f64, f64)> = sqlx::query_as(
            "SELECT funcname::text, calls, total_time, self_time FROM pg_stat_user_functions
             WHERE funcname LIKE 'identity\\_%' ORDER BY total_time DESC",
        )
        .fetch_all(&admin)
        .await
        .map_err(|e| e.to_string())?;
        admin.close().await;
        println!(
            "where a brand-new customer's time goes in PostgreSQL ({requests} requests, {} clients; per request, ms):",
            args.concurrency
        );
        println!("{:<28} {:>9} {:>11} {:>11}", "function", "calls", "total", "self");
        for (function, calls, total, own) in rows {
            let per = |ms: f64| ms / requests.max(1) as f64;
            println!(
                "{function:<28} {calls:>9} {:>11.4} {:>11.4}",
                per(total),
                per(own)
            );
        }
        Ok(())
    }
    .await;
    drop_database(&args.database_url, &name).await;
    result
}
