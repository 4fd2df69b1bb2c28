//! The server's ceiling for comparison: `pgbench -S` (select-only, one indexed read per
//! transaction) at the same client count on the same PostgreSQL.

use std::time::Duration;

use crate::target::{create_database, drop_database};

/// pgbench -S transactions per second, or why it could not run.
pub async fn select_only_tps(
    admin_url: &str,
    clients: usize,
    duration: Duration,
) -> Result<f64, String> {
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
        let run = tokio::process::Command::new(&binary)
            .args([
                "-S",
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
        let out = String::from_utf8_lossy(&run.stdout);
        out.lines()
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
            })
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
