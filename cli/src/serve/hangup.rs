//! SIGHUP, as systemd's `reload` and logrotate send it: the keys file and the org
//! folders are read again (what the file watcher does on a change, for setups
//! where it cannot see changes, such as some network file systems), and the log
//! says so. The process keeps serving; it never stops on SIGHUP.

use std::sync::Arc;

use super::service::Service;

/// Listens for SIGHUP for as long as the runtime runs.
#[cfg(unix)]
pub fn listen(service: Arc<Service>) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hangups = match signal(SignalKind::hangup()) {
        Ok(hangups) => hangups,
        Err(e) => {
            tracing::warn!("cannot listen for SIGHUP (it would stop the service): {e}");
            return;
        }
    };
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            tracing::info!("SIGHUP: reading the keys file and the org folders again");
            let service = service.clone();
            let _ = tokio::task::spawn_blocking(move || reload(&service)).await;
        }
    });
}

/// Without Unix signals there is nothing to listen for.
#[cfg(not(unix))]
pub fn listen(_service: Arc<Service>) {}

fn reload(service: &Service) {
    let keys = match &service.keys {
        Some(store) if store.reload() => "keys reloaded",
        Some(_) => "keys unchanged",
        None => "no keys file",
    };
    service.orgs.sync(&service.host, &service.metrics);
    let statuses = service.orgs.statuses();
    let failed = statuses.iter().filter(|s| s.error.is_some()).count();
    tracing::info!(
        "SIGHUP: done; {keys}; {} org folders, {failed} failed to load",
        statuses.len()
    );
}
