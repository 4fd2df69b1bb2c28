//! The real binary as a process: graceful shutdown, `--help`, start-up failures, what the logs
//! show, and several instances migrating one fresh database at once.

use std::time::{Duration, Instant};

use tokio::process::Command;

mod common;

use common::running::{BIN, Running};

fn sqlite_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}", dir.path().join("shop.db").display())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_in_flight_at_sigterm_completes_and_the_server_exits_cleanly() {
    let db = identity_testkit::TestDb::create().await;
    let mut server = Running::start(db.url(), &[]).await;
    // hold the graph lock so the request below waits inside the server (in the database)
    let admin = db.pool().await;
    let blocker = identity_testkit::GraphLock::take(&admin).await;
    let in_flight = tokio::spawn({
        let url = format!("{}/identify", server.base);
        async move {
            let response = reqwest::Client::new()
                .post(url)
                .body(r#"{"email":"late@x.io"}"#)
                .send()
                .await
                .unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    });
    identity_testkit::wait_until(
        "the request to wait in the database",
        Duration::from_secs(5),
        async || identity_testkit::writers_waiting(&admin).await == 1,
    )
    .await;
    assert!(!in_flight.is_finished(), "the request is held by the lock");
    server.terminate();

    // new connections are refused soon after the signal ...
    let addr = server.base.trim_start_matches("http://").to_owned();
    let deadline = Instant::now() + Duration::from_secs(5);
    while tokio::net::TcpStream::connect(&addr).await.is_ok() {
        assert!(
            Instant::now() < deadline,
            "still accepting connections 5 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // ... while the request in flight still completes
    blocker.release().await;
    let (status, body) = in_flight.await.unwrap();
    assert_eq!(status, 200, "{body}");
    let exit = tokio::time::timeout(Duration::from_secs(10), server.child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success(), "{exit:?}: {}", server.drain());
    assert!(server.drain().contains("closing the database pool"));
}

#[tokio::test]
async fn help_documents_every_option_without_showing_the_database_password() {
    let output = Command::new(BIN)
        .arg("--help")
        .env("DATABASE_URL", "postgres://shop:hunter2@db/shop")
        .output()
        .await
        .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for option in [
        "--host",
        "--port",
        "--database-url",
        "--max-connections",
        "--acquire-timeout-ms",
        "--request-timeout-ms",
        "--concurrency-limit",
        "--legacy-key",
        "--log-unmasked",
        "--log-format",
        "--metrics-addr",
        "--metrics-tenant-label",
        "[env: PORT=",
        "[env: HOST=",
        "[env: DATABASE_URL",
        "[default: 3000]",
        "[default: 127.0.0.1]",
        "[default: sqlite:identity.db]",
    ] {
        assert!(help.contains(option), "--help lacks {option}:\n{help}");
    }
    assert!(!help.contains("hunter2"), "{help}");
}

#[tokio::test]
async fn unreachable_database_at_start_fails_clearly_without_the_password() {
    let output = Command::new(BIN)
        .args([
            "--port",
            "0",
            "--acquire-timeout-ms",
            "500",
            "--database-url",
            "postgres://shop:hunter2@127.0.0.1:1/shop",
        ])
        .env_remove("DATABASE_URL")
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(
        log.contains("database unavailable while connecting to postgres"),
        "{log}"
    );
    assert!(
        log.contains("postgres://shop:***@127.0.0.1:1/shop"),
        "the start line names the redacted url: {log}"
    );
    assert!(!log.contains("hunter2"), "{log}");
}

#[tokio::test]
async fn bad_settings_are_usage_errors_naming_the_flag_and_its_range_before_anything_starts() {
    for (flag, value, range) in [
        ("--max-connections", "0", "1..=1000"),
        ("--max-connections", "1001", "1..=1000"),
        ("--concurrency-limit", "0", "1..=1000000"),
        ("--request-timeout-ms", "0", "1..=3600000"),
        ("--acquire-timeout-ms", "0", "1..=600000"),
        ("--max-connections", "-3", "1..=1000"),
        ("--port", "70000", "0..=65535"),
    ] {
        let port = if flag == "--port" {
            "--host=127.0.0.1"
        } else {
            "--port=0"
        };
        // `--flag=value`, so that a negative value reaches the flag's parser
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("never.db");
        let output = Command::new(BIN)
            .args([port, &format!("{flag}={value}"), "--database-url"])
            .arg(format!("sqlite:{}", db.display()))
            .env_remove("DATABASE_URL")
            .output()
            .await
            .unwrap();
        let err = String::from_utf8_lossy(&output.stderr);
        // clap's usage error (exit 2), not a panic (101) or a start that fails later
        assert_eq!(output.status.code(), Some(2), "{flag} {value}: {err}");
        assert!(
            err.contains(flag) && err.contains(range),
            "{flag} {value}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
        assert!(!db.exists(), "{flag} {value}: the store was opened");
    }
}

#[tokio::test]
async fn a_url_without_slashes_is_logged_without_its_password() {
    let output = Command::new(BIN)
        .args([
            "--port",
            "0",
            "--acquire-timeout-ms",
            "500",
            "--database-url",
        ])
        .arg("postgres:shop:hunter2@127.0.0.1:1/shop")
        .env_remove("DATABASE_URL")
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(!log.contains("hunter2"), "{log}");
}

#[tokio::test]
async fn logs_mask_emails_and_phones_unless_told_otherwise() {
    for (args, masked) in [(&[][..], true), (&["--log-unmasked"][..], false)] {
        let dir = tempfile::tempdir().unwrap();
        let mut server = Running::start(&sqlite_url(&dir), args).await;
        let response = reqwest::Client::new()
            .post(format!("{}/identify", server.base))
            .body(r#"{"email":"george@hillvalley.edu","phoneNumber":"555 010 9991"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.headers().contains_key("x-request-id"));
        server.terminate();
        server.child.wait().await.unwrap();
        let log = server.drain();
        assert!(log.contains("identified"), "{log}");
        assert_eq!(
            log.contains("g***@hillvalley.edu") && log.contains("***91"),
            masked,
            "{log}"
        );
        assert_eq!(
            log.contains("george@hillvalley.edu") || log.contains("5550109991"),
            !masked,
            "{log}"
        );
    }
}

#[tokio::test]
async fn each_request_is_one_log_line_with_its_route_status_latency_and_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Running::start(&sqlite_url(&dir), &[]).await;
    let client = reqwest::Client::new();
    let identify = client
        .post(format!("{}/identify", server.base))
        .header("X-Tenant-Id", "shop-a")
        .body(r#"{"email":"george@hillvalley.edu","phoneNumber":"555 010 9991"}"#)
        .send()
        .await
        .unwrap();
    let unknown = client
        .get(format!(
            "{}/admin/verify?email=george@hillvalley.edu",
            server.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (identify.status().as_u16(), unknown.status().as_u16()),
        (200, 404)
    );
    server.terminate();
    server.child.wait().await.unwrap();
    let log = server.drain();
    let id = |response: &reqwest::Response| {
        let id = response.headers()["x-request-id"].to_str().unwrap();
        format!("id=\"{id}\"")
    };
    let lines_of = |id: &str| -> Vec<&str> { log.lines().filter(|l| l.contains(id)).collect() };
    let identified = lines_of(&id(&identify));
    assert_eq!(identified.len(), 1, "one line per identify: {log}");
    for part in [
        " INFO ",
        "method=POST",
        "route=\"/identify\"",
        "identified",
        "status=200",
        "latency_us=",
        "tenant=\"shop-a\"",
        "email=g***@hillvalley.edu",
        "phone=***91",
        "primary=1",
    ] {
        assert!(identified[0].contains(part), "{part}: {}", identified[0]);
    }
    let refused = lines_of(&id(&unknown));
    assert_eq!(refused.len(), 1, "one line per refused request: {log}");
    assert!(
        refused[0].contains("route=\"/admin/verify\"") && refused[0].contains("status=404"),
        "{}",
        refused[0]
    );
    assert!(
        !log.contains("george@"),
        "neither the body nor the query is logged: {log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_instances_start_at_once_on_one_fresh_database() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = sqlite_url(&dir);
    let db = identity_testkit::TestDb::create().await;
    for url in [sqlite.as_str(), db.url()] {
        let servers = futures_all((0..3).map(|_| {
            let url = url.to_owned();
            async move { Running::start(&url, &[]).await }
        }))
        .await;
        for server in &servers {
            let ready = reqwest::get(format!("{}/readyz", server.base))
                .await
                .unwrap();
            assert_eq!(ready.status(), 200, "{url}");
        }
    }
}

async fn futures_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let mut set = tokio::task::JoinSet::new();
    for f in futures {
        set.spawn(f);
    }
    set.join_all().await
}
