//! Runs the mix against a target with N concurrent workers and measures throughput, latency
//! percentiles and errors.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::mix::Kind;
use crate::target::Target;
use crate::workload::Workload;

/// What one run measured.
pub struct Measured {
    /// Operations completed.
    pub ops: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// Latency of every operation, microseconds.
    pub latency: Histogram<u64>,
    /// Operations per kind.
    pub per_kind: BTreeMap<Kind, u64>,
    /// Failed operations, with the first message.
    pub errors: u64,
    /// The first error, if any.
    pub first_error: Option<String>,
}

impl Measured {
    /// Operations per second.
    pub fn throughput(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64()
    }

    /// A latency percentile in milliseconds.
    pub fn ms(&self, quantile: f64) -> f64 {
        self.latency.value_at_quantile(quantile) as f64 / 1000.0
    }
}

/// How long, or how many operations.
#[derive(Debug, Clone, Copy)]
pub enum Budget {
    /// Until this much time has passed.
    Time(Duration),
    /// Exactly this many operations in all.
    Ops(u64),
}

/// Runs `workers` workers on `target` until the budget is spent.
pub async fn run(
    target: Arc<Target>,
    workload: &Workload,
    workers: usize,
    budget: Budget,
    seed: u64,
) -> Measured {
    let start = Instant::now();
    let remaining = Arc::new(std::sync::atomic::AtomicI64::new(match budget {
        Budget::Ops(n) => i64::try_from(n).unwrap_or(i64::MAX),
        Budget::Time(_) => i64::MAX,
    }));
    let deadline = match budget {
        Budget::Time(d) => start + d,
        Budget::Ops(_) => start + Duration::from_secs(24 * 3600),
    };
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..workers {
        let (target, remaining) = (target.clone(), remaining.clone());
        let mut generator = workload.source(seed, worker as u64);
        tasks.spawn(async move {
            let mut latency =
                Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds");
            let mut per_kind: BTreeMap<Kind, u64> = BTreeMap::new();
            let (mut errors, mut first_error) = (0u64, None);
            while Instant::now() < deadline
                && remaining.fetch_sub(1, std::sync::atomic::Ordering::Relaxed) > 0
            {
                let op = generator.next_op();
                let began = Instant::now();
                let outcome = target.send(&op).await;
                let micros = u64::try_from(began.elapsed().as_micros())
                    .unwrap_or(u64::MAX)
                    .max(1);
                latency.saturating_record(micros);
                *per_kind.entry(op.kind).or_default() += 1;
                if let Err(e) = outcome {
                    errors += 1;
                    first_error.get_or_insert(e);
                }
            }
            (latency, per_kind, errors, first_error)
        });
    }
    let mut total = Measured {
        ops: 0,
        elapsed: Duration::ZERO,
        latency: Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds"),
        per_kind: BTreeMap::new(),
        errors: 0,
        first_error: None,
    };
    while let Some(joined) = tasks.join_next().await {
        let (latency, per_kind, errors, first_error) = joined.expect("worker panicked");
        total.latency.add(&latency).expect("same bounds");
        for (kind, n) in per_kind {
            *total.per_kind.entry(kind).or_default() += n;
            total.ops += n;
        }
        total.errors += errors;
        if total.first_error.is_none() {
            total.first_error = first_error;
        }
    }
    total.elapsed = start.elapsed();
    total
}

/// (current, peak) resident set size of this process in MiB, from /proc.
pub fn rss_mib() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}
