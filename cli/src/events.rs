//! A CRM event given to a decision command in place of records: recognised by
//! its shape (a Dataverse RemoteExecutionContext, a Salesforce change event or
//! Outbound Message, a HubSpot webhook batch), its whole records decided like
//! any native input, and a line for each change that cannot be.

use std::path::Path;

use anyhow::Context as _;
use crm_rules::crm::events::{self, Prepared};
use crm_rules::crm::Vocabularies;

/// An event file, ready to decide.
pub struct EventInput {
    /// The file's name, for messages.
    pub source_name: String,
    /// Its records and answers.
    pub prepared: Prepared,
}

/// Reads `path` as an event when it is one; `None` for any other input (stdin
/// included: it is streamed as records). Files larger than `max_bytes` are
/// not looked at: an event is one request's body.
pub fn open(
    path: Option<&Path>,
    max_bytes: usize,
    vocabularies: &Vocabularies,
) -> anyhow::Result<Option<EventInput>> {
    let Some(path) = path.filter(|p| *p != Path::new("-")) else {
        return Ok(None);
    };
    let small = std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() <= max_bytes as u64);
    if !small {
        return Ok(None);
    }
    let name = path.display().to_string();
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {name}"))?;
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return Ok(None);
    };
    if events::sniff(text).is_none() {
        return Ok(None);
    }
    let (source, changes) = events::read(text).with_context(|| name.clone())?;
    Ok(Some(EventInput {
        source_name: name,
        prepared: Prepared::new(source, changes, vocabularies),
    }))
}
