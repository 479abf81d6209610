//! Records between Python and the library: what a caller hands in (bytes or
//! text in any input the program accepts, a dict, an iterable of dicts) as the
//! bytes the program would read, and the program's output lines as dicts.

use std::borrow::Cow;

use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyList, PyString};

/// Input bytes: borrowed from a `bytes` object, or made.
pub type Input<'a> = Cow<'a, [u8]>;

/// `value` as JSON text (a dict, a list, any value `json.dumps` would write).
fn json(argument: &str, value: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    let value: serde_json::Value = pythonize::depythonize(value)
        .map_err(|e| PyTypeError::new_err(format!("{argument}: cannot be written as JSON: {e}")))?;
    serde_json::to_vec(&value).map_err(|e| PyTypeError::new_err(format!("{argument}: {e}")))
}

/// Bytes or text as they are, or `None` for any other value.
fn raw<'a>(value: &'a Bound<'_, PyAny>) -> PyResult<Option<Input<'a>>> {
    if let Ok(bytes) = value.cast::<PyBytes>() {
        return Ok(Some(Cow::Borrowed(bytes.as_bytes())));
    }
    if let Ok(text) = value.cast::<PyString>() {
        return Ok(Some(Cow::Owned(text.to_str()?.as_bytes().to_vec())));
    }
    if let Ok(bytes) = value.cast::<PyByteArray>() {
        return Ok(Some(Cow::Owned(bytes.to_vec())));
    }
    Ok(None)
}

/// One record: a dict, or its JSON as `str` or `bytes`.
pub fn record<'a>(argument: &str, value: &'a Bound<'_, PyAny>) -> PyResult<Input<'a>> {
    if let Some(raw) = raw(value)? {
        return Ok(raw);
    }
    if value.cast::<PyDict>().is_ok() {
        return json(argument, value).map(Cow::Owned);
    }
    Err(PyTypeError::new_err(format!(
        "{argument}: expected a dict, or its JSON as str or bytes, got {}",
        value.get_type().name()?
    )))
}

/// A batch: bytes or text in any input the program accepts, one dict, or an
/// iterable of dicts (read as JSON lines, one record each).
pub fn data<'a>(argument: &str, value: &'a Bound<'_, PyAny>) -> PyResult<Input<'a>> {
    if let Some(raw) = raw(value)? {
        return Ok(raw);
    }
    if value.cast::<PyDict>().is_ok() {
        return json(argument, value).map(Cow::Owned);
    }
    let Ok(items) = value.try_iter() else {
        return Err(PyTypeError::new_err(format!(
            "{argument}: expected bytes or str (JSON, JSON lines or a CRM's response), \
             a dict, or an iterable of dicts, got {}",
            value.get_type().name()?
        )));
    };
    let mut lines = Vec::new();
    for (i, item) in items.enumerate() {
        let item = item?;
        lines.extend(json(&format!("{argument}[{i}]"), &item)?);
        lines.push(b'\n');
    }
    Ok(Cow::Owned(lines))
}

/// The program's output lines as a list of dicts, in order.
pub fn lines<'py>(py: Python<'py>, text: &[u8]) -> PyResult<Bound<'py, PyList>> {
    let list = PyList::empty(py);
    for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        list.append(line_dict(py, line)?)?;
    }
    Ok(list)
}

/// One output line as a dict.
pub fn line_dict<'py>(py: Python<'py>, line: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    let value: serde_json::Value = serde_json::from_slice(line)
        .map_err(|e| PyRuntimeError::new_err(format!("an output line is not JSON: {e}")))?;
    pythonize::pythonize(py, &value)
        .map_err(|e| PyRuntimeError::new_err(format!("an output line: {e}")))
}
