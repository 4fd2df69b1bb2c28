//! Slow and idle clients cannot take the service from healthy ones: a body that trickles in
//! holds no concurrency slot and is cut off with 408, a request head that never completes and
//! a kept-alive connection left idle are closed, open connections are capped, and running out
//! of file descriptors is waited out (logged once) instead of spun on.

mod common;

use std::time::{Duration, Instant};

use common::TestServer;
use common::running::Running;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn addr(base: &str) -> String {
    base.trim_start_matches("http://").to_owned()
}

/// A connection that sent a request head announcing a 4000-byte body, and one byte of it, once
/// the service is reading that body: the head asks for `100 Continue`, which the service sends
/// when it starts to read, so no fixed wait guesses when that is.
async fn trickling(base: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr(base)).await.unwrap();
    stream
        .write_all(
            b"POST /identify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
              Content-Length: 4000\r\nExpect: 100-continue\r\n\r\n",
        )
        .await
        .unwrap();
    let continued = b"HTTP/1.1 100 Continue\r\n\r\n";
    let mut received = vec![0u8; continued.len()];
    tokio::time::timeout(Duration::from_secs(30), stream.read_exact(&mut received))
        .await
        .expect("the service reads the body within 30 s")
        .unwrap();
    assert_eq!(
        received,
        continued,
        "{}",
        String::from_utf8_lossy(&received)
    );
    stream.write_all(b"{").await.unwrap();
    stream
}

/// Reads until the server closes `stream` (or `within` passes): what it sent, and whether it
/// closed.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> (String, bool) {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return (String::from_utf8_lossy(&received).into(), true),
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&received).into(), false),
        }
    }
}

/// The status of an identify of `email` sent to the service at `base`.
async fn identify_status(client: &reqwest::Client, base: &str, email: &str) -> u16 {
    client
        .post(format!("{base}/identify"))
        .body(format!(r#"{{"email":"{email}"}}"#))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trickling_bodies_hold_no_slot_and_are_cut_off_with_408() {
    let server = TestServer::start(
        "memory:",
        &["--concurrency-limit", "4", "--body-timeout-ms", "1500"],
    )
    .await;
    let mut slow = Vec::new();
    for _ in 0..32 {
        slow.push(trickling(&server.base).await);
    }
    // every slow request is now waiting for its body (each was answered 100 Continue)
    // one at a time: with 4 slots and no slow senders, none would be shed
    let client = common::client();
    let mut statuses = Vec::new();
    for i in 0..24 {
        statuses.push(identify_status(&client, &server.base, &format!("healthy{i}@x.io")).await);
    }
    assert!(
        statuses.iter().all(|&s| s == 200),
        "healthy requests beside 32 trickling bodies: {statuses:?}"
    );
    let started = Instant::now();
    let (answer, closed) = read_until_closed(&mut slow[0], Duration::from_secs(5)).await;
    assert!(closed, "the trickling connection was closed: {answer}");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(r#""code":"body_timeout""#), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(server.identity.all_contacts().await.unwrap().len(), 24);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unfinished_request_head_and_an_idle_connection_are_closed() {
    let server = TestServer::start("memory:", &["--header-timeout-ms", "700"]).await;
    let mut slowloris = TcpStream::connect(addr(&server.base)).await.unwrap();
    slowloris
        .write_all(b"POST /identify HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let (_, closed) = read_until_closed(&mut slowloris, Duration::from_secs(5)).await;
    assert!(
        closed,
        "a head unfinished after the header timeout is closed"
    );
    assert!(started.elapsed() >= Duration::from_millis(600));

    let mut idle = TcpStream::connect(addr(&server.base)).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = idle.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    // kept alive, then left idle
    let (_, closed) = read_until_closed(&mut idle, Duration::from_secs(5)).await;
    assert!(closed, "an idle kept-alive connection is closed");

    // a connection that keeps sending requests in time stays open: a request every 100 ms,
    // for longer than the 700 ms timeout (a loaded machine has 600 ms to spare each time)
    let mut busy = TcpStream::connect(addr(&server.base)).await.unwrap();
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        busy.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let n = busy.read(&mut buf).await.unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_connections_are_capped_and_the_next_waits_for_a_free_one() {
    let server = TestServer::start(
        "memory:",
        &[
            "--max-open-connections",
            "3",
            "--header-timeout-ms",
            "60000",
        ],
    )
    .await;
    // three connections, each served once (so the service has accepted it) and kept open
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut stream = TcpStream::connect(addr(&server.base)).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 1024];
        let n = stream.read(&mut buf).await.unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        held.push(stream);
    }
    let client = common::client();
    let waiting = tokio::spawn({
        let url = server.url("/healthz");
        let client = client.clone();
        async move { client.get(url).send().await.unwrap().status().as_u16() }
    });
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        !waiting.is_finished(),
        "a fourth connection is not served while three are open"
    );
    drop(held.pop());
    let status = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("served once a connection closed")
        .unwrap();
    assert_eq!(status, 200);
    server.stop().await;
}

/// Connections held open until dropped.
async fn hold_connections(base: &str, n: usize) -> Vec<TcpStream> {
    let mut held = Vec::new();
    for _ in 0..n {
        held.push(TcpStream::connect(addr(base)).await.unwrap());
    }
    held
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_out_of_descriptors_is_waited_out_and_logged_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("shop.db").display());
    // a cap above what 96 descriptors allow: accepts fail with EMFILE
    let mut server = Running::start_with_open_files(
        96,
        &url,
        &[
            "--max-open-connections",
            "1000",
            "--header-timeout-ms",
            "60000",
        ],
    )
    .await;
    let held = hold_connections(&server.base, 160).await;
    // the episode lasts over 3 s: once a second would log three or four times
    tokio::time::sleep(Duration::from_millis(3500)).await;
    drop(held);
    let status = identify_status(&common::client(), &server.base, "after@x.io").await;
    assert_eq!(status, 200);
    let log = server.drain();
    let errors = log.matches("cannot accept connections").count();
    assert_eq!(errors, 1, "one line for the episode: {log}");
    assert!(log.contains("accepting connections again"), "{log}");
    assert!(log.contains("Too many open files"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_cap_keeps_descriptors_for_the_service() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("shop.db").display());
    let mut server = Running::start_with_open_files(96, &url, &[]).await;
    let held = hold_connections(&server.base, 160).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop(held);
    let status = identify_status(&common::client(), &server.base, "after@x.io").await;
    assert_eq!(status, 200);
    let log = server.drain();
    // 96 less the pool (10) and 64 spare
    assert!(log.contains("max_open_connections=22"), "{log}");
    assert!(!log.contains("cannot accept"), "{log}");
}
