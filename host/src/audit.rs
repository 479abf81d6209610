//! The audit log: every decision, traceable afterwards.
//!
//! JSON lines on disk, one entry per decision: org, module hash and version, a
//! SHA-256 of the input, the decision and its reasons, the decision's `now`, the
//! wall time and the fuel used. Personal data is masked before it is written.
//!
//! Lines are hash-chained, MAC'd with a key the host holds, and signed at
//! checkpoints ([`chain`]); they are appended under a file lock, so several
//! processes can share one log ([`writer`]); [`verify`] checks all of it and names
//! the first bad line.

use std::fs::File;
use std::io::{BufRead as _, BufReader};
use std::path::Path;

use chrono::{DateTime, Utc};
use crm_rules_model::Context;
use serde::Deserialize;
use serde_json::Value;

use crate::registry::Provenance;

pub mod chain;
mod verify;
pub mod writer;

pub use chain::{default_key_file, AuditKey};
pub use verify::{verify, verify_bytes, Broken, Expectations, Expected, Verified, Verifier};
pub use writer::{AuditError, AuditLog, CHECKPOINT_EVERY};

/// What an org masks in its audit entries (`"audit"` in `org.json`).
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditPolicy {
    /// Fields, besides the built-in personal ones (emails, phone numbers, names),
    /// whose values are masked wherever they appear, e.g. `"new_nationalid"`.
    pub mask_fields: Vec<String>,
}

/// Field names whose values are personal data in every org: the canonical
/// contract's and the common CRM ones (Dataverse, Salesforce, HubSpot).
const PERSONAL: &[&str] = &[
    "email",
    "emailaddress1",
    "emailaddress2",
    "phone",
    "mobilephone",
    "telephone1",
    "telephone2",
    "mobile",
    "mobilephone",
    "contact_name",
    "fullname",
    "firstname",
    "lastname",
    "first_name",
    "last_name",
    "name",
];

const MASK: &str = "[masked]";

/// Masks personal data in `value`, given the record it was decided from: values of
/// personal and org-listed fields are replaced wherever they appear (also inside
/// reasons and follow-up subjects), and anything shaped like an email address or a
/// phone number is masked as well.
pub fn mask(value: &Value, input: &Value, policy: &AuditPolicy) -> Value {
    let mut secrets = Vec::new();
    collect_secrets(input, policy, &mut secrets);
    secrets.sort_by_key(|s: &String| std::cmp::Reverse(s.len()));
    secrets.dedup();
    mask_value(value, policy, &secrets)
}

impl AuditPolicy {
    /// Whether a field's values are personal: the built-in personal fields and the
    /// org's own `mask_fields`, by canonical or CRM name.
    pub fn is_personal(&self, field: &str) -> bool {
        is_personal(field, self)
    }
}

fn is_personal(key: &str, policy: &AuditPolicy) -> bool {
    PERSONAL.iter().any(|p| p.eq_ignore_ascii_case(key))
        || policy
            .mask_fields
            .iter()
            .any(|p| p.eq_ignore_ascii_case(key))
}

fn collect_secrets(value: &Value, policy: &AuditPolicy, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match v {
                    Value::String(s) if is_personal(key, policy) && s.trim().len() >= 2 => {
                        out.push(s.trim().to_owned())
                    }
                    Value::Number(n) if is_personal(key, policy) => out.push(n.to_string()),
                    _ => collect_secrets(v, policy, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_secrets(v, policy, out)),
        _ => {}
    }
}

fn mask_value(value: &Value, policy: &AuditPolicy, secrets: &[String]) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let masked = match v {
                        Value::String(_) | Value::Number(_) if is_personal(k, policy) => {
                            Value::String(MASK.to_owned())
                        }
                        _ => mask_value(v, policy, secrets),
                    };
                    (k.clone(), masked)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| mask_value(v, policy, secrets))
                .collect(),
        ),
        Value::String(s) => Value::String(mask_text(s, secrets)),
        other => other.clone(),
    }
}

fn mask_text(text: &str, secrets: &[String]) -> String {
    let mut text = text.to_owned();
    for secret in secrets {
        text = mask_any_case(&text, secret);
    }
    let text: String = text
        .split_inclusive(char::is_whitespace)
        .map(|word| {
            let core = word
                .trim_end()
                .trim_end_matches([',', ';', ':', '.', ')'])
                .trim_start_matches(['(', '<']);
            if looks_like_email(core) {
                word.replacen(core, MASK, 1)
            } else {
                word.to_owned()
            }
        })
        .collect();
    mask_phones(&text)
}

/// Masks every occurrence of `secret` in `text`, in any letter case: `PAT QUINN`
/// is Pat Quinn. Other spellings (`Quinn, Pat`, `pat.quinn at example.org`) are
/// not the value and are not found.
fn mask_any_case(text: &str, secret: &str) -> String {
    if secret.is_empty() {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        match prefix_any_case(rest, secret) {
            Some(len) => {
                out.push_str(MASK);
                rest = &rest[len..];
            }
            None => {
                out.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    out
}

/// The length in bytes of the start of `text` that is `secret` in any letter case.
fn prefix_any_case(text: &str, secret: &str) -> Option<usize> {
    let mut len = 0;
    let mut chars = text.chars();
    for wanted in secret.chars() {
        let got = chars.next()?;
        if got != wanted && !got.to_lowercase().eq(wanted.to_lowercase()) {
            return None;
        }
        len += got.len_utf8();
    }
    Some(len)
}

fn looks_like_email(word: &str) -> bool {
    match word.split_once('@') {
        Some((user, domain)) => {
            !user.is_empty() && domain.contains('.') && !domain.starts_with('.')
        }
        None => false,
    }
}

/// Masks runs of digits and phone punctuation that read as a phone number: 7 to 15
/// digits, with a leading `+`, a separator inside, or at least 9 digits; ISO dates
/// are left alone.
fn mask_phones(text: &str) -> String {
    let is_phone_char = |c: char| c.is_ascii_digit() || "+-(). /".contains(c);
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if !(chars[i].is_ascii_digit() || chars[i] == '+' || chars[i] == '(') {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let mut j = i;
        while j < chars.len() && is_phone_char(chars[j]) {
            j += 1;
        }
        // The run ends at its last digit.
        let mut end = j;
        while end > i && !chars[end - 1].is_ascii_digit() {
            end -= 1;
        }
        let run: String = chars[i..end].iter().collect();
        let digits = run.chars().filter(char::is_ascii_digit).count();
        let separated = run
            .trim_start_matches('+')
            .contains(['-', ' ', '(', ')', '.', '/']);
        let iso_date = |part: &str| {
            part.len() == 10
                && part.chars().enumerate().all(|(k, c)| match k {
                    4 | 7 => c == '-',
                    _ => c.is_ascii_digit(),
                })
        };
        let has_date = run.split([' ', '(', ')']).any(iso_date);
        if end > i
            && (7..=15).contains(&digits)
            && (run.starts_with('+') || separated || digits >= 9)
            && !has_date
        {
            out.push_str(MASK);
            i = end;
        } else {
            let stop = end.max(i + 1);
            out.extend(&chars[i..stop]);
            i = stop;
        }
    }
    out
}

/// One decision to append.
pub struct Entry<'a> {
    /// The decision asked for (`qualify`, ...).
    pub decision: &'a str,
    /// The context of the decision.
    pub ctx: &'a Context,
    /// The record's id, when it has one.
    pub record: Option<&'a str>,
    /// The record's position in its input.
    pub position: usize,
    /// The record as given.
    pub input: &'a Value,
    /// The module version that decided, when one did.
    pub by: Option<&'a Provenance>,
    /// The decision, or the error (as its JSON on a decision line).
    pub result: Result<&'a Value, &'a Value>,
    /// The id of the API key that asked (never the key), when a service asked.
    pub key_id: Option<&'a str>,
}

/// A change to what decides an org, made through a service: which version
/// decides, which versions it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// A version was uploaded (and maybe activated).
    Upload,
    /// A version was made the active one.
    Activate,
    /// The version active before decides again.
    Rollback,
    /// A version was removed.
    Remove,
}

impl Change {
    /// The change's name in the log.
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Upload => "upload",
            Change::Activate => "activate",
            Change::Rollback => "rollback",
            Change::Remove => "remove",
        }
    }
}

/// One change to append: a line of kind `change`.
#[derive(Debug, Clone, Copy)]
pub struct ChangeEntry<'a> {
    /// The org.
    pub org: &'a str,
    /// What changed.
    pub change: Change,
    /// The version concerned (the one now active, for an activation or rollback).
    pub version: &'a str,
    /// Its module's SHA-256, when known.
    pub module_hash: Option<&'a str>,
    /// Whether the version decides now.
    pub active: bool,
    /// The id of the API key that asked (never the key), when keys are used.
    pub key_id: Option<&'a str>,
}

/// Which entries [`show`] prints.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only this org.
    pub org: Option<String>,
    /// Only this record id.
    pub record: Option<String>,
    /// Only entries written at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Only entries written before this time.
    pub until: Option<DateTime<Utc>>,
}

/// The entries of a log that pass `filter`, as JSON lines.
pub fn show(path: &Path, filter: &Filter) -> std::io::Result<Vec<String>> {
    let file = File::open(path)?;
    let mut out = Vec::new();
    for line in BufReader::new(file).lines() {
        let line = line?;
        let Ok(entry) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        let text = |k: &str| entry.get(k).and_then(Value::as_str).map(str::to_owned);
        if filter
            .org
            .as_ref()
            .is_some_and(|o| text("org").as_ref() != Some(o))
        {
            continue;
        }
        if filter
            .record
            .as_ref()
            .is_some_and(|r| text("record").as_ref() != Some(r))
        {
            continue;
        }
        let time = text("time").and_then(|t| t.parse::<DateTime<Utc>>().ok());
        if filter.since.is_some_and(|s| time.is_none_or(|t| t < s))
            || filter.until.is_some_and(|u| time.is_none_or(|t| t >= u))
        {
            continue;
        }
        out.push(line);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn personal_data_is_masked_inside_text_too() {
        let input = json!({"id": "L-1", "contact_name": "Pat Quinn", "email": "pat@x.example",
                           "custom": {"new_nationalid": "AB123"}});
        let decision = json!({"reasons": ["call Pat Quinn at +44 20 7946 0958 or pat@x.example",
                                          "id AB123", "due 2026-12-02, score 35"],
                              "email": "pat@x.example"});
        let policy = AuditPolicy {
            mask_fields: vec!["new_nationalid".into()],
        };
        let masked = mask(&decision, &input, &policy).to_string();
        for secret in ["Pat Quinn", "pat@x.example", "AB123", "7946"] {
            assert!(!masked.contains(secret), "{secret} leaked: {masked}");
        }
        assert!(
            masked.contains("2026-12-02") && masked.contains("score 35"),
            "{masked}"
        );
    }

    #[test]
    fn a_personal_value_in_another_letter_case_is_masked() {
        let input = json!({"contact_name": "Zoë Quinn"});
        let decision = json!({"reasons": ["call ZOË QUINN", "zoë quinn asked", "Quinn, Zoë"]});
        let masked = mask(&decision, &input, &AuditPolicy::default());
        assert_eq!(
            masked["reasons"],
            json!(["call [masked]", "[masked] asked", "Quinn, Zoë"]),
            "a reordered name is not the value: masking cannot find it"
        );
    }
}
