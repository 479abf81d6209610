//! The fuzz corpus as regression tests: every committed input of every fuzz target
//! (`fuzz/corpus/<target>/`, findings included, named after what they found) runs
//! through the same entry points the fuzz targets call, on stable Rust, so CI
//! needs no nightly toolchain to keep them fixed. `scripts/fuzz.sh` runs the
//! targets themselves.

use std::path::PathBuf;

#[path = "../fuzz/src/lib.rs"]
mod entries;

#[path = "support.rs"]
mod support;

/// The files of one target's corpus, in name order.
fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = support::root().join("fuzz/corpus").join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

/// Runs every corpus file of `target` through `entry`; a panic names the file.
fn replay(target: &str, entry: fn(&[u8])) {
    let files = corpus(target);
    assert!(!files.is_empty(), "the {target} corpus is empty");
    for file in &files {
        let bytes = std::fs::read(file).expect("a corpus file");
        if std::panic::catch_unwind(|| entry(&bytes)).is_err() {
            panic!("{} panicked", file.display());
        }
    }
}

#[test]
fn every_records_corpus_input_is_read_without_a_panic() {
    replay("records", entries::records);
}

#[test]
fn every_dataverse_corpus_input_is_read_without_a_panic() {
    replay("dataverse", entries::dataverse);
}

#[test]
fn every_salesforce_corpus_input_is_read_without_a_panic() {
    replay("salesforce", entries::salesforce);
}

#[test]
fn every_hubspot_corpus_input_is_read_without_a_panic() {
    replay("hubspot", entries::hubspot);
}

#[test]
fn every_policy_corpus_input_is_parsed_without_a_panic() {
    replay("policy", entries::policy);
}

#[test]
fn every_org_json_corpus_input_is_read_without_a_panic() {
    replay("org_json", entries::org_json);
}

#[test]
fn every_audit_log_corpus_input_is_verified_without_a_panic() {
    replay("audit_verify", entries::audit_verify);
}

#[test]
fn every_mapping_corpus_input_is_read_without_a_panic() {
    replay("mapping", entries::mapping);
}
