//! Pre-initialised modules, for orgs that isolate every call (`per_call`): the
//! module's memory and globals right after `init(org, policy)`, baked into a new
//! component. A fresh instance of it starts where `init` left off, so an isolated
//! decision pays instantiation and the call, not the policy's parsing.
//!
//! `wasmtime-wizer` does the work: it instruments the component so its state can
//! be read, the host instantiates the instrumented component in its own store (the
//! same WASI linking and limits as any call), calls `init` with the org and policy,
//! and wizer rewrites the component with that state as data. The code is unchanged;
//! only data segments and global initialisers differ. The result is compiled and
//! kept in the authenticated cache beside compiled modules, keyed by the module's
//! SHA-256, the org, the policy's digest and the engine settings, so a restart
//! loads it without running `init` again.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use wasmtime::component::{Component, Instance, Lift, WasmList};
use wasmtime::Store;
use wasmtime_wizer::{ComponentInstanceState, Wizer};

use crate::cache::ComponentCache;
use crate::contract::{since_v0_1_0, since_v0_2_0, ContractVersion, ModulePre};
use crate::engine::{arm, new_store, Limits, Runtime, StoreState};
use crate::randomness::DecisionRandom;

/// The cache kind of snapshot entries.
const SNAPSHOT: &str = "snapshot";

/// Why a module could not be pre-initialised.
#[derive(Debug, thiserror::Error)]
#[error("the module cannot be pre-initialised: {message}")]
pub struct SnapshotError {
    message: String,
    #[source]
    source: Option<crate::error::Source>,
}

impl SnapshotError {
    fn new(message: impl Into<String>, source: Option<wasmtime::Error>) -> Self {
        SnapshotError {
            message: message.into(),
            source: source.map(Into::into),
        }
    }
}

/// What a snapshot is made of: the module, the org and its policy.
pub(crate) struct SnapshotOf<'a> {
    pub wasm: &'a [u8],
    pub module_sha256: &'a str,
    pub contract: ContractVersion,
    pub org: &'a str,
    pub version: &'a str,
    pub policy: &'a str,
    pub limits: &'a Limits,
}

/// The pre-initialised module of `of`: from the cache when it holds one, made (and
/// cached) otherwise.
pub(crate) fn pre_initialised(
    runtime: &Runtime,
    cache: Option<&ComponentCache>,
    of: &SnapshotOf<'_>,
) -> Result<ModulePre, SnapshotError> {
    let policy_digest = blake3::hash(of.policy.as_bytes());
    let key_parts: [&[u8]; 3] = [
        of.module_sha256.as_bytes(),
        of.org.as_bytes(),
        policy_digest.as_bytes(),
    ];
    let component = match cache {
        Some(cache) => cache
            .compiled(&runtime.engine, SNAPSHOT, &key_parts, || {
                snapshot(runtime, of)
            })
            .map(|(component, _)| component),
        None => snapshot(runtime, of).and_then(|bytes| Component::new(&runtime.engine, bytes)),
    }
    .map_err(|e| SnapshotError::new("making or compiling the snapshot failed", Some(e)))?;
    let linked = runtime
        .linker
        .instantiate_pre(&component)
        .map_err(|e| SnapshotError::new("the snapshot cannot be linked", Some(e)))?;
    ModulePre::new(of.contract, linked)
        .map_err(|e| SnapshotError::new("the snapshot lost its exports", Some(e)))
}

/// Runs `init` in an instrumented instance and returns the snapshot's bytes.
fn snapshot(runtime: &Runtime, of: &SnapshotOf<'_>) -> wasmtime::Result<Vec<u8>> {
    let wizer = Wizer::new();
    let (cx, instrumented) = wizer.instrument_component(of.wasm)?;
    let component = Component::new(&runtime.engine, &instrumented)?;
    let random = DecisionRandom::new(
        of.org,
        of.version,
        of.module_sha256,
        of.limits.memory_bytes as u64,
    );
    let mut store = new_store(&runtime.engine, of.limits, random);
    store.data_mut().random.start_call("init", &[]);
    arm(&mut store, of.limits)?;
    let instance = runtime.linker.instantiate(&mut store, &component)?;
    let refused = |message: String| wasmtime::format_err!("init refused the policy: {message}");
    match of.contract {
        ContractVersion::V0_1_0 => {
            let module = since_v0_1_0::bindings::RuleModule::new(&mut store, &instance)?;
            module
                .crm_rules_module()
                .call_init(&mut store, of.policy)?
                .map_err(|e| refused(e.message))?;
        }
        ContractVersion::V0_2_0 => {
            let module = since_v0_2_0::bindings::RuleModule::new(&mut store, &instance)?;
            module
                .crm_rules_module()
                .call_init(&mut store, of.org, of.policy)?
                .map_err(|e| refused(e.message))?;
        }
    }
    let mut state = State {
        store: &mut store,
        instance,
        failed: None,
    };
    let bytes = ready(wizer.snapshot_component(&cx, &mut state))?;
    match state.failed {
        Some(e) => Err(e),
        None => Ok(bytes),
    }
}

/// wizer's snapshot is written with futures; reading an instance's state through
/// plain calls makes each one ready at its first poll.
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
            return value;
        }
    }
}

/// An instrumented instance, as wizer reads its state: each read is a call of an
/// export the instrumentation added. A failed call is kept and fails the snapshot.
struct State<'s> {
    store: &'s mut Store<StoreState>,
    instance: Instance,
    failed: Option<wasmtime::Error>,
}

impl State<'_> {
    fn call<R: Lift + 'static>(
        &mut self,
        instance: &str,
        func: &str,
        read: impl FnOnce(&Store<StoreState>, &R),
    ) {
        let result = (|| -> wasmtime::Result<()> {
            let (_, exported) = self
                .instance
                .get_export(&mut *self.store, None, instance)
                .ok_or_else(|| wasmtime::format_err!("no export `{instance}`"))?;
            let (_, func_index) = self
                .instance
                .get_export(&mut *self.store, Some(&exported), func)
                .ok_or_else(|| wasmtime::format_err!("no export `{instance}#{func}`"))?;
            let typed = self
                .instance
                .get_typed_func::<(), (R,)>(&mut *self.store, func_index)?;
            let (value,) = typed.call(&mut *self.store, ())?;
            read(self.store, &value);
            Ok(())
        })();
        if let Err(e) = result {
            self.failed.get_or_insert(e);
        }
    }

    fn scalar<R: Lift + Default + Copy + 'static>(&mut self, instance: &str, func: &str) -> R {
        let mut out = R::default();
        self.call(instance, func, |_, value: &R| out = *value);
        out
    }
}

impl ComponentInstanceState for State<'_> {
    async fn call_func_ret_list_u8(
        &mut self,
        instance: &str,
        func: &str,
        contents: impl FnOnce(&[u8]) + Send,
    ) {
        let mut contents = Some(contents);
        self.call(instance, func, |store, list: &WasmList<u8>| {
            if let Some(contents) = contents.take() {
                contents(list.as_le_slice(store));
            }
        });
        if let Some(contents) = contents {
            // The call failed: an empty list keeps wizer going; the failure is kept.
            contents(&[]);
        }
    }

    async fn call_func_ret_s32(&mut self, instance: &str, func: &str) -> i32 {
        self.scalar(instance, func)
    }

    async fn call_func_ret_s64(&mut self, instance: &str, func: &str) -> i64 {
        self.scalar(instance, func)
    }

    async fn call_func_ret_f32(&mut self, instance: &str, func: &str) -> u32 {
        self.scalar::<f32>(instance, func).to_bits()
    }

    async fn call_func_ret_f64(&mut self, instance: &str, func: &str) -> u64 {
        self.scalar::<f64>(instance, func).to_bits()
    }
}
