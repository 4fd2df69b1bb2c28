//! [`WebhookTarget`]: where a webhook POSTs, checked when it is registered. A target on a
//! loopback, private, link-local or otherwise non-public address is refused unless the
//! operator allows private targets: a tenant must not make the service call into its own
//! network. A name is checked again when it is resolved, at each delivery
//! ([`WebhookTarget::is_public`] is what the sender's resolver asks).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

use crate::error::{Error, Field, Result};

/// The longest URL accepted.
const MAX_URL: usize = 2048;

/// A webhook's URL: `http` or `https`, a host, no credentials, no fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookTarget(Url);

impl WebhookTarget {
    /// Reads `text` as a webhook's URL; with `allow_private` false, refuses a target whose
    /// host is a non-public address (`127.0.0.1`, `10.0.0.8`, `[::1]`, `localhost`, ...).
    ///
    /// ```
    /// use identity::webhook::WebhookTarget;
    /// assert!(WebhookTarget::parse("https://crm.example.com/hooks/identity", false).is_ok());
    /// assert!(WebhookTarget::parse("http://127.0.0.1:9000/", false).is_err());
    /// assert!(WebhookTarget::parse("http://127.0.0.1:9000/", true).is_ok());
    /// assert!(WebhookTarget::parse("ftp://example.com/", true).is_err());
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidInput`] naming [`Field::Url`], saying what is wrong.
    pub fn parse(text: &str, allow_private: bool) -> Result<Self> {
        let text = text.trim();
        if text.len() > MAX_URL {
            return Err(invalid(format!("is longer than {MAX_URL} characters")));
        }
        let url = Url::parse(text).map_err(|e| invalid(format!("is not a URL ({e})")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(invalid("must be an http or https URL".into()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid("must not carry a user name or password".into()));
        }
        if url.fragment().is_some() {
            return Err(invalid("must not have a fragment (#...)".into()));
        }
        let refused = match url.host() {
            None => return Err(invalid("has no host".into())),
            Some(Host::Ipv4(ip)) => !WebhookTarget::is_public(IpAddr::V4(ip)),
            Some(Host::Ipv6(ip)) => !WebhookTarget::is_public(IpAddr::V6(ip)),
            Some(Host::Domain(name)) => {
                let name = name.trim_end_matches('.');
                name == "localhost" || name.ends_with(".localhost")
            }
        };
        if refused && !allow_private {
            return Err(invalid(
                "is on a loopback, private or link-local address, which the operator does not \
                 allow as a webhook target"
                    .into(),
            ));
        }
        Ok(WebhookTarget(url))
    }

    /// The URL.
    #[must_use]
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// Whether `ip` is a public unicast address: not loopback, private (RFC 1918, unique
    /// local), link-local, shared (100.64.0.0/10), unspecified, broadcast, multicast,
    /// documentation or benchmarking, nor an IPv4-mapped or -compatible form of one.
    #[must_use]
    pub fn is_public(ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(v4) => public_v4(v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => public_v4(v4),
                None => public_v6(v6),
            },
        }
    }
}

fn public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (18..20).contains(&b))
        || a >= 240)
}

fn public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (first & 0xffc0) == 0xfe80 // link-local fe80::/10
        || first == 0x2001 && ip.segments()[1] == 0x0db8 // documentation
        || ip.segments()[..6].iter().all(|s| *s == 0)) // IPv4-compatible ::a.b.c.d
}

fn invalid(reason: String) -> Error {
    Error::InvalidInput {
        field: Field::Url,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_http_and_https_urls_are_taken_as_given() {
        let t = WebhookTarget::parse(" https://crm.example.com:8443/hooks?shop=1 ", false).unwrap();
        assert_eq!(t.as_str(), "https://crm.example.com:8443/hooks?shop=1");
        assert!(WebhookTarget::parse("http://93.184.216.34/x", false).is_ok());
        assert!(WebhookTarget::parse("http://[2606:2800:220:1::1]/", false).is_ok());
    }

    #[test]
    fn non_public_targets_are_refused_unless_allowed() {
        for url in [
            "http://127.0.0.1:9000/",
            "http://localhost/",
            "http://api.localhost./",
            "http://10.1.2.3/",
            "http://172.16.0.1/",
            "http://192.168.1.1/",
            "http://169.254.169.254/latest/meta-data",
            "http://100.64.0.1/",
            "http://0.0.0.0/",
            "http://[::1]/",
            "http://[fd00::1]/",
            "http://[fe80::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://2130706433/", // 127.0.0.1 as one number
        ] {
            let e = WebhookTarget::parse(url, false).unwrap_err();
            assert!(
                e.to_string().contains("loopback, private or link-local"),
                "{url}: {e}"
            );
            assert!(WebhookTarget::parse(url, true).is_ok(), "{url}");
        }
    }

    #[test]
    fn what_is_not_a_webhook_url_is_refused_saying_why() {
        for (url, why) in [
            ("not a url", "is not a URL"),
            ("ftp://example.com/", "http or https"),
            ("https://user:pw@example.com/", "user name or password"),
            ("https://example.com/#top", "fragment"),
            ("file:///etc/passwd", "http or https"),
        ] {
            let e = WebhookTarget::parse(url, true).unwrap_err();
            assert!(
                matches!(
                    e,
                    Error::InvalidInput {
                        field: Field::Url,
                        ..
                    }
                ),
                "{url}"
            );
            assert!(e.to_string().contains(why), "{url}: {e}");
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL));
        assert!(WebhookTarget::parse(&long, true).is_err());
    }
}
