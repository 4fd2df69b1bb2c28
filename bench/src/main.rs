//! `identity-bench`: drives `identify` with a realistic checkout mix against memory, SQLite,
//! PostgreSQL and the HTTP service, and prints throughput, latency percentiles, round trips per
//! path, the `pgbench -S` ceiling and peak RSS. See BENCHMARKS.md for the commands and numbers.

mod erase;
mod grow;
mod hot;
mod import;
mod mix;
mod paths;
mod pg_cpu;
mod pgbench;
mod run;
mod scale;
mod stream;
mod target;
mod webhook;
mod workload;
mod writes;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;

use crate::hot::Regulars;
use crate::mix::{Dataset, Kind};
use crate::run::{Budget, Measured, rss_mib, run};
use crate::target::{Backend, Target};
use crate::workload::Workload;

/// Load generator for identify.
#[derive(Debug, Parser)]
#[command(name = "identity-bench", version)]
struct Args {
    /// Backends to drive, in order.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "memory,sqlite,postgres,http"
    )]
    backends: Vec<Backend>,
    /// Concurrent clients (also the PostgreSQL pool size and pgbench's -c).
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Seconds per backend (and for pgbench).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Which checkout mix: `default` (many small customers) or `hot` (200 regulars of 100 rows
    /// each, growing and merging; see BENCHMARKS.md).
    #[arg(long, value_enum, default_value = "default")]
    mix: MixKind,
    /// Customers seeded before the run (plus pairs that the 2% merges consume).
    #[arg(long, default_value_t = 10_000)]
    customers: u64,
    /// PostgreSQL server (a database is created and dropped per run).
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres",
        hide_env_values = true
    )]
    database_url: String,
    /// Seed of the mix.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Seconds, not minutes: tiny data, a quarter of a second per line (what CI runs so this
    /// cannot rot: the figures mean nothing, the run proves every path works).
    #[arg(long)]
    smoke: bool,
    /// Skip the pgbench -S comparison.
    #[arg(long)]
    no_pgbench: bool,
    /// Instead of the mix: returning latency at 10 thousand vs 1 million contacts (in one tenant,
    /// and in 1,000 tenants of 1,000), and merges of two customers of 1,000 rows.
    #[arg(long)]
    scale: bool,
    /// Instead of the mix: build one customer row by row to this many rows, then compare adding
    /// a row to it with adding one to a 1-row customer, on PostgreSQL and through the HTTP
    /// service (smoke mode: 200 rows).
    #[arg(long, value_name = "ROWS")]
    grow: Option<u64>,
    /// Instead of the mix: erase a customer of this many rows (and one of a hundredth of them)
    /// on SQLite and PostgreSQL while another tenant identifies (smoke mode: 2,000 rows).
    #[arg(long, value_name = "ROWS")]
    erase: Option<u64>,
    /// Instead of the mix: this many identifies on PostgreSQL, RSS after a tenth and after all.
    #[arg(long)]
    rss_check: Option<u64>,
    /// Instead of the mix: import a generated checkout stream with the `identity` binary (this
    /// many into PostgreSQL, a tenth, at most 1 million, into SQLite, which is also replayed
    /// through identify); smoke mode imports 20,000 and 5,000.
    #[arg(long)]
    import: Option<u64>,
    /// With --import N: write the N checkouts of the stream as CSV to this file and stop (to
    /// time `identity import FILE` by hand, or to profile it).
    #[arg(long, requires = "import", value_name = "FILE")]
    write_csv: Option<std::path::PathBuf>,
    /// Instead of the mix: what writes cost. Known checkouts only, the regulars mix, brand-new
    /// customers only and a new email on a known phone only, on PostgreSQL, over HTTP and on
    /// SQLite, beside `GET /readyz`, `pgbench -S` and `pgbench -N`, with PostgreSQL CPU per
    /// request.
    #[arg(long)]
    writes: bool,
    /// With --writes: only these workloads (known, regulars, regulars-200k-tenant,
    /// regulars-nojoin, brand-new, grow, known-1row, known-2000rows, known-20000rows; default
    /// all).
    #[arg(long, requires = "writes", value_delimiter = ',')]
    workloads: Vec<String>,
    /// With --writes: one webhook endpoint on each target, delivered by a sender on the
    /// target's handle to a receiver in this process (what the webhook sender costs).
    #[arg(long, requires = "writes")]
    webhook: bool,
}

/// The checkout mixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum MixKind {
    /// 75% returning, 10% single-field, 10% new value, 3% new customer, 2% merge over many
    /// small customers.
    Default,
    /// A shop's regulars: 75% returning, 12% single-field, 10% new email for a regular, 2% new
    /// customer, 1% joining two regulars.
    Hot,
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = Args::parse();
    if args.smoke {
        args.duration = 0.25;
        args.customers = args.customers.min(1_000);
        args.concurrency = args.concurrency.min(4);
    }
    let outcome = if let Some(n) = args.import {
        let n = if args.smoke { n.min(20_000) } else { n };
        let lite = if args.smoke {
            5_000
        } else {
            (n / 10).clamp(1, 1_000_000)
        };
        match &args.write_csv {
            Some(path) => import::write_only(path, n, args.seed),
            None => import::run(n, lite, args.seed).await,
        }
    } else if args.writes {
        writes::run_all(&args).await
    } else if let Some(rows) = args.grow {
        grow(&args, rows).await
    } else if let Some(rows) = args.erase {
        erase(&args, rows).await
    } else if args.scale {
        scale(&args).await
    } else if let Some(n) = args.rss_check {
        rss_check(&args, n).await
    } else {
        mix(&args).await
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("identity-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn workload(args: &Args) -> Workload {
    match args.mix {
        MixKind::Default => {
            // enough pairs for 2% of the operations the run can plausibly do
            let pairs = (args.duration * 30_000.0 * 0.02) as u64 + 100;
            Workload::Default(Dataset::new(args.customers, pairs))
        }
        MixKind::Hot if args.smoke => Workload::Hot(Regulars::new(20, 10)),
        MixKind::Hot => Workload::Hot(Regulars::new(200, 100)),
    }
}

async fn mix(args: &Args) -> Result<(), String> {
    match workload(args) {
        Workload::Default(data) => {
            println!(
                "identity-bench: {} clients, {} s per backend, {} customers seeded, seed {}",
                args.concurrency, args.duration, data.customers, args.seed
            );
            println!(
                "mix: 75% returning, 10% single-field, 10% new value, 3% new customer, 2% merge\n"
            );
        }
        Workload::Hot(regulars) => {
            println!(
                "identity-bench: {} clients, {} s per backend, {} regulars of {} rows seeded, seed {}",
                args.concurrency, args.duration, regulars.count, regulars.seeded_rows, args.seed
            );
            println!(
                "hot mix: 75% returning, 12% single-field, 10% new email for a regular, 2% new customer, 1% joining two regulars\n"
            );
        }
    }
    println!(
        "{:<10} {:>9} {:>10} {:>9} {:>9} {:>9} {:>7}",
        "backend", "ops", "ops/s", "p50 ms", "p95 ms", "p99 ms", "errors"
    );
    let budget = Budget::Time(Duration::from_secs_f64(args.duration));
    let connections = u32::try_from(args.concurrency).unwrap_or(16);
    let mut throughput = std::collections::BTreeMap::new();
    let mut failures = 0;
    for &backend in &args.backends {
        let work = workload(args);
        let target =
            Arc::new(Target::setup(backend, &work, &args.database_url, connections).await?);
        let measured = run(target.clone(), &work, args.concurrency, budget, args.seed).await;
        print_row(&format!("{backend:?}").to_lowercase(), &measured);
        failures += measured.errors;
        throughput.insert(format!("{backend:?}").to_lowercase(), measured.throughput());
        if let (Backend::Postgres, Workload::Default(data)) = (backend, &work) {
            let url = target.database_url.clone().unwrap_or_default();
            let trips = paths::round_trips(&url, data, if args.smoke { 5 } else { 50 }).await?;
            let shown: Vec<String> = Kind::ALL
                .iter()
                .map(|k| format!("{} {:.2}", k.name(), trips[k]))
                .collect();
            println!("           round trips per identify: {}", shown.join(", "));
        }
        if matches!(work, Workload::Hot(_)) {
            println!("           {}", regulars_grown(&target).await?);
        }
        if let Ok(target) = Arc::try_unwrap(target) {
            target.cleanup().await;
        }
    }
    println!();
    if let (Some(pg), Some(http)) = (throughput.get("postgres"), throughput.get("http")) {
        println!(
            "HTTP service / direct PostgreSQL throughput: {:.2}",
            http / pg
        );
    }
    if let (Some(pg), false) = (throughput.get("postgres"), args.no_pgbench) {
        let tps = pgbench::select_only_tps(
            &args.database_url,
            args.concurrency,
            budget_duration(budget),
        )
        .await?;
        println!(
            "pgbench -S, {} clients: {tps:.0} tps; identify / pgbench -S: {:.2}",
            args.concurrency,
            pg / tps
        );
    }
    let (rss, peak) = rss_mib();
    println!("RSS now {rss:.1} MiB, peak {peak:.1} MiB");
    if failures > 0 {
        return Err(format!("{failures} operations failed"));
    }
    Ok(())
}

/// How large the regulars are after a hot run: customers and rows of the largest.
async fn regulars_grown(target: &Target) -> Result<String, String> {
    let report = target.identity.verify().await.map_err(|e| e.chain())?;
    let phone = crate::hot::phone(0);
    let first = target
        .identity
        .lookup(None, Some(&phone))
        .await
        .map_err(|e| e.chain())?
        .map_or(0, |c| c.secondary_contact_ids.len() + 1);
    Ok(format!(
        "after the run: {} rows in {} customers; regular 0's customer has {first} rows; verify: {} problem(s)",
        report.rows,
        report.customers,
        report.problems.len()
    ))
}

fn budget_duration(budget: Budget) -> Duration {
    match budget {
        Budget::Time(d) => d,
        Budget::Ops(_) => Duration::from_secs(10),
    }
}

fn print_row(name: &str, m: &Measured) {
    println!(
        "{name:<10} {:>9} {:>10.0} {:>9.2} {:>9.2} {:>9.2} {:>7}",
        m.ops,
        m.throughput(),
        m.ms(0.50),
        m.ms(0.95),
        m.ms(0.99),
        m.errors
    );
    if let Some(e) = &m.first_error {
        println!("           first error: {e}");
    }
}

async fn grow(args: &Args, rows: u64) -> Result<(), String> {
    let (rows, samples) = if args.smoke {
        (rows.min(200), 50)
    } else {
        (rows, 500)
    };
    for f in grow::run(&args.database_url, rows, samples).await? {
        println!(
            "{}: built a customer row by row at {:.0} writes/s; adding a row to a 1-row \
             customer mean {:.3} ms (p50 {:.3}), to the customer of {}-{} rows mean {:.3} ms \
             (p50 {:.3}): {:.2}x (p50 {:.2}x); its answer {} bytes; joining a newer 1-row \
             customer into it mean {:.3} ms (p50 {:.3})",
            f.via,
            f.build_rate,
            f.small.mean_ms,
            f.small.p50_ms,
            f.rows.0,
            f.rows.1,
            f.large.mean_ms,
            f.large.p50_ms,
            f.large.mean_ms / f.small.mean_ms,
            f.large.p50_ms / f.small.p50_ms,
            f.answer_bytes,
            f.joins.mean_ms,
            f.joins.p50_ms
        );
    }
    Ok(())
}

async fn erase(args: &Args, rows: u64) -> Result<(), String> {
    let rows = if args.smoke { rows.min(2_000) } else { rows };
    for f in erase::run(&args.database_url, rows).await? {
        println!(
            "{}: erasing a customer of {} rows took {:.3} s, one of {} rows {:.3} s ({:.0}x the \
             time for {}x the rows); another tenant's {} identifies meanwhile: slowest {:.1} ms \
             (with nothing else running: {:.1} ms)",
            f.backend,
            f.large.0,
            f.large.1,
            f.small.0,
            f.small.1,
            f.large.1 / f.small.1.max(1e-9),
            f.large.0 / f.small.0.max(1),
            f.others.0,
            f.others.1,
            f.quiet_ms
        );
    }
    Ok(())
}

async fn scale(args: &Args) -> Result<(), String> {
    let (small, large, samples, merges) = if args.smoke {
        (1_000, 10_000, 300, 2)
    } else {
        (10_000, 1_000_000, 5_000, 5)
    };
    let p50_small = scale::returning_p50(&args.database_url, 1, small, samples).await?;
    println!("returning customer, {small} contacts: p50 {p50_small:.3} ms");
    let p50_large = scale::returning_p50(&args.database_url, 1, large, samples).await?;
    println!(
        "returning customer, {large} contacts: p50 {p50_large:.3} ms ({:.2}x)",
        p50_large / p50_small
    );
    // the same total spread over many tenants (issue 10: p50 within 1.2x of one tenant)
    let tenants = if args.smoke { 10 } else { 1_000 };
    let p50_tenants =
        scale::returning_p50(&args.database_url, tenants, large / tenants, samples).await?;
    println!(
        "returning customer, {large} contacts in {tenants} tenants of {}: p50 {p50_tenants:.3} ms ({:.2}x of one tenant)",
        large / tenants,
        p50_tenants / p50_large
    );
    let (sizes, size_samples, seconds): (&[u64], u64, f64) = if args.smoke {
        (&[1, 100], 50, 0.3)
    } else {
        (&[1, 100, 1_000, 10_000], 2_000, 3.0)
    };
    let figures = scale::customer_sizes(
        &args.database_url,
        sizes,
        size_samples,
        args.concurrency,
        seconds,
    )
    .await?;
    let base = figures.first().map_or(1.0, |f| f.p50_ms);
    for f in &figures {
        println!(
            "returning customer of {} rows: p50 {:.3} ms ({:.2}x of 1 row), {:.0}/s with {} clients",
            f.rows,
            f.p50_ms,
            f.p50_ms / base,
            f.throughput,
            args.concurrency
        );
    }
    let size = if args.smoke { 100 } else { 1_000 };
    let (time, trips) = scale::merge_large(&args.database_url, size, merges).await?;
    println!(
        "merge of two customers of {size} rows: median {:.1} ms, {trips:.1} round trips",
        time.as_secs_f64() * 1000.0
    );
    Ok(())
}

async fn rss_check(args: &Args, total: u64) -> Result<(), String> {
    let data = Workload::Default(Dataset::new(args.customers, total / 50 + 100));
    let connections = u32::try_from(args.concurrency).unwrap_or(16);
    let target =
        Arc::new(Target::setup(Backend::Postgres, &data, &args.database_url, connections).await?);
    let first = run(
        target.clone(),
        &data,
        args.concurrency,
        Budget::Ops(total / 10),
        args.seed,
    )
    .await;
    let (rss_tenth, _) = rss_mib();
    let rest = run(
        target.clone(),
        &data,
        args.concurrency,
        Budget::Ops(total - total / 10),
        args.seed + 1,
    )
    .await;
    let (rss_all, peak) = rss_mib();
    println!("{} identifies: RSS {rss_tenth:.1} MiB", first.ops);
    println!(
        "{} identifies: RSS {rss_all:.1} MiB ({:+.1}%), peak {peak:.1} MiB",
        first.ops + rest.ops,
        (rss_all / rss_tenth - 1.0) * 100.0
    );
    if let Ok(target) = Arc::try_unwrap(target) {
        target.cleanup().await;
    }
    if first.errors + rest.errors > 0 {
        return Err(format!("{} operations failed", first.errors + rest.errors));
    }
    Ok(())
}
