//! One URL configures everything: [`connect`] picks the store from the URL's scheme, migrates it,
//! and returns an [`Identity`] handle shared by Rust, the bindings and the HTTP service.
//! (Facade layer: the handle is defined in `facade/connect.rs`; [`redact_url`] is here.)

pub use crate::facade::connect::{ConnectOptions, Identity, connect};

/// The URL with any password replaced by `***`, safe to log.
///
/// ```
/// assert_eq!(
///     identity::connect::redact_url("postgres://shop:s3cret@db:5432/shop?sslmode=require"),
///     "postgres://shop:***@db:5432/shop?sslmode=require"
/// );
/// assert_eq!(identity::connect::redact_url("sqlite:shop.db"), "sqlite:shop.db");
/// ```
#[must_use]
pub fn redact_url(url: &str) -> String {
    let url = &redact_query_password(url);
    // `scheme://authority...`, or `scheme:authority...` (no slashes: still a password to hide)
    let (scheme, slashes, rest) = match url.split_once("://") {
        Some((scheme, rest)) => (scheme, "://", rest),
        None => match url.split_once(':') {
            Some((scheme, rest)) => (scheme, ":", rest),
            None => return url.to_owned(),
        },
    };
    // the authority ends at the first '/', '?' or '#'; a password is between ':' and the last '@'
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
            let masked = if userinfo.contains(':') { ":***" } else { "" };
            format!("{scheme}{slashes}{user}{masked}@{host}{tail}")
        }
        None => url.to_owned(),
    }
}

/// `password=...` query parameters replaced by `password=***`.
fn redact_query_password(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_owned();
    };
    let params: Vec<String> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
            _ => kv.to_owned(),
        })
        .collect();
    format!("{base}?{}", params.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacted_urls_never_contain_the_password() {
        for (url, expected) in [
            ("postgresql://u:p@ss@h/db", "postgresql://u:***@h/db"),
            ("postgres://u@h/db", "postgres://u@h/db"),
            (
                "postgres://h:5432/db?password=x&a=b",
                "postgres://h:5432/db?password=***&a=b",
            ),
            ("postgres://u:pw@h", "postgres://u:***@h"),
            ("postgres:u:pw@h/db", "postgres:u:***@h/db"),
            (
                "postgres://h/db?Password=pw",
                "postgres://h/db?Password=***",
            ),
            ("sqlite:shop.db", "sqlite:shop.db"),
            ("sqlite::memory:", "sqlite::memory:"),
            ("memory:", "memory:"),
        ] {
            assert_eq!(redact_url(url), expected);
        }
    }
}
