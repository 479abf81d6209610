//! `crm_rules.Org`: an org folder loaded, deciding records into the lines the
//! program writes, as dicts.

use std::path::PathBuf;

use crm_rules::decision::Kind;
use crm_rules::Org;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::errors;
use crate::host::{self, PyHost};
use crate::options::Flags;
use crate::records;

/// An org folder (`org.json`, its module, policy and signature), loaded and
/// checked as the program's `--org-dir` loads it.
#[pyclass(name = "Org", module = "crm_rules", frozen)]
pub struct PyOrg {
    pub(crate) org: Org,
}

impl PyOrg {
    /// Decides the one record `record` and returns its line.
    fn one<'py>(
        &self,
        py: Python<'py>,
        kind: Kind,
        record: &Bound<'py, PyAny>,
        flags: Flags<'_, 'py>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let options = crm_rules::DecideOptions {
            threads: 1,
            ..flags.options()?
        };
        let input = records::record("record", record)?;
        let org = &self.org;
        // A single decision is short, unless its module runs to its deadline:
        // other Python threads run meanwhile.
        let output = py
            .detach(|| org.decide(kind, &input, &options))
            .map_err(|e| errors::input("record", e))?;
        let mut lines = output.text.split(|&b| b == b'\n').filter(|l| !l.is_empty());
        match (lines.next(), lines.next()) {
            (Some(line), None) => records::line_dict(py, line),
            _ => Err(PyValueError::new_err(format!(
                "record: holds {} records; decide() answers for many",
                output.decided + output.failed
            ))),
        }
    }
}

#[pymethods]
impl PyOrg {
    /// Loads the org folder `dir`, into `host` or into the process's shared
    /// host. Raises `LoadError` when the folder or its module cannot be loaded.
    #[new]
    #[pyo3(signature = (dir, *, host = None))]
    fn new(py: Python<'_>, dir: PathBuf, host: Option<Bound<'_, PyHost>>) -> PyResult<PyOrg> {
        let engine = match host {
            Some(host) => host.get().host.clone(),
            None => host::shared(py)?,
        };
        host::load(py, engine, dir)
    }

    /// The org's id, as `org.json` gives it.
    #[getter]
    fn id(&self) -> &str {
        self.org.id()
    }

    /// The folder it was loaded from.
    #[getter]
    fn dir(&self) -> PathBuf {
        self.org.dir().to_owned()
    }

    /// The active module, as `crm-rules info` prints it.
    fn info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let info = self.org.info().map_err(|e| errors::runtime(&e))?;
        pythonize::pythonize(py, &info).map_err(|e| errors::runtime(&e))
    }

    /// The org's sales stages and their steps, as `crm-rules stages` prints them.
    fn stages<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let stages = self.org.stages().map_err(|e| errors::runtime(&e))?;
        pythonize::pythonize(py, &stages).map_err(|e| errors::runtime(&e))
    }

    /// Decides every record of `data` and returns the lines the program writes
    /// for the same input and flags, as dicts, in input order.
    // The program's flags, as keyword arguments.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (kind, data, *, now = None, emit = "decision", jobs = None, user = None,
                        team = None, format = None, to = None, provenance = false, bundle = false))]
    fn decide<'py>(
        &self,
        py: Python<'py>,
        kind: &str,
        data: &Bound<'py, PyAny>,
        now: Option<&Bound<'py, PyAny>>,
        emit: &str,
        jobs: Option<usize>,
        user: Option<String>,
        team: Option<String>,
        format: Option<&str>,
        to: Option<String>,
        provenance: bool,
        bundle: bool,
    ) -> PyResult<Bound<'py, PyList>> {
        let kind: Kind = kind
            .parse()
            .map_err(|e| PyValueError::new_err(format!("kind: {e}")))?;
        let options = Flags {
            now,
            emit,
            jobs,
            user,
            team,
            format,
            to,
            provenance,
            bundle,
        }
        .options()?;
        let input = records::data("data", data)?;
        let org = &self.org;
        let output = py
            .detach(|| org.decide(kind, &input, &options))
            .map_err(|e| errors::input("data", e))?;
        records::lines(py, &output.text)
    }

    /// Qualifies one lead (a dict, or its JSON as str or bytes): its line.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (record, *, now = None, emit = "decision", user = None, team = None,
                        format = None, provenance = false, bundle = false))]
    fn qualify<'py>(
        &self,
        py: Python<'py>,
        record: &Bound<'py, PyAny>,
        now: Option<&Bound<'py, PyAny>>,
        emit: &str,
        user: Option<String>,
        team: Option<String>,
        format: Option<&str>,
        provenance: bool,
        bundle: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let flags = Flags {
            now,
            emit,
            jobs: None,
            user,
            team,
            format,
            to: None,
            provenance,
            bundle,
        };
        self.one(py, Kind::Qualify, record, flags)
    }

    /// Plans one lead's conversion (`{"lead": ..., "candidates": [...]}`).
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (record, *, now = None, emit = "decision", user = None, team = None,
                        format = None, provenance = false, bundle = false))]
    fn convert<'py>(
        &self,
        py: Python<'py>,
        record: &Bound<'py, PyAny>,
        now: Option<&Bound<'py, PyAny>>,
        emit: &str,
        user: Option<String>,
        team: Option<String>,
        format: Option<&str>,
        provenance: bool,
        bundle: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let flags = Flags {
            now,
            emit,
            jobs: None,
            user,
            team,
            format,
            to: None,
            provenance,
            bundle,
        };
        self.one(py, Kind::Convert, record, flags)
    }

    /// Checks one stage move (`{"opportunity": ..., "to": "Propose"}`, or an
    /// opportunity with `to=`).
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (record, *, to = None, now = None, emit = "decision", user = None,
                        team = None, format = None, provenance = false, bundle = false))]
    fn transition<'py>(
        &self,
        py: Python<'py>,
        record: &Bound<'py, PyAny>,
        to: Option<String>,
        now: Option<&Bound<'py, PyAny>>,
        emit: &str,
        user: Option<String>,
        team: Option<String>,
        format: Option<&str>,
        provenance: bool,
        bundle: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let flags = Flags {
            now,
            emit,
            jobs: None,
            user,
            team,
            format,
            to,
            provenance,
            bundle,
        };
        self.one(py, Kind::Transition, record, flags)
    }

    /// Forecasts one opportunity.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (record, *, now = None, emit = "decision", user = None, team = None,
                        format = None, provenance = false, bundle = false))]
    fn forecast<'py>(
        &self,
        py: Python<'py>,
        record: &Bound<'py, PyAny>,
        now: Option<&Bound<'py, PyAny>>,
        emit: &str,
        user: Option<String>,
        team: Option<String>,
        format: Option<&str>,
        provenance: bool,
        bundle: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let flags = Flags {
            now,
            emit,
            jobs: None,
            user,
            team,
            format,
            to: None,
            provenance,
            bundle,
        };
        self.one(py, Kind::Forecast, record, flags)
    }

    fn __repr__(&self) -> String {
        format!(
            "<crm_rules.Org {:?} from {:?}>",
            self.org.id(),
            self.org.dir().display().to_string()
        )
    }
}
