//! The wasmtime engine, the linker, and the per-instance store: how a rule module is
//! compiled, what it may import, and the limits every call runs under.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, StoreLimits,
    StoreLimitsBuilder,
};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::randomness::DecisionRandom;

/// How often the engine's epoch advances: the granularity of wall-clock deadlines.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

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
    /// Wall-clock backstop of one call, in milliseconds (checked every
    /// [`EPOCH_TICK`]). Fuel ends runaway code deterministically; the deadline
    /// catches what fuel does not count, such as time spent in host calls.
    pub deadline_ms: u64,
    /// Largest answer a module may return for one call, in bytes of text and
    /// list elements; a larger one is refused as a trap of that decision.
    pub output_bytes: usize,
    /// Bytes of a module's stdout and stderr kept per call for the host's log;
    /// the rest is dropped.
    pub log_bytes: usize,
    /// Whether decisions share instances.
    pub isolation: Isolation,
}

/// Whether an org's decisions share instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Isolation {
    /// A warm instance is reused for later calls of the same org and version (one
    /// caller at a time). Memory a module keeps between calls stays visible to its
    /// next calls, never to another org. The fast default.
    Reuse,
    /// Every call (a batch is one call) gets a fresh instance from the pooling
    /// allocator, initialised with the policy, and drops it afterwards: nothing
    /// survives from one decision to the next.
    PerCall,
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
            deadline_ms: 2_000,
            output_bytes: 1 << 20,
            log_bytes: 16 << 10,
            isolation: Isolation::Reuse,
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
    /// How many idle, initialised instances all orgs together keep between calls;
    /// past it, the least recently used org gives one up (its next call starts a
    /// fresh instance). Keep it below `max_instances`, which also bounds the
    /// instances of calls in flight.
    pub max_warm_instances: u32,
    /// Upper bound of any org's memory limit: an org asking for more is refused
    /// when it loads. The pooling allocator sizes every memory slot to it.
    pub max_memory_bytes: usize,
    /// A folder for compiled components, so a restart does not compile known
    /// modules again; `None` for no cache.
    pub cache_dir: Option<std::path::PathBuf>,
    /// The secret key that authenticates cache entries, kept outside the cache
    /// folder (created on first use, mode 0600); `None` for
    /// [`crate::cache::default_key_file`].
    pub cache_key: Option<std::path::PathBuf>,
    /// Name each module's compiled functions for `perf` (Linux): the engine
    /// writes `/tmp/perf-<pid>.map` as it loads code, so a profile shows
    /// `guest_rules::reference::Reference::qualify` instead of an address.
    /// For profiling a module; off by default.
    pub perf_map: bool,
}

impl EngineSettings {
    /// The warm-instance budget: `max_warm_instances`, and with pooling at most
    /// three quarters of the pool, so calls in flight always find a slot.
    pub(crate) fn warm_instances(&self) -> usize {
        let cap = if self.pooling {
            self.max_warm_instances
                .min(self.max_instances.saturating_mul(3) / 4)
        } else {
            self.max_warm_instances
        };
        cap.max(1) as usize
    }
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            pooling: true,
            max_instances: 1000,
            max_warm_instances: 750,
            max_memory_bytes: 64 << 20,
            cache_dir: None,
            cache_key: None,
            perf_map: false,
        }
    }
}

/// Core instances and tables one component may have: the pooling allocator's
/// slots are this large, so an org's `instances` and `tables` limits stop here.
const MAX_CORE_INSTANCES_PER_COMPONENT: u32 = 20;
const MAX_TABLES_PER_COMPONENT: u32 = 20;

/// The engine and linker every org shares.
pub struct Runtime {
    pub(crate) engine: Engine,
    pub(crate) linker: Arc<Linker<StoreState>>,
    max_memory_bytes: usize,
    _ticker: Ticker,
}

/// An org's limit above what the engine can give any org.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "limits.{limit} is {asked}, above the engine's ceiling of {ceiling} ({ceiling_name}); \
     lower the org's limit{raise}"
)]
pub struct LimitAboveCeiling {
    /// The limit's name in `limits`, e.g. `memory_bytes`.
    pub limit: &'static str,
    /// What the org asked for.
    pub asked: u64,
    /// The most the engine allows.
    pub ceiling: u64,
    /// Where the ceiling is set.
    pub ceiling_name: &'static str,
    /// How to raise the ceiling, when it can be.
    pub raise: &'static str,
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until dropped.
struct Ticker {
    stop: Arc<AtomicBool>,
}

impl Ticker {
    fn start(engine: &Engine) -> Ticker {
        let stop = Arc::new(AtomicBool::new(false));
        let (engine, flag) = (engine.weak(), stop.clone());
        std::thread::Builder::new()
            .name("crm-rules-epoch".to_owned())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    match engine.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            })
            .ok();
        Ticker { stop }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Runtime {
    /// Builds the engine: fuel metering on, pooling allocator where possible, and a
    /// linker where WASI is present but grants nothing.
    pub fn new(settings: &EngineSettings) -> wasmtime::Result<Runtime> {
        let engine = match settings.pooling {
            true => Engine::new(&config(settings, true))
                .or_else(|_| Engine::new(&config(settings, false)))?,
            false => Engine::new(&config(settings, false))?,
        };
        let mut linker = Linker::new(&engine);
        // Modules built for wasm32-wasip2 with std import WASI. It is linked, but
        // the context built in `StoreState::new` grants no files, no network, no
        // environment, no arguments, and a clock stopped at the epoch; no call of
        // it may wait (`crate::wasi`).
        crate::wasi::add_to_linker(&mut linker)?;
        Ok(Runtime {
            _ticker: Ticker::start(&engine),
            engine,
            linker: Arc::new(linker),
            max_memory_bytes: settings.max_memory_bytes,
        })
    }

    /// Refuses limits the engine would silently cap: an org that asks for more
    /// memory, instances or tables than any org can have.
    pub fn check_limits(&self, limits: &Limits) -> Result<(), LimitAboveCeiling> {
        let checks = [
            (
                "memory_bytes",
                limits.memory_bytes as u64,
                self.max_memory_bytes as u64,
                "EngineSettings.max_memory_bytes",
                " or raise EngineSettings.max_memory_bytes",
            ),
            (
                "instances",
                limits.instances as u64,
                u64::from(MAX_CORE_INSTANCES_PER_COMPONENT),
                "core instances per component",
                "",
            ),
            (
                "tables",
                limits.tables as u64,
                u64::from(MAX_TABLES_PER_COMPONENT),
                "tables per component",
                "",
            ),
        ];
        for (limit, asked, ceiling, ceiling_name, raise) in checks {
            if asked > ceiling {
                return Err(LimitAboveCeiling {
                    limit,
                    asked,
                    ceiling,
                    ceiling_name,
                    raise,
                });
            }
        }
        Ok(())
    }

    /// Compiles a component.
    pub fn compile(&self, bytes: &[u8]) -> wasmtime::Result<Component> {
        Component::new(&self.engine, bytes)
    }
}

/// Bytes of each freed memory slot reset in place and kept resident (the rest is
/// given back to the kernel).
const KEEP_RESIDENT_BYTES: usize = 2 << 20;
/// Bytes of each freed table slot reset in place and kept resident.
const KEEP_RESIDENT_TABLE_BYTES: usize = 64 << 10;

/// Whether the kernel has the `PAGEMAP_SCAN` ioctl (Linux 6.7 and later), which
/// lets a freed slot be reset page by page.
fn pagemap_scan_available() -> bool {
    cfg!(target_os = "linux")
        && std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .is_ok_and(|release| release_at_least(&release, (6, 7)))
}

/// Whether a kernel release such as `6.18.44-generic` is at least `major.minor`.
fn release_at_least(release: &str, (major, minor): (u32, u32)) -> bool {
    let mut parts = release.trim().split(['.', '-']).map(|part| {
        let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
        digits.parse::<u32>().ok()
    });
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(a), Some(b)) => (a, b) >= (major, minor),
        _ => false,
    }
}

/// The engine's configuration; `pooling` asks for the pooling allocator.
fn config(settings: &EngineSettings, pooling: bool) -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.consume_fuel(true);
    if settings.perf_map {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    config.epoch_interruption(true);
    // Deep recursion in a module ends in a trap, not in a host stack overflow.
    config.max_wasm_stack(1 << 20);
    config.generate_address_map(false);
    config.native_unwind_info(false);
    if pooling {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(settings.max_instances)
            .total_core_instances(settings.max_instances.saturating_mul(8))
            .total_memories(settings.max_instances.saturating_mul(2))
            .total_tables(settings.max_instances.saturating_mul(4))
            .total_stacks(settings.max_instances)
            .max_memory_size(settings.max_memory_bytes)
            .max_core_instances_per_component(MAX_CORE_INSTANCES_PER_COMPONENT)
            .max_memories_per_component(4)
            .max_tables_per_component(MAX_TABLES_PER_COMPONENT);
        // A freed slot is reset by copying back only the pages its instance wrote
        // (found with Linux's PAGEMAP_SCAN, 6.7 and later), and those pages stay
        // mapped: the next instance of the same module starts without page faults.
        // An isolated decision paid a third of its time in the kernel without it.
        // Without that scan, wasmtime would reset all the kept bytes of every
        // freed slot with memset, which costs more than it saves: older kernels
        // keep the default (everything given back to the kernel).
        if pagemap_scan_available() {
            pool.linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
                .table_keep_resident(KEEP_RESIDENT_TABLE_BYTES)
                .pagemap_scan(wasmtime::Enabled::Yes);
        }
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        // Each memory reserves 4 GiB of address space (plus a guard): with a 32-bit
        // wasm address space that large, every load and store is checked by the
        // guard pages instead of an explicit bounds check in the compiled code.
        // Only address space is reserved (no RAM); a machine that refuses it falls
        // back to on-demand allocation.
        config.memory_reservation(4 << 30);
        config.memory_guard_size(32 << 20);
    }
    config
}

/// What a store of one instance holds.
pub struct StoreState {
    /// Built on the module's first WASI call: most modules (the reference one
    /// among them) import no WASI at all, and building a context was a
    /// twentieth of an isolated decision, measured.
    wasi: Option<WasiCtx>,
    table: ResourceTable,
    pub(crate) limits: StoreLimits,
    pub(crate) stdout: GuestOutput,
    pub(crate) stderr: GuestOutput,
    pub(crate) random: DecisionRandom,
}

impl StoreState {
    pub(crate) fn new(limits: &Limits, random: DecisionRandom) -> StoreState {
        let stdout = GuestOutput::new(limits.log_bytes);
        let stderr = GuestOutput::new(limits.log_bytes);
        StoreState {
            wasi: None,
            stdout,
            stderr,
            random,
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
        let (stdout, stderr) = (&self.stdout, &self.stderr);
        WasiCtxView {
            ctx: self.wasi.get_or_insert_with(|| wasi_ctx(stdout, stderr)),
            table: &mut self.table,
        }
    }
}

/// The WASI context a module sees: no files, no network, no environment, no
/// arguments, a wall clock stopped at the epoch, its output into `stdout` and
/// `stderr` (kept up to the log limit). The monotonic clock and randomness are
/// `crate::wasi`'s own, not the context's. Stdin is closed (every read ends at
/// once), and sockets cannot even be created.
fn wasi_ctx(stdout: &GuestOutput, stderr: &GuestOutput) -> WasiCtx {
    WasiCtx::builder()
        .wall_clock(StoppedClock)
        .stdin(wasmtime_wasi::p2::pipe::ClosedInputStream)
        .stdout(stdout.clone())
        .stderr(stderr.clone())
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .build()
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

/// A module's stdout or stderr: kept in memory, up to a cap, until the host takes it
/// for its log after the call. Never the host's terminal.
#[derive(Clone)]
pub(crate) struct GuestOutput {
    buffer: Arc<Mutex<Vec<u8>>>,
    cap: usize,
}

impl GuestOutput {
    fn new(cap: usize) -> GuestOutput {
        GuestOutput {
            buffer: Arc::new(Mutex::new(Vec::new())),
            cap,
        }
    }

    /// What was written since the last call, emptied.
    pub(crate) fn take(&self) -> Vec<u8> {
        self.buffer
            .lock()
            .map(|mut b| std::mem::take(&mut *b))
            .unwrap_or_default()
    }
}

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(tokio::io::sink())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for GuestOutput {
    async fn ready(&mut self) {}
}

#[wasmtime_wasi::async_trait]
impl OutputStream for GuestOutput {
    fn write(&mut self, bytes: bytes::Bytes) -> StreamResult<()> {
        if let Ok(mut buffer) = self.buffer.lock() {
            let room = self.cap.saturating_sub(buffer.len());
            buffer.extend_from_slice(&bytes[..bytes.len().min(room)]);
        }
        Ok(())
    }
    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }
    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 << 10)
    }
}

/// A new store for one instance, limits in place; `random` is what its module
/// reads from `wasi:random`.
pub(crate) fn new_store(
    engine: &Engine,
    limits: &Limits,
    random: DecisionRandom,
) -> Store<StoreState> {
    let mut store = Store::new(engine, StoreState::new(limits, random));
    store.limiter(|state| &mut state.limits);
    store.set_epoch_deadline(epoch_ticks(limits));
    store
}

/// The deadline of one call, in epoch ticks.
pub(crate) fn epoch_ticks(limits: &Limits) -> u64 {
    (limits.deadline_ms / EPOCH_TICK.as_millis() as u64).max(1) + 1
}

/// Arms a store for one call: a full fuel budget and a fresh deadline.
pub(crate) fn arm(store: &mut Store<StoreState>, limits: &Limits) -> wasmtime::Result<()> {
    store.set_fuel(limits.fuel)?;
    store.set_epoch_deadline(epoch_ticks(limits));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::release_at_least;

    #[test]
    fn kernel_releases_are_compared_by_major_then_minor() {
        assert!(release_at_least("6.7.0", (6, 7)));
        assert!(release_at_least("6.18.44-fc-v595\n", (6, 7)));
        assert!(release_at_least("7.0-rc1", (6, 7)));
        assert!(!release_at_least("6.6.30-generic", (6, 7)));
        assert!(!release_at_least("5.14.0-427.el9.x86_64", (6, 7)));
        assert!(!release_at_least("", (6, 7)));
        assert!(!release_at_least("six.seven", (6, 7)));
    }
}
