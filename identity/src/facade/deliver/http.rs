//! [`HttpTransport`]: the sender's [`Transport`] over HTTP and HTTPS (hyper's pooled client,
//! rustls with the `ring` provider and the webpki roots: the TLS stack the PostgreSQL driver
//! already builds). Redirects are not followed, no proxy is used, and a name that resolves to a
//! non-public address is refused unless private targets are allowed (a target's address is
//! checked when the connection is made, not only when it was registered: a name can change).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::Request;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::rt::TokioExecutor;

use super::Transport;
use crate::error::{Error, Result};
use crate::webhook::WebhookTarget;

/// The most bytes of an answer's body read (then dropped): enough to keep the connection for
/// the next delivery.
const ANSWER_LIMIT: usize = 64 * 1024;

/// POSTs deliveries over one pool of connections.
#[derive(Debug, Clone)]
pub struct HttpTransport {
    client: Client<HttpsConnector<HttpConnector<PublicOnly>>, Full<Bytes>>,
}

impl HttpTransport {
    /// A transport; with `allow_private` false, names that resolve only to loopback, private
    /// or link-local addresses are refused ([`WebhookTarget::is_public`]).
    ///
    /// # Errors
    /// [`Error::Internal`] when TLS cannot be set up.
    pub fn new(allow_private: bool) -> Result<Self> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|_| Error::Internal {
                reason: "the webhook sender's TLS could not be set up",
            })?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut http = HttpConnector::new_with_resolver(PublicOnly { allow_private });
        http.enforce_http(false);
        http.set_connect_timeout(Some(Duration::from_secs(5)));
        http.set_nodelay(true);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(https);
        Ok(HttpTransport { client })
    }
}

#[async_trait]
impl Transport for HttpTransport {
    async fn post(
        &self,
        url: &str,
        headers: &[(&'static str, String)],
        body: Vec<u8>,
        timeout: Duration,
    ) -> std::result::Result<u16, String> {
        let mut request = Request::post(url).header(
            "user-agent",
            concat!("identity-webhooks/", env!("CARGO_PKG_VERSION")),
        );
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| format!("the request could not be made: {e}"))?;
        let exchange = async {
            let answer = self
                .client
                .request(request)
                .await
                .map_err(|e| describe(&e))?;
            let status = answer.status().as_u16();
            // read (a bounded part of) the answer, so the connection serves the next delivery
            let _ = Limited::new(answer.into_body(), ANSWER_LIMIT)
                .collect()
                .await;
            Ok(status)
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {} ms", timeout.as_millis())))
    }
}

/// Why a request got no status, in a few words (never the body or the headers).
fn describe(e: &hyper_util::client::legacy::Error) -> String {
    let mut source: Option<&dyn std::error::Error> = Some(e);
    let mut deepest = String::new();
    while let Some(s) = source {
        deepest = s.to_string();
        source = s.source();
    }
    if e.is_connect() {
        format!("could not connect: {deepest}")
    } else {
        format!("request failed: {deepest}")
    }
}

/// The system resolver, keeping public addresses only (all of them when private targets are
/// allowed).
#[derive(Debug, Clone, Copy)]
struct PublicOnly {
    allow_private: bool,
}

impl tower_service::Service<Name> for PublicOnly {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host, 0))
                .await?
                .filter(|a| allow_private || WebhookTarget::is_public(a.ip()))
                .collect();
            if found.is_empty() {
                return Err(io::Error::other(format!(
                    "{host} resolves to no address the sender may call (loopback, private and \
                     link-local addresses are refused)"
                )));
            }
            Ok(found.into_iter())
        })
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// A server on loopback that answers every request with `answer` (raw HTTP) and counts them.
    async fn answering(answer: &'static str) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = Arc::clone(&seen);
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let mut buf = vec![0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let _ = socket.write_all(answer.as_bytes()).await;
            }
        });
        (base, seen)
    }

    #[tokio::test]
    async fn a_redirect_is_answered_not_followed() {
        let (base, seen) = answering(
            "HTTP/1.1 307 Temporary Redirect\r\nlocation: http://127.0.0.1:9/elsewhere\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        )
        .await;
        let transport = HttpTransport::new(true).unwrap();
        let status = transport
            .post(
                &format!("{base}/hooks"),
                &[],
                b"{}".to_vec(),
                Duration::from_secs(5),
            )
            .await;
        assert_eq!(status, Ok(307));
        assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn no_answer_in_time_is_a_timeout() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        // accepts, never answers
        let _held = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                open.push(socket);
            }
        });
        let transport = HttpTransport::new(true).unwrap();
        let status = transport
            .post(&base, &[], Vec::new(), Duration::from_millis(200))
            .await;
        assert_eq!(status, Err("no answer within 200 ms".to_owned()));
    }

    #[tokio::test]
    async fn names_of_non_public_addresses_are_refused_unless_allowed() {
        let (base, seen) = answering("HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n").await;
        let port = base.rsplit(':').next().unwrap();
        let by_name = format!("http://localhost:{port}/hooks");
        let refused = HttpTransport::new(false)
            .unwrap()
            .post(&by_name, &[], Vec::new(), Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(
            refused.contains("resolves to no address the sender may call"),
            "{refused}"
        );
        assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 0);
        let allowed = HttpTransport::new(true)
            .unwrap()
            .post(&by_name, &[], Vec::new(), Duration::from_secs(5))
            .await;
        assert_eq!(allowed, Ok(204));
    }

    #[tokio::test]
    async fn a_refused_connection_says_so() {
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            probe.local_addr().unwrap().port()
        };
        let error = HttpTransport::new(true)
            .unwrap()
            .post(
                &format!("http://127.0.0.1:{port}/"),
                &[],
                Vec::new(),
                Duration::from_secs(5),
            )
            .await
            .unwrap_err();
        assert!(error.starts_with("could not connect"), "{error}");
    }
}
