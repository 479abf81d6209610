//! The reference crm-rules rule module, and the kit to write your own.
//!
//! Built for `wasm32-wasip2`, this crate is a WebAssembly component that exports the
//! `crm:rules/rule-module` world: lead qualification, conversion, process-flow
//! transitions and activity-driven forecasts, all driven by an org [`Policy`] (JSON)
//! that the host hands over at load time. Built natively, it is a plain Rust library:
//! the same rules called directly, which is what the host's benchmarks compare
//! against.
//!
//! A consultant writing a custom module implements [`RuleModule`] (delegating to
//! [`Reference`] for whatever the client does not change) and exports it:
//!
//! ```ignore
//! struct Acme { base: guest_rules::Reference }
//! impl guest_rules::RuleModule for Acme { /* ... */ }
//! guest_rules::export_rule_module!(Acme);
//! ```
//!
//! with `guest-rules = { ..., default-features = false }` so that the reference
//! module is not exported as well.
#![deny(missing_docs)]

pub mod policy;
mod reference;
#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub mod sdk;

pub use crm_rules_model as model;
pub use policy::Policy;
pub use reference::{add_business_days, Reference};

use crm_rules_model::{
    Candidate, Context, ConversionPlan, Forecast, Lead, ModuleInfo, Opportunity, Qualification,
    RuleError, Stage, TransitionCheck,
};

/// The rules of one organisation: what a rule module implements.
///
/// Every method gets the decision context (`now` included) and returns a decision or
/// a [`RuleError`] value; a rule module should never panic on any input.
pub trait RuleModule: Sized + Send + Sync + 'static {
    /// Parses and checks the org policy. Called once per instance.
    fn init(policy: &str) -> Result<Self, RuleError>;
    /// The module's name, version and the custom fields it reads.
    fn info(&self) -> ModuleInfo;
    /// Qualifies a lead.
    fn qualify(&self, ctx: &Context, lead: &Lead) -> Result<Qualification, RuleError>;
    /// Plans the conversion of a lead, given existing records that may match it.
    fn convert(
        &self,
        ctx: &Context,
        lead: &Lead,
        candidates: &[Candidate],
    ) -> Result<ConversionPlan, RuleError>;
    /// The org's stages with their steps.
    fn stages(&self, ctx: &Context) -> Result<Vec<Stage>, RuleError>;
    /// Whether an opportunity may move to `to_stage`.
    fn check_transition(
        &self,
        ctx: &Context,
        opportunity: &Opportunity,
        to_stage: &str,
    ) -> Result<TransitionCheck, RuleError>;
    /// The win probability and weighted value of an opportunity.
    fn forecast(&self, ctx: &Context, opportunity: &Opportunity) -> Result<Forecast, RuleError>;
}

/// Exports a [`RuleModule`] type as this component's rule module.
///
/// Use it once, in the crate that is built into the `.wasm` file.
#[macro_export]
macro_rules! export_rule_module {
    ($module:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            impl $crate::sdk::Slot for $module {
                fn slot() -> &'static ::std::sync::OnceLock<Self> {
                    static SLOT: ::std::sync::OnceLock<$module> = ::std::sync::OnceLock::new();
                    &SLOT
                }
            }
            type CrmRulesAdapter = $crate::sdk::Adapter<$module>;
    $crate::sdk::bindings::export!(CrmRulesAdapter with_types_in $crate::sdk::bindings);
        };
    };
}

#[cfg(feature = "reference")]
export_rule_module!(crate::Reference);
