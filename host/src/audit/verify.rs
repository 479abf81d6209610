//! Checking an audit log: every line's place in the chain, its MAC or the
//! checkpoints' signatures, and that nothing was cut off the end.
//!
//! A log rotated by size ([`super::AuditLog::rotate`]) goes on in a new file
//! whose first line, of kind `continues`, names the earlier file and carries on
//! its chain (its `seq`, `prev`, `entries` and `head`). Checking the newest file
//! checks the earlier ones it names, back to the first, and that each file
//! goes on exactly where the one before it ends.

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
    /// The earlier file this one continues, after a rotation.
    pub continues: Option<Continues>,
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

/// Checks a log from its first line to its last, and what `expect` asks; a log
/// that continues an earlier file (after a rotation) is checked with the files
/// before it, found beside it by the names its first lines give.
pub fn verify(path: &Path, verifier: &Verifier, expect: &Expectations) -> Result<Verified, Broken> {
    let mut text = Vec::new();
    File::open(path)
        .and_then(|mut f| f.read_to_end(&mut text))
        .map_err(|e| Broken {
            path: path.display().to_string(),
            line: 0,
            message: format!("cannot read the log: {e}"),
        })?;
    let name = path.display().to_string();
    let mut found = verify_bytes(&name, &text, verifier, expect)?;
    let Some(link) = found.continues.clone() else {
        return Ok(found);
    };
    let earlier = path.with_file_name(&link.from);
    if !earlier.exists() {
        found.warnings.push(format!(
            "it continues {} (lines 1..={}), which is not beside it: those lines are not checked",
            link.from, link.entries
        ));
        return Ok(found);
    }
    let before = verify(
        &earlier,
        verifier,
        &Expectations {
            line: expect.line.clone().filter(|e| e.seq <= link.entries),
            open_end: false,
        },
    )?;
    if before.entries != link.entries || before.head != link.head {
        return Err(Broken {
            path: name,
            line: 1,
            message: format!(
                "it continues {} at line {} (head {}), but that file ends at line {} (head {}): \
                 a file between them is missing, or one was altered",
                link.from, link.entries, link.head, before.entries, before.head
            ),
        });
    }
    let mut warnings = before.warnings;
    warnings.append(&mut found.warnings);
    found.warnings = warnings;
    Ok(found)
}

/// Where a rotated log's file goes on from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Continues {
    /// The earlier file's name, beside this one.
    pub from: String,
    /// The lines before this file.
    pub entries: u64,
    /// The hash of the earlier file's last line.
    pub head: String,
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
    let continues = lines
        .first()
        .filter(|_| line_count > 0)
        .and_then(|first| serde_json::from_slice::<Value>(first).ok())
        .filter(|entry| entry["kind"] == "continues")
        .map(|entry| Continues {
            from: entry["from"].as_str().unwrap_or_default().to_owned(),
            entries: entry["entries"].as_u64().unwrap_or(0),
            head: entry["head"].as_str().unwrap_or_default().to_owned(),
        });
    // A continuing file's chain starts where the earlier file's ends.
    let (offset, mut prev) = match &continues {
        Some(link) => (link.entries, link.head.clone()),
        None => (0, GENESIS.to_owned()),
    };
    let mut last_checkpoint = None;
    let mut warnings = Vec::new();
    let mut seen_expected = expected.is_some_and(|e| e.seq <= offset);
    for (i, line) in lines.iter().take(line_count).enumerate() {
        let n = i + 1;
        let seq = offset + n as u64;
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
            Some("continues")
                if n == 1
                    && (entry["entries"].as_u64() != Some(seq - 1)
                        || entry["head"] != entry["prev"]) =>
            {
                return Err(broken(
                    n,
                    "the continuation does not describe the lines before it".into(),
                ));
            }
            Some("continues") if n == 1 => {}
            Some("continues") => {
                return Err(broken(
                    n,
                    "a continuation inside the log: a rotated log goes on in a new file".into(),
                ))
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
    let entries = offset + line_count as u64;
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
    // A rotated file ended with a checkpoint before the next one began.
    let signed_up_to = last_checkpoint.unwrap_or(offset);
    if signed_up_to < entries {
        let uncovered = format!("lines {}..={entries}", signed_up_to + 1);
        match verifier {
            Verifier::Public(_) => {
                return Err(broken(
                    (signed_up_to - offset) as usize + 1,
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
                    (entries - offset) as usize,
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
        continues,
    })
}
