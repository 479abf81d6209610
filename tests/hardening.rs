//! The host's own attack surface: org folders that point outside themselves,
//! limits above the engine's ceiling, a poisoned compiled-module cache, and an
//! audit log that is forged, cut, edited or written by two processes at once.
//! Each test is named after the attack it pins.

use std::path::Path;

use crm_rules::org::OrgDir;
use crm_rules::{Error, Host, Limits, REFERENCE_MODULE};

use support::{root, text};

#[path = "support.rs"]
mod support;

fn strict_policy() -> String {
    std::fs::read_to_string(root().join("examples/strict/policy.json")).expect("example policy")
}

/// An org folder with the reference module as `rules.wasm`, the strict policy as
/// `policy.json`, and `org.json` made of `fields` over a valid base.
fn org_folder(dir: &Path, fields: serde_json::Value) {
    std::fs::write(dir.join("rules.wasm"), REFERENCE_MODULE).expect("module");
    std::fs::write(dir.join("policy.json"), strict_policy()).expect("policy");
    let mut org = serde_json::json!({
        "org_id": "folder-co", "module": "rules.wasm", "policy": "policy.json"
    });
    for (key, value) in fields.as_object().expect("fields").iter() {
        org[key] = value.clone();
    }
    std::fs::write(dir.join("org.json"), org.to_string()).expect("org.json");
}

fn read_error(dir: &Path) -> String {
    match OrgDir::read(dir) {
        Ok(_) => panic!("{} was read", dir.display()),
        Err(e) => format!("{e:#}"),
    }
}

#[test]
fn an_org_policy_path_climbing_to_etc_passwd_is_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    org_folder(
        dir.path(),
        serde_json::json!({"policy": "../../../../etc/passwd"}),
    );
    let error = read_error(dir.path());
    assert!(
        error.contains("`policy`") && error.contains("`..`"),
        "{error}"
    );

    // Through the program: refused before anything reads the file.
    let out = support::cli(
        &[
            "--no-cache",
            "--org-dir",
            dir.path().to_str().expect("utf-8"),
            "info",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("`..`"), "{}", text(&out.stderr));
    assert!(
        !text(&out.stdout).contains("root:"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn absolute_org_paths_for_policy_module_and_signature_are_refused() {
    for field in ["policy", "module", "signature"] {
        let dir = tempfile::tempdir().expect("tmp");
        org_folder(dir.path(), serde_json::json!({ field: "/etc/passwd" }));
        let error = read_error(dir.path());
        assert!(
            error.contains(&format!("`{field}`")) && error.contains("absolute"),
            "{field}: {error}"
        );
    }
}

#[cfg(unix)]
#[test]
fn an_org_path_leading_out_through_a_symbolic_link_is_refused() {
    let outside = tempfile::tempdir().expect("tmp");
    let secret = outside.path().join("secret.json");
    std::fs::write(&secret, "{\"name\": \"not the org's\"}").expect("secret");
    let dir = tempfile::tempdir().expect("tmp");
    org_folder(dir.path(), serde_json::json!({}));
    std::fs::remove_file(dir.path().join("policy.json")).expect("rm");
    std::os::unix::fs::symlink(&secret, dir.path().join("policy.json")).expect("link");
    let error = read_error(dir.path());
    assert!(error.contains("outside the org folder"), "{error}");

    // A folder link out, with the file below it, is refused the same way.
    let dir = tempfile::tempdir().expect("tmp");
    org_folder(
        dir.path(),
        serde_json::json!({"policy": "shared/secret.json"}),
    );
    std::os::unix::fs::symlink(outside.path(), dir.path().join("shared")).expect("link");
    let error = read_error(dir.path());
    assert!(error.contains("outside the org folder"), "{error}");

    // A link that stays inside the folder is fine.
    let dir = tempfile::tempdir().expect("tmp");
    org_folder(dir.path(), serde_json::json!({"policy": "current.json"}));
    std::os::unix::fs::symlink("policy.json", dir.path().join("current.json")).expect("link");
    let org = OrgDir::read(dir.path()).expect("a link inside the folder is followed");
    assert_eq!(org.policy, strict_policy());
}

#[test]
fn an_org_asking_for_more_memory_than_the_engine_allows_is_refused_not_capped() {
    let host = Host::new().expect("host");
    let limits = Limits {
        memory_bytes: 128 << 20,
        ..Limits::default()
    };
    let error = host
        .load("greedy", REFERENCE_MODULE, &strict_policy(), limits)
        .expect_err("refused");
    let message = error.to_string();
    assert!(matches!(error, Error::Limits { .. }), "{message}");
    assert!(
        message.contains("memory_bytes is 134217728")
            && message.contains("ceiling of 67108864")
            && message.contains("max_memory_bytes"),
        "{message}"
    );
    let at_ceiling = Limits {
        memory_bytes: 64 << 20,
        ..Limits::default()
    };
    host.load("fits", REFERENCE_MODULE, &strict_policy(), at_ceiling)
        .expect("a limit at the ceiling loads");
}
