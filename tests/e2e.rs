//! End-to-end tests: real components, built from the workspace's guest crates, loaded
//! by the real host, driven through the library and the `crm-rules` program.

use std::path::PathBuf;
use std::sync::Arc;

use crm_rules::fixtures::run_org;
use crm_rules::latest::Outcome;
use crm_rules::model::Lead;
use crm_rules::{Error, Host, Limits};
use support::{cli, root, text};

use support::{ctx, example_policy};

#[path = "support.rs"]
mod support;

fn examples() -> PathBuf {
    root().join("examples")
}

/// A copy of an example org folder in a fresh temporary folder.
fn copy_org(name: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("a temporary folder");
    let from = examples().join(name);
    let to = tmp.path().join(name);
    std::fs::create_dir_all(to.join("fixtures")).expect("mkdir");
    for file in ["org.json", "policy.json"] {
        std::fs::copy(from.join(file), to.join(file)).expect("copy");
    }
    for entry in std::fs::read_dir(from.join("fixtures")).expect("fixtures") {
        let path = entry.expect("entry").path();
        let name = path.file_name().expect("a file name");
        std::fs::copy(&path, to.join("fixtures").join(name)).expect("copy");
    }
    tmp
}

#[test]
fn every_example_org_passes_its_fixtures() {
    let host = Host::new().expect("host");
    for org in ["strict", "loose", "acme"] {
        let mut out = Vec::new();
        let summary = run_org(&host, &examples().join(org), false, &mut out).expect("org loads");
        let report = text(&out);
        assert_eq!(summary.failed, 0, "{org}:\n{report}");
        assert!(
            summary.passed >= 10,
            "{org} has too few fixtures:\n{report}"
        );
    }
}

#[test]
fn test_command_prints_a_summary_and_a_diff_on_mismatch() {
    let ok = cli(&["test", "examples"], None);
    let stdout = text(&ok.stdout);
    assert!(ok.status.success(), "{stdout}{}", text(&ok.stderr));
    assert!(
        stdout.lines().any(|l| l.ends_with(" passed, 0 failed")),
        "{stdout}"
    );

    let tmp = copy_org("strict");
    let fixture = tmp.path().join("strict/fixtures/07-signal-07.json");
    let changed = std::fs::read_to_string(&fixture)
        .expect("fixture")
        .replace("\"score\": 92", "\"score\": 93");
    std::fs::write(&fixture, changed).expect("write");
    let org = tmp.path().join("strict");
    let bad = cli(&["test", org.to_str().expect("utf-8 path")], None);
    let stdout = text(&bad.stdout);
    assert_eq!(bad.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("FAIL    07-signal-07.json"), "{stdout}");
    assert!(stdout.contains("-  \"score\": 93,"), "{stdout}");
    assert!(stdout.contains("+  \"score\": 92,"), "{stdout}");
    assert!(
        stdout.lines().any(|l| l.ends_with("passed, 1 failed")),
        "{stdout}"
    );
}

#[test]
fn same_input_gives_byte_identical_output() {
    let input = std::fs::read_to_string(examples().join("strict/fixtures/09-signal-09.json"))
        .expect("fixture");
    let lead =
        serde_json::from_str::<serde_json::Value>(&input).expect("json")["input"].to_string();
    let args = [
        "qualify",
        "--org-dir",
        "examples/strict",
        "--now",
        "2026-11-25T09:00:00Z",
    ];
    let first = cli(&args, Some(&lead));
    let second = cli(&args, Some(&lead));
    assert!(first.status.success(), "{}", text(&first.stderr));
    assert_eq!(first.stdout, second.stdout);
}

#[test]
fn strict_and_loose_orgs_decide_the_same_lead_differently() {
    let host = Host::new().expect("host");
    let module = crm_rules::REFERENCE_MODULE;
    host.load(
        "strict",
        module,
        &example_policy("strict"),
        Limits::default(),
    )
    .expect("strict loads");
    host.load("loose", module, &example_policy("loose"), Limits::default())
        .expect("loose loads");
    let lead: Lead = serde_json::from_str(
        r#"{"id": "L-4", "email": "ana@silva-foods.example", "source": "web_form", "engagement": "inquiry"}"#,
    )
    .expect("lead");
    let strict = host.qualify(&ctx("strict"), &lead).expect("decision");
    let loose = host.qualify(&ctx("loose"), &lead).expect("decision");
    assert!(
        matches!(strict.outcome, Outcome::NeedsInformation(_)),
        "{strict:?}"
    );
    assert_eq!(loose.outcome, Outcome::Qualified);
}

#[test]
fn malformed_json_is_a_clear_error() {
    let out = cli(
        &["qualify", "--now", "2026-11-25T09:00:00Z"],
        Some("[{\"id\": \"L-1\",}"),
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("malformed JSON array"), "{stderr}");
}

#[test]
fn a_broken_record_is_named_and_the_others_are_decided() {
    let input = concat!(
        "{\"id\": \"L-1\", \"email\": \"a@b.example\", \"source\": \"web_form\"}\n",
        "{\"email\": \"no-id@b.example\"}\n",
        "{\"id\": \"L-3\", \"decision_maker_known\": \"yes\"}\n",
        "{\"id\": \"L-4\", \"email\": \n",
        "{\"id\": \"L-5\", \"email\": \"e@b.example\", \"need\": \"no_need\"}\n",
    );
    let out = cli(&["qualify", "--now", "2026-11-25T09:00:00Z"], Some(input));
    assert_eq!(out.status.code(), Some(1));
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each output line is JSON"))
        .collect();
    assert_eq!(lines.len(), 5);
    assert_eq!(lines[0]["decision"]["outcome"], "needs_information");
    assert!(lines[1]["error"]["message"]
        .as_str()
        .unwrap_or("")
        .contains("missing field `id`"));
    assert_eq!(lines[2]["error"]["field"], "decision_maker_known");
    assert_eq!(lines[2]["id"], "L-3");
    assert!(lines[3]["error"]["message"]
        .as_str()
        .unwrap_or("")
        .contains("line 4"));
    assert_eq!(lines[4]["decision"]["reason"], "no_longer_interested");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("record 3 (`L-3`) at `decision_maker_known`"),
        "{stderr}"
    );
}

#[test]
fn an_unknown_stage_is_a_rule_error_naming_the_field() {
    let input = r#"{"opportunity": {"id": "O-1", "stage": "Qualify"}, "to": "Dreaming"}"#;
    let out = cli(
        &["transition", "--now", "2026-11-25T09:00:00Z"],
        Some(input),
    );
    assert_eq!(out.status.code(), Some(1));
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(line["error"]["code"], "unknown_stage");
    assert_eq!(line["error"]["field"], "to");
    assert!(line["error"]["message"]
        .as_str()
        .unwrap_or("")
        .contains("Dreaming"));
}

#[test]
fn an_invalid_policy_is_refused_at_load_naming_the_field() {
    let tmp = tempfile::tempdir().expect("tmp");
    let bad = tmp.path().join("policy.json");
    std::fs::write(
        &bad,
        r#"{"name": "x", "qualification": {"ratings": {"hot": "high", "warm": 1}}}"#,
    )
    .expect("write");
    let out = cli(&["stages", "--policy", bad.to_str().expect("utf-8")], None);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("invalid policy"), "{stderr}");
    assert!(stderr.contains("qualification.ratings.hot"), "{stderr}");

    let host = Host::new().expect("host");
    let err = host
        .load(
            "x",
            crm_rules::REFERENCE_MODULE,
            "{not json",
            Limits::default(),
        )
        .expect_err("refused");
    assert!(matches!(err, Error::Policy { .. }), "{err}");
    // The refused load left nothing behind.
    assert!(matches!(host.module("x"), Err(Error::UnknownOrg { .. })));
}

#[test]
fn a_custom_module_rejects_its_invalid_policy() {
    let tmp = tempfile::tempdir().expect("tmp");
    let bad = tmp.path().join("policy.json");
    std::fs::write(
        &bad,
        r#"{"base": {"name": "a", "stages": []}, "served_regions": ["NA"], "min_employees": 1, "stale_after_days": 9}"#,
    )
    .expect("write");
    let out = cli(
        &[
            "stages",
            "--org-dir",
            "examples/acme",
            "--policy",
            bad.to_str().expect("utf-8"),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("base.stages"), "{stderr}");
}

#[test]
fn bytes_that_are_not_a_rule_module_are_refused() {
    let host = Host::new().expect("host");
    let err = host
        .load("x", b"\0asm\x01\0\0\0garbage", "{}", Limits::default())
        .expect_err("refused");
    assert!(matches!(err, Error::Module { .. }), "{err}");
    // A truncated component.
    let err = host
        .load(
            "x",
            &crm_rules::REFERENCE_MODULE[..100],
            "{}",
            Limits::default(),
        )
        .expect_err("refused");
    assert!(matches!(err, Error::Module { .. }), "{err}");
}

#[test]
fn an_unknown_org_is_a_typed_error() {
    let host = Host::new().expect("host");
    let lead = Lead {
        id: "L".into(),
        ..Lead::default()
    };
    let err = host
        .qualify(&ctx("nobody"), &lead)
        .expect_err("no such org");
    assert!(
        matches!(err, Error::UnknownOrg { ref org } if org == "nobody"),
        "{err}"
    );
}

#[test]
fn batch_and_single_calls_agree() {
    let host = Host::new().expect("host");
    host.load(
        "strict",
        crm_rules::REFERENCE_MODULE,
        &example_policy("strict"),
        Limits::default(),
    )
    .expect("loads");
    let mut leads = Vec::new();
    for entry in std::fs::read_dir(examples().join("strict/fixtures")).expect("fixtures") {
        let fixture: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(entry.expect("entry").path()).expect("read"),
        )
        .expect("json");
        if fixture["decision"] == "qualify" {
            if let Ok(lead) = serde_json::from_value::<Lead>(fixture["input"].clone()) {
                leads.push(lead);
            }
        }
    }
    assert!(leads.len() >= 10);
    let batch = host.qualify_batch(&ctx("strict"), &leads).expect("batch");
    for (lead, decided) in leads.iter().zip(batch) {
        let single = host.qualify(&ctx("strict"), lead).expect("single");
        assert_eq!(
            decided.expect("batch decision").value,
            single.value,
            "{}",
            lead.id
        );
    }
}

#[test]
fn several_orgs_from_several_threads_get_their_own_answers() {
    let host = Arc::new(Host::new().expect("host"));
    for org in ["strict", "loose"] {
        host.load(
            org,
            crm_rules::REFERENCE_MODULE,
            &example_policy(org),
            Limits::default(),
        )
        .expect("loads");
    }
    let lead: Lead = serde_json::from_str(
        r#"{"id": "L-3", "email": "kim@lee.example", "source": "web_form", "engagement": "content"}"#,
    )
    .expect("lead");
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let (host, lead) = (Arc::clone(&host), lead.clone());
            std::thread::spawn(move || {
                let org = if i % 2 == 0 { "strict" } else { "loose" };
                for _ in 0..200 {
                    let q = host.qualify(&ctx(org), &lead).expect("decision");
                    let expected_qualified = org == "loose";
                    assert_eq!(q.outcome == Outcome::Qualified, expected_qualified, "{org}");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("no thread panicked");
    }
}

/// The path the README gives a consultant: `crm-rules new`, `crm-rules build`,
/// `crm-rules test` on the org folder the scaffold made, outside this repository.
#[test]
fn a_new_module_builds_and_passes_its_own_fixture() {
    let dir = tempfile::tempdir().expect("tmp");
    let crate_dir = dir.path().join("city-rules");
    let path = crate_dir.to_str().expect("utf-8 path");
    let out = cli(&["new", "city-rules", "--dir", path], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(crate_dir.join("org/fixtures").is_dir());
    // Its own target folder: the build must not reuse this workspace's.
    let out = cli(&["build", path], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(crate_dir.join("org/city_rules.wasm").is_file());
    let org = crate_dir.join("org");
    let out = cli(&["test", org.to_str().expect("utf-8 path")], None);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("1 passed, 0 failed"),
        "{}",
        text(&out.stdout)
    );
    let info = cli(
        &["--org-dir", org.to_str().expect("utf-8 path"), "info"],
        None,
    );
    assert!(
        text(&info.stdout).contains("crm:rules@0.2.0"),
        "{}",
        text(&info.stdout)
    );
}

#[test]
fn a_module_name_that_is_not_a_crate_name_is_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("x");
    let out = cli(
        &["new", "My Rules", "--dir", path.to_str().expect("utf-8")],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("lowercase"),
        "{}",
        text(&out.stderr)
    );
}

/// The acme org ships its module as a consultant would, committed beside its policy;
/// it must be what `examples/acme-rules` builds to now, or its fixtures test an old
/// module. `CRM_RULES_BLESS=1` writes the fresh build over the committed one.
#[test]
fn the_committed_acme_module_is_what_its_crate_builds_to() {
    let committed = examples().join("acme/acme_rules.wasm");
    let built = crm_rules_test_modules::ACME;
    if std::env::var_os("CRM_RULES_BLESS").is_some() {
        std::fs::write(&committed, built).expect("write the acme module");
    }
    let on_disk = std::fs::read(&committed).expect("the committed acme module");
    assert!(
        on_disk == built,
        "examples/acme/acme_rules.wasm ({} bytes) is not what examples/acme-rules builds to \
         ({} bytes): run `CRM_RULES_BLESS=1 cargo test --release --test e2e committed_acme` \
         and commit it",
        on_disk.len(),
        built.len()
    );
}
