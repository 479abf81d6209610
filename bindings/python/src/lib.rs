//! crm-rules for Python: the module `crm_rules`, the library in-process.
//!
//! ```python
//! import crm_rules
//! org = crm_rules.Org("examples/strict")
//! org.qualify({"id": "L-1", "source": "web_form"}, now="2026-11-25T09:00:00Z")
//! ```
//!
//! [`Org`](org::PyOrg) answers with the lines the program writes for the same
//! input, as dicts; [`Host`](host::PyHost) shares one engine between many orgs.
//! The typing stubs are `crm_rules.pyi` beside this crate's `Cargo.toml`.

mod errors;
mod host;
mod options;
mod org;
mod records;

use pyo3::prelude::*;

/// The Python module.
#[pymodule]
#[pyo3(name = "crm_rules")]
fn crm_rules_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("LoadError", m.py().get_type::<errors::LoadError>())?;
    m.add_class::<host::PyHost>()?;
    m.add_class::<org::PyOrg>()?;
    Ok(())
}
