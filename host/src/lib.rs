//! crm-rules host: runs each organisation's sales rules, a WebAssembly component,
//! inside the middleware between a CRM and the rest of the company.
//!
//! ```no_run
//! use crm_rules::{Host, Limits};
//! use crm_rules::model::{Context, Lead};
//! use crm_rules::render::Renderer;
//! use crm_rules::decision::InputRef;
//!
//! let host = Host::new()?;
//! let policy = r#"{"name": "acme"}"#;
//! host.load("acme", crm_rules::REFERENCE_MODULE, policy, Limits::default())?;
//! let ctx = Context { org_id: "acme".into(), now: "2026-11-25T09:00:00Z".parse()?, user: None, team: None };
//! let lead: Lead = serde_json::from_str(r#"{"id": "L-1", "source": "web_form", "email": "a@b.example"}"#)?;
//! let decision = host.qualify(&ctx, &lead)?;
//! // Reasons are codes with arguments; render them when a person reads them.
//! let text = Renderer::new(&decision.facts, InputRef::Qualify(&lead)).qualification(&decision);
//! println!("{} by version {}", serde_json::to_string(&text)?, decision.by.version);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The data path: [`pipeline`] reads records (canonical JSON or a CRM's own, see
//! [`crm`]) into typed [`decision::Input`]s, [`registry::Host`] decides them in
//! batches through the org's module ([`contract`] holds the bindings of every
//! contract version it runs), and [`render`] turns answers into text and JSON.
//! The `crm-rules-backtest` crate runs the same decisions over labelled history
//! (figures, what-if comparisons, calibrated policies); the `crm-rules` program is
//! the crate `crm-rules-cli`. Both use this library's public API only.
#![deny(missing_docs)]
// The one exception, loading compiled code from the cache, is in `cache.rs`.
#![deny(unsafe_code)]

pub mod audit;
pub mod cache;
pub mod contract;
pub mod crm;
pub mod decision;
pub mod engine;
pub mod error;
pub mod fixtures;
pub mod guest_output;
pub mod integrity;
pub(crate) mod json;
pub mod key_file;
pub mod org;
pub mod pipeline;
mod randomness;
pub mod registry;
pub mod render;
pub(crate) mod snapshot;
pub(crate) mod wasi;

pub use contract::{latest, ContractVersion, OrgFacts};
pub use crm_rules_model as model;
pub use decision::{Answer, Input, InputRef, Kind};
pub use engine::{EngineSettings, Isolation, Limits};
pub use error::{Error, Result, TrapKind};
pub use integrity::Integrity;
pub use org::{DecideOptions, Org, OrgDir, OrgError};
pub use registry::{
    module_hash, Decided, Host, LoadedModule, Provenance, VersionInfo, VersionSpec,
};

/// The README's library examples, compiled (and so kept true) as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

/// The reference rule module, built from the `guest-rules` crate and embedded.
pub const REFERENCE_MODULE: &[u8] = include_bytes!(env!("CRM_RULES_REFERENCE_WASM"));
