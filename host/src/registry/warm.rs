//! The host-wide budget of warm instances: how many idle, initialised instances
//! all orgs together may keep between calls.
//!
//! A warm instance costs its touched linear memory (about 120 KiB for the
//! reference module with a policy) and a slot of the pooling allocator. Keeping
//! one per version for 10,000 orgs would hold over a GiB and more slots than the
//! pool has, so past the budget the least recently used version gives one up.
//! An org whose instance was given up still answers: its next call instantiates
//! afresh (from the snapshot taken after `init` where there is one, otherwise
//! running `init`), and keeps that instance warm again.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

use super::version::Version;

/// The budget, shared by every version of every org of a host.
pub(crate) struct WarmBudget {
    cap: usize,
    /// Instances kept idle right now, all versions together.
    kept: AtomicUsize,
    /// Versions keeping instances, by when they last gave one back (oldest first).
    recent: Mutex<Recent>,
}

#[derive(Default)]
struct Recent {
    clock: u64,
    by_use: BTreeMap<u64, Weak<Version>>,
}

/// Where a version stands in the budget's order (0: keeps nothing).
#[derive(Default)]
pub(crate) struct Standing {
    tick: AtomicU64,
}

impl WarmBudget {
    /// A budget of `cap` idle instances (at least one).
    pub(crate) fn new(cap: usize) -> WarmBudget {
        WarmBudget {
            cap: cap.max(1),
            kept: AtomicUsize::new(0),
            recent: Mutex::new(Recent::default()),
        }
    }

    /// Instances kept idle right now.
    pub(crate) fn kept(&self) -> usize {
        self.kept.load(Ordering::Relaxed)
    }

    /// `version` has just kept one more idle instance: it becomes the most recent
    /// user, and the least recent ones give instances up until the budget holds.
    pub(crate) fn keep(&self, version: &Arc<Version>) {
        self.kept.fetch_add(1, Ordering::Relaxed);
        let Ok(mut recent) = self.recent.lock() else {
            return;
        };
        recent.clock += 1;
        let now = recent.clock;
        let before = version.standing().tick.swap(now, Ordering::Relaxed);
        if before != 0 {
            recent.by_use.remove(&before);
        }
        recent.by_use.insert(now, Arc::downgrade(version));
        while self.kept.load(Ordering::Relaxed) > self.cap {
            let Some((tick, oldest)) = recent.by_use.pop_first() else {
                break;
            };
            let Some(oldest) = oldest.upgrade() else {
                continue;
            };
            if oldest.give_up_one() {
                self.kept.fetch_sub(1, Ordering::Relaxed);
            }
            if oldest.warm_instances() > 0 {
                // It keeps others: it stays in the order, at its old place.
                recent.by_use.insert(tick, Arc::downgrade(&oldest));
                if Arc::ptr_eq(&oldest, version) {
                    // Only the caller is left over the budget.
                    break;
                }
            } else {
                oldest.standing().tick.store(0, Ordering::Relaxed);
            }
        }
    }

    /// `count` idle instances left the budget: taken for a call, or dropped with
    /// their version.
    pub(crate) fn release(&self, count: usize) {
        if count > 0 {
            self.kept.fetch_sub(count, Ordering::Relaxed);
        }
    }
}
