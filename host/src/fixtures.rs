//! Fixtures: records in, expected decisions out, one readable JSON file each.
//!
//! ```json
//! {
//!   "description": "Buying signal 6: contract sent, vendor packet received",
//!   "decision": "qualify",
//!   "now": "2026-11-25T09:00:00Z",
//!   "input": { "id": "L-6", "...": "..." },
//!   "expect": { "outcome": "qualified", "...": "..." }
//! }
//! ```
//!
//! `expect` must equal the decision exactly. A fixture that expects a refusal has
//! `expect_error` instead, compared on the keys it names (usually `code` and
//! `field`). The input may be a native CRM record (`format` forces which CRM; it is
//! detected otherwise); `expect_native`, when given, must equal the native actions
//! the decision becomes. With `bless`, each fixture's expectations are rewritten
//! from what the rules decided: review the diff before committing it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use crm_rules_model::Context;
use serde::Deserialize;

use crate::crm::{Format, Vocabularies};
use crate::decide::{native_actions, read, run, DecisionKind, Reading};
use crate::org::OrgDir;
use crate::registry::Host;

/// One fixture file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    /// What the fixture shows, for people.
    #[serde(default)]
    pub description: String,
    /// Which decision.
    pub decision: DecisionKind,
    /// The decision time.
    pub now: DateTime<Utc>,
    /// The acting user.
    #[serde(default)]
    pub user: Option<String>,
    /// The acting team.
    #[serde(default)]
    pub team: Option<String>,
    /// The input record.
    #[serde(default)]
    pub input: serde_json::Value,
    /// The expected decision.
    #[serde(default)]
    pub expect: Option<serde_json::Value>,
    /// The expected error (compared on the keys given).
    #[serde(default)]
    pub expect_error: Option<serde_json::Value>,
    /// The record's format; default: detected.
    #[serde(default)]
    pub format: Option<Format>,
    /// The native CRM actions the decision becomes (checked when given).
    #[serde(default)]
    pub expect_native: Option<serde_json::Value>,
}

/// The outcome of one fixture.
#[derive(Debug)]
pub struct FixtureResult {
    /// The fixture file.
    pub path: PathBuf,
    /// Its description.
    pub description: String,
    /// `None` when it passed; otherwise what differs.
    pub failure: Option<String>,
}

/// Totals of a run.
#[derive(Debug, Default)]
pub struct Summary {
    /// Fixtures that passed.
    pub passed: usize,
    /// Fixtures that failed (including those that could not be read).
    pub failed: usize,
}

fn pretty(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// A unified diff of two JSON values, `-` for expected and `+` for actual.
pub fn json_diff(expected: &serde_json::Value, actual: &serde_json::Value) -> String {
    let (e, a) = (pretty(expected) + "\n", pretty(actual) + "\n");
    let diff = similar::TextDiff::from_lines(&e, &a);
    let mut out = String::new();
    for hunk in diff
        .unified_diff()
        .context_radius(3)
        .header("expected", "actual")
        .iter_hunks()
    {
        let _ = write!(out, "{hunk}");
    }
    out
}

fn subset(expected: &serde_json::Value, actual: &serde_json::Value) -> bool {
    match (expected, actual) {
        (serde_json::Value::Object(e), serde_json::Value::Object(a)) => e
            .iter()
            .all(|(k, v)| a.get(k).is_some_and(|av| subset(v, av))),
        _ => expected == actual,
    }
}

/// Runs one fixture against a loaded org. With `bless`, rewrites its expectation.
pub fn run_fixture(
    host: &Host,
    org_id: &str,
    vocabularies: &Vocabularies,
    path: &Path,
    bless: bool,
) -> FixtureResult {
    let mut result = FixtureResult {
        path: path.to_owned(),
        description: String::new(),
        failure: None,
    };
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => {
            result.failure = Some(format!("cannot read the fixture: {e}"));
            return result;
        }
    };
    let de = &mut serde_json::Deserializer::from_str(&text);
    let fixture: Fixture = match serde_path_to_error::deserialize(de) {
        Ok(f) => f,
        Err(e) => {
            result.failure = Some(format!("not a fixture: at `{}`: {}", e.path(), e.inner()));
            return result;
        }
    };
    result.description = fixture.description.clone();
    let ctx = Context {
        org_id: org_id.to_owned(),
        now: fixture.now,
        user: fixture.user.clone(),
        team: fixture.team.clone(),
    };
    let name = path.display().to_string();
    let reading = Reading {
        format: fixture.format,
        vocabularies,
        to: None,
        native_actions: false,
        keep_custom: None,
    };
    let (actual, request) = match read(
        fixture.decision,
        &reading,
        &ctx,
        crate::decide::Place {
            source_name: &name,
            position: 1,
            at: "",
        },
        &fixture.input,
        &[],
    ) {
        Ok((format, request)) => (
            run(host, &ctx, &request).map(|(decision, _)| decision),
            Some((format, request)),
        ),
        Err(e) => (Err(e), None),
    };
    let native = match (&actual, &request, &fixture.expect_native) {
        (Ok(decision), Some((format, request)), Some(_)) => Some(
            native_actions(
                fixture.decision,
                &reading,
                *format,
                request,
                &fixture.input,
                decision,
                // A fixed module label: expected idempotency keys must not change
                // each time the module is rebuilt.
                &crate::crm::Origin {
                    org: org_id,
                    module: "fixture",
                },
            )
            .map(|requests| requests.iter().map(|r| r.to_json()).collect()),
        ),
        _ => None,
    };
    if bless {
        result.failure = bless_fixture(path, &text, &actual, native.as_ref())
            .err()
            .map(|e| format!("{e:#}"));
        return result;
    }
    if let (Some(expected), Some(native)) = (&fixture.expect_native, &native) {
        match native {
            Ok(actions) if actions == expected => {}
            Ok(actions) => {
                result.failure = Some(format!(
                    "native actions differ:\n{}",
                    json_diff(expected, actions)
                ));
                return result;
            }
            Err(e) => {
                result.failure = Some(format!("no native actions: {e}"));
                return result;
            }
        }
    }
    result.failure = match (&actual, &fixture.expect, &fixture.expect_error) {
        (Ok(actual), Some(expected), _) if actual == expected => None,
        (Ok(actual), Some(expected), _) => Some(json_diff(expected, actual)),
        (Err(error), _, Some(expected)) if subset(expected, &error.to_json()) => None,
        (Err(error), _, Some(expected)) => Some(format!(
            "expected the error\n{}\nbut got\n{}",
            pretty(expected),
            pretty(&error.to_json())
        )),
        (Ok(actual), None, Some(expected)) => Some(format!(
            "expected the error\n{}\nbut got the decision\n{}",
            pretty(expected),
            pretty(actual)
        )),
        (Err(error), Some(_), None) => Some(format!("expected a decision but got: {error}")),
        (_, None, None) => Some("the fixture has neither `expect` nor `expect_error`".into()),
    };
    result
}

fn bless_fixture(
    path: &Path,
    text: &str,
    actual: &crate::Result<serde_json::Value>,
    native: Option<&Result<serde_json::Value, String>>,
) -> anyhow::Result<()> {
    let mut doc: serde_json::Map<String, serde_json::Value> = serde_json::from_str(text)?;
    if let Some(native) = native {
        let actions = native
            .as_ref()
            .map_err(|e| anyhow::anyhow!("no native actions: {e}"))?;
        doc.insert("expect_native".into(), actions.clone());
    }
    match actual {
        Ok(decision) => {
            doc.remove("expect_error");
            doc.insert("expect".into(), decision.clone());
        }
        Err(error) => {
            let mut e = error.to_json();
            if let Some(map) = e.as_object_mut() {
                map.remove("message");
            }
            doc.remove("expect");
            doc.insert("expect_error".into(), e);
        }
    }
    let out = serde_json::to_string_pretty(&doc)? + "\n";
    std::fs::write(path, out).with_context(|| format!("cannot write {}", path.display()))
}

/// Loads the org of `dir` into `host` and runs every fixture of `dir/fixtures`,
/// printing each result (and a diff on a mismatch) to `out`.
pub fn run_org(
    host: &Host,
    dir: &Path,
    bless: bool,
    out: &mut dyn std::io::Write,
) -> anyhow::Result<Summary> {
    let org = OrgDir::read(dir)?;
    org.load_into(host)
        .with_context(|| format!("cannot load the org of {}", dir.display()))?;
    let fixtures_dir = dir.join("fixtures");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&fixtures_dir)
        .with_context(|| format!("cannot read {}", fixtures_dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    let mut summary = Summary::default();
    writeln!(out, "org {} ({})", org.file.org_id, dir.display())?;
    for path in paths {
        let result = run_fixture(host, &org.file.org_id, &org.vocabularies, &path, bless);
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match &result.failure {
            None => {
                summary.passed += 1;
                let verb = if bless { "blessed" } else { "ok" };
                writeln!(out, "  {verb:<7} {name}  {}", result.description)?;
            }
            Some(failure) => {
                summary.failed += 1;
                writeln!(out, "  FAIL    {name}  {}", result.description)?;
                for line in failure.lines() {
                    writeln!(out, "          {line}")?;
                }
            }
        }
    }
    Ok(summary)
}
