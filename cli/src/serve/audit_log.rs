//! The service's audit logs: one file per org under `--audit-dir`, written by one
//! thread. A request hands over its records' entries and waits until they are on
//! disk (appended and synced) before its answer is sent, so no answered decision is
//! missing from the log. Requests that arrive while the writer syncs are written
//! together and share the next sync.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Mutex;
use std::thread::JoinHandle;

use axum::http::StatusCode;
use crm_rules::audit::{AuditKey, AuditLog, AuditPolicy, Entry};
use crm_rules::decision::Kind;
use crm_rules::model::Context;
use crm_rules::pipeline::AuditItem;

use super::error::ApiError;

/// One request's entries.
struct Batch {
    kind: Kind,
    ctx: Context,
    policy: AuditPolicy,
    items: Vec<AuditItem>,
    done: tokio::sync::oneshot::Sender<Result<(), String>>,
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
    /// extended and checkpointed with `key`.
    pub fn start(dir: PathBuf, key: AuditKey) -> anyhow::Result<AuditWriter> {
        std::fs::create_dir_all(&dir).map_err(|e| {
            anyhow::anyhow!("cannot create the audit folder {}: {e}", dir.display())
        })?;
        let (send, receive) = mpsc::channel::<Batch>();
        let thread = std::thread::Builder::new()
            .name("crm-rules-audit".to_owned())
            .spawn(move || write_loop(&dir, &key, &receive))?;
        Ok(AuditWriter {
            send: Mutex::new(Some(send)),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Writes a request's entries and waits until they are synced.
    pub async fn write(
        &self,
        kind: Kind,
        ctx: Context,
        policy: AuditPolicy,
        items: Vec<AuditItem>,
    ) -> Result<(), ApiError> {
        let failed = |message: String| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "audit",
                format!("the decisions were made but cannot be audited, so they are not answered: {message}"),
            )
        };
        let (done, wait) = tokio::sync::oneshot::channel();
        let batch = Batch {
            kind,
            ctx,
            policy,
            items,
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

fn write_loop(dir: &Path, key: &AuditKey, receive: &mpsc::Receiver<Batch>) {
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
            let org = batch.ctx.org_id.as_str();
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
        for (batch, result) in batches.into_iter().zip(results) {
            if let Err(message) = &result {
                tracing::error!("org `{}`: audit log: {message}", batch.ctx.org_id);
            }
            let _ = batch.done.send(result);
        }
    }
}

fn append(
    dir: &Path,
    key: &AuditKey,
    logs: &mut HashMap<String, AuditLog>,
    batch: &Batch,
) -> Result<(), String> {
    let org = &batch.ctx.org_id;
    if !logs.contains_key(org) {
        let path = log_path(dir, org);
        let log =
            AuditLog::open(&path, key.clone()).map_err(|e| format!("{}: {e}", path.display()))?;
        logs.insert(org.clone(), log);
    }
    let Some(log) = logs.get_mut(org) else {
        return Err("the log was just opened".to_owned());
    };
    for item in &batch.items {
        let entry = Entry {
            decision: batch.kind.as_str(),
            ctx: &batch.ctx,
            record: item.record.as_deref(),
            position: item.position,
            input: &item.input,
            by: item.by.as_ref(),
            result: item.result.as_ref(),
        };
        if let Err(e) = log.append(&entry, &batch.policy) {
            // The log may now end in a partial line: open it again next time, which
            // cuts it off.
            let message = format!("{}: {e}", log.path().display());
            logs.remove(org);
            return Err(message);
        }
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
