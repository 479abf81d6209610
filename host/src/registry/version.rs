//! One loaded version of an org's module: its bound component, the org's facts, its
//! policy and limits, and its warm instances, with the one path every decision
//! takes into the module (take an instance, arm its limits, call, check, give the
//! instance back).

use std::sync::{Arc, Mutex};

use crm_rules_model as m;
use wasmtime::Store;

use super::warm::{Standing, WarmBudget};
use super::{Decided, LoadedModule, Provenance};
use crate::contract::{check_answer, ModuleInstance, ModulePre, OrgFacts, OutputSize, Refusal};
use crate::decision::{Answer, InputRef};
use crate::engine::{arm, new_store, Isolation, Limits, StoreState};
use crate::error::{Error, Result, TrapKind};
use crate::guest_output::drain;
use crate::integrity::ModuleDigest;
use crate::randomness::DecisionRandom;

/// Warm instances kept per version; more concurrent callers get fresh ones that
/// are dropped after use.
const MAX_WARM_PER_VERSION: usize = 8;

/// A live instance and the store it lives in.
pub(crate) struct Warm {
    store: Store<StoreState>,
    module: ModuleInstance,
}

/// What a version is made of, once its module is compiled and its policy checked.
pub(crate) struct Made {
    pub(crate) loaded: LoadedModule,
    pub(crate) pre: ModulePre,
    /// The snapshot after `init`, for `per_call` isolation.
    pub(crate) ready: Option<ModulePre>,
    pub(crate) facts: OrgFacts,
    pub(crate) policy: String,
    pub(crate) limits: Limits,
    /// The module's digest and the signature it came with: what its
    /// activation is checked against again when the org's rules have changed.
    pub(crate) digest: ModuleDigest,
    pub(crate) signature: Option<String>,
}

/// A version of an org's module, loaded.
pub(crate) struct Version {
    pub(crate) loaded: LoadedModule,
    pub(crate) pre: ModulePre,
    /// The module pre-initialised with the org's policy, for `per_call` isolation:
    /// a fresh instance of it needs no `init`.
    pub(crate) ready: Option<ModulePre>,
    pub(crate) facts: Arc<OrgFacts>,
    pub(crate) policy: String,
    pub(crate) limits: Limits,
    pub(crate) digest: ModuleDigest,
    pub(crate) signature: Option<String>,
    warm: Mutex<Vec<Warm>>,
    /// The host-wide budget of idle instances this version's count against.
    budget: Arc<WarmBudget>,
    standing: Standing,
    /// The randomness of this version's stores, its key derived once: a fresh
    /// store per `per_call` decision clones it.
    random: DecisionRandom,
}

/// The `wasi:random` of a version's stores: keyed by org, version and module.
fn randomness_of(loaded: &LoadedModule, limits: &Limits) -> DecisionRandom {
    DecisionRandom::new(
        &loaded.org,
        &loaded.version,
        &loaded.hash,
        limits.memory_bytes as u64,
    )
}

/// Names why a call stopped. The message is the cause alone (e.g. "all fuel
/// consumed by WebAssembly"); the module's wasm backtrace goes to the debug log.
pub(crate) fn classify(org: &str, record: Option<&str>, err: wasmtime::Error) -> Error {
    let cause = err.root_cause().to_string();
    let kind = match err.downcast_ref::<wasmtime::Trap>() {
        Some(wasmtime::Trap::OutOfFuel) => TrapKind::OutOfFuel,
        Some(wasmtime::Trap::Interrupt) => TrapKind::Timeout,
        _ if cause.contains("memory") && cause.contains("grow") => TrapKind::MemoryLimit,
        _ => TrapKind::Trap,
    };
    tracing::debug!("org `{org}`: the rule module stopped: {err:?}");
    Error::Trap {
        org: org.to_owned(),
        record: record.map(str::to_owned),
        kind,
        message: cause,
        source: Some(err.into()),
    }
}

impl Version {
    /// A version whose first instance has already been initialised, shared, its
    /// first instance counted against the host's budget.
    pub(crate) fn start(made: Made, first: Warm, budget: Arc<WarmBudget>) -> Arc<Version> {
        let warm = match made.limits.isolation {
            Isolation::Reuse => vec![first],
            Isolation::PerCall => Vec::new(),
        };
        let random = randomness_of(&made.loaded, &made.limits);
        let version = Arc::new(Version {
            loaded: made.loaded,
            pre: made.pre,
            ready: made.ready,
            facts: Arc::new(made.facts),
            policy: made.policy,
            limits: made.limits,
            digest: made.digest,
            signature: made.signature,
            random,
            warm: Mutex::new(warm),
            budget,
            standing: Standing::default(),
        });
        version.count_first();
        version
    }

    /// Counts the instance the version was made with against the budget (once the
    /// version is shared, so the budget can reach it).
    fn count_first(self: &Arc<Self>) {
        if self.warm_instances() > 0 {
            self.budget.keep(self);
        }
    }

    pub(super) fn standing(&self) -> &Standing {
        &self.standing
    }

    /// Drops one idle instance, for the budget; false when none is idle.
    pub(super) fn give_up_one(&self) -> bool {
        let given_up = self.warm.lock().ok().and_then(|mut pool| {
            if pool.is_empty() {
                None
            } else {
                Some(pool.remove(0))
            }
        });
        given_up.is_some()
    }

    /// A fresh instance of `pre` with the org's policy handed over, and the facts
    /// the module declared.
    pub(crate) fn instantiate(
        engine: &wasmtime::Engine,
        pre: &ModulePre,
        loaded: &LoadedModule,
        policy: &str,
        limits: &Limits,
    ) -> Result<(Warm, OrgFacts)> {
        let (org, version) = (loaded.org.as_str(), loaded.version.as_str());
        let mut store = new_store(engine, limits, randomness_of(loaded, limits));
        store.data_mut().random.start_call("init", &[]);
        arm(&mut store, limits).map_err(|e| classify(org, None, e))?;
        let outcome = pre
            .instantiate(&mut store)
            .and_then(|module| {
                let facts = module.init(&mut store, org, policy)?;
                Ok((module, facts))
            })
            .map_err(|e| classify(org, None, e));
        drain(org, version, store.data());
        let (module, facts) = outcome?;
        // A refusal at init reaches the program's error lines like a rule error
        // does: its text counts against the same limit.
        let refusal_size = match &facts {
            Err(Refusal::Rule(error)) => {
                error.message.len() + error.field.as_ref().map_or(0, String::len)
            }
            Err(Refusal::BadOutput(message)) => message.len(),
            Ok(_) => 0,
        };
        if refusal_size > limits.output_bytes {
            return Err(Error::Trap {
                org: org.to_owned(),
                record: None,
                kind: TrapKind::OutputTooLarge,
                message: format!(
                    "the module refused its policy with {refusal_size} bytes, more than its \
                     limit of {}",
                    limits.output_bytes
                ),
                source: None,
            });
        }
        let facts = facts.map_err(|refusal| match refusal {
            Refusal::Rule(error) => Error::Policy {
                org: org.to_owned(),
                error,
            },
            Refusal::BadOutput(message) => Error::Trap {
                org: org.to_owned(),
                record: None,
                kind: TrapKind::BadOutput,
                message: format!("its module info breaks the contract: {message}"),
                source: None,
            },
        })?;
        Ok((Warm { store, module }, facts))
    }

    /// A fresh instance of the pre-initialised module: its memory already holds
    /// what `init` built, so nothing is called before the decision.
    fn instantiate_ready(&self, engine: &wasmtime::Engine, ready: &ModulePre) -> Result<Warm> {
        let org = self.loaded.org.as_str();
        let random = self.random.clone();
        let mut store = new_store(engine, &self.limits, random);
        arm(&mut store, &self.limits).map_err(|e| classify(org, None, e))?;
        let module = ready
            .instantiate(&mut store)
            .map_err(|e| classify(org, None, e))?;
        Ok(Warm { store, module })
    }

    fn take(&self, engine: &wasmtime::Engine) -> Result<Warm> {
        if let (Isolation::PerCall, Some(ready)) = (self.limits.isolation, &self.ready) {
            return self.instantiate_ready(engine, ready);
        }
        let taken = match self.limits.isolation {
            Isolation::Reuse => self.warm.lock().ok().and_then(|mut pool| pool.pop()),
            Isolation::PerCall => None,
        };
        if taken.is_some() {
            self.budget.release(1);
        }
        match taken {
            Some(warm) => Ok(warm),
            None => {
                Version::instantiate(engine, &self.pre, &self.loaded, &self.policy, &self.limits)
                    .map(|(warm, _)| warm)
            }
        }
    }

    fn give_back(self: &Arc<Self>, warm: Warm) {
        if self.limits.isolation != Isolation::Reuse {
            return;
        }
        let kept = self.warm.lock().is_ok_and(|mut pool| {
            let room = pool.len() < MAX_WARM_PER_VERSION;
            if room {
                pool.push(warm);
            }
            room
        });
        if kept {
            self.budget.keep(self);
        }
    }

    /// Instances kept warm right now.
    pub(crate) fn warm_instances(&self) -> usize {
        self.warm.lock().map_or(0, |pool| pool.len())
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

    fn stopped(&self, record: Option<&str>, kind: TrapKind, message: String) -> Error {
        Error::Trap {
            org: self.loaded.org.clone(),
            record: record.map(str::to_owned),
            kind,
            message,
            source: None,
        }
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

    /// Decides `inputs`, all of one kind, in one call into the module: the one
    /// lower-call-lift path of every decision. The outer error is for the call as
    /// a whole (a trap); the inner ones are per record (the rules' own errors,
    /// answers over the size limit or outside the contract). The size limit is per
    /// record: a batch may return as many answers as it was given.
    pub(crate) fn decide(
        self: &Arc<Self>,
        engine: &wasmtime::Engine,
        ctx: &m::Context,
        inputs: &[InputRef<'_>],
    ) -> Result<Vec<Result<Decided<Answer>>>> {
        let org = &self.loaded.org;
        let record = match inputs {
            [one] => Some(one.id()),
            _ => None,
        };
        let mut warm = self.take(engine)?;
        arm(&mut warm.store, &self.limits).map_err(|e| classify(org, record, e))?;
        // What the module reads from wasi:random follows from the decision and
        // its records alone.
        let ids: Vec<&str> = inputs.iter().map(|i| i.id()).collect();
        let kind = inputs.first().map_or("none", |i| i.kind().as_str());
        warm.store.data_mut().random.start_call(kind, &ids);
        let outcome = warm
            .module
            .decide(&mut warm.store, ctx, &self.facts, inputs);
        drain(org, &self.loaded.version, warm.store.data());
        // A call that trapped leaves its instance in an unknown state: it is
        // dropped, never reused.
        let answers = outcome.map_err(|e| classify(org, record, e))?;
        let fuel_used = self
            .limits
            .fuel
            .saturating_sub(warm.store.get_fuel().unwrap_or(0));
        self.give_back(warm);
        let by = Arc::new(self.provenance(fuel_used, inputs.len()));
        let decided: Vec<Result<Decided<Answer>>> = answers
            .into_iter()
            .zip(inputs)
            .map(|(answer, input)| {
                let id = Some(input.id());
                let answer = match answer {
                    Ok(answer) => answer,
                    Err(Refusal::Rule(error)) => {
                        // A rule error is part of the answer: its text counts
                        // against the same limit, so a 20 MB message never
                        // reaches an output line, a log or the audit.
                        let size =
                            error.message.len() + error.field.as_ref().map_or(0, String::len);
                        self.within_limit(id, size)?;
                        return Err(Error::Rule {
                            org: org.clone(),
                            record: id.map(str::to_owned),
                            error,
                        });
                    }
                    Err(Refusal::BadOutput(message)) => {
                        // The message may quote what the module returned.
                        self.within_limit(id, message.len())?;
                        return Err(self.stopped(id, TrapKind::BadOutput, message));
                    }
                };
                self.within_limit(id, answer.output_size())?;
                check_answer(&answer, &self.facts, *input)
                    .map_err(|m| self.stopped(id, TrapKind::BadOutput, m))?;
                Ok(Decided {
                    value: answer,
                    by: by.clone(),
                    facts: self.facts.clone(),
                })
            })
            .collect();
        Ok(decided)
    }
}

impl Drop for Version {
    fn drop(&mut self) {
        // Its idle instances go with it.
        self.budget.release(self.warm_instances());
    }
}
