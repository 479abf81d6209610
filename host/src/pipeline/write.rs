//! A decided job into its output line: the rendered decision, the native requests
//! that apply it in its CRM, or the error that names the record and field; and,
//! when the run audits, the entry for the audit log.

use serde::Serialize;
use serde_json::Value;

use super::{Failure, Job, Output, Pipeline};
use crate::audit::AuditPolicy;
use crate::crm::{bundle, request, write as native_write, Format, MorePages, Origin, Vocabularies};
use crate::decision::{Answer, InputRef};
use crate::error::{Error, ErrorJson, Result};
use crate::registry::{Decided, Provenance};
use crate::render::{Rendered, Renderer};

/// What each output line holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Emit {
    /// The decision.
    pub decision: bool,
    /// The native CRM requests that apply the decision.
    pub native: bool,
    /// Which module version decided (its label and hash).
    pub provenance: bool,
    /// Group each record's native requests into atomic sends (a Dataverse
    /// `$batch` change set, a Salesforce composite, HubSpot batch endpoints).
    pub bundle: bool,
    /// One JSON document per record, indented.
    pub pretty: bool,
}

impl Default for Emit {
    fn default() -> Self {
        Emit {
            decision: true,
            native: false,
            provenance: false,
            bundle: false,
            pretty: false,
        }
    }
}

/// An audit entry prepared by the thread that decided the record: appended, in
/// input order, by the one writer of the log.
#[derive(Debug)]
pub struct AuditItem {
    /// The record's id.
    pub record: Option<String>,
    /// The record's position.
    pub position: usize,
    /// The record as given (`null` when it could not be read).
    pub input: Value,
    /// The module version that decided.
    pub by: Option<Provenance>,
    /// The decision (masked where its arguments quote personal fields), or the
    /// error.
    pub result: std::result::Result<Value, Value>,
}

#[derive(Serialize)]
struct By<'a> {
    version: &'a str,
    module_hash: &'a str,
}

#[derive(Serialize)]
struct LineOut<'a> {
    position: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    format: Option<Format>,
    #[serde(skip_serializing_if = "Option::is_none")]
    by: Option<By<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    decision: Option<&'a Rendered>,
    #[serde(skip_serializing_if = "Option::is_none")]
    actions: Option<&'a [Value]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<LineError<'a>>,
}

#[derive(Serialize)]
#[serde(untagged)]
enum LineError<'a> {
    Decision(ErrorJson<'a>),
    /// Only the native requests failed: `code` and `kind` are both `native`, so
    /// every error on a line (and in the service's answers) has a code.
    Native {
        code: &'static str,
        kind: &'static str,
        message: &'a str,
    },
}

/// The native requests that apply a decision to the CRM record it was read from;
/// `origin` (org and module version) is what their idempotency keys derive from.
/// With `bundled`, a record's requests are grouped into atomic sends.
pub fn native_actions(
    vocabularies: &Vocabularies,
    job: &Job<'_>,
    input: InputRef<'_>,
    rendered: &Rendered,
    origin: &Origin<'_>,
    bundled: bool,
) -> std::result::Result<Vec<Value>, String> {
    let (Some(native), Some(format)) = (&job.native, job.format) else {
        return Err(
            "the record is canonical: native actions need a record in a CRM's format".to_owned(),
        );
    };
    let vocab = vocabularies
        .get(format)
        .ok_or_else(|| format!("this org has no {format} vocabulary to write the decision with"))?;
    let decision = match (rendered, input) {
        (Rendered::Qualify(q), _) => native_write::Decision::Qualify(q),
        (Rendered::Convert(plan), _) => native_write::Decision::Convert(plan),
        (Rendered::Transition(check), InputRef::Transition { to, .. }) => {
            native_write::Decision::Transition { check, to }
        }
        (Rendered::Forecast(f), _) => native_write::Decision::Forecast(f),
        (Rendered::Transition(_), _) => {
            return Err("a transition answer for another decision".to_owned())
        }
    };
    let requests =
        native_write::actions(vocab, native, decision, origin).map_err(|e| e.to_string())?;
    let requests = if bundled {
        // Named after the record and decision so a retried run sends the same
        // batch boundaries.
        let name = request::idempotency_key(
            origin,
            job.id.as_deref().unwrap_or_default(),
            input.kind().as_str(),
            "bundle",
        );
        bundle::bundle(vocab, &requests, &name)
    } else {
        requests
    };
    Ok(requests.iter().map(|r| r.to_json()).collect())
}

fn write_line(pipeline: &Pipeline<'_>, line: &LineOut<'_>, out: &mut Vec<u8>) {
    let written = if pipeline.emit.pretty {
        serde_json::to_writer_pretty(&mut *out, line)
    } else {
        serde_json::to_writer(&mut *out, line)
    };
    if written.is_err() {
        // Serialising these types cannot fail; keep the line count right anyway.
        out.extend_from_slice(b"{}");
    }
    out.push(b'\n');
}

/// The record as given, for the audit log (its digest and what to mask).
fn audit_input(job: &Job<'_>) -> Value {
    job.text
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or(Value::Null)
}

#[derive(Serialize)]
struct Notice<'a> {
    notice: &'static str,
    format: Format,
    after: usize,
    next: &'a str,
}

/// Writes the notice line that an input was one page of a longer result.
pub(super) fn notice(pipeline: &Pipeline<'_>, more: &MorePages, output: &mut Output) {
    let line = Notice {
        notice: "more_pages",
        format: more.format,
        after: more.after,
        next: &more.next,
    };
    if serde_json::to_writer(&mut output.text, &line).is_ok() {
        output.text.push(b'\n');
    }
    output.warnings.push(format!(
        "{}: the input is one page of a {} result; the records after position {} were not \
         read (next page: {})",
        pipeline.source_name,
        more.format,
        more.after,
        if more.next.is_empty() {
            "not given"
        } else {
            &more.next
        }
    ));
    output.more.push(more.clone());
}

#[derive(Serialize)]
struct RelatedNotice<'a> {
    notice: &'static str,
    format: Format,
    position: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    path: &'a str,
    next: &'a str,
}

/// Writes a notice line for each embedded related collection of the job's
/// record that was one page of more: the decision saw only that page.
fn related_notices(pipeline: &Pipeline<'_>, job: &Job<'_>, output: &mut Output) {
    let Some(native) = &job.native else { return };
    for more in &native.more_related {
        let line = RelatedNotice {
            notice: "more_related",
            format: native.format,
            position: job.position,
            id: job.id.as_deref(),
            path: &more.path,
            next: &more.next,
        };
        if serde_json::to_writer(&mut output.text, &line).is_ok() {
            output.text.push(b'\n');
        }
        output.warnings.push(format!(
            "{}: record {} (position {}): `{}` holds one page of its related records; the rest \
             were not read (next page: {})",
            pipeline.source_name,
            job.id.as_deref().unwrap_or("without id"),
            job.position,
            more.path,
            if more.next.is_empty() {
                "not given"
            } else {
                &more.next
            }
        ));
    }
}

/// Writes one job's line (and audit entry) into `output`, then the notices of
/// related records it did not all come with.
pub(super) fn record(
    pipeline: &Pipeline<'_>,
    job: &Job<'_>,
    answer: Option<Result<Decided<Answer>>>,
    output: &mut Output,
) {
    record_line(pipeline, job, answer, output);
    related_notices(pipeline, job, output);
}

fn record_line(
    pipeline: &Pipeline<'_>,
    job: &Job<'_>,
    answer: Option<Result<Decided<Answer>>>,
    output: &mut Output,
) {
    let result: Result<Decided<Answer>> = match (&job.input, answer) {
        (Err(e), _) => Err(clone_input_error(e)),
        (Ok(_), Some(answer)) => answer,
        (Ok(_), None) => Err(Error::Internal("the record was not decided".to_owned())),
    };
    let id = job.id.as_deref();
    let format = job.format.filter(|f| *f != Format::Canonical);
    match result {
        Ok(decided) => {
            let input = match &job.input {
                Ok(input) => input.as_ref(),
                Err(_) => return,
            };
            let renderer = Renderer::new(&decided.facts, input);
            let rendered = renderer.answer(&decided.value);
            let actions = pipeline.emit.native.then(|| {
                let origin = Origin {
                    org: &decided.by.org,
                    module: &decided.by.version,
                };
                native_actions(
                    pipeline.reading.vocabularies,
                    job,
                    input,
                    &rendered,
                    &origin,
                    pipeline.emit.bundle,
                )
            });
            let native_error = match &actions {
                Some(Err(message)) => Some(message.as_str()),
                _ => None,
            };
            let line = LineOut {
                position: job.position,
                id,
                format,
                by: pipeline.emit.provenance.then(|| By {
                    version: &decided.by.version,
                    module_hash: &decided.by.module_hash,
                }),
                // The decision stays on the line when its actions cannot be made.
                decision: (pipeline.emit.decision || native_error.is_some()).then_some(&rendered),
                actions: match &actions {
                    Some(Ok(actions)) => Some(actions.as_slice()),
                    _ => None,
                },
                error: native_error.map(|message| LineError::Native {
                    code: "native",
                    kind: "native",
                    message,
                }),
            };
            write_line(pipeline, &line, &mut output.text);
            if let Some(message) = native_error {
                output.failed += 1;
                output.failures.push(Failure {
                    position: job.position,
                    error: Error::Native {
                        source_name: pipeline.source_name.to_owned(),
                        position: Some(job.position),
                        record: id.map(str::to_owned),
                        message: message.to_owned(),
                    },
                });
            } else {
                output.decided += 1;
            }
            if let Some(policy) = pipeline.audit {
                output.audit.push(AuditItem {
                    record: id.map(str::to_owned),
                    position: job.position,
                    input: audit_input(job),
                    by: Some((*decided.by).clone()),
                    result: Ok(masked(&decided, input, policy)),
                });
            }
        }
        Err(error) => {
            let error = located(error, pipeline.source_name, job.position);
            let line = LineOut {
                position: job.position,
                id,
                format,
                by: None,
                decision: None,
                actions: None,
                error: Some(LineError::Decision(error.as_json())),
            };
            write_line(pipeline, &line, &mut output.text);
            output.failed += 1;
            if pipeline.audit.is_some() {
                output.audit.push(AuditItem {
                    record: id.map(str::to_owned),
                    position: job.position,
                    input: audit_input(job),
                    by: None,
                    result: Err(error.to_json()),
                });
            }
            output.failures.push(Failure {
                position: job.position,
                error,
            });
        }
    }
}

/// The decision as the audit log keeps it: rendered with personal values masked
/// where a template quotes them.
fn masked(decided: &Decided<Answer>, input: InputRef<'_>, policy: &AuditPolicy) -> Value {
    let personal = |field: &str| policy.is_personal(field);
    let renderer = Renderer::new(&decided.facts, input).masking(&personal);
    serde_json::to_value(renderer.answer(&decided.value)).unwrap_or(Value::Null)
}

/// Input errors name their input and position when they are written.
fn located(error: Error, source_name: &str, position: usize) -> Error {
    match error {
        Error::Input {
            source_name: s,
            position: None,
            record,
            path,
            message,
        } if s.is_empty() => Error::Input {
            source_name: source_name.to_owned(),
            position: Some(position),
            record,
            path,
            message,
        },
        other => other,
    }
}

/// A job's reading error again, for its line (the job keeps its own).
fn clone_input_error(e: &Error) -> Error {
    match e {
        Error::Input {
            source_name,
            position,
            record,
            path,
            message,
        } => Error::Input {
            source_name: source_name.clone(),
            position: *position,
            record: record.clone(),
            path: path.clone(),
            message: message.clone(),
        },
        other => Error::Internal(other.to_string()),
    }
}
