//! The keyword arguments of `Org.decide` and its shortcuts: the program's flags,
//! as Python values. Every refusal names the argument.

use chrono::{DateTime, FixedOffset, SubsecRound, Utc};
use crm_rules::crm::Format;
use crm_rules::pipeline::Emit;
use crm_rules::DecideOptions;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyString;

/// The keyword arguments every way of deciding takes.
pub struct Flags<'a, 'py> {
    pub now: Option<&'a Bound<'py, PyAny>>,
    pub emit: &'a str,
    pub jobs: Option<usize>,
    pub user: Option<String>,
    pub team: Option<String>,
    pub format: Option<&'a str>,
    pub to: Option<String>,
    pub provenance: bool,
    pub bundle: bool,
}

impl Flags<'_, '_> {
    /// The library's options for these arguments.
    pub fn options(self) -> PyResult<DecideOptions> {
        let now = match self.now {
            None => Utc::now().trunc_subsecs(0),
            Some(now) => time(now)?,
        };
        let (decision, native) = match self.emit {
            "decision" => (true, false),
            "native" => (false, true),
            "both" => (true, true),
            other => {
                return Err(PyValueError::new_err(format!(
                    "emit: {other:?} is not one of \"decision\", \"native\", \"both\""
                )))
            }
        };
        let format = self
            .format
            .map(|f| f.parse::<Format>())
            .transpose()
            .map_err(|e| PyValueError::new_err(format!("format: {e}")))?;
        let threads = match self.jobs {
            Some(0) => return Err(PyValueError::new_err("jobs: must be at least 1")),
            Some(jobs) => jobs,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        Ok(DecideOptions {
            user: self.user,
            team: self.team,
            format,
            to: self.to,
            emit: Emit {
                decision,
                native,
                provenance: self.provenance,
                bundle: self.bundle,
                pretty: false,
            },
            threads,
            ..DecideOptions::at(now)
        })
    }
}

/// `now`: an RFC 3339 string or a timezone-aware `datetime`.
fn time(now: &Bound<'_, PyAny>) -> PyResult<DateTime<Utc>> {
    if let Ok(text) = now.cast::<PyString>() {
        let text = text.to_str()?;
        return text.parse::<DateTime<Utc>>().map_err(|e| {
            PyValueError::new_err(format!(
                "now: {text:?} is not an RFC 3339 time such as \"2026-11-25T09:00:00Z\" ({e})"
            ))
        });
    }
    match now.extract::<DateTime<FixedOffset>>() {
        Ok(time) => Ok(time.with_timezone(&Utc)),
        Err(_) if now.hasattr("tzinfo")? => Err(PyValueError::new_err(
            "now: a datetime without a timezone is ambiguous; give it one (datetime.timezone.utc)",
        )),
        Err(_) => Err(PyTypeError::new_err(format!(
            "now: expected an RFC 3339 str or a datetime, got {}",
            now.get_type().name()?
        ))),
    }
}
