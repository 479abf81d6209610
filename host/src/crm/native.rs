//! A native record flattened into named fields, whatever its CRM: the one shape the
//! reader maps onto the contract. Read straight from the record's bytes; keys and
//! values are borrowed from the input, and nested objects are read only where a
//! CRM puts fields in them.

use std::borrow::Cow;

use serde_json::value::RawValue;

use super::read::ReadError;
use super::Format;
use crate::json::{array, Object, ObjectError, Scalar};

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
    pub value: Scalar<'a>,
    /// Its key in the record (the parent's key for a flattened related field).
    pub key: Cow<'a, str>,
    /// A flattened related field's key under `key`.
    pub sub: Option<Cow<'a, str>>,
    /// What comes before `key` in the path (`properties.` for HubSpot).
    pub prefix: &'static str,
    /// Dataverse: the `FormattedValue` annotation (the option's label).
    pub label: Option<Cow<'a, str>>,
}

impl Field<'_> {
    /// Its JSON path in the record, e.g. `properties.budget` or `Account.Name`.
    pub fn path(&self) -> String {
        match &self.sub {
            Some(sub) => format!("{}{}.{sub}", self.prefix, self.key),
            None => format!("{}{}", self.prefix, self.key),
        }
    }
}

/// A native record's fields by name, in name order.
///
/// Filled in input order while the record is read, then sorted once: a record
/// has tens of fields, and one sort of a list costs a fraction of the node
/// allocations and frees of a tree map (which was a sixth of reading a record,
/// measured).
#[derive(Debug, Clone, Default)]
pub struct Fields<'a> {
    entries: Vec<(Cow<'a, str>, Field<'a>)>,
}

impl<'a> Fields<'a> {
    /// Adds a field while the record is read; [`Fields::sort`] must follow.
    fn push(&mut self, name: Cow<'a, str>, field: Field<'a>) {
        self.entries.push((name, field));
    }

    /// Sorts the fields by name. Of two with one name (a flattened `Account.Name`
    /// and a key spelled `Account.Name`), the one added last is kept, as a map's
    /// insert would.
    fn sort(&mut self) {
        self.entries.reverse();
        // Stable: of equal names, the one added last comes first and is kept.
        self.entries.sort_by(|(a, _), (b, _)| a.cmp(b));
        self.entries.dedup_by(|(later, _), (kept, _)| later == kept);
    }

    fn at(&self, name: &str) -> Option<usize> {
        self.entries
            .binary_search_by(|(key, _)| key.as_ref().cmp(name))
            .ok()
    }

    /// The field named `name`.
    pub fn get(&self, name: &str) -> Option<&Field<'a>> {
        self.at(name).map(|i| &self.entries[i].1)
    }

    /// The field named `name`, with its name as the record spells it.
    pub fn get_key_value(&self, name: &str) -> Option<(&Cow<'a, str>, &Field<'a>)> {
        self.at(name).map(|i| {
            let (key, field) = &self.entries[i];
            (key, field)
        })
    }

    /// Whether the record has a field named `name`.
    pub fn contains_key(&self, name: &str) -> bool {
        self.at(name).is_some()
    }

    /// How many fields the record has.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the record has no fields.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The fields in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&Cow<'a, str>, &Field<'a>)> {
        self.into_iter()
    }
}

impl<'s, 'a> IntoIterator for &'s Fields<'a> {
    type Item = (&'s Cow<'a, str>, &'s Field<'a>);
    type IntoIter = std::iter::Map<
        std::slice::Iter<'s, (Cow<'a, str>, Field<'a>)>,
        fn(&'s (Cow<'a, str>, Field<'a>)) -> (&'s Cow<'a, str>, &'s Field<'a>),
    >;
    fn into_iter(self) -> Self::IntoIter {
        fn pair<'s, 'a>(
            (key, field): &'s (Cow<'a, str>, Field<'a>),
        ) -> (&'s Cow<'a, str>, &'s Field<'a>) {
            (key, field)
        }
        self.entries.iter().map(pair as fn(_) -> _)
    }
}

impl<'a> std::ops::Index<&str> for Fields<'a> {
    type Output = Field<'a>;
    fn index(&self, name: &str) -> &Field<'a> {
        self.get(name)
            .unwrap_or_else(|| panic!("no field named `{name}`"))
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
    pub fields: Fields<'a>,
    /// Embedded activities (a SOQL subquery, a Dataverse `$expand`) with their paths.
    pub children: Vec<(String, &'a RawValue)>,
    /// Activities: ids of the records they are about (opportunities first).
    pub parents: Vec<String>,
    /// HubSpot: associated companies.
    pub companies: Vec<String>,
    /// Dataverse: the `@odata.etag` the record was read with; updates send it as
    /// `If-Match` so that a change made since then is not overwritten.
    pub etag: Option<String>,
    /// Embedded related records that are one page of more: a SOQL subquery with
    /// `done: false` / `nextRecordsUrl`, a Dataverse `<nav>@odata.nextLink`.
    pub more_related: Vec<MoreRelated>,
}

/// Related records of a record that did not all come with it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MoreRelated {
    /// The relationship's key in the record (`Tasks`, `Opportunity_Tasks`).
    pub path: String,
    /// How to ask for the rest (a `nextRecordsUrl` or `@odata.nextLink`); empty
    /// when a subquery says `done: false` without a link.
    pub next: String,
}

impl<'a> Native<'a> {
    /// Flattens `value`, read as `format`; a HubSpot object's type is guessed from
    /// its properties (use [`Native::parse_as`] when the caller knows it).
    pub fn parse(format: Format, value: &'a RawValue) -> Result<Native<'a>, ReadError> {
        Native::parse_as(format, value, None)
    }

    /// Flattens `value`, read as `format`, as an object of type `object_type` when
    /// given (see [`Native::of`]).
    pub fn parse_as(
        format: Format,
        value: &'a RawValue,
        object_type: Option<ObjectType>,
    ) -> Result<Native<'a>, ReadError> {
        let object = Object::of(value).map_err(|e| match e {
            crate::json::ObjectError::Duplicate(_) => ReadError::new("", e.to_string()),
            _ => ReadError::new("", format!("a {format} record must be a JSON object")),
        })?;
        Native::of(format, &object, None, object_type)
    }

    /// Flattens an object already read, as `format`. `context` is the
    /// `@odata.context` of the Dataverse collection the record came out of, if any.
    /// `object_type`, when given, is what the record is: HubSpot objects do not
    /// say, so without it their type is guessed from their properties; Dataverse
    /// and Salesforce records name their type and keep it.
    pub fn of(
        format: Format,
        object: &Object<'a>,
        context: Option<&str>,
        object_type: Option<ObjectType>,
    ) -> Result<Native<'a>, ReadError> {
        let mut native = match format {
            Format::Dataverse => dataverse(object, context),
            Format::Salesforce => salesforce(object),
            Format::Hubspot => hubspot(object, object_type),
            Format::Canonical => Err(ReadError::new("", "canonical records are not native")),
        }?;
        native.fields.sort();
        Ok(native)
    }

    /// Adds the scalar fields of a related record or compound field under `key`
    /// as `named.sub` (those `keep` accepts).
    fn flatten(
        &mut self,
        key: Cow<'a, str>,
        named: &str,
        related: &'a RawValue,
        keep: impl Fn(&str) -> bool,
    ) -> Result<(), ReadError> {
        let related =
            Object::of(related).map_err(|e| ReadError::new(key.to_string(), e.to_string()))?;
        for (sub, raw) in related.into_entries() {
            let value = Scalar::of(raw);
            if keep(&sub) && !value.is_null() && !value.is_object() && !value.is_array() {
                self.fields.push(
                    Cow::Owned(format!("{named}.{sub}")),
                    Field {
                        value,
                        key: key.clone(),
                        sub: Some(sub),
                        prefix: "",
                        label: None,
                    },
                );
            }
        }
        Ok(())
    }

    fn new(format: Format, object: ObjectType, entity: String) -> Self {
        Native {
            format,
            object,
            entity,
            id: None,
            reference_only: false,
            fields: Fields::default(),
            children: Vec::new(),
            parents: Vec::new(),
            companies: Vec::new(),
            etag: None,
            more_related: Vec::new(),
        }
    }
}

/// A nested object of a record, when `raw` is one. One that names a key twice is
/// refused like a record that does (which of the two would count?); a value that
/// is not an object is `None`.
fn nested<'a>(at: &str, raw: &'a RawValue) -> Result<Option<Object<'a>>, ReadError> {
    match Object::of(raw) {
        Ok(object) => Ok(Some(object)),
        Err(e @ ObjectError::Duplicate(_)) => Err(ReadError::new(at, e.to_string())),
        Err(_) => Ok(None),
    }
}

fn text_of(value: Option<&RawValue>) -> Option<String> {
    match Scalar::of(value?) {
        Scalar::Str(s) if !s.is_empty() => Some(s.into_owned()),
        Scalar::Number(n) => Some(n.to_owned()),
        _ => None,
    }
}

fn str_of<'a>(value: Option<&'a RawValue>) -> Option<Cow<'a, str>> {
    match Scalar::of(value?) {
        Scalar::Str(s) => Some(s),
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

fn dataverse<'a>(object: &Object<'a>, context: Option<&str>) -> Result<Native<'a>, ReadError> {
    // The table: `@odata.type`, else `@odata.context`, else the primary key present.
    let from_type = str_of(object.get("@odata.type")).and_then(|t| {
        t.strip_prefix("#Microsoft.Dynamics.CRM.")
            .map(str::to_owned)
    });
    let own_context = str_of(object.get("@odata.context"));
    let from_context = own_context.as_deref().or(context).and_then(|c| {
        c.rsplit_once("$metadata#").map(|(_, rest)| {
            let set = rest.split(['(', '/']).next().unwrap_or(rest);
            dataverse_table(set)
        })
    });
    let from_key = || {
        let key = ["leadid", "opportunityid", "accountid", "contactid"]
            .into_iter()
            .find(|k| object.contains_key(k))
            .map(|k| k.trim_end_matches("id").to_owned());
        key.or_else(|| {
            object.contains_key("activityid").then(|| {
                str_of(object.get("activitytypecode"))
                    .map_or_else(|| "activitypointer".to_owned(), Cow::into_owned)
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
    for (name, raw) in object.entries() {
        // An expanded collection cut at its page size (Web API, "Expand
        // collection-valued navigation properties": `<nav>@odata.nextLink`).
        if let Some(nav) = name.strip_suffix("@odata.nextLink") {
            if let Some(next) = text_of(Some(raw)) {
                native.more_related.push(MoreRelated {
                    path: nav.to_owned(),
                    next,
                });
            }
            continue;
        }
        if name.contains('@') || *name == key {
            continue;
        }
        let value = Scalar::of(raw);
        if value.is_null() {
            continue;
        }
        let name = name.clone();
        // A lookup `_x_value` is column `x`.
        let column: Cow<'a, str> = match &name {
            Cow::Borrowed(n) => Cow::Borrowed(
                n.strip_prefix('_')
                    .and_then(|n| n.strip_suffix("_value"))
                    .unwrap_or(n),
            ),
            Cow::Owned(n) => Cow::Owned(
                n.strip_prefix('_')
                    .and_then(|n| n.strip_suffix("_value"))
                    .unwrap_or(n)
                    .to_owned(),
            ),
        };
        match value {
            Scalar::Object(related) => {
                let column = column.into_owned();
                native.flatten(name.clone(), &column, related, |sub| !sub.contains('@'))?;
            }
            Scalar::Array(items) => {
                let items = array(items).map_err(|e| ReadError::new(name.to_string(), e))?;
                for (i, item) in items.into_iter().enumerate() {
                    let at = format!("{name}[{i}]");
                    if nested(&at, item)?.is_some_and(|o| o.contains_key("activityid")) {
                        native.children.push((at, item));
                    }
                }
            }
            value => {
                let label = str_of(
                    object.get(&format!("{name}@OData.Community.Display.V1.FormattedValue")),
                );
                native.fields.push(
                    column,
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

fn salesforce<'a>(object: &Object<'a>) -> Result<Native<'a>, ReadError> {
    let attributes = match object.get("attributes") {
        Some(raw) => nested("attributes", raw)?,
        None => None,
    };
    let sobject = attributes
        .as_ref()
        .and_then(|a| str_of(a.get("type")))
        .ok_or_else(|| {
            ReadError::new(
                "attributes.type",
                "a Salesforce record needs `attributes.type`",
            )
        })?;
    let kind = match sobject.as_ref() {
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
    let mut native = Native::new(Format::Salesforce, kind, sobject.into_owned());
    let reference = attributes
        .as_ref()
        .and_then(|a| text_of(a.get("referenceId")));
    native.reference_only =
        object.get("Id").is_none_or(|id| Scalar::of(id).is_null()) && reference.is_some();
    native.id = text_of(object.get("Id")).or(reference).or_else(|| {
        attributes
            .as_ref()
            .and_then(|a| str_of(a.get("url")))
            .and_then(|u| u.rsplit('/').next().map(str::to_owned))
            .filter(|id| !id.is_empty())
    });
    for (name, raw) in object.entries() {
        if name == "attributes" || name == "Id" {
            continue;
        }
        let value = Scalar::of(raw);
        let name = name.clone();
        match value {
            Scalar::Null | Scalar::Array(_) => {}
            Scalar::Object(related) => {
                let inner = Object::of(related)
                    .map_err(|e| ReadError::new(name.to_string(), e.to_string()))?;
                if let Some(records) = inner.get("records") {
                    // A subquery: `(SELECT ... FROM Tasks)`.
                    let records =
                        array(records).map_err(|e| ReadError::new(format!("{name}.records"), e))?;
                    for (i, item) in records.into_iter().enumerate() {
                        native.children.push((format!("{name}.records[{i}]"), item));
                    }
                    // A subquery's result pages like a query's (REST API, Query:
                    // `done`, `nextRecordsUrl`).
                    let done = inner.get("done").and_then(|d| Scalar::of(d).as_bool());
                    let next = text_of(inner.get("nextRecordsUrl"));
                    if done == Some(false) || next.is_some() {
                        native.more_related.push(MoreRelated {
                            path: name.to_string(),
                            next: next.unwrap_or_default(),
                        });
                    }
                    continue;
                }
                // A parent relationship (`Account.Name`) or a compound field
                // (`Address.city`).
                let named = name.to_string();
                native.flatten(name.clone(), &named, related, |sub| sub != "attributes")?;
            }
            value => {
                native.fields.push(
                    name.clone(),
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
    let reference = |v: Option<&RawValue>| text_of(v).map(|s| s.trim_start_matches('@').to_owned());
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

fn hubspot<'a>(object: &Object<'a>, told: Option<ObjectType>) -> Result<Native<'a>, ReadError> {
    let properties = match object.get("properties").map(Scalar::of) {
        Some(Scalar::Object(raw)) => {
            Object::of(raw).map_err(|e| ReadError::new("properties", e.to_string()))?
        }
        _ => {
            return Err(ReadError::new(
                "properties",
                "a HubSpot object needs a `properties` object",
            ))
        }
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
    for (name, raw) in properties.into_entries() {
        let value = Scalar::of(raw);
        if value.is_null() || value.is_object() || value.is_array() {
            continue;
        }
        if value.as_str().is_some_and(str::is_empty) {
            continue;
        }
        native.fields.push(
            name.clone(),
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
    let associated = |to: &str| -> Result<Vec<String>, ReadError> {
        let at = format!("associations.{to}");
        let associations = match object.get("associations") {
            Some(raw) => nested("associations", raw)?,
            None => None,
        };
        let of_kind = match associations.as_ref().and_then(|a| a.get(to)) {
            Some(raw) => nested(&at, raw)?,
            None => None,
        };
        let Some(results) = of_kind
            .and_then(|d| d.get("results"))
            .and_then(|r| array(r).ok())
        else {
            return Ok(Vec::new());
        };
        let mut ids = Vec::new();
        for (i, result) in results.into_iter().enumerate() {
            if let Some(result) = nested(&format!("{at}.results[{i}]"), result)? {
                ids.extend(text_of(result.get("id")));
            }
        }
        Ok(ids)
    };
    if kind == ObjectType::Activity {
        native.parents = associated("deals")?;
        native.parents.extend(associated("contacts")?);
    }
    native.companies = associated("companies")?;
    Ok(native)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn raw(v: serde_json::Value) -> Box<RawValue> {
        RawValue::from_string(v.to_string()).unwrap()
    }

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
        let text = raw(v);
        let n = Native::parse(Format::Dataverse, &text).unwrap();
        assert_eq!(n.object, ObjectType::Lead);
        assert_eq!(n.id.as_deref(), Some("L1"));
        assert_eq!(n.fields["leadsourcecode"].label.as_deref(), Some("Web"));
        assert_eq!(n.fields["parentaccountid"].path(), "_parentaccountid_value");
        assert_eq!(
            n.fields["transactioncurrencyid.isocurrencycode"]
                .value
                .as_str(),
            Some("EUR")
        );
        assert!(!n.fields.contains_key("description"));
    }

    #[test]
    fn fields_are_in_name_order_and_of_one_name_the_last_is_kept() {
        // A compound field flattens to `Account.Name`; a key may be spelled so too.
        let nested_last = json!({
            "attributes": {"type": "Lead"}, "Company": "Acme", "Account.Name": "Spelled",
            "City": "Berlin", "Account": {"Name": "Nested"}
        });
        let text = raw(nested_last);
        let n = Native::parse(Format::Salesforce, &text).unwrap();
        assert_eq!(n.fields["Account.Name"].value.as_str(), Some("Nested"));
        let names: Vec<&str> = n.fields.iter().map(|(k, _)| k.as_ref()).collect();
        assert_eq!(names, ["Account.Name", "City", "Company"]);
        assert_eq!(n.fields.len(), 3);
        assert!(n.fields.contains_key("City") && !n.fields.contains_key("Account"));
        assert!(n.fields.get("Name").is_none());
        let (key, field) = n.fields.get_key_value("City").unwrap();
        assert_eq!(
            (key.as_ref(), field.value.as_str()),
            ("City", Some("Berlin"))
        );

        let spelled_last = json!({
            "attributes": {"type": "Lead"}, "Account": {"Name": "Nested"},
            "Account.Name": "Spelled"
        });
        let text = raw(spelled_last);
        let n = Native::parse(Format::Salesforce, &text).unwrap();
        assert_eq!(n.fields["Account.Name"].value.as_str(), Some("Spelled"));
        assert_eq!(n.fields.len(), 1);
    }

    #[test]
    fn salesforce_subqueries_and_tree_ids() {
        let v = json!({
            "attributes": {"type": "Opportunity", "referenceId": "OppRef1"},
            "StageName": "Prospecting", "Account": {"attributes": {"type": "Account"}, "Name": "Acme"},
            "Tasks": {"totalSize": 1, "done": true, "records": [{"attributes": {"type": "Task"}, "Id": "T1"}]}
        });
        let text = raw(v);
        let n = Native::parse(Format::Salesforce, &text).unwrap();
        assert_eq!(n.id.as_deref(), Some("OppRef1"));
        assert_eq!(n.fields["Account.Name"].value.as_str(), Some("Acme"));
        assert_eq!(n.children.len(), 1);
        let bad = json!({"attributes": {"type": "Case"}});
        assert!(Native::parse(Format::Salesforce, &raw(bad))
            .unwrap_err()
            .message
            .contains("Case"));
    }

    #[test]
    fn a_key_given_twice_in_a_nested_object_is_refused_naming_it() {
        let cases = [
            (
                Format::Salesforce,
                r#"{"attributes": {"type": "Lead", "url": "/x/00Q1", "url": "/x/00Q2"}}"#,
                "attributes",
            ),
            (
                Format::Hubspot,
                r#"{"id": "7", "properties": {"hs_task_subject": "x"},
                    "associations": {"deals": {"results": [{"id": "9", "id": "10"}]}}}"#,
                "associations.deals.results[0]",
            ),
            (
                Format::Dataverse,
                r#"{"opportunityid": "O1", "Opportunity_Tasks":
                    [{"activityid": "T1", "activityid": "T2"}]}"#,
                "Opportunity_Tasks[0]",
            ),
        ];
        for (format, text, at) in cases {
            let text = RawValue::from_string(text.to_owned()).unwrap();
            let err = Native::parse(format, &text).unwrap_err();
            assert_eq!(err.path, at, "{format}: {err:?}");
            assert!(err.message.contains("given twice"), "{format}: {err:?}");
        }
    }

    #[test]
    fn hubspot_object_types() {
        let deal = json!({"id": "9", "properties": {"dealname": "x", "dealstage": "closedwon"}});
        assert_eq!(
            Native::parse(Format::Hubspot, &raw(deal)).unwrap().object,
            ObjectType::Opportunity
        );
        let task = json!({"id": "7", "properties": {"hs_task_subject": "x"},
            "associations": {"deals": {"results": [{"id": "9", "type": "task_to_deal"}]}}});
        let text = raw(task);
        let n = Native::parse(Format::Hubspot, &text).unwrap();
        assert_eq!(n.object, ObjectType::Activity);
        assert_eq!(n.parents, vec!["9"]);
        let contact = json!({"id": "1", "properties": {"email": "a@b.c", "firstname": ""}});
        let text = raw(contact);
        let n = Native::parse(Format::Hubspot, &text).unwrap();
        assert_eq!(n.object, ObjectType::Contact);
        assert!(!n.fields.contains_key("firstname"));
    }
}
