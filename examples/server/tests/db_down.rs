//! The database goes away while the server runs: identify answers 503 (with Retry-After)
//! quickly, /readyz fails, /healthz passes; when it comes back, requests succeed again without a
//! restart. The outage is a TCP proxy between the server and PostgreSQL that the test cuts.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::TestServer;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// How the database looks while it is down.
#[derive(Clone, Copy, Debug)]
enum Outage {
    /// Connections are accepted and closed at once (a server going away mid-handshake).
    Closed,
    /// Nothing listens: connections are refused (a stopped server).
    Refused,
}

/// Forwards 127.0.0.1:<port> to PostgreSQL; `cut` closes every connection and makes new ones
/// fail as `outage` says until `restore`.
struct Proxy {
    port: u16,
    up: Arc<AtomicBool>,
    cut: Arc<Notify>,
    upstream: String,
    outage: Outage,
    accept: Option<tokio::task::JoinHandle<()>>,
}

impl Proxy {
    async fn start(upstream: String, outage: Outage) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut proxy = Proxy {
            port,
            up: Arc::new(AtomicBool::new(true)),
            cut: Arc::new(Notify::new()),
            upstream,
            outage,
            accept: None,
        };
        proxy.serve(listener);
        proxy
    }

    fn serve(&mut self, listener: TcpListener) {
        let (up, cut, upstream) = (self.up.clone(), self.cut.clone(), self.upstream.clone());
        self.accept = Some(tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                if !up.load(Ordering::SeqCst) {
                    drop(client); // closed at once
                    continue;
                }
                let (upstream, cut) = (upstream.clone(), cut.clone());
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        () = cut.notified() => {}
                    }
                });
            }
        }));
    }

    fn cut(&mut self) {
        self.up.store(false, Ordering::SeqCst);
        self.cut.notify_waiters();
        if let Outage::Refused = self.outage
            && let Some(accept) = self.accept.take()
        {
            accept.abort(); // drops the listener: the port refuses connections
        }
    }

    async fn restore(&mut self) {
        self.up.store(true, Ordering::SeqCst);
        if self.accept.as_ref().is_none_or(|a| a.is_finished()) {
            let mut listener = None;
            for _ in 0..100 {
                if let Ok(l) = TcpListener::bind(("127.0.0.1", self.port)).await {
                    listener = Some(l);
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            self.serve(listener.expect("rebind the proxy port"));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_closing_connections_gives_quick_503s_and_recovers_without_restart() {
    outage_gives_quick_503s_and_recovers(Outage::Closed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_refusing_connections_gives_quick_503s_and_recovers_without_restart() {
    outage_gives_quick_503s_and_recovers(Outage::Refused).await;
}

async fn outage_gives_quick_503s_and_recovers(outage: Outage) {
    let db = identity_testkit::TestDb::create().await;
    let mut proxy = Proxy::start(identity_testkit::wire::host_port(db.url()), outage).await;
    let via_proxy = db.url().replacen(
        &identity_testkit::wire::host_port(db.url()),
        &format!("127.0.0.1:{}", proxy.port),
        1,
    );
    let server = TestServer::start(&via_proxy, &["--acquire-timeout-ms", "1000"]).await;
    let client = common::client();
    let identify = |email: &'static str| {
        client
            .post(server.url("/identify"))
            .body(format!(r#"{{"email":"{email}"}}"#))
            .send()
    };

    assert_eq!(identify("before@x.io").await.unwrap().status(), 200);
    proxy.cut();

    let started = Instant::now();
    let response = identify("during@x.io").await.unwrap();
    let waited = started.elapsed();
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unavailable", "{body}");
    assert!(
        waited < Duration::from_secs(3),
        "{outage:?}: 503 took {waited:?}"
    );
    assert_eq!(common::get_status(&server, "/readyz").await, 503);
    assert_eq!(common::get_status(&server, "/healthz").await, 200);

    proxy.restore().await;
    // the very first request succeeds: pooled connections that died are retried transparently
    let response = identify("after@x.io").await.unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    assert_eq!(common::get_status(&server, "/readyz").await, 200);
    let emails: Vec<String> = server
        .identity
        .all_contacts()
        .await
        .unwrap()
        .iter()
        .filter_map(|c| c.email.as_ref().map(ToString::to_string))
        .collect();
    assert_eq!(
        emails,
        ["before@x.io", "after@x.io"],
        "the failed request wrote nothing"
    );
    server.stop().await;
}

/// A POST of `body` to `path`: status, `Retry-After` and the JSON body.
async fn post(
    server: &TestServer,
    path: &str,
    body: &str,
) -> (u16, Option<String>, serde_json::Value) {
    let response = common::client()
        .post(server.url(path))
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    answer(response).await
}

/// A GET of `path`: as [`post`].
async fn get(server: &TestServer, path: &str) -> (u16, Option<String>, serde_json::Value) {
    answer(common::client().get(server.url(path)).send().await.unwrap()).await
}

async fn answer(response: reqwest::Response) -> (u16, Option<String>, serde_json::Value) {
    let status = response.status().as_u16();
    let retry = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, retry, response.json().await.unwrap())
}

/// Identifies new customers until one is refused; that answer.
async fn identify_until_refused(server: &TestServer) -> (u16, Option<String>, serde_json::Value) {
    for n in 0..10_000 {
        let answer = post(
            server,
            "/identify",
            &format!(r#"{{"email":"fill{n}@x.io"}}"#),
        )
        .await;
        if answer.0 != 200 {
            return answer;
        }
    }
    panic!("10000 identifies went through a capped database");
}

#[tokio::test]
async fn storage_full_answers_503_and_readyz_says_so_until_writes_work_again() {
    let (_dir, store, identity) = identity_testkit::sqlite::file_store().await;
    let server = TestServer::start_on(identity, &[]).await;
    assert_eq!(get(&server, "/readyz").await.0, 200);

    identity_testkit::sqlite::fill_up(&store).await;
    let (status, retry, body) = identify_until_refused(&server).await;
    assert_eq!((status, retry.as_deref()), (503, Some("10")), "{body}");
    assert_eq!(body["error"]["code"], "unavailable", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.ends_with(": storage full"), "{message}");
    // the database still answers a ping, but /readyz reports that writes fail
    let (status, retry, body) = get(&server, "/readyz").await;
    assert_eq!((status, retry.as_deref()), (503, Some("10")), "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .ends_with(": storage full"),
        "{body}"
    );
    assert_eq!(get(&server, "/healthz").await.0, 200);

    identity_testkit::sqlite::free_space(&store).await;
    assert_eq!(get(&server, "/readyz").await.0, 200);
    for n in 0..40 {
        let (status, _, body) = post(
            &server,
            "/identify",
            &format!(r#"{{"email":"after{n}@x.io"}}"#),
        )
        .await;
        assert_eq!(status, 200, "identify {n} once space returned: {body}");
    }
    identity_testkit::assert_verified(&server.identity).await;
    server.stop().await;
}

#[tokio::test]
async fn a_read_only_database_answers_503_and_readyz_says_so_until_it_is_writable() {
    let (_dir, store, identity) = identity_testkit::sqlite::file_store().await;
    let server = TestServer::start_on(identity, &[]).await;
    identity_testkit::sqlite::on_every_connection(&store, "query_only = 1").await;
    let (status, retry, body) = post(&server, "/identify", r#"{"email":"new@x.io"}"#).await;
    assert_eq!((status, retry.as_deref()), (503, Some("10")), "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .ends_with(": storage read-only"),
        "{body}"
    );
    let (status, _, body) = get(&server, "/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .ends_with(": storage read-only"),
        "{body}"
    );
    identity_testkit::sqlite::on_every_connection(&store, "query_only = 0").await;
    assert_eq!(get(&server, "/readyz").await.0, 200);
    assert_eq!(
        post(&server, "/identify", r#"{"email":"new@x.io"}"#)
            .await
            .0,
        200
    );
    server.stop().await;
}
