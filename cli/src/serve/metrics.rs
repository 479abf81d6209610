//! The service's Prometheus metrics, kept with `prometheus-client` (the Prometheus
//! project's own Rust client: typed label sets, one registry per service and no
//! global state).
//!
//! A decision request touches only handles made when its org was loaded
//! ([`OrgMeters`]): counting is an atomic add, not a lookup by labels. Gauges that
//! describe the host (the active version of each org, its warm instances) are
//! read from the host when Prometheus scrapes.

use std::sync::atomic::{AtomicI64, AtomicU64};
use std::sync::OnceLock;

use crm_rules::decision::Kind;
use crm_rules::Host;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use super::orgs::FolderStatus;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecisionLabels {
    org: String,
    kind: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OrgKindLabels {
    org: String,
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    org: String,
    kind: String,
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VersionLabels {
    org: String,
    version: String,
    module_hash: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OrgLabels {
    org: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FolderLabels {
    folder: String,
    org: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: String,
}

type LatencyFamily = Family<OrgKindLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 50 µs to about 6.5 s, doubling.
    Histogram::new(exponential_buckets(0.000_05, 2.0, 18))
}

/// Every metric of the service.
pub struct Metrics {
    registry: Registry,
    decisions: Family<DecisionLabels, Counter>,
    errors: Family<ErrorLabels, Counter>,
    latency: LatencyFamily,
    fuel: Family<OrgKindLabels, Counter>,
    active: Family<VersionLabels, Gauge>,
    warm: Family<OrgLabels, Gauge>,
    folder_healthy: Family<FolderLabels, Gauge>,
    rejected: Family<ReasonLabels, Counter>,
    responses: Family<StatusLabels, Counter>,
    /// The counter of each status, by status - 100, made on first use: counting
    /// an answer is then one atomic add.
    response_counters: Box<[OnceLock<Counter>]>,
    load_failures: Family<OrgLabels, Counter>,
    swaps: Family<OrgLabels, Counter>,
    in_flight: Gauge<i64, AtomicI64>,
}

/// The handles one org's decisions count with, one set per kind of decision.
#[derive(Clone)]
pub struct OrgMeters {
    kinds: [KindMeters; 4],
}

#[derive(Clone)]
struct KindMeters {
    decided: Counter,
    failed: Counter,
    latency: Histogram,
    fuel: Counter<u64, AtomicU64>,
}

const DECISIONS: [Kind; 4] = [
    Kind::Qualify,
    Kind::Convert,
    Kind::Transition,
    Kind::Forecast,
];

impl OrgMeters {
    fn of(&self, kind: Kind) -> &KindMeters {
        let i = DECISIONS.iter().position(|k| *k == kind).unwrap_or(0);
        &self.kinds[i]
    }

    /// Counts one request's records, its time and the fuel its calls used.
    pub fn record(&self, kind: Kind, decided: usize, failed: usize, seconds: f64, fuel: u64) {
        let meters = self.of(kind);
        meters.decided.inc_by(decided as u64);
        meters.failed.inc_by(failed as u64);
        meters.latency.observe(seconds);
        meters.fuel.inc_by(fuel);
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("crm_rules");
        let decisions = Family::<DecisionLabels, Counter>::default();
        registry.register(
            "decisions",
            "Records decided (outcome=decided) or answered with an error (outcome=failed)",
            decisions.clone(),
        );
        let errors = Family::<ErrorLabels, Counter>::default();
        registry.register(
            "decision_errors",
            "Records answered with an error, by the error's code",
            errors.clone(),
        );
        let latency: LatencyFamily = Family::new_with_constructor(latency_histogram);
        registry.register(
            "decision_request_duration_seconds",
            "Time from a decision request's arrival to its answer",
            latency.clone(),
        );
        let fuel = Family::<OrgKindLabels, Counter>::default();
        registry.register(
            "fuel_used",
            "Fuel (WebAssembly instructions, roughly) the rule modules used",
            fuel.clone(),
        );
        let active = Family::<VersionLabels, Gauge>::default();
        registry.register(
            "active_module",
            "1 for the module version each org runs now",
            active.clone(),
        );
        let warm = Family::<OrgLabels, Gauge>::default();
        registry.register(
            "warm_instances",
            "Instances the active version of an org keeps ready",
            warm.clone(),
        );
        let folder_healthy = Family::<FolderLabels, Gauge>::default();
        registry.register(
            "org_folder_healthy",
            "1 when an org folder's last load succeeded, 0 when it failed (it then \
             serves its previous version, or nothing)",
            folder_healthy.clone(),
        );
        let rejected = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "rejected_requests",
            "Requests refused before any decision, by reason",
            rejected.clone(),
        );
        let responses = Family::<StatusLabels, Counter>::default();
        registry.register(
            "http_responses",
            "Answers of the /v1 routes, by HTTP status",
            responses.clone(),
        );
        let load_failures = Family::<OrgLabels, Counter>::default();
        registry.register(
            "org_load_failures",
            "Org folders that failed to load (the previous version kept serving)",
            load_failures.clone(),
        );
        let swaps = Family::<OrgLabels, Counter>::default();
        registry.register(
            "module_swaps",
            "Times an org's active version changed (reload, activate, rollback)",
            swaps.clone(),
        );
        let in_flight = Gauge::<i64, AtomicI64>::default();
        registry.register(
            "in_flight_requests",
            "Requests being handled now",
            in_flight.clone(),
        );
        Metrics {
            registry,
            decisions,
            errors,
            latency,
            fuel,
            active,
            warm,
            folder_healthy,
            rejected,
            responses,
            response_counters: (100..600).map(|_| OnceLock::new()).collect(),
            load_failures,
            swaps,
            in_flight,
        }
    }

    /// The handles an org's decisions count with.
    pub fn org(&self, org: &str) -> OrgMeters {
        let kinds = DECISIONS.map(|kind| {
            let labels = |outcome: &str| DecisionLabels {
                org: org.to_owned(),
                kind: kind.as_str().to_owned(),
                outcome: outcome.to_owned(),
            };
            let org_kind = OrgKindLabels {
                org: org.to_owned(),
                kind: kind.as_str().to_owned(),
            };
            KindMeters {
                decided: self.decisions.get_or_create_owned(&labels("decided")),
                failed: self.decisions.get_or_create_owned(&labels("failed")),
                latency: self.latency.get_or_create_owned(&org_kind),
                fuel: self.fuel.get_or_create_owned(&org_kind),
            }
        });
        OrgMeters { kinds }
    }

    /// Counts a record answered with an error.
    pub fn error(&self, org: &str, kind: Kind, code: &str) {
        self.errors
            .get_or_create(&ErrorLabels {
                org: org.to_owned(),
                kind: kind.as_str().to_owned(),
                code: code.to_owned(),
            })
            .inc();
    }

    /// Counts a request refused before any decision.
    pub fn rejected(&self, reason: &str) {
        self.rejected
            .get_or_create(&ReasonLabels {
                reason: reason.to_owned(),
            })
            .inc();
    }

    /// Counts an answer of the /v1 routes.
    pub fn response(&self, status: u16) {
        let make = || {
            self.responses.get_or_create_owned(&StatusLabels {
                status: status.to_string(),
            })
        };
        match self
            .response_counters
            .get(usize::from(status).wrapping_sub(100))
        {
            Some(counter) => counter.get_or_init(make).inc(),
            None => make().inc(),
        };
    }

    /// Counts a failed load of an org folder.
    pub fn load_failed(&self, org: &str) {
        self.load_failures
            .get_or_create(&OrgLabels {
                org: org.to_owned(),
            })
            .inc();
    }

    /// Counts a change of an org's active version.
    pub fn swapped(&self, org: &str) {
        self.swaps
            .get_or_create(&OrgLabels {
                org: org.to_owned(),
            })
            .inc();
    }

    /// The in-flight gauge, raised while a request is handled.
    pub fn in_flight(&self) -> &Gauge<i64, AtomicI64> {
        &self.in_flight
    }

    /// The metrics in the Prometheus text format, with the host's gauges and the
    /// folders' health read now.
    pub fn render(&self, host: &Host, folders: &[FolderStatus]) -> String {
        self.active.clear();
        self.warm.clear();
        self.folder_healthy.clear();
        for folder in folders {
            self.folder_healthy
                .get_or_create(&FolderLabels {
                    folder: folder.folder.clone(),
                    org: folder.org.clone().unwrap_or_default(),
                })
                .set(i64::from(folder.error.is_none()));
        }
        for org in host.orgs() {
            if let Ok(module) = host.module(&org) {
                self.active
                    .get_or_create(&VersionLabels {
                        org: org.clone(),
                        version: module.version,
                        module_hash: module.hash,
                    })
                    .set(1);
            }
            if let Ok(warm) = host.warm_instances(&org) {
                self.warm.get_or_create(&OrgLabels { org }).set(warm as i64);
            }
        }
        let mut text = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            tracing::warn!("cannot encode the metrics: {e}");
        }
        text
    }
}
