//! How the library's failures reach Python: a folder or module that cannot be
//! loaded raises `crm_rules.LoadError`; a bad argument `ValueError` or
//! `TypeError` naming it; a record that fails is no exception at all (it gets
//! the program's error line).

use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyRuntimeError, PyValueError};
use pyo3::PyErr;

use crm_rules::pipeline::InputError;

create_exception!(
    crm_rules,
    LoadError,
    PyException,
    "An org folder cannot be read, or its module cannot be loaded (missing files, \
     an invalid org.json, a module refused by the org's pins or keys)."
);

/// An error and its causes, one after the other, as the program prints them.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A failure to load an org or start the engine.
pub fn load(error: &dyn std::error::Error) -> PyErr {
    LoadError::new_err(chain(error))
}

/// A failure of a whole input (`argument` names the argument that held it).
pub fn input(argument: &str, error: InputError) -> PyErr {
    match error {
        InputError::Unreadable(message) => PyValueError::new_err(format!("{argument}: {message}")),
        InputError::Read(e) => PyValueError::new_err(format!("{argument}: {}", chain(&e))),
        // The org's module is gone, or the output could not be gathered.
        other @ (InputError::Decide(_) | InputError::Write(_)) => {
            PyRuntimeError::new_err(chain(&other))
        }
    }
}

/// The engine failed where the caller could not have helped it.
pub fn runtime(error: &dyn std::error::Error) -> PyErr {
    PyRuntimeError::new_err(chain(error))
}
