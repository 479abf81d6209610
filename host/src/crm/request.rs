//! One native request, typed: what [`write`](super::write) produces and
//! [`bundle`](super::bundle) groups. A request is sent as it is; when it needs an
//! id that only an earlier request's response holds, it says so with
//! `@{reference.field}` (Salesforce's composite notation, used for every CRM),
//! where `reference` is the earlier request's [`Request::reference`].

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::Format;

/// An HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `POST`: create, call an action, send a batch.
    Post,
    /// `PATCH`: update, or upsert where the CRM allows it.
    Patch,
    /// `PUT`: HubSpot associations.
    Put,
}

impl Method {
    /// As written in a request line.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Post => "POST",
            Method::Patch => "PATCH",
            Method::Put => "PUT",
        }
    }
}

/// What a request carries.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// A JSON document.
    Json(Value),
    /// Text sent as it is (a Dataverse `$batch` multipart body).
    Text(String),
}

/// How a request reaches the CRM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Api {
    /// A REST call: `method path` with `headers` and `body`.
    Rest,
    /// A SOAP call of this operation (Salesforce `convertLead`): `body` holds its
    /// arguments as JSON, for the client's SOAP library to put in the envelope.
    Soap(&'static str),
}

/// One request to a CRM, relative to the instance's base URL.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// Names the request within its record's list; later requests refer to its
    /// response as `@{reference.field}`. Letters, digits and `_` only, as
    /// Salesforce's composite `referenceId` requires.
    pub reference: String,
    /// REST or SOAP.
    pub api: Api,
    /// The HTTP method.
    pub method: Method,
    /// The path (with its query), relative to the instance's base URL.
    pub path: String,
    /// Headers the request must carry, beyond authentication and content type.
    pub headers: BTreeMap<String, String>,
    /// The body, when it has one.
    pub body: Option<Body>,
}

impl Request {
    /// A REST request with a JSON body and no extra headers.
    pub fn rest(reference: impl Into<String>, method: Method, path: String, body: Value) -> Self {
        Request {
            reference: reference.into(),
            api: Api::Rest,
            method,
            path,
            headers: BTreeMap::new(),
            body: Some(Body::Json(body)),
        }
    }

    /// The same request sent to `path`.
    pub fn path_to(mut self, path: String) -> Self {
        self.path = path;
        self
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.insert(name.to_owned(), value.into());
        self
    }

    /// The JSON body, when the body is JSON.
    pub fn json(&self) -> Option<&Value> {
        match &self.body {
            Some(Body::Json(v)) => Some(v),
            _ => None,
        }
    }

    /// References to earlier responses this request needs (`reference.field`),
    /// in the order they appear. References between the subrequests of a
    /// Salesforce composite are resolved by Salesforce and not listed.
    pub fn needs(&self) -> Vec<String> {
        // A composite's subrequests, or a composite graph's nodes.
        let lists: Vec<&Value> = match self.json() {
            Some(body) => body
                .get("graphs")
                .and_then(Value::as_array)
                .map(|graphs| graphs.iter().collect())
                .unwrap_or_else(|| vec![body]),
            None => Vec::new(),
        };
        let inner: Vec<&str> = lists
            .iter()
            .filter_map(|b| b.get("compositeRequest").and_then(Value::as_array))
            .flatten()
            .filter_map(|s| s.get("referenceId").and_then(|r| r.as_str()))
            .collect();
        let mut text = self.path.clone();
        if let Some(body) = &self.body {
            match body {
                Body::Json(v) => text.push_str(&v.to_string()),
                Body::Text(t) => text.push_str(t),
            }
        }
        let mut found = Vec::new();
        let mut rest = text.as_str();
        while let Some(start) = rest.find("@{") {
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else { break };
            let name = after[..end].to_owned();
            let own = name
                .split_once('.')
                .is_some_and(|(request, _)| inner.contains(&request));
            if !own && !found.contains(&name) {
                found.push(name);
            }
            rest = &after[end..];
        }
        found
    }

    /// The request as JSON lines print it: `ref`, `method`, `path`, `headers`
    /// (when any), `body`; a SOAP call also names its `api` and `operation`.
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("ref".into(), self.reference.clone().into());
        if let Api::Soap(operation) = &self.api {
            out.insert("api".into(), "soap".into());
            out.insert("operation".into(), (*operation).into());
        }
        out.insert("method".into(), self.method.as_str().into());
        out.insert("path".into(), self.path.clone().into());
        if !self.headers.is_empty() {
            out.insert("headers".into(), json!(self.headers));
        }
        match &self.body {
            Some(Body::Json(v)) => {
                out.insert("body".into(), v.clone());
            }
            Some(Body::Text(t)) => {
                out.insert("body".into(), t.clone().into());
            }
            None => {}
        }
        let needs = self.needs();
        if !needs.is_empty() {
            out.insert("needs".into(), json!(needs));
        }
        Value::Object(out)
    }
}

/// A reference to a field of an earlier request's response, as requests write it.
pub fn reference(request: &str, field: &str) -> String {
    format!("@{{{request}.{field}}}")
}

/// Who decided: the parts every idempotency key is made of besides the record.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    /// The org's id.
    pub org: &'a str,
    /// The module version that decided (its label, or its hash).
    pub module: &'a str,
}

/// A key that is the same every time the same org's same module version makes
/// the same decision kind for the same record: a retried run sends the same keys,
/// so the CRM's upsert finds the record the first run created instead of making
/// a second one. `item` tells apart several records one decision creates
/// (`follow_up_1`, `opportunity`). 32 hex digits.
pub fn idempotency_key(origin: &Origin<'_>, record: &str, decision: &str, item: &str) -> String {
    let mut hasher = Sha256::new();
    // Each part is length-prefixed so that no two part lists hash alike.
    for part in [origin.org, origin.module, record, decision, item] {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    let digest = hasher.finalize();
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// An idempotency key as a GUID (RFC 4122 layout, version 8: custom), for
/// Dataverse primary keys.
pub fn key_guid(key: &str) -> String {
    let mut hex: Vec<char> = key.chars().take(32).collect();
    hex.resize(32, '0');
    // Version nibble 8 (vendor-specific), variant bits 10xx.
    hex[12] = '8';
    hex[16] = match hex[16].to_digit(16).unwrap_or(0) & 0x3 {
        0 => '8',
        1 => '9',
        2 => 'a',
        _ => 'b',
    };
    let s: String = hex.into_iter().collect();
    format!(
        "{}-{}-{}-{}-{}",
        &s[0..8],
        &s[8..12],
        &s[12..16],
        &s[16..20],
        &s[20..32]
    )
}

/// Why a decision cannot be written as native requests.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WriteError {
    /// The record has no id.
    #[error("the {format} {entity} has no id to write to")]
    NoId {
        /// Its CRM.
        format: Format,
        /// Its object.
        entity: String,
    },
    /// The record comes from an import file and has no CRM id yet.
    #[error("the {format} {entity} `{id}` is from an import file: it has a referenceId but no record Id to write to")]
    ImportReference {
        /// Its CRM.
        format: Format,
        /// Its object.
        entity: String,
        /// Its `referenceId`.
        id: String,
    },
    /// Canonical records belong to no CRM.
    #[error("the record is canonical: native actions need a record in a CRM's format")]
    Canonical,
    /// The org's vocabulary lacks or misstates a setting the request needs.
    #[error("{setting}: {message}")]
    Setting {
        /// Where in `org.json` (`crm.salesforce.write.status.converted`).
        setting: String,
        /// What is wrong.
        message: String,
    },
    /// The CRM's documented rules do not allow the plan as it is.
    #[error("{format} cannot apply this plan: {reason}")]
    Refused {
        /// The CRM.
        format: Format,
        /// The rule, and where it is documented.
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_and_tell_their_parts_apart() {
        let origin = Origin {
            org: "acme",
            module: "v1",
        };
        let a = idempotency_key(&origin, "L1", "qualify", "follow_up_1");
        assert_eq!(a, idempotency_key(&origin, "L1", "qualify", "follow_up_1"));
        assert_ne!(a, idempotency_key(&origin, "L1", "qualify", "follow_up_2"));
        assert_ne!(a, idempotency_key(&origin, "L1q", "ualify", "follow_up_1"));
        let other = Origin {
            org: "acme",
            module: "v2",
        };
        assert_ne!(a, idempotency_key(&other, "L1", "qualify", "follow_up_1"));
        let guid = key_guid(&a);
        assert_eq!(guid.len(), 36);
        assert_eq!(&guid[14..15], "8");
        assert!(matches!(&guid[19..20], "8" | "9" | "a" | "b"));
    }

    #[test]
    fn needs_lists_the_references_in_path_and_body() {
        let r = Request::rest(
            "opportunity",
            Method::Patch,
            format!("/x/Opportunity/{}", reference("convert", "opportunityId")),
            json!({"AccountId": reference("account", "id")}),
        );
        assert_eq!(r.needs(), vec!["convert.opportunityId", "account.id"]);
    }
}
