//! Checking an audit log: every line's place in the chain, its MAC or the
//! checkpoints' signatures, and that nothing was cut off the end.

use std::fs::File;
use std::io::Read as _;
use std::path::Path;

use ed25519_dalek::VerifyingKey;
use serde_json::Value;

use super::chain::{check_no_duplicate_keys, checkpoint_signed, line_hash, AuditKey, GENESIS};

/// What checks a log.
pub enum Verifier {
    /// The audit key itself: every line's MAC is checked, as well as the
    /// checkpoints' signatures.
    Key(AuditKey),
    /// Only the public key (hex decoded): the checkpoints' signatures are checked,
    /// and lines after the last checkpoint cannot be vouched for.
    Public(VerifyingKey),
}

/// What a log must show beyond a sound chain.
#[derive(Debug, Clone, Default)]
pub struct Expectations {
    /// A line it must still contain.
    pub line: Option<Expected>,
    /// Accept a log that does not end with a checkpoint: one whose writer is still
    /// running. Otherwise that is an error, since cutting lines off the end leaves
    /// exactly such a log.
    pub open_end: bool,
}

/// A line the log must still contain: a checkpoint (or any line) saved elsewhere,
/// so a log cut back to an earlier line is caught.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// The line's sequence number.
    pub seq: u64,
    /// Its `hash`.
    pub hash: String,
}

impl Expected {
    /// The line a saved checkpoint (or any line of the log, as JSON) stands for.
    pub fn from_line(text: &str) -> Result<Expected, String> {
        let line: Value =
            serde_json::from_str(text.trim()).map_err(|e| format!("not a log line: {e}"))?;
        match (line["seq"].as_u64(), line["hash"].as_str()) {
            (Some(seq), Some(hash)) => Ok(Expected {
                seq,
                hash: hash.to_owned(),
            }),
            _ => Err("a log line has a `seq` and a `hash`".into()),
        }
    }
}

/// What [`verify`] found in a sound log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Lines checked (decisions, checkpoints and repairs).
    pub entries: u64,
    /// The `hash` of the last line: what to keep elsewhere to catch truncation.
    pub head: String,
    /// The `seq` of the last checkpoint, when there is one.
    pub last_checkpoint: Option<u64>,
    /// Things worth knowing that do not break the chain: repairs after a crash,
    /// a log that does not end with a checkpoint.
    pub warnings: Vec<String>,
}

/// Where and why a log's chain is broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: line {line}: {message}")]
pub struct Broken {
    /// The log.
    pub path: String,
    /// 1-based line number of the first bad line (0: the log as a whole).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// Checks a log from its first line to its last, and what `expect` asks.
pub fn verify(path: &Path, verifier: &Verifier, expect: &Expectations) -> Result<Verified, Broken> {
    let mut text = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut text))
        .map_err(|e| Broken {
            path: path.display().to_string(),
            line: 0,
            message: format!("cannot read the log: {e}"),
        })?;
    verify_bytes(&path.display().to_string(), &text, verifier, expect)
}

/// Checks a log already read into memory (`name` is what messages call it): what
/// [`verify`] does once it has read the file.
pub fn verify_bytes(
    name: &str,
    text: &[u8],
    verifier: &Verifier,
    expect: &Expectations,
) -> Result<Verified, Broken> {
    let expected = expect.line.as_ref();
    let broken = |line: usize, message: String| Broken {
        path: name.to_owned(),
        line,
        message,
    };
    let complete = text.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let lines: Vec<&[u8]> = text[..complete].split(|b| *b == b'\n').collect();
    let line_count = lines.len().saturating_sub(1);
    if complete < text.len() {
        return Err(broken(
            line_count + 1,
            "the last line is incomplete: a write was interrupted, or the log was cut \
             (a writer opening the log repairs an interrupted write and records it)"
                .into(),
        ));
    }
    let public = match verifier {
        Verifier::Key(key) => key.verifying_key(),
        Verifier::Public(public) => *public,
    };
    let mut prev = GENESIS.to_owned();
    let mut last_checkpoint = None;
    let mut warnings = Vec::new();
    let mut seen_expected = false;
    for (i, line) in lines.iter().take(line_count).enumerate() {
        let n = i + 1;
        let seq = n as u64;
        if line.is_empty() {
            return Err(broken(n, "an empty line inside the log".into()));
        }
        check_no_duplicate_keys(line).map_err(|e| broken(n, format!("refused: {e}")))?;
        let mut entry: Value = serde_json::from_slice(line)
            .map_err(|e| broken(n, format!("not a JSON entry: {e}")))?;
        let Some(map) = entry.as_object_mut() else {
            return Err(broken(n, "not a JSON object".into()));
        };
        let (Some(Value::String(hash)), mac) = (map.remove("hash"), map.remove("mac")) else {
            return Err(broken(n, "the entry has no hash".into()));
        };
        if map.get("seq").and_then(Value::as_u64) != Some(seq) {
            return Err(broken(
                n,
                format!(
                    "sequence number {}, expected {seq}: lines were removed, reordered \
                     or numbered twice",
                    map.get("seq").map_or("none".to_owned(), Value::to_string)
                ),
            ));
        }
        if map.get("prev").and_then(Value::as_str) != Some(prev.as_str()) {
            return Err(broken(
                n,
                "the entry does not follow the one before it: an entry before it was \
                 removed, reordered or altered"
                    .into(),
            ));
        }
        if line_hash(&prev, &entry) != hash {
            return Err(broken(
                n,
                "the entry was altered: its contents do not match its hash".into(),
            ));
        }
        if let Verifier::Key(key) = verifier {
            if mac.as_ref().and_then(Value::as_str) != Some(key.mac(&hash).as_str()) {
                return Err(broken(
                    n,
                    "its MAC does not match: it was not written with the audit key \
                     (a forged or edited entry)"
                        .into(),
                ));
            }
        }
        match entry["kind"].as_str() {
            Some("checkpoint") => {
                let entries = entry["entries"].as_u64();
                let head = entry["head"].as_str().unwrap_or_default();
                let signature = entry["signature"].as_str().unwrap_or_default();
                if entries != Some(seq - 1) || head != prev {
                    return Err(broken(
                        n,
                        "the checkpoint does not describe the lines before it".into(),
                    ));
                }
                if !checkpoint_signed(&public, seq - 1, head, signature) {
                    return Err(broken(
                        n,
                        "the checkpoint's signature is not valid for the audit key".into(),
                    ));
                }
                last_checkpoint = Some(seq);
            }
            Some("repair") => warnings.push(format!(
                "line {n}: a writer cut off {} bytes of an interrupted write before it",
                entry["cut_bytes"]
            )),
            _ => {}
        }
        if let Some(expected) = expected {
            if expected.seq == seq {
                if expected.hash != hash {
                    return Err(broken(
                        n,
                        format!(
                            "the expected line {seq} has hash {}, the log's has {hash}: \
                             the log was rewritten from there",
                            expected.hash
                        ),
                    ));
                }
                seen_expected = true;
            }
        }
        prev = hash;
    }
    let entries = line_count as u64;
    if let Some(expected) = expected.filter(|_| !seen_expected) {
        return Err(broken(
            0,
            format!(
                "the log has {entries} lines and does not reach the expected line {}: \
                 its end was cut off",
                expected.seq
            ),
        ));
    }
    let signed_up_to = last_checkpoint.unwrap_or(0);
    if signed_up_to < entries {
        let uncovered = format!("lines {}..={entries}", signed_up_to + 1);
        match verifier {
            Verifier::Public(_) => {
                return Err(broken(
                    signed_up_to as usize + 1,
                    format!(
                        "{uncovered} are not covered by a signed checkpoint, and only \
                         the public key was given: they cannot be vouched for"
                    ),
                ))
            }
            Verifier::Key(_) if expect.open_end => warnings.push(format!(
                "the log does not end with a checkpoint ({uncovered} follow the last): \
                 its writer is still running"
            )),
            Verifier::Key(_) => {
                return Err(broken(
                    entries as usize,
                    format!(
                        "the log does not end with a checkpoint ({uncovered} follow the \
                         last): its last lines were removed, or its writer is still \
                         running or was killed (then say it is open)"
                    ),
                ))
            }
        }
    }
    Ok(Verified {
        entries,
        head: prev,
        last_checkpoint,
        warnings,
    })
}
