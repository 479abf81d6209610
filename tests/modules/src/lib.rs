//! The rule modules the end-to-end tests load, built by this crate's build script
//! from their crates in the workspace.
#![deny(missing_docs)]

/// `examples/acme-rules` as built from source now: the committed
/// `examples/acme/acme_rules.wasm` must equal it (a test checks).
pub const ACME: &[u8] = include_bytes!(env!("CRM_RULES_ACME_WASM"));

/// `tests/hostile-rules`: loops, recursion, memory hoarding, panics, traps, floods
/// and probes of files, environment, network and clock (built for `wasm32-wasip2`).
pub const HOSTILE: &[u8] = include_bytes!(env!("CRM_RULES_HOSTILE_WASM"));

/// `tests/attack-rules`: attacks on the WASI surface, against the 0.1.0 contract.
pub const ATTACK: &[u8] = include_bytes!(env!("CRM_RULES_ATTACK_WASM"));

/// `tests/contract-attack-rules`: answers outside the 0.2.0 contract.
pub const CONTRACT_ATTACK: &[u8] = include_bytes!(env!("CRM_RULES_CONTRACT_ATTACK_WASM"));
