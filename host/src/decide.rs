//! One entry point for every decision, from JSON input to JSON output: what the
//! command-line program and the fixture runner share.
//!
//! Records may be canonical or native CRM records (see [`crate::crm`]); the format
//! is detected per record unless one is forced.

use std::collections::HashMap;

use crm_rules_model::{
    Candidate, Context, ConversionPlan, Forecast, Lead, Opportunity, Qualification, TransitionCheck,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::crm::write::{self, Decision};
use crate::crm::{
    detect, Format, Native, ObjectType, Origin, ReadError, Reader, Request as NativeRequest,
    Vocabularies,
};
use crate::error::{Error, Result};
use crate::input::{typed, Record};
use crate::registry::{Decided, Host, Provenance};

/// Which decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum DecisionKind {
    /// Qualify a lead (input: a lead).
    Qualify,
    /// Plan a lead's conversion (input: `{"lead": ..., "candidates": [...]}`).
    Convert,
    /// Check a stage move (input: `{"opportunity": ..., "to": "Propose"}`).
    Transition,
    /// Forecast an opportunity (input: an opportunity).
    Forecast,
    /// List the org's stages (no input).
    Stages,
}

/// The input of a conversion.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConvertInput {
    /// The lead.
    pub lead: Lead,
    /// Existing records that may match it.
    #[serde(default)]
    pub candidates: Vec<Candidate>,
}

/// The input of a transition check.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransitionInput {
    /// The opportunity.
    pub opportunity: Opportunity,
    /// The stage it should move to.
    pub to: String,
}

/// How records are read.
#[derive(Debug, Clone, Copy)]
pub struct Reading<'a> {
    /// The format of every record; `None` detects it per record.
    pub format: Option<Format>,
    /// The org's CRM vocabularies.
    pub vocabularies: &'a Vocabularies,
    /// Transitions: the stage to move to, for records that do not say.
    pub to: Option<&'a str>,
    /// Also turn each decision into native CRM actions.
    pub native_actions: bool,
    /// Native records: keep only these custom fields (what the org's module reads,
    /// [`crate::LoadedModule`]`.info.reads_custom_fields`); `None` keeps all.
    pub keep_custom: Option<&'a std::collections::HashSet<String>>,
}

/// A record read into the contract's types.
#[derive(Debug, Clone)]
pub enum Request {
    /// Qualify a lead.
    Qualify(Lead),
    /// Plan a conversion.
    Convert(Lead, Vec<Candidate>),
    /// Check a move to a stage.
    Transition(Opportunity, String),
    /// Forecast.
    Forecast(Opportunity),
    /// List the stages.
    Stages,
}

fn json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value)
        .unwrap_or_else(|e| serde_json::json!({ "unserialisable": e.to_string() }))
}

fn made<T: Serialize>(decided: Decided<T>) -> (Value, Provenance) {
    (json(&decided.value), decided.by)
}

/// Where a record is, for error messages.
#[derive(Debug, Clone, Copy)]
pub struct Place<'a> {
    /// The input's name (a file, `stdin`).
    pub source_name: &'a str,
    /// The record's 1-based position.
    pub position: usize,
    /// JSON path of the record inside its input value (`records[3]`).
    pub at: &'a str,
}

impl Place<'_> {
    /// An input error of this record, at `inner` + the error's path.
    pub fn error(&self, id: Option<&str>, inner: &str, e: ReadError) -> Error {
        let path = [self.at, inner, &e.path]
            .into_iter()
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join(".");
        Error::Input {
            source_name: self.source_name.to_owned(),
            position: match id {
                Some(id) => format!("{} (`{id}`)", self.position),
                None => self.position.to_string(),
            },
            path: (!path.is_empty()).then_some(path),
            message: e.message,
        }
    }
}

/// An input error with `prefix` put before its JSON path (unchanged when empty).
fn under(prefix: &str, e: Error) -> Error {
    match e {
        Error::Input {
            source_name,
            position,
            path,
            message,
        } if !prefix.is_empty() => Error::Input {
            source_name,
            position,
            path: Some(match path {
                Some(p) => format!("{prefix}.{p}"),
                None => prefix.to_owned(),
            }),
            message,
        },
        other => other,
    }
}

fn today(ctx: &Context) -> chrono::NaiveDate {
    ctx.now.date_naive()
}

fn format_of(reading: &Reading<'_>, value: &Value) -> Format {
    reading.format.unwrap_or_else(|| detect(value))
}

/// Reads one native record of `object` kind into the contract.
fn read_native<T>(
    reader: &Reader<'_>,
    place: &Place<'_>,
    inner: &str,
    format: Format,
    value: &Value,
    read: impl FnOnce(&Reader<'_>, &Native<'_>) -> std::result::Result<T, ReadError>,
) -> Result<T> {
    read_native_as(reader, place, inner, format, value, None, read)
}

/// [`read_native`] of a record whose type the decision tells (a HubSpot object
/// does not say what it is).
fn read_native_as<T>(
    reader: &Reader<'_>,
    place: &Place<'_>,
    inner: &str,
    format: Format,
    value: &Value,
    object: Option<ObjectType>,
    read: impl FnOnce(&Reader<'_>, &Native<'_>) -> std::result::Result<T, ReadError>,
) -> Result<T> {
    let native =
        Native::parse_as(format, value, object).map_err(|e| place.error(None, inner, e))?;
    read(reader, &native).map_err(|e| place.error(native.id.as_deref(), inner, e))
}

/// Reads a record (canonical or native) into a request. `attached` are activities
/// from other records of the input that belong to this opportunity.
pub fn read(
    kind: DecisionKind,
    reading: &Reading<'_>,
    ctx: &Context,
    place: Place<'_>,
    input: &Value,
    attached: &[(Place<'_>, Value)],
) -> Result<(Format, Request)> {
    let Place {
        source_name,
        position,
        at,
    } = place;
    let reader = Reader {
        vocabularies: reading.vocabularies,
        today: today(ctx),
        keep_custom: reading.keep_custom,
    };
    let canonical_error = |e: Error| under(at, e);
    match kind {
        DecisionKind::Stages => Ok((Format::Canonical, Request::Stages)),
        DecisionKind::Qualify => {
            let format = format_of(reading, input);
            if format == Format::Canonical {
                let lead = typed(source_name, position, input).map_err(canonical_error)?;
                return Ok((format, Request::Qualify(lead)));
            }
            let lead = read_native_as(
                &reader,
                &place,
                "",
                format,
                input,
                target_object(kind),
                |r, n| r.lead(n),
            )?;
            Ok((format, Request::Qualify(lead)))
        }
        DecisionKind::Convert => {
            let (lead_value, candidates, inner) = match input.get("lead") {
                Some(lead) => (lead, input.get("candidates"), "lead"),
                None => (input, None, ""),
            };
            let format = format_of(reading, lead_value);
            if format == Format::Canonical
                && !inner.is_empty()
                && candidates.is_none_or(|c| {
                    c.as_array()
                        .is_some_and(|c| c.iter().all(|x| detect(x) == Format::Canonical))
                })
            {
                let input: ConvertInput =
                    typed(source_name, position, input).map_err(canonical_error)?;
                return Ok((format, Request::Convert(input.lead, input.candidates)));
            }
            let lead = if format == Format::Canonical {
                typed(source_name, position, lead_value).map_err(canonical_error)?
            } else {
                read_native_as(
                    &reader,
                    &place,
                    inner,
                    format,
                    lead_value,
                    target_object(kind),
                    |r, n| r.lead(n),
                )?
            };
            if let Some(object) = input.as_object().filter(|_| !inner.is_empty()) {
                if let Some(extra) = object.keys().find(|k| *k != "lead" && *k != "candidates") {
                    return Err(place.error(
                        Some(&lead.id),
                        "",
                        ReadError::new(
                            extra.clone(),
                            "unknown key (expected `lead` and `candidates`)",
                        ),
                    ));
                }
            }
            let mut read_candidates = Vec::new();
            if let Some(list) = candidates {
                let Some(list) = list.as_array() else {
                    return Err(place.error(
                        Some(&lead.id),
                        "",
                        ReadError::new("candidates", "expected an array"),
                    ));
                };
                for (i, candidate) in list.iter().enumerate() {
                    let inner = format!("candidates[{i}]");
                    let candidate_format = detect(candidate);
                    if candidate_format == Format::Canonical {
                        let c: Candidate = typed(source_name, position, candidate)
                            .map_err(|e| under(&inner, e))?;
                        read_candidates.push(c);
                    } else {
                        read_candidates.push(read_native(
                            &reader,
                            &place,
                            &inner,
                            candidate_format,
                            candidate,
                            |r, n| r.candidate(n),
                        )?);
                    }
                }
            }
            Ok((format, Request::Convert(lead, read_candidates)))
        }
        DecisionKind::Transition => {
            // `{"opportunity": ..., "to": ...}`, or a bare native opportunity (--to).
            let (value, to, inner) = match input.get("opportunity") {
                Some(opportunity) => (
                    opportunity,
                    input.get("to").and_then(|t| t.as_str()),
                    "opportunity",
                ),
                None => (input, None, ""),
            };
            let format = format_of(reading, value);
            if format == Format::Canonical {
                let input: TransitionInput =
                    typed(source_name, position, input).map_err(canonical_error)?;
                return Ok((format, Request::Transition(input.opportunity, input.to)));
            }
            let to = to.or(reading.to).map(str::to_owned);
            let opportunity = read_native_as(
                &reader,
                &place,
                inner,
                format,
                value,
                target_object(kind),
                |r, n| r.opportunity(n, Vec::new()),
            )?;
            let Some(to) = to else {
                return Err(place.error(
                    Some(&opportunity.id),
                    "",
                    ReadError::new(
                        "to",
                        "no stage to move to: give `{\"opportunity\": ..., \"to\": ...}` or --to",
                    ),
                ));
            };
            Ok((format, Request::Transition(opportunity, to)))
        }
        DecisionKind::Forecast => {
            let format = format_of(reading, input);
            if format == Format::Canonical {
                let opportunity = typed(source_name, position, input).map_err(canonical_error)?;
                return Ok((format, Request::Forecast(opportunity)));
            }
            let native = Native::parse(format, input).map_err(|e| place.error(None, "", e))?;
            let id = native.id.clone();
            let mut opportunity = reader
                .opportunity(&native, Vec::new())
                .map_err(|e| place.error(id.as_deref(), "", e))?;
            for (activity_place, value) in attached {
                let activity_native =
                    Native::parse(format, value).map_err(|e| activity_place.error(None, "", e))?;
                let activity = reader
                    .activity(&activity_native, Some(&opportunity.stage))
                    .map_err(|e| {
                        let inner = activity_place.error(activity_native.id.as_deref(), "", e);
                        place.error(
                            id.as_deref(),
                            "",
                            ReadError::new("", format!("its activity at {inner}")),
                        )
                    })?;
                opportunity.activities.push(activity);
            }
            Ok((format, Request::Forecast(opportunity)))
        }
    }
}

/// Runs a request through the org's module.
pub fn run(host: &Host, ctx: &Context, request: &Request) -> Result<(Value, Provenance)> {
    match request {
        Request::Qualify(lead) => Ok(made(host.qualify(ctx, lead)?)),
        Request::Convert(lead, candidates) => Ok(made(host.convert(ctx, lead, candidates)?)),
        Request::Transition(opportunity, to) => {
            Ok(made(host.check_transition(ctx, opportunity, to)?))
        }
        Request::Forecast(opportunity) => Ok(made(host.forecast(ctx, opportunity)?)),
        Request::Stages => Ok(made(host.stages(ctx)?)),
    }
}

/// Decides one record given as JSON, returning the decision as JSON and the
/// module version that made it.
pub fn decide(
    host: &Host,
    ctx: &Context,
    kind: DecisionKind,
    reading: &Reading<'_>,
    source_name: &str,
    position: usize,
    input: &Value,
) -> Result<(Value, Provenance)> {
    let (_, request) = read(
        kind,
        reading,
        ctx,
        Place {
            source_name,
            position,
            at: "",
        },
        input,
        &[],
    )?;
    run(host, ctx, &request)
}

/// The native record a decision is written back to: the record itself, or the
/// `lead` / `opportunity` of a wrapper.
fn target(kind: DecisionKind, input: &Value) -> &Value {
    let key = match kind {
        DecisionKind::Convert => "lead",
        DecisionKind::Transition => "opportunity",
        _ => return input,
    };
    input.get(key).unwrap_or(input)
}

/// What the record a decision is about is: a lead for qualify and convert, an
/// opportunity for transition; a forecast's input mixes opportunities and
/// activities, so its records say for themselves.
fn target_object(kind: DecisionKind) -> Option<ObjectType> {
    match kind {
        DecisionKind::Qualify | DecisionKind::Convert => Some(ObjectType::Lead),
        DecisionKind::Transition => Some(ObjectType::Opportunity),
        DecisionKind::Forecast | DecisionKind::Stages => None,
    }
}

/// The native requests that apply `decision` to `input`'s CRM record; `origin`
/// (org and module version) is what their idempotency keys derive from.
pub fn native_actions(
    kind: DecisionKind,
    reading: &Reading<'_>,
    format: Format,
    request: &Request,
    input: &Value,
    decision: &Value,
    origin: &Origin<'_>,
) -> std::result::Result<Vec<NativeRequest>, String> {
    let Some(vocab) = reading.vocabularies.get(format) else {
        return Err(crate::crm::WriteError::Canonical.to_string());
    };
    let native = Native::parse_as(format, target(kind, input), target_object(kind))
        .map_err(|e| e.to_string())?;
    let parse_err = |e: serde_json::Error| format!("the decision cannot be read back: {e}");
    let written = match (kind, request) {
        (DecisionKind::Qualify, _) => {
            let q: Qualification = serde_json::from_value(decision.clone()).map_err(parse_err)?;
            write::actions(vocab, &native, Decision::Qualify(&q), origin)
        }
        (DecisionKind::Convert, _) => {
            let plan: ConversionPlan =
                serde_json::from_value(decision.clone()).map_err(parse_err)?;
            write::actions(vocab, &native, Decision::Convert(&plan), origin)
        }
        (DecisionKind::Transition, Request::Transition(_, to)) => {
            let check: TransitionCheck =
                serde_json::from_value(decision.clone()).map_err(parse_err)?;
            write::actions(
                vocab,
                &native,
                Decision::Transition { check: &check, to },
                origin,
            )
        }
        (DecisionKind::Forecast, _) => {
            let f: Forecast = serde_json::from_value(decision.clone()).map_err(parse_err)?;
            write::actions(vocab, &native, Decision::Forecast(&f), origin)
        }
        _ => Ok(Vec::new()),
    };
    written.map_err(|e| e.to_string())
}

/// The answer for one record of many.
pub struct Answer {
    /// 1-based position in the input.
    pub position: usize,
    /// The record's id, when it has one.
    pub id: Option<String>,
    /// The record's format.
    pub format: Option<Format>,
    /// The decision, or the error for this record alone.
    pub result: Result<Value>,
    /// The module version that decided, when one did.
    pub by: Option<Provenance>,
    /// The native requests, when asked for and a decision was made.
    pub actions: Option<std::result::Result<Vec<NativeRequest>, String>>,
    /// The record as given (`null` when it could not be read).
    pub input: Value,
}

/// Activities given as records of their own in a forecast input, by the id of the
/// opportunity they belong to. Returns them and the positions they took.
fn attachments(reading: &Reading<'_>, records: &[Record<Value>]) -> HashMap<String, Vec<usize>> {
    let mut opportunities = std::collections::HashSet::new();
    let mut activities = Vec::new();
    for (i, record) in records.iter().enumerate() {
        let Ok(value) = &record.value else { continue };
        let format = format_of(reading, value);
        if format == Format::Canonical {
            continue;
        }
        let Ok(native) = Native::parse(format, value) else {
            continue;
        };
        match native.object {
            ObjectType::Opportunity => {
                opportunities.extend(native.id.clone());
            }
            ObjectType::Activity => activities.push((i, native.parents.clone())),
            _ => {}
        }
    }
    let mut attached: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, parents) in activities {
        if let Some(parent) = parents.into_iter().find(|p| opportunities.contains(p)) {
            attached.entry(parent).or_default().push(i);
        }
    }
    attached
}

/// In a forecast, a native activity that no opportunity of the input took: says so.
fn lone_activity(
    kind: DecisionKind,
    format: Option<Format>,
    input: &Value,
    place: Place<'_>,
) -> Option<Error> {
    let format = format.filter(|f| kind == DecisionKind::Forecast && *f != Format::Canonical)?;
    let native = Native::parse(format, input).ok()?;
    if native.object != ObjectType::Activity {
        return None;
    }
    let parents = if native.parents.is_empty() {
        "no record".to_owned()
    } else {
        native.parents.join(", ")
    };
    Some(place.error(
        native.id.as_deref(),
        "",
        ReadError::new(
            "",
            format!("this activity belongs to {parents}, and no opportunity with that id is in the input"),
        ),
    ))
}

fn record_id_of(kind: DecisionKind, value: &Value, format: Format) -> Option<String> {
    if format == Format::Canonical {
        return record_id(kind, value);
    }
    Native::parse(format, target(kind, value))
        .ok()
        .and_then(|n| n.id)
}

/// Decides many records; leads go to the module in one batch call. In a forecast,
/// native activity records are attached to the opportunity of the same input they
/// belong to (by `WhatId`, `_regardingobjectid_value` or a deal association) and
/// get no answer of their own; an activity whose opportunity is not in the input
/// is an error.
pub fn decide_all(
    host: &Host,
    ctx: &Context,
    kind: DecisionKind,
    reading: &Reading<'_>,
    source_name: &str,
    mut records: Vec<Record<Value>>,
) -> Vec<Answer> {
    let attached = if kind == DecisionKind::Forecast {
        attachments(reading, &records)
    } else {
        HashMap::new()
    };
    let taken: std::collections::HashSet<usize> = attached.values().flatten().copied().collect();
    let mut answers: Vec<Answer> = Vec::with_capacity(records.len());
    let mut requests: Vec<Option<Request>> = Vec::with_capacity(records.len());
    for i in 0..records.len() {
        if taken.contains(&i) {
            continue;
        }
        let value = std::mem::replace(&mut records[i].value, Ok(Value::Null));
        let record = &records[i];
        let (input, read_result) = match value {
            Ok(value) => (value, Ok(())),
            Err(e) => (Value::Null, Err(e)),
        };
        let read_result = read_result.map(|()| &input);
        let format = read_result.as_ref().ok().map(|v| format_of(reading, v));
        // A forecast looks up the activities attached to the record by its id.
        let attached_id = match (kind, format) {
            (DecisionKind::Forecast, Some(f)) if !attached.is_empty() => {
                record_id_of(kind, &input, f)
            }
            _ => None,
        };
        let result = read_result.and_then(|value| {
            let mut own: Vec<(Place<'_>, Value)> = Vec::new();
            if let Some(list) = attached_id.as_ref().and_then(|id| attached.get(id)) {
                for &j in list {
                    if let Ok(v) = &records[j].value {
                        own.push((
                            Place {
                                source_name,
                                position: records[j].position,
                                at: &records[j].at,
                            },
                            v.clone(),
                        ));
                    }
                }
            }
            read(
                kind,
                reading,
                ctx,
                Place {
                    source_name,
                    position: record.position,
                    at: &record.at,
                },
                value,
                &own,
            )
        });
        // A native activity alone in a forecast: its opportunity is not in the input.
        let result = result.map_err(|e| {
            lone_activity(
                kind,
                format,
                &input,
                Place {
                    source_name,
                    position: record.position,
                    at: &record.at,
                },
            )
            .unwrap_or(e)
        });
        // The format of the record read, not of its `{"lead": ...}` wrapper.
        let (result, request, format) = match result {
            Ok((read_format, request)) => (Ok(Value::Null), Some(request), Some(read_format)),
            Err(e) => (Err(e), None, format),
        };
        // The id: from the record read, else (it could not be read) from its JSON.
        let id = match &request {
            Some(Request::Qualify(lead)) | Some(Request::Convert(lead, _)) => Some(lead.id.clone()),
            Some(Request::Transition(o, _)) | Some(Request::Forecast(o)) => Some(o.id.clone()),
            _ => format.and_then(|f| record_id_of(kind, &input, f)),
        };
        answers.push(Answer {
            position: record.position,
            id,
            format,
            result,
            by: None,
            actions: None,
            input,
        });
        requests.push(request);
    }
    // Leads go in one batch; the rest one by one.
    let mut leads = Vec::new();
    let mut slots = Vec::new();
    for (slot, request) in requests.iter().enumerate() {
        match request {
            Some(Request::Qualify(lead)) => {
                slots.push(slot);
                leads.push(lead.clone());
            }
            Some(other) => {
                let answer = &mut answers[slot];
                match run(host, ctx, other) {
                    Ok((decision, by)) => {
                        answer.result = Ok(decision);
                        answer.by = Some(by);
                    }
                    Err(e) => answer.result = Err(e),
                }
            }
            None => {}
        }
    }
    if !leads.is_empty() {
        let mut place = |slot: usize, decision: Result<Decided<Qualification>>| {
            let answer = &mut answers[slot];
            match decision {
                Ok(decided) => {
                    let (value, by) = made(decided);
                    answer.result = Ok(value);
                    answer.by = Some(by);
                }
                Err(e) => answer.result = Err(e),
            }
        };
        match host.qualify_batch(ctx, &leads) {
            Ok(decisions) => {
                for (slot, decision) in slots.into_iter().zip(decisions) {
                    place(slot, decision);
                }
            }
            // A fault of the batch as a whole (a trap, say): decide each lead alone so
            // that one bad lead does not take the others with it.
            Err(_) => {
                for (slot, lead) in slots.into_iter().zip(&leads) {
                    place(slot, host.qualify(ctx, lead));
                }
            }
        }
    }
    if reading.native_actions {
        for (answer, request) in answers.iter_mut().zip(&requests) {
            if let (Ok(decision), Some(request), Some(format), Some(by)) =
                (&answer.result, request, answer.format, &answer.by)
            {
                let origin = Origin {
                    org: &by.org,
                    module: &by.version,
                };
                answer.actions = Some(native_actions(
                    kind,
                    reading,
                    format,
                    request,
                    &answer.input,
                    decision,
                    &origin,
                ));
            }
        }
    }
    answers
}

/// The id of a record given as JSON, for output lines.
pub fn record_id(kind: DecisionKind, input: &Value) -> Option<String> {
    let holder = match kind {
        DecisionKind::Convert => input.get("lead"),
        DecisionKind::Transition => input.get("opportunity"),
        _ => Some(input),
    };
    holder
        .and_then(|h| h.get("id"))
        .and_then(|id| id.as_str())
        .map(str::to_owned)
}
