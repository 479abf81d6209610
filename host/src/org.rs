//! An organisation on disk: a folder with `org.json` (which module, which policy,
//! which limits), the policy file, and a `fixtures/` folder.
//!
//! ```json
//! { "org_id": "strict-co", "module": "reference", "policy": "policy.json" }
//! ```
//!
//! `module` is `"reference"` (the module built into the program) or the path of a
//! `.wasm` component, relative to the folder.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use serde::Deserialize;

use crate::engine::Limits;

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
}

impl OrgDir {
    /// Reads `dir/org.json`, its module and its policy.
    pub fn read(dir: &Path) -> anyhow::Result<OrgDir> {
        let path = dir.join("org.json");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let de = &mut serde_json::Deserializer::from_str(&text);
        let file: OrgFile = serde_path_to_error::deserialize(de)
            .map_err(|e| anyhow::anyhow!("{}: at `{}`: {}", path.display(), e.path(), e.inner()))?;
        let wasm = if file.module == "reference" {
            crate::REFERENCE_MODULE.to_vec()
        } else {
            let module = dir.join(&file.module);
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
        let policy_path = dir.join(&file.policy);
        let policy = std::fs::read_to_string(&policy_path)
            .with_context(|| format!("cannot read {}", policy_path.display()))?;
        Ok(OrgDir {
            dir: dir.to_owned(),
            file,
            wasm,
            policy,
        })
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
