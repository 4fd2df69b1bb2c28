//! Suppression: the values of an erased customer kept only as keyed hashes, so that a later
//! request carrying one treats it as blocked ([`crate::IgnoredReason::Suppressed`]) without the
//! store keeping the value. A digest is HMAC-SHA256 under the store's own secret ([`Secret`],
//! made once per store and kept in the store), over the value's kind and the value, so a
//! digest taken from the database cannot be matched against a list of emails without the
//! secret.

use std::collections::HashSet;
use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::error::{Error, Result};
use crate::identifier::IdentifierKind;

/// The length of a store's secret and of a digest, in bytes.
pub(crate) const DIGEST_LEN: usize = 32;

/// A digest of one value: HMAC-SHA256 of `kind`, a zero byte, and the value.
pub(crate) type Digest = [u8; DIGEST_LEN];

/// A store's secret key for suppression digests. Its `Debug` never shows the key.
#[derive(Clone)]
pub(crate) struct Secret {
    mac: Hmac<Sha256>,
}

impl Secret {
    /// A new random secret, from the operating system's generator: the bytes to store.
    ///
    /// # Errors
    /// [`Error::Internal`] when the system has no randomness to give.
    pub(crate) fn generate() -> Result<[u8; DIGEST_LEN]> {
        let mut key = [0u8; DIGEST_LEN];
        getrandom::fill(&mut key).map_err(|_| Error::Internal {
            reason: "the operating system gave no random bytes for the suppression secret",
        })?;
        Ok(key)
    }

    /// The secret with these stored bytes.
    ///
    /// # Errors
    /// [`Error::CorruptGraph`] when they are not a secret this library made.
    pub(crate) fn from_stored(key: &[u8]) -> Result<Self> {
        if key.len() != DIGEST_LEN {
            return Err(Error::CorruptGraph {
                reason: format!(
                    "the suppression secret has {} bytes, not {DIGEST_LEN}",
                    key.len()
                ),
            });
        }
        let mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).map_err(|_| Error::Internal {
            reason: "hmac refused a 32-byte key",
        })?;
        Ok(Secret { mac })
    }

    /// The secret's fingerprint: 16 hex digits that tell two secrets apart without showing
    /// either (HMAC-SHA256 of a zero byte and `fingerprint`, a message no digest of a value
    /// takes, cut to 8 bytes).
    pub(crate) fn fingerprint(&self) -> String {
        let mut mac = self.mac.clone();
        mac.update(b"\0fingerprint");
        let tag = mac.finalize().into_bytes();
        hex(&tag[..8])
    }

    /// The digest of a stored `value` of `kind`.
    pub(crate) fn digest(&self, kind: IdentifierKind, value: &str) -> Digest {
        let mut mac = self.mac.clone();
        mac.update(kind.as_str().as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// A tenant's suppressed values, as digests under the store's secret.
#[derive(Debug, Clone)]
pub(crate) struct Suppressed {
    secret: Secret,
    digests: HashSet<(IdentifierKind, Digest)>,
}

impl Suppressed {
    /// The set of `digests`, taken under `secret`.
    pub(crate) fn new(
        secret: Secret,
        digests: impl IntoIterator<Item = (IdentifierKind, Digest)>,
    ) -> Self {
        Suppressed {
            secret,
            digests: digests.into_iter().collect(),
        }
    }

    /// Whether a stored `value` of `kind` is suppressed.
    pub(crate) fn contains(&self, kind: IdentifierKind, value: &str) -> bool {
        self.digests
            .contains(&(kind, self.secret.digest(kind, value)))
    }

    /// How many values are suppressed.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.digests.len()
    }
}

/// Lowercase hex of `bytes` (how digests are written out; SQLite's `unhex` reads it back).
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Reads a stored digest.
///
/// # Errors
/// [`Error::CorruptGraph`] when it is not 32 bytes.
pub(crate) fn stored_digest(bytes: &[u8]) -> Result<Digest> {
    bytes.try_into().map_err(|_| Error::CorruptGraph {
        reason: format!("a suppressed value's digest has {} bytes", bytes.len()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_depend_on_the_secret_the_kind_and_the_value() {
        let one = Secret::from_stored(&[1; DIGEST_LEN]).unwrap();
        let two = Secret::from_stored(&[2; DIGEST_LEN]).unwrap();
        let email = IdentifierKind::Email;
        let phone = IdentifierKind::Phone;
        assert_eq!(one.digest(email, "a@b.c"), one.digest(email, "a@b.c"));
        assert_ne!(one.digest(email, "a@b.c"), two.digest(email, "a@b.c"));
        assert_ne!(one.digest(email, "555"), one.digest(phone, "555"));
        assert_ne!(one.digest(email, "a@b.c"), one.digest(email, "a@b.d"));
        // HMAC-SHA256 as RFC 4231 defines it (test case 2: key "Jefe")
        let mut jefe = <Hmac<Sha256> as KeyInit>::new_from_slice(b"Jefe").unwrap();
        jefe.update(b"what do ya want for nothing?");
        let tag: Digest = jefe.finalize().into_bytes().into();
        assert_eq!(tag[..4], [0x5b, 0xdc, 0xc1, 0x46]);
    }

    #[test]
    fn a_set_matches_what_was_suppressed_only() {
        let secret = Secret::from_stored(&[7; DIGEST_LEN]).unwrap();
        let email = IdentifierKind::Email;
        let set = Suppressed::new(secret.clone(), [(email, secret.digest(email, "x@y.z"))]);
        assert!(set.contains(email, "x@y.z"));
        assert!(!set.contains(email, "x@y.zz"));
        assert!(!set.contains(IdentifierKind::Phone, "x@y.z"));
        assert_eq!(set.len(), 1);
        assert!(Secret::from_stored(&[0; 5]).is_err());
        assert!(format!("{secret:?}").contains(".."));
        let other = Secret::from_stored(&[8; DIGEST_LEN]).unwrap();
        assert_eq!(secret.fingerprint().len(), 16);
        assert_eq!(secret.fingerprint(), secret.clone().fingerprint());
        assert_ne!(secret.fingerprint(), other.fingerprint());
        assert_ne!(Secret::generate().unwrap(), Secret::generate().unwrap());
    }
}
