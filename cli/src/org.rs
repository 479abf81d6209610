//! The org a command runs for: an org folder, or a module and a policy given
//! alone, or the built-in reference module with the example policy.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use crm_rules::audit::AuditPolicy;
use crm_rules::crm::Vocabularies;
use crm_rules::org::{OrgDir, OrgFile};
use crm_rules::{Host, Limits, Org};

use super::flags::OrgArgs;

/// The example policy the program uses when given no org.
const EXAMPLE_POLICY: &str = include_str!("../../examples/strict/policy.json");

/// Loads the org the options name into `host`.
pub fn load(host: &Arc<Host>, args: &OrgArgs) -> anyhow::Result<Org> {
    Ok(Org::from_folder(host.clone(), &read(args)?)?)
}

/// The org the options name, read but not loaded: its folder (or the working
/// folder), module, policy and vocabularies.
pub fn read(args: &OrgArgs) -> anyhow::Result<OrgDir> {
    let mut org = match &args.org_dir {
        Some(dir) => OrgDir::read(dir)?,
        None => OrgDir {
            dir: PathBuf::from("."),
            file: OrgFile {
                org_id: "default".to_owned(),
                module: "reference".to_owned(),
                policy: "policy.json".to_owned(),
                limits: Limits::default(),
                version: None,
                sha256: None,
                trusted_keys: Vec::new(),
                signature: None,
                audit: AuditPolicy::default(),
                crm: Default::default(),
            },
            wasm: crm_rules::REFERENCE_MODULE.to_vec(),
            policy: EXAMPLE_POLICY.to_owned(),
            signature: None,
            vocabularies: Vocabularies::default(),
        },
    };
    if let Some(path) = &args.module {
        org.wasm = std::fs::read(path)
            .with_context(|| format!("cannot read module {}", path.display()))?;
        org.file.version = None;
        let sig = PathBuf::from(format!("{}.sig", path.display()));
        org.signature = std::fs::read_to_string(sig)
            .ok()
            .map(|s| s.trim().to_owned());
    }
    if let Some(path) = &args.policy {
        org.policy = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read policy {}", path.display()))?;
        org.file.version = None;
    }
    if let Some(id) = &args.org {
        org.file.org_id = id.clone();
    }
    Ok(org)
}
