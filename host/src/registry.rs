//! The per-org registry and the decision API: org id -> versions of its module
//! (compiled component, policy, limits, warm instances) and the active one.
//!
//! Versions and hot swap: an org may hold several versions; one is active. A call
//! takes the active version (an `Arc`) when it starts and finishes on it, so
//! activating another version, or rolling back, never fails or changes a call in
//! flight; each decision says which version made it ([`Provenance`]).
//!
//! Instance strategy (per org, [`Isolation`]): with `reuse` (the default) an instance
//! is created from the version's `InstancePre` (pooling allocator), handed the
//! policy once (`init`), and then reused for later calls of the same org and
//! version, one caller at a time; with `per_call` every call gets a fresh instance.
//! A call that traps, runs out of fuel or memory, passes its deadline or returns too
//! much throws its instance away, so a fault never leaks into the next decision.
//! Instances are never shared between orgs or versions.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, RwLock};

use crm_rules_model as m;
use wasmtime::Store;

use crate::cache::{ComponentCache, Origin};
use crate::engine::bindings::{RuleModule, RuleModulePre};
use crate::engine::StoreState;
use crate::engine::{epoch_ticks, new_store, EngineSettings, Isolation, Limits, Runtime};
use crate::error::{Error, Result, TrapKind};
use crate::integrity::Integrity;
use crate::lower::{self, OutputSize};
use crate::randomness::DecisionRandom;

pub use crate::integrity::module_hash;

/// Warm instances kept per org version; more concurrent callers get fresh ones that
/// are dropped after use.
const MAX_WARM_PER_VERSION: usize = 8;

/// What is known about a loaded module version.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LoadedModule {
    /// The org.
    pub org: String,
    /// The version's label.
    pub version: String,
    /// SHA-256 of the module's bytes, in hex.
    pub hash: String,
    /// What the module says about itself.
    pub info: m::ModuleInfo,
    /// Whether the compiled code came from the disk cache.
    pub origin: Origin,
}

/// A version of an org's module and policy, to add with [`Host::add_version`].
#[derive(Debug, Clone)]
pub struct VersionSpec<'a> {
    /// The version's label, e.g. `"2026-11-25"` or `"v3"`.
    pub version: String,
    /// The component's bytes.
    pub wasm: &'a [u8],
    /// The org policy handed to the module's `init`.
    pub policy: &'a str,
    /// Limits of every call.
    pub limits: Limits,
    /// What the module must match before it is compiled.
    pub integrity: Integrity,
}

/// Which module version made a decision, and what it cost.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Provenance {
    /// The org.
    pub org: String,
    /// The version's label.
    pub version: String,
    /// The module's SHA-256.
    pub module_hash: String,
    /// Fuel the call used (for a batch: the whole batch).
    pub fuel_used: u64,
    /// Records decided by the call (1, or the batch's size).
    pub records: usize,
}

/// A decision and where it came from. Dereferences to the decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Decided<T> {
    /// The decision.
    pub value: T,
    /// The version that made it.
    pub by: Provenance,
}

impl<T> std::ops::Deref for Decided<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

/// A version as listed by [`Host::versions`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct VersionInfo {
    /// The version's label.
    pub version: String,
    /// The module's SHA-256.
    pub hash: String,
    /// The module's name.
    pub name: String,
    /// Whether it is the active version.
    pub active: bool,
}

struct Warm {
    store: Store<StoreState>,
    module: RuleModule,
}

struct Version {
    loaded: LoadedModule,
    pre: RuleModulePre<StoreState>,
    policy: String,
    reads: BTreeSet<String>,
    limits: Limits,
    warm: Mutex<Vec<Warm>>,
}

#[derive(Default)]
struct OrgSlot {
    /// Versions in the order they were added.
    versions: Vec<Arc<Version>>,
    active: Option<Arc<Version>>,
    /// Previously active versions, most recent last: what `rollback` returns to.
    history: Vec<String>,
}

/// The host: one engine, many orgs. `Send + Sync`; share it behind an `Arc`.
pub struct Host {
    runtime: Runtime,
    orgs: RwLock<HashMap<String, OrgSlot>>,
    cache: Option<ComponentCache>,
    /// Compiled and linked modules by SHA-256: orgs running the same module share
    /// its machine code (each still has its own policy and instances).
    compiled: Mutex<HashMap<String, RuleModulePre<StoreState>>>,
}

/// The label of a version loaded without one: the first digits of the module's and
/// the policy's SHA-256.
pub fn default_version(wasm: &[u8], policy: &str) -> String {
    let (module, policy) = (module_hash(wasm), module_hash(policy.as_bytes()));
    format!("{}-{}", &module[..12], &policy[..8])
}

/// Names why a call stopped. The message is the cause alone (e.g. "all fuel
/// consumed by WebAssembly"); the module's wasm backtrace goes to the debug log.
fn classify(org: &str, record: Option<&str>, err: wasmtime::Error) -> Error {
    let cause = err.root_cause().to_string();
    let kind = match err.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::OutOfFuel) => TrapKind::OutOfFuel,
        Some(wasmtime::Trap::Interrupt) => TrapKind::Timeout,
        _ if cause.contains("memory") && cause.contains("grow") => TrapKind::MemoryLimit,
        _ => TrapKind::Trap,
    };
    log::debug!("org `{org}`: the rule module stopped: {err:?}");
    Error::Trap {
        org: org.to_owned(),
        record: record.map(str::to_owned),
        kind,
        message: cause,
    }
}

/// Moves what a module wrote to stdout and stderr into the host's log.
fn drain_output(org: &str, version: &str, state: &StoreState) {
    for (stream, bytes) in [
        ("stdout", state.stdout.take()),
        ("stderr", state.stderr.take()),
    ] {
        if bytes.is_empty() {
            continue;
        }
        for line in crate::guest_output::lines(&bytes) {
            log::info!(target: "crm_rules::guest", "org `{org}` version {version} {stream}: {line}");
        }
    }
}

impl Version {
    fn instantiate(
        &self,
        engine: &wasmtime::Engine,
    ) -> Result<(
        Warm,
        crate::engine::bindings::exports::crm::rules::module::ModuleInfo,
    )> {
        let org = &self.loaded.org;
        let random = DecisionRandom::new(
            org,
            &self.loaded.version,
            &self.loaded.hash,
            self.limits.memory_bytes as u64,
        );
        let mut store = new_store(engine, &self.limits, random);
        store.data_mut().random.start_call("init", &[]);
        store
            .set_fuel(self.limits.fuel)
            .map_err(|e| classify(org, None, e))?;
        let outcome = self
            .pre
            .instantiate(&mut store)
            .map_err(|e| classify(org, None, e))
            .and_then(|module| {
                let info = module
                    .crm_rules_module()
                    .call_init(&mut store, &self.policy)
                    .map_err(|e| classify(org, None, e))?;
                Ok((module, info))
            });
        drain_output(org, &self.loaded.version, store.data());
        let (module, info) = outcome?;
        let info = info.map_err(|e| Error::Policy {
            org: org.clone(),
            error: lower::rule_error(e),
        })?;
        Ok((Warm { store, module }, info))
    }

    /// Runs `f` on an instance under the org's limits; returns its answer and the
    /// fuel used. The instance goes back to the pool only if the call returned
    /// normally and the org reuses instances. The module's randomness is derived
    /// from `decision` and the ids of the call's `records`.
    fn call<T>(
        &self,
        engine: &wasmtime::Engine,
        record: Option<&str>,
        (decision, records): (&str, &[&str]),
        f: impl FnOnce(&mut Store<StoreState>, &RuleModule) -> wasmtime::Result<T>,
    ) -> Result<(T, u64)> {
        let reuse = self.limits.isolation == Isolation::Reuse;
        let taken = match reuse {
            true => self.warm.lock().ok().and_then(|mut pool| pool.pop()),
            false => None,
        };
        let mut warm = match taken {
            Some(warm) => warm,
            None => self.instantiate(engine)?.0,
        };
        let org = &self.loaded.org;
        warm.store
            .set_fuel(self.limits.fuel)
            .map_err(|e| classify(org, record, e))?;
        warm.store.set_epoch_deadline(epoch_ticks(&self.limits));
        warm.store.data_mut().random.start_call(decision, records);
        let out = f(&mut warm.store, &warm.module);
        drain_output(org, &self.loaded.version, warm.store.data());
        let out = out.map_err(|e| classify(org, record, e))?;
        let fuel_used = self
            .limits
            .fuel
            .saturating_sub(warm.store.get_fuel().unwrap_or(0));
        if reuse {
            if let Ok(mut pool) = self.warm.lock() {
                if pool.len() < MAX_WARM_PER_VERSION {
                    pool.push(warm);
                }
            }
        }
        Ok((out, fuel_used))
    }

    fn provenance(&self, fuel_used: u64, records: usize) -> Provenance {
        Provenance {
            org: self.loaded.org.clone(),
            version: self.loaded.version.clone(),
            module_hash: self.loaded.hash.clone(),
            fuel_used,
            records,
        }
    }

    fn rule_error(&self, record: Option<&str>, e: lower::WitRuleError) -> Error {
        Error::Rule {
            org: self.loaded.org.clone(),
            record: record.map(str::to_owned),
            error: lower::rule_error(e),
        }
    }

    fn stopped(&self, record: Option<&str>, kind: TrapKind, message: String) -> Error {
        Error::Trap {
            org: self.loaded.org.clone(),
            record: record.map(str::to_owned),
            kind,
            message,
        }
    }

    /// Checks a lifted answer against the contract's invariants and the size limit.
    fn accept<T: OutputSize>(
        &self,
        record: Option<&str>,
        answer: std::result::Result<T, String>,
    ) -> Result<T> {
        let value = answer.map_err(|m| self.stopped(record, TrapKind::BadOutput, m))?;
        self.within_limit(record, value.output_size())?;
        Ok(value)
    }

    /// The answers of a batch call, one per record (`ids` in input order): each
    /// lifted with `lift`, each a rule error or a decision of its own; the whole
    /// batch fails when the module answered another number of records or the
    /// answers together exceed the output limit.
    fn batch_answers<'r, W, T: OutputSize>(
        &self,
        fuel: u64,
        answers: Vec<std::result::Result<W, lower::WitRuleError>>,
        ids: impl ExactSizeIterator<Item = &'r str>,
        what: &str,
        lift: impl Fn(W) -> std::result::Result<T, String>,
    ) -> Result<Vec<Result<Decided<T>>>> {
        let records = ids.len();
        if answers.len() != records {
            return Err(self.stopped(
                None,
                TrapKind::BadOutput,
                format!("the module answered {} of {records} {what}", answers.len()),
            ));
        }
        let by = self.provenance(fuel, records);
        let decisions: Vec<Result<T>> = answers
            .into_iter()
            .zip(ids)
            .map(|(answer, id)| {
                let record = Some(id);
                let answer = answer.map_err(|e| self.rule_error(record, e))?;
                lift(answer).map_err(|m| self.stopped(record, TrapKind::BadOutput, m))
            })
            .collect();
        let total: usize = decisions
            .iter()
            .filter_map(|d| d.as_ref().ok())
            .map(OutputSize::output_size)
            .sum();
        self.within_limit(None, total)?;
        Ok(decisions
            .into_iter()
            .map(|d| {
                d.map(|value| Decided {
                    value,
                    by: by.clone(),
                })
            })
            .collect())
    }

    fn within_limit(&self, record: Option<&str>, size: usize) -> Result<()> {
        if size > self.limits.output_bytes {
            return Err(self.stopped(
                record,
                TrapKind::OutputTooLarge,
                format!(
                    "the module returned {size} bytes, more than its limit of {}",
                    self.limits.output_bytes
                ),
            ));
        }
        Ok(())
    }
}

impl Host {
    /// A host with the default engine settings.
    pub fn new() -> Result<Host> {
        Host::with_settings(&EngineSettings::default())
    }

    /// A host with the given engine settings.
    pub fn with_settings(settings: &EngineSettings) -> Result<Host> {
        let cache = match &settings.cache_dir {
            Some(dir) => {
                let key_file = match &settings.cache_key {
                    Some(file) => file.clone(),
                    None => crate::cache::default_key_file()
                        .map_err(|e| Error::Cache(crate::cache::CacheError::Key(e)))?,
                };
                Some(ComponentCache::open(dir, &key_file).map_err(Error::Cache)?)
            }
            None => None,
        };
        Ok(Host {
            runtime: Runtime::new(settings).map_err(|e| Error::Engine {
                message: format!("{e:#}"),
            })?,
            orgs: RwLock::new(HashMap::new()),
            cache,
            compiled: Mutex::new(HashMap::new()),
        })
    }

    /// The compiled-component cache, when the host has one.
    pub fn cache(&self) -> Option<&ComponentCache> {
        self.cache.as_ref()
    }

    /// Loads `wasm` with `policy` as a version of the org labelled by the module's
    /// hash and makes it active. A module that does not compile or link, or that
    /// refuses the policy, is an error and leaves the org as it was.
    pub fn load(
        &self,
        org: &str,
        wasm: &[u8],
        policy: &str,
        limits: Limits,
    ) -> Result<LoadedModule> {
        self.add_and_activate(
            org,
            VersionSpec {
                version: default_version(wasm, policy),
                wasm,
                policy,
                limits,
                integrity: Integrity::default(),
            },
        )
    }

    /// [`Host::add_version`], then [`Host::activate`] it.
    pub fn add_and_activate(&self, org: &str, spec: VersionSpec<'_>) -> Result<LoadedModule> {
        let loaded = self.add_version(org, spec)?;
        self.activate(org, &loaded.version)?;
        Ok(loaded)
    }

    /// Checks, compiles and initialises a version of an org's module, without
    /// activating it. Integrity is checked before compilation; the policy is
    /// checked by the module's `init`. Adding a label again with the same module
    /// and policy replaces it; with different ones, it is an error.
    pub fn add_version(&self, org: &str, spec: VersionSpec<'_>) -> Result<LoadedModule> {
        let module_error = |message: String| Error::Module {
            org: org.to_owned(),
            message,
        };
        self.runtime
            .check_limits(&spec.limits)
            .map_err(|source| Error::Limits {
                org: org.to_owned(),
                source,
            })?;
        spec.integrity
            .check(spec.wasm)
            .map_err(|message| Error::Integrity {
                org: org.to_owned(),
                message,
            })?;
        let hash = module_hash(spec.wasm);
        let shared = self
            .compiled
            .lock()
            .ok()
            .and_then(|compiled| compiled.get(&hash).cloned());
        let (pre, origin) = match shared {
            Some(pre) => (pre, Origin::Shared),
            None => {
                let (component, origin) = match &self.cache {
                    Some(cache) => cache.load(&self.runtime.engine, spec.wasm, &hash),
                    None => self
                        .runtime
                        .compile(spec.wasm)
                        .map(|c| (c, Origin::Compiled)),
                }
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
                if let Ok(mut compiled) = self.compiled.lock() {
                    compiled.insert(hash.clone(), pre.clone());
                }
                (pre, origin)
            }
        };
        let mut version = Version {
            loaded: LoadedModule {
                org: org.to_owned(),
                version: spec.version.clone(),
                hash,
                info: m::ModuleInfo {
                    name: String::new(),
                    version: String::new(),
                    reads_custom_fields: Vec::new(),
                },
                origin,
            },
            pre,
            policy: spec.policy.to_owned(),
            reads: BTreeSet::new(),
            limits: spec.limits,
            warm: Mutex::new(Vec::new()),
        };
        // The first instance checks the policy and tells what the module reads.
        let (first, info) = version.instantiate(&self.runtime.engine)?;
        let info = lower::module_info(info);
        version.within_limit(None, info.output_size())?;
        version.reads = info.reads_custom_fields.iter().cloned().collect();
        version.loaded.info = info;
        if version.limits.isolation == Isolation::Reuse {
            version.warm = Mutex::new(vec![first]);
        }
        let loaded = version.loaded.clone();
        let mut orgs = self.orgs.write().map_err(|_| Error::Version {
            org: org.to_owned(),
            message: "the registry lock is poisoned".to_owned(),
        })?;
        let slot = orgs.entry(org.to_owned()).or_default();
        let version = Arc::new(version);
        match slot
            .versions
            .iter_mut()
            .find(|v| v.loaded.version == spec.version)
        {
            Some(existing)
                if existing.loaded.hash != version.loaded.hash
                    || existing.policy != version.policy =>
            {
                return Err(Error::Version {
                    org: org.to_owned(),
                    message: format!(
                        "version `{}` exists with another module or policy; \
                         give the new one another label",
                        spec.version
                    ),
                });
            }
            Some(existing) => *existing = version.clone(),
            None => slot.versions.push(version.clone()),
        }
        if slot
            .active
            .as_ref()
            .is_some_and(|a| a.loaded.version == spec.version)
        {
            slot.active = Some(version);
        }
        Ok(loaded)
    }

    fn with_slot<T>(&self, org: &str, f: impl FnOnce(&mut OrgSlot) -> Result<T>) -> Result<T> {
        let mut orgs = self.orgs.write().map_err(|_| Error::Version {
            org: org.to_owned(),
            message: "the registry lock is poisoned".to_owned(),
        })?;
        let slot = orgs.get_mut(org).ok_or_else(|| Error::UnknownOrg {
            org: org.to_owned(),
        })?;
        f(slot)
    }

    /// Makes a version the org's active one, atomically: calls that started before
    /// finish on the version they started with.
    pub fn activate(&self, org: &str, version: &str) -> Result<()> {
        self.with_slot(org, |slot| {
            let found = slot
                .versions
                .iter()
                .find(|v| v.loaded.version == version)
                .cloned()
                .ok_or_else(|| Error::Version {
                    org: org.to_owned(),
                    message: format!("no version `{version}`"),
                })?;
            if let Some(previous) = slot.active.replace(found) {
                if previous.loaded.version != version {
                    slot.history.push(previous.loaded.version.clone());
                }
            }
            log::info!("org `{org}`: version {version} is active");
            Ok(())
        })
    }

    /// Re-activates the version that was active before the current one; returns
    /// its label.
    pub fn rollback(&self, org: &str) -> Result<String> {
        self.with_slot(org, |slot| {
            while let Some(label) = slot.history.pop() {
                if let Some(found) = slot.versions.iter().find(|v| v.loaded.version == label) {
                    slot.active = Some(found.clone());
                    log::info!("org `{org}`: rolled back to version {label}");
                    return Ok(label);
                }
            }
            Err(Error::Version {
                org: org.to_owned(),
                message: "no earlier version to roll back to".to_owned(),
            })
        })
    }

    /// The org's versions, in the order they were added.
    pub fn versions(&self, org: &str) -> Result<Vec<VersionInfo>> {
        let orgs = self.orgs.read().map_err(|_| Error::UnknownOrg {
            org: org.to_owned(),
        })?;
        let slot = orgs.get(org).ok_or_else(|| Error::UnknownOrg {
            org: org.to_owned(),
        })?;
        let active = slot.active.as_ref().map(|a| a.loaded.version.as_str());
        Ok(slot
            .versions
            .iter()
            .map(|v| VersionInfo {
                version: v.loaded.version.clone(),
                hash: v.loaded.hash.clone(),
                name: v.loaded.info.name.clone(),
                active: Some(v.loaded.version.as_str()) == active,
            })
            .collect())
    }

    /// The active module of an org.
    pub fn module(&self, org: &str) -> Result<LoadedModule> {
        Ok(self.active(org)?.loaded.clone())
    }

    fn active(&self, org: &str) -> Result<Arc<Version>> {
        let orgs = self.orgs.read().map_err(|_| Error::UnknownOrg {
            org: org.to_owned(),
        })?;
        orgs.get(org)
            .and_then(|slot| slot.active.clone())
            .ok_or_else(|| Error::UnknownOrg {
                org: org.to_owned(),
            })
    }

    /// Qualifies one lead with the rules of `ctx.org_id`.
    pub fn qualify(&self, ctx: &m::Context, lead: &m::Lead) -> Result<Decided<m::Qualification>> {
        let version = self.active(&ctx.org_id)?;
        let record = Some(lead.id.as_str());
        let (wctx, wlead) = (lower::context(ctx), lower::lead(lead, &version.reads));
        let seed = ("qualify", &[lead.id.as_str()][..]);
        let (answer, fuel) =
            version.call(&self.runtime.engine, record, seed, |store, module| {
                module
                    .crm_rules_qualification()
                    .call_qualify(store, &wctx, &wlead)
            })?;
        let decision = answer.map_err(|e| version.rule_error(record, e))?;
        Ok(Decided {
            value: version.accept(record, lower::qualification(decision))?,
            by: version.provenance(fuel, 1),
        })
    }

    /// Qualifies many leads in one call into the module. The outer error is for
    /// the whole batch (unknown org, a trap); the inner ones are per lead.
    pub fn qualify_batch(
        &self,
        ctx: &m::Context,
        leads: &[m::Lead],
    ) -> Result<Vec<Result<Decided<m::Qualification>>>> {
        let version = self.active(&ctx.org_id)?;
        let wctx = lower::context(ctx);
        let wleads: Vec<_> = leads
            .iter()
            .map(|l| lower::lead(l, &version.reads))
            .collect();
        let ids: Vec<&str> = leads.iter().map(|l| l.id.as_str()).collect();
        let seed = ("qualify", &ids[..]);
        let (answers, fuel) = version.call(&self.runtime.engine, None, seed, |store, module| {
            module
                .crm_rules_qualification()
                .call_qualify_batch(store, &wctx, &wleads)
        })?;
        version.batch_answers(
            fuel,
            answers,
            leads.iter().map(|l| l.id.as_str()),
            "leads",
            lower::qualification,
        )
    }

    /// Plans the conversion of a lead, given existing records that may match it.
    pub fn convert(
        &self,
        ctx: &m::Context,
        lead: &m::Lead,
        candidates: &[m::Candidate],
    ) -> Result<Decided<m::ConversionPlan>> {
        let version = self.active(&ctx.org_id)?;
        let record = Some(lead.id.as_str());
        let wctx = lower::context(ctx);
        let wlead = lower::lead(lead, &version.reads);
        let wcands: Vec<_> = candidates.iter().map(lower::candidate).collect();
        let seed = ("convert", &[lead.id.as_str()][..]);
        let (answer, fuel) =
            version.call(&self.runtime.engine, record, seed, |store, module| {
                module
                    .crm_rules_conversion()
                    .call_convert(store, &wctx, &wlead, &wcands)
            })?;
        let plan = answer.map_err(|e| version.rule_error(record, e))?;
        Ok(Decided {
            value: version.accept(record, lower::conversion_plan(plan))?,
            by: version.provenance(fuel, 1),
        })
    }

    /// The org's stages and their steps.
    pub fn stages(&self, ctx: &m::Context) -> Result<Decided<Vec<m::Stage>>> {
        let version = self.active(&ctx.org_id)?;
        let wctx = lower::context(ctx);
        let seed = ("stages", &[][..]);
        let (answer, fuel) = version.call(&self.runtime.engine, None, seed, |store, module| {
            module.crm_rules_process_flow().call_stages(store, &wctx)
        })?;
        let stages = answer.map_err(|e| version.rule_error(None, e))?;
        Ok(Decided {
            value: version.accept(None, Ok(lower::stages(stages)))?,
            by: version.provenance(fuel, 1),
        })
    }

    /// Whether an opportunity may move to `to_stage`.
    pub fn check_transition(
        &self,
        ctx: &m::Context,
        opportunity: &m::Opportunity,
        to_stage: &str,
    ) -> Result<Decided<m::TransitionCheck>> {
        let version = self.active(&ctx.org_id)?;
        let record = Some(opportunity.id.as_str());
        let wctx = lower::context(ctx);
        let wopp = lower::opportunity(opportunity, &version.reads);
        let seed = ("check-transition", &[opportunity.id.as_str(), to_stage][..]);
        let (answer, fuel) =
            version.call(&self.runtime.engine, record, seed, |store, module| {
                module
                    .crm_rules_process_flow()
                    .call_check_transition(store, &wctx, &wopp, to_stage)
            })?;
        let check = answer.map_err(|e| version.rule_error(record, e))?;
        Ok(Decided {
            value: version.accept(record, Ok(lower::transition(check)))?,
            by: version.provenance(fuel, 1),
        })
    }

    /// The win probability and weighted value of an opportunity.
    pub fn forecast(
        &self,
        ctx: &m::Context,
        opportunity: &m::Opportunity,
    ) -> Result<Decided<m::Forecast>> {
        let version = self.active(&ctx.org_id)?;
        let record = Some(opportunity.id.as_str());
        let wctx = lower::context(ctx);
        let wopp = lower::opportunity(opportunity, &version.reads);
        let seed = ("forecast", &[opportunity.id.as_str()][..]);
        let (answer, fuel) =
            version.call(&self.runtime.engine, record, seed, |store, module| {
                module
                    .crm_rules_forecasting()
                    .call_forecast(store, &wctx, &wopp)
            })?;
        let forecast = answer.map_err(|e| version.rule_error(record, e))?;
        Ok(Decided {
            value: version.accept(record, lower::forecast(forecast))?,
            by: version.provenance(fuel, 1),
        })
    }

    /// Forecasts many opportunities in one call into the module. The outer error is
    /// for the whole batch; the inner ones are per opportunity.
    pub fn forecast_batch(
        &self,
        ctx: &m::Context,
        opportunities: &[m::Opportunity],
    ) -> Result<Vec<Result<Decided<m::Forecast>>>> {
        let version = self.active(&ctx.org_id)?;
        let wctx = lower::context(ctx);
        let wopps: Vec<_> = opportunities
            .iter()
            .map(|o| lower::opportunity(o, &version.reads))
            .collect();
        let ids: Vec<&str> = opportunities.iter().map(|o| o.id.as_str()).collect();
        let seed = ("forecast", &ids[..]);
        let (answers, fuel) = version.call(&self.runtime.engine, None, seed, |store, module| {
            module
                .crm_rules_forecasting()
                .call_forecast_batch(store, &wctx, &wopps)
        })?;
        version.batch_answers(
            fuel,
            answers,
            opportunities.iter().map(|o| o.id.as_str()),
            "opportunities",
            lower::forecast,
        )
    }
}
