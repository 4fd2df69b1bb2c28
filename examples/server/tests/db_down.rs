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
