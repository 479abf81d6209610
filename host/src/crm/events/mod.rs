//! CRM events in: what a CRM pushes when a lead or an opportunity changes, read
//! into the native records the adapters decide.
//!
//! - Dataverse: the `RemoteExecutionContext` a webhook or Service Bus endpoint
//!   receives ([`dataverse`]);
//! - Salesforce: Change Data Capture events and Outbound Messages
//!   ([`salesforce`]);
//! - HubSpot: webhook batches ([`hubspot`]), whose v3 signature is checked by
//!   [`hubspot::verify_signature`].
//!
//! An event either carries its record whole (a create, an image, an outbound
//! message's sObject, a record attached by the integrator) and is decided like
//! any native record, or it carries only what changed: then its answer names the
//! record and the fields to fetch ([`fields_to_fetch`]) instead of a decision made
//! on a record with holes.

pub mod dataverse;
pub mod hubspot;
pub mod salesforce;

use serde::Serialize;
use serde_json::{Map, Value};

use super::{Format, ObjectType, Vocabulary};

/// Which kind of event a payload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Dataverse `RemoteExecutionContext` (webhook, Service Bus).
    DataverseContext,
    /// Salesforce Change Data Capture event.
    SalesforceChangeEvent,
    /// Salesforce Outbound Message (SOAP `notifications`).
    SalesforceOutboundMessage,
    /// HubSpot webhook batch.
    HubspotWebhook,
}

impl Source {
    /// The CRM whose event it is.
    pub fn format(self) -> Format {
        match self {
            Source::DataverseContext => Format::Dataverse,
            Source::SalesforceChangeEvent | Source::SalesforceOutboundMessage => Format::Salesforce,
            Source::HubspotWebhook => Format::Hubspot,
        }
    }
}

/// One record change an event tells of.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// The kind of event.
    pub source: Source,
    /// The CRM.
    pub format: Format,
    /// What the record is: `lead` (for HubSpot, a contact) or `opportunity`.
    #[serde(serialize_with = "object_name")]
    pub object: ObjectType,
    /// The CRM's name of the record's type (`lead`, `Opportunity`, `contact`).
    pub entity: String,
    /// The record's id.
    pub id: String,
    /// What happened, in the CRM's words, lower case (`create`, `update`,
    /// `delete`, `propertychange`...).
    pub change: String,
    /// The fields the event says changed (empty when it does not say).
    pub changed: Vec<String>,
    /// The record in the shape its CRM's API returns it, when the event carries
    /// it whole; `None` when it carries only part of it.
    pub record: Option<Value>,
    /// Where in the event the change is (`PostEntityImages[0]`, `[3]`, `Notification[1]`).
    pub at: String,
}

fn object_name<S: serde::Serializer>(object: &ObjectType, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(object.as_str())
}

impl Change {
    /// Whether the change removed the record: nothing to decide.
    pub fn is_removal(&self) -> bool {
        self.change.contains("delet")
    }
}

/// Why an event could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// The payload is no event this project reads.
    #[error("not a CRM event: expected a Dataverse RemoteExecutionContext, a Salesforce change event or outbound message, or a HubSpot webhook batch")]
    NotAnEvent,
    /// The payload is an event of another CRM than the one named.
    #[error("this is a {found} event, not a {expected} one")]
    OtherCrm {
        /// The CRM named (the route's `{crm}`).
        expected: Format,
        /// The CRM whose event it is.
        found: Format,
    },
    /// The event is of its kind but wrong at `at`.
    #[error("{at}: {message}")]
    Malformed {
        /// Where in the event (a JSON path, or an XML element).
        at: String,
        /// What is wrong.
        message: String,
    },
}

impl EventError {
    pub(crate) fn at(at: impl Into<String>, message: impl Into<String>) -> Self {
        EventError::Malformed {
            at: at.into(),
            message: message.into(),
        }
    }
}

/// Which event `text` is, by its shape; `None` when it is none (an ordinary
/// record or collection).
pub fn sniff(text: &str) -> Option<Source> {
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if trimmed.starts_with('<') {
        return salesforce::is_outbound_message(trimmed)
            .then_some(Source::SalesforceOutboundMessage);
    }
    let value: Value = serde_json::from_str(trimmed).ok()?;
    sniff_value(&value)
}

fn sniff_value(value: &Value) -> Option<Source> {
    if dataverse::is_context(value) {
        Some(Source::DataverseContext)
    } else if salesforce::is_change_event(value) {
        Some(Source::SalesforceChangeEvent)
    } else if hubspot::is_webhook_batch(value) {
        Some(Source::HubspotWebhook)
    } else {
        None
    }
}

/// Reads an event (JSON, or an Outbound Message's XML) into its changes.
pub fn read(text: &str) -> Result<(Source, Vec<Change>), EventError> {
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if trimmed.starts_with('<') {
        let changes = salesforce::outbound_message(trimmed)?;
        return Ok((Source::SalesforceOutboundMessage, changes));
    }
    let value: Value =
        serde_json::from_str(trimmed).map_err(|e| EventError::at("", format!("not JSON: {e}")))?;
    let source = sniff_value(&value).ok_or(EventError::NotAnEvent)?;
    let changes = match source {
        Source::DataverseContext => dataverse::changes(&value)?,
        Source::SalesforceChangeEvent => salesforce::change_events(&value)?,
        Source::HubspotWebhook => hubspot::changes(&value)?,
        Source::SalesforceOutboundMessage => unreachable!("XML is read above"),
    };
    Ok((source, changes))
}

/// Reads an event that must be `format`'s (the service's `/events/{crm}`).
pub fn read_as(format: Format, text: &str) -> Result<(Source, Vec<Change>), EventError> {
    let (source, changes) = read(text)?;
    if source.format() != format {
        return Err(EventError::OtherCrm {
            expected: format,
            found: source.format(),
        });
    }
    Ok((source, changes))
}

/// Contract slots read from a lead, and from an opportunity.
const LEAD_SLOTS: &[&str] = &[
    "company",
    "contact_name",
    "first_name",
    "last_name",
    "email",
    "topic",
    "source",
    "status",
    "lifecycle",
    "engagement",
    "budget",
    "budget_status",
    "decision_maker_known",
    "need",
    "timeframe",
    "estimated_value",
    "estimated_close",
    "existing_customer",
    "currency",
];
const OPPORTUNITY_SLOTS: &[&str] = &[
    "name",
    "stage",
    "amount",
    "close_date",
    "closed",
    "currency",
    "account_id",
];

/// The native fields a decision about the changed record reads, as the org's
/// vocabulary maps them: what to fetch when the event carries only part of the
/// record. Related fields (`transactioncurrencyid.isocurrencycode`) are named
/// as the vocabulary names them.
pub fn fields_to_fetch(vocab: &Vocabulary, change: &Change) -> Vec<String> {
    let slots = match change.object {
        ObjectType::Opportunity => OPPORTUNITY_SLOTS,
        _ => LEAD_SLOTS,
    };
    let mut fields: Vec<String> = Vec::new();
    for slot in slots {
        if let Some(field) = vocab.field(slot) {
            if !fields.iter().any(|f| f == field) {
                fields.push(field.to_owned());
            }
        }
    }
    fields
}

/// A JSON object from key/value pairs (a record being built).
pub(crate) type Record = Map<String, Value>;

/// An event made ready to decide: the records it carries whole (in the order
/// of its changes), and an answer for each change that cannot be decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    /// The kind of event.
    pub source: Source,
    /// The records to decide, each in its CRM's API shape.
    pub records: Vec<Value>,
    /// For each change not decided, the line that says why and what to do:
    /// `fetch` names the fields to read before deciding the record; `skipped`
    /// says the record was removed.
    pub answers: Vec<Value>,
}

impl Prepared {
    /// Sorts `changes` into records to decide and answers, naming the fields to
    /// fetch from the org's vocabulary of the event's CRM.
    pub fn new(source: Source, changes: Vec<Change>, vocabularies: &super::Vocabularies) -> Self {
        let mut records = Vec::new();
        let mut answers = Vec::new();
        for change in changes {
            let mut answer = serde_json::json!({
                "event": change.at,
                "format": change.format,
                "object": change.object.as_str(),
                "entity": change.entity,
                "id": change.id,
                "change": change.change,
            });
            if change.is_removal() {
                answer["skipped"] = "the record was removed: nothing to decide".into();
                answers.push(answer);
                continue;
            }
            match change.record {
                Some(record) => records.push(record),
                None => {
                    let fields = vocabularies
                        .get(change.format)
                        .map(|v| fields_to_fetch(v, &change))
                        .unwrap_or_default();
                    answer["changed"] = serde_json::json!(change.changed);
                    answer["fetch"] = serde_json::json!(fields);
                    answer["reason"] = format!(
                        "the event carries only what changed{}: fetch the {} and decide it",
                        if change.changed.is_empty() {
                            String::new()
                        } else {
                            format!(" ({})", change.changed.join(", "))
                        },
                        change.object.as_str()
                    )
                    .into();
                    answers.push(answer);
                }
            }
        }
        Prepared {
            source,
            records,
            answers,
        }
    }

    /// The records as one JSON array, as a native input file holds them.
    pub fn records_text(&self) -> String {
        Value::Array(self.records.clone()).to_string()
    }
}
