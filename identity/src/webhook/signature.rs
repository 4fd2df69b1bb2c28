//! Standard Webhooks signatures: `v1,` and the base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`,
//! keyed with the bytes of the endpoint's secret (`whsec_` and their base64).

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::error::{Error, Result};

/// How many random bytes a new secret has.
const SECRET_BYTES: usize = 24;

/// An endpoint's signing secret: `whsec_` and the base64 of its bytes. Its `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret {
    text: String,
    bytes: Vec<u8>,
}

impl WebhookSecret {
    /// A new random secret (24 bytes from the operating system).
    ///
    /// # Errors
    /// [`Error::Internal`] when the operating system gives no random bytes.
    pub fn generate() -> Result<Self> {
        let mut bytes = vec![0u8; SECRET_BYTES];
        getrandom::fill(&mut bytes).map_err(|_| Error::Internal {
            reason: "the operating system gave no random bytes for a webhook secret",
        })?;
        Ok(WebhookSecret {
            text: format!("whsec_{}", STANDARD.encode(&bytes)),
            bytes,
        })
    }

    /// A secret written as `whsec_` and base64 (as [`WebhookSecret::as_str`] shows it).
    ///
    /// # Errors
    /// [`Error::Internal`] for any other text (a stored secret that is not one).
    pub fn parse(text: &str) -> Result<Self> {
        let bytes = text
            .strip_prefix("whsec_")
            .and_then(|b64| STANDARD.decode(b64).ok())
            .filter(|b| !b.is_empty())
            .ok_or(Error::Internal {
                reason: "a stored webhook secret is not whsec_ and base64",
            })?;
        Ok(WebhookSecret {
            text: text.to_owned(),
            bytes,
        })
    }

    /// `whsec_` and the base64 of the bytes.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.bytes)
            .expect("HMAC takes a key of any length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(whsec_…)")
    }
}

/// The `webhook-signature` header of a delivery: `v1,` and the base64 HMAC-SHA256 of
/// `{id}.{timestamp}.{body}`.
///
/// ```
/// use identity::webhook::{WebhookSecret, sign, verify};
/// // the example of the Standard Webhooks specification
/// let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")?;
/// let body = br#"{"test": 2432232314}"#;
/// let signature = sign(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
/// assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
/// assert!(verify(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body, &signature));
/// # Ok::<(), identity::Error>(())
/// ```
#[must_use]
pub fn sign(secret: &WebhookSecret, id: &str, timestamp: i64, body: &[u8]) -> String {
    let tag = secret.mac(id, timestamp, body).finalize().into_bytes();
    format!("v1,{}", STANDARD.encode(tag))
}

/// Whether `header` (one or more space-separated `v1,<base64>` signatures) holds a valid
/// signature of `{id}.{timestamp}.{body}` (compared in constant time). A receiver also checks
/// that `timestamp` is recent, to refuse replays.
#[must_use]
pub fn verify(secret: &WebhookSecret, id: &str, timestamp: i64, body: &[u8], header: &str) -> bool {
    header.split(' ').any(|part| {
        part.strip_prefix("v1,")
            .and_then(|b64| STANDARD.decode(b64).ok())
            .is_some_and(|tag| secret.mac(id, timestamp, body).verify_slice(&tag).is_ok())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_secret_is_whsec_and_24_random_bytes_and_reads_back() {
        let (a, b) = (
            WebhookSecret::generate().unwrap(),
            WebhookSecret::generate().unwrap(),
        );
        assert!(a.as_str().starts_with("whsec_") && a != b);
        assert_eq!(WebhookSecret::parse(a.as_str()).unwrap(), a);
        assert_eq!(a.bytes.len(), SECRET_BYTES);
        assert!(!format!("{a:?}").contains(&a.as_str()[6..]));
        for bad in ["", "whsec_", "whsec_***", "sk_abc"] {
            assert!(WebhookSecret::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_signature_binds_the_id_the_time_and_the_body() {
        let secret = WebhookSecret::generate().unwrap();
        let signature = sign(&secret, "evt_1", 1_700_000_000, b"{}");
        assert!(verify(&secret, "evt_1", 1_700_000_000, b"{}", &signature));
        assert!(verify(
            &secret,
            "evt_1",
            1_700_000_000,
            b"{}",
            &format!("v1,AAAA {signature}")
        ));
        assert!(!verify(&secret, "evt_2", 1_700_000_000, b"{}", &signature));
        assert!(!verify(&secret, "evt_1", 1_700_000_001, b"{}", &signature));
        assert!(!verify(&secret, "evt_1", 1_700_000_000, b"{ }", &signature));
        let other = WebhookSecret::generate().unwrap();
        assert!(!verify(&other, "evt_1", 1_700_000_000, b"{}", &signature));
        assert!(!verify(&secret, "evt_1", 1_700_000_000, b"{}", "v2,abc"));
    }
}
