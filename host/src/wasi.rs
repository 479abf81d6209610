//! The WASI surface a rule module sees, linked interface by interface, and the
//! rule that no call into it may wait.
//!
//! A module built for `wasm32-wasip2` with std imports WASI whether it uses it or
//! not, so every WASI 0.2 interface is linked. Most are wasmtime-wasi's own, over a
//! context that grants nothing (see `engine::StoreState`): no files, no sockets,
//! no environment, a stopped wall clock, a closed stdin, stdout and stderr kept in
//! memory. Four are this module's:
//!
//! - `wasi:io/poll`: `poll` and `pollable.block` return at once when something is
//!   ready and trap with [`WouldBlock`] when nothing is. The epoch deadline only
//!   interrupts guest code, so a host call that waits is never stopped: a rule
//!   module has no business waiting, and a wait that cannot end at once ends the
//!   call instead of hanging the host.
//! - `wasi:io/streams`: the `blocking-*` calls check first, the same way, that the
//!   stream is ready, so they never wait either (every stream a module can reach
//!   is in memory or closed; the check holds even if that changes).
//! - `wasi:clocks/monotonic-clock`: stopped at 0, like the wall clock. A timer on a
//!   stopped clock fires only if it is due now (a zero duration); any later timer
//!   never fires, so waiting on it traps. (wasmtime-wasi's own timers run on the
//!   host's real clock, which is how `sleep(60 s)` used to take 60 s.)
//! - `wasi:random/*`: deterministic per call (`crate::randomness`).

use wasmtime::component::{HasData, Linker, Resource, ResourceTable};
use wasmtime_wasi::cli::{WasiCli, WasiCliView as _};
use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView as _};
use wasmtime_wasi::filesystem::{WasiFilesystem, WasiFilesystemView as _};
use wasmtime_wasi::p2::bindings::sync::io::poll::{self as sync_poll, HostPollable as Polls};
use wasmtime_wasi::p2::bindings::sync::io::streams::{
    self as sync_streams, HostInputStream as Inputs, HostOutputStream as Outputs,
};
use wasmtime_wasi::p2::bindings::{cli, clocks, filesystem, io, random, sockets, sync};
use wasmtime_wasi::p2::{DynPollable, IoError, Pollable, StreamError, StreamResult};
use wasmtime_wasi::sockets::{WasiSockets, WasiSocketsView as _};
use wasmtime_wasi::WasiView;

use crate::engine::StoreState;
use crate::randomness::DecisionRandom;

/// A rule module asked to wait for something that is not ready. Returned from the
/// WASI call as a trap, so the call ends at once with this message.
#[derive(Debug, thiserror::Error)]
#[error(
    "the rule module waited ({call}) for something that is not ready; \
     a rule module may not block"
)]
pub struct WouldBlock {
    /// The WASI function the module called, e.g. `wasi:io/poll.poll`.
    pub call: &'static str,
}

/// Links every WASI 0.2 interface a `wasm32-wasip2` module may import.
pub(crate) fn add_to_linker(linker: &mut Linker<StoreState>) -> wasmtime::Result<()> {
    type S = StoreState;
    let l = linker;
    // Ours: nothing waits, time stands still, randomness is reproducible.
    sync_poll::add_to_linker::<S, NonBlocking>(l, non_blocking)?;
    sync_streams::add_to_linker::<S, NonBlocking>(l, non_blocking)?;
    clocks::monotonic_clock::add_to_linker::<S, NonBlocking>(l, non_blocking)?;
    random::random::add_to_linker::<S, Randomness>(l, |s| &mut s.random)?;
    random::insecure::add_to_linker::<S, Randomness>(l, |s| &mut s.random)?;
    random::insecure_seed::add_to_linker::<S, Randomness>(l, |s| &mut s.random)?;
    // wasmtime-wasi's, over a context that grants nothing; none of these waits.
    io::error::add_to_linker::<S, NonBlocking>(l, non_blocking)?;
    clocks::wall_clock::add_to_linker::<S, WasiClocks>(l, S::clocks)?;
    filesystem::preopens::add_to_linker::<S, WasiFilesystem>(l, S::filesystem)?;
    sync::filesystem::types::add_to_linker::<S, WasiFilesystem>(l, S::filesystem)?;
    cli::exit::add_to_linker::<S, WasiCli>(l, S::cli)?;
    cli::environment::add_to_linker::<S, WasiCli>(l, S::cli)?;
    cli::stdin::add_to_linker::<S, WasiCli>(l, S::cli)?;
    cli::stdout::add_to_linker::<S, WasiCli>(l, S::cli)?;
    cli::stderr::add_to_linker::<S, WasiCli>(l, S::cli)?;
    cli::terminal_input::add_to_linker::<S, WasiCli>(l, S::cli)?;
    cli::terminal_output::add_to_linker::<S, WasiCli>(l, S::cli)?;
    cli::terminal_stdin::add_to_linker::<S, WasiCli>(l, S::cli)?;
    cli::terminal_stdout::add_to_linker::<S, WasiCli>(l, S::cli)?;
    cli::terminal_stderr::add_to_linker::<S, WasiCli>(l, S::cli)?;
    // Sockets: creating one is refused by the context (TCP and UDP off, no name
    // lookup), so no socket, and none of its waits, ever exists.
    let network_options = sync::LinkOptions::default();
    sockets::tcp_create_socket::add_to_linker::<S, WasiSockets>(l, S::sockets)?;
    sockets::instance_network::add_to_linker::<S, WasiSockets>(l, S::sockets)?;
    sockets::network::add_to_linker::<S, WasiSockets>(l, &(&network_options).into(), S::sockets)?;
    sockets::ip_name_lookup::add_to_linker::<S, WasiSockets>(l, S::sockets)?;
    sync::sockets::tcp::add_to_linker::<S, WasiSockets>(l, S::sockets)?;
    sync::sockets::udp::add_to_linker::<S, WasiSockets>(l, S::sockets)?;
    sync::sockets::udp_create_socket::add_to_linker::<S, WasiSockets>(l, S::sockets)?;
    Ok(())
}

fn non_blocking(state: &mut StoreState) -> NonBlockingIo<'_> {
    NonBlockingIo {
        table: state.ctx().table,
    }
}

/// The store's resources, seen through the calls that must never wait.
pub(crate) struct NonBlockingIo<'a> {
    table: &'a mut ResourceTable,
}

struct NonBlocking;

impl HasData for NonBlocking {
    type Data<'a> = NonBlockingIo<'a>;
}

struct Randomness;

impl HasData for Randomness {
    type Data<'a> = &'a mut DecisionRandom;
}

fn would_block(call: &'static str) -> wasmtime::Error {
    wasmtime::Error::new(WouldBlock { call })
}

impl NonBlockingIo<'_> {
    /// Whether a pollable is ready now, without waiting for it.
    fn is_ready(&mut self, pollable: &Resource<DynPollable>) -> wasmtime::Result<bool> {
        Polls::ready(self.table, Resource::new_borrow(pollable.rep()))
    }

    /// Fails with [`WouldBlock`] unless the pollable `subscribe` makes is ready.
    fn ready_or_trap(
        &mut self,
        call: &'static str,
        subscribe: impl FnOnce(&mut ResourceTable) -> wasmtime::Result<Resource<DynPollable>>,
    ) -> StreamResult<()> {
        let pollable = subscribe(self.table).map_err(StreamError::Trap)?;
        let ready = self.is_ready(&pollable);
        Polls::drop(self.table, pollable).map_err(StreamError::Trap)?;
        match ready.map_err(StreamError::Trap)? {
            true => Ok(()),
            false => Err(StreamError::Trap(would_block(call))),
        }
    }
}

impl sync_poll::Host for NonBlockingIo<'_> {
    fn poll(&mut self, pollables: Vec<Resource<DynPollable>>) -> wasmtime::Result<Vec<u32>> {
        let mut ready = Vec::new();
        for (index, pollable) in (0u32..).zip(&pollables) {
            if self.is_ready(pollable)? {
                ready.push(index);
            }
        }
        if ready.is_empty() {
            return Err(would_block("wasi:io/poll.poll"));
        }
        Ok(ready)
    }
}

impl sync_poll::HostPollable for NonBlockingIo<'_> {
    fn ready(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<bool> {
        self.is_ready(&pollable)
    }

    fn block(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        match self.is_ready(&pollable)? {
            true => Ok(()),
            false => Err(would_block("wasi:io/poll.pollable.block")),
        }
    }

    fn drop(&mut self, pollable: Resource<DynPollable>) -> wasmtime::Result<()> {
        Polls::drop(self.table, pollable)
    }
}

impl io::error::Host for NonBlockingIo<'_> {}

impl io::error::HostError for NonBlockingIo<'_> {
    fn to_debug_string(&mut self, error: Resource<IoError>) -> wasmtime::Result<String> {
        io::error::HostError::to_debug_string(self.table, error)
    }

    fn drop(&mut self, error: Resource<IoError>) -> wasmtime::Result<()> {
        io::error::HostError::drop(self.table, error)
    }
}

type InputStream = sync_streams::InputStream;
type OutputStream = sync_streams::OutputStream;

fn borrow<T: 'static>(resource: &Resource<T>) -> Resource<T> {
    Resource::new_borrow(resource.rep())
}

impl sync_streams::Host for NonBlockingIo<'_> {
    fn convert_stream_error(
        &mut self,
        err: StreamError,
    ) -> wasmtime::Result<sync_streams::StreamError> {
        sync_streams::Host::convert_stream_error(self.table, err)
    }
}

impl sync_streams::HostInputStream for NonBlockingIo<'_> {
    fn drop(&mut self, stream: Resource<InputStream>) -> wasmtime::Result<()> {
        Inputs::drop(self.table, stream)
    }

    fn read(&mut self, stream: Resource<InputStream>, len: u64) -> StreamResult<Vec<u8>> {
        Inputs::read(self.table, stream, len)
    }

    fn blocking_read(&mut self, stream: Resource<InputStream>, len: u64) -> StreamResult<Vec<u8>> {
        self.ready_or_trap("wasi:io/streams.input-stream.blocking-read", |t| {
            Inputs::subscribe(t, borrow(&stream))
        })?;
        Inputs::blocking_read(self.table, stream, len)
    }

    fn skip(&mut self, stream: Resource<InputStream>, len: u64) -> StreamResult<u64> {
        Inputs::skip(self.table, stream, len)
    }

    fn blocking_skip(&mut self, stream: Resource<InputStream>, len: u64) -> StreamResult<u64> {
        self.ready_or_trap("wasi:io/streams.input-stream.blocking-skip", |t| {
            Inputs::subscribe(t, borrow(&stream))
        })?;
        Inputs::blocking_skip(self.table, stream, len)
    }

    fn subscribe(
        &mut self,
        stream: Resource<InputStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        Inputs::subscribe(self.table, stream)
    }
}

impl sync_streams::HostOutputStream for NonBlockingIo<'_> {
    fn drop(&mut self, stream: Resource<OutputStream>) -> wasmtime::Result<()> {
        Outputs::drop(self.table, stream)
    }

    fn check_write(&mut self, stream: Resource<OutputStream>) -> StreamResult<u64> {
        Outputs::check_write(self.table, stream)
    }

    fn write(&mut self, stream: Resource<OutputStream>, bytes: Vec<u8>) -> StreamResult<()> {
        Outputs::write(self.table, stream, bytes)
    }

    fn blocking_write_and_flush(
        &mut self,
        stream: Resource<OutputStream>,
        bytes: Vec<u8>,
    ) -> StreamResult<()> {
        self.ready_or_trap(
            "wasi:io/streams.output-stream.blocking-write-and-flush",
            |t| Outputs::subscribe(t, borrow(&stream)),
        )?;
        Outputs::blocking_write_and_flush(self.table, stream, bytes)
    }

    fn blocking_write_zeroes_and_flush(
        &mut self,
        stream: Resource<OutputStream>,
        len: u64,
    ) -> StreamResult<()> {
        self.ready_or_trap(
            "wasi:io/streams.output-stream.blocking-write-zeroes-and-flush",
            |t| Outputs::subscribe(t, borrow(&stream)),
        )?;
        Outputs::blocking_write_zeroes_and_flush(self.table, stream, len)
    }

    fn subscribe(
        &mut self,
        stream: Resource<OutputStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        Outputs::subscribe(self.table, stream)
    }

    fn write_zeroes(&mut self, stream: Resource<OutputStream>, len: u64) -> StreamResult<()> {
        Outputs::write_zeroes(self.table, stream, len)
    }

    fn flush(&mut self, stream: Resource<OutputStream>) -> StreamResult<()> {
        Outputs::flush(self.table, stream)
    }

    fn blocking_flush(&mut self, stream: Resource<OutputStream>) -> StreamResult<()> {
        self.ready_or_trap("wasi:io/streams.output-stream.blocking-flush", |t| {
            Outputs::subscribe(t, borrow(&stream))
        })?;
        Outputs::blocking_flush(self.table, stream)
    }

    fn splice(
        &mut self,
        dst: Resource<OutputStream>,
        src: Resource<InputStream>,
        len: u64,
    ) -> StreamResult<u64> {
        Outputs::splice(self.table, dst, src, len)
    }

    fn blocking_splice(
        &mut self,
        dst: Resource<OutputStream>,
        src: Resource<InputStream>,
        len: u64,
    ) -> StreamResult<u64> {
        self.ready_or_trap("wasi:io/streams.output-stream.blocking-splice", |t| {
            Inputs::subscribe(t, borrow(&src))
        })?;
        self.ready_or_trap("wasi:io/streams.output-stream.blocking-splice", |t| {
            Outputs::subscribe(t, borrow(&dst))
        })?;
        Outputs::blocking_splice(self.table, dst, src, len)
    }
}

/// The monotonic clock's reading: stopped, like the wall clock, because rules get
/// the decision's time from its context.
const STOPPED_AT: u64 = 0;

impl clocks::monotonic_clock::Host for NonBlockingIo<'_> {
    fn now(&mut self) -> wasmtime::Result<u64> {
        Ok(STOPPED_AT)
    }

    fn resolution(&mut self) -> wasmtime::Result<u64> {
        Ok(1_000_000_000)
    }

    fn subscribe_instant(&mut self, when: u64) -> wasmtime::Result<Resource<DynPollable>> {
        // Due now or in the past: with the clock at 0, only an instant of 0.
        self.timer(when == STOPPED_AT)
    }

    fn subscribe_duration(&mut self, duration: u64) -> wasmtime::Result<Resource<DynPollable>> {
        self.timer(duration == 0)
    }
}

impl NonBlockingIo<'_> {
    fn timer(&mut self, due: bool) -> wasmtime::Result<Resource<DynPollable>> {
        let timer = self.table.push(StoppedTimer { due })?;
        wasmtime_wasi::p2::subscribe(self.table, timer)
    }
}

/// A timer on the stopped clock: ready if it was due when made, never otherwise.
struct StoppedTimer {
    due: bool,
}

#[wasmtime_wasi::async_trait]
impl Pollable for StoppedTimer {
    async fn ready(&mut self) {
        if !self.due {
            std::future::pending::<()>().await
        }
    }
}
