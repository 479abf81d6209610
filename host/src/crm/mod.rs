//! Native CRM records in, native actions out.
//!
//! Integrators hand over records as their CRM's API returns them: Dynamics 365 /
//! Dataverse Web API JSON, Salesforce REST or SOQL results or sObject-tree files,
//! HubSpot v3 CRM objects. This module tells the formats apart
//! ([`detect`]), unwraps collections and says when one is only a page of a
//! longer result ([`expand`]), reads each record into the contract's canonical
//! types through the org's [`Vocabulary`] ([`read`](mod@read)), turns decisions
//! into the requests that apply them in that CRM ([`write`](mod@write)) and groups
//! a record's requests into one atomic send ([`bundle`](mod@bundle)). Sources for
//! every field name, value and request are in `docs/adapters.md`.

pub mod bundle;
pub mod config;
mod native;
pub mod read;
pub mod request;
pub mod write;

use serde::{Deserialize, Serialize};

pub use config::{CrmConfig, StageEntry, Vocabularies, Vocabulary};
pub use native::{Native, ObjectType};
pub use read::{ReadError, Reader};
pub use request::{Origin, Request, WriteError};

/// The shape of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
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
pub fn detect(value: &serde_json::Value) -> Format {
    let Some(object) = value.as_object() else {
        return Format::Canonical;
    };
    if object
        .get("attributes")
        .and_then(|a| a.get("type"))
        .is_some_and(|t| t.is_string())
    {
        return Format::Salesforce;
    }
    if object.get("properties").is_some_and(|p| p.is_object()) {
        return Format::Hubspot;
    }
    let dataverse = object.keys().any(|k| {
        k.starts_with("@odata.")
            || k.contains("@OData.")
            || k.contains("@Microsoft.Dynamics.CRM.")
            || (k.starts_with('_') && k.ends_with("_value"))
            || DATAVERSE_KEYS.contains(&k.as_str())
    });
    if dataverse {
        Format::Dataverse
    } else {
        Format::Canonical
    }
}

/// One record taken out of its input, with where it was.
#[derive(Debug, Clone)]
pub struct Unwrapped {
    /// The record.
    pub value: serde_json::Value,
    /// Its JSON path inside the input value it came from (`""` when it was that
    /// value; `records[3]` when it came out of a collection).
    pub at: String,
}

/// A collection that is one page of a longer result: the records after it were
/// not in the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paging {
    /// The CRM whose result it is.
    pub format: Format,
    /// Where the next page is, as the CRM gave it: a Dataverse `@odata.nextLink`,
    /// a Salesforce `nextRecordsUrl`, a HubSpot `paging.next.link` or else its
    /// `paging.next.after` cursor. Empty when a SOQL result says `done: false`
    /// without a link.
    pub next: String,
}

/// What a value of the input holds: its records, and whether more pages follow.
#[derive(Debug, Clone)]
pub struct Expanded {
    /// The records, in order.
    pub records: Vec<Unwrapped>,
    /// Set when the value is one page of a longer result.
    pub more: Option<Paging>,
}

fn text_at<'v>(value: &'v serde_json::Value, path: &[&str]) -> Option<&'v str> {
    path.iter()
        .try_fold(value, |v, key| v.get(key))
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty())
}

/// Whether a collection is one page of more: Dataverse `@odata.nextLink` (Web API
/// query docs, paging), a SOQL result with `done: false` and `nextRecordsUrl`
/// (REST API query resource), a HubSpot list with `paging.next.after` (CRM
/// objects list, paging).
fn paging(object: &serde_json::Map<String, serde_json::Value>, key: &str) -> Option<Paging> {
    let whole = serde_json::Value::Object(object.clone());
    match key {
        "value" => text_at(&whole, &["@odata.nextLink"]).map(|next| Paging {
            format: Format::Dataverse,
            next: next.to_owned(),
        }),
        "records" => {
            let link = text_at(&whole, &["nextRecordsUrl"]);
            let undone = object.get("done").and_then(|d| d.as_bool()) == Some(false);
            (undone || link.is_some()).then(|| Paging {
                format: Format::Salesforce,
                next: link.unwrap_or_default().to_owned(),
            })
        }
        _ => text_at(&whole, &["paging", "next", "link"])
            .or_else(|| text_at(&whole, &["paging", "next", "after"]))
            .map(|next| Paging {
                format: Format::Hubspot,
                next: next.to_owned(),
            }),
    }
}

/// Unwraps a collection into its records: a Dataverse `value` array (its
/// `@odata.context` is kept on each record), a Salesforce SOQL result or sObject
/// tree (`records`), a HubSpot list or search response (`results`). Anything
/// else is one record. A collection that is one page of a longer result says so
/// in [`Expanded::more`]: the input was truncated by the CRM's paging, not by us.
pub fn expand(value: serde_json::Value) -> Expanded {
    let one = |value| Expanded {
        records: vec![Unwrapped {
            value,
            at: String::new(),
        }],
        more: None,
    };
    let serde_json::Value::Object(mut object) = value else {
        return one(value);
    };
    let key = if object.get("value").is_some_and(|v| v.is_array())
        && object.keys().any(|k| k.starts_with("@odata."))
    {
        Some("value")
    } else if object.get("records").is_some_and(|v| v.is_array())
        && (object.contains_key("totalSize") || object.contains_key("done") || object.len() == 1)
    {
        Some("records")
    } else if object.get("results").is_some_and(|v| v.is_array())
        && (object.contains_key("paging") || object.contains_key("total") || object.len() == 1)
    {
        Some("results")
    } else {
        None
    };
    let Some(key) = key else {
        return one(serde_json::Value::Object(object));
    };
    // An entity set's context (`...$metadata#leads`) names the table of each record.
    let context = object
        .get("@odata.context")
        .and_then(|c| c.as_str())
        .map(|c| format!("{c}/$entity"));
    let items = match object.remove(key) {
        Some(serde_json::Value::Array(items)) => items,
        _ => Vec::new(),
    };
    let more = paging(&object, key);
    let records = items
        .into_iter()
        .enumerate()
        .map(|(i, mut value)| {
            if let (Some(context), Some(record)) = (&context, value.as_object_mut()) {
                record
                    .entry("@odata.context")
                    .or_insert_with(|| context.clone().into());
            }
            Unwrapped {
                value,
                at: format!("{key}[{i}]"),
            }
        })
        .collect();
    Expanded { records, more }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn formats_are_told_apart() {
        assert_eq!(
            detect(&json!({"attributes": {"type": "Lead"}, "Company": "x"})),
            Format::Salesforce
        );
        assert_eq!(
            detect(&json!({"id": "1", "properties": {"email": "a@b"}})),
            Format::Hubspot
        );
        assert_eq!(
            detect(&json!({"leadid": "x", "subject": "y"})),
            Format::Dataverse
        );
        assert_eq!(
            detect(&json!({"@odata.etag": "W/\"1\"", "name": "y"})),
            Format::Dataverse
        );
        assert_eq!(
            detect(&json!({"id": "L-1", "company": "x"})),
            Format::Canonical
        );
    }

    #[test]
    fn collections_are_unwrapped() {
        let soql = json!({"totalSize": 2, "done": true, "records": [
            {"attributes": {"type": "Lead"}, "Id": "a"},
            {"attributes": {"type": "Lead"}, "Id": "b"}]});
        let records = expand(soql).records;
        assert_eq!(records.len(), 2);
        assert_eq!(records[1].at, "records[1]");
        let dv = json!({"@odata.context": "https://x/api/data/v9.2/$metadata#leads",
            "value": [{"leadid": "1"}]});
        let records = expand(dv).records;
        assert_eq!(
            records[0].value["@odata.context"],
            "https://x/api/data/v9.2/$metadata#leads/$entity"
        );
        let hubspot = json!({"results": [{"id": "1", "properties": {}}], "paging": {}});
        assert_eq!(expand(hubspot).records.len(), 1);
        assert_eq!(expand(json!({"id": "L-1"})).records.len(), 1);
    }

    #[test]
    fn a_page_of_a_longer_result_says_where_the_next_page_is() {
        let soql = json!({"totalSize": 3, "done": false,
            "nextRecordsUrl": "/services/data/v62.0/query/01gD0000002HU6KIAW-2000",
            "records": [{"attributes": {"type": "Lead"}, "Id": "a"}]});
        let page = expand(soql);
        assert_eq!(page.records.len(), 1);
        assert_eq!(
            page.more,
            Some(Paging {
                format: Format::Salesforce,
                next: "/services/data/v62.0/query/01gD0000002HU6KIAW-2000".into()
            })
        );
        let dv = json!({"@odata.context": "https://x/api/data/v9.2/$metadata#leads",
            "@odata.nextLink": "https://x/api/data/v9.2/leads?$skiptoken=abc",
            "value": []});
        let page = expand(dv);
        assert!(page.records.is_empty());
        assert_eq!(page.more.map(|p| p.format), Some(Format::Dataverse));
        let hubspot = json!({"results": [{"id": "1", "properties": {}}],
            "paging": {"next": {"after": "NTI1Cg%3D%3D"}}});
        assert_eq!(
            expand(hubspot).more.map(|p| p.next),
            Some("NTI1Cg%3D%3D".into())
        );
        let done = json!({"totalSize": 1, "done": true, "records": []});
        assert_eq!(expand(done).more, None);
    }
}
