//! Picks up changes on disk while the service runs: an org folder's files (its
//! org.json, policy, module or signature) and the keys file. `notify` reports the
//! changes (inotify on Linux, FSEvents on macOS, ...); a burst of them (an editor
//! saving, a deployment copying a folder) is waited out until the folder has been
//! quiet for a moment, then the orgs folder is looked at again: new and changed
//! folders load, each swapped in atomically, and removed ones stop serving.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use notify::{EventKind, RecursiveMode, Watcher as _};

use super::service::Service;

/// How long a folder must be quiet before it is loaded again.
const QUIET: Duration = Duration::from_millis(300);

/// The running watcher; dropping it stops watching.
pub struct Watching {
    _watcher: notify::RecommendedWatcher,
}

/// What a batch of changes touched.
#[derive(Default)]
struct Touched {
    orgs: bool,
    keys: bool,
}

/// Starts watching the orgs folder (and the keys file's folder).
pub fn start(service: Arc<Service>) -> anyhow::Result<Watching> {
    let (send, receive) = mpsc::channel();
    let mut watcher = notify::recommended_watcher(move |event| {
        let _ = send.send(event);
    })?;
    // Absolute, so the paths of events compare with it whatever the working folder.
    let root = absolute(service.orgs.root());
    watcher.watch(&root, RecursiveMode::Recursive)?;
    // The keys file's folder, as named (not through symbolic links): the file is
    // replaced by a rename (`keys add`), and a secret mounted by an orchestrator
    // by swapping a link in that folder. Only events on the file itself, or on
    // an orchestrator's `..data` links, count: the folder may also hold a log
    // written many times a second.
    let keys = service
        .keys
        .as_ref()
        .and_then(|k| std::path::absolute(k.path()).ok());
    if let Some(dir) = keys.as_deref().and_then(Path::parent) {
        watcher.watch(dir, RecursiveMode::NonRecursive)?;
    }
    std::thread::Builder::new()
        .name("crm-rules-watch".to_owned())
        .spawn({
            let root = root.clone();
            move || loop {
                let Ok(first) = receive.recv() else {
                    return;
                };
                let mut touched = Touched::default();
                note(&mut touched, first, &root, keys.as_deref());
                // Wait for the burst to end.
                loop {
                    match receive.recv_timeout(QUIET) {
                        Ok(event) => note(&mut touched, event, &root, keys.as_deref()),
                        Err(mpsc::RecvTimeoutError::Timeout) => break,
                        Err(mpsc::RecvTimeoutError::Disconnected) => return,
                    }
                }
                if touched.keys {
                    if let Some(store) = &service.keys {
                        // Unchanged bytes (a touch, a rewrite of the same keys)
                        // change nothing.
                        store.reload();
                    }
                }
                if touched.orgs {
                    service.orgs.sync(&service.host, &service.metrics);
                }
            }
        })?;
    tracing::info!("watching {} for changes", root.display());
    Ok(Watching { _watcher: watcher })
}

fn absolute(path: &Path) -> PathBuf {
    std::fs::canonicalize(path)
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.to_owned())
}

fn note(
    touched: &mut Touched,
    event: notify::Result<notify::Event>,
    root: &Path,
    keys: Option<&Path>,
) {
    let event = match event {
        Ok(event) => event,
        Err(e) => {
            // Events may have been lost (a full queue): look at everything again.
            tracing::warn!("file watching: {e}");
            touched.orgs = true;
            touched.keys = keys.is_some();
            return;
        }
    };
    if matches!(event.kind, EventKind::Access(_)) {
        return;
    }
    for path in &event.paths {
        if keys.is_some_and(|k| about_keys(path, k)) {
            touched.keys = true;
        }
        if path.starts_with(root) && !in_build_output(path, root) {
            touched.orgs = true;
        }
    }
}

/// Whether a change at `path` may change the keys file `keys`: the file itself,
/// or a link an orchestrator swaps beside it (`..data`, `..2026_11_25...`).
fn about_keys(path: &Path, keys: &Path) -> bool {
    path == keys
        || (path.parent() == keys.parent()
            && path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("..")))
}

/// Build output and sources of module crates under the orgs folder change often
/// and are never an org's files.
fn in_build_output(path: &Path, root: &Path) -> bool {
    path.strip_prefix(root).is_ok_and(|relative| {
        relative
            .components()
            .any(|c| c.as_os_str() == "target" || c.as_os_str() == "src")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_keys_file_and_orchestrator_links_touch_the_keys() {
        let keys = Path::new("/srv/app/keys.json");
        assert!(about_keys(keys, keys));
        assert!(about_keys(Path::new("/srv/app/..data"), keys));
        assert!(!about_keys(Path::new("/srv/app/serve.log"), keys));
        assert!(!about_keys(Path::new("/srv/app/.keys.json.42.tmp"), keys));
        assert!(!about_keys(Path::new("/srv/other/keys.json"), keys));
    }
}
