//! crm-rules for any language with a C ABI (C, C#, Java, Go, Swift...): the same
//! org folders, modules, policies, caches, integrity checks and limits as the
//! program, behind opaque handles, with JSON in and out.
//!
//! Every function that can fail returns a [`CrmStatus`] and, through its last
//! argument `error` (may be NULL), a message the caller frees with
//! [`crm_string_free`]. Results are written to out-arguments only on success;
//! every string the library returns is freed with `crm_string_free`, every
//! handle with its own `_free` function. Handles may be shared between threads:
//! an org decides on many threads at once. The header `crm_rules.h` is generated
//! from this crate by cbindgen; `docs/bindings.md` shows it used from C, C# and
//! Java.

mod args;
mod options;
mod status;

use std::ffi::c_char;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use crm_rules::decision::Kind;
use crm_rules::pipeline::InputError;
use crm_rules::{Host, Org};

pub use status::CrmStatus;
use status::{c_string, call, Failure};

/// An engine holding compiled modules, shared by the orgs loaded into it. Made
/// by `crm_host_new`, freed by `crm_host_free` (the orgs loaded into it keep it
/// alive as long as they need it).
pub struct CrmHost {
    host: Arc<Host>,
}

/// An org folder loaded and ready to decide. Made by `crm_org_load`, freed by
/// `crm_org_free`.
pub struct CrmOrg {
    org: Org,
}

/// The host of orgs loaded without one: made on first use, with the program's
/// settings, and kept for the process.
fn shared_host() -> Result<Arc<Host>, Failure> {
    static SHARED: OnceLock<Result<Arc<Host>, String>> = OnceLock::new();
    SHARED
        .get_or_init(|| {
            let settings = options::engine_settings(None).map_err(|f| f.message)?;
            Host::with_settings(&settings)
                .map(Arc::new)
                .map_err(|e| status::chain(&e))
        })
        .clone()
        .map_err(|message| Failure {
            status: CrmStatus::Load,
            message,
        })
}

/// The library's version, a static string (not to be freed).
#[no_mangle]
pub extern "C" fn crm_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// Makes a host. `settings_json` may be NULL (the program's defaults) or a JSON
/// object: `{"cache": false}` compiles modules anew in every process,
/// `{"cache_dir": "...", "cache_key": "..."}` keeps them in another folder.
///
/// # Safety
/// `settings_json` is NULL or a NUL-terminated string; `host` and `error` are
/// NULL or point to writable pointers.
#[no_mangle]
pub unsafe extern "C" fn crm_host_new(
    settings_json: *const c_char,
    host: *mut *mut CrmHost,
    error: *mut *mut c_char,
) -> CrmStatus {
    call(error, || {
        let out = args::out("host", host)?;
        let settings =
            options::engine_settings(args::optional_text("settings_json", settings_json)?)?;
        let made = Host::with_settings(&settings).map_err(|e| Failure::of(CrmStatus::Load, &e))?;
        *out = Box::into_raw(Box::new(CrmHost {
            host: Arc::new(made),
        }));
        Ok(())
    })
}

/// Frees a host made by `crm_host_new`; NULL is ignored. Orgs loaded into it
/// stay usable until they are freed.
///
/// # Safety
/// `host` is NULL or a host from `crm_host_new`, not freed before and not used
/// after.
#[no_mangle]
pub unsafe extern "C" fn crm_host_free(host: *mut CrmHost) {
    if !host.is_null() {
        drop(Box::from_raw(host));
    }
}

/// Loads the org folder `dir` (its `org.json`, module, policy and signature,
/// checked against the org's pins and keys, as the program's `--org-dir`).
/// `host` may be NULL: the org then shares one host of the process with every
/// other org loaded without one.
///
/// # Safety
/// `host` is NULL or a live host; `dir` is a NUL-terminated string; `org` and
/// `error` are NULL or point to writable pointers.
#[no_mangle]
pub unsafe extern "C" fn crm_org_load(
    host: *const CrmHost,
    dir: *const c_char,
    org: *mut *mut CrmOrg,
    error: *mut *mut c_char,
) -> CrmStatus {
    call(error, || {
        let out = args::out("org", org)?;
        let dir = args::text("dir", dir)?;
        let host = match host.as_ref() {
            Some(host) => host.host.clone(),
            None => shared_host()?,
        };
        let loaded =
            Org::load(host, Path::new(dir)).map_err(|e| Failure::of(CrmStatus::Load, &e))?;
        *out = Box::into_raw(Box::new(CrmOrg { org: loaded }));
        Ok(())
    })
}

/// Frees an org made by `crm_org_load`; NULL is ignored.
///
/// # Safety
/// `org` is NULL or an org from `crm_org_load`, not freed before and not used
/// after (by any thread).
#[no_mangle]
pub unsafe extern "C" fn crm_org_free(org: *mut CrmOrg) {
    if !org.is_null() {
        drop(Box::from_raw(org));
    }
}

/// The org's active module as JSON: what `crm-rules info` prints.
///
/// # Safety
/// `org` is a live org; `json` and `error` are NULL or point to writable
/// pointers.
#[no_mangle]
pub unsafe extern "C" fn crm_org_info(
    org: *const CrmOrg,
    json: *mut *mut c_char,
    error: *mut *mut c_char,
) -> CrmStatus {
    call(error, || {
        let out = args::out("json", json)?;
        let org = &args::handle("org", org)?.org;
        let info = org.info().map_err(|e| Failure::of(CrmStatus::Load, &e))?;
        *out = c_string(to_json(&info)?);
        Ok(())
    })
}

/// The org's sales stages and their steps as a JSON array: what `crm-rules
/// stages` prints.
///
/// # Safety
/// As `crm_org_info`.
#[no_mangle]
pub unsafe extern "C" fn crm_org_stages(
    org: *const CrmOrg,
    json: *mut *mut c_char,
    error: *mut *mut c_char,
) -> CrmStatus {
    call(error, || {
        let out = args::out("json", json)?;
        let org = &args::handle("org", org)?.org;
        let stages = org
            .stages()
            .map_err(|e| Failure::of(CrmStatus::Decide, &e))?;
        *out = c_string(to_json(&stages)?);
        Ok(())
    })
}

/// Decides every record of `input` (`input_len` bytes: one JSON object, an
/// array, JSON lines, or a Dataverse, Salesforce or HubSpot API response) and
/// returns, in `lines`, the lines the program writes for the same input and
/// options, each ending in a newline, in input order; `lines_len` (may be NULL)
/// receives their length in bytes. `kind` is "qualify", "convert", "transition"
/// or "forecast". `options_json` may be NULL or a JSON object of the program's
/// flags: `now` (RFC 3339; default the current second), `emit` ("decision",
/// "native" or "both"), `jobs` (threads; default one per core), `user`, `team`,
/// `format`, `to`, `provenance`, `bundle`, `max_record_bytes`.
///
/// A record that cannot be read or decided gets the program's error line and
/// the call still succeeds; only an input with no records at all
/// (`CRM_STATUS_INPUT`) or an engine that cannot decide (`CRM_STATUS_DECIDE`)
/// fails the call.
///
/// # Safety
/// `org` is a live org; `kind` and `options_json` (or NULL) are NUL-terminated
/// strings; `input` points to `input_len` bytes (or is NULL with a length of
/// 0); `lines`, `lines_len` and `error` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn crm_org_decide(
    org: *const CrmOrg,
    kind: *const c_char,
    input: *const u8,
    input_len: usize,
    options_json: *const c_char,
    lines: *mut *mut c_char,
    lines_len: *mut usize,
    error: *mut *mut c_char,
) -> CrmStatus {
    call(error, || {
        let out = args::out("lines", lines)?;
        if !lines_len.is_null() {
            *lines_len = 0;
        }
        let org = &args::handle("org", org)?.org;
        let kind: Kind = args::text("kind", kind)?
            .parse()
            .map_err(|e| Failure::argument("kind", e))?;
        let input = args::bytes("input", input, input_len)?;
        let options = options::decide_options(args::optional_text("options_json", options_json)?)?;
        let output = org.decide(kind, input, &options).map_err(|e| match e {
            InputError::Unreadable(message) => Failure {
                status: CrmStatus::Input,
                message: format!("input: {message}"),
            },
            InputError::Read(e) => Failure::of(CrmStatus::Input, &e),
            InputError::Decide(e) => Failure::of(CrmStatus::Decide, &e),
            InputError::Write(e) => Failure::of(CrmStatus::Internal, &e),
        })?;
        let text = String::from_utf8(output.text).map_err(|e| Failure {
            status: CrmStatus::Internal,
            message: format!("output is not UTF-8: {e}"),
        })?;
        let len = text.len();
        *out = c_string(text);
        if !lines_len.is_null() {
            *lines_len = len;
        }
        Ok(())
    })
}

/// Frees a string the library returned (a result or an error message); NULL is
/// ignored.
///
/// # Safety
/// `text` is NULL or a string from this library, not freed before.
#[no_mangle]
pub unsafe extern "C" fn crm_string_free(text: *mut c_char) {
    if !text.is_null() {
        drop(std::ffi::CString::from_raw(text));
    }
}

fn to_json(value: &impl serde::Serialize) -> Result<String, Failure> {
    serde_json::to_string(value).map_err(|e| Failure::of(CrmStatus::Internal, &e))
}
