//! A native record flattened into named fields, whatever its CRM: the one shape the
//! reader maps onto the contract. Values are borrowed from the input.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::Value;

use super::read::ReadError;
use super::Format;

/// What a native record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectType {
    /// A lead (Dataverse `lead`, Salesforce `Lead`).
    Lead,
    /// An opportunity or deal.
    Opportunity,
    /// A task, call, meeting, appointment, email or event.
    Activity,
    /// An account or company.
    Account,
    /// A contact (for HubSpot, also what is qualified as a lead).
    Contact,
}

impl ObjectType {
    /// For messages.
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectType::Lead => "lead",
            ObjectType::Opportunity => "opportunity",
            ObjectType::Activity => "activity",
            ObjectType::Account => "account",
            ObjectType::Contact => "contact",
        }
    }
}

/// One field of a native record.
#[derive(Debug, Clone)]
pub struct Field<'a> {
    /// Its value (never `null`; objects and arrays are flattened or set aside).
    pub value: &'a Value,
    /// Its key in the record (the parent's key for a flattened related field).
    pub key: &'a str,
    /// A flattened related field's key under `key`.
    pub sub: Option<&'a str>,
    /// What comes before `key` in the path (`properties.` for HubSpot).
    pub prefix: &'static str,
    /// Dataverse: the `FormattedValue` annotation (the option's label).
    pub label: Option<&'a str>,
}

impl Field<'_> {
    /// Its JSON path in the record, e.g. `properties.budget` or `Account.Name`.
    pub fn path(&self) -> String {
        match self.sub {
            Some(sub) => format!("{}{}.{sub}", self.prefix, self.key),
            None => format!("{}{}", self.prefix, self.key),
        }
    }
}

/// A native record, flattened.
#[derive(Debug, Clone)]
pub struct Native<'a> {
    /// Which CRM.
    pub format: Format,
    /// What it is.
    pub object: ObjectType,
    /// The CRM's name for its type: `lead`, `Opportunity`, `deals`, `phonecall`...
    pub entity: String,
    /// Its id (for sObject-tree files, the `referenceId`).
    pub id: Option<String>,
    /// The id is only an import file's `referenceId`, not a record id of the CRM.
    pub reference_only: bool,
    /// Fields by name: lookups under their column's name, related records' fields
    /// as `Relation.Field`.
    pub fields: BTreeMap<Cow<'a, str>, Field<'a>>,
    /// Embedded activities (a SOQL subquery, a Dataverse `$expand`) with their paths.
    pub children: Vec<(String, &'a Value)>,
    /// Activities: ids of the records they are about (opportunities first).
    pub parents: Vec<String>,
    /// HubSpot: associated companies.
    pub companies: Vec<String>,
    /// Dataverse: the `@odata.etag` the record was read with; updates send it as
    /// `If-Match` so that a change made since then is not overwritten.
    pub etag: Option<String>,
}

impl<'a> Native<'a> {
    /// Flattens `value`, read as `format`; a HubSpot object's type is guessed from
    /// its properties (use [`Native::parse_as`] when the caller knows it).
    pub fn parse(format: Format, value: &'a Value) -> Result<Native<'a>, ReadError> {
        Self::parse_as(format, value, None)
    }

    /// Flattens `value`, read as `format`, as an object of type `object` when
    /// given. HubSpot objects do not say what they are, so without it their type
    /// is guessed from their properties; Dataverse and Salesforce records name
    /// their type and keep it.
    pub fn parse_as(
        format: Format,
        value: &'a Value,
        object_type: Option<ObjectType>,
    ) -> Result<Native<'a>, ReadError> {
        let Some(object) = value.as_object() else {
            return Err(ReadError::new(
                "",
                format!("a {format} record must be a JSON object"),
            ));
        };
        match format {
            Format::Dataverse => dataverse(object),
            Format::Salesforce => salesforce(object),
            Format::Hubspot => hubspot(object, object_type),
            Format::Canonical => Err(ReadError::new("", "canonical records are not native")),
        }
    }

    /// Adds the scalar fields of a related record or compound field under `key`
    /// as `named.sub` (those `keep` accepts).
    fn flatten(
        &mut self,
        key: &'a str,
        named: &str,
        related: &'a serde_json::Map<String, Value>,
        keep: impl Fn(&str) -> bool,
    ) {
        for (sub, v) in related {
            if keep(sub) && !v.is_null() && !v.is_object() && !v.is_array() {
                self.fields.insert(
                    Cow::Owned(format!("{named}.{sub}")),
                    Field {
                        value: v,
                        key,
                        sub: Some(sub),
                        prefix: "",
                        label: None,
                    },
                );
            }
        }
    }

    fn new(format: Format, object: ObjectType, entity: String) -> Self {
        Native {
            format,
            object,
            entity,
            id: None,
            reference_only: false,
            fields: BTreeMap::new(),
            children: Vec::new(),
            parents: Vec::new(),
            companies: Vec::new(),
            etag: None,
        }
    }
}

fn text_of(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

// ---- Dataverse ----------------------------------------------------------------

/// Table name from an entity set name in `@odata.context` (`leads` → `lead`).
fn dataverse_table(set: &str) -> String {
    match set {
        "opportunities" => "opportunity".to_owned(),
        "activitypointers" => "activitypointer".to_owned(),
        _ => set.strip_suffix('s').unwrap_or(set).to_owned(),
    }
}

fn dataverse_object(table: &str) -> Option<ObjectType> {
    Some(match table {
        "lead" => ObjectType::Lead,
        "opportunity" => ObjectType::Opportunity,
        "task" | "phonecall" | "appointment" | "email" | "activitypointer" | "fax" | "letter" => {
            ObjectType::Activity
        }
        "account" => ObjectType::Account,
        "contact" => ObjectType::Contact,
        _ => return None,
    })
}

fn dataverse(object: &serde_json::Map<String, Value>) -> Result<Native<'_>, ReadError> {
    // The table: `@odata.type`, else `@odata.context`, else the primary key present.
    let from_type = object
        .get("@odata.type")
        .and_then(|t| t.as_str())
        .and_then(|t| t.strip_prefix("#Microsoft.Dynamics.CRM."))
        .map(str::to_owned);
    let from_context = object
        .get("@odata.context")
        .and_then(|c| c.as_str())
        .and_then(|c| c.rsplit_once("$metadata#"))
        .map(|(_, rest)| {
            let set = rest.split(['(', '/']).next().unwrap_or(rest);
            dataverse_table(set)
        });
    let from_key = || {
        let key = ["leadid", "opportunityid", "accountid", "contactid"]
            .into_iter()
            .find(|k| object.contains_key(*k))
            .map(|k| k.trim_end_matches("id").to_owned());
        key.or_else(|| {
            object.contains_key("activityid").then(|| {
                object
                    .get("activitytypecode")
                    .and_then(|c| c.as_str())
                    .unwrap_or("activitypointer")
                    .to_owned()
            })
        })
    };
    let Some(table) = from_type.or(from_context).or_else(from_key) else {
        return Err(ReadError::new(
            "",
            "cannot tell which Dataverse table this record is from: it has no \
             `@odata.context`, `@odata.type` or primary key (`leadid`, `opportunityid`, \
             `activityid`, `accountid`, `contactid`)",
        ));
    };
    let Some(kind) = dataverse_object(&table) else {
        return Err(ReadError::new(
            "",
            format!("Dataverse table `{table}` is not one the rules read (lead, opportunity, task, phonecall, appointment, email, account, contact)"),
        ));
    };
    let key = match kind {
        ObjectType::Activity => "activityid".to_owned(),
        _ => format!("{table}id"),
    };
    let mut native = Native::new(Format::Dataverse, kind, table);
    native.id = text_of(object.get(&key));
    native.etag = text_of(object.get("@odata.etag"));
    for (name, value) in object {
        if name.contains('@') || value.is_null() || *name == key {
            continue;
        }
        // A lookup `_x_value` is column `x`.
        let column = name
            .strip_prefix('_')
            .and_then(|n| n.strip_suffix("_value"))
            .unwrap_or(name);
        match value {
            Value::Object(related) => {
                native.flatten(name, column, related, |sub| !sub.contains('@'));
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    if item.get("activityid").is_some() {
                        native.children.push((format!("{name}[{i}]"), item));
                    }
                }
            }
            _ => {
                let label = object
                    .get(&format!("{name}@OData.Community.Display.V1.FormattedValue"))
                    .and_then(|l| l.as_str());
                native.fields.insert(
                    Cow::Borrowed(column),
                    Field {
                        value,
                        key: name,
                        sub: None,
                        prefix: "",
                        label,
                    },
                );
            }
        }
    }
    if let Some(regarding) = text_of(object.get("_regardingobjectid_value")) {
        native.parents.push(regarding);
    }
    Ok(native)
}

// ---- Salesforce ---------------------------------------------------------------

fn salesforce(object: &serde_json::Map<String, Value>) -> Result<Native<'_>, ReadError> {
    let attributes = object.get("attributes");
    let sobject = attributes
        .and_then(|a| a.get("type"))
        .and_then(|t| t.as_str())
        .ok_or_else(|| {
            ReadError::new(
                "attributes.type",
                "a Salesforce record needs `attributes.type`",
            )
        })?;
    let kind = match sobject {
        "Lead" => ObjectType::Lead,
        "Opportunity" => ObjectType::Opportunity,
        "Task" | "Event" => ObjectType::Activity,
        "Account" => ObjectType::Account,
        "Contact" => ObjectType::Contact,
        other => {
            return Err(ReadError::new(
                "attributes.type",
                format!("Salesforce object `{other}` is not one the rules read (Lead, Opportunity, Task, Event, Account, Contact)"),
            ))
        }
    };
    let mut native = Native::new(Format::Salesforce, kind, sobject.to_owned());
    let reference = text_of(attributes.and_then(|a| a.get("referenceId")));
    native.reference_only = object.get("Id").is_none_or(|id| id.is_null()) && reference.is_some();
    native.id = text_of(object.get("Id")).or(reference).or_else(|| {
        attributes
            .and_then(|a| a.get("url"))
            .and_then(|u| u.as_str())
            .and_then(|u| u.rsplit('/').next())
            .filter(|id| !id.is_empty())
            .map(str::to_owned)
    });
    for (name, value) in object {
        if name == "attributes" || name == "Id" || value.is_null() {
            continue;
        }
        match value {
            Value::Object(related) => {
                if let Some(Value::Array(records)) = related.get("records") {
                    // A subquery: `(SELECT ... FROM Tasks)`.
                    for (i, item) in records.iter().enumerate() {
                        native.children.push((format!("{name}.records[{i}]"), item));
                    }
                    continue;
                }
                // A parent relationship (`Account.Name`) or a compound field
                // (`Address.city`).
                native.flatten(name, name, related, |sub| sub != "attributes");
            }
            Value::Array(_) => {}
            _ => {
                native.fields.insert(
                    Cow::Borrowed(name),
                    Field {
                        value,
                        key: name,
                        sub: None,
                        prefix: "",
                        label: None,
                    },
                );
            }
        }
    }
    // sObject-tree references are `@ReferenceId`.
    let reference = |v: Option<&Value>| text_of(v).map(|s| s.trim_start_matches('@').to_owned());
    if kind == ObjectType::Activity {
        native.parents.extend(reference(object.get("WhatId")));
        native.parents.extend(reference(object.get("WhoId")));
    }
    Ok(native)
}

// ---- HubSpot ------------------------------------------------------------------

/// HubSpot's default object type name for a record type.
fn hubspot_entity(object: ObjectType) -> &'static str {
    match object {
        ObjectType::Lead | ObjectType::Contact => "contacts",
        ObjectType::Opportunity => "deals",
        ObjectType::Activity => "tasks",
        ObjectType::Account => "companies",
    }
}

fn hubspot(
    object: &serde_json::Map<String, Value>,
    told: Option<ObjectType>,
) -> Result<Native<'_>, ReadError> {
    let Some(Value::Object(properties)) = object.get("properties") else {
        return Err(ReadError::new(
            "properties",
            "a HubSpot object needs a `properties` object",
        ));
    };
    let has = |p: &str| properties.contains_key(p);
    let has_prefix = |p: &str| properties.keys().any(|k| k.starts_with(p));
    // A HubSpot contact is what is qualified as a lead.
    let told = told.map(|t| match t {
        ObjectType::Lead => ObjectType::Contact,
        other => other,
    });
    let (kind, entity) = if let Some(kind) = told {
        (kind, hubspot_entity(kind))
    } else if has("dealstage") || has("dealname") || has("pipeline") {
        (ObjectType::Opportunity, "deals")
    } else if has_prefix("hs_task_") {
        (ObjectType::Activity, "tasks")
    } else if has_prefix("hs_call_") {
        (ObjectType::Activity, "calls")
    } else if has_prefix("hs_meeting_") {
        (ObjectType::Activity, "meetings")
    } else if has_prefix("hs_email_") {
        (ObjectType::Activity, "emails")
    } else if (has("domain") || has("name")) && !has("email") && !has("firstname") {
        (ObjectType::Account, "companies")
    } else {
        (ObjectType::Contact, "contacts")
    };
    let mut native = Native::new(Format::Hubspot, kind, entity.to_owned());
    native.id = text_of(object.get("id")).or_else(|| text_of(properties.get("hs_object_id")));
    for (name, value) in properties {
        if value.is_null() || value.is_object() || value.is_array() {
            continue;
        }
        if value.as_str().is_some_and(str::is_empty) {
            continue;
        }
        native.fields.insert(
            Cow::Borrowed(name),
            Field {
                value,
                key: name,
                sub: None,
                prefix: "properties.",
                label: None,
            },
        );
    }
    // v3 responses with `associations=deals,companies`.
    let associated = |to: &str| -> Vec<String> {
        object
            .get("associations")
            .and_then(|a| a.get(to))
            .and_then(|d| d.get("results"))
            .and_then(|r| r.as_array())
            .map(|r| r.iter().filter_map(|x| text_of(x.get("id"))).collect())
            .unwrap_or_default()
    };
    if kind == ObjectType::Activity {
        native.parents = associated("deals");
        native.parents.extend(associated("contacts"));
    }
    native.companies = associated("companies");
    Ok(native)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dataverse_lookups_labels_and_tables() {
        let v = json!({
            "@odata.context": "https://x/api/data/v9.2/$metadata#leads/$entity",
            "leadid": "L1", "leadsourcecode": 8,
            "leadsourcecode@OData.Community.Display.V1.FormattedValue": "Web",
            "_parentaccountid_value": "A1",
            "_parentaccountid_value@Microsoft.Dynamics.CRM.lookuplogicalname": "account",
            "transactioncurrencyid": {"isocurrencycode": "EUR"},
            "description": null
        });
        let n = Native::parse(Format::Dataverse, &v).unwrap();
        assert_eq!(n.object, ObjectType::Lead);
        assert_eq!(n.id.as_deref(), Some("L1"));
        assert_eq!(n.fields["leadsourcecode"].label, Some("Web"));
        assert_eq!(n.fields["parentaccountid"].path(), "_parentaccountid_value");
        assert_eq!(
            n.fields["transactioncurrencyid.isocurrencycode"].value,
            "EUR"
        );
        assert!(!n.fields.contains_key("description"));
    }

    #[test]
    fn salesforce_subqueries_and_tree_ids() {
        let v = json!({
            "attributes": {"type": "Opportunity", "referenceId": "OppRef1"},
            "StageName": "Prospecting", "Account": {"attributes": {"type": "Account"}, "Name": "Acme"},
            "Tasks": {"totalSize": 1, "done": true, "records": [{"attributes": {"type": "Task"}, "Id": "T1"}]}
        });
        let n = Native::parse(Format::Salesforce, &v).unwrap();
        assert_eq!(n.id.as_deref(), Some("OppRef1"));
        assert_eq!(n.fields["Account.Name"].value, "Acme");
        assert_eq!(n.children.len(), 1);
        let bad = json!({"attributes": {"type": "Case"}});
        assert!(Native::parse(Format::Salesforce, &bad)
            .unwrap_err()
            .message
            .contains("Case"));
    }

    #[test]
    fn hubspot_object_types() {
        let deal = json!({"id": "9", "properties": {"dealname": "x", "dealstage": "closedwon"}});
        assert_eq!(
            Native::parse(Format::Hubspot, &deal).unwrap().object,
            ObjectType::Opportunity
        );
        let task = json!({"id": "7", "properties": {"hs_task_subject": "x"},
            "associations": {"deals": {"results": [{"id": "9", "type": "task_to_deal"}]}}});
        let n = Native::parse(Format::Hubspot, &task).unwrap();
        assert_eq!(n.object, ObjectType::Activity);
        assert_eq!(n.parents, vec!["9"]);
        let contact = json!({"id": "1", "properties": {"email": "a@b.c", "firstname": ""}});
        let n = Native::parse(Format::Hubspot, &contact).unwrap();
        assert_eq!(n.object, ObjectType::Contact);
        assert!(!n.fields.contains_key("firstname"));
    }
}
