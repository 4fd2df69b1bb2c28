//! The import benchmark: a realistic checkout stream written as CSV, imported by the
//! `identity` binary into PostgreSQL and into SQLite (wall time and the process's peak memory),
//! and the SQLite stream replayed through `identify` one checkout at a time for comparison.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use identity_testkit::TestDb;

use crate::stream::write_csv;

/// What one import run measured.
struct Imported {
    took: Duration,
    peak_mib: f64,
    summary: String,
}

/// The `identity` binary beside this one (build it with `cargo build -p identity-cli`, in the
/// same profile).
fn identity_binary() -> Result<PathBuf, String> {
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let bin = me.with_file_name("identity");
    if bin.exists() {
        Ok(bin)
    } else {
        Err(format!(
            "{} not found: build it first (cargo build --release -p identity-cli)",
            bin.display()
        ))
    }
}

/// Runs `identity import file --database-url url`, polling its peak resident memory.
async fn import(file: &Path, url: &str) -> Result<Imported, String> {
    let started = Instant::now();
    let mut child = tokio::process::Command::new(identity_binary()?)
        .arg("import")
        .arg(file)
        .args(["--database-url", url])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let status_file = format!("/proc/{}/status", child.id().unwrap_or(0));
    let mut peak_kib = 0.0f64;
    let output = loop {
        if let Ok(status) = std::fs::read_to_string(&status_file)
            && let Some(kib) = status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
        {
            peak_kib = peak_kib.max(kib);
        }
        if child.try_wait().map_err(|e| e.to_string())?.is_some() {
            break child.wait_with_output().await.map_err(|e| e.to_string())?;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let took = started.elapsed();
    if !output.status.success() {
        return Err(format!(
            "identity import failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(Imported {
        took,
        peak_mib: peak_kib / 1024.0,
        summary: String::from_utf8_lossy(&output.stdout).into_owned(),
    })
}

/// The figure after `label:` in an import summary.
fn figure(summary: &str, label: &str) -> String {
    summary
        .lines()
        .find_map(|l| l.strip_prefix(label))
        .map(|rest| rest.trim().to_owned())
        .unwrap_or_default()
}

fn print(name: &str, count: u64, m: &Imported) {
    println!(
        "{name:<22} {count:>10} checkouts  {:>7.1} s  {:>9.0} checkouts/s  peak {:>6.0} MiB  rows {}  customers {}",
        m.took.as_secs_f64(),
        count as f64 / m.took.as_secs_f64(),
        m.peak_mib,
        figure(&m.summary, "rows:"),
        figure(&m.summary, "customers:"),
    );
}

/// Writes `count` checkouts of the stream to `path` as CSV.
pub fn write_only(path: &Path, count: u64, seed: u64) -> Result<(), String> {
    let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let people = write_csv(count, seed, &mut out).map_err(|e| e.to_string())?;
    std::io::Write::flush(&mut out).map_err(|e| e.to_string())?;
    println!(
        "wrote {count} checkouts of {people} people to {}",
        path.display()
    );
    Ok(())
}

/// Imports `pg_count` checkouts into PostgreSQL and `sqlite_count` into SQLite, then replays
/// the SQLite stream through identify.
pub async fn run(pg_count: u64, sqlite_count: u64, seed: u64) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let write = |count: u64, name: &str| -> Result<(PathBuf, u64, Duration), String> {
        let started = Instant::now();
        let path = dir.path().join(name);
        let file = std::fs::File::create(&path).map_err(|e| e.to_string())?;
        let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
        let people = write_csv(count, seed, &mut out).map_err(|e| e.to_string())?;
        std::io::Write::flush(&mut out).map_err(|e| e.to_string())?;
        Ok((path, people, started.elapsed()))
    };
    println!("import: the identity binary, one process per run, peak RSS polled from /proc");

    let (file, people, wrote) = write(pg_count, "pg.csv")?;
    eprintln!(
        "wrote {pg_count} checkouts of {people} people in {:.1} s",
        wrote.as_secs_f64()
    );
    let db = TestDb::create().await;
    let pg = import(&file, db.url()).await?;
    print("postgres import", pg_count, &pg);
    drop(db);
    std::fs::remove_file(&file).map_err(|e| e.to_string())?;

    let (file, _, _) = write(sqlite_count, "sqlite.csv")?;
    let url = format!("sqlite://{}", dir.path().join("import.db").display());
    let lite = import(&file, &url).await?;
    print("sqlite import", sqlite_count, &lite);

    // the same stream, one identify at a time in time order: what import replaces
    let replay_url = format!("sqlite://{}", dir.path().join("replay.db").display());
    let identity = identity::connect(&replay_url)
        .await
        .map_err(|e| e.to_string())?;
    let text = std::fs::read_to_string(&file).map_err(|e| e.to_string())?;
    let started = Instant::now();
    for line in text.lines().skip(1) {
        let mut fields = line.split(',');
        let (email, phone) = (fields.next(), fields.next());
        identity
            .identify(
                email.filter(|e| !e.is_empty()),
                phone.filter(|p| !p.is_empty()),
            )
            .await
            .map_err(|e| e.to_string())?;
    }
    let replay = started.elapsed();
    println!(
        "{:<22} {sqlite_count:>10} checkouts  {:>7.1} s  {:>9.0} checkouts/s  ({:.1}x the import)",
        "sqlite replay",
        replay.as_secs_f64(),
        sqlite_count as f64 / replay.as_secs_f64(),
        replay.as_secs_f64() / lite.took.as_secs_f64()
    );
    let (imported, replayed) = (
        identity::connect(&url).await.map_err(|e| e.to_string())?,
        identity,
    );
    let (a, b) = (
        imported.customers().await.map_err(|e| e.to_string())?,
        replayed.customers().await.map_err(|e| e.to_string())?,
    );
    if a != b {
        return Err("the import and the replay disagree".to_owned());
    }
    println!("import == replay: {} customers, the same", a.len());
    Ok(())
}
