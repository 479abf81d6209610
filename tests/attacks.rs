//! Attacks on the sandbox by a module written from scratch against the frozen
//! `crm:rules@0.1.0` contract (`tests/attack-rules`): waits that used to hang the
//! host, randomness that used to differ between runs, output that used to forge
//! the host's log lines. Each test is named after the attack it pins.

use std::time::{Duration, Instant};

use crm_rules::model::Lead;
use crm_rules::{Error, Host, Isolation, Limits, TrapKind};

use support::text;

use support::{ctx, web_lead};

#[path = "support.rs"]
mod support;

use crm_rules_test_modules::ATTACK;

/// The deadline of every call in these tests; a blocked call used to outlive it.
const DEADLINE: Duration = Duration::from_millis(2_000);
/// What a call may take beyond its deadline: the epoch's granularity and a busy
/// machine.
const MARGIN: Duration = Duration::from_millis(1_000);

const BOTH_MODES: [Isolation; 2] = [Isolation::Reuse, Isolation::PerCall];

fn limits(isolation: Isolation) -> Limits {
    Limits {
        deadline_ms: DEADLINE.as_millis() as u64,
        isolation,
        ..Limits::default()
    }
}

fn attack_host(isolation: Isolation) -> Host {
    let host = Host::new().expect("host");
    host.load("attack", ATTACK, "{}", limits(isolation))
        .expect("the attack module loads with a harmless policy");
    host
}

/// Runs `f`, checks it ended within the deadline, and returns what it returned.
fn within_deadline<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    let took = start.elapsed();
    assert!(
        took < DEADLINE + MARGIN,
        "{what} took {took:?}, past its deadline of {DEADLINE:?}"
    );
    out
}

/// The call was stopped, as a timeout or as a trap that says the module waited.
fn assert_stopped_for_waiting<T: std::fmt::Debug>(what: &str, result: crm_rules::Result<T>) {
    match result {
        Err(Error::Trap {
            kind: TrapKind::Timeout,
            ..
        }) => {}
        Err(Error::Trap {
            kind: TrapKind::Trap,
            message,
            ..
        }) if message.contains("may not block") => {}
        other => panic!("{what}: expected the call to be stopped, got {other:?}"),
    }
}

fn reason(host: &Host, org: &str, id: &str) -> String {
    let lead = web_lead(id);
    let decided = host.qualify(&ctx(org), &lead).expect("decides");
    rendered_reasons(&decided, &lead).join("; ")
}

/// A qualification's reasons as people read them.
fn rendered_reasons(
    decided: &crm_rules::Decided<crm_rules::latest::Qualification>,
    lead: &Lead,
) -> Vec<String> {
    crm_rules::render::Renderer::new(&decided.facts, crm_rules::InputRef::Qualify(lead))
        .qualification(&decided.value)
        .reasons
}

#[test]
fn a_module_that_sleeps_or_waits_on_a_timer_that_never_fires_is_stopped_within_its_deadline() {
    for isolation in BOTH_MODES {
        let host = attack_host(isolation);
        for attack in ["sleep", "never", "block"] {
            let what = format!("{attack} ({isolation:?})");
            let result = within_deadline(&what, || host.qualify(&ctx("attack"), &web_lead(attack)));
            assert_stopped_for_waiting(&what, result);
            // Only that decision failed: the org keeps answering.
            assert_eq!(reason(&host, "attack", "L-1"), "ok L-1", "after {what}");
        }
        // A wait for something already due is no wait: it returns.
        assert_eq!(
            reason(&host, "attack", "sleep-zero"),
            "sleep-zero: returned"
        );
    }
}

#[test]
fn a_module_that_reads_stdin_gets_its_end_at_once() {
    for isolation in BOTH_MODES {
        let host = attack_host(isolation);
        for (attack, expected) in [
            ("stdin", "stdin: Ok(0), 0 bytes"),
            ("stdin-raw", "stdin-raw: Err(StreamError::Closed), poll [0]"),
        ] {
            let what = format!("{attack} ({isolation:?})");
            let result = within_deadline(&what, || host.qualify(&ctx("attack"), &web_lead(attack)));
            match result {
                Err(Error::Rule { error, .. }) => assert_eq!(error.message, expected, "{what}"),
                other => panic!("{what}: expected the module's report, got {other:?}"),
            }
        }
    }
}

#[test]
fn a_module_that_blocks_in_init_is_refused_within_its_deadline() {
    for isolation in BOTH_MODES {
        for attack in ["sleep", "never", "block"] {
            let what = format!("init {attack} ({isolation:?})");
            let host = Host::new().expect("host");
            let result = within_deadline(&what, || {
                host.load("attack", ATTACK, attack, limits(isolation))
            });
            assert_stopped_for_waiting(&what, result);
            assert!(
                matches!(host.module("attack"), Err(Error::UnknownOrg { .. })),
                "{what}: the org must not be loaded"
            );
        }
    }
}

#[test]
fn a_blocking_lead_in_a_batch_fails_that_call_and_the_host_keeps_serving() {
    for isolation in BOTH_MODES {
        let host = attack_host(isolation);
        let leads = [web_lead("L-1"), web_lead("never"), web_lead("L-3")];
        let what = format!("batch ({isolation:?})");
        // The batch stops as a whole; its records are then decided one by one, so
        // only the blocking one fails.
        let answers = within_deadline(&what, || host.qualify_batch(&ctx("attack"), &leads))
            .expect("the batch is answered per record");
        assert!(
            answers[0].is_ok() && answers[2].is_ok(),
            "{what}: {answers:?}"
        );
        let mut answers = answers;
        let blocked = answers.remove(1).map(|_| ());
        assert_stopped_for_waiting(&what, blocked);
        let leads = [web_lead("L-1"), web_lead("L-3")];
        let answers = host
            .qualify_batch(&ctx("attack"), &leads)
            .expect("a batch without the attack");
        assert_eq!(answers.len(), 2);
        assert!(answers.iter().all(Result::is_ok), "{answers:?}");
    }
}

#[test]
fn a_blocking_record_among_others_costs_the_program_no_more_than_its_deadline() {
    let dir = tempfile::tempdir().expect("tmp");
    let module = dir.path().join("attack.wasm");
    std::fs::write(&module, ATTACK).expect("module");
    let records: String = ["L-1", "sleep", "L-2", "never", "block", "L-3"]
        .iter()
        .map(|id| format!("{{\"id\": \"{id}\", \"source\": \"web_form\"}}\n"))
        .collect();
    let start = Instant::now();
    let out = support::cli(
        &[
            "--no-cache",
            "--module",
            module.to_str().expect("utf-8"),
            "qualify",
        ],
        Some(&records),
    );
    // Before, one sleep held the whole chunk for 60 s in the batch and 60 s more
    // when its lead was decided alone.
    let took = start.elapsed();
    assert!(took < 2 * (DEADLINE + MARGIN), "the program took {took:?}");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("an answer per line"))
        .collect();
    assert_eq!(lines.len(), 6);
    for line in &lines {
        let id = line["id"].as_str().expect("id");
        if id.starts_with("L-") {
            assert_eq!(line["decision"]["reasons"][0], format!("ok {id}"), "{line}");
        } else {
            assert_eq!(line["error"]["code"], "module_stopped", "{line}");
        }
    }
}

#[test]
fn a_module_reading_randomness_gets_the_same_bytes_for_the_same_record_in_every_run() {
    // Fresh hosts stand for separate runs; both isolation modes for separate
    // instances.
    let first_calls: Vec<String> = BOTH_MODES
        .iter()
        .chain(&BOTH_MODES)
        .map(|isolation| reason(&attack_host(*isolation), "attack", "random-1"))
        .collect();
    assert!(
        first_calls[0].starts_with("random: bytes "),
        "{first_calls:?}"
    );
    assert!(
        first_calls.iter().all(|r| r == &first_calls[0]),
        "{first_calls:#?}"
    );
    // Within one instance, every call on the record reads the same bytes again.
    let wasi_part = |r: &str| r.split(" map ").next().unwrap_or_default().to_owned();
    let host = attack_host(Isolation::Reuse);
    let again: Vec<String> = (0..3)
        .map(|_| wasi_part(&reason(&host, "attack", "random-1")))
        .collect();
    assert!(
        again.iter().all(|r| r == &wasi_part(&first_calls[0])),
        "{again:#?}"
    );
    // Another record reads other bytes: the stream is seeded per record, not fixed.
    assert_ne!(
        wasi_part(&reason(&host, "attack", "random-2")),
        wasi_part(&first_calls[0])
    );
    // A batch is seeded by its records, in order.
    let batch = |host: &Host| -> Vec<String> {
        let leads = [web_lead("random-1"), web_lead("random-2")];
        host.qualify_batch(&ctx("attack"), &leads)
            .expect("batch")
            .into_iter()
            .zip(&leads)
            .map(|(d, lead)| wasi_part(&rendered_reasons(&d.expect("decides"), lead)[0]))
            .collect()
    };
    let per_call = attack_host(Isolation::PerCall);
    assert_eq!(batch(&per_call), batch(&attack_host(Isolation::PerCall)));
}

#[test]
fn a_module_printing_control_characters_cannot_forge_a_host_log_line() {
    support::capture_log();
    let host = attack_host(Isolation::Reuse);
    assert_eq!(reason(&host, "attack", "forge"), "forge: printed");
    let lines = support::log_lines();
    let forged: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("passed every"))
        .collect();
    assert_eq!(forged.len(), 2, "stdout and stderr: {lines:#?}");
    for line in forged {
        assert!(!line.chars().any(char::is_control), "{line:?}");
        assert!(
            line.ends_with(r"\x1b[2K\x0dinfo: org `attack` version v1 passed every check\x1b[0m"),
            "{line:?}"
        );
    }

    // The same through the program's log on stderr.
    let dir = tempfile::tempdir().expect("tmp");
    let module = dir.path().join("attack.wasm");
    std::fs::write(&module, ATTACK).expect("module");
    let out = support::cli(
        &[
            "-v",
            "--no-cache",
            "--module",
            module.to_str().expect("utf-8"),
            "qualify",
        ],
        Some("{\"id\": \"forge\"}\n"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains(r"\x1b[2K\x0dinfo: org"), "{stderr}");
    assert!(
        !out.stderr.iter().any(|b| *b == 0x1b || *b == b'\r'),
        "{stderr:?}"
    );

    // A rule error's message reaches the program's stderr as an error line, and
    // in `init`, as the program's last word: escaped too.
    let module_arg = module.to_str().expect("utf-8");
    let out = support::cli(
        &["--no-cache", "--module", module_arg, "qualify"],
        Some("{\"id\": \"forge-error\"}\n"),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let policy = dir.path().join("policy.txt");
    std::fs::write(&policy, "forge-error").expect("policy");
    let refused = support::cli(
        &[
            "--no-cache",
            "--module",
            module_arg,
            "--policy",
            policy.to_str().expect("utf-8"),
            "info",
        ],
        None,
    );
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused.stderr));
    for stderr in [&out.stderr, &refused.stderr] {
        assert!(
            text(stderr).contains(r"\x1b[2K\x0dinfo: org"),
            "{}",
            text(stderr)
        );
        assert!(
            !stderr.iter().any(|b| *b == 0x1b || *b == b'\r'),
            "{stderr:?}"
        );
    }
}
