//! The real binary as a process, its address and its log lines as they come.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

pub const BIN: &str = env!("CARGO_BIN_EXE_identity-server");

/// A started binary, its address, and its log lines as they come.
pub struct Running {
    pub child: Child,
    pub base: String,
    log: mpsc::UnboundedReceiver<String>,
    seen: Vec<String>,
}

impl Running {
    /// Starts the binary on a free port and waits until it listens.
    pub async fn start(database_url: &str, args: &[&str]) -> Running {
        Self::spawn(Command::new(BIN), database_url, args).await
    }

    /// As [`Running::start`], in a process that may open at most `open_files` descriptors
    /// (`ulimit -n`).
    pub async fn start_with_open_files(
        open_files: u32,
        database_url: &str,
        args: &[&str],
    ) -> Running {
        let mut command = Command::new("sh");
        command.args([
            "-c",
            &format!("ulimit -n {open_files} && exec \"$0\" \"$@\""),
            BIN,
        ]);
        Self::spawn(command, database_url, args).await
    }

    async fn spawn(mut command: Command, database_url: &str, args: &[&str]) -> Running {
        let mut child = command
            .args(["--port", "0", "--database-url", database_url])
            .args(args)
            .env_remove("DATABASE_URL")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let (tx, mut log) = mpsc::unbounded_channel();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                let _ = tx.send(line);
            }
        });
        let mut seen = Vec::new();
        let base = loop {
            let line = tokio::time::timeout(Duration::from_secs(30), log.recv())
                .await
                .expect("the server logs within 30 s")
                .unwrap_or_else(|| panic!("the server exited before listening: {seen:#?}"));
            seen.push(line.clone());
            if let Some(at) = line.find("listening on http://") {
                let rest = &line[at + "listening on ".len()..];
                // a text line or a JSON one (`"message":"listening on http://..."`)
                let end = rest.find(|c: char| c.is_whitespace() || c == '"');
                break rest[..end.unwrap_or(rest.len())].to_owned();
            }
        };
        Running {
            child,
            base,
            log,
            seen,
        }
    }

    /// Every log line so far.
    pub fn drain(&mut self) -> String {
        while let Ok(line) = self.log.try_recv() {
            self.seen.push(line);
        }
        self.seen.join("\n")
    }

    pub fn terminate(&self) {
        let pid = self.child.id().unwrap().to_string();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(status.success());
    }
}
