//! Answers outside the contract, module messages past the answer limit, and
//! personal data in reasons: attacks from the module's side of the boundary. The
//! 0.1.0 attacks come from `tests/attack-rules`, the 0.2.0 ones (indices that do
//! not exist) from `tests/contract-attack-rules`; both are written from scratch
//! against their contract. Each test is named after the attack it pins.

use std::path::Path;

use crm_rules::model::{Candidate, Opportunity, RecordKind};
use crm_rules::{Error, Host, Limits, TrapKind};

use support::{cli, text};

use support::{ctx, web_lead};

#[path = "support.rs"]
mod support;

use crm_rules_test_modules::ATTACK;
use crm_rules_test_modules::CONTRACT_ATTACK;

fn host(module: &[u8]) -> Host {
    let host = Host::new().expect("host");
    host.load("attack", module, "{}", Limits::default())
        .expect("the attack module loads with a harmless policy");
    host
}

fn opportunity(id: &str) -> Opportunity {
    serde_json::from_value(serde_json::json!({"id": id, "stage": "Qualify"})).expect("opportunity")
}

fn candidates() -> Vec<Candidate> {
    vec![Candidate {
        id: "001000000000KNOWN".to_owned(),
        kind: RecordKind::Account,
        name: "Known Ltd".to_owned(),
        email: None,
        active: true,
        account_id: None,
    }]
}

/// The message of a `bad_output` error; anything else fails the test.
fn bad_output<T: std::fmt::Debug>(what: &str, result: crm_rules::Result<T>) -> String {
    match result {
        Err(Error::Trap {
            kind: TrapKind::BadOutput,
            message,
            ..
        }) => message,
        other => panic!("{what}: expected bad_output, got {other:?}"),
    }
}

#[test]
fn scores_outside_0_to_100_are_refused_as_bad_output_naming_the_score() {
    let host = host(ATTACK);
    for (id, shown) in [("score-200", "200"), ("score-max", "4294967295")] {
        let message = bad_output(id, host.qualify(&ctx("attack"), &web_lead(id)));
        assert!(
            message.starts_with("score:") && message.contains(shown),
            "{id}: {message}"
        );
    }
    // In a batch, the bad answer costs only its own record.
    let leads = [web_lead("score-200"), web_lead("fine")];
    let answers = host
        .qualify_batch(&ctx("attack"), &leads)
        .expect("the batch runs");
    assert!(matches!(
        &answers[0],
        Err(Error::Trap {
            kind: TrapKind::BadOutput,
            ..
        })
    ));
    assert!(answers[1].is_ok(), "{:?}", answers[1]);
}

#[test]
fn a_negative_zero_probability_and_non_finite_weights_or_amounts_are_refused_naming_the_field() {
    let host = host(ATTACK);
    for (id, field) in [
        ("probability-negative-zero", "probability:"),
        ("weight-nan", "stages[0].weight:"),
        ("weight-infinity", "stages[0].weight:"),
        ("amount-nan", "weighted_value.amount:"),
    ] {
        let message = bad_output(id, host.forecast(&ctx("attack"), &opportunity(id)));
        assert!(message.starts_with(field), "{id}: {message}");
    }
    let fine = host
        .forecast(&ctx("attack"), &opportunity("fine"))
        .expect("an answer inside the contract is taken");
    assert_eq!(fine.value.probability, 0.5);
}

#[test]
fn conversion_links_to_ids_that_were_not_candidates_are_refused_naming_the_record() {
    let host = host(ATTACK);
    for (id, field) in [
        ("link-stranger", "account:"),
        ("link-traversal", "contact:"),
        ("link-huge", "opportunity:"),
    ] {
        let message = bad_output(
            id,
            host.convert(&ctx("attack"), &web_lead(id), &candidates()),
        );
        assert!(
            message.starts_with(field) && message.contains("not among the candidates"),
            "{id}: {message}"
        );
        // A 20 MB id is quoted by its start and its size, never whole.
        assert!(
            message.len() < 1024,
            "{id}: a {} byte message",
            message.len()
        );
    }
    assert!(host
        .convert(&ctx("attack"), &web_lead("fine"), &candidates())
        .is_ok());
}

#[test]
fn out_of_range_indices_and_missing_template_arguments_in_0_2_0_answers_are_refused_naming_the_field(
) {
    let host = host(CONTRACT_ATTACK);
    let c = ctx("attack");
    let qualify = |id: &str| bad_output(id, host.qualify(&c, &web_lead(id)));
    let convert = |id: &str| bad_output(id, host.convert(&c, &web_lead(id), &candidates()));
    let cases = [
        (
            qualify("template-out-of-range"),
            "reasons[0]: template 99 does not exist",
        ),
        (
            qualify("too-few-arguments"),
            "reasons[0]: template `pair` uses 2 arguments, the answer gives 1",
        ),
        (
            qualify("stage-argument-out-of-range"),
            "reasons[0].args[0]: stage 7 does not exist",
        ),
        (
            qualify("custom-field-out-of-range"),
            "outcome.missing: custom field 5 does not exist",
        ),
        (
            qualify("step-out-of-range"),
            "reasons[0].args[0]: step 9 does not exist",
        ),
        (
            qualify("due-date-out-of-range"),
            "follow_ups[0].due: day 2147483647 is out of range",
        ),
        (convert("link-out-of-range"), "account: links candidate 5"),
        (
            convert("candidate-argument-out-of-range"),
            "reasons[0].args[0]: candidate 5 does not exist",
        ),
        (
            convert("initial-stage-out-of-range"),
            "initial_stage: stage 9 does not exist",
        ),
        (
            bad_output(
                "missing-step-out-of-range",
                host.check_transition(&c, &opportunity("missing-step-out-of-range"), "Qualify"),
            ),
            "missing: step 9 does not exist",
        ),
        (
            bad_output(
                "stage-score-out-of-range",
                host.forecast(&c, &opportunity("stage-score-out-of-range")),
            ),
            "stages[0].stage: stage 4 does not exist",
        ),
    ];
    for (message, expected) in cases {
        assert!(message.starts_with(expected), "{message}");
    }
    // The same module inside the contract is answered.
    assert!(host.qualify(&c, &web_lead("fine")).is_ok());
    assert!(host.convert(&c, &web_lead("fine"), &candidates()).is_ok());
    assert!(host
        .check_transition(&c, &opportunity("fine"), "Qualify")
        .is_ok());
    assert!(host.forecast(&c, &opportunity("fine")).is_ok());
}

#[test]
fn a_20_mb_rule_error_message_is_refused_as_output_too_large() {
    let host = host(ATTACK);
    match host.qualify(&ctx("attack"), &web_lead("huge-error")) {
        Err(Error::Trap {
            kind: TrapKind::OutputTooLarge,
            message,
            ..
        }) => assert!(message.len() < 1024, "{message}"),
        other => panic!("expected output_too_large, got {other:?}"),
    }
}

#[test]
fn a_20_mb_policy_refusal_at_init_is_refused_as_output_too_large() {
    let host = Host::new().expect("host");
    match host.load("attack", ATTACK, "huge-error", Limits::default()) {
        Err(Error::Trap {
            kind: TrapKind::OutputTooLarge,
            message,
            ..
        }) => assert!(message.len() < 1024, "{message}"),
        other => panic!("expected output_too_large, got {other:?}"),
    }
}

/// An org folder for `module` (copied in as `rules.wasm`), masking `mask_fields`.
fn org_folder(dir: &Path, module: &[u8], mask_fields: &[&str]) {
    std::fs::write(dir.join("rules.wasm"), module).expect("module");
    std::fs::write(dir.join("policy.json"), "{}").expect("policy");
    let org = serde_json::json!({
        "org_id": "attack",
        "module": "rules.wasm",
        "policy": "policy.json",
        "audit": {"mask_fields": mask_fields},
    });
    std::fs::write(dir.join("org.json"), org.to_string()).expect("org.json");
}

/// Runs a decision command for the org in `dir` with an audit log there; returns
/// the program's output and the log's text.
fn audited(dir: &Path, command: &str, records: &str) -> (std::process::Output, String) {
    let log = dir.join("audit.jsonl");
    let key = dir.join("audit.key");
    let out = cli(
        &[
            "--org-dir",
            dir.to_str().expect("utf-8"),
            "--audit",
            log.to_str().expect("utf-8"),
            "--audit-key",
            key.to_str().expect("utf-8"),
            "--no-cache",
            "--now",
            "2026-11-25T09:00:00Z",
            command,
        ],
        Some(records),
    );
    let written = std::fs::read_to_string(&log).unwrap_or_default();
    (out, written)
}

#[test]
fn a_20_mb_rule_error_reaches_neither_stdout_nor_stderr_nor_the_audit_log() {
    let dir = tempfile::tempdir().expect("tmp");
    org_folder(dir.path(), ATTACK, &[]);
    let records = "{\"id\": \"huge-error\"}\n{\"id\": \"fine\"}\n{\"id\": \"huge-error\"}\n";
    let (out, log) = audited(dir.path(), "qualify", records);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    for (what, size) in [
        ("stdout", out.stdout.len()),
        ("stderr", out.stderr.len()),
        ("audit log", log.len()),
    ] {
        assert!(size < 64 << 10, "{what} holds {size} bytes");
    }
    let stdout = text(&out.stdout);
    assert_eq!(
        stdout.matches("output_too_large").count(),
        2,
        "both 20 MB errors are refused as too large: {stdout}"
    );
    assert!(stdout.contains("ok fine"), "{stdout}");
}

#[test]
fn personal_fields_quoted_by_0_2_0_reason_arguments_are_masked_in_the_audit_log() {
    let dir = tempfile::tempdir().expect("tmp");
    org_folder(
        dir.path(),
        CONTRACT_ATTACK,
        &["new_nationalid", "new_birthdate"],
    );
    // The birth date is written as `{"date": ...}`: a value no text search of the
    // record finds, only the template argument says it is personal.
    let record = serde_json::json!({
        "id": "personal",
        "contact_name": "Pat Quinn",
        "email": "pat.quinn@example.org",
        "company": "Quinn Holdings",
        "custom": {"new_nationalid": "AB-123-CD", "new_birthdate": {"date": "1990-04-01"}},
    });
    let (out, log) = audited(dir.path(), "qualify", &format!("{record}\n"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let entry: serde_json::Value =
        serde_json::from_str(log.lines().next().expect("an entry")).expect("json");
    assert_eq!(
        entry["result"]["reasons"],
        serde_json::json!([
            "quoted: [masked]",
            "quoted: [masked]",
            "quoted: [masked]",
            "quoted: [masked]",
            "quoted: Quinn Holdings"
        ]),
        "{entry}"
    );
    for personal in [
        "Pat Quinn",
        "pat.quinn@example.org",
        "AB-123-CD",
        "1990-04-01",
    ] {
        assert!(!log.contains(personal), "{personal} in the audit log");
    }
    // The decision itself goes to whoever asked for it, unmasked.
    assert!(text(&out.stdout).contains("quoted: 1990-04-01"));
}

#[test]
fn a_0_1_0_module_writing_the_name_in_other_forms_is_masked_only_where_it_quotes_the_value() {
    let dir = tempfile::tempdir().expect("tmp");
    org_folder(dir.path(), ATTACK, &[]);
    let record = serde_json::json!({
        "id": "name-forms",
        "contact_name": "Pat Quinn",
        "email": "pat.quinn@example.org",
    });
    let (out, log) = audited(dir.path(), "qualify", &format!("{record}\n"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let entry: serde_json::Value =
        serde_json::from_str(log.lines().next().expect("an entry")).expect("json");
    // Upper case is the value in another letter case: masked. A reordered name and
    // a spelled-out address are free text that no longer holds the value: what
    // docs/security.md says masking cannot promise.
    assert_eq!(
        entry["result"]["reasons"],
        serde_json::json!([
            "call [masked]",
            "ask for Quinn, Pat",
            "write to pat.quinn at example.org"
        ]),
        "{entry}"
    );
}
