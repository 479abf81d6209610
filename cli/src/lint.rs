//! `crm-rules lint`: the policy check of an org folder, against its mapping and
//! its fixtures, before any record is decided. The same check runs in
//! `backtest` and `calibrate` against the records they read.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use crm_rules::org::OrgDir;
use crm_rules::Host;
use crm_rules_backtest::lint::{self, Finding, Seen, Subject};
use crm_rules_backtest::Mapping;
use serde_json::Value;

use super::flags::OrgArgs;

/// The mapping named, or the org folder's `mapping.json` when it has one.
pub fn mapping_path(given: Option<&Path>, org_dir: Option<&Path>) -> Option<PathBuf> {
    match (given, org_dir) {
        (Some(path), _) => Some(path.to_path_buf()),
        (None, Some(dir)) => Some(dir.join("mapping.json")).filter(|p| p.is_file()),
        (None, None) => Some(PathBuf::from("mapping.json")).filter(|p| p.is_file()),
    }
}

/// The custom fields of the org's qualification fixtures written as contract
/// records (`input.custom`); native CRM records are left out.
fn fixture_fields(dir: &Path) -> Option<Seen> {
    let entries = std::fs::read_dir(dir.join("fixtures")).ok()?;
    let mut seen = Seen {
        source: "the org's fixtures".to_owned(),
        ..Seen::default()
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let Ok(fixture) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        let canonical = fixture.get("format").is_none_or(|f| f == "canonical");
        let input = fixture.get("input");
        if fixture.get("decision").and_then(Value::as_str) != Some("qualify")
            || !canonical
            || input.is_none_or(|i| i.get("id").is_none())
        {
            continue;
        }
        seen.records += 1;
        if let Some(custom) = input
            .and_then(|i| i.get("custom"))
            .and_then(Value::as_object)
        {
            for (name, value) in custom {
                if !value.is_null() {
                    *seen.fields.entry(name.clone()).or_default() += 1;
                }
            }
        }
    }
    Some(seen)
}

/// The custom fields the loaded module declares it reads; `None` when it
/// declares none (older modules do not say).
pub fn module_reads(host: &Host, org: &OrgDir) -> anyhow::Result<Option<Vec<String>>> {
    let loaded = org.load_into(host)?;
    let reads = loaded.info.reads_custom_fields;
    Ok((!reads.is_empty()).then_some(reads))
}

/// Prints findings on stderr, each with the policy file it is in.
pub fn report(policy_name: &str, findings: &[Finding]) {
    for f in findings {
        eprintln!(
            "policy check: {policy_name}: {}",
            crate::shown(&f.to_string())
        );
    }
}

/// Runs the check; exits 1 when it finds anything.
pub fn run(host: &Host, args: &OrgArgs, mapping: Option<&Path>) -> anyhow::Result<ExitCode> {
    let org = super::org::read(args)?;
    let policy_name = org.dir.join(&org.file.policy).display().to_string();
    let policy: Value =
        serde_json::from_str(&org.policy).with_context(|| format!("{policy_name} is not JSON"))?;
    let mapping = match mapping_path(mapping, args.org_dir.as_deref()) {
        Some(path) => {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            Some(Mapping::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?)
        }
        None => None,
    };
    let reads = module_reads(host, &org)?;
    let seen = fixture_fields(&org.dir).filter(|s| s.records > 0);
    let findings = lint::lint(&Subject {
        policy: &policy,
        mapping: mapping.as_ref(),
        reads: reads.as_deref(),
        seen: seen.as_ref(),
    });
    for f in &findings {
        println!("{policy_name}: {}", crate::shown(&f.to_string()));
    }
    if findings.is_empty() {
        println!("{policy_name}: no findings");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("{} findings", findings.len());
        Ok(ExitCode::from(1))
    }
}
