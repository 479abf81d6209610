//! Where a request's records are decided.
//!
//! - **inline**: a small body of an org in good standing (its last
//!   [`GOOD_STANDING`] calls were clean) is decided on the request's own task. A
//!   qualification costs tens of microseconds, less than handing it to another
//!   thread and back. A new org earns its standing on the pool, so a module that
//!   loops from its first call never holds up a thread that serves HTTP.
//! - **pool**: a larger body (a batch) goes to the blocking pool, so the threads
//!   that serve HTTP stay free for small requests.
//! - **quarantine**: an org whose module lately ran out of fuel, memory or time, or
//!   used much fuel per record, is decided on threads of the lowest CPU priority
//!   (`SCHED_IDLE` on Linux), with few of its requests at once. A module that loops
//!   then only gets the CPU nobody else wants, and the other orgs keep their
//!   latency. The org is back in good standing after a quiet spell.

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;

use super::error::ApiError;

/// Bodies up to this size are decided on the request's task (one record, or a
/// handful).
pub const INLINE_BODY_BYTES: usize = 8 << 10;

/// Clean calls in a row after which an org's small bodies are decided inline.
pub const GOOD_STANDING: u32 = 100;

/// A record that costs more fuel than this puts its org in quarantine: some
/// hundred times what a qualification of the reference module costs. Fuel, not
/// time: a busy machine makes every call slow, and must not put orgs that behave
/// in quarantine.
const HEAVY_RECORD_FUEL: u64 = 20_000_000;

/// How long an org stays in quarantine after its module last misbehaved.
const QUARANTINE: Duration = Duration::from_secs(30);

/// Requests of one quarantined org decided or waiting at once; more are refused
/// with 503, so they cannot take the service's capacity from other orgs.
const QUARANTINED_IN_FLIGHT: usize = 4;

/// Which lane a request takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    Inline,
    Pool,
    Quarantine,
}

/// How an org's module has behaved lately.
#[derive(Debug, Default)]
pub struct Conduct {
    /// Until when (milliseconds since the service started) the org is in
    /// quarantine; 0 when it never was.
    until_ms: AtomicU64,
    /// Its requests in the quarantine lane now.
    quarantined: AtomicUsize,
    /// Clean calls since it last misbehaved (or was loaded), up to
    /// [`GOOD_STANDING`].
    clean: AtomicU32,
}

/// What a run told about the module's behaviour.
pub struct Behaviour {
    /// The fuel its calls used.
    pub fuel: u64,
    pub records: usize,
    /// A record's call ran out of fuel, memory or time.
    pub ran_away: bool,
}

impl Conduct {
    fn in_quarantine(&self, clock: &Clock) -> bool {
        self.until_ms.load(Ordering::Relaxed) > clock.now_ms()
    }

    /// Notes how a run went.
    pub fn observe(&self, org: &str, clock: &Clock, behaviour: &Behaviour) {
        let heavy = behaviour.fuel / (behaviour.records.max(1) as u64) > HEAVY_RECORD_FUEL;
        if !(heavy || behaviour.ran_away) {
            if self.clean.load(Ordering::Relaxed) < GOOD_STANDING {
                self.clean.fetch_add(1, Ordering::Relaxed);
            }
            return;
        }
        self.clean.store(0, Ordering::Relaxed);
        let until = clock.now_ms() + QUARANTINE.as_millis() as u64;
        let before = self.until_ms.swap(until, Ordering::Relaxed);
        if before <= clock.now_ms() {
            tracing::warn!(
                "org `{org}`: its module {} ({} fuel for {} records); its decisions run at \
                 the lowest priority for {}s",
                if behaviour.ran_away {
                    "ran out of fuel, memory or time"
                } else {
                    "is heavy"
                },
                behaviour.fuel,
                behaviour.records,
                QUARANTINE.as_secs()
            );
        }
    }
}

/// Milliseconds since the service started: cheaper to compare than instants in an
/// atomic.
pub struct Clock(Instant);

impl Clock {
    pub fn new() -> Clock {
        Clock(Instant::now())
    }

    fn now_ms(&self) -> u64 {
        self.0.elapsed().as_millis() as u64 + 1
    }
}

/// The lanes: the quarantine's low-priority threads and the clock.
pub struct Lanes {
    quarantine: rayon::ThreadPool,
    pub clock: Clock,
}

/// Lowers the calling thread to the idle class: it runs only when no other thread
/// wants the CPU.
fn lowest_priority() {
    use thread_priority::{
        set_thread_priority_and_policy, thread_native_id, NormalThreadSchedulePolicy,
        ThreadPriority, ThreadSchedulePolicy,
    };
    let policy = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
    if let Err(e) = set_thread_priority_and_policy(thread_native_id(), ThreadPriority::Min, policy)
    {
        tracing::warn!("the quarantine lane keeps the normal priority: {e:?}");
    }
}

impl Lanes {
    pub fn new(threads: usize) -> anyhow::Result<Lanes> {
        let quarantine = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.max(1))
            .thread_name(|i| format!("crm-rules-quarantine-{i}"))
            .start_handler(|_| lowest_priority())
            .build()?;
        Ok(Lanes {
            quarantine,
            clock: Clock::new(),
        })
    }

    /// The lane of a request of `body_bytes` for an org behaving as `conduct` says.
    pub fn lane(&self, conduct: &Conduct, body_bytes: usize) -> Lane {
        if conduct.in_quarantine(&self.clock) {
            Lane::Quarantine
        } else if body_bytes <= INLINE_BODY_BYTES
            && conduct.clean.load(Ordering::Relaxed) >= GOOD_STANDING
        {
            Lane::Inline
        } else {
            Lane::Pool
        }
    }

    /// Runs `job` in a lane off the request's task and waits for it.
    pub async fn off_task<T: Send + 'static>(
        &self,
        lane: Lane,
        conduct: &Arc<Conduct>,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let lost = || {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "host",
                "the decision was lost (a thread of the service stopped)",
            )
        };
        if lane != Lane::Quarantine {
            return tokio::task::spawn_blocking(job).await.map_err(|_| lost());
        }
        let waiting = conduct.quarantined.fetch_add(1, Ordering::AcqRel);
        let _leave = Leave(conduct.clone());
        if waiting >= QUARANTINED_IN_FLIGHT {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "org_overloaded",
                "this org's module has been misbehaving and has as many requests \
                 in progress as it may; retry later",
            )
            .retry_after(5));
        }
        let (send, receive) = tokio::sync::oneshot::channel();
        self.quarantine.spawn(move || {
            let _ = send.send(job());
        });
        receive.await.map_err(|_| lost())
    }
}

/// Leaves the quarantine lane's count when the request ends, however it ends.
struct Leave(Arc<Conduct>);

impl Drop for Leave {
    fn drop(&mut self) {
        self.0.quarantined.fetch_sub(1, Ordering::AcqRel);
    }
}
