//! A record's requests grouped into as few sends as its CRM allows, each atomic
//! where the CRM has a transaction:
//!
//! - Dataverse: one `$batch` whose requests form one change set (all or none),
//!   each part with its `Content-ID`. A request that needs an earlier response
//!   which a change set cannot reference (`$n` names only the URI of an entity
//!   created by an earlier part; QualifyLead answers with a collection) starts a
//!   second `$batch`, sent once the first has answered.
//! - Salesforce: REST requests in one `/composite` with `allOrNone: true`, later
//!   ones referring to earlier ones by `@{referenceId.field}`; past the 25
//!   subrequests a composite holds, one `/composite/graph` (all or none, with
//!   references, up to 500 nodes). A SOAP call
//!   (`convertLead`) cannot be a composite subrequest: it is its own send, in
//!   order, and a composite after it names what it needs from its result.
//! - HubSpot: no transaction spans requests. Plain creates of one object type
//!   become one `batch/create` per 100 inputs; the rest are sent in order, idempotent through
//!   the org's unique property.
//!
//! A send whose requests need a response from an earlier send lists those
//! references in `needs`; the client fills them before sending it.

use serde_json::{json, Value};

use super::request::{Api, Body, Method, Request};
use super::{Format, Vocabulary};

/// Groups `requests` (one record's, in order) into sends. `name` is unique to the
/// record and decision and makes the batch boundaries (deterministic, so a
/// retried run sends the same bytes).
pub fn bundle(vocab: &Vocabulary, requests: &[Request], name: &str) -> Vec<Request> {
    match vocab.format {
        Format::Dataverse => dataverse(vocab, requests, name),
        Format::Salesforce => salesforce(vocab, requests),
        Format::Hubspot => hubspot(vocab, requests),
        Format::Canonical => requests.to_vec(),
    }
}

/// The reference names of `requests`.
fn names(requests: &[Request]) -> Vec<&str> {
    requests.iter().map(|r| r.reference.as_str()).collect()
}

/// Whether `request` needs the response of any of `earlier`.
fn needs_any(request: &Request, earlier: &[Request]) -> bool {
    let names = names(earlier);
    request.needs().iter().any(|need| {
        need.split_once('.')
            .is_some_and(|(name, _)| names.contains(&name))
    })
}

// ---- Dataverse ----------------------------------------------------------------

fn dataverse(vocab: &Vocabulary, requests: &[Request], name: &str) -> Vec<Request> {
    let mut units: Vec<Vec<Request>> = Vec::new();
    for request in requests {
        match units.last_mut() {
            Some(unit) if !needs_any(request, unit) => unit.push(request.clone()),
            _ => units.push(vec![request.clone()]),
        }
    }
    let base = format!("/api/data/{}", vocab.api_version);
    let several = units.len() > 1;
    units
        .into_iter()
        .enumerate()
        .map(|(i, unit)| {
            let suffix = if several {
                format!("{name}_{}", i + 1)
            } else {
                name.to_owned()
            };
            let reference = if several {
                format!("batch_{}", i + 1)
            } else {
                "batch".to_owned()
            };
            Request {
                reference,
                api: Api::Rest,
                method: Method::Post,
                path: format!("{base}/$batch"),
                headers: [
                    ("Accept", "application/json".to_owned()),
                    (
                        "Content-Type",
                        format!("multipart/mixed; boundary=\"batch_{suffix}\""),
                    ),
                    ("OData-MaxVersion", "4.0".to_owned()),
                    ("OData-Version", "4.0".to_owned()),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
                body: Some(Body::Text(change_set(&unit, &suffix))),
            }
        })
        .collect()
}

/// A `$batch` body holding `requests` as one change set (execute-batch-operations-
/// using-web-api.md: parts of `Content-Type: application/http` with
/// `Content-Transfer-Encoding: binary` and a `Content-ID`; lines end in CRLF as
/// multipart bodies do).
fn change_set(requests: &[Request], name: &str) -> String {
    let mut out = String::new();
    let mut line = |text: &str| {
        out.push_str(text);
        out.push_str("\r\n");
    };
    line(&format!("--batch_{name}"));
    line(&format!(
        "Content-Type: multipart/mixed; boundary=\"changeset_{name}\""
    ));
    line("");
    for (i, request) in requests.iter().enumerate() {
        line(&format!("--changeset_{name}"));
        line("Content-Type: application/http");
        line("Content-Transfer-Encoding: binary");
        line(&format!("Content-ID: {}", i + 1));
        line("");
        line(&format!(
            "{} {} HTTP/1.1",
            request.method.as_str(),
            request.path
        ));
        if request.body.is_some() {
            let entry = if request.method == Method::Post {
                "application/json; type=entry"
            } else {
                "application/json"
            };
            line(&format!("Content-Type: {entry}"));
        }
        for (header, value) in &request.headers {
            line(&format!("{header}: {value}"));
        }
        line("");
        match &request.body {
            Some(Body::Json(v)) => line(&v.to_string()),
            Some(Body::Text(t)) => line(t),
            None => {}
        }
    }
    line(&format!("--changeset_{name}--"));
    line(&format!("--batch_{name}--"));
    out
}

// ---- Salesforce ---------------------------------------------------------------

/// Subrequests one composite may hold (REST API, Composite: "up to 25").
const COMPOSITE_LIMIT: usize = 25;

/// Nodes one composite graph may hold (REST API, Composite Graph: "up to 500").
const GRAPH_LIMIT: usize = 500;

fn salesforce(vocab: &Vocabulary, requests: &[Request]) -> Vec<Request> {
    let mut sends = Vec::new();
    let mut run: Vec<Request> = Vec::new();
    let mut composites = 0;
    // More than a composite holds goes as one composite graph: cutting a
    // composite into several would lose `allOrNone` across them and the
    // references from one into an earlier one, which a graph keeps (all its
    // nodes succeed or none, and they refer to each other).
    let mut flush = |run: &mut Vec<Request>, sends: &mut Vec<Request>| {
        if run.is_empty() {
            return;
        }
        let send = if run.len() <= COMPOSITE_LIMIT {
            composite(vocab, run, composites)
        } else {
            graph(vocab, run, composites)
        };
        sends.push(send);
        composites += 1;
        run.clear();
    };
    for request in requests {
        match request.api {
            Api::Soap(_) => {
                flush(&mut run, &mut sends);
                sends.push(request.clone());
            }
            Api::Rest => run.push(request.clone()),
        }
    }
    flush(&mut run, &mut sends);
    sends
}

/// A composite graph of `requests`: one graph per 500 nodes (a record's decision
/// comes nowhere near; past it, each graph is all or none on its own).
fn graph(vocab: &Vocabulary, requests: &[Request], index: usize) -> Request {
    let graphs: Vec<Value> = requests
        .chunks(GRAPH_LIMIT)
        .enumerate()
        .map(|(i, nodes)| {
            json!({ "graphId": format!("graph_{}", i + 1), "compositeRequest": subrequests(nodes) })
        })
        .collect();
    Request::rest(
        if index == 0 {
            "graph".to_owned()
        } else {
            format!("graph_{}", index + 1)
        },
        Method::Post,
        format!("/services/data/{}/composite/graph", vocab.api_version),
        json!({ "graphs": graphs }),
    )
}

fn composite(vocab: &Vocabulary, requests: &[Request], index: usize) -> Request {
    Request::rest(
        if index == 0 {
            "composite".to_owned()
        } else {
            format!("composite_{}", index + 1)
        },
        Method::Post,
        format!("/services/data/{}/composite", vocab.api_version),
        json!({ "allOrNone": true, "compositeRequest": subrequests(requests) }),
    )
}

fn subrequests(requests: &[Request]) -> Vec<Value> {
    requests
        .iter()
        .map(|r| {
            let mut sub = json!({
                "method": r.method.as_str(),
                "url": r.path,
                "referenceId": r.reference,
            });
            if let Some(body) = r.json() {
                sub["body"] = body.clone();
            }
            if !r.headers.is_empty() {
                sub["httpHeaders"] = json!(r.headers);
            }
            sub
        })
        .collect()
}

// ---- HubSpot ------------------------------------------------------------------

/// Inputs one HubSpot batch call may hold.
const BATCH_LIMIT: usize = 100;

fn hubspot(vocab: &Vocabulary, requests: &[Request]) -> Vec<Request> {
    let objects = vocab.objects_path();
    // A plain create: `POST {objects}/{type}`, which no later request refers to.
    let plain_create = |i: usize, r: &Request| -> Option<String> {
        let object = r.path.strip_prefix(objects)?.strip_prefix('/')?;
        let referred = requests[i + 1..]
            .iter()
            .any(|later| needs_any(later, std::slice::from_ref(r)));
        (r.method == Method::Post && !object.contains('/') && !referred && r.needs().is_empty())
            .then(|| object.to_owned())
    };
    let mut sends: Vec<Request> = Vec::new();
    let mut i = 0;
    while i < requests.len() {
        let Some(object) = plain_create(i, &requests[i]) else {
            sends.push(requests[i].clone());
            i += 1;
            continue;
        };
        let mut inputs = Vec::new();
        let mut j = i;
        while j < requests.len() && plain_create(j, &requests[j]).as_deref() == Some(&object) {
            inputs.extend(requests[j].json().cloned());
            j += 1;
        }
        // A batch call takes at most 100 inputs (CRM objects, batch create).
        for (n, chunk) in inputs.chunks(BATCH_LIMIT).enumerate() {
            let reference = if n == 0 {
                format!("{}_batch", requests[i].reference)
            } else {
                format!("{}_batch_{}", requests[i].reference, n + 1)
            };
            sends.push(Request::rest(
                reference,
                Method::Post,
                format!("{objects}/{object}/batch/create"),
                json!({ "inputs": chunk }),
            ));
        }
        i = j;
    }
    sends
}
