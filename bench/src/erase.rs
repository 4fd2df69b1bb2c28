//! Erasing a large customer (issue 29, item 7): one customer of many rows (a table's rows, so
//! that building it takes seconds), erased with suppression, against erasing a customer of
//! 1/100 the rows; meanwhile another tenant identifies without pause, and its slowest answer
//! says how long the erase held up everyone else. On SQLite (one writer for every tenant) and
//! PostgreSQL.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use identity::import::{ImportOptions, TableRow};
use identity::{ContactId, Identity};

use crate::target::{create_database, drop_database};

/// What one backend measured.
pub struct EraseFigures {
    /// `sqlite` or `postgres`.
    pub backend: &'static str,
    /// Rows of the large customer, and the seconds its erase took.
    pub large: (u64, f64),
    /// Rows of the small customer, and the seconds its erase took.
    pub small: (u64, f64),
    /// Another tenant's identifies during the large erase: how many, and the slowest, ms.
    pub others: (u64, f64),
    /// The same tenant's slowest identify with nothing else running, ms.
    pub quiet_ms: f64,
}

/// Builds and erases on SQLite (a temporary file) and on a database of `admin_url`.
pub async fn run(admin_url: &str, rows: u64) -> Result<Vec<EraseFigures>, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let sqlite = format!("sqlite://{}", dir.path().join("erase.db").display());
    let mut out = vec![measure("sqlite", &sqlite, rows).await?];
    let (url, name) = create_database(admin_url, "erase").await?;
    let pg = measure("postgres", &url, rows).await;
    drop_database(admin_url, &name).await;
    out.push(pg?);
    Ok(out)
}

/// A customer of `rows` rows from id `first` on: each row its own email and phone, linked to
/// the first.
fn customer(first: u64, rows: u64) -> Vec<TableRow> {
    let at = time::OffsetDateTime::from_unix_timestamp(1_680_343_200)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    (first..first + rows)
        .map(|id| {
            let row = TableRow::new(id)
                .email(format!("row{id}@large.example"))
                .phone_number(format!("+1555{id:07}"))
                .created_at(at);
            if id == first {
                row
            } else {
                row.linked_to(first)
            }
        })
        .collect()
}

async fn measure(backend: &'static str, url: &str, rows: u64) -> Result<EraseFigures, String> {
    let fail = |e: identity::Error| e.chain();
    let identity = identity::connect(url).await.map_err(fail)?;
    let small_rows = (rows / 100).max(1);
    let large = identity.tenant("large").map_err(fail)?;
    let small = identity.tenant("small").map_err(fail)?;
    large
        .import_table(customer(1, rows), ImportOptions::default())
        .await
        .map_err(fail)?;
    small
        .import_table(customer(rows + 1, small_rows), ImportOptions::default())
        .await
        .map_err(fail)?;
    let other = identity.tenant("other").map_err(fail)?;
    let quiet = identifies(&other, 200, None).await?;

    let started = Instant::now();
    small
        .erase(
            ContactId::new(i64::try_from(rows + 1).unwrap_or(i64::MAX)),
            true,
        )
        .await
        .map_err(fail)?;
    let small_secs = started.elapsed().as_secs_f64();

    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (other, stop) = (other.clone(), stop.clone());
        tokio::spawn(async move { identifies(&other, u64::MAX, Some(&stop)).await })
    };
    // let the other tenant's writes start before the erase does
    tokio::time::sleep(Duration::from_millis(50)).await;
    let started = Instant::now();
    let erased = large.erase(ContactId::new(1), true).await.map_err(fail);
    let large_secs = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let others = writer.await.map_err(|e| e.to_string())??;
    erased?;
    let report = identity.verify().await.map_err(fail)?;
    if !report.is_clean() {
        return Err(format!("{backend}: verify after the erase: {report}"));
    }
    identity.close().await;
    Ok(EraseFigures {
        backend,
        large: (rows, large_secs),
        small: (small_rows, small_secs),
        others: (others.0, others.1),
        quiet_ms: quiet.1,
    })
}

/// Identifies new customers one after another, `count` of them or until `stop`: how many, and
/// the slowest answer in ms.
async fn identifies(
    identity: &Identity,
    count: u64,
    stop: Option<&AtomicBool>,
) -> Result<(u64, f64), String> {
    let mut slowest = Duration::ZERO;
    let mut n = 0;
    let salt = std::process::id();
    while n < count && !stop.is_some_and(|s| s.load(Ordering::Relaxed)) {
        let started = Instant::now();
        identity
            .identify(Some(&format!("other{salt}-{n}-{count}@shop.example")), None)
            .await
            .map_err(|e| e.chain())?;
        slowest = slowest.max(started.elapsed());
        n += 1;
    }
    Ok((n, slowest.as_secs_f64() * 1000.0))
}
