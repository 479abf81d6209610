//! HubSpot webhooks (developers.hubspot.com, "Webhooks API": a POST of a JSON
//! array of events, each with `subscriptionType` such as `contact.propertyChange`
//! or `deal.creation`, `objectId`, `propertyName`, `propertyValue`,
//! `occurredAt`; "Validating requests": signature v3).
//!
//! An event carries the one property that changed, so it is decided only when
//! the integrator attached the record it fetched, as `object` (a v3 CRM object,
//! `{"id", "properties"}`); otherwise its answer says to fetch the record.
//! Several events about one record come as one change.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use super::{Change, EventError, Source};
use crate::crm::{Format, ObjectType};

/// How old a signed request may be: HubSpot says to reject a timestamp older
/// than five minutes.
pub const MAX_AGE_MS: i64 = 5 * 60 * 1000;

/// Whether `value` is a webhook batch: an array of objects with a
/// `subscriptionType` and an `objectId`.
pub fn is_webhook_batch(value: &Value) -> bool {
    value.as_array().is_some_and(|events| {
        !events.is_empty()
            && events.iter().all(|e| {
                e.get("subscriptionType").is_some_and(Value::is_string)
                    && e.get("objectId").is_some()
            })
    })
}

/// `contact` or `deal` from a `subscriptionType` (`contact.propertyChange`) or a
/// generic event's `objectTypeId` (`0-1` contacts, `0-3` deals).
fn object_of(event: &Value, at: &str) -> Result<(ObjectType, &'static str, String), EventError> {
    let kind = event["subscriptionType"].as_str().unwrap_or("");
    let (prefix, action) = kind.split_once('.').unwrap_or((kind, ""));
    let prefix = match (prefix, event.get("objectTypeId").and_then(Value::as_str)) {
        ("object", Some("0-1")) => "contact",
        ("object", Some("0-3")) => "deal",
        (p, _) => p,
    };
    match prefix {
        "contact" => Ok((ObjectType::Lead, "contacts", action.to_lowercase())),
        "deal" => Ok((ObjectType::Opportunity, "deals", action.to_lowercase())),
        other => Err(EventError::at(
            format!("{at}.subscriptionType"),
            format!("`{other}` events are not decided (contact and deal are)"),
        )),
    }
}

/// The changes of a webhook batch: one per record, in the order each record
/// first appears, with every property its events name.
pub fn changes(batch: &Value) -> Result<Vec<Change>, EventError> {
    let events = batch
        .as_array()
        .ok_or_else(|| EventError::at("", "a webhook batch is a JSON array"))?;
    let mut out: Vec<Change> = Vec::new();
    for (i, event) in events.iter().enumerate() {
        let at = format!("[{i}]");
        let (object, entity, action) = object_of(event, &at)?;
        let id = match &event["objectId"] {
            Value::Number(n) => n.to_string(),
            Value::String(s) if !s.is_empty() => s.clone(),
            _ => {
                return Err(EventError::at(
                    format!("{at}.objectId"),
                    "an event needs the id of its object",
                ))
            }
        };
        let attached = match event.get("object") {
            Some(record) if record.get("properties").is_some_and(Value::is_object) => {
                if record.get("id").and_then(id_text).as_deref() != Some(id.as_str()) {
                    return Err(EventError::at(
                        format!("{at}.object.id"),
                        format!("the attached record is not object {id}"),
                    ));
                }
                Some(record.clone())
            }
            Some(_) => {
                return Err(EventError::at(
                    format!("{at}.object"),
                    "an attached record is a CRM object: `{\"id\", \"properties\"}`",
                ))
            }
            None => None,
        };
        let property = event
            .get("propertyName")
            .and_then(Value::as_str)
            .map(str::to_owned);
        match out.iter_mut().find(|c| c.id == id && c.object == object) {
            Some(change) => {
                change.changed.extend(property);
                if attached.is_some() {
                    change.record = attached;
                }
                if !change.change.contains(&action) {
                    change.change = format!("{},{action}", change.change);
                }
            }
            None => out.push(Change {
                source: Source::HubspotWebhook,
                format: Format::Hubspot,
                object,
                entity: entity.to_owned(),
                id,
                change: action,
                changed: property.into_iter().collect(),
                record: attached,
                at,
            }),
        }
    }
    Ok(out)
}

fn id_text(value: &Value) -> Option<String> {
    match value {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// Why a signed request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// A header the check needs is missing or unreadable.
    #[error("the request has no valid {0} header")]
    Missing(&'static str),
    /// The timestamp is outside the five minutes HubSpot allows.
    #[error("the request's timestamp is {age_ms} ms from now, more than the 300000 allowed")]
    Stale {
        /// How far from now.
        age_ms: i64,
    },
    /// The signature is not the app secret's.
    #[error("the X-HubSpot-Signature-v3 signature does not match this app's secret")]
    Mismatch,
}

/// Checks a v3 signature ("Validating requests"): the Base64 of the HMAC
/// SHA-256, keyed with the app's client secret, of method, URI, body and
/// timestamp joined; the timestamp (`X-HubSpot-Request-Timestamp`, epoch
/// milliseconds) within five minutes of `now_ms`. `uri` is the full URL HubSpot
/// called. Compared in constant time.
pub fn verify_signature(
    secret: &[u8],
    method: &str,
    uri: &str,
    body: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    now_ms: i64,
) -> Result<(), SignatureError> {
    let timestamp = timestamp.ok_or(SignatureError::Missing("X-HubSpot-Request-Timestamp"))?;
    let at: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| SignatureError::Missing("X-HubSpot-Request-Timestamp"))?;
    let age_ms = now_ms.saturating_sub(at);
    if age_ms.abs() > MAX_AGE_MS {
        return Err(SignatureError::Stale { age_ms });
    }
    let given = signature
        .and_then(|s| {
            base64::engine::general_purpose::STANDARD
                .decode(s.trim())
                .ok()
        })
        .ok_or(SignatureError::Missing("X-HubSpot-Signature-v3"))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| SignatureError::Mismatch)?;
    mac.update(method.as_bytes());
    mac.update(uri.as_bytes());
    mac.update(body);
    mac.update(timestamp.as_bytes());
    mac.verify_slice(&given)
        .map_err(|_| SignatureError::Mismatch)
}

/// Signs as HubSpot does (for tests and for clients replaying events).
pub fn sign(secret: &[u8], method: &str, uri: &str, body: &[u8], timestamp: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(method.as_bytes());
    mac.update(uri.as_bytes());
    mac.update(body);
    mac.update(timestamp.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_is_checked_with_the_secret_and_the_time() {
        let body = br#"[{"objectId":1,"subscriptionType":"contact.creation"}]"#;
        let uri = "https://example.com/v1/orgs/acme/events/hubspot";
        let sig = sign(b"secret", "POST", uri, body, "1700000000000");
        let check = |secret: &[u8], now: i64, sig: &str| {
            verify_signature(
                secret,
                "POST",
                uri,
                body,
                Some("1700000000000"),
                Some(sig),
                now,
            )
        };
        assert_eq!(check(b"secret", 1_700_000_001_000, &sig), Ok(()));
        assert_eq!(
            check(b"other", 1_700_000_001_000, &sig),
            Err(SignatureError::Mismatch)
        );
        assert!(matches!(
            check(b"secret", 1_700_000_000_000 + MAX_AGE_MS + 1, &sig),
            Err(SignatureError::Stale { .. })
        ));
        assert_eq!(
            verify_signature(b"secret", "POST", uri, body, None, Some(&sig), 0),
            Err(SignatureError::Missing("X-HubSpot-Request-Timestamp"))
        );
    }
}
