//! The entry points of the fuzz targets: one function per target, each taking
//! arbitrary bytes through one of the ways crm-rules reads input from outside.
//! Errors are expected and ignored; a panic, a hang or a crash is a finding.
//!
//! The fuzz targets in `fuzz_targets/` call these under libFuzzer; the stable test
//! `tests/fuzz_corpus.rs` includes this file and replays the committed corpus
//! (`fuzz/corpus/<target>/`) through the same functions, so CI keeps every
//! finding fixed without a nightly toolchain.

use std::io::Cursor;
use std::path::PathBuf;
use std::sync::OnceLock;

use crm_rules::audit::{verify_bytes, AuditKey, Expectations, Verifier};
use crm_rules::crm::{Format, Native, ObjectType, Reader, Vocabularies};
use crm_rules::decision::Kind;
use crm_rules::model::chrono::NaiveDate;
use crm_rules::org::OrgDir;
use crm_rules::pipeline::{self, Opened, Reading, Records};
use serde_json::value::RawValue;

/// The largest record of a fuzzed input: small, so that lines past it are cut as
/// the program cuts lines past `--max-record-bytes`.
const MAX_RECORD: usize = 64 << 10;

/// The secret of the audit key the `audit_verify` corpus was written with
/// (`fuzz/corpus/audit_verify/`): a fixed test key, never a real one.
pub const AUDIT_SECRET: [u8; 32] = [7; 32];

fn vocabularies() -> &'static Vocabularies {
    static VOCABULARIES: OnceLock<Vocabularies> = OnceLock::new();
    VOCABULARIES.get_or_init(Vocabularies::default)
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 25).unwrap_or_default()
}

/// The pipeline's source and reading, as the program runs them: the first byte
/// picks the decision and the format (detected per record, or forced), the rest
/// is the input (JSON lines, an array, a collection of any CRM, or anything).
pub fn records(data: &[u8]) {
    let Some((&choice, input)) = data.split_first() else {
        return;
    };
    let kind = [
        Kind::Qualify,
        Kind::Convert,
        Kind::Transition,
        Kind::Forecast,
    ][usize::from(choice & 3)];
    let format = [
        None,
        Some(Format::Canonical),
        Some(Format::Dataverse),
        Some(Format::Salesforce),
        Some(Format::Hubspot),
    ][usize::from(choice >> 2) % 5];
    let reading = Reading {
        kind,
        format,
        vocabularies: vocabularies(),
        to: Some("Develop"),
        keep_custom: None,
        today: today(),
    };
    match pipeline::open(Cursor::new(input), MAX_RECORD) {
        Ok(Opened::Lines(mut chunks)) => {
            while let Ok(lines) = chunks.next_chunk(64) {
                if lines.is_empty() {
                    break;
                }
                let records = Records::of_lines(&lines, 1);
                let _ = reading.jobs("fuzz", &records.records);
            }
        }
        Ok(Opened::Whole(text)) => {
            if let Ok(records) = Records::of_text(&text) {
                let _ = reading.jobs("fuzz", &records.records);
            }
        }
        Err(_) => {}
    }
}

/// One CRM's reader: the record flattened as that CRM's (its type guessed, then
/// told), then read as every kind of record the rules take.
fn native(format: Format, data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(raw) = serde_json::from_str::<&RawValue>(text) else {
        return;
    };
    let reader = Reader {
        vocabularies: vocabularies(),
        today: today(),
        keep_custom: None,
    };
    let told = [
        None,
        Some(ObjectType::Lead),
        Some(ObjectType::Opportunity),
        Some(ObjectType::Activity),
    ];
    for object_type in told {
        if let Ok(native) = Native::parse_as(format, raw, object_type) {
            let _ = reader.lead(&native);
            let _ = reader.opportunity(&native, Vec::new());
            let _ = reader.activity(&native, Some("Develop"));
            let _ = reader.candidate(&native);
        }
    }
}

/// The Dataverse reader.
pub fn dataverse(data: &[u8]) {
    native(Format::Dataverse, data)
}

/// The Salesforce reader.
pub fn salesforce(data: &[u8]) {
    native(Format::Salesforce, data)
}

/// The HubSpot reader.
pub fn hubspot(data: &[u8]) {
    native(Format::Hubspot, data)
}

/// The reference module's policy parser, run natively (in a module it runs at
/// `init`, under the module's limits).
pub fn policy(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = guest_rules::Policy::parse(text);
    }
}

/// A backtest's mapping file and the table it reads: the bytes before the first
/// NUL are the mapping, the rest the data (CSV or JSON lines), read as
/// `crm-rules backtest` reads them.
pub fn mapping(data: &[u8]) {
    let (mapping, table) = match data.iter().position(|b| *b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    let (Ok(mapping), Ok(table)) = (std::str::from_utf8(mapping), std::str::from_utf8(table))
    else {
        return;
    };
    if let Ok(mapping) = crm_rules_backtest::Mapping::parse(mapping) {
        let _ = crm_rules_backtest::Table::read(&mapping, table, "data.csv", "mapping.json");
    }
}

/// An org folder whose `org.json` is the input: read as the program reads one
/// (paths confined to the folder, limits, CRM vocabularies), beside a policy.
pub fn org_json(data: &[u8]) {
    static FOLDER: OnceLock<Option<PathBuf>> = OnceLock::new();
    let folder = FOLDER.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("crm-rules-fuzz-org-{}", std::process::id()));
        std::fs::create_dir_all(&dir).ok()?;
        std::fs::write(dir.join("policy.json"), "{}").ok()?;
        Some(dir)
    });
    let Some(dir) = folder else {
        return;
    };
    if std::fs::write(dir.join("org.json"), data).is_ok() {
        let _ = OrgDir::read(dir);
    }
}

/// `audit verify` on a log's bytes, with the test audit key (so a log written with
/// it gets past the MACs to the checkpoints); the first byte says whether the log
/// may end without a checkpoint.
pub fn audit_verify(data: &[u8]) {
    let Some((&choice, log)) = data.split_first() else {
        return;
    };
    let expect = Expectations {
        line: None,
        open_end: choice & 1 == 1,
    };
    let key = AuditKey::from_secret(AUDIT_SECRET);
    let _ = verify_bytes("fuzz", log, &Verifier::Key(key), &expect);
}
