//! The typed errors of the host library: what went wrong, for which org, record and
//! field, with the underlying cause kept as the error's source.

use crm_rules_model::RuleError;

/// The cause of an error, as the engine or the system gave it.
pub type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a call into a module's code ended without an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TrapKind {
    /// The call used up its fuel (CPU budget).
    OutOfFuel,
    /// The call ran past its wall-clock deadline.
    Timeout,
    /// The module asked for more memory than its limit.
    MemoryLimit,
    /// The module panicked or executed an invalid instruction.
    Trap,
    /// The module returned more than its output limit.
    OutputTooLarge,
    /// The module returned something the contract does not allow.
    BadOutput,
}

impl TrapKind {
    /// The kind as written in JSON, e.g. `out_of_fuel`.
    pub fn as_str(self) -> &'static str {
        match self {
            TrapKind::OutOfFuel => "out_of_fuel",
            TrapKind::Timeout => "timeout",
            TrapKind::MemoryLimit => "memory_limit",
            TrapKind::Trap => "trap",
            TrapKind::OutputTooLarge => "output_too_large",
            TrapKind::BadOutput => "bad_output",
        }
    }
}

/// An error of the host library.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The engine could not be set up.
    #[error("the WebAssembly engine cannot start")]
    Engine {
        /// What the engine said.
        #[source]
        source: Source,
    },
    /// The compiled-module cache cannot be used (its key or folder is exposed,
    /// missing or unreadable).
    #[error(transparent)]
    Cache(crate::cache::CacheError),
    /// An org folder cannot be read (its `org.json`, module, policy or signature).
    #[error(transparent)]
    Org(crate::org::OrgError),
    /// No module is loaded for the org.
    #[error("org `{org}`: no rule module is loaded")]
    UnknownOrg {
        /// The org asked for.
        org: String,
    },
    /// The module could not be compiled, linked or bound to a contract version.
    #[error("org `{org}`: the rule module cannot be used: {message}")]
    Module {
        /// The org.
        org: String,
        /// What is wrong with it.
        message: String,
        /// What the engine said, when it said something.
        #[source]
        source: Option<Source>,
    },
    /// The module is not the one the org trusts: hash or signature mismatch.
    #[error("org `{org}`: module refused before compilation: {message}")]
    Integrity {
        /// The org.
        org: String,
        /// What did not match.
        message: String,
    },
    /// The org's limits ask for more than the engine gives any org.
    #[error("org `{org}`: {source}")]
    Limits {
        /// The org.
        org: String,
        /// Which limit, and the ceiling.
        #[source]
        source: crate::engine::LimitAboveCeiling,
    },
    /// A version of an org's module that does not exist or clashes.
    #[error("org `{org}`: {message}")]
    Version {
        /// The org.
        org: String,
        /// What is wrong.
        message: String,
    },
    /// The module refused the org policy.
    #[error("org `{org}`: invalid policy: {error}")]
    Policy {
        /// The org.
        org: String,
        /// The module's answer, naming the bad field.
        #[source]
        error: RuleError,
    },
    /// The rules answered with an error for a record.
    #[error("org `{org}`{}: {error}", record_part(record))]
    Rule {
        /// The org.
        org: String,
        /// The record's id.
        record: Option<String>,
        /// The rule error.
        #[source]
        error: RuleError,
    },
    /// The module's code stopped (trap, fuel, memory) while deciding a record, or
    /// answered outside the contract.
    #[error(
        "org `{org}`{}: the rule module stopped ({}): {message}",
        record_part(record),
        kind.as_str()
    )]
    Trap {
        /// The org.
        org: String,
        /// The record's id.
        record: Option<String>,
        /// Why it stopped.
        kind: TrapKind,
        /// The cause in one line.
        message: String,
        /// The engine's error, with the module's backtrace.
        #[source]
        source: Option<Source>,
    },
    /// An input record cannot be read.
    #[error(
        "{source_name}{}{}: {message}",
        place_part(*position, record.as_deref()),
        path_suffix(path)
    )]
    Input {
        /// The file (`stdin`, a request); empty until the pipeline places it.
        source_name: String,
        /// The record's 1-based position in its input, when known.
        position: Option<usize>,
        /// The record's id, when it could be read.
        record: Option<String>,
        /// The JSON path at fault, when known.
        path: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// A decided record's native requests cannot be made (its decision stands).
    #[error(
        "{source_name}{}: no native actions: {message}",
        place_part(*position, record.as_deref())
    )]
    Native {
        /// The file (`stdin`, a request).
        source_name: String,
        /// The record's 1-based position in its input.
        position: Option<usize>,
        /// The record's id.
        record: Option<String>,
        /// Why no request could be written.
        message: String,
    },
    /// A bug of the host itself: something it promises never happened.
    #[error("internal error of the host: {0}")]
    Internal(String),
}

fn record_part(record: &Option<String>) -> String {
    match record {
        Some(record) => format!(", record `{record}`"),
        None => String::new(),
    }
}

fn place_part(position: Option<usize>, record: Option<&str>) -> String {
    match (position, record) {
        (Some(position), Some(record)) => format!(", record {position} (`{record}`)"),
        (Some(position), None) => format!(", record {position}"),
        (None, Some(record)) => format!(", record `{record}`"),
        (None, None) => String::new(),
    }
}

fn path_suffix(path: &Option<String>) -> String {
    match path {
        Some(path) => format!(" at `{path}`"),
        None => String::new(),
    }
}

/// The JSON form of an error on a decision line: `code`, `message` and, where there
/// is one, `field` (or `kind` for a stopped module).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ErrorJson<'a> {
    /// `invalid_input`, `module_stopped`, `host`, or the rule error's code.
    pub code: &'a str,
    /// Why a module stopped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<TrapKind>,
    /// What happened.
    pub message: std::borrow::Cow<'a, str>,
    /// The field or JSON path at fault (`null` when none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<Option<&'a str>>,
}

impl Error {
    /// The error's code, as decision lines, metrics and the service's answers
    /// give it: the rule error's own code (`invalid_policy`, ...) for an error the
    /// module answered, `invalid_input` for a record that cannot be read,
    /// `module_stopped` for a module that stopped, `native` for a decision whose
    /// native requests cannot be made, and `host` for everything else.
    pub fn code(&self) -> &str {
        match self {
            Error::Rule { error, .. } | Error::Policy { error, .. } => error.code.as_str(),
            Error::Trap { .. } => "module_stopped",
            Error::Input { .. } => "invalid_input",
            Error::Native { .. } => "native",
            _ => "host",
        }
    }

    /// Why the module stopped, for [`Error::Trap`].
    pub fn trap_kind(&self) -> Option<TrapKind> {
        match self {
            Error::Trap { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    /// The error as it is written on a decision line.
    pub fn as_json(&self) -> ErrorJson<'_> {
        match self {
            Error::Rule { error, .. } | Error::Policy { error, .. } => ErrorJson {
                code: self.code(),
                kind: None,
                message: error.message.as_str().into(),
                field: Some(error.field.as_deref()),
            },
            Error::Trap { kind, message, .. } => ErrorJson {
                code: self.code(),
                kind: Some(*kind),
                message: message.as_str().into(),
                field: None,
            },
            Error::Input { path, message, .. } => ErrorJson {
                code: self.code(),
                kind: None,
                message: message.as_str().into(),
                field: Some(path.as_deref()),
            },
            other => ErrorJson {
                code: self.code(),
                kind: None,
                message: other.to_string().into(),
                field: None,
            },
        }
    }

    /// The error as JSON, for decision output.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self.as_json()).unwrap_or(serde_json::Value::Null)
    }
}

/// The host library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
