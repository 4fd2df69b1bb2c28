//! A PostgreSQL server of one test's own, for tests that restart or stop the server: doing that
//! to the shared one would break every other test running beside it. `initdb` from the
//! machine's PostgreSQL (`PATH`, else the newest `/usr/lib/postgresql/*/bin`); as root the
//! cluster runs as the `postgres` user, since `initdb` refuses root.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A throwaway cluster on a free loopback port, stopped and deleted when dropped.
pub struct PrivateCluster {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    run_as: Option<&'static str>,
    _dir: tempfile::TempDir,
}

impl PrivateCluster {
    /// Creates and starts a cluster (trust auth, user `postgres`, `fsync` off). Panics with the
    /// server's own log when it cannot: a test that needs a restart must not pass without one.
    pub fn start() -> PrivateCluster {
        let bin = pg_bin().expect(
            "tests that restart PostgreSQL need its server binaries (initdb, pg_ctl): \
             install postgresql, or run scripts/test, which does",
        );
        let run_as = is_root().then_some("postgres");
        let dir = tempfile::tempdir().expect("temporary directory");
        if run_as.is_some() {
            // the cluster's user must own its directory and reach it through the parents
            let status = Command::new("chown")
                .arg("postgres")
                .arg(dir.path())
                .status()
                .expect("chown");
            assert!(status.success(), "chown the cluster directory to postgres");
        }
        let data = dir.path().join("data");
        let port = free_port();
        let cluster = PrivateCluster {
            bin,
            data,
            port,
            run_as,
            _dir: dir,
        };
        let data = cluster.data.clone();
        cluster.run(
            "initdb",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-U".as_ref(),
                "postgres".as_ref(),
                "--auth=trust".as_ref(),
                "-E".as_ref(),
                "UTF8".as_ref(),
            ],
        );
        cluster.pg_ctl(&["start"]);
        cluster
    }

    /// The URL of database `postgres` on this cluster.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// The URL of database `postgres` on this cluster with `host` (such as `localhost`) and the
    /// query `query` (such as `sslmode=require`).
    pub fn url_at(&self, host: &str, query: &str) -> String {
        format!("postgres://postgres@{host}:{}/postgres?{query}", self.port)
    }

    /// Serves TLS with `certificate` and `key` (PEM) from now on, at most protocol
    /// `max_version` (such as `TLSv1.2`; `None`: the server's default): writes them into the
    /// data directory and restarts the server, which reads them at start.
    pub fn serve_tls(&self, certificate: &[u8], key: &[u8], max_version: Option<&str>) {
        let write = |name: &str, contents: &[u8]| {
            let path = self.data.join(name);
            std::fs::write(&path, contents).expect("write into the data directory");
            std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
                .expect("chmod");
            if let Some(user) = self.run_as {
                let status = Command::new("chown").arg(user).arg(&path).status();
                assert!(status.is_ok_and(|s| s.success()), "chown {name}");
            }
        };
        write("server.crt", certificate);
        write("server.key", key);
        let mut settings =
            "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n".to_owned();
        if let Some(version) = max_version {
            settings.push_str(&format!("ssl_max_protocol_version = '{version}'\n"));
        }
        write("identity_tls.conf", settings.as_bytes());
        let conf = self.data.join("postgresql.conf");
        let text = std::fs::read_to_string(&conf).expect("postgresql.conf");
        if !text.contains("identity_tls.conf") {
            let text = format!("{text}\ninclude_if_exists = 'identity_tls.conf'\n");
            std::fs::write(&conf, text).expect("postgresql.conf");
        }
        self.restart("fast");
    }

    /// `pg_ctl restart -m <mode>` (`fast` or `immediate`): every session is ended, the server
    /// comes back on the same port, and this returns once it accepts connections again.
    pub fn restart(&self, mode: &str) {
        self.pg_ctl(&["restart", "-m", mode]);
    }

    fn pg_ctl(&self, action: &[&str]) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c fsync=off",
            self.port
        );
        let log = self.data.with_file_name("server.log");
        let mut args: Vec<&std::ffi::OsStr> = vec![
            "-D".as_ref(),
            self.data.as_os_str(),
            "-l".as_ref(),
            log.as_os_str(),
            "-w".as_ref(),
            "-o".as_ref(),
            options.as_ref(),
        ];
        args.extend(action.iter().map(std::ffi::OsStr::new));
        self.run("pg_ctl", &args);
    }

    /// `tool` of the cluster's PostgreSQL, run as the cluster's user.
    fn command(&self, tool: &str) -> Command {
        let program = self.bin.join(tool);
        match self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&program);
                c
            }
            None => Command::new(&program),
        }
    }

    fn run(&self, tool: &str, args: &[&std::ffi::OsStr]) -> Output {
        let output = self
            .command(tool)
            .args(args)
            .output()
            .expect("run a PostgreSQL tool");
        if !output.status.success() {
            let log =
                std::fs::read_to_string(self.data.with_file_name("server.log")).unwrap_or_default();
            panic!(
                "{tool} failed: {}{}\n{log}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        output
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}

/// The directory holding `initdb` and `pg_ctl`.
fn pg_bin() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .and_then(|path| std::env::split_paths(&path).find(|dir| has_tools(dir)));
    if on_path.is_some() {
        return on_path;
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, dir)| has_tools(dir))
        .collect();
    versions.sort();
    versions.pop().map(|(_, dir)| dir)
}

fn has_tools(dir: &Path) -> bool {
    dir.join("initdb").is_file() && dir.join("pg_ctl").is_file()
}

/// Runs the PostgreSQL client tool `name` (`pg_dump`, `pg_restore`, ...) from `PATH`, else
/// from the newest `/usr/lib/postgresql/*/bin`; panics with its output when it fails.
pub fn run_tool(name: &str, args: &[&str]) {
    let on_path = Command::new(name).arg("--version").output().is_ok();
    let program = match on_path {
        true => PathBuf::from(name),
        false => pg_bin()
            .map(|dir| dir.join(name))
            .unwrap_or_else(|| panic!("{name} is needed: install the PostgreSQL client")),
    };
    let out = Command::new(&program).args(args).output().expect(name);
    assert!(
        out.status.success(),
        "{name} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Whether this process runs as root (PostgreSQL's tools and PgBouncer refuse to).
pub(crate) fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// A loopback port nothing listens on now.
pub(crate) fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}
