//! The sandbox: limits on every call, the hostile-module suite, integrity, versions
//! and hot swap, the compiled-module cache and the audit log. Real components (the
//! reference module and `tests/hostile-rules`) through the real host.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crm_rules::cache::Origin;
use crm_rules::latest::Qualification;
use crm_rules::model::Lead;
use crm_rules::{
    EngineSettings, Error, Host, Integrity, Isolation, Limits, TrapKind, VersionSpec,
    REFERENCE_MODULE,
};

use support::{capture_log, log_lines, text};

use support::{ctx, example_policy, qualified_lead};

#[path = "support.rs"]
mod support;

use crm_rules_test_modules::HOSTILE;

/// Adds the reference module with an example org's policy as a version of `org`.
fn add_example_version(host: &Host, org: &str, label: &str, example: &str) {
    host.add_version(
        org,
        VersionSpec {
            version: label.to_owned(),
            wasm: REFERENCE_MODULE,
            policy: &example_policy(example),
            limits: Limits::default(),
            integrity: Integrity::default(),
        },
    )
    .expect("version");
}

fn hostile_limits() -> Limits {
    Limits {
        fuel: 200_000_000,
        memory_bytes: 16 << 20,
        deadline_ms: 5_000,
        ..Limits::default()
    }
}

fn trap_kind(result: Result<impl std::fmt::Debug, Error>) -> TrapKind {
    match result {
        Err(Error::Trap { kind, .. }) => kind,
        other => panic!("expected a trap, got {other:?}"),
    }
}

fn rule_message(result: Result<impl std::fmt::Debug, Error>) -> String {
    match result {
        Err(Error::Rule { error, .. }) => error.message,
        other => panic!("expected a rule error, got {other:?}"),
    }
}

#[test]
fn each_hostile_case_ends_in_a_typed_error_and_the_good_org_keeps_working() {
    let host = Host::new().expect("host");
    host.load(
        "good",
        REFERENCE_MODULE,
        &example_policy("strict"),
        Limits::default(),
    )
    .expect("good org");
    host.load(
        "hostile",
        HOSTILE,
        &example_policy("strict"),
        hostile_limits(),
    )
    .expect("hostile org");
    let expected: Qualification = host
        .qualify(&ctx("good"), &qualified_lead("L-1"))
        .expect("ok")
        .value;
    let cases = [
        ("loop", TrapKind::OutOfFuel),
        ("recurse", TrapKind::Trap),
        ("alloc", TrapKind::Trap),
        ("panic", TrapKind::Trap),
        ("trap", TrapKind::Trap),
        ("huge", TrapKind::OutputTooLarge),
    ];
    for (case, kind) in cases {
        let start = Instant::now();
        let result = host.qualify(&ctx("hostile"), &qualified_lead(case));
        // Termination, not speed: every case must end, well within its limits.
        assert!(start.elapsed() < Duration::from_secs(30), "{case} ran on");
        let got = trap_kind(result);
        // Running out of memory ends in Rust's allocation-failure abort, a trap.
        assert!(
            got == kind || (case == "alloc" && got == TrapKind::MemoryLimit),
            "{case}: {got:?}, expected {kind:?}"
        );
        let good = host
            .qualify(&ctx("good"), &qualified_lead("L-1"))
            .expect("good org answers");
        assert_eq!(good.value, expected, "after {case}");
        // The hostile org itself still serves its well-formed leads.
        host.qualify(&ctx("hostile"), &qualified_lead("L-2"))
            .unwrap_or_else(|e| panic!("hostile org after {case}: {e}"));
    }
}

#[test]
fn the_wall_clock_deadline_stops_what_fuel_would_not() {
    let host = Host::new().expect("host");
    let limits = Limits {
        fuel: u64::MAX / 4,
        deadline_ms: 200,
        ..hostile_limits()
    };
    host.load("hostile", HOSTILE, &example_policy("strict"), limits)
        .expect("hostile org");
    let start = Instant::now();
    let kind = trap_kind(host.qualify(&ctx("hostile"), &qualified_lead("loop")));
    assert_eq!(kind, TrapKind::Timeout);
    assert!(start.elapsed() < Duration::from_secs(30));
}

#[test]
fn a_module_has_no_files_environment_network_or_clock() {
    let host = Host::new().expect("host");
    host.load(
        "hostile",
        HOSTILE,
        &example_policy("strict"),
        hostile_limits(),
    )
    .expect("hostile org");
    let probe = |id: &str| rule_message(host.qualify(&ctx("hostile"), &qualified_lead(id)));
    let file = probe("file");
    assert!(file.starts_with("file: denied"), "{file}");
    let env = probe("env");
    assert!(env.starts_with("env: 0 variables [], 0 arguments"), "{env}");
    let net = probe("net");
    assert!(net.starts_with("net: denied"), "{net}");
    let clock = probe("clock");
    assert_eq!(clock, "clock: 0 seconds since the epoch");
}

#[test]
fn module_output_goes_to_the_host_log_not_the_terminal() {
    capture_log();
    let host = Host::new().expect("host");
    host.load(
        "printer",
        HOSTILE,
        &example_policy("strict"),
        hostile_limits(),
    )
    .expect("org");
    host.qualify(&ctx("printer"), &qualified_lead("print"))
        .expect("decides after printing");
    let lines = log_lines();
    for stream in ["stdout", "stderr"] {
        assert!(
            lines.iter().any(|l| l.starts_with("org `printer` version")
                && l.ends_with(&format!("{stream}: hello from the module on {stream}"))),
            "{stream} not in the log: {lines:#?}"
        );
    }
}

/// A host with the hostile module in two orgs: `reuse` keeps its instance,
/// `fresh` isolates every call.
fn reuse_and_fresh() -> Host {
    let host = Host::new().expect("host");
    host.load(
        "reuse",
        HOSTILE,
        &example_policy("strict"),
        hostile_limits(),
    )
    .expect("org");
    let per_call = Limits {
        isolation: Isolation::PerCall,
        ..hostile_limits()
    };
    host.load("fresh", HOSTILE, &example_policy("strict"), per_call)
        .expect("org");
    host
}

#[test]
fn per_call_isolation_gives_every_call_a_fresh_instance() {
    let host = reuse_and_fresh();
    let calls = |org: &str| rule_message(host.qualify(&ctx(org), &qualified_lead("calls")));
    assert_eq!(calls("fresh"), "calls: 1");
    assert_eq!(calls("fresh"), "calls: 1");
    let first = calls("reuse");
    let second = calls("reuse");
    assert_ne!(first, second, "a reused instance keeps its memory");
}

#[test]
fn an_isolated_call_starts_from_the_initialised_policy() {
    // per_call instances come from a snapshot taken after `init`: the policy the
    // rules read must be the org's, exactly as in a reused instance.
    let host = reuse_and_fresh();
    let answer = |org: &str| {
        let decided = host
            .qualify(&ctx(org), &qualified_lead("ordinary"))
            .expect("decided");
        format!("{:?}", decided.value)
    };
    assert_eq!(answer("fresh"), answer("reuse"));
    assert_eq!(answer("fresh"), answer("fresh"));
}

#[test]
fn a_module_that_differs_from_the_pin_or_signature_is_refused_before_compiling() {
    let host = Host::new().expect("host");
    let spec = |wasm: &'static [u8], integrity: Integrity| VersionSpec {
        version: "v1".to_owned(),
        wasm,
        policy: "{\"name\": \"pinned\"}",
        limits: Limits::default(),
        integrity,
    };
    let pin = crm_rules::module_hash(REFERENCE_MODULE);
    host.add_version(
        "pinned",
        spec(
            REFERENCE_MODULE,
            Integrity {
                sha256: Some(pin.clone()),
                ..Integrity::default()
            },
        ),
    )
    .expect("the pinned module loads");

    // One byte different: a custom section's content, so it would still compile.
    let mut changed = REFERENCE_MODULE.to_vec();
    let last = changed.len() - 1;
    changed[last] ^= 1;
    let changed: &'static [u8] = Box::leak(changed.into_boxed_slice());
    let err = host
        .add_version(
            "pinned2",
            spec(
                changed,
                Integrity {
                    sha256: Some(pin),
                    ..Integrity::default()
                },
            ),
        )
        .expect_err("refused");
    assert!(
        matches!(&err, Error::Integrity { message, .. } if message.contains("SHA-256")),
        "{err}"
    );

    let (secret, public) = crm_rules::integrity::generate_key().expect("key");
    let signature = crm_rules::integrity::sign(&secret, REFERENCE_MODULE).expect("sign");
    let trusting = |signature: Option<String>| Integrity {
        sha256: None,
        trusted_keys: vec![public.clone()],
        signature,
    };
    host.add_version(
        "signed",
        spec(REFERENCE_MODULE, trusting(Some(signature.clone()))),
    )
    .expect("a signed module loads");
    let mut tampered = signature.into_bytes();
    tampered[10] = if tampered[10] == b'a' { b'b' } else { b'a' };
    let tampered = String::from_utf8(tampered).expect("hex");
    for (integrity, why) in [
        (trusting(Some(tampered)), "signature"),
        (trusting(None), "unsigned"),
    ] {
        let err = host
            .add_version("signed2", spec(REFERENCE_MODULE, integrity))
            .expect_err("refused");
        assert!(
            matches!(&err, Error::Integrity { message, .. } if message.contains(why)),
            "{err}"
        );
    }
    assert!(matches!(
        host.module("signed2"),
        Err(Error::UnknownOrg { .. })
    ));
}

#[test]
fn versions_are_listed_activated_and_rolled_back() {
    let host = Host::new().expect("host");
    for (label, org) in [("v1", "strict"), ("v2", "loose")] {
        add_example_version(&host, "acme", label, org);
    }
    assert!(matches!(
        host.qualify(&ctx("acme"), &qualified_lead("L-1")),
        Err(Error::UnknownOrg { .. })
    ));
    host.activate("acme", "v1").expect("activate");
    host.activate("acme", "v2").expect("activate");
    let listed: Vec<(String, bool)> = host
        .versions("acme")
        .expect("list")
        .into_iter()
        .map(|v| (v.version, v.active))
        .collect();
    assert_eq!(listed, [("v1".to_owned(), false), ("v2".to_owned(), true)]);
    assert_eq!(host.rollback("acme").expect("rollback"), "v1");
    assert_eq!(host.module("acme").expect("module").version, "v1");
    assert!(host.rollback("acme").is_err(), "nothing earlier than v1");
    assert!(host.activate("acme", "v9").is_err());
}

#[test]
fn swapping_versions_under_load_fails_no_call() {
    let host = Arc::new(Host::new().expect("host"));
    let mut expected = std::collections::HashMap::new();
    // The same lead scores differently under the two policies.
    let probe: Lead = serde_json::from_value(serde_json::json!({
        "id": "L-7", "contact_name": "Kim Lee", "source": "trade_show", "engagement": "content"
    }))
    .expect("lead");
    for (label, org) in [("strict", "strict"), ("loose", "loose")] {
        add_example_version(&host, "swap", label, org);
        host.activate("swap", label).expect("activate");
        let decided = host.qualify(&ctx("swap"), &probe).expect("decides");
        expected.insert(label.to_owned(), decided.value);
    }
    assert_ne!(expected["strict"], expected["loose"]);
    let stop = Arc::new(AtomicBool::new(false));
    let failures = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (host, stop, failures) = (host.clone(), stop.clone(), failures.clone());
            let (expected, probe) = (expected.clone(), probe.clone());
            std::thread::spawn(move || {
                let mut seen = std::collections::HashMap::<String, usize>::new();
                while !stop.load(Ordering::Relaxed) {
                    match host.qualify(&ctx("swap"), &probe) {
                        Ok(decided)
                            if expected.get(&decided.by.version) == Some(&decided.value) =>
                        {
                            *seen.entry(decided.by.version.clone()).or_default() += 1;
                        }
                        _ => {
                            failures.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                seen
            })
        })
        .collect();
    for i in 0..400 {
        let label = if i % 2 == 0 { "strict" } else { "loose" };
        host.activate("swap", label).expect("activate");
        std::thread::sleep(Duration::from_micros(500));
    }
    stop.store(true, Ordering::Relaxed);
    let mut total = std::collections::HashMap::<String, usize>::new();
    for thread in threads {
        for (version, n) in thread.join().expect("thread") {
            *total.entry(version).or_default() += n;
        }
    }
    let calls: usize = total.values().sum();
    println!(
        "swap stress: {calls} calls, {total:?}, 400 swaps, {} failed",
        failures.load(Ordering::Relaxed)
    );
    assert_eq!(failures.load(Ordering::Relaxed), 0);
    assert!(total.len() == 2, "both versions answered: {total:?}");
}

#[test]
fn past_the_warm_budget_the_least_recent_orgs_give_up_their_instances_and_still_answer() {
    let host = Host::with_settings(&EngineSettings {
        max_warm_instances: 3,
        ..EngineSettings::default()
    })
    .expect("host");
    let orgs: Vec<String> = (0..8).map(|i| format!("org-{i}")).collect();
    for org in &orgs {
        host.load(org, HOSTILE, &example_policy("strict"), hostile_limits())
            .expect("org");
        assert!(host.idle_instances() <= 3, "{}", host.idle_instances());
    }
    let warm: usize = orgs
        .iter()
        .map(|org| host.warm_instances(org).expect("loaded"))
        .sum();
    assert_eq!(warm, 3, "the budget is full, no more");
    // The most recent orgs kept theirs; the first ones gave them up.
    assert_eq!(host.warm_instances("org-7").expect("loaded"), 1);
    assert_eq!(host.warm_instances("org-0").expect("loaded"), 0);
    // An org that gave its instance up answers from a fresh one (its counter
    // starts again), and is then the most recent.
    assert_eq!(
        rule_message(host.qualify(&ctx("org-0"), &qualified_lead("calls"))),
        "calls: 1"
    );
    assert_eq!(host.warm_instances("org-0").expect("loaded"), 1);
    assert_eq!(
        rule_message(host.qualify(&ctx("org-0"), &qualified_lead("calls"))),
        "calls: 2"
    );
    for org in &orgs {
        let decided = host
            .qualify(&ctx(org), &qualified_lead("ordinary"))
            .expect("decided");
        assert!(decided.score > 0, "{org}");
    }
    assert!(host.idle_instances() <= 3);
    for org in &orgs {
        host.unload(org).expect("unloaded");
    }
    assert_eq!(host.idle_instances(), 0, "unloaded orgs keep nothing");
}

#[test]
fn a_restart_loads_from_the_cache_and_a_corrupt_entry_is_rebuilt() {
    let dir = tempfile::tempdir().expect("tmp");
    let settings = EngineSettings {
        cache_dir: Some(dir.path().to_owned()),
        ..EngineSettings::default()
    };
    let load = || {
        let host = Host::with_settings(&settings).expect("host");
        let loaded = host
            .load(
                "org",
                REFERENCE_MODULE,
                &example_policy("strict"),
                Limits::default(),
            )
            .expect("load");
        let decided = host
            .qualify(&ctx("org"), &qualified_lead("L-1"))
            .expect("decides");
        (loaded.origin, decided.value)
    };
    let (first, decision) = load();
    assert_eq!(first, Origin::Compiled);
    let (second, again) = load();
    assert_eq!(second, Origin::Cache);
    assert_eq!(decision, again);

    // One entry: its bytes and, beside them, its MAC.
    let entries: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .expect("cache dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "entry"))
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert!(entries[0].with_extension("mac").exists());
    let mut bytes = std::fs::read(&entries[0]).expect("entry");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x55;
    std::fs::write(&entries[0], &bytes).expect("corrupt");
    assert_eq!(load().0, Origin::Compiled, "a corrupt entry is never run");
    assert_eq!(load().0, Origin::Cache, "and it was rebuilt");
    std::fs::write(&entries[0], &bytes[..100]).expect("truncate");
    assert_eq!(load().0, Origin::Compiled);
}

fn cli(args: &[&str]) -> Output {
    support::cli(args, None)
}

#[test]
fn the_program_says_in_its_log_that_it_loaded_from_the_cache() {
    let dir = tempfile::tempdir().expect("tmp");
    let cache = dir.path().to_str().expect("utf-8");
    let args = [
        "-v",
        "--cache-dir",
        cache,
        "--org-dir",
        "examples/acme",
        "--now",
        "2026-11-25T09:00:00Z",
        "qualify",
        "examples/leads.jsonl",
    ];
    let first = cli(&args);
    let second = cli(&args);
    assert!(
        text(&first.stderr).contains("compiled"),
        "{}",
        text(&first.stderr)
    );
    assert!(
        text(&second.stderr).contains("loaded from the cache"),
        "{}",
        text(&second.stderr)
    );
    assert_eq!(first.stdout, second.stdout);
}

#[test]
fn the_audit_log_masks_personal_data_and_detects_removed_or_edited_entries() {
    let dir = tempfile::tempdir().expect("tmp");
    let log = dir.path().join("audit.jsonl");
    let log_arg = log.to_str().expect("utf-8");
    let out = cli(&[
        "--audit",
        log_arg,
        "--no-cache",
        "--now",
        "2026-11-25T09:00:00Z",
        "qualify",
        "examples/leads.jsonl",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let written = std::fs::read_to_string(&log).expect("log");
    let lines: Vec<&str> = written.lines().collect();
    assert_eq!(lines.len(), 16, "15 decisions and the run's checkpoint");
    for personal in ["Pat Quinn", "pat.quinn@example.org", "@example"] {
        assert!(!written.contains(personal), "{personal} in the audit log");
    }
    let first: serde_json::Value = serde_json::from_str(lines[0]).expect("entry");
    for field in [
        "org",
        "version",
        "module_hash",
        "input_sha256",
        "result",
        "now",
        "time",
        "fuel_used",
        "prev",
        "hash",
    ] {
        assert!(!first[field].is_null(), "{field} missing: {first}");
    }
    let verify = |path: &Path| cli(&["audit", "verify", path.to_str().expect("utf-8")]);
    let ok = verify(&log);
    assert!(ok.status.success(), "{}", text(&ok.stdout));
    assert!(text(&ok.stdout).contains("16 entries"));

    let removed = dir.path().join("removed.jsonl");
    let mut kept: Vec<&str> = lines.clone();
    kept.remove(6);
    std::fs::write(&removed, kept.join("\n") + "\n").expect("write");
    let bad = verify(&removed);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        text(&bad.stdout).contains("line 7"),
        "{}",
        text(&bad.stdout)
    );

    let edited = dir.path().join("edited.jsonl");
    let mut changed: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    changed[3] = changed[3].replace("\"score\":", "\"score\":1");
    std::fs::write(&edited, changed.join("\n") + "\n").expect("write");
    let bad = verify(&edited);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        text(&bad.stdout).contains("line 4"),
        "{}",
        text(&bad.stdout)
    );
    assert!(
        text(&bad.stdout).contains("altered"),
        "{}",
        text(&bad.stdout)
    );

    // A crash mid-write: the last line is cut short. That is an error until a
    // writer repairs it, on record; earlier entries stay valid, and the next run
    // appends after them.
    let crashed = dir.path().join("crashed.jsonl");
    std::fs::write(
        &crashed,
        format!("{}\n{}", lines[..14].join("\n"), &lines[14][..40]),
    )
    .expect("write");
    let cut = verify(&crashed);
    assert_eq!(cut.status.code(), Some(1), "{}", text(&cut.stdout));
    assert!(text(&cut.stdout).contains("incomplete"));
    let more = cli(&[
        "--audit",
        crashed.to_str().expect("utf-8"),
        "--no-cache",
        "qualify",
        "examples/leads.jsonl",
    ]);
    assert!(more.status.success(), "{}", text(&more.stderr));
    let after = verify(&crashed);
    assert!(after.status.success(), "{}", text(&after.stdout));
    assert!(
        text(&after.stdout).contains("31 entries") && text(&after.stdout).contains("cut off"),
        "14 entries, a repair, 15 more and a checkpoint: {}",
        text(&after.stdout)
    );

    let shown = cli(&["audit", "show", log_arg, "--record", "L-003"]);
    let shown = text(&shown.stdout);
    assert_eq!(shown.lines().count(), 1, "{shown}");
    assert!(shown.contains("\"record\":\"L-003\""));
}

#[test]
fn the_program_signs_modules_and_an_org_refuses_a_tampered_signature() {
    let dir = tempfile::tempdir().expect("tmp");
    let org = dir.path();
    std::fs::write(org.join("rules.wasm"), REFERENCE_MODULE).expect("module");
    std::fs::write(org.join("policy.json"), example_policy("strict")).expect("policy");
    let path = |name: &str| org.join(name).to_str().expect("utf-8").to_owned();
    let keygen = cli(&["module", "keygen", "--secret", &path("approver.key")]);
    assert!(keygen.status.success(), "{}", text(&keygen.stderr));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(path("approver.key"))
            .expect("key")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the secret key is only its owner's");
    }
    let public = text(&keygen.stdout).trim().to_owned();
    let sign = cli(&[
        "module",
        "sign",
        &path("rules.wasm"),
        "--key",
        &path("approver.key"),
    ]);
    assert!(sign.status.success(), "{}", text(&sign.stderr));
    let verify = cli(&[
        "module",
        "verify",
        &path("rules.wasm"),
        "--public-key",
        &public,
    ]);
    assert!(verify.status.success(), "{}", text(&verify.stdout));
    let hash = text(&cli(&["module", "hash", &path("rules.wasm")]).stdout)
        .trim()
        .to_owned();
    assert_eq!(hash, crm_rules::module_hash(REFERENCE_MODULE));

    let org_json = |sha256: &str| {
        serde_json::json!({
            "org_id": "signed-co", "module": "rules.wasm", "policy": "policy.json",
            "sha256": sha256, "trusted_keys": [public]
        })
        .to_string()
    };
    std::fs::write(org.join("org.json"), org_json(&hash)).expect("org.json");
    let run = || {
        cli(&[
            "--no-cache",
            "--org-dir",
            &path(""),
            "qualify",
            "examples/leads.jsonl",
        ])
    };
    let ok = run();
    assert!(ok.status.success(), "{}", text(&ok.stderr));

    let signature = std::fs::read_to_string(org.join("rules.wasm.sig")).expect("sig");
    let flipped = if signature.starts_with('0') { "1" } else { "0" };
    std::fs::write(
        org.join("rules.wasm.sig"),
        format!("{flipped}{}", &signature[1..]),
    )
    .expect("tamper");
    let refused = run();
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        text(&refused.stderr).contains("signature"),
        "{}",
        text(&refused.stderr)
    );
    let verify = cli(&[
        "module",
        "verify",
        &path("rules.wasm"),
        "--public-key",
        &public,
    ]);
    assert_eq!(verify.status.code(), Some(1));

    std::fs::write(org.join("rules.wasm.sig"), signature).expect("restore");
    let mut other_pin = hash.into_bytes();
    other_pin[0] = if other_pin[0] == b'a' { b'b' } else { b'a' };
    std::fs::write(
        org.join("org.json"),
        org_json(&String::from_utf8(other_pin).expect("hex")),
    )
    .expect("org.json");
    let refused = run();
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        text(&refused.stderr).contains("SHA-256"),
        "{}",
        text(&refused.stderr)
    );
}

/// `perf` reads `/tmp/perf-<pid>.map` to name code it cannot find in a file: with
/// `perf_map` on, a profile of the host shows the module's own functions.
#[cfg(target_os = "linux")]
#[test]
fn with_a_perf_map_a_profiler_sees_the_modules_functions_by_name() {
    let map = std::path::PathBuf::from(format!("/tmp/perf-{}.map", std::process::id()));
    // Not one left by an earlier process with the same id.
    let _ = std::fs::remove_file(&map);
    let host = Host::with_settings(&EngineSettings {
        perf_map: true,
        ..EngineSettings::default()
    })
    .expect("host");
    host.load(
        "strict",
        REFERENCE_MODULE,
        &example_policy("strict"),
        Limits::default(),
    )
    .expect("org");
    host.qualify(&ctx("strict"), &qualified_lead("L-1"))
        .expect("decided");
    let names = std::fs::read_to_string(&map).expect("the engine wrote a perf map");
    let _ = std::fs::remove_file(&map);
    // Lines are `START SIZE NAME`; the reference rules' qualify is among them.
    assert!(
        names
            .lines()
            .any(|line| line.contains("Reference") && line.contains("qualify")),
        "no line names the module's qualify in {} lines",
        names.lines().count()
    );
}
