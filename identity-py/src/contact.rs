//! `Contact`: the consolidated customer as an immutable Python object.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyType};

use crate::blocked::Ignored;

/// `Contact`'s constructor arguments, as pickled.
type ContactArgs = (i64, Vec<String>, Vec<String>, Vec<i64>, Vec<Ignored>);

/// The consolidated customer: immutable, comparable, hashable, picklable.
#[pyclass(frozen, eq, hash, module = "identity_reconciliation")]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Contact {
    primary_contact_id: i64,
    emails: Vec<String>,
    phone_numbers: Vec<String>,
    secondary_contact_ids: Vec<i64>,
    ignored: Vec<Ignored>,
}

impl From<identity::ConsolidatedContact> for Contact {
    fn from(c: identity::ConsolidatedContact) -> Self {
        Contact {
            primary_contact_id: c.primary_contact_id.get(),
            emails: c.emails.iter().map(ToString::to_string).collect(),
            phone_numbers: c.phone_numbers.iter().map(ToString::to_string).collect(),
            secondary_contact_ids: c.secondary_contact_ids.iter().map(|id| id.get()).collect(),
            ignored: c.ignored.iter().map(Ignored::from).collect(),
        }
    }
}

#[pymethods]
impl Contact {
    #[new]
    #[pyo3(signature = (primary_contact_id, emails, phone_numbers, secondary_contact_ids, ignored = Vec::new()))]
    fn new(
        primary_contact_id: i64,
        emails: Vec<String>,
        phone_numbers: Vec<String>,
        secondary_contact_ids: Vec<i64>,
        ignored: Vec<PyRef<'_, Ignored>>,
    ) -> Self {
        Contact {
            primary_contact_id,
            emails,
            phone_numbers,
            secondary_contact_ids,
            ignored: ignored.iter().map(|i| (**i).clone()).collect(),
        }
    }

    /// The request's values left out of linking, and why (empty when every value was used).
    #[getter]
    fn ignored(&self) -> Vec<Ignored> {
        self.ignored.clone()
    }

    /// The customer's primary row id.
    #[getter]
    fn primary_contact_id(&self) -> i64 {
        self.primary_contact_id
    }

    /// Distinct emails, the primary's first.
    #[getter]
    fn emails(&self) -> Vec<String> {
        self.emails.clone()
    }

    /// Distinct phone numbers, the primary's first.
    #[getter]
    fn phone_numbers(&self) -> Vec<String> {
        self.phone_numbers.clone()
    }

    /// Every secondary row id, ascending.
    #[getter]
    fn secondary_contact_ids(&self) -> Vec<i64> {
        self.secondary_contact_ids.clone()
    }

    /// The wire shape: `{"primaryContactId", "emails", "phoneNumbers", "secondaryContactIds"}`
    /// (the `contact` object; `ignored` goes beside it, see `ignored`).
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        dict.set_item("primaryContactId", self.primary_contact_id)?;
        dict.set_item("emails", self.emails.clone())?;
        dict.set_item("phoneNumbers", self.phone_numbers.clone())?;
        dict.set_item("secondaryContactIds", self.secondary_contact_ids.clone())?;
        Ok(dict)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let repr = |v: Bound<'_, PyAny>| v.repr().map(|r| r.to_string());
        let ignored = if self.ignored.is_empty() {
            String::new()
        } else {
            let items: Vec<String> = self.ignored.iter().map(Ignored::repr).collect();
            format!(", ignored=[{}]", items.join(", "))
        };
        Ok(format!(
            "Contact(primary_contact_id={}, emails={}, phone_numbers={}, secondary_contact_ids={}{ignored})",
            self.primary_contact_id,
            repr(self.emails.clone().into_pyobject(py)?.into_any())?,
            repr(self.phone_numbers.clone().into_pyobject(py)?.into_any())?,
            repr(
                self.secondary_contact_ids
                    .clone()
                    .into_pyobject(py)?
                    .into_any()
            )?,
        ))
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> (Bound<'py, PyType>, ContactArgs) {
        let c = slf.get();
        (
            slf.get_type(),
            (
                c.primary_contact_id,
                c.emails.clone(),
                c.phone_numbers.clone(),
                c.secondary_contact_ids.clone(),
                c.ignored.clone(),
            ),
        )
    }
}
