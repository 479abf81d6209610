//! Appending to an audit log: whole, numbered, chained lines, from any number of
//! processes at once.
//!
//! Every append takes an exclusive lock on the file, reads the log's last line
//! again if anyone else wrote since (so its `seq` and `hash` follow the real last
//! line, not this writer's memory of it), writes one whole line with one `write`,
//! and lets go. A checkpoint follows every line whose `seq` is a multiple of
//! [`CHECKPOINT_EVERY`], and closes every run ([`AuditLog::sync`], and when the
//! log is dropped).
//!
//! A line cut short by a crash mid-write is not silently dropped: the next writer
//! cuts it off and appends a `repair` line saying how many bytes it removed and
//! their SHA-256, so `verify` reports it.
//!
//! A log can be rotated by size ([`AuditLog::rotate`]): the full file is closed
//! with a checkpoint and kept beside the log as `NAME.SEQ.jsonl` (SEQ its last
//! line, 12 digits, so the names sort in order), and the log goes on in a new
//! file whose first line (`kind: continues`) names it and carries on its chain.
//! The log's path never lacks a file: the full file is linked under its kept
//! name first, and the new file replaces it at the path in one rename. Other
//! writers notice the new file at their next append and move to it.

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};

use chrono::{SecondsFormat, Utc};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::chain::{line_hash, AuditKey, GENESIS};
use super::{mask, AuditPolicy, ChangeEntry, Entry};
use crate::integrity::hex;

/// A checkpoint follows every line whose `seq` is a multiple of this.
pub const CHECKPOINT_EVERY: u64 = 1_000;

/// Why an audit log cannot be opened or written.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The audit key cannot be used.
    #[error("the audit key cannot be used")]
    Key(#[source] crate::key_file::KeyFileError),
    /// Reading, locking or writing the log failed.
    #[error("cannot {action} the audit log {path}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The log.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The log's last line is not an entry, so nothing can follow it.
    #[error("{path}: the last entry cannot be read ({message}); run `crm-rules audit verify`")]
    Unreadable {
        /// The log.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// Where the chain stands: what the next line follows.
struct Head {
    hash: String,
    next_seq: u64,
    last_is_checkpoint: bool,
}

/// An append-only, hash-chained, signed audit log file.
pub struct AuditLog {
    path: PathBuf,
    file: File,
    key: AuditKey,
    head: Head,
    /// The file's length after this writer's last write: another length means
    /// another writer (or a crash) changed the tail.
    known_len: u64,
}

impl AuditLog {
    /// Opens (or creates) a log for appending with `key`. A line cut short by a
    /// crash is cut off and recorded in a `repair` line; a log whose last entry
    /// cannot be read is refused, so nothing is appended to a chain that cannot be
    /// verified.
    pub fn open(path: &Path, key: AuditKey) -> Result<AuditLog, AuditError> {
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(|source| AuditError::Io {
                action: "open",
                path: path.display().to_string(),
                source,
            })?;
        let mut log = AuditLog {
            path: path.to_owned(),
            file,
            key,
            head: Head {
                hash: GENESIS.to_owned(),
                next_seq: 1,
                last_is_checkpoint: true,
            },
            known_len: u64::MAX,
        };
        log.locked(|_| Ok(()))?;
        Ok(log)
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The public key (hex) that checks this log's checkpoints.
    pub fn public_key(&self) -> String {
        self.key.public_hex()
    }

    /// Masks and appends one decision as one line.
    pub fn append(&mut self, entry: &Entry<'_>, policy: &AuditPolicy) -> std::io::Result<()> {
        let line = decision_line(entry, policy);
        self.locked(move |log| {
            let seq = log.write_line(line)?;
            if seq % CHECKPOINT_EVERY == 0 {
                log.checkpoint()?;
            }
            Ok(())
        })
        .map_err(std::io::Error::other)
    }

    /// Appends a change (an upload, activation, rollback or removal) as one line
    /// of kind `change`.
    pub fn append_change(&mut self, change: &ChangeEntry<'_>) -> std::io::Result<()> {
        let mut line = Map::new();
        line.insert("kind".into(), json!("change"));
        line.insert("org".into(), json!(change.org));
        line.insert("change".into(), json!(change.change.as_str()));
        line.insert("version".into(), json!(change.version));
        line.insert("module_hash".into(), json!(change.module_hash));
        line.insert("active".into(), json!(change.active));
        line.insert("key_id".into(), json!(change.key_id));
        self.locked(move |log| {
            let seq = log.write_line(line)?;
            if seq % CHECKPOINT_EVERY == 0 {
                log.checkpoint()?;
            }
            Ok(())
        })
        .map_err(std::io::Error::other)
    }

    /// Closes the run with a checkpoint (unless the last line is one) and flushes
    /// the log to the disk.
    pub fn sync(&mut self) -> std::io::Result<()> {
        self.locked(|log| {
            if !log.head.last_is_checkpoint {
                log.checkpoint()?;
            }
            log.file.sync_data().map_err(log.io("sync"))
        })
        .map_err(std::io::Error::other)
    }

    fn io(&self, action: &'static str) -> impl FnOnce(std::io::Error) -> AuditError {
        let path = self.path.display().to_string();
        move |source| AuditError::Io {
            action,
            path,
            source,
        }
    }

    /// When the log's file holds `max_bytes` or more, rotates it: closes it
    /// with a checkpoint, keeps it beside the log as `NAME.SEQ.jsonl`, and goes
    /// on in a new file whose first line continues its chain. Returns the kept
    /// file's path when it rotated.
    pub fn rotate(&mut self, max_bytes: u64) -> Result<Option<PathBuf>, AuditError> {
        self.locked(|log| {
            let len = log.file.metadata().map_err(log.io("read"))?.len();
            if len < max_bytes || log.head.next_seq == 1 {
                return Ok(None);
            }
            if !log.head.last_is_checkpoint {
                log.checkpoint()?;
            }
            log.file.sync_data().map_err(log.io("sync"))?;
            let last = log.head.next_seq - 1;
            let kept = kept_path(&log.path, last);
            std::fs::hard_link(&log.path, &kept).map_err(log.io("keep the full file of"))?;
            let next_path = log.path.with_extension("next");
            let next = OpenOptions::new()
                .read(true)
                .append(true)
                .create(true)
                .truncate(false)
                .open(&next_path)
                .map_err(log.io("start the next file of"))?;
            next.set_len(0).map_err(log.io("start the next file of"))?;
            // The full file stays locked (and is closed) once the new one is in place.
            let full = std::mem::replace(&mut log.file, next);
            log.known_len = 0;
            let mut line = Map::new();
            line.insert("kind".into(), json!("continues"));
            let name = kept
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            line.insert("from".into(), json!(name));
            line.insert("entries".into(), json!(last));
            line.insert("head".into(), json!(log.head.hash));
            log.write_line(line)?;
            log.file.sync_data().map_err(log.io("sync"))?;
            std::fs::rename(&next_path, &log.path)
                .map_err(log.io("put in place the next file of"))?;
            drop(full);
            Ok(Some(kept))
        })
    }

    /// Whether the file open is still the one at the log's path (another
    /// writer may have rotated it).
    fn is_current(&self) -> bool {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt as _;
            match (self.file.metadata(), std::fs::metadata(&self.path)) {
                (Ok(open), Ok(named)) => open.ino() == named.ino() && open.dev() == named.dev(),
                _ => true,
            }
        }
        #[cfg(not(unix))]
        true
    }

    /// Runs `f` holding the file's lock, after catching up with the tail (and
    /// moving to the log's new file when another writer rotated it).
    fn locked<T>(
        &mut self,
        f: impl FnOnce(&mut AuditLog) -> Result<T, AuditError>,
    ) -> Result<T, AuditError> {
        self.file.lock().map_err(self.io("lock"))?;
        while !self.is_current() {
            let _ = self.file.unlock();
            self.file = OpenOptions::new()
                .read(true)
                .append(true)
                .create(true)
                .open(&self.path)
                .map_err(self.io("open"))?;
            self.known_len = u64::MAX;
            self.file.lock().map_err(self.io("lock"))?;
        }
        let out = self.catch_up().and_then(|()| f(self));
        let unlocked = self.file.unlock().map_err(self.io("unlock"));
        let out = out?;
        unlocked?;
        Ok(out)
    }

    /// Reads the chain's head from the file when it changed since this writer's
    /// last write; cuts off and records a line left incomplete by a crash.
    fn catch_up(&mut self) -> Result<(), AuditError> {
        let len = self.file.metadata().map_err(self.io("read"))?.len();
        if len == self.known_len {
            return Ok(());
        }
        let tail = read_tail(&mut self.file, len).map_err(self.io("read"))?;
        self.head = match &tail.last_line {
            None => Head {
                hash: GENESIS.to_owned(),
                next_seq: 1,
                last_is_checkpoint: true,
            },
            Some(line) => {
                let unreadable = |message: String| AuditError::Unreadable {
                    path: self.path.display().to_string(),
                    message,
                };
                let entry: Value = serde_json::from_slice(line)
                    .map_err(|e| unreadable(format!("not JSON: {e}")))?;
                let hash = entry["hash"]
                    .as_str()
                    .ok_or_else(|| unreadable("it has no hash".into()))?;
                let seq = entry["seq"]
                    .as_u64()
                    .ok_or_else(|| unreadable("it has no sequence number".into()))?;
                Head {
                    hash: hash.to_owned(),
                    next_seq: seq + 1,
                    last_is_checkpoint: entry["kind"] == "checkpoint",
                }
            }
        };
        self.known_len = len;
        if tail.complete_len < len {
            let cut = read_from(&mut self.file, tail.complete_len).map_err(self.io("read"))?;
            tracing::warn!(
                "{}: cutting off an incomplete last entry ({} bytes) left by an \
                 interrupted write; a repair line records it",
                self.path.display(),
                cut.len()
            );
            self.file
                .set_len(tail.complete_len)
                .map_err(self.io("cut the incomplete entry of"))?;
            self.known_len = tail.complete_len;
            let mut line = Map::new();
            line.insert("kind".into(), json!("repair"));
            line.insert("cut_bytes".into(), json!(cut.len()));
            line.insert("cut_sha256".into(), json!(hex(&Sha256::digest(&cut))));
            self.write_line(line)?;
        }
        Ok(())
    }

    /// Numbers, chains, MACs and writes one line; returns its `seq`.
    fn write_line(&mut self, fields: Map<String, Value>) -> Result<u64, AuditError> {
        let seq = self.head.next_seq;
        let mut map = Map::new();
        map.insert("seq".into(), json!(seq));
        map.insert(
            "time".into(),
            json!(Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)),
        );
        let is_checkpoint = fields.get("kind").is_some_and(|k| k == "checkpoint");
        map.extend(fields);
        map.insert("prev".into(), json!(self.head.hash));
        let mut line = Value::Object(map);
        let hash = line_hash(&self.head.hash, &line);
        let mac = self.key.mac(&hash);
        if let Value::Object(map) = &mut line {
            map.insert("hash".into(), json!(hash));
            map.insert("mac".into(), json!(mac));
        }
        let mut text = line.to_string();
        text.push('\n');
        self.file
            .write_all(text.as_bytes())
            .map_err(self.io("write"))?;
        self.known_len = self.known_len.saturating_add(text.len() as u64);
        self.head = Head {
            hash,
            next_seq: seq + 1,
            last_is_checkpoint: is_checkpoint,
        };
        Ok(seq)
    }

    /// Appends a checkpoint: the count of lines so far and the head, signed.
    fn checkpoint(&mut self) -> Result<(), AuditError> {
        let entries = self.head.next_seq - 1;
        let mut line = Map::new();
        line.insert("kind".into(), json!("checkpoint"));
        line.insert("entries".into(), json!(entries));
        line.insert("head".into(), json!(self.head.hash));
        line.insert("key".into(), json!(self.key.public_hex()));
        line.insert(
            "signature".into(),
            json!(self.key.sign_checkpoint(entries, &self.head.hash)),
        );
        self.write_line(line).map(|_| ())
    }
}

impl Drop for AuditLog {
    /// A run that ends without [`AuditLog::sync`] still ends with a checkpoint.
    fn drop(&mut self) {
        let _ = self.locked(|log| match log.head.last_is_checkpoint {
            true => Ok(()),
            false => log.checkpoint(),
        });
    }
}

/// The fields of a decision's line, before numbering and chaining.
fn decision_line(entry: &Entry<'_>, policy: &AuditPolicy) -> Map<String, Value> {
    let mut map = Map::new();
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
    if let Some(key_id) = entry.key_id {
        map.insert("key_id".into(), json!(key_id));
    }
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
    map
}

/// Where a rotated file is kept: beside the log, named by its last line.
fn kept_path(path: &Path, last_seq: u64) -> PathBuf {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let extension = path
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    path.with_file_name(format!("{stem}.{last_seq:012}{extension}"))
}

/// The end of a log: its last complete line, and where complete lines end.
struct Tail {
    last_line: Option<Vec<u8>>,
    complete_len: u64,
}

/// Reads backwards from `len` until the last complete line is whole.
fn read_tail(file: &mut File, len: u64) -> std::io::Result<Tail> {
    const CHUNK: u64 = 64 << 10;
    let mut buffer: Vec<u8> = Vec::new();
    let mut start = len;
    loop {
        let next = start.saturating_sub(CHUNK);
        let mut chunk = vec![0; (start - next) as usize];
        file.seek(SeekFrom::Start(next))?;
        file.read_exact(&mut chunk)?;
        chunk.extend_from_slice(&buffer);
        buffer = chunk;
        start = next;
        let complete = buffer.iter().rposition(|b| *b == b'\n').map(|i| i + 1);
        if let Some(end) = complete {
            let line_start = buffer[..end - 1]
                .iter()
                .rposition(|b| *b == b'\n')
                .map(|i| i + 1);
            if line_start.is_some() || start == 0 {
                let from = line_start.unwrap_or(0);
                // An empty last line is kept, and refused as unreadable: a chain
                // never restarts in the middle of a file.
                return Ok(Tail {
                    last_line: Some(buffer[from..end - 1].to_vec()),
                    complete_len: start + end as u64,
                });
            }
        } else if start == 0 {
            return Ok(Tail {
                last_line: None,
                complete_len: 0,
            });
        }
    }
}

fn read_from(file: &mut File, offset: u64) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(offset))?;
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry_for<'a>(
        ctx: &'a crm_rules_model::Context,
        input: &'a Value,
        decision: &'a Value,
    ) -> Entry<'a> {
        Entry {
            decision: "qualify",
            ctx,
            record: input["id"].as_str(),
            position: 1,
            input,
            by: None,
            result: Ok(decision),
            key_id: Some("k-1234"),
        }
    }

    /// Two writers of one log, one rotating it by size: the chain goes on across
    /// the files, `verify` of the newest file checks them all, and a file taken
    /// out between them is caught.
    #[test]
    fn a_rotated_log_stays_one_verifiable_chain() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("acme.jsonl");
        let key = AuditKey::from_secret([3; 32]);
        let ctx = crm_rules_model::Context {
            org_id: "acme".into(),
            now: "2026-11-25T09:00:00Z".parse().unwrap(),
            user: None,
            team: None,
        };
        let input = json!({"id": "L-1", "source": "web_form"});
        let decision = json!({"outcome": "qualified", "score": 70});
        let mut one = AuditLog::open(&path, key.clone()).unwrap();
        let mut two = AuditLog::open(&path, key.clone()).unwrap();
        let policy = AuditPolicy::default();
        let mut kept = Vec::new();
        for round in 0..6 {
            for _ in 0..20 {
                one.append(&entry_for(&ctx, &input, &decision), &policy)
                    .unwrap();
                two.append(&entry_for(&ctx, &input, &decision), &policy)
                    .unwrap();
            }
            one.sync().unwrap();
            let rotated = if round % 2 == 0 {
                one.rotate(4096)
            } else {
                two.rotate(4096)
            };
            kept.extend(rotated.unwrap());
        }
        two.append(&entry_for(&ctx, &input, &decision), &policy)
            .unwrap();
        drop(one);
        drop(two);
        assert!(kept.len() >= 3, "{kept:?}");
        let verifier = || super::super::Verifier::Key(key.clone());
        let found =
            super::super::verify(&path, &verifier(), &super::super::Expectations::default())
                .unwrap();
        assert!(found.continues.is_some());
        assert!(found.warnings.is_empty(), "{:?}", found.warnings);
        // Every decision is somewhere in the chain: 240 and the last, plus
        // checkpoints and continuations.
        assert!(found.entries > 241, "{}", found.entries);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.lines().next().unwrap().contains("\"continues\""),
            "{text}"
        );
        assert!(text.contains("\"key_id\":\"k-1234\""), "{text}");
        // A kept file taken out of the middle breaks the link.
        std::fs::remove_file(&kept[1]).unwrap();
        let newest = super::super::verify(&path, &verifier(), &Default::default()).unwrap();
        assert!(
            newest.warnings.iter().any(|w| w.contains("not beside it")),
            "{:?}",
            newest.warnings
        );
        std::fs::copy(&kept[0], &kept[1]).unwrap();
        let broken = super::super::verify(&path, &verifier(), &Default::default()).unwrap_err();
        assert!(broken.message.contains("continues"), "{broken}");
    }

    /// Appends per second, printed: locked, MAC'd appends against the unlocked,
    /// unkeyed appends this writer replaced (same lines, same file system).
    #[test]
    fn appends_under_the_lock_keep_a_useful_rate() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = crm_rules_model::Context {
            org_id: "acme".into(),
            now: "2026-11-25T09:00:00Z".parse().unwrap(),
            user: None,
            team: None,
        };
        let input = json!({"id": "L-1", "source": "web_form", "email": "a@b.example"});
        let decision = json!({"outcome": "qualified", "rating": "hot", "score": 70,
                              "reasons": ["source web_form (+30)", "budget can_buy (+10)"]});
        let entry = Entry {
            decision: "qualify",
            ctx: &ctx,
            record: Some("L-1"),
            position: 1,
            input: &input,
            by: None,
            result: Ok(&decision),
            key_id: None,
        };
        let policy = AuditPolicy::default();
        let n = 20_000;

        // Before: build, chain with SHA-256, one write; no lock, no MAC.
        let mut file = OpenOptions::new()
            .append(true)
            .create(true)
            .open(dir.path().join("before.jsonl"))
            .unwrap();
        let start = std::time::Instant::now();
        let mut prev = GENESIS.to_owned();
        for seq in 1..=n {
            let mut map = Map::new();
            map.insert("seq".into(), json!(seq));
            map.extend(decision_line(&entry, &policy));
            map.insert("prev".into(), json!(prev));
            let mut line = Value::Object(map);
            let hash = line_hash(&prev, &line);
            line["hash"] = json!(hash);
            let mut text = line.to_string();
            text.push('\n');
            file.write_all(text.as_bytes()).unwrap();
            prev = hash;
        }
        let before = n as f64 / start.elapsed().as_secs_f64();

        let mut log = AuditLog::open(
            &dir.path().join("after.jsonl"),
            AuditKey::from_secret([1; 32]),
        )
        .unwrap();
        let start = std::time::Instant::now();
        for _ in 0..n {
            log.append(&entry, &policy).unwrap();
        }
        log.sync().unwrap();
        let after = n as f64 / start.elapsed().as_secs_f64();
        println!(
            "audit appends: {before:.0}/s unlocked and unkeyed (before), \
             {after:.0}/s locked, MAC'd, checkpointed (after)"
        );
        assert!(after > 1_000.0, "{after:.0} appends/s");
    }
}
