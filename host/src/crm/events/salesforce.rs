//! Salesforce's events:
//!
//! - Change Data Capture (Change Data Capture Developer Guide, "Change Event
//!   Message Structure"): a `ChangeEventHeader` (`entityName`, `recordIds`,
//!   `changeType`, `changedFields`) and the fields, as CometD delivers it
//!   (`{"data": {"payload": ...}}`), as a bare payload, or a list of them. A
//!   create (and an undelete) carries every non-null field; an update only the
//!   changed ones; a gap event none.
//! - Outbound Messages (SOAP API, "Outbound Messaging": the `notifications`
//!   element, one `Notification` per record with its `sObject`, answered with
//!   [`OUTBOUND_ACK`]). The sObject holds the fields the admin chose.
//!
//! XML is read with `roxmltree` (a small read-only DOM with namespaces, no
//! network access and no entity expansion), as DTDs are refused.

use serde_json::Value;

use super::{Change, EventError, Record, Source};
use crate::crm::{Format, ObjectType};

/// The answer an Outbound Message endpoint sends once it has the notifications:
/// without `<Ack>true</Ack>` Salesforce sends them again.
pub const OUTBOUND_ACK: &str = concat!(
    r#"<?xml version="1.0" encoding="UTF-8"?>"#,
    r#"<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">"#,
    r#"<soapenv:Body><notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound">"#,
    r#"<Ack>true</Ack></notificationsResponse></soapenv:Body></soapenv:Envelope>"#,
);

fn object_of(entity: &str, at: &str) -> Result<ObjectType, EventError> {
    match entity {
        "Lead" => Ok(ObjectType::Lead),
        "Opportunity" => Ok(ObjectType::Opportunity),
        other => Err(EventError::at(
            at,
            format!("`{other}` events are not decided (Lead and Opportunity are)"),
        )),
    }
}

// ---- Change Data Capture ------------------------------------------------------

/// The event payload in `value`: itself, its `payload`, or `data.payload`.
fn payload(value: &Value) -> Option<(&Value, &'static str)> {
    if value.get("ChangeEventHeader").is_some() {
        return Some((value, ""));
    }
    if let Some(p) = value
        .get("payload")
        .filter(|p| p.get("ChangeEventHeader").is_some())
    {
        return Some((p, "payload."));
    }
    value
        .get("data")
        .and_then(|d| d.get("payload"))
        .filter(|p| p.get("ChangeEventHeader").is_some())
        .map(|p| (p, "data.payload."))
}

/// Whether `value` is a change event, or a list of them.
pub fn is_change_event(value: &Value) -> bool {
    match value {
        Value::Array(items) => !items.is_empty() && items.iter().all(|i| payload(i).is_some()),
        other => payload(other).is_some(),
    }
}

/// The changes of one change event (one per record id) or of a list of them.
pub fn change_events(value: &Value) -> Result<Vec<Change>, EventError> {
    match value {
        Value::Array(items) => {
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                out.extend(change_event(item, &format!("[{i}]."))?);
            }
            Ok(out)
        }
        one => change_event(one, ""),
    }
}

fn change_event(value: &Value, prefix: &str) -> Result<Vec<Change>, EventError> {
    let (payload, inner) = payload(value).ok_or_else(|| {
        EventError::at(
            prefix.trim_end_matches('.'),
            "a change event needs a ChangeEventHeader",
        )
    })?;
    let at = |rest: &str| format!("{prefix}{inner}{rest}");
    let header = &payload["ChangeEventHeader"];
    let text = |key: &str| header.get(key).and_then(Value::as_str);
    let entity = text("entityName").ok_or_else(|| {
        EventError::at(
            at("ChangeEventHeader.entityName"),
            "the header names no entity",
        )
    })?;
    let object = object_of(entity, &at("ChangeEventHeader.entityName"))?;
    let change_type = text("changeType").ok_or_else(|| {
        EventError::at(
            at("ChangeEventHeader.changeType"),
            "the header has no changeType",
        )
    })?;
    let ids: Vec<&str> = header
        .get("recordIds")
        .and_then(Value::as_array)
        .map(|ids| ids.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if ids.is_empty() {
        return Err(EventError::at(
            at("ChangeEventHeader.recordIds"),
            "the header names no record",
        ));
    }
    let changed: Vec<String> = header
        .get("changedFields")
        .and_then(Value::as_array)
        .map(|f| {
            f.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    // Create and undelete events carry every non-null field; the rest do not.
    let whole = matches!(change_type, "CREATE" | "UNDELETE");
    let mut fields = Record::new();
    if let Some(all) = payload.as_object() {
        for (key, value) in all {
            match (key.as_str(), value) {
                ("ChangeEventHeader", _) | (_, Value::Null) => {}
                // Compound fields (Name, Address) come nested; the REST shape
                // has their parts as fields of their own.
                (_, Value::Object(parts)) => {
                    for (part, value) in parts {
                        if !value.is_null() {
                            fields.insert(part.clone(), value.clone());
                        }
                    }
                }
                _ => {
                    fields.insert(key.clone(), value.clone());
                }
            }
        }
    }
    Ok(ids
        .iter()
        .map(|id| {
            let mut record = Record::new();
            record.insert("attributes".into(), serde_json::json!({ "type": entity }));
            record.insert("Id".into(), (*id).into());
            record.extend(fields.clone());
            Change {
                source: Source::SalesforceChangeEvent,
                format: Format::Salesforce,
                object,
                entity: entity.to_owned(),
                id: (*id).to_owned(),
                change: change_type.to_lowercase(),
                changed: changed.clone(),
                record: whole.then_some(Value::Object(record)),
                at: at("").trim_end_matches('.').to_owned(),
            }
        })
        .collect())
}

// ---- Outbound Messages --------------------------------------------------------

const OUTBOUND_NS: &str = "http://soap.sforce.com/2005/09/outbound";
const XSI_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// Whether `text` is a SOAP envelope holding Outbound Message `notifications`.
pub fn is_outbound_message(text: &str) -> bool {
    roxmltree::Document::parse(text).is_ok_and(|doc| {
        doc.descendants()
            .any(|n| n.has_tag_name((OUTBOUND_NS, "notifications")))
    })
}

/// The changes of an Outbound Message: one per `Notification`, each whole (the
/// sObject holds the fields the message was set up to send).
pub fn outbound_message(text: &str) -> Result<Vec<Change>, EventError> {
    let doc = roxmltree::Document::parse(text)
        .map_err(|e| EventError::at("", format!("not XML: {e}")))?;
    let notifications = doc
        .descendants()
        .find(|n| n.has_tag_name((OUTBOUND_NS, "notifications")))
        .ok_or(EventError::NotAnEvent)?;
    let mut out = Vec::new();
    for (i, notification) in notifications
        .children()
        .filter(|n| n.has_tag_name((OUTBOUND_NS, "Notification")))
        .enumerate()
    {
        let at = format!("notifications.Notification[{i}]");
        let sobject = notification
            .children()
            .find(|n| n.has_tag_name((OUTBOUND_NS, "sObject")))
            .ok_or_else(|| EventError::at(&at, "a Notification needs its sObject"))?;
        // `xsi:type="sf:Lead"`: the prefix is the sObject namespace's.
        let entity = sobject
            .attribute((XSI_NS, "type"))
            .map(|t| t.rsplit(':').next().unwrap_or(t))
            .ok_or_else(|| {
                EventError::at(format!("{at}.sObject"), "the sObject has no xsi:type")
            })?;
        let object = object_of(entity, &format!("{at}.sObject"))?;
        let mut record = Record::new();
        record.insert("attributes".into(), serde_json::json!({ "type": entity }));
        let mut changed = Vec::new();
        for field in sobject.children().filter(|n| n.is_element()) {
            let name = field.tag_name().name();
            if field.attribute((XSI_NS, "nil")) == Some("true") {
                continue;
            }
            let text = field.text().unwrap_or("");
            // Every value is text in XML; flags become booleans, as the REST
            // shape has them (numbers are read from their text by the reader).
            let value = match text {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                t => Value::String(t.to_owned()),
            };
            record.insert(name.to_owned(), value);
            if name != "Id" {
                changed.push(name.to_owned());
            }
        }
        let id = record
            .get("Id")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
            .ok_or_else(|| EventError::at(format!("{at}.sObject"), "the sObject has no Id"))?
            .to_owned();
        out.push(Change {
            source: Source::SalesforceOutboundMessage,
            format: Format::Salesforce,
            object,
            entity: entity.to_owned(),
            id,
            change: "notification".into(),
            changed,
            record: Some(Value::Object(record)),
            at,
        });
    }
    if out.is_empty() {
        return Err(EventError::at("notifications", "no Notification"));
    }
    Ok(out)
}
