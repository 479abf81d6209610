//! How a failure crosses into JavaScript. The status says which kind of failure
//! it is (the package's `index.js` turns it into `LoadError`, `InputError`,
//! `ModuleError`, `TypeError` or `RangeError`); the message is the whole chain of
//! causes, as the program prints it, so nothing that explains it is lost.

use std::error::Error as StdError;

use napi::{Error, Status};

/// The message of `error` and of every error that caused it, joined the way
/// the program joins them.
pub fn chain(error: &dyn StdError) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        // `#[error(transparent)]` layers repeat their source's message.
        if !message.ends_with(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

/// A bad argument: `name` is the argument as the JavaScript caller wrote it.
pub fn argument(name: &str, problem: impl std::fmt::Display) -> Error {
    Error::new(Status::InvalidArg, format!("{name}: {problem}"))
}

/// A failure of the library (loading an org, reading an input, calling the
/// module): which one the call site knows.
pub fn failure(error: &dyn StdError) -> Error {
    Error::new(Status::GenericFailure, chain(error))
}
