//! PgBouncer in transaction mode in front of the test server, as Supabase, Neon and most
//! managed hosts put one: each test starts its own (a free loopback port, every database of the
//! server behind it) and stops it when dropped. Debian's `pgbouncer` (1.18), from `PATH`; as
//! root it switches to the `postgres` user (`-u`), since PgBouncer refuses to run as root.

use std::io::Read;
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::cluster::{free_port, is_root};

/// A running PgBouncer, killed when dropped.
pub struct PgBouncer {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl PgBouncer {
    /// Starts PgBouncer in transaction mode in front of the server `server_url` names (its
    /// host, port, user and password; any database), with `pool_size` server connections per
    /// database and user. No `ignore_startup_parameters`: the library's `pgbouncer=true` must
    /// not need it. Panics with PgBouncer's log when it does not listen within 10 seconds.
    pub fn start(server_url: &str, pool_size: u32) -> PgBouncer {
        let server = url::Url::parse(server_url).expect("the server's URL");
        let user = match server.username() {
            "" => "postgres",
            user => user,
        };
        let mut target = format!(
            "host={} port={} user={user}",
            server.host_str().unwrap_or("127.0.0.1"),
            server.port().unwrap_or(5432)
        );
        if let Some(password) = server.password() {
            target.push_str(&format!(" password={password}"));
        }
        let dir = tempfile::tempdir().expect("temporary directory");
        let port = free_port();
        let ini = format!(
            "[databases]\n* = {target}\n\n[pgbouncer]\nlisten_addr = 127.0.0.1\n\
             listen_port = {port}\nunix_socket_dir =\nauth_type = trust\n\
             auth_file = {users}\npool_mode = transaction\ndefault_pool_size = {pool_size}\n\
             max_client_conn = 1000\nlogfile = {log}\nserver_lifetime = 3600\n",
            users = dir.path().join("users.txt").display(),
            log = dir.path().join("pgbouncer.log").display(),
        );
        std::fs::write(dir.path().join("users.txt"), format!("\"{user}\" \"\"\n")).unwrap();
        std::fs::write(dir.path().join("pgbouncer.ini"), ini).unwrap();
        let run_as = is_root().then_some("postgres");
        if let Some(owner) = run_as {
            let status = Command::new("chown")
                .args(["-R", owner])
                .arg(dir.path())
                .status();
            assert!(
                status.is_ok_and(|s| s.success()),
                "chown the pooler's files"
            );
        }
        // Debian puts it in /usr/sbin, which a user's PATH may lack
        let program = match Command::new("pgbouncer").arg("--version").output() {
            Ok(_) => "pgbouncer",
            Err(_) => "/usr/sbin/pgbouncer",
        };
        let mut command = Command::new(program);
        if let Some(owner) = run_as {
            command.args(["-u", owner]);
        }
        let child = command
            .arg(dir.path().join("pgbouncer.ini"))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect(
                "tests through a pooler need pgbouncer: apt-get install pgbouncer, or run \
                 scripts/test, which does",
            );
        let mut pooler = PgBouncer { child, port, dir };
        pooler.wait_until_listening();
        pooler
    }

    /// The URL of `database` through this pooler, with `pgbouncer=true`.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/{database}?pgbouncer=true",
            self.port
        )
    }

    /// The URL of the database `server_url` names, through this pooler (`pgbouncer=true`).
    pub fn url_for(&self, server_url: &str) -> String {
        let server = url::Url::parse(server_url).expect("the server's URL");
        self.url(server.path().trim_start_matches('/'))
    }

    fn wait_until_listening(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                let mut stderr = String::new();
                if let Some(mut pipe) = self.child.stderr.take() {
                    let _ = pipe.read_to_string(&mut stderr);
                }
                panic!("pgbouncer exited ({status}): {stderr}{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("pgbouncer did not listen within 10 s: {}", self.log());
    }

    /// PgBouncer's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("pgbouncer.log")).unwrap_or_default()
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
