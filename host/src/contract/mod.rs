//! The contract versions this host runs, and how a module of each is called.
//!
//! Every released version of the WIT package `crm:rules` stays frozen in its own
//! folder (`wit/since_v0.1.0/`, `wit/since_v0.2.0/`) and has its own bindings here
//! (`since_v0_1_0`, `since_v0_2_0`). The newest version's types are the host's
//! [`latest`] types: a module of an older version is called through its own
//! bindings and its answers are converted into the latest types, so everything
//! after the call (checks, rendering, native actions, audit) knows one set of types.
//! This is how Zed keeps old extensions running (`extension_host/src/wasm_host/wit`).
//!
//! The version of a module is read from its exports (`crm:rules/module@0.2.0`); a
//! version this host does not know is refused, naming the ones it runs.

mod check;
mod enums;
mod exports;
pub mod facts;
pub(crate) mod since_v0_1_0;
pub(crate) mod since_v0_2_0;
pub mod template;

use std::sync::Arc;

use crm_rules_model as m;
use exports::Exports;
use wasmtime::component::{Component, Instance, InstancePre};
use wasmtime::{Engine, Store};

use crate::decision::{Answer, InputRef};
use crate::engine::StoreState;
pub use check::OutputSize;
pub(crate) use check::{check_answer, facts_size, quoted};
pub use facts::OrgFacts;

/// How the host lowers canonical records into the latest contract with an org's
/// facts: what a native baseline (the same rules called without the sandbox) uses
/// to see exactly what a module sees.
pub mod lower {
    pub use super::since_v0_2_0::{candidates, currency, lead, opportunity, Lowered};
}

/// The newest contract's types: what the host speaks after a call returns.
pub mod latest {
    pub use super::since_v0_2_0::bindings::crm::rules::types::*;
    pub use super::since_v0_2_0::bindings::exports::crm::rules::conversion::{
        Candidate, ConversionPlan, ConversionRequest, RecordAction, RecordKind,
    };
    pub use super::since_v0_2_0::bindings::exports::crm::rules::forecasting::{
        StageScore, WinForecast,
    };
    pub use super::since_v0_2_0::bindings::exports::crm::rules::module::{
        InputQuery, ModuleInfo, Stage, Step, Template,
    };
    pub use super::since_v0_2_0::bindings::exports::crm::rules::process_flow::{
        MoveKind, TransitionCheck, TransitionRequest,
    };
    pub use super::since_v0_2_0::bindings::exports::crm::rules::qualification::{
        DisqualifyReason, FollowUp, FollowUpKind, Outcome, Qualification,
    };
}

/// A version of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ContractVersion {
    /// `crm:rules@0.1.0`: records and answers with texts.
    V0_1_0,
    /// `crm:rules@0.2.0`: per-org texts at `init`, indices and codes per decision.
    V0_2_0,
}

impl ContractVersion {
    /// Every version this host runs, oldest first.
    pub const ALL: [ContractVersion; 2] = [ContractVersion::V0_1_0, ContractVersion::V0_2_0];

    /// The version's number, e.g. `0.2.0`.
    pub fn number(self) -> &'static str {
        match self {
            ContractVersion::V0_1_0 => "0.1.0",
            ContractVersion::V0_2_0 => "0.2.0",
        }
    }

    /// The version of the package a module exports, from the name of one of its
    /// exports (`crm:rules/module@0.2.0`).
    fn of_export(name: &str) -> Option<Result<ContractVersion, String>> {
        let version = name.strip_prefix("crm:rules/")?.split_once('@')?.1;
        Some(
            ContractVersion::ALL
                .into_iter()
                .find(|v| v.number() == version)
                .ok_or_else(|| version.to_owned()),
        )
    }

    /// The contract a compiled component exports; the error says why it cannot run.
    pub fn of(component: &Component, engine: &Engine) -> Result<ContractVersion, String> {
        let ty = component.component_type();
        let mut found = None;
        for (name, _) in ty.exports(engine) {
            match ContractVersion::of_export(name) {
                Some(Ok(version)) => match found {
                    Some(other) if other != version => {
                        return Err(format!(
                            "it exports two versions of the contract (crm:rules@{} and @{})",
                            ContractVersion::number(other),
                            version.number()
                        ))
                    }
                    _ => found = Some(version),
                },
                Some(Err(unknown)) => {
                    return Err(format!(
                        "it exports crm:rules@{unknown}, a contract version this host does not \
                         run (it runs {})",
                        ContractVersion::runs()
                    ))
                }
                None => {}
            }
        }
        found.ok_or_else(|| {
            format!(
                "it does not export the crm:rules rule-module world (this host runs {})",
                ContractVersion::runs()
            )
        })
    }

    fn runs() -> String {
        ContractVersion::ALL
            .iter()
            .map(|v| format!("crm:rules@{}", v.number()))
            .collect::<Vec<_>>()
            .join(" and ")
    }
}

impl std::fmt::Display for ContractVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "crm:rules@{}", self.number())
    }
}

impl serde::Serialize for ContractVersion {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A module compiled, linked and bound to its contract version, ready to
/// instantiate.
#[derive(Clone)]
pub(crate) enum ModulePre {
    V0_1_0(since_v0_1_0::bindings::RuleModulePre<StoreState>),
    /// The latest contract is called through exports checked once per component
    /// (see [`exports`]), not through `bindgen!`'s loader.
    V0_2_0(InstancePre<StoreState>, Arc<Exports>),
}

/// A live instance of a module.
pub(crate) enum ModuleInstance {
    V0_1_0(since_v0_1_0::bindings::RuleModule),
    V0_2_0(Instance, Arc<Exports>),
}

impl ModulePre {
    /// Binds a linked component to the bindings of its contract version.
    pub(crate) fn new(
        version: ContractVersion,
        pre: InstancePre<StoreState>,
    ) -> wasmtime::Result<ModulePre> {
        Ok(match version {
            ContractVersion::V0_1_0 => {
                ModulePre::V0_1_0(since_v0_1_0::bindings::RuleModulePre::new(pre)?)
            }
            ContractVersion::V0_2_0 => {
                let exports = Exports::find(&pre)?;
                ModulePre::V0_2_0(pre, exports)
            }
        })
    }

    pub(crate) fn contract(&self) -> ContractVersion {
        match self {
            ModulePre::V0_1_0(_) => ContractVersion::V0_1_0,
            ModulePre::V0_2_0(..) => ContractVersion::V0_2_0,
        }
    }

    /// A new instance in `store`.
    pub(crate) fn instantiate(
        &self,
        store: &mut Store<StoreState>,
    ) -> wasmtime::Result<ModuleInstance> {
        Ok(match self {
            ModulePre::V0_1_0(pre) => ModuleInstance::V0_1_0(pre.instantiate(store)?),
            ModulePre::V0_2_0(pre, exports) => {
                ModuleInstance::V0_2_0(pre.instantiate(store)?, exports.clone())
            }
        })
    }
}

/// A rule error, or the reason an answer cannot be taken (the module broke the
/// contract): what one record of a call comes back as when it is not an answer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Refusal {
    /// The rules answered with an error value.
    Rule(m::RuleError),
    /// The answer breaks the contract (a score over 100, an unknown index...).
    BadOutput(String),
}

impl ModuleInstance {
    /// Hands the org and its policy to the instance and learns the org's facts.
    /// The outer error is a trap; the inner one the module's refusal.
    pub(crate) fn init(
        &self,
        store: &mut Store<StoreState>,
        org: &str,
        policy: &str,
    ) -> wasmtime::Result<Result<OrgFacts, Refusal>> {
        match self {
            ModuleInstance::V0_1_0(module) => since_v0_1_0::init(module, store, policy),
            ModuleInstance::V0_2_0(instance, exports) => {
                since_v0_2_0::init(exports, instance, store, org, policy)
            }
        }
    }

    /// Decides `inputs`, all of one kind, in one call (a batch call when there is
    /// more than one and the kind has one). Returns one result per input.
    pub(crate) fn decide(
        &self,
        store: &mut Store<StoreState>,
        ctx: &m::Context,
        facts: &OrgFacts,
        inputs: &[InputRef<'_>],
    ) -> wasmtime::Result<Vec<Result<Answer, Refusal>>> {
        match self {
            ModuleInstance::V0_1_0(module) => {
                since_v0_1_0::decide(module, store, ctx, facts, inputs)
            }
            ModuleInstance::V0_2_0(instance, exports) => {
                since_v0_2_0::decide(exports, instance, store, ctx, facts, inputs)
            }
        }
    }
}
