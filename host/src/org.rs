//! An organisation on disk: a folder with `org.json` (which module, which policy,
//! which limits), the policy file, and a `fixtures/` folder.
//!
//! ```json
//! { "org_id": "strict-co", "module": "reference", "policy": "policy.json" }
//! ```
//!
//! `module` is `"reference"` (the module built into the program) or the path of a
//! `.wasm` component, relative to the folder. Optional: `version` (a label; default
//! derived from the module's and policy's hashes), `limits`, `sha256` (the module
//! hash the org pins), `trusted_keys` (ed25519 public keys in hex; the module must
//! then be signed by one of them), `signature` (the signature file, default the
//! module's path plus `.sig`), `audit` (`{"mask_fields": [...]}`), and `crm` (the
//! org's CRM vocabulary, laid over the vendors' defaults: `docs/adapters.md`).
//!
//! Every path in `org.json` stays inside the org folder: it is relative, has no
//! `..`, and does not lead out through a symbolic link ([`OrgPathError`]). Whoever
//! writes an org folder chooses its module and policy, never another file of the
//! host.

use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context as _};
use serde::Deserialize;

use crate::audit::AuditPolicy;
use crate::crm::{CrmConfig, Vocabularies};
use crate::engine::Limits;
use crate::integrity::Integrity;
use crate::registry::{Host, LoadedModule, VersionSpec};

/// The contents of `org.json`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgFile {
    /// The org's id, as decisions' contexts name it.
    pub org_id: String,
    /// `"reference"` or a path to a `.wasm` component.
    #[serde(default = "reference")]
    pub module: String,
    /// Path of the policy file.
    pub policy: String,
    /// Limits of every call.
    #[serde(default)]
    pub limits: Limits,
    /// The version's label.
    #[serde(default)]
    pub version: Option<String>,
    /// The SHA-256 (hex) the module must have.
    #[serde(default)]
    pub sha256: Option<String>,
    /// Public keys (hex) of whoever may sign the org's modules.
    #[serde(default)]
    pub trusted_keys: Vec<String>,
    /// The module's signature file (hex); default: the module's path + `.sig`.
    #[serde(default)]
    pub signature: Option<String>,
    /// What the audit log masks.
    #[serde(default)]
    pub audit: AuditPolicy,
    /// How the org's CRM names fields, options and stages (see `docs/adapters.md`).
    #[serde(default)]
    pub crm: CrmConfig,
}

fn reference() -> String {
    "reference".to_owned()
}

/// A path in `org.json` that would reach outside the org folder.
#[derive(Debug, thiserror::Error)]
pub enum OrgPathError {
    /// An absolute path (or, on Windows, one with a drive or root).
    #[error(
        "`{field}` is `{path}`, an absolute path; paths in org.json are relative to the org folder"
    )]
    Absolute {
        /// The field of `org.json`, e.g. `policy`.
        field: &'static str,
        /// The path as written.
        path: String,
    },
    /// A path with a `..` component.
    #[error("`{field}` is `{path}`, which climbs out with `..`; paths in org.json stay inside the org folder")]
    Climbs {
        /// The field of `org.json`.
        field: &'static str,
        /// The path as written.
        path: String,
    },
    /// An empty path.
    #[error("`{field}` is empty")]
    Empty {
        /// The field of `org.json`.
        field: &'static str,
    },
    /// A path that leads out of the folder through a symbolic link.
    #[error("`{field}` is `{path}`, which leads to {target}, outside the org folder {dir} (through a symbolic link)")]
    LinksOut {
        /// The field of `org.json`.
        field: &'static str,
        /// The path as written.
        path: String,
        /// Where it leads.
        target: String,
        /// The org folder.
        dir: String,
    },
    /// The folder or the path cannot be resolved.
    #[error("`{field}`: cannot resolve {path}")]
    Resolve {
        /// The field of `org.json`.
        field: &'static str,
        /// The path that could not be resolved.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// `relative` (the value of `field` in `org.json`) as a path inside `dir`. A path
/// that does not exist yet is checked by its words alone; one that exists is
/// resolved, symbolic links and all, and must still be inside `dir`.
pub fn resolve_inside(
    dir: &Path,
    field: &'static str,
    relative: &str,
) -> Result<PathBuf, OrgPathError> {
    let path = Path::new(relative);
    if relative.trim().is_empty() {
        return Err(OrgPathError::Empty { field });
    }
    for component in path.components() {
        match component {
            Component::Normal(_) | Component::CurDir => {}
            Component::ParentDir => {
                return Err(OrgPathError::Climbs {
                    field,
                    path: relative.to_owned(),
                })
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(OrgPathError::Absolute {
                    field,
                    path: relative.to_owned(),
                })
            }
        }
    }
    let joined = dir.join(path);
    if std::fs::symlink_metadata(&joined).is_err() {
        return Ok(joined);
    }
    let resolve = |p: &Path| {
        p.canonicalize().map_err(|source| OrgPathError::Resolve {
            field,
            path: p.display().to_string(),
            source,
        })
    };
    let (root, target) = (resolve(dir)?, resolve(&joined)?);
    if !target.starts_with(&root) {
        return Err(OrgPathError::LinksOut {
            field,
            path: relative.to_owned(),
            target: target.display().to_string(),
            dir: root.display().to_string(),
        });
    }
    Ok(target)
}

/// An org folder, read.
#[derive(Debug, Clone)]
pub struct OrgDir {
    /// The folder.
    pub dir: PathBuf,
    /// Its `org.json`.
    pub file: OrgFile,
    /// The module's bytes.
    pub wasm: Vec<u8>,
    /// The policy's text.
    pub policy: String,
    /// The module's signature (hex), when it has one.
    pub signature: Option<String>,
    /// The org's CRM vocabularies, resolved from `file.crm`.
    pub vocabularies: Vocabularies,
}

impl OrgDir {
    /// Reads `dir/org.json`, its module and its policy.
    pub fn read(dir: &Path) -> anyhow::Result<OrgDir> {
        let path = resolve_inside(dir, "org.json", "org.json")?;
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let de = &mut serde_json::Deserializer::from_str(&text);
        let file: OrgFile = serde_path_to_error::deserialize(de)
            .map_err(|e| anyhow::anyhow!("{}: at `{}`: {}", path.display(), e.path(), e.inner()))?;
        let inside = |field: &'static str, relative: &str| {
            resolve_inside(dir, field, relative)
                .map_err(|e| anyhow::Error::new(e).context(format!("{}", path.display())))
        };
        let wasm = if file.module == "reference" {
            crate::REFERENCE_MODULE.to_vec()
        } else {
            let module = inside("module", &file.module)?;
            if !module.is_file() {
                bail!(
                    "{}: module {} does not exist (build the module crate for \
                     wasm32-wasip2 first)",
                    path.display(),
                    module.display()
                );
            }
            std::fs::read(&module).with_context(|| format!("cannot read {}", module.display()))?
        };
        let signature_path = match (&file.signature, file.module.as_str()) {
            (Some(path), _) => Some(inside("signature", path)?),
            (None, "reference") => None,
            (None, module) => Some(inside("signature", &format!("{module}.sig"))?),
        };
        let signature = match signature_path {
            Some(path) if path.is_file() => Some(
                std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read {}", path.display()))?
                    .trim()
                    .to_owned(),
            ),
            Some(path) if file.signature.is_some() => {
                bail!(
                    "{}: signature file {} does not exist",
                    dir.join("org.json").display(),
                    path.display()
                )
            }
            _ => None,
        };
        let vocabularies =
            Vocabularies::new(&file.crm).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let policy_path = inside("policy", &file.policy)?;
        let policy = std::fs::read_to_string(&policy_path)
            .with_context(|| format!("cannot read {}", policy_path.display()))?;
        Ok(OrgDir {
            dir: dir.to_owned(),
            file,
            wasm,
            policy,
            signature,
            vocabularies,
        })
    }

    /// What the org requires of its module.
    pub fn integrity(&self) -> Integrity {
        Integrity {
            sha256: self.file.sha256.clone(),
            trusted_keys: self.file.trusted_keys.clone(),
            signature: self.signature.clone(),
        }
    }

    /// Checks, loads and activates the org's module in `host`.
    pub fn load_into(&self, host: &Host) -> crate::error::Result<LoadedModule> {
        let digest = crate::integrity::ModuleDigest::of(&self.wasm);
        let version = self
            .file
            .version
            .clone()
            .unwrap_or_else(|| crate::registry::default_version_of(&digest, &self.policy));
        host.add_and_activate_digested(
            &self.file.org_id,
            VersionSpec {
                version,
                wasm: &self.wasm,
                policy: &self.policy,
                limits: self.file.limits.clone(),
                integrity: self.integrity(),
            },
            &digest,
        )
    }

    /// Every org folder at or below `root` (folders holding an `org.json`), sorted.
    pub fn find(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
        let mut found = Vec::new();
        let mut stack = vec![root.to_owned()];
        while let Some(dir) = stack.pop() {
            if dir.join("org.json").is_file() {
                found.push(dir);
                continue;
            }
            let entries = std::fs::read_dir(&dir)
                .with_context(|| format!("cannot read folder {}", dir.display()))?;
            for entry in entries {
                let path = entry?.path();
                if path.is_dir()
                    && path
                        .file_name()
                        .is_some_and(|n| n != "target" && n != "src")
                {
                    stack.push(path);
                }
            }
        }
        found.sort();
        Ok(found)
    }
}
