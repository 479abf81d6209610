//! What a module writes to its stdout and stderr: kept by the store during a call
//! and moved into the host's log after it, line by line, tagged with org, version
//! and stream.

use crate::engine::StoreState;

/// Moves what a module wrote to stdout and stderr into the host's log.
pub(crate) fn drain(org: &str, version: &str, state: &StoreState) {
    for (stream, bytes) in [
        ("stdout", state.stdout.take()),
        ("stderr", state.stderr.take()),
    ] {
        if bytes.is_empty() {
            continue;
        }
        for line in String::from_utf8_lossy(&bytes).lines() {
            tracing::info!(target: "crm_rules::guest", "org `{org}` version {version} {stream}: {line}");
        }
    }
}
