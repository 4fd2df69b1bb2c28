//! The one rule for every bearer token the service is configured with, the admin token and
//! tenant tokens alike: at least [`MIN_TOKEN_LEN`] characters of visible ASCII (what an
//! `Authorization` header carries; so no whitespace), and no two the same. Messages name a
//! token by its flag or entry, never by its value. Also the tenant tokens themselves
//! ([`TenantTokens`]): which tenant each token may act for.

use std::sync::Arc;

use identity::TenantId;
use subtle::ConstantTimeEq;

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

/// Bearer tokens, each allowed to act for one tenant (a tenant may have several, for rotation).
///
/// Read from text of `tenant:token` entries, one per line or separated by commas; blank lines
/// and lines starting with `#` are ignored.
///
/// ```
/// use identity_server::tenancy::TenantTokens;
/// let tokens = TenantTokens::parse("shop-a:aaaaaaaaaaaaaaaaaaaa\n# rotated\nshop-b:bbbbbbbbbbbbbbbbbbbb")?;
/// assert_eq!(tokens.len(), 2);
/// assert!(format!("{tokens:?}").contains("shop-a") && !format!("{tokens:?}").contains("aaaa"));
/// assert!(TenantTokens::parse("shop-a:short").is_err());
/// # Ok::<(), String>(())
/// ```
#[derive(Clone, Default)]
pub struct TenantTokens {
    entries: Arc<Vec<(Box<[u8]>, TenantId)>>,
}

impl TenantTokens {
    /// Parses `tenant:token` entries.
    ///
    /// # Errors
    /// A message naming the entry (by position, never by its token) that has no `:`, names an
    /// invalid tenant, has a token that breaks [`crate::token::check`], or repeats a token.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut entries: Vec<(Box<[u8]>, TenantId)> = Vec::new();
        let lines = text.lines().filter(|l| !l.trim_start().starts_with('#'));
        let items = lines.flat_map(|l| l.split(',')).map(str::trim);
        for (at, item) in items.filter(|i| !i.is_empty()).enumerate() {
            let n = at + 1;
            let (tenant, token) = item
                .split_once(':')
                .ok_or_else(|| format!("tenant token entry {n}: expected tenant:token"))?;
            let tenant = TenantId::parse(tenant.trim())
                .map_err(|e| format!("tenant token entry {n}: {e}"))?;
            check(token)
                .map_err(|reason| format!("tenant token entry {n} ({tenant}): {reason}"))?;
            if entries.iter().any(|(t, _)| **t == *token.as_bytes()) {
                return Err(format!(
                    "tenant token entry {n} ({tenant}): the token is used twice"
                ));
            }
            entries.push((token.as_bytes().into(), tenant));
        }
        Ok(TenantTokens {
            entries: Arc::new(entries),
        })
    }

    /// Reads and parses a file of entries (see [`TenantTokens::parse`]).
    ///
    /// # Errors
    /// When the file cannot be read, or as [`TenantTokens::parse`].
    pub fn from_file(path: &std::path::Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the tenant tokens file {}: {e}", path.display()))?;
        Self::parse(&text)
    }

    /// Both sets of tokens (a token in both, for the same tenant, counts once).
    ///
    /// # Errors
    /// When a token is given for two different tenants.
    pub fn merged(&self, other: &TenantTokens) -> Result<Self, String> {
        let mut entries = (*self.entries).clone();
        for (token, tenant) in other.entries.iter() {
            match entries.iter().find(|(t, _)| t == token) {
                Some((_, same)) if same == tenant => {}
                Some((_, first)) => {
                    return Err(format!(
                        "one token is configured for two tenants ({first} and {tenant})"
                    ));
                }
                None => entries.push((token.clone(), tenant.clone())),
            }
        }
        Ok(TenantTokens {
            entries: Arc::new(entries),
        })
    }

    /// How many tokens are configured.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none are: then requests choose their tenant by header alone.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The tenant `token` may act for. Every configured token is compared, each in constant
    /// time, so the answer's timing does not depend on which (or whether one) matched.
    pub(crate) fn tenant_of(&self, token: &[u8]) -> Option<&TenantId> {
        let mut found = None;
        for (candidate, tenant) in self.entries.iter() {
            if bool::from(candidate.ct_eq(token)) {
                found = Some(tenant);
            }
        }
        found
    }
}

impl std::fmt::Debug for TenantTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tenants: Vec<&str> = self.entries.iter().map(|(_, t)| t.as_str()).collect();
        f.debug_struct("TenantTokens")
            .field("tenants", &tenants)
            .finish_non_exhaustive()
    }
}
