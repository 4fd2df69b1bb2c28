//! [`RoundTripCounter`]: a TCP proxy in front of PostgreSQL that counts the client's round trips
//! at the wire: each simple-protocol `Query` ('Q') and each extended-protocol `Sync` ('S') that
//! closes a batch of messages ends one request/response exchange. A `Sync` alone is a liveness
//! ping (sqlx checks a connection that way when it goes back to the pool, after the answer was
//! delivered); those are counted apart. Independent of how the client is written. It also counts
//! the bytes the server sends.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// SSLRequest and GSSENCRequest codes: untyped messages that precede the startup message.
const SSL_REQUEST: u32 = 80_877_103;
const GSSENC_REQUEST: u32 = 80_877_104;

/// A counting proxy; every connection through it adds to one counter.
pub struct RoundTripCounter {
    port: u16,
    count: Arc<AtomicU64>,
    pings: Arc<AtomicU64>,
    received: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl RoundTripCounter {
    /// Starts a proxy on 127.0.0.1 for the server of `database_url`.
    pub async fn start(database_url: &str) -> RoundTripCounter {
        let upstream = host_port(database_url);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (count, pings) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let received = Arc::new(AtomicU64::new(0));
        let counters = (count.clone(), pings.clone(), received.clone());
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (upstream, counters) = (upstream.clone(), counters.clone());
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(&upstream).await {
                        relay(client, server, counters).await;
                    }
                });
            }
        });
        RoundTripCounter {
            port,
            count,
            pings,
            received,
            task,
        }
    }

    /// `database_url` pointed at the proxy, without TLS (the proxy must read the messages).
    pub fn url(&self, database_url: &str) -> String {
        let url = database_url.replacen(
            &host_port(database_url),
            &format!("127.0.0.1:{}", self.port),
            1,
        );
        let separator = if url.contains('?') { '&' } else { '?' };
        format!("{url}{separator}sslmode=disable")
    }

    /// Round trips since the start or the last [`RoundTripCounter::take`].
    pub fn take(&self) -> u64 {
        self.count.swap(0, Ordering::SeqCst)
    }

    /// Bare liveness pings since the start or the last call.
    pub fn take_pings(&self) -> u64 {
        self.pings.swap(0, Ordering::SeqCst)
    }

    /// Bytes the server sent the clients since the start or the last call.
    pub fn take_received(&self) -> u64 {
        self.received.swap(0, Ordering::SeqCst)
    }
}

impl Drop for RoundTripCounter {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// host:port of a postgres URL (port 5432 when absent).
pub fn host_port(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:5432")
    }
}

async fn relay(
    client: TcpStream,
    server: TcpStream,
    (count, pings, received): (Arc<AtomicU64>, Arc<AtomicU64>, Arc<AtomicU64>),
) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let upstream = async move {
        let mut parser = Parser::default();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match client_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let (round_trips, bare) = parser.feed(&buf[..n]);
            count.fetch_add(round_trips, Ordering::SeqCst);
            pings.fetch_add(bare, Ordering::SeqCst);
            if server_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        let _ = server_write.shutdown().await;
    };
    let downstream = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match server_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            received.fetch_add(n as u64, Ordering::SeqCst);
            if client_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        let _ = client_write.shutdown().await;
    };
    tokio::join!(upstream, downstream);
}

/// Splits the client's byte stream into protocol messages and counts the round-trip enders.
#[derive(Default)]
struct Parser {
    pending: Vec<u8>,
    started: bool,
    /// Messages since the last `Sync`.
    batch: usize,
}

impl Parser {
    /// (round trips, bare pings) completed by `bytes`.
    fn feed(&mut self, bytes: &[u8]) -> (u64, u64) {
        self.pending.extend_from_slice(bytes);
        let (mut counted, mut pings) = (0, 0);
        loop {
            if !self.started {
                // untyped: length (4 bytes, self-inclusive), then a code
                let Some(len) = self.length(0) else { break };
                if self.pending.len() < len {
                    break;
                }
                let code = u32::from_be_bytes(self.pending[4..8].try_into().unwrap());
                self.started = code != SSL_REQUEST && code != GSSENC_REQUEST;
                self.pending.drain(..len);
            } else {
                // typed: a type byte, then a length that counts itself but not the type
                let Some(len) = self.length(1) else { break };
                if self.pending.len() < 1 + len {
                    break;
                }
                match self.pending[0] {
                    b'Q' => counted += 1,
                    b'S' if self.batch == 0 => pings += 1,
                    b'S' => {
                        counted += 1;
                        self.batch = 0;
                    }
                    _ => self.batch += 1,
                }
                self.pending.drain(..1 + len);
            }
        }
        (counted, pings)
    }

    fn length(&self, at: usize) -> Option<usize> {
        let bytes = self.pending.get(at..at + 4)?;
        Some(u32::from_be_bytes(bytes.try_into().ok()?) as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::Parser;

    fn typed(kind: u8, payload: &[u8]) -> Vec<u8> {
        let mut m = vec![kind];
        m.extend_from_slice(&(u32::try_from(payload.len()).unwrap() + 4).to_be_bytes());
        m.extend_from_slice(payload);
        m
    }

    #[test]
    fn counts_queries_and_syncs_after_the_startup_even_when_split() {
        let mut stream = Vec::new();
        stream.extend_from_slice(&8u32.to_be_bytes());
        stream.extend_from_slice(&super::SSL_REQUEST.to_be_bytes());
        stream.extend_from_slice(&9u32.to_be_bytes());
        stream.extend_from_slice(&196_608u32.to_be_bytes());
        stream.push(0);
        for m in [
            typed(b'S', b""),
            typed(b'P', b"SELECT 1\0\0\0"),
            typed(b'B', b"xx"),
            typed(b'E', b"\0\0\0\0\0"),
            typed(b'S', b""),
            typed(b'Q', b"BEGIN\0"),
        ] {
            stream.extend_from_slice(&m);
        }
        let mut parser = Parser::default();
        let counted = stream
            .chunks(3)
            .map(|chunk| parser.feed(chunk))
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
        assert_eq!(counted, (2, 1), "two round trips and one bare ping");
    }
}
