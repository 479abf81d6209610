//! Loading a module: compiling it vs loading it from the precompiled cache.
//!
//! Run with `cargo bench -p crm-rules --bench cold_start`. Each round is a new host
//! (a restart) loading the reference module with the strict example policy; the
//! time includes the first instance and the policy check.

use std::time::{Duration, Instant};

use crm_rules::{EngineSettings, Host, Limits, REFERENCE_MODULE};

const POLICY: &str = include_str!("../../examples/strict/policy.json");

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let cached = EngineSettings {
        cache_dir: Some(dir.path().to_owned()),
        ..EngineSettings::default()
    };
    let uncached = EngineSettings::default();
    let time_load = |settings: &EngineSettings| {
        let host = Host::with_settings(settings).expect("host");
        let start = Instant::now();
        let loaded = host
            .load("org", REFERENCE_MODULE, POLICY, Limits::default())
            .expect("load");
        (start.elapsed(), loaded.origin)
    };
    let compile: Vec<Duration> = (0..5).map(|_| time_load(&uncached).0).collect();
    time_load(&cached); // fills the cache
    let from_cache: Vec<Duration> = (0..11)
        .map(|_| {
            let (time, origin) = time_load(&cached);
            assert_eq!(origin, crm_rules::cache::Origin::Cache);
            time
        })
        .collect();
    println!(
        "load of the reference module ({} KiB), median",
        REFERENCE_MODULE.len() / 1024
    );
    println!(
        "{:<40} {:>10.2} ms",
        "compile (no cache)",
        median(compile).as_secs_f64() * 1e3
    );
    println!(
        "{:<40} {:>10.2} ms",
        "from the precompiled cache",
        median(from_cache).as_secs_f64() * 1e3
    );
}
