//! What `verify` and `rebuild` answer, as immutable Python objects.

use pyo3::prelude::*;

/// One difference `verify` found: a stable `code` and a readable `message`.
#[pyclass(frozen, eq, module = "identity_reconciliation")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// A stable snake_case kind, e.g. `broken_link` or `pending_changes`.
    #[pyo3(get)]
    code: &'static str,
    /// What is wrong, naming the rows, customers or values.
    #[pyo3(get)]
    message: String,
}

#[pymethods]
impl Problem {
    fn __repr__(&self) -> String {
        format!("Problem(code={:?}, message={:?})", self.code, self.message)
    }
}

/// What `verify` found: the rows and customers read and every difference (none: healthy).
#[pyclass(frozen, module = "identity_reconciliation")]
#[derive(Debug, Clone)]
pub struct VerifyReport {
    /// Visible `contact` rows read.
    #[pyo3(get)]
    rows: u64,
    /// Customer records read.
    #[pyo3(get)]
    customers: u64,
    problems: Vec<Problem>,
    text: String,
}

#[pymethods]
impl VerifyReport {
    /// Every difference, invariants first.
    #[getter]
    fn problems(&self) -> Vec<Problem> {
        self.problems.clone()
    }

    /// Whether nothing was found.
    #[getter]
    fn clean(&self) -> bool {
        self.problems.is_empty()
    }

    fn __bool__(&self) -> bool {
        self.problems.is_empty()
    }

    fn __str__(&self) -> String {
        self.text.clone()
    }

    fn __repr__(&self) -> String {
        format!(
            "VerifyReport(rows={}, customers={}, problems={})",
            self.rows,
            self.customers,
            self.problems.len()
        )
    }
}

impl From<identity::VerifyReport> for VerifyReport {
    fn from(report: identity::VerifyReport) -> Self {
        VerifyReport {
            rows: report.rows,
            customers: report.customers,
            problems: report
                .problems
                .iter()
                .map(|p| Problem {
                    code: p.code(),
                    message: p.to_string(),
                })
                .collect(),
            text: report.to_string(),
        }
    }
}

/// What `rebuild` did.
#[pyclass(frozen, module = "identity_reconciliation")]
#[derive(Debug, Clone)]
pub struct RebuildReport {
    /// Visible `contact` rows read.
    #[pyo3(get)]
    rows: u64,
    /// Customer records written.
    #[pyo3(get)]
    customers: u64,
    relinked: Vec<i64>,
}

#[pymethods]
impl RebuildReport {
    /// Ids of the rows whose link was repaired (they broke the model).
    #[getter]
    fn relinked(&self) -> Vec<i64> {
        self.relinked.clone()
    }

    fn __repr__(&self) -> String {
        format!(
            "RebuildReport(rows={}, customers={}, relinked={:?})",
            self.rows, self.customers, self.relinked
        )
    }
}

impl From<identity::RebuildReport> for RebuildReport {
    fn from(report: identity::RebuildReport) -> Self {
        RebuildReport {
            rows: report.rows,
            customers: report.customers,
            relinked: report.relinked.iter().map(|id| id.get()).collect(),
        }
    }
}
