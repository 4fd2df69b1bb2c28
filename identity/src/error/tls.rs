//! What a refused server certificate means, in words. Only `sslmode=verify-ca` and
//! `verify-full` check the certificate (as with libpq, `prefer` and `require` encrypt without
//! checking it), so a refusal names those modes, the certificate's problem and the fix.

use rustls::{CertificateError, Error as TlsError};

/// The description of a TLS handshake that failed on the server's certificate; `None` for any
/// other error. `at` is `" at host:port"` or empty.
pub(super) fn certificate_refusal(e: &sqlx::Error, at: &str) -> Option<String> {
    let refused = match e {
        sqlx::Error::Io(io) => io.get_ref()?.downcast_ref::<TlsError>()?,
        sqlx::Error::Tls(tls) => tls.downcast_ref::<TlsError>()?,
        _ => return None,
    };
    let TlsError::InvalidCertificate(problem) = refused else {
        return None;
    };
    Some(format!(
        "sslmode=verify-ca/verify-full refused the server's certificate{at}: {}",
        problem_words(problem)
    ))
}

/// The certificate's problem and what to do about it.
fn problem_words(problem: &CertificateError) -> String {
    match problem {
        CertificateError::UnknownIssuer => "it is not signed by a certificate authority in \
            sslrootcert (or the system's roots when none is given): name the CA that signed it \
            with ?sslrootcert=/path/to/ca.crt"
            .to_owned(),
        CertificateError::NotValidForName => {
            "it is not valid for the host the url names: connect with a name the certificate \
             lists, or use sslmode=verify-ca, which does not check the name"
                .to_owned()
        }
        CertificateError::NotValidForNameContext {
            expected,
            presented,
        } => {
            let expected = match expected {
                rustls::pki_types::ServerName::DnsName(name) => name.as_ref().to_owned(),
                rustls::pki_types::ServerName::IpAddress(ip) => {
                    std::net::IpAddr::from(*ip).to_string()
                }
                other => format!("{other:?}"),
            };
            format!(
                "it is not valid for {expected} (it names {}): connect with a name the \
                 certificate lists, or use sslmode=verify-ca, which does not check the name",
                presented.join(", ")
            )
        }
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            "it has expired: renew the server's certificate".to_owned()
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            "it is not valid yet: check the clocks of this machine and the server".to_owned()
        }
        CertificateError::Revoked => "it has been revoked".to_owned(),
        CertificateError::BadSignature => "its signature does not verify".to_owned(),
        CertificateError::BadEncoding => "it is not a well-formed X.509 certificate".to_owned(),
        CertificateError::Other(other)
            if format!("{other:?}").contains("UnsupportedCertVersion") =>
        {
            "it is an X.509 v1 certificate, which cannot be verified (it cannot say it is not a \
             CA, nor name a host): give the server a v3 certificate signed by your CA, or use \
             sslmode=require (encrypted, not verified)"
                .to_owned()
        }
        CertificateError::Other(other) if format!("{other:?}").contains("CaUsedAsEndEntity") => {
            "it is a CA certificate used as the server's own (a self-signed certificate made \
             with openssl req -x509): sign a server certificate with that CA, or use \
             sslmode=require (encrypted, not verified)"
                .to_owned()
        }
        other => format!("{other:?}"),
    }
}
