//! The decision routes: `POST /v1/orgs/{org}/qualify|convert|transition|forecast`
//! and `GET /v1/orgs/{org}/stages|module`.
//!
//! A body is what the program reads from a file (one record, a JSON array, JSON
//! lines; canonical or a CRM's own format) and the answer is what the program
//! prints: one line per record, in input order, through the same pipeline, with
//! the same error objects and positions. Each line also names the version that
//! decided it (`by`).
//!
//! The status says how the request went as a whole: a body of one record answers
//! with that record's fate (400 unreadable, 422 refused or stopped, 503 when its
//! module ran out of time); a batch answers 200 with an error line per failed
//! record, and `crm-rules-failed` counts them.

use std::collections::HashSet;
use std::io::Cursor;
use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SubsecRound as _, Utc};
use crm_rules::crm::Format;
use crm_rules::decision::Kind;
use crm_rules::model::Context;
use crm_rules::pipeline::{self, Emit, Failure, Opened, Output, Pipeline, Reading, Records};
use crm_rules::{Host, TrapKind};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::content::Expected;
use super::error::ApiError;
use super::lanes::{Behaviour, Lane};
use super::openapi::schemas::{self, ErrorBody};
use super::orgs::ServedOrg;
use super::service::Service;

/// The input's name in the service's log messages.
const SOURCE_NAME: &str = "request";

/// Below this many records a batch is decided on one thread: splitting it would
/// cost more than it saves.
const PARALLEL_RECORDS: usize = 64;

/// What each answer line holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EmitParam {
    /// The decision.
    #[default]
    Decision,
    /// The native CRM requests that apply the decision.
    Native,
    /// Both.
    Both,
}

/// How to read the records and what to answer.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DecideQuery {
    /// The records' CRM format (`canonical`, `dataverse`, `salesforce`,
    /// `hubspot`); default: detected per record.
    format: Option<String>,
    /// What each line holds.
    #[param(inline)]
    emit: Option<EmitParam>,
    /// With native actions: group each record's requests into atomic sends.
    #[serde(default)]
    bundle: bool,
    /// One indented JSON document per record.
    #[serde(default)]
    pretty: bool,
    /// The decision time (RFC 3339, from 1970-01-01T00:00:00Z to
    /// 2999-12-31T23:59:59Z); default: the time of the request, to the second.
    #[param(value_type = Option<String>, format = DateTime)]
    now: Option<DateTime<Utc>>,
    /// The acting user.
    user: Option<String>,
    /// The acting team.
    team: Option<String>,
    /// Transitions: the stage to move to, for records that do not say.
    to: Option<String>,
}

/// The request's reading and writing, checked.
struct Params {
    format: Option<Format>,
    emit: Emit,
    to: Option<String>,
}

impl Params {
    fn of(query: DecideQuery) -> Result<(Params, Context), ApiError> {
        let format = query
            .format
            .as_deref()
            .map(str::parse::<Format>)
            .transpose()
            .map_err(ApiError::bad_input)?;
        let emit = query.emit.unwrap_or_default();
        let params = Params {
            format,
            emit: Emit {
                decision: emit != EmitParam::Native,
                native: emit != EmitParam::Decision,
                provenance: true,
                bundle: query.bundle,
                pretty: query.pretty,
            },
            to: query.to,
        };
        if let Some(now) = query.now {
            check_now(now)?;
        }
        let ctx = Context {
            org_id: String::new(),
            now: query.now.unwrap_or_else(|| Utc::now().trunc_subsecs(0)),
            user: query.user,
            team: query.team,
        };
        Ok((params, ctx))
    }
}

/// The earliest and latest decision time taken (`?now=`): rules add days and
/// years to it, and a date past year 9999 has no RFC 3339 form.
const EARLIEST: &str = "1970-01-01T00:00:00Z";
const LATEST: &str = "2999-12-31T23:59:59Z";

fn check_now(now: DateTime<Utc>) -> Result<(), ApiError> {
    let bound = |text: &str| DateTime::parse_from_rfc3339(text).map(|t| t.with_timezone(&Utc));
    match (bound(EARLIEST), bound(LATEST)) {
        (Ok(earliest), Ok(latest)) if (earliest..=latest).contains(&now) => Ok(()),
        _ => Err(ApiError::bad_input(format!(
            "now: {} is out of range; the decision time must be from {EARLIEST} to {LATEST}",
            now.to_rfc3339()
        ))),
    }
}

/// One request's records, ready to be decided on any thread.
struct Job {
    host: Arc<Host>,
    org: Arc<ServedOrg>,
    kind: Kind,
    ctx: Context,
    params: Params,
    body: Bytes,
    keep_custom: Arc<HashSet<String>>,
    audit: bool,
}

/// What deciding a body gave.
struct Ran {
    output: Output,
    /// The body was one record (not an array, not several lines).
    single: bool,
    /// That one record is not JSON.
    unreadable: bool,
}

impl Job {
    /// Reads and decides the body on this thread, splitting a large batch over
    /// `threads` threads.
    fn run(&self, threads: usize) -> Result<Ran, ApiError> {
        let pipeline = Pipeline {
            decider: &*self.host,
            ctx: &self.ctx,
            reading: Reading {
                kind: self.kind,
                format: self.params.format,
                vocabularies: &self.org.vocabularies,
                to: self.params.to.as_deref(),
                keep_custom: Some(&self.keep_custom),
                today: self.ctx.now.date_naive(),
            },
            emit: self.params.emit,
            audit: self.audit.then_some(&self.org.audit),
            source_name: SOURCE_NAME,
        };
        // A body of one line (the usual single record) is that one line, as the
        // program reads it; this skips looking at the line twice.
        if let Some(line) = one_line(&self.body) {
            let lines = [pipeline::Line {
                number: 1,
                text: Ok(line.to_owned()),
            }];
            let records = Records::of_lines(&lines, 1);
            return decide(&pipeline, &records, true, 1);
        }
        // Read as the program reads a file: JSON lines when the first line is a
        // whole object, else the body whole.
        let opened = pipeline::open(
            Cursor::new(&self.body[..]),
            pipeline::source::DEFAULT_MAX_RECORD_BYTES,
        )
        .map_err(|e| ApiError::bad_input(e.to_string()))?;
        let splittable = self.kind != Kind::Forecast && threads > 1;
        match opened {
            Opened::Lines(mut chunks) => {
                let lines = chunks
                    .next_chunk(usize::MAX)
                    .map_err(|e| ApiError::bad_input(e.to_string()))?;
                if splittable && lines.len() >= PARALLEL_RECORDS {
                    let output = pipeline
                        .run_lines(&lines, 1, threads)
                        .map_err(|e| ApiError::from_host(&e))?;
                    return Ok(Ran {
                        output,
                        single: false,
                        unreadable: false,
                    });
                }
                let records = Records::of_lines(&lines, 1);
                decide(&pipeline, &records, lines.len() == 1, 1)
            }
            Opened::Whole(text) => {
                let records = Records::of_text(&text).map_err(ApiError::bad_input)?;
                let array = text.trim_start().starts_with('[');
                let threads = if splittable { threads } else { 1 };
                decide(&pipeline, &records, !array, threads)
            }
        }
    }
}

/// The body's text when it is one object on one line (its line end aside; as
/// the program splits lines, so messages point at the same columns), under the
/// program's limit of a record.
fn one_line(body: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(body).ok()?;
    let text = text
        .strip_suffix('\n')
        .map_or(text, |t| t.strip_suffix('\r').unwrap_or(t));
    let one = text.trim_start().starts_with('{')
        && !text.contains('\n')
        && text.len() <= pipeline::source::DEFAULT_MAX_RECORD_BYTES;
    one.then_some(text)
}

fn decide(
    pipeline: &Pipeline<'_>,
    records: &Records<'_>,
    one_value: bool,
    threads: usize,
) -> Result<Ran, ApiError> {
    let single = one_value && records.records.len() == 1;
    let unreadable = single && records.records[0].value.is_err();
    let threads = if records.records.len() >= PARALLEL_RECORDS {
        threads
    } else {
        1
    };
    let output = pipeline
        .run_split(records, threads)
        .map_err(|e| ApiError::from_host(&e))?;
    Ok(Ran {
        output,
        single,
        unreadable,
    })
}

/// A module that ran away (fuel, deadline, memory) while deciding.
fn ran_away(error: &crm_rules::Error) -> bool {
    matches!(
        error.trap_kind(),
        Some(TrapKind::OutOfFuel | TrapKind::Timeout | TrapKind::MemoryLimit)
    )
}

/// The status of a body of one record that failed, by its error.
fn single_status(unreadable: bool, failures: &[Failure]) -> (StatusCode, Option<u32>) {
    if unreadable {
        return (StatusCode::BAD_REQUEST, None);
    }
    match failures.first().map(|f| &f.error) {
        Some(e) if e.trap_kind() == Some(TrapKind::Timeout) => {
            (StatusCode::SERVICE_UNAVAILABLE, Some(1))
        }
        Some(e) if e.code() == "host" => (StatusCode::INTERNAL_SERVER_ERROR, None),
        _ => (StatusCode::UNPROCESSABLE_ENTITY, None),
    }
}

/// The lines as one JSON array, for a client that asked for `application/json`.
fn as_array(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 2);
    out.push(b'[');
    let values =
        serde_json::Deserializer::from_slice(text).into_iter::<&serde_json::value::RawValue>();
    for (i, value) in values.filter_map(Result::ok).enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(value.get().as_bytes());
    }
    out.extend_from_slice(b"]\n");
    out
}

fn wants_array(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json") && !v.contains("ndjson"))
}

/// Decides a request's body for an org.
async fn decide_request(
    service: Arc<Service>,
    kind: Kind,
    org: String,
    query: Result<Query<DecideQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let caller = service.caller(&headers)?;
    let served = service.org(&caller, &org)?;
    let Query(query) = query.map_err(|e| ApiError::bad_input(e.body_text()))?;
    let body = service
        .body(
            &headers,
            body,
            service.settings.max_body_bytes,
            Expected::Records,
        )
        .await?;
    let key_id = caller.key_id.clone();
    decide_body(
        service,
        kind,
        served,
        org,
        query,
        &headers,
        body,
        started,
        key_id.as_deref(),
    )
    .await
}

/// Decides a body already read, for an org whose caller is already checked
/// (the decision routes, and the events route once an event is read).
#[allow(clippy::too_many_arguments)]
pub(super) async fn decide_body(
    service: Arc<Service>,
    kind: Kind,
    served: Arc<ServedOrg>,
    org: String,
    query: DecideQuery,
    headers: &HeaderMap,
    body: Bytes,
    started: Instant,
    key_id: Option<&str>,
) -> Result<Response, ApiError> {
    let (params, mut ctx) = Params::of(query)?;
    ctx.org_id = org;
    let facts = service
        .host
        .facts(&served.id)
        .map_err(|e| ApiError::from_host(&e))?;
    let job = Job {
        host: service.host.clone(),
        org: served.clone(),
        kind,
        ctx: ctx.clone(),
        params,
        keep_custom: served.keep_custom(facts),
        audit: service.audit.is_some(),
        body,
    };
    let lane = service.lanes.lane(&served.conduct, job.body.len());
    let ran = match lane {
        Lane::Inline => job.run(1),
        lane => {
            let threads = service.settings.batch_threads;
            service
                .lanes
                .off_task(lane, &served.conduct, move || job.run(threads))
                .await?
        }
    }?;
    let mut output = ran.output;
    let fuel: u64 = output.calls.iter().map(|c| c.fuel_used).sum();
    served.conduct.observe(
        &served.id,
        &service.lanes.clock,
        &Behaviour {
            fuel,
            records: output.decided + output.failed,
            ran_away: output.failures.iter().any(|f| ran_away(&f.error)),
        },
    );
    if let Some(writer) = &service.audit {
        if !output.audit.is_empty() {
            let items = std::mem::take(&mut output.audit);
            writer
                .write(kind, ctx, served.audit.clone(), items, key_id)
                .await?;
        }
    }
    served.meters.record(
        kind,
        output.decided,
        output.failed,
        started.elapsed().as_secs_f64(),
        fuel,
    );
    for failure in &output.failures {
        service
            .metrics
            .error(&served.id, kind, failure.error.code());
        tracing::debug!("org `{}`: {}", served.id, failure.error);
    }
    let (status, retry_after) = if ran.single && output.failed > 0 {
        single_status(ran.unreadable, &output.failures)
    } else {
        (StatusCode::OK, None)
    };
    let (content_type, text) = if ran.single {
        ("application/json", output.text)
    } else if wants_array(headers) {
        ("application/json", as_array(&output.text))
    } else {
        ("application/x-ndjson", output.text)
    };
    let mut response = (status, text).into_response();
    let answer = response.headers_mut();
    answer.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    answer.insert("crm-rules-decided", HeaderValue::from(output.decided));
    answer.insert("crm-rules-failed", HeaderValue::from(output.failed));
    let mut versions: Vec<&str> = Vec::new();
    for call in &output.calls {
        if !versions.contains(&call.version.as_str()) {
            versions.push(&call.version);
        }
    }
    if let Ok(value) = HeaderValue::from_str(&versions.join(", ")) {
        if !versions.is_empty() {
            answer.insert("crm-rules-version", value);
        }
    }
    if let Some(secs) = retry_after {
        answer.insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    Ok(response)
}

/// A decision handler's answer: the lines, or the refusal.
fn respond(result: Result<Response, ApiError>) -> Response {
    result.unwrap_or_else(IntoResponse::into_response)
}

macro_rules! decision_route {
    ($name:ident, $kind:expr, $path:literal, $summary:literal, $input:literal, $body:ty, $answer:ty) => {
        #[doc = $summary]
        #[utoipa::path(
            post,
            path = $path,
            tag = "decisions",
            summary = $summary,
            description = concat!(
                "Input: ", $input, ". The body is one record (a JSON object), a JSON array of records, \
                 or JSON lines, in the canonical format or a CRM's own (Dataverse, Salesforce, HubSpot; \
                 detected per record, or `?format=`). The answer has one line per record, in input \
                 order: `application/json` for a body of one record, JSON lines otherwise (a JSON array \
                 with `Accept: application/json`). A batch answers 200 with an error line per failed \
                 record (`crm-rules-failed` counts them); a body of one record answers with that \
                 record's status."),
            params(
                ("org" = String, Path, description = "The org id (its org.json `org_id`)."),
                DecideQuery
            ),
            request_body(
                description = "One record, an array of records, or JSON lines.",
                content(
                    ($body = "application/json"),
                    (String = "application/x-ndjson")
                )
            ),
            responses(
                (status = 200, description = "Every record answered: decided, or an error line of its own (batches).",
                 content(
                    ($answer = "application/json"),
                    (String = "application/x-ndjson")
                 ),
                 headers(
                    ("crm-rules-version" = String, description = "The module version(s) that decided."),
                    ("crm-rules-decided" = u64, description = "Records decided."),
                    ("crm-rules-failed" = u64, description = "Records answered with an error line.")
                 )),
                (status = 400, description = "The body is not JSON records (or one record that is not JSON), or a query parameter is wrong.", body = ErrorBody),
                (status = 401, description = "No valid API key.", body = ErrorBody),
                (status = 403, description = "The key does not reach this org.", body = ErrorBody),
                (status = 404, description = "No such org is served.", body = ErrorBody),
                (status = 408, description = "The body arrived too slowly.", body = ErrorBody),
                (status = 413, description = "The body is over the size limit (after gzip decoding).", body = ErrorBody),
                (status = 415, description = "The body's `Content-Type` is not JSON (JSON lines, `+json`), or its `Content-Encoding` is not `gzip` (code `unsupported_media_type`).", body = ErrorBody),
                (status = 422, description = "The one record was refused by the rules, could not be read as a record, or stopped its module; `error` says why, beside the record's `position` and `id`.", body = ErrorBody),
                (status = 500, description = "The service failed on this request (code `host`, or `audit` when the decisions could not be audited).", body = ErrorBody),
                (status = 503, description = "The service (or this org) is full, or the deadline passed; retry after `Retry-After` seconds.", body = ErrorBody)
            ),
            security(("api_key" = []))
        )]
        pub async fn $name(
            State(service): State<Arc<Service>>,
            Path(org): Path<String>,
            query: Result<Query<DecideQuery>, QueryRejection>,
            headers: HeaderMap,
            body: Body,
        ) -> Response {
            respond(decide_request(service, $kind, org, query, headers, body).await)
        }
    };
}

decision_route!(
    qualify,
    Kind::Qualify,
    "/v1/orgs/{org}/qualify",
    "Qualify leads",
    "leads",
    schemas::QualifyBody,
    schemas::QualifyAnswer
);
decision_route!(
    convert,
    Kind::Convert,
    "/v1/orgs/{org}/convert",
    "Plan lead conversions",
    "records of `{\"lead\": ..., \"candidates\": [...]}`",
    schemas::ConvertBody,
    schemas::ConvertAnswer
);
decision_route!(
    transition,
    Kind::Transition,
    "/v1/orgs/{org}/transition",
    "Check stage moves",
    "records of `{\"opportunity\": ..., \"to\": \"Propose\"}`, or native opportunities with `?to=`",
    schemas::TransitionBody,
    schemas::TransitionAnswer
);
decision_route!(
    forecast,
    Kind::Forecast,
    "/v1/orgs/{org}/forecast",
    "Forecast opportunities",
    "opportunities with their activities",
    schemas::ForecastBody,
    schemas::ForecastAnswer
);

/// Whether to indent a JSON answer.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PrettyQuery {
    /// Indent the JSON.
    #[serde(default)]
    pretty: bool,
}

fn json_answer(value: &impl serde::Serialize, pretty: bool) -> Response {
    let text = if pretty {
        serde_json::to_vec_pretty(value)
    } else {
        serde_json::to_vec(value)
    };
    match text {
        Ok(mut text) => {
            text.push(b'\n');
            ([(header::CONTENT_TYPE, "application/json")], text).into_response()
        }
        Err(e) => {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "host", e.to_string()).into_response()
        }
    }
}

/// The org's stages and their steps
#[utoipa::path(
    get,
    path = "/v1/orgs/{org}/stages",
    tag = "decisions",
    params(("org" = String, Path, description = "The org id."), PrettyQuery),
    responses(
        (status = 200, description = "The stages, in order, as the active module declares them (what `crm-rules stages` prints).", body = Vec<crm_rules_model::Stage>),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)
    ),
    security(("api_key" = []))
)]
pub async fn stages(
    State(service): State<Arc<Service>>,
    Path(org): Path<String>,
    query: Result<Query<PrettyQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    respond((|| {
        let caller = service.caller(&headers)?;
        let served = service.org(&caller, &org)?;
        let Query(query) = query.map_err(|e| ApiError::bad_input(e.body_text()))?;
        let stages = service
            .host
            .stages(&served.id)
            .map_err(|e| ApiError::from_host(&e))?;
        Ok(json_answer(&stages, query.pretty))
    })())
}

/// The org's active module
#[utoipa::path(
    get,
    path = "/v1/orgs/{org}/module",
    tag = "decisions",
    params(("org" = String, Path, description = "The org id."), PrettyQuery),
    responses(
        (status = 200, description = "The active module: hash, version, contract, what it reads (what `crm-rules info` prints).", body = schemas::ModuleDoc),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)
    ),
    security(("api_key" = []))
)]
pub async fn module(
    State(service): State<Arc<Service>>,
    Path(org): Path<String>,
    query: Result<Query<PrettyQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    respond((|| {
        let caller = service.caller(&headers)?;
        let served = service.org(&caller, &org)?;
        let Query(query) = query.map_err(|e| ApiError::bad_input(e.body_text()))?;
        let module = service
            .host
            .module(&served.id)
            .map_err(|e| ApiError::from_host(&e))?;
        Ok(json_answer(&module, query.pretty))
    })())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(error: crm_rules::Error) -> Failure {
        Failure { position: 1, error }
    }

    fn trap(kind: TrapKind) -> crm_rules::Error {
        crm_rules::Error::Trap {
            org: "o".to_owned(),
            record: None,
            kind,
            message: "m".to_owned(),
            source: None,
        }
    }

    #[test]
    fn a_single_record_answers_by_its_typed_error() {
        assert_eq!(
            single_status(false, &[failure(trap(TrapKind::Timeout))]),
            (StatusCode::SERVICE_UNAVAILABLE, Some(1))
        );
        assert_eq!(
            single_status(false, &[failure(trap(TrapKind::OutOfFuel))]),
            (StatusCode::UNPROCESSABLE_ENTITY, None)
        );
        assert_eq!(
            single_status(
                false,
                &[failure(crm_rules::Error::Internal("x".to_owned()))]
            ),
            (StatusCode::INTERNAL_SERVER_ERROR, None)
        );
        assert_eq!(single_status(true, &[]), (StatusCode::BAD_REQUEST, None));
        assert!(ran_away(&trap(TrapKind::MemoryLimit)));
        assert!(!ran_away(&trap(TrapKind::Trap)));
    }

    #[test]
    fn lines_become_one_array_even_when_pretty() {
        let text = b"{\"a\": 1}\n{\n  \"b\": [1, 2]\n}\n";
        let array: serde_json::Value = serde_json::from_slice(&as_array(text)).unwrap();
        assert_eq!(array, serde_json::json!([{"a": 1}, {"b": [1, 2]}]));
    }
}
