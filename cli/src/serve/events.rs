//! `POST /v1/orgs/{org}/events/{crm}`: what a CRM pushes when a record changes,
//! decided where it arrives. The event is read by the library
//! (`crm_rules::crm::events`); its whole records go through the decision route's
//! own path (`decide::decide_body`), and the answer lists, after their lines,
//! one line per change that could not be decided (the fields to fetch, or a
//! removed record).
//!
//! Proof of origin: when the org names the CRM's secret
//! (`crm.<crm>.events.secret_env`), a Dataverse event must carry the webhook key
//! (`?code=`) and a HubSpot batch a valid `X-HubSpot-Signature-v3`; the proof
//! then stands for the API key, which a CRM's webhook cannot send. Otherwise the
//! route takes the API key like every other.
//!
//! A Salesforce Outbound Message is answered with the documented `Ack` (as XML,
//! unless the caller asks for JSON), so that Salesforce stops resending it.

use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use crm_rules::crm::events::{self, dataverse, hubspot, salesforce, Prepared, Source};
use crm_rules::crm::{Format, ObjectType, Vocabulary};
use crm_rules::decision::Kind;
use serde::Deserialize;

use super::content::Expected;
use super::decide::{decide_body, DecideQuery};
use super::error::ApiError;
use super::orgs::ServedOrg;
use super::service::Service;

/// The route's own parameters; the rest are the decision routes'.
#[derive(Debug, Default, Deserialize)]
struct EventQuery {
    /// `qualify`, `convert`, `transition` or `forecast`; default: `qualify` for
    /// leads (HubSpot contacts), `forecast` for opportunities (deals).
    decision: Option<String>,
    /// Dataverse WebhookKey authentication's key.
    code: Option<String>,
}

const OWN_PARAMETERS: [&str; 2] = ["decision", "code"];

/// Decide a CRM's event
#[utoipa::path(
    post,
    path = "/v1/orgs/{org}/events/{crm}",
    tag = "decisions",
    summary = "Decide a CRM's event",
    description = "A Dataverse RemoteExecutionContext (webhook or Service Bus), a Salesforce Change \
        Data Capture event or Outbound Message (SOAP), or a HubSpot webhook batch. Records the event \
        carries whole are decided as the decision routes decide them (`?decision=`, default qualify \
        for leads and contacts, forecast for opportunities and deals; the decision routes' \
        parameters apply); each change it carries only in part gets a line naming the fields to \
        fetch. An Outbound Message is answered with its `Ack`. See docs/adapters.md.",
    params(
        ("org" = String, Path, description = "The org id."),
        ("crm" = String, Path, description = "`dataverse`, `salesforce` or `hubspot`."),
        ("decision" = Option<String>, Query, description = "qualify, convert, transition or forecast."),
        ("code" = Option<String>, Query, description = "Dataverse: the webhook key.")
    ),
    request_body(description = "The event as the CRM sends it.", content(
        (serde_json::Value = "application/json"), (String = "text/xml"))),
    responses(
        (status = 200, description = "Decision lines, then a line per change not decided (JSON lines); an Outbound Message's Ack."),
        (status = 400, description = "The body is not an event of this CRM.", body = super::openapi::schemas::ErrorBody),
        (status = 401, description = "No valid API key, webhook key or signature.", body = super::openapi::schemas::ErrorBody),
        (status = 404, description = "No such org or CRM.", body = super::openapi::schemas::ErrorBody)
    ),
    security(("api_key" = []))
)]
pub async fn events(
    State(service): State<Arc<Service>>,
    Path((org, crm)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    receive(service, org, crm, method, uri, headers, body)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

fn crm_format(crm: &str) -> Result<Format, ApiError> {
    match crm.parse::<Format>() {
        Ok(format) if format != Format::Canonical => Ok(format),
        _ => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("`{crm}` is not a CRM whose events are read (dataverse, salesforce, hubspot)"),
        )),
    }
}

fn unauthorized(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
}

/// The secret an org names for a CRM's events, read from its environment
/// variable; `None` when the org names none.
fn secret(vocab: &Vocabulary) -> Result<Option<String>, ApiError> {
    let Some(name) = &vocab.events.secret_env else {
        return Ok(None);
    };
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => Ok(Some(value)),
        _ => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "missing_secret",
            format!(
                "crm.{}.events.secret_env names `{name}`, which is not set in the service's \
                 environment",
                vocab.format
            ),
        )),
    }
}

/// The org, once the request proves it may reach it: by the CRM's own proof
/// when the org names a secret, else by API key; with the id of the key that
/// asked, for the audit log (none when the CRM's own proof admitted it).
fn admitted(
    service: &Service,
    org: &str,
    format: Format,
    proof: &Proof<'_>,
) -> Result<(Arc<ServedOrg>, Option<Arc<str>>), ApiError> {
    let served = service.orgs.get(org);
    let vocab = served.as_ref().and_then(|s| s.vocabularies.get(format));
    let secret = match vocab {
        Some(vocab) => secret(vocab)?,
        None => None,
    };
    let Some(secret) = secret else {
        let caller = service.caller(proof.headers)?;
        return Ok((service.org(&caller, org)?, caller.key_id));
    };
    let admitted = served.clone().ok_or_else(|| ApiError::unknown_org(org))?;
    match format {
        Format::Dataverse => {
            let given = proof.code.unwrap_or("");
            if !dataverse::key_matches(&secret, given) {
                service.metrics.rejected("unauthorized");
                return Err(unauthorized(
                    "the Dataverse webhook key (`?code=`) is missing or not this org's",
                ));
            }
        }
        Format::Hubspot => {
            let text = |name: &str| proof.headers.get(name).and_then(|v| v.to_str().ok());
            let configured = vocab.and_then(|v| v.events.url.clone());
            let url = configured.unwrap_or_else(|| {
                let scheme = text("x-forwarded-proto").unwrap_or("https");
                let host = text("host").unwrap_or("");
                format!("{scheme}://{host}{}", proof.uri)
            });
            let now = chrono::Utc::now().timestamp_millis();
            hubspot::verify_signature(
                secret.as_bytes(),
                proof.method.as_str(),
                &url,
                proof.body,
                text("x-hubspot-request-timestamp"),
                text("x-hubspot-signature-v3"),
                now,
            )
            .map_err(|e| {
                service.metrics.rejected("unauthorized");
                unauthorized(e.to_string())
            })?;
        }
        // Salesforce signs neither Outbound Messages nor change events for a
        // listener: they come through a client that holds the API key.
        _ => {
            let caller = service.caller(proof.headers)?;
            return Ok((service.org(&caller, org)?, caller.key_id));
        }
    }
    Ok((admitted, None))
}

struct Proof<'r> {
    headers: &'r HeaderMap,
    method: &'r Method,
    uri: &'r Uri,
    body: &'r [u8],
    code: Option<&'r str>,
}

/// The decision for the event's changes: the one asked for, else the one their
/// records call for.
fn decision(
    asked: Option<&str>,
    prepared: &Prepared,
    objects: &[ObjectType],
) -> Result<Kind, ApiError> {
    if let Some(asked) = asked {
        return match asked {
            "qualify" => Ok(Kind::Qualify),
            "convert" => Ok(Kind::Convert),
            "transition" => Ok(Kind::Transition),
            "forecast" => Ok(Kind::Forecast),
            other => Err(ApiError::bad_input(format!(
                "decision: `{other}` is not one (qualify, convert, transition, forecast)"
            ))),
        };
    }
    let opportunities = objects
        .iter()
        .filter(|o| **o == ObjectType::Opportunity)
        .count();
    match opportunities {
        0 => Ok(Kind::Qualify),
        n if n == objects.len() => Ok(Kind::Forecast),
        _ if prepared.records.is_empty() => Ok(Kind::Qualify),
        _ => Err(ApiError::bad_input(
            "the event holds leads and opportunities: say which decision with `?decision=`",
        )),
    }
}

/// The query without this route's own parameters, for the decision routes'.
fn decision_query(uri: &Uri) -> Result<DecideQuery, ApiError> {
    let rest: Vec<&str> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|pair| {
            let name = pair.split('=').next().unwrap_or("");
            !pair.is_empty() && !OWN_PARAMETERS.contains(&name)
        })
        .collect();
    let path = format!("/?{}", rest.join("&"));
    let uri: Uri = path
        .parse()
        .map_err(|_| ApiError::bad_input("the query cannot be read"))?;
    Query::<DecideQuery>::try_from_uri(&uri)
        .map(|Query(q)| q)
        .map_err(|e| ApiError::bad_input(e.body_text()))
}

async fn receive(
    service: Arc<Service>,
    org: String,
    crm: String,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let format = crm_format(&crm)?;
    let Query(own) =
        Query::<EventQuery>::try_from_uri(&uri).map_err(|e| ApiError::bad_input(e.body_text()))?;
    let query = decision_query(&uri)?;
    let body = service
        .body(
            &headers,
            body,
            service.settings.max_body_bytes,
            Expected::Event,
        )
        .await?;
    let (served, key_id) = admitted(
        &service,
        &org,
        format,
        &Proof {
            headers: &headers,
            method: &method,
            uri: &uri,
            body: &body,
            code: own.code.as_deref(),
        },
    )?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::bad_input("the event is not UTF-8 text"))?;
    let (source, changes) =
        events::read_as(format, text).map_err(|e| ApiError::bad_input(e.to_string()))?;
    let objects: Vec<ObjectType> = changes
        .iter()
        .filter(|c| c.record.is_some())
        .map(|c| c.object)
        .collect();
    let prepared = Prepared::new(source, changes, &served.vocabularies);
    let kind = decision(own.decision.as_deref(), &prepared, &objects)?;
    let mut answer_headers = headers.clone();
    // The decisions come back as JSON lines, whatever the CRM sent.
    answer_headers.remove(header::ACCEPT);
    let decided = decide_body(
        service,
        kind,
        served,
        org,
        query,
        &answer_headers,
        Bytes::from(prepared.records_text()),
        started,
        key_id.as_deref(),
    )
    .await?;
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    if source == Source::SalesforceOutboundMessage && !wants_json {
        let mut ack = (StatusCode::OK, salesforce::OUTBOUND_ACK).into_response();
        for name in ["crm-rules-decided", "crm-rules-failed", "crm-rules-version"] {
            if let Some(value) = decided.headers().get(name) {
                ack.headers_mut().insert(name, value.clone());
            }
        }
        ack.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/xml; charset=utf-8"),
        );
        return Ok(ack);
    }
    with_answers(decided, &prepared).await
}

/// The decision lines with a line per change not decided after them, as JSON
/// lines (status 200: each line says how its record went).
async fn with_answers(decided: Response, prepared: &Prepared) -> Result<Response, ApiError> {
    use http_body_util::BodyExt as _;
    let (mut parts, body) = decided.into_parts();
    let mut text = body
        .collect()
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "host", e.to_string()))?
        .to_bytes()
        .to_vec();
    if prepared.records.is_empty() {
        text.clear();
    } else if !text.is_empty() && !text.ends_with(b"\n") {
        text.push(b'\n');
    }
    for answer in &prepared.answers {
        text.extend_from_slice(answer.to_string().as_bytes());
        text.push(b'\n');
    }
    parts.status = StatusCode::OK;
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    Ok(Response::from_parts(parts, Body::from(text)))
}
