//! The audit log: every decision, traceable afterwards.
//!
//! JSON lines on disk, one entry per decision: org, module hash and version, a
//! SHA-256 of the input, the decision and its reasons, the decision's `now`, the
//! wall time and the fuel used. Personal data is masked before it is written.
//!
//! Entries are hash-chained: each carries `prev`, the `hash` of the entry before
//! it (64 zeros for the first), and its own `hash`, the SHA-256 of `prev`, a
//! newline and the entry's JSON without `hash`. Altering an entry breaks its hash;
//! removing one breaks the next entry's `prev`; [`verify`] names the line. (Removing
//! the last entries leaves a shorter valid chain: keep the last hash elsewhere when
//! that matters.)
//!
//! Each entry is one `write` of a whole line. A crash mid-write leaves at most an
//! incomplete last line: opening the log again cuts it off, and `verify` reports it
//! as a warning, so earlier entries are never affected.

use std::fs::{File, OpenOptions};
use std::io::{BufRead as _, BufReader, Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use crm_rules_model::Context;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::integrity::hex;
use crate::registry::Provenance;

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

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
        if text.contains(secret.as_str()) {
            text = text.replace(secret.as_str(), MASK);
        }
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
}

/// An append-only, hash-chained audit log file.
pub struct AuditLog {
    path: PathBuf,
    file: File,
    last_hash: String,
    next_seq: u64,
}

impl AuditLog {
    /// Opens (or creates) a log for appending. An incomplete last line, left by a
    /// crash mid-write, is cut off; a log whose last entry cannot be read is
    /// refused, so nothing is appended to a chain that cannot be verified.
    pub fn open(path: &Path) -> std::io::Result<AuditLog> {
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)?;
        let mut text = Vec::new();
        file.read_to_end(&mut text)?;
        let complete = text.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        if complete < text.len() {
            tracing::warn!(
                "{}: cutting off an incomplete last entry ({} bytes), left by an \
                 interrupted write",
                path.display(),
                text.len() - complete
            );
            file.set_len(complete as u64)?;
            file.seek(SeekFrom::End(0))?;
        }
        let last_line = text[..complete]
            .split(|b| *b == b'\n')
            .rfind(|line| !line.is_empty());
        let (last_hash, next_seq) = match last_line {
            None => (GENESIS.to_owned(), 1),
            Some(line) => {
                let entry: Value = serde_json::from_slice(line).map_err(|e| {
                    std::io::Error::other(format!(
                        "{}: the last entry is not JSON ({e}); run `crm-rules audit verify`",
                        path.display()
                    ))
                })?;
                let hash = entry["hash"].as_str().unwrap_or_default().to_owned();
                let seq = entry["seq"].as_u64().unwrap_or(0);
                (hash, seq + 1)
            }
        };
        Ok(AuditLog {
            path: path.to_owned(),
            file,
            last_hash,
            next_seq,
        })
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Masks and appends one decision as one line.
    pub fn append(&mut self, entry: &Entry<'_>, policy: &AuditPolicy) -> std::io::Result<()> {
        let mut map = Map::new();
        map.insert("seq".into(), json!(self.next_seq));
        map.insert(
            "time".into(),
            json!(Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)),
        );
        map.insert("org".into(), json!(entry.ctx.org_id));
        map.insert("decision".into(), json!(entry.decision));
        map.insert("record".into(), json!(entry.record));
        map.insert("position".into(), json!(entry.position));
        map.insert(
            "now".into(),
            json!(entry.ctx.now.to_rfc3339_opts(SecondsFormat::Secs, true)),
        );
        map.insert("user".into(), json!(entry.ctx.user));
        map.insert("team".into(), json!(entry.ctx.team));
        map.insert(
            "input_sha256".into(),
            json!(hex(&Sha256::digest(entry.input.to_string().as_bytes()))),
        );
        if let Some(by) = entry.by {
            map.insert("version".into(), json!(by.version));
            map.insert("module_hash".into(), json!(by.module_hash));
            map.insert("fuel_used".into(), json!(by.fuel_used));
            map.insert("batch".into(), json!(by.records));
        }
        match entry.result {
            Ok(decision) => map.insert("result".into(), mask(decision, entry.input, policy)),
            Err(error) => map.insert("error".into(), mask(error, entry.input, policy)),
        };
        map.insert("prev".into(), json!(self.last_hash));
        let hash = chain_hash(&self.last_hash, &Value::Object(map.clone()));
        map.insert("hash".into(), json!(hash));
        let mut line = Value::Object(map).to_string();
        line.push('\n');
        self.file.write_all(line.as_bytes())?;
        self.last_hash = hash;
        self.next_seq += 1;
        Ok(())
    }

    /// Flushes appended entries to the disk.
    pub fn sync(&mut self) -> std::io::Result<()> {
        self.file.flush()?;
        self.file.sync_data()
    }
}

fn chain_hash(prev: &str, entry_without_hash: &Value) -> String {
    let mut hasher = Sha256::new();
    hasher.update(prev.as_bytes());
    hasher.update(b"\n");
    hasher.update(entry_without_hash.to_string().as_bytes());
    hex(&hasher.finalize())
}

/// What [`verify`] found in a sound log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Entries checked.
    pub entries: u64,
    /// Things worth knowing that do not break the chain (an incomplete last line).
    pub warnings: Vec<String>,
}

/// Where and why a log's chain is broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: line {line}: {message}")]
pub struct Broken {
    /// The log.
    pub path: String,
    /// 1-based line number of the first bad entry.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Checks a log's hash chain from the first entry to the last.
pub fn verify(path: &Path) -> Result<Verified, Broken> {
    let broken = |line: usize, message: String| Broken {
        path: path.display().to_string(),
        line,
        message,
    };
    let mut text = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut text))
        .map_err(|e| broken(0, format!("cannot read the log: {e}")))?;
    let mut warnings = Vec::new();
    let complete = text.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let lines: Vec<&[u8]> = text[..complete].split(|b| *b == b'\n').collect();
    let line_count = lines.len().saturating_sub(1);
    if complete < text.len() {
        warnings.push(format!(
            "line {}: incomplete last entry (an interrupted write); it is not part of the chain",
            line_count + 1
        ));
    }
    let mut prev = GENESIS.to_owned();
    let mut expected_seq = 1u64;
    for (i, line) in lines.iter().take(line_count).enumerate() {
        let n = i + 1;
        if line.is_empty() {
            return Err(broken(n, "an empty line inside the log".into()));
        }
        let mut entry: Value = serde_json::from_slice(line)
            .map_err(|e| broken(n, format!("not a JSON entry: {e}")))?;
        let Some(map) = entry.as_object_mut() else {
            return Err(broken(n, "not a JSON object".into()));
        };
        let hash = match map.remove("hash") {
            Some(Value::String(h)) => h,
            _ => return Err(broken(n, "the entry has no hash".into())),
        };
        let seq = map.get("seq").and_then(Value::as_u64);
        let stated_prev = map.get("prev").and_then(Value::as_str).unwrap_or_default();
        if stated_prev != prev {
            return Err(broken(
                n,
                format!(
                    "the entry does not follow the one before it (entry {} expected): \
                     an entry before it was removed, reordered or altered",
                    expected_seq
                ),
            ));
        }
        if chain_hash(&prev, &entry) != hash {
            return Err(broken(
                n,
                "the entry was altered: its contents do not match its hash".into(),
            ));
        }
        if seq != Some(expected_seq) {
            return Err(broken(
                n,
                format!("sequence number {seq:?}, expected {expected_seq}"),
            ));
        }
        prev = hash;
        expected_seq += 1;
    }
    Ok(Verified {
        entries: expected_seq - 1,
        warnings,
    })
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
}
