//! The glue between the generated export traits and a [`RuleModule`].
//!
//! The generated traits take the contract's types by value and the rules take them
//! by reference: nothing is converted or copied on the way in or out. A module's
//! one instance is made by `init` and lives in its [`Slot`]; every decision before
//! that fails with `not-initialized`. Batch calls run the single decision per item.
//!
//! This compiles on every target (so it is checked and tested natively); only the
//! `export!` in [`export_rule_module!`](crate::export_rule_module) is WebAssembly's.

use std::marker::PhantomData;
use std::sync::OnceLock;

use crate::contract::bindings::exports::crm::rules::{
    conversion, forecasting, module, process_flow, qualification,
};
use crate::contract::{
    Candidate, Context, ConversionPlan, ConversionRequest, ErrorCode, Lead, ModuleInfo,
    Opportunity, Qualification, RuleError, TransitionCheck, TransitionRequest, WinForecast,
};
use crate::RuleModule;

/// Where an exported module keeps its one instance (set by `init`).
pub trait Slot: Sized + 'static {
    /// The instance's storage; implemented by `export_rule_module!`.
    fn slot() -> &'static OnceLock<Self>;
}

/// Implements the generated export traits for a [`RuleModule`].
pub struct Adapter<T>(PhantomData<T>);

fn rules<T: RuleModule + Slot>() -> Result<&'static T, RuleError> {
    T::slot().get().ok_or_else(|| {
        RuleError::new(
            ErrorCode::NotInitialized,
            "the module's policy was not loaded (call init first)",
            None,
        )
    })
}

/// One decision per item, or the same refusal for each when there is no instance.
fn batch<T: RuleModule + Slot, I, O>(
    items: &[I],
    decide: impl Fn(&T, &I) -> Result<O, RuleError>,
) -> Vec<Result<O, RuleError>> {
    match rules::<T>() {
        Ok(rules) => items.iter().map(|item| decide(rules, item)).collect(),
        Err(e) => items.iter().map(|_| Err(e.clone())).collect(),
    }
}

impl<T: RuleModule + Slot> module::Guest for Adapter<T> {
    fn init(org_id: String, policy: String) -> Result<ModuleInfo, RuleError> {
        if T::slot().get().is_some() {
            return Err(RuleError::new(
                ErrorCode::InvalidPolicy,
                "this instance already has a policy; load a new instance instead",
                None,
            ));
        }
        let rules = T::init(&org_id, &policy)?;
        let info = rules.info();
        T::slot().set(rules).map_err(|_| {
            RuleError::new(
                ErrorCode::InvalidPolicy,
                "this instance already has a policy; load a new instance instead",
                None,
            )
        })?;
        Ok(info)
    }
}

impl<T: RuleModule + Slot> qualification::Guest for Adapter<T> {
    fn qualify(ctx: Context, lead: Lead) -> Result<Qualification, RuleError> {
        rules::<T>()?.qualify(&ctx, &lead)
    }

    fn qualify_batch(ctx: Context, leads: Vec<Lead>) -> Vec<Result<Qualification, RuleError>> {
        batch(&leads, |rules: &T, lead| rules.qualify(&ctx, lead))
    }
}

impl<T: RuleModule + Slot> conversion::Guest for Adapter<T> {
    fn convert(
        ctx: Context,
        lead: Lead,
        candidates: Vec<Candidate>,
    ) -> Result<ConversionPlan, RuleError> {
        rules::<T>()?.convert(&ctx, &lead, &candidates)
    }

    fn convert_batch(
        ctx: Context,
        requests: Vec<ConversionRequest>,
    ) -> Vec<Result<ConversionPlan, RuleError>> {
        batch(&requests, |rules: &T, r| {
            rules.convert(&ctx, &r.lead, &r.candidates)
        })
    }
}

impl<T: RuleModule + Slot> process_flow::Guest for Adapter<T> {
    fn check_transition(
        ctx: Context,
        opportunity: Opportunity,
        to_stage: u32,
    ) -> Result<TransitionCheck, RuleError> {
        rules::<T>()?.check_transition(&ctx, &opportunity, to_stage)
    }

    fn check_transition_batch(
        ctx: Context,
        requests: Vec<TransitionRequest>,
    ) -> Vec<Result<TransitionCheck, RuleError>> {
        batch(&requests, |rules: &T, r| {
            rules.check_transition(&ctx, &r.opportunity, r.to_stage)
        })
    }
}

impl<T: RuleModule + Slot> forecasting::Guest for Adapter<T> {
    fn forecast(ctx: Context, opportunity: Opportunity) -> Result<WinForecast, RuleError> {
        rules::<T>()?.forecast(&ctx, &opportunity)
    }

    fn forecast_batch(
        ctx: Context,
        opportunities: Vec<Opportunity>,
    ) -> Vec<Result<WinForecast, RuleError>> {
        batch(&opportunities, |rules: &T, o| rules.forecast(&ctx, o))
    }
}
