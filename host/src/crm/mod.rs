//! Native CRM records in, native actions out.
//!
//! Integrators hand over records as their CRM's API returns them: Dynamics 365 /
//! Dataverse Web API JSON, Salesforce REST or SOQL results or sObject-tree files,
//! HubSpot v3 CRM objects. This module tells the formats apart
//! ([`detect`]), unwraps collections ([`expand`]), reads each record into the
//! contract's canonical types through the org's [`Vocabulary`]
//! ([`read`](mod@read)), and turns decisions into the requests that apply them in
//! that CRM ([`write`](mod@write)). Sources for every field name and value are in
//! `docs/adapters.md`.

pub mod bundle;
pub mod config;
pub mod events;
mod native;
pub mod read;
pub mod request;
pub mod write;

use crate::json::{Object, Scalar};
use serde::{Deserialize, Serialize};

pub use config::{CrmConfig, EventsConfig, StageEntry, Vocabularies, Vocabulary};
pub use native::{MoreRelated, Native, ObjectType};
pub use read::{ReadError, Reader};
pub use request::{Origin, Request, WriteError};

/// The shape of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// This project's own JSON (the contract's types).
    Canonical,
    /// Dynamics 365 / Dataverse Web API JSON.
    Dataverse,
    /// Salesforce REST JSON, SOQL results, sObject-tree files.
    Salesforce,
    /// HubSpot v3 CRM objects.
    Hubspot,
}

impl Format {
    /// The format's name, as `--format` takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Canonical => "canonical",
            Format::Dataverse => "dataverse",
            Format::Salesforce => "salesforce",
            Format::Hubspot => "hubspot",
        }
    }
}

impl std::str::FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "canonical" => Ok(Format::Canonical),
            "dataverse" => Ok(Format::Dataverse),
            "salesforce" => Ok(Format::Salesforce),
            "hubspot" => Ok(Format::Hubspot),
            other => Err(format!(
                "`{other}` is not a format (canonical, dataverse, salesforce, hubspot)"
            )),
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Dataverse primary keys of the tables the adapters read.
const DATAVERSE_KEYS: &[&str] = &[
    "leadid",
    "opportunityid",
    "activityid",
    "accountid",
    "contactid",
];

/// Tells which CRM a record comes from, by the marks each format leaves: Salesforce
/// records carry `attributes.type`; HubSpot objects a `properties` object; Dataverse
/// records `@odata.*` annotations, `_x_value` lookups or a table's primary key.
/// Anything else is taken as canonical.
pub fn detect(object: &Object<'_>) -> Format {
    // An `attributes` object that names a key twice is still Salesforce's mark:
    // the Salesforce reader refuses it, naming the key.
    let salesforce = object
        .get("attributes")
        .map(Object::of)
        .is_some_and(|a| match a {
            Ok(a) => a.get("type").is_some_and(|t| Scalar::of(t).is_string()),
            Err(e) => matches!(e, crate::json::ObjectError::Duplicate(_)),
        });
    if salesforce {
        return Format::Salesforce;
    }
    if object
        .get("properties")
        .is_some_and(|p| Scalar::of(p).is_object())
    {
        return Format::Hubspot;
    }
    let dataverse = object.keys().any(|k| {
        k.starts_with("@odata.")
            || k.contains("@OData.")
            || k.contains("@Microsoft.Dynamics.CRM.")
            || (k.starts_with('_') && k.ends_with("_value"))
            || DATAVERSE_KEYS.contains(&k)
    });
    if dataverse {
        Format::Dataverse
    } else {
        Format::Canonical
    }
}

/// One record taken out of its input, with where it was.
#[derive(Debug, Clone)]
pub struct Unwrapped<'a> {
    /// The record's text.
    pub text: &'a str,
    /// The record, already read as an object when it was the whole value.
    pub object: Option<Object<'a>>,
    /// Its JSON path inside the input value it came from (`""` when it was that
    /// value; `records[3]` when it came out of a collection).
    pub at: String,
    /// For records of a Dataverse collection: the collection's `@odata.context`,
    /// which names the table of records that do not name it themselves.
    pub context: Option<String>,
}

/// A collection that says more records exist than it holds: the input is one page
/// of a longer result (paging docs: Dataverse Web API `@odata.nextLink`, Salesforce
/// REST query `done`/`nextRecordsUrl`, HubSpot CRM objects `paging.next`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MorePages {
    /// Which CRM's paging.
    pub format: Format,
    /// The position of the page's last record in the input (0 before any).
    pub after: usize,
    /// How to ask for the next page: a Salesforce `nextRecordsUrl`, a Dataverse
    /// `@odata.nextLink`, HubSpot's `paging.next.link` or else its `after`
    /// cursor; empty when a SOQL result says `done: false` without a link.
    pub next: String,
}

/// A value of an input, as records.
#[derive(Debug, Clone)]
pub struct Expanded<'a> {
    /// The records.
    pub records: Vec<Unwrapped<'a>>,
    /// Set when the value was one page of a longer collection.
    pub more: Option<MorePages>,
}

impl<'a> Expanded<'a> {
    /// A value that is one record.
    fn one(text: &'a str, object: Object<'a>) -> Expanded<'a> {
        Expanded {
            records: vec![Unwrapped {
                text,
                object: Some(object),
                at: String::new(),
                context: None,
            }],
            more: None,
        }
    }
}

fn text_of(object: &Object<'_>, key: &str) -> Option<String> {
    object
        .get(key)
        .map(Scalar::of)
        .and_then(|s| s.as_str().map(str::to_owned))
}

/// Unwraps a collection into its records: a Dataverse `value` array, a Salesforce
/// SOQL result or sObject tree (`records`), a HubSpot list or search response
/// (`results`). Anything else is one record. `object` is `text` read as an object.
pub fn expand<'a>(text: &'a str, object: Object<'a>) -> Expanded<'a> {
    let is_array = |key: &str| object.get(key).is_some_and(|v| Scalar::of(v).is_array());
    let (key, format) = if is_array("value") && object.keys().any(|k| k.starts_with("@odata.")) {
        ("value", Format::Dataverse)
    } else if is_array("records")
        && (object.contains_key("totalSize") || object.contains_key("done") || object.len() == 1)
    {
        ("records", Format::Salesforce)
    } else if is_array("results")
        && (object.contains_key("paging") || object.contains_key("total") || object.len() == 1)
    {
        ("results", Format::Hubspot)
    } else {
        return Expanded::one(text, object);
    };
    let Some(items) = object.get(key).and_then(|v| crate::json::array(v).ok()) else {
        return Expanded::one(text, object);
    };
    // An entity set's context (`...$metadata#leads`) names the table of each record.
    let context = text_of(&object, "@odata.context").map(|c| format!("{c}/$entity"));
    let next = match format {
        Format::Dataverse => text_of(&object, "@odata.nextLink"),
        Format::Salesforce => {
            let done = object.get("done").and_then(|d| Scalar::of(d).as_bool());
            let link = text_of(&object, "nextRecordsUrl").filter(|l| !l.is_empty());
            match (done, link) {
                (_, Some(link)) => Some(link),
                (Some(false), None) => Some(String::new()),
                _ => None,
            }
        }
        _ => object
            .get("paging")
            .and_then(|p| Object::of(p).ok())
            .and_then(|p| p.get("next").and_then(|n| Object::of(n).ok()))
            .and_then(|n| {
                text_of(&n, "link").or_else(|| {
                    n.get("after")
                        .map(Scalar::of)
                        .and_then(|a| a.key().map(|k| k.into_owned()))
                })
            }),
    };
    let more = next.map(|next| MorePages {
        format,
        after: items.len(),
        next,
    });
    Expanded {
        records: items
            .into_iter()
            .enumerate()
            .map(|(i, value)| Unwrapped {
                text: value.get(),
                object: None,
                at: format!("{key}[{i}]"),
                context: context.clone(),
            })
            .collect(),
        more,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detect_text(text: &str) -> Format {
        detect(&Object::parse(text).unwrap())
    }

    fn expanded(text: &str) -> Expanded<'_> {
        expand(text, Object::parse(text).unwrap())
    }

    #[test]
    fn formats_are_told_apart() {
        assert_eq!(
            detect_text(r#"{"attributes": {"type": "Lead"}, "Company": "x"}"#),
            Format::Salesforce
        );
        assert_eq!(
            detect_text(r#"{"id": "1", "properties": {"email": "a@b"}}"#),
            Format::Hubspot
        );
        assert_eq!(
            detect_text(r#"{"leadid": "x", "subject": "y"}"#),
            Format::Dataverse
        );
        assert_eq!(
            detect_text(r#"{"@odata.etag": "W/\"1\"", "name": "y"}"#),
            Format::Dataverse
        );
        assert_eq!(
            detect_text(r#"{"id": "L-1", "company": "x"}"#),
            Format::Canonical
        );
    }

    #[test]
    fn collections_are_unwrapped() {
        let soql = r#"{"totalSize": 2, "done": true, "records": [
            {"attributes": {"type": "Lead"}, "Id": "a"},
            {"attributes": {"type": "Lead"}, "Id": "b"}]}"#;
        let records = expanded(soql);
        assert_eq!(records.records.len(), 2);
        assert_eq!(records.records[1].at, "records[1]");
        assert_eq!(records.more, None);
        let dv = r#"{"@odata.context": "https://x/api/data/v9.2/$metadata#leads",
            "value": [{"leadid": "1"}]}"#;
        let records = expanded(dv);
        assert_eq!(
            records.records[0].context.as_deref(),
            Some("https://x/api/data/v9.2/$metadata#leads/$entity")
        );
        let hubspot = r#"{"results": [{"id": "1", "properties": {}}], "paging": {}}"#;
        assert_eq!(expanded(hubspot).records.len(), 1);
        assert_eq!(expanded(r#"{"id": "L-1"}"#).records.len(), 1);
    }

    #[test]
    fn one_page_of_a_longer_collection_says_so() {
        let soql = r#"{"totalSize": 4000, "done": false,
            "nextRecordsUrl": "/services/data/v62.0/query/01gD0000002HU6KIAW-2000",
            "records": [{"attributes": {"type": "Lead"}, "Id": "a"}]}"#;
        let more = expanded(soql).more.unwrap();
        assert_eq!(more.format, Format::Salesforce);
        assert_eq!(
            more.next,
            "/services/data/v62.0/query/01gD0000002HU6KIAW-2000"
        );
        let dv = r#"{"@odata.context": "x/$metadata#leads", "@odata.nextLink": "x/leads?$skiptoken=1",
            "value": [{"leadid": "1"}]}"#;
        assert_eq!(expanded(dv).more.unwrap().next, "x/leads?$skiptoken=1");
        let hs = r#"{"results": [{"id": "1", "properties": {}}],
            "paging": {"next": {"after": "NTI1Cg%3D%3D", "link": "?after=NTI1Cg%3D%3D"}}}"#;
        assert_eq!(expanded(hs).more.unwrap().next, "?after=NTI1Cg%3D%3D");
    }
}
