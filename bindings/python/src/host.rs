//! `crm_rules.Host`: one engine (compiled modules, warm instances, the cache)
//! shared by many orgs, and the process's default host for `crm_rules.Org(dir)`.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use crm_rules::{EngineSettings, Host, Org};
use pyo3::prelude::*;

use crate::errors;
use crate::org::PyOrg;

/// Many orgs sharing one engine: each module is compiled once, whichever orgs
/// run it.
#[pyclass(name = "Host", module = "crm_rules", frozen)]
pub struct PyHost {
    pub(crate) host: Arc<Host>,
}

/// The settings of a host: the program's cache folder unless told otherwise.
fn settings(cache: bool, cache_dir: Option<PathBuf>, cache_key: Option<PathBuf>) -> EngineSettings {
    EngineSettings {
        cache_dir: if cache {
            cache_dir.or_else(crm_rules::cache::default_dir)
        } else {
            None
        },
        cache_key,
        ..EngineSettings::default()
    }
}

/// The host of every org made without one, started on first use.
pub(crate) fn shared(py: Python<'_>) -> PyResult<Arc<Host>> {
    static SHARED: OnceLock<Arc<Host>> = OnceLock::new();
    if let Some(host) = SHARED.get() {
        return Ok(host.clone());
    }
    let made = py
        .detach(|| Host::with_settings(&settings(true, None, None)))
        .map_err(|e| errors::load(&e))?;
    // Two threads may race to start it: the first one kept wins.
    Ok(SHARED.get_or_init(|| Arc::new(made)).clone())
}

/// Loads `dir` into `host`, the GIL released while its module compiles.
pub(crate) fn load(py: Python<'_>, host: Arc<Host>, dir: PathBuf) -> PyResult<PyOrg> {
    let org = py
        .detach(move || Org::load(host, &dir))
        .map_err(|e| errors::load(&e))?;
    Ok(PyOrg { org })
}

#[pymethods]
impl PyHost {
    /// A new engine. `cache=False` compiles modules anew in every process;
    /// `cache_dir` and `cache_key` keep them elsewhere than the program's folder.
    #[new]
    #[pyo3(signature = (*, cache = true, cache_dir = None, cache_key = None))]
    fn new(
        py: Python<'_>,
        cache: bool,
        cache_dir: Option<PathBuf>,
        cache_key: Option<PathBuf>,
    ) -> PyResult<PyHost> {
        let settings = settings(cache, cache_dir, cache_key);
        let host = py
            .detach(|| Host::with_settings(&settings))
            .map_err(|e| errors::load(&e))?;
        Ok(PyHost {
            host: Arc::new(host),
        })
    }

    /// Loads the org folder `dir` into this host.
    fn org(&self, py: Python<'_>, dir: PathBuf) -> PyResult<PyOrg> {
        load(py, self.host.clone(), dir)
    }

    /// The ids of the orgs loaded into this host.
    fn orgs(&self) -> Vec<String> {
        let mut orgs = self.host.orgs();
        orgs.sort();
        orgs
    }

    fn __repr__(&self) -> String {
        format!("<crm_rules.Host with {} org(s)>", self.host.orgs().len())
    }
}
