//! The wasmtime engine, the linker, and the per-instance store: how a rule module is
//! compiled, what it may import, and the limits every call runs under.

use std::sync::Arc;

use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, StoreLimits,
    StoreLimitsBuilder,
};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// Bindings of the `crm:rules/rule-module` world.
#[allow(missing_docs, clippy::all)]
pub mod bindings {
    wasmtime::component::bindgen!({
        world: "rule-module",
        path: "../wit",
    });
}

/// Limits applied to every call of one org's module.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Fuel per call: the deterministic CPU budget (roughly one unit per wasm
    /// instruction), so the same input always passes or fails the same way.
    pub fuel: u64,
    /// Linear memory of one instance, in bytes.
    pub memory_bytes: usize,
    /// Tables of one instance.
    pub tables: usize,
    /// Core instances of one component.
    pub instances: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            // A qualification of the reference module costs a few tens of thousands
            // of units; a batch of 1,000 a few tens of millions.
            fuel: 2_000_000_000,
            memory_bytes: 64 << 20,
            tables: 20,
            instances: 20,
        }
    }
}

/// What the host needs of the engine, shared by every org.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// Use the pooling allocator (fast instantiation); falls back to on-demand
    /// allocation when the machine refuses the reservation.
    pub pooling: bool,
    /// How many component instances may be alive at once (pooling only).
    pub max_instances: u32,
    /// Upper bound of any org's memory limit (pooling reserves this per memory).
    pub max_memory_bytes: usize,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            pooling: true,
            max_instances: 1000,
            max_memory_bytes: 64 << 20,
        }
    }
}

/// The engine and linker every org shares.
pub struct Runtime {
    pub(crate) engine: Engine,
    pub(crate) linker: Arc<Linker<StoreState>>,
}

impl Runtime {
    /// Builds the engine: fuel metering on, pooling allocator where possible, and a
    /// linker where WASI is present but grants nothing.
    pub fn new(settings: &EngineSettings) -> wasmtime::Result<Runtime> {
        let engine = match settings.pooling {
            true => Engine::new(&config(Some(settings))).or_else(|_| Engine::new(&config(None)))?,
            false => Engine::new(&config(None))?,
        };
        let mut linker = Linker::new(&engine);
        // Modules built for wasm32-wasip2 with std import WASI. It is linked, but
        // the context built in `StoreState::new` grants no files, no network, no
        // environment, no arguments, and a clock stopped at the epoch.
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        Ok(Runtime {
            engine,
            linker: Arc::new(linker),
        })
    }

    /// Compiles a component.
    pub fn compile(&self, bytes: &[u8]) -> wasmtime::Result<Component> {
        Component::new(&self.engine, bytes)
    }
}

fn config(pooling: Option<&EngineSettings>) -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.consume_fuel(true);
    // Deep recursion in a module ends in a trap, not in a host stack overflow.
    config.max_wasm_stack(1 << 20);
    if let Some(settings) = pooling {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(settings.max_instances)
            .total_core_instances(settings.max_instances.saturating_mul(8))
            .total_memories(settings.max_instances.saturating_mul(2))
            .total_tables(settings.max_instances.saturating_mul(4))
            .total_stacks(settings.max_instances)
            .max_memory_size(settings.max_memory_bytes)
            .max_core_instances_per_component(20)
            .max_memories_per_component(4)
            .max_tables_per_component(20);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        // A reservation as large as the memory limit keeps the pool's virtual
        // footprint proportional to what modules may really use.
        config.memory_reservation(settings.max_memory_bytes as u64);
        config.memory_guard_size(64 << 10);
    }
    config
}

/// What a store of one instance holds.
pub struct StoreState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limits: StoreLimits,
}

impl StoreState {
    pub(crate) fn new(limits: &Limits) -> StoreState {
        let wasi = WasiCtx::builder()
            .wall_clock(StoppedClock)
            .monotonic_clock(StoppedClock)
            .insecure_random_seed(0)
            .build();
        StoreState {
            wasi,
            table: ResourceTable::new(),
            limits: StoreLimitsBuilder::new()
                .memory_size(limits.memory_bytes)
                .tables(limits.tables)
                .instances(limits.instances)
                .trap_on_grow_failure(true)
                .build(),
        }
    }
}

impl WasiView for StoreState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// A clock that always reads the Unix epoch: rules get `now` from the decision
/// context, so a module that reads the clock cannot make decisions irreproducible.
struct StoppedClock;

impl wasmtime_wasi::HostWallClock for StoppedClock {
    fn resolution(&self) -> std::time::Duration {
        std::time::Duration::from_secs(1)
    }
    fn now(&self) -> std::time::Duration {
        std::time::Duration::ZERO
    }
}

impl wasmtime_wasi::HostMonotonicClock for StoppedClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

/// A new store for one instance, limits in place.
pub(crate) fn new_store(engine: &Engine, limits: &Limits) -> Store<StoreState> {
    let mut store = Store::new(engine, StoreState::new(limits));
    store.limiter(|state| &mut state.limits);
    store
}
