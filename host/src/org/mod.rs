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

mod loaded;
mod paths;

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::audit::AuditPolicy;
use crate::crm::{CrmConfig, Vocabularies};
use crate::engine::Limits;
use crate::integrity::Integrity;
use crate::registry::{Host, LoadedModule, VersionSpec};

pub use loaded::{DecideOptions, Org};
pub use paths::{resolve_inside, OrgPathError};

/// Why an org folder cannot be read. Each names the file to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OrgError {
    /// A file or folder of the org cannot be read.
    #[error("cannot read {}", path.display())]
    Read {
        /// The file or folder.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: std::io::Error,
    },
    /// `org.json` is not what it should be.
    #[error("{}: at `{at}`: {message}", path.display())]
    Invalid {
        /// The `org.json` file.
        path: PathBuf,
        /// The JSON path at fault (`.` for the whole file).
        at: String,
        /// What is wrong.
        message: String,
    },
    /// A path in `org.json` leads outside the org folder.
    #[error("{}: {source}", path.display())]
    Path {
        /// The `org.json` file.
        path: PathBuf,
        /// Which path, and how it leaves.
        #[source]
        source: OrgPathError,
    },
    /// The module `org.json` names is not there.
    #[error(
        "{}: module {} does not exist (build it: run `crm-rules build` in the module's \
         crate, which copies the component into this folder)",
        path.display(),
        module.display()
    )]
    MissingModule {
        /// The `org.json` file.
        path: PathBuf,
        /// The module's path.
        module: PathBuf,
    },
    /// The signature file `org.json` names is not there.
    #[error("{}: signature file {} does not exist", path.display(), signature.display())]
    MissingSignature {
        /// The `org.json` file.
        path: PathBuf,
        /// The signature's path.
        signature: PathBuf,
    },
    /// The `crm` vocabulary of `org.json` is not valid.
    #[error("{}: {message}", path.display())]
    Vocabulary {
        /// The `org.json` file.
        path: PathBuf,
        /// What is wrong, naming the field.
        message: String,
    },
}

fn read_error(path: &Path) -> impl FnOnce(std::io::Error) -> OrgError + '_ {
    move |source| OrgError::Read {
        path: path.to_owned(),
        source,
    }
}

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
    pub fn read(dir: &Path) -> Result<OrgDir, OrgError> {
        let org_json = dir.join("org.json");
        let path =
            resolve_inside(dir, "org.json", "org.json").map_err(|source| OrgError::Path {
                path: org_json.clone(),
                source,
            })?;
        let text = std::fs::read_to_string(&path).map_err(read_error(&path))?;
        let de = &mut serde_json::Deserializer::from_str(&text);
        let file: OrgFile =
            serde_path_to_error::deserialize(de).map_err(|e| OrgError::Invalid {
                path: path.clone(),
                at: e.path().to_string(),
                message: e.inner().to_string(),
            })?;
        let inside = |field: &'static str, relative: &str| {
            resolve_inside(dir, field, relative).map_err(|source| OrgError::Path {
                path: path.clone(),
                source,
            })
        };
        let wasm = if file.module == "reference" {
            crate::REFERENCE_MODULE.to_vec()
        } else {
            let module = inside("module", &file.module)?;
            if !module.is_file() {
                return Err(OrgError::MissingModule {
                    path: path.clone(),
                    module,
                });
            }
            std::fs::read(&module).map_err(read_error(&module))?
        };
        let signature_path = match (&file.signature, file.module.as_str()) {
            (Some(path), _) => Some(inside("signature", path)?),
            (None, "reference") => None,
            (None, module) => Some(inside("signature", &format!("{module}.sig"))?),
        };
        let signature = match signature_path {
            Some(signature) if signature.is_file() => Some(
                std::fs::read_to_string(&signature)
                    .map_err(read_error(&signature))?
                    .trim()
                    .to_owned(),
            ),
            Some(signature) if file.signature.is_some() => {
                return Err(OrgError::MissingSignature {
                    path: path.clone(),
                    signature,
                })
            }
            _ => None,
        };
        let vocabularies = Vocabularies::new(&file.crm).map_err(|e| OrgError::Vocabulary {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let policy_path = inside("policy", &file.policy)?;
        let policy = std::fs::read_to_string(&policy_path).map_err(read_error(&policy_path))?;
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
    pub fn find(root: &Path) -> Result<Vec<PathBuf>, OrgError> {
        let mut found = Vec::new();
        let mut stack = vec![root.to_owned()];
        while let Some(dir) = stack.pop() {
            if dir.join("org.json").is_file() {
                found.push(dir);
                continue;
            }
            let entries = std::fs::read_dir(&dir).map_err(read_error(&dir))?;
            for entry in entries {
                let path = entry.map_err(read_error(&dir))?.path();
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
