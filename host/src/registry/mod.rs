//! The per-org registry: org id -> versions of its module, and the active one.
//!
//! Versions and hot swap: an org may hold several versions; one is active. A call
//! takes the active version (an `Arc`) when it starts and finishes on it, so
//! activating another version, or rolling back, never fails or changes a call in
//! flight; each decision says which version made it ([`Provenance`]).
//!
//! Instance strategy (per org, [`Isolation`]): with `reuse` (the default) an instance
//! is created from the version's linked component, handed the policy once (`init`),
//! and then reused for later calls of the same org and version, one caller at a
//! time; with `per_call` every call gets a fresh instance. A call that traps, runs
//! out of fuel or memory, passes its deadline or returns too much throws its
//! instance away, so a fault never leaks into the next decision. Instances are
//! never shared between orgs or versions.
//!
//! [`Isolation`]: crate::Isolation

mod decisions;
mod version;
mod warm;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use crm_rules_model as m;

use crate::cache::{ComponentCache, Origin};
use crate::contract::{ContractVersion, ModulePre, OrgFacts};
use crate::engine::{EngineSettings, Isolation, Limits, Runtime};
use crate::error::{Error, Result, TrapKind};
use crate::integrity::{Integrity, ModuleDigest};
use crate::snapshot::{pre_initialised, SnapshotOf};
use version::Version;
use warm::WarmBudget;

pub use crate::integrity::module_hash;

/// What is known about a loaded module version.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LoadedModule {
    /// The org.
    pub org: String,
    /// The version's label.
    pub version: String,
    /// SHA-256 of the module's bytes, in hex.
    pub hash: String,
    /// The contract the module exports, e.g. `crm:rules@0.2.0`.
    pub contract: ContractVersion,
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
#[derive(Debug, Clone)]
pub struct Decided<T> {
    /// The decision.
    pub value: T,
    /// The version that made it (shared by every record of its call).
    pub by: Arc<Provenance>,
    /// The facts of that version: what its answers are rendered with, even after
    /// another version became active.
    pub facts: Arc<OrgFacts>,
}

impl<T> std::ops::Deref for Decided<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> Decided<T> {
    /// The same provenance with another value.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Decided<U> {
        Decided {
            value: f(self.value),
            by: self.by,
            facts: self.facts,
        }
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
    /// The contract the module exports.
    pub contract: ContractVersion,
    /// Whether it is the active version.
    pub active: bool,
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
    compiled: Mutex<HashMap<String, ModulePre>>,
    /// Idle instances all orgs together may keep between calls.
    warm: Arc<WarmBudget>,
}

/// Checks a loaded version against an org's integrity rules, with the
/// signature it was added with.
fn satisfies(org: &str, version: &Version, rules: &Integrity) -> Result<()> {
    let integrity = Integrity {
        signature: version.signature.clone(),
        ..rules.clone()
    };
    integrity
        .check_digest(&version.digest)
        .map_err(|message| Error::Integrity {
            org: org.to_owned(),
            message: format!("version `{}`: {message}", version.loaded.version),
        })
}

/// The label of a version loaded without one: the first digits of the module's and
/// the policy's SHA-256.
pub fn default_version(wasm: &[u8], policy: &str) -> String {
    default_version_of(&ModuleDigest::of(wasm), policy)
}

/// [`default_version`] of a module whose digest is already known.
pub(crate) fn default_version_of(module: &ModuleDigest, policy: &str) -> String {
    let (module, policy) = (module.hex(), module_hash(policy.as_bytes()));
    format!("{}-{}", &module[..12], &policy[..8])
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
            runtime: Runtime::new(settings).map_err(|e| Error::Engine { source: e.into() })?,
            orgs: RwLock::new(HashMap::new()),
            cache,
            compiled: Mutex::new(HashMap::new()),
            warm: Arc::new(WarmBudget::new(settings.warm_instances())),
        })
    }

    /// Idle instances kept warm right now, all orgs together (at most
    /// [`EngineSettings::max_warm_instances`]).
    pub fn idle_instances(&self) -> usize {
        self.warm.kept()
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
        let digest = ModuleDigest::of(wasm);
        self.add_and_activate_digested(
            org,
            VersionSpec {
                version: default_version_of(&digest, policy),
                wasm,
                policy,
                limits,
                integrity: Integrity::default(),
            },
            &digest,
        )
    }

    /// [`Host::add_version`], then [`Host::activate`] it.
    pub fn add_and_activate(&self, org: &str, spec: VersionSpec<'_>) -> Result<LoadedModule> {
        let digest = ModuleDigest::of(spec.wasm);
        self.add_and_activate_digested(org, spec, &digest)
    }

    /// [`Host::add_and_activate`] of a module whose digest is already known.
    pub(crate) fn add_and_activate_digested(
        &self,
        org: &str,
        spec: VersionSpec<'_>,
        digest: &ModuleDigest,
    ) -> Result<LoadedModule> {
        let loaded = self.add_version_digested(org, spec, digest)?;
        self.activate(org, &loaded.version)?;
        Ok(loaded)
    }

    /// The module compiled and bound to its contract version: shared when another
    /// org or version already uses it, from the cache when one holds it, compiled
    /// otherwise.
    fn compiled(&self, org: &str, wasm: &[u8], hash: &str) -> Result<(ModulePre, Origin)> {
        let shared = self
            .compiled
            .lock()
            .ok()
            .and_then(|compiled| compiled.get(hash).cloned());
        if let Some(pre) = shared {
            return Ok((pre, Origin::Shared));
        }
        let module_error = |message: String, source: Option<wasmtime::Error>| Error::Module {
            org: org.to_owned(),
            message,
            source: source.map(Into::into),
        };
        let (component, origin) = match &self.cache {
            Some(cache) => cache.load(&self.runtime.engine, wasm, hash),
            None => self.runtime.compile(wasm).map(|c| (c, Origin::Compiled)),
        }
        .map_err(|e| module_error("it does not compile".to_owned(), Some(e)))?;
        let contract = ContractVersion::of(&component, &self.runtime.engine)
            .map_err(|message| module_error(message, None))?;
        let linked = self
            .runtime
            .linker
            .instantiate_pre(&component)
            .map_err(|e| module_error("it cannot be linked".to_owned(), Some(e)))?;
        let pre = ModulePre::new(contract, linked).map_err(|e| {
            module_error(
                format!("it does not export the {contract} rule-module world"),
                Some(e),
            )
        })?;
        if let Ok(mut compiled) = self.compiled.lock() {
            compiled.insert(hash.to_owned(), pre.clone());
        }
        Ok((pre, origin))
    }

    /// Checks, compiles and initialises a version of an org's module, without
    /// activating it. Integrity is checked before compilation; the policy is
    /// checked by the module's `init`. Adding a label again with the same module
    /// and policy replaces it; with different ones, it is an error.
    pub fn add_version(&self, org: &str, spec: VersionSpec<'_>) -> Result<LoadedModule> {
        let digest = ModuleDigest::of(spec.wasm);
        self.add_version_digested(org, spec, &digest)
    }

    /// [`Host::add_version`] of a module whose digest is already known (the one
    /// hash of its bytes a load pays for).
    fn add_version_digested(
        &self,
        org: &str,
        spec: VersionSpec<'_>,
        digest: &ModuleDigest,
    ) -> Result<LoadedModule> {
        self.runtime
            .check_limits(&spec.limits)
            .map_err(|source| Error::Limits {
                org: org.to_owned(),
                source,
            })?;
        spec.integrity
            .check_digest(digest)
            .map_err(|message| Error::Integrity {
                org: org.to_owned(),
                message,
            })?;
        let hash = digest.hex();
        let (pre, origin) = self.compiled(org, spec.wasm, &hash)?;
        let mut loaded = LoadedModule {
            org: org.to_owned(),
            version: spec.version.clone(),
            hash,
            contract: pre.contract(),
            info: m::ModuleInfo {
                name: String::new(),
                version: String::new(),
                reads_custom_fields: Vec::new(),
            },
            origin,
        };
        // The first instance checks the policy and tells the org's facts.
        let (first, facts) = Version::instantiate(
            &self.runtime.engine,
            &pre,
            &loaded,
            spec.policy,
            &spec.limits,
        )?;
        let size = crate::contract::facts_size(&facts);
        if size > spec.limits.output_bytes {
            return Err(Error::Trap {
                org: org.to_owned(),
                record: None,
                kind: TrapKind::OutputTooLarge,
                message: format!(
                    "its module info is {size} bytes, more than its limit of {}",
                    spec.limits.output_bytes
                ),
                source: None,
            });
        }
        loaded.info = facts.module_info();
        // Isolated calls start from a snapshot taken after `init`; a module wizer
        // cannot snapshot still runs, paying `init` on every call.
        let ready = match spec.limits.isolation {
            Isolation::PerCall => {
                let of = SnapshotOf {
                    wasm: spec.wasm,
                    module_sha256: &loaded.hash,
                    contract: loaded.contract,
                    org,
                    version: &spec.version,
                    policy: spec.policy,
                    limits: &spec.limits,
                };
                match pre_initialised(&self.runtime, self.cache.as_ref(), &of) {
                    Ok(ready) => Some(ready),
                    Err(e) => {
                        tracing::warn!("org `{org}`: {e}; every isolated call will run init");
                        None
                    }
                }
            }
            Isolation::Reuse => None,
        };
        let version = Version::start(
            version::Made {
                loaded: loaded.clone(),
                pre,
                ready,
                facts,
                policy: spec.policy.to_owned(),
                limits: spec.limits,
                digest: *digest,
                signature: spec.integrity.signature.clone(),
            },
            first,
            self.warm.clone(),
        );
        let mut orgs = self.orgs.write().map_err(|_| poisoned(org))?;
        let slot = orgs.entry(org.to_owned()).or_default();
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
        let mut orgs = self.orgs.write().map_err(|_| poisoned(org))?;
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
            tracing::info!("org `{org}`: version {version} is active");
            Ok(())
        })
    }

    /// [`Host::activate`], when the version satisfies `rules` (the org's pin and
    /// trusted keys as they are now, checked against the module and the
    /// signature it was added with): an org that starts trusting signing keys
    /// cannot have a version added before, unsigned, activated afterwards.
    pub fn activate_under(&self, org: &str, version: &str, rules: &Integrity) -> Result<()> {
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
            satisfies(org, &found, rules)?;
            if let Some(previous) = slot.active.replace(found) {
                if previous.loaded.version != version {
                    slot.history.push(previous.loaded.version.clone());
                }
            }
            tracing::info!("org `{org}`: version {version} is active");
            Ok(())
        })
    }

    /// [`Host::rollback`], when the version rolled back to satisfies `rules`
    /// (see [`Host::activate_under`]); otherwise nothing changes.
    pub fn rollback_under(&self, org: &str, rules: &Integrity) -> Result<String> {
        self.with_slot(org, |slot| {
            let mut history = slot.history.clone();
            while let Some(label) = history.pop() {
                if let Some(found) = slot.versions.iter().find(|v| v.loaded.version == label) {
                    satisfies(org, found, rules)?;
                    slot.active = Some(found.clone());
                    slot.history = history;
                    tracing::info!("org `{org}`: rolled back to version {label}");
                    return Ok(label);
                }
            }
            Err(Error::Version {
                org: org.to_owned(),
                message: "no earlier version to roll back to".to_owned(),
            })
        })
    }

    /// Removes a version that is not active; calls in flight on it finish.
    pub fn remove_version(&self, org: &str, version: &str) -> Result<()> {
        self.with_slot(org, |slot| {
            if slot
                .active
                .as_ref()
                .is_some_and(|a| a.loaded.version == version)
            {
                return Err(Error::Version {
                    org: org.to_owned(),
                    message: format!(
                        "version `{version}` is active; activate another one before removing it"
                    ),
                });
            }
            let before = slot.versions.len();
            slot.versions.retain(|v| v.loaded.version != version);
            if slot.versions.len() == before {
                return Err(Error::Version {
                    org: org.to_owned(),
                    message: format!("no version `{version}`"),
                });
            }
            slot.history.retain(|label| label != version);
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
                    tracing::info!("org `{org}`: rolled back to version {label}");
                    return Ok(label);
                }
            }
            Err(Error::Version {
                org: org.to_owned(),
                message: "no earlier version to roll back to".to_owned(),
            })
        })
    }

    /// Removes an org and every version of it; calls in flight finish.
    pub fn unload(&self, org: &str) -> Result<()> {
        let mut orgs = self.orgs.write().map_err(|_| poisoned(org))?;
        orgs.remove(org)
            .map(|_| ())
            .ok_or_else(|| Error::UnknownOrg {
                org: org.to_owned(),
            })
    }

    /// The org's versions, in the order they were added.
    pub fn versions(&self, org: &str) -> Result<Vec<VersionInfo>> {
        let orgs = self.orgs.read().map_err(|_| poisoned(org))?;
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
                contract: v.loaded.contract,
                active: Some(v.loaded.version.as_str()) == active,
            })
            .collect())
    }

    /// The ids of the orgs loaded, sorted.
    pub fn orgs(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .orgs
            .read()
            .map(|orgs| orgs.keys().cloned().collect())
            .unwrap_or_default();
        ids.sort();
        ids
    }

    /// The active module of an org.
    pub fn module(&self, org: &str) -> Result<LoadedModule> {
        Ok(self.active(org)?.loaded.clone())
    }

    /// The facts the active module of an org declared: its stages, templates and
    /// input query. What [`crate::render`] renders answers with.
    pub fn facts(&self, org: &str) -> Result<Arc<OrgFacts>> {
        Ok(self.active(org)?.facts.clone())
    }

    /// Warm instances an org's active version keeps right now.
    pub fn warm_instances(&self, org: &str) -> Result<usize> {
        Ok(self.active(org)?.warm_instances())
    }

    fn active(&self, org: &str) -> Result<Arc<Version>> {
        let orgs = self.orgs.read().map_err(|_| poisoned(org))?;
        orgs.get(org)
            .and_then(|slot| slot.active.clone())
            .ok_or_else(|| Error::UnknownOrg {
                org: org.to_owned(),
            })
    }
}

/// A thread panicked while it held the registry's lock: a bug of the host, not a
/// clash of versions.
fn poisoned(org: &str) -> Error {
    Error::Internal(format!(
        "the registry lock is poisoned (a thread panicked while changing the orgs; org `{org}`)"
    ))
}
