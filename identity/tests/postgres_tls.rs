//! TLS as libpq does it. `sslmode=prefer` (the default) and `require` encrypt without verifying
//! the certificate, so they connect to a server whose certificate is X.509 v1 (as Citus makes
//! one) or v3, self-signed or signed by a CA; `verify-ca` and `verify-full` verify, and refuse
//! with a message that names what is wrong with the certificate. The certificates are made with
//! the `openssl` command line for a PostgreSQL cluster of this test's own.

use identity_testkit as common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::cluster::PrivateCluster;
use identity::{ConnectOptions, Identity};
use sqlx::Connection;
use sqlx::postgres::PgConnection;

/// Runs `openssl` in `dir`; panics with its output when it fails.
fn openssl(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command line (Debian: apt-get install openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A server certificate and its key, as PEM files in the certificates' directory.
struct Pair {
    name: &'static str,
    certificate: Vec<u8>,
    key: Vec<u8>,
}

const RSA: &[&str] = &["-newkey", "rsa:2048"];
const EC: &[&str] = &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];

/// A key and a signing request for `localhost` named `name` (`name.key`, `name.csr`).
fn request(dir: &Path, name: &str, key: &[&str]) {
    let (key_file, csr) = (format!("{name}.key"), format!("{name}.csr"));
    let mut args = vec!["req", "-new", "-nodes", "-subj", "/CN=localhost"];
    args.extend_from_slice(key);
    args.extend_from_slice(&["-keyout", &key_file, "-out", &csr]);
    openssl(dir, &args);
}

/// Reads `name.crt` and `name.key`, checking the certificate's X.509 version.
fn pair(dir: &Path, name: &'static str, version: u8) -> Pair {
    let certificate = dir.join(format!("{name}.crt"));
    let text = openssl(
        dir,
        &[
            "x509",
            "-noout",
            "-text",
            "-in",
            certificate.to_str().unwrap(),
        ],
    );
    assert!(
        text.contains(&format!("Version: {version} (0x{})", version - 1)),
        "{name} is not X.509 v{version}: {text}"
    );
    Pair {
        name,
        certificate: std::fs::read(certificate).unwrap(),
        key: std::fs::read(dir.join(format!("{name}.key"))).unwrap(),
    }
}

/// A CA (`ca.crt`) and four server certificates for `localhost`: v1 self-signed (RSA, as Citus
/// makes it), v3 self-signed (EC), v3 signed by the CA (RSA, a `localhost` name only, not for
/// server-auth-less use), v1 signed by the CA (EC).
fn certificates(dir: &Path) -> (PathBuf, [Pair; 4]) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-new",
            "-nodes",
            "-newkey",
            "rsa:2048",
            "-days",
            "30",
            "-subj",
            "/CN=identity test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
        ],
    );
    request(dir, "v1-self", RSA);
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "v1-self.csr",
            "-signkey",
            "v1-self.key",
            "-days",
            "30",
            "-out",
            "v1-self.crt",
        ],
    );
    let mut args = vec!["req", "-x509", "-new", "-nodes", "-days", "30"];
    args.extend_from_slice(EC);
    args.extend_from_slice(&[
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=DNS:localhost",
        "-keyout",
        "v3-self.key",
        "-out",
        "v3-self.crt",
    ]);
    openssl(dir, &args);
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    for (name, key, extensions) in [("v3-ca", RSA, true), ("v1-ca", EC, false)] {
        request(dir, name, key);
        let (csr, crt) = (format!("{name}.csr"), format!("{name}.crt"));
        let mut args = vec![
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "30",
            "-out",
            &crt,
        ];
        if extensions {
            args.extend_from_slice(&["-extfile", "leaf.ext"]);
        }
        openssl(dir, &args);
    }
    let pairs = [
        pair(dir, "v1-self", 1),
        pair(dir, "v3-self", 3),
        pair(dir, "v3-ca", 3),
        pair(dir, "v1-ca", 1),
    ];
    (dir.join("ca.crt"), pairs)
}

/// Connects the library with `url` and checks a request; then the TLS version of a connection
/// made with the same URL (`pg_stat_ssl`; `None`: not encrypted). The error's message (with
/// its causes) when either fails.
async fn connect(url: &str) -> Result<Option<String>, String> {
    let options = ConnectOptions::default()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(5));
    let identity = Identity::connect_with(url, &options)
        .await
        .map_err(|e| e.chain())?;
    let answer = identity.identify(Some("tls@x.io"), None).await;
    identity.close().await;
    answer.map_err(|e| e.chain())?;
    let mut connection = PgConnection::connect(url)
        .await
        .map_err(|e| e.to_string())?;
    let encrypted: Option<String> =
        sqlx::query_scalar("SELECT version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .fetch_one(&mut connection)
            .await
            .map_err(|e| e.to_string())?;
    connection.close().await.map_err(|e| e.to_string())?;
    Ok(encrypted)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sslmodes_connect_and_verify_as_libpq_does() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, pairs) = certificates(dir.path());
    let ca = ca.to_str().unwrap();
    let cluster = PrivateCluster::start();
    for (max, version) in [(None, "TLSv1.3"), (Some("TLSv1.2"), "TLSv1.2")] {
        let tls = Ok(Some(version.to_owned()));
        for server in &pairs {
            cluster.serve_tls(&server.certificate, &server.key, max);
            let case = format!("{} ({version})", server.name);
            // libpq's default and `require`: encrypted, whatever the certificate
            for mode in ["", "sslmode=prefer", "sslmode=require"] {
                let url = cluster.url_at("localhost", mode);
                assert_eq!(connect(&url).await, tls, "{case} {mode}");
            }
            assert_eq!(
                connect(&cluster.url_at("localhost", "sslmode=disable")).await,
                Ok(None),
                "{case}"
            );
            // verifying: only the CA-signed v3 certificate passes; the rest name the problem
            for mode in ["verify-ca", "verify-full"] {
                let url = cluster.url_at("localhost", &format!("sslmode={mode}&sslrootcert={ca}"));
                let answer = connect(&url).await;
                match server.name {
                    "v3-ca" => assert_eq!(answer, tls, "{case} {mode}"),
                    "v1-ca" => expect_refusal(&answer, "X.509 v1", &case),
                    "v1-self" => expect_refusal(&answer, "X.509 v1", &case),
                    _ => expect_refusal(&answer, "a CA certificate used as the server's", &case),
                }
            }
        }
        // verify-full checks the name: the certificate is for `localhost`, not `127.0.0.1`; a
        // root that did not sign it is refused by both
        cluster.serve_tls(&pairs[2].certificate, &pairs[2].key, max);
        let url = cluster.url_at("127.0.0.1", &format!("sslmode=verify-ca&sslrootcert={ca}"));
        assert_eq!(connect(&url).await, tls, "verify-ca ignores the name");
        let other = dir.path().join("v3-self.crt");
        let other = other.to_str().unwrap();
        for mode in ["verify-ca", "verify-full"] {
            let url = cluster.url_at("localhost", &format!("sslmode={mode}&sslrootcert={other}"));
            expect_refusal(
                &connect(&url).await,
                "not signed by a certificate authority",
                mode,
            );
        }
        let url = cluster.url_at(
            "127.0.0.1",
            &format!("sslmode=verify-full&sslrootcert={ca}"),
        );
        expect_refusal(
            &connect(&url).await,
            "not valid for 127.0.0.1",
            "v3-ca by address",
        );
    }
}

/// `answer` is a refusal whose message names `problem`, says which mode refused, and never
/// the password or the certificate's contents.
fn expect_refusal(answer: &Result<Option<String>, String>, problem: &str, case: &str) {
    let Err(message) = answer else {
        panic!("{case}: connected, expected a refusal naming {problem:?}");
    };
    assert!(message.contains(problem), "{case}: {message}");
    assert!(message.contains("sslmode=verify-"), "{case}: {message}");
}
