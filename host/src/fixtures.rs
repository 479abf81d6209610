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
use serde_json::value::RawValue;

use crate::crm::{Format, Vocabularies};
use crate::decision::Kind;
use crate::org::OrgDir;
use crate::pipeline::{native_actions, RawRecord, Reading};
use crate::registry::Host;
use crate::render::Renderer;

/// One fixture file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    /// What the fixture shows, for people.
    #[serde(default)]
    pub description: String,
    /// Which decision.
    pub decision: Kind,
    /// The decision time.
    pub now: DateTime<Utc>,
    /// The acting user.
    #[serde(default)]
    pub user: Option<String>,
    /// The acting team.
    #[serde(default)]
    pub team: Option<String>,
    /// The input record, as written.
    #[serde(default)]
    pub input: Option<Box<RawValue>>,
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

/// What a fixture's record came to: the decision (or error) as JSON, and the
/// native actions when the fixture asks for them.
struct Actual {
    decision: crate::Result<serde_json::Value>,
    native: Option<Result<serde_json::Value, String>>,
}

/// Decides a fixture's record the way the program does: read by the pipeline,
/// decided by the org's active module, rendered.
fn decide(
    host: &Host,
    org_id: &str,
    vocabularies: &Vocabularies,
    name: &str,
    fixture: &Fixture,
) -> Actual {
    let ctx = Context {
        org_id: org_id.to_owned(),
        now: fixture.now,
        user: fixture.user.clone(),
        team: fixture.team.clone(),
    };
    if fixture.decision == Kind::Stages {
        return Actual {
            decision: host
                .stages(org_id)
                .map(|stages| serde_json::to_value(stages).unwrap_or_default()),
            native: None,
        };
    }
    let reading = Reading {
        kind: fixture.decision,
        format: fixture.format,
        vocabularies,
        to: None,
        keep_custom: None,
        today: fixture.now.date_naive(),
    };
    let text = fixture.input.as_deref().map_or("null", RawValue::get);
    let records = [RawRecord {
        position: 1,
        value: Ok(text),
        object: None,
        at: String::new(),
        context: None,
    }];
    let mut jobs = reading.jobs(name, &records);
    let Some(job) = jobs.pop() else {
        return Actual {
            decision: Err(crate::Error::Internal(
                "the fixture has no record".to_owned(),
            )),
            native: None,
        };
    };
    let input = match &job.input {
        Ok(input) => input,
        Err(e) => {
            return Actual {
                decision: Err(crate::Error::Input {
                    source_name: name.to_owned(),
                    position: Some(1),
                    record: None,
                    path: match e {
                        crate::Error::Input { path, .. } => path.clone(),
                        _ => None,
                    },
                    message: match e {
                        crate::Error::Input { message, .. } => message.clone(),
                        other => other.to_string(),
                    },
                }),
                native: None,
            }
        }
    };
    match host.decide(&ctx, input.as_ref()) {
        Ok(decided) => {
            let rendered = Renderer::new(&decided.facts, input.as_ref()).answer(&decided.value);
            let native = fixture.expect_native.as_ref().map(|_| {
                // A fixed module label: expected idempotency keys must not change
                // each time the module is rebuilt.
                let origin = crate::crm::Origin {
                    org: org_id,
                    module: "fixture",
                };
                native_actions(
                    vocabularies,
                    &job,
                    input.as_ref(),
                    &rendered,
                    &origin,
                    false,
                )
                .map(serde_json::Value::from)
            });
            Actual {
                decision: Ok(serde_json::to_value(&rendered).unwrap_or_default()),
                native,
            }
        }
        Err(e) => Actual {
            decision: Err(e),
            native: None,
        },
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
    let name = path.display().to_string();
    let Actual {
        decision: actual,
        native,
    } = decide(host, org_id, vocabularies, &name, &fixture);
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
