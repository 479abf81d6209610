//! The org folders the service serves. Each folder under `--orgs` with an
//! `org.json` is loaded into the host; what a request needs besides the module
//! (the CRM vocabularies, the audit masking, the policy an upload runs with) is
//! read once per load, never per request.
//!
//! A folder is loaded again when its files change (see `watch.rs`): the new
//! version is compiled and initialised beside the old one, then made active in
//! one step, so requests in flight finish on the version they started with. A
//! folder that fails to load leaves the version it had serving, and its status
//! says why.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use chrono::{DateTime, SubsecRound as _, Utc};
use crm_rules::audit::AuditPolicy;
use crm_rules::crm::Vocabularies;
use crm_rules::org::{OrgDir, OrgFile};
use crm_rules::{Host, Integrity, Limits, OrgFacts};
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use utoipa::ToSchema;

use super::labels;
use super::lanes::Conduct;
use super::metrics::{Metrics, OrgMeters};

/// An org as the service serves it.
pub struct ServedOrg {
    pub id: String,
    /// How its CRM names fields, options and stages.
    pub vocabularies: Vocabularies,
    /// What its audit entries mask.
    pub audit: AuditPolicy,
    /// The policy an uploaded module is initialised with.
    pub policy: String,
    /// The limits of an uploaded module's calls.
    pub limits: Limits,
    pub meters: OrgMeters,
    /// How its module has behaved lately: where its decisions run.
    pub conduct: Arc<Conduct>,
    /// The custom fields the active version reads, by the facts they came from.
    custom: Mutex<Option<CustomFields>>,
}

impl ServedOrg {
    /// The custom fields a version reads (what native records keep), built once
    /// per version.
    pub fn keep_custom(&self, facts: Arc<OrgFacts>) -> Arc<HashSet<String>> {
        let mut cached = match self.custom.lock() {
            Ok(cached) => cached,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some((seen, set)) = cached.as_ref() {
            if Arc::ptr_eq(seen, &facts) {
                return set.clone();
            }
        }
        let set: Arc<HashSet<String>> = Arc::new(facts.custom_fields.iter().cloned().collect());
        *cached = Some((facts, set.clone()));
        set
    }
}

/// The custom fields a version reads, with the facts of that version.
type CustomFields = (Arc<OrgFacts>, Arc<HashSet<String>>);

/// How a folder's last load went.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FolderStatus {
    /// The folder, relative to the orgs folder.
    pub folder: String,
    /// The org id its org.json names, when it could be read.
    pub org: Option<String>,
    /// The version serving now.
    pub version: Option<String>,
    /// Why the last load failed; `null` when it did not.
    pub error: Option<String>,
    /// When the folder was last loaded or tried.
    #[schema(value_type = String, format = DateTime)]
    pub checked: DateTime<Utc>,
}

struct Folder {
    status: FolderStatus,
    /// The digest of what was loaded last: a change of files that leaves it equal
    /// (a fixture edited) loads nothing.
    loaded: Option<[u8; 32]>,
}

/// Every org folder under the orgs folder.
pub struct Orgs {
    root: PathBuf,
    served: RwLock<HashMap<String, Arc<ServedOrg>>>,
    folders: Mutex<BTreeMap<PathBuf, Folder>>,
    /// Whether the first scan is done.
    scanned: AtomicBool,
}

/// What the folder's files hold, as one digest.
fn digest(dir: &Path, org: &OrgDir) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in [
        std::fs::read(dir.join("org.json"))
            .unwrap_or_default()
            .as_slice(),
        &org.wasm,
        org.policy.as_bytes(),
        org.signature.as_deref().unwrap_or_default().as_bytes(),
    ] {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hasher.finalize().into()
}

impl Orgs {
    pub fn new(root: PathBuf) -> Orgs {
        Orgs {
            root,
            served: RwLock::new(HashMap::new()),
            folders: Mutex::new(BTreeMap::new()),
            scanned: AtomicBool::new(false),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The org, when it is served.
    pub fn get(&self, org: &str) -> Option<Arc<ServedOrg>> {
        self.served.read().ok()?.get(org).cloned()
    }

    /// The ids of the orgs served, sorted.
    pub fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .served
            .read()
            .map(|s| s.keys().cloned().collect())
            .unwrap_or_default();
        ids.sort();
        ids
    }

    fn folders(&self) -> std::sync::MutexGuard<'_, BTreeMap<PathBuf, Folder>> {
        match self.folders.lock() {
            Ok(folders) => folders,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Every folder's status, in folder order.
    pub fn statuses(&self) -> Vec<FolderStatus> {
        self.folders().values().map(|f| f.status.clone()).collect()
    }

    /// Ready: the first scan is done. A folder that failed to load is that org's
    /// trouble (its status and metrics say so), not a reason to take the orgs
    /// that loaded out of service.
    pub fn ready(&self) -> bool {
        self.scanned.load(Ordering::Acquire)
    }

    /// Looks at the orgs folder again: loads new and changed org folders, and
    /// stops serving the orgs whose folder is gone. Blocking (compiles modules).
    pub fn sync(&self, host: &Host, metrics: &Metrics) {
        let found = match OrgDir::find(&self.root) {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!("cannot look for org folders: {e:#}");
                return;
            }
        };
        let gone: Vec<PathBuf> = self
            .folders()
            .keys()
            .filter(|dir| !found.contains(dir))
            .cloned()
            .collect();
        for dir in gone {
            self.remove(host, &dir);
        }
        for dir in &found {
            self.load(host, metrics, dir, false);
        }
        self.scanned.store(true, Ordering::Release);
    }

    /// Loads the folder of a served org again, even when its files did not
    /// change.
    pub fn reload(&self, host: &Host, metrics: &Metrics, org: &str) -> Option<FolderStatus> {
        let dir = self
            .folders()
            .iter()
            .find(|(_, f)| f.status.org.as_deref() == Some(org))
            .map(|(dir, _)| dir.clone())?;
        Some(self.load(host, metrics, &dir, true))
    }

    /// The org's pin and trusted keys as its org.json says now: what an upload,
    /// an activation or a rollback is checked against. Read from the file, not
    /// from the last load: a folder whose load failed after its org.json began
    /// trusting keys (its own module unsigned, say) must not leave the older,
    /// laxer rules in force. An org.json that cannot be read refuses.
    pub fn rules(&self, org: &str) -> Result<Integrity, String> {
        let dir = self
            .folders()
            .iter()
            .find(|(_, f)| f.status.org.as_deref() == Some(org))
            .map(|(dir, _)| dir.clone())
            .ok_or_else(|| format!("org `{org}` has no folder"))?;
        let path = dir.join("org.json");
        let file: OrgFile = std::fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|text| serde_json::from_str(&text).map_err(|e| e.to_string()))
            .map_err(|e| {
                format!(
                    "{}/org.json cannot be read, so its signing rules cannot be checked: {e}",
                    self.relative(&dir)
                )
            })?;
        if file.org_id != org {
            return Err(format!(
                "{}/org.json now names org `{}`",
                self.relative(&dir),
                file.org_id
            ));
        }
        Ok(Integrity {
            sha256: file.sha256,
            trusted_keys: file.trusted_keys,
            signature: None,
        })
    }

    fn remove(&self, host: &Host, dir: &Path) {
        let Some(folder) = self.folders().remove(dir) else {
            return;
        };
        if let Some(org) = folder.status.org.filter(|_| folder.loaded.is_some()) {
            tracing::warn!("org `{org}`: its folder is gone; it is no longer served");
            if let Ok(mut served) = self.served.write() {
                served.remove(&org);
            }
            let _ = host.unload(&org);
        }
    }

    fn relative(&self, dir: &Path) -> String {
        dir.strip_prefix(&self.root)
            .unwrap_or(dir)
            .display()
            .to_string()
    }

    /// Loads one folder when what it holds changed (or always, with `force`);
    /// returns its status.
    fn load(&self, host: &Host, metrics: &Metrics, dir: &Path, force: bool) -> FolderStatus {
        let now = Utc::now().trunc_subsecs(0);
        let previous = self
            .folders()
            .get(dir)
            .map(|f| (f.status.clone(), f.loaded));
        let fail = |org: Option<String>, message: String| {
            let label = org.as_deref().unwrap_or("?");
            tracing::warn!(
                "org `{label}` ({}): not loaded, {}: {message}",
                self.relative(dir),
                match previous.as_ref().and_then(|(s, _)| s.version.as_deref()) {
                    Some(version) => format!("version {version} keeps serving"),
                    None => "nothing serves it".to_owned(),
                }
            );
            metrics.load_failed(label);
            let status = FolderStatus {
                folder: self.relative(dir),
                org,
                version: previous.as_ref().and_then(|(s, _)| s.version.clone()),
                error: Some(message),
                checked: now,
            };
            let loaded = previous.as_ref().and_then(|(_, l)| *l);
            self.folders().insert(
                dir.to_owned(),
                Folder {
                    status: status.clone(),
                    loaded,
                },
            );
            status
        };
        let org = match OrgDir::read(dir) {
            Ok(org) => org,
            Err(e) => {
                let org = previous.as_ref().and_then(|(s, _)| s.org.clone());
                return fail(org, format!("{e:#}"));
            }
        };
        let id = org.file.org_id.clone();
        if let Some(label) = &org.file.version {
            // The label goes into headers, log lines and metric labels.
            if let Err(message) = labels::check(label) {
                return fail(Some(id), format!("org.json `version`: {message}"));
            }
        }
        let digest = digest(dir, &org);
        if let Some((status, Some(loaded))) = &previous {
            if !force && *loaded == digest && status.org.as_deref() == Some(id.as_str()) {
                return status.clone();
            }
        }
        let clash = self
            .folders()
            .iter()
            .find(|(other, f)| other.as_path() != dir && f.status.org.as_deref() == Some(&id))
            .map(|(other, _)| self.relative(other));
        if let Some(other) = clash {
            return fail(
                Some(id.clone()),
                format!("org `{id}` is already served from folder {other}"),
            );
        }
        let before = host.module(&id).ok().map(|m| m.version);
        let loaded = match org.load_into(host) {
            Ok(loaded) => loaded,
            Err(e) => return fail(Some(id), e.to_string()),
        };
        // The folder named another org before: that one is no longer served.
        if let Some(old) = previous
            .as_ref()
            .and_then(|(s, _)| s.org.clone())
            .filter(|old| *old != id)
        {
            if let Ok(mut served) = self.served.write() {
                served.remove(&old);
            }
            let _ = host.unload(&old);
        }
        let conduct = self.get(&id).map(|o| o.conduct.clone()).unwrap_or_default();
        let served = Arc::new(ServedOrg {
            id: id.clone(),
            vocabularies: org.vocabularies.clone(),
            audit: org.file.audit.clone(),
            policy: org.policy.clone(),
            limits: org.file.limits.clone(),
            meters: metrics.org(&id),
            conduct,
            custom: Mutex::new(None),
        });
        if let Ok(mut all) = self.served.write() {
            all.insert(id.clone(), served);
        }
        if before.as_deref() != Some(loaded.version.as_str()) {
            metrics.swapped(&id);
        }
        tracing::info!(
            "org `{id}` ({}): version {} serving (module {}, {})",
            self.relative(dir),
            loaded.version,
            &loaded.hash[..12],
            loaded.contract
        );
        let status = FolderStatus {
            folder: self.relative(dir),
            org: Some(id),
            version: Some(loaded.version),
            error: None,
            checked: now,
        };
        self.folders().insert(
            dir.to_owned(),
            Folder {
                status: status.clone(),
                loaded: Some(digest),
            },
        );
        status
    }
}
