//! The caller's arguments, checked: a NULL or non-UTF-8 pointer is an error that
//! names the argument, never undefined behaviour we could detect.

use std::ffi::{c_char, CStr};
use std::ptr::null_mut;

use crate::status::Failure;

/// A NUL-terminated UTF-8 string the caller must give.
///
/// # Safety
/// `ptr` is NULL or a NUL-terminated string that outlives `'a`.
pub(crate) unsafe fn text<'a>(name: &str, ptr: *const c_char) -> Result<&'a str, Failure> {
    optional_text(name, ptr)?.ok_or_else(|| Failure::argument(name, "is NULL"))
}

/// A NUL-terminated UTF-8 string the caller may leave NULL.
///
/// # Safety
/// As [`text`].
pub(crate) unsafe fn optional_text<'a>(
    name: &str,
    ptr: *const c_char,
) -> Result<Option<&'a str>, Failure> {
    if ptr.is_null() {
        return Ok(None);
    }
    CStr::from_ptr(ptr)
        .to_str()
        .map(Some)
        .map_err(|e| Failure::argument(name, format_args!("is not UTF-8 ({e})")))
}

/// `len` bytes at `ptr`; NULL is allowed only with a length of zero.
///
/// # Safety
/// `ptr` is NULL or points to `len` readable bytes that outlive `'a`.
pub(crate) unsafe fn bytes<'a>(
    name: &str,
    ptr: *const u8,
    len: usize,
) -> Result<&'a [u8], Failure> {
    if ptr.is_null() {
        return if len == 0 {
            Ok(&[])
        } else {
            Err(Failure::argument(
                name,
                format_args!("is NULL with a length of {len}"),
            ))
        };
    }
    Ok(std::slice::from_raw_parts(ptr, len))
}

/// Where a result goes: set to NULL now, so a failed call leaves nothing to free.
///
/// # Safety
/// `ptr` is NULL or points to writable storage for a pointer.
pub(crate) unsafe fn out<'a, T>(name: &str, ptr: *mut *mut T) -> Result<&'a mut *mut T, Failure> {
    if ptr.is_null() {
        return Err(Failure::argument(name, "is NULL (it receives the result)"));
    }
    *ptr = null_mut();
    Ok(&mut *ptr)
}

/// A handle the caller must give.
///
/// # Safety
/// `ptr` is NULL or a live handle this library returned.
pub(crate) unsafe fn handle<'a, T>(name: &str, ptr: *const T) -> Result<&'a T, Failure> {
    ptr.as_ref()
        .ok_or_else(|| Failure::argument(name, "is NULL"))
}
