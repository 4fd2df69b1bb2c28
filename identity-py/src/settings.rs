//! What `settings()`, `set_phone_region()` and `set_limits()` answer, as immutable Python
//! objects.

use pyo3::prelude::*;
use pyo3::types::PyDict;

/// A tenant's per-customer caps on distinct emails and phone numbers (`None`: no cap).
#[pyclass(frozen, eq, module = "identity_reconciliation")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Most distinct emails a customer may hold, or `None`.
    #[pyo3(get)]
    emails: Option<u32>,
    /// Most distinct phone numbers a customer may hold, or `None`.
    #[pyo3(get)]
    phones: Option<u32>,
}

#[pymethods]
impl Limits {
    /// The wire shape: `{"emails": ..., "phones": ...}`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        dict.set_item("emails", self.emails)?;
        dict.set_item("phones", self.phones)?;
        Ok(dict)
    }

    fn __repr__(&self) -> String {
        let show = |v: Option<u32>| v.map_or_else(|| "None".to_owned(), |n| n.to_string());
        format!(
            "Limits(emails={}, phones={})",
            show(self.emails),
            show(self.phones)
        )
    }
}

/// A tenant's settings: its phone region (`None`: the plain phone rules) and its caps.
#[pyclass(frozen, eq, module = "identity_reconciliation")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantSettings {
    /// The tenant the settings belong to.
    #[pyo3(get)]
    tenant_id: String,
    /// The ISO 3166 code national phone numbers are read in, or `None`.
    #[pyo3(get)]
    phone_region: Option<String>,
    /// The per-customer caps.
    #[pyo3(get)]
    limits: Limits,
}

impl TenantSettings {
    /// The settings the core answered for `tenant`.
    pub fn of(tenant: &identity::TenantId, settings: &identity::TenantSettings) -> Self {
        TenantSettings {
            tenant_id: tenant.to_string(),
            phone_region: settings.phone_region.map(|r| r.to_string()),
            limits: Limits {
                emails: settings.limits.emails,
                phones: settings.limits.phones,
            },
        }
    }
}

#[pymethods]
impl TenantSettings {
    /// The wire shape: `{"tenantId": ..., "phoneRegion": ..., "limits": {...}}`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        dict.set_item("tenantId", &self.tenant_id)?;
        dict.set_item("phoneRegion", &self.phone_region)?;
        dict.set_item("limits", self.limits.to_dict(py)?)?;
        Ok(dict)
    }

    fn __repr__(&self) -> String {
        let region = self
            .phone_region
            .as_deref()
            .map_or_else(|| "None".to_owned(), |r| format!("'{r}'"));
        format!(
            "TenantSettings(tenant_id='{}', phone_region={region}, limits={})",
            self.tenant_id,
            self.limits.__repr__()
        )
    }
}
