//! The exports of a `crm:rules@0.2.0` module, found once per component and
//! type-checked once per component instead of once per instance.
//!
//! The `bindgen!` loader type-checks every export of every new instance (walking
//! each record, variant and enum and comparing their field names): that was more
//! than a third of an isolated decision, measured. A component's types are the
//! same for all its instances, so an export is checked with `get_typed_func` the
//! first time any instance calls it, and later instances call it unchecked.
//! Each export is called from exactly one method below, with one signature, so
//! the signature that was checked is the one used unchecked.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use wasmtime::component::{
    ComponentExportIndex, ComponentNamedList, Instance, InstancePre, Lift, Lower, TypedFunc,
};
use wasmtime::Store;

use super::since_v0_2_0::bindings::crm::rules::types as t;
use super::since_v0_2_0::bindings::exports::crm::rules::{
    conversion as c, forecasting as f, module as md, process_flow as p, qualification as q,
};
use crate::engine::StoreState;

/// Every export of the world, by interface and name.
const EXPORTS: [(&str, &str); 9] = [
    ("crm:rules/module@0.2.0", "init"),
    ("crm:rules/qualification@0.2.0", "qualify"),
    ("crm:rules/qualification@0.2.0", "qualify-batch"),
    ("crm:rules/conversion@0.2.0", "convert"),
    ("crm:rules/conversion@0.2.0", "convert-batch"),
    ("crm:rules/process-flow@0.2.0", "check-transition"),
    ("crm:rules/process-flow@0.2.0", "check-transition-batch"),
    ("crm:rules/forecasting@0.2.0", "forecast"),
    ("crm:rules/forecasting@0.2.0", "forecast-batch"),
];

/// The exports of one component: where each is, and whether its signature was
/// checked yet.
pub(crate) struct Exports {
    index: Vec<ComponentExportIndex>,
    checked: [AtomicBool; EXPORTS.len()],
}

/// One export, by its position in [`EXPORTS`].
#[derive(Clone, Copy)]
enum Export {
    Init = 0,
    Qualify,
    QualifyBatch,
    Convert,
    ConvertBatch,
    CheckTransition,
    CheckTransitionBatch,
    Forecast,
    ForecastBatch,
}

impl Exports {
    /// Finds every export of the world in the component; an error names the one
    /// missing.
    pub(crate) fn find(pre: &InstancePre<StoreState>) -> wasmtime::Result<Arc<Exports>> {
        let component = pre.component();
        let index = EXPORTS
            .iter()
            .map(|(interface, name)| {
                let instance = component
                    .get_export_index(None, interface)
                    .ok_or_else(|| wasmtime::format_err!("no exported instance `{interface}`"))?;
                component
                    .get_export_index(Some(&instance), name)
                    .ok_or_else(|| wasmtime::format_err!("`{interface}` does not export `{name}`"))
            })
            .collect::<wasmtime::Result<Vec<_>>>()?;
        Ok(Arc::new(Exports {
            index,
            checked: std::array::from_fn(|_| AtomicBool::new(false)),
        }))
    }

    /// Calls `export` of `instance` with `params`; every export has one result.
    #[allow(unsafe_code)]
    fn call<P, R>(
        &self,
        export: Export,
        store: &mut Store<StoreState>,
        instance: &Instance,
        params: P,
    ) -> wasmtime::Result<R>
    where
        P: ComponentNamedList + Lower,
        (R,): ComponentNamedList + Lift,
    {
        let at = export as usize;
        let index = &self.index[at];
        let func = if self.checked[at].load(Ordering::Acquire) {
            let func = instance.get_func(&mut *store, index).ok_or_else(|| {
                wasmtime::format_err!("the export `{}` is missing", EXPORTS[at].1)
            })?;
            // SAFETY: `get_typed_func::<P, (R,)>` below succeeded for this export of
            // this component (`Exports` belongs to one component), and every
            // instance of a component has its types; `export` is called from one
            // method only, always with these `P` and `R`.
            unsafe { TypedFunc::<P, (R,)>::new_unchecked(func) }
        } else {
            let typed = instance.get_typed_func::<P, (R,)>(&mut *store, index)?;
            self.checked[at].store(true, Ordering::Release);
            typed
        };
        func.call(&mut *store, params).map(|(result,)| result)
    }

    pub(crate) fn init(
        &self,
        store: &mut Store<StoreState>,
        instance: &Instance,
        org: &str,
        policy: &str,
    ) -> wasmtime::Result<Result<md::ModuleInfo, t::RuleError>> {
        self.call(Export::Init, store, instance, (org, policy))
    }

    pub(crate) fn qualify(
        &self,
        store: &mut Store<StoreState>,
        instance: &Instance,
        ctx: &t::Context,
        lead: &t::Lead,
    ) -> wasmtime::Result<Result<q::Qualification, t::RuleError>> {
        self.call(Export::Qualify, store, instance, (ctx, lead))
    }

    pub(crate) fn qualify_batch(
        &self,
        store: &mut Store<StoreState>,
        instance: &Instance,
        ctx: &t::Context,
        leads: &[t::Lead],
    ) -> wasmtime::Result<Vec<Result<q::Qualification, t::RuleError>>> {
        self.call(Export::QualifyBatch, store, instance, (ctx, leads))
    }

    pub(crate) fn convert(
        &self,
        store: &mut Store<StoreState>,
        instance: &Instance,
        ctx: &t::Context,
        request: &c::ConversionRequest,
    ) -> wasmtime::Result<Result<c::ConversionPlan, t::RuleError>> {
        self.call(
            Export::Convert,
            store,
            instance,
            (ctx, &request.lead, &request.candidates),
        )
    }

    pub(crate) fn convert_batch(
        &self,
        store: &mut Store<StoreState>,
        instance: &Instance,
        ctx: &t::Context,
        requests: &[c::ConversionRequest],
    ) -> wasmtime::Result<Vec<Result<c::ConversionPlan, t::RuleError>>> {
        self.call(Export::ConvertBatch, store, instance, (ctx, requests))
    }

    pub(crate) fn check_transition(
        &self,
        store: &mut Store<StoreState>,
        instance: &Instance,
        ctx: &t::Context,
        request: &p::TransitionRequest,
    ) -> wasmtime::Result<Result<p::TransitionCheck, t::RuleError>> {
        self.call(
            Export::CheckTransition,
            store,
            instance,
            (ctx, &request.opportunity, request.to_stage),
        )
    }

    pub(crate) fn check_transition_batch(
        &self,
        store: &mut Store<StoreState>,
        instance: &Instance,
        ctx: &t::Context,
        requests: &[p::TransitionRequest],
    ) -> wasmtime::Result<Vec<Result<p::TransitionCheck, t::RuleError>>> {
        self.call(
            Export::CheckTransitionBatch,
            store,
            instance,
            (ctx, requests),
        )
    }

    pub(crate) fn forecast(
        &self,
        store: &mut Store<StoreState>,
        instance: &Instance,
        ctx: &t::Context,
        opportunity: &t::Opportunity,
    ) -> wasmtime::Result<Result<f::WinForecast, t::RuleError>> {
        self.call(Export::Forecast, store, instance, (ctx, opportunity))
    }

    pub(crate) fn forecast_batch(
        &self,
        store: &mut Store<StoreState>,
        instance: &Instance,
        ctx: &t::Context,
        opportunities: &[t::Opportunity],
    ) -> wasmtime::Result<Vec<Result<f::WinForecast, t::RuleError>>> {
        self.call(Export::ForecastBatch, store, instance, (ctx, opportunities))
    }
}
