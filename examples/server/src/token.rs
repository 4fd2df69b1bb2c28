//! The one rule for every bearer token the service is configured with, the admin token and
//! tenant tokens alike: at least [`MIN_TOKEN_LEN`] characters of visible ASCII (what an
//! `Authorization` header carries; so no whitespace), and no two the same. Messages name a
//! token by its flag or entry, never by its value.

use std::sync::Arc;

use crate::tenancy::TenantTokens;

/// Fewest characters in a token: shorter ones are guessable.
pub const MIN_TOKEN_LEN: usize = 16;

/// Checks one token against the rule.
///
/// ```
/// use identity_server::token::check;
/// assert!(check("0123456789abcdef").is_ok());
/// assert!(check("0123456789abcde").unwrap_err().contains("at least 16 characters"));
/// assert!(check("0123456789 abcdef").is_err());
/// assert!(check("0123456789abcdéf").is_err());
/// ```
///
/// # Errors
/// Why the token may not be used, without the token.
pub fn check(token: &str) -> Result<(), String> {
    if token.len() < MIN_TOKEN_LEN || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "the token must be at least {MIN_TOKEN_LEN} characters of visible ASCII, \
             without spaces"
        ));
    }
    Ok(())
}

/// Every token the service accepts: the admin token (if any) and the tenant tokens, checked
/// against the rule and against each other.
#[derive(Clone, Debug, Default)]
pub struct Credentials {
    /// The admin routes' bearer token; `None` disables them (404).
    pub admin: Option<Arc<str>>,
    /// The tenant tokens; none: a request's tenant is the one `X-Tenant-Id` names.
    pub tenants: TenantTokens,
}

impl Credentials {
    /// The admin token `admin` (as given to `--admin-token`, if it was) beside `tenants`.
    ///
    /// ```
    /// use identity_server::tenancy::TenantTokens;
    /// use identity_server::token::Credentials;
    /// let tenants = TenantTokens::parse("shop-a:token-0123456789abcdef")?;
    /// let err = Credentials::new(Some("token-0123456789abcdef"), tenants.clone()).unwrap_err();
    /// assert!(err.contains("shop-a") && !err.contains("0123"), "{err}");
    /// assert!(Credentials::new(Some(""), tenants.clone()).unwrap_err().contains("empty"));
    /// assert!(Credentials::new(None, tenants)?.admin.is_none());
    /// # Ok::<(), String>(())
    /// ```
    ///
    /// # Errors
    /// When the admin token is empty, breaks the rule ([`check`]), or is also a tenant's token
    /// (whose holder could then act for every tenant).
    pub fn new(admin: Option<&str>, tenants: TenantTokens) -> Result<Self, String> {
        let Some(admin) = admin else {
            return Ok(Credentials {
                admin: None,
                tenants,
            });
        };
        if admin.trim().is_empty() {
            return Err(
                "--admin-token (IDENTITY_ADMIN_TOKEN) is empty: give a token of at \
                        least 16 characters, or leave it unset to disable the admin routes"
                    .to_owned(),
            );
        }
        check(admin).map_err(|reason| format!("--admin-token: {reason}"))?;
        if let Some(tenant) = tenants.tenant_of(admin.as_bytes()) {
            return Err(format!(
                "the admin token is also the token of tenant {tenant}: every token must \
                 differ (that tenant's holder would act for every tenant)"
            ));
        }
        Ok(Credentials {
            admin: Some(admin.into()),
            tenants,
        })
    }
}
