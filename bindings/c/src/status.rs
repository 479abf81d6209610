//! Every call's outcome: a status code, and for a failure a message the caller
//! owns. Nothing unwinds across the C boundary: a panic inside the library is
//! caught here and returned as [`CrmStatus::Internal`].

use std::ffi::{c_char, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::null_mut;

/// What a call did. Every function that can fail returns one; on anything but
/// `CRM_STATUS_OK` its `error` argument (when not NULL) receives a message to
/// free with `crm_string_free`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrmStatus {
    /// It succeeded.
    Ok = 0,
    /// An argument is wrong: a NULL pointer where one is needed, text that is
    /// not UTF-8, options that are not the JSON documented, an unknown kind. The
    /// message names the argument.
    InvalidArgument = 1,
    /// The org folder cannot be read, or its module cannot be loaded (a missing
    /// file, an invalid `org.json`, a module refused by the org's pins or keys),
    /// or the engine cannot start.
    Load = 2,
    /// The input holds no JSON records at all (malformed array, nothing).
    /// Records that fail one by one are not this: each gets its error line.
    Input = 3,
    /// The records could not be decided at all (the org's module is gone).
    Decide = 4,
    /// The library failed inside (a bug); the failure was caught and the
    /// handles stay usable.
    Internal = 5,
}

/// A failed call: its status and what to tell the caller.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) status: CrmStatus,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn argument(name: &str, what: impl std::fmt::Display) -> Failure {
        Failure {
            status: CrmStatus::InvalidArgument,
            message: format!("{name}: {what}"),
        }
    }

    pub(crate) fn of(status: CrmStatus, error: &dyn std::error::Error) -> Failure {
        Failure {
            status,
            message: chain(error),
        }
    }
}

/// An error and its causes, one after the other, as the program prints them.
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Text for the caller, who frees it with `crm_string_free`.
pub(crate) fn c_string(text: String) -> *mut c_char {
    // Interior NULs cannot come from JSON output; in a message they are cut.
    let text = match CString::new(text) {
        Ok(text) => text,
        Err(e) => {
            let cut = e.nul_position();
            let mut bytes = e.into_vec();
            bytes.truncate(cut);
            CString::new(bytes).unwrap_or_default()
        }
    };
    text.into_raw()
}

/// Runs `body`, turning its failure or panic into a status and `*error`.
///
/// # Safety
/// `error` is NULL or points to writable storage for a pointer.
pub(crate) unsafe fn call(
    error: *mut *mut c_char,
    body: impl FnOnce() -> Result<(), Failure>,
) -> CrmStatus {
    if !error.is_null() {
        *error = null_mut();
    }
    let result = catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".to_owned());
        Err(Failure {
            status: CrmStatus::Internal,
            message: format!("internal error (please report it): {what}"),
        })
    });
    match result {
        Ok(()) => CrmStatus::Ok,
        Err(failure) => {
            if !error.is_null() {
                *error = c_string(failure.message);
            }
            failure.status
        }
    }
}
