//! Reading a PostgreSQL URL into the driver's options, its query parameters checked first: the
//! driver accepts only lowercase names and logs any other parameter with its value (a
//! `?Password=...` would reach the log), so a known name in another case is read as that name
//! and an unknown one is refused, naming the parameter but never its value.

use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;

use crate::error::{Error, Result};

/// The parameters the driver reads (sqlx-postgres 0.9, `options/parse.rs`), as it spells them;
/// `options[name]` is read too.
const KNOWN: &[&str] = &[
    "sslmode",
    "ssl-mode",
    "sslrootcert",
    "ssl-root-cert",
    "ssl-ca",
    "sslcert",
    "ssl-cert",
    "sslkey",
    "ssl-key",
    "statement-cache-capacity",
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "application_name",
    "options",
];

/// The driver's options for `url`; [`Error::InvalidUrl`] for a malformed URL or an unknown
/// query parameter.
pub(super) fn connect_options(url: &str) -> Result<PgConnectOptions> {
    PgConnectOptions::from_str(&known_parameters(url)?).map_err(|_| Error::InvalidUrl {
        reason: "malformed postgres url".into(),
    })
}

/// `url` with each query parameter's name in the driver's spelling; an error naming the first
/// parameter it does not know.
fn known_parameters(url: &str) -> Result<String> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok(url.to_owned());
    };
    let (query, fragment) = query
        .split_once('#')
        .map_or((query, None), |(q, f)| (q, Some(f)));
    let mut parameters = Vec::new();
    for parameter in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = parameter.split_once('=').unwrap_or((parameter, ""));
        let lower = name.to_ascii_lowercase();
        if !KNOWN.contains(&lower.as_str()) && !lower.starts_with("options[") {
            // the name only, and only when it looks like one: never a value pasted by mistake
            // (a bare word with no `=` may be one)
            let shown = if parameter.contains('=')
                && name.len() <= 40
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
            {
                format!("`{name}`")
            } else {
                "in the url".to_owned()
            };
            return Err(Error::InvalidUrl {
                reason: format!(
                    "unknown connection parameter {shown} (known: sslmode, sslrootcert, sslcert, \
                     sslkey, host, hostaddr, port, dbname, user, password, application_name, \
                     options, statement-cache-capacity)"
                ),
            });
        }
        parameters.push(format!("{lower}={value}"));
    }
    let mut out = base.to_owned();
    if !parameters.is_empty() {
        out.push('?');
        out.push_str(&parameters.join("&"));
    }
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_names_in_any_case_are_read_and_unknown_ones_refused_without_their_value() {
        assert_eq!(
            known_parameters("postgres://h/db?Password=pw&SSLMODE=disable").unwrap(),
            "postgres://h/db?password=pw&sslmode=disable"
        );
        let read = connect_options("postgres://u@h/db?Password=s3cret").unwrap();
        assert_eq!(read.get_username(), "u");
        assert_eq!(
            known_parameters("postgres://h/db").unwrap(),
            "postgres://h/db"
        );
        for (url, named) in [
            ("postgres://h/db?passwd=s3cret", "`passwd`"),
            ("postgres://h/db?sslmode=disable&s3cret", "in the url"),
            ("postgres://h/db?a%20b=s3cret", "in the url"),
        ] {
            let err = connect_options(url).unwrap_err().to_string();
            assert!(err.contains(named), "{url}: {err}");
            if named == "in the url" {
                assert!(!err.contains("s3cret"), "{err}");
            }
            assert!(!err.contains("=s3cret"), "{err}");
        }
    }
}
