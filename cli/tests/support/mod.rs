//! What the `identity` command's integration tests share: starting `identity serve`.
#![allow(dead_code)] // each test binary uses a different subset

use std::process::Stdio;

/// The `identity` binary cargo built for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_identity");

/// `identity serve --port 0 --database-url url` with `envs` set (and no `DATABASE_URL` or
/// `IDENTITY_ADMIN_TOKEN` from the caller's environment); the child and the `host:port` it
/// says it listens on. The child is killed when dropped.
pub async fn serve(url: &str, envs: &[(&str, &str)]) -> (tokio::process::Child, String) {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(BIN)
        .args(["serve", "--port", "0", "--database-url", url])
        .env_remove("DATABASE_URL")
        .env_remove("IDENTITY_ADMIN_TOKEN")
        .envs(envs.iter().copied())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let host = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(at) = line.find("listening on http://") {
                let rest = &line[at + "listening on http://".len()..];
                return rest.split_whitespace().next().unwrap().to_owned();
            }
        }
        panic!("identity serve exited before listening");
    })
    .await
    .expect("identity serve listens within 30 s");
    // keep reading its log: a closed pipe would end the service at its next line
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, host)
}
