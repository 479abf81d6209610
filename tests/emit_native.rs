//! `--emit native` through the program for the wrapped inputs of convert
//! (`{"lead": ..., "candidates": [...]}`) and transition
//! (`{"opportunity": ..., "to": ...}`): the strict org's own native fixtures.
//! Kept in its own file so that it travels with the decision pipeline.

use serde_json::Value;
use support::root;

#[path = "support.rs"]
mod support;

fn fixture(name: &str) -> Value {
    let path = root().join("examples/strict/fixtures").join(name);
    let text = std::fs::read_to_string(path).expect("the fixture");
    serde_json::from_str(&text).expect("fixture JSON")
}

/// Issue 14.4. The format was detected on the wrapper instead of the record inside
/// it, so every convert and transition failed with "the record is canonical".
#[test]
fn emit_native_reads_the_format_of_the_wrapped_record_not_of_its_wrapper() {
    for (name, command, format) in [
        ("36-native-salesforce-convert.json", "convert", "salesforce"),
        ("37-native-hubspot-transition.json", "transition", "hubspot"),
    ] {
        let doc = fixture(name);
        let out = support::cli(
            &[
                "--now",
                "2026-11-25T09:00:00Z",
                "--no-cache",
                "--org-dir",
                "examples/strict",
                command,
                "--emit",
                "native",
            ],
            Some(&doc["input"].to_string()),
        );
        let stderr = support::text(&out.stderr);
        assert!(out.status.success(), "{name}: {stderr}");
        assert!(!stderr.contains("canonical"), "{name}: {stderr}");
        let line: Value =
            serde_json::from_str(support::text(&out.stdout).trim()).expect("one JSON line");
        // The program and the fixture runner emit the same requests, but for the
        // idempotency keys' module label: compare what carries none.
        let strip = |v: &Value| -> Vec<(Value, Value)> {
            v.as_array()
                .into_iter()
                .flatten()
                .map(|r| (r["method"].clone(), r["path"].clone()))
                .collect()
        };
        assert_eq!(
            strip(&line["actions"]),
            strip(&doc["expect_native"]),
            "{name}"
        );
        assert_eq!(line["format"], format, "{name}");
    }
}
