//! Reading a PostgreSQL URL into the driver's options, its query parameters checked first: the
//! driver accepts only lowercase names and logs any other parameter with its value (a
//! `?Password=...` would reach the log), so a known name in another case is read as that name
//! and an unknown one is refused, naming the parameter but never its value.
//!
//! `pgbouncer=true` (the name Prisma's users know) is the library's own parameter: the URL
//! names a pooler in transaction mode (PgBouncer, Supabase's and Neon's poolers), where a
//! server connection is the client's for one transaction only. The driver then prepares no
//! named statements (each statement is parsed, bound and run unnamed in one exchange), sends no
//! startup setting a pooler refuses (`extra_float_digits`, `options`). (No session lock is taken
//! either way: the migrations serialize on a transaction-level one.)

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

/// What a PostgreSQL URL says: the driver's options, and whether it names a pooler in
/// transaction mode (`pgbouncer=true`).
#[derive(Debug)]
pub(super) struct PgUrl {
    /// The driver's options, without the settings a transaction-mode pooler refuses.
    pub(super) options: PgConnectOptions,
    /// `pgbouncer=true`: no named statements, no session state.
    pub(super) pgbouncer: bool,
}

/// What `url` says; [`Error::InvalidUrl`] for a malformed URL, an unknown query parameter or a
/// `pgbouncer` that is neither `true` nor `false`.
pub(super) fn connect_options(url: &str) -> Result<PgUrl> {
    let (driver_url, pgbouncer) = known_parameters(url)?;
    let options = PgConnectOptions::from_str(&driver_url).map_err(|_| Error::InvalidUrl {
        reason: "malformed postgres url".into(),
    })?;
    let options = match pgbouncer {
        // no named statement outlives its exchange; the pooler forwards no extra_float_digits
        true => options.statement_cache_capacity(0).extra_float_digits(None),
        false => options,
    };
    Ok(PgUrl { options, pgbouncer })
}

/// `url` with each query parameter's name in the driver's spelling and `pgbouncer` taken out
/// (its value as the flag); an error naming the first parameter it does not know.
fn known_parameters(url: &str) -> Result<(String, bool)> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), false));
    };
    let (query, fragment) = query
        .split_once('#')
        .map_or((query, None), |(q, f)| (q, Some(f)));
    let mut parameters = Vec::new();
    let mut pgbouncer = false;
    for parameter in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = parameter.split_once('=').unwrap_or((parameter, ""));
        let lower = name.to_ascii_lowercase();
        if lower == "pgbouncer" {
            pgbouncer = match value.to_ascii_lowercase().as_str() {
                "true" | "1" => true,
                "false" | "0" => false,
                _ => {
                    return Err(Error::InvalidUrl {
                        reason: "pgbouncer must be true or false".into(),
                    });
                }
            };
            continue;
        }
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
                     options, statement-cache-capacity, pgbouncer)"
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
    Ok((out, pgbouncer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_names_in_any_case_are_read_and_unknown_ones_refused_without_their_value() {
        assert_eq!(
            known_parameters("postgres://h/db?Password=pw&SSLMODE=disable").unwrap(),
            (
                "postgres://h/db?password=pw&sslmode=disable".to_owned(),
                false
            )
        );
        let read = connect_options("postgres://u@h/db?Password=s3cret").unwrap();
        assert_eq!(read.options.get_username(), "u");
        assert_eq!(
            known_parameters("postgres://h/db").unwrap(),
            ("postgres://h/db".to_owned(), false)
        );
        for (url, named) in [
            ("postgres://h/db?passwd=s3cret", "`passwd`"),
            ("postgres://h/db?sslmode=disable&s3cret", "in the url"),
            ("postgres://h/db?a%20b=s3cret", "in the url"),
        ] {
            let err = connect_options(url).unwrap_err().to_string();
            assert!(err.contains("pgbouncer)"), "the known names: {err}");
            assert!(err.contains(named), "{url}: {err}");
            if named == "in the url" {
                assert!(!err.contains("s3cret"), "{err}");
            }
            assert!(!err.contains("=s3cret"), "{err}");
        }
    }

    #[test]
    fn pgbouncer_is_read_as_a_flag_and_never_reaches_the_driver() {
        for (url, flag) in [
            ("postgres://h/db?pgbouncer=true", true),
            ("postgres://h/db?sslmode=disable&PgBouncer=TRUE", true),
            ("postgres://h/db?pgbouncer=1&sslmode=disable", true),
            ("postgres://h/db?pgbouncer=false", false),
            ("postgres://h/db", false),
        ] {
            let (driver_url, pgbouncer) = known_parameters(url).unwrap();
            assert_eq!(pgbouncer, flag, "{url}");
            assert!(
                !driver_url.to_ascii_lowercase().contains("pgbouncer"),
                "{driver_url}"
            );
            assert_eq!(connect_options(url).unwrap().pgbouncer, flag, "{url}");
        }
        for url in ["postgres://h/db?pgbouncer=yes", "postgres://h/db?pgbouncer"] {
            let err = connect_options(url).unwrap_err().to_string();
            assert!(
                err.contains("pgbouncer must be true or false"),
                "{url}: {err}"
            );
        }
    }
}
