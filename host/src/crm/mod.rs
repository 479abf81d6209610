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

pub mod config;
mod native;
pub mod read;
pub mod write;

use serde::{Deserialize, Serialize};

pub use config::{CrmConfig, StageEntry, Vocabularies, Vocabulary};
pub use native::{Native, ObjectType};
pub use read::{ReadError, Reader};

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

/// Unwraps a collection into its records: a Dataverse `value` array (its
/// `@odata.context` is kept on each record), a Salesforce SOQL result or sObject
/// tree (`records`), a HubSpot list or search response (`results`). Anything
/// else is one record.
pub fn expand(value: serde_json::Value) -> Vec<Unwrapped> {
    let serde_json::Value::Object(mut object) = value else {
        return vec![Unwrapped {
            value,
            at: String::new(),
        }];
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
        return vec![Unwrapped {
            value: serde_json::Value::Object(object),
            at: String::new(),
        }];
    };
    // An entity set's context (`...$metadata#leads`) names the table of each record.
    let context = object
        .get("@odata.context")
        .and_then(|c| c.as_str())
        .map(|c| format!("{c}/$entity"));
    let Some(serde_json::Value::Array(items)) = object.remove(key) else {
        unreachable!("checked above")
    };
    items
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
        .collect()
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
        let records = expand(soql);
        assert_eq!(records.len(), 2);
        assert_eq!(records[1].at, "records[1]");
        let dv = json!({"@odata.context": "https://x/api/data/v9.2/$metadata#leads",
            "value": [{"leadid": "1"}]});
        let records = expand(dv);
        assert_eq!(
            records[0].value["@odata.context"],
            "https://x/api/data/v9.2/$metadata#leads/$entity"
        );
        let hubspot = json!({"results": [{"id": "1", "properties": {}}], "paging": {}});
        assert_eq!(expand(hubspot).len(), 1);
        assert_eq!(expand(json!({"id": "L-1"})).len(), 1);
    }
}
