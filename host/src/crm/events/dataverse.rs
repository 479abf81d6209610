//! Dataverse's `RemoteExecutionContext`: what a webhook or an Azure Service Bus
//! endpoint receives when a registered step runs (Dataverse developer guide,
//! "Use webhooks to create external handlers for server events" and the
//! `RemoteExecutionContext` class: `MessageName`, `PrimaryEntityName`,
//! `PrimaryEntityId`, `InputParameters` with the `Target` entity,
//! `PreEntityImages`/`PostEntityImages`). Its JSON is the data-contract
//! serialisation: collections are `[{"key": ..., "value": ...}]`, typed values
//! carry `__type` (`OptionSetValue`, `Money`, `EntityReference`), and dates are
//! `/Date(ms)/`. The record handed on is in the Web API's shape, which the
//! Dataverse reader reads.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{Change, EventError, Record, Source};
use crate::crm::{Format, ObjectType};

/// Whether `value` is a RemoteExecutionContext.
pub fn is_context(value: &Value) -> bool {
    value.get("MessageName").is_some_and(Value::is_string)
        && value.get("PrimaryEntityName").is_some_and(Value::is_string)
        && value.get("InputParameters").is_some_and(Value::is_array)
}

/// The value of `key` in a data-contract collection (`[{"key", "value"}]`).
fn keyed<'v>(collection: Option<&'v Value>, key: &str) -> Option<&'v Value> {
    collection?
        .as_array()?
        .iter()
        .find(|pair| pair.get("key").and_then(Value::as_str) == Some(key))
        .and_then(|pair| pair.get("value"))
}

/// `/Date(1586855883000)/` (or with an offset, `/Date(1586855883000+0000)/`) as
/// RFC 3339; `None` when `text` is not one.
fn date(text: &str) -> Option<String> {
    let inner = text.strip_prefix("/Date(")?.strip_suffix(")/")?;
    let digits_end = inner
        .char_indices()
        .skip(1)
        .find(|(_, c)| *c == '+' || *c == '-')
        .map_or(inner.len(), |(i, _)| i);
    let ms: i64 = inner[..digits_end].parse().ok()?;
    let at: DateTime<Utc> = DateTime::from_timestamp_millis(ms)?;
    Some(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// Lays one entity's attributes (and their formatted values) over `record`, in
/// the Web API's shape: option sets and money as numbers, lookups as
/// `_x_value`, dates as RFC 3339.
fn lay(record: &mut Record, entity: &Value, at: &str) -> Result<(), EventError> {
    let attributes = entity
        .get("Attributes")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            EventError::at(format!("{at}.Attributes"), "an entity needs its Attributes")
        })?;
    for (i, pair) in attributes.iter().enumerate() {
        let Some(key) = pair.get("key").and_then(Value::as_str) else {
            return Err(EventError::at(
                format!("{at}.Attributes[{i}]"),
                "an attribute needs a `key`",
            ));
        };
        let value = pair.get("value").unwrap_or(&Value::Null);
        match value {
            Value::Object(typed) => {
                let kind = typed.get("__type").and_then(Value::as_str).unwrap_or("");
                if kind.starts_with("EntityReference") {
                    let id = typed.get("Id").cloned().unwrap_or(Value::Null);
                    record.insert(format!("_{key}_value"), id);
                    if let Some(name) = typed.get("Name").and_then(Value::as_str) {
                        record.insert(
                            format!("_{key}_value@OData.Community.Display.V1.FormattedValue"),
                            name.into(),
                        );
                    }
                } else if kind.starts_with("OptionSetValue:") || kind.starts_with("Money") {
                    record.insert(
                        key.to_owned(),
                        typed.get("Value").cloned().unwrap_or(Value::Null),
                    );
                }
                // Other types (multi-select option sets, managed properties) are
                // read by no slot.
            }
            Value::String(text) => {
                let value = date(text).map_or_else(|| value.clone(), Value::String);
                record.insert(key.to_owned(), value);
            }
            Value::Array(_) => {}
            other => {
                record.insert(key.to_owned(), other.clone());
            }
        }
    }
    if let Some(formatted) = entity.get("FormattedValues").and_then(Value::as_array) {
        for pair in formatted {
            if let (Some(key), Some(label)) = (
                pair.get("key").and_then(Value::as_str),
                pair.get("value").and_then(Value::as_str),
            ) {
                // A lookup's label is its Name, laid above.
                if record.contains_key(key) {
                    record.insert(
                        format!("{key}@OData.Community.Display.V1.FormattedValue"),
                        label.into(),
                    );
                }
            }
        }
    }
    Ok(())
}

/// The entities of an image collection (`PreEntityImages`, `PostEntityImages`).
fn images<'v>(context: &'v Value, name: &str) -> Vec<(String, &'v Value)> {
    context
        .get(name)
        .and_then(Value::as_array)
        .map(|pairs| {
            pairs
                .iter()
                .enumerate()
                .filter_map(|(i, pair)| Some((format!("{name}[{i}].value"), pair.get("value")?)))
                .collect()
        })
        .unwrap_or_default()
}

/// The change a RemoteExecutionContext tells of. The record is the pre-image,
/// the `Target` (what the operation set) and the post-image laid over each
/// other; it is whole for a Create (its Target is the new record) or when an
/// image was registered, and partial for an Update with none.
pub fn changes(context: &Value) -> Result<Vec<Change>, EventError> {
    let text = |key: &str| context.get(key).and_then(Value::as_str).unwrap_or("");
    let message = text("MessageName");
    let table = text("PrimaryEntityName");
    let object = match table {
        "lead" => ObjectType::Lead,
        "opportunity" => ObjectType::Opportunity,
        other => {
            return Err(EventError::at(
                "PrimaryEntityName",
                format!("`{other}` events are not decided (lead and opportunity are)"),
            ))
        }
    };
    let target = keyed(context.get("InputParameters"), "Target");
    // Delete's Target is an EntityReference; Create's id is in OutputParameters.
    let id = [
        context.get("PrimaryEntityId"),
        target.and_then(|t| t.get("Id")),
        keyed(context.get("OutputParameters"), "id"),
    ]
    .into_iter()
    .flatten()
    .filter_map(Value::as_str)
    .find(|id| !id.is_empty() && *id != "00000000-0000-0000-0000-000000000000")
    .ok_or_else(|| EventError::at("PrimaryEntityId", "the event names no record id"))?
    .to_owned();
    let pre = images(context, "PreEntityImages");
    let post = images(context, "PostEntityImages");
    let mut record = Record::new();
    record.insert(
        "@odata.type".into(),
        format!("#Microsoft.Dynamics.CRM.{table}").into(),
    );
    for (at, entity) in &pre {
        lay(&mut record, entity, at)?;
    }
    let mut changed = Vec::new();
    let target_entity = target.filter(|t| t.get("Attributes").is_some());
    if let Some(entity) = target_entity {
        lay(&mut record, entity, "InputParameters.Target")?;
        changed = entity
            .get("Attributes")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|p| p.get("key").and_then(Value::as_str).map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
    }
    for (at, entity) in &post {
        lay(&mut record, entity, at)?;
    }
    record.insert(format!("{table}id"), id.clone().into());
    let whole = message == "Create" || !pre.is_empty() || !post.is_empty();
    let at = match (post.first(), target_entity) {
        (Some((at, _)), _) => at.clone(),
        (None, Some(_)) => "InputParameters.Target".to_owned(),
        _ => String::new(),
    };
    Ok(vec![Change {
        source: Source::DataverseContext,
        format: Format::Dataverse,
        object,
        entity: table.to_owned(),
        id,
        change: message.to_lowercase(),
        changed,
        record: whole.then_some(Value::Object(record)),
        at,
    }])
}

/// Whether `given` is the webhook key the org expects (WebhookKey
/// authentication: Dataverse sends it as the `code` query parameter). Compared
/// in constant time.
pub fn key_matches(expected: &str, given: &str) -> bool {
    use subtle::ConstantTimeEq;
    expected.len() == given.len() && bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wcf_dates_become_rfc_3339() {
        assert_eq!(
            date("/Date(1586855883000)/").as_deref(),
            Some("2020-04-14T09:18:03Z")
        );
        assert_eq!(
            date("/Date(1586855883000+0000)/").as_deref(),
            Some("2020-04-14T09:18:03Z")
        );
        assert_eq!(date("2020-04-14"), None);
    }
}
