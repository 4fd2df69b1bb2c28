//! [`HttpTransport`]: the sender's [`Transport`] over HTTP and HTTPS (reqwest, rustls with the
//! `ring` provider, the platform's certificate roots). Redirects are not followed, no proxy is
//! used, and a name that resolves to a non-public address is refused unless private targets
//! are allowed (a target's address is checked when the request is made, not only when it
//! was registered: a name can change).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::Transport;
use crate::error::{Error, Result};
use crate::webhook::WebhookTarget;

/// POSTs deliveries with one pooled HTTP client.
#[derive(Debug, Clone)]
pub struct HttpTransport {
    client: reqwest::Client,
}

impl HttpTransport {
    /// A transport; with `allow_private` false, names that resolve only to loopback, private
    /// or link-local addresses are refused ([`WebhookTarget::is_public`]).
    ///
    /// # Errors
    /// [`Error::Internal`] when the HTTP client cannot be built (no TLS roots, say).
    pub fn new(allow_private: bool) -> Result<Self> {
        // reqwest ships no crypto provider here: rustls' ring, which the store's TLS uses too
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(concat!("identity-webhooks/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(PublicOnly { allow_private }))
            .connect_timeout(Duration::from_secs(5))
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .map_err(|_| Error::Internal {
                reason: "the webhook HTTP client could not be built",
            })?;
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
        let mut request = self.client.post(url).timeout(timeout).body(body);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        match request.send().await {
            Ok(answer) => Ok(answer.status().as_u16()),
            Err(e) => Err(describe(&e, timeout)),
        }
    }
}

/// Why a request got no status, in a few words (never the body or the headers).
fn describe(e: &reqwest::Error, timeout: Duration) -> String {
    let mut source: Option<&dyn std::error::Error> = Some(e);
    let mut deepest = String::new();
    while let Some(s) = source {
        deepest = s.to_string();
        source = s.source();
    }
    if e.is_timeout() {
        format!("no answer within {} ms", timeout.as_millis())
    } else if e.is_connect() {
        format!("could not connect: {deepest}")
    } else {
        format!("request failed: {deepest}")
    }
}

/// The system resolver, keeping public addresses only (all of them when private targets are
/// allowed).
#[derive(Debug)]
struct PublicOnly {
    allow_private: bool,
}

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| allow_private || WebhookTarget::is_public(a.ip()))
                .collect();
            if found.is_empty() {
                return Err(format!(
                    "{host} resolves to no address the sender may call (loopback, private and \
                     link-local addresses are refused)"
                )
                .into());
            }
            let addrs: Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}
