//! API keys: the keys file and the lookup of a presented key.
//!
//! A key is 32 random bytes written as `crk_` and 64 hex digits. The file keeps
//! only its SHA-256, so reading the file does not give a key away. A fast hash is
//! enough here, unlike for passwords: a key has 256 bits of entropy, so there is
//! nothing to guess, and the service hashes each request's key once (about a
//! microsecond) to look it up.
//!
//! ```json
//! {"keys": [{"id": "k-3f2a9c1e", "sha256": "…", "orgs": ["strict-co"], "admin": false,
//!            "created": "2026-11-25T09:00:00Z", "note": "order service"}]}
//! ```

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use chrono::{DateTime, SubsecRound as _, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// What every key starts with, so a key found in a log or a repository is
/// recognisable as one.
const PREFIX: &str = "crk_";

/// The keys file.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyFile {
    /// Every key, in the order they were added.
    pub keys: Vec<KeyEntry>,
}

/// One key, without the key itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyEntry {
    /// A public name for the key (from its hash): what `keys list` shows and
    /// `keys remove` takes.
    pub id: String,
    /// SHA-256 of the key, in hex.
    pub sha256: String,
    /// The orgs the key reaches.
    #[serde(default)]
    pub orgs: Vec<String>,
    /// Whether the key reaches every org and the management routes.
    #[serde(default)]
    pub admin: bool,
    /// When it was made.
    pub created: DateTime<Utc>,
    /// Who holds it, or what for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

impl KeyFile {
    /// Reads a keys file; a missing file is an empty one when `missing_ok`.
    pub fn read(path: &Path, missing_ok: bool) -> anyhow::Result<KeyFile> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if missing_ok && e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(KeyFile::default())
            }
            Err(e) => {
                return Err(e).with_context(|| format!("cannot read keys file {}", path.display()))
            }
        };
        serde_json::from_str(&text)
            .with_context(|| format!("keys file {} is not a keys file", path.display()))
    }

    /// Writes the file whole: to a temporary file beside it, then renamed over it,
    /// so a service watching it never reads half a file. Only its owner may read
    /// it.
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(self)?;
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "keys".to_owned());
        let temporary = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let written = options
            .open(&temporary)
            .and_then(|mut file| {
                use std::io::Write as _;
                file.write_all(text.as_bytes())?;
                file.write_all(b"\n")?;
                file.sync_all()
            })
            .and_then(|()| std::fs::rename(&temporary, path));
        if written.is_err() {
            let _ = std::fs::remove_file(&temporary);
        }
        written.with_context(|| format!("cannot write keys file {}", path.display()))
    }

    /// Makes a new key and adds its hash; returns the key, which exists nowhere
    /// else from then on.
    pub fn add(
        &mut self,
        orgs: Vec<String>,
        admin: bool,
        note: Option<String>,
    ) -> anyhow::Result<(String, &KeyEntry)> {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
        let key: String = std::iter::once(PREFIX.to_owned())
            .chain(secret.iter().map(|b| format!("{b:02x}")))
            .collect();
        let sha256 = hex(&digest(&key));
        self.keys.push(KeyEntry {
            id: format!("k-{}", &sha256[..8]),
            sha256,
            orgs,
            admin,
            created: Utc::now().trunc_subsecs(0),
            note,
        });
        let entry = self.keys.last().context("the key was just added")?;
        Ok((key, entry))
    }

    /// Removes the key with this id; whether there was one.
    pub fn remove(&mut self, id: &str) -> bool {
        let before = self.keys.len();
        self.keys.retain(|k| k.id != id);
        self.keys.len() != before
    }
}

/// What a key may reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    /// Every org and the management routes.
    Admin,
    /// These orgs' decisions.
    Orgs(Arc<[String]>),
}

/// The keys of a keys file, by hash: what a request's key is looked up in.
#[derive(Debug, Default)]
pub struct KeyRing {
    by_hash: HashMap<[u8; 32], (String, Grant)>,
}

impl KeyRing {
    /// The keys of a file.
    pub fn of(file: &KeyFile) -> KeyRing {
        let by_hash = file
            .keys
            .iter()
            .filter_map(|k| {
                let Some(hash) = unhex(&k.sha256) else {
                    tracing::warn!("key {}: its sha256 is not 64 hex digits; skipped", k.id);
                    return None;
                };
                let grant = if k.admin {
                    Grant::Admin
                } else {
                    Grant::Orgs(k.orgs.clone().into())
                };
                Some((hash, (k.id.clone(), grant)))
            })
            .collect();
        KeyRing { by_hash }
    }

    /// What a presented key reaches, and the key's id (for logs), when it is one
    /// of these keys.
    pub fn grant(&self, key: &str) -> Option<(&str, &Grant)> {
        self.by_hash
            .get(&digest(key.trim()))
            .map(|(id, grant)| (id.as_str(), grant))
    }

    /// How many keys it holds.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_found_by_its_hash_and_never_stored() {
        let mut file = KeyFile::default();
        let (key, _) = file.add(vec!["strict-co".into()], false, None).unwrap();
        let text = serde_json::to_string(&file).unwrap();
        assert!(!text.contains(&key[PREFIX.len()..]));
        let ring = KeyRing::of(&file);
        let (_, grant) = ring.grant(&key).unwrap();
        assert_eq!(grant, &Grant::Orgs(vec!["strict-co".to_owned()].into()));
        assert!(ring.grant("crk_00").is_none());
    }

    #[test]
    fn a_removed_key_no_longer_opens_anything() {
        let mut file = KeyFile::default();
        let (key, entry) = file.add(vec![], true, Some("ops".into())).unwrap();
        let id = entry.id.clone();
        assert!(file.remove(&id));
        assert!(!file.remove(&id));
        assert!(KeyRing::of(&file).grant(&key).is_none());
    }

    #[test]
    fn the_file_is_replaced_whole_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.json");
        let mut file = KeyFile::read(&path, true).unwrap();
        let (key, _) = file.add(vec!["a".into(), "b".into()], false, None).unwrap();
        file.write(&path).unwrap();
        let read = KeyFile::read(&path, false).unwrap();
        assert_eq!(read.keys.len(), 1);
        assert!(KeyRing::of(&read).grant(&key).is_some());
        assert!(KeyFile::read(&dir.path().join("none.json"), false).is_err());
    }
}
