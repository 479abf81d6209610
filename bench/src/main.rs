//! crm-rules side by side with its alternatives, in the same run: the reference
//! rules compiled natively (the guest crate called as a Rust library, fed what a
//! module is fed: see `native.rs`) and GoRules zen-engine evaluating an equivalent
//! decision model (`zen.rs`).
//!
//! ```sh
//! cargo build --release -p crm-rules     # the program, for the end-to-end figure
//! cargo run --release --manifest-path bench/Cargo.toml --target-dir target -- [SECTION...] [--json PATH]
//! ```
//!
//! Sections: `warm`, `isolated`, `batch`, `cold`, `memory` (default: all). Every
//! figure is a median. `--json PATH` writes them as an array of
//! `{"measure", "unit", "ours", "native", "zen", "limit"}`; BENCHMARKS.md reports a run.

mod data;
mod floor;
mod native;
mod zen;

use std::hint::black_box;
use std::time::{Duration, Instant};

use crm_rules::decision::InputRef;
use crm_rules::model::{Lead, Opportunity};
use crm_rules::render::Renderer;
use crm_rules::{EngineSettings, Host, Isolation, Limits, REFERENCE_MODULE};
use serde::Serialize;
use serde_json::{json, Value};

use data::ctx;
use native::Native;

// The same allocator as the crm-rules program, so pipelines compare like for like.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const POLICY: &str = include_str!("../../examples/strict/policy.json");

/// One measured figure, as `--json` writes it.
#[derive(Debug, Clone, Serialize)]
struct Figure {
    measure: &'static str,
    unit: &'static str,
    ours: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    native: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    zen: Option<f64>,
    /// The floor of the same job without deciding (e2e only): what reading and
    /// writing alone allow on this machine.
    #[serde(skip_serializing_if = "Option::is_none")]
    limit: Option<f64>,
}

impl Figure {
    fn print(&self) {
        let mut line = format!("{:<20} {:>12.3} {:<5}", self.measure, self.ours, self.unit);
        let ratio = |other: f64| {
            if self.unit == "rec/s" {
                self.ours / other
            } else {
                other / self.ours
            }
        };
        if let Some(native) = self.native {
            line.push_str(&format!(
                "  native {native:>10.3} (ours is {:.2}x {})",
                1.0 / ratio(native),
                if self.unit == "rec/s" {
                    "slower"
                } else {
                    "native's time"
                }
            ));
        }
        if let Some(zen) = self.zen {
            line.push_str(&format!(
                "  zen-engine {zen:>10.3} ({:.1}x ours)",
                ratio(zen)
            ));
        }
        if let Some(limit) = self.limit {
            line.push_str(&format!(
                "  limit {limit:>10.0} (ours is {:.0}% of it)",
                100.0 * self.ours / limit
            ));
        }
        println!("{line}");
    }
}

/// Median of `rounds` rounds of the time per item of `run` (which does `items`).
fn per_item(rounds: usize, items: usize, mut run: impl FnMut()) -> Duration {
    run();
    let mut times: Vec<Duration> = (0..rounds)
        .map(|_| {
            let start = Instant::now();
            run();
            start.elapsed() / items as u32
        })
        .collect();
    times.sort();
    times[rounds / 2]
}

/// [`per_item`] for several contenders side by side: each round runs every one of
/// them once, in turn, so a burst of load on this shared machine lands on all of
/// them instead of on whichever was being measured at the time. Returns each one's
/// median, in the order given.
fn side_by_side(rounds: usize, items: usize, runs: &mut [&mut dyn FnMut()]) -> Vec<Duration> {
    for run in runs.iter_mut() {
        run();
    }
    let mut times: Vec<Vec<Duration>> = vec![Vec::with_capacity(rounds); runs.len()];
    for _ in 0..rounds {
        for (run, times) in runs.iter_mut().zip(&mut times) {
            let start = Instant::now();
            run();
            times.push(start.elapsed() / items as u32);
        }
    }
    times
        .into_iter()
        .map(|mut t| {
            t.sort();
            t[rounds / 2]
        })
        .collect()
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn strict_host() -> Host {
    strict_host_with(&EngineSettings::default())
}

fn strict_host_with(settings: &EngineSettings) -> Host {
    let host = Host::with_settings(settings).expect("engine");
    host.load("strict", REFERENCE_MODULE, POLICY, Limits::default())
        .expect("load");
    host
}

fn warm(figures: &mut Vec<Figure>) {
    println!("\n## Per decision, warm (instance reused, default limits: fuel, deadline, memory)");
    let host = strict_host();
    let c = ctx("strict");
    let native = Native::new(&host, "strict", POLICY);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let leads: Vec<Lead> = (0..1000).map(data::lead).collect();
    let opportunities: Vec<Opportunity> = (0..200).map(data::opportunity).collect();

    // zen's answer on the same lead must be ours, and native's ours, or the
    // comparison is void.
    let zq = zen::qualification();
    for l in leads.iter().take(50) {
        let ours = host.qualify(&c, l).expect("ok");
        assert_eq!(
            native.qualify(&c, l),
            ours.value,
            "native differs on {}",
            l.id
        );
        let theirs = zen::block_on(&rt, zq.evaluate(zen::lead(l).into()))
            .expect("zen")
            .result
            .to_value();
        let rendered = Renderer::new(&ours.facts, InputRef::Qualify(l)).qualification(&ours);
        assert_eq!(
            theirs["score"].as_f64(),
            Some(f64::from(ours.score)),
            "score of {}",
            l.id
        );
        assert_eq!(
            theirs["rating"],
            rendered.rating.as_str(),
            "rating of {}",
            l.id
        );
        let outcome = serde_json::to_value(&rendered).expect("json")["outcome"].clone();
        assert_eq!(theirs["outcome"], outcome, "outcome of {}", l.id);
    }
    let zf = zen::forecast();
    for o in opportunities.iter().take(50) {
        let ours = host.forecast(&c, o).expect("ok");
        assert_eq!(
            native.forecast(&c, o),
            ours.value,
            "native differs on {}",
            o.id
        );
        let theirs = zen::block_on(&rt, zf.evaluate(zen::opportunity(o).into()))
            .expect("zen")
            .result
            .to_value();
        let p = theirs["probability"].as_f64().expect("probability");
        assert!(
            (p - ours.probability).abs() < 1e-4,
            "{p} vs {}",
            ours.probability
        );
    }
    // zen takes its input as its own `Variable`; building it from JSON is part of
    // its cost, as lowering the record is part of ours.
    let zen_leads: Vec<Value> = leads.iter().map(zen::lead).collect();
    let zen_opps: Vec<Value> = opportunities.iter().map(zen::opportunity).collect();

    let n = leads.len();
    let inputs: Vec<InputRef<'_>> = leads.iter().map(InputRef::Qualify).collect();
    let times = side_by_side(
        31,
        n,
        &mut [
            &mut || {
                for l in &leads {
                    black_box(host.decide(&c, InputRef::Qualify(l)).expect("ok"));
                }
            },
            &mut || {
                for l in &leads {
                    black_box(native.qualify(&c, l));
                }
            },
            &mut || {
                for v in &zen_leads {
                    black_box(zen::block_on(&rt, zq.evaluate(v.clone().into())).expect("zen"));
                }
            },
            &mut || {
                black_box(host.decide_batch(&c, &inputs).expect("ok"));
            },
        ],
    );
    let (ours, nat, zen_time, batch) = (times[0], times[1], times[2], times[3]);
    figures.push(Figure {
        measure: "warm_qualify",
        unit: "us",
        ours: micros(ours),
        native: Some(micros(nat)),
        zen: Some(micros(zen_time)),
        limit: None,
    });
    // Rendering is asked for separately: a batch that needs outcomes only never
    // builds these strings.
    let answers: Vec<_> = leads
        .iter()
        .map(|l| host.qualify(&c, l).expect("ok"))
        .collect();
    let render = per_item(21, n, || {
        for (l, a) in leads.iter().zip(&answers) {
            black_box(Renderer::new(&a.facts, InputRef::Qualify(l)).qualification(a));
        }
    });
    figures.push(Figure {
        measure: "render_reasons",
        unit: "us",
        ours: micros(render),
        native: None,
        zen: None,
        limit: None,
    });
    figures.push(Figure {
        measure: "batch_qualify",
        unit: "us",
        ours: micros(batch),
        native: Some(micros(nat)),
        zen: None,
        limit: None,
    });

    let m = opportunities.len();
    let times = side_by_side(
        101,
        m,
        &mut [
            &mut || {
                for o in &opportunities {
                    black_box(host.decide(&c, InputRef::Forecast(o)).expect("ok"));
                }
            },
            &mut || {
                for o in &opportunities {
                    black_box(native.forecast(&c, o));
                }
            },
            &mut || {
                for v in &zen_opps {
                    black_box(zen::block_on(&rt, zf.evaluate(v.clone().into())).expect("zen"));
                }
            },
        ],
    );
    let (ours, nat, zen_time) = (times[0], times[1], times[2]);
    figures.push(Figure {
        measure: "warm_forecast",
        unit: "us",
        ours: micros(ours),
        native: Some(micros(nat)),
        zen: Some(micros(zen_time)),
        limit: None,
    });
    let times = side_by_side(
        201,
        m,
        &mut [
            &mut || {
                for o in &opportunities {
                    let input = InputRef::Transition {
                        opportunity: o,
                        to: "Close",
                    };
                    black_box(host.decide(&c, input).expect("ok"));
                }
            },
            &mut || {
                for o in &opportunities {
                    black_box(native.check_transition(&c, o, "Close"));
                }
            },
        ],
    );
    let (ours, nat) = (times[0], times[1]);
    figures.push(Figure {
        measure: "warm_transition",
        unit: "us",
        ours: micros(ours),
        native: Some(micros(nat)),
        zen: None,
        limit: None,
    });
}

fn isolated(figures: &mut Vec<Figure>) {
    println!("\n## Per decision, isolated (fresh instance per call, all limits on)");
    let host = Host::new().expect("engine");
    let limits = Limits {
        isolation: Isolation::PerCall,
        ..Limits::default()
    };
    host.load("fresh", REFERENCE_MODULE, POLICY, limits)
        .expect("load");
    let c = ctx("fresh");
    let leads: Vec<Lead> = (0..200).map(data::lead).collect();
    for l in &leads {
        host.qualify(&c, l).expect("ok");
    }
    let mut times: Vec<Duration> = Vec::with_capacity(2000);
    for _ in 0..10 {
        for l in &leads {
            let start = Instant::now();
            black_box(host.decide(&c, InputRef::Qualify(l)).expect("ok"));
            times.push(start.elapsed());
        }
    }
    times.sort();
    let pct = |p: usize| times[times.len() * p / 100];
    println!(
        "qualify, fresh instance: p10 {:.1} us, p25 {:.1} us, p75 {:.1} us, p90 {:.1} us, p99 {:.1} us ({} calls)",
        micros(pct(10)),
        micros(pct(25)),
        micros(pct(75)),
        micros(pct(90)),
        micros(pct(99)),
        times.len()
    );
    figures.push(Figure {
        measure: "isolated_qualify",
        unit: "us",
        ours: micros(pct(50)),
        native: None,
        zen: None,
        limit: None,
    });
}

fn batch(figures: &mut Vec<Figure>) {
    use crm_rules::decision::Kind;
    use crm_rules::pipeline::{open, Emit, Pipeline, Reading};

    let n: usize = std::env::var("BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("\n## Batch: {n} generated Salesforce leads (JSON lines), {threads} threads");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let file = std::env::temp_dir().join(format!("crm-rules-bench-leads-{n}.jsonl"));
    if !file.exists() {
        data::generate(n, &file);
    }
    let bytes = std::fs::metadata(&file).expect("file").len();
    println!(
        "input: {:.0} MiB, {:.0} bytes per record",
        bytes as f64 / 1048576.0,
        bytes as f64 / n as f64
    );
    let org = crm_rules::org::OrgDir::read(&root.join("examples/strict")).expect("strict org");
    let host = Host::new().expect("engine");
    org.load_into(&host).expect("load");
    let c = ctx(&org.file.org_id);
    let native = Native::new(&host, &org.file.org_id, POLICY);
    let keep: std::collections::HashSet<String> = host
        .module(&org.file.org_id)
        .expect("loaded")
        .info
        .reads_custom_fields
        .into_iter()
        .collect();
    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    // The same pipeline the program runs, into nowhere, with either decider.
    let run = |decider: &dyn crm_rules::pipeline::Decider| -> Duration {
        let pipeline = Pipeline {
            decider,
            ctx: &c,
            reading: Reading {
                kind: Kind::Qualify,
                format: None,
                vocabularies: &org.vocabularies,
                to: None,
                keep_custom: Some(&keep),
                today: c.now.date_naive(),
            },
            emit: Emit::default(),
            audit: None,
            source_name: "bench",
        };
        let reader =
            std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(&file).expect("input"));
        let start = Instant::now();
        let opened = open(reader, 16 << 20).expect("open");
        let mut sink = std::io::sink();
        pipeline
            .run_into(opened, threads, &mut sink, |out| assert_eq!(out.failed, 0))
            .expect("decided");
        start.elapsed()
    };
    let nat = run(&native);
    println!(
        "native pipeline (same pipeline, rules in process)  {:>10.0} records/s",
        rate(nat)
    );
    let inproc = run(&host);
    println!(
        "ours, the library's pipeline in process             {:>10.0} records/s",
        rate(inproc)
    );
    let program = root.join("target/release/crm-rules");
    let start = Instant::now();
    let status = std::process::Command::new(&program)
        .args([
            "--org-dir",
            "examples/strict",
            "--now",
            "2026-11-25T09:00:00Z",
            "qualify",
        ])
        .arg(&file)
        .current_dir(&root)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("the crm-rules program (cargo build --release -p crm-rules)");
    let e2e = start.elapsed();
    assert!(status.success(), "crm-rules failed: {status}");
    println!(
        "ours end to end (crm-rules qualify FILE > /dev/null) {:>10.0} records/s",
        rate(e2e)
    );
    let limit = floor::time(&file, threads, &mut std::io::sink());
    println!(
        "the floor: split, parse to serde_json::Value, fixed line {:>10.0} records/s",
        rate(limit)
    );
    figures.push(Figure {
        measure: "e2e_batch",
        unit: "rec/s",
        ours: rate(e2e),
        native: Some(rate(nat)),
        zen: None,
        limit: Some(rate(limit)),
    });
}

fn cold(figures: &mut Vec<Figure>) {
    println!("\n## Cold start: the reference module with the strict policy");
    // The host refuses a cache or key others can write (the temporary folder is
    // world-writable): both go into a private folder of their own.
    let private = std::env::temp_dir().join(format!("crm-rules-bench-{}", std::process::id()));
    std::fs::create_dir_all(&private).expect("bench folder");
    std::fs::set_permissions(
        &private,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .expect("private bench folder");
    let dir = private.join("cache");
    let cached = EngineSettings {
        cache_dir: Some(dir.clone()),
        cache_key: Some(private.join("cache.key")),
        ..EngineSettings::default()
    };
    let load = |settings: &EngineSettings| {
        let host = Host::with_settings(settings).expect("host");
        let start = Instant::now();
        host.load("org", REFERENCE_MODULE, POLICY, Limits::default())
            .expect("load");
        start.elapsed()
    };
    let mut compile: Vec<Duration> = (0..3).map(|_| load(&EngineSettings::default())).collect();
    load(&cached);
    let mut from_cache: Vec<Duration> = (0..21).map(|_| load(&cached)).collect();
    compile.sort();
    from_cache.sort();
    println!(
        "first compile      median {:.1} ms",
        compile[1].as_secs_f64() * 1e3
    );
    let host = Host::with_settings(&cached).expect("host");
    host.load("org-0", REFERENCE_MODULE, POLICY, Limits::default())
        .expect("load");
    let mut shared: Vec<Duration> = (1..22)
        .map(|i| {
            let start = Instant::now();
            host.load(
                &format!("org-{i}"),
                REFERENCE_MODULE,
                POLICY,
                Limits::default(),
            )
            .expect("load");
            start.elapsed()
        })
        .collect();
    shared.sort();
    println!(
        "same module, another org, same process  median {:.2} ms",
        shared[10].as_secs_f64() * 1e3
    );
    figures.push(Figure {
        measure: "precompiled_load",
        unit: "ms",
        ours: from_cache[10].as_secs_f64() * 1e3,
        native: None,
        zen: None,
        limit: None,
    });
    let _ = std::fs::remove_dir_all(&private);
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}

fn memory(figures: &mut Vec<Figure>) {
    const ORGS: usize = 10_000;
    println!("\n## Memory: resident set with {ORGS} orgs loaded (each its own policy, one decided lead each)");
    let base = rss_kib();
    let host = Host::new().expect("host");
    let policy: Value = serde_json::from_str(POLICY).expect("policy");
    let l = data::lead(1);
    for i in 0..ORGS {
        // Each org its own policy (its own name and qualification line).
        let mut p = policy.clone();
        p["name"] = json!(format!("Org {i}"));
        p["qualification"]["qualify_at"] = json!(40 + i % 40);
        let org = format!("org-{i}");
        host.load(&org, REFERENCE_MODULE, &p.to_string(), Limits::default())
            .expect("load");
        host.qualify(&ctx(&org), &l).expect("decided");
        if i == 0 || i + 1 == 1000 {
            println!(
                "{:>6} orgs: {:.1} MiB over an empty process",
                i + 1,
                rss_kib().saturating_sub(base) as f64 / 1024.0
            );
        }
    }
    let grown = rss_kib().saturating_sub(base) as f64 / 1024.0;
    println!("{ORGS:>6} orgs: {grown:.1} MiB over an empty process");
    figures.push(Figure {
        measure: "orgs_10000_memory",
        unit: "MiB",
        ours: grown,
        native: None,
        zen: None,
        limit: None,
    });
}

/// Calls one decision in a loop for a profiler (`spin
/// qualify|isolated|transition|forecast`), or loads in a loop (`spin cold`: from
/// the cache into fresh hosts; `spin org`: more orgs on a module already loaded).
/// With `perf_map`, `perf` names the module's functions.
fn spin(what: &str, perf_map: bool) {
    if what == "cold" {
        return spin_cold();
    }
    let settings = EngineSettings {
        perf_map,
        ..EngineSettings::default()
    };
    if what == "org" {
        // Another org on a module already compiled: its instance and `init` alone.
        let host = strict_host_with(&settings);
        let end = Instant::now() + Duration::from_secs(8);
        let mut i = 0u64;
        while Instant::now() < end {
            i += 1;
            host.load(
                &format!("org-{}", i % 500),
                REFERENCE_MODULE,
                POLICY,
                Limits::default(),
            )
            .expect("load");
        }
        return;
    }
    let host = strict_host_with(&settings);
    if what == "isolated" {
        // Fresh instances from the snapshot, as `isolated` measures them.
        let limits = Limits {
            isolation: Isolation::PerCall,
            ..Limits::default()
        };
        host.load("strict", REFERENCE_MODULE, POLICY, limits)
            .expect("load");
    }
    let c = ctx("strict");
    let leads: Vec<Lead> = (0..1000).map(data::lead).collect();
    let opportunities: Vec<Opportunity> = (0..200).map(data::opportunity).collect();
    let start = Instant::now();
    let end = start + Duration::from_secs(8);
    let mut calls = 0usize;
    while Instant::now() < end {
        calls += match what {
            "transition" | "forecast" => opportunities.len(),
            _ => leads.len(),
        };
        match what {
            "transition" => opportunities.iter().for_each(|o| {
                let input = InputRef::Transition {
                    opportunity: o,
                    to: "Close",
                };
                black_box(host.decide(&c, input).ok());
            }),
            "forecast" => opportunities.iter().for_each(|o| {
                black_box(host.decide(&c, InputRef::Forecast(o)).ok());
            }),
            _ => leads.iter().for_each(|l| {
                black_box(host.decide(&c, InputRef::Qualify(l)).ok());
            }),
        }
    }
    println!(
        "{calls} decisions, {:.2} us each",
        start.elapsed().as_secs_f64() * 1e6 / calls as f64
    );
}

/// Two builds of a module side by side in one process (`ab A.wasm B.wasm
/// [--policy PATH]`, the strict example's policy by default): every round runs A,
/// then B, so the machine's fast and slow phases land on both. For a change
/// inside a module (its allocator, its rules, its build flags), whose effect is
/// smaller than the swings between two runs.
fn compare_modules(a: &str, b: &str, policy: Option<&str>) {
    let read =
        |path: &str| std::fs::read(path).unwrap_or_else(|e| panic!("cannot read `{path}`: {e}"));
    let (module_a, module_b) = (read(a), read(b));
    let policy = match policy {
        Some(path) => String::from_utf8(read(path))
            .unwrap_or_else(|e| panic!("the policy `{path}` is not UTF-8: {e}")),
        None => POLICY.to_owned(),
    };
    let host = Host::new().expect("engine");
    let isolated = Limits {
        isolation: Isolation::PerCall,
        ..Limits::default()
    };
    for (org, module, limits) in [
        ("a", &module_a, Limits::default()),
        ("b", &module_b, Limits::default()),
        ("a-isolated", &module_a, isolated.clone()),
        ("b-isolated", &module_b, isolated),
    ] {
        host.load(org, module, &policy, limits)
            .unwrap_or_else(|e| panic!("cannot load the module as org `{org}`: {e}"));
    }
    let leads: Vec<Lead> = (0..1000).map(data::lead).collect();
    let opportunities: Vec<Opportunity> = (0..200).map(data::opportunity).collect();
    let inputs: Vec<InputRef<'_>> = leads.iter().map(InputRef::Qualify).collect();
    let (ca, cb) = (ctx("a"), ctx("b"));
    let (ia, ib) = (ctx("a-isolated"), ctx("b-isolated"));
    let transitions: Vec<InputRef<'_>> = opportunities
        .iter()
        .map(|o| InputRef::Transition {
            opportunity: o,
            to: "Close",
        })
        .collect();
    let forecasts: Vec<InputRef<'_>> = opportunities.iter().map(InputRef::Forecast).collect();
    // What to measure: name, the orgs A and B run as, the records, rounds, and
    // whether the records go in one batch call.
    let cases = [
        ("qualify", [&ca, &cb], &inputs[..], 31, false),
        ("batch", [&ca, &cb], &inputs[..], 31, true),
        ("forecast", [&ca, &cb], &forecasts[..], 101, false),
        ("transition", [&ca, &cb], &transitions[..], 101, false),
        ("isolated", [&ia, &ib], &inputs[..200], 11, false),
    ];
    // A kind the policy cannot decide on the bench's records (other stage names,
    // say) is skipped, saying why, instead of timing its errors.
    let cases: Vec<_> = cases
        .into_iter()
        .filter(|(what, orgs, records, _, _)| {
            match orgs
                .iter()
                .try_for_each(|c| host.decide(c, records[0]).map(drop))
            {
                Ok(()) => true,
                Err(e) => {
                    println!("{what:<12} skipped: {e}");
                    false
                }
            }
        })
        .collect();
    for _ in 0..3 {
        for (what, [a, b], records, rounds, batch) in &cases {
            let run = |c: &crm_rules::model::Context| {
                if *batch {
                    drop(black_box(host.decide_batch(c, records)));
                } else {
                    for input in *records {
                        drop(black_box(host.decide(c, *input)));
                    }
                }
            };
            let times = side_by_side(
                *rounds,
                records.len(),
                &mut [&mut || run(a), &mut || run(b)],
            );
            let (ta, tb) = (micros(times[0]), micros(times[1]));
            println!(
                "{what:<12} A {ta:>8.3} us   B {tb:>8.3} us   B/A {:.3}",
                tb / ta
            );
        }
    }
}

/// Loads the reference module from the cache into fresh hosts in a loop, for a
/// profiler (`spin cold`): what `precompiled_load` measures.
fn spin_cold() {
    let private = std::env::temp_dir().join(format!("crm-rules-spin-{}", std::process::id()));
    std::fs::create_dir_all(&private).expect("bench folder");
    std::fs::set_permissions(
        &private,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .expect("private bench folder");
    let cached = EngineSettings {
        cache_dir: Some(private.join("cache")),
        cache_key: Some(private.join("cache.key")),
        ..EngineSettings::default()
    };
    let end = Instant::now() + Duration::from_secs(8);
    let mut loading = Duration::ZERO;
    let mut loads = 0u32;
    while Instant::now() < end {
        let host = Host::with_settings(&cached).expect("host");
        let start = Instant::now();
        host.load("org", REFERENCE_MODULE, POLICY, Limits::default())
            .expect("load");
        loading += start.elapsed();
        loads += 1;
    }
    println!(
        "{loads} loads, {:.2} ms each",
        loading.as_secs_f64() * 1e3 / f64::from(loads)
    );
    let _ = std::fs::remove_dir_all(&private);
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |args: &mut Vec<String>, name: &str| {
        let at = args.iter().position(|a| a == name);
        at.map(|at| args.remove(at)).is_some()
    };
    let value = |args: &mut Vec<String>, name: &str| {
        let at = args.iter().position(|a| a == name)?;
        let value = args
            .get(at + 1)
            .cloned()
            .unwrap_or_else(|| panic!("{name} takes a path"));
        args.drain(at..at + 2);
        Some(value)
    };
    if args.first().map(String::as_str) == Some("ab") {
        let policy = value(&mut args, "--policy");
        let [Some(a), Some(b)] = [1, 2].map(|i| args.get(i).cloned()) else {
            panic!("usage: crm-rules-bench ab A.wasm B.wasm [--policy PATH]");
        };
        compare_modules(&a, &b, policy.as_deref());
        return;
    }
    if args.first().map(String::as_str) == Some("spin") {
        let perf_map = flag(&mut args, "--perf-map");
        spin(args.get(1).map_or("qualify", String::as_str), perf_map);
        return;
    }
    let json_path = value(&mut args, "--json");
    let wants = |s: &str| args.is_empty() || args.iter().any(|a| a == s);
    let mut figures = Vec::new();
    if wants("warm") {
        warm(&mut figures);
    }
    if wants("isolated") {
        isolated(&mut figures);
    }
    if wants("batch") {
        batch(&mut figures);
    }
    if wants("cold") {
        cold(&mut figures);
    }
    if wants("memory") {
        memory(&mut figures);
    }
    println!("\n## Figures");
    for figure in &figures {
        figure.print();
    }
    if let Some(path) = json_path {
        let text = serde_json::to_string_pretty(&figures).expect("figures");
        std::fs::write(&path, text + "\n").expect("the --json file");
    }
}
