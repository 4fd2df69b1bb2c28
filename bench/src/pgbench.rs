//! The server's yardsticks for comparison, at the same client count on the same PostgreSQL:
//! `pgbench -S` (select-only, one indexed read per transaction) and `pgbench -N` (three updates
//! and an insert, committed: a small write transaction).

use std::time::Duration;

use crate::target::{create_database, drop_database};

/// pgbench -S transactions per second, or why it could not run.
pub async fn select_only_tps(
    admin_url: &str,
    clients: usize,
    duration: Duration,
) -> Result<f64, String> {
    Ok(run(admin_url, clients, duration, "-S").await?.tps)
}

/// What one pgbench run measured.
pub struct Pgbench {
    /// Transactions per second.
    pub tps: f64,
    /// PostgreSQL CPU per transaction, milliseconds (`None`: no server process on this machine).
    pub cpu_ms: Option<f64>,
}

/// Runs pgbench's built-in script `mode` (`-S` or `-N`) for `duration` on a fresh scale-10
/// database.
pub async fn run(
    admin_url: &str,
    clients: usize,
    duration: Duration,
    mode: &str,
) -> Result<Pgbench, String> {
    let binary =
        find_pgbench().ok_or("pgbench not found (install postgresql-client or PostgreSQL)")?;
    let (url, name) = create_database(admin_url, "pgbench").await?;
    let result = async {
        let init = tokio::process::Command::new(&binary)
            .args(["-i", "-q", "-s", "10", &url])
            .output()
            .await
            .map_err(|e| e.to_string())?;
        if !init.status.success() {
            return Err(format!(
                "pgbench -i failed: {}",
                String::from_utf8_lossy(&init.stderr)
            ));
        }
        let seconds = duration.as_secs().max(1).to_string();
        let threads = clients.clamp(1, 2).to_string();
        let cpu_before = crate::pg_cpu::seconds();
        let run = tokio::process::Command::new(&binary)
            .args([
                mode,
                "-n",
                "-c",
                &clients.to_string(),
                "-j",
                &threads,
                "-T",
                &seconds,
                &url,
            ])
            .output()
            .await
            .map_err(|e| e.to_string())?;
        let cpu_after = crate::pg_cpu::seconds();
        let out = String::from_utf8_lossy(&run.stdout);
        let transactions: Option<f64> = out.lines().find_map(|l| {
            l.strip_prefix("number of transactions actually processed: ")
                .and_then(|rest| rest.split('/').next())
                .and_then(|n| n.trim().parse().ok())
        });
        let tps: f64 = out
            .lines()
            .find_map(|l| {
                l.strip_prefix("tps = ")
                    .and_then(|rest| rest.split_whitespace().next())
                    .and_then(|n| n.parse().ok())
            })
            .ok_or_else(|| {
                format!(
                    "no tps in pgbench output: {out}{}",
                    String::from_utf8_lossy(&run.stderr)
                )
            })?;
        let cpu_ms = match (cpu_before, cpu_after, transactions) {
            (Some(a), Some(b), Some(n)) if n > 0.0 => Some((b - a) * 1000.0 / n),
            _ => None,
        };
        Ok(Pgbench { tps, cpu_ms })
    }
    .await;
    drop_database(admin_url, &name).await;
    result
}

fn find_pgbench() -> Option<std::path::PathBuf> {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join("pgbench"));
    let debian = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|version| version.path().join("bin/pgbench"));
    on_path.chain(debian).find(|p| p.is_file())
}
