//! The service's audit logs: one file per org under `--audit-dir`, written by one
//! thread. A request hands over its records' entries and waits until they are on
//! disk (appended and synced) before its answer is sent, so no answered decision is
//! missing from the log. Requests that arrive while the writer syncs are written
//! together and share the next sync. Each entry names the API key that asked (its
//! id); uploads, activations, rollbacks and removals are written as `change`
//! lines the same way.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Mutex;
use std::thread::JoinHandle;

use axum::http::StatusCode;
use crm_rules::audit::{AuditKey, AuditLog, AuditPolicy, Change, ChangeEntry, Entry};
use crm_rules::decision::Kind;
use crm_rules::model::Context;
use crm_rules::pipeline::AuditItem;

use super::error::ApiError;

/// One request's entries.
struct Batch {
    org: String,
    lines: Lines,
    /// The id of the key that asked.
    key_id: Option<String>,
    done: tokio::sync::oneshot::Sender<Result<(), String>>,
}

/// What a request writes.
enum Lines {
    /// Its records' decisions.
    Decisions {
        kind: Kind,
        ctx: Context,
        policy: AuditPolicy,
        items: Vec<AuditItem>,
    },
    /// A change of the org's versions.
    Change {
        change: Change,
        version: String,
        module_hash: Option<String>,
        active: bool,
    },
}

/// A change of an org's versions, to audit.
pub struct Changed {
    pub change: Change,
    pub version: String,
    pub module_hash: Option<String>,
    pub active: bool,
}

/// The one writer of every org's audit log.
pub struct AuditWriter {
    send: Mutex<Option<mpsc::Sender<Batch>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// The log file of an org: its id with anything but letters, digits, `.`, `-` and
/// `_` replaced, so an org id cannot name a path.
fn log_path(dir: &Path, org: &str) -> PathBuf {
    let name: String = org
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    dir.join(format!("{}.jsonl", name.trim_start_matches('.')))
}

impl AuditWriter {
    /// Starts the writer; the folder is created when missing. Every org's log is
    /// extended and checkpointed with `key`, and rotated once it holds
    /// `rotate_bytes` (after the batch that passed it is synced).
    pub fn start(
        dir: PathBuf,
        key: AuditKey,
        rotate_bytes: Option<u64>,
    ) -> anyhow::Result<AuditWriter> {
        std::fs::create_dir_all(&dir).map_err(|e| {
            anyhow::anyhow!("cannot create the audit folder {}: {e}", dir.display())
        })?;
        let (send, receive) = mpsc::channel::<Batch>();
        let thread = std::thread::Builder::new()
            .name("crm-rules-audit".to_owned())
            .spawn(move || write_loop(&dir, &key, rotate_bytes, &receive))?;
        Ok(AuditWriter {
            send: Mutex::new(Some(send)),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Writes a request's decisions and waits until they are synced.
    pub async fn write(
        &self,
        kind: Kind,
        ctx: Context,
        policy: AuditPolicy,
        items: Vec<AuditItem>,
        key_id: Option<&str>,
    ) -> Result<(), ApiError> {
        let org = ctx.org_id.clone();
        let lines = Lines::Decisions {
            kind,
            ctx,
            policy,
            items,
        };
        self.send(org, lines, key_id).await
    }

    /// Writes a change of an org's versions and waits until it is synced.
    pub async fn change(
        &self,
        org: &str,
        changed: Changed,
        key_id: Option<&str>,
    ) -> Result<(), ApiError> {
        let lines = Lines::Change {
            change: changed.change,
            version: changed.version,
            module_hash: changed.module_hash,
            active: changed.active,
        };
        self.send(org.to_owned(), lines, key_id).await
    }

    async fn send(&self, org: String, lines: Lines, key_id: Option<&str>) -> Result<(), ApiError> {
        let failed = |message: String| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "audit",
                format!("the decisions were made but cannot be audited, so they are not answered: {message}"),
            )
        };
        let (done, wait) = tokio::sync::oneshot::channel();
        let batch = Batch {
            org,
            lines,
            key_id: key_id.map(str::to_owned),
            done,
        };
        let sender = self
            .send
            .lock()
            .ok()
            .and_then(|send| send.as_ref().cloned());
        // A send fails only when the writer has stopped.
        let sent = sender.is_some_and(|send| send.send(batch).is_ok());
        if !sent {
            return Err(failed("the audit writer has stopped".to_owned()));
        }
        match wait.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(message)) => Err(failed(message)),
            Err(_) => Err(failed("the audit writer has stopped".to_owned())),
        }
    }

    /// Stops taking entries and waits until every entry handed over is written.
    pub fn close(&self) {
        if let Ok(mut send) = self.send.lock() {
            send.take();
        }
        if let Some(thread) = self.thread.lock().ok().and_then(|mut t| t.take()) {
            let _ = thread.join();
        }
    }
}

fn write_loop(
    dir: &Path,
    key: &AuditKey,
    rotate_bytes: Option<u64>,
    receive: &mpsc::Receiver<Batch>,
) {
    let mut logs: HashMap<String, AuditLog> = HashMap::new();
    while let Ok(first) = receive.recv() {
        let mut batches = vec![first];
        batches.extend(receive.try_iter());
        let mut results: Vec<Result<(), String>> = batches
            .iter()
            .map(|batch| append(dir, key, &mut logs, batch))
            .collect();
        let mut synced: HashMap<&str, Result<(), String>> = HashMap::new();
        for (batch, result) in batches.iter().zip(results.iter_mut()) {
            let org = batch.org.as_str();
            let sync = synced
                .entry(org)
                .or_insert_with(|| match logs.get_mut(org) {
                    Some(log) => log
                        .sync()
                        .map_err(|e| format!("{}: {e}", log.path().display())),
                    None => Ok(()),
                });
            if result.is_ok() {
                result.clone_from(sync);
            }
        }
        let mut touched: Vec<String> = batches.iter().map(|b| b.org.clone()).collect();
        touched.sort_unstable();
        touched.dedup();
        for (batch, result) in batches.into_iter().zip(results) {
            if let Err(message) = &result {
                tracing::error!("org `{}`: audit log: {message}", batch.org);
            }
            let _ = batch.done.send(result);
        }
        if let Some(max) = rotate_bytes {
            rotate(&mut logs, max, &touched);
        }
    }
}

/// Rotates the logs that reached `max` bytes. Their entries are on disk: a
/// rotation that fails is logged, and tried again after the next batch.
fn rotate(logs: &mut HashMap<String, AuditLog>, max: u64, orgs: &[String]) {
    for org in orgs {
        let Some(log) = logs.get_mut(org) else {
            continue;
        };
        match log.rotate(max) {
            Ok(Some(kept)) => tracing::info!(
                "org `{org}`: audit log rotated; the full file is kept as {}",
                kept.display()
            ),
            Ok(None) => {}
            Err(e) => tracing::warn!("org `{org}`: audit log not rotated: {e}"),
        }
    }
}

fn append(
    dir: &Path,
    key: &AuditKey,
    logs: &mut HashMap<String, AuditLog>,
    batch: &Batch,
) -> Result<(), String> {
    let org = &batch.org;
    if !logs.contains_key(org) {
        let path = log_path(dir, org);
        let log =
            AuditLog::open(&path, key.clone()).map_err(|e| format!("{}: {e}", path.display()))?;
        logs.insert(org.clone(), log);
    }
    let Some(log) = logs.get_mut(org) else {
        return Err("the log was just opened".to_owned());
    };
    let key_id = batch.key_id.as_deref();
    let written = match &batch.lines {
        Lines::Decisions {
            kind,
            ctx,
            policy,
            items,
        } => items.iter().try_for_each(|item| {
            let entry = Entry {
                decision: kind.as_str(),
                ctx,
                record: item.record.as_deref(),
                position: item.position,
                input: &item.input,
                by: item.by.as_ref(),
                result: item.result.as_ref(),
                key_id,
            };
            log.append(&entry, policy)
        }),
        Lines::Change {
            change,
            version,
            module_hash,
            active,
        } => log.append_change(&ChangeEntry {
            org,
            change: *change,
            version,
            module_hash: module_hash.as_deref(),
            active: *active,
            key_id,
        }),
    };
    if let Err(e) = written {
        // The log may now end in a partial line: open it again next time, which
        // cuts it off.
        let message = format!("{}: {e}", log.path().display());
        logs.remove(org);
        return Err(message);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_org_id_cannot_name_a_path_outside_the_audit_folder() {
        let dir = Path::new("/audit");
        assert_eq!(
            log_path(dir, "../../etc/passwd"),
            Path::new("/audit/_.._etc_passwd.jsonl")
        );
        assert_eq!(
            log_path(dir, "strict-co"),
            Path::new("/audit/strict-co.jsonl")
        );
    }
}
