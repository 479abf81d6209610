//! The per-org registry and the decision API: org id -> compiled module, policy and
//! a pool of warm instances.
//!
//! Instance strategy: an instance is created from the org's `InstancePre` (pooling
//! allocator), handed the policy once (`init`), and then reused for later decisions
//! of the same org, one caller at a time. A call that traps, runs out of fuel or
//! memory throws its instance away, so a fault never leaks into the next decision.
//! Reuse keeps policy parsing and WASI set-up out of the per-decision path.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, RwLock};

use crm_rules_model as m;
use sha2::{Digest, Sha256};
use wasmtime::Store;

use crate::engine::bindings::{RuleModule, RuleModulePre};
use crate::engine::{new_store, EngineSettings, Limits, Runtime, StoreState};
use crate::error::{Error, Result, TrapKind};
use crate::lower;

/// Warm instances kept per org; more concurrent callers get fresh ones that are
/// dropped after use.
const MAX_WARM_PER_ORG: usize = 8;

/// What is known about a loaded module.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LoadedModule {
    /// The org.
    pub org: String,
    /// SHA-256 of the module's bytes, in hex.
    pub hash: String,
    /// What the module says about itself.
    pub info: m::ModuleInfo,
}

struct Warm {
    store: Store<StoreState>,
    module: RuleModule,
}

struct Org {
    loaded: LoadedModule,
    pre: RuleModulePre<StoreState>,
    policy: String,
    reads: BTreeSet<String>,
    limits: Limits,
    warm: Mutex<Vec<Warm>>,
}

/// The host: one engine, many orgs. `Send + Sync`; share it behind an `Arc`.
pub struct Host {
    runtime: Runtime,
    orgs: RwLock<HashMap<String, Arc<Org>>>,
}

/// SHA-256 of a module, in hex: its identity.
pub fn module_hash(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn classify(org: &str, record: Option<&str>, err: wasmtime::Error) -> Error {
    let kind = match err.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::OutOfFuel) => TrapKind::OutOfFuel,
        Some(wasmtime::Trap::Interrupt) => TrapKind::Timeout,
        _ if format!("{err:#}").contains("memory growth") => TrapKind::MemoryLimit,
        _ => TrapKind::Trap,
    };
    Error::Trap {
        org: org.to_owned(),
        record: record.map(str::to_owned),
        kind,
        message: format!("{err:#}"),
    }
}

impl Org {
    fn instantiate(
        &self,
        engine: &wasmtime::Engine,
    ) -> Result<(
        Warm,
        crate::engine::bindings::exports::crm::rules::module::ModuleInfo,
    )> {
        let org = &self.loaded.org;
        let mut store = new_store(engine, &self.limits);
        store
            .set_fuel(self.limits.fuel)
            .map_err(|e| classify(org, None, e))?;
        let module = self
            .pre
            .instantiate(&mut store)
            .map_err(|e| classify(org, None, e))?;
        let info = module
            .crm_rules_module()
            .call_init(&mut store, &self.policy)
            .map_err(|e| classify(org, None, e))?
            .map_err(|e| Error::Policy {
                org: org.clone(),
                error: lower::rule_error(e),
            })?;
        Ok((Warm { store, module }, info))
    }

    /// Runs `f` on a warm instance under the org's limits. The instance goes back
    /// to the pool only if the call returned normally.
    fn call<T>(
        &self,
        engine: &wasmtime::Engine,
        record: Option<&str>,
        f: impl FnOnce(&mut Store<StoreState>, &RuleModule) -> wasmtime::Result<T>,
    ) -> Result<T> {
        let taken = self.warm.lock().ok().and_then(|mut pool| pool.pop());
        let mut warm = match taken {
            Some(warm) => warm,
            None => self.instantiate(engine)?.0,
        };
        let org = &self.loaded.org;
        warm.store
            .set_fuel(self.limits.fuel)
            .map_err(|e| classify(org, record, e))?;
        let out = f(&mut warm.store, &warm.module).map_err(|e| classify(org, record, e))?;
        if let Ok(mut pool) = self.warm.lock() {
            if pool.len() < MAX_WARM_PER_ORG {
                pool.push(warm);
            }
        }
        Ok(out)
    }

    fn rule_error(&self, record: Option<&str>, e: lower::WitRuleError) -> Error {
        Error::Rule {
            org: self.loaded.org.clone(),
            record: record.map(str::to_owned),
            error: lower::rule_error(e),
        }
    }

    fn bad_output(&self, record: Option<&str>, message: String) -> Error {
        Error::Trap {
            org: self.loaded.org.clone(),
            record: record.map(str::to_owned),
            kind: TrapKind::Trap,
            message,
        }
    }
}

impl Host {
    /// A host with the default engine settings.
    pub fn new() -> Result<Host> {
        Host::with_settings(&EngineSettings::default())
    }

    /// A host with the given engine settings.
    pub fn with_settings(settings: &EngineSettings) -> Result<Host> {
        Ok(Host {
            runtime: Runtime::new(settings).map_err(|e| Error::Engine {
                message: format!("{e:#}"),
            })?,
            orgs: RwLock::new(HashMap::new()),
        })
    }

    /// Compiles `wasm`, hands it `policy` and makes it the org's module. A module
    /// that does not compile or link, or that refuses the policy, is an error and
    /// leaves the org's current module in place.
    pub fn load(
        &self,
        org: &str,
        wasm: &[u8],
        policy: &str,
        limits: Limits,
    ) -> Result<LoadedModule> {
        let module_error = |message: String| Error::Module {
            org: org.to_owned(),
            message,
        };
        let component = self
            .runtime
            .compile(wasm)
            .map_err(|e| module_error(format!("{e:#}")))?;
        let instance_pre = self
            .runtime
            .linker
            .instantiate_pre(&component)
            .map_err(|e| module_error(format!("{e:#}")))?;
        let pre = RuleModulePre::new(instance_pre).map_err(|e| {
            module_error(format!(
                "it does not export the crm:rules rule-module world: {e:#}"
            ))
        })?;
        let mut entry = Org {
            loaded: LoadedModule {
                org: org.to_owned(),
                hash: module_hash(wasm),
                info: m::ModuleInfo {
                    name: String::new(),
                    version: String::new(),
                    reads_custom_fields: Vec::new(),
                },
            },
            pre,
            policy: policy.to_owned(),
            reads: BTreeSet::new(),
            limits,
            warm: Mutex::new(Vec::new()),
        };
        // The first instance checks the policy and tells what the module reads.
        let (first, info) = entry.instantiate(&self.runtime.engine)?;
        entry.loaded.info = lower::module_info(info);
        entry.reads = entry
            .loaded
            .info
            .reads_custom_fields
            .iter()
            .cloned()
            .collect();
        entry.warm = Mutex::new(vec![first]);
        let loaded = entry.loaded.clone();
        self.orgs
            .write()
            .map_err(|_| module_error("the registry lock is poisoned".to_owned()))?
            .insert(org.to_owned(), Arc::new(entry));
        Ok(loaded)
    }

    /// The module loaded for an org.
    pub fn module(&self, org: &str) -> Result<LoadedModule> {
        Ok(self.org(org)?.loaded.clone())
    }

    fn org(&self, org: &str) -> Result<Arc<Org>> {
        let orgs = self.orgs.read().map_err(|_| Error::UnknownOrg {
            org: org.to_owned(),
        })?;
        orgs.get(org).cloned().ok_or_else(|| Error::UnknownOrg {
            org: org.to_owned(),
        })
    }

    /// Qualifies one lead with the rules of `ctx.org_id`.
    pub fn qualify(&self, ctx: &m::Context, lead: &m::Lead) -> Result<m::Qualification> {
        let org = self.org(&ctx.org_id)?;
        let record = Some(lead.id.as_str());
        let (wctx, wlead) = (lower::context(ctx), lower::lead(lead, &org.reads));
        let answer = org.call(&self.runtime.engine, record, |store, module| {
            module
                .crm_rules_qualification()
                .call_qualify(store, &wctx, &wlead)
        })?;
        let decision = answer.map_err(|e| org.rule_error(record, e))?;
        lower::qualification(decision).map_err(|m| org.bad_output(record, m))
    }

    /// Qualifies many leads in one call into the module. The outer error is for
    /// the whole batch (unknown org, a trap); the inner ones are per lead.
    pub fn qualify_batch(
        &self,
        ctx: &m::Context,
        leads: &[m::Lead],
    ) -> Result<Vec<Result<m::Qualification>>> {
        let org = self.org(&ctx.org_id)?;
        let wctx = lower::context(ctx);
        let wleads: Vec<_> = leads.iter().map(|l| lower::lead(l, &org.reads)).collect();
        let answers = org.call(&self.runtime.engine, None, |store, module| {
            module
                .crm_rules_qualification()
                .call_qualify_batch(store, &wctx, &wleads)
        })?;
        if answers.len() != leads.len() {
            return Err(org.bad_output(
                None,
                format!(
                    "the module answered {} of {} leads",
                    answers.len(),
                    leads.len()
                ),
            ));
        }
        Ok(answers
            .into_iter()
            .zip(leads)
            .map(|(answer, lead)| {
                let record = Some(lead.id.as_str());
                let decision = answer.map_err(|e| org.rule_error(record, e))?;
                lower::qualification(decision).map_err(|m| org.bad_output(record, m))
            })
            .collect())
    }

    /// Plans the conversion of a lead, given existing records that may match it.
    pub fn convert(
        &self,
        ctx: &m::Context,
        lead: &m::Lead,
        candidates: &[m::Candidate],
    ) -> Result<m::ConversionPlan> {
        let org = self.org(&ctx.org_id)?;
        let record = Some(lead.id.as_str());
        let wctx = lower::context(ctx);
        let wlead = lower::lead(lead, &org.reads);
        let wcands: Vec<_> = candidates.iter().map(lower::candidate).collect();
        let answer = org.call(&self.runtime.engine, record, |store, module| {
            module
                .crm_rules_conversion()
                .call_convert(store, &wctx, &wlead, &wcands)
        })?;
        let plan = answer.map_err(|e| org.rule_error(record, e))?;
        lower::conversion_plan(plan).map_err(|m| org.bad_output(record, m))
    }

    /// The org's stages and their steps.
    pub fn stages(&self, ctx: &m::Context) -> Result<Vec<m::Stage>> {
        let org = self.org(&ctx.org_id)?;
        let wctx = lower::context(ctx);
        let answer = org.call(&self.runtime.engine, None, |store, module| {
            module.crm_rules_process_flow().call_stages(store, &wctx)
        })?;
        Ok(lower::stages(answer.map_err(|e| org.rule_error(None, e))?))
    }

    /// Whether an opportunity may move to `to_stage`.
    pub fn check_transition(
        &self,
        ctx: &m::Context,
        opportunity: &m::Opportunity,
        to_stage: &str,
    ) -> Result<m::TransitionCheck> {
        let org = self.org(&ctx.org_id)?;
        let record = Some(opportunity.id.as_str());
        let wctx = lower::context(ctx);
        let wopp = lower::opportunity(opportunity, &org.reads);
        let answer = org.call(&self.runtime.engine, record, |store, module| {
            module
                .crm_rules_process_flow()
                .call_check_transition(store, &wctx, &wopp, to_stage)
        })?;
        Ok(lower::transition(
            answer.map_err(|e| org.rule_error(record, e))?,
        ))
    }

    /// The win probability and weighted value of an opportunity.
    pub fn forecast(&self, ctx: &m::Context, opportunity: &m::Opportunity) -> Result<m::Forecast> {
        let org = self.org(&ctx.org_id)?;
        let record = Some(opportunity.id.as_str());
        let wctx = lower::context(ctx);
        let wopp = lower::opportunity(opportunity, &org.reads);
        let answer = org.call(&self.runtime.engine, record, |store, module| {
            module
                .crm_rules_forecasting()
                .call_forecast(store, &wctx, &wopp)
        })?;
        let forecast = answer.map_err(|e| org.rule_error(record, e))?;
        lower::forecast(forecast).map_err(|m| org.bad_output(record, m))
    }
}
