//! What `settings()` and `set_phone_region()` answer, as an immutable Python object.

use pyo3::prelude::*;
use pyo3::types::PyDict;

/// A tenant's settings: its phone region (`None`: the plain phone rules).
#[pyclass(frozen, eq, module = "identity_reconciliation")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantSettings {
    /// The tenant the settings belong to.
    #[pyo3(get)]
    tenant_id: String,
    /// The ISO 3166 code national phone numbers are read in, or `None`.
    #[pyo3(get)]
    phone_region: Option<String>,
}

impl TenantSettings {
    /// The settings the core answered for `tenant`.
    pub fn of(tenant: &identity::TenantId, settings: &identity::TenantSettings) -> Self {
        TenantSettings {
            tenant_id: tenant.to_string(),
            phone_region: settings.phone_region.map(|r| r.to_string()),
        }
    }
}

#[pymethods]
impl TenantSettings {
    /// The wire shape: `{"tenantId": ..., "phoneRegion": ...}`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        dict.set_item("tenantId", &self.tenant_id)?;
        dict.set_item("phoneRegion", &self.phone_region)?;
        Ok(dict)
    }

    fn __repr__(&self) -> String {
        let region = self
            .phone_region
            .as_deref()
            .map_or_else(|| "None".to_owned(), |r| format!("'{r}'"));
        format!(
            "TenantSettings(tenant_id='{}', phone_region={region})",
            self.tenant_id
        )
    }
}
